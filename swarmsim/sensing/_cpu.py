"""CPU (numba) kernels of the renderer: one parallel loop over all image rows of all cameras."""

from __future__ import annotations

import numba as nb
import numpy as np

from swarmsim.sensing._raycast import cast_ray, shade_pixel, trace_pixel

# Fast-math without the no-NaN / no-inf assumptions: a miss is encoded as an infinite distance.
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def render_kernel(cams, focal, width, height, packed, labels, temperature, albedo, sunlit,
                  leaf_fill, glo, gcell, gdims, gstart, gitems, gtop, tpacked, towner,
                  ttemperature, talbedo, tsunlit, tbound, tstart, ground, light,
                  out_thermal, out_rgb, out_depth, out_label, out_target):  # fmt: skip
    """Render n cameras (``cams`` rows: position, row-major rotation) into the output arrays.

    Each image row is traced first and shaded afterwards, in two loops: with tracing and
    shading fused in one loop body the same work ran 1.2-1.4x slower (measured; the traversal
    is sensitive to whatever shares its compiled loop). Arguments are spelled out rather than
    forwarded as ``*args``: a star-args tuple of arrays is re-packed with reference counting
    on every iteration of the parallel loop.
    """
    n = cams.shape[0]
    for row in nb.prange(n * height):
        c = row // height
        i = row - c * height
        t = np.empty(width)
        code = np.empty(width, np.int8)
        index = np.empty(width, np.int32)
        for j in range(width):
            t[j], code[j], index[j] = trace_pixel(
                c, i, j, cams, focal, width, height, packed, leaf_fill, glo, gcell, gdims,
                gstart, gitems, gtop, tpacked, tbound, tstart,
            )  # fmt: skip
        for j in range(width):
            shade_pixel(c, i, j, t[j], code[j], index[j], cams, focal, width, height, packed,
                        labels, temperature, albedo, sunlit, tpacked, towner, ttemperature,
                        talbedo, tsunlit, ground, light, out_thermal, out_rgb, out_depth,
                        out_label, out_target)  # fmt: skip


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def cast_kernel(origins, dirs, tmax, packed, leaf_fill, glo, gcell, gdims, gstart, gitems, gtop,
                tpacked, tbound, tstart, out_t, out_code, out_index):  # fmt: skip
    """First hits of arbitrary rays (unit directions) up to ``tmax`` each."""
    for m in nb.prange(origins.shape[0]):
        cast_ray(m, origins, dirs, tmax, packed, leaf_fill, glo, gcell, gdims, gstart, gitems,
                 gtop, tpacked, tbound, tstart, out_t, out_code, out_index)  # fmt: skip


def empty_outputs(n: int, height: int, width: int) -> tuple[np.ndarray, ...]:
    """Host output arrays of :func:`render_kernel`: thermal, rgb, depth, label, target id."""
    return (
        np.empty((n, height, width), np.float32),
        np.empty((n, height, width, 3), np.uint8),
        np.empty((n, height, width), np.float32),
        np.empty((n, height, width), np.int8),
        np.empty((n, height, width), np.int16),
    )
