"""numba kernel: n rigid-body quadrotors advanced by a number of fixed physics steps.

Integration is semi-implicit (symplectic) Euler, the scheme Bullet uses: velocity from the
forces at the start of the step, position from the new velocity; the attitude quaternion is
rotated by the exact exponential of the new body rate over the step; the motor lag is integrated
exactly for a command held over the step.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# Indices into the parameter vector built by `pack_params`.
P_MASS, P_G, P_A, P_KF, P_KM, P_IXX, P_IYY, P_IZZ, P_DXY, P_DZ, P_ALPHA, P_CRASH = range(12)


def pack_params(
    *,
    mass: float,
    gravity: float,
    arm: float,
    kf: float,
    km: float,
    inertia: tuple[float, float, float],
    drag_xy: float,
    drag_z: float,
    motor_tau: float,
    h: float,
    crash_speed: float,
) -> np.ndarray:
    """Parameter vector for `step_kernel`; ``h`` is the physics step in s."""
    return np.array(
        [
            mass,
            gravity,
            arm / math.sqrt(2.0),
            kf,
            km,
            inertia[0],
            inertia[1],
            inertia[2],
            drag_xy,
            drag_z,
            1.0 - math.exp(-h / motor_tau),
            crash_speed,
        ]
    )


@njit(cache=True)
def _drone(
    i: int,
    pos: np.ndarray,
    vel: np.ndarray,
    quat: np.ndarray,
    rate: np.ndarray,
    rotor: np.ndarray,
    crashed: np.ndarray,
    cmd: np.ndarray,
    wind: np.ndarray,
    prm: np.ndarray,
    h: float,
    nsub: int,
) -> None:
    """Advance drone i by nsub physics steps (arguments as in `step_kernel`)."""
    m = prm[P_MASS]
    g = prm[P_G]
    a = prm[P_A]
    kf = prm[P_KF]
    km = prm[P_KM]
    ixx = prm[P_IXX]
    iyy = prm[P_IYY]
    izz = prm[P_IZZ]
    dxy = prm[P_DXY]
    dz = prm[P_DZ]
    alpha = prm[P_ALPHA]
    crash_speed = prm[P_CRASH]
    # Divisions hoisted out of the step loop.
    hm = h / m
    hg = h * g
    hx = h / ixx
    hy = h / iyy
    hz = h / izz
    px, py, pz = pos[i, 0], pos[i, 1], pos[i, 2]
    vx, vy, vz = vel[i, 0], vel[i, 1], vel[i, 2]
    qx, qy, qz, qw = quat[i, 0], quat[i, 1], quat[i, 2], quat[i, 3]
    p, q, r = rate[i, 0], rate[i, 1], rate[i, 2]
    w0, w1, w2, w3 = rotor[i, 0], rotor[i, 1], rotor[i, 2], rotor[i, 3]
    c0, c1, c2, c3 = cmd[i, 0], cmd[i, 1], cmd[i, 2], cmd[i, 3]
    if crashed[i]:
        c0 = c1 = c2 = c3 = 0.0
    wx, wy, wz = wind[i, 0], wind[i, 1], wind[i, 2]
    for _ in range(nsub):
        w0 += alpha * (c0 - w0)
        w1 += alpha * (c1 - w1)
        w2 += alpha * (c2 - w2)
        w3 += alpha * (c3 - w3)
        s0, s1, s2, s3 = w0 * w0, w1 * w1, w2 * w2, w3 * w3
        thrust = kf * (s0 + s1 + s2 + s3)
        tx = a * kf * (s0 + s1 - s2 - s3)
        ty = a * kf * (-s0 + s1 + s2 - s3)
        tz = km * (-s0 + s1 - s2 + s3)
        # Rotation matrix body -> world from the unit quaternion.
        r00 = 1.0 - 2.0 * (qy * qy + qz * qz)
        r01 = 2.0 * (qx * qy - qz * qw)
        r02 = 2.0 * (qx * qz + qy * qw)
        r10 = 2.0 * (qx * qy + qz * qw)
        r11 = 1.0 - 2.0 * (qx * qx + qz * qz)
        r12 = 2.0 * (qy * qz - qx * qw)
        r20 = 2.0 * (qx * qz - qy * qw)
        r21 = 2.0 * (qy * qz + qx * qw)
        r22 = 1.0 - 2.0 * (qx * qx + qy * qy)
        # Linear drag acts on the airspeed expressed in the body frame.
        ax_, ay_, az_ = vx - wx, vy - wy, vz - wz
        bx = -dxy * (r00 * ax_ + r10 * ay_ + r20 * az_)
        by = -dxy * (r01 * ax_ + r11 * ay_ + r21 * az_)
        bz = thrust - dz * (r02 * ax_ + r12 * ay_ + r22 * az_)
        vx += hm * (r00 * bx + r01 * by + r02 * bz)
        vy += hm * (r10 * bx + r11 * by + r12 * bz)
        vz += hm * (r20 * bx + r21 * by + r22 * bz) - hg
        px += h * vx
        py += h * vy
        pz += h * vz
        # Euler's equations: J dw/dt = tau - w x J w.
        dp = hx * (tx - (izz - iyy) * q * r)
        dq = hy * (ty - (ixx - izz) * p * r)
        dr = hz * (tz - (iyy - ixx) * p * q)
        p += dp
        q += dq
        r += dr
        # q <- q * exp(w h / 2), body-frame rate. The half angle x = |w| h / 2 is small (0.05 at
        # 100 rad/s and 960 Hz), where the Taylor series of sin(x)/|w| and cos(x) to x^6 is exact
        # in double precision and much cheaper than sin, cos and sqrt.
        x2 = 0.25 * h * h * (p * p + q * q + r * r)
        if x2 < 0.01:
            sk = 0.5 * h * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0)))
            ew = 1.0 - 0.5 * x2 * (1.0 - x2 / 12.0 * (1.0 - x2 / 30.0))
        else:
            half = math.sqrt(x2)
            sk = 0.5 * h * math.sin(half) / half
            ew = math.cos(half)
        ex, ey, ez = p * sk, q * sk, r * sk
        nx = qw * ex + qx * ew + qy * ez - qz * ey
        ny = qw * ey - qx * ez + qy * ew + qz * ex
        nz = qw * ez + qx * ey - qy * ex + qz * ew
        nw = qw * ew - qx * ex - qy * ey - qz * ez
        # One Newton step towards unit norm: the product of unit quaternions is off by round-off.
        inv = 1.5 - 0.5 * (nx * nx + ny * ny + nz * nz + nw * nw)
        qx, qy, qz, qw = nx * inv, ny * inv, nz * inv, nw * inv
        if pz < 0.0:
            # Ground contact: the drone stops on the ground, level, keeping its yaw; a fast
            # touchdown is a crash.
            if -vz > crash_speed:
                crashed[i] = True
                c0 = c1 = c2 = c3 = 0.0
            pz = 0.0
            vx = vy = vz = 0.0
            p = q = r = 0.0
            yaw = math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
            qx, qy, qz, qw = 0.0, 0.0, math.sin(0.5 * yaw), math.cos(0.5 * yaw)
    pos[i, 0], pos[i, 1], pos[i, 2] = px, py, pz
    vel[i, 0], vel[i, 1], vel[i, 2] = vx, vy, vz
    quat[i, 0], quat[i, 1], quat[i, 2], quat[i, 3] = qx, qy, qz, qw
    rate[i, 0], rate[i, 1], rate[i, 2] = p, q, r
    rotor[i, 0], rotor[i, 1], rotor[i, 2], rotor[i, 3] = w0, w1, w2, w3


@njit(parallel=True, cache=True)
def _step_parallel(pos, vel, quat, rate, rotor, crashed, cmd, wind, prm, h, nsub):
    for i in prange(pos.shape[0]):
        _drone(i, pos, vel, quat, rate, rotor, crashed, cmd, wind, prm, h, nsub)


@njit(cache=True)
def _step_serial(pos, vel, quat, rate, rotor, crashed, cmd, wind, prm, h, nsub):
    for i in range(pos.shape[0]):
        _drone(i, pos, vel, quat, rate, rotor, crashed, cmd, wind, prm, h, nsub)


# Below this many drone-steps per call, thread start-up costs more than it saves.
PARALLEL_MIN_WORK = 20_000


def step_kernel(
    pos: np.ndarray,
    vel: np.ndarray,
    quat: np.ndarray,
    rate: np.ndarray,
    rotor: np.ndarray,
    crashed: np.ndarray,
    cmd: np.ndarray,
    wind: np.ndarray,
    prm: np.ndarray,
    h: float,
    nsub: int,
) -> None:
    """Advance every drone by ``nsub`` steps of ``h`` seconds, in place.

    Args:
        pos, vel: (n, 3) world position (m) and velocity (m/s).
        quat: (n, 4) body-to-world attitude, scalar last (x, y, z, w).
        rate: (n, 3) body rates (rad/s).
        rotor: (n, 4) rotor speeds (rpm).
        crashed: (n,) bool; crashed drones get no thrust, and set here on a hard landing.
        cmd: (n, 4) commanded rotor speeds (rpm), held over the call.
        wind: (n, 3) wind velocity (m/s), held over the call.
        prm: parameters from `pack_params`.
    """
    kernel = _step_parallel if pos.shape[0] * nsub >= PARALLEL_MIN_WORK else _step_serial
    kernel(pos, vel, quat, rate, rotor, crashed, cmd, wind, prm, h, nsub)
