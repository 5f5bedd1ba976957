"""``swarmsim run`` from the command line: outputs and bad inputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import apps.cli as cli
import apps.run

SMALL = [
    "--set", "forest.kind=none", "--set", "forest.area=[40.0, 40.0]",
    "--set", "camera.resolution=[48, 48]", "--set", "swarm.drones=3",
    "--set", "swarm.start=[0.0, 4.0]", "--set", "mission.max_time=1.0",
    "--set", "mission.quantile=0.999", "--backend", "cpu",
]  # fmt: skip


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch):
    """``apps.cli.main`` with the run subcommand registered (if the CLI does not yet)."""
    import argparse

    probe = cli.build_parser()
    sub = next(a for a in probe._actions if isinstance(a, argparse._SubParsersAction))
    if "run" not in sub.choices:
        original = cli.add_integrate_parser

        def both(s):
            original(s)
            apps.run.add_parser(s)

        monkeypatch.setattr(cli, "add_integrate_parser", both)
    return cli.main


def test_run_writes_summary_trace_and_figures(tmp_path: Path, main, capsys) -> None:
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--seed", "4", *SMALL]) == 0
    summary = json.loads((out / "summary.json").read_text(), parse_constant=pytest.fail)
    for key in ("strategy", "seed", "sim_time_s", "wall_time_s", "iterations", "images",
                "max_visibility", "time_to_max_visibility_s", "max_detection",
                "max_integral_visibility", "time_to_max_integral_visibility_s", "detected",
                "time_to_detection_s", "detection_error_m"):  # fmt: skip
        assert key in summary, key
    assert summary["strategy"] == "pso" and summary["seed"] == 4
    assert summary["images"] == 3 * summary["iterations"]
    with open(out / "trace.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["iteration", "time_s", "leader"]
    assert len(rows) == summary["iterations"] + 1
    for name in ("integral.png", "map.png", "visibility.png"):
        image = np.asarray(Image.open(out / name))
        assert image.ndim == 3 and image.size > 0, name
    assert "t=" in capsys.readouterr().err  # the progress line


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", "missing.toml"], "file not found"),
        (["run", "--set", "strategy.name=swarm"], "strategy.name"),
        (["run", "--set", "strategy.c4=-1"], "strategy.c4"),
        (["run", "--set", "dynamics.model=bullet"], "dynamics.model"),
        (["run", "--set", "targets=[]"], "targets"),
        (["run", "--seed", "x"], "--seed"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(argv, fragment, main, capsys, tmp_path) -> None:
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err
    assert not (tmp_path / "o").exists()


def test_interrupt_writes_a_valid_partial_summary(tmp_path: Path, main, monkeypatch) -> None:
    from swarmsim.mission import Mission

    step = Mission.step
    calls = {"n": 0}

    def interrupted(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return step(self)

    monkeypatch.setattr(Mission, "step", interrupted)
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--quiet", *SMALL]) == 130
    summary = json.loads((out / "summary.json").read_text(), parse_constant=pytest.fail)
    assert summary["interrupted"] is True and summary["iterations"] == 2
