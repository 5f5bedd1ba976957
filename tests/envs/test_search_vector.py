"""SwarmSearchVectorEnv: one render call for every episode, the same numbers as gymnasium's
own vector environments, autoreset modes, and the Stable-Baselines3 adapter."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import swarmsim  # noqa: F401  (registers the environments)
from swarmsim.envs.search import SwarmSearchEnv
from swarmsim.envs.search_vector import SwarmSearchVectorEnv

# Short episodes so that a few steps see ends and autoresets.
SHORT = {"overrides": ["mission.max_time=3.0"]}
ENV_ID = "swarmsim/SwarmSearch-v0"


def _same(a: dict, b: dict) -> bool:
    return all(np.array_equal(a[k], b[k]) for k in a)


def _rollouts(envs: list, steps: int, seed: int = 5) -> None:
    """Step every vector env with the same actions; every result must agree."""
    first = [env.reset(seed=seed)[0] for env in envs]
    assert all(_same(first[0], o) for o in first[1:])
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(steps):
        actions = rng.uniform(-1.0, 1.0, envs[0].action_space.shape)
        results = [env.step(actions) for env in envs]
        obs, rewards, terminated, truncated, _ = results[0]
        ends += int(np.sum(terminated | truncated))
        for other in results[1:]:
            assert _same(obs, other[0])
            np.testing.assert_array_equal(rewards, other[1])
            np.testing.assert_array_equal(terminated, other[2])
            np.testing.assert_array_equal(truncated, other[3])
    assert ends >= 2  # episodes ended and were reset on the way


def test_native_sync_and_async_vector_envs_agree() -> None:
    native = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="vector_entry_point", **SHORT)
    assert isinstance(native, SwarmSearchVectorEnv)
    assert native.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    sync = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="sync", **SHORT)
    # Spawned workers: forking a process whose numba threads are running is unsafe.
    asynchronous = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="async",
                                vector_kwargs={"context": "spawn"}, **SHORT)  # fmt: skip
    try:
        _rollouts([native, sync, asynchronous], 10)
    finally:
        asynchronous.close()


def test_episodes_share_one_forest_and_are_rendered_in_one_call(monkeypatch) -> None:
    import swarmsim.mission as mission_module

    env = SwarmSearchVectorEnv(num_envs=3, **SHORT)
    env.reset(seed=1)
    worlds = {id(e.mission.base_world) for e in env.envs}
    assert len(worlds) == 1
    targets = [e.mission.world.targets[0].position(0.0) for e in env.envs]
    assert np.hypot(*(targets[0] - targets[1])) > 0.5  # each episode has its own person
    calls = []
    real = mission_module.render
    monkeypatch.setattr(mission_module, "render", lambda *a, **k: calls.append(a) or real(*a, **k))
    env.step(np.zeros(env.action_space.shape))
    assert len(calls) == 1 and len(calls[0][1]) == 3 * env.envs[0].n


def test_same_step_autoreset_returns_the_final_observation() -> None:
    same = SwarmSearchVectorEnv(num_envs=2, autoreset_mode=AutoresetMode.SAME_STEP, **SHORT)
    single = [SwarmSearchEnv(**SHORT) for _ in range(2)]
    obs, _ = same.reset(seed=7)
    for i, env in enumerate(single):
        assert _same({k: v[i] for k, v in obs.items()}, env.reset(seed=7 + i)[0])
    rng = np.random.default_rng(1)
    finished = 0
    for _ in range(10):
        actions = rng.uniform(-1.0, 1.0, same.action_space.shape)
        obs, rewards, terminated, truncated, infos = same.step(actions)
        for i, env in enumerate(single):
            o, r, te, tr, _ = env.step(actions[i])
            assert r == rewards[i] and te == terminated[i] and tr == truncated[i]
            if te or tr:
                finished += 1
                assert infos["_final_obs"][i] and _same(infos["final_obs"][i], o)
                o, _ = env.reset()
            assert _same({k: v[i] for k, v in obs.items()}, o)
    assert finished >= 2


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="num_envs"):
        SwarmSearchVectorEnv(num_envs=0)
    with pytest.raises(ValueError, match="autoreset_mode"):
        SwarmSearchVectorEnv(num_envs=1, autoreset_mode=AutoresetMode.DISABLED)
    env = SwarmSearchVectorEnv(num_envs=2, **SHORT)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="actions: expected 2 actions"):
        env.step(np.zeros((3, 10, 2)))
