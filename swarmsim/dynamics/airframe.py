"""Quadrotor airframes read from the URDF files in ``assets/``.

The URDF follows gym-pybullet-drones: mass and inertia in ``base_link/inertial``, rotor figures in
a ``<properties>`` element (``arm``, ``kf``, ``km``, ``thrust2weight``, ``max_speed_kmh``). We add
``motor_tau`` (first-order motor time constant, s) and ``drag_xy`` / ``drag_z`` (linear body drag,
N per m/s). Rotor speeds are in rpm throughout, so ``kf`` is N/rpm² and ``km`` N·m/rpm², exactly
the figures gym-pybullet-drones ships for the Crazyflie.

Rotor layout (X configuration, body x forward, y left, z up; rotors at ``arm`` from the centre on
the diagonals): rotor 0 front-left (+x, +y), 1 rear-left (-x, +y), 2 rear-right (-x, -y),
3 front-right (+x, -y). Rotors 1 and 3 spin so that their drag torque is +z (counter-clockwise
seen from above), rotors 0 and 2 the other way.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from swarmsim.errors import SwarmsimError

__all__ = [
    "ASSETS",
    "GRAVITY",
    "ROTOR_SIGNS",
    "Airframe",
    "AirframeError",
    "airframe_names",
    "load_airframe",
    "rotor_positions",
]

ASSETS = Path(__file__).resolve().parents[2] / "assets"
GRAVITY = 9.81  # m/s²
# Drag-torque sign of each rotor about body z (see the module docstring).
ROTOR_SIGNS = np.array([-1.0, 1.0, -1.0, 1.0])


class AirframeError(SwarmsimError):
    """An airframe name or URDF file that cannot be used; the message names the problem."""


@dataclass(frozen=True)
class Airframe:
    """Physical parameters of one quadrotor type (SI units, rotor speeds in rpm).

    Attributes:
        name: Airframe name (URDF file stem).
        urdf: Path of the URDF file the figures came from.
        mass: kg.
        arm: Centre-to-rotor distance in m.
        kf: Thrust coefficient, N/rpm² (thrust = kf·ω²).
        km: Drag-torque coefficient, N·m/rpm² (torque = km·ω²).
        inertia: (ixx, iyy, izz) in kg·m² (principal axes = body axes).
        thrust_to_weight: Maximum total thrust over weight; fixes the top rotor speed.
        motor_tau: First-order motor time constant in s.
        drag_xy: Linear body drag along body x and y, N per m/s of airspeed.
        drag_z: Linear body drag along body z, N per m/s.
        max_speed: Design top speed in m/s (default waypoint speed limit).
        collision: (radius, length) in m of the base link's collision cylinder (the shape
            pybullet collides; the numba model checks it against tree trunks); default
            (arm, 0) when the URDF has none.
    """

    name: str
    urdf: Path
    mass: float
    arm: float
    kf: float
    km: float
    inertia: tuple[float, float, float]
    thrust_to_weight: float
    motor_tau: float
    drag_xy: float
    drag_z: float
    max_speed: float
    collision: tuple[float, float] = (0.0, 0.0)

    @property
    def hover_rpm(self) -> float:
        """Rotor speed in rpm at which four rotors carry the weight."""
        return math.sqrt(self.mass * GRAVITY / (4.0 * self.kf))

    @property
    def max_rpm(self) -> float:
        """Top rotor speed in rpm (from the thrust-to-weight ratio)."""
        return math.sqrt(self.thrust_to_weight * self.mass * GRAVITY / (4.0 * self.kf))


def rotor_positions(arm: float) -> np.ndarray:
    """(4, 3) rotor positions in the body frame, metres (layout in the module docstring)."""
    a = arm / math.sqrt(2.0)
    return np.array([[a, a, 0.0], [-a, a, 0.0], [-a, -a, 0.0], [a, -a, 0.0]])


def airframe_names() -> list[str]:
    """Names of the airframes shipped in ``assets/``."""
    return sorted(p.stem for p in ASSETS.glob("*.urdf"))


def _positive(elem: ET.Element, key: str, source: Path) -> float:
    raw = elem.get(key)
    if raw is None:
        raise AirframeError(f"{source}: <{elem.tag}> lacks attribute {key!r}")
    try:
        value = float(raw)
    except ValueError:
        raise AirframeError(f"{source}: {key}={raw!r} is not a number") from None
    if not (math.isfinite(value) and value > 0.0):
        raise AirframeError(f"{source}: {key}={raw!r}, expected a positive number")
    return value


def load_airframe(airframe: str | Path | Airframe) -> Airframe:
    """Read an airframe by name (``"cf2x"``, ``"sar_quad"``) or URDF path; Airframe passes through.

    Raises:
        AirframeError: unknown name, missing file or missing/invalid figures.
    """
    if isinstance(airframe, Airframe):
        return airframe
    path = Path(airframe)
    if path.suffix != ".urdf":
        path = ASSETS / f"{airframe}.urdf"
        if not path.is_file():
            raise AirframeError(
                f"unknown airframe {str(airframe)!r}; expected one of {airframe_names()} "
                "or a path to a .urdf file"
            )
    if not path.is_file():
        raise AirframeError(f"airframe URDF {str(path)!r} does not exist")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise AirframeError(f"{path}: not valid XML ({exc})") from None
    props = root.find("properties")
    inertial = root.find("link[@name='base_link']/inertial")
    if props is None or inertial is None:
        raise AirframeError(f"{path}: expected <properties> and base_link <inertial> elements")
    mass_el, inertia_el = inertial.find("mass"), inertial.find("inertia")
    if mass_el is None or inertia_el is None:
        raise AirframeError(f"{path}: base_link <inertial> lacks <mass> or <inertia>")
    arm = _positive(props, "arm", path)
    cylinder = root.find("link[@name='base_link']/collision/geometry/cylinder")
    collision = (arm, 0.0)
    if cylinder is not None:
        collision = (_positive(cylinder, "radius", path), _positive(cylinder, "length", path))
    return Airframe(
        name=path.stem,
        urdf=path,
        mass=_positive(mass_el, "value", path),
        arm=arm,
        kf=_positive(props, "kf", path),
        km=_positive(props, "km", path),
        inertia=(
            _positive(inertia_el, "ixx", path),
            _positive(inertia_el, "iyy", path),
            _positive(inertia_el, "izz", path),
        ),
        thrust_to_weight=_positive(props, "thrust2weight", path),
        motor_tau=_positive(props, "motor_tau", path),
        drag_xy=_positive(props, "drag_xy", path),
        drag_z=_positive(props, "drag_z", path),
        max_speed=_positive(props, "max_speed_kmh", path) / 3.6,
        collision=collision,
    )
