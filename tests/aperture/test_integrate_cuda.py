"""The CUDA integration kernel equals the CPU kernel (numba's simulator when no GPU is visible)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from swarmsim.aperture.integrate import FocalPlane, FocalSurface, integrate
from swarmsim.sensing.camera import Camera

pytestmark = pytest.mark.cuda

CAMERA = Camera(fov=math.radians(60.0), width=12, height=10)
POSES = np.array(
    [
        (0.0, 0.0, 10.0, 0.0, 0.0),
        (1.5, -1.0, 11.0, 0.0, 0.0),
        (-1.0, 1.0, 9.0, math.radians(40.0), math.radians(10.0)),
    ]
)
NADIR = POSES[:2]  # equal yaw, nadir: the CPU's separable path

FIELD = FocalSurface(
    heights=np.random.default_rng(1).uniform(0.0, 1.0, (12, 12)), x0=-9.0, y0=-9.0, cell=1.5
)


@pytest.mark.parametrize(
    ("poses", "focal", "channels", "sampling", "dtype"),
    [
        (NADIR, FocalPlane(height=0.2), 4, "bilinear", np.float32),
        (POSES, FocalPlane(height=0.3, normal=(0.1, 0.0, 1.0)), 1, "bilinear", np.float32),
        (POSES, FocalPlane(), 5, "nearest", np.float32),
        (POSES, FIELD, 2, "bilinear", np.float32),
        (POSES, FocalPlane(), 1, "bilinear", np.bool_),
    ],
)
def test_integrate_cuda_equals_cpu(poses, focal, channels, sampling, dtype) -> None:
    rng = np.random.default_rng(channels)
    views = rng.random((len(poses), 10, 12, channels)).astype(np.float32)
    if dtype is np.bool_:
        views = views > 0.5
    virtual = [(0.2, 0.1, 10.0, 0.0, 0.0), (0.0, -0.5, 12.0, math.radians(-30.0), 0.0)]
    cpu = integrate(views, poses, virtual, camera=CAMERA, focal=focal, sampling=sampling)
    gpu = integrate(views, poses, virtual, camera=CAMERA, focal=focal, sampling=sampling,
                    backend="cuda").to_numpy()  # fmt: skip
    np.testing.assert_array_equal(gpu.count, cpu.count)
    assert cpu.count.max() == len(poses)
    np.testing.assert_allclose(gpu.sum, cpu.sum, rtol=1e-5, atol=1e-6)
    assert np.isfinite(gpu.image).all()
