"""The search mission loop: capture -> detect -> integrate -> plan -> fly -> record.

Each iteration is batched over the drones: one render of n cameras (thermal + RGB), per-image RX
anomaly masks on B, G, R and thermal (like the paper), one integration of the n masks on the focal
plane seen from every drone's viewpoint, then the strategy plans and the dynamics fly. The
records hold the ground truth the renderer knows: the optical visibility of the target through
the views the strategy integrates, the coverage of the target by its detection mask and the error
of its position estimate (definitions in `swarmsim.aperture.metrics`).

Random streams (sensor noise, the strategy's random steps) derive from the mission's seed through
`swarmsim.streams`, so the same scene and seed give the same trace, after a `Mission.reset` too.

Driving a mission by hand (the engine every face uses)::

    mission = controllers.registry.make_mission(scene, strategy=None)  # the caller plans
    obs = mission.reset(seed=3)
    while True:
        step = mission.advance(Plan(waypoints=my_waypoints(obs)), obs)
        if step.terminated or step.truncated:
            break
        obs = mission.observe()
"""

from __future__ import annotations

import dataclasses
import math
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmsim.aperture.blobs import find_blobs
from swarmsim.aperture.detect import anomaly_masks
from swarmsim.aperture.experiment import detection_stack
from swarmsim.aperture.integrate import FocalPlane, foreground, integrate
from swarmsim.dynamics import Dynamics
from swarmsim.dynamics.kinematic import Kinematic
from swarmsim.errors import SwarmsimError
from swarmsim.formation import scene_formation
from swarmsim.memory import mission_needs, require_memory, world_needs
from swarmsim.scene import Scene, TargetConfig
from swarmsim.scores import score_plan, target_position_only
from swarmsim.sensing.render import Frames, apply_sensor, render
from swarmsim.strategy import Observation, Plan, Strategy
from swarmsim.streams import stream
from swarmsim.world.targets import Target
from swarmsim.world.world import World, concatenate_geometry, target_from_config

__all__ = [
    "IterationRecord",
    "Mission",
    "MissionError",
    "MissionResult",
    "PlanError",
    "Step",
    "elect_leader",
    "make_dynamics",
    "observe_together",
    "summarize",
]


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
        integral_visibility: Integral visibility of target 0: the result's integral image of
            anomaly masks averaged over the target's footprint (the fraction of integrated views
            that flag it).
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
    integral_visibility: float
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
    scene: Scene, n: int, *, controller: Any | None = None, world: World | None = None
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


def forest_trunks(world: World | None) -> list[tuple[float, float, float, float]]:
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


@dataclass(frozen=True, eq=False)
class Step:
    """What one `Mission.advance` did.

    Attributes:
        record: The iteration's record (scores against the truth, flight time).
        plan: The plan that was flown.
        terminated: The episode ended by itself: the target is confirmed (``mission.confirm``
            consecutive detections), the plan says it is done, or every drone has crashed.
        truncated: The episode was cut off by the time or iteration limit (never together with
            ``terminated``).
        reason: "confirmed", "strategy", "crashed", "time", "iterations" or "" (going on).
    """

    record: IterationRecord
    plan: Plan
    terminated: bool
    truncated: bool
    reason: str


class MissionError(RuntimeError):
    """A mission was driven out of order (advance without observing, after it ended, ...)."""


class PlanError(SwarmsimError):
    """A plan handed to `Mission.advance` is unusable (waypoints of the wrong shape, NaN)."""


StrategyFactory = Callable[[np.random.Generator], Strategy]
FlyCallback = Callable[[Dynamics], None]


class Mission:
    """A search mission in one world, driven step by step or run to its end.

    ``reset`` restarts it on the same world (no rebuild), ``observe`` captures and integrates,
    ``advance`` scores a plan against the truth and flies it; ``step`` is observe -> the
    strategy's plan -> advance. Without a strategy the caller makes every plan. Build missions
    with `controllers.registry.make_mission`, which wires strategy, flight controller and
    dynamics from the scene.

    Random streams (`swarmsim.streams`): sensor noise ``"noise"`` and the strategy's
    ``"strategy"``, both from the mission's seed (``run.seed`` until ``reset(seed=...)``).

    Args:
        scene: The validated scene (mission, swarm, dynamics and run sections).
        world: The built world of that scene (None: built here).
        strategy: A strategy object (used as given; `reset` then needs its ``reset(rng=...)``).
        make_strategy: Factory of the strategy from its random generator; the mission builds
            the strategy with it now and on every `reset`. None with ``strategy=None``: a
            strategy-free mission.
        start: ``(positions (n, 3), headings (n,))`` start formation (None: the strategy's, or
            the scene's line formation without a strategy).
        backend: Render and integration backend (None: the scene's).
        dynamics: Flight model (None: from the scene).
        flight_controller: Controller for the scene's quadrotor models (see `make_dynamics`).
    """

    def __init__(
        self,
        *,
        scene: Scene,
        world: World | None = None,
        strategy: Strategy | None = None,
        make_strategy: StrategyFactory | None = None,
        start: tuple[np.ndarray, np.ndarray] | None = None,
        backend: str | None = None,
        dynamics: Dynamics | None = None,
        flight_controller: Any | None = None,
    ) -> None:
        if strategy is not None and make_strategy is not None:
            raise TypeError("Mission: give strategy or make_strategy, not both")
        self.scene = scene
        # Refuse before anything is allocated; a world built here counts too.
        require_memory(scene, mission_needs(scene) + ([] if world else world_needs(scene)))
        if world is None:
            from swarmsim.world.world import build_world

            world = build_world(scene)
        self.base_world = world
        self.world = world
        self.backend = scene.run.backend if backend is None else backend
        self.focal = FocalPlane()
        self.seed = int(scene.run.seed)
        self._make_strategy = make_strategy
        if make_strategy is not None:
            strategy = make_strategy(stream(self.seed, "strategy"))
        self.strategy = strategy
        self._start = None if start is None else _formation(*start)
        positions, _ = self._formation()
        if dynamics is None:
            dynamics = make_dynamics(
                scene, len(positions), controller=flight_controller, world=world
            )
        self.dynamics = dynamics
        self._begin()

    # -- episodes ------------------------------------------------------------------------------

    def _formation(self) -> tuple[np.ndarray, np.ndarray]:
        if self._start is not None:
            return self._start[0].copy(), self._start[1].copy()
        if self.strategy is not None:
            return _formation(*self.strategy.start())
        return scene_formation(self.scene)

    def _begin(self) -> None:
        """Drones to the start formation, fresh noise stream, records cleared."""
        self.rng = stream(self.seed, "noise")
        self.dynamics.reset(*self._formation())
        self.records: list[IterationRecord] = []
        self.best: Plan | None = None
        self.best_time = 0.0
        self.terminated = False
        self.truncated = False
        self.reason = ""
        self._confirmed = 0
        self._wall = 0.0
        self._observation: Observation | None = None
        self._observed_at: tuple[int, float] = (-1, math.nan)
        self._stack: np.ndarray | None = getattr(self, "_stack", None)

    def reset(
        self, *, seed: int | None = None, targets: Sequence[Target | TargetConfig] | None = None
    ) -> Observation:
        """Restart on the same world and return the first observation.

        The trace that follows equals that of a freshly made mission of this world with
        ``run.seed = seed``.

        Args:
            seed: Seed of every random stream of the episode (None: the mission's current one,
                so ``reset()`` replays the episode).
            targets: New persons for this episode (`Target` objects or ``[[targets]]`` tables
                as `TargetConfig`), replacing the world's; None keeps the current ones.
        """
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"reset: seed must be an integer >= 0, got {seed!r}")
            self.seed = int(seed)
        if targets is not None:
            placed = tuple(
                t if isinstance(t, Target) else target_from_config(t, seed=self.seed, index=i)
                for i, t in enumerate(targets)
            )
            self.world = dataclasses.replace(self.base_world, targets=placed)
        if self._make_strategy is not None:
            self.strategy = self._make_strategy(stream(self.seed, "strategy"))
        elif self.strategy is not None:
            restart = getattr(self.strategy, "reset", None)
            if restart is None:
                raise MissionError(
                    f"reset: strategy {self.strategy.name!r} was given as an object without "
                    "reset(rng=...); make the mission with make_strategy= (or "
                    "controllers.registry.make_mission) so that reset can rebuild it"
                )
            restart(rng=stream(self.seed, "strategy"))
        self._begin()
        return self.observe()

    # -- one iteration -------------------------------------------------------------------------

    @property
    def time(self) -> float:
        """Simulation time in seconds."""
        return self.dynamics.time

    @property
    def done(self) -> bool:
        """The episode has ended (terminated or truncated)."""
        return self.terminated or self.truncated

    @property
    def drones(self) -> int:
        """Number of drones."""
        return len(self.dynamics.positions)

    def observe(self) -> Observation:
        """Capture with every drone, detect per image and integrate from every viewpoint.

        Observing again before `advance` returns the same observation (no new noise is drawn).
        """
        if self.observed:
            assert self._observation is not None
            return self._observation
        start = _time.perf_counter()
        poses = self.poses()
        frames = render(self.world, poses, self.time, backend=self.backend, rng=self.rng)
        return self._observe(frames.to_numpy(), start)

    def poses(self) -> np.ndarray:
        """(n, 5) camera poses ``[x, y, z, yaw, pitch]`` of the drones now."""
        positions = self.dynamics.positions
        poses = np.zeros((len(positions), 5))
        poses[:, :3] = positions
        poses[:, 3] = self.dynamics.headings
        return poses

    @property
    def observed(self) -> bool:
        """The current observation is made (`observe` would return it without capturing)."""
        return self._observation is not None and self._observed_at == (len(self.records), self.time)

    def _observe(self, frames: Frames, start: float) -> Observation:
        """Detect per image and integrate from every viewpoint: the observation of ``frames``
        (captured now, sensor noise applied)."""
        t = self.time
        poses = frames.poses
        camera = self.world.camera
        config = self.scene.mission
        shape = (*frames.thermal.shape, 4 if config.channels == "all" else 1)
        if self._stack is None or self._stack.shape != shape:
            # Reused: 42 MB of fresh pages per iteration of the paper scene cost more than RX.
            self._stack = np.empty(shape, np.float32)
        stack = detection_stack(frames, config.channels, out=self._stack)
        masks = anomaly_masks(stack, quantile=config.quantile, min_score=config.min_score)
        integral = integrate(
            masks, poses, poses, camera=camera, focal=self.focal, backend=self.backend,
            sampling=config.sampling,
        ).to_numpy()  # fmt: skip
        leader, areas = elect_leader(foreground(integral.sum[..., 0]))
        self._observation = Observation(
            time=t,
            iteration=len(self.records),
            positions=poses[:, :3].copy(),
            poses=poses,
            masks=masks,
            integral=integral,
            blob_areas=areas,
            leader=leader,
            camera=camera,
            focal=self.focal,
            sampling=config.sampling,
        )
        self._observed_at = (len(self.records), t)
        self._wall += _time.perf_counter() - start
        return self._observation

    def advance(
        self,
        plan: Plan,
        observation: Observation | None = None,
        *,
        callback: FlyCallback | None = None,
        truth: bool = True,
    ) -> Step:
        """Score ``plan`` against the truth, fly it and record the iteration.

        Args:
            plan: The plan answering the current observation (any `Plan`; one without a result
                of its own is scored on the observation, see `swarmsim.scores`).
            observation: The current observation (None: the one `observe` made).
            callback: Called with the dynamics at intermediate poses of the flight.
            truth: Score the plan's views against the ground truth (visibility, detection
                coverage, integral visibility, views). False leaves those NaN in the record
                and saves their cost (a learning agent rewarded by its observable objective
                does not need them); the target's position, the detection check and the
                episode's end are the same either way.

        Raises:
            MissionError: Nothing observed yet, a stale observation, or the episode has ended.
            PlanError: Waypoints not (n, 3) finite numbers or a bad speed.
        """
        if self.done:
            raise MissionError(f"advance: the episode has ended ({self.reason}); call reset()")
        obs = self._observation if observation is None else observation
        if obs is None or obs is not self._observation or not self.observed:
            raise MissionError("advance: observe() first and pass its latest observation")
        start = _time.perf_counter()
        waypoints = _check_plan(plan, self.drones)
        mission = self.scene.mission
        if truth:
            score = score_plan(self.world, plan, obs, altitude=self.scene.swarm.altitude)
        else:
            score = target_position_only(self.world, obs.time)
        estimate = np.full(2, np.nan) if plan.estimate is None else np.asarray(plan.estimate)
        error = float(np.hypot(*(estimate - score.target)))
        near = math.isfinite(error) and error <= mission.detection_radius
        detected = bool(plan.detected and near)
        flight = self.dynamics.fly_to(waypoints, speed=plan.speed, callback=callback)
        record = IterationRecord(
            iteration=obs.iteration,
            time=obs.time,
            positions=obs.positions,
            leader=-1 if plan.leader is None else int(plan.leader),
            objective=float(plan.objective),
            history=int(plan.history),
            mode=plan.mode,
            visibility=score.visibility,
            detection=score.detection,
            integral_visibility=score.integral_visibility,
            views=score.views,
            detected=detected,
            estimate=estimate,
            error=error,
            target=score.target,
            flight=flight,
        )
        best = max((r.visibility for r in self.records), default=-1.0)
        if score.visibility > best or self.best is None:
            self.best, self.best_time = plan, obs.time
        self.records.append(record)
        self._observation = None
        self._confirmed = self._confirmed + 1 if detected else 0
        self.reason = self._end_reason(plan)
        self.terminated = self.reason in ("confirmed", "strategy", "crashed")
        self.truncated = self.reason in ("time", "iterations")
        self._wall += _time.perf_counter() - start
        return Step(record, plan, self.terminated, self.truncated, self.reason)

    def _end_reason(self, plan: Plan) -> str:
        mission = self.scene.mission
        if mission.confirm and self._confirmed >= mission.confirm:
            return "confirmed"
        if plan.done:
            return "strategy"
        if np.all(self.dynamics.crashed):
            return "crashed"
        if self.time >= mission.max_time:
            return "time"
        if len(self.records) >= mission.max_iterations:
            return "iterations"
        return ""

    def step(self, *, callback: FlyCallback | None = None) -> Step:
        """One iteration: observe, the strategy's plan, advance."""
        if self.strategy is None:
            raise MissionError("step: this mission has no strategy; plan and call advance()")
        obs = self.observe()
        start = _time.perf_counter()
        plan = self.strategy.plan(obs)
        self._wall += _time.perf_counter() - start
        return self.advance(plan, obs, callback=callback)

    def run(
        self,
        *,
        max_time: float | None = None,
        progress: Callable[[IterationRecord], None] | None = None,
    ) -> MissionResult:
        """Step until the episode ends or ``max_time`` passes; Ctrl-C stops early.

        Args:
            max_time: Simulated seconds (None: the scene's ``mission.max_time``).
            progress: Called with every record.
        """
        limit = self.scene.mission.max_time if max_time is None else max_time
        interrupted = False
        try:
            while not self.done and self.time < limit:
                record = self.step().record
                if progress is not None:
                    progress(record)
        except KeyboardInterrupt:
            interrupted = True
        return self.result(interrupted=interrupted)

    def result(self, *, interrupted: bool = False) -> MissionResult:
        """The records so far and their summary."""
        summary = summarize(
            self.records,
            strategy="external" if self.strategy is None else self.strategy.name,
            seed=self.seed,
            sim_time_s=self.time,
            wall_time_s=self._wall,
            drones=self.drones,
        )
        summary["end"] = self.reason or None
        summary["interrupted"] = interrupted
        return MissionResult(list(self.records), summary, self.best, self.best_time, interrupted)


def observe_together(missions: Sequence[Mission]) -> list[Observation]:
    """Observe several missions at once: every camera of those sharing one world's forest is
    rendered in a single call (each camera seeing only its own mission's persons), then each
    mission detects and integrates its own images. Each observation equals what the mission's
    own `Mission.observe` gives (sensor noise comes from each mission's stream).

    Missions already observed return their observation; missions on other forests, another
    camera or a backend other than the cpu are observed one by one.
    """
    out: dict[int, Observation] = {}
    groups: dict[tuple, list[int]] = {}
    for k, mission in enumerate(missions):
        if mission.observed or mission.backend != "cpu":
            out[k] = mission.observe()
        else:
            key = (id(mission.base_world.packed), mission.world.camera)
            groups.setdefault(key, []).append(k)
    for members in groups.values():
        if len(members) == 1:
            out[members[0]] = missions[members[0]].observe()
            continue
        start = _time.perf_counter()
        group = [missions[k] for k in members]
        poses = [m.poses() for m in group]
        geometry = concatenate_geometry([m.world.target_geometry(m.time) for m in group])
        counts = np.cumsum([0] + [len(m.world.targets) for m in group])
        seen = np.concatenate(
            [np.tile([counts[i], counts[i + 1]], (len(p), 1)) for i, p in enumerate(poses)]
        )
        world = group[0].world
        frames = render(world, np.concatenate(poses), group[0].time, backend="cpu",
                        targets=geometry, camera_targets=seen, sensor=False)  # fmt: skip
        shared = (_time.perf_counter() - start) / len(group)
        first = 0
        for k, mission, p in zip(members, group, poses, strict=True):
            part = frames.subset(slice(first, first + len(p)))
            first += len(p)
            thermal = apply_sensor(part.thermal, world.thermal, mission.rng)
            part = dataclasses.replace(part, thermal=thermal, time=mission.time)
            out[k] = mission._observe(part, _time.perf_counter() - shared)
    return [out[k] for k in range(len(missions))]


def _formation(positions: Any, headings: Any) -> tuple[np.ndarray, np.ndarray]:
    positions = np.array(positions, np.float64)
    headings = np.array(headings, np.float64).reshape(-1)
    if positions.ndim != 2 or positions.shape[1] != 3 or len(positions) < 1:
        raise ValueError(f"start: expected positions of shape (n, 3), got {positions.shape}")
    if headings.shape != (len(positions),):
        raise ValueError(f"start: expected {len(positions)} headings, got {headings.shape}")
    if not (np.isfinite(positions).all() and np.isfinite(headings).all()):
        raise ValueError("start: expected finite positions and headings")
    return positions, headings


def _check_plan(plan: Plan, n: int) -> np.ndarray:
    """The plan's waypoints as (n, 3) float64, or a PlanError saying what is wrong."""
    if not isinstance(plan, Plan):
        raise PlanError(f"plan: expected a swarmsim.strategy.Plan, got {type(plan).__name__}")
    try:
        waypoints = np.array(plan.waypoints, np.float64)
    except (TypeError, ValueError):
        got = repr(plan.waypoints)
        raise PlanError(f"plan.waypoints: expected ({n}, 3) numbers, got {got}") from None
    if waypoints.shape != (n, 3):
        raise PlanError(f"plan.waypoints: expected shape ({n}, 3), got {waypoints.shape}")
    if not np.isfinite(waypoints).all():
        bad = sorted(set(np.flatnonzero(~np.isfinite(waypoints).all(axis=1)).tolist()))
        raise PlanError(f"plan.waypoints: drones {bad} have NaN or infinite waypoints")
    if plan.speed is not None and not (math.isfinite(plan.speed) and plan.speed > 0):
        raise PlanError(f"plan.speed: expected m/s > 0 or None, got {plan.speed!r}")
    return waypoints


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
    integral = np.array([r.integral_visibility for r in records], np.float64)
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
            r.detection, r.integral_visibility, r.views, int(r.detected), *r.estimate, r.error,
            *r.target, r.flight, *centre,
        ]  # fmt: skip
        row += list(r.positions.ravel())
        rows.append(row)
    return rows


__all__ += ["TRACE_COLUMNS", "trace_rows"]
