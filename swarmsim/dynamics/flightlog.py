"""Simulated flight logs of quadrotors flown in velocity-command mode, for system identification.

A log records, at ``rate`` Hz, the commanded horizontal velocity u(k) (held constant until the
next sample, as a ground station or autopilot sends set-points) and the measured velocity
y(k) = v(t_k) + sensor noise, taken at t_k just before u(k) is applied. The commands are a
Gauss-Markov (first-order low-pass filtered white) sequence per horizontal axis::

    u(k+1) = a u(k) + sigma sqrt(1 - a^2) w(k),   a = exp(-2 pi f_c / rate),  w ~ N(0, 1)

stationary with standard deviation sigma (``amplitude``) and -3 dB bandwidth about f_c
(``bandwidth``). Optional wind gusts are a Gauss-Markov wind per horizontal axis (standard
deviation ``gust_std``, correlation time ``gust_time``) sampled at the control rate; they act on
the drone through its body drag and are the process noise of the log.

The controller must offer a velocity-command mode (`VelocityController`, e.g.
`controllers.flight.PIDController`); swarmsim never imports `controllers`, the caller passes one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from swarmsim.dynamics.airframe import Airframe
from swarmsim.dynamics.quadrotor import FlightState, Quadrotor

__all__ = [
    "Excitation",
    "FlightLog",
    "VelocityController",
    "fly_velocity_logs",
    "velocity_step",
]

AXES = {"x": 0, "y": 1}


class VelocityController(Protocol):
    """A flight controller with a velocity-command mode."""

    def reset(self, n: int) -> None:
        """Clear internal state (integrators) for n drones."""
        ...

    def track_velocity(
        self,
        state: FlightState,
        ref_velocities: np.ndarray,
        ref_altitudes: np.ndarray,
        ref_yaws: np.ndarray,
        dt: float,
    ) -> np.ndarray:
        """(n, 4) rotor rpm for horizontal velocities (n, 2) m/s at altitudes (n,) m."""
        ...


@dataclass(frozen=True)
class Excitation:
    """Commanded-velocity excitation and the log's noise sources.

    Attributes:
        rate: sampling rate of the log (and of the command updates), Hz.
        amplitude: standard deviation sigma of the commanded velocity per axis, m/s.
        bandwidth: -3 dB bandwidth f_c of the commands, Hz (below rate / 2).
        noise_std: standard deviation of the velocity sensor noise, m/s.
        gust_std: standard deviation of the horizontal wind per axis, m/s (0: calm).
        gust_time: correlation time of the wind, s.
    """

    rate: float = 20.0
    amplitude: float = 1.0
    bandwidth: float = 0.5
    noise_std: float = 0.05
    gust_std: float = 0.0
    gust_time: float = 2.0

    @property
    def pole(self) -> float:
        """a of the command recursion u(k+1) = a u(k) + ..."""
        return math.exp(-2.0 * math.pi * self.bandwidth / self.rate)


@dataclass(frozen=True)
class FlightLog:
    """Logs of n drones, N samples each.

    Attributes:
        rate: sampling rate, Hz.
        commanded: (n, N, 2) commanded horizontal velocities (x east, y north), m/s.
        measured: (n, N, 2) measured horizontal velocities, m/s.
        true: (n, N, 2) true horizontal velocities, m/s.
        crashed: (n,) drones that hit the ground (their logs are not usable).
    """

    rate: float
    commanded: np.ndarray
    measured: np.ndarray
    true: np.ndarray
    crashed: np.ndarray

    def axis(self, drone: int, axis: str = "x") -> tuple[np.ndarray, np.ndarray]:
        """(u, y) of one drone and axis as (N, 1) arrays for `swarmsim.lti`."""
        j = AXES[axis]
        return self.commanded[drone, :, j : j + 1].copy(), self.measured[drone, :, j : j + 1].copy()


def _gauss_markov(
    steps: int, shape: tuple[int, ...], pole: float, std: float, rng: np.random.Generator
) -> np.ndarray:
    """(steps, *shape) stationary first-order Gauss-Markov sequence with std ``std``."""
    out = np.empty((steps, *shape))
    out[0] = std * rng.standard_normal(shape)
    gain = std * math.sqrt(1.0 - pole * pole)
    w = rng.standard_normal((steps - 1, *shape))
    for k in range(1, steps):
        out[k] = pole * out[k - 1] + gain * w[k - 1]
    return out


def _check(excitation: Excitation, ctrl_hz: float) -> int:
    e = excitation
    for key, val in (("rate", e.rate), ("gust_time", e.gust_time)):
        if not (math.isfinite(val) and val > 0.0):
            raise ValueError(f"{key}: expected a positive number, got {val!r}")
    for key, val in (
        ("amplitude", e.amplitude),
        ("noise_std", e.noise_std),
        ("gust_std", e.gust_std),
    ):
        if not (math.isfinite(val) and val >= 0.0):
            raise ValueError(f"{key}: expected a non-negative number, got {val!r}")
    if not 0.0 < e.bandwidth < 0.5 * e.rate:
        raise ValueError(
            f"bandwidth: expected 0 < f_c < rate / 2 = {0.5 * e.rate:g} Hz, got {e.bandwidth!r}"
        )
    sub = ctrl_hz / e.rate
    if abs(sub - round(sub)) > 1e-9 or round(sub) < 1:
        raise ValueError(
            f"rate: expected a divisor of the control rate {ctrl_hz:g} Hz, got {e.rate!r}"
        )
    return round(sub)


def fly_velocity_logs(
    controller: VelocityController,
    n: int,
    N: int,
    rng: np.random.Generator,
    *,
    excitation: Excitation = Excitation(),
    airframe: str | Path | Airframe = "sar_quad",
    altitude: float = 20.0,
    ctrl_hz: float = 240.0,
    settle: float = 2.0,
) -> FlightLog:
    """Fly n independent drones (one batch) under random velocity commands; log N samples each.

    Each drone starts hovering at ``altitude`` m and holds zero velocity for ``settle`` s before
    the log starts (the excitation starts from its stationary distribution). Random streams,
    drawn from ``rng`` in this order: commands (N, n, 2), gusts, sensor noise (N, n, 2).

    Args:
        controller: velocity-mode flight controller for the airframe.
        n: drones (independent logs).
        N: samples per log.
        rng: source of all randomness.
        excitation: command statistics, sampling rate and noise.
        airframe: the quadrotor flown.
        altitude: hover altitude, m.
        ctrl_hz: control (and wind update) rate, Hz; a multiple of the log rate.
        settle: hover time before the log, s.

    Raises:
        ValueError: bad settings.
    """
    sub = _check(excitation, ctrl_hz)
    if N < 1 or n < 1:
        raise ValueError(f"n, N: expected positive counts, got {n!r} and {N!r}")
    e = excitation
    dt = 1.0 / ctrl_hz
    cmd = _gauss_markov(N, (n, 2), e.pole, e.amplitude, rng)
    pre = round(settle * ctrl_hz)
    steps = pre + N * sub
    gusts = np.zeros((steps, n, 3))
    if e.gust_std > 0.0:
        gusts[:, :, :2] = _gauss_markov(steps, (n, 2), math.exp(-dt / e.gust_time), e.gust_std, rng)
    noise = e.noise_std * rng.standard_normal((N, n, 2))

    def wind(t: float, positions: np.ndarray) -> np.ndarray:
        return gusts[min(round(t * ctrl_hz), steps - 1)]

    quad = Quadrotor(n, airframe=airframe, ctrl_hz=ctrl_hz, wind=wind)
    quad.reset(np.column_stack([np.zeros((n, 2)), np.full(n, float(altitude))]), np.zeros(n))
    controller.reset(n)
    alts = np.full(n, float(altitude))
    yaws = np.full(n, 0.5 * math.pi)  # heading north (see swarmsim.dynamics.quadrotor)
    zero = np.zeros((n, 2))
    true = np.empty((N, n, 2))
    for step in range(steps):
        k, r = divmod(step - pre, sub)
        if k >= 0 and r == 0:
            true[k] = quad.velocities[:, :2]
        ref = zero if k < 0 else cmd[k]
        quad.step(controller.track_velocity(quad.state(), ref, alts, yaws, dt), dt)
    true = true.transpose(1, 0, 2)
    return FlightLog(
        float(e.rate),
        cmd.transpose(1, 0, 2).copy(),
        true + noise.transpose(1, 0, 2),
        true,
        quad.crashed,
    )


def velocity_step(
    controller: VelocityController,
    *,
    size: float = 1.0,
    duration: float = 5.0,
    airframe: str | Path | Airframe = "sar_quad",
    altitude: float = 20.0,
    ctrl_hz: float = 240.0,
    axis: str = "x",
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free response to a step of ``size`` m/s in the commanded velocity along ``axis``.

    Returns:
        Times (steps + 1,) s from the step and the velocity (steps + 1,) m/s along the axis,
        sampled at the control rate (the first sample is the hover before the step).
    """
    dt = 1.0 / ctrl_hz
    quad = Quadrotor(1, airframe=airframe, ctrl_hz=ctrl_hz)
    quad.reset(np.array([[0.0, 0.0, float(altitude)]]), np.zeros(1))
    controller.reset(1)
    ref = np.zeros((1, 2))
    ref[0, AXES[axis]] = size
    steps = round(duration * ctrl_hz)
    v = np.zeros(steps + 1)
    for k in range(1, steps + 1):
        quad.step(
            controller.track_velocity(
                quad.state(), ref, np.array([float(altitude)]), np.array([0.5 * math.pi]), dt
            ),
            dt,
        )
        v[k] = quad.velocities[0, AXES[axis]]
    return dt * np.arange(steps + 1), v
