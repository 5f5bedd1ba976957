"""Synthetic-aperture sensing: integral images, RX anomaly detection, blobs and metrics.

Example::

    frames = render(world, poses, backend="cpu", rng=rng)
    integral = integrate(frames.thermal, frames.poses, poses[:1], camera=world.camera,
                         focal=FocalPlane(height=0.0))
    masks = anomaly_masks(np.concatenate([frames.rgb / 255.0, frames.thermal[..., None]], -1))
    detections = integrated_mask(integrate(masks, frames.poses, poses[:1], camera=world.camera))
    blob = largest_blob(detections[0], camera=world.camera, pose=poses[0])
"""

from swarmsim.aperture.blobs import Blob, Blobs, find_blobs, label, largest_blob
from swarmsim.aperture.detect import (
    DEFAULT_QUANTILE,
    anomaly_masks,
    integrated_mask,
    rx,
    rx_global,
    rx_local,
    rx_masks,
    threshold,
)
from swarmsim.aperture.integrate import (
    FocalPlane,
    FocalSurface,
    Integral,
    focal_points,
    foreground,
    integrate,
    pixel_directions,
)
from swarmsim.aperture.metrics import (
    Footprint,
    Visibility,
    detection_coverage,
    detection_report,
    false_alarm_area,
    focal_visibility,
    optical_visibility,
    pixel_areas,
    target_footprint,
    unoccluded,
)

__all__ = [
    "DEFAULT_QUANTILE",
    "Blob",
    "Blobs",
    "FocalPlane",
    "FocalSurface",
    "Footprint",
    "Integral",
    "Visibility",
    "anomaly_masks",
    "detection_coverage",
    "detection_report",
    "false_alarm_area",
    "find_blobs",
    "focal_points",
    "focal_visibility",
    "foreground",
    "integrate",
    "integrated_mask",
    "label",
    "largest_blob",
    "optical_visibility",
    "pixel_areas",
    "pixel_directions",
    "rx",
    "rx_global",
    "rx_local",
    "rx_masks",
    "target_footprint",
    "threshold",
    "unoccluded",
]
