"""The CUDA kernels equal the CPU kernels (numba's CUDA simulator when no GPU is visible)."""

from __future__ import annotations

import numpy as np
import pytest

from swarmsim.sensing.camera import Camera
from swarmsim.sensing.render import cast_rays, render
from swarmsim.world.targets import Target, static_trajectory
from tests.sensing.test_render import POSES, make_world, random_primitives

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(3)
    person = Target(
        pose="lying",
        trajectory=static_trajectory(position=np.array([0.5, -0.5]), heading=0.4),
        temperature=34.0,
        clothing=(0.6, 0.1, 0.1),
    )
    return make_world(random_primitives(rng, n=45), leaf_fill=0.6, grid_cell=0.8,
                      camera=Camera(width=12, height=10), targets=(person,))  # fmt: skip


def test_render_cuda_equals_cpu(world) -> None:
    cpu = render(world, POSES, backend="cpu")
    gpu = render(world, POSES, backend="cuda").to_numpy()
    np.testing.assert_array_equal(gpu.label, cpu.label)
    np.testing.assert_array_equal(gpu.target_id, cpu.target_id)
    np.testing.assert_allclose(gpu.depth, cpu.depth, rtol=1e-5)
    np.testing.assert_allclose(gpu.thermal, cpu.thermal, rtol=1e-5, atol=1e-5)
    assert np.max(np.abs(gpu.rgb.astype(int) - cpu.rgb.astype(int))) <= 1


def test_cast_rays_cuda_equals_cpu(world) -> None:
    rng = np.random.default_rng(4)
    origins = rng.uniform([-6, -6, 0.5], [6, 6, 9], (60, 3))
    dirs = rng.normal(size=(60, 3))
    cpu = cast_rays(world, origins, dirs, backend="cpu")
    gpu = cast_rays(world, origins, dirs, backend="cuda")
    np.testing.assert_array_equal(gpu.code, cpu.code)
    np.testing.assert_array_equal(gpu.index, cpu.index)
    np.testing.assert_allclose(gpu.t, cpu.t, rtol=1e-9)
