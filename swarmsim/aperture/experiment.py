"""One synthetic-aperture experiment: capture views, integrate, detect and score against the truth.

This is the pipeline behind ``swarmsim integrate`` and the demonstration tests: n drones over a
target capture thermal + RGB images; the thermal images are integrated on a focal plane and seen
from a virtual camera above the target; per-image RX masks are integrated the same way (the AOS
swarm's detection) and RX is also run on the integral images (the classic way); every
detection is scored with :mod:`swarmsim.aperture.metrics`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from swarmsim.aperture._cpu import stack_kernel
from swarmsim.aperture.detect import (
    DEFAULT_QUANTILE,
    anomaly_masks,
    integrated_mask,
    rx_masks,
)
from swarmsim.aperture.integrate import FocalPlane, Integral, integrate
from swarmsim.aperture.metrics import (
    Footprint,
    Visibility,
    detection_coverage,
    detection_report,
    optical_visibility,
    pixel_areas,
    target_footprint,
)
from swarmsim.backend import to_numpy
from swarmsim.sensing.camera import as_poses
from swarmsim.sensing.render import Frames, render

if TYPE_CHECKING:
    from swarmsim.world.world import World

PATTERNS = ("grid", "line", "random")
CHANNELS = ("all", "thermal")


def view_poses(
    pattern: str,
    count: int,
    *,
    spacing: float,
    centre: tuple[float, float] = (0.0, 0.0),
    altitude: float = 35.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """(count, 5) nadir poses (yaw 0) around ``centre`` at ``altitude`` metres.

    Args:
        pattern: ``"grid"``: the ``count`` points nearest the centre of a square grid of
            ``spacing``; ``"line"``: a line along x (east), ``spacing`` apart, centred (the AOS
            swarm's formation); ``"random"``: uniform in the square the grid would cover.
        count: Number of views (>= 1).
        spacing: Distance between neighbouring views in metres.
        rng: Source of the random pattern.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"pattern: expected one of {PATTERNS}, got {pattern!r}")
    if count < 1:
        raise ValueError(f"count: expected at least 1 view, got {count}")
    if not (math.isfinite(spacing) and spacing > 0.0):
        raise ValueError(f"spacing: expected metres > 0, got {spacing!r}")
    side = math.ceil(math.sqrt(count))
    if pattern == "line":
        offsets = np.column_stack([(np.arange(count) - 0.5 * (count - 1)) * spacing,
                                   np.zeros(count)])  # fmt: skip
    elif pattern == "grid":
        axis = (np.arange(side) - 0.5 * (side - 1)) * spacing
        gx, gy = np.meshgrid(axis, axis[::-1])
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        order = np.argsort(np.hypot(grid[:, 0], grid[:, 1]), kind="stable")
        offsets = grid[np.sort(order[:count])]
    else:
        rng = np.random.default_rng() if rng is None else rng
        half = 0.5 * max(side - 1, 1) * spacing
        offsets = rng.uniform(-half, half, (count, 2))
    poses = np.zeros((count, 5))
    poses[:, :2] = np.asarray(centre, np.float64) + offsets
    poses[:, 2] = altitude
    return poses


@dataclass(frozen=True)
class ApertureRun:
    """Everything one experiment produced.

    Attributes:
        frames: The captured views (host arrays).
        integral: Integral of the thermal images (one virtual view, one channel).
        mask_integral: Integral of the per-image anomaly masks.
        detection: (H, W) bool, integrated masks thresholded (the swarm's approach).
        classic: (H, W) bool, RX on the integral thermal + RGB image.
        single_masks: (n, H, W) bool per-image anomaly masks.
        footprint: Target footprint in the virtual view (None without targets).
        visibility: Optical visibility of the target in the integral (None without targets).
        report: JSON-ready figures (see :func:`run`).
    """

    frames: Frames
    integral: Integral
    mask_integral: Integral
    detection: np.ndarray
    classic: np.ndarray
    single_masks: np.ndarray
    footprint: Footprint | None
    visibility: Visibility | None
    report: dict


def detection_stack(frames: Frames, channels: str = "all", *, out: np.ndarray | None = None
                    ) -> np.ndarray:  # fmt: skip
    """(n, H, W, C) float32 images RX runs on: R, G, B in [0, 1] and thermal (``"all"``), or
    thermal alone (``"thermal"``); written into ``out`` when given."""
    if channels not in CHANNELS:
        raise ValueError(f"channels: expected one of {CHANNELS}, got {channels!r}")
    thermal = np.ascontiguousarray(to_numpy(frames.thermal), np.float32)
    shape = (*thermal.shape, 4 if channels == "all" else 1)
    stack = np.empty(shape, np.float32) if out is None else out
    if stack.shape != shape or stack.dtype != np.float32:
        raise ValueError(f"out: expected float32 {shape}, got {stack.dtype} {stack.shape}")
    if channels == "thermal":
        stack[..., 0] = thermal
    else:
        stack_kernel(np.ascontiguousarray(to_numpy(frames.rgb)), thermal, stack)
    return stack


def _none_if_nan(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def run(
    world: World,
    poses: np.ndarray,
    virtual_pose: np.ndarray | list | tuple,
    *,
    focal: FocalPlane | None = None,
    t: float = 0.0,
    rng: np.random.Generator | None = None,
    backend: str = "cpu",
    channels: str = "all",
    method: str = "global",
    quantile: float = DEFAULT_QUANTILE,
    min_fraction: float = 0.0,
) -> ApertureRun:
    """Capture, integrate, detect and score one synthetic aperture over the world's target 0.

    Args:
        world: A :class:`swarmsim.World`.
        poses: (n, 3|4|5) drone camera poses.
        virtual_pose: Pose of the virtual camera the integral is seen from.
        focal: Focal surface (default: the ground).
        t: Time in seconds.
        rng: Sensor noise source (None: noise-free images).
        backend: Render and integration backend.
        channels: RX input, ``"all"`` (RGB + thermal, like the AOS swarm) or ``"thermal"``.
        method: ``"global"`` or ``"local"`` RX.
        quantile: RX score quantile of every threshold.
        min_fraction: Integrated masks above this fraction of covering views are detections
            (0: the union, as the swarm).

    Returns:
        :class:`ApertureRun`; ``report`` holds ``views``, ``optical_visibility``,
        ``detection_coverage``, ``detection_error_m``, ``false_alarm_m2`` (the integrated
        masks), ``classic_*`` (RX on the integral), ``single_*`` (each view on its own: best
        and mean coverage, mean visibility) and the geometry. Undefined figures are None.
    """
    focal = FocalPlane() if focal is None else focal
    poses = as_poses(poses)
    vpose = as_poses(virtual_pose)
    camera = world.camera
    frames = render(world, poses, t, backend=backend, rng=rng).to_numpy()
    integral = integrate(frames.thermal, frames.poses, vpose, camera=camera, focal=focal,
                         backend=backend).to_numpy()  # fmt: skip
    stack = detection_stack(frames, channels)
    single = anomaly_masks(stack, method=method, quantile=quantile)
    mask_integral = integrate(single, frames.poses, vpose, camera=camera, focal=focal,
                              backend=backend).to_numpy()  # fmt: skip
    detection = integrated_mask(mask_integral, min_fraction=min_fraction)[0]
    colour = integrate(stack, frames.poses, vpose, camera=camera, focal=focal,
                       backend=backend).to_numpy()  # fmt: skip
    classic = rx_masks(colour, method=method, quantile=quantile)[0]

    report: dict = {
        "views": len(poses),
        "view_poses": [[round(float(v), 4) for v in (*p[:3], math.degrees(p[3]))] for p in poses],
        "virtual_pose": [round(float(v), 4) for v in (*vpose[0, :3], math.degrees(vpose[0, 3]))],
        "focal_height_m": focal.height,
        "time_s": float(t),
        "channels": channels,
        "rx_method": method,
        "rx_quantile": quantile,
        "covered_fraction": float(integral.valid[0].mean()),
    }
    footprint = visibility = None
    if world.targets:
        target_xy = world.targets[0].position(t)
        visibility = optical_visibility(world, poses, vpose[0], t=t, target=0)
        footprint = visibility.footprint
        scores = detection_report(detection, footprint.mask, camera=camera, pose=vpose[0],
                                  focal=focal, target_position=target_xy)  # fmt: skip
        classic_scores = detection_report(classic, footprint.mask, camera=camera, pose=vpose[0],
                                          focal=focal, target_position=target_xy)  # fmt: skip
        single_coverages = []
        single_visibilities = []
        for v, pose in enumerate(poses):
            fp = target_footprint(world, pose, t=t, target=0)
            areas = pixel_areas(camera, pose, focal)
            single_coverages.append(detection_coverage(single[v], fp.mask, areas))
            seen = frames.target_id[v] == 0
            single_visibilities.append(seen.sum() / fp.pixels if fp.pixels else math.nan)
        singles = np.array(single_coverages)
        single_visibility = np.array(single_visibilities)
        defined = np.isfinite(singles)
        classic_keys = ("detection_coverage", "detection_error_m", "false_alarm_m2", "detected_px")
        report.update(
            {
                "target_position": [float(v) for v in target_xy],
                "optical_visibility": _none_if_nan(visibility.value),
                **scores,
                **{f"classic_{k}": classic_scores[k] for k in classic_keys},
                "single_detection_coverage": [_none_if_nan(v) for v in singles],
                "single_detection_coverage_best": _none_if_nan(singles[defined].max())
                if defined.any()
                else None,
                "single_detection_coverage_mean": _none_if_nan(singles[defined].mean())
                if defined.any()
                else None,
                "single_visible_fraction_mean": _none_if_nan(np.nanmean(single_visibility))
                if np.isfinite(single_visibility).any()
                else None,
            }
        )
    if "nadir_occlusion_density" in world.stats:
        report["nadir_occlusion_density"] = world.stats["nadir_occlusion_density"]
    return ApertureRun(frames, integral, mask_integral, detection, classic, single, footprint,
                       visibility, report)  # fmt: skip
