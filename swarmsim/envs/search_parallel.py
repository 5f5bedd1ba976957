"""``SwarmSearchParallelEnv``: the swarm search as a PettingZoo parallel game, one agent a drone.

Every drone ``drone_k`` decides its own move; the mission loop is SwarmSearch-v0's (same scene,
same capture, detection and integration, same episode end), so a joint action of all agents is
one `SwarmSearchEnv` step.

Per agent (n drones, camera H × W):

* action ``Box(-1, 1, (2,))``: its east/north move as a share of ``max_step``;
* observation ``Dict``: ``view`` (H, W) the integral of every drone's anomaly masks seen from
  its own viewpoint (the share of the views covering each pixel that flag it, in [0, 1]),
  ``neighbours`` (n - 1, 2) the other drones' positions relative to it over the map's half
  width (clipped to [-1, 1], in drone order), ``blob_area`` (1,) its integral's largest blob
  over the image's pixels, ``time`` (1,) elapsed over ``mission.max_time``;
* reward: ``"shared"`` (default) every agent gets the swarm's reward (`SwarmSearchEnv`);
  ``"individual"`` each gets the gain of its own ``blob_area`` minus its share of the time
  cost — it pays to find a viewpoint from which the integral shows the person.

``state()`` is the flattened SwarmSearch-v0 observation (positions, ground map, blob areas,
time) for centralised training; ``state_space`` its `gymnasium.spaces.Box`. All agents end
together: terminated when the person is confirmed, truncated at the time limit.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from swarmsim.envs.search import ActionError, SwarmSearchEnv
from swarmsim.strategy import Observation

__all__ = ["SwarmSearchParallelEnv"]

REWARDS = ("shared", "individual")


class SwarmSearchParallelEnv(ParallelEnv):
    """PettingZoo parallel swarm search (see the module docstring).

    Args:
        reward: "shared" (the swarm's reward for every agent) or "individual".
        **kwargs: `SwarmSearchEnv` keywords (scene, overrides, reward kind as ``swarm_reward``,
            time_cost, max_step, map_size, ...).
    """

    # Annotated like PettingZoo's metadata, an instance variable there: no ClassVar.
    metadata: dict[str, Any] = {  # noqa: RUF012
        "name": "swarmsim_search_v0",
        "render_modes": ["rgb_array"],
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(
        self, *, reward: str = "shared", swarm_reward: str = "objective", **kwargs: Any
    ) -> None:
        if reward not in REWARDS:
            raise ValueError(f"reward: expected one of {REWARDS}, got {reward!r}")
        self.central = SwarmSearchEnv(reward=swarm_reward, **kwargs)
        self.reward_kind = reward
        self.render_mode = self.central.render_mode
        n = self.central.n
        self.possible_agents = [f"drone_{k}" for k in range(n)]
        self.agents: list[str] = []
        width, height = self.central.scene.camera.resolution
        self._pixels = int(width) * int(height)
        self._observation_space = spaces.Dict(
            {
                "view": spaces.Box(0.0, 1.0, (int(height), int(width)), np.float32),
                "neighbours": spaces.Box(-1.0, 1.0, (n - 1, 2), np.float32),
                "blob_area": spaces.Box(0.0, 1.0, (1,), np.float32),
                "time": spaces.Box(0.0, 1.0, (1,), np.float32),
            }
        )
        self._action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.state_space = spaces.flatten_space(self.central.observation_space)
        self._central_obs: dict[str, np.ndarray] | None = None
        self._areas = np.zeros(n)
        self._time = 0.0

    @functools.cache  # noqa: B019 (one space object per agent, as PettingZoo expects)
    def observation_space(self, agent: str) -> spaces.Space:
        self._index(agent)
        return self._observation_space

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Space:
        self._index(agent)
        return self._action_space

    def _index(self, agent: str) -> int:
        try:
            return self.possible_agents.index(agent)
        except ValueError:
            raise ActionError(f"agent: unknown agent {agent!r}") from None

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, Any]]]:
        """A new episode (see `SwarmSearchEnv.reset`); every agent is back. Of ``options``
        only ``new_forest`` is read (PettingZoo's API test hands in keys of its own)."""
        known = {k: v for k, v in (options or {}).items() if k == "new_forest"}
        self._central_obs, info = self.central.reset(seed=seed, options=known)
        self.agents = list(self.possible_agents)
        obs = self._mission_obs()
        self._areas = self._blob_shares(obs)
        self._time = float(info["time"])
        return self._observations(obs), {a: dict(info) for a in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Every live agent's action at once: one swarm step."""
        if not self.agents:
            raise ActionError("actions: the episode has ended; call reset()")
        missing = [a for a in self.agents if a not in actions]
        unknown = [a for a in actions if a not in self.agents]
        if missing or unknown:
            raise ActionError(f"actions: missing agents {missing}, unknown agents {unknown}")
        joint = []
        for agent in self.agents:
            a = np.asarray(actions[agent], np.float64)
            if a.shape != (2,):
                raise ActionError(f"actions[{agent!r}]: expected shape (2,), got {a.shape}")
            joint.append(a)
        self._central_obs, reward, terminated, truncated, info = self.central.step(np.stack(joint))
        obs = self._mission_obs()
        areas = self._blob_shares(obs)
        if self.reward_kind == "shared":
            rewards = {a: float(reward) for a in self.agents}
        else:
            cost = self.central.time_cost * (info["time"] - self._time) / len(self.agents)
            rewards = {
                a: float(areas[k] - self._areas[k] - cost) for k, a in enumerate(self.agents)
            }
        self._areas = areas
        self._time = float(info["time"])
        observations = self._observations(obs)
        agents = self.agents
        terminations = {a: bool(terminated) for a in agents}
        truncations = {a: bool(truncated) for a in agents}
        infos = {a: dict(info) for a in agents}
        if terminated or truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def _mission_obs(self) -> Observation:
        obs = self.central._obs
        assert obs is not None
        return obs

    def _blob_shares(self, obs: Observation) -> np.ndarray:
        return np.clip(np.asarray(obs.blob_areas, np.float64) / self._pixels, 0.0, 1.0)

    def _observations(self, obs: Observation) -> dict[str, dict[str, np.ndarray]]:
        xy = obs.positions[:, :2]
        half = 0.5 * self.central.map_extent
        views = np.clip(obs.integral.image[..., 0], 0.0, 1.0).astype(np.float32)
        shares = self._blob_shares(obs).astype(np.float32)
        elapsed = np.array([min(1.0, obs.time / self.central.scene.mission.max_time)], np.float32)
        out = {}
        for k, agent in enumerate(self.possible_agents):
            others = np.delete(xy, k, axis=0) - xy[k]
            out[agent] = {
                "view": views[k],
                "neighbours": np.clip(others / half, -1.0, 1.0).astype(np.float32),
                "blob_area": shares[k : k + 1],
                "time": elapsed,
            }
        return out

    def state(self) -> np.ndarray:
        """The flattened SwarmSearch-v0 observation of the swarm (`state_space`)."""
        if self._central_obs is None:
            raise ActionError("state: call reset() first")
        flat = spaces.flatten(self.central.observation_space, self._central_obs)
        return np.asarray(flat, np.float32)

    def render(self) -> np.ndarray | None:
        """The swarm's top-down frame (`SwarmSearchEnv.render`)."""
        return self.central.render()

    def close(self) -> None:
        self.central.close()
