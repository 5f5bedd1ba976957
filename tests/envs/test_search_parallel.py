"""SwarmSearchParallelEnv: PettingZoo's API and seed tests, one joint step equals a swarm step,
state for centralised training, individual rewards, bad actions."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo.test import parallel_api_test, parallel_seed_test

from swarmsim.envs.search import ActionError, SwarmSearchEnv
from swarmsim.envs.search_parallel import SwarmSearchParallelEnv

SHORT = {"overrides": ["mission.max_time=3.0"]}
# Open ground, the person under the start line: every drone's integral shows it.
OPEN = {
    "overrides": ["forest.kind=none", "mission.max_time=3.0"],
    "target_region": (-3.0, 3.0, -10.0, -6.0),
}


def test_passes_pettingzoo_api_and_seed_tests() -> None:
    parallel_api_test(SwarmSearchParallelEnv(**SHORT), num_cycles=30)
    parallel_seed_test(lambda: SwarmSearchParallelEnv(**SHORT), num_cycles=10)


def test_a_joint_action_is_one_swarm_step_and_state_is_its_observation() -> None:
    game = SwarmSearchParallelEnv(**SHORT)
    swarm = SwarmSearchEnv(**SHORT)
    obs, _ = game.reset(seed=4)
    central, _ = swarm.reset(seed=4)
    np.testing.assert_array_equal(game.state(), spaces.flatten(swarm.observation_space, central))
    assert game.state_space.contains(game.state())
    rng = np.random.default_rng(2)
    while game.agents:
        joint = rng.uniform(-1.0, 1.0, (10, 2)).astype(np.float32)
        obs, rewards, terminations, _, _ = game.step(dict(zip(game.agents, joint, strict=True)))
        central, reward, terminated, truncated, _ = swarm.step(joint)
        assert set(rewards.values()) == {reward}  # shared by default
        assert all(t == terminated for t in terminations.values())
        np.testing.assert_array_equal(
            game.state(), spaces.flatten(swarm.observation_space, central)
        )
        positions = swarm._obs.positions[:, :2]
        half = 0.5 * swarm.map_extent
        expected = np.clip((np.delete(positions, 3, axis=0) - positions[3]) / half, -1, 1)
        np.testing.assert_allclose(obs["drone_3"]["neighbours"], expected, rtol=1e-6)
        np.testing.assert_array_equal(
            obs["drone_3"]["view"], np.clip(swarm._obs.integral.image[3, ..., 0], 0, 1)
        )
    assert terminated or truncated


def test_individual_reward_is_each_drones_own_blob_gain_minus_its_share_of_time() -> None:
    game = SwarmSearchParallelEnv(reward="individual", **OPEN)
    obs, infos = game.reset(seed=1)
    before = {a: float(o["blob_area"][0]) for a, o in obs.items()}
    time = infos["drone_0"]["time"]
    obs, rewards, *_, infos = game.step({a: np.zeros(2, np.float32) for a in game.agents})
    cost = game.central.time_cost * (infos["drone_0"]["time"] - time) / 10
    after = {a: float(o["blob_area"][0]) for a, o in obs.items()}
    assert max(after.values()) > 0  # the person shows in the integrals
    for agent, r in rewards.items():
        assert r == pytest.approx(after[agent] - before[agent] - cost, abs=1e-6)


def test_bad_actions_are_named_and_the_game_goes_on() -> None:
    game = SwarmSearchParallelEnv(**SHORT)
    game.reset(seed=0)
    zeros = {a: np.zeros(2) for a in game.agents}
    with pytest.raises(ActionError, match="missing agents"):
        game.step({"drone_0": np.zeros(2)})
    with pytest.raises(ActionError, match=r"actions\['drone_1'\]"):
        game.step({**zeros, "drone_1": np.zeros(3)})
    with pytest.raises(ActionError, match="NaN"):
        game.step({**zeros, "drone_2": np.array([np.nan, 0.0])})
    with pytest.raises(ActionError, match="unknown agent"):
        game.observation_space("drone_99")
    game.reset(seed=0)
    game.step(zeros)


def test_docs_pettingzoo_loop_runs() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "envs.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "game.agents" in b)
    code = code.replace('(reward="individual")', '(reward="individual", **SHORT)')
    printed: list = []
    exec(compile(code, "docs/envs.md", "exec"), {"print": printed.append, "SHORT": SHORT})
    assert printed and "ended at" in printed[0]
