"""Simulation studies of the PAC-Bayes bounds on a known system.

A study fixes everything the bound needs before any training trajectory is seen (``Design``):
a parametrisation and a Gaussian prior centred on a model identified on an independent pilot
trajectory, truncated to rho(A - K C) <= r_bar. At each sample size N (``Study``) Psi (KL form)
or M2 (Renyi-2 form) is computed once from the true system, ``psi_source = "true-system"``; a
real data set would replace it by an upper bound. Each trial then draws a trajectory, learns a
posterior from it and compares the bound with the posterior's exact expected loss E_rho L.

Typical use::

    results = run_experiment(system, [500, 1000, 2000], trials=20, seed=0, method="pem")
    [(r.N, r.coverage, r.mean_bound, r.mean_true_loss) for r in results]
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypedDict

import numpy as np

from swarmsim.lti.identify import gibbs_sample, pem, subspace_id
from swarmsim.lti.model import LTIError, StochasticLTI, _check_n, simulate
from swarmsim.lti.pacbayes import (
    Bound,
    Parametrization,
    PsiEstimate,
    TruncatedGaussian,
    default_lambda,
    gaussian_posterior_bound,
    gibbs_bound,
    log_partition,
    m2_prior,
    psi_prior,
    stable_gaussian,
)

if TYPE_CHECKING:
    from typing import Unpack

__all__ = [
    "Design",
    "Study",
    "StudyResult",
    "Trial",
    "run_experiment",
]

Method = Literal["n4sid", "pem", "gibbs"]
Form = Literal["kl", "renyi2"]
Lambda = float | Literal["sqrt"]

METHODS = ("n4sid", "pem", "gibbs")
FORMS = ("kl", "renyi2")
# Posterior scales (times the prior's standard deviations) tried by the Gaussian posterior.
SCALES = (0.1, 0.2, 0.35, 0.5, 0.7, 1.0)
# Gibbs posterior: Metropolis burn-in and thinning, and the annealed importance sampler of
# ln Z (particles, temperatures); enough for the coverage studies at N <= a few thousand.
GIBBS_BURN_IN, GIBBS_THIN = 400, 2
AIS_PARTICLES, AIS_TEMPERATURES = 64, 60


class DesignSettings(TypedDict, total=False):
    """The ``Design`` fields with defaults, as keyword arguments of ``Design.make``."""

    delta: float
    lam: Lambda
    form: Form
    n_psi: int
    n_posterior: int
    n_divergence: int
    scales: tuple[float, ...]


@dataclass(frozen=True, kw_only=True)
class Design:
    """Everything fixed before the training data: system, parametrisation, prior, settings.

    Attributes:
        system: the true data generator.
        param: parametrisation of the hypotheses, centred on the pilot estimate.
        prior: truncated Gaussian prior on ``param``'s parameters.
        prior_mass: probability of the truncation set under the untruncated prior.
        order: state dimension of the learned models.
        delta: confidence parameter.
        lam: lambda of the KL form: a number, or "sqrt" for sqrt(N).
        form: "kl" or "renyi2".
        n_psi: prior draws for Psi (or M2).
        n_posterior: posterior draws for E_rho V_N and E_rho L.
        n_divergence: draws for the truncation corrections of the divergence.
        scales: posterior scales tried by the Gaussian posterior.
    """

    system: StochasticLTI
    param: Parametrization
    prior: TruncatedGaussian
    prior_mass: float
    order: int
    delta: float = 0.05
    lam: Lambda = "sqrt"
    form: Form = "kl"
    n_psi: int = 200
    n_posterior: int = 150
    n_divergence: int = 1000
    scales: tuple[float, ...] = SCALES

    @classmethod
    def make(
        cls,
        system: StochasticLTI,
        rng: np.random.Generator,
        *,
        order: int | None = None,
        pilot_N: int = 2000,
        std: float = 0.03,
        r_bar: float = 0.95,
        parametrization: Literal["auto", "observer", "full"] = "auto",
        **settings: Unpack[DesignSettings],
    ) -> Design:
        """Identify a pilot model on an independent trajectory and centre the prior on it.

        Args:
            system: the true data generator.
            rng: source of the pilot trajectory and the prior-mass estimate.
            order: state dimension of the learned models; the system's if None.
            pilot_N: samples of the pilot trajectory.
            std: prior standard deviation per parameter.
            r_bar: the prior is truncated to rho(A - K C) <= r_bar.
            parametrization: "observer" (one output), "full", or "auto" (observer for one
                output, full otherwise).
            settings: the remaining ``Design`` fields (delta, lam, form, n_psi, ...).

        Raises:
            LTIError: bad settings, or the pilot model cannot be identified.
        """
        order = system.n if order is None else order
        if parametrization == "auto":
            parametrization = "observer" if system.ny == 1 else "full"
        u, y = simulate(system, _check_n(pilot_N), rng)
        nominal = pem(u, y, subspace_id(u, y, order))
        param = Parametrization(nominal=nominal, form=parametrization)
        prior = stable_gaussian(param, std=std, r_bar=r_bar)
        design = cls(
            system=system,
            param=param,
            prior=prior,
            prior_mass=prior.mass(rng),
            order=order,
            **settings,
        )
        design.check()
        return design

    def check(self) -> None:
        """Raise LTIError for settings no study can use."""
        if not 0.0 < self.delta <= 1.0:
            raise LTIError(f"delta: expected a confidence level in (0, 1], got {self.delta!r}")
        if self.lam != "sqrt" and not (isinstance(self.lam, (int, float)) and self.lam > 0):
            raise LTIError(f"lam: expected a positive number or 'sqrt', got {self.lam!r}")
        if self.form not in FORMS:
            raise LTIError(f"form: expected one of {FORMS}, got {self.form!r}")
        if self.prior_mass <= 0.0:
            raise LTIError(
                "prior: no draw fell inside the truncation set rho(A - K C) <= r_bar; "
                "narrow the prior or widen r_bar"
            )

    def at(self, N: int, rng: np.random.Generator) -> Study:
        """The study at N samples: lambda and Psi (KL) or M2 (Renyi-2) for this N."""
        N = _check_n(N)
        lam = default_lambda(N) if self.lam == "sqrt" else float(self.lam)
        if self.form == "kl":
            complexity = psi_prior(
                self.system, self.prior, self.param, N, lam, rng, n_samples=self.n_psi
            )
        else:
            complexity = m2_prior(self.system, self.prior, self.param, N, rng, n_samples=self.n_psi)
        return Study(design=self, N=N, lam=lam, complexity=complexity)


@dataclass(frozen=True)
class Trial:
    """One training trajectory's outcome.

    Attributes:
        bound: the PAC-Bayes bound of the learned posterior.
        true_loss: its exact expected generalisation error E_rho L (mean over posterior draws).
        fallback: the learner failed on this trajectory and the posterior was centred on the
            prior mean instead (the bound stays valid: it holds for every posterior).
    """

    bound: Bound
    true_loss: float
    fallback: bool = False


@dataclass(frozen=True)
class StudyResult:
    """The trials of one study, as arrays of shape (trials,).

    Attributes:
        N: samples per trajectory.
        method: the learner.
        form: "kl" or "renyi2".
        psi_source: where Psi (or M2) came from ("true-system").
        lam: lambda of the KL form (None for Renyi-2).
        complexity: Psi (KL) or M2 (Renyi-2).
        bounds: the bounds.
        true_losses: E_rho L of each posterior.
        empirical_losses: E_rho V_N of each posterior on its training data.
        divergences: KL(rho || pi) or D2(rho || pi).
        fallbacks: number of trials whose learner failed (see ``Trial.fallback``).
        seconds: wall time of the study, Psi included.
    """

    N: int
    method: str
    form: str
    psi_source: str
    lam: float | None
    complexity: float
    bounds: np.ndarray
    true_losses: np.ndarray
    empirical_losses: np.ndarray
    divergences: np.ndarray
    fallbacks: int
    seconds: float

    @property
    def coverage(self) -> float:
        """Fraction of trials whose bound is at least the true E_rho L."""
        return float(np.mean(self.bounds >= self.true_losses))

    @property
    def mean_bound(self) -> float:
        return float(np.mean(self.bounds))

    @property
    def mean_true_loss(self) -> float:
        return float(np.mean(self.true_losses))

    @property
    def mean_empirical_loss(self) -> float:
        return float(np.mean(self.empirical_losses))

    def summary(self) -> dict[str, object]:
        """Plain JSON-serialisable figures of this N."""
        return {
            "N": self.N,
            "trials": int(self.bounds.size),
            "lambda": self.lam,
            "complexity": float(self.complexity),
            "mean_empirical_loss": self.mean_empirical_loss,
            "mean_true_loss": self.mean_true_loss,
            "mean_bound": self.mean_bound,
            "coverage": self.coverage,
            "mean_divergence": float(np.mean(self.divergences)),
            "learner_fallbacks": self.fallbacks,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class Study:
    """A ``Design`` at one sample size N, with its lambda and Psi (or M2)."""

    design: Design
    N: int
    lam: float
    complexity: PsiEstimate

    def center(self, u: np.ndarray, y: np.ndarray, method: Method) -> np.ndarray:
        """Parameter vector of the learner's point estimate: N4SID, or N4SID refined by PEM
        for "pem"; "gibbs" starts its chains at the N4SID estimate.

        Raises:
            LTIError: the identification failed (e.g. too few samples).
        """
        d = self.design
        model = subspace_id(u, y, d.order)
        if method == "pem":
            model = pem(u, y, model)
        return d.param.encode(model)

    def evaluate(
        self, u: np.ndarray, y: np.ndarray, rng: np.random.Generator, method: Method
    ) -> Trial:
        """Learn a posterior from (u, y) and bound it; rng drives the Monte-Carlo draws."""
        if method not in METHODS:
            raise LTIError(f"method: expected one of {METHODS}, got {method!r}")
        if method == "gibbs" and self.design.form != "kl":
            raise LTIError(
                f"form: the Gibbs posterior's bound has the KL form, not {self.design.form!r}"
            )
        try:
            return self._evaluate(u, y, rng, method, self.center(u, y, method), False)
        except LTIError:
            # A failed identification (or a posterior with no mass in the stable set) is a
            # property of the learner, not of the bound: fall back on the prior mean.
            return self._evaluate(u, y, rng, method, self.design.prior.mean, True)

    def _evaluate(
        self,
        u: np.ndarray,
        y: np.ndarray,
        rng: np.random.Generator,
        method: Method,
        center: np.ndarray,
        fallback: bool,
    ) -> Trial:
        d = self.design
        if method == "gibbs":
            bound, thetas = self._gibbs(u, y, rng, center)
        else:
            fit = gaussian_posterior_bound(
                u,
                y,
                d.prior,
                d.param,
                center,
                lam=self.lam,
                delta=d.delta,
                psi=self.complexity,
                rng=rng,
                form=d.form,
                scales=d.scales,
                n_samples=d.n_posterior,
                n_divergence_samples=d.n_divergence,
                prior_mass=d.prior_mass,
            )
            bound, thetas = fit.bound, fit.thetas
        true_loss = float(np.mean(d.param.true_losses(d.system, thetas)))
        return Trial(bound, true_loss, fallback)

    def _gibbs(
        self, u: np.ndarray, y: np.ndarray, rng: np.random.Generator, center: np.ndarray
    ) -> tuple[Bound, np.ndarray]:
        d = self.design
        inside = d.prior.support is None or bool(d.prior.support(center[None])[0])
        samples = gibbs_sample(
            u,
            y,
            d.prior,
            d.param,
            lam=self.lam,
            n_samples=d.n_posterior,
            rng=rng,
            burn_in=GIBBS_BURN_IN,
            thin=GIBBS_THIN,
            start=center if inside else None,
        )
        log_z = log_partition(
            d.prior, d.param, u, y, self.lam, rng, n_samples=AIS_PARTICLES, n_temps=AIS_TEMPERATURES
        )
        bound = gibbs_bound(
            samples.losses, log_z, lam=self.lam, delta=d.delta, psi=self.complexity, N=self.N
        )
        return bound, samples.thetas

    def run(self, trials: int, rng: np.random.Generator, *, method: Method = "pem") -> StudyResult:
        """``trials`` independent trajectories from the true system, each learned and bounded.

        The trajectories come from their own stream spawned off ``rng``, so the same rng gives
        the same data whatever the method, form or Monte-Carlo sizes.
        """
        if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
            raise LTIError(f"trials: expected a positive integer, got {trials!r}")
        start = time.perf_counter()
        data_rng, mc_rng = rng.spawn(2)
        outcomes = []
        for _ in range(trials):
            u, y = simulate(self.design.system, self.N, data_rng)
            outcomes.append(self.evaluate(u, y, mc_rng, method))
        bounds = [t.bound for t in outcomes]
        return StudyResult(
            N=self.N,
            method=method,
            form=self.design.form,
            psi_source=self.complexity.source,
            lam=self.lam if self.design.form == "kl" else None,
            complexity=float(self.complexity.value),
            bounds=np.array([b.value for b in bounds]),
            true_losses=np.array([t.true_loss for t in outcomes]),
            empirical_losses=np.array([b.empirical_loss for b in bounds]),
            divergences=np.array([b.divergence for b in bounds]),
            fallbacks=sum(t.fallback for t in outcomes),
            seconds=time.perf_counter() - start,
        )


def run_experiment(
    system: StochasticLTI,
    Ns: Sequence[int],
    *,
    trials: int,
    seed: int,
    method: Method = "pem",
    order: int | None = None,
    pilot_N: int = 2000,
    std: float = 0.03,
    r_bar: float = 0.95,
    parametrization: Literal["auto", "observer", "full"] = "auto",
    progress: Callable[[StudyResult], None] | None = None,
    **settings: Unpack[DesignSettings],
) -> list[StudyResult]:
    """The study at each N with one prior, fixed from a pilot run before any training data.

    Random streams derive from ``seed``: [seed, 0] for the pilot run and prior, [seed, 1, N]
    for Psi at N and [seed, 2, N] for the trials at N, so the result at one N does not depend
    on which other N are studied.

    Args:
        system: the true data generator.
        Ns: sample sizes.
        trials: trajectories per N.
        seed: master seed.
        method: "n4sid", "pem" or "gibbs".
        order, pilot_N, std, r_bar, parametrization: see ``Design.make``.
        progress: called with each N's result as soon as it is done.
        settings: further ``Design`` fields (delta, lam, form, n_psi, n_posterior, ...).

    Returns:
        One ``StudyResult`` per N, in the order of ``Ns``; ``seconds`` includes Psi.
    """
    if method not in METHODS:
        raise LTIError(f"method: expected one of {METHODS}, got {method!r}")
    design = Design.make(
        system,
        np.random.default_rng([seed, 0]),
        order=order,
        pilot_N=pilot_N,
        std=std,
        r_bar=r_bar,
        parametrization=parametrization,
        **settings,
    )
    results = []
    for N in Ns:
        start = time.perf_counter()
        study = design.at(N, np.random.default_rng([seed, 1, N]))
        result = study.run(trials, np.random.default_rng([seed, 2, N]), method=method)
        result = dataclasses.replace(result, seconds=time.perf_counter() - start)
        if progress is not None:
            progress(result)
        results.append(result)
    return results
