"""Kinematic waypoint flight: the paper's time accounting."""

from __future__ import annotations

import numpy as np
import pytest

from swarmsim.dynamics import Dynamics
from swarmsim.dynamics.kinematic import Kinematic


def test_kinematic_implements_the_protocol() -> None:
    assert isinstance(Kinematic(2), Dynamics)


def test_iteration_lasts_max_displacement_over_speed() -> None:
    model = Kinematic(3)
    model.reset(np.array([[0.0, 0.0, 35.0], [4.2, 0.0, 36.0], [8.4, 0.0, 37.0]]), np.zeros(3))
    waypoints = np.array([[3.0, 4.0, 35.0], [4.2, 1.0, 36.0], [8.4, 0.0, 37.0]])
    assert model.fly_to(waypoints) == pytest.approx(5.0 / 10.0)  # 5 m at the default 10 m/s
    assert np.array_equal(model.positions, waypoints)
    assert np.allclose(model.velocities[0], [6.0, 8.0, 0.0])
    assert np.allclose(model.velocities[2], 0.0)  # a drone that stays has no velocity
    assert model.fly_to(waypoints + [0.0, 2.0, 0.0], speed=4.0) == pytest.approx(0.5)
    assert model.time == pytest.approx(1.0)
    assert not model.crashed.any()
    model.reset(waypoints, np.full(3, 0.5))
    assert model.time == 0.0 and np.allclose(model.headings, 0.5)


def test_latency_is_added_to_every_iteration() -> None:
    model = Kinematic(1, speed=5.0, latency=0.25)
    model.reset(np.zeros((1, 3)), np.zeros(1))
    assert model.fly_to(np.array([[10.0, 0.0, 0.0]])) == pytest.approx(2.25)
    assert model.fly_to(np.array([[10.0, 0.0, 0.0]])) == pytest.approx(0.25)  # hovering
    assert model.time == pytest.approx(2.5)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="speed"):
        Kinematic(2, speed=0.0)
    model = Kinematic(1)
    model.reset(np.zeros((1, 3)), np.zeros(1))
    with pytest.raises(ValueError, match="finite"):
        model.fly_to(np.array([[np.nan, 0.0, 0.0]]))


def test_callback_sees_each_drone_at_constant_speed_along_its_leg() -> None:
    model = Kinematic(2, latency=0.25, frame_rate=10.0)
    start = np.array([[0.0, 0.0, 35.0], [4.0, 0.0, 36.0]])
    model.reset(start, np.zeros(2))
    legs = np.array([[0.0, 5.0, 0.0], [2.0, 0.0, 0.0]])  # 5 m and 2 m at 10 m/s
    frames: list[tuple[float, np.ndarray]] = []
    elapsed = model.fly_to(start + legs, callback=lambda m: frames.append((m.time, m.positions)))
    assert elapsed == pytest.approx(0.75)
    times = np.array([t for t, _ in frames])
    np.testing.assert_allclose(times, [0.1, 0.2, 0.3, 0.4, 0.5])  # the last one: arrival
    for t, positions in frames:
        # Analytic: each drone covers 10 m/s * t of its leg, then waits at its waypoint.
        share = np.minimum(1.0, 10.0 * t / np.linalg.norm(legs, axis=1))
        np.testing.assert_allclose(positions, start + share[:, None] * legs, atol=1e-12)
    assert model.time == pytest.approx(0.75)  # the latency is spent at the waypoint
    np.testing.assert_array_equal(model.positions, start + legs)
    # A flight with and without a callback ends in the same state.
    other = Kinematic(2, latency=0.25)
    other.reset(start, np.zeros(2))
    assert other.fly_to(start + legs) == elapsed and other.time == model.time
