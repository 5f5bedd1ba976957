"""``swarmsim lti``: summary and plot of a quick study, determinism, one-line errors (exit 2).

Coverage >= 1 - delta needs hundreds of trials (tests/lti/test_coverage.py); here the figures
are checked against what holds for any run: no predictor beats the true system's own (its loss
is the innovation variance, read from the scene file), posteriors learned from long trajectories
come close to it, and the bound sits above the true loss.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apps.lti import main
from swarmsim.scene import SCENES_DIR, tomllib

SCENE = SCENES_DIR / "lti_siso.toml"
# A study small enough for a fraction of a second (imports aside).
TINY = [
    "--set", "lti.experiment.N=[300]",
    "--set", "lti.experiment.trials=2",
    "--set", "lti.bound.pilot_N=500",
    "--set", "lti.bound.psi_samples=10",
    "--set", "lti.bound.posterior_samples=20",
]  # fmt: skip
PER_N = {"N", "trials", "lambda", "complexity", "mean_empirical_loss", "mean_true_loss",
         "mean_bound", "coverage", "mean_divergence", "learner_fallbacks", "seconds"}  # fmt: skip
SETTINGS = {"delta", "lambda", "method", "form", "psi_source", "seed", "trials", "order",
            "optimal_loss", "per_N"}  # fmt: skip


def innovation_variance(scene: Path) -> float:
    """tr(noise_cov) straight from the scene file: the loss of the optimal predictor."""
    system = tomllib.loads(scene.read_text())["lti"]["system"]
    return float(np.trace(np.array(system["noise_cov"], float)))


def numbers(value: object) -> list[float]:
    """Every number in a JSON value."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in numbers(v)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    return []


def run(tmp_path: Path, *argv: str) -> dict:
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 0
    return json.loads((out / "summary.json").read_text())


def untimed(value: object) -> object:
    """A summary without its wall-clock fields (seconds, seconds_flying, ...)."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if not k.startswith("seconds")}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("lti") / "quick"
    assert main([str(SCENE), "--quick", "--out", str(out)]) == 0
    return json.loads((out / "summary.json").read_text()), out


def test_quick_run_writes_summary_and_plot(quick_run) -> None:
    summary, out = quick_run
    assert SETTINGS <= set(summary)
    assert summary["psi_source"] == "true-system"
    assert (summary["method"], summary["form"], summary["delta"], summary["lambda"]) == (
        "pem", "kl", 0.05, "sqrt")  # fmt: skip
    assert summary["quick"] is True and summary["trials"] == 5
    assert [r["N"] for r in summary["per_N"]] == [500, 8000]  # smallest and largest N
    for row in summary["per_N"]:
        assert set(row) == PER_N
        assert row["trials"] == 5
        assert row["lambda"] == pytest.approx(math.sqrt(row["N"]))
        assert 0.0 <= row["coverage"] <= 1.0
        assert row["seconds"] > 0.0
    assert all(math.isfinite(x) for x in numbers(summary))
    with Image.open(out / "bound_vs_N.png") as png:
        assert png.format == "PNG" and png.size[0] > 600 and png.size[1] > 300
        assert np.asarray(png.convert("L")).std() > 10.0  # something was drawn
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_quick_run_figures_are_sane(quick_run) -> None:
    summary, _ = quick_run
    best = innovation_variance(SCENE)
    assert summary["optimal_loss"] == pytest.approx(best)
    rows = summary["per_N"]
    for row in rows:
        # The true system's predictor is optimal: no posterior can do better on average.
        assert row["mean_true_loss"] >= best * (1 - 1e-9)
        assert row["mean_bound"] >= row["mean_true_loss"]
        assert row["mean_empirical_loss"] > 0.0
    # From 8000 samples the learned posterior is close to optimal, on and off the training data.
    assert rows[-1]["mean_true_loss"] < 1.2 * best
    assert rows[-1]["mean_empirical_loss"] == pytest.approx(best, rel=0.2)
    # More data, tighter bound.
    gaps = [r["mean_bound"] - r["mean_true_loss"] for r in rows]
    assert rows[-1]["mean_bound"] < rows[0]["mean_bound"] and gaps[-1] < gaps[0]
    assert gaps[-1] < 0.5 * best


def test_progress_and_result_lines(tmp_path: Path, capsys) -> None:
    assert main([str(SCENE), *TINY, "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "N=300" in captured.err
    assert captured.out.count("\n") == 1 and str(tmp_path) in captured.out


def test_same_seed_same_result_other_seed_other_data(tmp_path: Path) -> None:
    def summary(seed: int) -> dict:
        return untimed(run(tmp_path, str(SCENE), *TINY, "--seed", str(seed)))

    # Exactly: every number of the summary, not only up to rounding.
    first, again, other = summary(3), summary(3), summary(4)
    assert again == first
    assert other["per_N"][0]["mean_bound"] != first["per_N"][0]["mean_bound"]
    assert run(tmp_path, *TINY, "--seed", "5")["seed"] == 5  # no SCENE: the SISO scene


@pytest.mark.parametrize(
    ("method", "form", "lam"),
    [("n4sid", "kl", "12"), ("gibbs", "kl", "sqrt"), ("pem", "renyi2", "sqrt")],
)
def test_methods_and_forms(tmp_path: Path, method: str, form: str, lam: str) -> None:
    settings = [f"lti.learn.method={method}", f"lti.bound.form={form}", f"lti.bound.lambda={lam}"]
    summary = run(tmp_path, str(SCENE), *TINY, *(a for k in settings for a in ("--set", k)))
    assert (summary["method"], summary["form"]) == (method, form)
    assert summary["complexity_term"] == ("Psi" if form == "kl" else "M2")
    (row,) = summary["per_N"]
    if form == "kl":
        assert row["lambda"] == pytest.approx(12.0 if lam == "12" else math.sqrt(300))
    else:
        assert row["lambda"] is None  # the Renyi-2 form has no lambda
    assert row["mean_bound"] >= row["mean_true_loss"] >= innovation_variance(SCENE) * (1 - 1e-9)
    assert all(math.isfinite(x) for x in numbers(summary))


def test_mimo_scene_runs(tmp_path: Path) -> None:
    scene = SCENES_DIR / "lti_mimo.toml"
    summary = run(tmp_path, str(scene), *TINY, "--set", "lti.experiment.N=[1000]",
                  "--set", "lti.learn.method=n4sid")  # fmt: skip
    assert summary["parametrization"] == "full" and summary["order"] == 3
    (row,) = summary["per_N"]
    assert row["mean_true_loss"] >= innovation_variance(scene) * (1 - 1e-9)
    assert math.isfinite(row["mean_bound"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--set", "lti.system.A=[[1.2,0.0],[1.0,0.0]]"], "lti.system.A: expected a Schur-stable"),
        (["--set", "lti.system.A=[[nan,-0.64],[1.0,0.0]]"], "lti.system.A[0][0]: expected"),
        (["--set", "lti.system.A=[[1.0,0.5]]"], "lti.system.A: expected a square matrix"),
        (["--set", "lti.system.C=[[1.0,0.5],[1.0]]"], "lti.system.C: expected a matrix"),
        (["--set", "lti.system.B=[[1.0]]"], "lti.system.B: expected 2 rows"),
        (["--set", "lti.system.K=[[3.0],[0.2]]"], "lti.system.K: A - K C"),
        (["--set", "lti.system.noise_cov=[[-1.0]]"], "lti.system.noise_cov"),
        (["--set", "lti.learn.method=ml"], "lti.learn.method: expected one of"),
        (["--set", "lti.learn.method=gibbs", "--set", "lti.bound.form=renyi2"], "lti.bound.form"),
        (["--set", "lti.bound.lambda=0"], "lti.bound.lambda: expected a number > 0 or one of"),
        (["--set", "lti.bound.delta=1.5"], "lti.bound.delta"),
        (["--set", "lti.experiment.N=[1000,500]"], "lti.experiment.N"),
        (["--set", "lti.experiment.N=[]"], "lti.experiment.N"),
        (["--seed", "-1"], "lti.experiment.seed"),
    ],
)
def test_bad_settings_exit_2_with_one_line_naming_the_key(
    argv: list[str], needle: str, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    assert main([str(SCENE), *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("swarmsim: error:")
    assert needle in err
    assert not (out / "summary.json").exists()


def test_bad_matrix_in_a_file_names_file_and_key(tmp_path: Path, capsys) -> None:
    scene = tmp_path / "bad.toml"
    scene.write_text(SCENE.read_text().replace("noise_cov = [[0.25]]", "noise_cov = [[nan]]"))
    assert main([str(scene), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{scene}: lti.system.noise_cov[0][0]: expected a finite number" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([str(SCENES_DIR / "default.toml")], "default.toml: lti: missing section"),
        (["missing.toml"], "missing.toml"),
        (["--quick", "--out", "{file}"], "--out: expected a folder"),
        (["--trials", "3"], "--trials"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], needle: str, tmp_path: Path, capsys) -> None:
    file = tmp_path / "file.txt"
    file.write_text("not a folder")
    argv = [a.replace("{file}", str(file)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def _cli_has_lti() -> bool:
    from apps.cli import UsageError, build_parser

    try:
        build_parser().parse_args(["lti"])
    except UsageError:
        return False
    return True


@pytest.mark.skipif(not _cli_has_lti(), reason="apps.cli does not register `lti` yet")
def test_swarmsim_console_script_runs_lti(tmp_path: Path) -> None:
    from apps.cli import main as swarmsim

    assert swarmsim(["lti", str(SCENE), *TINY, "--out", str(tmp_path)]) == 0
    assert (tmp_path / "summary.json").exists() and (tmp_path / "bound_vs_N.png").exists()
    assert swarmsim(["lti", "--set", "lti.learn.method=ml"]) == 2


# ------------------------------------------------------------------------- [lti.drone] scenes

DRONE = SCENES_DIR / "lti_drone.toml"
# Two short flight logs per N: a couple of seconds.
DRONE_TINY = [
    "--set", "lti.experiment.N=[300,600]",
    "--set", "lti.experiment.trials=2",
    "--set", "lti.bound.pilot_N=600",
    "--set", "lti.bound.psi_samples=10",
    "--set", "lti.bound.posterior_samples=20",
    "--set", "lti.drone.generators=2",
]  # fmt: skip


@pytest.fixture(scope="module")
def drone_run(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("lti_drone") / "out"
    assert main([str(DRONE), *DRONE_TINY, "--out", str(out)]) == 0
    return json.loads((out / "summary.json").read_text()), out


def test_drone_scene_writes_summary_and_plot_without_a_true_system(drone_run) -> None:
    summary, out = drone_run
    assert summary["data"] == "flight-log" and summary["true_system"] is None
    assert summary["psi_source"] == "generator-set"
    assert "No true LTI system" in summary["note"]
    scene = tomllib.loads(DRONE.read_text())["lti"]["drone"]
    assert summary["noise_floor"] == pytest.approx(scene["noise_std"] ** 2)
    assert [r["N"] for r in summary["per_N"]] == [300, 600]
    for row in summary["per_N"]:
        assert row["trials"] == 2
        # Sensor noise is white: no predictor's loss can fall below its variance.
        assert row["mean_validation_loss"] > summary["noise_floor"]
        assert row["mean_bound"] > row["mean_empirical_loss"]
        assert row["lambda"] == pytest.approx(math.sqrt(row["N"]) / summary["loss_scale"])
        assert row["mean_steady_state_gain"] == pytest.approx(1.0, abs=0.1)
    assert summary["controller_design"]["time_constant"] == pytest.approx(
        1.0 / summary["controller_design"]["velocity_gain"]
    )
    assert all(math.isfinite(x) for x in numbers(summary["per_N"]))
    with Image.open(out / "bound_vs_N.png") as img:
        assert img.size[0] > 600 and img.size[1] > 300


def test_drone_scene_same_seed_same_result(drone_run, tmp_path) -> None:
    summary, _ = drone_run
    keys = ("psi", "mean_bound", "mean_validation_loss", "mean_steady_state_gain")

    def figures(s: dict) -> np.ndarray:
        return np.array([[row[k] for k in keys] for row in s["per_N"]])

    # Exactly, in this process and in another one with one numba thread instead of two.
    again = run(tmp_path, str(DRONE), *DRONE_TINY)
    assert untimed(again) == untimed(summary)
    out = tmp_path / "other_process"
    command = [sys.executable, "-m", "apps.lti", str(DRONE), *DRONE_TINY, "--out", str(out)]
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    subprocess.run(command, check=True, capture_output=True, env=env, timeout=600)
    assert untimed(json.loads((out / "summary.json").read_text())) == untimed(summary)
    other = run(tmp_path, str(DRONE), *DRONE_TINY, "--seed", "1")
    assert not np.allclose(figures(other), figures(summary), rtol=1e-3)


@pytest.mark.slow
def test_drone_scene_repeats_exactly_twenty_times(drone_run, tmp_path) -> None:
    """The run that once differed in the third digit (Psi -0.329809 vs -0.329378)."""
    summary, _ = drone_run
    for _ in range(20):
        assert untimed(run(tmp_path, str(DRONE), *DRONE_TINY)) == untimed(summary)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("lti.drone.rate=7", "lti.drone.rate"),
        ("lti.drone.bandwidth=15", "lti.drone.bandwidth"),
        ("lti.drone.controller=mpc", "lti.drone.controller"),
        ("lti.drone.noise_std=0", "lti.drone.noise_std"),
        ("lti.drone.airframe=nope", "lti.drone.airframe"),
        ("lti.drone.wobble=1", "lti.drone.wobble"),
        ("lti.learn.method=gibbs", "lti.learn.method"),
        ("lti.bound.form=renyi2", "lti.bound.form"),
    ],
)
def test_drone_scene_bad_keys_exit_2_with_one_line(override, key, tmp_path, capsys) -> None:
    assert main([str(DRONE), "--set", override, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and key in err


def test_system_scene_refuses_drone_only_settings(tmp_path, capsys) -> None:
    for override, key in (
        ("lti.bound.lambda=sqrt-scaled", "lti.bound.lambda"),
        ("lti.bound.prior_cov=pilot", "lti.bound.prior_cov"),
    ):
        assert main([str(SCENE), "--set", override, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and key in err
