"""``swarmsim run``: fly a search mission of a scene and write its summary, trace and figures."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from apps.common import UsageError, add_scene_args, load_scene_args
from apps.progress import Progress

if TYPE_CHECKING:
    from swarmsim.mission import IterationRecord, MissionResult
    from swarmsim.scene import Scene
    from swarmsim.world.world import World


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``run`` subcommand."""
    p = sub.add_parser("run", help="fly a search mission and write summary, trace and figures")
    add_scene_args(p)
    p.add_argument("--out", type=Path, default=Path("out/run"),
                   help="output folder (default out/run)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    p.set_defaults(func=cmd_run)


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fields(record: IterationRecord) -> dict[str, str]:
    """What the progress of a mission shows beside the time."""

    def share(x: float) -> str:
        return "—" if math.isnan(x) else f"{100 * x:.1f}%"

    return {
        "it": str(record.iteration + 1),
        "mode": record.mode or "-",
        "objective": f"{record.objective:.1f}",
        "visibility": share(record.visibility),
        "detection": share(record.detection),
    }


def write_outputs(
    out: Path, result: MissionResult, world: World, scene: Scene, backend: str
) -> None:
    """summary.json, trace.csv, integral.png, map.png and visibility.png under ``out``."""
    from apps.images import write_text
    from swarmsim.mission import TRACE_COLUMNS, trace_rows

    summary = {k: _json_ready(v) for k, v in result.summary.items()}
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    n = len(result.records[0].positions) if result.records else 0
    drones = [f"{a}{i}" for i in range(n) for a in ("x", "y", "z")]
    writer.writerow([*TRACE_COLUMNS, *drones])
    for row in trace_rows(result.records):
        writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
    write_text(out / "trace.csv", buffer.getvalue())
    if result.records:
        _integral_png(out / "integral.png", result, world, scene, backend)
        _map_png(out / "map.png", result, world)
        _visibility_png(out / "visibility.png", result)


def _integral_png(
    path: Path, result: MissionResult, world: World, scene: Scene, backend: str
) -> None:
    """Thermal integral of the best result's views seen from its view, with the detection box."""
    from apps.images import colorize, robust_range, write_png
    from swarmsim.aperture.integrate import integrate
    from swarmsim.sensing.render import render

    best = result.best
    camera = world.camera
    if best is None or best.view_pose is None or best.views is None or not len(best.views):
        write_png(path, np.zeros((camera.height, camera.width, 3), np.uint8))
        return
    # Noise-free re-render of the views the result integrates (the loop keeps masks only).
    frames = render(world, best.views, result.best_time, backend=backend).to_numpy()
    total = integrate(frames.thermal, best.views, best.view_pose, camera=camera,
                      backend=backend).to_numpy()  # fmt: skip
    image, valid = total.image[0, ..., 0], total.valid[0]
    low, high = robust_range(image[valid]) if valid.any() else (0.0, 1.0)
    rgb = colorize(np.where(valid, image, low), low, high)
    rgb[~valid] = 0
    if best.detection is not None and best.detection.any():
        rows, cols = np.nonzero(best.detection)
        r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
        rgb[[r0, r1], c0 : c1 + 1] = (40, 255, 40)
        rgb[r0 : r1 + 1, [c0, c1]] = (40, 255, 40)
    write_png(path, rgb)


def _figure_png(path: Path, fig: Any) -> None:
    from apps.images import write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    write_bytes(path, buffer.getvalue())


def _map_png(path: Path, result: MissionResult, world: World) -> None:
    """Top-down canopy map with drone trajectories, target path and position estimates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = result.records
    fig, ax = plt.subplots(figsize=(6, 6))
    prims = world.primitives
    if len(prims):
        bounds = prims.bounds()
        centre = 0.5 * (bounds[:, 0] + bounds[:, 1])
        ax.scatter(centre[:, 0], centre[:, 1], s=1, c="0.75", lw=0, label="canopy")
    tracks = np.stack([r.positions for r in records])  # (iterations, n, 3)
    for i in range(tracks.shape[1]):
        ax.plot(tracks[:, i, 0], tracks[:, i, 1], lw=0.8)
    targets = np.stack([r.target for r in records])
    if np.isfinite(targets).all():
        ax.plot(targets[:, 0], targets[:, 1], "k-", lw=2, label="target")
        ax.plot(*targets[-1], "k*", ms=12)
    hits = np.array([r.estimate for r in records if r.detected])
    if len(hits):
        ax.plot(hits[:, 0], hits[:, 1], "rx", ms=5, label="detections")
    ax.set_aspect("equal")
    w, h = world.area
    ax.set_xlim(-w / 2, w / 2)
    ax.set_ylim(-h / 2, h / 2)
    ax.set_xlabel("x east [m]")
    ax.set_ylabel("y north [m]")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    _figure_png(path, fig)
    plt.close(fig)


def _visibility_png(path: Path, result: MissionResult) -> None:
    """Objective, visibility and detection coverage over simulated time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = result.records
    t = [r.time for r in records]
    fig, (a, b) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    a.plot(t, [r.objective for r in records], "k-")
    a.set_ylabel("objective [px]")
    b.plot(t, [100 * r.visibility for r in records], label="optical visibility")
    b.plot(t, [100 * r.detection for r in records], label="detection coverage")
    b.plot(t, [100 * r.integral_visibility for r in records], label="integral visibility")
    b.set_ylabel("%")
    b.set_xlabel("simulated time [s]")
    b.set_ylim(0, 100)
    b.legend(fontsize=8)
    fig.tight_layout()
    _figure_png(path, fig)
    plt.close(fig)


def cmd_run(args: argparse.Namespace) -> int:
    """Fly the scene's mission; Ctrl-C stops it and still writes a valid partial summary."""
    from controllers.registry import make_mission, resolve_strategy, strategy_params

    scene = load_scene_args(args)
    if not scene.targets:
        raise UsageError(f"{scene.source}: the mission needs at least one [[targets]] table")
    strategy_params(scene, resolve_strategy(scene))  # a bad [strategy] fails before the forest
    start = time.perf_counter()
    mission = make_mission(scene)
    world, backend = mission.world, mission.backend
    bar = None if args.quiet else Progress(scene.mission.max_time, desc="run", unit="s")
    progress = None if bar is None else (lambda r: bar.update(r.time + r.flight, **_fields(r)))
    result = mission.run(progress=progress)
    result.summary["wall_time_s"] = time.perf_counter() - start
    if bar is not None:
        bar.close()
    write_outputs(args.out, result, world, scene, backend)
    s = result.summary
    vis = s["max_visibility"]
    print(
        f"{s['strategy']}: {s['iterations']} iterations, {s['sim_time_s']:.1f} s simulated in "
        f"{s['wall_time_s']:.1f} s; max visibility "
        + ("—" if vis is None else f"{100 * vis:.1f}% at {s['time_to_max_visibility_s']:.1f} s")
        + f"; detected: {s['detected']}"
        + (" (interrupted)" if result.interrupted else "")
        + f" -> {args.out}"
    )
    return 130 if result.interrupted else 0
