"""Calibrate the PSO threshold T: the objective false alarms reach with no target in view.

The paper's code compares the PSO objective (largest blob of the greedy history of integrated
anomaly masks, in pixels) with T = 220 px, calibrated as the blob size false alarms produce when
no target is in view (shared/reference/aos-swarm.md §2). Our renderer's false alarms differ from
the paper's WebGL ones, so T must be re-measured. For each seed (a different forest and sensor
noise) this flies the scene's PSO mission with its ``[[targets]]`` removed and T set out of reach,
so the swarm scans in line formation the whole time, and records every iteration's objective
and the largest integrated blob over the drones' viewpoints. With ``--with-target`` the same
scan is flown with the target kept, to compare the false-alarm level with the person's signal;
with ``--pso`` the scene's own T is kept, so the swarm converges on false alarms as in a mission
(the level the objective reaches when views pile up on them).

The quantile rule flags pixels in every image, so false alarms always exist; ``mission.min_score``
adds a floor on the RX score. Its calibration comes first: ``--views`` random nadir views per
seed of the target-free forest (inside the area, at the swarm's altitudes) give the largest
background RX score of each image; the proposed floor is ``--margin`` times the largest of them.
The target's own scores in views that see it are reported next to it for comparison, and so is
the unoccluded target's pixel count at 512² seen from h1 (``strategy.reference_area``).

It prints JSON: per configuration the distributions (quantiles, max) and the proposed T as the
maximum (``--propose max``) or a quantile of the target-free objective, in pixels and in the
scene's units (% of ``strategy.reference_area``, scaled to 512²).

Usage::

    .venv/bin/python benchmarks/calibrate_threshold.py                    # default scene, 128²
    .venv/bin/python benchmarks/calibrate_threshold.py --set mission.channels=thermal --with-target
    .venv/bin/python benchmarks/calibrate_threshold.py scenes/paper_static.toml --iterations 8
    .venv/bin/python benchmarks/calibrate_threshold.py --views 40 --iterations 0  # floor only
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from typing import Any

import numpy as np

from controllers.pso import REFERENCE_PIXELS
from controllers.registry import make_mission
from swarmsim.aperture.detect import rx
from swarmsim.aperture.experiment import detection_stack
from swarmsim.aperture.metrics import target_footprint
from swarmsim.backend import resolve_backend
from swarmsim.scene import load_scene
from swarmsim.sensing.render import render
from swarmsim.world.world import build_world

QUANTILES = (0.5, 0.9, 0.95, 0.99)
OUT_OF_REACH = 1e9  # % of the reference area: the swarm never converges


def _stats(values: list[float]) -> dict[str, Any]:
    a = np.asarray(values, np.float64)
    if a.size == 0:
        return {"n": 0}
    out: dict[str, Any] = {"n": int(a.size), "mean": float(a.mean()), "min": float(a.min()),
                           "max": float(a.max())}  # fmt: skip
    for q in QUANTILES:
        out[f"q{round(100 * q)}"] = float(np.quantile(a, q))
    return out


def rx_scores(scene: Any, views: int, backend: str) -> dict[str, list[float]]:
    """Largest RX score of the background in each of ``views`` random nadir views, and of the
    target in those that see it (the scene's channels; views spread over the swarm's
    altitudes and, for the target, within 12 m of it)."""
    world = build_world(scene)
    rng = np.random.default_rng([scene.run.seed, 77])
    swarm = scene.swarm
    half = np.asarray(scene.forest.area, np.float64) / 2.0 - 5.0
    poses = np.zeros((views, 5))
    poses[:, :2] = rng.uniform(-half, half, (views, 2))
    if world.targets:  # the target's scores need views that see it
        poses[:, :2] = np.asarray(world.targets[0].position(0.0))[:2] + rng.uniform(
            -12, 12, (views, 2)
        )
    poses[:, 2] = swarm.altitude + swarm.altitude_step * rng.integers(0, swarm.drones, views)
    frames = render(world, poses, 0.0, backend=backend, rng=rng).to_numpy()
    stack = detection_stack(frames, scene.mission.channels)
    background, target = [], []
    for k in range(views):
        scores = rx(stack[k])
        on_target = frames.label[k] == 3
        background.append(float(scores[~on_target].max()))
        if on_target.any():
            target.append(float(scores[on_target].max()))
    return {"background": background, "target": target}


def reference_area(scene: Any) -> int:
    """Pixels of target 0, unoccluded, seen from h1 straight above in a 512² image (the scale
    ``strategy.reference_area`` and T are given in)."""
    scene = scene.with_overrides("camera.resolution=[512, 512]")
    world = build_world(scene)
    x, y = np.asarray(world.targets[0].position(0.0))[:2]
    pose = np.array([x, y, scene.swarm.altitude, 0.0, 0.0])
    return target_footprint(world, pose, t=0.0, target=0).pixels


def fly(scene: Any, iterations: int, backend: str, *, scan: bool = True) -> dict[str, list[float]]:
    """PSO mission: per-iteration objective and largest integrated blob (pixels).

    ``scan``: T out of reach, so the swarm only scans (the paper's "no target in view"); else
    the scene's T, so the swarm converges on whatever wins the objective (false alarms here).
    """
    overrides = [f"mission.max_iterations={iterations}", "mission.max_time=1000"]
    if scan:
        overrides.append(f"strategy.threshold={OUT_OF_REACH}")
    mission = make_mission(scene.with_overrides(*overrides), backend=backend)
    blobs: list[float] = []
    while not mission.done:
        obs = mission.observe()
        blobs.append(float(np.max(obs.blob_areas)))  # what the swarm saw before planning
        mission.advance(mission.strategy.plan(obs), obs)
    objective = [r.objective for r in mission.records]
    visibility = [r.visibility for r in mission.records]
    return {"objective": objective, "blob": blobs, "visibility": visibility}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene", nargs="?", default=None, help="scene file (default: embedded)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="scene override (repeatable)")  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3],
                        help="run.seed values (forests and sensor noise)")  # fmt: skip
    parser.add_argument("--iterations", type=int, default=40, help="scan iterations per seed")
    parser.add_argument("--with-target", action="store_true",
                        help="also fly the same scan with the scene's target kept")  # fmt: skip
    parser.add_argument("--propose", default="max",
                        help="'max' or a quantile of the target-free objective")  # fmt: skip
    parser.add_argument("--pso", action="store_true",
                        help="keep the scene's T (swarm converges on false alarms) instead of "
                             "scan-only flights")  # fmt: skip
    parser.add_argument("--views", type=int, default=0,
                        help="random views per seed for the RX score floor (0: skip)")  # fmt: skip
    parser.add_argument("--margin", type=float, default=2.0,
                        help="proposed min_score = margin x largest background score")  # fmt: skip
    parser.add_argument("--backend", default=None, help="backend (default: the scene's)")
    args = parser.parse_args(argv)

    base = load_scene(args.scene, args.set)
    backend = resolve_backend(args.backend or base.run.backend)
    width, height = base.camera.resolution
    modes = ["no-target"] + (["with-target"] if args.with_target and base.targets else [])
    report: dict[str, Any] = {
        "scene": base.source,
        "overrides": args.set,
        "resolution": [width, height],
        "channels": base.mission.channels,
        "quantile": base.mission.quantile,
        "min_score": base.mission.min_score,
        "seeds": args.seeds,
        "iterations": args.iterations,
        "flight": "pso (scene T)" if args.pso else "scan only (T out of reach)",
        "backend": backend,
    }
    start = time.perf_counter()
    if args.views:
        scores: dict[str, list[float]] = {"background": [], "target": []}
        for seed in args.seeds:
            scene = base.with_overrides(f"run.seed={seed}")
            scores["background"] += rx_scores(dataclasses.replace(scene, targets=()),
                                              args.views, backend)["background"]  # fmt: skip
            if base.targets:
                scores["target"] += rx_scores(scene, args.views, backend)["target"]
        floor = args.margin * max(scores["background"])
        report["rx_score"] = {
            "background_max_per_image": _stats(scores["background"]),
            "target_max_per_seeing_image": _stats(scores["target"]),
            "proposed_min_score": float(math.ceil(floor / 10) * 10),
        }
        if base.targets:
            report["rx_score"]["reference_area_px"] = reference_area(base)
        sys.stderr.write(f"rx scores: {report['rx_score']}\n")
    if args.iterations <= 0:
        report["wall_time_s"] = time.perf_counter() - start
        print(json.dumps(report, indent=1))
        return 0
    free_objective: list[float] = []
    for mode in modes:
        pooled: dict[str, list[float]] = {"objective": [], "blob": [], "visibility": []}
        per_seed = []
        for seed in args.seeds:
            scene = base.with_overrides(f"run.seed={seed}")
            if mode == "no-target":
                scene = dataclasses.replace(scene, targets=())
            data = fly(scene, args.iterations, backend, scan=not args.pso)
            for k in pooled:
                pooled[k] += data[k]
            vis = [v for v in data["visibility"] if np.isfinite(v)]
            per_seed.append({
                "seed": seed,
                "max_objective": max(data["objective"], default=0.0),
                "max_blob": max(data["blob"], default=0.0),
                "max_visibility": max(vis) if vis else None,
            })  # fmt: skip
            sys.stderr.write(f"{mode} seed {seed}: {per_seed[-1]}\n")
        if mode == "no-target":
            free_objective = pooled["objective"]
        report[mode] = {
            "objective_px": _stats(pooled["objective"]),
            "largest_blob_px": _stats(pooled["blob"]),
            "per_seed": per_seed,
        }
    if args.propose == "max":
        level = float(max(free_objective, default=0.0))
    else:
        level = float(np.quantile(free_objective, float(args.propose)))
    # The PSO converges when objective >= T: the smallest whole-pixel T above the level.
    proposed = math.floor(level) + 1.0
    scale = REFERENCE_PIXELS / (width * height)
    reference = base.strategy.reference_area
    report["current_T_px"] = base.strategy.threshold / 100 * reference / scale
    report["false_alarm_level_px"] = level
    report["proposed_T_px"] = proposed
    report["proposed_threshold_percent"] = 100 * proposed * scale / reference
    report["wall_time_s"] = time.perf_counter() - start
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
