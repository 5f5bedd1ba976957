"""PAC-Bayes bounds for models learned from recorded data, where there is no true system.

The recipe for a log (e.g. a flight log, `swarmsim.dynamics.flightlog`):

1. A held-out pilot log, never used for training, fixes everything the bound needs before the
   training data (``LogDesign.from_pilot``): the model order (given, or by BIC), the
   parametrisation and a Gaussian prior centred on the pilot estimate, and the loss scale
   l0 (the pilot model's innovation variance) of lambda = sqrt(N) / l0, which makes the bound
   independent of the output's units.
2. Psi = ln E_pi E_data exp(lambda (L - V_N)) needs the data generator, and a log has none to
   compute it from. ``psi_generator_set`` replaces it by its largest value over a set of
   candidate stochastic LTI generators (``candidate_generators``: the pilot model and draws
   from the prior, with the known input model and a pessimistic innovation variance);
   ``psi_source = "generator-set"``. The bound then holds, with probability >= 1 - delta, for
   data from any generator of that set: an assumption about the log, which validation on fresh
   logs checks, not a certificate.
3. Each training log gives a learner's estimate, the bound-minimising Gaussian posterior around
   it and its bound (``LogStudy.evaluate``); E_rho V averaged over fresh validation logs
   estimates the generalisation error E_rho L that the bound is about (the loss on one log
   scatters around it, more so with slow disturbances such as wind).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.special import logsumexp

from swarmsim.lti.identify import pem, select_order, subspace_id
from swarmsim.lti.model import (
    InputFilter,
    LTIError,
    StochasticLTI,
    _check_n,
    error_logdet,
    generalization_error,
)
from swarmsim.lti.pacbayes import (
    Parametrization,
    PsiEstimate,
    TruncatedGaussian,
    gaussian_posterior_bound,
    stable_gaussian,
)
from swarmsim.lti.response import response_summary

__all__ = [
    "LogDesign",
    "LogResult",
    "LogStudy",
    "ar1_filter",
    "candidate_generators",
    "pilot_covariance",
    "psi_generator_set",
]

Lambda = float | Literal["sqrt", "sqrt-scaled"]
SCALES = (0.1, 0.2, 0.35, 0.5, 0.7, 1.0)


def ar1_filter(pole: float, std: float) -> InputFilter:
    """The input model u(k+1) = a u(k) + std sqrt(1 - a^2) w(k), w ~ N(0, 1) (stationary std)."""
    if not 0.0 <= pole < 1.0 or not std > 0.0:
        raise LTIError(f"input_filter: expected 0 <= pole < 1 and std > 0, got {pole!r}, {std!r}")
    return InputFilter(A=[[pole]], B=[[std * math.sqrt(1.0 - pole * pole)]], C=[[1.0]], D=[[0.0]])


def pilot_covariance(
    param: Parametrization, u: np.ndarray, y: np.ndarray, step: float = 1e-6
) -> np.ndarray:
    """Asymptotic covariance (d, d) of the prediction-error estimate at ``param``'s nominal on
    (u, y): sigma^2 (J^T J)^-1, J the Jacobian of the prediction errors (central differences)
    and sigma^2 their mean square; the Cramer-Rao covariance for Gaussian innovations."""
    from swarmsim.lti.model import prediction_errors

    d = param.size
    eps0 = prediction_errors(param.predictor(np.zeros(d)), u, y).ravel()
    J = np.empty((eps0.size, d))
    for j in range(d):
        h = np.zeros(d)
        h[j] = step
        J[:, j] = (
            prediction_errors(param.predictor(h), u, y).ravel()
            - prediction_errors(param.predictor(-h), u, y).ravel()
        ) / (2.0 * step)
    info = J.T @ J / float(np.mean(eps0**2))
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError as exc:
        raise LTIError(
            "order: the pilot estimate's parameters are not identifiable "
            "(singular information matrix); lower the order"
        ) from exc
    return 0.5 * (cov + cov.T)


def candidate_generators(
    param: Parametrization,
    prior: TruncatedGaussian,
    noise_cov: np.ndarray,
    rng: np.random.Generator,
    *,
    count: int,
    input_filter: InputFilter | None = None,
    input_cov: np.ndarray | None = None,
) -> list[StochasticLTI]:
    """The nominal model and count - 1 prior draws as stochastic LTI data generators.

    Draws whose A is not Schur stable are skipped (a stationary log cannot come from them), so
    fewer may be returned. Every generator has innovation covariance ``noise_cov`` and the
    given input model.
    """
    if count < 1:
        raise LTIError(f"count: expected at least one generator, got {count!r}")
    thetas = np.zeros((1, param.size))
    if count > 1:
        thetas = np.vstack([thetas, prior.sample(count - 1, rng)[0]])
    out = []
    for th in thetas:
        p = param.predictor(th)
        try:
            out.append(
                StochasticLTI(
                    A=p.A,
                    B=p.B,
                    C=p.C,
                    D=p.D,
                    K=p.K,
                    noise_cov=noise_cov,
                    input_cov=input_cov,
                    input_filter=input_filter,
                )
            )
        except LTIError:
            continue
    return out


def psi_generator_set(
    generators: Sequence[StochasticLTI],
    prior: TruncatedGaussian,
    param: Parametrization,
    N: int,
    lam: float,
    rng: np.random.Generator,
    *,
    n_samples: int = 100,
) -> PsiEstimate:
    """max over the generators of Psi = ln E_pi exp(lam L - 1/2 ln det(I + (2 lam / N) R_eps)).

    Each generator's Psi is the log-mean-exp over the same ``n_samples`` prior draws (exact
    per draw for Gaussian data, as in ``psi_prior``); the result's source is "generator-set".
    """
    N = _check_n(N)
    if not generators:
        raise LTIError("generators: expected at least one candidate data generator")
    if not lam > 0:
        raise LTIError(f"lam: expected a positive number, got {lam!r}")
    thetas, _ = prior.sample(n_samples, rng)
    predictors = [param.predictor(th) for th in thetas]
    worst = -np.inf
    for gen in generators:
        vals = [
            lam * generalization_error(gen, p) - 0.5 * error_logdet(gen, p, N, 2.0 * lam / N)
            for p in predictors
        ]
        worst = max(worst, float(logsumexp(vals) - np.log(n_samples)))
    return PsiEstimate(worst, "generator-set", n_samples, lam)


@dataclass(frozen=True, kw_only=True)
class LogDesign:
    """Everything fixed from the pilot log before any training log is seen.

    Attributes:
        pilot: the model identified on the pilot log (its noise_cov: the loss scale l0).
        param: parametrisation centred on it.
        prior: truncated Gaussian prior on ``param``'s parameters.
        prior_mass: probability of the truncation set under the untruncated prior.
        order: state dimension of the learned models.
        order_scores: BIC per tried order when the order was selected (else empty).
        generators: candidate data generators for Psi.
        delta: confidence parameter.
        lam: "sqrt" (sqrt(N)), "sqrt-scaled" (sqrt(N) / l0) or a number.
        n_psi: prior draws per generator for Psi.
        n_posterior: posterior draws for E_rho V_N.
        n_divergence: draws for the truncation corrections of the KL divergence.
    """

    pilot: StochasticLTI
    param: Parametrization
    prior: TruncatedGaussian
    prior_mass: float
    order: int
    order_scores: dict[int, float]
    generators: tuple[StochasticLTI, ...]
    delta: float = 0.05
    lam: Lambda = "sqrt-scaled"
    n_psi: int = 100
    n_posterior: int = 150
    n_divergence: int = 1000

    @classmethod
    def from_pilot(
        cls,
        u: np.ndarray,
        y: np.ndarray,
        rng: np.random.Generator,
        *,
        order: int | None = None,
        max_order: int = 5,
        std: float = 0.03,
        prior_cov: Literal["diagonal", "pilot"] = "diagonal",
        r_bar: float = 0.95,
        parametrization: Literal["auto", "observer", "full"] = "auto",
        n_generators: int = 12,
        input_filter: InputFilter | None = None,
        input_cov: np.ndarray | None = None,
        **settings: Any,
    ) -> LogDesign:
        """Identify the pilot model (N4SID + PEM) and fix prior, lambda scale and generators.

        The generators' innovation variance is the pilot's times 1 + 3 sqrt(2 / N_pilot), a
        three-sigma upper value for a variance estimated from N_pilot samples.

        Args:
            u, y: the pilot log, (N, nu) and (N, ny).
            rng: source of the prior-mass estimate and the generator draws.
            order: model order; None selects it by BIC over 1..max_order on the pilot log.
            std: the prior's standard deviation per parameter ("diagonal"), or its scale
                relative to the pilot estimate's own standard errors ("pilot").
            prior_cov: "diagonal" (std^2 I) or "pilot" (std^2 times ``pilot_covariance`` on
                the pilot log: the prior is as wide as the pilot estimate is uncertain).
            r_bar, parametrization: truncation and parameters (as in
                ``experiment.Design.make``).
            n_generators: candidate generators for Psi (the pilot model included).
            input_filter, input_cov: the known input model of the logs (the excitation).
            settings: further fields (delta, lam, n_psi, n_posterior, n_divergence).

        Raises:
            LTIError: the pilot log cannot be identified or the settings are unusable.
        """
        u, y = np.asarray(u, float), np.asarray(y, float)
        scores: dict[int, float] = {}
        if order is None:
            sel = select_order(u, y, orders=range(1, max_order + 1))
            order, scores, nominal = sel.order, sel.scores, sel.model
        else:
            nominal = pem(u, y, subspace_id(u, y, order))
        if parametrization == "auto":
            parametrization = "observer" if nominal.ny == 1 else "full"
        param = Parametrization(nominal=nominal, form=parametrization)
        if prior_cov == "pilot":
            prior = stable_gaussian(param, cov=std**2 * pilot_covariance(param, u, y), r_bar=r_bar)
        elif prior_cov == "diagonal":
            prior = stable_gaussian(param, std=std, r_bar=r_bar)
        else:
            raise LTIError(f"prior_cov: expected 'diagonal' or 'pilot', got {prior_cov!r}")
        mass = prior.mass(rng)
        if mass <= 0.0:
            raise LTIError(
                "prior: no draw fell inside the truncation set rho(A - K C) <= "
                "r_bar; narrow the prior or widen r_bar"
            )
        noise = np.asarray(nominal.noise_cov) * (1.0 + 3.0 * math.sqrt(2.0 / y.shape[0]))
        gens = candidate_generators(
            param,
            prior,
            noise,
            rng,
            count=n_generators,
            input_filter=input_filter,
            input_cov=input_cov,
        )
        if not gens:
            raise LTIError("order: the pilot model is not a stable data generator")
        design = cls(
            pilot=nominal,
            param=param,
            prior=prior,
            prior_mass=mass,
            order=int(order),
            order_scores=scores,
            generators=tuple(gens),
            **settings,
        )
        design.check()
        return design

    @property
    def loss_scale(self) -> float:
        """l0: the pilot model's one-step prediction error (trace of its innovation cov)."""
        return float(np.trace(self.pilot.noise_cov))

    def check(self) -> None:
        """Raise LTIError for settings no study can use."""
        if not 0.0 < self.delta <= 1.0:
            raise LTIError(f"delta: expected a confidence level in (0, 1], got {self.delta!r}")
        if self.lam not in ("sqrt", "sqrt-scaled") and not (
            isinstance(self.lam, (int, float)) and self.lam > 0
        ):
            raise LTIError(
                f"lam: expected a positive number, 'sqrt' or 'sqrt-scaled', got {self.lam!r}"
            )

    def lambda_at(self, N: int) -> float:
        """lambda for N training samples."""
        if self.lam == "sqrt":
            return math.sqrt(N)
        if self.lam == "sqrt-scaled":
            return math.sqrt(N) / self.loss_scale
        return float(self.lam)


@dataclass(frozen=True)
class LogResult:
    """The training logs of one length N, as arrays of shape (trials,).

    Attributes:
        N: samples per training log.
        lam: lambda.
        psi: Psi over the generator set.
        bounds: the bounds on E_rho L.
        empirical_losses: E_rho V_N on the training logs.
        validation_losses: E_rho V averaged over the fresh validation logs (estimates of
            E_rho L).
        divergences: KL(rho || pi).
        fallbacks: trials whose learner failed (posterior centred on the prior mean).
        models: the learner's point estimates (None where it failed).
        seconds: wall time, Psi included.
    """

    N: int
    lam: float
    psi: PsiEstimate
    bounds: np.ndarray
    empirical_losses: np.ndarray
    validation_losses: np.ndarray
    divergences: np.ndarray
    fallbacks: int
    models: tuple[StochasticLTI | None, ...]
    seconds: float

    @property
    def held(self) -> float:
        """Fraction of trials whose bound is at least the validation loss."""
        return float(np.mean(self.bounds >= self.validation_losses))

    def summary(self, rate: float | None = None) -> dict[str, Any]:
        """Plain JSON-serialisable figures; with the sampling rate (Hz), also the response
        characteristics of the first trial's model and the mean gain and rise time."""
        out: dict[str, Any] = {
            "N": self.N,
            "trials": int(self.bounds.size),
            "lambda": self.lam,
            "psi": float(self.psi.value),
            "mean_empirical_loss": float(np.mean(self.empirical_losses)),
            "mean_validation_loss": float(np.mean(self.validation_losses)),
            "mean_bound": float(np.mean(self.bounds)),
            "bound_held": self.held,
            "mean_divergence": float(np.mean(self.divergences)),
            "learner_fallbacks": self.fallbacks,
            "seconds": self.seconds,
        }
        models = [m for m in self.models if m is not None]
        if rate is not None and models and models[0].nu == 1 and models[0].ny == 1:
            stats = [response_summary(m, rate) for m in models]
            out["model"] = stats[0]
            out["model"]["matrices"] = {
                k: np.asarray(getattr(models[0], k)).tolist() for k in ("A", "B", "C", "D", "K")
            }
            for key in ("steady_state_gain", "rise_time_63", "dominant_time_constant"):
                out[f"mean_{key}"] = float(np.mean([s[key] for s in stats]))
        return out


@dataclass(frozen=True)
class LogStudy:
    """A ``LogDesign`` at one training length N, with its lambda and Psi."""

    design: LogDesign
    N: int
    lam: float
    psi: PsiEstimate

    @classmethod
    def at(cls, design: LogDesign, N: int, rng: np.random.Generator) -> LogStudy:
        """lambda and Psi (over the design's generators) for N training samples."""
        N = _check_n(N)
        lam = design.lambda_at(N)
        psi = psi_generator_set(
            design.generators, design.prior, design.param, N, lam, rng, n_samples=design.n_psi
        )
        return cls(design, N, lam, psi)

    def evaluate(
        self,
        u: np.ndarray,
        y: np.ndarray,
        validation: Sequence[tuple[np.ndarray, np.ndarray]],
        rng: np.random.Generator,
        *,
        method: Literal["n4sid", "pem"] = "pem",
    ) -> tuple[float, float, float, float, StochasticLTI | None]:
        """Learn from (u, y), bound the posterior, and validate it on fresh (u, y) logs.

        Returns:
            (bound, E_rho V_N on the training log, E_rho V averaged over the validation logs,
            KL(rho || pi), the learner's estimate or None if it failed).
        """
        d = self.design
        if method not in ("n4sid", "pem"):
            raise LTIError(f"method: expected 'n4sid' or 'pem' for logs, got {method!r}")
        try:
            model = subspace_id(u, y, d.order)
            if method == "pem":
                model = pem(u, y, model)
            fit = self._fit(u, y, d.param.encode(model), rng)
        except LTIError:
            # A failed learner is not a failed bound: the bound holds for every posterior.
            model = None
            fit = self._fit(u, y, d.prior.mean, rng)
        val = float(np.mean([np.mean(d.param.losses(fit.thetas, uv, yv)) for uv, yv in validation]))
        b = fit.bound
        return b.value, b.empirical_loss, val, b.divergence, model

    def _fit(self, u: np.ndarray, y: np.ndarray, center: np.ndarray, rng: np.random.Generator):
        d = self.design
        return gaussian_posterior_bound(
            u,
            y,
            d.prior,
            d.param,
            center,
            lam=self.lam,
            delta=d.delta,
            psi=self.psi,
            rng=rng,
            scales=SCALES,
            n_samples=d.n_posterior,
            n_divergence_samples=d.n_divergence,
            prior_mass=d.prior_mass,
        )

    def run(
        self,
        train: Sequence[tuple[np.ndarray, np.ndarray]],
        validation: Sequence[tuple[np.ndarray, np.ndarray]],
        rng: np.random.Generator,
        *,
        method: Literal["n4sid", "pem"] = "pem",
    ) -> LogResult:
        """One trial per training log (cut to N samples), each validated on all the
        validation logs."""
        if not train or not validation:
            raise LTIError(
                f"trials: expected at least one training and one validation log, "
                f"got {len(train)} and {len(validation)}"
            )
        start = time.perf_counter()
        rows, models = [], []
        for u, y in train:
            if u.shape[0] < self.N:
                raise LTIError(
                    f"N: the training logs have {u.shape[0]} samples, fewer than {self.N}"
                )
            *row, model = self.evaluate(u[: self.N], y[: self.N], validation, rng, method=method)
            rows.append(row)
            models.append(model)
        arr = np.array(rows)
        return LogResult(
            self.N,
            self.lam,
            self.psi,
            arr[:, 0],
            arr[:, 1],
            arr[:, 2],
            arr[:, 3],
            sum(m is None for m in models),
            tuple(models),
            time.perf_counter() - start,
        )
