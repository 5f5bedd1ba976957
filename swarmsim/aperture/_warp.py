"""Integration device functions shared by the CPU (numba) and CUDA (numba.cuda) kernels.

Everything here is ``register_jitable`` and works on scalars and arrays only, so both backends
compile the same arithmetic. Cameras are rows ``[x, y, z, R00 .. R22]`` of
:func:`swarmsim.sensing.camera.pose_matrices` (rows of R: right, down, optical axis).

The focal surface is a float64 parameter vector (layout ``S_*``) plus a height raster that only
the height-field kind reads.
"""

from __future__ import annotations

import math

import numpy as np
from numba.extending import register_jitable

from swarmsim.sensing._raycast import bilinear_weights

INF = math.inf

#: Kinds of focal surface.
PLANE, HEIGHT_FIELD = 0, 1
#: Layout of the float64 surface parameter vector.
(S_KIND, S_PX, S_PY, S_PZ, S_NX, S_NY, S_NZ, S_X0, S_Y0, S_CELL, S_HMIN, S_HMAX) = range(12)
SURFACE_SIZE = 12
#: Upper bound on ray-march steps through a height field (each step is half a raster cell).
MAX_MARCH = 8192
#: Bisection steps after the march has bracketed the surface (2^-40 of half a cell).
BISECT = 40


@register_jitable
def pixel_ray(k, i, j, cams, focal, width, height):
    """Origin and unit direction of the ray through pixel (row i, column j) of camera k."""
    xc = (j + 0.5 - 0.5 * width) / focal
    yc = (i + 0.5 - 0.5 * height) / focal
    dx = xc * cams[k, 3] + yc * cams[k, 6] + cams[k, 9]
    dy = xc * cams[k, 4] + yc * cams[k, 7] + cams[k, 10]
    dz = xc * cams[k, 5] + yc * cams[k, 8] + cams[k, 11]
    norm = math.sqrt(dx * dx + dy * dy + dz * dz)
    return cams[k, 0], cams[k, 1], cams[k, 2], dx / norm, dy / norm, dz / norm


@register_jitable
def field_height(heights, x0, y0, cell, x, y):
    """Bilinear height of the raster at (x, y), clamped at its edges (cell-centred samples)."""
    i0, i1, j0, j1, wy, wx = bilinear_weights(heights.shape[0], heights.shape[1], x0, y0, cell,
                                              x, y)  # fmt: skip
    top = (1.0 - wx) * heights[i0, j0] + wx * heights[i0, j1]
    bottom = (1.0 - wx) * heights[i1, j0] + wx * heights[i1, j1]
    return (1.0 - wy) * top + wy * bottom


@register_jitable
def hit_height_field(ox, oy, oz, dx, dy, dz, surface, heights):
    """Distance along a unit ray to the first crossing of the height field, inf if none.

    The ray is clipped to the slab between the lowest and highest height, marched in steps of
    half a raster cell (horizontally) until it is below the surface, and the crossing is then
    bisected. Only descending rays can hit.
    """
    if dz >= 0.0:
        return INF
    x0 = surface[S_X0]
    y0 = surface[S_Y0]
    cell = surface[S_CELL]
    t0 = max((surface[S_HMAX] - oz) / dz, 0.0)
    t1 = (surface[S_HMIN] - oz) / dz
    if t1 < 0.0:
        return INF
    fa = oz + t0 * dz - field_height(heights, x0, y0, cell, ox + t0 * dx, oy + t0 * dy)
    if fa <= 0.0:
        return t0 if t0 > 0.0 else INF  # the origin is under the surface
    horizontal = math.sqrt(dx * dx + dy * dy)
    steps = 1
    if horizontal > 0.0:
        steps = min(max(int(math.ceil((t1 - t0) * horizontal / (0.5 * cell))), 1), MAX_MARCH)
    step = (t1 - t0) / steps
    ta = t0
    for s in range(steps):
        tb = t1 if s == steps - 1 else t0 + (s + 1) * step
        fb = oz + tb * dz - field_height(heights, x0, y0, cell, ox + tb * dx, oy + tb * dy)
        if fb <= 0.0:
            for _ in range(BISECT):
                tm = 0.5 * (ta + tb)
                fm = oz + tm * dz - field_height(heights, x0, y0, cell, ox + tm * dx,
                                                 oy + tm * dy)  # fmt: skip
                if fm > 0.0:
                    ta = tm
                else:
                    tb = tm
            return 0.5 * (ta + tb)
        ta = tb
    return t1


@register_jitable
def hit_surface(ox, oy, oz, dx, dy, dz, surface, heights):
    """Distance along a unit ray to the focal surface (in front of the origin), inf if none."""
    if surface[S_KIND] == HEIGHT_FIELD:
        return hit_height_field(ox, oy, oz, dx, dy, dz, surface, heights)
    nx = surface[S_NX]
    ny = surface[S_NY]
    nz = surface[S_NZ]
    den = dx * nx + dy * ny + dz * nz
    if abs(den) < 1e-12:
        return INF
    t = ((surface[S_PX] - ox) * nx + (surface[S_PY] - oy) * ny + (surface[S_PZ] - oz) * nz) / den
    if t <= 0.0:
        return INF
    return t


@register_jitable
def project(v, px, py, pz, cams, focal, half_w, half_h):
    """Camera-frame depth and image point (u = column, w = row) of P in camera v."""
    rx = px - cams[v, 0]
    ry = py - cams[v, 1]
    rz = pz - cams[v, 2]
    zc = cams[v, 9] * rx + cams[v, 10] * ry + cams[v, 11] * rz
    s = focal / zc
    u = (cams[v, 3] * rx + cams[v, 4] * ry + cams[v, 5] * rz) * s + half_w
    w = (cams[v, 6] * rx + cams[v, 7] * ry + cams[v, 8] * rz) * s + half_h
    return zc, u, w


@register_jitable
def bilinear_taps(u, w, width, height):
    """Corner rows/columns and weights of a bilinear sample at image point (u, w).

    Pixel centres sit at half-integers; the outer half pixel repeats the edge (clamped).
    Returns ``(i0, i1, j0, j1, fy, fx)``.
    """
    x = min(max(u - 0.5, 0.0), width - 1.0)
    y = min(max(w - 0.5, 0.0), height - 1.0)
    j0 = int(x)
    i0 = int(y)
    return i0, min(i0 + 1, height - 1), j0, min(j0 + 1, width - 1), y - i0, x - j0


@register_jitable
def lerp(views, v, c, i0, i1, j0, j1, fy, fx):
    """Bilinear value of channel c of view v from its four corners, in float32 (the CPU's
    separable path does the same arithmetic; uint8 masks are widened first so that
    differences do not wrap around)."""
    # Unsigned indices: numba then skips the negative-index wrap-around on every load.
    i0 = np.uint64(i0)
    i1 = np.uint64(i1)
    j0 = np.uint64(j0)
    j1 = np.uint64(j1)
    fx = np.float32(fx)
    a = np.float32(views[v, i0, j0, c])
    top = a + fx * (np.float32(views[v, i0, j1, c]) - a)
    b = np.float32(views[v, i1, j0, c])
    bottom = b + fx * (np.float32(views[v, i1, j1, c]) - b)
    return top + np.float32(fy) * (bottom - top)


@register_jitable
def accumulate(views, v, u, w, nearest, out_sum, k, i, j):
    """Add view v sampled at image point (u, w) (inside the image) to ``out_sum[k, i, j, :]``."""
    nc = views.shape[3]
    if nearest:
        i0 = int(w)
        j0 = int(u)
        for c in range(nc):
            out_sum[k, i, j, c] += views[v, i0, j0, c]
        return
    i0, i1, j0, j1, fy, fx = bilinear_taps(u, w, views.shape[2], views.shape[1])
    # The common channel counts unrolled: a runtime channel loop costs more than the lerps.
    if nc == 1:
        out_sum[k, i, j, 0] += lerp(views, v, 0, i0, i1, j0, j1, fy, fx)
    elif nc == 4:
        out_sum[k, i, j, 0] += lerp(views, v, 0, i0, i1, j0, j1, fy, fx)
        out_sum[k, i, j, 1] += lerp(views, v, 1, i0, i1, j0, j1, fy, fx)
        out_sum[k, i, j, 2] += lerp(views, v, 2, i0, i1, j0, j1, fy, fx)
        out_sum[k, i, j, 3] += lerp(views, v, 3, i0, i1, j0, j1, fy, fx)
    else:
        for c in range(nc):
            out_sum[k, i, j, c] += lerp(views, v, c, i0, i1, j0, j1, fy, fx)


@register_jitable
def integrate_pixel(k, i, j, vcams, vfocal, vwidth, vheight, cams, focal, views, nearest,
                    surface, heights, out_sum, out_count):  # fmt: skip
    """Integrate pixel (row i, column j) of virtual camera k over all views (one GPU thread).

    The pixel's ray meets the focal surface at P; P is projected into every view and, where it
    lands inside the image in front of the camera, the view is sampled there and accumulated,
    in view order (the CPU kernel adds in the same order).
    """
    nc = views.shape[3]
    height = views.shape[1]
    width = views.shape[2]
    for c in range(nc):
        out_sum[k, i, j, c] = 0.0
    out_count[k, i, j] = 0
    ox, oy, oz, dx, dy, dz = pixel_ray(k, i, j, vcams, vfocal, vwidth, vheight)
    t = hit_surface(ox, oy, oz, dx, dy, dz, surface, heights)
    if t == INF:
        return
    px = ox + t * dx
    py = oy + t * dy
    pz = oz + t * dz
    covered = 0
    for v in range(views.shape[0]):
        zc, u, w = project(v, px, py, pz, cams, focal, 0.5 * width, 0.5 * height)
        if zc > 0.0 and 0.0 <= u < width and 0.0 <= w < height:
            covered += 1
            accumulate(views, v, u, w, nearest, out_sum, k, i, j)
    out_count[k, i, j] = covered


@register_jitable
def surface_point(m, origins, dirs, surface, heights, out):
    """Point where ray m meets the focal surface, written to ``out[m]`` (NaN when it misses)."""
    ox = origins[m, 0]
    oy = origins[m, 1]
    oz = origins[m, 2]
    dx = dirs[m, 0]
    dy = dirs[m, 1]
    dz = dirs[m, 2]
    t = hit_surface(ox, oy, oz, dx, dy, dz, surface, heights)
    if t == INF:
        out[m, 0] = math.nan
        out[m, 1] = math.nan
        out[m, 2] = math.nan
    else:
        out[m, 0] = ox + t * dx
        out[m, 1] = oy + t * dy
        out[m, 2] = oz + t * dz
