"""``swarmsim/SwarmSearch-v0``: centralised control of a drone swarm searching a forest.

Each step the agent moves every drone horizontally; the swarm flies there, captures thermal + RGB
images, flags anomalous pixels (RX) per image and integrates the masks from every viewpoint — the
mission engine's observe/advance (`swarmsim.mission`). The agent plays the strategy.

Spaces (n drones, M × M map):

* action ``Box(-1, 1, (n, 2))``: east/north displacement of each drone as a share of
  ``max_step`` metres (default c1 + c2 = 3 m, the PSO's largest converging step); values outside
  [-1, 1] are clipped, NaN, infinities or a wrong shape raise `ActionError`. Drones stay inside
  the forest area and at their altitudes.
* observation ``Dict``:
  ``positions`` (n, 2) drone positions relative to the swarm centre over the map's half width,
  clipped to [-1, 1]; ``map`` (M, M) the integrated anomaly masks on a ground window of
  ``map_extent`` metres centred on the swarm, north up — each cell the share of the views
  covering it that flag it, in [0, 1]; ``blob_areas`` (n,) the largest blob of each drone's
  integral over its image's pixels; ``time`` (1,) elapsed over the scene's ``mission.max_time``.

Reward (``reward=``):

* ``"objective"`` (default, observable): the gain of the leader's largest integrated anomaly
  blob in m² of ground (`swarmsim.scores.anomaly_area` with ``blob=True``: the PSO's objective
  in ground units) minus ``time_cost`` per second flown;
* ``"visibility"`` (ground truth, simulation only): the gain of the person's optical visibility
  through the current views (`swarmsim.scores.target_visibility`) minus the same time cost.

The swarm claims a detection when the leader's largest integrated blob covers ``detect_area`` m²;
an episode terminates when the person is confirmed (``mission.confirm`` claims in a row whose blob
centre lies within ``mission.detection_radius`` of the person) and is truncated at
``mission.max_time``. Every ``reset`` places the person anew, uniformly in ``target_region``
with a random heading; ``options={"new_forest": True}`` (or ``new_forest=True`` for every
episode) grows a new forest from the episode's seed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import scipy.ndimage
from gymnasium import spaces

from swarmsim.aperture.blobs import find_blobs
from swarmsim.aperture.integrate import foreground, integrate
from swarmsim.errors import SwarmsimError
from swarmsim.mission import Mission, Step
from swarmsim.scene import SCENES_DIR, Scene, SceneError, load_scene
from swarmsim.scores import anomaly_area, target_visibility
from swarmsim.sensing.camera import Camera
from swarmsim.strategy import Observation, Plan
from swarmsim.world.targets import Target, static_trajectory
from swarmsim.world.world import World, build_world

__all__ = ["DEFAULT_SCENE", "ActionError", "SwarmSearchEnv"]

#: The environment's default scene: 10 drones, 64² cameras, a 60 m × 60 m forest.
DEFAULT_SCENE = SCENES_DIR / "search.toml"
REWARDS = ("objective", "visibility")


class ActionError(SwarmsimError):
    """An action the environment cannot take (wrong shape, NaN or infinite values)."""

    key = "action"


class SwarmSearchEnv(gym.Env):
    """Centralised swarm search (see the module docstring for spaces, reward and episodes).

    Args:
        scene: A scene file, a `Scene`, or None for `DEFAULT_SCENE`.
        overrides: "dotted.key=value" scene overrides.
        reward: "objective" (observable) or "visibility" (ground truth).
        time_cost: Reward subtracted per simulated second.
        max_step: Largest displacement per step in metres (None: 3 m, c1 + c2 of the paper).
        map_size: Cells M of the observation map's side.
        map_extent: Ground width of the map window in metres.
        target_region: ``(x0, x1, y0, y1)`` where a reset places the person (None: a 24 m × 24 m
            square ahead of the start line, inside the forest).
        new_forest: Grow a new forest at every reset.
        detect_area: Ground area in m² of the leader's largest integrated blob at which the
            swarm claims a detection at the blob's centre (the mission confirms it against the
            truth, see ``mission.confirm``).
        truth: Score every step's views against the ground truth for ``info``
            (``visibility``, ``detection``; absent without it). Off by default: it costs about a
            tenth of a step and neither reward needs it.
        render_mode: None or "rgb_array" (a top-down frame).
        backend: Compute backend (None: the scene's).
        flight_controller: Controller for quadrotor dynamics (None: kinematic scenes only).
        world: The scene's built world to search (None: built by the first reset); several
            environments can share one (`SwarmSearchVectorEnv` does).
    """

    # Annotated like gymnasium.Env's metadata, an instance variable there: no ClassVar.
    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        *,
        scene: str | Path | Scene | None = None,
        overrides: tuple[str, ...] | list[str] = (),
        reward: str = "objective",
        time_cost: float = 0.01,
        max_step: float | None = None,
        map_size: int = 64,
        map_extent: float = 48.0,
        target_region: tuple[float, float, float, float] | None = None,
        new_forest: bool = False,
        detect_area: float = 0.25,
        truth: bool = False,
        render_mode: str | None = None,
        backend: str | None = None,
        flight_controller: Any | None = None,
        world: World | None = None,
    ) -> None:
        if isinstance(scene, Scene):
            base = scene.with_overrides(*overrides) if overrides else scene
        else:
            base = load_scene(DEFAULT_SCENE if scene is None else scene, overrides=overrides)
        if not base.targets:
            raise SceneError(base.source, "targets", "the search needs one [[targets]] table")
        if reward not in REWARDS:
            raise ValueError(f"reward: expected one of {REWARDS}, got {reward!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        for name, value in (("time_cost", time_cost), ("map_extent", map_extent)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
        self.scene = base
        self.reward_kind = reward
        self.time_cost = float(time_cost)
        self.max_step = 3.0 if max_step is None else float(max_step)
        self.map_size = int(map_size)
        self.map_extent = float(map_extent)
        self.new_forest = bool(new_forest)
        self.detect_area = float(detect_area)
        self.truth = bool(truth)
        self.render_mode = render_mode
        self.backend = backend
        self.flight_controller = flight_controller
        w, h = base.forest.area
        sx, sy = base.swarm.start
        self.target_region = (
            (max(-w / 2, sx - 12.0), min(w / 2, sx + 12.0), sy + 4.0, min(h / 2, sy + 28.0))
            if target_region is None
            else tuple(float(v) for v in target_region)
        )
        n = base.swarm.drones
        self.n = n
        self.action_space = spaces.Box(-1.0, 1.0, (n, 2), np.float32)
        m = self.map_size
        self.observation_space = spaces.Dict(
            {
                "positions": spaces.Box(-1.0, 1.0, (n, 2), np.float32),
                "map": spaces.Box(0.0, 1.0, (m, m), np.float32),
                "blob_areas": spaces.Box(0.0, 1.0, (n,), np.float32),
                "time": spaces.Box(0.0, 1.0, (1,), np.float32),
            }
        )
        altitude = base.swarm.altitude + base.swarm.altitude_step * n
        self._map_altitude = altitude
        self._map_camera = Camera(
            fov=2.0 * math.atan(0.5 * self.map_extent / altitude), width=m, height=m
        )
        self._world: World | None = world
        self._mission: Mission | None = None
        self._obs: Observation | None = None
        self._score = 0.0
        self._canopy: np.ndarray | None = None
        self._last_map = np.zeros((m, m), np.float32)

    # -- episodes ------------------------------------------------------------------------------

    def _build(self, seed: int | None) -> None:
        scene = self.scene if seed is None else self.scene.with_overrides(f"forest.seed={seed}")
        if seed is not None or self._world is None:
            self._world = build_world(scene)
        self._mission = Mission(
            scene=scene,
            world=self._world,
            strategy=None,
            backend=self.backend,
            flight_controller=self.flight_controller,
        )
        self._canopy = None

    def _active(self) -> Mission:
        """The mission episodes run on (built by the first reset)."""
        if self._mission is None:
            raise gym.error.ResetNeeded("call reset() first")
        return self._mission

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """A new episode: the person somewhere else on the same forest (a new one on request)."""
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"new_forest"}
        if unknown:
            raise ValueError(f"options: unknown keys {sorted(unknown)}; known: ['new_forest']")
        rng = self.np_random
        episode_seed = int(rng.integers(2**31 - 1))
        if self._mission is None:
            self._build(None)
        if options.get("new_forest", self.new_forest):
            self._build(int(rng.integers(2**31 - 1)))
        x0, x1, y0, y1 = self.target_region
        where = [float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))]
        heading = float(rng.uniform(0.0, 2.0 * math.pi))
        cfg = self.scene.targets[0]
        person = Target(
            pose=cfg.pose,
            trajectory=static_trajectory(position=where, heading=heading),
            temperature=cfg.temperature,
            clothing=cfg.clothing,
        )
        self._obs = self._active().reset(seed=episode_seed, targets=[person])
        self._score = self._objective(self._obs)
        return self._observation(self._obs), self._info(None)

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Move the drones by ``action`` × ``max_step`` metres, capture, integrate, score."""
        return self.settle(self.act(action))

    def act(self, action: np.ndarray) -> Step:
        """The first half of `step`: check the action, plan and fly it (no capture yet).

        `settle` then captures (unless the episode has ended) and scores; a vector of
        environments acts in all of them, captures them together and settles each.
        """
        if self._mission is None or self._obs is None:
            raise gym.error.ResetNeeded("step: call reset() first")
        mission, obs = self._mission, self._obs
        move = self._check_action(action) * self.max_step
        w, h = self.scene.forest.area
        xy = np.clip(obs.positions[:, :2] + move, [-w / 2, -h / 2], [w / 2, h / 2])
        detected, estimate = self._claim(obs)
        plan = Plan(waypoints=np.column_stack([xy, obs.positions[:, 2]]), detected=detected,
                    estimate=estimate, leader=obs.leader)  # fmt: skip
        return mission.advance(plan, obs, truth=self.truth)

    def settle(self, step: Step) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """The second half of `step`: capture (`Mission.observe`, already made when the
        mission was observed together with others) and return what `step` returns."""
        mission = self._active()
        done = step.terminated or step.truncated
        if not done:
            self._obs = mission.observe()
        assert self._obs is not None
        # At the end there is no new capture: the score stands.
        score = self._score if done else self._objective(self._obs)
        reward = score - self._score - self.time_cost * step.record.flight
        self._score = score
        observation = self._observation(self._obs)
        return observation, float(reward), step.terminated, step.truncated, self._info(step)

    @property
    def mission(self) -> Mission:
        """The mission episodes run on (built by the first reset)."""
        return self._active()

    def _claim(self, obs: Observation) -> tuple[bool, np.ndarray | None]:
        """The swarm's own detection: the leader's largest integrated blob, claimed once it
        covers ``detect_area`` m² of ground, at its centre on the ground."""
        leader = int(obs.leader)
        mask = foreground(np.asarray(obs.integral.sum[leader, ..., 0]))
        blob = find_blobs(
            mask, camera=obs.camera, pose=obs.poses[leader], focal=obs.focal
        ).largest()
        if blob is None or blob.ground is None or not math.isfinite(blob.ground[0]):
            return False, None
        return anomaly_area(obs, blob=True) >= self.detect_area, np.array(blob.ground[:2])

    def _objective(self, obs: Observation) -> float:
        if self.reward_kind == "objective":
            return anomaly_area(obs, blob=True)
        world = self._active().world
        seen, _ = target_visibility(
            world, obs.poses, t=obs.time, altitude=self.scene.swarm.altitude
        )
        return seen

    def _check_action(self, action: Any) -> np.ndarray:
        try:
            a = np.asarray(action, np.float64)
        except (TypeError, ValueError):
            raise ActionError(f"action: expected ({self.n}, 2) numbers, got {action!r}") from None
        if a.shape != (self.n, 2):
            raise ActionError(f"action: expected shape ({self.n}, 2), got {a.shape}")
        bad = ~np.isfinite(a)
        if bad.any():
            drones = sorted(set(np.nonzero(bad)[0].tolist()))
            raise ActionError(f"action: NaN or infinite values for drones {drones}")
        return np.clip(a, -1.0, 1.0)

    # -- observations --------------------------------------------------------------------------

    def _observation(self, obs: Observation) -> dict[str, np.ndarray]:
        xy = obs.positions[:, :2]
        centre = xy.mean(axis=0)
        half = 0.5 * self.map_extent
        pixels = obs.camera.width * obs.camera.height
        return {
            "positions": np.clip((xy - centre) / half, -1.0, 1.0).astype(np.float32),
            "map": self._anomaly_map(obs, centre),
            "blob_areas": np.clip(obs.blob_areas / pixels, 0.0, 1.0).astype(np.float32),
            "time": np.array([min(1.0, obs.time / self.scene.mission.max_time)], np.float32),
        }

    def _anomaly_map(self, obs: Observation, centre: np.ndarray) -> np.ndarray:
        """The masks integrated on the ground, seen by a nadir virtual camera over the centre
        whose footprint is the map window."""
        pose = np.array([centre[0], centre[1], self._map_altitude, 0.0, 0.0])
        total = integrate(
            obs.masks,
            obs.poses,
            pose,
            camera=obs.camera,
            focal=obs.focal,
            backend=self._active().backend,
            sampling=obs.sampling,
            virtual_camera=self._map_camera,
        ).to_numpy()
        image = np.clip(total.image[0, ..., 0], 0.0, 1.0).astype(np.float32)
        self._last_map = image
        return image

    def _info(self, step: Step | None) -> dict[str, Any]:
        mission = self._active()
        target = np.asarray(mission.world.targets[0].position(mission.time), np.float64)
        info: dict[str, Any] = {"time": mission.time, "target": target, "objective": self._score}
        if step is not None:
            r = step.record
            info |= {"detected": r.detected, "reason": step.reason}
            if self.truth:
                info |= {"visibility": r.visibility, "detection": r.detection}
        return info

    # -- rendering -----------------------------------------------------------------------------

    def render(self) -> np.ndarray | None:
        """A top-down (H, W, 3) uint8 frame: canopy (grey), anomaly map (red), drones (white),
        the person (green), north up; None without ``render_mode="rgb_array"``."""
        if self.render_mode != "rgb_array" or self._mission is None or self._obs is None:
            return None
        size = 256
        w, h = self.scene.forest.area
        if self._canopy is None:
            self._canopy = _canopy_image(self._mission.world, size, (w, h))
        frame = np.repeat(self._canopy[..., None], 3, axis=2)

        def cell(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            cols = ((points[:, 0] + w / 2) / w * size).astype(int)
            rows = ((h / 2 - points[:, 1]) / h * size).astype(int)
            return np.clip(rows, 0, size - 1), np.clip(cols, 0, size - 1)

        centre = self._obs.positions[:, :2].mean(axis=0)
        m = self.map_size
        u = (np.arange(m) + 0.5) / m - 0.5
        gx, gy = np.meshgrid(centre[0] + u * self.map_extent, centre[1] - u * self.map_extent)
        rows, cols = cell(np.column_stack([gx.ravel(), gy.ravel()]))
        flagged = self._last_map.ravel() > 0
        frame[rows[flagged], cols[flagged]] = (230, 40, 40)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                r, c = cell(self._obs.positions[:, :2])
                frame[np.clip(r + dr, 0, size - 1), np.clip(c + dc, 0, size - 1)] = 255
        target = np.asarray(self._mission.world.targets[0].position(self._mission.time))
        r, c = cell(target[None, :2])
        frame[max(r[0] - 2, 0) : r[0] + 3, max(c[0] - 2, 0) : c[0] + 3] = (40, 220, 40)
        return frame


def _canopy_image(world: World, size: int, area: tuple[float, float]) -> np.ndarray:
    """(size, size) uint8 top-down canopy shading: foliage cover per cell, dark where dense."""
    w, h = area
    prims = world.primitives
    image = np.full((size, size), 200, np.uint8)
    if len(prims) == 0:
        return image
    centre = prims.a[:, :2]
    cover, _, _ = np.histogram2d(
        h / 2 - centre[:, 1],
        centre[:, 0] + w / 2,
        bins=size,
        range=[[0, h], [0, w]],
        weights=np.pi * prims.radius**2,
    )
    cell = (w / size) * (h / size)
    cover = scipy.ndimage.gaussian_filter(cover, 1.5)  # crowns, not single twigs
    shade = 1.0 - np.exp(-cover / cell)
    return (200 - 150 * shade).astype(np.uint8)
