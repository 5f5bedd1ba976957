"""Scores of one mission iteration: the ground truth the renderer knows and what the swarm sees.

Ground truth (for evaluation and for rewarding agents in simulation):

* `target_visibility`: optical visibility of a target through a set of views, measured from
  above the target (the fraction of its surface that the views see unoccluded, averaged over
  the views covering each point) and how many views cover it;
* `target_detection`: the share of the target's footprint a detection mask covers;
* `integral_visibility`: an integral image of anomaly masks averaged over the target's footprint
  (the fraction of integrated views that flag it).

Observable (what a strategy or an agent can compute from an `Observation`):

* `leader_blob_area`: pixels of the largest blob in the leader's integral of anomaly masks;
* `anomaly_area`: ground area flagged in the leader's integral of anomaly masks.

`score_plan` scores any plan; a plan that names no result of its own (a bare
``Plan(waypoints=...)``) is scored on `observation_result`, the views just captured seen from the
leader.

Definitions of the underlying metrics: `swarmsim.aperture.metrics`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from swarmsim.aperture.blobs import find_blobs
from swarmsim.aperture.integrate import Focal, foreground
from swarmsim.aperture.metrics import (
    detection_coverage,
    optical_visibility,
    pixel_areas,
    target_footprint,
)
from swarmsim.strategy import Observation, Plan
from swarmsim.world.world import World

__all__ = [
    "Result",
    "Score",
    "anomaly_area",
    "integral_visibility",
    "leader_blob_area",
    "observation_result",
    "plan_result",
    "score_plan",
    "target_detection",
    "target_position_only",
    "target_visibility",
]


@dataclass(frozen=True, eq=False)
class Result:
    """What a plan's result is made of (any part may be None).

    Attributes:
        views: (k, 5) poses of the integrated images.
        view_pose: (5,) pose the result is seen from.
        detection: (H, W) bool detection mask in ``view_pose``.
        integral_image: (H, W) float integral image of anomaly masks in ``view_pose``.
    """

    views: np.ndarray | None
    view_pose: np.ndarray | None
    detection: np.ndarray | None
    integral_image: np.ndarray | None


@dataclass(frozen=True)
class Score:
    """Ground-truth figures of one iteration for target 0 (NaN: no target).

    Attributes:
        visibility: Optical visibility through the result's views (0: no view near the target).
        detection: Coverage of the target by the result's detection mask.
        integral_visibility: The result's integral image averaged over the target's footprint.
        views: Mean number of the result's views covering a point of the target.
        target: (2,) true ground position of the target in metres.
    """

    visibility: float
    detection: float
    integral_visibility: float
    views: float
    target: np.ndarray


def target_visibility(
    world: World, views: np.ndarray, *, t: float, altitude: float, target: int = 0
) -> tuple[float, float]:
    """Optical visibility of a target through ``views`` and the views covering it.

    Measured in a virtual nadir view at ``altitude`` metres straight above the target (yawed like
    the first view near it); views whose footprints cannot reach the target do not count.

    Args:
        world: The world.
        views: (k, 5) camera poses ``[x, y, z, yaw, pitch]``.
        t: Simulation time in seconds.
        altitude: Height of the virtual view in metres.
        target: Index of the target.

    Returns:
        ``(visibility, covering)``: visibility in [0, 1] (0 without a view near the target)
        and the mean number of views covering a point of its footprint.
    """
    views = np.asarray(views, np.float64).reshape(-1, 5)
    if not len(views):
        return 0.0, 0.0
    position = np.asarray(world.targets[target].position(t), np.float64)
    reach = np.hypot(*world.camera.footprint(1.0)) * 0.5 * views[:, 2]
    near = views[np.hypot(views[:, 0] - position[0], views[:, 1] - position[1]) < reach]
    if not len(near):
        return 0.0, 0.0
    virtual = np.array([position[0], position[1], altitude, near[0, 3], 0.0])
    seen = optical_visibility(world, near, virtual, t=t, target=target)
    visibility = float(seen.value) if math.isfinite(seen.value) else 0.0
    covering = float(seen.covering[seen.footprint.mask].mean()) if seen.footprint.pixels else 0.0
    return visibility, covering


def target_detection(
    world: World,
    view_pose: np.ndarray,
    mask: np.ndarray,
    *,
    t: float,
    focal: Focal | None = None,
    target: int = 0,
) -> float:
    """Share of a target's footprint in ``view_pose`` that a (H, W) bool ``mask`` covers,
    weighted by the ground area of each pixel (0 when the target is out of view)."""
    if not np.any(mask):
        return 0.0
    fp = target_footprint(world, view_pose, t=t, target=target)
    if not fp.pixels:
        return 0.0
    box = fp.window  # pixels outside the footprint do not count
    areas = pixel_areas(world.camera, view_pose, focal, window=box)
    return float(detection_coverage(np.asarray(mask)[box], fp.mask[box], areas))


def integral_visibility(
    world: World, view_pose: np.ndarray, image: np.ndarray, *, t: float, target: int = 0
) -> float:
    """Mean of a (H, W) integral image of anomaly masks over a target's footprint in
    ``view_pose`` (0 when the target is out of view or the image is empty)."""
    if not np.any(image):
        return 0.0
    fp = target_footprint(world, view_pose, t=t, target=target)
    return float(np.mean(np.asarray(image)[fp.mask])) if fp.pixels else 0.0


def observation_result(observation: Observation) -> Result:
    """The result an observation holds by itself: its views integrated from the leader's
    viewpoint, with every pixel flagged in that integral as the detection."""
    obs = observation
    leader = int(obs.leader)
    return Result(
        views=obs.poses,
        view_pose=obs.poses[leader],
        detection=foreground(np.asarray(obs.integral.sum[leader, ..., 0])),
        integral_image=np.asarray(obs.integral.image[leader, ..., 0]),
    )


def plan_result(plan: Plan, observation: Observation) -> Result:
    """The plan's own result, or the observation's when the plan names none."""
    if plan.views is None and plan.view_pose is None:
        return observation_result(observation)
    return Result(plan.views, plan.view_pose, plan.detection, plan.integral_image)


def score_plan(world: World, plan: Plan, observation: Observation, *, altitude: float) -> Score:
    """Ground-truth score of target 0 for the plan answering ``observation``.

    Args:
        world: The world of the mission.
        plan: Any plan; see `plan_result` for plans without a result of their own.
        observation: The observation the plan answers (its time and focal surface).
        altitude: Height of the virtual view above the target for the optical visibility.
    """
    t = observation.time
    if not world.targets:
        return target_position_only(world, t)
    target = np.asarray(world.targets[0].position(t), np.float64)
    result = plan_result(plan, observation)
    visibility = covering = 0.0
    if result.views is not None:
        visibility, covering = target_visibility(world, result.views, t=t, altitude=altitude)
    detection = integral = 0.0
    if result.view_pose is not None:
        if result.detection is not None:
            detection = target_detection(
                world, result.view_pose, result.detection, t=t, focal=observation.focal
            )
        if result.integral_image is not None:
            integral = integral_visibility(world, result.view_pose, result.integral_image, t=t)
    return Score(visibility, detection, integral, covering, target)


def target_position_only(world: World, t: float) -> Score:
    """A `Score` holding only target 0's position at ``t`` (NaN elsewhere): what a mission
    records when it does not score against the truth."""
    nan = math.nan
    target = (
        np.asarray(world.targets[0].position(t), np.float64) if world.targets else np.full(2, nan)
    )
    return Score(nan, nan, nan, nan, target)


def leader_blob_area(observation: Observation) -> int:
    """Pixels of the largest blob in the leader's integral of anomaly masks."""
    return int(observation.blob_areas[observation.leader])


def anomaly_area(observation: Observation, *, blob: bool = False) -> float:
    """Ground area in m² flagged in the leader's integral of anomaly masks (on the focal
    surface); ``blob`` counts only its largest blob."""
    obs = observation
    leader = int(obs.leader)
    mask = foreground(np.asarray(obs.integral.sum[leader, ..., 0]))
    if blob:
        blobs = find_blobs(mask)
        if not len(blobs):
            return 0.0
        mask = blobs.labels == int(np.argmax(blobs.area)) + 1
    if not mask.any():
        return 0.0
    areas = pixel_areas(obs.camera, obs.poses[leader], obs.focal)
    return float(areas[mask].sum())
