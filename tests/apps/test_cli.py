"""The swarmsim console script: outputs of ``render`` and one-line errors with exit status 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apps.cli import main

SMALL = ["--set", "forest.area=[30.0,30.0]", "--set", "camera.resolution=[48,40]"]


def test_render_writes_the_frame_contract(tmp_path: Path, capsys) -> None:
    out, png = tmp_path / "frame.npz", tmp_path / "frame.png"
    status = main(["render", "--pose", "0,10,35,15", "--out", str(out), "--png", str(png), *SMALL])
    assert status == 0
    frame = np.load(out)
    expected = {"thermal": np.float32, "rgb": np.uint8, "depth": np.float32, "label": np.int8,
                "target_mask": np.bool_}  # fmt: skip
    for key, dtype in expected.items():
        assert frame[key].dtype == dtype, key
        assert frame[key].shape[:2] == (40, 48), key
    assert frame["rgb"].shape == (40, 48, 3)
    assert set(np.unique(frame["label"])) <= {-1, 0, 1, 2, 3}
    np.testing.assert_array_equal(frame["target_mask"], frame["label"] == 3)
    assert Image.open(png).size == (2 * 48 + 4, 40)
    assert "rendered 48x40" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["render", "--pose", "0,0,35", "--set", "forest.densty=3"], "forest.densty"),
        (["render", "--pose", "0,0,35", "--set", "camera.fov=200"], "camera.fov"),
        (["render", "missing.toml", "--pose", "0,0,35"], "missing.toml"),
        (["render", "--pose", "0,0"], "--pose"),
        (["render", "--pose", "0,0,nan"], "--pose"),
        (["render", "--pose", "0,0,35", "--backend", "gpu"], "--backend"),
        (["render"], "--pose"),
        (["fly"], "fly"),
    ],
)
def test_user_errors_exit_2_with_one_line(argv, needle, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("swarmsim: error:")
    assert needle in err


def test_bad_scene_file_exits_2_and_keeps_existing_output(tmp_path: Path, capsys) -> None:
    scene = tmp_path / "bad.toml"
    scene.write_text("[forest]\ndensity = -5\n")
    out = tmp_path / "frame.npz"
    out.write_bytes(b"previous result")
    assert main(["render", str(scene), "--pose", "0,0,35", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "forest.density" in err and str(scene) in err
    assert out.read_bytes() == b"previous result"


def test_negative_coordinates_are_values_not_options(tmp_path: Path) -> None:
    small = ["--set", "camera.resolution=[32,32]", "--set", "forest.area=[40,40]"]
    spaced, joined = tmp_path / "spaced.npz", tmp_path / "joined.npz"
    assert main(["render", "--pose", "-12,-8.5,35,-30", "--out", str(spaced), *small]) == 0
    assert main(["render", "--pose=-12,-8.5,35,-30", "--out", str(joined), *small]) == 0
    a, b = np.load(spaced), np.load(joined)
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name])
    report = tmp_path / "int" / "report.json"
    argv = ["integrate", "--focal-height", "-0.5", "--count", "4", "--out", str(report.parent)]
    assert main([*argv, *small]) == 0 and report.exists()
