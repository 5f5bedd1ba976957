"""SB3VecEnv: Stable-Baselines3's VecEnv contract over a gymnasium vector env, checked step by
step against SB3's own DummyVecEnv of single environments; PPO trains through it."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from swarmsim.envs.sb3 import SB3VecEnv
from swarmsim.envs.search import SwarmSearchEnv
from swarmsim.envs.search_vector import SwarmSearchVectorEnv

SHORT = {"overrides": ["mission.max_time=3.0"]}


def _vec(num_envs: int = 2) -> SB3VecEnv:
    return SB3VecEnv(
        SwarmSearchVectorEnv(num_envs=num_envs, autoreset_mode=AutoresetMode.SAME_STEP, **SHORT)
    )


def test_steps_equal_those_of_sb3s_dummy_vec_env() -> None:
    ours = _vec()
    theirs = DummyVecEnv([lambda: SwarmSearchEnv(**SHORT) for _ in range(2)])
    ours.seed(3)
    theirs.seed(3)
    a, b = ours.reset(), theirs.reset()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    rng = np.random.default_rng(0)
    finished = 0
    for _ in range(10):
        actions = rng.uniform(-1.0, 1.0, (2, *ours.action_space.shape))
        obs, rewards, dones, infos = ours.step(actions)
        obs2, rewards2, dones2, infos2 = theirs.step(actions)
        assert all(np.array_equal(obs[k], obs2[k]) for k in obs)
        np.testing.assert_array_equal(rewards, rewards2)
        np.testing.assert_array_equal(dones, dones2)
        for i in range(2):
            assert infos[i]["TimeLimit.truncated"] == infos2[i]["TimeLimit.truncated"]
            if dones[i]:
                finished += 1
                last, last2 = infos[i]["terminal_observation"], infos2[i]["terminal_observation"]
                assert all(np.array_equal(last[k], last2[k]) for k in last)
    assert finished >= 2
    assert ours.get_attr("n") == [10, 10] and ours.env_method("render") == [None, None]
    assert ours.env_is_wrapped(object) == [False, False]


def test_needs_same_step_autoreset() -> None:
    with pytest.raises(ValueError, match="SAME_STEP"):
        SB3VecEnv(SwarmSearchVectorEnv(num_envs=1, **SHORT))


def test_ppo_trains_on_the_vector_env() -> None:
    import torch

    torch.set_num_threads(1)
    small = ["camera.resolution=[32,32]", "swarm.drones=4", "forest.area=[40,40]",
             "mission.max_time=4"]  # fmt: skip
    venv = SB3VecEnv(SwarmSearchVectorEnv(num_envs=2, autoreset_mode=AutoresetMode.SAME_STEP,
                                          overrides=small, map_size=16))  # fmt: skip
    model = PPO("MultiInputPolicy", venv, n_steps=256, batch_size=128, n_epochs=2, seed=0,
                device="cpu")  # fmt: skip
    model.learn(total_timesteps=2048)
    assert model.num_timesteps >= 2048
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (2, 4, 2)
