"""Integration on focal surfaces against analytic textures, geometry and the renderer."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from swarmsim.aperture import _cpu
from swarmsim.aperture.integrate import (
    FocalPlane,
    FocalSurface,
    focal_points,
    foreground,
    integrate,
    plane_homographies,
)
from swarmsim.scene import parse_scene
from swarmsim.sensing.camera import Camera, as_poses, pixel_rays, pose_matrices, project
from swarmsim.sensing.render import render
from swarmsim.world.world import build_world

# ``swarmsim.aperture.integrate`` the attribute is the function; the module is needed for
# private helpers.
integrate_module = sys.modules["swarmsim.aperture.integrate"]

CAMERA = Camera(fov=math.radians(60.0), width=64, height=48)
#: Views of every orientation: yawed, pitched, at different heights.
POSES = np.array(
    [
        (0.0, 0.0, 12.0, 0.0, 0.0),
        (2.5, -1.0, 11.0, math.radians(35.0), 0.0),
        (-2.0, 1.5, 13.0, math.radians(-120.0), math.radians(12.0)),
        (1.0, 2.0, 12.5, math.radians(180.0), 0.0),
        (-1.5, -2.5, 10.5, math.radians(75.0), math.radians(20.0)),
        (3.0, 2.5, 12.0, math.radians(-60.0), math.radians(8.0)),
    ]
)
VIRTUAL = np.array([(0.5, -0.3, 12.0, math.radians(25.0), 0.0), (-1.0, 0.5, 14.0, 0.0, 0.1)])


def texture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A smooth analytic ground texture (degrees C) with wavelengths of several metres: the
    outer half pixel of a view repeats its edge (clamped bilinear), off by half a pixel
    (about 0.1 m) times the gradient."""
    return (20.0 + 1.5 * np.sin(2 * np.pi * x / 9.3) * np.cos(2 * np.pi * y / 6.1)
            + 1.0 * np.sin(2 * np.pi * (x + 0.5 * y) / 13.0))  # fmt: skip


def plane_hits(camera: Camera, pose, point, normal) -> np.ndarray:
    """(H, W, 3) ray-plane intersections of every pixel centre, in plain NumPy."""
    origins, dirs = pixel_rays(camera, pose)
    normal = np.asarray(normal, float) / np.linalg.norm(normal)
    t = ((np.asarray(point) - origins) @ normal) / (dirs @ normal)
    return origins + t[..., None] * dirs


def synthesise(poses, point=(0.0, 0.0, 0.0), normal=(0.0, 0.0, 1.0), channels=1) -> np.ndarray:
    """(n, H, W, C) views of the texture painted on a plane (channel c scaled by c + 1)."""
    out = []
    for pose in poses:
        p = plane_hits(CAMERA, pose, point, normal)
        value = texture(p[..., 0], p[..., 1])
        out.append(np.stack([(c + 1) * value for c in range(channels)], axis=-1))
    return np.asarray(out, np.float32)


@pytest.mark.parametrize(
    ("point", "normal"),
    [((0.0, 0.0, 0.0), (0.0, 0.0, 1.0)), ((0.2, -0.1, 0.8), (0.15, -0.1, 1.0))],
)
@pytest.mark.parametrize("sampling", ["bilinear", "nearest"])
def test_integral_reproduces_a_textured_plane(point, normal, sampling) -> None:
    views = synthesise(POSES, point, normal, channels=2)
    plane = FocalPlane(height=point[2], normal=normal, origin=point[:2])
    integral = integrate(views, POSES, VIRTUAL, camera=CAMERA, focal=plane, sampling=sampling)
    assert integral.sum.shape == (2, 48, 64, 2) and integral.count.shape == (2, 48, 64)
    for k, pose in enumerate(VIRTUAL):
        p = plane_hits(CAMERA, pose, point, normal)
        expected = texture(p[..., 0], p[..., 1])
        valid = integral.valid[k]
        assert valid.mean() > 0.8
        assert integral.count[k].max() >= 4  # several views really overlap
        error = np.abs(integral.image[k, ..., 0] - expected)[valid] / np.abs(expected[valid])
        # Nearest sampling is off by up to half a view pixel everywhere.
        assert error.max() < (0.01 if sampling == "bilinear" else 0.03)
        np.testing.assert_allclose(integral.image[k, ..., 1], 2 * integral.image[k, ..., 0],
                                   rtol=1e-5)  # fmt: skip


def test_integral_of_rendered_open_field_matches_a_direct_render() -> None:
    """Real renders of the open ground (yawed views) integrate to the ground seen directly."""
    scene = parse_scene({"forest": {"kind": "none", "area": [40.0, 40.0]},
                         "camera": {"resolution": [160, 160]}})  # fmt: skip
    world = build_world(scene)
    rng = np.random.default_rng(2)
    poses = np.column_stack([rng.uniform(-4, 4, (8, 2)), rng.uniform(30, 40, 8),
                             rng.uniform(-np.pi, np.pi, 8)])  # fmt: skip
    frames = render(world, poses, backend="cpu")
    virtual = (0.5, -0.5, 35.0, 0.3)
    direct = render(world, virtual, backend="cpu").thermal[0]
    integral = integrate(frames.thermal, frames.poses, virtual, camera=world.camera)
    valid = integral.valid[0]
    assert valid.mean() > 0.9
    error = np.abs(integral.image[0, ..., 0] - direct)[valid] / np.abs(direct[valid])
    assert error.mean() < 0.002
    assert error.max() < 0.01


def test_a_focal_plane_point_lands_on_the_same_pixel_in_every_view() -> None:
    plane = FocalPlane(height=0.5, normal=(0.1, 0.05, 1.0))
    pixel = (22, 30)  # (row, col) of the virtual camera
    point = focal_points(CAMERA, VIRTUAL[0], plane, np.array([pixel[1] + 0.5, pixel[0] + 0.5]))
    views = np.zeros((len(POSES), 48, 64), np.float32)
    covering = 0
    for v, pose in enumerate(POSES):
        uv, z = project(CAMERA, pose, point)
        if z > 0 and 0 <= uv[0] < 64 and 0 <= uv[1] < 48:
            views[v, int(uv[1]), int(uv[0])] = 1.0  # mark the pixel that sees the point
            covering += 1
    assert covering >= 4
    integral = integrate(views, POSES, VIRTUAL[0], camera=CAMERA, focal=plane, sampling="nearest")
    # Every view's marked pixel back-projects onto the virtual pixel the point is seen at.
    assert integral.sum[0, pixel[0], pixel[1], 0] == covering
    assert integral.count[0, pixel[0], pixel[1]] == covering
    assert integral.sum.max() == covering
    # A point 3 m above the plane is out of focus: its marks land on different pixels.
    lifted = point + np.array([0.0, 0.0, 3.0])
    views[:] = 0.0
    for v, pose in enumerate(POSES):
        uv, _ = project(CAMERA, pose, lifted)
        if 0 <= uv[0] < 64 and 0 <= uv[1] < 48:
            views[v, int(uv[1]), int(uv[0])] = 1.0
    blurred = integrate(views, POSES, VIRTUAL[0], camera=CAMERA, focal=plane, sampling="nearest")
    assert blurred.sum.max() <= 2


def test_uncovered_pixels_are_flagged_and_never_nan() -> None:
    views = synthesise(POSES[:2])
    virtual = (10.0, 0.0, 12.0, 0.0, 0.0)  # part of its footprint is outside every view
    integral = integrate(views, POSES[:2], virtual, camera=CAMERA, fill=-1.0)
    image = integral.image
    assert np.isfinite(image).all()
    assert (~integral.valid).any() and integral.valid.any()
    np.testing.assert_array_equal(integral.valid, integral.count > 0)
    assert np.all(image[~integral.valid] == -1.0)
    assert np.all(integral.sum[~integral.valid] == 0.0)
    # A virtual camera that looks at the sky sees no focal plane at all.
    up = integrate(views, POSES[:2], (0.0, 0.0, 12.0, 0.0, math.radians(89.0)), camera=CAMERA,
                   focal=FocalPlane(height=20.0))  # fmt: skip
    assert np.isfinite(up.image).all() and up.count.sum() == 0


def test_batched_virtual_cameras_equal_separate_calls() -> None:
    views = synthesise(POSES, channels=3)
    batch = integrate(views, POSES, VIRTUAL, camera=CAMERA)
    for k, pose in enumerate(VIRTUAL):
        one = integrate(views, POSES, pose, camera=CAMERA)
        np.testing.assert_array_equal(batch.sum[k], one.sum[0])
        np.testing.assert_array_equal(batch.count[k], one.count[0])


def test_virtual_camera_with_other_intrinsics() -> None:
    views = synthesise(POSES)
    small = Camera(fov=math.radians(30.0), width=20, height=16)
    integral = integrate(views, POSES, VIRTUAL[0], camera=CAMERA, virtual_camera=small)
    assert integral.image.shape == (1, 16, 20, 1)
    p = plane_hits(small, VIRTUAL[0], (0, 0, 0), (0, 0, 1))
    expected = texture(p[..., 0], p[..., 1])
    np.testing.assert_allclose(integral.image[0, ..., 0], expected, rtol=0.01)


@pytest.mark.parametrize("virtual", [VIRTUAL, [(0.5, -0.3, 12.0)]])
def test_masks_integrate_like_floats_and_count_flagging_views(virtual) -> None:
    rng = np.random.default_rng(0)
    masks = rng.random((len(POSES), 48, 64)) < 0.2
    for sampling in ("bilinear", "nearest"):
        as_bool = integrate(masks, POSES, virtual, camera=CAMERA, sampling=sampling)
        as_float = integrate(masks.astype(np.float32), POSES, virtual, camera=CAMERA,
                             sampling=sampling)  # fmt: skip
        np.testing.assert_array_equal(as_bool.sum, as_float.sum)
        assert as_bool.sum.min() >= 0.0 and np.all(as_bool.sum[..., 0] <= as_bool.count + 1e-5)
    # With nearest sampling the sum counts the views that flagged the point.
    assert np.all(as_bool.sum[..., 0] == np.round(as_bool.sum[..., 0]))


@pytest.mark.parametrize("height", [0.0, 2.0])
def test_a_mask_seen_from_its_own_pose_is_its_own_foreground(height) -> None:
    # Samples land on pixel centres, so the neighbours' bilinear weights are zero but for
    # rounding (7e-15 here for off-origin and yawed poses): "> 0" would dilate the mask.
    rng = np.random.default_rng(3)
    poses = [[0.0, 0.0, 35.0, 0.0, 0.0], [3.3, -1.7, 38.0, 0.0, 0.0], [1.0, 2.0, 41.0, 0.7, 0.0]]
    for pose in np.array(poses)[:, None, :]:
        mask = rng.random((1, CAMERA.height, CAMERA.width)) < 0.05
        total = integrate(mask, pose, pose, camera=CAMERA, focal=FocalPlane(height=height))
        np.testing.assert_array_equal(foreground(total.sum[0, ..., 0]), mask[0])


@pytest.mark.parametrize("sampling", ["bilinear", "nearest"])
@pytest.mark.parametrize("channels", [1, 3, 4, "mask", "sparse"])
def test_separable_fast_path_equals_the_general_path(sampling, channels) -> None:
    """Nadir cameras of equal yaw take the row/column path: same coverage, same values up to
    float32 rounding (the compiler may contract and reorder the lerps differently). Sparse
    masks (anomaly masks: a few flagged pixels) exercise the skipping of empty rows."""
    mask = channels in ("mask", "sparse")
    sparse = channels == "sparse"
    channels = 1 if mask else channels
    rng = np.random.default_rng(channels)
    poses = as_poses(np.column_stack([rng.uniform(-3, 3, (5, 2)), rng.uniform(10, 14, 5)]))
    poses[3, 3] = math.pi  # opposite yaw is separable too (mirrored rows and columns)
    virtual = as_poses([(0.3, -0.2, 12.0), (0.0, 0.0, 15.0)])
    views = rng.random((5, 48, 64, channels), dtype=np.float32)
    if mask:
        views = (views > (0.995 if sparse else 0.5)).view(np.uint8)
    if sparse:
        views[:, 20:23, 30:33] = 1  # one blob in every view, beside the scattered pixels
        assert 0 < views.mean() < 0.02
    plane = FocalPlane(height=0.4)
    fast = integrate(views, poses, virtual, camera=CAMERA, focal=plane, sampling=sampling)
    homography = plane_homographies(CAMERA, poses, CAMERA, virtual, plane)
    separable, _ = integrate_module._separable(homography, CAMERA, poses, virtual, plane)
    assert separable.all()
    total = np.empty_like(fast.sum)
    count = np.empty_like(fast.count)
    surface, heights = plane.params()
    _cpu.integrate_kernel(pose_matrices(virtual), CAMERA.focal, 64, 48, pose_matrices(poses),
                          CAMERA.focal, views, sampling == "nearest", surface, heights,
                          homography, np.zeros_like(separable), 1, total, count)  # fmt: skip
    np.testing.assert_array_equal(count, fast.count)
    np.testing.assert_allclose(total, fast.sum, rtol=1e-6, atol=1e-6)
    assert fast.sum.min() >= 0.0 and fast.sum.max() <= 5.0 * views.max()


def test_planar_height_field_equals_the_tilted_plane() -> None:
    """Bilinear interpolation of a plane is exact, so a sloped raster is the same surface."""
    normal = np.array([0.12, -0.08, 1.0])
    plane = FocalPlane(height=0.3, normal=tuple(normal))
    cell, x0, y0 = 1.5, -30.0, -30.0
    centres = x0 + (np.arange(40) + 0.5) * cell
    gx, gy = np.meshgrid(centres, centres)
    field = FocalSurface(heights=plane.height_at(gx, gy), x0=x0, y0=y0, cell=cell)
    views = synthesise(POSES, (0.0, 0.0, 0.3), normal)
    a = integrate(views, POSES, VIRTUAL, camera=CAMERA, focal=plane)
    b = integrate(views, POSES, VIRTUAL, camera=CAMERA, focal=field)
    np.testing.assert_array_equal(a.count, b.count)
    np.testing.assert_allclose(a.sum, b.sum, rtol=1e-5, atol=1e-4)


def test_height_field_points_lie_on_the_surface_along_the_rays() -> None:
    cell = 0.5
    centres = -20.0 + (np.arange(80) + 0.5) * cell
    gx, gy = np.meshgrid(centres, centres)
    heights = 2.0 * np.exp(-((gx - 1.0) ** 2 + gy**2) / 8.0) + 0.1 * gx  # a hill on a slope
    field = FocalSurface(heights=heights, x0=-20.0, y0=-20.0, cell=cell)
    for pose in POSES:
        points = focal_points(CAMERA, pose, field)
        origins, dirs = pixel_rays(CAMERA, pose)
        assert np.isfinite(points).all()
        np.testing.assert_allclose(
            points[..., 2], field.height_at(points[..., 0], points[..., 1]), atol=1e-6
        )
        along = np.cross(points - origins, dirs)
        assert np.abs(along).max() < 1e-6  # on the pixel's ray
        # The first crossing: no sample of the ray before it is under the surface.
        depth = np.linalg.norm(points - origins, axis=-1)
        for fraction in np.linspace(0.05, 0.99, 25):
            q = origins + (fraction * depth)[..., None] * dirs
            assert np.all(q[..., 2] >= field.height_at(q[..., 0], q[..., 1]) - 1e-9)


def test_bad_inputs_raise() -> None:
    views = synthesise(POSES[:2])
    with pytest.raises(ValueError, match="views"):
        integrate(views[:, :10], POSES[:2], VIRTUAL, camera=CAMERA)
    with pytest.raises(ValueError, match="poses"):
        integrate(views, POSES[:3], VIRTUAL, camera=CAMERA)
    with pytest.raises(ValueError, match="sampling"):
        integrate(views, POSES[:2], VIRTUAL, camera=CAMERA, sampling="cubic")
    with pytest.raises(ValueError, match="normal"):
        FocalPlane(normal=(1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="heights"):
        FocalSurface(heights=np.full((3, 3), np.nan), x0=0.0, y0=0.0, cell=1.0)
