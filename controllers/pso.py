"""Adaptive real-time PSO of the AOS swarm paper (reference: shared/reference/aos-swarm.md §2).

Particles are drones flying at fixed staggered altitudes; only their 2-D positions are optimised.
There is no personal-best memory and no inertia, since occlusion makes the objective change as the
swarm moves. Each iteration: the leader is the viewpoint whose integrated anomaly masks show the
largest blob; the blob's filled bounding box is the detection mask; a greedy history of images
(an image joins only if it enlarges the blob inside the detection mask) gives the objective; the
swarm scans in a line while the objective is below T and converges on the leader above it, then
separates by the paper's soft Coulomb repulsion.

The threshold T: the paper's code compares the objective (pixels) with 220 px at 512² images,
calibrated as the blob size false alarms reach with no target in view; the paper reports it as
16.3 %, which matches 220 px relative to the blob of an unoccluded lying person (≈ 1350 px at
35 m, 512², 50°). We keep the percentage and measure the reference area on our own renderer
(``strategy.reference_area``: the unoccluded person's footprint, 147 px at 512²), scaling the
pixel threshold with the image's pixel count: T_px = T/100 · reference_area · (W·H / 512²).
T only separates the person from false alarms once these are held below it: see
``mission.min_score`` and ``benchmarks/calibrate_threshold.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from swarmsim.aperture.blobs import find_blobs
from swarmsim.aperture.integrate import foreground, integrate
from swarmsim.formation import across, direction, line_formation, line_offsets
from swarmsim.scene import Scene, scene_key
from swarmsim.strategy import Observation, Plan

__all__ = [
    "PSO",
    "PSOParams",
    "ThresholdParams",
    "greedy_agreement",
    "greedy_history",
    "separate",
    "threshold_pixels",
]

REFERENCE_PIXELS = 512 * 512  # image size the paper's threshold was calibrated on


@dataclass(frozen=True, kw_only=True)
class ThresholdParams:
    """The objective threshold T of the paper, shared by the PSO and the blind baselines."""

    threshold: float = scene_key(
        16.3,
        "Objective threshold T (PSO: between scanning and converging; all: the detection "
        "claim), in % of the reference blob area (see reference_area).",
        unit="%",
        ge=0,
    )
    reference_area: float = scene_key(
        147.0,
        "Pixels of an unoccluded lying person seen from h1 straight above in a 512² image (our "
        "renderer; the paper's was ≈ 1350 px, so its 16.3 % was 220 px); T in pixels is "
        "threshold/100 · reference_area · (pixels/512²).",
        unit="px",
        gt=0,
    )

    def threshold_px(self, resolution: tuple[int, int]) -> float:
        """T in pixels for images of ``resolution`` = (width, height)."""
        return threshold_pixels(self.threshold, self.reference_area, *resolution)


@dataclass(frozen=True, kw_only=True)
class PSOParams(ThresholdParams):
    """Constants of the adaptive PSO (the paper's values as defaults)."""

    c1: float = scene_key(1.0, "Length of the random (cognitive) unit step.", unit="m", ge=0)
    c2: float = scene_key(2.0, "Length of the unit step toward the leader.", unit="m", ge=0)
    c3: float = scene_key(2.0, "Scan step along the scan direction.", unit="m", ge=0)
    c4: float = scene_key(4.2, "Line spacing and separation distance.", unit="m", gt=0)
    c5: float = scene_key(0.3, "Gain of the pull back into the line formation.", ge=0, le=1)
    fixed_leader: bool = scene_key(False, "Hold the leader fixed during separation.")
    projection_slots: bool = scene_key(
        False, "Assign line slots by projection on the line instead of by drone index."
    )
    hard_separation: bool = scene_key(
        False, "After the soft repulsion, push pairs apart until all are ≥ c4."
    )
    history_reset: bool = scene_key(
        False, "Clear the image history when the objective falls below T again."
    )
    tracking: bool = scene_key(
        False,
        "Follow a moving target: the scan direction turns along the estimated target motion "
        "and c3 adapts to its speed, so after a loss the swarm scans along its heading.",
    )
    agreement: float = scene_key(
        0.0,
        "0 keeps the paper's objective, the blob of the union of the history's registered "
        "masks; a share in (0, 1] makes it the blob of pixels flagged by at least that share "
        "of the covering history views, so images that miss what the history sees are "
        "refused (0.3 in BENCHMARKS.md).",
        ge=0,
        le=1,
    )
    separation_steps: int = scene_key(500, "Steps of the soft repulsion.", ge=0)
    separation_dt: float = scene_key(0.001, "Step size of the soft repulsion.", gt=0)


def threshold_pixels(percent: float, reference_area: float, width: int, height: int) -> float:
    """T in pixels: ``percent`` of the reference blob area, scaled from 512² to W × H."""
    return percent / 100.0 * reference_area * (width * height) / REFERENCE_PIXELS


def separate(
    points: np.ndarray,
    charge: float,
    *,
    steps: int = 500,
    dt: float = 0.001,
    fixed: int | None = None,
) -> np.ndarray:
    """The paper's soft repulsion ("Rutherford scattering") of 2-D points.

    ``steps`` simultaneous updates ``x_a += dt · charge · Σ_b (x_a − x_b) / |x_a − x_b|³``; the
    paper uses charge c4². Coincident points do not push each other (the direction is undefined).

    Args:
        points: (n, 2) positions in metres.
        charge: Repulsion constant in m³ per unit time.
        fixed: Index of a point that does not move (the leader), or None.

    Returns:
        (n, 2) separated positions.
    """
    x = np.array(points, np.float64)
    for _ in range(steps):
        d = x[:, None, :] - x[None, :, :]
        r = np.linalg.norm(d, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(r > 0.0, 1.0 / r**3, 0.0)
        push = (d * inv[..., None]).sum(axis=1)
        if fixed is not None:
            push[fixed] = 0.0
        x = x + dt * charge * push
    return x


def enforce_min_distance(
    points: np.ndarray,
    distance: float,
    *,
    fixed: int | None = None,
    rng: np.random.Generator,
    max_rounds: int = 1000,
) -> np.ndarray:
    """Push pairs closer than ``distance`` apart until every pair is at least ``distance``.

    Each round moves both points of every close pair half the deficit apart (the whole deficit
    for the other point when one is ``fixed``), with a small overshoot so rounds terminate.
    """
    x = np.array(points, np.float64)
    n = len(x)
    for _ in range(max_rounds):
        moved = False
        for a in range(n):
            for b in range(a + 1, n):
                d = x[b] - x[a]
                r = float(np.hypot(*d))
                if r >= distance:
                    continue
                moved = True
                # Coincident points get a random direction; any split separates them.
                u = d / r if r > 0.0 else direction(rng.uniform(0.0, 2.0 * math.pi))
                deficit = (distance - r) * (1.0 + 1e-6) + 1e-9
                if a == fixed:
                    x[b] += deficit * u
                elif b == fixed:
                    x[a] -= deficit * u
                else:
                    x[a] -= 0.5 * deficit * u
                    x[b] += 0.5 * deficit * u
        if not moved:
            break
    return x


def largest_area(mask: np.ndarray) -> int:
    """Pixels of the largest 8-connected blob of a (H, W) mask (0 when empty)."""
    blobs = find_blobs(mask)
    return int(blobs.area.max()) if len(blobs) else 0


def greedy_history(
    history: np.ndarray, candidates: np.ndarray, box: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray]:
    """Greedy history integration in one view: the paper's objective.

    Foreground of an integral of masks is any pixel some registered mask covers, so the
    integral of the history plus one image is the union of their registered masks.

    Args:
        history: (H, W) bool union of the accepted history's registered masks.
        candidates: (n, H, W) bool registered masks of the new images, in drone order.
        box: (H, W) bool detection mask (the leader blob's filled bounding box).

    Returns:
        ``(accepted, objective, union)``: (n,) bool which images joined the history, the
        objective (largest blob area in pixels inside the box) and the new (H, W) union.
    """
    union = history & box
    best = largest_area(union)
    accepted = np.zeros(len(candidates), np.bool_)
    for i, mask in enumerate(candidates):
        trial = union | (mask & box)
        area = largest_area(trial)
        if area > best:
            accepted[i] = True
            union, best = trial, area
    return accepted, best, union


def greedy_agreement(
    history: tuple[np.ndarray, np.ndarray],
    candidates: np.ndarray,
    cover: np.ndarray,
    box: np.ndarray,
    fraction: float,
) -> tuple[np.ndarray, int, np.ndarray]:
    """Greedy history integration on agreement instead of union (an option, not the paper's).

    A pixel is foreground when at least ``fraction`` of the accepted views covering it flag it
    (the integral of the registered masks ≥ ``fraction``), so an image joins the history only
    if seeing the target there enlarges the blob that enough views agree on; images that miss
    the target lower the agreement where they cover it and are refused.

    Args:
        history: ``(sum, count)`` (H, W) integral of the accepted history's registered masks:
            summed mask values and number of covering views.
        candidates: (n, H, W) registered masks of the new images (bilinear values in [0, 1]).
        cover: (n, H, W) bool, the new image covers the pixel.
        box: (H, W) bool detection mask.
        fraction: Share of covering views that must flag a pixel, in (0, 1].

    Returns:
        ``(accepted, objective, agreed)`` as :func:`greedy_history`, ``agreed`` the (H, W)
        foreground of the new history inside the box.
    """
    total = np.asarray(history[0], np.float64).copy()
    count = np.asarray(history[1], np.float64).copy()

    def agreed(s: np.ndarray, c: np.ndarray) -> np.ndarray:
        return box & (c > 0) & (s >= fraction * c)

    mask = agreed(total, count)
    best = largest_area(mask)
    accepted = np.zeros(len(candidates), np.bool_)
    for i in range(len(candidates)):
        trial_total = total + candidates[i]
        trial_count = count + cover[i]
        trial = agreed(trial_total, trial_count)
        area = largest_area(trial)
        if area > best:
            accepted[i] = True
            total, count, mask, best = trial_total, trial_count, trial, area
    return accepted, best, mask


def footprint_radius(camera, altitude: float) -> float:
    """Horizontal distance in metres from a nadir camera to its farthest ground corner."""
    width, height = camera.footprint(altitude)
    return 0.5 * math.hypot(width, height)


def overlapping(poses: np.ndarray, pose: np.ndarray, camera) -> np.ndarray:
    """(k,) bool, nadir view k's ground footprint may overlap that of ``pose``."""
    if len(poses) == 0:
        return np.zeros(0, np.bool_)
    reach = np.array([footprint_radius(camera, z) for z in poses[:, 2]])
    reach += footprint_radius(camera, float(pose[2]))
    return np.hypot(poses[:, 0] - pose[0], poses[:, 1] - pose[1]) < reach


class PSO:
    """The adaptive real-time PSO strategy.

    Args:
        n: Number of drones.
        params: Constants.
        threshold: T in pixels of the images it will see (see `ThresholdParams.threshold_px`).
        start: (2,) centre of the start line in metres.
        heading: Scan direction in radians counter-clockwise from north.
        altitude, altitude_step: h1 and Δh in metres.
        rng: Source of the random (cognitive) unit vectors.
        backend: Integration backend.
    """

    name = "pso"
    Params = PSOParams

    def __init__(
        self,
        *,
        n: int,
        params: PSOParams,
        threshold: float,
        start: tuple[float, float] = (0.0, -12.0),
        heading: float = 0.0,
        altitude: float = 35.0,
        altitude_step: float = 1.0,
        rng: np.random.Generator,
        backend: str = "cpu",
    ) -> None:
        self.n = int(n)
        self.params = params
        self.threshold = float(threshold)
        self.heading = float(heading)
        self._start = line_formation(
            self.n,
            centre=start,
            heading=self.heading,
            spacing=params.c4,
            altitude=altitude,
            altitude_step=altitude_step,
        )
        self.altitudes = self._start[0][:, 2].copy()
        self.rng = rng
        self.backend = backend
        self.history_poses = np.zeros((0, 5))
        self.history_masks: list[np.ndarray] = []
        self.was_detected = False
        self.c3 = params.c3  # adapted to the target's speed when tracking
        self._last: tuple[float, np.ndarray] | None = None  # (time, estimate) when tracking
        self.velocity = np.zeros(2)  # estimated target velocity, m/s

    @classmethod
    def from_scene(
        cls, scene: Scene, rng: np.random.Generator, backend: str, params: PSOParams
    ) -> PSO:
        """The PSO of a scene's ``[swarm]`` with the ``[strategy]`` constants ``params``."""
        w = scene.swarm
        return cls(
            n=w.drones,
            params=params,
            threshold=params.threshold_px(scene.camera.resolution),
            start=w.start,
            heading=math.radians(w.heading),
            altitude=w.altitude,
            altitude_step=w.altitude_step,
            rng=rng,
            backend=backend,
        )

    @property
    def scan_direction(self) -> np.ndarray:
        """(2,) unit scan direction."""
        return direction(self.heading)

    @property
    def across(self) -> np.ndarray:
        """(2,) unit vector along the line formation (the scan direction turned clockwise)."""
        return across(self.heading)

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """Line formation of spacing c4 across the scan direction at the staggered altitudes."""
        positions, headings = self._start
        return positions.copy(), headings.copy()

    # -- moves ---------------------------------------------------------------------------------

    def scan_step(self, xy: np.ndarray) -> np.ndarray:
        """(n, 2) scan steps: c3 along the scan direction plus c5 pull into the line slots."""
        p = self.params
        centre = xy.mean(axis=0)
        offsets = line_offsets(self.n, p.c4)
        if p.projection_slots:
            # Slot k goes to the drone k-th along the line, so no drone crosses the formation.
            order = np.argsort((xy - centre) @ self.across, kind="stable")
            assigned = np.empty(self.n)
            assigned[order] = offsets
            offsets = assigned
        slots = centre + offsets[:, None] * self.across
        return self.c3 * self.scan_direction + p.c5 * (slots - xy)

    def converge_step(self, xy: np.ndarray, leader: int) -> np.ndarray:
        """(n, 2) steps c1·r + c2·g: random unit r, unit g toward the leader (0 for it)."""
        p = self.params
        angle = self.rng.uniform(0.0, 2.0 * math.pi, self.n)
        r = np.column_stack([np.cos(angle), np.sin(angle)])
        to_leader = xy[leader] - xy
        dist = np.linalg.norm(to_leader, axis=1)
        g = np.zeros_like(xy)
        close = dist > 0.0
        g[close] = to_leader[close] / dist[close, None]
        return p.c1 * r + p.c2 * g

    def separate(self, xy: np.ndarray, leader: int) -> np.ndarray:
        """Soft repulsion with charge c4², then the optional hard minimum distance."""
        p = self.params
        fixed = leader if p.fixed_leader else None
        out = separate(xy, p.c4**2, steps=p.separation_steps, dt=p.separation_dt, fixed=fixed)
        if p.hard_separation:
            out = enforce_min_distance(out, p.c4, fixed=fixed, rng=self.rng)
        return out

    def _track(self, t: float, estimate: np.ndarray | None) -> None:
        """Update the target velocity from successive estimates; steer the scan along it.

        The scan direction follows the target's heading and c3 becomes the distance the target
        covers in one iteration (at most the configured c3), so that after a loss the line
        sweeps on along the target's last heading at about its pace. (While converging, `plan`
        pulls the swarm's centre toward the estimate by up to the configured c3.)
        """
        if estimate is None:
            return
        if self._last is not None and t > self._last[0]:
            dt = t - self._last[0]
            measured = (estimate - self._last[1]) / dt
            # Blob centres jitter by a pixel or two; smoothing keeps the heading steady.
            self.velocity = 0.5 * self.velocity + 0.5 * measured
            speed = float(np.hypot(*self.velocity))
            if speed > 0.5:  # m/s; slower motion is estimate noise (or a resting person)
                self.heading = math.atan2(-self.velocity[0], self.velocity[1])
                self.c3 = min(self.params.c3, max(0.25, speed * dt))
        self._last = (t, np.asarray(estimate, np.float64))

    # -- one iteration -------------------------------------------------------------------------

    def plan(self, observation: Observation) -> Plan:
        """Leader, detection mask, greedy history, then scan or converge."""
        obs = observation
        p = self.params
        leader = int(obs.leader)
        leader_pose = obs.poses[leader]
        fg = foreground(np.asarray(obs.integral.sum[leader, ..., 0]))
        blob = find_blobs(fg).largest()
        shape = fg.shape
        box = blob.box_mask(shape) if blob is not None else np.zeros(shape, np.bool_)

        # The history seen from the leader; views whose footprints miss it add nothing.
        history = np.zeros(shape, np.bool_)
        history_sum = np.zeros(shape)
        history_count = np.zeros(shape)
        near = overlapping(self.history_poses, leader_pose, obs.camera)
        if near.any():
            masks = np.stack([m for m, k in zip(self.history_masks, near, strict=True) if k])
            hist = integrate(masks, self.history_poses[near], leader_pose, camera=obs.camera,
                             focal=obs.focal, backend=self.backend,
                             sampling=obs.sampling).to_numpy()  # fmt: skip
            history = foreground(hist.sum[0, ..., 0])
            history_sum, history_count = hist.sum[0, ..., 0], hist.count[0]
        # Each new image registered on its own: one channel per image in one batched call
        # (plus, for agreement, one channel per image that is one wherever the image is).
        n, h, w = obs.masks.shape
        channels = 2 * n if p.agreement > 0 else n
        onehot = np.zeros((n, h, w, channels), np.uint8)
        onehot[np.arange(n), :, :, np.arange(n)] = obs.masks
        if p.agreement > 0:
            onehot[np.arange(n), :, :, n + np.arange(n)] = 1
        single = integrate(onehot, obs.poses, leader_pose, camera=obs.camera, focal=obs.focal,
                           backend=self.backend, sampling=obs.sampling).to_numpy()  # fmt: skip
        if p.agreement > 0:
            sums = np.moveaxis(single.sum[0, ..., :n], -1, 0)
            cover = np.moveaxis(single.sum[0, ..., n:], -1, 0) > 0.5
            accepted, objective, union = greedy_agreement(
                (history_sum, history_count), sums, cover, box, p.agreement
            )
        else:
            candidates = np.moveaxis(foreground(single.sum[0, ..., :n]), -1, 0)
            accepted, objective, union = greedy_history(history, candidates, box)
        for i in np.flatnonzero(accepted):
            self.history_masks.append(obs.masks[i])
        self.history_poses = np.concatenate([self.history_poses, obs.poses[accepted]])

        detected = objective >= self.threshold
        estimate = None
        if objective > 0:
            found = find_blobs(union, camera=obs.camera, pose=leader_pose, focal=obs.focal)
            largest = found.largest()
            assert largest is not None  # the objective is the largest blob's area in union
            ground = largest.ground
            if ground is not None and math.isfinite(ground[0]):
                estimate = np.array(ground[:2])
        if p.tracking:
            self._track(obs.time, estimate if detected else None)

        xy = obs.positions[:, :2]
        if detected:
            new_xy = self.separate(xy + self.converge_step(xy, leader), leader)
            if p.tracking and estimate is not None:
                # The leader is chosen by blob size, not by position: without this pull the
                # cluster falls behind a walking target until it leaves the view.
                offset = estimate - new_xy.mean(axis=0)
                new_xy = new_xy + offset * min(1.0, p.c3 / max(float(np.hypot(*offset)), 1e-9))
            mode = "converge"
        else:
            new_xy = xy + self.scan_step(xy)
            mode = "scan"
            if p.history_reset and self.was_detected:
                self.history_poses = np.zeros((0, 5))
                self.history_masks = []
        self.was_detected = detected

        waypoints = np.column_stack([new_xy, self.altitudes])
        near = overlapping(self.history_poses, leader_pose, obs.camera)
        views = self.history_poses[near]
        integral_image = None
        if near.any():
            masks = np.stack([m for m, k in zip(self.history_masks, near, strict=True) if k])
            integral_image = integrate(
                masks, views, leader_pose, camera=obs.camera, focal=obs.focal,
                backend=self.backend, sampling=obs.sampling,
            ).to_numpy().image[0, ..., 0]  # fmt: skip
        return Plan(
            waypoints=waypoints,
            objective=float(objective),
            leader=leader,
            history=len(self.history_masks),
            detected=bool(detected),
            view_pose=leader_pose.copy(),
            detection=union,
            estimate=estimate,
            views=views,
            integral_image=integral_image,
            mode=mode,
            info={"accepted": int(accepted.sum()), "heading": self.heading, "c3": self.c3},
        )
