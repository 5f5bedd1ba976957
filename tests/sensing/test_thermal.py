"""Radiometry: apparent temperatures, sun exposure, sensor noise and 8-bit quantisation."""

from __future__ import annotations

import numpy as np
import pytest

from swarmsim.scene import parse_scene
from swarmsim.sensing.render import render
from swarmsim.sensing.thermal import dequantize_thermal, quantize_thermal
from swarmsim.world.geometry import LABEL_FOLIAGE
from swarmsim.world.world import build_world

OPEN_FIELD = {
    "forest": {"kind": "none", "area": [40.0, 40.0]},
    "camera": {"resolution": [128, 128]},
    "thermal": {"variation": 0.0},
    "targets": [{"pose": "lying", "position": [0.0, 0.0]}],
}


@pytest.fixture(scope="module")
def open_world():
    return build_world(parse_scene(OPEN_FIELD))


def test_open_field_apparent_temperatures_are_analytic(open_world) -> None:
    th = open_world.thermal
    frames = render(open_world, (0.0, 0.0, 20.0), backend="cpu")
    ground = frames.label[0] == 0
    # Sunlit ground reflecting the sky: e*T + (1 - e)*T_sky.
    expected_ground = th.emissivity.ground * th.ground_sunlit + (1 - th.emissivity.ground) * th.sky
    np.testing.assert_allclose(frames.thermal[0][ground], expected_ground, atol=1e-4)
    person = frames.target_mask[0]
    expected_person = th.emissivity.target * 34.0 + (1 - th.emissivity.target) * th.air
    assert person.sum() > 20
    np.testing.assert_allclose(frames.thermal[0][person], expected_person, atol=1e-4)


def test_sensor_noise_has_the_netd_standard_deviation(open_world) -> None:
    clean = render(open_world, (0.0, 0.0, 20.0), backend="cpu").thermal
    noisy = render(open_world, (0.0, 0.0, 20.0), backend="cpu", rng=np.random.default_rng(1))
    residual = (noisy.thermal - clean).ravel()
    assert residual.std() == pytest.approx(open_world.thermal.netd, rel=0.03)
    assert abs(residual.mean()) < 0.005


def test_quantisation_round_trip_and_clipping() -> None:
    values = np.linspace(-5.0, 45.0, 1001)
    codes = quantize_thermal(values, 0.0, 40.0)
    assert codes.dtype == np.uint8 and codes.min() == 0 and codes.max() == 255
    back = dequantize_thermal(codes, 0.0, 40.0)
    inside = (values >= 0.0) & (values <= 40.0)
    assert np.max(np.abs(back[inside] - values[inside])) <= 0.5 * 40.0 / 255 + 1e-5
    assert back[values < 0].max() == 0.0 and back[values > 40].min() == pytest.approx(40.0)


def test_quantised_scene_renders_on_the_code_grid() -> None:
    thermal = {"quantize": True, "range": [10.0, 50.0]}
    world = build_world(parse_scene({**OPEN_FIELD, "thermal": thermal}))
    thermal = render(world, (0.0, 0.0, 20.0), backend="cpu", rng=np.random.default_rng(0)).thermal
    steps = (thermal - 10.0) / (40.0 / 255)
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-3)


def test_sunlit_foliage_warmer_and_shaded_ground_cooler() -> None:
    world = build_world(parse_scene({"forest": {"area": [40.0, 40.0]}}))
    th = world.thermal
    leaf = world.primitives.label == LABEL_FOLIAGE
    sunlit = world.sunlit.astype(bool)
    assert 0.05 < sunlit[leaf].mean() < 0.95
    temps = world.primitives.temperature
    e = th.emissivity.foliage
    # Exposure adds the gain and swaps reflected canopy (air) for sky.
    expected = e * th.foliage_sun_gain + (1 - e) * (th.sky - th.air)
    difference = temps[leaf & sunlit].mean() - temps[leaf & ~sunlit].mean()
    assert difference == pytest.approx(expected, abs=0.1)
    ground = world.ground
    shaded = ground.temperature[ground.shade > 0.5].mean()
    lit = ground.temperature[ground.shade < 0.5].mean()
    assert lit - shaded > 0.5 * (th.ground_sunlit - th.ground_shaded)
