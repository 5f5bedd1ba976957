"""pybullet backend: the quadrotors as pybullet bodies, with the interface of `Quadrotor`.

Each drone is loaded from the same URDF as the numba model (``assets/<airframe>.urdf``, inertia
from the file) into a DIRECT-mode physics server. Every physics step we apply, like the numba
model, the four rotor thrusts kf·ω² at the rotor positions, the rotor drag torque km·ω² about body
z, and the linear body drag on the airspeed; gravity, the rigid-body integration and all contacts
are Bullet's. The motor lag is integrated here exactly as in the numba kernel (Bullet has no
motors for a free-flying base).

Tree trunks are static collision cylinders ``(x, y, radius, height)`` standing on the ground
plane; any contact between a drone and a trunk sets its `crashed` flag (its motors then stop),
as does touching the ground faster than ``crash_speed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pybullet as pb

from swarmsim.dynamics.airframe import GRAVITY, ROTOR_SIGNS, Airframe, rotor_positions
from swarmsim.dynamics.quadrotor import FlightController, QuadrotorBase, WindField, check_trunks

__all__ = ["BulletQuadrotor"]


def _matrices(quat: np.ndarray) -> np.ndarray:
    """(n, 3, 3) body-to-world rotations of (n, 4) x, y, z, w quaternions."""
    x, y, z, w = quat.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        1,
    )


class BulletQuadrotor(QuadrotorBase):
    """n quadrotors simulated by pybullet (DIRECT mode); same interface as `Quadrotor`.

    Args:
        n: Number of drones.
        airframe: Name of a URDF in ``assets/``, a URDF path or an Airframe (its ``urdf`` is
            loaded).
        controller: Flight controller used by `fly_to`.
        physics_hz: Bullet step rate in Hz (default 240, as gym-pybullet-drones).
        ctrl_hz: Control rate of `fly_to` and default `step` length, Hz.
        speed: Default waypoint speed limit in m/s.
        wind: Optional wind field ``wind(t, positions (n, 3)) -> (n, 3)`` in m/s.
        crash_speed: Touchdown speed in m/s above which a drone is flagged crashed.
        tolerance: Distance in m at which `fly_to` counts a waypoint as reached.
        trunks: Static cylinders (x, y, radius, height) in metres, standing on z = 0.
    """

    def __init__(
        self,
        n: int,
        *,
        airframe: str | Path | Airframe = "cf2x",
        controller: FlightController | None = None,
        physics_hz: float = 240.0,
        ctrl_hz: float = 240.0,
        speed: float | None = None,
        wind: WindField | None = None,
        crash_speed: float = 3.0,
        tolerance: float = 0.1,
        trunks: Sequence[tuple[float, float, float, float]] = (),
    ) -> None:
        super().__init__(
            n,
            airframe=airframe,
            controller=controller,
            physics_hz=physics_hz,
            ctrl_hz=ctrl_hz,
            speed=speed,
            wind=wind,
            crash_speed=crash_speed,
            tolerance=tolerance,
        )
        trunk_array = check_trunks(trunks)
        self._client = pb.connect(pb.DIRECT)
        cid = self._client
        pb.setGravity(0.0, 0.0, -GRAVITY, physicsClientId=cid)
        plane = pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=cid)
        self._ground = pb.createMultiBody(0.0, plane, physicsClientId=cid)
        self._trunks: set[int] = set()
        for x, y, radius, height in trunk_array:
            shape = pb.createCollisionShape(
                pb.GEOM_CYLINDER, radius=radius, height=height, physicsClientId=cid
            )
            self._trunks.add(
                pb.createMultiBody(
                    0.0, shape, basePosition=(x, y, 0.5 * height), physicsClientId=cid
                )
            )
        self._bodies = []
        for _ in range(self.n):
            body = pb.loadURDF(
                str(self.airframe.urdf), flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=cid
            )
            # Bullet damps free bodies by default (0.04); the drag is ours, so switch it off.
            pb.changeDynamics(body, -1, linearDamping=0.0, angularDamping=0.0, physicsClientId=cid)
            self._bodies.append(body)
        self._arms = rotor_positions(self.airframe.arm)
        self._h = 0.0

    def close(self) -> None:
        """Disconnect the physics server."""
        if self._client is not None and pb.isConnected(self._client):
            pb.disconnect(self._client)
        self._client = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: pybullet may already be gone
            pass

    def _reset_backend(self) -> None:
        for i, body in enumerate(self._bodies):
            pb.resetBasePositionAndOrientation(
                body, self._pos[i].tolist(), self._quat[i].tolist(), physicsClientId=self._client
            )
            pb.resetBaseVelocity(body, [0.0] * 3, [0.0] * 3, physicsClientId=self._client)

    def _read(self) -> None:
        cid = self._client
        for i, body in enumerate(self._bodies):
            p, q = pb.getBasePositionAndOrientation(body, physicsClientId=cid)
            v, w = pb.getBaseVelocity(body, physicsClientId=cid)
            self._pos[i], self._quat[i], self._vel[i] = p, q, v
            self._rate[i] = w  # world frame for now, rotated below
        rot = _matrices(self._quat)
        self._rate = np.einsum("nji,nj->ni", rot, self._rate)

    def _advance(self, cmd: np.ndarray, dt: float, wind: np.ndarray) -> None:
        af = self.airframe
        cid = self._client
        nsub = max(1, round(dt * self.physics_hz))
        h = dt / nsub
        if h != self._h:
            pb.setTimeStep(h, physicsClientId=cid)
            self._h = h
        alpha = 1.0 - math.exp(-h / af.motor_tau)
        drag = np.array([af.drag_xy, af.drag_xy, af.drag_z])
        for _ in range(nsub):
            cmd[self._crashed] = 0.0
            self._rotor += alpha * (cmd - self._rotor)
            thrust = af.kf * self._rotor**2
            yaw_torque = af.km * (self._rotor**2 @ ROTOR_SIGNS)
            rot = _matrices(self._quat)
            air = np.einsum("nji,nj->ni", rot, self._vel - wind)
            drag_w = np.einsum("nij,nj->ni", rot, -drag * air)
            arms_w = self._pos[:, None, :] + np.einsum("nij,kj->nki", rot, self._arms)
            for i, body in enumerate(self._bodies):
                zb = rot[i, :, 2]
                for k in range(4):
                    pb.applyExternalForce(
                        body,
                        -1,
                        (thrust[i, k] * zb).tolist(),
                        arms_w[i, k].tolist(),
                        pb.WORLD_FRAME,
                        physicsClientId=cid,
                    )
                pb.applyExternalForce(
                    body,
                    -1,
                    drag_w[i].tolist(),
                    self._pos[i].tolist(),
                    pb.WORLD_FRAME,
                    physicsClientId=cid,
                )
                pb.applyExternalTorque(
                    body, -1, (yaw_torque[i] * zb).tolist(), pb.WORLD_FRAME, physicsClientId=cid
                )
            falling = -self._vel[:, 2]
            pb.stepSimulation(physicsClientId=cid)
            self._read()
            for i, body in enumerate(self._bodies):
                for contact in pb.getContactPoints(bodyA=body, physicsClientId=cid):
                    other = contact[2]
                    if other in self._trunks or (
                        other == self._ground and falling[i] > self.crash_speed
                    ):
                        self._crashed[i] = True
