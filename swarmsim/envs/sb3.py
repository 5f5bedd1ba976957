"""``SB3VecEnv``: a gymnasium vector environment as a Stable-Baselines3 ``VecEnv``.

Stable-Baselines3 takes its own ``VecEnv``, not gymnasium's vector environments: it expects
finished episodes to be reset within the same step, one info dict per environment, the last
observation of a finished episode in ``info["terminal_observation"]`` and
``info["TimeLimit.truncated"]`` when the episode was cut off. This adapter gives it that over any
gymnasium vector environment in ``AutoresetMode.SAME_STEP`` — `SwarmSearchVectorEnv` renders all
its episodes in one call::

    from stable_baselines3 import PPO
    from swarmsim.envs import SB3VecEnv, SwarmSearchVectorEnv
    from gymnasium.vector import AutoresetMode

    venv = SB3VecEnv(SwarmSearchVectorEnv(num_envs=4, autoreset_mode=AutoresetMode.SAME_STEP))
    PPO("MultiInputPolicy", venv, device="cpu").learn(10_000)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

__all__ = ["SB3VecEnv"]


class SB3VecEnv(VecEnv):
    """Stable-Baselines3 view of a gymnasium vector environment (autoreset SAME_STEP).

    Args:
        env: The vector environment; its ``metadata["autoreset_mode"]`` must be
            ``AutoresetMode.SAME_STEP``.
    """

    def __init__(self, env: VectorEnv) -> None:
        mode = env.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"env: SB3VecEnv needs autoreset_mode=AutoresetMode.SAME_STEP, the env has {mode}"
            )
        # Any: get_attr / set_attr / call are on gymnasium's vector classes, not on VectorEnv.
        self.env: Any = env
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self.render_mode = env.render_mode
        self._actions: np.ndarray | None = None

    def reset(self) -> VecEnvObs:
        """Reset every environment (with the seeds and options set by `seed` / `set_options`)."""
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        options = self._options[0] if self._options and self._options[0] else None
        obs, infos = self.env.reset(seed=seeds, options=options)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = self._split(infos)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait: call step_async first")
        obs, rewards, terminated, truncated, infos = self.env.step(self._actions)
        self._actions = None
        dones = terminated | truncated
        per_env = self._split(infos)
        final = infos.get("final_obs")
        for i, info in enumerate(per_env):
            info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            if dones[i]:
                info["terminal_observation"] = final[i]
        return obs, rewards.astype(np.float32), dones, per_env

    def _split(self, infos: dict[str, Any]) -> list[dict[str, Any]]:
        """Gymnasium's dict of batched infos (with ``_key`` masks) as one dict per env."""
        out: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for key, value in infos.items():
            if key.startswith("_") or key in ("final_obs", "final_info"):
                continue
            mask = infos.get(f"_{key}", np.ones(self.num_envs, np.bool_))
            for i in np.flatnonzero(mask):
                out[i][key] = value[i]
        return out

    def close(self) -> None:
        self.env.close()

    def render(self, mode: str | None = None) -> np.ndarray | None:
        frames = self.env.render()
        if not frames:
            return None
        return np.concatenate([np.asarray(f) for f in frames], axis=1)

    def get_images(self) -> Sequence[np.ndarray | None]:
        frames = self.env.render()
        return list(frames) if frames else [None] * self.num_envs

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        values = self.env.get_attr(attr_name)
        return [values[i] for i in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        values = list(self.env.get_attr(attr_name))
        for i in self._indices(indices):
            values[i] = value
        self.env.set_attr(attr_name, values)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        results = self.env.call(method_name, *method_args, **kwargs)
        return [results[i] for i in self._indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        # The episodes of a native vector environment are bare environments.
        return [False for _ in self._indices(indices)]
