"""Batched numba quadrotor: airframes, hover, free fall, yaw, ground, wind, errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from swarmsim.dynamics import Dynamics
from swarmsim.dynamics.airframe import GRAVITY, AirframeError, load_airframe
from swarmsim.dynamics.quadrotor import Quadrotor, RotorCommandError


def test_cf2x_figures_from_urdf() -> None:
    af = load_airframe("cf2x")
    assert (af.mass, af.arm, af.kf, af.km) == (0.027, 0.0397, 3.16e-10, 7.94e-12)
    assert af.inertia == (1.4e-5, 1.4e-5, 2.17e-5)
    assert af.thrust_to_weight == 2.25
    # gym-pybullet-drones quotes hover 14 468 rpm and max 21 703 rpm with g = 9.8.
    scale = math.sqrt(9.8 / GRAVITY)
    assert af.hover_rpm * scale == pytest.approx(14468, abs=1)
    assert af.max_rpm * scale == pytest.approx(21703, abs=1)


def test_sar_quad_is_a_one_kilogram_class_airframe() -> None:
    af = load_airframe("sar_quad")
    assert af.mass == pytest.approx(1.0)
    assert 2.0 < af.thrust_to_weight < 3.5
    assert 3000 < af.hover_rpm < 7000


def test_unknown_airframe_raises() -> None:
    with pytest.raises(AirframeError, match="unknown airframe 'nope'"):
        Quadrotor(1, airframe="nope")
    assert issubclass(AirframeError, ValueError)


def test_urdf_without_kf_raises(tmp_path) -> None:
    text = load_airframe("cf2x").urdf.read_text().replace('kf="3.16e-10" ', "")
    bad = tmp_path / "bad.urdf"
    bad.write_text(text)
    with pytest.raises(AirframeError, match="'kf'"):
        load_airframe(bad)


def test_implements_the_dynamics_protocol() -> None:
    assert isinstance(Quadrotor(2), Dynamics)


def test_collision_cylinders_come_from_the_urdf() -> None:
    assert load_airframe("cf2x").collision == (0.06, 0.025)
    assert load_airframe("sar_quad").collision == (0.3, 0.1)


def test_drone_flown_into_a_trunk_crashes_like_in_pybullet() -> None:
    from controllers.flight import PIDController

    # The pybullet test's set-up: drone 0 flies through a trunk at x = 5, drone 1 passes 5 m
    # to the side, drone 2 flies over a trunk that is too short to reach it.
    trunks = [(5.0, 0.0, 0.3, 20.0), (5.0, -5.0, 0.3, 4.9)]
    q = Quadrotor(3, controller=PIDController(), trunks=trunks)
    q.reset([[0, 0, 5], [0, 5, 5], [0, -5, 5]], [0, 0, 0])
    q.fly_to([[10, 0, 5], [10, 5, 5], [10, -5, 5]], speed=3.0)
    assert q.crashed.tolist() == [True, False, False]
    # Stopped on the trunk's surface (radius 0.3 + the CF2X's 0.06), not passed through.
    assert q.positions[0, 0] == pytest.approx(5.0 - 0.36, abs=0.02)
    assert q.reached.tolist() == [False, True, True]
    with pytest.raises(ValueError, match=r"trunks\[1\]"):
        Quadrotor(1, trunks=[(0.0, 0.0, 1.0, 5.0), (0.0, 0.0, 0.0, 5.0)])


@pytest.mark.parametrize("airframe", ["cf2x", "sar_quad"])
def test_hover_keeps_altitude_for_5_s(airframe: str) -> None:
    q = Quadrotor(3, airframe=airframe)
    q.reset([[0, 0, 10], [5, 0, 20], [0, 5, 1]], [0.0, 1.0, -2.0])
    hover = q.airframe.hover_rpm
    worst = 0.0
    for _ in range(round(5.0 * q.ctrl_hz)):
        q.step(hover)
        worst = max(worst, float(np.abs(q.positions[:, 2] - [10, 20, 1]).max()))
    assert q.time == pytest.approx(5.0)
    assert worst < 0.01
    assert np.abs(q.positions[:, :2] - [[0, 0], [5, 0], [0, 5]]).max() < 0.01


def test_free_fall_matches_analytic_solution_with_linear_drag() -> None:
    q = Quadrotor(2)
    q.reset([[0, 0, 50], [1, 1, 60]], [0, 0], rotor_speeds=0.0)
    m, c, t = q.airframe.mass, q.airframe.drag_z, 2.0
    for _ in range(round(t * q.ctrl_hz)):
        q.step(0.0)
    # m dv/dt = -m g - c v from rest.
    vt = m * GRAVITY / c
    z = -vt * (t - (m / c) * (1 - math.exp(-c * t / m)))
    v = -vt * (1 - math.exp(-c * t / m))
    np.testing.assert_allclose(q.positions[:, 2], [50 + z, 60 + z], atol=0.01)
    np.testing.assert_allclose(q.velocities[:, 2], v, atol=0.01)


def test_free_fall_without_drag_is_parabolic() -> None:
    af = dataclasses.replace(load_airframe("sar_quad"), drag_z=1e-12, drag_xy=1e-12)
    q = Quadrotor(1, airframe=af)
    q.reset([[0, 0, 100]], [0], rotor_speeds=0.0)
    for _ in range(240):
        q.step(0.0)
    assert q.positions[0, 2] == pytest.approx(100 - 0.5 * GRAVITY, abs=0.01)
    assert q.velocities[0, 2] == pytest.approx(-GRAVITY, abs=0.01)


def test_pure_yaw_manoeuvre_matches_analytic_solution() -> None:
    q = Quadrotor(1)
    af = q.airframe
    eps = 0.01
    hover = af.hover_rpm
    # Same total thrust, more speed on the counter-clockwise rotors (1 and 3).
    cmd = hover * np.sqrt([1 - eps, 1 + eps, 1 - eps, 1 + eps])
    q.reset([[0, 0, 10]], [0.3], rotor_speeds=cmd)
    t = 1.0
    for _ in range(round(t * q.ctrl_hz)):
        q.step(cmd)
    alpha = 4 * af.km * hover**2 * eps / af.inertia[2]  # rad/s²
    assert q.body_rates[0] == pytest.approx([0, 0, alpha * t], abs=1e-6 + 1e-3 * alpha)
    expected = 0.3 + 0.5 * alpha * t**2
    assert math.remainder(q.headings[0] - expected, 2 * math.pi) == pytest.approx(0, abs=2e-3)
    assert q.positions[0] == pytest.approx([0, 0, 10], abs=1e-3)
    # Still level: the quaternion is a rotation about z only.
    assert np.abs(q.attitudes[0, :2]).max() < 1e-9


def test_landing_rests_on_the_ground_and_hard_impact_crashes() -> None:
    q = Quadrotor(2)
    q.reset([[0, 0, 0.2], [5, 0, 30]], [0, 0], rotor_speeds=0.0)
    for _ in range(round(10 * q.ctrl_hz)):
        q.step(0.0)
    assert np.all(q.positions[:, 2] == 0.0)
    assert np.all(q.velocities == 0.0)
    # 0.2 m drop lands softly; 30 m reaches the terminal ~4.4 m/s, above crash_speed 3 m/s.
    assert q.crashed.tolist() == [False, True]


def test_take_off_from_the_ground() -> None:
    q = Quadrotor(1)
    q.reset([[0, 0, 0]], [0])
    for _ in range(240):
        q.step(1.1 * q.airframe.hover_rpm)
    assert q.positions[0, 2] > 0.1
    assert not q.crashed[0]


def test_wind_pushes_drones_downwind() -> None:
    def wind(t: float, positions: np.ndarray) -> np.ndarray:
        return np.tile([3.0, 0.0, 0.0], (positions.shape[0], 1))

    q = Quadrotor(2, wind=wind)
    q.reset([[0, 0, 10], [0, 5, 10]], [0, 0])
    for _ in range(240):
        q.step(q.airframe.hover_rpm)
    assert np.all(q.velocities[:, 0] > 0.5)
    assert np.all(q.velocities[:, 0] < 3.0)


def test_parallel_kernel_matches_single_drone() -> None:
    n = 1000
    q = Quadrotor(n)
    one = Quadrotor(1)
    start = [[0, 0, 10]]
    q.reset(np.repeat(start, n, 0), np.zeros(n))
    one.reset(start, [0])
    cmd = q.airframe.hover_rpm * np.array([1.01, 1.0, 0.99, 1.0])
    q.step(np.tile(cmd, (n, 1)), 0.5)  # 480 physics steps per drone: the parallel path
    one.step(cmd, 0.5)
    np.testing.assert_array_equal(q.positions, np.repeat(one.positions, n, 0))
    np.testing.assert_array_equal(q.attitudes, np.repeat(one.attitudes, n, 0))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.nan, "NaN or infinite"),
        (-1.0, "negative command"),
        (np.ones((2, 3)), r"expected \(n, 4\)"),
    ],
)
def test_bad_rotor_commands_raise(bad: object, match: str) -> None:
    q = Quadrotor(2)
    q.reset(np.zeros((2, 3)), np.zeros(2))
    cmd = bad if np.ndim(bad) else np.full((2, 4), 1000.0)
    if not np.ndim(bad):
        cmd[1, 2] = bad
    with pytest.raises(RotorCommandError, match=match):
        q.step(cmd)
    assert issubclass(RotorCommandError, ValueError)


def test_fly_to_without_controller_raises() -> None:
    q = Quadrotor(1)
    q.reset([[0, 0, 5]], [0])
    with pytest.raises(ValueError, match="flight controller"):
        q.fly_to([[1, 0, 5]])
