"""Synthetic-aperture figures: integration of 30 views of 512² x 4 channels, global and local RX.

Integration runs in the AOS geometry (nadir cameras 35-44 m up on a 2 m grid, one virtual view
over the centre, focal plane on the ground) and, for the general path, with every view at a
random yaw. Each figure is the best of ``--repeat`` runs after a warm-up (the machine is shared).

Usage::

    .venv/bin/python benchmarks/aperture.py --json out/aperture_bench.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from apps.bench import publish, run_bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=512, help="image side in pixels")
    parser.add_argument("--views", type=int, default=30, help="views to integrate")
    parser.add_argument("--channels", type=int, default=4, help="channels per image")
    parser.add_argument("--window", type=int, default=31, help="local RX window in pixels")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per figure (best)")
    parser.add_argument("--backend", choices=("cpu", "cuda", "auto"), default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    integration = run_bench(
        "integrate",
        resolution=args.resolution,
        views=args.views,
        channels=args.channels,
        repeat=args.repeat,
        backend=args.backend,
    )
    detection = run_bench(
        "detect",
        resolution=args.resolution,
        channels=args.channels,
        window=args.window,
        repeat=args.repeat,
    )
    publish({"integrate": integration, "detect": detection}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
