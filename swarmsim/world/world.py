"""The World: static geometry with its acceleration grid, materials, ground rasters and targets.

``build_world(scene)`` turns a scene into everything the renderer needs. Geometry comes first;
materials need shadow rays, so they are assigned by ray casting through the geometry-only world.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from swarmsim.memory import GROUND_CELL, GROUND_MARGIN, require_memory, world_needs
from swarmsim.sensing import _raycast as rc
from swarmsim.sensing.camera import Camera
from swarmsim.sensing.thermal import (
    AMBIENT,
    DIRECT,
    SKY_RGB,
    GroundMaps,
    apparent,
    ground_maps,
    material_properties,
    sun_direction,
)
from swarmsim.streams import seed_sequence, stream
from swarmsim.world.forest import ForestStats, procedural_forest, random_occluders
from swarmsim.world.geometry import Primitives, concatenate
from swarmsim.world.grid import Grid, build_grid, pack_primitives
from swarmsim.world.targets import (
    Target,
    random_walk,
    static_trajectory,
    targets_primitives,
    waypoint_trajectory,
)

if TYPE_CHECKING:
    from swarmsim.scene import Scene, TargetConfig

_TABLES_LOCK = threading.Lock()


@dataclass(frozen=True)
class TargetGeometry:
    """Target primitives at one time, grouped per target behind a bounding sphere.

    Attributes:
        primitives: All targets' primitives, target by target.
        packed: (m, 8) float32 kernel records.
        bound: (n_targets, 4) float32 bounding spheres ``[x, y, z, radius]``.
        start: (n_targets + 1,) int32 offsets of each target's primitives.
        sunlit: (m,) float32 sun exposure of each primitive.
    """

    primitives: Primitives
    packed: np.ndarray
    bound: np.ndarray
    start: np.ndarray
    sunlit: np.ndarray


@dataclass(frozen=True, kw_only=True)
class World:
    """A built scene. Construct with :func:`build_world`.

    Attributes:
        primitives: Static primitives (trees or occluders) with materials.
        packed: (n, 8) float32 kernel records of ``primitives``.
        grid: Voxel grid over ``primitives``.
        sunlit: (n,) float32, 1 where a primitive's sun-facing side sees the sun.
        leaf_fill: Leaf width parameter of the twig alpha pattern (1: opaque discs).
        targets: The persons to find.
        ground: Ground rasters.
        light: (LIGHT_SIZE,) float64 lighting vector of the kernels (``_raycast.L_*``).
        camera: Camera intrinsics from the scene.
        thermal: The scene's thermal settings (noise, quantisation, emissivities).
        area: (width, depth) of the forest area in metres, centred on the origin.
        forest: Tree statistics (procedural forests only).
        stats: JSON-serialisable world statistics (counts, nadir occlusion density).
    """

    primitives: Primitives
    packed: np.ndarray
    grid: Grid
    sunlit: np.ndarray
    leaf_fill: float
    targets: tuple[Target, ...]
    ground: GroundMaps | None
    light: np.ndarray
    camera: Camera
    thermal: Any
    area: tuple[float, float]
    forest: ForestStats | None = None
    stats: dict = field(default_factory=dict)
    device_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def table(self, name: str, build: Callable[[], Any]) -> Any:
        """A read-only table derived from the static geometry, built on first use.

        Kept in `device_cache`, which every thread and every copy of the world with other
        targets (`dataclasses.replace`) share, so ``build`` must not read the targets; built
        under a lock so that two threads never build (or half-see) it twice.
        """
        value = self.device_cache.get(name)
        if value is None:
            with _TABLES_LOCK:
                value = self.device_cache.get(name)
                if value is None:
                    value = self.device_cache[name] = build()
        return value

    def target_geometry(self, t: float) -> TargetGeometry:
        """Target primitives at time ``t`` seconds with apparent temperatures and sun exposure."""
        prims = targets_primitives(self.targets, t)
        n_targets = len(self.targets)
        counts = (
            np.bincount(prims.owner, minlength=n_targets)
            if len(prims)
            else np.zeros(n_targets, np.int64)
        )
        start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        bound = np.zeros((n_targets, 4), np.float32)
        boxes = prims.bounds()
        for j in range(n_targets):
            box = boxes[start[j] : start[j + 1]]
            if len(box):
                lo, hi = box[:, 0].min(axis=0), box[:, 1].max(axis=0)
                bound[j, :3] = 0.5 * (lo + hi)
                bound[j, 3] = 0.5 * np.linalg.norm(hi - lo) + 1e-3
        sun = self.light[rc.L_SUN_X : rc.L_SUN_Z + 1]
        if n_targets:
            from swarmsim.sensing.render import cast_rays

            hits = cast_rays(self, bound[:, :3] + sun * (bound[:, 3:4] + 0.05), sun, targets=False)
            target_sunlit = (hits.code == rc.HIT_NONE).astype(np.float32)
        else:
            target_sunlit = np.zeros(0, np.float32)
        sunlit = target_sunlit[prims.owner] if len(prims) else np.zeros(0, np.float32)
        emissivity = self.thermal.emissivity.target if self.thermal is not None else 1.0
        air = self.thermal.air if self.thermal is not None else 20.0
        prims = prims.replace(
            temperature=apparent(prims.temperature, emissivity, air).astype(np.float32)
        )
        return TargetGeometry(prims, pack_primitives(prims), bound, start, sunlit)


def concatenate_geometry(parts: Sequence[TargetGeometry]) -> TargetGeometry:
    """Several target geometries as one, targets in order (owners and offsets shifted): what
    one render call needs for cameras of several episodes (``render(camera_targets=...)``)."""
    owners = np.cumsum([0] + [len(g.bound) for g in parts])[:-1]
    offsets = np.cumsum([0] + [len(g.packed) for g in parts])[:-1]
    prims = concatenate(
        [
            g.primitives.replace(owner=g.primitives.owner + int(k))
            for g, k in zip(parts, owners, strict=True)
        ]
    )
    start = np.concatenate([[0]] + [g.start[1:] + k for g, k in zip(parts, offsets, strict=True)])
    return TargetGeometry(
        prims,
        np.concatenate([g.packed for g in parts]).astype(np.float32).reshape(-1, 8),
        np.concatenate([g.bound for g in parts]).astype(np.float32).reshape(-1, 4),
        start.astype(np.int32),
        np.concatenate([g.sunlit for g in parts]).astype(np.float32),
    )


def scene_camera(scene: Scene) -> Camera:
    """Camera intrinsics of a scene."""
    width, height = scene.camera.resolution
    return Camera(fov=math.radians(scene.camera.fov), width=int(width), height=int(height))


def target_from_config(cfg: TargetConfig, *, seed: int, index: int) -> Target:
    """A person from a ``[[targets]]`` table; a random walk draws from stream ``target-walk``
    of ``seed`` for target ``index``."""
    heading = math.radians(cfg.heading)
    if cfg.motion == "waypoints":
        trajectory = waypoint_trajectory(waypoints=np.asarray(cfg.waypoints), heading=heading)
    elif cfg.motion == "random-walk":
        trajectory = random_walk(
            start=np.asarray(cfg.position, np.float64),
            heading=heading,
            speed=cfg.speed,
            turn_rate=math.radians(cfg.turn_rate),
            duration=3600.0,
            rng=stream(seed, "target-walk", index),
        )
    else:
        trajectory = static_trajectory(position=np.asarray(cfg.position), heading=heading)
    return Target(
        pose=cfg.pose,
        trajectory=trajectory,
        temperature=cfg.temperature,
        clothing=cfg.clothing,
    )


def scene_targets(scene: Scene) -> tuple[Target, ...]:
    """Targets of a scene with their trajectories (random walks seeded from ``run.seed``)."""
    return tuple(
        target_from_config(cfg, seed=scene.run.seed, index=i) for i, cfg in enumerate(scene.targets)
    )


def forest_seed(scene: Scene) -> int | np.random.SeedSequence:
    """The forest's seed: ``forest.seed`` when given, else derived from ``run.seed``."""
    if scene.forest.seed is not None:
        return scene.forest.seed
    return seed_sequence(scene.run.seed, "forest")


def scene_geometry(scene: Scene) -> tuple[Primitives, ForestStats | None]:
    """Static primitives of a scene's forest (no materials yet)."""
    forest = scene.forest
    rng = np.random.default_rng(forest_seed(scene))
    if forest.kind == "procedural":
        return procedural_forest(
            area=forest.area,
            density=forest.density,
            species=forest.species,
            height=forest.height,
            crown_radius=forest.crown_radius,
            crown_base=forest.crown_base,
            trunk_radius=forest.trunk_radius,
            branch_levels=forest.branch_levels,
            foliage_density=forest.foliage_density,
            twig_radius=forest.twig_radius,
            rng=rng,
        )
    if forest.kind == "random-occluders":
        prims = random_occluders(
            area=forest.area,
            density=forest.occluder_density,
            radius=forest.occluder_radius,
            height=forest.occluder_height,
            rng=rng,
        )
        return prims, None
    return Primitives.empty(), None


def build_world(scene: Scene) -> World:
    """Build the world of a scene: geometry, acceleration grid, materials, ground and targets.

    Raises:
        SceneError: When the estimated memory need exceeds ``run.memory_limit`` or what is free.
    """
    require_memory(scene, world_needs(scene))
    prims, forest_stats = scene_geometry(scene)
    return assemble_world(
        prims,
        targets=scene_targets(scene),
        camera=scene_camera(scene),
        thermal=scene.thermal,
        area=(float(scene.forest.area[0]), float(scene.forest.area[1])),
        leaf_fill=scene.forest.leaf_fill,
        seed=scene.run.seed,
        forest=forest_stats,
    )


def assemble_world(
    prims: Primitives,
    *,
    targets: tuple[Target, ...] = (),
    camera: Camera | None = None,
    thermal: Any,
    area: tuple[float, float] = (100.0, 100.0),
    leaf_fill: float = 1.0,
    seed: int = 0,
    forest: ForestStats | None = None,
    grid_cell: float | None = None,
) -> World:
    """A world from static primitives: grid, shadow-ray materials, ground rasters, statistics.

    Args:
        prims: Static primitives (labels wood or foliage); their materials are assigned here.
        targets: Persons with trajectories.
        camera: Default intrinsics of renders.
        thermal: Thermal settings (``swarmsim.scene.ThermalConfig``).
        area: Extent of the forest area in metres (the ground raster covers it plus shadows).
        leaf_fill: Fraction of each twig disc covered by leaves.
        seed: Seed of the material variation.
        forest: Tree statistics to attach.
        grid_cell: Voxel size in metres (default: chosen from the primitive sizes).
    """
    from swarmsim.sensing.render import cast_rays

    sun = sun_direction(math.radians(thermal.sun_elevation), math.radians(thermal.sun_azimuth))
    light = np.zeros(rc.LIGHT_SIZE)
    light[rc.L_SUN_X : rc.L_SUN_Z + 1] = sun
    light[rc.L_AMBIENT] = AMBIENT
    light[rc.L_DIRECT] = DIRECT
    light[rc.L_SKY_TEMP] = thermal.sky
    light[rc.L_SKY_R : rc.L_SKY_B + 1] = SKY_RGB
    light[rc.L_LEAF_FILL] = leaf_fill
    world = World(
        primitives=prims,
        packed=pack_primitives(prims),
        grid=build_grid(prims, cell=grid_cell),
        sunlit=np.ones(len(prims), np.float32),
        leaf_fill=leaf_fill,
        targets=tuple(targets),
        ground=None,
        light=light,
        camera=camera if camera is not None else Camera(),
        thermal=thermal,
        area=(float(area[0]), float(area[1])),
        forest=forest,
    )
    material_rng = stream(seed, "materials")

    # Shadow rays from each primitive's sun-facing side decide its exposure.
    offset = prims.radius[:, None] + 0.02
    centre = 0.5 * (prims.a + np.where((prims.kind == 1)[:, None], prims.b, prims.a))
    hits = cast_rays(world, centre + sun * offset, sun, targets=False)
    sunlit = (hits.code == rc.HIT_NONE).astype(np.float32)
    prims = material_properties(prims, sunlit, thermal, material_rng)

    top = float(world.grid.upper[2]) if len(prims) else 0.0
    margin = min(top / math.tan(math.radians(thermal.sun_elevation)) + 5.0, GROUND_MARGIN)
    cols = int(math.ceil((area[0] + 2 * margin) / GROUND_CELL))
    rows = int(math.ceil((area[1] + 2 * margin) / GROUND_CELL))
    x0 = -0.5 * cols * GROUND_CELL
    y0 = -0.5 * rows * GROUND_CELL
    xs = x0 + (np.arange(cols) + 0.5) * GROUND_CELL
    ys = y0 + (np.arange(rows) + 0.5) * GROUND_CELL
    gx, gy = np.meshgrid(xs, ys)
    ground_points = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, 1e-3)], axis=1)
    shade = cast_rays(world, ground_points, sun, targets=False).code != rc.HIT_NONE
    ground = ground_maps(
        x0=x0,
        y0=y0,
        cell=GROUND_CELL,
        shape=(rows, cols),
        shade=shade.reshape(rows, cols),
        sun=sun,
        thermal=thermal,
        rng=material_rng,
    )
    light[rc.L_GROUND_X0] = x0
    light[rc.L_GROUND_Y0] = y0
    light[rc.L_GROUND_CELL] = GROUND_CELL
    world = dataclasses.replace(world, primitives=prims, sunlit=sunlit, ground=ground, light=light)
    stats = {
        "primitives": len(prims),
        "grid_cells": [int(d) for d in world.grid.dims],
        "grid_cell_m": world.grid.cell,
        "nadir_occlusion_density": nadir_occlusion(world),
        "sunlit_ground_fraction": float(1.0 - shade.mean()),
    }
    if forest is not None:
        stats["forest"] = forest.summary()
    return dataclasses.replace(world, stats=stats)


def nadir_occlusion(world: World, *, spacing: float = 0.5) -> float:
    """Fraction of ground points of the forest area hidden from straight above (targets ignored).

    Vertical rays on a regular grid of ``spacing`` metres over the area; 0 for an empty world.
    """
    from swarmsim.sensing.render import cast_rays

    if len(world.primitives) == 0:
        return 0.0
    nx = max(int(world.area[0] / spacing), 1)
    ny = max(int(world.area[1] / spacing), 1)
    xs = (np.arange(nx) + 0.5) / nx * world.area[0] - 0.5 * world.area[0]
    ys = (np.arange(ny) + 0.5) / ny * world.area[1] - 0.5 * world.area[1]
    gx, gy = np.meshgrid(xs, ys)
    top = float(world.grid.upper[2]) + 1.0
    origins = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, top)], axis=1)
    hits = cast_rays(world, origins, np.array([0.0, 0.0, -1.0]), targets=False)
    return float(np.mean(hits.code != rc.HIT_GROUND))
