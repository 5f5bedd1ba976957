"""StochasticLTI: validation, conversion, simulation, predictor and exact losses."""

from __future__ import annotations

import numpy as np
import pytest

from swarmsim.lti import (
    InputFilter,
    LTIError,
    Predictor,
    StochasticLTI,
    empirical_loss,
    error_covariance,
    error_logdet,
    from_noise_model,
    generalization_error,
    loss_moments,
    predict,
    prediction_errors,
    simulate,
)

from .conftest import second_order


def mismatched(system: StochasticLTI) -> Predictor:
    """A stable but wrong predictor of the system's dimensions."""
    return Predictor(
        A=0.9 * system.A, B=system.B + 0.2, C=system.C + 0.1, D=system.D + 0.1, K=0.7 * system.K
    )


def riccati_reference(A, C, Q, R, S, G=None):
    """Filter Riccati iteration to convergence: predictor gain and innovation covariance."""
    G = np.eye(A.shape[0]) if G is None else G
    P = np.eye(A.shape[0])
    for _ in range(1000):
        Sx = C @ P @ C.T + R
        K = (A @ P @ C.T + G @ S) @ np.linalg.inv(Sx)
        P = A @ P @ A.T + G @ Q @ G.T - K @ Sx @ K.T
    return K, C @ P @ C.T + R


# ------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"A": [[1.1, 0.0], [0.0, 0.5]]}, r"A: expected a Schur-stable system .* 1\.1"),
        ({"K": [[3.0], [0.0]]}, r"A - K C: expected a Schur-stable predictor"),
        ({"B": [[1.0, 0.0]]}, r"B: expected 2 rows"),
        ({"C": [[1.0, 0.0, 0.0]]}, r"C: expected 2 columns"),
        ({"D": [[0.0, 0.0]]}, r"D: expected shape \(1, 1\)"),
        ({"K": [[0.1, 0.2]]}, r"K: expected shape \(2, 1\)"),
        ({"C": [[np.nan, 0.0]]}, r"C: contains NaN or inf"),
        ({"A": [[np.inf, 0.0], [0.0, 0.5]]}, r"A: contains NaN or inf"),
        ({"noise_cov": [[-1.0]]}, r"noise_cov: expected a positive definite"),
        ({"noise_cov": [[1.0, 0.0]]}, r"noise_cov: expected shape \(1, 1\)"),
        ({"input_cov": [[1.0, 2.0], [0.0, 1.0]]}, r"input_cov: expected shape \(1, 1\)"),
        ({"A": [1.0, 2.0]}, r"A: expected a 2-D matrix"),
    ],
)
def test_invalid_systems_raise_clear_errors(change, message):
    kwargs = {
        "A": [[0.5, 0.1], [0.0, 0.3]],
        "B": [[1.0], [0.0]],
        "C": [[1.0, 0.0]],
        "D": [[0.0]],
        "K": [[0.2], [0.0]],
        "noise_cov": [[1.0]],
        "input_cov": [[1.0]],
    }
    kwargs.update(change)
    with pytest.raises(LTIError, match=message):
        StochasticLTI(**kwargs)


def test_lti_error_is_a_value_error():
    assert issubclass(LTIError, ValueError)


def test_input_filter_and_predictor_validation():
    with pytest.raises(LTIError, match=r"input_filter\.A: expected a Schur-stable"):
        InputFilter(A=[[1.5]], B=[[1.0]], C=[[1.0]], D=[[0.0]])
    filt = InputFilter(A=[[0.5]], B=[[1.0]], C=[[1.0], [1.0]], D=[[0.0], [0.0]])
    with pytest.raises(LTIError, match=r"input_filter\.C: expected 1 rows"):
        StochasticLTI(A=[[0.5]], B=[[1.0]], C=[[1.0]], input_filter=filt)
    # A predictor may have an unstable A as long as A - K C is stable.
    Predictor(A=[[1.5]], B=[[1.0]], C=[[1.0]], D=[[0.0]], K=[[1.0]])
    with pytest.raises(LTIError, match=r"A - K C"):
        Predictor(A=[[1.5]], B=[[1.0]], C=[[1.0]], D=[[0.0]], K=[[0.1]])


def test_models_are_immutable(siso):
    with pytest.raises(ValueError, match="read-only"):
        siso.A[0, 0] = 0.0


def test_invalid_data_raise_clear_errors(siso, rng):
    u, y = simulate(siso, 50, rng)
    bad = y.copy()
    bad[7, 0] = np.nan
    with pytest.raises(LTIError, match=r"y: contains NaN"):
        predict(siso, u, bad)
    with pytest.raises(LTIError, match=r"u, y: expected the same number of samples"):
        empirical_loss(siso, u[:-1], y)
    with pytest.raises(LTIError, match=r"y: expected shape \(N, 1\)"):
        predict(siso, u, np.hstack([y, y]))
    with pytest.raises(LTIError, match=r"N: expected a positive integer"):
        simulate(siso, 0, rng)
    with pytest.raises(LTIError, match=r"x0: expected 'stationary' or 'zero'"):
        simulate(siso, 10, rng, x0="random")


# ------------------------------------------------------------------------------- conversion


def test_from_noise_model_matches_riccati_iteration():
    A = np.array([[0.9, 0.2], [0.0, 0.5]])
    C = np.array([[1.0, 0.0]])
    Q, R = np.diag([0.1, 0.05]), np.array([[1.0]])
    for S in (None, np.array([[0.05], [0.01]])):
        model = from_noise_model(A, np.zeros((2, 1)), C, None, Q, R, S)
        K, Lam = riccati_reference(A, C, Q, R, np.zeros((2, 1)) if S is None else S)
        np.testing.assert_allclose(model.K, K, rtol=1e-8)
        np.testing.assert_allclose(model.noise_cov, Lam, rtol=1e-8)


def test_from_noise_model_reproduces_the_output_spectrum():
    """The innovation form and the noise model generate outputs with the same covariances."""
    A = np.array([[0.8, 0.3], [-0.2, 0.4]])
    C = np.array([[1.0, 1.0]])
    G = np.array([[1.0], [0.5]])
    Q, R, S = np.array([[0.3]]), np.array([[0.5]]), np.array([[0.1]])
    model = from_noise_model(A, np.zeros((2, 0)), C, None, Q, R, S, G=G)
    # Autocovariances of the noise model: x(t+1) = A x + G w, y = C x + v.
    Px = np.linalg.solve(np.eye(4) - np.kron(A, A), (G @ Q @ G.T).ravel()).reshape(2, 2)
    Pi = np.linalg.solve(
        np.eye(4) - np.kron(A, A), (model.K @ model.noise_cov @ model.K.T).ravel()
    ).reshape(2, 2)
    for k in range(5):
        Ak = np.linalg.matrix_power(A, k)
        if k == 0:
            ref = C @ Px @ C.T + R
            got = C @ Pi @ C.T + model.noise_cov
        else:
            ref = C @ Ak @ Px @ C.T + C @ np.linalg.matrix_power(A, k - 1) @ G @ S
            got = (
                C @ Ak @ Pi @ C.T + C @ np.linalg.matrix_power(A, k - 1) @ model.K @ model.noise_cov
            )
        np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-12)


def test_from_noise_model_rejects_undetectable_systems():
    with pytest.raises(LTIError, match=r"no stabilising Kalman filter"):
        from_noise_model(
            np.diag([1.2, 0.5]), np.zeros((2, 1)), [[0.0, 1.0]], None, np.eye(2), [[1.0]]
        )


# ------------------------------------------------------------------------------- simulation


@pytest.mark.parametrize("which", ["siso", "mimo_system"])
@pytest.mark.parametrize("x0", ["stationary", "zero"])
def test_numba_simulation_matches_python_control(which, x0, request):
    system = request.getfixturevalue(which)
    u1, y1 = simulate(system, 300, np.random.default_rng(5), x0=x0)
    u2, y2 = simulate(system, 300, np.random.default_rng(5), x0=x0, method="control")
    np.testing.assert_allclose(u1, u2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y1, y2, rtol=1e-10, atol=1e-12)
    assert u1.shape == (300, system.nu) and y1.shape == (300, system.ny)


def test_initial_state_modes(mimo_system):
    """y(0) has the stationary output covariance, or only the direct noise part from rest."""
    _, _, H, J, W = mimo_system.generator()
    stat = H @ mimo_system.stationary_state_cov() @ H.T + J @ W @ J.T
    direct = J @ W @ J.T
    rng = np.random.default_rng(3)
    for x0, ref in (("stationary", stat), ("zero", direct)):
        first = np.array(
            [np.hstack(simulate(mimo_system, 1, rng, x0=x0)).ravel() for _ in range(3000)]
        )
        np.testing.assert_allclose(np.cov(first.T), ref, atol=0.08 * np.max(np.abs(ref)))


def test_time_series_without_inputs(rng):
    system = StochasticLTI(A=[[0.9]], B=np.zeros((1, 0)), C=[[1.0]], K=[[0.5]], noise_cov=[[1.0]])
    u, y = simulate(system, 100, rng)
    assert u.shape == (100, 0)
    np.testing.assert_allclose(predict(system, None, y), predict(system, u, y))


# ------------------------------------------------------------------------------- predictor


def test_predictor_matches_the_recursion(mimo_system, rng):
    u, y = simulate(mimo_system, 200, rng)
    th = mismatched(mimo_system)
    x = np.zeros(th.n)
    ref = np.empty_like(y)
    for t in range(len(y)):
        ref[t] = th.C @ x + th.D @ u[t]
        x = (th.A - th.K @ th.C) @ x + (th.B - th.K @ th.D) @ u[t] + th.K @ y[t]
    np.testing.assert_allclose(predict(th, u, y), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(prediction_errors(th, u, y), y - ref, rtol=1e-10, atol=1e-12)
    assert empirical_loss(th, u, y) == pytest.approx(np.mean(np.sum((y - ref) ** 2, axis=1)))


# ------------------------------------------------------------------------------- exact losses


@pytest.mark.parametrize("which", ["siso", "mimo_system"])
def test_true_predictor_loss_is_the_innovation_variance(which, request):
    system = request.getfixturevalue(which)
    assert generalization_error(system, system.predictor) == pytest.approx(
        np.trace(system.noise_cov), rel=1e-9
    )


@pytest.mark.parametrize("which", ["siso", "mimo_system"])
def test_lyapunov_loss_equals_long_simulation_average(which, request):
    system = request.getfixturevalue(which)
    th = mismatched(system)
    u, y = simulate(system, 200_000, np.random.default_rng(11))
    assert empirical_loss(th, u, y) == pytest.approx(generalization_error(system, th), rel=0.02)


@pytest.mark.parametrize("which", ["siso", "mimo_system"])
@pytest.mark.parametrize("x0", ["stationary", "zero"])
def test_kalman_logdet_equals_dense_logdet(which, x0, request):
    system = request.getfixturevalue(which)
    th = mismatched(system)
    for N, c in ((1, 0.3), (40, 2.0 / np.sqrt(40)), (150, 2.0 / np.sqrt(150)), (150, 5.0)):
        dense = error_logdet(system, th, N, c, x0=x0, method="dense")
        for tol in (0.0, 1e-15):
            fast = error_logdet(system, th, N, c, x0=x0, tol=tol)
            assert fast == pytest.approx(dense, rel=1e-8)


def test_loss_moments_equal_dense_covariance_traces(mimo_system):
    th = mismatched(mimo_system)
    for x0 in ("stationary", "zero"):
        for N in (1, 2, 60):
            R = error_covariance(mimo_system, th, N, x0=x0)
            mean, var = loss_moments(mimo_system, th, N, x0=x0)
            assert mean == pytest.approx(np.trace(R) / N, rel=1e-10)
            assert var == pytest.approx(2 * np.trace(R @ R) / N**2, rel=1e-10)


@pytest.mark.parametrize("x0", ["stationary", "zero"])
def test_loss_moments_match_monte_carlo(x0):
    system = second_order()
    th = mismatched(system)
    N, trials = 200, 3000
    rng = np.random.default_rng(17)
    v = np.array([empirical_loss(th, *simulate(system, N, rng, x0=x0)) for _ in range(trials)])
    mean, var = loss_moments(system, th, N, x0=x0)
    assert abs(v.mean() - mean) < 4 * np.sqrt(var / trials)
    # Relative standard error of a sample variance ~ sqrt(2 / trials) ~ 2.6 %.
    assert v.var(ddof=1) == pytest.approx(var, rel=0.12)
    # The transient makes E V_N differ from L by O(1/N).
    L = generalization_error(system, th)
    assert abs(mean - L) < 50 * L / N
