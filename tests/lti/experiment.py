"""A simulation study of the PAC-Bayes bounds on a known system (shared by the bound tests).

The prior is fixed before any training trajectory: a Gaussian around a model identified on an
independent pilot trajectory (observer form by default), truncated to rho(A - K C) <= 0.95.
Psi, M2 and the prior's mass in the stable set do not depend on the training data and are
computed once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from swarmsim.lti import (
    LTIError,
    Parametrization,
    PsiEstimate,
    StochasticLTI,
    TruncatedGaussian,
    gaussian_posterior_bound,
    gibbs_bound,
    gibbs_sample,
    log_partition,
    m2_prior,
    pem,
    psi_prior,
    simulate,
    stable_gaussian,
    subspace_id,
)


@dataclass
class StudyResult:
    bounds: np.ndarray
    true_losses: np.ndarray
    empirical_losses: np.ndarray
    psi_source: str
    renyi_bounds: np.ndarray = field(default_factory=lambda: np.empty(0))
    renyi_true_losses: np.ndarray = field(default_factory=lambda: np.empty(0))
    gibbs_bounds: np.ndarray = field(default_factory=lambda: np.empty(0))
    gibbs_true_losses: np.ndarray = field(default_factory=lambda: np.empty(0))
    gibbs_kl: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def coverage(self) -> float:
        return float(np.mean(self.bounds >= self.true_losses))

    @property
    def renyi_coverage(self) -> float:
        return float(np.mean(self.renyi_bounds >= self.renyi_true_losses))

    @property
    def gibbs_coverage(self) -> float:
        return float(np.mean(self.gibbs_bounds >= self.gibbs_true_losses))


@dataclass
class Study:
    system: StochasticLTI
    N: int
    param: Parametrization
    prior: TruncatedGaussian
    lam: float
    delta: float
    psi: PsiEstimate
    prior_mass: float
    order: int

    @classmethod
    def make(cls, system: StochasticLTI, *, N: int, seed: int, pilot_N: int = 2000,
             std: float = 0.03, r_bar: float = 0.95, delta: float = 0.05,
             n_psi: int = 200, form: str = "observer") -> Study:
        rng = np.random.default_rng(seed)
        u, y = simulate(system, pilot_N, rng)
        nominal = pem(u, y, subspace_id(u, y, system.n))
        param = Parametrization(nominal=nominal, form=form)
        prior = stable_gaussian(param, std=std, r_bar=r_bar)
        study = cls(system, N, param, prior, float(np.sqrt(N)), delta,
                    PsiEstimate(0.0, "true-system", 0, None), prior.mass(rng), system.n)
        return study.with_n(N, rng, n_psi=n_psi)

    def with_n(self, N: int, rng: np.random.Generator, *, n_psi: int = 200) -> Study:
        """The same prior for trajectories of N samples (lambda = sqrt(N), Psi recomputed)."""
        lam = float(np.sqrt(N))
        psi = psi_prior(self.system, self.prior, self.param, N, lam, rng, n_samples=n_psi)
        return dataclasses.replace(self, N=N, lam=lam, psi=psi)

    def center(self, u: np.ndarray, y: np.ndarray, refine: bool) -> np.ndarray:
        try:
            model = subspace_id(u, y, self.order)
            if refine:
                model = pem(u, y, model)
            return self.param.encode(model)
        except LTIError:
            return self.prior.mean

    def run(self, trials: int, rng: np.random.Generator, *, refine: bool = True,
            renyi: bool = False, gibbs: bool = False,
            scales: tuple[float, ...] = (0.1, 0.2, 0.35, 0.5, 0.7, 1.0)) -> StudyResult:
        bounds, true, emp, ren, rent, gb, gt, gk = [], [], [], [], [], [], [], []
        m2 = m2_prior(self.system, self.prior, self.param, self.N, rng, n_samples=200) \
            if renyi else None
        for _ in range(trials):
            u, y = simulate(self.system, self.N, rng)
            center = self.center(u, y, refine)
            fit = gaussian_posterior_bound(u, y, self.prior, self.param, center, lam=self.lam,
                                           delta=self.delta, psi=self.psi, rng=rng,
                                           scales=scales, n_samples=150,
                                           n_divergence_samples=1000,
                                           prior_mass=self.prior_mass)
            bounds.append(fit.bound.value)
            emp.append(fit.bound.empirical_loss)
            true.append(np.mean(self.param.true_losses(self.system, fit.thetas)))
            if renyi:
                rfit = gaussian_posterior_bound(u, y, self.prior, self.param, center,
                                                delta=self.delta, psi=m2, rng=rng,
                                                form="renyi2", scales=scales, n_samples=150,
                                                n_divergence_samples=1000,
                                                prior_mass=self.prior_mass)
                ren.append(rfit.bound.value)
                rent.append(np.mean(self.param.true_losses(self.system, rfit.thetas)))
            if gibbs:
                inside = self.prior.support(center[None])[0]
                samples = gibbs_sample(u, y, self.prior, self.param, lam=self.lam,
                                       n_samples=200, rng=rng, burn_in=400, thin=2,
                                       start=center if inside else None)
                log_z = log_partition(self.prior, self.param, u, y, self.lam, rng,
                                      n_samples=64, n_temps=60)
                b = gibbs_bound(samples.losses, log_z, lam=self.lam, delta=self.delta,
                                psi=self.psi, N=self.N)
                gb.append(b.value)
                gk.append(b.divergence)
                gt.append(np.mean(self.param.true_losses(self.system, samples.thetas)))
        return StudyResult(np.array(bounds), np.array(true), np.array(emp), self.psi.source,
                           np.array(ren), np.array(rent), np.array(gb), np.array(gt),
                           np.array(gk))
