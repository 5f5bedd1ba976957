"""Gymnasium environments over the mission engine: the agent is the swarm strategy.

Registered on ``import swarmsim`` (entry points as strings, so nothing here is imported until
``gymnasium.make``)::

    import gymnasium as gym
    import swarmsim  # registers swarmsim/SwarmSearch-v0

    env = gym.make("swarmsim/SwarmSearch-v0")
    obs, info = env.reset(seed=0)

See docs/envs.md.
"""

from __future__ import annotations

__all__ = ["ENV_IDS", "register_envs"]

#: Environment id -> (entry point, vector entry point or None).
ENV_IDS = {
    "swarmsim/SwarmSearch-v0": (
        "swarmsim.envs.search:SwarmSearchEnv",
        "swarmsim.envs.search_vector:SwarmSearchVectorEnv",
    ),
}

#: Public names -> the module that holds them (imported on first use).
_LAZY = {
    "SwarmSearchEnv": "search",
    "ActionError": "search",
    "SwarmSearchVectorEnv": "search_vector",
    "SwarmSearchParallelEnv": "search_parallel",
    "SB3VecEnv": "sb3",
}


def register_envs() -> None:
    """Register every swarmsim environment with gymnasium (once; later calls do nothing)."""
    from gymnasium.envs.registration import register, registry

    for env_id, (entry_point, vector_entry_point) in ENV_IDS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, vector_entry_point=vector_entry_point)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"swarmsim.envs.{_LAZY[name]}"), name)
    raise AttributeError(name)
