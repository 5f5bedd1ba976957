"""Persons to be found (lying, sitting, standing) and their trajectories on the ground.

A person is a handful of body primitives (capsule torso and limbs, sphere head) of a 1.8 m tall
adult, posed in a body frame (forward, left, up) and placed at a ground position with a heading
(yaw 0 = north, positive counter-clockwise, see ``geometry.heading_vector``). A trajectory is a
piecewise-linear path in time; the heading follows the direction of motion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, overload

import numpy as np

from swarmsim.world.geometry import (
    CAPSULE,
    LABEL_TARGET,
    SPHERE,
    Primitives,
    concatenate,
    heading_vector,
    vector_heading,
)

POSES = ("lying", "sitting", "standing")
SKIN_ALBEDO = (0.45, 0.3, 0.22)  # linear RGB of a light-to-medium skin tone
_REST = 1e-9  # metres; a segment shorter than this is a rest, not a motion


# --- trajectories ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Piecewise-linear ground path.

    Attributes:
        times: (k,) strictly increasing times in seconds, k >= 1.
        points: (k, 2) positions (x east, y north) in metres at those times.
        heading0: heading in radians used before any motion (and throughout if there is none).
    """

    times: np.ndarray
    points: np.ndarray
    heading0: float = 0.0
    if TYPE_CHECKING:
        # Derived in __post_init__, not dataclass fields at run time: per-segment heading
        # (k - 1,) and velocity (k - 1, 2).
        _seg_heading: np.ndarray = field(init=False, repr=False)
        _seg_velocity: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        times = np.array(self.times, np.float64).reshape(-1)
        points = np.array(self.points, np.float64)
        if len(times) == 0:
            raise ValueError("Trajectory.times: expected at least one time, got none")
        if points.shape != (len(times), 2):
            raise ValueError(
                f"Trajectory.points: expected shape ({len(times)}, 2), got {points.shape}"
            )
        if not (np.all(np.isfinite(times)) and np.all(np.isfinite(points))):
            raise ValueError("Trajectory: times and points must be finite")
        if np.any(np.diff(times) <= 0):
            raise ValueError("Trajectory.times: expected strictly increasing times")
        if not math.isfinite(self.heading0):
            raise ValueError(f"Trajectory.heading0: expected a finite angle, got {self.heading0}")
        times.setflags(write=False)
        points.setflags(write=False)
        delta = np.diff(points, axis=0)
        moving = np.hypot(delta[:, 0], delta[:, 1]) > _REST
        # Heading per segment: its own direction when moving, else the last moving one's.
        seg = vector_heading(delta)
        last = np.maximum.accumulate(np.where(moving, np.arange(len(seg)), -1))
        seg_heading = np.where(last >= 0, seg[np.maximum(last, 0)], float(self.heading0))
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "heading0", float(self.heading0))
        object.__setattr__(self, "_seg_heading", seg_heading)
        object.__setattr__(self, "_seg_velocity", delta / np.diff(times)[:, None])

    @property
    def duration(self) -> float:
        """Seconds from the first to the last time."""
        return float(self.times[-1] - self.times[0])

    def _segment(self, t: np.ndarray) -> np.ndarray:
        """Index of the segment active at t: -1 before the start, k - 1 at or after the end."""
        return np.searchsorted(self.times, t, side="right") - 1

    def position(self, t: float | np.ndarray) -> np.ndarray:
        """Position (2,) (or (..., 2) for an array of times) in metres; clamped at both ends."""
        t = np.asarray(t, np.float64)
        x = np.interp(t, self.times, self.points[:, 0])
        return np.stack([x, np.interp(t, self.times, self.points[:, 1])], axis=-1)

    @overload
    def heading(self, t: float) -> float: ...
    @overload
    def heading(self, t: np.ndarray) -> float | np.ndarray: ...
    def heading(self, t: float | np.ndarray) -> float | np.ndarray:
        """Heading in radians at time(s) t.

        The direction of the segment being walked; during a rest or after the end, that of the
        last moving segment; before any motion, ``heading0``.
        """
        t = np.asarray(t, np.float64)
        seg = self._segment(t)
        k = len(self.times)
        table = np.concatenate([[self.heading0], self._seg_heading, self._seg_heading[-1:]])
        if k == 1:
            table = np.array([self.heading0, self.heading0])
        out = table[np.clip(seg, -1, k - 1) + 1] + 0.0  # + 0.0 turns -0.0 into 0.0
        return float(out) if out.ndim == 0 else out

    def velocity(self, t: float | np.ndarray) -> np.ndarray:
        """Velocity (2,) (or (..., 2)) in m/s; zero before the start and after the end."""
        t = np.asarray(t, np.float64)
        seg = self._segment(t)
        inside = (seg >= 0) & (seg < len(self.times) - 1)
        table = np.concatenate([self._seg_velocity, np.zeros((1, 2))])
        return np.where(inside[..., None], table[np.where(inside, seg, -1)], 0.0)


def static_trajectory(*, position: Sequence[float] | np.ndarray, heading: float) -> Trajectory:
    """A person who stays at ``position`` (2,) metres facing ``heading`` radians."""
    return Trajectory(
        times=np.zeros(1), points=np.asarray(position, np.float64).reshape(1, 2), heading0=heading
    )


def waypoint_trajectory(*, waypoints: np.ndarray, heading: float) -> Trajectory:
    """Walk through waypoints (k, 3) rows [t seconds, x metres, y metres], straight between them.

    ``heading`` (radians) applies until the first motion. Raises ValueError for a wrong shape,
    non-finite values or times that do not strictly increase.
    """
    w = np.asarray(waypoints, np.float64)
    if w.ndim != 2 or w.shape[1] != 3 or len(w) == 0:
        raise ValueError(
            f"waypoints: expected shape (k, 3) rows [t, x, y] with k >= 1, got {w.shape}"
        )
    if not np.all(np.isfinite(w)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(w), axis=1))[0])
        raise ValueError(f"waypoints: row {bad} is not finite: {w[bad].tolist()}")
    steps = np.diff(w[:, 0])
    if np.any(steps <= 0):
        bad = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise ValueError(
            f"waypoints: times must strictly increase, but row {bad} has t={w[bad, 0]} "
            f"after t={w[bad - 1, 0]}"
        )
    if not math.isfinite(heading):
        raise ValueError(f"heading: expected a finite angle in radians, got {heading}")
    return Trajectory(times=w[:, 0], points=w[:, 1:], heading0=heading)


def random_walk(
    *,
    start: Sequence[float] | np.ndarray,
    heading: float,
    speed: float,
    turn_rate: float,
    duration: float,
    rng: np.random.Generator,
    dt: float = 0.5,
) -> Trajectory:
    """Correlated random walk at constant ``speed`` (m/s) from ``start`` (2,) metres.

    The heading starts at ``heading`` and diffuses like Brownian motion with ``turn_rate``
    radians per sqrt(second); the path is stored as waypoints every ``dt`` seconds (the last
    step is shortened so that the walk ends exactly at ``duration``), starting at t = 0.
    """
    for name, value in (("speed", speed), ("turn_rate", turn_rate)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name}: expected a finite number >= 0, got {value}")
    for name, value in (("duration", duration), ("dt", dt)):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name}: expected a positive number of seconds, got {value}")
    start = np.asarray(start, np.float64)
    if start.shape != (2,) or not np.all(np.isfinite(start)):
        raise ValueError(f"start: expected a finite (x, y) position, got {start.tolist()}")
    n = max(1, math.ceil(duration / dt - 1e-9))
    times = np.minimum(np.arange(n + 1) * dt, duration)
    times[-1] = duration
    steps = np.diff(times)
    turns = rng.normal(0.0, 1.0, n) * turn_rate * np.sqrt(steps)
    yaw = heading + np.concatenate([[0.0], np.cumsum(turns[:-1])])
    moves = speed * steps[:, None] * heading_vector(yaw)
    points = start + np.concatenate([np.zeros((1, 2)), np.cumsum(moves, axis=0)])
    return Trajectory(times=times, points=points, heading0=heading)


# --- bodies ----------------------------------------------------------------------------------

# Body models of a 1.8 m adult: joints in the body frame (forward, left, up) in metres, with the
# person's ground position at the origin. Limbs are capsules between two joints; a left/right
# pair is written once with the "L" joints and mirrored.
_STANDING = {
    "head": (0.0, 0.0, 1.69),
    "neck_top": (0.0, 0.0, 1.57),
    "neck_base": (0.0, 0.0, 1.45),
    "chest": (0.0, 0.0, 1.36),
    "pelvis": (0.0, 0.0, 0.98),
    "shoulder_L": (0.0, 0.16, 1.42),
    "elbow_L": (0.0, 0.21, 1.13),
    "wrist_L": (0.03, 0.22, 0.86),
    "hand_L": (0.04, 0.22, 0.79),
    "hip_L": (0.0, 0.09, 0.91),
    "knee_L": (0.01, 0.1, 0.5),
    "ankle_L": (0.0, 0.1, 0.09),
    "toe_L": (0.17, 0.11, 0.045),
}
# Sitting on the ground, legs stretched forward, torso upright, hands on the thighs.
_SITTING = {
    "head": (0.0, 0.0, 0.89),
    "neck_top": (0.0, 0.0, 0.77),
    "neck_base": (0.0, 0.0, 0.65),
    "chest": (0.0, 0.0, 0.56),
    "pelvis": (0.0, 0.0, 0.18),
    "shoulder_L": (0.0, 0.16, 0.62),
    "elbow_L": (0.04, 0.22, 0.36),
    "wrist_L": (0.26, 0.17, 0.23),
    "hand_L": (0.33, 0.16, 0.21),
    "hip_L": (0.0, 0.09, 0.11),
    "knee_L": (0.41, 0.1, 0.09),
    "ankle_L": (0.81, 0.1, 0.075),
    "toe_L": (0.86, 0.11, 0.24),
}
# Lying on the back, head towards +forward, arms along the sides, toes pointing up.
_LYING = {
    "head": (0.79, 0.0, 0.11),
    "neck_top": (0.67, 0.0, 0.11),
    "neck_base": (0.55, 0.0, 0.13),
    "chest": (0.46, 0.0, 0.16),
    "pelvis": (0.08, 0.0, 0.16),
    "shoulder_L": (0.52, 0.16, 0.12),
    "elbow_L": (0.23, 0.24, 0.06),
    "wrist_L": (-0.04, 0.25, 0.05),
    "hand_L": (-0.11, 0.25, 0.045),
    "hip_L": (0.0, 0.09, 0.12),
    "knee_L": (-0.41, 0.1, 0.09),
    "ankle_L": (-0.81, 0.1, 0.07),
    "toe_L": (-0.85, 0.11, 0.245),
}
_JOINTS = {"standing": _STANDING, "sitting": _SITTING, "lying": _LYING}

# (first joint, second joint or None for a sphere, radius metres, skin)
_PARTS = [
    ("head", None, 0.11, True),
    ("neck_base", "neck_top", 0.055, True),
    ("pelvis", "chest", 0.16, False),
    ("shoulder_L", "shoulder_R", 0.07, False),
    ("hip_L", "hip_R", 0.09, False),
    ("shoulder_*", "elbow_*", 0.05, False),
    ("elbow_*", "wrist_*", 0.042, False),
    ("hand_*", None, 0.045, True),
    ("hip_*", "knee_*", 0.08, False),
    ("knee_*", "ankle_*", 0.06, False),
    ("ankle_*", "toe_*", 0.045, False),
]


@cache
def _body(pose: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Body-frame primitives of a pose: kind (p,), a (p, 3), b (p, 3), radius (p,), skin (p,)."""
    joints = {k: np.array(v) for k, v in _JOINTS[pose].items()}
    for name in [k for k in joints if k.endswith("_L")]:
        joints[name[:-1] + "R"] = joints[name] * (1.0, -1.0, 1.0)
    rows = []
    for first, second, part_radius, part_skin in _PARTS:
        sides = ("L", "R") if first.endswith("*") else ("",)
        for side in sides:
            a = joints[first.replace("*", side)]
            b = None if second is None else joints[second.replace("*", side)]
            if b is None:
                rows.append((SPHERE, a, np.zeros(3), part_radius, part_skin))
            else:
                rows.append((CAPSULE, a, b, part_radius, part_skin))
    kind, a, b, radius, skin = (np.array(column) for column in zip(*rows, strict=True))
    for array in (kind, a, b, radius, skin):
        array.setflags(write=False)
    return kind, a, b, radius, skin


def _check_pose(pose: str) -> None:
    if pose not in POSES:
        raise ValueError(f"pose: expected one of {POSES}, got {pose!r}")


def person_primitives(
    *,
    pose: str,
    position: Sequence[float] | np.ndarray,
    heading: float,
    owner: int,
    temperature: float,
    clothing: Sequence[float] | np.ndarray,
) -> Primitives:
    """Body primitives of one person, labelled ``LABEL_TARGET``.

    Args:
        pose: "lying" (on the back, head towards the heading), "sitting" (on the ground, legs
            towards the heading) or "standing" (facing the heading).
        position: (2,) ground position in metres: between the feet (standing) or the hips.
        heading: yaw in radians (0 = north, counter-clockwise positive).
        owner: index written to ``owner`` of every part.
        temperature: apparent surface temperature in degrees Celsius, for all parts.
        clothing: (3,) linear RGB albedo of the clothes; head and hands use a skin tone.
    """
    _check_pose(pose)
    position = np.asarray(position, np.float64)
    if position.shape != (2,) or not np.all(np.isfinite(position)):
        raise ValueError(f"position: expected a finite (x, y) in metres, got {position.tolist()}")
    colour = np.asarray(clothing, np.float64)
    if colour.shape != (3,) or not np.all((colour >= 0) & (colour <= 1)):
        raise ValueError(f"clothing: expected an RGB triple in [0, 1], got {colour.tolist()}")
    kind, a, b, radius, skin = _body(pose)
    fx, fy = heading_vector(heading)
    # Columns of the body frame (forward, left, up) in the world frame.
    frame = np.array([[fx, -fy, 0.0], [fy, fx, 0.0], [0.0, 0.0, 1.0]])
    origin = np.array([position[0], position[1], 0.0])
    world_a = a @ frame.T + origin
    world_b = np.where((kind == CAPSULE)[:, None], b @ frame.T + origin, 0.0)
    return Primitives.create(
        kind=kind,
        a=world_a,
        b=world_b,
        radius=radius,
        label=LABEL_TARGET,
        owner=owner,
        temperature=temperature,
        albedo=np.where(skin[:, None], np.asarray(SKIN_ALBEDO), colour),
    )


@cache
def target_footprint_radius(pose: str) -> float:
    """Radius in metres of a vertical cylinder around the position enclosing the whole body."""
    _check_pose(pose)
    kind, a, b, radius, _ = _body(pose)
    reach = np.hypot(a[:, 0], a[:, 1])
    reach = np.where(kind == CAPSULE, np.maximum(reach, np.hypot(b[:, 0], b[:, 1])), reach)
    return float(np.max(reach + radius))


@dataclass(frozen=True, eq=False)
class Target:
    """A person: pose, path, apparent temperature (degrees C) and clothing albedo (3,)."""

    pose: str
    trajectory: Trajectory
    temperature: float = 30.0
    clothing: tuple[float, float, float] = (0.3, 0.3, 0.35)

    def __post_init__(self) -> None:
        _check_pose(self.pose)
        if not math.isfinite(self.temperature):
            raise ValueError(f"temperature: expected a finite number, got {self.temperature}")
        colour = tuple(float(c) for c in np.asarray(self.clothing, np.float64).reshape(-1))
        if len(colour) != 3 or not all(0.0 <= c <= 1.0 for c in colour):
            raise ValueError(f"clothing: expected an RGB triple in [0, 1], got {self.clothing}")
        object.__setattr__(self, "clothing", colour)

    def position(self, t: float) -> np.ndarray:
        """(2,) ground position at time t, metres."""
        return self.trajectory.position(t)

    def primitives(self, t: float, *, owner: int) -> Primitives:
        """The body at time t, posed at the trajectory's position and heading."""
        return person_primitives(
            pose=self.pose,
            position=self.trajectory.position(t),
            heading=self.trajectory.heading(t),
            owner=owner,
            temperature=self.temperature,
            clothing=self.clothing,
        )


def targets_primitives(targets: Sequence[Target], t: float) -> Primitives:
    """All targets' bodies at time t, in order, with ``owner`` = index in ``targets``."""
    return concatenate([target.primitives(t, owner=i) for i, target in enumerate(targets)])
