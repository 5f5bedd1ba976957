"""Quadrotor dynamics benchmark behind ``swarmsim bench dynamics`` (see benchmarks/dynamics.py)."""

from __future__ import annotations

import numba
import numpy as np

from apps.common import best_time
from swarmsim.dynamics.bullet import BulletQuadrotor
from swarmsim.dynamics.quadrotor import Quadrotor


def _commands(n: int, hover: float, seed: int = 0) -> np.ndarray:
    """(n, 4) rpm near hover, different per drone so no two drones compute the same thing."""
    rng = np.random.default_rng(seed)
    return hover * (1.0 + 0.01 * rng.standard_normal((n, 4)))


def numba_steps_per_s(n: int, *, hold: float, calls: int, repeat: int) -> float:
    """Drone physics steps per second of `Quadrotor` with commands held ``hold`` s per call."""
    q = Quadrotor(n)
    start = np.column_stack([np.zeros((n, 2)), np.full(n, 50.0)])
    cmd = _commands(n, q.airframe.hover_rpm)
    nsub = max(1, round(hold * q.physics_hz))

    def run() -> None:
        q.reset(start, np.zeros(n))
        for _ in range(calls):
            q.step(cmd, hold)

    run()  # compile / load the cached kernels
    return n * nsub * calls / best_time(run, repeat)


def pybullet_steps_per_s(n: int, *, calls: int, repeat: int) -> float:
    """Drone steps per second of `BulletQuadrotor` (one 240 Hz Bullet step per call)."""
    b = BulletQuadrotor(n)
    start = np.column_stack([np.arange(n) * 2.0, np.zeros(n), np.full(n, 50.0)])
    cmd = _commands(n, b.airframe.hover_rpm)

    def run() -> None:
        b.reset(start, np.zeros(n))
        for _ in range(calls):
            b.step(cmd)

    run()
    rate = n * calls / best_time(run, repeat)
    b.close()
    return rate


def cross_check_sequence(hover: float, t: float) -> np.ndarray:
    """(2, 4) rpm at time t: slow climb, a roll/pitch doublet, then a yaw kick."""
    cmd = np.full((2, 4), 1.02 * hover)
    if 0.2 <= t < 0.3:
        cmd *= [[1.01, 1.01, 0.99, 0.99], [0.99, 1.01, 1.01, 0.99]]
    elif 0.3 <= t < 0.4:
        cmd *= [[0.99, 0.99, 1.01, 1.01], [1.01, 0.99, 0.99, 1.01]]
    elif 1.0 <= t < 1.5:
        cmd *= [0.98, 1.02, 0.98, 1.02]
    return cmd


def max_position_error(airframe: str, *, seconds: float = 2.0) -> float:
    """Largest numba-vs-pybullet position difference in m over the cross-check sequence."""
    a = Quadrotor(2, airframe=airframe)
    b = BulletQuadrotor(2, airframe=airframe)
    start, headings = np.array([[0.0, 0.0, 5.0], [3.0, 0.0, 5.0]]), np.array([0.0, 0.5])
    a.reset(start, headings)
    b.reset(start, headings)
    worst = 0.0
    for k in range(round(seconds * 240)):
        cmd = cross_check_sequence(a.airframe.hover_rpm, k / 240)
        a.step(cmd, 1 / 240)
        b.step(cmd, 1 / 240)
        worst = max(worst, float(np.linalg.norm(a.positions - b.positions, axis=1).max()))
    b.close()
    return worst


def bench_dynamics(*, repeat: int = 5) -> dict:
    """All dynamics figures as a JSON-ready dict (keys in the module docstring).

    Depends only on swarmsim, so ``apps.bench.BENCHES["dynamics"]`` can point at it.
    """
    # About 2 M drone-steps per timed run, so that each run lasts well above scheduler noise.
    work = 2_000_000
    steps = {
        str(n): numba_steps_per_s(n, hold=0.1, calls=max(1, work // (96 * n)), repeat=repeat)
        for n in (10, 100, 1000)
    }
    control = {
        str(n): numba_steps_per_s(n, hold=1 / 240, calls=max(1, work // (4 * n)), repeat=repeat)
        for n in (10, 100, 1000)
    }
    # One thread: the figure per core, and what a busy shared machine still gives.
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = numba_steps_per_s(1000, hold=0.1, calls=max(1, work // 96_000), repeat=repeat)
    finally:
        numba.set_num_threads(threads)
    errors = {af: max_position_error(af) for af in ("cf2x", "sar_quad")}
    return {
        "steps_per_s": {k: round(v) for k, v in steps.items()},
        "steps_per_s_control": {k: round(v) for k, v in control.items()},
        "steps_per_s_1000_one_thread": round(one),
        "pybullet_steps_per_s": {"10": round(pybullet_steps_per_s(10, calls=240, repeat=repeat))},
        "pybullet_max_position_error_m": round(max(errors.values()), 5),
        "pybullet_position_error_by_airframe_m": {k: round(v, 5) for k, v in errors.items()},
        "physics_hz": {"numba": 960, "pybullet": 240},
    }
