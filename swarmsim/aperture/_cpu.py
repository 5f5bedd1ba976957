"""CPU (numba) kernels of the aperture package: integration, RX statistics and scores, labelling.

Integration is one parallel loop over blocks of rows of every virtual image with the view loop
inside (one parallel call per view does not scale: each call pays a fork/join and streams the
output again). RX kernels are parallel over image rows; local RX slides running box sums down
bands of rows, so its cost does not depend on the window size.

Numba details that cost several times the arithmetic here, and how the kernels avoid them:
signed indices whose sign LLVM cannot prove get a negative-index wrap-around on every access
(loops run over slices from 0, gathered indices are unsigned); runtime-length channel loops and
small heap arrays in per-pixel code (the common channel counts are written out in scalars).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from swarmsim.aperture._warp import (
    INF,
    PLANE,
    S_KIND,
    hit_surface,
    pixel_ray,
    project,
    surface_point,
)

# Fast-math without the no-NaN / no-inf assumptions: misses are encoded as infinite distances.
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


#: Virtual image rows per work item: each view is then read as a sequential stream of about as
#: many rows (hardware prefetch keeps up), and the block's sums stay in the L2 cache.
BLOCK_ROWS = 16


@nb.njit(parallel=True, cache=True, error_model="numpy")
def stack_kernel(rgb, thermal, out):
    """(n, H, W, 4) float32 RX input: 8-bit R, G, B over 255 and thermal, in one pass.

    No fast-math: the division must round as NumPy's does.
    """
    n, height, width = thermal.shape
    scale = np.float32(255.0)
    for row in nb.prange(n * height):
        c = row // height
        i = row - c * height
        for j in range(width):
            for ch in range(3):
                out[c, i, j, ch] = np.float32(rgb[c, i, j, ch]) / scale
            out[c, i, j, 3] = thermal[c, i, j]


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def integrate_kernel(vcams, vfocal, vwidth, vheight, cams, focal, views, nearest, surface,
                     heights, homography, separable, buffer_rows, out_sum, out_count):  # fmt: skip
    """Integrate (n, H, W, C) views into (m, Hv, Wv, C) sums and (m, Hv, Wv) counts.

    Work items are blocks of virtual rows; inside, the views are taken one after another (a
    pixel-by-pixel loop over 30 views chases 60 row streams at once and stalls on memory).
    On a focal plane view coordinates come from the homography ``homography[k, v]`` (rows: u,
    v and depth numerators over homogeneous virtual pixel coordinates); where it is separable
    (``separable[k, v]``: nadir cameras of equal yaw over a horizontal plane) rows and columns
    map independently and the view is resampled along rows first, then blended down columns.
    On a height field every point is projected.
    """
    m = vcams.shape[0]
    n = views.shape[0]
    nc = views.shape[3]
    blocks = (vheight + BLOCK_ROWS - 1) // BLOCK_ROWS
    plane = surface[S_KIND] == PLANE
    for item in nb.prange(m * blocks):
        k = item // blocks
        r0 = (item - k * blocks) * BLOCK_ROWS
        r1 = min(r0 + BLOCK_ROWS, vheight)
        points = np.empty((r1 - r0, vwidth, 3))
        hit = np.empty((r1 - r0, vwidth), np.bool_)
        general = False
        for v in range(n):
            general |= not separable[k, v]
        for i in range(r0, r1):
            for j in range(vwidth):
                for c in range(nc):
                    out_sum[k, i, j, c] = 0.0
                out_count[k, i, j] = 0
                if not general:
                    continue  # separable views need no focal points
                ox, oy, oz, dx, dy, dz = pixel_ray(k, i, j, vcams, vfocal, vwidth, vheight)
                t = hit_surface(ox, oy, oz, dx, dy, dz, surface, heights)
                hit[i - r0, j] = t != INF
                points[i - r0, j, 0] = ox + t * dx
                points[i - r0, j, 1] = oy + t * dy
                points[i - r0, j, 2] = oz + t * dz
        rows = np.empty((buffer_rows, vwidth * nc), np.float32)
        cols = np.empty((2, vwidth), np.uint64)
        weights = np.empty(vwidth, np.float32)
        for v in range(n):
            if separable[k, v]:
                _warp_separable(views[v], homography[k, v], r0, r1, nearest, rows, cols, weights,
                                out_sum[k], out_count[k])  # fmt: skip
            else:
                _warp_general(views, v, cams, focal, homography[k, v], plane, points, hit, r0,
                              r1, nearest, out_sum[k], out_count[k])  # fmt: skip


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _warp_general(views, v, cams, focal, g, plane, points, hit, r0, r1, nearest, out_sum,
                  out_count):  # fmt: skip
    """Add view v to virtual rows r0..r1-1, pixel by pixel."""
    height = views.shape[1]
    width = views.shape[2]
    nc = views.shape[3]
    vwidth = out_sum.shape[1]
    half_w = 0.5 * width
    half_h = 0.5 * height
    xmax = width - 1.0
    ymax = height - 1.0
    view = views[v]
    g00, g01, g02 = g[0, 0], g[0, 1], g[0, 2]
    g10, g11, g12 = g[1, 0], g[1, 1], g[1, 2]
    g20, g21, g22 = g[2, 0], g[2, 1], g[2, 2]
    for i in range(r0, r1):
        yc = i + 0.5
        bu = g01 * yc + g02
        bv = g11 * yc + g12
        bz = g21 * yc + g22
        # Row slices indexed from 0 and unsigned source indices: no wrap-around checks.
        total = out_sum[i]
        count = out_count[i]
        hits = hit[i - r0]
        row_points = points[i - r0]
        for j in range(vwidth):
            if not hits[j]:
                continue
            if plane:
                xc = j + 0.5
                zc = bz + g20 * xc
                s = 1.0 / zc
                u = (bu + g00 * xc) * s
                w = (bv + g10 * xc) * s
            else:
                p = row_points[j]
                zc, u, w = project(v, p[0], p[1], p[2], cams, focal, half_w, half_h)
            if not (zc > 0.0 and 0.0 <= u < width and 0.0 <= w < height):
                continue
            count[j] += 1
            # ``accumulate`` inlined (a call per sample costs more than the lerps): the same
            # float32 arithmetic in the same order as the CUDA kernel.
            if nearest:
                i0 = np.uint64(w)
                j0 = np.uint64(u)
                for c in range(nc):
                    total[j, c] += view[i0, j0, c]
                continue
            # ``bilinear_taps`` and ``lerp`` written out, on unsigned indices.
            x = min(max(u - 0.5, 0.0), xmax)
            y = min(max(w - 0.5, 0.0), ymax)
            j0 = int(x)
            i0 = int(y)
            r0_ = view[np.uint64(i0)]
            r1_ = view[np.uint64(min(i0 + 1, height - 1))]
            a = np.uint64(j0)
            b = np.uint64(min(j0 + 1, width - 1))
            fx = np.float32(x - j0)
            fy = np.float32(y - i0)
            if nc == 4:
                for c in range(4):
                    left = np.float32(r0_[a, c])
                    top = left + fx * (np.float32(r0_[b, c]) - left)
                    left = np.float32(r1_[a, c])
                    bottom = left + fx * (np.float32(r1_[b, c]) - left)
                    total[j, c] += top + fy * (bottom - top)
            else:
                for c in range(nc):
                    left = np.float32(r0_[a, c])
                    top = left + fx * (np.float32(r0_[b, c]) - left)
                    left = np.float32(r1_[a, c])
                    bottom = left + fx * (np.float32(r1_[b, c]) - left)
                    total[j, c] += top + fy * (bottom - top)


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _warp_separable(view, g, r0, r1, nearest, rows, cols, weights, out_sum, out_count):
    """Add one view to virtual rows r0..r1-1 when u depends on the column only and v on the
    row only: every needed view row is resampled once along the row into ``rows`` (flat
    (column, channel) lines), then pairs of lines are blended per virtual row in one contiguous
    (vectorised) loop. Coordinates, coverage and weights are those of the general path with
    the (zero) cross terms left out; values agree with it to float32 rounding.
    """
    height, width, nc = view.shape
    vwidth = out_sum.shape[1]
    if not g[2, 2] > 0.0:
        return  # the plane is behind this camera
    s = 1.0 / g[2, 2]
    # Column taps of the covered columns, which form one run [jlo, jhi).
    jlo = vwidth
    jhi = 0
    for j in range(vwidth):
        u = (g[0, 0] * (j + 0.5) + g[0, 2]) * s
        if not 0.0 <= u < width:
            continue
        jlo = min(jlo, j)
        jhi = j + 1
        if nearest:
            cols[0, j] = int(u)
        else:
            x = min(max(u - 0.5, 0.0), width - 1.0)
            j0 = int(x)
            cols[0, j] = j0
            cols[1, j] = min(j0 + 1, width - 1)
            weights[j] = x - j0
    if jlo >= jhi:
        return
    # View rows needed by the covered virtual rows.
    lo = height
    hi = -1
    for i in range(r0, r1):
        w = (g[1, 1] * (i + 0.5) + g[1, 2]) * s
        if 0.0 <= w < height:
            i0 = int(w) if nearest else int(min(max(w - 0.5, 0.0), height - 1.0))
            lo = min(lo, i0)
            hi = max(hi, i0 if nearest else min(i0 + 1, height - 1))
    if hi < lo:
        return
    # Loops run over slices from 0 and tap columns are unsigned: numba then emits no
    # negative-index wrap-around, which would otherwise block vectorisation.
    taps0 = cols[0, jlo:jhi]
    taps1 = cols[1, jlo:jhi]
    fxs = weights[jlo:jhi]
    span = jhi - jlo
    # Anomaly masks are mostly empty: a view row of zeros resamples to zeros, and a virtual row
    # whose taps are both such rows would add exact zeros, so it is skipped (same sums).
    blank = np.empty(hi - lo + 1, np.bool_)
    for r in range(lo, hi + 1):
        line = rows[r - lo, jlo * nc : jhi * nc]
        src = view[r]
        flat = src.reshape(width * nc)
        empty = True
        for q in range(width * nc):
            if flat[q] != 0:
                empty = False
                break
        blank[r - lo] = empty
        if empty:
            line[:] = 0.0
            continue
        for j in range(span):
            a = taps0[j]
            q = j * nc
            if nearest:
                for c in range(nc):
                    line[q + c] = src[a, c]
                continue
            b = taps1[j]
            fx = fxs[j]
            # Widened to float32 first: differences of uint8 masks would wrap around.
            if nc == 4:
                for c in range(4):
                    left = np.float32(src[a, c])
                    line[q + c] = left + fx * (np.float32(src[b, c]) - left)
            else:
                for c in range(nc):
                    left = np.float32(src[a, c])
                    line[q + c] = left + fx * (np.float32(src[b, c]) - left)
    q0 = jlo * nc
    q1 = jhi * nc
    for i in range(r0, r1):
        w = (g[1, 1] * (i + 0.5) + g[1, 2]) * s
        if not 0.0 <= w < height:
            continue
        count = out_count[i, jlo:jhi]
        for j in range(span):
            count[j] += 1
        total = out_sum[i].reshape(vwidth * nc)[q0:q1]
        if nearest:
            if blank[int(w) - lo]:
                continue
            top = rows[int(w) - lo, q0:q1]
            for q in range(q1 - q0):
                total[q] += top[q]
            continue
        y = min(max(w - 0.5, 0.0), height - 1.0)
        i0 = int(y)
        if blank[i0 - lo] and blank[min(i0 + 1, height - 1) - lo]:
            continue
        top = rows[i0 - lo, q0:q1]
        bottom = rows[min(i0 + 1, height - 1) - lo, q0:q1]
        fy = np.float32(y - i0)
        for q in range(q1 - q0):
            total[q] += top[q] + fy * (bottom[q] - top[q])


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def surface_points_kernel(origins, dirs, surface, heights, out):
    """Points (m, 3) where unit rays meet the focal surface (NaN rows: no hit)."""
    for m in nb.prange(origins.shape[0]):
        surface_point(m, origins, dirs, surface, heights, out)


# ---------------------------------------------------------------------------------------------
# RX


@nb.njit(parallel=True, cache=True, error_model="numpy")
def moments_kernel(image, valid, shift, nc):
    """Per-row sums of weight, x and x x^T (upper triangle) of ``image - shift``.

    Returns an (H, 1 + C + C(C+1)/2) float64 array; summing it over rows gives the moments.
    Rows are reduced separately so that the parallel result does not depend on scheduling.
    """
    h, w = image.shape[:2]
    nm = 1 + nc + nc * (nc + 1) // 2
    out = np.zeros((h, nm))
    for i in nb.prange(h):
        acc = np.zeros(nm)
        x = np.empty(nc)
        for j in range(w):
            if not valid[i, j]:
                continue
            for c in range(nc):
                x[c] = image[i, j, c] - shift[c]
            acc[0] += 1.0
            q = 1 + nc
            for a in range(nc):
                acc[1 + a] += x[a]
                for b in range(a, nc):
                    acc[q] += x[a] * x[b]
                    q += 1
        out[i] = acc
    return out


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def global_scores_kernel(image, valid, mean, whitening, out, nc):
    """RX scores |L^-1 (x - mean)|^2 with a lower-triangular whitening matrix (C, C)."""
    h, w = image.shape[:2]
    for i in nb.prange(h):
        d = np.empty(nc)
        for j in range(w):
            if not valid[i, j]:
                out[i, j] = 0.0
                continue
            for c in range(nc):
                d[c] = image[i, j, c] - mean[c]
            score = 0.0
            for a in range(nc):
                y = 0.0
                for b in range(a + 1):
                    y += whitening[a, b] * d[b]
                score += y * y
            out[i, j] = score


@nb.njit(cache=True, error_model="numpy")
def _column_update(image, valid, shift, row, sign, col, nc):
    """Add (sign +1) or remove (-1) one image row from the (moments, W) running column sums."""
    w = image.shape[1]
    x = np.empty(nc)
    for j in range(w):
        if not valid[row, j]:
            continue
        for c in range(nc):
            x[c] = image[row, j, c] - shift[c]
        col[0, j] += sign
        q = 1 + nc
        for a in range(nc):
            col[1 + a, j] += sign * x[a]
            xa = sign * x[a]
            for b in range(a, nc):
                col[q, j] += xa * x[b]
                q += 1


@nb.njit(cache=True, error_model="numpy")
def _window_sums(col, half, out):
    """Horizontal box sums, clipped at the borders, of the (moments, W) column sums:
    ``out[:, j]`` is the sum over columns j - half .. j + half."""
    nm, w = col.shape
    for k in range(nm):
        acc = 0.0
        for j in range(min(half, w)):
            acc += col[k, j]
        for j in range(w):
            if j + half < w:
                acc += col[k, j + half]
            if j - half - 1 >= 0:
                acc -= col[k, j - half - 1]
            out[k, j] = acc


@nb.njit(cache=True, error_model="numpy", inline="always")
def _rx_score(x, box, j, nc, ridge, cov, d):
    """Mahalanobis score of x (shifted) under the mean and covariance of the moments
    ``box[:, j]`` (weight, sums, upper-triangle second moments), plus ``ridge`` on the
    diagonal."""
    n = box[0, j]
    if n < 1.0:
        return 0.0
    inv_n = 1.0 / n
    q = 1 + nc
    for a in range(nc):
        ma = box[1 + a, j] * inv_n
        d[a] = x[a] - ma
        for b in range(a, nc):
            cov[a, b] = box[q, j] * inv_n - ma * box[1 + b, j] * inv_n
            q += 1
    # Cholesky of the upper triangle (read) into the lower triangle, then forward substitution:
    # score = |L^-1 d|^2.
    score = 0.0
    for a in range(nc):
        s = cov[a, a] + ridge
        for b in range(a):
            s -= cov[a, b] * cov[a, b]
        la = math.sqrt(s) if s > 0.0 else math.sqrt(ridge) + 1e-300
        inv = 1.0 / la
        for r in range(a + 1, nc):
            t = cov[a, r]
            for b in range(a):
                t -= cov[r, b] * cov[a, b]
            cov[r, a] = t * inv
        y = d[a]
        for b in range(a):
            y -= cov[a, b] * d[b]
        y *= inv
        d[a] = y
        score += y * y
    return score


@nb.njit(parallel=True, cache=True, error_model="numpy")
def local_scores_kernel(image, valid, shift, window, guard, ridge, bands, out, nc):
    """Local RX: statistics of the (window x window) neighbourhood, clipped at the borders,
    minus the centred (guard x guard) block when ``guard`` > 0.

    Each band of rows keeps running column sums of the moments (add the row entering the
    window, remove the row leaving it) and slides a horizontal box over them, so a pixel costs
    the same for any window size.
    """
    h, w = image.shape[:2]
    nm = 1 + nc + nc * (nc + 1) // 2
    half = window // 2
    ghalf = guard // 2
    rows_per_band = (h + bands - 1) // bands
    for band in nb.prange(bands):
        r0 = band * rows_per_band
        r1 = min(r0 + rows_per_band, h)
        if r0 >= r1:
            continue
        col = np.zeros((nm, w))
        gcol = np.zeros((nm, w))
        box = np.empty((nm, w))
        gbox = np.empty((nm, w))
        x = np.empty(nc)
        cov = np.empty((nc, nc))
        d = np.empty(nc)
        for r in range(max(r0 - half, 0), min(r0 + half, h - 1) + 1):
            _column_update(image, valid, shift, r, 1.0, col, nc)
        if guard > 0:
            for r in range(max(r0 - ghalf, 0), min(r0 + ghalf, h - 1) + 1):
                _column_update(image, valid, shift, r, 1.0, gcol, nc)
        for i in range(r0, r1):
            if i > r0:
                if i + half < h:
                    _column_update(image, valid, shift, i + half, 1.0, col, nc)
                if i - half - 1 >= 0:
                    _column_update(image, valid, shift, i - half - 1, -1.0, col, nc)
                if guard > 0:
                    if i + ghalf < h:
                        _column_update(image, valid, shift, i + ghalf, 1.0, gcol, nc)
                    if i - ghalf - 1 >= 0:
                        _column_update(image, valid, shift, i - ghalf - 1, -1.0, gcol, nc)
            _window_sums(col, half, box)
            if guard > 0:
                _window_sums(gcol, ghalf, gbox)
                for k in range(nm):
                    for j in range(w):
                        box[k, j] -= gbox[k, j]
            for j in range(w):
                if not valid[i, j]:
                    out[i, j] = 0.0
                    continue
                for c in range(nc):
                    x[c] = image[i, j, c] - shift[c]
                out[i, j] = _rx_score(x, box, j, nc, ridge, cov, d)


# ---------------------------------------------------------------------------------------------
# RX for up to four channels, in scalars (the common case: thermal, RGB + thermal, masks).
# Missing channels read as zeros: their moments vanish, the ridge keeps the covariance
# positive definite, and they add exactly nothing to a score. Small arrays and runtime channel
# loops cost numba several times the arithmetic, hence the unrolled code.

#: Moments of four channels: weight, 4 sums, 10 upper-triangle products (padded to 16).
NM4 = 16


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy", inline="always")
def _pixel4(image, i, j, nc, shift):
    x0 = float(image[i, j, 0]) - shift[0]
    x1 = float(image[i, j, 1]) - shift[1] if nc > 1 else 0.0
    x2 = float(image[i, j, 2]) - shift[2] if nc > 2 else 0.0
    x3 = float(image[i, j, 3]) - shift[3] if nc > 3 else 0.0
    return x0, x1, x2, x3


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy", inline="always")
def _add4(m, x0, x1, x2, x3, sign):
    """Add (sign 1) or remove (-1) one pixel's moments to the 16-vector m."""
    m[0] += sign
    m[1] += sign * x0
    m[2] += sign * x1
    m[3] += sign * x2
    m[4] += sign * x3
    m[5] += sign * x0 * x0
    m[6] += sign * x0 * x1
    m[7] += sign * x0 * x2
    m[8] += sign * x0 * x3
    m[9] += sign * x1 * x1
    m[10] += sign * x1 * x2
    m[11] += sign * x1 * x3
    m[12] += sign * x2 * x2
    m[13] += sign * x2 * x3
    m[14] += sign * x3 * x3


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy", inline="always")
def _score4(x0, x1, x2, x3, m, ridge):
    """Mahalanobis score of a (shifted) pixel under the mean and covariance of moments m, with
    ``ridge`` on the diagonal: Cholesky factor and forward substitution written out."""
    if m[0] < 1.0:
        return 0.0
    inv = 1.0 / m[0]
    u0 = m[1] * inv
    u1 = m[2] * inv
    u2 = m[3] * inv
    u3 = m[4] * inv
    l00 = math.sqrt(max(m[5] * inv - u0 * u0 + ridge, ridge))
    i0 = 1.0 / l00
    l10 = (m[6] * inv - u0 * u1) * i0
    l20 = (m[7] * inv - u0 * u2) * i0
    l30 = (m[8] * inv - u0 * u3) * i0
    l11 = math.sqrt(max(m[9] * inv - u1 * u1 + ridge - l10 * l10, ridge))
    i1 = 1.0 / l11
    l21 = (m[10] * inv - u1 * u2 - l20 * l10) * i1
    l31 = (m[11] * inv - u1 * u3 - l30 * l10) * i1
    l22 = math.sqrt(max(m[12] * inv - u2 * u2 + ridge - l20 * l20 - l21 * l21, ridge))
    i2 = 1.0 / l22
    l32 = (m[13] * inv - u2 * u3 - l30 * l20 - l31 * l21) * i2
    l33 = math.sqrt(max(m[14] * inv - u3 * u3 + ridge - l30 * l30 - l31 * l31 - l32 * l32,
                        ridge))  # fmt: skip
    y0 = (x0 - u0) * i0
    y1 = (x1 - u1 - l10 * y0) * i1
    y2 = (x2 - u2 - l20 * y0 - l21 * y1) * i2
    y3 = (x3 - u3 - l30 * y0 - l31 * y1 - l32 * y2) / l33
    return y0 * y0 + y1 * y1 + y2 * y2 + y3 * y3


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def moments4_kernel(image, valid, shift):
    """Per-row moments (H, 16) of ``image - shift`` over valid pixels, up to four channels."""
    h, w, nc = image.shape
    out = np.zeros((h, NM4))
    for i in nb.prange(h):
        m = out[i]
        for j in range(w):
            if valid[i, j]:
                x0, x1, x2, x3 = _pixel4(image, i, j, nc, shift)
                _add4(m, x0, x1, x2, x3, 1.0)
    return out


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def global_scores4_kernel(image, valid, mean, whitening, out):
    """RX scores |L^-1 (x - mean)|^2, up to four channels (``whitening`` (4, 4) lower)."""
    h, w, nc = image.shape
    a00 = whitening[0, 0]
    a10 = whitening[1, 0]
    a11 = whitening[1, 1]
    a20 = whitening[2, 0]
    a21 = whitening[2, 1]
    a22 = whitening[2, 2]
    a30 = whitening[3, 0]
    a31 = whitening[3, 1]
    a32 = whitening[3, 2]
    a33 = whitening[3, 3]
    for i in nb.prange(h):
        for j in range(w):
            d0, d1, d2, d3 = _pixel4(image, i, j, nc, mean)
            y0 = a00 * d0
            y1 = a10 * d0 + a11 * d1
            y2 = a20 * d0 + a21 * d1 + a22 * d2
            y3 = a30 * d0 + a31 * d1 + a32 * d2 + a33 * d3
            score = y0 * y0 + y1 * y1 + y2 * y2 + y3 * y3
            out[i, j] = score if valid[i, j] else 0.0


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _columns4(image, valid, shift, row, sign, col):
    """Add or remove one image row to the (W, 16) running column moments."""
    nc = image.shape[2]
    for j in range(image.shape[1]):
        if valid[row, j]:
            x0, x1, x2, x3 = _pixel4(image, row, j, nc, shift)
            _add4(col[j], x0, x1, x2, x3, sign)


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _prefix4(col, pre):
    """Prefix sums along the row: pre[j] = sum of col[:j] (each j one 16-wide vector add)."""
    pre[0, :] = 0.0
    for j in range(col.shape[0]):
        for k in range(NM4):
            pre[j + 1, k] = pre[j, k] + col[j, k]


@nb.njit(parallel=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def local_scores4_kernel(image, valid, shift, window, guard, ridge, bands, out):
    """Local RX for up to four channels (see :func:`local_scores_kernel`): running column
    moments per band of rows, prefix sums along each row, box sums by differences."""
    h, w, nc = image.shape
    half = window // 2
    ghalf = guard // 2
    rows_per_band = (h + bands - 1) // bands
    for band in nb.prange(bands):
        r0 = band * rows_per_band
        r1 = min(r0 + rows_per_band, h)
        if r0 >= r1:
            continue
        col = np.zeros((w, NM4))
        gcol = np.zeros((w, NM4))
        pre = np.empty((w + 1, NM4))
        gpre = np.empty((w + 1, NM4))
        m = np.empty(NM4)
        for r in range(max(r0 - half, 0), min(r0 + half, h - 1) + 1):
            _columns4(image, valid, shift, r, 1.0, col)
        if guard > 0:
            for r in range(max(r0 - ghalf, 0), min(r0 + ghalf, h - 1) + 1):
                _columns4(image, valid, shift, r, 1.0, gcol)
        for i in range(r0, r1):
            if i > r0:
                if i + half < h:
                    _columns4(image, valid, shift, i + half, 1.0, col)
                if i - half - 1 >= 0:
                    _columns4(image, valid, shift, i - half - 1, -1.0, col)
                if guard > 0:
                    if i + ghalf < h:
                        _columns4(image, valid, shift, i + ghalf, 1.0, gcol)
                    if i - ghalf - 1 >= 0:
                        _columns4(image, valid, shift, i - ghalf - 1, -1.0, gcol)
            _prefix4(col, pre)
            if guard > 0:
                _prefix4(gcol, gpre)
            for j in range(w):
                if not valid[i, j]:
                    out[i, j] = 0.0
                    continue
                lo = max(j - half, 0)
                hi = min(j + half + 1, w)
                for k in range(NM4):
                    m[k] = pre[hi, k] - pre[lo, k]
                if guard > 0:
                    glo = max(j - ghalf, 0)
                    ghi = min(j + ghalf + 1, w)
                    for k in range(NM4):
                        m[k] -= gpre[ghi, k] - gpre[glo, k]
                x0, x1, x2, x3 = _pixel4(image, i, j, nc, shift)
                out[i, j] = _score4(x0, x1, x2, x3, m, ridge)


# ---------------------------------------------------------------------------------------------
# Connected components


@nb.njit(cache=True)
def _find(parent, a):
    root = a
    while parent[root] != root:
        root = parent[root]
    while parent[a] != root:  # path compression
        nxt = parent[a]
        parent[a] = root
        a = nxt
    return root


@nb.njit(cache=True)
def _union(parent, a, b):
    ra = _find(parent, a)
    rb = _find(parent, b)
    if ra < rb:
        parent[rb] = ra
        return ra
    if rb < ra:
        parent[ra] = rb
        return rb
    return ra


@nb.njit(cache=True)
def label_kernel(mask, labels):
    """8-connected components by two-pass union-find.

    Writes labels 1..n in raster order of each component's first pixel and returns per-label
    statistics: (n,) areas, (n, 4) boxes [row0, col0, row1, col1) and (n, 2) pixel sums
    [rows, cols].
    """
    h, w = mask.shape
    parent = np.zeros(h * w // 2 + 2, np.int64)
    nxt = 1
    for i in range(h):
        for j in range(w):
            if not mask[i, j]:
                labels[i, j] = 0
                continue
            best = 0
            # Already visited neighbours: W, NW, N, NE.
            for di, dj in ((0, -1), (-1, -1), (-1, 0), (-1, 1)):
                ii = i + di
                jj = j + dj
                if ii < 0 or jj < 0 or jj >= w:
                    continue
                other = labels[ii, jj]
                if other == 0:
                    continue
                if best == 0:
                    best = other
                elif other != best:
                    best = _union(parent, best, other)
            if best == 0:
                if nxt >= parent.shape[0]:
                    grown = np.zeros(2 * parent.shape[0], np.int64)
                    grown[: parent.shape[0]] = parent
                    parent = grown
                parent[nxt] = nxt
                best = nxt
                nxt += 1
            labels[i, j] = best
    final = np.zeros(nxt, np.int64)
    count = 0
    for i in range(h):
        for j in range(w):
            provisional = labels[i, j]
            if provisional == 0:
                continue
            root = _find(parent, provisional)
            if final[root] == 0:
                count += 1
                final[root] = count
            labels[i, j] = final[root]
    area = np.zeros(count, np.int64)
    box = np.empty((count, 4), np.int64)
    box[:, 0] = h
    box[:, 1] = w
    box[:, 2] = 0
    box[:, 3] = 0
    sums = np.zeros((count, 2))
    for i in range(h):
        for j in range(w):
            lab = labels[i, j]
            if lab == 0:
                continue
            b = lab - 1
            area[b] += 1
            box[b, 0] = min(box[b, 0], i)
            box[b, 1] = min(box[b, 1], j)
            box[b, 2] = max(box[b, 2], i + 1)
            box[b, 3] = max(box[b, 3], j + 1)
            sums[b, 0] += i
            sums[b, 1] += j
    return area, box, sums
