"""Brute-force ray casting in NumPy: every primitive tested against every ray.

An independent implementation of the intersection maths (vectorised over primitives, one ray at
a time) used as the reference for the accelerated kernels. Only the procedural twig alpha
pattern is shared, as a plain Python function.
"""

from __future__ import annotations

import numpy as np

from swarmsim.sensing._raycast import leaf_opaque
from swarmsim.world.geometry import CAPSULE, DISC, SPHERE, Primitives


def _spheres(o, d, c, r):
    oc = o - c
    b = oc @ d
    q = np.einsum("ij,ij->i", oc, oc) - r * r
    h = b * b - q
    t = np.full(len(c), np.inf)
    ok = h >= 0
    s = np.sqrt(np.where(ok, h, 0.0))
    near, far = -b - s, -b + s
    t = np.where(ok & (near > 0), near, np.where(ok & (far > 0), far, np.inf))
    return t


def _capsules(o, d, a, b, r):
    t = np.minimum(_spheres(o, d, a, r), _spheres(o, d, b, r))
    # Infinite cylinder in the frame of the axis: |(p - a) x u|^2 = r^2 |u|^2.
    u = b - a
    uu = np.einsum("ij,ij->i", u, u)
    w = o - a
    d_perp = d - np.outer(u @ d, np.ones(3)) * u / uu[:, None]
    w_perp = w - (np.einsum("ij,ij->i", w, u) / uu)[:, None] * u
    qa = np.einsum("ij,ij->i", d_perp, d_perp)
    qb = np.einsum("ij,ij->i", d_perp, w_perp)
    qc = np.einsum("ij,ij->i", w_perp, w_perp) - r * r
    h = qb * qb - qa * qc
    with np.errstate(divide="ignore", invalid="ignore"):
        for sign in (-1.0, 1.0):
            tc = (-qb + sign * np.sqrt(np.maximum(h, 0.0))) / qa
            along = (np.einsum("ij,ij->i", w, u) + tc * (u @ d)) / uu
            ok = (h >= 0) & (qa > 1e-12) & (tc > 0) & (along > 0) & (along < 1)
            t = np.where(ok & (tc < t), tc, t)
    return t


def _discs(o, d, c, n, r, index, leaf_fill):
    den = n @ d
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.einsum("ij,ij->i", c - o, n) / den
    p = o + t[:, None] * d - c
    ok = (np.abs(den) > 1e-12) & (t > 0) & (np.einsum("ij,ij->i", p, p) <= r * r)
    if leaf_fill < 1.0:
        for k in np.flatnonzero(ok):
            ok[k] = leaf_opaque(*p[k], r[k], int(index[k]), leaf_fill)
    return np.where(ok, t, np.inf)


def primitive_hits(prims: Primitives, o: np.ndarray, d: np.ndarray, leaf_fill: float):
    """Distances of one ray to every primitive (inf where missed)."""
    a = prims.a.astype(np.float64)
    b = prims.b.astype(np.float64)
    r = prims.radius.astype(np.float64)
    t = np.full(len(prims), np.inf)
    sel = prims.kind == SPHERE
    t[sel] = _spheres(o, d, a[sel], r[sel])
    sel = prims.kind == CAPSULE
    t[sel] = _capsules(o, d, a[sel], b[sel], r[sel])
    sel = prims.kind == DISC
    t[sel] = _discs(o, d, a[sel], b[sel], r[sel], np.flatnonzero(sel), leaf_fill)
    return t


def reference_cast(static: Primitives, targets: Primitives, origins, dirs, leaf_fill: float):
    """(depth, label) of the first hits of rays; label -1 none, 0 ground, prim labels, 3 target."""
    depth = np.full(len(origins), np.inf)
    label = np.full(len(origins), -1, np.int8)
    for m, (o, d) in enumerate(zip(origins, dirs, strict=True)):
        best, lab = np.inf, -1
        if d[2] < 0:
            best, lab = -o[2] / d[2], 0
        if len(static):
            ts = primitive_hits(static, o, d, leaf_fill)
            k = int(np.argmin(ts))
            if ts[k] < best:
                best, lab = ts[k], int(static.label[k])
        if len(targets):
            tt = primitive_hits(targets, o, d, 1.0)
            k = int(np.argmin(tt))
            if tt[k] < best:
                best, lab = tt[k], 3
        depth[m], label[m] = best, lab
    return depth, label
