"""Start formations any caller can use: line slots, scan directions and staggered altitudes.

The AOS swarm flies a line across its scan direction, drones ``spacing`` apart, at altitudes
that rise from the middle of the line outward so that neighbours never share a height. Missions
without a strategy (an environment's agent, a person at the viewer) start from the same line.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from swarmsim.scene import Scene

__all__ = [
    "across",
    "direction",
    "line_formation",
    "line_offsets",
    "scene_formation",
    "staggered_altitudes",
]


def staggered_altitudes(n: int, lowest: float = 35.0, step: float = 1.0) -> np.ndarray:
    """(n,) altitudes in metres, lowest in the middle of the line, alternating outward.

    For n = 10 this is the paper code's 43, 41, 39, 37, 35, 36, 38, 40, 42, 44 m.
    """
    middle = (n - 1) // 2
    i = np.arange(n)
    rank = np.where(i <= middle, 2 * (middle - i), 2 * (i - middle) - 1)
    return lowest + step * rank


def line_offsets(n: int, spacing: float) -> np.ndarray:
    """(n,) signed offsets in metres of a centred line of n slots ``spacing`` apart."""
    return (np.arange(n) - 0.5 * (n - 1)) * spacing


def direction(heading: float) -> np.ndarray:
    """(2,) unit vector of a heading in radians counter-clockwise from north."""
    return np.array([-math.sin(heading), math.cos(heading)])


def across(heading: float) -> np.ndarray:
    """(2,) unit vector along a line formation: the heading's direction turned clockwise."""
    d = direction(heading)
    return np.array([d[1], -d[0]])


def line_formation(
    n: int,
    *,
    centre: tuple[float, float] | np.ndarray,
    heading: float,
    spacing: float,
    altitude: float,
    altitude_step: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The line formation across a scan direction.

    Args:
        n: Number of drones.
        centre: (2,) centre of the line in metres.
        heading: Scan direction in radians counter-clockwise from north.
        spacing: Slot spacing in metres.
        altitude, altitude_step: Lowest altitude and the step between drones in metres.

    Returns:
        ``(positions, headings)``: (n, 3) metres and (n,) radians (every camera faces the scan
        direction).
    """
    xy = np.asarray(centre, np.float64) + line_offsets(n, spacing)[:, None] * across(heading)
    positions = np.column_stack([xy, staggered_altitudes(n, altitude, altitude_step)])
    return positions, np.full(n, float(heading))


def scene_formation(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """The scene's start line (``[swarm]``: drones, start, heading, spacing, altitudes)."""
    w = scene.swarm
    return line_formation(
        w.drones,
        centre=w.start,
        heading=math.radians(w.heading),
        spacing=w.spacing,
        altitude=w.altitude,
        altitude_step=w.altitude_step,
    )
