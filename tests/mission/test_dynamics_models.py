"""Missions flown by the quadrotor models instead of straight kinematic lines."""

from __future__ import annotations

import numpy as np
import pytest

from controllers.registry import make_flight_controller, make_mission
from swarmsim.mission import forest_trunks, make_dynamics
from swarmsim.scene import SceneError, parse_scene
from swarmsim.world.world import build_world

OPEN = {
    "forest": {"kind": "none", "area": [40.0, 40.0]},
    "camera": {"resolution": [32, 32]},
    "targets": [{"pose": "lying", "position": [0.0, 10.0]}],
    "swarm": {"drones": 3},
    "mission": {"max_time": 3.0, "max_iterations": 3},
}


@pytest.mark.parametrize("model", ["kinematic", "quadrotor"])
def test_mission_flies_with_the_scene_model(model: str) -> None:
    scene = parse_scene({**OPEN, "dynamics": {"model": model, "airframe": "sar_quad"}})
    mission = make_mission(scene, backend="cpu")
    first = mission.step().record
    second = mission.step().record
    # Each iteration ends where the strategy sent the drones (within the flight tolerance), and
    # a real aircraft needs at least the constant-speed time for the longest leg.
    legs = np.linalg.norm(second.positions - first.positions, axis=1)
    assert second.time - first.time >= 0.99 * legs.max() / scene.dynamics.speed
    assert not mission.dynamics.crashed.any()


def test_quadrotor_models_get_the_forest_trunks() -> None:
    scene = parse_scene({**OPEN, "forest": {"kind": "procedural", "area": [30.0, 30.0]},
                         "dynamics": {"model": "quadrotor"}})  # fmt: skip
    world = build_world(scene)
    dynamics = make_dynamics(scene, 2, controller=make_flight_controller(scene), world=world)
    np.testing.assert_array_equal(dynamics.trunks, np.array(forest_trunks(world)))


def test_quadrotor_model_needs_a_controller_and_a_known_airframe() -> None:
    scene = parse_scene({**OPEN, "dynamics": {"model": "quadrotor"}})
    with pytest.raises(ValueError, match="flight controller"):
        make_dynamics(scene, 3)
    bad = parse_scene({**OPEN, "dynamics": {"model": "quadrotor", "airframe": "zeppelin"}})
    with pytest.raises(SceneError, match=r"dynamics\.airframe"):
        make_flight_controller(bad)


def test_forest_trunks_are_the_procedural_stems() -> None:
    world = build_world(parse_scene({"forest": {"area": [30.0, 30.0]}}))
    trunks = np.array(forest_trunks(world))
    np.testing.assert_allclose(trunks[:, :2], world.forest.stems)
    np.testing.assert_allclose(trunks[:, 3], world.forest.heights)
    assert forest_trunks(build_world(parse_scene({"forest": {"kind": "none"}}))) == []
