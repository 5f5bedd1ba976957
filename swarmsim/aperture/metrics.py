"""Ground-truth metrics of integrals and detections: the renderer knows where the target is.

Definitions (ours; the AOS papers do not publish theirs):

* **Target footprint** in a virtual view: the pixels whose rays hit the target when every
  occluder is removed (the target's unoccluded silhouette), and the surface points they hit.
* **Optical visibility** of a target in an integral: for each footprint pixel, the fraction of
  the views covering its target point (the point projects inside the view's image) from which
  that point is unoccluded (the segment from the point to the camera meets no static primitive);
  averaged over the footprint pixels. AOS's statistical model says this is ``1 - D`` for
  occlusion density D.
* **Detection coverage**: area of detected anomaly pixels inside the target footprint divided by
  the footprint area, areas measured on the focal surface. This is what we take the AOS swarm
  paper's "visibility %" to mean (the fraction of the person covered by the detection).
* **Detection error**: horizontal distance in metres from the largest blob's centroid on the
  focal surface to the target's true ground position.
* **False-alarm area**: area in m² on the focal surface of detected pixels outside the footprint.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from swarmsim.aperture.blobs import find_blobs
from swarmsim.aperture.integrate import Focal, FocalPlane, focal_points
from swarmsim.backend import to_numpy
from swarmsim.sensing._raycast import HIT_NONE, HIT_TARGET
from swarmsim.sensing.camera import Camera, Window, as_poses, pixel_rays, project, sphere_window
from swarmsim.sensing.render import cast_rays
from swarmsim.world.geometry import Primitives
from swarmsim.world.grid import build_grid

if TYPE_CHECKING:
    from swarmsim.world.world import World

#: Rays toward the cameras start this far (metres) off the surface they leave.
_OFFSET = 1e-3


@dataclass(frozen=True)
class Footprint:
    """A target's unoccluded silhouette in one view.

    Attributes:
        mask: (H, W) bool, the pixel's ray hits the target when occluders are removed.
        points: (H, W, 3) float64 target surface points in metres (zeros outside ``mask``).
        target: Index of the target, or None for any target.
    """

    mask: np.ndarray
    points: np.ndarray
    target: int | None

    @property
    def pixels(self) -> int:
        return int(self.mask.sum())

    @property
    def window(self) -> Window:
        """The smallest block of pixels holding the mask (empty slices for an empty mask)."""
        rows = np.flatnonzero(self.mask.any(axis=1))
        cols = np.flatnonzero(self.mask.any(axis=0))
        if len(rows) == 0:
            return (slice(0, 0), slice(0, 0))
        return (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))


@dataclass(frozen=True)
class Visibility:
    """Optical visibility of a target in an integral.

    Attributes:
        value: Mean over footprint pixels of the unoccluded fraction of covering views (NaN when
            no footprint pixel is covered by any view).
        fraction: (H, W) float64 per-pixel unoccluded fraction (0 where not defined).
        covering: (H, W) int32 views covering each footprint pixel's target point.
        footprint: The target footprint in the virtual view.
    """

    value: float
    fraction: np.ndarray
    covering: np.ndarray
    footprint: Footprint


def open_world(world: World) -> World:
    """The same world with every static primitive (tree, occluder) removed; targets stay."""
    return dataclasses.replace(
        world,
        packed=np.zeros((0, 8), np.float32),
        grid=build_grid(Primitives.empty()),
        device_cache={},
    )


def target_footprint(
    world: World,
    pose: np.ndarray,
    *,
    camera: Camera | None = None,
    t: float = 0.0,
    target: int | None = 0,
) -> Footprint:
    """Footprint of a target (or of any target, ``target=None``) in the view from ``pose``."""
    camera = world.camera if camera is None else camera
    geometry = world.target_geometry(t)
    bound = geometry.bound if target is None else geometry.bound[target : target + 1]
    # Only pixels around the target's bounding sphere can see it: cast those rays alone.
    window = sphere_window(camera, pose, bound)
    origins, dirs = pixel_rays(camera, pose, window=window)
    hits = cast_rays(open_world(world), origins.reshape(-1, 3), dirs.reshape(-1, 3), t=t)
    hit = hits.code == HIT_TARGET
    if target is not None:
        start = geometry.start
        hit &= (hits.index >= start[target]) & (hits.index < start[target + 1])
    depth = np.where(hit, hits.t, 0.0)
    hit_points = origins.reshape(-1, 3) + depth[:, None] * dirs.reshape(-1, 3)
    mask = np.zeros((camera.height, camera.width), np.bool_)
    points = np.zeros((camera.height, camera.width, 3))
    mask[window] = hit.reshape(origins.shape[:2])
    points[window] = np.where(hit[:, None], hit_points, 0.0).reshape(origins.shape)
    return Footprint(mask, points, target)


def unoccluded(
    world: World,
    points: np.ndarray,
    poses: np.ndarray,
    *,
    camera: Camera | None = None,
    t: float = 0.0,
    backend: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Which cameras see which points.

    Args:
        points: (p, 3) points in metres.
        poses: (n, 3|4|5) camera poses.
        camera: Intrinsics (default: the world's).

    Returns:
        ``(visible, covered)``, both (p, n) bool: ``covered`` when the point projects inside the
        camera's image (in front of it); ``visible`` when covered and the segment from the point
        to the camera meets no static primitive (targets and the ground do not occlude).
    """
    camera = world.camera if camera is None else camera
    points = np.asarray(points, np.float64).reshape(-1, 3)
    poses = as_poses(poses)
    covered = np.zeros((len(points), len(poses)), np.bool_)
    for v, pose in enumerate(poses):
        uv, z = project(camera, pose, points)
        covered[:, v] = ((z > 0.0) & (uv[:, 0] >= 0.0) & (uv[:, 0] < camera.width)
                         & (uv[:, 1] >= 0.0) & (uv[:, 1] < camera.height))  # fmt: skip
    visible = np.zeros_like(covered)
    p_index, v_index = np.nonzero(covered)
    if len(p_index):
        start = points[p_index]
        toward = poses[v_index, :3] - start
        distance = np.linalg.norm(toward, axis=1)
        toward /= distance[:, None]
        hits = cast_rays(world, start + _OFFSET * toward, toward, t=t,
                         tmax=distance - 2 * _OFFSET, targets=False, backend=backend)  # fmt: skip
        visible[p_index, v_index] = hits.code == HIT_NONE
    return visible, covered


def optical_visibility(
    world: World,
    poses: np.ndarray,
    virtual_pose: np.ndarray,
    *,
    camera: Camera | None = None,
    virtual_camera: Camera | None = None,
    t: float = 0.0,
    target: int | None = 0,
    backend: str = "cpu",
) -> Visibility:
    """Optical visibility of a target in the integral of views ``poses`` seen from
    ``virtual_pose`` (see the module docstring)."""
    camera = world.camera if camera is None else camera
    virtual_camera = camera if virtual_camera is None else virtual_camera
    footprint = target_footprint(world, virtual_pose, camera=virtual_camera, t=t, target=target)
    shape = footprint.mask.shape
    fraction = np.zeros(shape)
    covering = np.zeros(shape, np.int32)
    visible, covered = unoccluded(world, footprint.points[footprint.mask], poses, camera=camera,
                                  t=t, backend=backend)  # fmt: skip
    n_cover = covered.sum(axis=1)
    covering[footprint.mask] = n_cover
    ok = n_cover > 0
    per_pixel = np.zeros(len(n_cover))
    per_pixel[ok] = visible[ok].sum(axis=1) / n_cover[ok]
    fraction[footprint.mask] = per_pixel
    value = float(per_pixel[ok].mean()) if ok.any() else math.nan
    return Visibility(value, fraction, covering, footprint)


def focal_visibility(
    world: World,
    poses: np.ndarray,
    virtual_pose: np.ndarray,
    *,
    focal: Focal | None = None,
    camera: Camera | None = None,
    virtual_camera: Camera | None = None,
    t: float = 0.0,
    backend: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Per virtual pixel, the unoccluded fraction of the views covering its focal-surface point.

    Returns:
        ``(fraction, covering)``: (H, W) float64 fraction of covering views that see the point
        (0 where none covers it) and (H, W) int32 number of covering views.
    """
    camera = world.camera if camera is None else camera
    virtual_camera = camera if virtual_camera is None else virtual_camera
    points = focal_points(virtual_camera, virtual_pose, FocalPlane() if focal is None else focal)
    shape = points.shape[:2]
    hit = np.all(np.isfinite(points), axis=-1)
    visible, covered = unoccluded(world, points[hit], poses, camera=camera, t=t, backend=backend)
    covering = np.zeros(shape, np.int32)
    covering[hit] = covered.sum(axis=1)
    fraction = np.zeros(shape)
    seen = np.zeros(shape)
    seen[hit] = visible.sum(axis=1)
    np.divide(seen, covering, out=fraction, where=covering > 0)
    return fraction, covering


def pixel_areas(camera: Camera, pose: np.ndarray, focal: Focal | None = None, *,
                window: Window | None = None) -> np.ndarray:  # fmt: skip
    """(H, W) area in m² of each pixel's footprint on the focal surface (0 where it misses),
    or of the pixels of ``window`` only.

    Each pixel's four corners are placed on the surface and the quadrilateral's area is half
    the norm of the cross product of its diagonals.
    """
    focal = FocalPlane() if focal is None else focal
    rows, cols = (slice(0, camera.height), slice(0, camera.width)) if window is None else window
    ju, iv = np.meshgrid(np.arange(cols.start, cols.stop + 1.0),
                         np.arange(rows.start, rows.stop + 1.0))  # fmt: skip
    corners = focal_points(camera, pose, focal, np.stack([ju, iv], axis=-1))
    diagonal_a = corners[1:, 1:] - corners[:-1, :-1]
    diagonal_b = corners[1:, :-1] - corners[:-1, 1:]
    area = 0.5 * np.linalg.norm(np.cross(diagonal_a, diagonal_b), axis=-1)
    return np.where(np.isfinite(area), area, 0.0)


def detection_coverage(mask: np.ndarray, footprint: np.ndarray, areas: np.ndarray | None = None
                       ) -> float:  # fmt: skip
    """Detected area inside the footprint / footprint area (NaN for an empty footprint).

    Args:
        mask: (H, W) bool detection (anomaly) mask.
        footprint: (H, W) bool target footprint.
        areas: (H, W) pixel areas on the focal surface (default: equal areas).
    """
    mask = np.asarray(to_numpy(mask), np.bool_)
    footprint = np.asarray(footprint, np.bool_)
    areas = np.ones(mask.shape) if areas is None else areas
    total = float(areas[footprint].sum())
    return float(areas[mask & footprint].sum()) / total if total > 0 else math.nan


def false_alarm_area(mask: np.ndarray, footprint: np.ndarray, areas: np.ndarray) -> float:
    """Area in m² of detected pixels outside the target footprint."""
    mask = np.asarray(to_numpy(mask), np.bool_)
    return float(areas[mask & ~np.asarray(footprint, np.bool_)].sum())


def detection_report(
    mask: np.ndarray,
    footprint: np.ndarray,
    *,
    camera: Camera,
    pose: np.ndarray,
    focal: Focal | None = None,
    target_position: np.ndarray | None = None,
    min_area: int = 1,
) -> dict[str, float | int | list[float] | None]:
    """Detection metrics of one mask in one (virtual) view, JSON-ready (None: undefined).

    Args:
        mask: (H, W) bool detection mask.
        footprint: (H, W) bool target footprint in the same view.
        camera, pose, focal: The view and the focal surface (pixel areas, blob positions).
        target_position: (2,) true ground position of the target in metres.
        min_area: Smallest blob (pixels) considered for the position estimate.

    Returns:
        ``detection_coverage``, ``detection_error_m`` (largest blob), ``false_alarm_m2``,
        ``detected_px``, ``footprint_px``, ``blobs``, ``largest_blob_px`` and
        ``largest_blob_xy`` (metres).
    """
    mask = np.asarray(to_numpy(mask), np.bool_)
    areas = pixel_areas(camera, pose, focal)
    coverage = detection_coverage(mask, footprint, areas)
    blobs = find_blobs(mask, min_area=min_area, camera=camera, pose=pose, focal=focal)
    largest = blobs.largest()
    error = None
    xy = None
    if largest is not None and largest.ground is not None and math.isfinite(largest.ground[0]):
        xy = [largest.ground[0], largest.ground[1]]
        if target_position is not None:
            error = float(math.hypot(xy[0] - target_position[0], xy[1] - target_position[1]))
    return {
        "detection_coverage": None if math.isnan(coverage) else coverage,
        "detection_error_m": error,
        "false_alarm_m2": false_alarm_area(mask, footprint, areas),
        "detected_px": int(mask.sum()),
        "footprint_px": int(np.asarray(footprint).sum()),
        "blobs": len(blobs),
        "largest_blob_px": None if largest is None else largest.area,
        "largest_blob_xy": xy,
    }
