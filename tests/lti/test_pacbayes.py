"""Parametrisations, divergences, Psi and the PAC-Bayes bounds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import integrate, stats

from swarmsim.lti import (
    LTIError,
    Parametrization,
    Predictor,
    PsiEstimate,
    StochasticLTI,
    TruncatedGaussian,
    empirical_loss,
    error_covariance,
    generalization_error,
    kl_bound,
    kl_divergence,
    kl_gaussian,
    loss_moments,
    predict,
    psi_model,
    psi_prior,
    psi_upper_bound,
    renyi2_bound,
    renyi2_divergence,
    renyi2_gaussian,
    simulate,
    stable_gaussian,
)
from swarmsim.lti.experiment import Design

from .conftest import second_order

# ------------------------------------------------------------------------------- parametrisation


def similar(model: StochasticLTI, T: np.ndarray) -> Predictor:
    Ti = np.linalg.inv(T)
    return Predictor(A=T @ model.A @ Ti, B=T @ model.B, C=model.C @ Ti, D=model.D, K=T @ model.K)


@pytest.mark.parametrize("form", ["full", "observer"])
def test_encode_decode_reproduces_the_predictor(form, siso, rng):
    u, y = simulate(siso, 200, rng)
    param = Parametrization(nominal=siso, form=form)
    assert param.size == (11 if form == "full" else 7)
    np.testing.assert_allclose(param.encode(siso), 0.0, atol=1e-10)
    # The same system in another state basis encodes to the same parameters.
    other = similar(siso, np.array([[2.0, 0.3], [-0.5, 1.0]]))
    theta = param.encode(other)
    np.testing.assert_allclose(theta, 0.0, atol=1e-9)
    # A nearby system round-trips through its parameters with identical predictions.
    near = Predictor(
        A=siso.A * 0.97, B=siso.B + 0.05, C=siso.C + [[0.0, 0.1]], D=[[0.2]], K=siso.K * 0.9
    )
    decoded = param.predictor(param.encode(similar(near, np.array([[1.0, 0.2], [0.1, 0.8]]))))
    np.testing.assert_allclose(predict(decoded, u, y), predict(near, u, y), atol=1e-9)


def test_batched_losses_match_single_models(mimo_system, rng):
    u, y = simulate(mimo_system, 300, rng)
    param = Parametrization(nominal=mimo_system)
    prior = stable_gaussian(param, std=0.05)
    thetas, rate = prior.sample(20, rng)
    assert 0 < rate <= 1 and prior.support(thetas).all()
    singles = [param.predictor(t) for t in thetas]
    np.testing.assert_allclose(
        param.losses(thetas, u, y), [empirical_loss(p, u, y) for p in singles], rtol=1e-10
    )
    np.testing.assert_allclose(
        param.true_losses(mimo_system, thetas),
        [generalization_error(mimo_system, p) for p in singles],
        rtol=1e-8,
    )


def test_parametrization_options_and_errors(siso, mimo_system):
    assert Parametrization(nominal=siso, free=("D", "K")).size == 3
    assert Parametrization(nominal=siso, form="observer", free=("A",)).size == 2
    with pytest.raises(LTIError, match=r"free: expected distinct names"):
        Parametrization(nominal=siso, form="observer", free=("C",))
    with pytest.raises(LTIError, match=r"observer form needs one output"):
        Parametrization(nominal=mimo_system, form="observer")
    with pytest.raises(LTIError, match=r"form: expected 'full' or 'observer'"):
        Parametrization(nominal=siso, form="modal")
    param = Parametrization(nominal=siso)
    with pytest.raises(LTIError, match=r"theta: expected shape \(M, 11\)"):
        param.losses(np.zeros((2, 3)), np.zeros((5, 1)), np.zeros((5, 1)))
    with pytest.raises(LTIError, match=r"A - K C"):
        param.predictor(np.r_[np.zeros(9), 10.0, 10.0])
    with pytest.raises(LTIError, match=r"r_bar"):
        param.stable_set(1.5)


def test_truncated_gaussian_rejection_sampling(rng):
    dist = TruncatedGaussian(
        mean=[0.0, 0.0], cov=np.eye(2), support=lambda t: t[:, 0] + t[:, 1] < 0.5
    )
    samples, rate = dist.sample(5000, rng)
    assert np.all(samples.sum(axis=1) < 0.5)
    exact = stats.norm.cdf(0.5 / np.sqrt(2))
    assert rate == pytest.approx(exact, abs=0.02)
    assert dist.mass(rng, 20_000) == pytest.approx(exact, abs=0.01)
    with pytest.raises(LTIError, match=r"cov: expected a positive definite"):
        TruncatedGaussian(mean=[0.0, 0.0], cov=[[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(LTIError, match=r"support: only"):
        TruncatedGaussian(mean=[0.0], cov=[[1.0]], support=lambda t: t[:, 0] > 50).sample(
            10, rng, max_draws=1000
        )


# ------------------------------------------------------------------------------- divergences


def random_gaussians(rng: np.random.Generator, d: int = 3):
    M = rng.standard_normal((d, d))
    cov0 = M @ M.T / d + np.eye(d)
    cov = 0.6 * cov0 + 0.1 * np.eye(d)
    return rng.standard_normal(d) * 0.5, cov, rng.standard_normal(d) * 0.5, cov0


def test_gaussian_kl_matches_monte_carlo(rng):
    for _ in range(3):
        m, S, m0, S0 = random_gaussians(rng)
        x = rng.multivariate_normal(m, S, size=200_000)
        log_ratio = stats.multivariate_normal(m, S).logpdf(x) - stats.multivariate_normal(
            m0, S0
        ).logpdf(x)
        se = log_ratio.std() / np.sqrt(x.shape[0])
        assert kl_gaussian(m, S, m0, S0) == pytest.approx(log_ratio.mean(), abs=4 * se)


def test_gaussian_renyi2_matches_monte_carlo(rng):
    for _ in range(3):
        m, S, m0, S0 = random_gaussians(rng)
        x = rng.multivariate_normal(m, S, size=400_000)
        ratio = np.exp(
            stats.multivariate_normal(m, S).logpdf(x) - stats.multivariate_normal(m0, S0).logpdf(x)
        )
        # D2 = ln E_pi[(rho/pi)^2] = ln E_rho[rho/pi].
        mc = np.log(ratio.mean())
        se = ratio.std() / ratio.mean() / np.sqrt(x.shape[0])
        assert renyi2_gaussian(m, S, m0, S0) == pytest.approx(mc, abs=4 * se + 1e-3)
    assert renyi2_gaussian([0.0], [[2.5]], [0.0], [[1.0]]) == np.inf


def truncated_reference(post, prior, a: float) -> tuple[float, float]:
    """KL and D2 of 1-D Gaussians truncated to (-inf, a), by quadrature in log space."""
    rho, pi = stats.norm(post[0], post[1]), stats.norm(prior[0], prior[1])
    log_zr, log_zp = rho.logcdf(a), pi.logcdf(a)
    lo = min(post[0] - 12 * post[1], prior[0] - 12 * prior[1])

    def log_ratio(t):
        return rho.logpdf(t) - log_zr - pi.logpdf(t) + log_zp

    def kl_integrand(t):
        return np.exp(rho.logpdf(t) - log_zr) * log_ratio(t)

    def d2_integrand(t):
        return np.exp(rho.logpdf(t) - log_zr + log_ratio(t))

    kl = integrate.quad(kl_integrand, lo, a, limit=200)[0]
    d2 = np.log(integrate.quad(d2_integrand, lo, a, limit=200)[0])
    return kl, d2


@pytest.mark.parametrize(
    ("post", "prior", "a"),
    [((0.3, 0.5), (0.0, 1.0), 0.5), ((-0.5, 0.3), (0.2, 0.6), 0.0), ((0.0, 0.2), (0.0, 1.0), 3.0)],
)
def test_truncated_divergences_match_quadrature(post, prior, a):
    rng = np.random.default_rng(5)

    def support(t):
        return t[:, 0] < a

    rho = TruncatedGaussian(mean=[post[0]], cov=[[post[1] ** 2]], support=support)
    pi = TruncatedGaussian(mean=[prior[0]], cov=[[prior[1] ** 2]], support=support)
    kl_ref, d2_ref = truncated_reference(post, prior, a)
    kl = kl_divergence(rho, pi, rng, n_samples=400_000)
    d2 = renyi2_divergence(rho, pi, rng, n_samples=400_000)
    assert kl.value == pytest.approx(kl_ref, abs=0.01 + 0.01 * kl_ref)
    assert d2.value == pytest.approx(d2_ref, abs=0.01 + 0.01 * d2_ref)
    assert kl.posterior_mass == pytest.approx(stats.norm(*post).cdf(a), abs=0.005)
    assert kl.prior_mass == pytest.approx(stats.norm(*prior).cdf(a), abs=0.005)


# ------------------------------------------------------------------------------- Psi


def test_psi_kalman_equals_dense(mimo_system):
    th = Predictor(
        A=0.9 * mimo_system.A,
        B=mimo_system.B,
        C=mimo_system.C,
        D=mimo_system.D + 0.1,
        K=0.5 * mimo_system.K,
    )
    for N in (10, 120):
        lam = np.sqrt(N)
        assert psi_model(mimo_system, th, N, lam) == pytest.approx(
            psi_model(mimo_system, th, N, lam, method="dense"), rel=1e-8, abs=1e-10
        )


def test_psi_is_the_exponential_moment_of_the_generalisation_gap(siso):
    """exp(psi_model) = E_data exp(lam (L - V_N)), checked by Monte Carlo over trajectories."""
    th = Predictor(A=0.95 * siso.A, B=siso.B + 0.1, C=siso.C, D=siso.D, K=0.8 * siso.K)
    N, lam, trials = 100, 10.0, 4000
    rng = np.random.default_rng(21)
    L = generalization_error(siso, th)
    gaps = np.array([L - empirical_loss(th, *simulate(siso, N, rng)) for _ in range(trials)])
    w = np.exp(lam * gaps)
    se = w.std() / w.mean() / np.sqrt(trials)
    assert psi_model(siso, th, N, lam) == pytest.approx(np.log(w.mean()), abs=4 * se)
    # The cheap quadratic bound lam (L - E V_N) + lam^2 Var / 2 is above the exact value.
    mean, var = loss_moments(siso, th, N)
    assert psi_model(siso, th, N, lam) <= lam * (L - mean) + lam**2 * var / 2


def test_psi_prior_concentrated_prior_equals_the_model_value(siso, rng):
    param = Parametrization(nominal=siso)
    prior = stable_gaussian(param, std=1e-7)
    est = psi_prior(siso, prior, param, 200, np.sqrt(200), rng, n_samples=20)
    assert est.source == "true-system" and est.n_samples == 20
    assert est.value == pytest.approx(psi_model(siso, siso, 200, np.sqrt(200)), abs=1e-4)
    grid = psi_prior(siso, prior, param, 200, [5.0, 10.0], rng, n_samples=5)
    assert grid.value.shape == (2,)


def test_psi_upper_bound_dominates_the_exact_value(siso, rng):
    param = Parametrization(nominal=siso)
    prior = stable_gaussian(param, std=0.03, r_bar=0.95)
    thetas, _ = prior.sample(40, rng)
    N, lam = 80, np.sqrt(80)
    exact, Ls, spec, trans = [], [], [], []
    for t in thetas:
        th = param.predictor(t)
        L = generalization_error(siso, th)
        R = error_covariance(siso, th, N)
        exact.append(psi_model(siso, th, N, lam))
        Ls.append(L)
        spec.append(np.linalg.eigvalsh(R)[-1])
        trans.append(N * abs(np.trace(R) / N - L))
    bound = psi_upper_bound(
        N, lam, loss_bound=max(Ls), spectral_bound=max(spec), transient_bound=max(trans)
    )
    assert bound.source == "upper-bound"
    assert bound.value >= max(exact)
    with pytest.raises(LTIError, match=r"spectral_bound"):
        psi_upper_bound(N, lam, loss_bound=1.0, spectral_bound=-1.0, transient_bound=0.0)


# ------------------------------------------------------------------------------- bounds


def test_kl_bound_formula_and_lambda_grid():
    b = kl_bound(0.3, 2.0, lam=10.0, delta=0.05, psi=0.5, N=100, psi_source="true-system")
    assert b.value == pytest.approx(0.3 + (2.0 + np.log(20) + 0.5) / 10)
    assert (b.form, b.psi_source, b.n_lambdas) == ("kl", "true-system", 1)
    grid = kl_bound(
        0.3,
        2.0,
        lam=[5.0, 10.0, 40.0],
        delta=0.05,
        psi=PsiEstimate(np.array([0.1, 0.5, 30.0]), "upper-bound", 0, None),
        N=100,
    )
    manual = [
        0.3 + (2.0 + np.log(3 / 0.05) + p) / lm for lm, p in ((5.0, 0.1), (10.0, 0.5), (40.0, 30.0))
    ]
    assert grid.value == pytest.approx(min(manual))
    assert grid.lam == 10.0 and grid.delta == pytest.approx(0.05 / 3)
    assert grid.psi_source == "upper-bound" and grid.n_lambdas == 3
    with pytest.raises(LTIError, match=r"psi_source"):
        kl_bound(0.3, 2.0, lam=10.0, delta=0.05, psi=0.5, N=100)
    with pytest.raises(LTIError, match=r"psi: computed for lambda = 5.0"):
        kl_bound(0.3, 2.0, lam=10.0, delta=0.05, psi=PsiEstimate(0.1, "true-system", 9, 5.0), N=100)
    with pytest.raises(LTIError, match=r"delta"):
        kl_bound(0.3, 2.0, lam=10.0, delta=0.0, psi=0.5, N=100, psi_source="true-system")


def test_renyi2_bound_formula():
    b = renyi2_bound(0.3, 1.0, m2=0.01, delta=0.05, N=100, psi_source="true-system")
    assert b.value == pytest.approx(0.3 + np.sqrt(0.01 / 0.05) * np.exp(0.5))
    assert b.form == "renyi2" and b.lam is None


# ------------------------------------------------------------------------------- behaviour


def test_coverage_fast():
    """Fast version of the coverage study: 60 trajectories at N = 300, both bound forms."""
    design = Design.make(second_order(), np.random.default_rng(1), scales=(0.3, 0.6, 1.0))
    for form in ("kl", "renyi2"):
        study = dataclasses.replace(design, form=form).at(300, np.random.default_rng(3))
        res = study.run(60, np.random.default_rng(2), method="n4sid")
        assert res.psi_source == "true-system"
        assert res.form == form
        assert res.coverage >= 0.95, form


def gap_slope(ns, trials: int, method: str) -> tuple[list[float], float, float]:
    """Mean bound - E_rho L per N, its log-log slope, and the true loss at the largest N."""
    design = Design.make(second_order(), np.random.default_rng(1))
    gaps = []
    for N in ns:
        res = design.at(N, np.random.default_rng(N)).run(
            trials, np.random.default_rng(N), method=method
        )
        assert res.coverage == 1.0
        gaps.append(float(np.mean(res.bounds - res.true_losses)))
    return gaps, float(np.polyfit(np.log(ns), np.log(gaps), 1)[0]), float(np.mean(res.true_losses))


def test_bound_gap_shrinks_like_inverse_sqrt_n():
    gaps, slope, loss = gap_slope((1000, 3000, 9000, 27000), trials=3, method="n4sid")
    assert -0.8 < slope < -0.3, (gaps, slope)
    # At the largest N the bound is within 20 % of the true loss.
    assert gaps[-1] < 0.2 * loss


@pytest.mark.slow
def test_bound_gap_shrinks_like_inverse_sqrt_n_with_pem():
    gaps, slope, loss = gap_slope((1000, 4000, 16000, 64000, 256000), trials=6, method="pem")
    assert -0.75 < slope < -0.3, (gaps, slope)
    assert gaps[-1] < 0.1 * loss


def test_gibbs_posterior_bound_holds_and_is_tightest():
    study = Design.make(second_order(), np.random.default_rng(3)).at(1000, np.random.default_rng(5))
    rng = np.random.default_rng(4)
    u, y = simulate(study.design.system, 1000, rng)
    gibbs = study.evaluate(u, y, rng, "gibbs")
    gauss = study.evaluate(u, y, rng, "pem")
    assert not gibbs.fallback and not gauss.fallback
    assert gibbs.bound.value >= gibbs.true_loss
    assert gibbs.bound.divergence >= 0.0
    assert gibbs.bound.value <= gauss.bound.value + 0.02
    assert gibbs.bound.value < 1.5 * gibbs.true_loss
