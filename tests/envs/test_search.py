"""SwarmSearch-v0: the Gymnasium contract, determinism, bad actions, episodes, rendering."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import swarmsim  # noqa: F401  (registers the environments)
from swarmsim.envs.search import ActionError, SwarmSearchEnv
from swarmsim.errors import SwarmsimError

# Under the start line: the person is in view from the first capture.
NEAR = (-3.0, 3.0, -10.0, -6.0)


@pytest.fixture(scope="module")
def env():
    return SwarmSearchEnv(render_mode="rgb_array")


def test_passes_gymnasium_env_checker(env) -> None:
    check_env(env)
    made = gym.make("swarmsim/SwarmSearch-v0")
    assert isinstance(made.unwrapped, SwarmSearchEnv)
    assert made.action_space.shape == (10, 2) and made.observation_space["map"].shape == (64, 64)


def _rollout(env: SwarmSearchEnv, seed: int, steps: int) -> list:
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(rng.uniform(-1, 1, (10, 2)))
        out.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
    return out


def test_same_seed_gives_identical_rollouts(env) -> None:
    first = _rollout(env, 3, 50)
    again = _rollout(SwarmSearchEnv(), 3, 50)  # a fresh instance, too
    assert len(first) == len(again) == 51
    for a, b in zip(first[1:], again[1:], strict=True):
        assert a[1:] == b[1:]
        for key in a[0]:
            np.testing.assert_array_equal(a[0][key], b[0][key])


def test_reset_places_the_person_elsewhere_on_the_same_forest(env) -> None:
    _, info = env.reset(seed=1)
    world = env.unwrapped._mission.base_world
    _, other = env.reset(seed=2)
    assert np.hypot(*(info["target"] - other["target"])) > 0.5
    assert env.unwrapped._mission.base_world is world  # the forest was not rebuilt
    x0, x1, y0, y1 = env.target_region
    assert x0 <= other["target"][0] <= x1 and y0 <= other["target"][1] <= y1
    env.reset(seed=2, options={"new_forest": True})
    assert env.unwrapped._mission.base_world is not world


def test_bad_actions_raise_and_leave_the_env_usable(env) -> None:
    env.reset(seed=0)
    bad = np.zeros((10, 2))
    bad[4, 1] = np.nan
    with pytest.raises(ActionError, match=r"drones \[4\]"):
        env.step(bad)
    with pytest.raises(ActionError, match=r"shape \(10, 2\)"):
        env.step(np.zeros((9, 2)))
    with pytest.raises(SwarmsimError, match="inf"):
        env.step(np.full((10, 2), np.inf))
    env.reset(seed=0)
    obs, *_ = env.step(np.zeros((10, 2)))
    assert env.observation_space.contains(obs)


def test_actions_are_clipped_and_scaled_to_the_maximum_step() -> None:
    moves = []
    for action in (1.0, 7.0):
        env = SwarmSearchEnv()
        env.reset(seed=0)
        before = env._obs.positions[:, :2].copy()
        env.step(np.tile([action, 0.0], (10, 1)))
        moves.append(env._obs.positions[:, :2] - before)
    np.testing.assert_allclose(moves[0], moves[1])
    np.testing.assert_allclose(moves[0], np.tile([3.0, 0.0], (10, 1)))  # c1 + c2 = 3 m


def test_episode_terminates_on_confirmation_and_truncates_at_the_time_limit() -> None:
    env = SwarmSearchEnv(target_region=NEAR)
    env.reset(seed=0)
    for _ in range(20):
        _, _, terminated, truncated, info = env.step(np.zeros((10, 2)))  # hover over it
        if terminated or truncated:
            break
    assert terminated and not truncated and info["reason"] == "confirmed"
    far = SwarmSearchEnv(overrides=["mission.max_time=1.0"], target_region=(20, 25, 20, 25))
    far.reset(seed=0)
    steps = 0
    while True:
        _, _, terminated, truncated, info = far.step(np.tile([0.0, -1.0], (10, 1)))
        steps += 1
        if terminated or truncated:
            break
    assert truncated and not terminated and info["reason"] == "time"
    assert steps == 3  # 3 m at 10 m/s plus 0.1 s per capture: 0.4 s a step


def test_objective_reward_is_the_blob_gain_minus_the_time_cost() -> None:
    env = SwarmSearchEnv(target_region=NEAR, time_cost=0.5)
    _, info = env.reset(seed=0)
    _, reward, *_, after = env.step(np.zeros((10, 2)))
    flight = env._mission.records[-1].flight
    assert reward == pytest.approx(after["objective"] - info["objective"] - 0.5 * flight)
    truth = SwarmSearchEnv(target_region=NEAR, reward="visibility", time_cost=0.0)
    _, info = truth.reset(seed=0)
    assert 0.0 < info["objective"] <= 1.0  # the person's optical visibility through the views


def test_rgb_frame_shows_drones_and_person(env) -> None:
    env.reset(seed=0)
    env.step(np.zeros((10, 2)))
    frame = env.render()
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
    assert (frame == 255).all(axis=2).sum() >= 10 * 4  # drones, 3 x 3 px each (some overlap)
    assert ((frame[..., 1] == 220) & (frame[..., 0] == 40)).sum() >= 9  # the person
    assert SwarmSearchEnv().render() is None


SMALL = ["camera.resolution=[32,32]", "swarm.drones=4", "forest.area=[40,40]", "mission.max_time=4"]


def test_passes_stable_baselines3_env_checker_and_trains_with_ppo() -> None:
    sb3 = pytest.importorskip("stable_baselines3")
    import torch
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    torch.set_num_threads(1)
    env = SwarmSearchEnv(overrides=SMALL, map_size=16)
    sb3_check_env(env, warn=False)
    model = sb3.PPO("MultiInputPolicy", env, n_steps=512, batch_size=128, n_epochs=2, seed=0,
                    device="cpu")  # fmt: skip
    model.learn(total_timesteps=2048)
    assert model.num_timesteps >= 2048
    obs, _ = env.reset(seed=5)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action.astype(np.float32))


def test_docs_random_agent_example_runs(monkeypatch) -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "envs.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "sample()" in b)
    make = gym.make
    monkeypatch.setattr(gym, "make", lambda env_id, **kw: make(env_id, overrides=SMALL, **kw))
    printed: list = []
    exec(compile(code, "docs/envs.md", "exec"), {"print": printed.append})
    assert printed and "ended by" in printed[0]
