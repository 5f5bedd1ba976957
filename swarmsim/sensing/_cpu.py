"""CPU (numba) kernels of the renderer: one parallel loop over all image rows of all cameras."""

from __future__ import annotations

import numba as nb
import numpy as np

from swarmsim.sensing._raycast import cast_ray, render_pixel

# Fast-math without the no-NaN / no-inf assumptions: a miss is encoded as an infinite distance.
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def render_kernel(cams, focal, width, height, *scene_and_outputs):
    """Render n cameras (``cams`` rows: position, row-major rotation) into the output arrays."""
    n = cams.shape[0]
    for row in nb.prange(n * height):
        c = row // height
        i = row - c * height
        for j in range(width):
            render_pixel(c, i, j, cams, focal, width, height, *scene_and_outputs)


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def cast_kernel(origins, *scene_and_outputs):
    """First hits of arbitrary rays (unit directions) up to ``tmax`` each."""
    for m in nb.prange(origins.shape[0]):
        cast_ray(m, origins, *scene_and_outputs)


def empty_outputs(n: int, height: int, width: int) -> tuple[np.ndarray, ...]:
    """Host output arrays of :func:`render_kernel`: thermal, rgb, depth, label, target id."""
    return (
        np.empty((n, height, width), np.float32),
        np.empty((n, height, width, 3), np.uint8),
        np.empty((n, height, width), np.float32),
        np.empty((n, height, width), np.int8),
        np.empty((n, height, width), np.int16),
    )
