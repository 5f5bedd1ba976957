"""Strategy names used in scene files (``[strategy] name``) -> factories.

A factory takes the validated scene, a random generator and the compute backend and returns a
`swarmsim.strategy.Strategy`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from controllers.baselines import BruteForce, ParallelSampling
from controllers.pso import PSO, PSOParams, threshold_pixels
from swarmsim.strategy import Strategy

__all__ = ["STRATEGIES", "make_strategy", "register"]

Factory = Callable[[Any, np.random.Generator, str], Strategy]


def _threshold(scene: Any) -> float:
    width, height = scene.camera.resolution
    s = scene.strategy
    return threshold_pixels(s.threshold, s.reference_area, width, height)


def _pso(scene: Any, rng: np.random.Generator, backend: str) -> Strategy:
    s = scene.strategy
    params = PSOParams(
        c1=s.c1, c2=s.c2, c3=s.c3, c4=s.c4, c5=s.c5, threshold=_threshold(scene),
        fixed_leader=s.fixed_leader, projection_slots=s.projection_slots,
        hard_separation=s.hard_separation, history_reset=s.history_reset, tracking=s.tracking,
        separation_steps=s.separation_steps, separation_dt=s.separation_dt,
        agreement=s.agreement,
    )  # fmt: skip
    w = scene.swarm
    return PSO(n=w.drones, params=params, start=w.start, heading=math.radians(w.heading),
               altitude=w.altitude, altitude_step=w.altitude_step, rng=rng,
               backend=backend)  # fmt: skip


def _brute_force(scene: Any, rng: np.random.Generator, backend: str) -> Strategy:
    s, w = scene.strategy, scene.swarm
    return BruteForce(start=w.start, heading=math.radians(w.heading), sweep=s.sweep,
                      lane=s.lane_spacing, spacing=s.capture_spacing, altitude=w.altitude,
                      threshold=_threshold(scene), backend=backend)  # fmt: skip


def _parallel(scene: Any, rng: np.random.Generator, backend: str) -> Strategy:
    s, w = scene.strategy, scene.swarm
    return ParallelSampling(n=w.drones, start=w.start, heading=math.radians(w.heading),
                            length=s.sweep[1], c4=s.c4, spacing=s.capture_spacing,
                            altitude=w.altitude, altitude_step=w.altitude_step,
                            threshold=_threshold(scene), backend=backend)  # fmt: skip


STRATEGIES: dict[str, Factory] = {
    "pso": _pso,
    "brute-force": _brute_force,
    "parallel": _parallel,
}


def register(name: str, factory: Factory) -> None:
    """Add (or replace) a strategy factory under ``name``."""
    STRATEGIES[name] = factory


def make_strategy(
    scene: Any, *, rng: np.random.Generator | None = None, backend: str = "cpu"
) -> Strategy:
    """The scene's strategy (``[strategy] name``); rng defaults to one from the scene's seed."""
    name = scene.strategy.name
    if name not in STRATEGIES:
        raise ValueError(f"strategy.name: unknown strategy {name!r}; known: {sorted(STRATEGIES)}")
    rng = np.random.default_rng([scene.run.seed, 11]) if rng is None else rng
    return STRATEGIES[name](scene, rng, backend)
