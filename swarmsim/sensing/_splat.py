"""CPU renderer in object order: each primitive is tested only on the pixels it can cover.

Image order (``_cpu.render_kernel``) walks every ray through the voxel grid, and that walk costs
more than the primitive tests it leads to (BENCHMARKS.md). Here each camera first projects a
bounding capsule of every primitive (a capsule's own, a disc's or sphere's bounding sphere) to a
conservative footprint: the image of its axis segment widened by a bound on how far the image of
a ball strays from the image of its centre. Each band of image rows then runs the exact
ray-primitive tests of ``_raycast`` on the pixels of every footprint that reaches it, keeping the
nearest hit per pixel, and shades the band. The nearest hit of a pixel is the same as image order
finds: the same rays meet the same primitives with the same arithmetic, only the order differs.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from swarmsim.sensing._cpu import _FASTMATH
from swarmsim.sensing._raycast import (
    HIT_STATIC,
    hit_ground_or_target,
    hit_primitive,
    pixel_ray,
    shade_pixel,
)

#: Image rows per task of the parallel loop (a band's rays and nearest hits stay in cache).
BAND = 32
#: Footprint columns of the per-camera projection records (see :func:`cull_kernel`).
UA, VA, UB, VB, RHO = range(5)
#: Primitives closer to the camera plane than this (metres) are tested on the whole image.
NEAR = 1e-3
#: Slack in pixels on footprint edges, far above the rounding of the projections.
SLACK = 0.05


def bounding_capsules(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding capsules ``[ax, ay, az, bx, by, bz, r]`` (n, 7) of packed primitives and the
    order in which to splat them: highest top first, so that nadir views meet near surfaces
    early and most later tests end at the distance check."""
    kind = packed[:, 7]
    a = packed[:, 0:3].astype(np.float64)
    b = np.where((kind == 1)[:, None], packed[:, 4:7], packed[:, 0:3]).astype(np.float64)
    r = packed[:, 3].astype(np.float64)
    bounds = np.column_stack([a, b, r])
    top = np.maximum(a[:, 2], b[:, 2]) + r
    order = np.argsort(-top, kind="stable").astype(np.int32)
    return np.ascontiguousarray(bounds), order


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def cull_kernel(cams, focal, width, height, bounds, order, out_k, out_geo, out_rows, out_count):
    """Per camera, the primitives whose footprint meets the image, in splat order.

    Writes ``out_k[c, :count]`` (primitive indices), ``out_geo`` (footprint: image of the axis
    end points ``UA, VA, UB, VB`` and the widening ``RHO`` in pixels, negative for the whole
    image) and ``out_rows`` (first and last image row), and ``out_count[c]``.

    The widening: a point ``e`` within ``r`` of an axis point ``p`` (camera coordinates, depth
    ``p_z > r``) projects within ``r (1 + |p_x| / p_z) / (p_z - r)`` of ``p``'s image along x
    (likewise y). ``|p_x| / p_z`` is monotone along the axis, so the end points bound it.
    """
    for c in nb.prange(cams.shape[0]):
        ox = cams[c, 0]
        oy = cams[c, 1]
        oz = cams[c, 2]
        count = 0
        for q in range(order.shape[0]):
            k = order[q]
            r = bounds[k, 6]
            ex = bounds[k, 0] - ox
            ey = bounds[k, 1] - oy
            ez = bounds[k, 2] - oz
            ax = ex * cams[c, 3] + ey * cams[c, 4] + ez * cams[c, 5]
            ay = ex * cams[c, 6] + ey * cams[c, 7] + ez * cams[c, 8]
            az = ex * cams[c, 9] + ey * cams[c, 10] + ez * cams[c, 11]
            ex = bounds[k, 3] - ox
            ey = bounds[k, 4] - oy
            ez = bounds[k, 5] - oz
            bx = ex * cams[c, 3] + ey * cams[c, 4] + ez * cams[c, 5]
            by = ex * cams[c, 6] + ey * cams[c, 7] + ez * cams[c, 8]
            bz = ex * cams[c, 9] + ey * cams[c, 10] + ez * cams[c, 11]
            if max(az, bz) + r <= 0.0:
                continue  # wholly behind the camera
            zmin = min(az, bz) - r
            if zmin <= NEAR:
                out_geo[c, count, RHO] = -1.0
                out_rows[c, count, 0] = 0
                out_rows[c, count, 1] = height - 1
                out_k[c, count] = k
                count += 1
                continue
            slope = max(max(abs(ax) / az, abs(ay) / az), max(abs(bx) / bz, abs(by) / bz))
            rho = focal * r * (1.0 + slope) / zmin + SLACK
            ua = focal * ax / az + 0.5 * width
            va = focal * ay / az + 0.5 * height
            ub = focal * bx / bz + 0.5 * width
            vb = focal * by / bz + 0.5 * height
            if min(ua, ub) - rho > width or max(ua, ub) + rho < 0.0:
                continue
            i0 = max(int(math.ceil(min(va, vb) - rho - 0.5)), 0)
            i1 = min(int(math.floor(max(va, vb) + rho - 0.5)), height - 1)
            if i0 > i1:
                continue
            out_k[c, count] = k
            out_geo[c, count, UA] = ua
            out_geo[c, count, VA] = va
            out_geo[c, count, UB] = ub
            out_geo[c, count, VB] = vb
            out_geo[c, count, RHO] = rho
            out_rows[c, count, 0] = i0
            out_rows[c, count, 1] = i1
            count += 1
        out_count[c] = count


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy", inline="always")
def _span(geo, c, q, i, width):
    """Columns ``(j0, j1)`` of row ``i`` inside footprint ``q`` of camera ``c`` (empty: j0 > j1)."""
    rho = geo[c, q, RHO]
    if rho < 0.0:
        return 0, width - 1
    ua = geo[c, q, UA]
    va = geo[c, q, VA]
    ub = geo[c, q, UB]
    vb = geo[c, q, VB]
    v = i + 0.5
    lo = max(v - rho, min(va, vb))
    hi = min(v + rho, max(va, vb))
    if lo > hi:
        return 1, 0
    if vb - va == 0.0:
        ulo = min(ua, ub)
        uhi = max(ua, ub)
    else:
        slope = (ub - ua) / (vb - va)
        u1 = ua + (lo - va) * slope
        u2 = ua + (hi - va) * slope
        ulo = min(u1, u2)
        uhi = max(u1, u2)
    j0 = max(int(math.ceil(ulo - rho - 0.5)), 0)
    j1 = min(int(math.floor(uhi + rho - 0.5)), width - 1)
    return j0, j1


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy", inline="always")
def _disc_span(cams, c, focal, width, height, packed, k, i, j0, j1):
    """Narrow the columns ``(j0, j1)`` of row ``i`` to the chord the row's plane of rays cuts
    from disc ``k``: the image of that chord, plus ``SLACK``.

    The rays of a row span a plane through the camera centre; it meets the disc's plane in a
    line, whose points within the radius of the centre are the chord. A disc (nearly) parallel
    to the row's plane keeps the given columns.
    """
    yc = (i + 0.5 - 0.5 * height) / focal
    # Normal of the row's plane: right x (yc down + optical).
    fx = yc * cams[c, 6] + cams[c, 9]
    fy = yc * cams[c, 7] + cams[c, 10]
    fz = yc * cams[c, 8] + cams[c, 11]
    mx = cams[c, 4] * fz - cams[c, 5] * fy
    my = cams[c, 5] * fx - cams[c, 3] * fz
    mz = cams[c, 3] * fy - cams[c, 4] * fx
    nx = float(packed[k, 4])
    ny = float(packed[k, 5])
    nz = float(packed[k, 6])
    mn = mx * nx + my * ny + mz * nz
    wx = mx - mn * nx
    wy = my - mn * ny
    wz = mz - mn * nz
    ww = wx * wx + wy * wy + wz * wz
    if ww < 1e-12 * (mx * mx + my * my + mz * mz):
        return j0, j1
    cx = float(packed[k, 0]) - cams[c, 0]
    cy = float(packed[k, 1]) - cams[c, 1]
    cz = float(packed[k, 2]) - cams[c, 2]
    alpha = -(mx * cx + my * cy + mz * cz) / ww
    r = float(packed[k, 3])
    h2 = r * r - alpha * alpha * ww
    if h2 < 0.0:
        return 1, 0
    # Chord direction n x m, scaled to the half chord length.
    ex = ny * mz - nz * my
    ey = nz * mx - nx * mz
    ez = nx * my - ny * mx
    scale = math.sqrt(h2 / (ex * ex + ey * ey + ez * ez))
    px = cx + alpha * wx
    py = cy + alpha * wy
    pz = cz + alpha * wz
    ulo = math.inf
    uhi = -math.inf
    for sign in (-1.0, 1.0):
        qx = px + sign * scale * ex
        qy = py + sign * scale * ey
        qz = pz + sign * scale * ez
        depth = qx * cams[c, 9] + qy * cams[c, 10] + qz * cams[c, 11]
        if depth <= NEAR:
            return j0, j1
        u = focal * (qx * cams[c, 3] + qy * cams[c, 4] + qz * cams[c, 5]) / depth + 0.5 * width
        ulo = min(ulo, u)
        uhi = max(uhi, u)
    return max(j0, int(math.ceil(ulo - SLACK - 0.5))), min(j1, int(math.floor(uhi + SLACK - 0.5)))


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def splat_kernel(cams, focal, width, height, packed, labels, temperature, albedo, sunlit,
                 leaf_fill, tpacked, towner, ttemperature, talbedo, tsunlit, tbound, tstart,
                 ground, light, prim_k, prim_geo, prim_rows, prim_count,
                 out_thermal, out_rgb, out_depth, out_label, out_target):  # fmt: skip
    """Render n cameras from the footprints of :func:`cull_kernel`, one task per row band."""
    bands = (height + BAND - 1) // BAND
    for task in nb.prange(cams.shape[0] * bands):
        c = task // bands
        r0 = (task - c * bands) * BAND
        r1 = min(r0 + BAND, height)
        dirs = np.empty((r1 - r0, width, 3))
        best = np.empty((r1 - r0, width))
        code = np.empty((r1 - r0, width), np.int8)
        index = np.empty((r1 - r0, width), np.int32)
        ox = cams[c, 0]
        oy = cams[c, 1]
        oz = cams[c, 2]
        for i in range(r0, r1):
            for j in range(width):
                ox, oy, oz, dx, dy, dz = pixel_ray(c, i, j, cams, focal, width, height)
                dirs[i - r0, j, 0] = dx
                dirs[i - r0, j, 1] = dy
                dirs[i - r0, j, 2] = dz
                best[i - r0, j], code[i - r0, j], index[i - r0, j] = hit_ground_or_target(
                    ox, oy, oz, dx, dy, dz, math.inf, tpacked, tbound, tstart
                )
        for q in range(prim_count[c]):
            if prim_rows[c, q, 1] < r0 or prim_rows[c, q, 0] >= r1:
                continue
            k = prim_k[c, q]
            disc = packed[k, 7] == 2 and prim_geo[c, q, RHO] >= 0.0
            for i in range(max(prim_rows[c, q, 0], r0), min(prim_rows[c, q, 1] + 1, r1)):
                j0, j1 = _span(prim_geo, c, q, i, width)
                if disc and j0 <= j1:
                    j0, j1 = _disc_span(cams, c, focal, width, height, packed, k, i, j0, j1)
                ii = i - r0
                for j in range(j0, j1 + 1):
                    t = hit_primitive(packed, k, ox, oy, oz, dirs[ii, j, 0], dirs[ii, j, 1],
                                      dirs[ii, j, 2], 0.0, best[ii, j], leaf_fill)  # fmt: skip
                    if t < best[ii, j]:
                        best[ii, j] = t
                        code[ii, j] = HIT_STATIC
                        index[ii, j] = k
        for i in range(r0, r1):
            for j in range(width):
                shade_pixel(c, i, j, best[i - r0, j], code[i - r0, j], index[i - r0, j], cams,
                            focal, width, height, packed, labels, temperature, albedo, sunlit,
                            tpacked, towner, ttemperature, talbedo, tsunlit, ground, light,
                            out_thermal, out_rgb, out_depth, out_label, out_target)  # fmt: skip
