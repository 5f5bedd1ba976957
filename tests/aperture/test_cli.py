"""``swarmsim integrate`` and ``swarmsim bench integrate|detect`` from the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apps.bench import run_bench
from apps.cli import main

SMALL = ["--set", "forest.area=[30.0,30.0]", "--set", "camera.resolution=[48,40]"]


def test_integrate_writes_images_and_report(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    status = main(["integrate", "--views", "line", "--count", "5", "--spacing", "3",
                   "--out", str(out), "--seed", "3", *SMALL])  # fmt: skip
    assert status == 0
    for name in ("single.png", "integral.png", "anomaly.png"):
        image = np.asarray(Image.open(out / name))
        assert image.shape == (40, 48, 3) and image.dtype == np.uint8
    # Strict JSON: NaN or infinities would fail to parse here.
    report = json.loads((out / "report.json").read_text(), parse_constant=pytest.fail)
    for key in (
        "views",
        "optical_visibility",
        "detection_coverage",
        "detection_error_m",
        "false_alarm_m2",
        "single_detection_coverage_best",
        "classic_detection_coverage",
    ):
        assert key in report, key  # fmt: skip
    assert report["views"] == 5 and report["seed"] == 3
    assert [p[1] for p in report["view_poses"]] == [report["target_position"][1]] * 5
    xs = [p[0] for p in report["view_poses"]]
    assert np.allclose(np.diff(xs), 3.0)
    assert 0.0 <= report["optical_visibility"] <= 1.0
    assert "integrated 5 views (line)" in capsys.readouterr().out


def test_integrate_marks_uncovered_pixels_black(tmp_path: Path) -> None:
    """Two views 40 m apart leave a strip under the virtual camera that neither sees."""
    out = tmp_path / "gap"
    assert main(["integrate", "--count", "2", "--views", "line", "--spacing", "40",
                 "--out", str(out), *SMALL]) == 0  # fmt: skip
    image = np.asarray(Image.open(out / "integral.png"))
    assert np.all(image[:, 22:26] == 0)  # the ground strip |x| < 3.7 m: black
    assert image[:, :10].any() and image[:, -10:].any()
    report = json.loads((out / "report.json").read_text())
    assert 0.0 < report["covered_fraction"] < 1.0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["integrate", "--count", "0"], "--count"),
        (["integrate", "--spacing", "-1"], "--spacing"),
        (["integrate", "--spacing", "nan"], "--spacing"),
        (["integrate", "--views", "star"], "--views"),
        (["integrate", "--focal-height", "40"], "--focal-height"),
        (["integrate", "--set", "forest.densty=3"], "forest.densty"),
        (["bench", "integrat"], "integrat"),
    ],
)
def test_integrate_user_errors_exit_2_with_one_line(argv, needle, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("swarmsim: error:")
    assert needle in err


def test_bench_figures() -> None:
    figures = run_bench("integrate", resolution=32, views=3, repeat=1)
    assert figures["bench"] == "integrate" and figures["views"] == 3
    assert figures["ms_per_integral"] > 0 and math.isfinite(figures["msamples_per_s"])
    figures = run_bench("detect", resolution=32, window=7, repeat=1)
    assert figures["ms_global_rx"] > 0 and figures["ms_local_rx"] > 0


def test_bench_detect_prints_json(capsys) -> None:
    assert main(["bench", "detect", "--json", "--resolution", "32"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["bench"] == "detect" and figures["resolution"] == 32
