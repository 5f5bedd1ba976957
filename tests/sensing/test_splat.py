"""Culling bounds of the object-order renderer hold what they claim (brute force on samples)."""

from __future__ import annotations

import math

import numpy as np

from swarmsim.sensing import _splat
from swarmsim.sensing.camera import Camera, pose_matrices, project
from swarmsim.world.grid import pack_primitives
from tests.sensing.test_render import random_primitives


def test_frustum_boxes_hold_every_visible_point_of_the_layer() -> None:
    rng = np.random.default_rng(2)
    cam = Camera(fov=math.radians(50.0), width=64, height=48)
    layer = (0.5, 20.0)
    poses = [(0.0, 0.0, 35.0, 0.3, 0.0), (5.0, -3.0, 44.0, -1.0, 0.4), (0.0, 0.0, 30.0, 0.0, 1.4),
             (0.0, 0.0, 15.0, 0.0, 0.0)]  # fmt: skip
    boxes = _splat.frustum_boxes(pose_matrices(poses), cam.focal, cam.width, cam.height, layer)
    assert np.all(np.isfinite(boxes[:2])) and np.all(np.isinf(boxes[2:]))  # horizon; in layer
    points = rng.uniform([-60, -60, layer[0]], [60, 60, layer[1]], (200_000, 3))
    for pose, (x0, x1, y0, y1) in zip(poses[:2], boxes[:2], strict=True):
        uv, z = project(cam, pose, points)
        seen = (z > 0) & np.all((uv >= 0) & (uv <= (cam.width, cam.height)), axis=1)
        assert seen.sum() > 1000
        inside = (points[:, 0] >= x0) & (points[:, 0] <= x1)
        inside &= (points[:, 1] >= y0) & (points[:, 1] <= y1)
        assert np.all(inside[seen])
        assert inside.sum() < 4 * seen.sum()  # a box around the view, not the whole layer


def test_primitive_bounds_reach_and_heights_hold_every_primitive() -> None:
    prims = random_primitives(np.random.default_rng(4), n=90)
    bounds = _splat.primitive_bounds(pack_primitives(prims))
    boxes = prims.bounds()[bounds.order]  # (n, 2, 3) axis-aligned boxes, in splat order
    x, y, d = bounds.reach.T
    for corner in (boxes[:, 0], boxes[:, 1]):
        # Box corners can lie outside a round primitive, but its extreme x and y cannot.
        assert np.all(np.abs(corner[:, 0] - x) <= d + 1e-6)
        assert np.all(np.abs(corner[:, 1] - y) <= d + 1e-6)
    assert bounds.z[0] <= boxes[:, 0, 2].min() + 1e-6
    assert bounds.z[1] >= boxes[:, 1, 2].max() - 1e-6
    top = np.maximum(bounds.capsules[:, 2], bounds.capsules[:, 5]) + bounds.capsules[:, 6]
    assert np.all(np.diff(top) <= 0)  # highest first


def test_cell_culling_keeps_every_cell_a_pixel_ray_meets_and_drops_cells_out_of_view() -> None:
    """Brute force: no ray through a dense grid of image points (the pixel centres and finer)
    meets the box of a dropped cell, and most cells of a wide forest are dropped."""
    rng = np.random.default_rng(4)
    cells = np.zeros((400, 6))
    centre = rng.uniform(-30.0, 30.0, (400, 2))
    cells[:, 0], cells[:, 1] = centre[:, 0] - 1.0, centre[:, 0] + 1.0
    cells[:, 2], cells[:, 3] = centre[:, 1] - 1.0, centre[:, 1] + 1.0
    cells[:, 4], cells[:, 5] = 0.0, rng.uniform(2.0, 20.0, 400)
    camera = Camera(fov=math.radians(50.0), width=32, height=24)
    cams = pose_matrices(np.array([[1.0, -2.0, 35.0, 0.4, 0.3]]))
    seen = np.array(
        [_splat._cell_seen(cams, 0, camera.focal, 32, 24, cells, k) for k in range(400)]
    )
    rot = cams[0, 3:].reshape(3, 3)
    u, v = np.meshgrid(np.linspace(0.0, 32.0, 129), np.linspace(0.0, 24.0, 97))
    d = ((u.ravel() - 16.0) / camera.focal)[:, None] * rot[0]
    d = d + ((v.ravel() - 12.0) / camera.focal)[:, None] * rot[1] + rot[2]
    # Slab test of every ray against every dropped cell's box.
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d  # (rays, 3)
        lo = (cells[~seen][:, [0, 2, 4]][:, None, :] - cams[0, :3]) * inv  # (cells, rays, 3)
        hi = (cells[~seen][:, [1, 3, 5]][:, None, :] - cams[0, :3]) * inv
    enter = np.nanmax(np.minimum(lo, hi), axis=2)
    leave = np.nanmin(np.maximum(lo, hi), axis=2)
    assert not np.any((enter <= leave) & (leave > 0.0))
    assert 0 < seen.sum() < 200  # most of the forest is out of one view
