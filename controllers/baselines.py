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

import numpy as np

from controllers.pso import direction, largest_area, line_offsets, overlapping, staggered_altitudes
from swarmsim.aperture.blobs import find_blobs
from swarmsim.aperture.integrate import foreground, integrate
from swarmsim.strategy import Observation, Plan

__all__ = ["BruteForce", "ParallelSampling", "lawnmower"]


def lawnmower(
    start: np.ndarray, heading: float, sweep: tuple[float, float], lane: float, spacing: float
) -> np.ndarray:
    """(k, 2) capture points every ``spacing`` metres along a lawnmower path.

    Lanes run along the heading's direction, ``lane`` metres apart, covering ``sweep[0]`` metres
    across (centred on ``start``) and ``sweep[1]`` metres along, starting at ``start``.
    """
    d = direction(heading)
    across = np.array([d[1], -d[0]])
    lanes = max(1, math.floor(sweep[0] / lane + 1e-9) + 1)
    offsets = line_offsets(lanes, lane)
    corners = []
    for k, off in enumerate(offsets):
        a = start + off * across
        b = a + sweep[1] * d
        corners += [a, b] if k % 2 == 0 else [b, a]
    corners = np.array(corners)
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
        done = self.index >= len(self.path) - 1
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
            integral=total.image[0, ..., 0],
            mode="sample",
            info={"done": done},
        )


class BruteForce(_Blind):
    """One drone on a lawnmower path at h1, capturing every ``spacing`` metres."""

    name = "brute-force"

    def __init__(self, *, start: tuple[float, float], heading: float, sweep: tuple[float, float],
                 lane: float, spacing: float, altitude: float, threshold: float,
                 backend: str = "cpu") -> None:  # fmt: skip
        points = lawnmower(np.asarray(start, np.float64), heading, sweep, lane, spacing)
        super().__init__(path=points[:, None, :], altitudes=np.array([altitude]),
                         heading=heading, threshold=threshold, backend=backend)  # fmt: skip


class ParallelSampling(_Blind):
    """The n-drone line formation flying straight along the scan direction."""

    name = "parallel"

    def __init__(self, *, n: int, start: tuple[float, float], heading: float, length: float,
                 c4: float, spacing: float, altitude: float, altitude_step: float,
                 threshold: float, backend: str = "cpu") -> None:  # fmt: skip
        d = direction(heading)
        across = np.array([d[1], -d[0]])
        line = np.asarray(start, np.float64) + line_offsets(n, c4)[:, None] * across
        steps = max(1, math.ceil(length / spacing - 1e-9))
        along = np.linspace(0.0, length, steps + 1)
        path = line[None, :, :] + along[:, None, None] * d
        super().__init__(path=path, altitudes=staggered_altitudes(n, altitude, altitude_step),
                         heading=heading, threshold=threshold, backend=backend)  # fmt: skip
