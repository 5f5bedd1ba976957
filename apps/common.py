"""Pieces shared by the command-line subcommands: the parser, errors, scene arguments, timing."""

from __future__ import annotations

import argparse
import math
import re
import time
from collections.abc import Callable
from typing import NoReturn

#: Exit status of every usage error (bad arguments, scene files, inputs).
EXIT_USAGE = 2


class UsageError(Exception):
    """A command-line argument that cannot be used; reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    # argparse takes "-20,-20,35" for an option because only single numbers count as negative
    # values; coordinates lists are values too (no option of ours starts with a digit).
    _NEGATIVE = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(,[-+]?[\d.eE+-]*)*$")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = self._NEGATIVE

    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message}")


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` calls in seconds (the machine may be shared)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def finite(value: float, flag: str, what: str, *, positive: bool = False) -> float:
    """``value`` if finite (and > 0 when ``positive``), else a UsageError naming ``flag``."""
    if not math.isfinite(value) or (positive and value <= 0.0):
        raise UsageError(f"{flag}: expected {what}, got {value!r}")
    return value


def add_scene_args(p: argparse.ArgumentParser) -> None:
    """Positional SCENE plus --set, --seed and --backend."""
    p.add_argument("scene", nargs="?", default=None,
                   help="scene TOML (default: scenes/default.toml)")  # fmt: skip
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scene key, e.g. forest.density=400 (repeatable)")  # fmt: skip
    p.add_argument("--seed", type=int, default=None, help="override run.seed")
    p.add_argument("--backend", choices=("cpu", "cuda", "auto"), default=None,
                   help="override run.backend")  # fmt: skip


def load_scene_args(args: argparse.Namespace):
    """The scene named by the arguments, with their overrides applied."""
    from swarmsim.scene import load_scene

    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"run.seed={args.seed}")
    if args.backend is not None:
        overrides.append(f'run.backend="{args.backend}"')
    return load_scene(args.scene, overrides=overrides)
