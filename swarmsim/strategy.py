"""The swarm-strategy protocol and the types it exchanges with the mission loop.

A strategy sees one `Observation` per iteration (what the swarm sensed and integrated) and answers
with a `Plan` (the next waypoints and what it concluded). Implementations live in `controllers/`
(or in a user's own module) and are found by name or import path through
`controllers.registry`; `swarmsim` itself never imports them. A mission can also run without a
strategy: then its caller (an environment's agent, a person at the viewer) makes every plan.

Names: `Observation.integral` is the `Integral` of this capture's masks; `Plan.integral_image`
is the (H, W) image of the plan's result; `IterationRecord.integral_visibility` the scalar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from swarmsim.aperture.integrate import Focal, Integral
from swarmsim.sensing.camera import Camera

__all__ = ["Observation", "Plan", "Strategy"]


@dataclass(frozen=True, eq=False)
class Observation:
    """What the swarm knows after one capture.

    Attributes:
        time: Simulation time of the capture in seconds.
        iteration: 0-based iteration index.
        positions: (n, 3) drone positions in metres.
        poses: (n, 5) camera poses ``[x, y, z, yaw, pitch]`` of the captures (radians).
        masks: (n, H, W) bool per-image RX anomaly masks.
        integral: The n masks integrated on the focal surface, seen from every drone's viewpoint
            (m = n virtual views, one channel).
        blob_areas: (n,) int64 largest-blob area in pixels of each viewpoint's integral (any
            covered pixel with a non-zero sum is foreground, like the paper's code).
        leader: Index of the drone whose viewpoint shows the largest blob (the first on ties).
        camera: Intrinsics of every drone camera.
        focal: The focal surface of the integration.
        sampling: Sampling of the mask registration ("bilinear" or "nearest"); strategies
            that integrate masks themselves use the same.
    """

    time: float
    iteration: int
    positions: np.ndarray
    poses: np.ndarray
    masks: np.ndarray
    integral: Integral
    blob_areas: np.ndarray
    leader: int
    camera: Camera
    focal: Focal
    sampling: str = "bilinear"


@dataclass(frozen=True, eq=False)
class Plan:
    """A strategy's answer to one observation.

    Attributes:
        waypoints: (n, 3) next positions in metres.
        objective: The strategy's objective this iteration (PSO: accepted blob area, pixels).
        leader: The drone the strategy follows (None: no leader).
        history: Images the strategy's result integrates (PSO: the accepted history).
        detected: The strategy believes a target is in view (PSO: objective >= T).
        view_pose: (5,) pose the result is seen from (None: no result yet).
        detection: (H, W) bool detection mask in ``view_pose`` (None: none).
        estimate: (2,) estimated target ground position in metres (None: none).
        views: (k, 5) poses of the images integrated into the result (for the visibility
            metric; None: none).
        integral_image: (H, W) float fraction of the result's covering views whose anomaly
            masks flag each pixel of ``view_pose``: the result's integral image (for the
            integral visibility metric; None: none).
        mode: Short name of the branch taken (e.g. "scan", "converge").
        speed: Ground speed for this leg in m/s (None: the dynamics' default).
        done: The strategy has finished (a blind sweep at its path's end): the mission ends.
        info: Extra JSON-ready figures for the trace.

    A plan without ``views``, ``view_pose``, ``detection`` or ``integral_image`` is scored on
    the observation it answers: the views just captured, seen from the leader (see
    `swarmsim.scores.observation_result`).
    """

    waypoints: np.ndarray
    objective: float = 0.0
    leader: int | None = None
    history: int = 0
    detected: bool = False
    view_pose: np.ndarray | None = None
    detection: np.ndarray | None = None
    estimate: np.ndarray | None = None
    views: np.ndarray | None = None
    integral_image: np.ndarray | None = None
    mode: str = ""
    speed: float | None = None
    done: bool = False
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Strategy(Protocol):
    """A swarm strategy: start formation and one plan per observation."""

    name: str

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """Initial drone positions (n, 3) in metres and headings (n,) in radians."""
        ...

    def plan(self, observation: Observation) -> Plan:
        """The next waypoints (and conclusions) for one observation."""
        ...
