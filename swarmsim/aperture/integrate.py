"""Synthetic-aperture integration: register views on a focal surface, seen from virtual cameras.

Every pixel of a virtual camera casts its ray onto the focal surface; the surface point is
projected into each view and, where it lands inside the image, the view is sampled there and
added to the pixel's ``sum`` while ``count`` records how many views covered it. The integral
image is ``sum / count`` where ``count > 0``. Points on the focal surface line up in every view;
occluders above it fall on different pixels of each view and blur away.

Example:
    integral = integrate(frames.thermal, frames.poses, [(0.0, 10.0, 35.0)],
                         camera=world.camera, focal=FocalPlane(height=0.0))
    integral.image[0, ..., 0]   # (H, W) float32, 0 where no view covers the pixel
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from swarmsim.aperture import _cpu
from swarmsim.aperture._warp import (
    HEIGHT_FIELD,
    PLANE,
    S_CELL,
    S_HMAX,
    S_HMIN,
    S_KIND,
    S_NX,
    S_NZ,
    S_PX,
    S_PZ,
    S_X0,
    S_Y0,
    SURFACE_SIZE,
)
from swarmsim.backend import array_module, resolve_backend, to_numpy
from swarmsim.sensing.camera import Camera, as_poses, camera_rotation, pose_matrices

SAMPLING = ("bilinear", "nearest")


@dataclass(frozen=True, kw_only=True)
class FocalPlane:
    """A focal plane through ``(origin[0], origin[1], height)`` with unit ``normal``.

    The default is the ground (z = 0); ``height`` lifts a horizontal plane, ``normal`` tilts it
    (for example a slope) about ``origin``.

    Attributes:
        height: Height of the plane at ``origin`` in metres.
        normal: (3,) normal vector (normalised on construction); must not be horizontal.
        origin: (x, y) in metres where the plane has ``height``.
    """

    height: float = 0.0
    normal: tuple[float, float, float] = (0.0, 0.0, 1.0)
    origin: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        normal = np.asarray(self.normal, np.float64).reshape(-1)
        origin = np.asarray(self.origin, np.float64).reshape(-1)
        if normal.shape != (3,) or not np.all(np.isfinite(normal)):
            raise ValueError(f"FocalPlane.normal: expected 3 finite numbers, got {self.normal!r}")
        norm = float(np.linalg.norm(normal))
        if norm == 0.0 or abs(normal[2]) < 1e-6 * norm:
            raise ValueError(f"FocalPlane.normal: expected a non-horizontal plane, "
                             f"got {self.normal!r}")  # fmt: skip
        if normal[2] < 0.0:
            normal = -normal
        if origin.shape != (2,) or not np.all(np.isfinite(origin)):
            raise ValueError(f"FocalPlane.origin: expected (x, y) in metres, got {self.origin!r}")
        if not math.isfinite(self.height):
            raise ValueError(f"FocalPlane.height: expected metres, got {self.height!r}")
        object.__setattr__(self, "normal", tuple(float(v) for v in normal / norm))
        object.__setattr__(self, "origin", tuple(float(v) for v in origin))
        object.__setattr__(self, "height", float(self.height))

    def height_at(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        """Height of the plane in metres above the points (x, y)."""
        nx, ny, nz = self.normal
        x0, y0 = self.origin
        return self.height - (nx * (np.asarray(x) - x0) + ny * (np.asarray(y) - y0)) / nz

    def params(self) -> tuple[np.ndarray, np.ndarray]:
        """Kernel parameters: (SURFACE_SIZE,) float64 vector and a dummy (1, 1) raster."""
        s = np.zeros(SURFACE_SIZE)
        s[S_KIND] = PLANE
        s[S_PX : S_PZ + 1] = (*self.origin, self.height)
        s[S_NX : S_NZ + 1] = self.normal
        return s, np.zeros((1, 1))


@dataclass(frozen=True, kw_only=True, eq=False)
class FocalSurface:
    """A height-field focal surface for uneven ground: bilinear heights on a regular raster.

    Samples sit at cell centres, as in the world's ground rasters: ``heights[i, j]`` is the
    height at ``(x0 + (j + 0.5) * cell, y0 + (i + 0.5) * cell)``; beyond the raster the edge
    values continue. Rays are marched in steps of half a cell and the crossing is bisected, so
    features narrower than a cell may be stepped over.

    Attributes:
        heights: (rows, cols) heights in metres, rows along +y, columns along +x.
        x0, y0: Lower-left corner of the raster in metres.
        cell: Raster spacing in metres.
    """

    heights: np.ndarray
    x0: float
    y0: float
    cell: float
    _params: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        heights = np.ascontiguousarray(self.heights, np.float64)
        if heights.ndim != 2 or heights.size == 0 or not np.all(np.isfinite(heights)):
            raise ValueError(f"FocalSurface.heights: expected a finite (rows, cols) array, got "
                             f"shape {np.shape(self.heights)}")  # fmt: skip
        if not (math.isfinite(self.cell) and self.cell > 0.0):
            raise ValueError(f"FocalSurface.cell: expected metres > 0, got {self.cell!r}")
        if not (math.isfinite(self.x0) and math.isfinite(self.y0)):
            raise ValueError("FocalSurface.x0, y0: expected finite metres")
        heights.setflags(write=False)
        object.__setattr__(self, "heights", heights)
        s = np.zeros(SURFACE_SIZE)
        s[S_KIND] = HEIGHT_FIELD
        s[S_X0], s[S_Y0], s[S_CELL] = self.x0, self.y0, self.cell
        s[S_HMIN], s[S_HMAX] = heights.min(), heights.max()
        object.__setattr__(self, "_params", (s, heights))

    def height_at(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        """Bilinear height of the surface in metres above the points (x, y)."""
        rows, cols = self.heights.shape
        fx = np.clip((np.asarray(x, np.float64) - self.x0) / self.cell - 0.5, 0.0, cols - 1.0)
        fy = np.clip((np.asarray(y, np.float64) - self.y0) / self.cell - 0.5, 0.0, rows - 1.0)
        j0, i0 = fx.astype(np.int64), fy.astype(np.int64)
        j1, i1 = np.minimum(j0 + 1, cols - 1), np.minimum(i0 + 1, rows - 1)
        wx, wy = fx - j0, fy - i0
        h = self.heights
        top = (1.0 - wx) * h[i0, j0] + wx * h[i0, j1]
        bottom = (1.0 - wx) * h[i1, j0] + wx * h[i1, j1]
        return (1.0 - wy) * top + wy * bottom

    def params(self) -> tuple[np.ndarray, np.ndarray]:
        """Kernel parameters: (SURFACE_SIZE,) float64 vector and the height raster."""
        return self._params


Focal = FocalPlane | FocalSurface

#: Smallest integrated mask weight that counts as foreground. When a virtual view coincides
#: with a real one (every nadir capture seen from its own pose), samples land exactly on pixel
#: centres and the bilinear weight of the neighbouring pixel is zero up to rounding (~1e-8,
#: different on the CPU and the GPU); counting that as foreground dilated blobs by a pixel at
#: random. 1e-4 is far above rounding and far below any real overlap.
FOREGROUND_MIN = 1e-4


def foreground(values: Any) -> Any:
    """Boolean mask of the integrated anomaly weights ``values`` (any array shape) that count as
    foreground: above :data:`FOREGROUND_MIN`."""
    return values > FOREGROUND_MIN


@dataclass(frozen=True, eq=False)
class Integral:
    """Integrated views seen from m virtual cameras.

    Attributes:
        sum: (m, H, W, C) float32 sum of the samples of every covering view.
        count: (m, H, W) int32 number of views covering each pixel.
        poses: (m, 5) virtual camera poses ``[x, y, z, yaw, pitch]`` (metres, radians).
        camera: Intrinsics of the virtual cameras.
        focal: The focal surface the views were registered on.
        fill: Value of :attr:`image` where no view covers a pixel.
    """

    sum: Any
    count: Any
    poses: np.ndarray
    camera: Camera
    focal: Focal
    fill: float = 0.0

    def __len__(self) -> int:
        return len(self.poses)

    @property
    def valid(self) -> Any:
        """(m, H, W) bool, True where at least one view covers the pixel."""
        return self.count > 0

    @property
    def image(self) -> Any:
        """(m, H, W, C) float32 integral image ``sum / count``, :attr:`fill` where count is 0."""
        xp = _xp(self.sum)
        count = self.count[..., None]
        if xp is np:
            out = np.full(self.sum.shape, self.fill, np.float32)
            np.divide(self.sum, count, out=out, where=count > 0)
            return out
        # CuPy's divide has no ``where``; the maximum keeps 0 / 0 out of the unselected branch.
        mean = self.sum / xp.maximum(count, 1)
        return xp.where(count > 0, mean, xp.float32(self.fill)).astype(xp.float32)

    def to_numpy(self) -> Integral:
        """A copy with host (NumPy) arrays."""
        return Integral(to_numpy(self.sum), to_numpy(self.count), self.poses, self.camera,
                        self.focal, self.fill)  # fmt: skip


def _xp(array: Any) -> Any:
    return np if isinstance(array, np.ndarray) else array_module("cuda")


def _views_4d(views: Any, camera: Camera, backend: str) -> Any:
    """(n, H, W, C) array the kernels can read: float32/float64/uint8 kept, bool as uint8."""
    xp = np if isinstance(views, np.ndarray) or backend == "cpu" else _xp(views)
    if xp is np:
        views = np.asarray(to_numpy(views))
    if views.ndim == 3:
        views = views.reshape(*views.shape, 1)
    if views.ndim != 4 or views.shape[1:3] != camera.shape:
        raise ValueError(
            f"views: expected shape (n, {camera.height}, {camera.width}[, C]) for the camera, "
            f"got {tuple(views.shape)}"
        )
    if views.dtype == np.bool_:
        views = views.view(np.uint8)
    elif views.dtype not in (np.float32, np.float64, np.uint8):
        views = views.astype(np.float32)
    return xp.ascontiguousarray(views)


def integrate(
    views: Any,
    poses: np.ndarray,
    virtual_poses: np.ndarray,
    *,
    camera: Camera,
    focal: Focal | None = None,
    backend: str = "cpu",
    sampling: str = "bilinear",
    virtual_camera: Camera | None = None,
    fill: float = 0.0,
) -> Integral:
    """Integrate n views on a focal surface as seen from m virtual cameras, in one kernel call.

    Args:
        views: (n, H, W) or (n, H, W, C) images (float, uint8 or bool masks; NumPy, or CuPy /
            device arrays on the cuda backend), H and W those of ``camera``.
        poses: (n, 3|4|5) view poses ``[x, y, z, yaw, pitch]`` (metres, radians).
        virtual_poses: (m, 3|4|5) poses of the virtual cameras, or one pose.
        camera: Intrinsics of the views.
        focal: The focal surface: a :class:`FocalPlane` or a height-field :class:`FocalSurface`
            (default: the ground plane z = 0).
        backend: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        sampling: ``"bilinear"`` (clamped at the image border) or ``"nearest"``.
        virtual_camera: Intrinsics of the virtual cameras (default: ``camera``).
        fill: Value of ``Integral.image`` where no view covers a pixel.

    Returns:
        :class:`Integral` with ``sum`` (m, Hv, Wv, C) and ``count`` (m, Hv, Wv); a view covers a
        virtual pixel when the pixel's focal-surface point projects inside the view's image
        (pixel-centre convention, in front of the camera).
    """
    if sampling not in SAMPLING:
        raise ValueError(f"sampling: expected one of {SAMPLING}, got {sampling!r}")
    focal = FocalPlane() if focal is None else focal
    if not isinstance(focal, (FocalPlane, FocalSurface)):
        raise TypeError(f"focal: expected a FocalPlane or FocalSurface, got {type(focal)!r}")
    backend = resolve_backend(backend)
    virtual_camera = camera if virtual_camera is None else virtual_camera
    poses = as_poses(poses)
    vposes = as_poses(virtual_poses)
    views = _views_4d(views, camera, backend)
    if len(views) != len(poses):
        raise ValueError(f"poses: expected {len(views)} poses for {len(views)} views, "
                         f"got {len(poses)}")  # fmt: skip
    cams = pose_matrices(poses)
    vcams = pose_matrices(vposes)
    surface, heights = focal.params()
    m, channels = len(vposes), views.shape[3]
    vh, vw = virtual_camera.height, virtual_camera.width
    nearest = sampling == "nearest"
    if backend == "cuda":
        from swarmsim.aperture import _cuda

        total, count = _cuda.integrate(
            vcams, virtual_camera.focal, vw, vh, cams, camera.focal, views, nearest, surface,
            heights, channels,
        )  # fmt: skip
    else:
        total = np.empty((m, vh, vw, channels), np.float32)
        count = np.empty((m, vh, vw), np.int32)
        homography = plane_homographies(camera, poses, virtual_camera, vposes, focal)
        separable, buffer_rows = _separable(homography, camera, poses, vposes, focal)
        _cpu.integrate_kernel(
            vcams, virtual_camera.focal, vw, vh, cams, camera.focal, views, nearest, surface,
            heights, homography, separable, buffer_rows, total, count,
        )  # fmt: skip
    return Integral(total, count, vposes, virtual_camera, focal, float(fill))


def plane_homographies(
    camera: Camera,
    poses: np.ndarray,
    virtual_camera: Camera,
    virtual_poses: np.ndarray,
    focal: Focal,
) -> np.ndarray:
    """(m, n, 3, 3) maps from virtual pixel to view pixel through a focal plane.

    Row-vector form: with ``q = (column + 0.5, row + 0.5, 1)`` of a virtual pixel and
    ``(U, V, Z) = H @ q``, the plane point seen by that pixel lands at ``(U / Z, V / Z)`` in the
    view, and ``Z > 0`` exactly when it is in front of the view camera. For a height field the
    result is unused (zeros).
    """
    poses, vposes = as_poses(poses), as_poses(virtual_poses)
    out = np.zeros((len(vposes), len(poses), 3, 3))
    if not isinstance(focal, FocalPlane):
        return out
    normal = np.asarray(focal.normal)
    anchor = np.array([*focal.origin, focal.height])
    f, w, h = virtual_camera.focal, virtual_camera.width, virtual_camera.height
    k_inv = np.array([[1.0 / f, 0.0, -0.5 * w / f], [0.0, 1.0 / f, -0.5 * h / f], [0.0, 0.0, 1.0]])
    f, w, h = camera.focal, camera.width, camera.height
    k_view = np.array([[f, 0.0, 0.5 * w], [0.0, f, 0.5 * h], [0.0, 0.0, 1.0]])
    cams, vcams = pose_matrices(poses), pose_matrices(vposes)
    view = k_view @ cams[:, 3:].reshape(-1, 3, 3)  # (n, 3, 3) world to view pixels
    centres = vcams[:, :3]
    # Unnormalised ray d = D q; the plane point is c + t d with t = h / (n . d), so
    # (n . d)(X - o) = ((c - o) n^T + h I) d: linear in q, and the (n . d) cancels in U / Z.
    rays = np.swapaxes(vcams[:, 3:].reshape(-1, 3, 3), 1, 2) @ k_inv  # (m, 3, 3)
    offset = (anchor - centres) @ normal  # (m,)
    sign = np.where(offset >= 0.0, 1.0, -1.0)  # sign(n . d) on every pixel that hits the plane
    lift = (centres[:, None, :] - poses[None, :, :3])[..., :, None] * normal  # (m, n, 3, 3)
    lift += offset[:, None, None, None] * np.eye(3)
    out[:] = sign[:, None, None, None] * (view[None] @ lift @ rays[:, None])
    return out


def _separable(
    homography: np.ndarray, camera: Camera, poses: np.ndarray, vposes: np.ndarray, focal: Focal
) -> tuple[np.ndarray, int]:
    """Which (virtual, view) pairs map rows to rows and columns to columns, and the view rows
    one block of virtual rows needs there.

    That is the AOS configuration: nadir cameras of equal yaw (or opposite) over a horizontal
    plane below the virtual camera, so every virtual pixel hits the plane. The cross terms of
    such homographies are rounding noise; they are zeroed in place so that both CPU paths use
    identical coordinates (and so identical coverage).
    """
    m, n = homography.shape[:2]
    separable = np.zeros((m, n), np.bool_)
    if not isinstance(focal, FocalPlane) or focal.normal != (0.0, 0.0, 1.0):
        return separable, 1
    cross = np.abs(homography[..., [0, 1, 2, 2], [1, 0, 0, 1]]).max(axis=-1)
    scale = np.abs(homography).max(axis=(-2, -1))
    separable = cross <= 1e-12 * scale
    separable &= ((vposes[:, 4] == 0.0) & (vposes[:, 2] > focal.height))[:, None]
    separable &= (poses[:, 4] == 0.0)[None, :]
    rows = 1
    for k, v in zip(*np.nonzero(separable), strict=True):
        g = homography[k, v]
        g[[0, 1, 2, 2], [1, 0, 0, 1]] = 0.0
        if g[2, 2] > 0.0:
            step = abs(g[1, 1] / g[2, 2])  # view rows per virtual row
            rows = max(rows, int(math.ceil(step * (_cpu.BLOCK_ROWS - 1))) + 3)
    return separable, min(rows, camera.height)


def pixel_directions(camera: Camera, pose: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Unit ray directions (..., 3) through image points ``uv`` (..., 2) = (column, row).

    ``uv`` uses the pixel-centre convention of :func:`swarmsim.sensing.camera.project`: the
    centre of pixel (i, j) is (j + 0.5, i + 0.5).
    """
    pose = as_poses(pose)[0]
    rot = camera_rotation(pose[3], pose[4])
    uv = np.asarray(uv, np.float64)
    xc = (uv[..., 0] - 0.5 * camera.width) / camera.focal
    yc = (uv[..., 1] - 0.5 * camera.height) / camera.focal
    d = xc[..., None] * rot[0] + yc[..., None] * rot[1] + rot[2]
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def focal_points(
    camera: Camera, pose: np.ndarray, focal: Focal, uv: np.ndarray | None = None
) -> np.ndarray:
    """Points (metres) where the rays of one camera meet the focal surface.

    Args:
        camera: Intrinsics.
        pose: One camera pose (3, 4 or 5 values).
        focal: The focal surface.
        uv: (..., 2) image points (column, row) in the pixel-centre convention; default: the
            centres of all pixels, giving (H, W, 3).

    Returns:
        (..., 3) float64 points; NaN where a ray misses the surface.
    """
    if uv is None:
        jj, ii = np.meshgrid(np.arange(camera.width) + 0.5, np.arange(camera.height) + 0.5)
        uv = np.stack([jj, ii], axis=-1)
    uv = np.asarray(uv, np.float64)
    dirs = pixel_directions(camera, pose, uv).reshape(-1, 3)
    origins = np.broadcast_to(as_poses(pose)[0, :3], dirs.shape).copy()
    out = np.empty_like(dirs)
    surface, heights = focal.params()
    _cpu.surface_points_kernel(origins, np.ascontiguousarray(dirs), surface, heights, out)
    return out.reshape(*uv.shape[:-1], 3)
