"""CUDA (numba.cuda) kernels of the renderer: one thread per pixel of every camera.

The world's arrays are copied to the device once and cached on the world; the targets (a few
primitives that move with time) are copied per call. Outputs stay on the device as CuPy arrays
when CuPy is installed (so that integration and detection can follow without a round trip), and
come back as NumPy arrays otherwise (the CUDA simulator, or numba-cuda without CuPy).
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from swarmsim.backend import array_module
from swarmsim.sensing._raycast import cast_ray, render_pixel
from swarmsim.sensing.camera import Camera
from swarmsim.sensing.world_view import TargetGeometryView, WorldView, built_ground

_BLOCK = (16, 8)


@cuda.jit
def _render_kernel(cams, focal, width, height, packed, labels, temperature, albedo, sunlit,
                   leaf_fill, glo, gcell, gdims, gstart, gitems, gtop, tpacked, towner,
                   ttemperature, talbedo, tsunlit, tbound, tstart, ground, light,
                   out_thermal, out_rgb, out_depth, out_label, out_target):  # fmt: skip
    j, row = cuda.grid(2)
    if j >= width or row >= cams.shape[0] * height:
        return
    c = row // height
    i = row - c * height
    render_pixel(c, i, j, cams, focal, width, height, packed, labels, temperature, albedo,
                 sunlit, leaf_fill, glo, gcell, gdims, gstart, gitems, gtop, tpacked, towner,
                 ttemperature, talbedo, tsunlit, tbound, tstart, ground, light,
                 out_thermal, out_rgb, out_depth, out_label, out_target)  # fmt: skip


@cuda.jit
def _cast_kernel(origins, dirs, tmax, packed, leaf_fill, glo, gcell, gdims, gstart, gitems, gtop,
                 tpacked, tbound, tstart, out_t, out_code, out_index):  # fmt: skip
    m = cuda.grid(1)
    if m < origins.shape[0]:
        cast_ray(m, origins, dirs, tmax, packed, leaf_fill, glo, gcell, gdims, gstart, gitems, gtop,
                 tpacked, tbound, tstart, out_t, out_code, out_index)  # fmt: skip


def _world_arrays(world: WorldView) -> tuple:
    """Device copies of the world's static arrays, uploaded once per world (any thread)."""

    def upload() -> tuple:
        p = world.primitives
        g = world.grid
        ground = built_ground(world)
        host = (
            world.packed, p.label, p.temperature, p.albedo, world.sunlit, world.leaf_fill,
            g.lower, g.cell, g.dims, g.start, g.items, g.top, ground.packed, world.light,
        )  # fmt: skip
        return tuple(cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in host)

    return world.table("render", upload)


def render(
    world: WorldView, targets: TargetGeometryView, cams: np.ndarray, camera: Camera
) -> tuple:
    """Render on the GPU; returns (thermal, rgb, depth, label, target_id) arrays."""
    (packed, labels, temperature, albedo, sunlit, leaf_fill, lower, cell, dims, start, items,
     top, ground, light) = _world_arrays(world)  # fmt: skip
    n, h, w = len(cams), camera.height, camera.width
    outputs = (
        cuda.device_array((n, h, w), np.float32),
        cuda.device_array((n, h, w, 3), np.uint8),
        cuda.device_array((n, h, w), np.float32),
        cuda.device_array((n, h, w), np.int8),
        cuda.device_array((n, h, w), np.int16),
    )
    tp = targets.primitives
    grid = ((w + _BLOCK[0] - 1) // _BLOCK[0], (n * h + _BLOCK[1] - 1) // _BLOCK[1])
    _render_kernel[grid, _BLOCK](
        cuda.to_device(cams), camera.focal, w, h, packed, labels, temperature, albedo, sunlit,
        leaf_fill, lower, cell, dims, start, items, top, cuda.to_device(targets.packed),
        cuda.to_device(tp.owner), cuda.to_device(tp.temperature), cuda.to_device(tp.albedo),
        cuda.to_device(targets.sunlit), cuda.to_device(targets.bound),
        cuda.to_device(targets.start), ground, light, *outputs,
    )  # fmt: skip
    xp = array_module("cuda")
    if xp is np:
        return tuple(a.copy_to_host() for a in outputs)
    return tuple(xp.asarray(a) for a in outputs)


def cast(world: WorldView, origins: np.ndarray, dirs: np.ndarray, tmax: np.ndarray,
         tpacked: np.ndarray, tbound: np.ndarray, tstart: np.ndarray) -> tuple:  # fmt: skip
    """First hits of rays on the GPU; host arrays (t, code, index)."""
    packed, _, _, _, _, leaf_fill, lower, cell, dims, start, items, top, _, _ = _world_arrays(world)
    m = len(origins)
    out = (cuda.device_array(m, np.float64), cuda.device_array(m, np.int8),
           cuda.device_array(m, np.int32))  # fmt: skip
    threads = 128
    _cast_kernel[(m + threads - 1) // threads, threads](
        cuda.to_device(origins), cuda.to_device(dirs), cuda.to_device(tmax), packed, leaf_fill,
        lower, cell, dims, start, items, top, cuda.to_device(tpacked), cuda.to_device(tbound),
        cuda.to_device(tstart), *out,
    )  # fmt: skip
    return tuple(a.copy_to_host() for a in out)
