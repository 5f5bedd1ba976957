"""The mission as an engine: reset, step by step, strategy-free missions, how episodes end."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controllers.registry import make_mission
from swarmsim.aperture.blobs import find_blobs
from swarmsim.aperture.integrate import foreground
from swarmsim.dynamics.kinematic import Kinematic
from swarmsim.formation import scene_formation
from swarmsim.mission import Mission, MissionError, PlanError, trace_rows
from swarmsim.scene import parse_scene
from swarmsim.strategy import Plan
from swarmsim.world.targets import Target, static_trajectory
from swarmsim.world.world import build_world

# Open ground, 64² images, a warm person at (0, 6) m (as tests/mission/test_mission.py).
TINY = {
    "run": {"seed": 1, "backend": "cpu"},
    "forest": {"kind": "none", "area": [60.0, 60.0]},
    "targets": [{"pose": "lying", "position": [0.0, 6.0]}],
    "camera": {"resolution": [64, 64]},
    "swarm": {"drones": 4, "start": [0.0, -4.0]},
    "mission": {"max_time": 100.0, "max_iterations": 20, "quantile": 0.999},
}
STRATEGIES = {
    "pso": (),
    "brute-force": ("strategy.sweep=[8.0, 20.0]", "strategy.lane_spacing=8.0"),
    "parallel": ("strategy.sweep=[10.0, 30.0]",),
}


@pytest.fixture(scope="module")
def world():
    return build_world(parse_scene(TINY))


def _scene(*overrides: str):
    return parse_scene(TINY, overrides=overrides)


def _assert_same_trace(a: list, b: list) -> None:
    """Identical records: every trace value equal (NaN where the other is NaN)."""
    assert len(a) == len(b)
    for row_a, row_b in zip(trace_rows(a), trace_rows(b), strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            both_nan = isinstance(x, float) and isinstance(y, float) and x != x and y != y
            assert x == y or both_nan, (row_a, row_b)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_reset_equals_a_fresh_mission(world, name: str) -> None:
    overrides = (f"strategy.name={name}", *STRATEGIES[name])
    fresh = make_mission(_scene(*overrides, "run.seed=5"), world=world).run().records
    assert len(fresh) == 20
    mission = make_mission(_scene(*overrides), world=world)  # seed 1
    for _ in range(3):  # dirty every state: records, history, noise stream, positions
        mission.step()
    first = mission.reset(seed=5)
    assert first.iteration == 0 and mission.time == 0.0 and not mission.records
    _assert_same_trace(mission.run().records, fresh)
    # reset() without a seed replays the episode.
    mission.reset()
    _assert_same_trace(mission.run().records, fresh)
    assert mission.world is world  # nothing was rebuilt


def test_reset_targets_moves_the_person_and_the_next_observation_sees_it(world) -> None:
    mission = make_mission(_scene(), world=world)

    def seen(obs) -> np.ndarray:
        leader = obs.leader
        mask = foreground(obs.integral.sum[leader, ..., 0])
        blob = find_blobs(mask, camera=obs.camera, pose=obs.poses[leader]).largest()
        return np.array(blob.ground[:2])

    before = seen(mission.reset())
    assert np.hypot(*(before - [0.0, 6.0])) < 1.0
    walk = static_trajectory(position=[9.0, -1.0], heading=math.pi / 2)
    moved = Target(pose="lying", trajectory=walk)
    obs = mission.reset(seed=2, targets=[moved])
    assert np.hypot(*(seen(obs) - [9.0, -1.0])) < 1.0
    record = mission.advance(Plan(waypoints=obs.positions), obs).record
    np.testing.assert_allclose(record.target, [9.0, -1.0])
    assert record.visibility == pytest.approx(1.0)  # open ground, scored on the observation
    # The world the mission was made with keeps its person; [[targets]] tables work too.
    assert np.allclose(world.targets[0].position(0.0), [0.0, 6.0])
    table = parse_scene({"targets": [{"pose": "lying", "position": [-8.0, 2.0]}]}).targets[0]
    obs = mission.reset(targets=[table])
    assert np.hypot(*(seen(obs) - [-8.0, 2.0])) < 1.0


def _script(mission: Mission, steps: int) -> list:
    """External plans: 1.5 m north, then toward the drone that sees the largest blob."""
    obs = mission.reset(seed=7)
    for k in range(steps):
        xy = obs.positions[:, :2]
        if k % 2:
            xy = xy + 0.5 * (xy[obs.leader] - xy)
        else:
            xy = xy + [0.0, 1.5]
        waypoints = np.column_stack([xy, obs.positions[:, 2]])
        step = mission.advance(Plan(waypoints=waypoints), obs)
        if step.terminated or step.truncated:
            break
        obs = mission.observe()
    return list(mission.records)


def test_a_strategy_free_mission_follows_a_script_and_repeats_it(world) -> None:
    mission = make_mission(_scene(), world=world, strategy=None)
    assert mission.strategy is None
    positions, _ = scene_formation(mission.scene)
    np.testing.assert_array_equal(mission.dynamics.positions, positions)
    np.testing.assert_allclose(positions[:, 0], (np.arange(4) - 1.5) * 4.2)  # swarm.spacing
    first = _script(mission, 6)
    assert len(first) == 6
    np.testing.assert_allclose(first[1].positions[:, 1] - first[0].positions[:, 1], 1.5)
    # Bare plans are scored on the observation's own views: the person is seen and flagged.
    assert all(math.isfinite(r.visibility) for r in first)
    assert max(r.detection for r in first) > 0.3
    _assert_same_trace(_script(mission, 6), first)
    assert mission.result().summary["strategy"] == "external"
    with pytest.raises(MissionError, match="no strategy"):
        mission.step()


def test_advance_without_truth_leaves_only_the_ground_truth_scores_out(world) -> None:
    mission = make_mission(_scene("mission.confirm=2"), world=world, strategy=None)
    scored = _script(mission, 6)

    def blind_script(steps: int) -> list:
        obs = mission.reset(seed=7)
        for k in range(steps):
            plan = Plan(waypoints=scored[k + 1].positions if k + 1 < len(scored) else obs.positions,
                        detected=True, estimate=np.array([0.0, 6.0]))  # fmt: skip
            if mission.advance(plan, obs, truth=False).terminated:
                break
            obs = mission.observe()
        return list(mission.records)

    blind = blind_script(5)
    assert len(blind) == 2  # the claim at the person is checked without the scores: confirmed
    assert mission.reason == "confirmed"
    for a, b in zip(blind, scored, strict=False):
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.target, b.target)
        assert a.time == b.time
        for name in ("visibility", "detection", "integral_visibility", "views"):
            assert math.isnan(getattr(a, name)) and math.isfinite(getattr(b, name))
    summary = mission.result().summary
    assert summary["max_visibility"] is None and summary["detected"]


def test_a_given_start_formation_is_used_and_checked(world) -> None:
    start = (np.array([[1.0, 2.0, 30.0], [3.0, 2.0, 31.0]]), np.zeros(2))
    mission = make_mission(_scene(), world=world, strategy=None, start=start)
    np.testing.assert_array_equal(mission.dynamics.positions, start[0])
    assert mission.observe().poses.shape == (2, 5)
    with pytest.raises(ValueError, match="start"):
        make_mission(_scene(), world=world, strategy=None, start=(np.zeros((2, 2)), np.zeros(2)))


def test_advance_checks_its_inputs(world) -> None:
    mission = make_mission(_scene(), world=world, strategy=None)
    with pytest.raises(MissionError, match="observe"):
        mission.advance(Plan(waypoints=mission.dynamics.positions))
    obs = mission.observe()
    assert mission.observe() is obs  # observing again draws no new noise
    with pytest.raises(PlanError, match=r"shape \(4, 3\)"):
        mission.advance(Plan(waypoints=np.zeros((3, 3))), obs)
    bad = obs.positions.copy()
    bad[2, 0] = np.nan
    with pytest.raises(PlanError, match=r"drones \[2\]"):
        mission.advance(Plan(waypoints=bad), obs)
    mission.advance(Plan(waypoints=obs.positions + [0.0, 1.0, 0.0]), obs)
    with pytest.raises(MissionError, match="latest observation"):
        mission.advance(Plan(waypoints=obs.positions), obs)  # stale


def _hover(mission: Mission, **plan) -> list:
    obs = mission.observe()
    steps = []
    while True:
        step = mission.advance(Plan(waypoints=obs.positions + [0.0, 2.0, 0.0], **plan), obs)
        steps.append(step)
        if step.terminated or step.truncated:
            return steps
        obs = mission.observe()


def test_truncated_fires_at_the_time_and_iteration_limits(world) -> None:
    # 2 m per step at 10 m/s: 0.2 s per iteration.
    steps = _hover(make_mission(_scene("mission.max_time=0.5"), world=world, strategy=None))
    assert len(steps) == 3 and steps[-1].reason == "time"
    assert steps[-1].truncated and not steps[-1].terminated
    assert not any(s.truncated or s.terminated for s in steps[:-1])
    steps = _hover(make_mission(_scene("mission.max_iterations=2"), world=world, strategy=None))
    assert len(steps) == 2 and steps[-1].reason == "iterations" and steps[-1].truncated
    mission = make_mission(_scene("mission.max_iterations=2"), world=world, strategy=None)
    _hover(mission)
    with pytest.raises(MissionError, match="ended"):
        mission.advance(Plan(waypoints=mission.dynamics.positions))


def test_terminated_fires_on_confirmation_done_and_crashes_not_with_truncated(world) -> None:
    # The PSO sees the open-ground person from the first capture: two detections confirm it,
    # on the iteration limit too, and the episode is terminated, not truncated.
    scene = _scene("mission.confirm=2", "mission.max_iterations=2")
    mission = make_mission(scene, world=world)
    steps = [mission.step(), mission.step()]
    assert [s.record.detected for s in steps] == [True, True]
    assert steps[-1].terminated and not steps[-1].truncated and steps[-1].reason == "confirmed"
    assert not steps[0].terminated
    assert mission.result().summary["end"] == "confirmed"
    # Without confirmation the same mission is truncated by the iteration limit.
    plain = make_mission(_scene("mission.max_iterations=2"), world=world)
    assert plain.run().summary["end"] == "iterations" and plain.truncated
    # A plan that says it is done ends the episode.
    steps = _hover(make_mission(_scene(), world=world, strategy=None), done=True)
    assert len(steps) == 1 and steps[0].terminated and steps[0].reason == "strategy"

    class Crashing(Kinematic):
        @property
        def crashed(self) -> np.ndarray:
            return np.full(self.n, self.time > 0.3)

    mission = Mission(scene=_scene(), world=world, dynamics=Crashing(4))
    steps = _hover(mission)
    assert len(steps) == 2 and steps[-1].reason == "crashed" and steps[-1].terminated


def test_step_is_observe_plan_advance(world) -> None:
    scene = _scene("mission.max_iterations=4")
    auto = make_mission(scene, world=world).run().records
    manual = make_mission(scene, world=world)
    while not manual.done:
        obs = manual.observe()
        manual.advance(manual.strategy.plan(obs), obs)
    _assert_same_trace(manual.records, auto)


def test_reset_needs_a_way_to_restart_a_given_strategy_object(world) -> None:
    from controllers.registry import make_strategy

    scene = _scene()
    mission = make_mission(scene, world=world, strategy=make_strategy(scene))
    mission.step()
    with pytest.raises(MissionError, match="reset"):
        mission.reset()


def test_observing_together_equals_observing_one_by_one(world) -> None:
    from swarmsim.mission import observe_together

    def missions() -> list:
        out = []
        for seed, xy in ((3, [0.0, 6.0]), (4, [2.0, 5.0]), (5, [-6.0, 9.0])):
            mission = make_mission(_scene(), world=world, strategy=None)
            person = Target(pose="lying", trajectory=static_trajectory(position=xy, heading=0.5))
            obs = mission.reset(seed=seed, targets=[person])
            for _ in range(seed - 3):  # different times and noise states
                mission.advance(Plan(waypoints=obs.positions + [0.0, 2.0, 0.0]), obs)
                obs = mission.observe() if seed != 4 else obs
            out.append(mission)
        return out

    alone = missions()
    for m in alone[1:]:
        m._observation = None  # observe anew from here (the first keeps its observation)
    one_by_one = [m.observe() for m in alone]
    fresh = missions()
    for m in fresh[1:]:
        m._observation = None
    together = observe_together(fresh)
    assert together[0] is fresh[0]._observation  # already observed: returned as is
    for a, b in zip(one_by_one, together, strict=True):
        assert a.time == b.time and a.leader == b.leader
        np.testing.assert_array_equal(a.masks, b.masks)
        np.testing.assert_array_equal(a.integral.sum, b.integral.sum)
        np.testing.assert_array_equal(a.blob_areas, b.blob_areas)
    assert max(int(o.masks.sum()) for o in together) > 0
