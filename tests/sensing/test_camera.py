"""Camera conventions: north-up nadir images, counter-clockwise yaw, pitch toward image top."""

from __future__ import annotations

import math

import numpy as np
import pytest

from swarmsim.sensing.camera import (
    Camera,
    as_poses,
    camera_rotation,
    pixel_rays,
    project,
    sphere_window,
)


def test_focal_length_from_horizontal_fov() -> None:
    cam = Camera(fov=math.radians(50.0), width=512, height=512)
    assert cam.focal == pytest.approx(256.0 / math.tan(math.radians(25.0)))
    # The AOS footprint: 32.6 m at 35 m altitude.
    assert cam.footprint(35.0)[0] == pytest.approx(2 * 35.0 * math.tan(math.radians(25.0)))
    assert cam.footprint(35.0)[0] == pytest.approx(32.6, abs=0.05)


def test_nadir_yaw_zero_is_north_up_east_right() -> None:
    cam = Camera(width=100, height=80)
    pose = (0.0, 0.0, 30.0)
    (u_north, v_north), _ = project(cam, pose, [0.0, 5.0, 0.0])
    (u_east, v_east), _ = project(cam, pose, [5.0, 0.0, 0.0])
    assert u_north == pytest.approx(50.0) and v_north < 40.0  # above the centre row
    assert v_east == pytest.approx(40.0) and u_east > 50.0  # right of the centre column


def test_positive_yaw_turns_counter_clockwise() -> None:
    cam = Camera(width=64, height=64)
    pose = (0.0, 0.0, 30.0, math.radians(90.0))
    # Yaw 90 deg: the image top points west, so a point west of the camera appears above centre.
    (u, v), _ = project(cam, pose, [-5.0, 0.0, 0.0])
    assert u == pytest.approx(32.0) and v < 32.0


def test_pitch_tilts_towards_the_image_top() -> None:
    rot = camera_rotation(0.0, math.radians(30.0))
    optical = rot[2]
    tilt = math.radians(30.0)
    np.testing.assert_allclose(optical, [0.0, math.sin(tilt), -math.cos(tilt)])
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)


@pytest.mark.parametrize("pose", [(1.0, 2.0, 30.0, 0.3, 0.0), (-4.0, 0.0, 12.0, -2.0, 0.5)])
def test_pixel_rays_project_back_to_pixel_centres(pose) -> None:
    cam = Camera(fov=math.radians(60.0), width=9, height=7)
    origins, dirs = pixel_rays(cam, pose)
    points = origins + 17.0 * dirs
    uv, z = project(cam, pose, points)
    jj, ii = np.meshgrid(np.arange(9) + 0.5, np.arange(7) + 0.5)
    np.testing.assert_allclose(uv[..., 0], jj, atol=1e-9)
    np.testing.assert_allclose(uv[..., 1], ii, atol=1e-9)
    assert np.all(z > 0)


def test_bad_poses_and_intrinsics_raise() -> None:
    with pytest.raises(ValueError, match="poses"):
        as_poses([[0.0, 1.0]])
    with pytest.raises(ValueError, match="finite"):
        as_poses([0.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="fov"):
        Camera(fov=4.0)
    with pytest.raises(ValueError, match="width"):
        Camera(width=0)


def test_sphere_window_holds_every_pixel_whose_ray_meets_the_sphere() -> None:
    """Brute force: every pixel ray is tested against the spheres analytically."""
    rng = np.random.default_rng(3)
    cam = Camera(fov=math.radians(50.0), width=64, height=48)
    for _ in range(40):
        pose = (*rng.uniform(-3, 3, 2), rng.uniform(4, 20), rng.uniform(-3, 3), rng.uniform(0, 1))
        spheres = np.column_stack([rng.uniform(-8, 8, (2, 2)), rng.uniform(0, 3, 2),
                                   rng.uniform(0.1, 2.0, 2)])  # fmt: skip
        origins, dirs = pixel_rays(cam, pose)
        hit = np.zeros(dirs.shape[:2], bool)
        for x, y, z, r in spheres:
            p = origins - (x, y, z)
            b = np.sum(p * dirs, axis=-1)
            hit |= (b * b - (np.sum(p * p, axis=-1) - r * r) >= 0) & (b < 0)
        rows, cols = sphere_window(cam, pose, spheres)
        inside = np.zeros_like(hit)
        inside[rows, cols] = True
        assert not np.any(hit & ~inside)
        np.testing.assert_array_equal(pixel_rays(cam, pose, window=(rows, cols))[1],
                                      dirs[rows, cols])  # fmt: skip
        # A window, not the whole image: one sphere's is at most about twice its image.
        x, y, z, r = spheres[0]
        p = origins - (x, y, z)
        b = np.sum(p * dirs, axis=-1)
        one = (b * b - (np.sum(p * p, axis=-1) - r * r) >= 0) & (b < 0)
        rows, cols = sphere_window(cam, pose, spheres[:1])
        if one.any() and (rows.stop - rows.start) * (cols.stop - cols.start) < one.size:
            hit_rows, hit_cols = np.nonzero(one)
            assert rows.stop - rows.start <= 2 * (np.ptp(hit_rows) + 1) + 6
            assert cols.stop - cols.start <= 2 * (np.ptp(hit_cols) + 1) + 6
