"""Adaptive PSO: altitudes, branch selection, steps, separation, greedy history, leader."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controllers.pso import (
    PSO,
    PSOParams,
    enforce_min_distance,
    greedy_agreement,
    greedy_history,
    separate,
    threshold_pixels,
)
from swarmsim.aperture.integrate import FocalPlane, integrate
from swarmsim.sensing.camera import Camera
from swarmsim.strategy import Observation

CAMERA = Camera(width=48, height=48)


def test_threshold_maps_percent_to_pixels() -> None:
    # 16.3 % of the paper's 1350 px reference blob is its code's 220 px at 512².
    assert threshold_pixels(16.3, 1350.0, 512, 512) == pytest.approx(220.05)
    assert threshold_pixels(16.3, 1350.0, 256, 256) == pytest.approx(220.05 / 4)


def _observation(positions: np.ndarray, blob_at: tuple[int, int] | None, size: int = 5
                 ) -> Observation:  # fmt: skip
    """Nadir drones; every mask flags the same ground square when ``blob_at`` is given."""
    n = len(positions)
    poses = np.zeros((n, 5))
    poses[:, :3] = positions
    masks = np.zeros((n, CAMERA.height, CAMERA.width), np.bool_)
    if blob_at is not None:
        # The same ground point seen by every drone: project a ground square into each view.
        from swarmsim.sensing.camera import project

        gx, gy = blob_at
        xs, ys = np.meshgrid(np.linspace(gx - 0.8, gx + 0.8, size),
                             np.linspace(gy - 0.8, gy + 0.8, size))  # fmt: skip
        ground = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=-1)
        for k in range(n):
            uv, _ = project(CAMERA, poses[k], ground)
            cols, rows = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
            ok = (rows >= 0) & (rows < CAMERA.height) & (cols >= 0) & (cols < CAMERA.width)
            masks[k, rows[ok], cols[ok]] = True
    integral = integrate(masks, poses, poses, camera=CAMERA).to_numpy()
    from swarmsim.aperture.blobs import find_blobs

    areas = np.array([max(find_blobs(integral.sum[k, ..., 0] > 0).area, default=0)
                      for k in range(n)])  # fmt: skip
    return Observation(time=0.0, iteration=0, positions=positions, poses=poses, masks=masks,
                       integral=integral, blob_areas=areas, leader=int(np.argmax(areas)),
                       camera=CAMERA, focal=FocalPlane())  # fmt: skip


def _pso(n: int, *, threshold: float = 220.0, **params) -> PSO:
    return PSO(n=n, params=PSOParams(**params), threshold=threshold, start=(0.0, 0.0),
               heading=0.0, rng=np.random.default_rng(0))  # fmt: skip


def test_scan_branch_below_threshold_moves_line_north() -> None:
    pso = _pso(3, threshold=1e9)
    positions, headings = pso.start()
    assert np.allclose(positions[:, 0], [-4.2, 0.0, 4.2]) and np.allclose(positions[:, 1], 0.0)
    assert np.allclose(headings, 0.0)
    xy = positions[:, :2] + np.array([[0.0, 1.0], [0.5, -1.0], [0.0, 0.0]])
    obs = _observation(np.column_stack([xy, positions[:, 2]]), blob_at=(0.0, 2.0))
    plan = pso.plan(obs)
    assert plan.mode == "scan" and not plan.detected
    # Independent expectation: c3 north plus c5 times the gap to slots around the centroid.
    centre = xy.mean(axis=0)
    slots = centre + np.array([[-4.2, 0.0], [0.0, 0.0], [4.2, 0.0]])
    expected = xy + 2.0 * np.array([0.0, 1.0]) + 0.3 * (slots - xy)
    assert np.allclose(plan.waypoints[:, :2], expected)
    assert np.allclose(plan.waypoints[:, 2], positions[:, 2])  # altitudes never change


def test_converge_branch_above_threshold_and_leader_is_largest_blob() -> None:
    pso = _pso(3, threshold=1.0)
    positions, _ = pso.start()
    obs = _observation(positions, blob_at=(4.0, 1.0))
    assert obs.blob_areas.max() > 0
    plan = pso.plan(obs)
    assert plan.mode == "converge" and plan.detected
    assert plan.leader == obs.leader == int(np.argmax(obs.blob_areas))
    assert plan.objective >= 1.0 and plan.history >= 1
    assert plan.estimate is not None and np.hypot(*(plan.estimate - [4.0, 1.0])) < 1.0


def test_converge_steps_are_bounded_by_c1_plus_c2() -> None:
    pso = _pso(8, c1=1.0, c2=2.0)
    rng = np.random.default_rng(3)
    for _ in range(20):
        xy = rng.uniform(-20, 20, (8, 2))
        leader = int(rng.integers(8))
        step = pso.converge_step(xy, leader)
        lengths = np.linalg.norm(step, axis=1)
        assert np.all(lengths <= 3.0 + 1e-9)
        assert lengths[leader] == pytest.approx(1.0)  # the leader only takes the random step
        others = np.delete(np.arange(8), leader)
        toward = xy[leader] - xy[others]
        # Removing the social part 2·g toward the leader leaves the unit random step.
        g = toward / np.linalg.norm(toward, axis=1)[:, None]
        assert np.allclose(np.linalg.norm(step[others] - 2.0 * g, axis=1), 1.0)
        assert np.all(np.einsum("ij,ij->i", step[others], toward) > 0)  # c2 > c1: net pull


def _paper_scatter(points: np.ndarray, c4: float, steps: int = 500, dt: float = 0.001
                   ) -> np.ndarray:  # fmt: skip
    """The paper code's routine, pair by pair in plain Python."""
    pts = [list(map(float, p)) for p in points]
    for _ in range(steps):
        new = []
        for a, (ax, ay) in enumerate(pts):
            fx = fy = 0.0
            for b, (bx, by) in enumerate(pts):
                if a == b:
                    continue
                dx, dy = ax - bx, ay - by
                r = math.sqrt(dx * dx + dy * dy)
                fx += dx / r**3
                fy += dy / r**3
            new.append([ax + dt * c4 * c4 * fx, ay + dt * c4 * c4 * fy])
        pts = new
    return np.array(pts)


def test_separation_matches_the_paper_routine() -> None:
    points = np.array([[0.0, 0.0], [1.0, 0.2], [0.3, 1.1], [2.0, 2.0], [-1.5, 0.4]])
    ours = separate(points, 4.2**2, steps=500, dt=0.001)
    assert np.allclose(ours, _paper_scatter(points, 4.2), atol=1e-10)
    # Fixed leader: it stays, the others still spread.
    held = separate(points, 4.2**2, fixed=0)
    assert np.array_equal(held[0], points[0])
    assert not np.allclose(held[1:], points[1:])


def test_hard_separation_keeps_every_pair_at_least_c4() -> None:
    rng = np.random.default_rng(1)
    points = rng.uniform(-2, 2, (10, 2))
    points[3] = points[4]  # coincident drones too
    out = enforce_min_distance(separate(points, 4.2**2), 4.2, fixed=2, rng=rng)
    d = np.linalg.norm(out[:, None] - out[None], axis=-1)
    assert d[np.triu_indices(10, 1)].min() >= 4.2


def test_greedy_history_accepts_only_images_that_enlarge_the_blob() -> None:
    h = w = 12
    box = np.zeros((h, w), np.bool_)
    box[2:8, 2:8] = True
    c = np.zeros((6, h, w), np.bool_)
    c[0, 3:5, 3:5] = True  # 4 px inside the box: accepted, objective 4
    c[1, 3:5, 3:5] = True  # the same pixels: no growth, rejected
    c[2, 3:5, 5:7] = True  # adjacent: the blob grows to 8, accepted
    c[3, 9:11, 9:11] = True  # outside the box: masked away, rejected
    c[4, 7, 7] = True  # a separate 1 px blob inside: the largest stays 8, rejected
    c[5, 5, 3:7] = True  # touches the blob from below: 12 px, accepted
    history = np.zeros((h, w), np.bool_)
    accepted, objective, union = greedy_history(history, c, box)
    assert accepted.tolist() == [True, False, True, False, False, True]
    assert objective == 12
    assert union.sum() == 12 and not union[9:11, 9:11].any()
    # A history already holding the blob: nothing new is accepted.
    again, objective2, _ = greedy_history(union, c, box)
    assert not again.any() and objective2 == 12


def test_projection_slots_keep_line_order() -> None:
    pso = _pso(3, projection_slots=True, c3=0.0, c5=1.0)
    xy = np.array([[4.0, 0.0], [-4.0, 0.0], [0.0, 0.0]])  # drone 0 is east, drone 1 west
    step = pso.scan_step(xy)
    # With c5 = 1 each drone lands exactly on the slot nearest its place along the line.
    assert np.allclose(xy + step, [[4.2, 0.0], [-4.2, 0.0], [0.0, 0.0]])
    by_index = _pso(3, c3=0.0, c5=1.0).scan_step(xy)
    assert np.allclose(xy + by_index, [[-4.2, 0.0], [0.0, 0.0], [4.2, 0.0]])


def test_greedy_agreement_refuses_images_that_miss_what_the_history_sees() -> None:
    """Constructed masks where union and agreement disagree (agreement is an option)."""
    h = w = 12
    box = np.zeros((h, w), np.bool_)
    box[1:11, 1:11] = True
    # History: three views; one flags R (rows and columns 3-5), two flag nothing; the third
    # covers columns 0-5 only. R's agreement is 1/3, below one half: no agreed blob yet.
    total = np.zeros((h, w))
    total[3:6, 3:6] = 1.0
    count = np.full((h, w), 3.0)
    count[:, 6:] = 2.0
    c = np.zeros((3, h, w))
    c[0, 3:6, 6:8] = 1.0  # E, beside R: the union grows to 15 px, E's agreement is only 1/3
    c[1, 3:6, 3:6] = 1.0  # R again: 2/4 agree, the agreed blob is R (9 px)
    c[2] = 0.0  # sees nothing: R would drop to 2/5
    cover = np.ones((3, h, w), np.bool_)
    accepted, objective, agreed = greedy_agreement((total, count), c, cover, box, 0.5)
    assert accepted.tolist() == [False, True, False]
    assert objective == 9 and agreed.sum() == 9 and agreed[3:6, 3:6].all()
    union_accepted, union_objective, _ = greedy_history(total > 0, c > 0, box)
    assert union_accepted.tolist() == [True, False, False] and union_objective == 15
    # Where no history view looks (columns 6+), one view that flags E and covers only there
    # decides E alone: E is agreed (6 px) and R, which it does not cover, stays at 1/3.
    empty = np.zeros((h, w))
    single = np.zeros((1, h, w))
    single[0, 3:6, 6:8] = 1.0
    side = np.zeros((1, h, w), np.bool_)
    side[0, :, 6:] = True
    accepted, objective, _ = greedy_agreement((total, np.where(count > 2, count, empty)), single,
                                              side, box, 0.5)  # fmt: skip
    assert accepted.tolist() == [True] and objective == 6


def test_agreement_option_keeps_a_false_alarm_beside_the_target_out_of_the_history() -> None:
    """Drones 0 and 2 flag the person's square; drone 1 flags a square beside it instead. The
    paper's union rule takes all three (each grows the union's blob, drone 2 by a few pixels of
    registration); agreement at 0.6 refuses drone 1 (the others' views of its square are
    empty) and drone 2 (the agreed square does not grow)."""
    import dataclasses

    from swarmsim.aperture.blobs import find_blobs

    positions, _ = _pso(3).start()
    person = _observation(positions, blob_at=(0.0, 2.0))
    beside = _observation(positions, blob_at=(1.6, 2.0))
    masks = person.masks.copy()
    masks[1] = beside.masks[1]
    integral = integrate(masks, person.poses, person.poses, camera=CAMERA).to_numpy()
    areas = np.array([max(find_blobs(integral.sum[k, ..., 0] > 0).area, default=0)
                      for k in range(3)])  # fmt: skip
    obs = dataclasses.replace(person, masks=masks, integral=integral, blob_areas=areas,
                              leader=int(np.argmax(areas)))  # fmt: skip
    union = _pso(3, threshold=1.0).plan(obs)
    agree = _pso(3, threshold=1.0, agreement=0.6).plan(obs)
    assert union.info["accepted"] == 3 and agree.info["accepted"] == 1
    assert agree.history == 1 and union.history == 3
    assert agree.detected and agree.objective < union.objective  # the person's square alone
    assert np.hypot(*(agree.estimate - [0.0, 2.0])) < np.hypot(*(union.estimate - [0.0, 2.0]))
