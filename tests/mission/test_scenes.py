"""The mission scenes load and say what they claim."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from controllers.registry import make_mission, strategy_params
from swarmsim.aperture.metrics import open_world, target_footprint
from swarmsim.mission import Mission
from swarmsim.scene import SCENES_DIR, load_scene
from swarmsim.world.world import build_world


@pytest.mark.parametrize(
    ("name", "strategy"),
    [
        ("default", "pso"),
        ("paper_static", "pso"),
        ("paper_tracking", "pso"),
        ("brute_force", "brute-force"),
        ("parallel", "parallel"),
    ],
)
def test_mission_scenes_load(name: str, strategy: str) -> None:
    scene = load_scene(SCENES_DIR / f"{name}.toml")
    assert scene.strategy.name == strategy
    assert scene.targets and scene.dynamics.model == "kinematic"
    if name.startswith("paper") or name in ("brute_force", "parallel"):
        assert scene.camera.resolution == (512, 512) and scene.swarm.drones == 10
        assert scene.targets[0].position == (0.0, 10.0) and scene.swarm.start == (0.0, -12.0)
    # Every shipped scene's strategy keys are the strategy's own (validated here).
    params = strategy_params(scene)
    assert getattr(params, "tracking", False) == (name == "paper_tracking")


def test_reference_area_is_the_unoccluded_person_at_512() -> None:
    scene = load_scene(None, ["camera.resolution=[512, 512]"])
    world = build_world(scene)
    x, y = scene.targets[0].position
    pose = np.array([x, y, scene.swarm.altitude, 0.0, 0.0])
    pixels = target_footprint(open_world(world), pose, t=0.0, target=0).pixels
    assert strategy_params(scene).reference_area == pytest.approx(pixels, rel=0.05)


def _default_mission(*overrides: str, targets: bool = True) -> Mission:
    scene = load_scene(None, ["mission.max_time=3", *overrides])
    if not targets:
        scene = dataclasses.replace(scene, targets=())
    return make_mission(scene)


def test_default_forest_gives_no_false_alarms_and_finds_the_person() -> None:
    # The calibrated RX floor: target-free images of the default forest flag nothing ...
    empty = _default_mission(targets=False)
    for _ in range(4):
        obs = empty.observe()
        assert not obs.masks.any()
        empty.advance(empty.strategy.plan(obs), obs)
    # ... which the paper's quantile-only rule cannot do: it flags ~3 px in every image.
    quantile_only = _default_mission("mission.min_score=0", targets=False).observe()
    assert quantile_only.masks.sum(axis=(1, 2)).min() >= 1
    # With the person in view the PSO converges on it within 3 s.
    result = _default_mission().run()
    assert result.summary["detected"] and result.summary["detection_error_m"] < 1.0
    assert any(r.mode == "converge" for r in result.records)
