"""World building and what the renderer sees in it, against analytic expectations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from swarmsim.scene import parse_scene
from swarmsim.sensing.camera import pixel_rays
from swarmsim.sensing.render import render
from swarmsim.world.geometry import LABEL_GROUND, LABEL_TARGET
from swarmsim.world.world import build_world

SMALL_FOREST = {
    "forest": {"area": [40.0, 40.0]},
    "camera": {"resolution": [192, 192]},
    "targets": [{"pose": "lying", "position": [0.0, 0.0]}],
}


def occluder_scene(seed: int) -> dict:
    return {
        "run": {"seed": seed},
        "forest": {
            "kind": "random-occluders",
            "area": [120.0, 120.0],
            "occluder_density": 0.04,
            "occluder_radius": 0.5,
            "occluder_height": [5.0, 15.0],
        },
        "camera": {"fov": 100.0, "resolution": [96, 96]},
    }


def test_random_occluders_follow_the_boolean_model() -> None:
    """Ground visibility per pixel is exp(-n pi r^2 dz / cos(theta)) (Poisson spheres in a slab)."""
    density, radius, dz = 0.04, 0.5, 10.0
    ground, weight = None, 0
    for seed in range(6):
        world = build_world(parse_scene(occluder_scene(seed)))
        # Views 40 m apart see nearly independent occluders; average them per pixel.
        for x in (-20.0, 20.0):
            frames = render(world, (x, 0.0, 40.0), backend="cpu")
            seen = (frames.label[0] == LABEL_GROUND).astype(float)
            ground = seen if ground is None else ground + seen
            weight += 1
    ground /= weight
    _, dirs = pixel_rays(world.camera, (0.0, 0.0, 40.0))
    cos_theta = -dirs[..., 2]
    predicted = np.exp(-density * math.pi * radius**2 * dz / cos_theta)
    # Compare per band of incidence angle (pixels of one band share the prediction).
    bands = np.digitize(cos_theta, np.linspace(cos_theta.min(), 1.0, 7))
    for band in np.unique(bands):
        sel = bands == band
        assert ground[sel].mean() == pytest.approx(predicted[sel].mean(), abs=0.02)
    assert predicted.max() - predicted.min() > 0.15  # the angle dependence is really tested


@pytest.fixture(scope="module")
def forest_world():
    return build_world(parse_scene(SMALL_FOREST))


def test_same_seed_same_world_and_images(forest_world) -> None:
    again = build_world(parse_scene(SMALL_FOREST))
    for name in ("a", "b", "radius", "temperature", "albedo"):
        np.testing.assert_array_equal(getattr(again.primitives, name),
                                      getattr(forest_world.primitives, name))  # fmt: skip
    pose = (3.0, -2.0, 35.0, 0.4)
    first = render(forest_world, pose, rng=np.random.default_rng(5), backend="cpu")
    second = render(again, pose, rng=np.random.default_rng(5), backend="cpu")
    for name in ("thermal", "rgb", "depth", "label"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    other = build_world(parse_scene({**SMALL_FOREST, "run": {"seed": 1}}))
    assert len(other.primitives) != len(forest_world.primitives) or not np.array_equal(
        other.primitives.a, forest_world.primitives.a
    )


def test_person_in_open_field_is_fully_visible_and_partly_hidden_under_canopy(forest_world) -> None:
    open_field = build_world(parse_scene({**SMALL_FOREST, "forest": {"kind": "none"}}))
    rng = np.random.default_rng(0)
    offsets = rng.uniform(-8.0, 8.0, (24, 2))
    poses = np.column_stack([offsets, np.full(24, 35.0)])
    seen_open = render(open_field, poses, backend="cpu").target_mask.sum(axis=(1, 2))
    seen_forest = render(forest_world, poses, backend="cpu").target_mask.sum(axis=(1, 2))
    assert np.all(seen_open > 0)
    fraction = seen_forest.sum() / seen_open.sum()
    assert 0.0 < fraction < 0.9
    assert np.all(seen_forest <= seen_open)


def test_open_field_target_pixels_match_its_silhouette() -> None:
    """Nadir pixel count of a lying person equals the area of its primitives seen from above."""
    scene = parse_scene({"forest": {"kind": "none"}, "camera": {"resolution": [256, 256]},
                         "targets": [{"pose": "lying", "position": [0.0, 0.0]}]})  # fmt: skip
    world = build_world(scene)
    altitude = 12.0
    frames = render(world, (0.0, 0.0, altitude), backend="cpu")
    # Independent estimate: vertical rays on a fine grid over the person (orthographic area).
    prims = world.target_geometry(0.0).primitives
    lo, hi = prims.bounds()[:, 0].min(axis=0), prims.bounds()[:, 1].max(axis=0)
    step = 0.01
    xs, ys = np.arange(lo[0], hi[0], step), np.arange(lo[1], hi[1], step)
    gx, gy = np.meshgrid(xs, ys)
    from swarmsim.sensing.render import cast_rays

    origins = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, 5.0)], axis=1)
    hits = cast_rays(world, origins, [0.0, 0.0, -1.0])
    area = np.mean(hits.code == 3) * gx.size * step * step
    pixel_area = (world.camera.footprint(altitude)[0] / 256) ** 2
    # The person is low (< 0.35 m) so perspective scales its image by at most (12/11.65)^2.
    assert frames.target_mask.sum() * pixel_area == pytest.approx(area, rel=0.08)
    assert np.all(frames.label[frames.target_mask] == LABEL_TARGET)


def test_nadir_occlusion_density_is_reported_and_sensible(forest_world) -> None:
    occlusion = forest_world.stats["nadir_occlusion_density"]
    assert 0.3 < occlusion < 1.0
    empty = build_world(parse_scene({"forest": {"kind": "none"}}))
    assert empty.stats["nadir_occlusion_density"] == 0.0
