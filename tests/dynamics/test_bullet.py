"""pybullet backend: cross-check against the numba model, trunks, ground, errors."""

from __future__ import annotations

import numpy as np
import pytest

from apps.bench_dynamics import cross_check_sequence
from swarmsim.dynamics import Dynamics
from swarmsim.dynamics.bullet import BulletQuadrotor
from swarmsim.dynamics.quadrotor import Quadrotor, RotorCommandError


def _cross_check(airframe: str, numba_hz: float) -> float:
    a = Quadrotor(2, airframe=airframe, physics_hz=numba_hz)
    b = BulletQuadrotor(2, airframe=airframe)
    start, headings = [[0, 0, 5], [3, 0, 5]], [0.0, 0.5]
    a.reset(start, headings)
    b.reset(start, headings)
    worst = 0.0
    for k in range(480):  # 2 s at 240 Hz
        cmd = cross_check_sequence(a.airframe.hover_rpm, k / 240)
        a.step(cmd)
        b.step(cmd)
        worst = max(worst, float(np.linalg.norm(a.positions - b.positions, axis=1).max()))
    # The manoeuvre really moved the drones (so the agreement is not trivial).
    assert np.linalg.norm(a.positions - start, axis=1).min() > 0.5
    b.close()
    return worst


@pytest.mark.parametrize("airframe", ["cf2x", "sar_quad"])
def test_same_rotor_sequence_agrees_with_numba_within_5_cm(airframe: str) -> None:
    # numba at its default 960 Hz, Bullet at 240 Hz: different steps, same physics.
    assert _cross_check(airframe, 960.0) < 0.05


def test_same_step_agrees_to_round_off() -> None:
    # Both integrate semi-implicit Euler; at the same step only round-off should differ.
    assert _cross_check("cf2x", 240.0) < 1e-6


def test_implements_the_dynamics_protocol() -> None:
    b = BulletQuadrotor(1)
    assert isinstance(b, Dynamics)
    b.close()


def test_hover_keeps_altitude() -> None:
    b = BulletQuadrotor(2, airframe="sar_quad")
    b.reset([[0, 0, 10], [3, 3, 4]], [0, 1])
    for _ in range(5 * 240):
        b.step(b.airframe.hover_rpm)
    assert np.abs(b.positions[:, 2] - [10, 4]).max() < 0.01
    b.close()


def test_drone_flown_into_a_trunk_crashes() -> None:
    from controllers.flight import PIDController

    # Drone 0 flies through a trunk at x = 5; drone 1 passes 5 m to the side.
    b = BulletQuadrotor(2, controller=PIDController(), trunks=[(5.0, 0.0, 0.3, 20.0)])
    b.reset([[0, 0, 5], [0, 5, 5]], [0, 0])
    b.fly_to([[10, 0, 5], [10, 5, 5]], speed=3.0)
    assert b.crashed.tolist() == [True, False]
    assert b.positions[0, 0] < 5.0  # stopped at the trunk, not passed through
    assert b.reached.tolist() == [False, True]
    b.close()


def test_landing_rests_on_the_ground_plane() -> None:
    b = BulletQuadrotor(1)
    b.reset([[0, 0, 0.3]], [0], rotor_speeds=0.0)
    for _ in range(480):
        b.step(0.0)
    assert 0.0 <= b.positions[0, 2] < 0.05
    assert not b.crashed[0]
    b.close()


def test_bad_commands_and_trunks_raise() -> None:
    b = BulletQuadrotor(1)
    b.reset([[0, 0, 5]], [0])
    with pytest.raises(RotorCommandError, match="negative"):
        b.step([[1000.0, -5.0, 1000.0, 1000.0]])
    with pytest.raises(RotorCommandError, match="NaN"):
        b.step([[1000.0, np.nan, 1000.0, 1000.0]])
    b.close()
    with pytest.raises(ValueError, match=r"trunks\[0\]"):
        BulletQuadrotor(1, trunks=[(0.0, 0.0, -1.0, 5.0)])
