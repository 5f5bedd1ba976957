"""CPU renderer in object order: each primitive is tested only on the pixels it can cover.

Image order (``_cpu.render_kernel``) walks every ray through the voxel grid, and that walk costs
more than the primitive tests it leads to (BENCHMARKS.md). Here each camera first projects a
bounding capsule of every primitive (a capsule's own, a disc's or sphere's bounding sphere) to a
conservative footprint: the image of its axis segment widened by a bound on how far the image of
a ball strays from the image of its centre. Each band of image rows then runs the exact
ray-primitive tests of ``_raycast`` on the pixels of every footprint that reaches it, keeping the
nearest hit per pixel, and a last pass shades every pixel. The nearest hit of a pixel is the same
as image order finds: the same rays meet the same primitives with the same arithmetic, only the
order differs.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from swarmsim.sensing._cpu import _FASTMATH
from swarmsim.sensing._raycast import (
    HIT_STATIC,
    encode_srgb,
    hit_ground_or_target,
    pixel_ray,
    ray_capsule,
    ray_disc,
    ray_sphere,
    shade,
    shade_pixel,
)

#: Image rows per task of the splat loop (a band's rays and nearest hits stay in cache).
BAND = 32
#: Columns of the per-camera footprint records (see :func:`cull_kernel`).
UA, VA, UB, VB, RHO, TNEAR = range(6)
GEO_SIZE = 6
#: Primitives closer to the camera plane than this (metres) are tested on the whole image.
NEAR = 1e-3
#: Slack in pixels on footprint edges, far above the rounding of the projections.
SLACK = 0.05
#: Side of the ground cells in metres whose primitives are culled together (`Bounds.cells`).
CELL = 2.0
#: Most cells along either side of the forest (larger forests get larger cells).
MAX_CELLS = 64
#: Margin in pixels around the image when culling whole cells: a cell wholly outside the view
#: pyramid widened by it holds nothing any pixel ray can hit.
CELL_MARGIN = 1.0


class Bounds(NamedTuple):
    """What culling needs of the static primitives, computed once per world.

    Attributes:
        order: Splat order, highest top first: nadir views meet near surfaces early, and most
            later tests end at the distance check.
        capsules: (n, 7) bounding capsules ``[ax, ay, az, bx, by, bz, r]`` (a capsule's own, a
            disc's or sphere's bounding sphere as a capsule of zero length), in splat order:
            row q bounds primitive ``order[q]`` (culling then reads memory in sequence).
        reach: (n, 3) ``[x, y, d]`` in splat order: every point of the primitive lies within
            ``d`` of ``(x, y)`` horizontally.
        z: ``(lowest, highest)`` height of any primitive point.
        cell_of: (n,) int32 in splat order: the ground cell (`CELL` metres square, larger in
            forests over `MAX_CELLS` cells wide) holding the centre of each primitive's reach.
        cells: (c, 6) boxes ``[x0, x1, y0, y1, z0, z1]`` holding every point of the
            primitives of each cell (empty cells: an inverted box no camera sees).
    """

    order: np.ndarray
    capsules: np.ndarray
    reach: np.ndarray
    z: tuple[float, float]
    cell_of: np.ndarray
    cells: np.ndarray


def primitive_bounds(packed: np.ndarray) -> Bounds:
    """:class:`Bounds` of packed primitives (``grid.pack_primitives``)."""
    kind = packed[:, 7]
    a = packed[:, 0:3].astype(np.float64)
    b = np.where((kind == 1)[:, None], packed[:, 4:7], packed[:, 0:3]).astype(np.float64)
    r = packed[:, 3].astype(np.float64)
    capsules = np.ascontiguousarray(np.column_stack([a, b, r]))
    top = np.maximum(a[:, 2], b[:, 2]) + r
    order = np.argsort(-top, kind="stable").astype(np.int32)
    mid = 0.5 * (a[:, :2] + b[:, :2])
    reach = np.column_stack([mid, 0.5 * np.hypot(*(b[:, :2] - a[:, :2]).T) + r])
    z = (
        float(np.min(np.minimum(a[:, 2], b[:, 2]) - r, initial=0.0)),
        float(np.max(top, initial=0.0)),
    )
    reach = np.ascontiguousarray(reach[order])
    capsules = np.ascontiguousarray(capsules[order])
    cell_of, cells = _cells(reach, capsules)
    return Bounds(order, capsules, reach, z, cell_of, cells)


def _cells(reach: np.ndarray, capsules: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ground cells of the primitives and each cell's bounding box (see `Bounds`)."""
    if len(reach) == 0:
        return np.zeros(0, np.int32), np.array([[np.inf, -np.inf, np.inf, -np.inf, 0.0, 0.0]])
    lo = reach[:, :2].min(axis=0)
    # At most MAX_CELLS per side: every camera tests every cell.
    side = max(CELL, float(np.max(reach[:, :2].max(axis=0) - lo)) / MAX_CELLS)
    ij = np.minimum(np.floor((reach[:, :2] - lo) / side), MAX_CELLS - 1).astype(np.int64)
    dims = ij.max(axis=0) + 1
    cell_of = (ij[:, 0] * dims[1] + ij[:, 1]).astype(np.int32)
    count = int(dims[0] * dims[1])
    cells = np.empty((count, 6))
    x, y, d = reach[:, 0], reach[:, 1], reach[:, 2]
    zlo = np.minimum(capsules[:, 2], capsules[:, 5]) - capsules[:, 6]
    zhi = np.maximum(capsules[:, 2], capsules[:, 5]) + capsules[:, 6]
    for column, values, fill, reduce in (
        (0, x - d, np.inf, np.minimum), (1, x + d, -np.inf, np.maximum),
        (2, y - d, np.inf, np.minimum), (3, y + d, -np.inf, np.maximum),
        (4, zlo, np.inf, np.minimum), (5, zhi, -np.inf, np.maximum),
    ):  # fmt: skip
        cells[:, column] = fill
        reduce.at(cells[:, column], cell_of, values)
    return cell_of, cells


def frustum_boxes(cams: np.ndarray, focal: float, width: int, height: int,
                  z: tuple[float, float]) -> np.ndarray:  # fmt: skip
    """(n, 4) ``[xmin, xmax, ymin, ymax]`` holding every point of each camera's view between
    heights ``z``: the corner rays cut both planes, and the view between is their convex hull.
    Unbounded (infinite) when the camera is not above the layer or a corner ray does not go down.
    """
    boxes = np.tile([-np.inf, np.inf, -np.inf, np.inf], (len(cams), 1))
    xs = np.array([-0.5, 0.5, -0.5, 0.5]) * width / focal
    ys = np.array([-0.5, -0.5, 0.5, 0.5]) * height / focal
    for c, cam in enumerate(cams):
        rot = cam[3:12].reshape(3, 3)
        d = xs[:, None] * rot[0] + ys[:, None] * rot[1] + rot[2]
        if cam[2] <= z[1] or np.any(d[:, 2] >= -1e-9):
            continue
        pts = np.concatenate([cam[:2] + (level - cam[2]) / d[:, 2:3] * d[:, :2] for level in z])
        boxes[c] = pts[:, 0].min(), pts[:, 0].max(), pts[:, 1].min(), pts[:, 1].max()
    return boxes


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy", inline="always")
def _rotate(cams, c, x, y, z):
    """A world vector in camera ``c``'s axes (right, down, optical)."""
    return (
        x * cams[c, 3] + y * cams[c, 4] + z * cams[c, 5],
        x * cams[c, 6] + y * cams[c, 7] + z * cams[c, 8],
        x * cams[c, 9] + y * cams[c, 10] + z * cams[c, 11],
    )


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def cull_kernel(cams, focal, width, height, bounds, order, reach, boxes, cell_of, cells, out_k,
                out_geo, out_rows, out_count):  # fmt: skip
    """Per camera, the primitives whose footprint meets the image, in splat order.

    Primitives of ground cells whose box lies wholly outside the camera's view pyramid
    (`_cell_seen`), or out of horizontal reach of its frustum box (:func:`frustum_boxes`), are
    dropped before they are projected.

    Writes ``out_k[c, :count]`` (primitive indices), ``out_geo`` (footprint: image of the axis
    end points ``UA, VA, UB, VB`` and the widening ``RHO`` in pixels, negative for the whole
    image; ``TNEAR``, no hit is nearer), ``out_rows`` (first and last image row) and
    ``out_count[c]``.

    The widening: a point ``e`` within ``r`` of an axis point ``p`` (camera coordinates, depth
    ``p_z > r``) projects within ``r (1 + |p_x| / p_z) / (p_z - r)`` of ``p``'s image along x
    (likewise y). ``|p_x| / p_z`` is monotone along the axis, so the end points bound it.
    """
    for c in nb.prange(cams.shape[0]):
        ox = cams[c, 0]
        oy = cams[c, 1]
        oz = cams[c, 2]
        count = 0
        bx0 = boxes[c, 0]
        bx1 = boxes[c, 1]
        by0 = boxes[c, 2]
        by1 = boxes[c, 3]
        seen = np.empty(cells.shape[0], np.bool_)
        for cell in range(cells.shape[0]):
            seen[cell] = _cell_seen(cams, c, focal, width, height, cells, cell)
        for q in range(order.shape[0]):
            if not seen[cell_of[q]]:
                continue
            d = reach[q, 2]
            if reach[q, 0] + d < bx0 or reach[q, 0] - d > bx1:
                continue
            if reach[q, 1] + d < by0 or reach[q, 1] - d > by1:
                continue
            k = order[q]
            r = bounds[q, 6]
            ax, ay, az = _rotate(cams, c, bounds[q, 0] - ox, bounds[q, 1] - oy, bounds[q, 2] - oz)
            bx, by, bz = _rotate(cams, c, bounds[q, 3] - ox, bounds[q, 4] - oy, bounds[q, 5] - oz)
            if max(az, bz) + r <= 0.0:
                continue  # wholly behind the camera
            # No hit can be nearer than the bounding sphere of the bounding capsule (shrunk a
            # little so that rounding cannot skip a hit on it).
            mx = 0.5 * (bounds[q, 0] + bounds[q, 3]) - ox
            my = 0.5 * (bounds[q, 1] + bounds[q, 4]) - oy
            mz = 0.5 * (bounds[q, 2] + bounds[q, 5]) - oz
            hx = bounds[q, 3] - bounds[q, 0]
            hy = bounds[q, 4] - bounds[q, 1]
            hz = bounds[q, 5] - bounds[q, 2]
            tnear = (
                math.sqrt(mx * mx + my * my + mz * mz)
                - 0.5 * math.sqrt(hx * hx + hy * hy + hz * hz)
                - r
            )
            out_geo[c, count, TNEAR] = tnear * (1.0 - 1e-9) - 1e-9
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
def _cell_seen(cams, c, focal, width, height, cells, cell):
    """False when the box of ``cell`` lies wholly on the outer side of one side plane of camera
    ``c``'s view pyramid (widened by `CELL_MARGIN` pixels): then no pixel ray can meet it."""
    if cells[cell, 0] > cells[cell, 1]:
        return False
    xm = (0.5 * width + CELL_MARGIN) / focal
    ym = (0.5 * height + CELL_MARGIN) / focal
    # Counts of box corners strictly outside each side: right, left, below, above.
    right = 0
    left = 0
    below = 0
    above = 0
    for corner in range(8):
        x = cells[cell, corner & 1] - cams[c, 0]
        y = cells[cell, 2 + ((corner >> 1) & 1)] - cams[c, 1]
        z = cells[cell, 4 + ((corner >> 2) & 1)] - cams[c, 2]
        px, py, pz = _rotate(cams, c, x, y, z)
        if px > xm * pz:
            right += 1
        if px < -xm * pz:
            left += 1
        if py > ym * pz:
            below += 1
        if py < -ym * pz:
            above += 1
    return right < 8 and left < 8 and below < 8 and above < 8


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
def _disc_conic(cams, c, packed, k):
    """Conic ``(m00, m01, m02, m11, m12, m22)`` of disc ``k`` in camera ``c``: the ray through
    normalised image point ``g = (x, y, 1)`` meets the disc iff ``g^T M g <= 0``.

    With ``e`` the centre relative to the camera, ``n`` the normal and ``K = n.e`` (camera
    coordinates), the ray meets the disc's plane at ``s = K / n.d`` and the radius condition
    ``|s d - e|^2 <= r^2`` times ``(n.d)^2`` is the quadratic form
    ``M = K^2 I - K (n e^T + e n^T) + (|e|^2 - r^2) n n^T``.
    """
    ex = float(packed[k, 0]) - cams[c, 0]
    ey = float(packed[k, 1]) - cams[c, 1]
    ez = float(packed[k, 2]) - cams[c, 2]
    wx = float(packed[k, 4])
    wy = float(packed[k, 5])
    wz = float(packed[k, 6])
    r = float(packed[k, 3])
    e0, e1, e2 = _rotate(cams, c, ex, ey, ez)
    n0, n1, n2 = _rotate(cams, c, wx, wy, wz)
    kk = n0 * e0 + n1 * e1 + n2 * e2
    q = e0 * e0 + e1 * e1 + e2 * e2 - r * r
    k2 = kk * kk
    return (
        k2 - 2.0 * kk * n0 * e0 + q * n0 * n0,
        -kk * (n0 * e1 + e0 * n1) + q * n0 * n1,
        -kk * (n0 * e2 + e0 * n2) + q * n0 * n2,
        k2 - 2.0 * kk * n1 * e1 + q * n1 * n1,
        -kk * (n1 * e2 + e1 * n2) + q * n1 * n2,
        k2 - 2.0 * kk * n2 * e2 + q * n2 * n2,
    )


def shared_directions(cams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cameras with equal rotations have equal pixel ray directions (a swarm's nadir cameras
    usually all do): ``(first, of)``, the first camera of each distinct rotation and, per
    camera, the index of its rotation among them."""
    _, first, of = np.unique(cams[:, 3:12], axis=0, return_index=True, return_inverse=True)
    return first.astype(np.int64), of.astype(np.int64).ravel()


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def rays_kernel(cams, focal, width, height, tpacked, tbound, tstart, seen, first, of, dirs, best,
                code, index):  # fmt: skip
    """Pixel ray directions of each distinct rotation (``dirs[of[c]]`` serves camera ``c``,
    see :func:`shared_directions`), then every pixel's first hit with the ground or a target;
    camera ``c`` sees targets ``seen[c, 0]`` up to (not including) ``seen[c, 1]`` only.
    """
    for row in nb.prange(first.shape[0] * height):
        d = row // height
        i = row - d * height
        for j in range(width):
            _, _, _, dx, dy, dz = pixel_ray(first[d], i, j, cams, focal, width, height)
            dirs[d, i, j, 0] = dx
            dirs[d, i, j, 1] = dy
            dirs[d, i, j, 2] = dz
    for row in nb.prange(cams.shape[0] * height):
        c = row // height
        i = row - c * height
        d = of[c]
        bound = tbound[seen[c, 0] : seen[c, 1]]
        start = tstart[seen[c, 0] : seen[c, 1] + 1]
        for j in range(width):
            best[c, i, j], code[c, i, j], index[c, i, j] = hit_ground_or_target(
                cams[c, 0], cams[c, 1], cams[c, 2], dirs[d, i, j, 0], dirs[d, i, j, 1],
                dirs[d, i, j, 2], math.inf, tpacked, bound, start,
            )  # fmt: skip


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def splat_kernel(cams, focal, width, height, packed, leaf_fill, prim_k, prim_geo, prim_rows,
                 prim_count, of, dirs, best, code, index):  # fmt: skip
    """Nearer hits of the static primitives, one task per band of image rows of a camera.

    Footprint pixels whose nearest hit so far is closer than the primitive's bounding sphere
    are skipped before any ray test; splatting high primitives first makes that common.
    Discs are narrowed row by row to the exact span of their image (:func:`_disc_conic`).
    """
    bands = (height + BAND - 1) // BAND
    for task in nb.prange(cams.shape[0] * bands):
        c = task // bands
        r0 = (task - c * bands) * BAND
        r1 = min(r0 + BAND, height)
        ox = cams[c, 0]
        oy = cams[c, 1]
        oz = cams[c, 2]
        d = of[c]
        for q in range(prim_count[c]):
            if prim_rows[c, q, 1] < r0 or prim_rows[c, q, 0] >= r1:
                continue
            k = prim_k[c, q]
            ax = packed[k, 0]
            ay = packed[k, 1]
            az = packed[k, 2]
            r = packed[k, 3]
            bx = packed[k, 4]
            by = packed[k, 5]
            bz = packed[k, 6]
            kind = int(packed[k, 7])
            tnear = prim_geo[c, q, TNEAR]
            conic = kind == 2 and prim_geo[c, q, RHO] >= 0.0
            if conic:
                m00, m01, m02, m11, m12, m22 = _disc_conic(cams, c, packed, k)
                conic = m00 > 0.0
            for i in range(max(prim_rows[c, q, 0], r0), min(prim_rows[c, q, 1] + 1, r1)):
                j0, j1 = _span(prim_geo, c, q, i, width)
                if conic and j0 <= j1:
                    y = (i + 0.5 - 0.5 * height) / focal
                    hb = m01 * y + m02
                    cc = (m11 * y + 2.0 * m12) * y + m22
                    disc = hb * hb - m00 * cc
                    if disc < -1e-9 * (hb * hb + abs(m00 * cc)):
                        continue  # rounding can only make a tangent row look missed
                    root = math.sqrt(max(disc, 0.0))
                    u0 = focal * (-hb - root) / m00 + 0.5 * width
                    u1 = focal * (-hb + root) / m00 + 0.5 * width
                    j0 = max(j0, int(math.ceil(u0 - SLACK - 0.5)))
                    j1 = min(j1, int(math.floor(u1 + SLACK - 0.5)))
                for j in range(j0, j1 + 1):
                    tb = best[c, i, j]
                    if tb <= tnear:
                        continue
                    dx = dirs[d, i, j, 0]
                    dy = dirs[d, i, j, 1]
                    dz = dirs[d, i, j, 2]
                    # The arguments and types hit_primitive passes: same arithmetic as image order.
                    if kind == 2:
                        t = ray_disc(ox, oy, oz, dx, dy, dz, ax, ay, az, bx, by, bz, r, 0.0, tb, k,
                                     leaf_fill)  # fmt: skip
                    elif kind == 1:
                        t = ray_capsule(ox, oy, oz, dx, dy, dz, ax, ay, az, bx, by, bz, r, 0.0, tb)
                    else:
                        t = ray_sphere(ox, oy, oz, dx, dy, dz, ax, ay, az, r, 0.0, tb)
                    if t < tb:
                        best[c, i, j] = t
                        code[c, i, j] = HIT_STATIC
                        index[c, i, j] = k


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def disc_colours(packed, labels, temperature, albedo, sunlit, tpacked, towner, ttemperature,
                 talbedo, tsunlit, ground, light):  # fmt: skip
    """(n, 3) uint8 colour of every twig disc (zeros for other primitives).

    A disc's shading does not depend on where or from which side a ray meets it (one normal,
    two-sided light), so it is shaded once here, by the same ``shade``, for a ray along its
    normal.
    """
    out = np.zeros((packed.shape[0], 3), np.uint8)
    for k in range(packed.shape[0]):
        if packed[k, 7] != 2:
            continue
        _, r, g, b, _, _ = shade(
            HIT_STATIC, k, 0.0, packed[k, 0], packed[k, 1], packed[k, 2], packed[k, 4],
            packed[k, 5], packed[k, 6], packed, labels, temperature, albedo, sunlit, tpacked,
            towner, ttemperature, talbedo, tsunlit, ground, light,
        )  # fmt: skip
        out[k, 0] = encode_srgb(r)
        out[k, 1] = encode_srgb(g)
        out[k, 2] = encode_srgb(b)
    return out


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def shade_kernel(cams, focal, width, height, best, code, index, packed, labels, temperature,
                 albedo, sunlit, tpacked, towner, ttemperature, talbedo, tsunlit, ground, light,
                 flat, out_thermal, out_rgb, out_depth, out_label, out_target):  # fmt: skip
    """Shade every pixel's first hit into the outputs; discs take their colour from ``flat``
    (:func:`disc_colours`).

    Each phase of the renderer is a parallel loop of its own: called from one task's function,
    the same shading ran eight times slower (measured, one thread).
    """
    for row in nb.prange(cams.shape[0] * height):
        c = row // height
        i = row - c * height
        for j in range(width):
            k = index[c, i, j]
            if code[c, i, j] == HIT_STATIC and packed[k, 7] == 2:
                out_thermal[c, i, j] = temperature[k]
                out_rgb[c, i, j, 0] = flat[k, 0]
                out_rgb[c, i, j, 1] = flat[k, 1]
                out_rgb[c, i, j, 2] = flat[k, 2]
                out_depth[c, i, j] = best[c, i, j]
                out_label[c, i, j] = labels[k]
                out_target[c, i, j] = -1
                continue
            shade_pixel(c, i, j, best[c, i, j], code[c, i, j], k, cams, focal, width, height,
                        packed, labels, temperature, albedo, sunlit, tpacked, towner,
                        ttemperature, talbedo, tsunlit, ground, light, out_thermal, out_rgb,
                        out_depth, out_label, out_target)  # fmt: skip
