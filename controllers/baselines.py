"""Blind sampling baselines of the AOS swarm paper: no adaptation to what the drones see.

The paper gives no parameters for them; ours (scene keys of ``[strategy]``):

* **Sequential brute force** (``brute-force``): one drone at h1 flies a lawnmower over a
  ``sweep = [across, along]`` rectangle that starts at the swarm's start centre and extends along
  the scan direction; lanes run along the scan direction, ``lane_spacing`` apart; it captures every
  ``capture_spacing`` metres (1 m) and integrates every image it took.
* **Parallel sampling** (``parallel``): the n-drone line formation (spacing c4, staggered
  altitudes) flies straight along the scan direction for ``sweep[1]`` metres, capturing every
  ``capture_spacing`` metres and integrating every image.

Both report, every iteration, the integral of all their images that overlap the view of the
drone with the largest blob, seen from that drone; the detection is the largest blob of it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from controllers.pso import ThresholdParams, largest_area, overlapping
from swarmsim.aperture.blobs import find_blobs
from swarmsim.aperture.integrate import foreground, integrate
from swarmsim.formation import across, direction, line_offsets, staggered_altitudes
from swarmsim.scene import Scene, scene_key
from swarmsim.strategy import Observation, Plan

__all__ = ["BruteForce", "BruteForceParams", "ParallelParams", "ParallelSampling", "lawnmower"]


@dataclass(frozen=True, kw_only=True)
class BruteForceParams(ThresholdParams):
    """The lawnmower of one drone at h1, capturing every `capture_spacing` metres."""

    sweep: tuple[float, float] = scene_key(
        (40.0, 40.0),
        "Extent [across, along] of the searched rectangle in front of the start.",
        unit="m",
        gt=0,
    )
    lane_spacing: float = scene_key(8.0, "Distance between lawnmower lanes.", unit="m", gt=0)
    capture_spacing: float = scene_key(1.0, "Distance flown between two captures.", unit="m", gt=0)


@dataclass(frozen=True, kw_only=True)
class ParallelParams(ThresholdParams):
    """The line formation flying straight along the scan direction, capturing as it goes."""

    sweep: tuple[float, float] = scene_key(
        (40.0, 40.0),
        "Extent [across, along] of the searched rectangle in front of the start (the line "
        "flies the along part).",
        unit="m",
        gt=0,
    )
    c4: float = scene_key(4.2, "Line spacing.", unit="m", gt=0)
    capture_spacing: float = scene_key(1.0, "Distance flown between two captures.", unit="m", gt=0)


def lawnmower(
    start: np.ndarray, heading: float, sweep: tuple[float, float], lane: float, spacing: float
) -> np.ndarray:
    """(k, 2) capture points every ``spacing`` metres along a lawnmower path.

    Lanes run along the heading's direction, ``lane`` metres apart, covering ``sweep[0]`` metres
    across (centred on ``start``) and ``sweep[1]`` metres along, starting at ``start``.
    """
    d = direction(heading)
    side = across(heading)
    lanes = max(1, math.floor(sweep[0] / lane + 1e-9) + 1)
    offsets = line_offsets(lanes, lane)
    ends = []
    for k, off in enumerate(offsets):
        a = start + off * side
        b = a + sweep[1] * d
        ends += [a, b] if k % 2 == 0 else [b, a]
    corners = np.array(ends)
    points = [corners[0]]
    for p, q in itertools.pairwise(corners):
        length = float(np.hypot(*(q - p)))
        steps = max(1, math.ceil(length / spacing - 1e-9))
        t = np.arange(1, steps + 1) / steps
        points.extend(p + t[:, None] * (q - p))
    return np.array(points)


class _Blind:
    """Shared part: follow a fixed path of formations, integrate everything."""

    name = "blind"

    def __init__(self, *, path: np.ndarray, altitudes: np.ndarray, heading: float,
                 threshold: float, backend: str = "cpu") -> None:  # fmt: skip
        self.path = path  # (k, n, 2) formation positions per capture
        self.altitudes = altitudes
        self.heading = float(heading)
        self.threshold = float(threshold)
        self.backend = backend
        self.index = 0
        self.poses = np.zeros((0, 5))
        self.masks: list[np.ndarray] = []

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        positions = np.column_stack([self.path[0], self.altitudes])
        return positions, np.full(len(positions), self.heading)

    def plan(self, observation: Observation) -> Plan:
        """Keep every image; detect in the integral seen from the drone with the largest blob."""
        obs = observation
        self.poses = np.concatenate([self.poses, obs.poses])
        self.masks.extend(obs.masks)
        view = obs.poses[obs.leader]
        near = overlapping(self.poses, view, obs.camera)
        masks = np.stack([m for m, k in zip(self.masks, near, strict=True) if k])
        total = integrate(masks, self.poses[near], view, camera=obs.camera, focal=obs.focal,
                          backend=self.backend, sampling=obs.sampling).to_numpy()  # fmt: skip
        fg = foreground(total.sum[0, ..., 0])
        blobs = find_blobs(fg, camera=obs.camera, pose=view, focal=obs.focal)
        largest = blobs.largest()
        detection = np.zeros(fg.shape, np.bool_)
        estimate = None
        objective = 0
        if largest is not None:
            detection = fg & largest.box_mask(fg.shape)
            objective = largest_area(detection)
            if largest.ground is not None and math.isfinite(largest.ground[0]):
                estimate = np.array(largest.ground[:2])
        # This capture was taken at the path's last point: the sweep is over.
        done = bool(self.index >= len(self.path) - 1)
        self.index = min(self.index + 1, len(self.path) - 1)
        waypoints = np.column_stack([self.path[self.index], self.altitudes])
        return Plan(
            waypoints=waypoints,
            objective=float(objective),
            leader=int(obs.leader),
            history=len(self.masks),
            detected=objective >= self.threshold,
            view_pose=view.copy(),
            detection=detection,
            estimate=estimate,
            views=self.poses[near],
            integral_image=total.image[0, ..., 0],
            mode="sample",
            done=done,
        )


class BruteForce(_Blind):
    """One drone on a lawnmower path at h1, capturing every ``spacing`` metres."""

    name = "brute-force"
    Params = BruteForceParams

    @classmethod
    def from_scene(
        cls, scene: Scene, rng: np.random.Generator, backend: str, params: BruteForceParams
    ) -> BruteForce:
        """The lawnmower from the scene's start, at its lowest altitude h1."""
        w = scene.swarm
        return cls(
            start=w.start,
            heading=math.radians(w.heading),
            sweep=params.sweep,
            lane=params.lane_spacing,
            spacing=params.capture_spacing,
            altitude=w.altitude,
            threshold=params.threshold_px(scene.camera.resolution),
            backend=backend,
        )

    def __init__(self, *, start: tuple[float, float], heading: float, sweep: tuple[float, float],
                 lane: float, spacing: float, altitude: float, threshold: float,
                 backend: str = "cpu") -> None:  # fmt: skip
        points = lawnmower(np.asarray(start, np.float64), heading, sweep, lane, spacing)
        super().__init__(path=points[:, None, :], altitudes=np.array([altitude]),
                         heading=heading, threshold=threshold, backend=backend)  # fmt: skip


class ParallelSampling(_Blind):
    """The n-drone line formation flying straight along the scan direction."""

    name = "parallel"
    Params = ParallelParams

    @classmethod
    def from_scene(
        cls, scene: Scene, rng: np.random.Generator, backend: str, params: ParallelParams
    ) -> ParallelSampling:
        """The scene's swarm in a line of spacing c4, flying ``sweep[1]`` metres straight."""
        w = scene.swarm
        return cls(
            n=w.drones,
            start=w.start,
            heading=math.radians(w.heading),
            length=params.sweep[1],
            c4=params.c4,
            spacing=params.capture_spacing,
            altitude=w.altitude,
            altitude_step=w.altitude_step,
            threshold=params.threshold_px(scene.camera.resolution),
            backend=backend,
        )

    def __init__(self, *, n: int, start: tuple[float, float], heading: float, length: float,
                 c4: float, spacing: float, altitude: float, altitude_step: float,
                 threshold: float, backend: str = "cpu") -> None:  # fmt: skip
        d = direction(heading)
        line = np.asarray(start, np.float64) + line_offsets(n, c4)[:, None] * across(heading)
        steps = max(1, math.ceil(length / spacing - 1e-9))
        along = np.linspace(0.0, length, steps + 1)
        path = line[None, :, :] + along[:, None, None] * d
        super().__init__(path=path, altitudes=staggered_altitudes(n, altitude, altitude_step),
                         heading=heading, threshold=threshold, backend=backend)  # fmt: skip
