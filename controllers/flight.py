"""Flight controllers for `swarmsim.dynamics.quadrotor`: cascaded PID and LQR, batched over drones.

Both share the inner loops: desired acceleration -> thrust vector and attitude (geometric, as in
Mellinger & Kumar 2011) -> body-rate P loop -> torques -> X-configuration mixer -> rotor rpm.
They differ in the position loop:

* `PIDController`: position P -> velocity PI cascade (the structure of gym-pybullet-drones'
  DSLPIDControl, gains in natural units so they suit any airframe).
* `LQRController`: discrete LQR (``control.dlqr``) on the hover linearisation of the translational
  dynamics - per axis a double integrator from commanded acceleration, augmented with the integral
  of the position error - discretised at the control rate with ``control.c2d`` (zero-order hold).

Gains scale with the airframe's motor time constant: the slower the motors, the lower the inner
bandwidth, and every outer loop stays a factor ~2.5 slower than the loop inside it.
"""

from __future__ import annotations

import math
from pathlib import Path

import control
import numpy as np

from swarmsim.dynamics.airframe import GRAVITY, Airframe, load_airframe
from swarmsim.dynamics.quadrotor import FlightState

__all__ = [
    "FLIGHT_CONTROLLERS",
    "LQRController",
    "PIDController",
    "flight_controller",
    "lqr_gain",
    "quaternion_matrices",
]

MAX_TILT = math.radians(35.0)  # keeps enough thrust for altitude while accelerating


def quaternion_matrices(quat: np.ndarray) -> np.ndarray:
    """(n, 3, 3) body-to-world rotation matrices of (n, 4) x, y, z, w quaternions."""
    x, y, z, w = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        1,
    )


class _Cascade:
    """Inner loops shared by the controllers: acceleration command -> rotor rpm."""

    def __init__(self, airframe: str | Path | Airframe) -> None:
        self.airframe = af = load_airframe(airframe)
        # Inner bandwidths (rad/s) limited by the motor lag: crossover at ~0.6 / tau keeps
        # ~40 degrees of phase margin with the lag and the control-step delay.
        self.k_rate = np.array([1.0, 1.0, 0.4]) * min(25.0, 0.6 / af.motor_tau)
        self.k_att = np.array([1.0, 1.0, 0.5]) * self.k_rate[0] / 3.0
        self.bandwidth = self.k_att[0] / 2.5  # of the translational loop, rad/s
        self.inertia = np.array(af.inertia)
        a = af.arm / math.sqrt(2.0)
        c = af.km / af.kf
        # [T, tx, ty, tz] = mix @ rotor thrusts (layout in swarmsim.dynamics.airframe).
        mix = np.array([[1.0, 1.0, 1.0, 1.0], [a, a, -a, -a], [-a, a, a, -a], [-c, c, -c, c]])
        self.unmix = np.linalg.inv(mix)
        self.max_thrust = af.kf * af.max_rpm**2
        self.reset(0)

    def reset(self, n: int) -> None:
        """Clear integrators for n drones."""
        self.n = int(n)
        self._ref_vel = np.zeros((self.n, 3))
        self._int = np.zeros((self.n, 3))

    def _resize(self, state: FlightState) -> None:
        """Start fresh when the number of drones changes (the first call included)."""
        if self._int.shape[0] != state.positions.shape[0]:
            self.reset(state.positions.shape[0])

    def track_velocity(
        self,
        state: FlightState,
        ref_velocities: np.ndarray,
        ref_altitudes: np.ndarray,
        ref_yaws: np.ndarray,
        dt: float,
    ) -> np.ndarray:
        """Velocity-command mode: (n, 4) rotor rpm tracking horizontal velocities (n, 2) m/s.

        The horizontal position loop is opened (the position reference follows the drone) and
        the altitude is held at ``ref_altitudes`` (n,) m; yaws (n,) rad, dt in s. A velocity
        command is a set-point, not a trajectory, so its rate of change is not fed forward:
        the response is that of the velocity loop (bandwidth `velocity_gain`).
        """
        self._resize(state)
        ref_pos = state.positions.copy()
        ref_pos[:, 2] = ref_altitudes
        ref_vel = np.zeros_like(ref_pos)
        ref_vel[:, :2] = ref_velocities
        self._ref_vel = ref_vel.copy()  # no change since "last" reference: no feed-forward
        return self.rotor_speeds(state, ref_pos, ref_vel, ref_yaws, dt)

    def rotor_speeds(
        self,
        state: FlightState,
        ref_positions: np.ndarray,
        ref_velocities: np.ndarray,
        ref_yaws: np.ndarray,
        dt: float,
    ) -> np.ndarray:
        """Position-loop control law of the subclass (see `PIDController.rotor_speeds`)."""
        raise NotImplementedError

    def _feedforward(self, ref_velocities: np.ndarray, dt: float) -> np.ndarray:
        """(n, 3) reference acceleration in m/s², differenced from successive references.

        The protocol hands over position and velocity only; without the acceleration the
        drone lags the reference through every speed change and overshoots at the end.
        """
        acc = (ref_velocities - self._ref_vel) / dt
        self._ref_vel = ref_velocities.copy()
        return np.clip(acc, -GRAVITY, GRAVITY)

    def _rotors(self, state: FlightState, acc: np.ndarray, ref_vel: np.ndarray, yaws: np.ndarray):
        """(n, 4) rpm realising world accelerations acc (n, 3) m/s² at yaw angles (n,) rad."""
        af = self.airframe
        acc = acc.copy()
        # Tilt limit: horizontal acceleration at most g·tan(MAX_TILT) (keeps altitude authority).
        h = np.linalg.norm(acc[:, :2], axis=1)
        lim = (GRAVITY + np.maximum(acc[:, 2], -0.5 * GRAVITY)) * math.tan(MAX_TILT)
        scale = np.where(h > lim, lim / np.maximum(h, 1e-12), 1.0)
        acc[:, :2] *= scale[:, None]
        rot = quaternion_matrices(state.attitudes)
        # Feed forward the linear drag at the reference velocity (drag is known from the URDF).
        drag = np.array([af.drag_xy, af.drag_xy, af.drag_z])
        force = af.mass * (acc + np.array([0.0, 0.0, GRAVITY])) + drag * ref_vel
        force[:, 2] = np.maximum(force[:, 2], 0.1 * af.mass * GRAVITY)
        zb = force / np.linalg.norm(force, axis=1, keepdims=True)
        thrust = np.einsum("ni,ni->n", force, rot[:, :, 2])
        xc = np.stack([np.cos(yaws), np.sin(yaws), np.zeros_like(yaws)], -1)
        yb = np.cross(zb, xc)
        yb /= np.linalg.norm(yb, axis=1, keepdims=True)
        xb = np.cross(yb, zb)
        rdes = np.stack([xb, yb, zb], -1)
        # Attitude error e_R = vee(R_des^T R - R^T R_des) / 2.
        m = np.einsum("nji,njk->nik", rdes, rot)
        e = 0.5 * np.stack(
            [m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]], -1
        )
        rate_des = -self.k_att * e
        w = state.body_rates
        jw = self.inertia * w
        torque = self.inertia * (self.k_rate * (rate_des - w)) + np.cross(w, jw)
        u = np.concatenate([np.maximum(thrust, 0.0)[:, None], torque], 1)
        forces = np.clip(u @ self.unmix.T, 0.0, self.max_thrust)
        return np.sqrt(forces / af.kf)


class PIDController(_Cascade):
    """Cascaded PID: position P -> velocity PI -> attitude P -> body-rate P -> rotor rpm.

    Args:
        airframe: Airframe name, URDF path or Airframe (the one being flown).
        k_vel: Velocity gain, 1/s (default 1.3 x the translational bandwidth, i.e. about half
            the attitude loop's).
        k_pos: Position gain, 1/s (default k_vel / 2: damping ratio ~0.7).
        k_int: Integral gain on the position error, 1/s² (default 0.03 · k_pos · k_vel).
    """

    def __init__(
        self,
        *,
        airframe: str | Path | Airframe = "cf2x",
        k_pos: float | None = None,
        k_vel: float | None = None,
        k_int: float | None = None,
    ) -> None:
        super().__init__(airframe)
        self.k_vel = 1.3 * self.bandwidth if k_vel is None else float(k_vel)
        self.k_pos = self.k_vel / 2.0 if k_pos is None else float(k_pos)
        self.k_int = 0.03 * self.k_pos * self.k_vel if k_int is None else float(k_int)

    @property
    def velocity_gain(self) -> float:
        """Horizontal velocity-error gain, 1/s: the velocity loop's design bandwidth."""
        return self.k_vel

    def rotor_speeds(
        self,
        state: FlightState,
        ref_positions: np.ndarray,
        ref_velocities: np.ndarray,
        ref_yaws: np.ndarray,
        dt: float,
    ) -> np.ndarray:
        """(n, 4) rotor rpm tracking references (n, 3) m, (n, 3) m/s, (n,) rad; dt in s."""
        self._resize(state)
        err = ref_positions - state.positions
        # Anti-windup: the integral is bounded to what it may need (a few m/s² at most).
        bound = 2.0 / max(self.k_int, 1e-9)
        self._int = np.clip(self._int + err * dt, -bound, bound)
        vcmd = ref_velocities + self.k_pos * err
        acc = self.k_vel * (vcmd - state.velocities) + self.k_int * self._int
        acc += self._feedforward(ref_velocities, dt)
        return self._rotors(state, acc, ref_velocities, ref_yaws)


def lqr_gain(dt: float, *, q_int: float, q_pos: float, q_vel: float, r: float = 1.0) -> np.ndarray:
    """(3, 9) discrete LQR gain on [∫e_p, e_p, e_v] (each (3,)) for the hover linearisation.

    Near hover the position responds to the commanded acceleration as a double integrator per
    axis (attitude and thrust loops being much faster); the model is discretised with a zero-order
    hold at the control step dt (``control.c2d``) and ``control.dlqr`` returns u = -K x.
    """
    i3, z3 = np.eye(3), np.zeros((3, 3))
    a = np.block([[z3, i3, z3], [z3, z3, i3], [z3, z3, z3]])
    b = np.vstack([z3, z3, i3])
    sysd = control.c2d(control.ss(a, b, np.eye(9), np.zeros((9, 3))), dt, method="zoh")
    q = np.diag([q_int] * 3 + [q_pos] * 3 + [q_vel] * 3)
    k, _, _ = control.dlqr(sysd.A, sysd.B, q, r * np.eye(3))
    return np.asarray(k)


class LQRController(_Cascade):
    """LQR position controller (python-control) over the shared attitude and rate loops.

    Args:
        airframe: Airframe name, URDF path or Airframe (the one being flown).
        ctrl_hz: Control rate the gain is discretised for, Hz.
        q_pos, q_vel, q_int: State weights on position (1/m²·...), velocity and integral error;
            defaults put the closed loop at ω = 0.7 x the translational bandwidth of the inner
            loops (q_pos = ω⁴, q_vel = 1.5·ω², q_int = 0.05·ω⁶ with r = 1: per axis roughly
            K ≈ [0.22·ω³, 1.4·ω², 2·ω]).
        r: Input weight on the commanded acceleration.
    """

    def __init__(
        self,
        *,
        airframe: str | Path | Airframe = "cf2x",
        ctrl_hz: float = 240.0,
        q_pos: float | None = None,
        q_vel: float | None = None,
        q_int: float | None = None,
        r: float = 1.0,
    ) -> None:
        super().__init__(airframe)
        w = self.bandwidth / 1.4
        self.dt = 1.0 / float(ctrl_hz)
        self.gain = lqr_gain(
            self.dt,
            q_int=0.05 * w**6 if q_int is None else float(q_int),
            q_pos=w**4 if q_pos is None else float(q_pos),
            q_vel=1.5 * w**2 if q_vel is None else float(q_vel),
            r=r,
        )

    @property
    def velocity_gain(self) -> float:
        """Horizontal velocity-error gain, 1/s: the velocity loop's design bandwidth."""
        return float(self.gain[0, 6])

    def rotor_speeds(
        self,
        state: FlightState,
        ref_positions: np.ndarray,
        ref_velocities: np.ndarray,
        ref_yaws: np.ndarray,
        dt: float,
    ) -> np.ndarray:
        """(n, 4) rotor rpm tracking references (n, 3) m, (n, 3) m/s, (n,) rad; dt in s."""
        self._resize(state)
        ep = state.positions - ref_positions
        self._int = np.clip(self._int + ep * dt, -5.0, 5.0)
        x = np.concatenate([self._int, ep, state.velocities - ref_velocities], 1)
        acc = self._feedforward(ref_velocities, dt) - x @ self.gain.T
        return self._rotors(state, acc, ref_velocities, ref_yaws)


FLIGHT_CONTROLLERS = {"pid": PIDController, "lqr": LQRController}


def flight_controller(
    name: str, *, airframe: str | Path | Airframe = "cf2x", ctrl_hz: float = 240.0
) -> PIDController | LQRController:
    """Controller by name ("pid" or "lqr") for an airframe, as scene files and the CLI name them.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    key = name.lower()
    if key not in FLIGHT_CONTROLLERS:
        raise ValueError(
            f"flight controller {name!r}: expected one of {sorted(FLIGHT_CONTROLLERS)}"
        )
    if key == "lqr":
        return LQRController(airframe=airframe, ctrl_hz=ctrl_hz)
    return PIDController(airframe=airframe)
