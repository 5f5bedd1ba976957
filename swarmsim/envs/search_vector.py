"""``SwarmSearchVectorEnv``: many SwarmSearch episodes on one forest, captured together.

A native `gymnasium.vector.VectorEnv` (the ``vector_entry_point`` of
``swarmsim/SwarmSearch-v0``): ``num_envs`` episodes share one built forest, and every step
renders all their cameras — ``num_envs`` × n drones — in **one** render call
(`swarmsim.mission.observe_together`, each camera seeing only its own episode's person); each
episode then detects and integrates its own images. The results equal those of
``gymnasium.make_vec(..., vectorization_mode="sync")`` for the same seeds and actions: episode
``i`` of ``reset(seed=s)`` is seeded ``s + i`` and draws its sensor noise from its own stream.

Autoreset (``metadata["autoreset_mode"]``): ``NEXT_STEP`` by default, as gymnasium's own vector
environments (the step after an episode ends resets it and ignores its action);
``autoreset_mode=AutoresetMode.SAME_STEP`` resets at once and puts the last observation in
``infos["final_obs"]`` (what `swarmsim.envs.sb3.SB3VecEnv` needs).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array

from swarmsim.envs.search import SwarmSearchEnv
from swarmsim.mission import Step, observe_together
from swarmsim.world.world import build_world

__all__ = ["SwarmSearchVectorEnv"]

MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)


class SwarmSearchVectorEnv(VectorEnv):
    """``num_envs`` SwarmSearch-v0 episodes on one forest, stepped in one batch.

    Args:
        num_envs: Number of episodes.
        autoreset_mode: `AutoresetMode.NEXT_STEP` (default) or `AutoresetMode.SAME_STEP`.
        **kwargs: `SwarmSearchEnv` keywords (scene, overrides, reward, ...), the same for
            every episode. ``new_forest=True`` gives each episode its own forests, which are
            then rendered one episode at a time.
    """

    # Annotated like gymnasium's metadata, an instance variable there: no ClassVar.
    metadata: dict[str, Any] = {  # noqa: RUF012
        "render_modes": ["rgb_array"],
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        *,
        num_envs: int = 8,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **kwargs: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs: expected an integer >= 1, got {num_envs!r}")
        mode = AutoresetMode(autoreset_mode)
        if mode not in MODES:
            raise ValueError(f"autoreset_mode: expected NEXT_STEP or SAME_STEP, got {mode}")
        if "world" in kwargs:
            raise TypeError("SwarmSearchVectorEnv builds the shared world itself; drop world=")
        first = SwarmSearchEnv(**kwargs)
        world = build_world(first.scene)
        kwargs = {k: v for k, v in kwargs.items() if k not in ("scene", "overrides")}
        self.envs = [
            SwarmSearchEnv(scene=first.scene, world=world, **kwargs) for _ in range(num_envs)
        ]
        self.num_envs = num_envs
        self.autoreset_mode = mode
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.render_mode = first.render_mode
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(first.observation_space, num_envs)
        self.action_space = batch_space(first.action_space, num_envs)
        self._observations: Any = create_empty_array(first.observation_space, num_envs)
        self._autoreset = np.zeros(num_envs, np.bool_)

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset every episode; episode ``i`` gets seed ``seed + i`` (or ``seed[i]``)."""
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed: expected {self.num_envs} seeds, got {len(seeds)}")
        infos: dict[str, Any] = {}
        observations = []
        for i, (env, s) in enumerate(zip(self.envs, seeds, strict=True)):
            obs, info = env.reset(seed=s, options=options)
            observations.append(obs)
            infos = self._add_info(infos, info, i)
        self._autoreset[:] = False
        return self._batch(observations), infos

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Act in every episode, capture all of them in one render call, settle each."""
        actions = np.asarray(actions)
        if actions.shape[:1] != (self.num_envs,):
            raise ValueError(
                f"actions: expected {self.num_envs} actions (shape "
                f"{self.action_space.shape}), got shape {actions.shape}"
            )
        n = self.num_envs
        rewards = np.zeros(n)
        terminated = np.zeros(n, np.bool_)
        truncated = np.zeros(n, np.bool_)
        observations: list[Any] = [None] * n
        infos: dict[str, Any] = {}
        env_infos: list[dict[str, Any]] = [{} for _ in range(n)]
        steps: dict[int, Step] = {}
        for i, env in enumerate(self.envs):
            if self._autoreset[i]:
                observations[i], env_infos[i] = env.reset()
            else:
                steps[i] = env.act(actions[i])
        going = [i for i, step in steps.items() if not (step.terminated or step.truncated)]
        observe_together([self.envs[i].mission for i in going])
        for i, step in steps.items():
            env = self.envs[i]
            observations[i], rewards[i], terminated[i], truncated[i], env_infos[i] = env.settle(
                step
            )
            if self.autoreset_mode == AutoresetMode.SAME_STEP and (terminated[i] or truncated[i]):
                final = {"final_obs": observations[i], "final_info": env_infos[i]}
                infos = self._add_info(infos, final, i)
                observations[i], env_infos[i] = env.reset()
        for i in range(n):
            infos = self._add_info(infos, env_infos[i], i)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self._autoreset = terminated | truncated
        return self._batch(observations), rewards, terminated, truncated, infos

    def _batch(self, observations: list[Any]) -> dict[str, np.ndarray]:
        self._observations = concatenate(
            self.single_observation_space, observations, self._observations
        )
        # A copy: the buffer is refilled by the next step.
        return {k: v.copy() for k, v in self._observations.items()}

    def render(self) -> tuple[Any, ...] | None:
        """Each episode's top-down frame (``render_mode="rgb_array"``), None otherwise."""
        if self.render_mode is None:
            return None
        return tuple(env.render() for env in self.envs)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Call method ``name`` (or read attribute ``name``) of every episode's environment."""
        out = []
        for env in self.envs:
            value = getattr(env, name)
            out.append(value(*args, **kwargs) if callable(value) else value)
        return tuple(out)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """Attribute ``name`` of every episode's environment."""
        return tuple(getattr(env, name) for env in self.envs)

    def set_attr(self, name: str, values: Any) -> None:
        """Set attribute ``name`` of every episode's environment (one value or one each)."""
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(f"values: expected {self.num_envs} values, got {len(values)}")
        for env, value in zip(self.envs, values, strict=True):
            setattr(env, name, value)
