"""Quadrotor dynamics figures: drone-steps per second (numba, pybullet) and their cross-check.

- ``steps_per_s``: physics steps x drones per second of the numba model (CF2X, 960 Hz physics)
  for n = 10, 100, 1000, each `step` call holding the commands for 0.1 s (96 physics steps, the
  way a policy at 10 Hz or a mission leg drives it);
- ``steps_per_s_control``: the same with one 1/240 s control step per call (4 physics steps), so
  the Python call overhead counts (below 20 000 drone-steps per call the serial kernel runs);
- ``steps_per_s_1000_one_thread``: n = 1000 on one numba thread;
- ``pybullet_steps_per_s``: the pybullet backend at n = 10 (240 Hz, one Bullet step per call);
- ``pybullet_max_position_error_m``: largest position difference over 2 s between the numba model
  (960 Hz) and pybullet (240 Hz) fed the same rotor-speed sequence (climb, roll/pitch doublet,
  yaw kick) for a CF2X and a ~1 kg quadrotor.

Figures are the best of ``--repeat`` runs after a warm-up (the machine may be shared). Usage::

    .venv/bin/python benchmarks/dynamics.py [--repeat 5] [--json out/dynamics_bench.json]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from apps.bench import publish, run_bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (best)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    publish(run_bench("dynamics", repeat=args.repeat), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
