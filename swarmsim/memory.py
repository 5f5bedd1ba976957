"""What a scene will allocate, estimated before anything is built, and the guard that refuses
a scene whose need exceeds the memory there is.

The figures are expected counts (a Poisson forest's mean tree and twig numbers, the ground
raster's cells, the pixels of one capture of every drone) times the peak bytes each item was
measured to cost while the world is built and a mission iterates (BENCHMARKS.md, "Memory
guard"). They are estimates: a forest's twig count varies by a few per cent, and a strategy's
own history (the PSO keeps one bit mask per accepted image) grows with the mission and is not
counted.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from swarmsim.scene import scene_error

if TYPE_CHECKING:
    from swarmsim.scene import Scene

__all__ = [
    "Need",
    "available_memory",
    "mission_needs",
    "require_memory",
    "world_needs",
]

#: Peak bytes per forest primitive while the world is built (geometry, packed copy, grid items,
#: materials and their temporaries); per ground-raster cell (shade rays and maps); per grid cell.
PRIMITIVE_BYTES = 160.0
GROUND_CELL_BYTES = 200.0
GRID_CELL_BYTES = 8.0
#: Peak bytes per pixel of one drone's capture in a mission iteration: thermal and RGB frames,
#: depth and target masks, the RX input stack and scores, registered masks and integrals.
PIXEL_BYTES = 96.0
#: Wood primitives per tree by species and branch level (trunk segments, then branches),
#: measured on the default crowns (`WOOD_CROWN`: mean radius times depth, m^2); from the second
#: level on, the count grows about with the square root of a crown's radius times its depth
#: (within 10 % on the default crowns, 40 % on crowns of half or twice their size).
WOOD_PER_TREE = {"broadleaf": (5.0, 16.0, 102.0, 406.0), "conifer": (5.0, 137.0, 504.0, 775.0)}
WOOD_CROWN = 6.25 * 17.5
#: Ground raster cell and its shadow margin (swarmsim.world.world builds the raster).
GROUND_CELL = 0.25
GROUND_MARGIN = 60.0

_GIB = float(1 << 30)


@dataclass(frozen=True)
class Need:
    """Memory a part of a run will take.

    Attributes:
        what: The part, as a user would name it ("forest primitives").
        bytes: Estimated peak bytes.
        keys: Dotted scene keys that drive it, the strongest first.
    """

    what: str
    bytes: float
    keys: tuple[str, ...]


def _mean_square(low: float, high: float) -> float:
    """E[x^2] of x uniform on [low, high]."""
    return (low * low + low * high + high * high) / 3.0


def expected_primitives(scene: Scene) -> float:
    """Mean number of forest primitives the scene's forest generator makes."""
    f = scene.forest
    area = float(f.area[0]) * float(f.area[1])
    if f.kind == "random-occluders":
        return f.occluder_density * area * (f.occluder_height[1] - f.occluder_height[0])
    if f.kind != "procedural":
        return 0.0
    trees = f.density * area / 1e4
    height = 0.5 * (f.height[0] + f.height[1])
    base = min(0.5 * (f.crown_base[0] + f.crown_base[1]), 0.8 * height)
    shape = {"broadleaf": 2.0 / 3.0, "conifer": 1.0 / 3.0}.get(f.species, 0.5)
    crown = shape * math.pi * _mean_square(*f.crown_radius) * (height - base)
    kinds = ("broadleaf", "conifer") if f.species == "mixed" else (f.species,)
    wood = sum(WOOD_PER_TREE[k][f.branch_levels] for k in kinds) / len(kinds)
    if f.branch_levels >= 2:
        radius = 0.5 * (f.crown_radius[0] + f.crown_radius[1])
        wood *= math.sqrt(radius * (height - base) / WOOD_CROWN)
    return trees * (f.foliage_density * crown + wood)


def world_needs(scene: Scene) -> list[Need]:
    """What building the scene's world takes: primitives, their grid, the ground rasters."""
    f = scene.forest
    prims = expected_primitives(scene)
    needs = []
    if f.kind != "none":
        density_key = "forest.density" if f.kind == "procedural" else "forest.occluder_density"
        keys: tuple[str, ...] = ("forest.area", density_key)
        if f.kind == "procedural":
            keys += ("forest.foliage_density", "forest.branch_levels")
        needs.append(Need("forest primitives", prims * PRIMITIVE_BYTES, keys))
    if prims > 0:
        # The grid spans the primitives' bounds in cells about one primitive across.
        if f.kind == "procedural":
            size, top, reach = 2.0 * f.twig_radius, f.height[1], f.crown_radius[1]
            keys = ("forest.area", "forest.twig_radius")
        else:
            size, top, reach = 2.0 * f.occluder_radius, f.occluder_height[1], f.occluder_radius
            keys = ("forest.area", "forest.occluder_radius")
        cell = min(max(size, 0.25), 4.0)
        cells = 1.0
        for extent in (f.area[0] + 2 * reach, f.area[1] + 2 * reach, top + reach):
            cells *= math.ceil(extent / cell)
        needs.append(Need("acceleration grid", cells * GRID_CELL_BYTES, keys))
    ground = math.ceil((f.area[0] + 2 * GROUND_MARGIN) / GROUND_CELL) * math.ceil(
        (f.area[1] + 2 * GROUND_MARGIN) / GROUND_CELL
    )
    needs.append(Need("ground rasters", ground * GROUND_CELL_BYTES, ("forest.area",)))
    return needs


def mission_needs(scene: Scene) -> list[Need]:
    """What one iteration of the scene's mission takes: every drone's capture and its analysis."""
    width, height = scene.camera.resolution
    pixels = float(scene.swarm.drones) * width * height
    return [Need("images", pixels * PIXEL_BYTES, ("camera.resolution", "swarm.drones"))]


def available_memory() -> int | None:
    """Bytes the system can give without swapping (Linux ``MemAvailable``), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as lines:
            for line in lines:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    if n < 0.1 * _GIB:
        return f"{n / (1 << 20):.3g} MiB"
    return f"{n / _GIB:.3g} GiB" if n < 100 * _GIB else f"{n / _GIB:,.0f} GiB"


def require_memory(scene: Scene, needs: list[Need], *, available: int | None = None) -> None:
    """Refuse a scene whose estimated need exceeds ``run.memory_limit`` or the free memory.

    Args:
        scene: The scene (its file and overrides name the culprit).
        needs: From `world_needs` and/or `mission_needs`.
        available: Bytes to compare against when ``run.memory_limit`` is unset; default:
            `available_memory()`. With neither known, nothing is refused.

    Raises:
        SceneError: At the strongest key of the largest need, stating the estimate of each part.
    """
    limit_gib = scene.run.memory_limit
    if limit_gib is not None:
        limit: float | None = limit_gib * _GIB
        where = "run.memory_limit"
    else:
        limit = available_memory() if available is None else available
        where = "available (set run.memory_limit to plan with another figure)"
    total = sum(n.bytes for n in needs)
    if limit is None or total <= limit:
        return
    parts = ", ".join(
        f"{n.what} {_gib(n.bytes)} ({', '.join(n.keys)})"
        for n in sorted(needs, key=lambda n: -n.bytes)
        if n.bytes >= 0.01 * total
    )
    worst = max(needs, key=lambda n: n.bytes)
    overridden = dict(scene.applied)
    key = next((k for k in worst.keys if k in overridden), worst.keys[0])
    detail = f"the run needs about {_gib(total)}, more than the {_gib(limit)} {where}: {parts}"
    raise scene_error(scene, key, detail)
