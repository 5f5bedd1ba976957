"""Input-output characteristics of a learned model's deterministic part G(z) = C (zI - A)^-1 B + D.

For comparing an identified model with physical expectations: steady-state gain, poles as
continuous-time rates, step response and its 63 % rise time, -3 dB bandwidth. Single input,
single output; the sampling rate is given in Hz.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from swarmsim.lti.model import LTIError, Predictor, StochasticLTI

__all__ = [
    "bandwidth",
    "continuous_poles",
    "dc_gain",
    "response_summary",
    "rise_time",
    "step_response",
]

RISE = 1.0 - math.exp(-1.0)  # 63.2 %: the time constant of a first-order response


def _siso(model: Predictor | StochasticLTI) -> None:
    if (model.nu, model.ny) != (1, 1):
        raise LTIError(f"model: expected one input and one output, got {model.nu} and {model.ny}")


def dc_gain(model: Predictor | StochasticLTI) -> float:
    """Steady-state gain G(1) = C (I - A)^-1 B + D."""
    _siso(model)
    A = model.A
    return float((model.C @ np.linalg.solve(np.eye(A.shape[0]) - A, model.B) + model.D)[0, 0])


def continuous_poles(model: Predictor | StochasticLTI, rate: float) -> np.ndarray:
    """Poles of A as continuous-time rates s = rate ln z (1/s), slowest first."""
    z = np.linalg.eigvals(model.A).astype(complex)
    s = rate * np.log(z)
    return s[np.argsort(-s.real)]


def step_response(
    model: Predictor | StochasticLTI, rate: float, duration: float
) -> tuple[np.ndarray, np.ndarray]:
    """Unit step response from rest: times k / rate (s) and y(k), u(k) = 1 for k >= 0."""
    _siso(model)
    steps = max(2, round(duration * rate))
    x = np.zeros(model.n)
    y = np.empty(steps)
    for k in range(steps):
        y[k] = (model.C @ x + model.D[:, 0])[0]
        x = model.A @ x + model.B[:, 0]
    return np.arange(steps) / rate, y


def rise_time(t: np.ndarray, y: np.ndarray, final: float, fraction: float = RISE) -> float:
    """First time a step response reaches ``fraction`` of ``final``, linearly interpolated
    (nan if it never does)."""
    level = fraction * final
    hit = np.flatnonzero(y >= level) if final > 0 else np.flatnonzero(y <= level)
    if hit.size == 0:
        return float("nan")
    i = int(hit[0])
    if i == 0:
        return float(t[0])
    return float(t[i - 1] + (level - y[i - 1]) / (y[i] - y[i - 1]) * (t[i] - t[i - 1]))


def bandwidth(model: Predictor | StochasticLTI, rate: float, points: int = 2000) -> float:
    """Lowest frequency (Hz) where |G| falls 3 dB below the steady-state gain; nan if it
    stays above up to the Nyquist frequency."""
    _siso(model)
    f = np.linspace(0.0, 0.5 * rate, points)
    z = np.exp(2j * np.pi * f / rate)
    n = model.n
    mag = np.array(
        [
            abs((model.C @ np.linalg.solve(zk * np.eye(n) - model.A, model.B) + model.D)[0, 0])
            for zk in z
        ]
    )
    below = np.flatnonzero(mag < abs(dc_gain(model)) / math.sqrt(2.0))
    return float(f[below[0]]) if below.size else float("nan")


def response_summary(model: Predictor | StochasticLTI, rate: float) -> dict[str, Any]:
    """Plain-JSON characteristics: gain, poles (discrete and continuous), dominant time
    constant -1 / Re(s) of the slowest pole, 63 % rise time and -3 dB bandwidth."""
    s = continuous_poles(model, rate)
    z = np.exp(s / rate)
    gain = dc_gain(model)
    horizon = 10.0 / max(1e-3, float(-s[0].real))
    t, y = step_response(model, rate, min(horizon, 1e4 / rate))
    return {
        "steady_state_gain": gain,
        "poles_z": [[float(p.real), float(p.imag)] for p in z],
        "poles_s": [[float(p.real), float(p.imag)] for p in s],
        "dominant_time_constant": float(-1.0 / s[0].real) if s[0].real < 0 else float("inf"),
        "rise_time_63": rise_time(t, y, gain),
        "bandwidth_hz": bandwidth(model, rate),
    }
