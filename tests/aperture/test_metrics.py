"""Ground-truth metrics: footprints, visibility under the Boolean occlusion model, detections."""

from __future__ import annotations

import math

import numpy as np
import pytest

from swarmsim.aperture.integrate import FocalPlane, focal_points
from swarmsim.aperture.metrics import (
    detection_coverage,
    detection_report,
    false_alarm_area,
    focal_visibility,
    optical_visibility,
    pixel_areas,
    target_footprint,
)
from swarmsim.scene import parse_scene
from swarmsim.sensing.camera import Camera
from swarmsim.sensing.render import render
from swarmsim.world.world import build_world

DENSITY, RADIUS, LOW, HIGH = 0.04, 0.5, 5.0, 15.0
#: Views on a ring of radius 20 m at 40 m: 8 cameras about 15 m apart, so the rays from one
#: ground point to them cross the occluder slab more than an occluder diameter apart.
RING, ALTITUDE, VIEWS = 20.0, 40.0, 8


def occluder_world(seed: int, area: float, targets: list | None = None):
    return build_world(parse_scene({
        "run": {"seed": seed},
        "forest": {"kind": "random-occluders", "area": [area, area], "occluder_density": DENSITY,
                   "occluder_radius": RADIUS, "occluder_height": [LOW, HIGH]},
        "camera": {"fov": 100.0, "resolution": [64, 64]},
        "targets": targets or [],
    }))  # fmt: skip


def ring(centre) -> np.ndarray:
    angle = np.arange(VIEWS) * 2.0 * math.pi / VIEWS
    return np.column_stack([centre[0] + RING * np.cos(angle), centre[1] + RING * np.sin(angle),
                            np.full(VIEWS, ALTITUDE)])  # fmt: skip


def boolean_visibility(points: np.ndarray, poses: np.ndarray) -> np.ndarray:
    """(p, n) probability that the segment from each point to each camera is unblocked:
    exp(-n pi r^2 dz / cos theta) for Poisson spheres in a slab of thickness dz."""
    d = poses[None, :, :3] - points[:, None, :]
    cos_theta = d[..., 2] / np.linalg.norm(d, axis=-1)
    return np.exp(-DENSITY * math.pi * RADIUS**2 * (HIGH - LOW) / cos_theta)


def test_unoccluded_view_counts_are_binomial() -> None:
    """Per focal-plane pixel, the number of unoccluded views of N independent ones is
    Binomial(N, 1 - D)."""
    patch = Camera(fov=2.0 * math.atan(7.5 / ALTITUDE), width=5, height=5)  # 3 m pixels
    poses = ring((0.0, 0.0))
    fractions, probabilities = [], []
    for seed in range(20):
        world = occluder_world(seed, 60.0)
        fraction, covering = focal_visibility(world, poses, (0.0, 0.0, ALTITUDE),
                                              focal=FocalPlane(), virtual_camera=patch)  # fmt: skip
        assert np.all(covering == VIEWS)
        points = focal_points(patch, (0.0, 0.0, ALTITUDE), FocalPlane()).reshape(-1, 3)
        fractions.append(fraction.ravel())
        probabilities.append(boolean_visibility(points, poses))
    fractions = np.concatenate(fractions)
    p = np.concatenate(probabilities)
    assert p.max() - p.min() < 0.05  # nearly one angle: a single Binomial(N, 1 - D)
    visibility = p.mean()
    assert fractions.mean() == pytest.approx(visibility, abs=0.02)
    assert fractions.var() == pytest.approx(visibility * (1 - visibility) / VIEWS, rel=0.2)
    # The full distribution, too: counts 0..N against the binomial probabilities.
    counts = np.bincount(np.rint(fractions * VIEWS).astype(int), minlength=VIEWS + 1)
    expected = np.array([math.comb(VIEWS, k) * visibility**k * (1 - visibility) ** (VIEWS - k)
                         for k in range(VIEWS + 1)]) * len(fractions)  # fmt: skip
    common = expected > 20
    np.testing.assert_allclose(counts[common], expected[common], rtol=0.35)


def test_optical_visibility_of_a_target_matches_the_boolean_model() -> None:
    """A lying person under random occluders: the reported visibility is 1 - D on average."""
    spots = [(x, y) for x in (-20.0, 0.0, 20.0) for y in (-20.0, 0.0, 20.0)]
    close_up = Camera(fov=math.radians(5.0), width=32, height=32)  # 11 cm pixels at 40 m
    reported, predicted = [], []
    for seed in range(6):
        headings = np.random.default_rng(seed).uniform(0.0, 360.0, len(spots))
        world = occluder_world(seed, 80.0, [
            {"pose": "lying", "position": list(spot), "heading": float(h)}
            for spot, h in zip(spots, headings, strict=True)
        ])  # fmt: skip
        for index, spot in enumerate(spots):
            poses = ring(spot)
            vis = optical_visibility(world, poses, (*spot, ALTITUDE), virtual_camera=close_up,
                                     target=index)  # fmt: skip
            assert vis.footprint.pixels > 30
            assert np.all(vis.covering[vis.footprint.mask] == VIEWS)
            assert 0.0 <= vis.value <= 1.0
            reported.append(vis.value)
            points = vis.footprint.points[vis.footprint.mask]
            predicted.append(boolean_visibility(points, poses).mean())
    assert np.mean(reported) == pytest.approx(np.mean(predicted), abs=0.04)


def test_footprint_is_the_unoccluded_silhouette() -> None:
    """Removing the forest from the world gives the silhouette an open-field render shows."""
    target = {"pose": "lying", "position": [1.0, -1.0], "heading": 40.0}
    scene = {"forest": {"area": [40.0, 40.0]}, "camera": {"resolution": [96, 96]},
             "targets": [target]}  # fmt: skip
    forest = build_world(parse_scene(scene))
    open_field = build_world(parse_scene({**scene, "forest": {"kind": "none"}}))
    pose = (0.0, 0.0, 15.0, 0.3)
    footprint = target_footprint(forest, pose)
    silhouette = render(open_field, pose, backend="cpu").target_mask[0]
    assert silhouette.sum() > 20
    np.testing.assert_array_equal(footprint.mask, silhouette)
    assert np.all(footprint.points[footprint.mask, 2] < 0.5)  # on the lying body
    # Rays are cast only around the target: off-centre, tilted and cut by the image edge too.
    for other in [(6.0, 3.0, 12.0, -0.7, 0.4), (7.5, -1.0, 9.0, 0.0, 0.0), (1.0, -1.0, 3.0)]:
        silhouette = render(open_field, other, backend="cpu").target_mask[0]
        np.testing.assert_array_equal(target_footprint(forest, other).mask, silhouette)
    # In the forest some of the silhouette is hidden, in the open field none of it.
    hidden = optical_visibility(forest, [pose], pose).value
    assert 0.0 <= hidden < 1.0
    assert optical_visibility(open_field, [pose, (2.0, 0.0, 15.0, 0.0)], pose).value == 1.0


def test_pixel_areas_tile_the_footprint() -> None:
    camera = Camera(fov=math.radians(50.0), width=40, height=30)
    areas = pixel_areas(camera, (0.0, 0.0, 35.0), FocalPlane(height=2.0))
    np.testing.assert_allclose(areas, (33.0 / camera.focal) ** 2, rtol=1e-9)
    tilted = pixel_areas(camera, (0.0, 0.0, 35.0, 0.0, 0.4))
    width, height = camera.footprint(35.0)
    assert tilted.sum() > width * height  # oblique views see more ground
    window = (slice(3, 17), slice(20, 38))
    np.testing.assert_array_equal(
        pixel_areas(camera, (0.0, 0.0, 35.0, 0.0, 0.4), window=window), tilted[window]
    )


def test_detection_figures_follow_their_definitions() -> None:
    camera = Camera(fov=math.radians(50.0), width=40, height=40)
    pose = (10.0, 5.0, 35.0)
    footprint = np.zeros((40, 40), bool)
    footprint[18:22, 16:24] = True  # 32 px around the image centre
    mask = np.zeros_like(footprint)
    mask[18:22, 16:20] = True  # half of the footprint
    mask[0:2, 0:3] = True  # 6 px false alarm in the corner
    pixel = (35.0 / camera.focal) ** 2
    areas = pixel_areas(camera, pose)
    assert detection_coverage(mask, footprint, areas) == pytest.approx(0.5)
    assert false_alarm_area(mask, footprint, areas) == pytest.approx(6 * pixel)
    assert math.isnan(detection_coverage(mask, np.zeros_like(footprint)))
    report = detection_report(mask, footprint, camera=camera, pose=pose,
                              target_position=(10.0, 5.0))  # fmt: skip
    assert report["detection_coverage"] == pytest.approx(0.5)
    assert report["largest_blob_px"] == 16 and report["blobs"] == 2
    # The largest blob's centroid is 2 px west of the image centre: 2 px of ground away.
    assert report["detection_error_m"] == pytest.approx(2.0 * math.sqrt(pixel), rel=1e-6)
    empty = detection_report(np.zeros_like(mask), footprint, camera=camera, pose=pose,
                             target_position=(10.0, 5.0))  # fmt: skip
    assert empty["detection_error_m"] is None and empty["detection_coverage"] == 0.0
