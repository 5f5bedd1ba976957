"""Radiometry: apparent temperatures, RGB albedos, ground rasters and the thermal sensor model.

Temperatures are *apparent*: a grey body of emissivity e at temperature T that reflects its
surroundings at T_r reads, to first order in the 8-14 um band, as ``e*T + (1 - e)*T_r``. The
reflected surroundings are the sky for open surfaces and the canopy (about air temperature) under
cover, so emissivity is folded into one number per surface when the world is built.

Sunlit surfaces are warmer: each primitive's exposure is decided by a shadow ray from its
sun-facing side, and the ground's exposure by a shadow ray per raster cell. Thermal ground
shading is blurred (soil integrates the sun over the moving shadows of a day), RGB shading is
sharp.

8-bit thermal quantisation maps ``[low, high]`` degC linearly onto codes 0..255:
``code = clip(round((T - low) / (high - low) * 255), 0, 255)`` and back
``T = low + code * (high - low) / 255``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from swarmsim.world.geometry import LABEL_FOLIAGE, LABEL_WOOD, Primitives

#: Linear RGB reflectances.
BARK = (0.28, 0.20, 0.13)
FOLIAGE_BROADLEAF = (0.11, 0.30, 0.07)
SOIL = (0.30, 0.23, 0.15)
GRASS = (0.15, 0.30, 0.07)
LITTER = (0.40, 0.29, 0.15)
SKIN = (0.75, 0.55, 0.45)
SKY_RGB = (0.60, 0.75, 0.95)
#: Irradiance split of the RGB shading: diffuse sky light and direct sun (times cos incidence).
AMBIENT, DIRECT = 0.35, 0.85


@dataclass(frozen=True)
class GroundMaps:
    """Rasters of the ground (z = 0), rows along +y from ``y0``, columns along +x from ``x0``.

    Attributes:
        x0, y0: Lower-left corner in metres.
        cell: Raster cell size in metres.
        temperature: (rows, cols) float32 apparent temperature in degC.
        rgb: (rows, cols, 3) float32 linear radiance (albedo times irradiance).
        shade: (rows, cols) float32, 1 where the sun is blocked.
        packed: (rows, cols, 4) float32 ``[temperature, r, g, b]``, the renderer's raster.
    """

    x0: float
    y0: float
    cell: float
    temperature: np.ndarray
    rgb: np.ndarray
    shade: np.ndarray
    packed: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        packed = np.concatenate([self.temperature[..., None], self.rgb], axis=2)
        object.__setattr__(self, "packed", np.ascontiguousarray(packed, np.float32))


def sun_direction(elevation: float, azimuth: float) -> np.ndarray:
    """Unit vector toward the sun; angles in radians, azimuth clockwise from north."""
    return np.array(
        [
            math.sin(azimuth) * math.cos(elevation),
            math.cos(azimuth) * math.cos(elevation),
            math.sin(elevation),
        ]
    )


def apparent(temperature: np.ndarray | float, emissivity: float, reflected: np.ndarray | float):
    """Apparent temperature of a grey body (linearised radiance mix), degC."""
    return emissivity * np.asarray(temperature) + (1.0 - emissivity) * np.asarray(reflected)


def smooth_noise(shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian random field of unit standard deviation with correlation length ``sigma`` cells."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    std = field.std()
    return field / std if std > 0 else field


def material_properties(
    prims: Primitives, sunlit: np.ndarray, thermal: Any, rng: np.random.Generator
) -> Primitives:
    """Assign apparent temperatures and albedos to wood and foliage primitives.

    Args:
        prims: Static primitives (labels wood / foliage).
        sunlit: (n,) float, 1 where the primitive's sun-facing side sees the sun.
        thermal: The scene's thermal settings (``swarmsim.scene.ThermalConfig``).
        rng: Source of per-primitive variation.
    """
    n = len(prims)
    temperature = np.zeros(n)
    albedo = np.zeros((n, 3))
    reflected = thermal.sky + (thermal.air - thermal.sky) * (1.0 - sunlit)
    jitter = rng.standard_normal(n)
    wood = prims.label == LABEL_WOOD
    leaf = prims.label == LABEL_FOLIAGE
    temperature[wood] = apparent(
        thermal.wood
        + 0.5 * thermal.foliage_sun_gain * sunlit[wood]
        + 0.3 * thermal.variation * jitter[wood],
        thermal.emissivity.wood,
        reflected[wood],
    )
    temperature[leaf] = apparent(
        thermal.foliage
        + thermal.foliage_sun_gain * sunlit[leaf]
        + 0.5 * thermal.variation * jitter[leaf],
        thermal.emissivity.foliage,
        reflected[leaf],
    )
    tint = 1.0 + 0.15 * rng.standard_normal((n, 1))
    albedo[wood] = np.asarray(BARK) * tint[wood]
    albedo[leaf] = np.asarray(FOLIAGE_BROADLEAF) * tint[leaf]
    return prims.replace(
        temperature=temperature.astype(np.float32),
        albedo=np.clip(albedo, 0.0, 1.0).astype(np.float32),
    )


def ground_maps(
    *,
    x0: float,
    y0: float,
    cell: float,
    shape: tuple[int, int],
    shade: np.ndarray,
    sun: np.ndarray,
    thermal: Any,
    rng: np.random.Generator,
) -> GroundMaps:
    """Ground temperature and radiance rasters from a sun-shade raster.

    Args:
        shape: (rows, cols) of the rasters.
        shade: (rows, cols) 1 where the sun is blocked at the cell centre, else 0.
        sun: Unit vector toward the sun.
        thermal: The scene's thermal settings.
    """
    thermal_shade = ndimage.gaussian_filter(shade.astype(np.float64), 0.6 / cell, mode="nearest")
    sunlit, shaded = thermal.ground_sunlit, thermal.ground_shaded
    surface = sunlit + (shaded - sunlit) * thermal_shade
    surface = surface + thermal.variation * smooth_noise(shape, 1.5 / cell, rng)
    reflected = thermal.sky + (thermal.air - thermal.sky) * thermal_shade
    temperature = apparent(surface, thermal.emissivity.ground, reflected)

    grass = np.clip(0.5 + 0.35 * smooth_noise(shape, 2.0 / cell, rng), 0.0, 1.0)[..., None]
    litter = np.clip(0.5 + 0.35 * smooth_noise(shape, 0.4 / cell, rng), 0.0, 1.0)[..., None]
    albedo = (1 - grass) * np.asarray(SOIL) + grass * np.asarray(GRASS)
    albedo = (1 - 0.5 * litter) * albedo + 0.5 * litter * np.asarray(LITTER)
    albedo *= 1.0 + 0.1 * rng.standard_normal(shape)[..., None]
    irradiance = AMBIENT + DIRECT * sun[2] * (1.0 - shade)
    rgb = np.clip(albedo, 0.0, 1.0) * irradiance[..., None]
    return GroundMaps(
        x0=float(x0),
        y0=float(y0),
        cell=float(cell),
        temperature=temperature.astype(np.float32),
        rgb=rgb.astype(np.float32),
        shade=shade.astype(np.float32),
    )


def add_sensor_noise(
    thermal_image: np.ndarray, netd: float, rng: np.random.Generator | None
) -> np.ndarray:
    """Add white Gaussian noise of standard deviation ``netd`` kelvin (no-op without rng)."""
    if rng is None or netd <= 0.0:
        return thermal_image
    return thermal_image + sensor_noise(np.shape(thermal_image), netd, rng)


def sensor_noise(shape: tuple[int, ...], netd: float, rng: np.random.Generator) -> np.ndarray:
    """float32 white Gaussian noise of standard deviation ``netd`` kelvin."""
    noise = rng.standard_normal(shape, dtype=np.float32)
    noise *= np.float32(netd)
    return noise


def quantize_thermal(thermal_image: np.ndarray, low: float, high: float) -> np.ndarray:
    """8-bit codes of a thermal image under the linear mapping of ``[low, high]`` degC."""
    scaled = (np.asarray(thermal_image, np.float64) - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def dequantize_thermal(codes: np.ndarray, low: float, high: float) -> np.ndarray:
    """Temperatures in degC (float32) of 8-bit codes; inverse of :func:`quantize_thermal`."""
    return (low + codes.astype(np.float32) * np.float32((high - low) / 255.0)).astype(np.float32)
