"""The search mission loop: capture -> detect -> integrate -> plan -> fly -> record.

Each iteration is batched over the drones: one render of n cameras (thermal + RGB), per-image RX
anomaly masks on B, G, R and thermal (like the paper), one integration of the n masks on the focal
plane seen from every drone's viewpoint, then the strategy plans and the dynamics fly. The
records hold the ground truth the renderer knows: the optical visibility of the target through
the views the strategy integrates, the coverage of the target by its detection mask and the error
of its position estimate (definitions in `swarmsim.aperture.metrics`).

Random streams (sensor noise; the strategy gets its own from the caller) derive from the scene's
seed, so the same scene and seed give the same trace.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmsim.aperture.blobs import find_blobs
from swarmsim.aperture.detect import anomaly_masks
from swarmsim.aperture.experiment import detection_stack
from swarmsim.aperture.integrate import FocalPlane, foreground, integrate
from swarmsim.aperture.metrics import (
    detection_coverage,
    optical_visibility,
    pixel_areas,
    target_footprint,
)
from swarmsim.dynamics import Dynamics
from swarmsim.dynamics.kinematic import Kinematic
from swarmsim.sensing.render import render
from swarmsim.strategy import Observation, Plan, Strategy

__all__ = [
    "IterationRecord", "Mission", "MissionResult", "elect_leader", "make_dynamics", "summarize",
]  # fmt: skip


@dataclass(frozen=True, eq=False)
class IterationRecord:
    """One iteration of a mission (metres, seconds; NaN where undefined).

    Attributes:
        iteration: 0-based index.
        time: Simulation time of the capture.
        positions: (n, 3) drone positions at the capture.
        leader: The strategy's leader (-1: none).
        objective: The strategy's objective (PSO: pixels).
        history: Images in the strategy's result.
        mode: Branch the strategy took.
        visibility: Optical visibility of target 0 through the result's views (0: no view).
        detection: Coverage of target 0 by the result's detection mask.
        integral: Integral visibility of target 0: the result's integral image of anomaly masks
            averaged over the target's footprint (the fraction of integrated views that flag it).
        views: Mean number of the result's views that cover a point of target 0 (0: none): how
            wide a synthetic aperture the two visibilities are measured through.
        detected: The strategy claims a detection and its estimate is within the scene's
            detection radius of the target.
        estimate: (2,) estimated target position (NaN: none).
        error: Distance from the estimate to the target (NaN: no estimate).
        target: (2,) true position of target 0 (NaN: no target).
        flight: Seconds flown after this capture.
    """

    iteration: int
    time: float
    positions: np.ndarray
    leader: int
    objective: float
    history: int
    mode: str
    visibility: float
    detection: float
    integral: float
    views: float
    detected: bool
    estimate: np.ndarray
    error: float
    target: np.ndarray
    flight: float


@dataclass(eq=False)
class MissionResult:
    """Records of a finished (or interrupted) mission and its summary."""

    records: list[IterationRecord]
    summary: dict[str, Any]
    best: Plan | None = None
    best_time: float = 0.0
    interrupted: bool = False


def make_dynamics(
    scene: Any, n: int, *, controller: Any | None = None, world: Any | None = None
) -> Dynamics:
    """The flight model the scene names (``[dynamics] model``).

    Args:
        scene: The validated scene.
        n: Number of drones.
        controller: Flight controller of the quadrotor models (``controllers.flight``; the
            simulator does not pick controllers itself).
        world: The built world; the quadrotor models take its tree trunks as obstacles.
    """
    cfg = scene.dynamics
    if cfg.model == "kinematic":
        return Kinematic(n, speed=cfg.speed, latency=scene.mission.latency)
    if controller is None:
        raise ValueError(
            f"dynamics.model: {cfg.model!r} needs a flight controller "
            "(controllers.flight.flight_controller)"
        )
    if cfg.model == "quadrotor":
        from swarmsim.dynamics.quadrotor import Quadrotor

        return Quadrotor(n, airframe=cfg.airframe, controller=controller, speed=cfg.speed,
                         trunks=forest_trunks(world))  # fmt: skip
    if cfg.model == "pybullet":
        from swarmsim.dynamics.bullet import BulletQuadrotor

        return BulletQuadrotor(n, airframe=cfg.airframe, controller=controller, speed=cfg.speed,
                               trunks=forest_trunks(world))  # fmt: skip
    raise ValueError(f"dynamics.model: unknown model {cfg.model!r}")


def forest_trunks(world: Any | None) -> list[tuple[float, float, float, float]]:
    """Trunks of a procedural forest as static cylinders (x, y, radius, height)."""
    forest = None if world is None else world.forest
    if forest is None:
        return []
    return [
        (float(x), float(y), float(r), float(h))
        for (x, y), r, h in zip(forest.stems, forest.trunk_radii, forest.heights, strict=True)
    ]


def elect_leader(foreground: np.ndarray) -> tuple[int, np.ndarray]:
    """The temporal global leader: the viewpoint whose integral shows the largest blob.

    Ties (common at low resolution, where a glimpse of the target is a pixel or two) go to the
    view that sees its blob closest to the image centre, the most nadir view of it; the paper's
    code takes the first drone, which pulls the swarm toward one end of its line.

    Args:
        foreground: (n, H, W) bool, the integral's non-zero pixels from each viewpoint.

    Returns:
        ``(leader, areas)``: the leader's index and the (n,) largest blob area per viewpoint.
    """
    n, height, width = foreground.shape
    areas = np.zeros(n, np.int64)
    offset = np.full(n, np.inf)
    centre = np.array([height, width], np.float64) / 2.0
    for k in range(n):
        blob = find_blobs(foreground[k]).largest()
        if blob is not None:
            areas[k] = blob.area
            offset[k] = np.hypot(*(np.add(blob.centroid, 0.5) - centre))
    return int(np.lexsort((offset, -areas))[0]), areas


class Mission:
    """A search mission of one strategy in one world.

    Args:
        scene: The validated scene (mission, dynamics and run sections).
        world: The built world of that scene (None: built here).
        strategy: The strategy (see `controllers.registry.make_strategy`).
        rng: Sensor noise source (None: from the scene's seed).
        backend: Render and integration backend (None: the scene's).
        dynamics: Flight model (None: from the scene).
        flight_controller: Controller for the scene's quadrotor models (see `make_dynamics`).
    """

    def __init__(
        self,
        *,
        scene: Any,
        world: Any | None = None,
        strategy: Strategy,
        rng: np.random.Generator | None = None,
        backend: str | None = None,
        dynamics: Dynamics | None = None,
        flight_controller: Any | None = None,
    ) -> None:
        self.scene = scene
        if world is None:
            from swarmsim.world.world import build_world

            world = build_world(scene)
        self.world = world
        self.strategy = strategy
        self.rng = np.random.default_rng([scene.run.seed, 10]) if rng is None else rng
        self.backend = scene.run.backend if backend is None else backend
        self.focal = FocalPlane()
        positions, headings = strategy.start()
        if dynamics is None:
            dynamics = make_dynamics(scene, len(positions), controller=flight_controller,
                                     world=world)  # fmt: skip
        self.dynamics = dynamics
        self.dynamics.reset(positions, headings)
        self.records: list[IterationRecord] = []
        self.best: Plan | None = None
        self.best_time = 0.0
        self.done = False
        self._wall = 0.0
        self._stack: np.ndarray | None = None

    @property
    def time(self) -> float:
        """Simulation time in seconds."""
        return self.dynamics.time

    def observe(self) -> Observation:
        """Capture with every drone, detect per image and integrate from every viewpoint."""
        t = self.time
        positions = self.dynamics.positions
        poses = np.zeros((len(positions), 5))
        poses[:, :3] = positions
        poses[:, 3] = self.dynamics.headings
        camera = self.world.camera
        frames = render(self.world, poses, t, backend=self.backend, rng=self.rng).to_numpy()
        channels = self.scene.mission.channels
        shape = (*frames.thermal.shape, 4 if channels == "all" else 1)
        if self._stack is None or self._stack.shape != shape:
            # Reused: 42 MB of fresh pages per iteration of the paper scene cost more than RX.
            self._stack = np.empty(shape, np.float32)
        stack = detection_stack(frames, channels, out=self._stack)
        config = self.scene.mission
        masks = anomaly_masks(stack, quantile=config.quantile, min_score=config.min_score)
        sampling = config.sampling
        integral = integrate(masks, poses, poses, camera=camera, focal=self.focal,
                             backend=self.backend, sampling=sampling).to_numpy()  # fmt: skip
        leader, areas = elect_leader(foreground(integral.sum[..., 0]))
        return Observation(
            time=t,
            iteration=len(self.records),
            positions=positions,
            poses=poses,
            masks=masks,
            integral=integral,
            blob_areas=areas,
            leader=leader,
            camera=camera,
            focal=self.focal,
            sampling=sampling,
        )

    def step(self) -> IterationRecord:
        """One iteration: observe, plan, score against the truth, fly."""
        start = _time.perf_counter()
        obs = self.observe()
        plan = self.strategy.plan(obs)
        visibility, detection, integral, views, target = self._score(plan, obs.time)
        estimate = np.full(2, np.nan) if plan.estimate is None else np.asarray(plan.estimate)
        error = float(np.hypot(*(estimate - target)))
        radius = self.scene.mission.detection_radius
        detected = bool(plan.detected and math.isfinite(error) and error <= radius)
        flight = self.dynamics.fly_to(plan.waypoints, speed=plan.speed)
        record = IterationRecord(
            iteration=obs.iteration,
            time=obs.time,
            positions=obs.positions,
            leader=-1 if plan.leader is None else int(plan.leader),
            objective=float(plan.objective),
            history=int(plan.history),
            mode=plan.mode,
            visibility=visibility,
            detection=detection,
            integral=integral,
            views=views,
            detected=detected,
            estimate=estimate,
            error=error,
            target=target,
            flight=flight,
        )
        best = max((r.visibility for r in self.records), default=-1.0)
        if visibility > best or self.best is None:
            self.best, self.best_time = plan, obs.time
        self.records.append(record)
        mission = self.scene.mission
        self.done = bool(plan.info.get("done", False)) or (
            self.time >= mission.max_time or len(self.records) >= mission.max_iterations
        )
        self._wall += _time.perf_counter() - start
        return record

    def _score(self, plan: Plan, t: float) -> tuple[float, float, float, float, np.ndarray]:
        """(visibility, detection coverage, integral visibility, covering views, target
        position) of target 0 at time t."""
        world = self.world
        if not world.targets:
            return math.nan, math.nan, math.nan, math.nan, np.full(2, np.nan)
        target = np.asarray(world.targets[0].position(t), np.float64)
        camera = world.camera
        visibility = covering = 0.0
        views = plan.views
        if views is not None and len(views):
            # Seen from above the target: views whose footprints miss it do not count anyway.
            altitude = self.scene.swarm.altitude
            reach = np.hypot(*camera.footprint(1.0)) * 0.5 * views[:, 2]
            near = views[np.hypot(views[:, 0] - target[0], views[:, 1] - target[1]) < reach]
            if len(near):
                vpose = np.array([target[0], target[1], altitude, near[0, 3], 0.0])
                seen = optical_visibility(world, near, vpose, t=t, target=0)
                visibility = float(seen.value) if math.isfinite(seen.value) else 0.0
                if seen.footprint.pixels:
                    covering = float(seen.covering[seen.footprint.mask].mean())
        detection = integral = 0.0
        flagged = plan.detection is not None and plan.detection.any()
        seen = plan.integral is not None and plan.integral.any()
        if plan.view_pose is not None and (flagged or seen):
            fp = target_footprint(world, plan.view_pose, t=t, target=0)
            if fp.pixels and flagged:
                box = fp.window  # pixels outside the footprint do not count
                areas = pixel_areas(camera, plan.view_pose, self.focal, window=box)
                detection = detection_coverage(plan.detection[box], fp.mask[box], areas)
            if fp.pixels and seen:
                integral = float(np.mean(plan.integral[fp.mask]))
        return visibility, float(detection), float(integral), covering, target

    def run(
        self,
        *,
        max_time: float | None = None,
        progress: Callable[[IterationRecord], None] | None = None,
    ) -> MissionResult:
        """Step until the strategy is done or time / iterations run out; Ctrl-C stops early.

        Args:
            max_time: Simulated seconds (None: the scene's ``mission.max_time``).
            progress: Called with every record.
        """
        limit = self.scene.mission.max_time if max_time is None else max_time
        interrupted = False
        try:
            while not self.done and self.time < limit:
                record = self.step()
                if progress is not None:
                    progress(record)
        except KeyboardInterrupt:
            interrupted = True
        return self.result(interrupted=interrupted)

    def result(self, *, interrupted: bool = False) -> MissionResult:
        """The records so far and their summary."""
        summary = summarize(
            self.records,
            strategy=self.strategy.name,
            seed=self.scene.run.seed,
            sim_time_s=self.time,
            wall_time_s=self._wall,
            drones=len(self.dynamics.positions),
        )
        summary["interrupted"] = interrupted
        return MissionResult(list(self.records), summary, self.best, self.best_time, interrupted)


def _number(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def summarize(
    records: list[IterationRecord],
    *,
    strategy: str,
    seed: int,
    sim_time_s: float,
    wall_time_s: float,
    drones: int,
) -> dict[str, Any]:
    """JSON-ready summary of a trace (None where undefined)."""
    out: dict[str, Any] = {
        "strategy": strategy,
        "seed": int(seed),
        "sim_time_s": float(sim_time_s),
        "wall_time_s": float(wall_time_s),
        "iterations": len(records),
        "images": len(records) * int(drones),
        "max_visibility": None,
        "time_to_max_visibility_s": None,
        "max_detection": None,
        "max_integral_visibility": None,
        "time_to_max_integral_visibility_s": None,
        "detected": False,
        "time_to_detection_s": None,
        "detection_error_m": None,
    }
    vis = np.array([r.visibility for r in records], np.float64)
    if len(vis) and np.isfinite(vis).any():
        k = int(np.nanargmax(vis))
        out["max_visibility"] = float(vis[k])
        out["time_to_max_visibility_s"] = float(records[k].time)
    det = np.array([r.detection for r in records], np.float64)
    if len(det) and np.isfinite(det).any():
        out["max_detection"] = float(np.nanmax(det))
    integral = np.array([r.integral for r in records], np.float64)
    if len(integral) and np.isfinite(integral).any():
        k = int(np.nanargmax(integral))
        out["max_integral_visibility"] = float(integral[k])
        out["time_to_max_integral_visibility_s"] = float(records[k].time)
    hits = [r for r in records if r.detected]
    if hits:
        out["detected"] = True
        out["time_to_detection_s"] = float(hits[0].time)
        out["detection_error_m"] = _number(hits[-1].error)
    return out


TRACE_COLUMNS = (
    "iteration", "time_s", "leader", "objective", "history", "mode", "visibility", "detection",
    "integral_visibility", "views", "detected", "estimate_x", "estimate_y", "error_m", "target_x",
    "target_y", "flight_s", "centroid_x", "centroid_y",
)  # fmt: skip


def trace_rows(records: list[IterationRecord]) -> list[list[Any]]:
    """One row per record in `TRACE_COLUMNS` order (drone positions follow as x_i, y_i, z_i)."""
    rows = []
    for r in records:
        centre = r.positions[:, :2].mean(axis=0)
        row = [
            r.iteration, r.time, r.leader, r.objective, r.history, r.mode, r.visibility,
            r.detection, r.integral, r.views, int(r.detected), *r.estimate, r.error, *r.target,
            r.flight, *centre,
        ]  # fmt: skip
        row += list(r.positions.ravel())
        rows.append(row)
    return rows


__all__ += ["TRACE_COLUMNS", "trace_rows"]
