"""CUDA (numba.cuda) kernels of the aperture package: one thread per virtual pixel.

Inputs may already live on the device (CuPy or numba device arrays straight from the renderer);
host arrays are copied over. Outputs stay on the device as CuPy arrays when CuPy is installed and
come back as NumPy arrays otherwise (the CUDA simulator, or numba-cuda without CuPy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from swarmsim.aperture._warp import integrate_pixel
from swarmsim.backend import array_module

_BLOCK = (16, 8)


@cuda.jit
def _integrate_kernel(vcams, vfocal, vwidth, vheight, cams, focal, views, nearest, surface,
                      heights, out_sum, out_count):  # fmt: skip
    j, row = cuda.grid(2)
    if j >= vwidth or row >= vcams.shape[0] * vheight:
        return
    k = row // vheight
    i = row - k * vheight
    integrate_pixel(k, i, j, vcams, vfocal, vwidth, vheight, cams, focal, views, nearest,
                    surface, heights, out_sum, out_count)  # fmt: skip


def _device(array: Any) -> Any:
    """A device view of a host, CuPy or numba device array (host arrays are copied)."""
    if isinstance(array, np.ndarray):
        return cuda.to_device(np.ascontiguousarray(array))
    return cuda.as_cuda_array(array)


def integrate(vcams: np.ndarray, vfocal: float, vwidth: int, vheight: int, cams: np.ndarray,
              focal: float, views: Any, nearest: bool, surface: np.ndarray,
              heights: np.ndarray, channels: int) -> tuple[Any, Any]:  # fmt: skip
    """Integrate on the GPU; returns (sum (m, Hv, Wv, C) float32, count (m, Hv, Wv) int32)."""
    m = len(vcams)
    out_sum = cuda.device_array((m, vheight, vwidth, channels), np.float32)
    out_count = cuda.device_array((m, vheight, vwidth), np.int32)
    grid = ((vwidth + _BLOCK[0] - 1) // _BLOCK[0], (m * vheight + _BLOCK[1] - 1) // _BLOCK[1])
    _integrate_kernel[grid, _BLOCK](
        cuda.to_device(vcams), vfocal, vwidth, vheight, cuda.to_device(cams), focal,
        _device(views), nearest, cuda.to_device(surface), cuda.to_device(heights), out_sum,
        out_count,
    )  # fmt: skip
    xp = array_module("cuda")
    if xp is np:
        return out_sum.copy_to_host(), out_count.copy_to_host()
    return xp.asarray(out_sum), xp.asarray(out_count)
