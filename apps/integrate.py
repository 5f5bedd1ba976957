"""``swarmsim integrate``: capture views around the target, integrate, detect, report."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from apps.common import UsageError, add_scene_args, finite, load_scene_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``integrate`` subcommand."""
    p = sub.add_parser("integrate", help="integrate views around the target, detect it, report")
    add_scene_args(p)
    p.add_argument("--views", choices=("grid", "line", "random"), default="grid",
                   help="view pattern around the target (default grid)")  # fmt: skip
    p.add_argument("--count", type=int, default=16, help="number of views (default 16)")
    p.add_argument("--spacing", type=float, default=4.0,
                   help="distance between neighbouring views in metres (default 4)")  # fmt: skip
    p.add_argument("--altitude", type=float, default=35.0, help="camera altitude in metres")
    p.add_argument("--focal-height", type=float, default=0.0,
                   help="height of the focal plane in metres (default 0: the ground)")  # fmt: skip
    p.add_argument("--channels", choices=("all", "thermal"), default="all",
                   help="RX on RGB + thermal (all) or thermal only")  # fmt: skip
    p.add_argument("--time", type=float, default=0.0, help="simulation time in seconds")
    p.add_argument("--out", type=Path, default=Path("out/integrate"),
                   help="output folder (default out/integrate)")  # fmt: skip
    p.set_defaults(func=cmd_integrate)


def cmd_integrate(args: argparse.Namespace) -> int:
    """Capture views around the target, integrate them, detect and write images and a report."""
    from apps.images import colorize, robust_range, write_png, write_text
    from swarmsim.aperture.experiment import run, view_poses
    from swarmsim.aperture.integrate import FocalPlane
    from swarmsim.streams import stream
    from swarmsim.world.world import build_world

    if args.count < 1:
        raise UsageError(f"--count: expected at least 1 view, got {args.count}")
    finite(args.spacing, "--spacing", "metres > 0", positive=True)
    finite(args.altitude, "--altitude", "metres > 0", positive=True)
    finite(args.focal_height, "--focal-height", "metres")
    finite(args.time, "--time", "seconds")
    if args.focal_height >= args.altitude:
        raise UsageError(f"--focal-height: expected below --altitude {args.altitude:g} m, "
                         f"got {args.focal_height:g}")  # fmt: skip
    scene = load_scene_args(args)
    world = build_world(scene)
    centre = world.targets[0].position(args.time) if world.targets else np.zeros(2)
    rng = stream(scene.run.seed, "view-jitter")
    poses = view_poses(args.views, args.count, spacing=args.spacing, centre=tuple(centre),
                       altitude=args.altitude, rng=rng)  # fmt: skip
    pitch = math.radians(scene.camera.pitch)
    poses[:, 4] = pitch
    virtual = (float(centre[0]), float(centre[1]), args.altitude, 0.0, pitch)
    result = run(world, poses, virtual, focal=FocalPlane(height=args.focal_height), t=args.time,
                 rng=stream(scene.run.seed, "render-noise"), backend=scene.run.backend,
                 channels=args.channels)  # fmt: skip

    nearest = int(np.argmin(np.hypot(*(poses[:, :2] - centre).T)))
    single = result.frames.thermal[nearest]
    integral = result.integral.image[0, ..., 0]
    valid = result.integral.valid[0]
    low, high = robust_range(integral[valid]) if valid.any() else (0.0, 1.0)
    shown = colorize(np.where(valid, integral, low), low, high)
    shown[~valid] = 0  # pixels no view covers: black, never NaN
    gray = np.repeat(np.clip((np.where(valid, integral, low) - low) / (high - low), 0, 1)[..., None]
                     * 160, 3, axis=-1).astype(np.uint8)  # fmt: skip
    gray[~valid] = 0
    gray[result.detection] = (255, 40, 40)
    if result.footprint is not None:
        edge = result.footprint.mask & ~_eroded(result.footprint.mask)
        gray[edge] = (40, 255, 40)

    out = args.out
    write_png(out / "single.png", colorize(single, *robust_range(single)))
    write_png(out / "integral.png", shown)
    write_png(out / "anomaly.png", gray)
    report = {"scene": scene.source, "seed": scene.run.seed, "view_pattern": args.views,
              "spacing_m": args.spacing, "single_view": nearest, **result.report}  # fmt: skip
    write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    keys = ("optical_visibility", "detection_coverage", "detection_error_m", "false_alarm_m2")
    figures = ", ".join(
        f"{key} {report[key]:.3g}" if isinstance(report.get(key), float) else f"{key} n/a"
        for key in keys
    )
    print(f"integrated {len(poses)} views ({args.views}) -> {out}: {figures}")
    return 0


def _eroded(mask: np.ndarray) -> np.ndarray:
    """Mask pixels whose four neighbours are all in the mask (outline = mask minus this)."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return inner
