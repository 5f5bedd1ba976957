"""Constant-speed waypoint flight: the AOS swarm paper's time accounting.

All drones leave together and fly straight lines at the same ground speed; an iteration lasts
until the farthest drone arrives, ``max_i |w_i - p_i| / v``, plus an optional fixed capture and
processing latency (the paper counts none).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["DEFAULT_SPEED", "Kinematic"]

DEFAULT_SPEED = 10.0  # m/s, the paper's ground speed


class Kinematic:
    """Batched kinematic drones that arrive exactly at their waypoints.

    Args:
        n: Number of drones.
        speed: Default ground speed in m/s.
        latency: Seconds added to every `fly_to` (capture and processing time).
        frame_rate: Intermediate poses per simulated second handed to a `fly_to` callback.
    """

    def __init__(
        self,
        n: int,
        *,
        speed: float = DEFAULT_SPEED,
        latency: float = 0.0,
        frame_rate: float = 30.0,
    ) -> None:
        if n < 1:
            raise ValueError(f"n: expected at least 1 drone, got {n}")
        if not (math.isfinite(speed) and speed > 0.0):
            raise ValueError(f"speed: expected m/s > 0, got {speed!r}")
        if not (math.isfinite(latency) and latency >= 0.0):
            raise ValueError(f"latency: expected seconds >= 0, got {latency!r}")
        if not (math.isfinite(frame_rate) and frame_rate > 0.0):
            raise ValueError(f"frame_rate: expected Hz > 0, got {frame_rate!r}")
        self.frame_rate = float(frame_rate)
        self.n = int(n)
        self.speed = float(speed)
        self.latency = float(latency)
        self._positions = np.zeros((self.n, 3))
        self._velocities = np.zeros((self.n, 3))
        self._headings = np.zeros(self.n)
        self._time = 0.0

    def reset(self, positions: np.ndarray, headings: np.ndarray) -> None:
        """Place the drones at rest: positions (n, 3) metres, headings (n,) radians."""
        positions = np.array(positions, np.float64).reshape(self.n, 3)
        headings = np.array(headings, np.float64).reshape(self.n)
        if not (np.all(np.isfinite(positions)) and np.all(np.isfinite(headings))):
            raise ValueError("reset: expected finite positions and headings")
        self._positions = positions
        self._headings = headings
        self._velocities = np.zeros((self.n, 3))
        self._time = 0.0

    def fly_to(
        self,
        waypoints: np.ndarray,
        *,
        speed: float | None = None,
        callback: Callable[[Kinematic], None] | None = None,
    ) -> float:
        """Fly every drone straight to its waypoint (n, 3); returns the elapsed seconds.

        ``callback(self)`` runs at ``frame_rate`` intermediate poses along the legs (each drone
        at the common speed, waiting at its waypoint) and once more at the arrival.
        """
        waypoints = np.array(waypoints, np.float64).reshape(self.n, 3)
        if not np.all(np.isfinite(waypoints)):
            raise ValueError("fly_to: expected finite waypoints")
        v = self.speed if speed is None else float(speed)
        if not (math.isfinite(v) and v > 0.0):
            raise ValueError(f"speed: expected m/s > 0, got {speed!r}")
        delta = waypoints - self._positions
        distance = np.linalg.norm(delta, axis=1)
        flight = float(distance.max()) / v
        moving = distance > 0.0
        # Every drone flies at v and waits at its waypoint; the velocity kept is the one of the leg.
        self._velocities = np.zeros((self.n, 3))
        self._velocities[moving] = delta[moving] / distance[moving, None] * v
        t0 = self._time
        if callback is not None:
            self._frames(waypoints, distance, v, flight, callback)
        # The camera keeps its heading: the swarm flies nadir-looking with fixed yaw.
        self._positions = waypoints
        elapsed = flight + self.latency
        if callback is not None:
            self._time = t0 + flight
            callback(self)
        self._time = t0 + elapsed
        return elapsed

    def _frames(
        self,
        waypoints: np.ndarray,
        distance: np.ndarray,
        v: float,
        flight: float,
        callback: Callable[[Kinematic], None],
    ) -> None:
        """Intermediate poses of one leg for the callback (`fly_to` sets the final state)."""
        start, t0 = self._positions.copy(), self._time
        frames = math.ceil(flight * self.frame_rate - 1e-9)
        with np.errstate(invalid="ignore", divide="ignore"):
            for k in range(1, frames):
                dt = k / self.frame_rate
                share = np.where(distance > 0.0, np.minimum(1.0, v * dt / distance), 1.0)
                self._positions = start + share[:, None] * (waypoints - start)
                self._time = t0 + dt
                callback(self)

    @property
    def positions(self) -> np.ndarray:
        """(n, 3) positions in metres (a copy)."""
        return self._positions.copy()

    @property
    def velocities(self) -> np.ndarray:
        """(n, 3) velocity of the last leg in m/s (zero for drones that did not move)."""
        return self._velocities.copy()

    @property
    def headings(self) -> np.ndarray:
        """(n,) headings in radians, counter-clockwise from north."""
        return self._headings.copy()

    @property
    def time(self) -> float:
        """Elapsed flight time in seconds since `reset`."""
        return self._time

    @property
    def crashed(self) -> np.ndarray:
        """(n,) bool; kinematic drones never crash."""
        return np.zeros(self.n, np.bool_)
