"""Flight dynamics of the swarm: the protocol every flight model implements.

Models are batched over n drones. The mission loop only asks a model to fly every drone straight
to its next waypoint and reads back where the drones are and how long it took; the kinematic model
(`swarmsim.dynamics.kinematic`) is the paper's time accounting, rigid-body models plug in behind
the same protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Dynamics"]


@runtime_checkable
class Dynamics(Protocol):
    """Batched flight model of n drones (metres, seconds, radians; world frame x east, y north)."""

    def reset(self, positions: np.ndarray, headings: np.ndarray) -> None:
        """Place the drones at rest: positions (n, 3), headings (n,) counter-clockwise from north.

        Resets `time` to 0 and clears `crashed`.
        """
        ...

    def fly_to(
        self,
        waypoints: np.ndarray,
        *,
        speed: float | None = None,
        callback: Callable[[Any], None] | None = None,
    ) -> float:
        """Fly every drone straight to its waypoint (n, 3); returns the elapsed time in seconds.

        Args:
            waypoints: (n, 3) targets in metres.
            speed: Ground speed in m/s for this leg; None: the model's default.
            callback: Called with the model at intermediate poses of the flight (its
                `positions`, `headings` and `time` are those of the moment), e.g. to animate it.
        """
        ...

    @property
    def positions(self) -> np.ndarray:
        """(n, 3) positions in metres."""
        ...

    @property
    def velocities(self) -> np.ndarray:
        """(n, 3) velocities in m/s."""
        ...

    @property
    def headings(self) -> np.ndarray:
        """(n,) headings in radians, counter-clockwise from north."""
        ...

    @property
    def time(self) -> float:
        """Elapsed flight time in seconds since `reset`."""
        ...

    @property
    def crashed(self) -> np.ndarray:
        """(n,) bool, the drone has crashed (always False for the kinematic model)."""
        ...
