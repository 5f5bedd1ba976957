"""LTI learning benchmarks: PAC-Bayes bound evaluation and subspace identification at N = 1e5.

Each fast path runs next to the dense approach at the largest N that approach manages within a
time budget:

- bound for one model: V_N on the data, L from the Lyapunov equation and
  Psi = lam L - 1/2 ln det(I + (2 lam / N) R_eps) with the log-determinant from the Kalman-filter
  factorisation (O(N); all N steps, and with the converged-Riccati shortcut), against the dense
  log-determinant of the (N ny)^2 error covariance (O(N^3) time, O(N^2) memory);
- subspace identification: one thin QR of the block Hankel matrix (O(N)), against the textbook
  N4SID with explicit j x j projection matrices (O(N^2) time and memory) and, when installed,
  the nfoursid package on the same data (its full SVD also needs O(N^2) memory).

Figures are the best of ``--repeat`` runs (the machine is shared). Usage::

    .venv/bin/python benchmarks/lti.py [--n 100000] [--repeat 5] [--json out/lti_bench.json]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from apps.bench import best_time, machine, publish
from swarmsim.lti import (
    Predictor,
    StochasticLTI,
    empirical_loss,
    error_logdet,
    generalization_error,
    loss_moments,
    pem,
    simulate,
    subspace_id,
)


def second_order() -> StochasticLTI:
    r, w = 0.8, 0.5
    A = np.array([[2 * r * np.cos(w), -r * r], [1.0, 0.0]])
    return StochasticLTI(
        A=A,
        B=[[1.0], [0.0]],
        C=[[1.0, 0.5]],
        D=[[0.0]],
        K=[[0.6], [0.2]],
        noise_cov=[[0.25]],
        input_cov=[[1.0]],
    )


def hypothesis(system: StochasticLTI) -> Predictor:
    return Predictor(
        A=0.95 * system.A, B=system.B + 0.1, C=system.C + [[0.0, 0.1]], D=[[0.05]], K=0.8 * system.K
    )


def bench_bound(N: int, repeat: int, dense_budget: float) -> dict:
    system = second_order()
    theta = hypothesis(system)
    u, y = simulate(system, N, np.random.default_rng(0))
    lam = float(np.sqrt(N))
    c = 2.0 * lam / N
    # Warm the compiled kernels.
    error_logdet(system, theta, 10, c, tol=0.0)
    loss_moments(system, theta, 10)
    empirical_loss(theta, u[:10], y[:10])

    def one_model(tol: float) -> float:
        v = empirical_loss(theta, u, y)
        L = generalization_error(system, theta)
        psi = lam * L - 0.5 * error_logdet(system, theta, N, c, tol=tol)
        return v + psi

    out = {
        "N": N,
        "bound_one_model_s": best_time(lambda: one_model(0.0), repeat),
        "bound_one_model_converged_s": best_time(lambda: one_model(1e-15), repeat),
        "empirical_loss_s": best_time(lambda: empirical_loss(theta, u, y), repeat),
        "lyapunov_loss_s": best_time(lambda: generalization_error(system, theta), repeat),
        "logdet_kalman_s": best_time(lambda: error_logdet(system, theta, N, c, tol=0.0), repeat),
        "logdet_kalman_converged_s": best_time(lambda: error_logdet(system, theta, N, c), repeat),
        "loss_moments_s": best_time(lambda: loss_moments(system, theta, N), repeat),
    }
    full = error_logdet(system, theta, N, c, tol=0.0)
    out["logdet_converged_rel_diff"] = abs(error_logdet(system, theta, N, c) - full) / abs(full)
    dense = []
    n_dense = 250
    while True:
        cd = 2.0 * np.sqrt(n_dense) / n_dense
        t_dense = best_time(
            lambda n=n_dense, cc=cd: error_logdet(system, theta, n, cc, method="dense"), 1
        )
        t_fast = best_time(
            lambda n=n_dense, cc=cd: error_logdet(system, theta, n, cc, tol=0.0), repeat
        )
        ref = error_logdet(system, theta, n_dense, cd, method="dense")
        fast = error_logdet(system, theta, n_dense, cd, tol=0.0)
        dense.append(
            {
                "N": n_dense,
                "dense_logdet_s": t_dense,
                "kalman_logdet_s": t_fast,
                "rel_diff": abs(fast - ref) / abs(ref),
            }
        )
        # Next size would take ~8x as long (O(N^3)).
        if 8 * t_dense > dense_budget:
            break
        n_dense *= 2
    out["dense"] = dense
    last = dense[-1]
    out["dense_logdet_extrapolated_s_at_N"] = last["dense_logdet_s"] * (N / last["N"]) ** 3
    out["dense_memory_gb_at_N"] = 8.0 * N**2 / 1e9
    return out


def dense_n4sid_poles(u: np.ndarray, y: np.ndarray, order: int, horizon: int) -> np.ndarray:
    """Textbook N4SID with explicit j x j orthogonal projections (O(N^2) time and memory)."""
    i = horizon
    j = len(y) - 2 * i + 1

    def hankel(x: np.ndarray, start: int) -> np.ndarray:
        return np.vstack([x[start + r : start + r + j].T for r in range(i)])

    Uf, Up, Yp, Yf = hankel(u, i), hankel(u, 0), hankel(y, 0), hankel(y, i)
    Wp = np.vstack([Up, Yp])
    Pi = np.eye(j) - Uf.T @ np.linalg.solve(Uf @ Uf.T, Uf)  # onto the complement of Uf
    # Oblique projection of Yf along Uf onto Wp.
    oblique = (Yf @ Pi) @ np.linalg.pinv(Wp @ Pi) @ Wp
    U, s, _ = np.linalg.svd(oblique, full_matrices=False)
    Gam = U[:, :order] * np.sqrt(s[:order])
    ny = y.shape[1]
    A = np.linalg.lstsq(Gam[:-ny], Gam[ny:], rcond=None)[0]
    return np.sort_complex(np.linalg.eigvals(A))


def bench_subspace(N: int, repeat: int, dense_budget: float) -> dict:
    system = second_order()
    u, y = simulate(system, N, np.random.default_rng(1))
    subspace_id(u[:2000], y[:2000], 2)
    out: dict = {"N": N, "order": 2, "horizon": 10}
    out["subspace_id_s"] = best_time(lambda: subspace_id(u, y, 2, horizon=10), repeat)
    model = subspace_id(u, y, 2, horizon=10)
    true_poles = np.sort_complex(np.linalg.eigvals(system.A))
    out["pole_error"] = float(
        np.max(np.abs(np.sort_complex(np.linalg.eigvals(model.A)) - true_poles))
    )
    out["pem_refinement_s"] = best_time(lambda: pem(u, y, model), 1)
    try:
        import pandas as pd
        from nfoursid.nfoursid import NFourSID
    except ImportError:
        NFourSID = None

    def nfoursid_a(n: int) -> np.ndarray:
        frame = pd.DataFrame({"u": u[:n, 0], "y": y[:n, 0]})
        ref = NFourSID(frame, output_columns=["y"], input_columns=["u"], num_block_rows=10)
        ref.subspace_identification()
        return ref.system_identification(rank=2)[0].a

    dense = []
    n_dense = 500
    while True:
        row: dict = {"N": n_dense, "dense_memory_gb": 8.0 * n_dense**2 / 1e9}
        row["dense_s"] = best_time(lambda n=n_dense: dense_n4sid_poles(u[:n], y[:n], 2, 10), 1)
        row["subspace_id_s"] = best_time(
            lambda n=n_dense: subspace_id(u[:n], y[:n], 2, horizon=10), repeat
        )
        fast_poles = np.sort_complex(
            np.linalg.eigvals(subspace_id(u[:n_dense], y[:n_dense], 2, horizon=10).A)
        )
        row["dense_pole_diff"] = float(
            np.max(np.abs(dense_n4sid_poles(u[:n_dense], y[:n_dense], 2, 10) - fast_poles))
        )
        if NFourSID is not None:
            # nfoursid takes a full SVD of an (h ny) x N matrix: O(N^2) memory as well.
            row["nfoursid_s"] = best_time(lambda n=n_dense: nfoursid_a(n), 1)
            row["nfoursid_pole_diff"] = float(
                np.max(np.abs(np.sort_complex(np.linalg.eigvals(nfoursid_a(n_dense))) - fast_poles))
            )
        dense.append(row)
        # The next size takes ~4-8x as long (O(N^2) products, O(N^3) in the worst case).
        slowest = max(row["dense_s"], row.get("nfoursid_s", 0.0))
        if 6 * slowest > dense_budget or n_dense >= N:
            break
        n_dense *= 2
    out["dense"] = dense
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="trajectory length N")
    parser.add_argument("--repeat", type=int, default=5, help="repeats; the best is reported")
    parser.add_argument(
        "--dense-budget", type=float, default=20.0, help="seconds the largest dense run may take"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = {
        "bound": bench_bound(args.n, args.repeat, args.dense_budget),
        "subspace": bench_subspace(args.n, args.repeat, args.dense_budget),
        "goals_s": {"bound_one_model": 1.0, "subspace_id": 5.0},
        "machine": machine(),
    }
    publish(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
