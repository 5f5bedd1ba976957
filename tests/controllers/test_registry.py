"""Strategies and flight controllers by name or import path; make_mission for every flight model."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import apps.cli as cli
import controllers.registry as registry
from controllers.baselines import BruteForce
from controllers.pso import PSO, PSOParams
from controllers.registry import make_flight_controller, make_mission, make_strategy
from swarmsim.dynamics.bullet import BulletQuadrotor
from swarmsim.dynamics.kinematic import Kinematic
from swarmsim.dynamics.quadrotor import Quadrotor
from swarmsim.scene import SceneError, generated_block, parse_scene
from swarmsim.strategy import Plan

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
OPEN = {
    "run": {"backend": "cpu"},
    "forest": {"kind": "none", "area": [40.0, 40.0]},
    "camera": {"resolution": [32, 32]},
    "targets": [{"pose": "lying", "position": [0.0, 10.0]}],
    "swarm": {"drones": 3},
    "mission": {"max_time": 3.0, "max_iterations": 3},
}
SMALL = [
    "--set",
    "forest.kind=none",
    "--set",
    "forest.area=[40.0, 40.0]",
    "--set",
    "camera.resolution=[48, 48]",
    "--set",
    "swarm.drones=3",
    "--set",
    "swarm.start=[0.0, 4.0]",
    "--set",
    "mission.max_time=1.0",
    "--set",
    "mission.quantile=0.999",
    "--backend",
    "cpu",
]


def test_strategy_keys_are_validated_against_the_strategy_params() -> None:
    scene = parse_scene(OPEN, overrides=["strategy.c1=1.5", "strategy.tracking=true"])
    strategy = make_strategy(scene)
    assert isinstance(strategy, PSO)
    assert strategy.params == PSOParams(c1=1.5, tracking=True)
    with pytest.raises(SceneError, match=r"strategy\.c11: unknown key; did you mean 'c1'\?"):
        make_strategy(parse_scene(OPEN, overrides=["strategy.c11=1.5"]))
    with pytest.raises(SceneError, match=r"strategy\.c5: expected a number in \[0, 1\]"):
        make_strategy(parse_scene(OPEN, overrides=["strategy.c5=2"]))
    # Keys of another strategy are not this one's.
    bad = parse_scene(OPEN, overrides=["strategy.name=brute-force", "strategy.c1=1.0"])
    with pytest.raises(SceneError, match=r"strategy\.c1: unknown key"):
        make_strategy(bad)
    lawn = parse_scene(OPEN, overrides=["strategy.name=brute-force", "strategy.lane_spacing=4"])
    assert isinstance(make_strategy(lawn), BruteForce)
    with pytest.raises(SceneError, match=r"strategy\.name: unknown strategy 'psp'; did you mean"):
        make_strategy(parse_scene(OPEN, overrides=["strategy.name=psp"]))


def test_the_scene_round_trips_strategy_keys_and_blames_overrides() -> None:
    scene = parse_scene({**OPEN, "strategy": {"name": "pso", "c4": 5.0, "sweep": [1, 2]}})
    assert scene.strategy.option_table() == {"c4": 5.0, "sweep": [1, 2]}
    again = parse_scene(scene.to_dict())
    assert again == scene and hash(again) == hash(scene)
    with pytest.raises(SceneError, match=r"strategy\.bad: expected a number, string"):
        parse_scene({"strategy": {"bad": {"a": 1}}})
    moved = parse_scene(OPEN).with_overrides("strategy.c2=-1")
    with pytest.raises(SceneError, match=r"from override 'strategy.c2=-1'"):
        make_strategy(moved)


class _Still:
    """A plug-in strategy without parameters: hover where the scene's line starts."""

    name = "still"

    def __init__(self, scene) -> None:
        from swarmsim.formation import scene_formation

        self.formation = scene_formation(scene)

    def start(self):
        return self.formation

    def plan(self, obs):
        return Plan(waypoints=obs.positions, mode="still")


def test_registered_and_imported_strategies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.STRATEGIES, "still", lambda scene, rng, backend: _Still(scene))
    mission = make_mission(parse_scene(OPEN, overrides=["strategy.name=still"]))
    assert mission.step().record.mode == "still"
    with pytest.raises(SceneError, match=r"strategy\.x: unknown key; strategy 'still' takes no"):
        make_mission(parse_scene(OPEN, overrides=["strategy.name=still", "strategy.x=1"]))
    # An import path to a class with from_scene (PSO's own) works like its registered name.
    scene = parse_scene(OPEN, overrides=["strategy.name=controllers.pso:PSO", "strategy.c1=0.5"])
    assert make_strategy(scene).params.c1 == 0.5
    for name, message in (
        ("nowhere.mod:thing", "cannot import 'nowhere.mod'"),
        ("controllers.pso:Nothing", "has no 'Nothing'"),
        ("controllers.pso:REFERENCE_PIXELS", "not a class or factory"),
    ):
        with pytest.raises(SceneError, match=message):
            make_strategy(parse_scene(OPEN, overrides=[f"strategy.name={name}"]))
    # make_mission also takes a name directly.
    assert make_mission(parse_scene(OPEN), strategy="parallel").strategy.name == "parallel"


def _docs_plugin(tmp_path: Path) -> Path:
    """The example strategy of docs/strategies.md as mypkg/greedy.py under tmp_path."""
    text = (DOCS / "strategies.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "greedy.py").write_text(code)
    assert len(code.strip().splitlines()) <= 50
    return tmp_path


def test_the_documented_plugin_runs_through_the_command_line(tmp_path: Path) -> None:
    folder = _docs_plugin(tmp_path)
    script = Path(sys.executable).with_name("swarmsim")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import sys; from apps.cli import main; sys.exit(main())"]
    )
    args = [
        "run",
        "--set",
        "strategy.name=mypkg.greedy:make",
        "--set",
        "strategy.step=3",
        "--out",
        "out",
        "--quiet",
        *SMALL,
    ]
    done = subprocess.run(
        [*command, *args], cwd=folder, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((folder / "out" / "summary.json").read_text())
    assert summary["strategy"] == "greedy" and summary["iterations"] >= 1
    trace = (folder / "out" / "trace.csv").read_text().splitlines()
    assert any(",scan," in row or ",converge," in row for row in trace[1:])


def test_a_plugin_key_typo_exits_2_naming_the_key(tmp_path: Path, monkeypatch, capsys) -> None:
    folder = _docs_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.chdir(folder)
    code = cli.main(
        [
            "run",
            "--set",
            "strategy.name=mypkg.greedy:make",
            "--set",
            "strategy.stepp=3",
            "--out",
            "out",
            *SMALL,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "strategy.stepp: unknown key; did you mean 'step'?" in err
    assert not (folder / "out").exists()  # nothing was flown or written


@pytest.mark.parametrize(
    ("model", "kind"),
    [("kinematic", Kinematic), ("quadrotor", Quadrotor), ("pybullet", BulletQuadrotor)],
)
def test_make_mission_flies_every_dynamics_model(model: str, kind: type) -> None:
    scene = parse_scene({**OPEN, "dynamics": {"model": model, "airframe": "sar_quad"}})
    mission = make_mission(scene, strategy=None)
    assert isinstance(mission.dynamics, kind)
    frames: list[tuple[float, np.ndarray]] = []
    obs = mission.observe()
    target = obs.positions + [1.0, 3.0, 0.0]
    step = mission.advance(
        Plan(waypoints=target), obs, callback=lambda d: frames.append((d.time, d.positions))
    )
    # The drones end where they were sent (within the quadrotors' tolerance), no faster than
    # the constant-speed time of the leg, and the callback saw the flight in between.
    np.testing.assert_allclose(mission.dynamics.positions, target, atol=0.15)
    assert step.record.flight >= 0.99 * np.hypot(1.0, 3.0) / scene.dynamics.speed
    times = np.array([t for t, _ in frames])
    assert len(frames) >= 5 and np.all(np.diff(times) > 0)
    progress = np.array([np.linalg.norm(p - obs.positions, axis=1).mean() for _, p in frames])
    leg = np.hypot(1.0, 3.0)
    assert progress[0] < 0.5 * leg and 0.2 * leg < np.median(progress) and progress[-1] > 0.9 * leg
    assert not mission.dynamics.crashed.any()


def test_flight_controllers_by_name_or_import_path() -> None:
    from controllers.flight import LQRController, PIDController

    quad = {**OPEN, "dynamics": {"model": "quadrotor"}}
    assert make_flight_controller(parse_scene(OPEN)) is None
    assert isinstance(make_flight_controller(parse_scene(quad)), PIDController)
    lqr = parse_scene(quad, overrides=["dynamics.controller=lqr"])
    assert isinstance(make_flight_controller(lqr), LQRController)
    path = parse_scene(quad, overrides=["dynamics.controller=controllers.flight:PIDController"])
    assert isinstance(make_flight_controller(path), PIDController)
    with pytest.raises(SceneError, match=r"dynamics\.controller: unknown flight controller 'pdi'"):
        make_flight_controller(parse_scene(quad, overrides=["dynamics.controller=pdi"]))


def test_docs_list_every_registered_strategy_key() -> None:
    text = (DOCS / "scenes.md").read_text(encoding="utf-8")
    command = "python -m controllers.registry --update docs/scenes.md"
    assert generated_block(text, command) == registry.params_markdown(), (
        f"docs/scenes.md is stale: run {command}"
    )


@pytest.mark.parametrize("doc", ["docs/strategies.md", "README.md"])
def test_docs_example_of_driving_a_mission_by_hand_runs(doc: str, monkeypatch) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    code = next(b for b in blocks if "mission.advance(" in b)
    small = textwrap.dedent("""
        import swarmsim.scene
        _load = swarmsim.scene.load_scene
        def load_scene(path=None, overrides=()):
            return _load(path, [*overrides, "forest.kind=none", "camera.resolution=[32, 32]",
                                "mission.max_time=0.6"])
    """)
    namespace: dict = {}
    exec(compile(small, "small", "exec"), namespace)
    monkeypatch.setattr("swarmsim.load_scene", namespace["load_scene"])
    printed: list = []
    exec(compile(code, doc, "exec"), {"print": lambda *a: printed.append(a)})
    assert printed  # it ran to its end
