"""Batched rigid-body quadrotors (numba): n drones advanced in one kernel.

Model (per drone): rotor thrust kf·ω² and drag torque km·ω² mixed in X configuration (layout in
`swarmsim.dynamics.airframe`), first-order motor lag, linear body drag on the airspeed, gravity,
an optional wind field ``wind(t, positions (n, 3)) -> (n, 3)`` m/s (evaluated once per `step`
call, i.e. at the control rate), ground contact at z = 0 (drones stop there; touching down
faster than ``crash_speed`` is a crash) and optional tree trunks, static vertical cylinders
``(x, y, radius, height)``: a drone whose collision cylinder (from the URDF) meets one after a
`step` is crashed, stopped against it and its motors cut, as in the pybullet backend.

Integration: semi-implicit Euler at a fixed physics step (default 1/960 s, four steps per
1/240 s control step), quaternion propagated by the exact exponential of the body rate.

Conventions: rotor speeds in rpm; attitudes are body-to-world unit quaternions, scalar last
(x, y, z, w) as in pybullet; body frame x forward, y left, z up; body rates (p, q, r) in rad/s in
the body frame; headings (protocol of `swarmsim.dynamics`) count counter-clockwise from north, so
heading = yaw - π/2 where yaw is the angle of body x from east.

`fly_to` needs a flight controller (e.g. `controllers.flight.PIDController`); swarmsim itself
never imports `controllers`, so the caller passes one in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from swarmsim.dynamics._quadrotor_cpu import pack_params, step_kernel
from swarmsim.dynamics.airframe import GRAVITY, Airframe, AirframeError, load_airframe
from swarmsim.errors import SwarmsimError

__all__ = [
    "AirframeError",
    "FlightController",
    "FlightState",
    "Quadrotor",
    "QuadrotorBase",
    "RotorCommandError",
    "check_trunks",
    "heading_quaternions",
    "quaternion_yaw",
]

WindField = Callable[[float, np.ndarray], np.ndarray]


class RotorCommandError(SwarmsimError):
    """Rotor-speed commands that are NaN, infinite, negative or of the wrong shape."""


class FlightState(NamedTuple):
    """Snapshot of n drones handed to a flight controller (copies, SI units, rpm)."""

    positions: np.ndarray  # (n, 3) m
    velocities: np.ndarray  # (n, 3) m/s
    attitudes: np.ndarray  # (n, 4) quaternion x, y, z, w
    body_rates: np.ndarray  # (n, 3) rad/s
    rotor_speeds: np.ndarray  # (n, 4) rpm


class FlightController(Protocol):
    """Turns a reference (position, velocity, yaw) into rotor-speed commands, batched."""

    def reset(self, n: int) -> None:
        """Clear internal state (integrators) for n drones."""
        ...

    def rotor_speeds(
        self,
        state: FlightState,
        ref_positions: np.ndarray,
        ref_velocities: np.ndarray,
        ref_yaws: np.ndarray,
        dt: float,
    ) -> np.ndarray:
        """(n, 4) rotor speeds in rpm for references (n, 3) m, (n, 3) m/s, (n,) rad; dt in s."""
        ...


def quaternion_yaw(quat: np.ndarray) -> np.ndarray:
    """(n,) yaw in radians (angle of body x from east) of (n, 4) x, y, z, w quaternions."""
    x, y, z, w = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    return np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def heading_quaternions(headings: np.ndarray) -> np.ndarray:
    """(n, 4) level attitudes for headings (n,) in radians counter-clockwise from north."""
    yaw = np.asarray(headings, np.float64) + 0.5 * math.pi
    out = np.zeros((yaw.shape[0], 4))
    out[:, 2] = np.sin(0.5 * yaw)
    out[:, 3] = np.cos(0.5 * yaw)
    return out


def _trapezoid(t: float, dist: np.ndarray, v: float, acc: float) -> tuple[np.ndarray, np.ndarray]:
    """Distance (n,) m and speed (n,) m/s along legs of length ``dist`` at time t of a
    rest-to-rest profile with top speed v and acceleration acc."""
    # Short legs never reach v: triangular profile with peak speed sqrt(acc * dist).
    vp = np.minimum(v, np.sqrt(acc * dist))
    ta = vp / acc
    tc = np.where(vp > 0.0, (dist - vp * ta) / np.maximum(vp, 1e-12), 0.0)
    total = 2.0 * ta + tc
    tt = np.minimum(t, total)
    s = np.where(
        tt < ta,
        0.5 * acc * tt**2,
        np.where(
            tt < ta + tc,
            0.5 * vp * ta + vp * (tt - ta),
            dist - 0.5 * acc * (total - tt) ** 2,
        ),
    )
    sd = np.where(tt < ta, acc * tt, np.where(tt < ta + tc, vp, acc * (total - tt)))
    return np.minimum(s, dist), np.maximum(sd, 0.0)


class QuadrotorBase:
    """State, validation and waypoint flight shared by the numba and pybullet quadrotors.

    Subclasses implement `_advance(cmd, dt, wind)`, which moves the state arrays on by dt.
    """

    def __init__(
        self,
        n: int,
        *,
        airframe: str | Path | Airframe = "cf2x",
        controller: FlightController | None = None,
        physics_hz: float = 960.0,
        ctrl_hz: float = 240.0,
        speed: float | None = None,
        wind: WindField | None = None,
        crash_speed: float = 3.0,
        tolerance: float = 0.1,
    ) -> None:
        if n < 1:
            raise ValueError(f"n: expected at least 1 drone, got {n}")
        for key, val in (("physics_hz", physics_hz), ("ctrl_hz", ctrl_hz)):
            if not (math.isfinite(val) and val > 0.0):
                raise ValueError(f"{key}: expected Hz > 0, got {val!r}")
        self.n = int(n)
        self.airframe = load_airframe(airframe)
        self.controller = controller
        self.physics_hz = float(physics_hz)
        self.ctrl_hz = float(ctrl_hz)
        self.speed = float(speed) if speed is not None else min(10.0, self.airframe.max_speed)
        self.wind = wind
        self.crash_speed = float(crash_speed)
        self.tolerance = float(tolerance)
        self._pos = np.zeros((self.n, 3))
        self._vel = np.zeros((self.n, 3))
        self._quat = heading_quaternions(np.zeros(self.n))
        self._rate = np.zeros((self.n, 3))
        self._rotor = np.zeros((self.n, 4))
        self._crashed = np.zeros(self.n, dtype=np.bool_)
        self._reached = np.zeros(self.n, dtype=np.bool_)
        self._yaw_ref = np.full(self.n, 0.5 * math.pi)
        self._time = 0.0

    # -- protocol ---------------------------------------------------------------------------
    def reset(
        self,
        positions: np.ndarray,
        headings: np.ndarray,
        *,
        rotor_speeds: np.ndarray | float | None = None,
    ) -> None:
        """Place the drones at rest, level: positions (n, 3) m, headings (n,) rad.

        Rotors start at ``rotor_speeds`` rpm (scalar or (n, 4)); default the hover speed.
        """
        positions = np.array(positions, np.float64).reshape(self.n, 3)
        headings = np.array(headings, np.float64).reshape(self.n)
        if not (np.all(np.isfinite(positions)) and np.all(np.isfinite(headings))):
            raise ValueError("reset: expected finite positions and headings")
        rotors = self.airframe.hover_rpm if rotor_speeds is None else rotor_speeds
        self._pos = positions.copy()
        self._pos[:, 2] = np.maximum(self._pos[:, 2], 0.0)
        self._vel = np.zeros((self.n, 3))
        self._quat = heading_quaternions(headings)
        # Yaw the controller holds; kept from reset so transients never ratchet the heading.
        self._yaw_ref = headings + 0.5 * math.pi
        self._rate = np.zeros((self.n, 3))
        self._rotor = self._check_rotors(rotors)
        self._crashed = np.zeros(self.n, dtype=np.bool_)
        self._reached = np.zeros(self.n, dtype=np.bool_)
        self._time = 0.0
        if self.controller is not None:
            self.controller.reset(self.n)
        self._reset_backend()

    def step(self, rotor_speeds: np.ndarray | float, dt: float | None = None) -> None:
        """Hold rotor-speed commands (n, 4) rpm (or a scalar for all) for dt seconds.

        dt defaults to one control step (1 / ctrl_hz); it is split into whole physics steps.
        Commands above the airframe's top speed saturate there.

        Raises:
            RotorCommandError: NaN, infinite or negative commands, or a wrong shape.
        """
        cmd = self._check_rotors(rotor_speeds)
        np.minimum(cmd, self.airframe.max_rpm, out=cmd)
        dt = 1.0 / self.ctrl_hz if dt is None else float(dt)
        if not (math.isfinite(dt) and dt > 0.0):
            raise ValueError(f"dt: expected seconds > 0, got {dt!r}")
        if self.wind is None:
            wind = np.zeros((self.n, 3))
        else:
            wind = np.asarray(self.wind(self._time, self.positions), np.float64)
            wind = np.broadcast_to(wind, (self.n, 3)).copy()
        self._advance(cmd, dt, wind)
        self._time += dt

    def fly_to(
        self,
        waypoints: np.ndarray,
        *,
        speed: float | None = None,
        timeout: float | None = None,
        callback: Callable[[QuadrotorBase], None] | None = None,
    ) -> float:
        """Fly every drone to its waypoint (n, 3) m under a speed limit; returns elapsed seconds.

        The controller tracks a straight-line reference moving at up to ``speed`` m/s (default
        `self.speed`) with a trapezoidal profile (acceleration limit 0.3 g); headings are held at
        their values from `reset`.
        The flight ends when every drone that has not crashed is within `tolerance` m of its
        waypoint and slower than 0.2 m/s, or at ``timeout`` (default leg time + 10 s). `reached`
        tells which drones made it. ``callback(self)`` runs after every control step.
        """
        if self.controller is None:
            raise ValueError("fly_to: this quadrotor model needs a flight controller (controller=)")
        wp = np.array(waypoints, np.float64).reshape(self.n, 3)
        if not np.all(np.isfinite(wp)):
            raise ValueError("fly_to: expected finite waypoints")
        v = self.speed if speed is None else float(speed)
        if not (math.isfinite(v) and v > 0.0):
            raise ValueError(f"speed: expected m/s > 0, got {speed!r}")
        start = self._pos.copy()
        delta = wp - start
        dist = np.linalg.norm(delta, axis=1)
        dirs = np.divide(delta, dist[:, None], out=np.zeros_like(delta), where=dist[:, None] > 0)
        acc = 0.3 * GRAVITY
        leg = float(np.max(dist / v + v / acc))
        limit = leg + 10.0 if timeout is None else float(timeout)
        yaws = self._yaw_ref
        dt = 1.0 / self.ctrl_hz
        elapsed = 0.0
        reached = np.zeros(self.n, dtype=np.bool_)
        while elapsed < limit:
            s, sd = _trapezoid(elapsed, dist, v, acc)
            cmd = self.controller.rotor_speeds(
                self.state(), start + dirs * s[:, None], dirs * sd[:, None], yaws, dt
            )
            self.step(cmd, dt)
            elapsed += dt
            if callback is not None:
                callback(self)
            err = np.linalg.norm(self._pos - wp, axis=1)
            reached = (err < self.tolerance) & (np.linalg.norm(self._vel, axis=1) < 0.2)
            if elapsed >= leg - v / acc and np.all(reached | self._crashed):
                break
        self._reached = reached & ~self._crashed
        return elapsed

    def hold(
        self,
        duration: float,
        *,
        positions: np.ndarray | None = None,
        callback: Callable[[QuadrotorBase], None] | None = None,
    ) -> None:
        """Hover for ``duration`` s at ``positions`` (n, 3) m (default: where the drones are)."""
        if self.controller is None:
            raise ValueError("hold: this quadrotor model needs a flight controller (controller=)")
        ref = self._pos.copy() if positions is None else np.array(positions, np.float64)
        ref = ref.reshape(self.n, 3)
        yaws = self._yaw_ref
        dt = 1.0 / self.ctrl_hz
        zero = np.zeros((self.n, 3))
        for _ in range(round(duration / dt)):
            self.step(self.controller.rotor_speeds(self.state(), ref, zero, yaws, dt), dt)
            if callback is not None:
                callback(self)

    # -- state ------------------------------------------------------------------------------
    def state(self) -> FlightState:
        """Copies of the full state for a controller."""
        return FlightState(
            self._pos.copy(),
            self._vel.copy(),
            self._quat.copy(),
            self._rate.copy(),
            self._rotor.copy(),
        )

    @property
    def positions(self) -> np.ndarray:
        """(n, 3) positions in metres (a copy)."""
        return self._pos.copy()

    @property
    def velocities(self) -> np.ndarray:
        """(n, 3) velocities in m/s (a copy)."""
        return self._vel.copy()

    @property
    def headings(self) -> np.ndarray:
        """(n,) headings in radians counter-clockwise from north (yaw - π/2, wrapped)."""
        h = quaternion_yaw(self._quat) - 0.5 * math.pi
        return (h + math.pi) % (2.0 * math.pi) - math.pi

    @property
    def attitudes(self) -> np.ndarray:
        """(n, 4) body-to-world quaternions, scalar last (x, y, z, w)."""
        return self._quat.copy()

    @property
    def body_rates(self) -> np.ndarray:
        """(n, 3) body rates (p, q, r) in rad/s."""
        return self._rate.copy()

    @property
    def rotor_speeds(self) -> np.ndarray:
        """(n, 4) actual rotor speeds in rpm (after the motor lag)."""
        return self._rotor.copy()

    @property
    def time(self) -> float:
        """Elapsed simulated time in seconds since `reset`."""
        return self._time

    @property
    def crashed(self) -> np.ndarray:
        """(n,) bool: hard ground impact (or, in pybullet, a collision with an obstacle)."""
        return self._crashed.copy()

    @property
    def reached(self) -> np.ndarray:
        """(n,) bool: the drone settled at its waypoint in the last `fly_to`."""
        return self._reached.copy()

    # -- helpers ----------------------------------------------------------------------------
    def _check_rotors(self, rotor_speeds: np.ndarray | float) -> np.ndarray:
        try:
            cmd = np.array(rotor_speeds, np.float64)
            cmd = np.broadcast_to(cmd, (self.n, 4)).copy()
        except (TypeError, ValueError):
            shape = np.shape(rotor_speeds)
            raise RotorCommandError(
                f"rotor_speeds: expected (n, 4) = ({self.n}, 4) rpm, got shape {shape}"
            ) from None
        if not np.all(np.isfinite(cmd)):
            bad = np.argwhere(~np.isfinite(cmd))[0]
            raise RotorCommandError(
                f"rotor_speeds: NaN or infinite command for drone {bad[0]}, rotor {bad[1]}"
            )
        if np.any(cmd < 0.0):
            bad = np.argwhere(cmd < 0.0)[0]
            raise RotorCommandError(
                f"rotor_speeds: negative command {cmd[bad[0], bad[1]]!r} rpm for drone "
                f"{bad[0]}, rotor {bad[1]}; expected rpm >= 0"
            )
        return cmd

    def _reset_backend(self) -> None:
        """Hook: copy the freshly reset state into the backend."""

    def _advance(self, cmd: np.ndarray, dt: float, wind: np.ndarray) -> None:
        raise NotImplementedError


def check_trunks(trunks: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
    """(m, 4) float64 trunks (x, y, radius, height); a clear error for a bad one."""
    out = np.zeros((len(trunks), 4))
    for k, trunk in enumerate(trunks):
        values = np.asarray(trunk, np.float64).ravel()
        if values.shape != (4,) or not np.all(np.isfinite(values)) or min(values[2:]) <= 0.0:
            raise ValueError(
                f"trunks[{k}]: expected (x, y, radius, height) with radius and height > 0, "
                f"got {trunk!r}"
            )
        out[k] = values
    return out


class Quadrotor(QuadrotorBase):
    """n rigid-body quadrotors integrated by one numba kernel (see the module docstring).

    Args:
        n: Number of drones.
        airframe: Name of a URDF in ``assets/`` ("cf2x", "sar_quad"), a URDF path or an Airframe.
        controller: Flight controller used by `fly_to`.
        physics_hz: Physics rate in Hz (each `step` is split into whole physics steps).
        ctrl_hz: Control rate of `fly_to` and default `step` length, Hz.
        speed: Default waypoint speed limit in m/s (default min(10, airframe top speed)).
        wind: Optional wind field ``wind(t, positions (n, 3)) -> (n, 3)`` in m/s.
        crash_speed: Touchdown speed in m/s above which a drone is flagged crashed.
        tolerance: Distance in m at which `fly_to` counts a waypoint as reached.
        trunks: Static cylinders (x, y, radius, height) in metres, standing on z = 0.
    """

    def __init__(
        self,
        n: int,
        *,
        trunks: Sequence[tuple[float, float, float, float]] = (),
        **kwargs,
    ) -> None:
        super().__init__(n, **kwargs)
        self.trunks = check_trunks(trunks)

    def _advance(self, cmd: np.ndarray, dt: float, wind: np.ndarray) -> None:
        nsub = max(1, round(dt * self.physics_hz))
        h = dt / nsub
        af = self.airframe
        prm = pack_params(
            mass=af.mass,
            gravity=GRAVITY,
            arm=af.arm,
            kf=af.kf,
            km=af.km,
            inertia=af.inertia,
            drag_xy=af.drag_xy,
            drag_z=af.drag_z,
            motor_tau=af.motor_tau,
            h=h,
            crash_speed=self.crash_speed,
        )
        step_kernel(
            self._pos,
            self._vel,
            self._quat,
            self._rate,
            self._rotor,
            self._crashed,
            cmd,
            wind,
            prm,
            h,
            nsub,
        )
        if len(self.trunks):
            self._hit_trunks()

    def _hit_trunks(self) -> None:
        """Crash drones whose collision cylinder meets a trunk; put them back on its surface.

        Checked once per `step` (1/240 s by default: 4 cm at 10 m/s, less than any trunk's or
        airframe's radius, so a drone cannot pass through between checks).
        """
        radius, length = self.airframe.collision
        dx = self._pos[:, None, 0] - self.trunks[None, :, 0]
        dy = self._pos[:, None, 1] - self.trunks[None, :, 1]
        reach = self.trunks[None, :, 2] + radius
        dist = np.hypot(dx, dy)
        below = self._pos[:, None, 2] - 0.5 * length < self.trunks[None, :, 3]
        hit = (dist < reach) & below
        for i, k in zip(*np.nonzero(hit), strict=True):
            scale = reach[0, k] / max(dist[i, k], 1e-9)
            self._pos[i, 0] = self.trunks[k, 0] + dx[i, k] * scale
            self._pos[i, 1] = self.trunks[k, 1] + dy[i, k] * scale
            self._vel[i, :2] = 0.0
            self._crashed[i] = True
