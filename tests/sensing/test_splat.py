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
