"""Subspace identification, prediction-error refinement, order selection and the Gibbs sampler."""

from __future__ import annotations

import numpy as np
import pytest

from swarmsim.lti import (
    LTIError,
    Parametrization,
    StochasticLTI,
    TruncatedGaussian,
    empirical_loss,
    generalization_error,
    gibbs_sample,
    log_partition,
    pem,
    select_order,
    simulate,
    subspace_id,
)

from .conftest import POLE_R, POLE_W, second_order

TRUE_POLES = POLE_R * np.exp(np.array([-1j, 1j]) * POLE_W)


def pole_error(A: np.ndarray) -> float:
    """Largest distance between the eigenvalues of A and the true poles (matched by sorting)."""
    est = np.sort_complex(np.linalg.eigvals(A))
    return float(np.max(np.abs(est - np.sort_complex(TRUE_POLES))))


@pytest.fixture(scope="module")
def data_5000() -> list[tuple[np.ndarray, np.ndarray]]:
    system = second_order()
    return [simulate(system, 5000, np.random.default_rng(seed)) for seed in range(3)]


@pytest.mark.parametrize("method", ["n4sid", "cva"])
def test_subspace_recovers_second_order_poles(data_5000, method):
    system = second_order()
    for u, y in data_5000:
        model = subspace_id(u, y, 2, method=method)
        assert pole_error(model.A) < 0.02
        # K and the noise covariance make it a near-optimal predictor, not just the right poles.
        assert generalization_error(system, model) < 1.03 * np.trace(system.noise_cov)
        assert model.noise_cov[0, 0] == pytest.approx(0.25, rel=0.1)


def test_subspace_agrees_with_nfoursid(data_5000):
    nfoursid = pytest.importorskip("nfoursid.nfoursid")
    pd = pytest.importorskip("pandas")
    for u, y in data_5000[:1]:
        frame = pd.DataFrame({"u": u[:, 0], "y": y[:, 0]})
        ref = nfoursid.NFourSID(frame, output_columns=["y"], input_columns=["u"], num_block_rows=10)
        ref.subspace_identification()
        ref_ss, _ = ref.system_identification(rank=2)
        ours = subspace_id(u, y, 2, horizon=10)
        ref_poles = np.sort_complex(np.linalg.eigvals(ref_ss.a))
        our_poles = np.sort_complex(np.linalg.eigvals(ours.A))
        assert np.max(np.abs(ref_poles - our_poles)) < 0.02
        # Same deterministic part: equal Markov parameters C A^k B (basis-independent).
        for k in range(4):
            ref_markov = ref_ss.c @ np.linalg.matrix_power(ref_ss.a, k) @ ref_ss.b
            our_markov = ours.C @ np.linalg.matrix_power(ours.A, k) @ ours.B
            np.testing.assert_allclose(our_markov, ref_markov, atol=0.03)


def test_subspace_identifies_mimo_with_coloured_inputs(mimo_system):
    u, y = simulate(mimo_system, 20_000, np.random.default_rng(2))
    model = subspace_id(u, y, 3)
    best = np.trace(mimo_system.noise_cov)
    assert generalization_error(mimo_system, model) < 1.05 * best
    refined = pem(u, y, model)
    assert generalization_error(mimo_system, refined) < 1.02 * best


def test_subspace_rejects_bad_requests(siso, rng):
    u, y = simulate(siso, 300, rng)
    with pytest.raises(LTIError, match=r"N: 30 samples are too few"):
        subspace_id(u[:30], y[:30], 2)
    with pytest.raises(LTIError, match=r"order: expected a positive integer"):
        subspace_id(u, y, 0)
    with pytest.raises(LTIError, match=r"horizon: expected more than"):
        subspace_id(u, y, 3, horizon=2)
    y_bad = y.copy()
    y_bad[3] = np.inf
    with pytest.raises(LTIError, match=r"y: contains NaN or inf"):
        subspace_id(u, y_bad, 2)
    with pytest.raises(LTIError, match=r"u, y: expected the same number"):
        subspace_id(u[:-2], y, 2)


def perturbed(system: StochasticLTI, rng: np.random.Generator, size: float) -> StochasticLTI:
    """A random stable minimum-phase neighbour of the system."""
    while True:
        try:
            return StochasticLTI(
                A=system.A + size * rng.standard_normal(system.A.shape),
                B=system.B + size * rng.standard_normal(system.B.shape),
                C=system.C + size * rng.standard_normal(system.C.shape),
                D=system.D + size * rng.standard_normal(system.D.shape),
                K=system.K + size * rng.standard_normal(system.K.shape),
                noise_cov=system.noise_cov,
                input_cov=system.input_cov,
            )
        except LTIError:
            continue


def test_pem_never_increases_the_empirical_loss(siso):
    rng = np.random.default_rng(8)
    for trial in range(3):
        u, y = simulate(siso, 1000, rng)
        starts = [
            subspace_id(u, y, 2, horizon=4),
            perturbed(siso, rng, 0.1),
            perturbed(siso, rng, 0.3),
            siso,
        ]
        for start in starts:
            refined = pem(u, y, start, max_nfev=30 if trial % 2 else None)
            assert empirical_loss(refined, u, y) <= empirical_loss(start, u, y)
        # From a fair start it reaches at least the true system's fit (it is the ML estimate).
        refined = pem(u, y, starts[0])
        assert empirical_loss(refined, u, y) <= empirical_loss(siso, u, y) * (1 + 1e-6)
        # And a converged fit is a fixed point.
        again = pem(u, y, refined)
        assert empirical_loss(again, u, y) <= empirical_loss(refined, u, y)


def test_pem_keeps_the_predictor_stable_and_rejects_bad_starts(siso, rng):
    u, y = simulate(siso, 500, rng)
    refined = pem(u, y, subspace_id(u, y, 2), r_bar=0.9)
    assert np.max(np.abs(np.linalg.eigvals(refined.A - refined.K @ refined.C))) <= 0.9
    with pytest.raises(LTIError, match=r"initial: expected rho\(A - K C\) <= r_bar"):
        pem(u, y, siso, r_bar=0.5)
    with pytest.raises(LTIError, match=r"free: expected names"):
        pem(u, y, siso, free=("Q",))


def test_pem_with_fixed_matrices_leaves_them_alone(siso, rng):
    u, y = simulate(siso, 800, rng)
    refined = pem(u, y, subspace_id(u, y, 2), free=("A", "B", "C", "K"))
    np.testing.assert_array_equal(refined.D, subspace_id(u, y, 2).D)


def test_bic_selects_the_true_order(data_5000):
    u, y = data_5000[0]
    sel = select_order(u, y, orders=range(1, 5), criterion="bic")
    assert sel.order == 2
    assert sel.scores[1] > sel.scores[2] < sel.scores[3]
    with pytest.raises(LTIError, match=r"criterion"):
        select_order(u, y, criterion="hqc")


# ------------------------------------------------------------------------------- Gibbs


def quadratic_loss(param: Parametrization, u, y) -> tuple[np.ndarray, np.ndarray, float]:
    """(Hess/2, grad, const) of V_N, exactly quadratic in D: V = d^T Q d + g^T d + c."""
    d = param.size
    e = np.eye(d)
    c = param.losses(np.zeros((1, d)), u, y)[0]
    plus = param.losses(e, u, y)
    minus = param.losses(-e, u, y)
    g = (plus - minus) / 2
    Q = np.diag((plus + minus - 2 * c) / 2)
    for i in range(d):
        for j in range(i + 1, d):
            vij = param.losses((e[i] + e[j])[None], u, y)[0]
            Q[i, j] = Q[j, i] = (vij - plus[i] - plus[j] + c) / 2
    return Q, g, c


@pytest.fixture(scope="module")
def gaussian_gibbs_case():
    """D-only parametrisation of a MIMO model: V_N is quadratic, so the Gibbs posterior with a
    Gaussian prior is Gaussian in closed form."""
    from .conftest import mimo

    system = mimo()
    u, y = simulate(system, 1000, np.random.default_rng(4))
    param = Parametrization(nominal=system.predictor, free=("D",))
    prior = TruncatedGaussian(mean=np.full(4, 0.05), cov=0.2**2 * np.eye(4))
    lam = float(np.sqrt(1000))
    Q, g, c = quadratic_loss(param, u, y)
    prec = np.linalg.inv(prior.cov) + 2 * lam * Q
    cov = np.linalg.inv(prec)
    mean = cov @ (np.linalg.solve(prior.cov, prior.mean) - lam * g)
    # ln E_pi exp(-lam V) for Gaussian pi and quadratic V.
    b = np.linalg.solve(prior.cov, prior.mean) - lam * g
    log_z = (
        -lam * c
        - 0.5 * np.linalg.slogdet(prior.cov @ prec)[1]
        + 0.5 * b @ cov @ b
        - 0.5 * prior.mean @ np.linalg.solve(prior.cov, prior.mean)
    )
    return u, y, param, prior, lam, mean, cov, log_z


def test_gibbs_sampler_matches_the_closed_form_posterior(gaussian_gibbs_case):
    u, y, param, prior, lam, mean, cov, _ = gaussian_gibbs_case
    samples = gibbs_sample(
        u,
        y,
        prior,
        param,
        lam=lam,
        n_samples=4000,
        thin=2,
        burn_in=600,
        rng=np.random.default_rng(9),
    )
    assert samples.thetas.shape == (4000, 4)
    assert 0.1 < samples.acceptance < 0.6
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(samples.thetas.mean(axis=0) - mean) < 0.15 * sd)
    np.testing.assert_allclose(np.cov(samples.thetas.T), cov, atol=0.25 * np.max(np.diag(cov)))
    np.testing.assert_allclose(samples.losses, param.losses(samples.thetas, u, y))


@pytest.mark.parametrize(("method", "tol"), [("ais", 0.15), ("prior", 0.6)])
def test_log_partition_matches_closed_form(gaussian_gibbs_case, method, tol):
    u, y, param, prior, lam, _, _, log_z = gaussian_gibbs_case
    est = log_partition(
        prior,
        param,
        u,
        y,
        lam,
        np.random.default_rng(1),
        method=method,
        n_samples=128 if method == "ais" else 20_000,
        n_temps=100,
    )
    assert est == pytest.approx(log_z, abs=tol)


def test_pem_jacobian_is_the_derivative_of_the_prediction_errors(mimo_system):
    """J^T e and J^T J of the sensitivity recursion against central finite differences."""
    from swarmsim.lti import _cpu

    u, y = simulate(mimo_system, 400, np.random.default_rng(5))
    mats = [np.array(getattr(mimo_system, m), np.float64) for m in "ABCDK"]
    entries = [(k, i, j) for k, m in enumerate(mats) for i, j in np.ndindex(m.shape)]
    kinds, rows, cols = np.array(entries).T.copy()
    P = len(entries)
    H, g = np.empty((P, P)), np.empty(P)
    cost = _cpu.pem_normal_equations(*mats, kinds, rows, cols, u, y, H, g)
    assert cost == pytest.approx(empirical_loss(mimo_system, u, y) * len(y), rel=1e-12)
    h = 1e-6
    jac = []
    for k, i, j in entries:
        columns = []
        for sign in (1.0, -1.0):
            moved = [m.copy() for m in mats]
            moved[k][i, j] += sign * h
            A, B, C, D, K = moved
            G, J = np.hstack([B - K @ D, K]), np.hstack([-D, np.eye(y.shape[1])])
            uy = np.hstack([u, y])
            columns.append(_cpu.ss_run(A - K @ C, G, -C, J, np.zeros(len(A)), uy).ravel())
        jac.append((columns[0] - columns[1]) / (2 * h))
    jac = np.array(jac).T  # (N * ny, P)
    A, B, C, D, K = mats
    Gp, Jp = np.hstack([B - K @ D, K]), np.hstack([-D, np.eye(y.shape[1])])
    e = _cpu.ss_run(A - K @ C, Gp, -C, Jp, np.zeros(len(A)), np.hstack([u, y])).ravel()
    np.testing.assert_allclose(g, jac.T @ e, rtol=1e-5, atol=1e-6 * np.abs(jac.T @ e).max())
    np.testing.assert_allclose(H, jac.T @ jac, rtol=1e-5, atol=1e-6 * np.abs(jac.T @ jac).max())


def test_pem_is_bit_reproducible_whatever_the_memory_layout(mimo_system):
    u, y = simulate(mimo_system, 3000, np.random.default_rng(6))
    start = subspace_id(u, y, 3)
    first = pem(u, y, start)
    for offset in (1, 3):
        buf = np.empty(u.size + 8)
        shifted = buf[offset : offset + u.size].reshape(u.shape)
        shifted[...] = u
        again = pem(np.asfortranarray(shifted), y.copy(), start)
        for name in ("A", "B", "C", "D", "K", "noise_cov"):
            np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
