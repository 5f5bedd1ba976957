"""Learning check of SwarmSearch-v0: PPO trained for a stated budget against a random policy and
the PSO strategy on held-out seeds.

PPO (`MultiInputPolicy`) trains on ``--envs`` episodes of the native vector environment through
`swarmsim.envs.SB3VecEnv` for ``--steps`` env-steps. Then each policy searches the same
``--eval`` held-out episodes (reset seeds 10 000 + k: the same forest, the person placed by the
seed): the trained policy (deterministic), uniformly random actions, and the scene's PSO
strategy flying the episode's mission (its own detection claims, the same confirmation rule).
Reported per policy: success rate (person confirmed before the time limit), mean time to
detection over the successes and over all episodes (a miss counted as the time limit), and mean
return of the environment's reward (PSO: not defined, its steps are not the agent's).

    python benchmarks/search_learning.py --steps 30000 --envs 4 --out /tmp/learning

writes ``learning.json`` (figures), ``curve.csv`` and ``curve.png`` (training episode return
against env-steps) into ``--out``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecMonitor

from apps.bench import publish
from controllers.registry import make_strategy
from swarmsim.envs.sb3 import SB3VecEnv
from swarmsim.envs.search import SwarmSearchEnv
from swarmsim.envs.search_vector import SwarmSearchVectorEnv
from swarmsim.streams import stream

EVAL_SEED = 10_000


class Curve(BaseCallback):
    """Episode returns of training, with the env-step at which each episode ended."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, float, float]] = []

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            episode = info.get("episode")
            if episode is not None:
                self.rows.append((self.num_timesteps, float(episode["r"]), float(episode["t"])))
        return True


def episode(env: SwarmSearchEnv, seed: int, act) -> tuple[bool, float, float]:
    """(confirmed, time of the end, return) of one episode driven by ``act(obs)``."""
    obs, _ = env.reset(seed=seed)
    total = 0.0
    while True:
        obs, reward, terminated, truncated, info = env.step(act(obs))
        total += reward
        if terminated or truncated:
            return info["reason"] == "confirmed", float(info["time"]), total


def pso_episode(env: SwarmSearchEnv, seed: int) -> tuple[bool, float, float]:
    """The scene's PSO on the episode's mission (same forest, person and noise seed)."""
    env.reset(seed=seed)
    mission = env.mission
    strategy = make_strategy(env.scene, rng=stream(seed, "strategy"))
    obs = mission.observe()
    while True:
        step = mission.advance(strategy.plan(obs), obs, truth=False)
        if step.terminated or step.truncated:
            return step.reason == "confirmed", float(mission.time), math.nan
        obs = mission.observe()


def summarise(results: list[tuple[bool, float, float]], limit: float) -> dict:
    hits = [t for ok, t, _ in results if ok]
    return {
        "success_rate": len(hits) / len(results),
        "mean_time_to_detection_s": float(np.mean(hits)) if hits else None,
        "mean_time_censored_s": float(np.mean([t if ok else limit for ok, t, _ in results])),
        "mean_return": None
        if math.isnan(results[0][2])
        else float(np.mean([r for *_, r in results])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30_000, help="PPO env-steps")
    parser.add_argument("--envs", type=int, default=4, help="episodes stepped together")
    parser.add_argument("--eval", type=int, default=50, help="held-out episodes per policy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("learning"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    venv = VecMonitor(
        SB3VecEnv(SwarmSearchVectorEnv(num_envs=args.envs, autoreset_mode=AutoresetMode.SAME_STEP))
    )
    venv.seed(args.seed)
    curve = Curve()
    model = PPO(
        "MultiInputPolicy", venv, n_steps=256, batch_size=256, n_epochs=5, learning_rate=3e-4,
        gamma=0.98, seed=args.seed, device="cpu", verbose=0,
    )  # fmt: skip
    start = time.perf_counter()
    model.learn(total_timesteps=args.steps, callback=curve, progress_bar=False)
    train_s = time.perf_counter() - start
    print(f"trained {args.steps} steps in {train_s:.0f} s", file=sys.stderr)

    env = SwarmSearchEnv()
    limit = env.scene.mission.max_time
    rng = np.random.default_rng(args.seed)
    seeds = [EVAL_SEED + k for k in range(args.eval)]
    policies = {
        "ppo": lambda obs: model.predict(obs, deterministic=True)[0],
        "random": lambda obs: rng.uniform(-1.0, 1.0, env.action_space.shape),
    }
    figures: dict = {"train_steps": args.steps, "train_s": train_s, "envs": args.envs}
    for name, act in policies.items():
        figures[name] = summarise([episode(env, s, act) for s in seeds], limit)
        print(name, figures[name], file=sys.stderr)
    figures["pso"] = summarise([pso_episode(env, s) for s in seeds], limit)
    print("pso", figures["pso"], file=sys.stderr)

    rows = np.array(curve.rows) if curve.rows else np.zeros((0, 3))
    np.savetxt(args.out / "curve.csv", rows, delimiter=",", header="step,return,wall_s",
               comments="")  # fmt: skip
    plot(rows, figures, args.out / "curve.png")
    publish(figures, args.out / "learning.json")
    return 0


def plot(rows: np.ndarray, figures: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    if len(rows):
        window = max(1, len(rows) // 20)
        smooth = np.convolve(rows[:, 1], np.ones(window) / window, mode="valid")
        ax.plot(rows[:, 0], rows[:, 1], ".", alpha=0.2, color="tab:blue", label="episode")
        ax.plot(rows[window - 1 :, 0], smooth, color="tab:blue", label=f"mean of {window}")
    ax.axhline(figures["random"]["mean_return"], color="grey", ls="--", label="random (held out)")
    ax.axhline(figures["ppo"]["mean_return"], color="tab:orange", ls="--", label="PPO (held out)")
    ax.set_xlabel("env-steps")
    ax.set_ylabel("episode return")
    ax.set_title("PPO on swarmsim/SwarmSearch-v0")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    raise SystemExit(main())
