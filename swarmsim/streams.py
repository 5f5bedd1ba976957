"""Named random streams of a run: every generator derives from the scene's seed and a stream id.

Each stream is ``numpy.random.default_rng(SeedSequence([seed, id, *key]))``: independent of the
others and of how much any other stream has drawn, so that adding noise somewhere does not move
every other figure of a seed. The ids are fixed here once (changing one changes every recorded
result of that stream).

Example:
    rng = stream(scene.run.seed, "noise")
"""

from __future__ import annotations

import numpy as np

__all__ = ["STREAMS", "seed_sequence", "stream"]

#: Stream name -> id (the second word of the seed sequence).
STREAMS: dict[str, int] = {
    "forest": 1,  # tree placement and shapes (unless forest.seed is given)
    "target-walk": 2,  # random-walk trajectories, one per target index
    "materials": 3,  # material and ground temperature variation
    "render-noise": 4,  # sensor noise of `swarmsim render` / `integrate`
    "view-jitter": 5,  # random view poses of `swarmsim integrate`
    "noise": 10,  # sensor noise of a mission's captures
    "strategy": 11,  # a strategy's own random steps
    "episode": 12,  # an episode's random choices (e.g. where a person is placed)
}


def seed_sequence(seed: int, name: str, *key: int) -> np.random.SeedSequence:
    """The seed sequence of stream ``name`` (see `STREAMS`) for ``seed`` and an optional key."""
    if name not in STREAMS:
        raise KeyError(f"unknown random stream {name!r}; known: {sorted(STREAMS)}")
    return np.random.SeedSequence([int(seed), STREAMS[name], *(int(k) for k in key)])


def stream(seed: int, name: str, *key: int) -> np.random.Generator:
    """A generator of stream ``name`` for ``seed`` (and ``key``, e.g. a target index)."""
    return np.random.default_rng(seed_sequence(seed, name, *key))
