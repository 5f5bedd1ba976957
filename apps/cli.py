"""The ``swarmsim`` console script.

User errors (bad scene files, arguments, backends) print one line to stderr and exit with
status 2; nothing in the library prints or exits.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from apps.common import EXIT_USAGE, Parser, UsageError, add_scene_args, load_scene_args
from apps.integrate import add_parser as add_integrate_parser
from apps.lti import add_parser as add_lti_parser
from apps.run import add_parser as add_run_parser

BENCH_NAMES = ("render", "integrate", "detect", "dynamics", "mission", "env")


def parse_pose(text: str) -> tuple[float, float, float, float]:
    """``X,Y,Z[,YAW]`` (metres, yaw in degrees) to (x, y, z, yaw radians)."""
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (3, 4) or not all(math.isfinite(v) for v in values):
        raise UsageError(f"--pose: expected X,Y,Z[,YAW] as finite numbers, got {text!r}")
    x, y, z = values[:3]
    yaw = math.radians(values[3]) if len(values) == 4 else 0.0
    return (x, y, z, yaw)


def cmd_render(args: argparse.Namespace) -> int:
    """Render one camera of a scene and write the frame arrays (and optionally a PNG)."""
    from apps.images import colorize, robust_range, side_by_side, write_npz, write_png
    from swarmsim.sensing.render import render
    from swarmsim.streams import stream
    from swarmsim.world.world import build_world

    pose = parse_pose(args.pose)
    if not math.isfinite(args.time):
        raise UsageError(f"--time: expected a finite number of seconds, got {args.time!r}")
    scene = load_scene_args(args)
    world = build_world(scene)
    rng = stream(scene.run.seed, "render-noise")
    frames = render(world, pose, args.time, backend=scene.run.backend, rng=rng)
    arrays = frames.arrays(0)
    if args.out:
        write_npz(args.out, **arrays)
    if args.png:
        low, high = robust_range(arrays["thermal"])
        write_png(args.png, side_by_side(colorize(arrays["thermal"], low, high), arrays["rgb"]))
    visible = int(arrays["target_mask"].sum())
    print(
        f"rendered {world.camera.width}x{world.camera.height} at {args.pose} t={args.time:g}s: "
        f"target pixels {visible}, thermal {np.nanmin(arrays['thermal']):.1f}.."
        f"{np.nanmax(arrays['thermal']):.1f} degC"
        + (f" -> {args.out}" if args.out else "")
        + (f", {args.png}" if args.png else "")
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run a named benchmark and print its figures."""
    from apps.bench import run_bench

    kwargs = {}
    if args.what == "render":
        kwargs = {"resolution": args.resolution, "backend": args.backend or "cpu"}
    elif args.what == "integrate":
        kwargs = {"resolution": args.resolution, "backend": args.backend or "cpu"}
    elif args.what == "detect":
        kwargs = {"resolution": args.resolution}
    elif args.what == "dynamics":
        kwargs = {"repeat": 3}
    elif args.what in ("mission", "env"):
        kwargs = {"backend": args.backend or "cpu"}
    figures = run_bench(args.what, **kwargs)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="swarmsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("render", help="render one camera view of a scene")
    add_scene_args(p)
    p.add_argument("--pose", required=True, help="camera pose X,Y,Z[,YAW] (m, degrees)")
    p.add_argument("--time", type=float, default=0.0, help="simulation time in seconds")
    p.add_argument("--out", type=Path, default=None, help="write arrays to this .npz")
    p.add_argument("--png", type=Path, default=None, help="write thermal | RGB to this PNG")
    p.set_defaults(func=cmd_render)

    add_integrate_parser(sub)
    add_run_parser(sub)
    add_lti_parser(sub)

    p = sub.add_parser("bench", help="print benchmark figures (see BENCHMARKS.md)")
    p.add_argument("what", nargs="?", default="render", choices=BENCH_NAMES)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--resolution", type=int, default=512, help="image size")
    p.add_argument("--backend", choices=("cpu", "cuda", "auto"), default=None)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    from swarmsim.errors import SwarmsimError

    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except (UsageError, SwarmsimError) as exc:
        print(f"swarmsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
