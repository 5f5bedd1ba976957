"""Benchmarks behind ``swarmsim bench``: each returns a dict of figures for BENCHMARKS.md."""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable

import numpy as np

from swarmsim.scene import load_scene
from swarmsim.sensing.render import render
from swarmsim.world.world import build_world


def paper_line_poses(n: int, *, spacing: float = 4.2, y: float = 0.0) -> np.ndarray:
    """Poses of n nadir cameras in a line along x at the AOS swarm's staggered altitudes."""
    x = (np.arange(n) - 0.5 * (n - 1)) * spacing
    # Lowest in the middle of the line, 1 m steps outward (35, 36, ... m).
    order = np.abs(np.arange(n) - 0.5 * (n - 1))
    altitude = 35.0 + np.argsort(np.argsort(order, kind="stable"), kind="stable")
    return np.column_stack([x, np.full(n, y), altitude, np.zeros(n), np.zeros(n)])


def _best_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_render(*, resolution: int = 512, repeat: int = 5, backend: str = "cpu") -> dict:
    """Rays per second of the default forest at ``resolution``², one view and a batch of 10."""
    scene = load_scene(overrides=[f"camera.resolution=[{resolution},{resolution}]"])
    start = time.perf_counter()
    world = build_world(scene)
    build_s = time.perf_counter() - start
    one = paper_line_poses(1)
    ten = paper_line_poses(10)
    render(world, one, backend=backend)  # compile / warm caches
    t1 = _best_time(lambda: render(world, one, backend=backend), repeat)
    t10 = _best_time(lambda: render(world, ten, backend=backend), max(1, repeat // 2))
    rays = resolution * resolution
    return {
        "backend": backend,
        "resolution": resolution,
        "primitives": world.stats["primitives"],
        "nadir_occlusion_density": world.stats["nadir_occlusion_density"],
        "world_build_s": build_s,
        "ms_per_view": 1e3 * t1,
        "mrays_per_s": rays / t1 / 1e6,
        "ms_per_batch10": 1e3 * t10,
        "mrays_per_s_batch10": 10 * rays / t10 / 1e6,
    }


def machine() -> dict:
    """Where a benchmark ran."""
    import numba

    return {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "python": platform.python_version(),
        "numba": numba.__version__,
    }


BENCHES: dict[str, Callable[..., dict]] = {"render": bench_render}


def run_bench(name: str, **kwargs) -> dict:
    """Run one named benchmark and attach the machine description."""
    figures = BENCHES[name](**kwargs)
    figures = {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v)
               for k, v in figures.items()}  # fmt: skip
    return {"bench": name, **figures, **machine()}
