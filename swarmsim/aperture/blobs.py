"""Connected components (blobs) of anomaly masks, with sizes, boxes and ground positions.

Blobs are 8-connected, labelled by a two-pass union-find in numba; label 1 is the blob whose
first pixel comes first in raster order. A blob's ground position is where the ray through its
pixel centroid meets the focal surface of the (virtual) camera that saw it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swarmsim.aperture import _cpu
from swarmsim.aperture.integrate import Focal, FocalPlane, focal_points
from swarmsim.backend import to_numpy
from swarmsim.sensing.camera import Camera


@dataclass(frozen=True)
class Blob:
    """One connected component.

    Attributes:
        label: Its label in :attr:`Blobs.labels` (1-based).
        area: Pixels.
        box: ``(row0, col0, row1, col1)``, rows row0..row1-1 and columns col0..col1-1.
        centroid: ``(row, col)`` mean pixel index (the pixel (i, j) has centre (i + 0.5,
            j + 0.5) in image coordinates).
        ground: ``(x, y, z)`` metres on the focal surface, or None without a camera.
    """

    label: int
    area: int
    box: tuple[int, int, int, int]
    centroid: tuple[float, float]
    ground: tuple[float, float, float] | None

    def box_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """(H, W) bool mask of the filled bounding box (the swarm's detection mask)."""
        mask = np.zeros(shape, np.bool_)
        r0, c0, r1, c1 = self.box
        mask[r0:r1, c0:c1] = True
        return mask


@dataclass(frozen=True)
class Blobs:
    """All blobs of one mask.

    Attributes:
        labels: (H, W) int32, 0 background, 1..n blob labels.
        area: (n,) int64 pixels per blob.
        box: (n, 4) int64 ``[row0, col0, row1, col1)`` per blob.
        centroid: (n, 2) float64 ``[row, col]`` mean pixel indices.
        ground: (n, 3) float64 points on the focal surface in metres (NaN where the centroid's
            ray misses it), or None without a camera.
    """

    labels: np.ndarray
    area: np.ndarray
    box: np.ndarray
    centroid: np.ndarray
    ground: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.area)

    def __getitem__(self, index: int) -> Blob:
        ground: tuple[float, float, float] | None = None
        if self.ground is not None:
            x, y, z = (float(v) for v in self.ground[index])
            ground = (x, y, z)
        r0, c0, r1, c1 = (int(v) for v in self.box[index])
        return Blob(
            label=int(index) + 1,
            area=int(self.area[index]),
            box=(r0, c0, r1, c1),
            centroid=(float(self.centroid[index, 0]), float(self.centroid[index, 1])),
            ground=ground,
        )

    def largest(self) -> Blob | None:
        """The blob with the most pixels (the first in raster order on ties), None if empty."""
        return self[int(np.argmax(self.area))] if len(self) else None


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a (H, W) mask: ``(labels int32, count)``."""
    mask = np.asarray(to_numpy(mask))
    if mask.ndim != 2:
        raise ValueError(f"mask: expected shape (H, W), got {mask.shape}")
    labels = np.empty(mask.shape, np.int32)
    area, _, _ = _cpu.label_kernel(np.ascontiguousarray(mask != 0), labels)
    return labels, len(area)


def find_blobs(
    mask: np.ndarray,
    *,
    min_area: int = 1,
    camera: Camera | None = None,
    pose: np.ndarray | None = None,
    focal: Focal | None = None,
) -> Blobs:
    """Blobs of a mask, optionally with their ground positions.

    Args:
        mask: (H, W) bool (or non-zero) mask.
        min_area: Blobs with fewer pixels are dropped (and relabelled away).
        camera: Intrinsics of the camera that saw the mask (for ground positions).
        pose: That camera's pose (3, 4 or 5 values).
        focal: The focal surface (default: the ground plane) to place centroids on.

    Returns:
        :class:`Blobs`, labels 1..n in raster order of each blob's first pixel.
    """
    mask = np.asarray(to_numpy(mask))
    if mask.ndim != 2:
        raise ValueError(f"mask: expected shape (H, W), got {mask.shape}")
    labels = np.empty(mask.shape, np.int32)
    area, box, sums = _cpu.label_kernel(np.ascontiguousarray(mask != 0), labels)
    if min_area > 1 and len(area):
        keep = area >= min_area
        relabel = np.zeros(len(area) + 1, np.int32)
        relabel[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
        labels = relabel[labels]
        area, box, sums = area[keep], box[keep], sums[keep]
    centroid = sums / np.maximum(area, 1)[:, None]
    ground = None
    if camera is not None and pose is not None:
        uv = centroid[:, ::-1] + 0.5  # (row, col) indices -> (u, v) image coordinates
        ground = focal_points(camera, pose, FocalPlane() if focal is None else focal, uv)
    return Blobs(labels=labels, area=area, box=box, centroid=centroid, ground=ground)


def largest_blob(mask: np.ndarray, **kwargs) -> Blob | None:
    """The largest blob of a mask (see :func:`find_blobs` for the options), None if empty."""
    return find_blobs(mask, **kwargs).largest()
