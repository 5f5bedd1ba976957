"""Pinhole cameras: intrinsics, poses and the ray convention.

Conventions (see ``docs/scenes.md``):

* The field of view is the full angle across the image width; pixels are square, so the focal
  length in pixels is ``f = (width / 2) / tan(fov / 2)``.
* Pixel ``(row i, column j)`` has its centre at ``(j + 0.5, i + 0.5)``; row 0 is the top of the
  image.
* A pose is a position (x, y, z) in metres and a yaw and pitch in radians. At yaw 0 and pitch 0
  the camera looks straight down (nadir) with the image top pointing north (+y) and the image
  right pointing east (+x). Positive yaw turns the camera counter-clockwise seen from above (the
  project's heading convention, :func:`swarmsim.world.geometry.heading_vector`); pitch tilts the
  optical axis from nadir toward the image-top (forward) direction.
* Camera frame: x right, y down, z along the optical axis (the OpenCV convention); the rotation
  matrix returned by :func:`camera_rotation` has rows ``right, down, optical axis`` in world
  coordinates, so ``R @ (p - position)`` maps a world point into the camera frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Camera:
    """Intrinsics of a pinhole camera.

    Attributes:
        fov: Full horizontal field of view in radians, in (0, pi).
        width: Image width in pixels.
        height: Image height in pixels.
    """

    fov: float = math.radians(50.0)
    width: int = 512
    height: int = 512

    def __post_init__(self) -> None:
        if not (0.0 < self.fov < math.pi) or not math.isfinite(self.fov):
            raise ValueError(f"Camera.fov: expected radians in (0, pi), got {self.fov!r}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"Camera.{name}: expected a positive integer, got {value!r}")

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return 0.5 * self.width / math.tan(0.5 * self.fov)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of an image."""
        return (self.height, self.width)

    def footprint(self, altitude: float) -> tuple[float, float]:
        """Ground footprint (width, height) in metres of a nadir view from ``altitude`` metres."""
        scale = altitude / self.focal
        return (self.width * scale, self.height * scale)


def as_poses(poses: np.ndarray | list | tuple) -> np.ndarray:
    """Normalise poses to an (n, 5) float64 array ``[x, y, z, yaw, pitch]`` (radians).

    Accepts a single pose or a batch, with 3 (position only), 4 (+ yaw) or 5 (+ pitch) columns.
    """
    p = np.asarray(poses, dtype=np.float64)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[1] not in (3, 4, 5):
        raise ValueError(
            f"poses: expected shape (n, 3|4|5) as [x, y, z, yaw, pitch], got {np.shape(poses)}"
        )
    if not np.all(np.isfinite(p)):
        raise ValueError("poses: expected finite values")
    out = np.zeros((len(p), 5))
    out[:, : p.shape[1]] = p
    return out


def camera_rotation(yaw: float, pitch: float = 0.0) -> np.ndarray:
    """(3, 3) world-to-camera rotation with rows right, down and optical axis."""
    return np.array(_rotation_rows(yaw, pitch)).reshape(3, 3)


def _rotation_rows(yaw: float, pitch: float) -> list[float]:
    # Rows right, down, optical: with up = (-sin y, cos y, 0) the image-top direction on the
    # ground, optical = cos p (0, 0, -1) + sin p up and down = -(cos p up + sin p (0, 0, 1)).
    # Written out element by element: called per camera per step, where array building cost
    # more than the arithmetic.
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    return [cy, sy, 0.0, cp * sy, -(cp * cy), -sp, -(sp * sy), sp * cy, -cp]


def pose_matrices(poses: np.ndarray) -> np.ndarray:
    """(n, 12) float64 rows ``[x, y, z, R00 .. R22]`` consumed by the render kernels."""
    poses = as_poses(poses)
    rows = [_rotation_rows(yaw, pitch) for yaw, pitch in poses[:, 3:5].tolist()]
    out = np.empty((len(poses), 12))
    out[:, :3] = poses[:, :3]
    out[:, 3:] = np.array(rows).reshape(len(poses), 9)
    return out


#: A block of image pixels: (row slice, column slice), steps of 1.
Window = tuple[slice, slice]


def pixel_rays(camera: Camera, pose: np.ndarray, *, window: Window | None = None
               ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Origins (H, W, 3) and unit directions (H, W, 3) of every pixel's ray for one pose, or of
    the pixels of ``window`` only (the same values as the whole image's)."""
    pose = as_poses(pose)[0]
    rot = camera_rotation(pose[3], pose[4])
    f = camera.focal
    rows, cols = (slice(0, camera.height), slice(0, camera.width)) if window is None else window
    xs = (np.arange(cols.start, cols.stop) + 0.5 - 0.5 * camera.width) / f
    ys = (np.arange(rows.start, rows.stop) + 0.5 - 0.5 * camera.height) / f
    xc, yc = np.meshgrid(xs, ys)
    d = xc[..., None] * rot[0] + yc[..., None] * rot[1] + rot[2]
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    origins = np.broadcast_to(pose[:3], d.shape).copy()
    return origins, d


def project(camera: Camera, pose: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points (..., 3) into one camera.

    Returns:
        ``(uv, z)``: pixel coordinates (..., 2) as (column, row) in the pixel-centre convention
        (the centre of pixel (i, j) projects to (j + 0.5, i + 0.5)), and depth along the optical
        axis (...,) in metres; points with ``z <= 0`` are behind the camera.
    """
    pose = as_poses(pose)[0]
    rot = camera_rotation(pose[3], pose[4])
    pc = (np.asarray(points, np.float64) - pose[:3]) @ rot.T
    z = pc[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = camera.focal * pc[..., 0] / z + 0.5 * camera.width
        v = camera.focal * pc[..., 1] / z + 0.5 * camera.height
    return np.stack([u, v], axis=-1), z


def sphere_window(camera: Camera, pose: np.ndarray, spheres: np.ndarray) -> Window:
    """A block of pixels that holds every pixel whose ray can meet one of the spheres
    ``(k, 4)`` ``[x, y, z, radius]`` (conservative; the whole image if one reaches behind the
    camera).

    A point within ``r`` of a centre ``p`` (camera coordinates, depth ``p_z > r``) projects
    within ``f r (1 + |p_x| / p_z) / (p_z - r)`` pixels of ``p``'s image along x (y likewise).
    """
    whole = (slice(0, camera.height), slice(0, camera.width))
    spheres = np.asarray(spheres, np.float64).reshape(-1, 4)
    if len(spheres) == 0:
        return (slice(0, 0), slice(0, 0))
    pose = as_poses(pose)[0]
    pc = (spheres[:, :3] - pose[:3]) @ camera_rotation(pose[3], pose[4]).T
    r = spheres[:, 3]
    z = pc[:, 2]
    if np.any(z - r <= 1e-3):
        return whole
    u = camera.focal * pc[:, 0] / z + 0.5 * camera.width
    v = camera.focal * pc[:, 1] / z + 0.5 * camera.height
    ru = camera.focal * r * (1.0 + np.abs(pc[:, 0]) / z) / (z - r)
    rv = camera.focal * r * (1.0 + np.abs(pc[:, 1]) / z) / (z - r)
    # Pixel j's centre is at u = j + 0.5; one pixel of margin for rounding.
    j0 = int(np.clip(np.floor(np.min(u - ru)) - 1, 0, camera.width))
    j1 = int(np.clip(np.ceil(np.max(u + ru)) + 1, 0, camera.width))
    i0 = int(np.clip(np.floor(np.min(v - rv)) - 1, 0, camera.height))
    i1 = int(np.clip(np.ceil(np.max(v + rv)) + 1, 0, camera.height))
    return (slice(i0, max(i0, i1)), slice(j0, max(j0, j1)))
