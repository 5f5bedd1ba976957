"""Uniform voxel grid over the primitive soup: the renderer's acceleration structure.

Rays are walked through the grid cell by cell (3-D DDA) and stop at the first cell whose exit
distance is beyond the closest hit found so far. Near-nadir rays cross few cells, and crowns are
dense but bounded, so a uniform grid with cells about the size of a twig disc beats a BVH's
pointer chasing here. Cells are stored in compressed-row form: the primitives overlapping cell
``c`` are ``items[start[c]:start[c + 1]]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from swarmsim.world.geometry import Primitives

#: Primitive record layout used by the kernels: one float32 row of 8 per primitive.
PACK_A, PACK_RADIUS, PACK_B, PACK_KIND = 0, 3, 4, 7


@dataclass(frozen=True)
class Grid:
    """Voxel grid.

    Attributes:
        lower: (3,) float64 lower corner in metres.
        cell: Edge length of a (cubic) cell in metres.
        dims: (3,) int64 number of cells along x, y, z.
        start: (nx*ny*nz + 1,) int32 offsets into ``items``; cell index ``iz + nz*(ix + nx*iy)``
            (z fastest: a near-nadir ray walks down one column of contiguous cells and items,
            5 % faster than x fastest, see BENCHMARKS.md).
        items: int32 primitive indices.
        top: (ny, nx) int32 highest occupied z-cell of each column, -1 for empty columns;
            descending rays skip the empty space above it in one step.
    """

    lower: np.ndarray
    cell: float
    dims: np.ndarray
    start: np.ndarray
    items: np.ndarray
    top: np.ndarray

    @property
    def upper(self) -> np.ndarray:
        return self.lower + self.cell * self.dims


def pack_primitives(prims: Primitives) -> np.ndarray:
    """(n, 8) float32 records ``[ax, ay, az, radius, bx, by, bz, kind]`` (one 32-byte load)."""
    packed = np.empty((len(prims), 8), np.float32)
    packed[:, PACK_A : PACK_A + 3] = prims.a
    packed[:, PACK_RADIUS] = prims.radius
    packed[:, PACK_B : PACK_B + 3] = prims.b
    packed[:, PACK_KIND] = prims.kind
    return packed


def build_grid(prims: Primitives, *, cell: float | None = None) -> Grid:
    """Bin primitives into a uniform grid by their bounding boxes.

    Args:
        prims: The static primitives.
        cell: Cell edge in metres; by default the median primitive extent, clamped
            to [0.25, 4] m: a few primitives per occupied cell (see BENCHMARKS.md).
    """
    if len(prims) == 0:
        return Grid(
            lower=np.zeros(3),
            cell=1.0,
            dims=np.ones(3, np.int64),
            start=np.zeros(2, np.int32),
            items=np.zeros(0, np.int32),
            top=np.full((1, 1), -1, np.int32),
        )
    boxes = prims.bounds().astype(np.float64)
    if cell is None:
        extent = np.median(np.max(boxes[:, 1] - boxes[:, 0], axis=1))
        cell = float(np.clip(extent, 0.25, 4.0))
    if not cell > 0:
        raise ValueError(f"grid cell: expected a positive size in metres, got {cell!r}")
    lower = boxes[:, 0].min(axis=0) - 1e-3
    upper = boxes[:, 1].max(axis=0) + 1e-3
    dims = np.maximum(np.ceil((upper - lower) / cell).astype(np.int64), 1)
    lo_cell = np.clip(((boxes[:, 0] - lower) / cell).astype(np.int64), 0, dims - 1)
    hi_cell = np.clip(((boxes[:, 1] - lower) / cell).astype(np.int64), 0, dims - 1)
    start, items = _bin(
        lo_cell, hi_cell, dims, lower, float(cell), prims.kind, prims.a, prims.b, prims.radius
    )
    occupied = np.diff(start).reshape(dims[1], dims[0], dims[2]) > 0
    levels = np.arange(dims[2])[None, None, :]
    top = np.where(occupied, levels, -1).max(axis=2).astype(np.int32)
    return Grid(lower=lower, cell=float(cell), dims=dims, start=start, items=items, top=top)


@nb.njit(cache=True)
def _overlaps(kind, a, b, r, cx, cy, cz, half_diag):
    """Conservative test: may primitive (kind, a, b, r) touch the cell centred at c?

    Long thin branches and tilted discs have boxes much larger than themselves; the distance
    from the cell centre to the capsule axis or the disc plane prunes most of those cells.
    """
    if kind == 1:
        ux = b[0] - a[0]
        uy = b[1] - a[1]
        uz = b[2] - a[2]
        uu = ux * ux + uy * uy + uz * uz
        s = 0.0
        if uu > 0.0:
            s = ((cx - a[0]) * ux + (cy - a[1]) * uy + (cz - a[2]) * uz) / uu
            s = min(max(s, 0.0), 1.0)
        qx = cx - a[0] - s * ux
        qy = cy - a[1] - s * uy
        qz = cz - a[2] - s * uz
        return qx * qx + qy * qy + qz * qz <= (r + half_diag) ** 2
    if kind == 2:
        # Distance from the cell centre to the closest point of the disc (not just its plane).
        px = cx - a[0]
        py = cy - a[1]
        pz = cz - a[2]
        h = px * b[0] + py * b[1] + pz * b[2]
        qx = px - h * b[0]
        qy = py - h * b[1]
        qz = pz - h * b[2]
        radial = np.sqrt(qx * qx + qy * qy + qz * qz)
        rim = max(radial - r, 0.0)
        return h * h + rim * rim <= half_diag * half_diag
    return True


@nb.njit(cache=True)
def _bin(lo_cell, hi_cell, dims, lower, cell, kind, a, b, radius):
    nx, ny, nz = dims[0], dims[1], dims[2]
    half_diag = 0.5 * cell * np.sqrt(3.0) * 1.0001
    counts = np.zeros(nx * ny * nz + 1, np.int32)
    n = lo_cell.shape[0]
    for sweep in range(2):
        if sweep == 1:
            start = np.cumsum(counts).astype(np.int32)
            fill = start[:-1].copy()
            items = np.empty(start[-1], np.int32)
        for k in range(n):
            for iz in range(lo_cell[k, 2], hi_cell[k, 2] + 1):
                cz = lower[2] + (iz + 0.5) * cell
                for iy in range(lo_cell[k, 1], hi_cell[k, 1] + 1):
                    cy = lower[1] + (iy + 0.5) * cell
                    for ix in range(lo_cell[k, 0], hi_cell[k, 0] + 1):
                        cx = lower[0] + (ix + 0.5) * cell
                        if not _overlaps(kind[k], a[k], b[k], radius[k], cx, cy, cz, half_diag):
                            continue
                        c = iz + nz * (ix + nx * iy)
                        if sweep == 0:
                            counts[c + 1] += 1
                        else:
                            items[fill[c]] = k
                            fill[c] += 1
    return start, items
