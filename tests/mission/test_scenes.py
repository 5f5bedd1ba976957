"""The mission scenes load and say what they claim."""

from __future__ import annotations

import pytest

from swarmsim.scene import SCENES_DIR, load_scene


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
    assert scene.strategy.tracking == (name == "paper_tracking")
