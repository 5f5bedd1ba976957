"""Benchmarks behind ``swarmsim bench``: each returns a dict of figures for BENCHMARKS.md."""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from apps.common import best_time
from swarmsim.scene import load_scene
from swarmsim.sensing.render import render
from swarmsim.world.world import build_world


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send output written to file descriptor 1 (also by C code, e.g. pybullet's import
    banner) to stderr meanwhile, so that printed JSON stays clean."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def paper_line_poses(n: int, *, spacing: float = 4.2, y: float = 0.0) -> np.ndarray:
    """Poses of n nadir cameras in a line along x at the AOS swarm's staggered altitudes."""
    x = (np.arange(n) - 0.5 * (n - 1)) * spacing
    # Lowest in the middle of the line, 1 m steps outward (35, 36, ... m).
    order = np.abs(np.arange(n) - 0.5 * (n - 1))
    altitude = 35.0 + np.argsort(np.argsort(order, kind="stable"), kind="stable")
    return np.column_stack([x, np.full(n, y), altitude, np.zeros(n), np.zeros(n)])


def bench_render(*, resolution: int = 512, repeat: int = 5, backend: str = "cpu") -> dict:
    """Rays per second of the default forest at ``resolution``², one view and a batch of 10,
    by the backend's default method and (on the cpu) by the grid tracer (``trace_*`` keys)."""
    scene = load_scene(overrides=[f"camera.resolution=[{resolution},{resolution}]"])
    start = time.perf_counter()
    world = build_world(scene)
    build_s = time.perf_counter() - start
    one = paper_line_poses(1)
    ten = paper_line_poses(10)
    rays = resolution * resolution
    figures = {
        "backend": backend,
        "resolution": resolution,
        "primitives": world.stats["primitives"],
        "nadir_occlusion_density": world.stats["nadir_occlusion_density"],
        "world_build_s": build_s,
    }
    methods = {"": "auto", "trace_": "trace"} if backend == "cpu" else {"": "auto"}
    for prefix, method in methods.items():
        render(world, ten, backend=backend, method=method)  # compile / warm caches
        t1 = best_time(partial(render, world, one, backend=backend, method=method), repeat)
        t10 = best_time(partial(render, world, ten, backend=backend, method=method),
                        max(1, repeat // 2))  # fmt: skip
        figures |= {
            f"{prefix}ms_per_view": 1e3 * t1,
            f"{prefix}mrays_per_s": rays / t1 / 1e6,
            f"{prefix}ms_per_batch10": 1e3 * t10,
            f"{prefix}mrays_per_s_batch10": 10 * rays / t10 / 1e6,
        }
    return figures


def bench_integrate(
    *,
    resolution: int = 512,
    views: int = 30,
    channels: int = 4,
    repeat: int = 20,
    backend: str = "cpu",
) -> dict:
    """Integration time of ``views`` random ``resolution``² x ``channels`` float32 images into
    one virtual view (and into ten), the AOS geometry: nadir cameras 35-44 m up on a grid
    2 m apart, focal plane on the ground, virtual camera at 35 m over the centre.
    """
    from swarmsim.aperture.integrate import FocalPlane, integrate
    from swarmsim.sensing.camera import Camera

    rng = np.random.default_rng(0)
    camera = Camera(width=resolution, height=resolution)
    images = rng.random((views, resolution, resolution, channels), dtype=np.float32)
    side = math.ceil(math.sqrt(views))
    index = np.arange(views)
    poses = np.column_stack([(index % side - 0.5 * (side - 1)) * 2.0,
                             (index // side - 0.5 * (side - 1)) * 2.0,
                             35.0 + index % 10])  # fmt: skip
    virtual = np.array([[0.0, 0.0, 35.0]])
    ten = np.column_stack([np.linspace(-9.0, 9.0, 10), np.zeros(10), np.full(10, 35.0)])
    yawed = np.column_stack([poses, rng.uniform(-math.pi, math.pi, views)])

    def run(virtual_poses, view_poses=poses, sampling="bilinear"):
        return integrate(images, view_poses, virtual_poses, camera=camera, focal=FocalPlane(),
                         backend=backend, sampling=sampling)  # fmt: skip

    run(virtual)  # compile / warm caches
    run(virtual, yawed)
    t1 = best_time(lambda: run(virtual), repeat)
    t_nearest = best_time(lambda: run(virtual, sampling="nearest"), repeat)
    t_yawed = best_time(lambda: run(virtual, yawed), max(1, repeat // 4))
    t10 = best_time(lambda: run(ten), max(1, repeat // 4))
    samples = views * resolution * resolution
    return {
        "backend": backend,
        "resolution": resolution,
        "views": views,
        "channels": channels,
        "ms_per_integral": 1e3 * t1,
        "msamples_per_s": samples / t1 / 1e6,
        "ms_per_integral_nearest": 1e3 * t_nearest,
        "ms_per_integral_yawed_views": 1e3 * t_yawed,
        "ms_per_10_virtual_views": 1e3 * t10,
        "goal_ms": 15.0,
    }


def bench_detect(
    *, resolution: int = 512, channels: int = 4, window: int = 31, repeat: int = 20
) -> dict:
    """Global and local RX on a ``resolution``² x ``channels`` float32 image, plus the quantile
    threshold and blob labelling of the result."""
    from swarmsim.aperture.blobs import find_blobs
    from swarmsim.aperture.detect import rx_global, rx_local, threshold

    rng = np.random.default_rng(0)
    image = rng.normal(size=(resolution, resolution, channels)).astype(np.float32)
    image[..., 1] += 0.5 * image[..., 0]
    guard = (window // 8) * 2 + 1  # 7 for the 31 px window
    scores = rx_global(image)
    rx_local(image, window=window)
    rx_local(image, window=window, guard=guard)
    mask = threshold(scores, quantile=0.99)
    find_blobs(mask)
    t_global = best_time(lambda: rx_global(image), repeat)
    t_local = best_time(lambda: rx_local(image, window=window), repeat)
    t_small = best_time(lambda: rx_local(image, window=7), repeat)
    t_guard = best_time(lambda: rx_local(image, window=window, guard=guard), repeat)
    t_threshold = best_time(lambda: threshold(scores), repeat)
    t_blobs = best_time(lambda: find_blobs(mask), repeat)
    return {
        "resolution": resolution,
        "channels": channels,
        "window": window,
        "ms_global_rx": 1e3 * t_global,
        "ms_local_rx": 1e3 * t_local,
        "ms_local_rx_window7": 1e3 * t_small,
        "guard": guard,
        "ms_local_rx_guard": 1e3 * t_guard,
        "ms_quantile_threshold": 1e3 * t_threshold,
        "ms_blobs_1pct_mask": 1e3 * t_blobs,
        "goal_ms_global_rx": 10.0,
        "goal_ms_local_rx": 15.0,
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
        "numpy": np.__version__,
        "openblas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
    }


def bench_mission(*, iterations: int = 16, warmup: int = 12, backend: str = "cpu") -> dict:
    """Simulated seconds per wall second of PSO missions: default scene and paper scene (512²).

    Kernels compile on first use, and the PSO's converge branch is first used only once the
    person is found, so ``warmup`` iterations of the default scene (which finds it within a few)
    run before anything is timed. Each world is built before the clock starts; its first
    iteration is excluded, then ``iterations`` iterations are timed (16: the paper scene's
    swarm scans towards the person and starts converging on it, about 4 s of flight).
    """
    from controllers.registry import make_mission
    from swarmsim.mission import Mission
    from swarmsim.scene import SCENES_DIR

    def mission_of(name: str) -> tuple[Any, Mission]:
        scene = load_scene(SCENES_DIR / f"{name}.toml")
        return scene, make_mission(scene, backend=backend)

    _, warm = mission_of("default")
    for _ in range(warmup):
        warm.step()
    figures: dict = {"backend": backend, "iterations": iterations, "warmup": warmup}
    for name in ("default", "paper_static"):
        scene, mission = mission_of(name)
        first = mission.step().record
        start = time.perf_counter()
        for _ in range(iterations):
            last = mission.step().record
        wall = time.perf_counter() - start
        figures[f"{name}_realtime_factor"] = (last.time - first.time) / wall
        figures[f"{name}_s_per_iteration"] = wall / iterations
        figures[f"{name}_drones"] = scene.swarm.drones
        figures[f"{name}_resolution"] = list(scene.camera.resolution)
    return figures | bench_reset()


def bench_reset(*, repeat: int = 5) -> dict:
    """What a restart costs next to building the world again (default scene).

    ``reset_s`` is `Mission.reset` whole (restart plus the first observation, which a rebuilt
    mission pays too); ``restart_s`` the restart alone.
    """
    from controllers.registry import make_mission
    from swarmsim.strategy import Plan

    scene = load_scene()
    start = time.perf_counter()
    world = build_world(scene)
    build = time.perf_counter() - start
    mission = make_mission(scene, world=world)
    mission.run(max_time=1.0)
    reset = best_time(lambda: mission.reset(seed=1), repeat)
    observe = math.inf
    for _ in range(repeat):
        obs = mission.reset(seed=1)
        mission.advance(Plan(waypoints=obs.positions), obs)
        start = time.perf_counter()
        mission.observe()
        observe = min(observe, time.perf_counter() - start)
    return {
        "default_world_build_s": build,
        "default_reset_s": reset,
        "default_observe_s": observe,
        "default_restart_s": max(reset - observe, 0.0),
        "default_reset_share_of_build": reset / build,
    }


def bench_env(*, steps: int = 200, num_envs: int = 8, backend: str = "cpu") -> dict:
    """Steps per second of SwarmSearch-v0 (its default scene: 10 drones, 64² cameras, 64² map)
    under uniformly random actions, resets included, after 20 warm-up steps: one environment,
    and ``num_envs`` through the native vector env (env-steps per second); and the share of
    the single environment's time each part takes (cProfile of a further quarter of the
    steps)."""
    import cProfile
    import pstats

    from swarmsim.envs.search import SwarmSearchEnv
    from swarmsim.envs.search_vector import SwarmSearchVectorEnv

    env = SwarmSearchEnv(backend=backend)
    rng = np.random.default_rng(0)
    env.reset(seed=0)

    def run(n: int) -> None:
        for _ in range(n):
            *_, terminated, truncated, _ = env.step(rng.uniform(-1.0, 1.0, (env.n, 2)))
            if terminated or truncated:
                env.reset()

    run(20)
    start = time.perf_counter()
    run(steps)
    wall = time.perf_counter() - start
    profile = cProfile.Profile()
    profile.enable()
    run(steps // 4)
    profile.disable()
    # The raw table behind Stats' reports; typeshed does not declare it.
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]

    def cumulative(name: str, file: str = "") -> float:
        return sum(s[3] for k, s in stats.items() if k[2] == name and k[0].endswith(file))

    steps_s = cumulative("step", "search.py") + cumulative("reset", "search.py")

    def share(name: str) -> float:
        return cumulative(name) / max(steps_s, 1e-9)

    vector = SwarmSearchVectorEnv(num_envs=num_envs, backend=backend)
    vector.reset(seed=0)
    batches = max(steps // num_envs, 4)
    for _ in range(3):
        vector.step(rng.uniform(-1.0, 1.0, vector.action_space.shape))
    start = time.perf_counter()
    for _ in range(batches):
        vector.step(rng.uniform(-1.0, 1.0, vector.action_space.shape))
    vector_wall = time.perf_counter() - start
    return {
        "backend": backend,
        "drones": env.n,
        "resolution": list(env.scene.camera.resolution),
        "steps": steps,
        "steps_per_s": steps / wall,
        "ms_per_step": 1e3 * wall / steps,
        "share_render": share("render"),
        "share_anomaly_masks": share("anomaly_masks"),
        "share_integrate": share("integrate"),
        "share_score_plan": share("score_plan"),
        "num_envs": num_envs,
        "vector_env_steps_per_s": batches * num_envs / vector_wall,
        "vector_speedup": (batches * num_envs / vector_wall) / (steps / wall),
        "goal_steps_per_s": 300.0,
        "goal_vector_env_steps_per_s": 600.0,
    }


def bench_dynamics(*, repeat: int = 5) -> dict:
    """Drone-steps per second of the numba quadrotor and pybullet, and their cross-check."""
    with stdout_to_stderr():
        from apps.bench_dynamics import bench_dynamics as measure  # pybullet only when asked

        return measure(repeat=repeat)


BENCHES: dict[str, Callable[..., dict]] = {
    "render": bench_render,
    "integrate": bench_integrate,
    "detect": bench_detect,
    "dynamics": bench_dynamics,
    "mission": bench_mission,
    "env": bench_env,
}


def publish(figures: dict, json_path: Path | None = None) -> dict:
    """Stamp figures with the date and the command line, print them as JSON and, when asked,
    write them atomically to ``json_path`` (what every script under benchmarks/ ends with)."""
    from apps.images import write_text

    figures = {
        **figures,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join([os.path.relpath(sys.executable), *sys.argv]),
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if json_path is not None:
        write_text(json_path, text + "\n")
    return figures


def run_bench(name: str, **kwargs) -> dict:
    """Run one named benchmark and attach the machine description."""
    figures = BENCHES[name](**kwargs)
    figures = {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v)
               for k, v in figures.items()}  # fmt: skip
    return {"bench": name, **figures, **machine()}
