"""PID and LQR flight controllers on the numba and pybullet quadrotors."""

from __future__ import annotations

import numpy as np
import pytest

from controllers.flight import LQRController, PIDController, flight_controller, lqr_gain
from swarmsim.dynamics.bullet import BulletQuadrotor
from swarmsim.dynamics.quadrotor import Quadrotor, QuadrotorBase

SPEED = 5.0  # m/s, speed limit of the leg
# Acceptance for a 10 m leg: overshoot along the leg (2 %), time until within 0.1 m and slower
# than 0.2 m/s, error after a further 3 s hold, peak speed over the limit (the drones lag the
# reference by their attitude loop).
MAX_OVERSHOOT = 0.2  # m
MAX_TIME = 8.0  # s (2 s at 5 m/s plus the 0.3 g acceleration ramps and settling)
MAX_FINAL_ERROR = 0.05  # m
MAX_SPEED_FACTOR = 1.15


def _leg(q: QuadrotorBase) -> tuple[float, float, float, float]:
    """Fly 10 m east (and 2 m up for drone 1); returns elapsed, overshoot, top speed, error."""
    start = np.array([[0.0, 0.0, 10.0], [5.0, 5.0, 10.0]])
    goal = start + [[10.0, 0.0, 0.0], [0.0, 9.8, 2.0]]
    q.reset(start, [0.0, 1.0])
    along: list[float] = []
    top: list[float] = []

    def record(model: QuadrotorBase) -> None:
        p = model.positions
        along.append(max(p[0, 0] - goal[0, 0], p[1, 1] - goal[1, 1]))
        top.append(float(np.linalg.norm(model.velocities, axis=1).max()))

    elapsed = q.fly_to(goal, speed=SPEED, callback=record)
    assert q.reached.all()
    q.hold(3.0, positions=goal, callback=record)
    error = float(np.linalg.norm(q.positions - goal, axis=1).max())
    return elapsed, max(along), max(top), error


@pytest.mark.parametrize("airframe", ["cf2x", "sar_quad"])
@pytest.mark.parametrize("controller", [PIDController, LQRController])
def test_waypoint_10_m_numba(controller: type, airframe: str) -> None:
    q = Quadrotor(2, airframe=airframe, controller=controller(airframe=airframe))
    elapsed, overshoot, top, error = _leg(q)
    assert elapsed < MAX_TIME
    assert overshoot < MAX_OVERSHOOT
    assert top < MAX_SPEED_FACTOR * SPEED
    assert error < MAX_FINAL_ERROR
    assert np.abs(q.headings - [0.0, 1.0]).max() < 0.01
    assert not q.crashed.any()


@pytest.mark.parametrize("controller", [PIDController, LQRController])
def test_waypoint_10_m_pybullet(controller: type) -> None:
    q = BulletQuadrotor(2, controller=controller(airframe="cf2x"))
    elapsed, overshoot, top, error = _leg(q)
    q.close()
    assert elapsed < MAX_TIME
    assert overshoot < MAX_OVERSHOOT
    assert top < MAX_SPEED_FACTOR * SPEED
    assert error < MAX_FINAL_ERROR


def test_timeout_reports_not_reached() -> None:
    q = Quadrotor(1, controller=PIDController())
    q.reset([[0, 0, 10]], [0])
    elapsed = q.fly_to([[100, 0, 10]], speed=5.0, timeout=1.0)
    assert elapsed == pytest.approx(1.0, abs=0.01)
    assert not q.reached[0]


def test_lqr_gain_is_stabilising() -> None:
    dt = 1 / 240
    k = lqr_gain(dt, q_int=0.1, q_pos=2.0, q_vel=1.0)
    assert k.shape == (3, 9)
    i3, z3 = np.eye(3), np.zeros((3, 3))
    # Exact ZOH discretisation of the integral-augmented double integrator.
    a = np.block([[i3, dt * i3, dt**2 / 2 * i3], [z3, i3, dt * i3], [z3, z3, i3]])
    b = np.vstack([dt**3 / 6 * i3, dt**2 / 2 * i3, dt * i3])
    assert np.abs(np.linalg.eigvals(a - b @ k)).max() < 1.0


def test_flight_controller_by_name() -> None:
    assert isinstance(flight_controller("PID", airframe="sar_quad"), PIDController)
    assert isinstance(flight_controller("lqr"), LQRController)
    with pytest.raises(ValueError, match="expected one of"):
        flight_controller("mpc")
