"""PAC-Bayes error bounds for stochastic LTI predictors.

KL form (for a prior pi fixed before the data, lambda > 0, delta in (0, 1]; with probability
>= 1 - delta over the trajectory, for all posteriors rho << pi)::

    E_rho L <= E_rho V_N + (KL(rho || pi) + ln(1/delta) + Psi) / lambda
    Psi = ln E_pi exp(lambda L(theta) - 1/2 ln det(I + (2 lambda / N) R_eps(theta)))

Renyi-2 form::

    E_rho L <= E_rho V_N + sqrt(M2 / delta) exp(D2(rho || pi) / 2)
    M2 = E_pi[Var V_N + (E V_N - L)^2]

Psi and M2 depend on the data generator: ``psi_prior`` / ``m2_prior`` compute them from a known
system (simulation studies, ``psi_source="true-system"``); ``psi_upper_bound`` bounds Psi from
constants that hold uniformly over the prior's support (``psi_source="upper-bound"``);
``swarmsim.lti.fromdata.psi_generator_set`` takes the worst case over a set of candidate data
generators when there is no true system (``psi_source="generator-set"``). Every ``Bound``
records which one it used.

theta is a vector of d real parameters in a fixed ``Parametrization``; priors and posteriors are
``TruncatedGaussian`` distributions on it, truncated to the set of predictors with
rho(A - K C) <= r_bar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.linalg
from scipy.special import logsumexp

from swarmsim.lti import _cpu
from swarmsim.lti.model import (
    LTIError,
    Predictor,
    StochasticLTI,
    X0Mode,
    _as_data,
    _check_n,
    _generalization_errors,
    error_logdet,
    generalization_error,
    loss_moments,
)

__all__ = [
    "Bound",
    "Divergence",
    "GaussianFit",
    "Parametrization",
    "PsiEstimate",
    "TruncatedGaussian",
    "align_basis",
    "default_lambda",
    "gaussian_posterior_bound",
    "gibbs_bound",
    "kl_bound",
    "kl_divergence",
    "kl_gaussian",
    "log_partition",
    "m2_prior",
    "metropolis_step",
    "observer_form",
    "posterior_losses",
    "psi_model",
    "psi_prior",
    "psi_upper_bound",
    "renyi2_bound",
    "renyi2_divergence",
    "renyi2_gaussian",
    "stable_gaussian",
]

PsiSource = Literal["true-system", "upper-bound", "generator-set"]
PSI_SOURCES = ("true-system", "upper-bound", "generator-set")
_MATRICES = ("A", "B", "C", "D", "K")


# --------------------------------------------------------------------------- parametrisation


def _observability(A: np.ndarray, C: np.ndarray) -> np.ndarray:
    n = A.shape[0]
    blocks = [C]
    for _ in range(n - 1):
        blocks.append(blocks[-1] @ A)
    return np.vstack(blocks)


def _companion(a: np.ndarray) -> np.ndarray:
    n = a.shape[0]
    A = np.zeros((n, n))
    A[:, 0] = -a
    A[np.arange(n - 1), np.arange(1, n)] = 1.0
    return A


def observer_form(model: Predictor | StochasticLTI) -> Predictor:
    """The single-output predictor in observer canonical form (C = e1^T, A companion).

    Raises:
        LTIError: more than one output, or (A, C) is not observable.
    """
    if model.ny != 1:
        raise LTIError(f"theta: the observer form needs one output, got {model.ny}")
    n = model.n
    a = np.real(np.poly(model.A))[1:]
    Ao = _companion(a)
    Co = np.zeros((1, n))
    Co[0, 0] = 1.0
    Obs = _observability(model.A, model.C)
    if n and np.linalg.cond(Obs) > 1e12:
        raise LTIError("theta: (A, C) is not observable, no observer canonical form")
    # T maps the model's state to observer coordinates: O_o T = O.
    T = np.linalg.solve(_observability(Ao, Co), Obs) if n else np.zeros((0, 0))
    return Predictor(A=Ao, B=T @ model.B, C=Co, D=model.D, K=T @ model.K)


def align_basis(model: Predictor | StochasticLTI, reference: Predictor) -> Predictor:
    """``model`` in the state basis closest to ``reference``'s.

    The similarity X minimises ||O(model) X - O(reference)|| for the observability matrices, so
    identical systems map onto each other exactly and nearby ones onto nearby matrices.
    """
    if (model.n, model.nu, model.ny) != (reference.n, reference.nu, reference.ny):
        raise LTIError(
            f"theta: expected dimensions (n, nu, ny) = "
            f"{(reference.n, reference.nu, reference.ny)}, got "
            f"{(model.n, model.nu, model.ny)}"
        )
    Om, Or = _observability(model.A, model.C), _observability(reference.A, reference.C)
    X = np.linalg.lstsq(Om, Or, rcond=None)[0]
    if model.n and np.linalg.cond(X) > 1e12:
        raise LTIError("theta: cannot align the state basis (model not observable)")
    Xi = np.linalg.inv(X) if model.n else X
    return Predictor(A=Xi @ model.A @ X, B=Xi @ model.B, C=model.C @ X, D=model.D, K=Xi @ model.K)


@dataclass(frozen=True, kw_only=True, eq=False)
class Parametrization:
    """A fixed map from d real parameters to predictors, centred on a nominal predictor.

    Fix it before seeing the training data (nominal from a held-out split or prior knowledge):
    priors are defined on its parameter vector.

    Attributes:
        nominal: the predictor at theta = 0 (converted to observer form for ``form="observer"``).
        form: "full" - every entry of the free matrices, in the nominal's state basis (d up to
            n^2 + n nu + 2 n ny + ny nu; redundant but well defined); "observer" - single
            output, observer canonical form: characteristic polynomial of A, B, D and K
            (d = n(2 + nu) + nu), identifiable.
        free: which of "A", "B", "C", "D", "K" vary (the rest stay nominal); all by default
            ("C" is fixed by the observer form).
    """

    nominal: Predictor
    form: Literal["full", "observer"] = "full"
    free: tuple[str, ...] | None = None
    _slices: dict = field(init=False, repr=False)
    _base: dict = field(init=False, repr=False)

    if TYPE_CHECKING:
        # A StochasticLTI nominal is accepted too; __post_init__ stores its predictor.
        def __init__(
            self,
            *,
            nominal: Predictor | StochasticLTI,
            form: Literal["full", "observer"] = "full",
            free: tuple[str, ...] | None = None,
        ) -> None: ...

    def __post_init__(self) -> None:
        nominal = self.nominal
        if isinstance(nominal, StochasticLTI):
            nominal = nominal.predictor
        if not isinstance(nominal, Predictor):
            raise LTIError("nominal: expected a Predictor or StochasticLTI")
        allowed: tuple[str, ...]
        if self.form == "observer":
            nominal = observer_form(nominal)
            allowed = ("A", "B", "D", "K")
        elif self.form == "full":
            allowed = _MATRICES
        else:
            raise LTIError(f"form: expected 'full' or 'observer', got {self.form!r}")
        free = allowed if self.free is None else tuple(self.free)
        bad = [f for f in free if f not in allowed]
        if bad or len(set(free)) != len(free):
            raise LTIError(
                f"free: expected distinct names among {allowed} for form {self.form!r}, got {free}"
            )
        n, nu, ny = nominal.n, nominal.nu, nominal.ny
        if self.form == "observer":
            shapes = {"A": (n,), "B": (n, nu), "D": (ny, nu), "K": (n, 1)}
            base = {
                "A": np.real(np.poly(nominal.A))[1:],
                "B": nominal.B,
                "D": nominal.D,
                "K": nominal.K,
            }
        else:
            shapes = {"A": (n, n), "B": (n, nu), "C": (ny, n), "D": (ny, nu), "K": (n, ny)}
            base = {m: getattr(nominal, m) for m in _MATRICES}
        slices, start = {}, 0
        for name in allowed:
            if name in free:
                size = int(np.prod(shapes[name]))
                slices[name] = (slice(start, start + size), shapes[name])
                start += size
        object.__setattr__(self, "nominal", nominal)
        object.__setattr__(self, "free", tuple(n_ for n_ in allowed if n_ in free))
        object.__setattr__(self, "_slices", slices)
        object.__setattr__(self, "_base", {k: np.asarray(v, float) for k, v in base.items()})

    @property
    def size(self) -> int:
        """Number of parameters d."""
        return sum(sl.stop - sl.start for sl, _ in self._slices.values())

    def matrices(self, thetas: np.ndarray) -> tuple[np.ndarray, ...]:
        """Batched (A, B, C, D, K) of M parameter vectors (M, d): shapes (M, n, n), (M, n, nu),
        (M, ny, n), (M, ny, nu), (M, n, ny)."""
        thetas = self._check_thetas(thetas)
        M = thetas.shape[0]
        nom = self.nominal
        out = {}
        for name in _MATRICES:
            if self.form == "observer" and name in ("A", "C"):
                continue
            base = self._base[name]
            mat = np.broadcast_to(base, (M, *base.shape)).copy()
            if name in self._slices:
                sl, shape = self._slices[name]
                mat += thetas[:, sl].reshape(M, *shape)
            out[name] = mat
        if self.form == "observer":
            a = np.broadcast_to(self._base["A"], (M, nom.n)).copy()
            if "A" in self._slices:
                a += thetas[:, self._slices["A"][0]]
            A = np.zeros((M, nom.n, nom.n))
            A[:, :, 0] = -a
            idx = np.arange(nom.n - 1)
            A[:, idx, idx + 1] = 1.0
            out["A"] = A
            out["C"] = np.broadcast_to(nom.C, (M, 1, nom.n)).copy()
        return out["A"], out["B"], out["C"], out["D"], out["K"]

    def predictor(self, theta: np.ndarray) -> Predictor:
        """The predictor of one parameter vector (d,); raises LTIError if it is unstable."""
        A, B, C, D, K = (m[0] for m in self.matrices(np.asarray(theta, float)[None]))
        return Predictor(A=A, B=B, C=C, D=D, K=K)

    def encode(self, model: Predictor | StochasticLTI) -> np.ndarray:
        """Parameter vector (d,) of a model (entries of fixed matrices are ignored)."""
        if self.form == "observer":
            m = observer_form(model)
            values = {"A": np.real(np.poly(m.A))[1:], "B": m.B, "D": m.D, "K": m.K}
        else:
            m = align_basis(model, self.nominal)
            values = {k: getattr(m, k) for k in _MATRICES}
        theta = np.zeros(self.size)
        for name, (sl, _) in self._slices.items():
            theta[sl] = (values[name] - self._base[name]).ravel()
        return theta

    def predictor_radius(self, thetas: np.ndarray) -> np.ndarray:
        """rho(A - K C) of M parameter vectors, (M,)."""
        A, _, C, _, K = self.matrices(thetas)
        if A.shape[1] == 0:
            return np.zeros(A.shape[0])
        return np.max(np.abs(np.linalg.eigvals(A - K @ C)), axis=1)

    def stable_set(self, r_bar: float = 0.99) -> Callable[[np.ndarray], np.ndarray]:
        """Indicator of the admissible set {theta: rho(A - K C) <= r_bar} as a batched callable."""
        if not 0.0 < r_bar < 1.0:
            raise LTIError(f"r_bar: expected a radius in (0, 1), got {r_bar!r}")

        def inside(thetas: np.ndarray) -> np.ndarray:
            return self.predictor_radius(thetas) <= r_bar

        return inside

    def losses(self, thetas: np.ndarray, u: object, y: object) -> np.ndarray:
        """V_N of M parameter vectors (M, d) on data u (N, nu), y (N, ny); (M,).

        Parameters outside the stable set give inf (their predictor diverges).
        """
        thetas = self._check_thetas(thetas)
        u, y = _as_data(self.nominal, u, y)
        A, B, C, D, K = self.matrices(thetas)
        out = np.full(thetas.shape[0], np.inf)
        ok = self.predictor_radius(thetas) < 1.0
        if np.any(ok):
            Abar = A[ok] - K[ok] @ C[ok]
            Bbar = B[ok] - K[ok] @ D[ok]
            out[ok] = _cpu.predictor_loss_batch(
                Abar,
                Bbar,
                np.ascontiguousarray(K[ok]),
                np.ascontiguousarray(C[ok]),
                np.ascontiguousarray(D[ok]),
                u,
                y,
            )
        return out

    def true_losses(self, system: StochasticLTI, thetas: np.ndarray) -> np.ndarray:
        """Exact generalisation errors L of M parameter vectors (M, d) under ``system``; (M,).

        inf outside the stable set.
        """
        thetas = self._check_thetas(thetas)
        if (system.nu, system.ny) != (self.nominal.nu, self.nominal.ny):
            raise LTIError(
                f"system: expected {self.nominal.nu} inputs and {self.nominal.ny} "
                f"outputs like the parametrisation, got {system.nu} and {system.ny}"
            )
        return _generalization_errors(system, *self.matrices(thetas))

    def _check_thetas(self, thetas: np.ndarray) -> np.ndarray:
        thetas = np.asarray(thetas, dtype=float)
        if thetas.ndim == 1:
            thetas = thetas[None]
        if thetas.ndim != 2 or thetas.shape[1] != self.size:
            raise LTIError(f"theta: expected shape (M, {self.size}), got {thetas.shape}")
        if not np.all(np.isfinite(thetas)):
            raise LTIError("theta: contains NaN or inf")
        return thetas


# --------------------------------------------------------------------------- distributions


@dataclass(frozen=True, kw_only=True, eq=False)
class TruncatedGaussian:
    """N(mean, cov) restricted to ``support`` (a batched indicator (M, d) -> (M,) bool).

    Attributes:
        mean: (d,) mean of the untruncated Gaussian.
        cov: (d, d) positive definite covariance of the untruncated Gaussian.
        support: the truncation set; None means no truncation.
    """

    mean: np.ndarray
    cov: np.ndarray
    support: Callable[[np.ndarray], np.ndarray] | None = None
    if TYPE_CHECKING:
        # Derived in __post_init__, not dataclass fields at run time: Cholesky factor and
        # precision (d, d) of cov, and its log-determinant.
        _chol: np.ndarray = field(init=False, repr=False)
        _prec: np.ndarray = field(init=False, repr=False)
        _logdet: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        mean = np.array(self.mean, dtype=float).reshape(-1)
        cov = np.array(self.cov, dtype=float)
        d = mean.shape[0]
        if cov.ndim == 0:
            cov = cov * np.eye(d)
        if cov.shape != (d, d):
            raise LTIError(f"cov: expected shape ({d}, {d}), got {cov.shape}")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
            raise LTIError("mean, cov: contain NaN or inf")
        cov = 0.5 * (cov + cov.T)
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError as exc:
            raise LTIError("cov: expected a positive definite covariance") from exc
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "_chol", chol)
        # Small d: an explicit precision keeps per-call overhead low in samplers.
        chol_inv = np.linalg.inv(chol)
        object.__setattr__(self, "_prec", chol_inv.T @ chol_inv)
        object.__setattr__(self, "_logdet", 2.0 * float(np.sum(np.log(np.diag(chol)))))

    @property
    def dim(self) -> int:
        """Dimension d."""
        return self.mean.shape[0]

    @property
    def chol(self) -> np.ndarray:
        """Lower Cholesky factor (d, d) of ``cov``."""
        return self._chol

    def logpdf(self, thetas: np.ndarray) -> np.ndarray:
        """Log density of the untruncated Gaussian at (M, d) points, (M,)."""
        diff = np.atleast_2d(thetas) - self.mean
        quad = np.einsum("mi,ij,mj->m", diff, self._prec, diff)
        return -0.5 * (quad + self._logdet + self.dim * np.log(2.0 * np.pi))

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws (n, d) of the untruncated Gaussian."""
        return self.mean + rng.standard_normal((n, self.dim)) @ self._chol.T

    def sample(
        self, n: int, rng: np.random.Generator, *, max_draws: int | None = None
    ) -> tuple[np.ndarray, float]:
        """n draws (n, d) from the truncated Gaussian by rejection, and the acceptance rate.

        The acceptance rate is an unbiased estimate of the support's probability under the
        untruncated Gaussian.

        Raises:
            LTIError: fewer than n draws were accepted within ``max_draws`` (default 1000 n).
        """
        if self.support is None:
            return self.draw(n, rng), 1.0
        max_draws = 1000 * n if max_draws is None else max_draws
        kept, drawn, accepted = [], 0, 0
        batch = n
        while accepted < n:
            if drawn >= max_draws:
                raise LTIError(
                    f"support: only {accepted} of {drawn} draws were inside the "
                    f"truncation set; widen the distribution or the set"
                )
            cand = self.draw(batch, rng)
            ok = np.asarray(self.support(cand), dtype=bool)
            kept.append(cand[ok])
            drawn += batch
            accepted += int(ok.sum())
            rate = max(accepted / drawn, 1.0 / drawn)
            batch = int(min(max_draws - drawn, max(n, 1.2 * (n - accepted) / rate))) or 1
        return np.vstack(kept)[:n], accepted / drawn

    def mass(self, rng: np.random.Generator, n_draws: int = 4000) -> float:
        """Monte-Carlo probability of the support under the untruncated Gaussian."""
        if self.support is None:
            return 1.0
        return float(np.mean(self.support(self.draw(n_draws, rng))))


def stable_gaussian(
    param: Parametrization,
    *,
    mean: np.ndarray | None = None,
    std: float | np.ndarray | None = None,
    cov: np.ndarray | None = None,
    r_bar: float = 0.99,
) -> TruncatedGaussian:
    """A Gaussian on ``param``'s parameters truncated to rho(A - K C) <= r_bar.

    Args:
        param: the parametrisation.
        mean: (d,) centre; theta = 0 (the nominal predictor) if omitted.
        std: scalar or (d,) standard deviations (diagonal covariance); or give ``cov``.
        cov: (d, d) covariance.
        r_bar: stability margin of the admissible set.
    """
    d = param.size
    mean = np.zeros(d) if mean is None else np.asarray(mean, float)
    if (std is None) == (cov is None):
        raise LTIError("std, cov: expected exactly one of them")
    if cov is None:
        std_arr = np.broadcast_to(np.asarray(std, float), (d,))
        if not np.all(std_arr > 0):
            raise LTIError(f"std: expected positive standard deviations, got {std!r}")
        cov = np.diag(std_arr**2)
    return TruncatedGaussian(mean=mean, cov=cov, support=param.stable_set(r_bar))


# --------------------------------------------------------------------------- divergences


def kl_gaussian(mean: np.ndarray, cov: np.ndarray, mean0: np.ndarray, cov0: np.ndarray) -> float:
    """KL(N(mean, cov) || N(mean0, cov0)) in closed form."""
    mean, mean0 = np.asarray(mean, float), np.asarray(mean0, float)
    c0 = scipy.linalg.cho_factor(cov0, lower=True)
    diff = mean - mean0
    d = mean.shape[0]
    _, ld = np.linalg.slogdet(cov)
    ld0 = 2.0 * np.sum(np.log(np.diag(c0[0])))
    return float(
        0.5
        * (
            np.trace(scipy.linalg.cho_solve(c0, cov))
            + diff @ scipy.linalg.cho_solve(c0, diff)
            - d
            + ld0
            - ld
        )
    )


def renyi2_gaussian(
    mean: np.ndarray, cov: np.ndarray, mean0: np.ndarray, cov0: np.ndarray
) -> float:
    """Renyi divergence of order 2, D2(N(mean, cov) || N(mean0, cov0)); inf unless
    2 cov0 - cov is positive definite."""
    mean, mean0 = np.asarray(mean, float), np.asarray(mean0, float)
    cov, cov0 = np.asarray(cov, float), np.asarray(cov0, float)
    M = 2.0 * cov0 - cov
    try:
        cm = scipy.linalg.cho_factor(M, lower=True)
    except np.linalg.LinAlgError:
        return float("inf")
    diff = mean - mean0
    ldm = 2.0 * np.sum(np.log(np.diag(cm[0])))
    _, ld = np.linalg.slogdet(cov)
    _, ld0 = np.linalg.slogdet(cov0)
    return float(diff @ scipy.linalg.cho_solve(cm, diff) - 0.5 * (ldm + ld - 2.0 * ld0))


@dataclass(frozen=True)
class Divergence:
    """A divergence between truncated Gaussians and how it was obtained.

    Attributes:
        value: the divergence of the truncated distributions (nats).
        closed_form: the divergence of the untruncated Gaussians.
        posterior_mass, prior_mass: estimated probabilities of the truncation set under the
            untruncated posterior and prior (1 without truncation).
        kind: "kl" or "renyi2".
    """

    value: float
    closed_form: float
    posterior_mass: float
    prior_mass: float
    kind: str


def kl_divergence(
    posterior: TruncatedGaussian,
    prior: TruncatedGaussian,
    rng: np.random.Generator,
    *,
    n_samples: int = 4000,
    prior_mass: float | None = None,
) -> Divergence:
    """KL(rho_S || pi_S) of two Gaussians truncated to the same set S.

    KL(rho_S || pi_S) = E_rho_S[ln rho/pi] + ln(pi(S)/rho(S)); the expectation is the closed
    form minus the Monte-Carlo part outside S (exact when nothing is truncated), the masses are
    acceptance rates.

    Args:
        posterior, prior: the two distributions (the posterior's support is used for both).
        rng: source of the Monte-Carlo draws.
        n_samples: draws from each untruncated Gaussian.
        prior_mass: pi(S) if already known (it does not depend on the data).
    """
    closed = kl_gaussian(posterior.mean, posterior.cov, prior.mean, prior.cov)
    support = posterior.support if posterior.support is not None else prior.support
    if support is None:
        return Divergence(closed, closed, 1.0, 1.0, "kl")
    draws = posterior.draw(n_samples, rng)
    inside = np.asarray(support(draws), dtype=bool)
    rho_s = inside.mean()
    if rho_s == 0.0:
        raise LTIError("posterior: no draw fell inside the truncation set")
    log_ratio = posterior.logpdf(draws) - prior.logpdf(draws)
    outside_part = np.mean(np.where(inside, 0.0, log_ratio))
    pi_s = _prior_mass(prior, support, rng, n_samples) if prior_mass is None else prior_mass
    value = (closed - outside_part) / rho_s + np.log(pi_s) - np.log(rho_s)
    return Divergence(float(max(value, 0.0)), closed, float(rho_s), float(pi_s), "kl")


def _prior_mass(prior: TruncatedGaussian, support, rng, n_samples: int) -> float:
    pi_s = float(np.mean(support(prior.draw(n_samples, rng))))
    if pi_s == 0.0:
        raise LTIError("prior: no draw fell inside the truncation set")
    return pi_s


def renyi2_divergence(
    posterior: TruncatedGaussian,
    prior: TruncatedGaussian,
    rng: np.random.Generator,
    *,
    n_samples: int = 4000,
    prior_mass: float | None = None,
) -> Divergence:
    """D2(rho_S || pi_S) of two Gaussians truncated to the same set S.

    With rho~ proportional to rho^2 / pi (a Gaussian when 2 cov_pi - cov_rho > 0),
    D2(rho_S || pi_S) = D2(rho || pi) + ln rho~(S) + ln pi(S) - 2 ln rho(S): three acceptance
    rates. inf when 2 cov_pi - cov_rho is not positive definite.
    """
    closed = renyi2_gaussian(posterior.mean, posterior.cov, prior.mean, prior.cov)
    support = posterior.support if posterior.support is not None else prior.support
    if support is None or not np.isfinite(closed):
        return Divergence(closed, closed, 1.0, 1.0, "renyi2")
    rho_s = float(np.mean(support(posterior.draw(n_samples, rng))))
    if rho_s == 0.0:
        raise LTIError("posterior: no draw fell inside the truncation set")
    pi_s = _prior_mass(prior, support, rng, n_samples) if prior_mass is None else prior_mass
    prec = 2.0 * np.linalg.inv(posterior.cov) - np.linalg.inv(prior.cov)
    cov_t = np.linalg.inv(prec)
    mean_t = cov_t @ (
        2.0 * np.linalg.solve(posterior.cov, posterior.mean)
        - np.linalg.solve(prior.cov, prior.mean)
    )
    tilted = TruncatedGaussian(mean=mean_t, cov=0.5 * (cov_t + cov_t.T))
    tilt_s = float(np.mean(support(tilted.draw(n_samples, rng))))
    if tilt_s == 0.0:
        return Divergence(float("-inf"), closed, rho_s, pi_s, "renyi2")
    value = closed + np.log(tilt_s) + np.log(pi_s) - 2.0 * np.log(rho_s)
    return Divergence(float(max(value, 0.0)), closed, rho_s, pi_s, "renyi2")


# --------------------------------------------------------------------------- Psi and M2


def default_lambda(N: int) -> float:
    """lambda = sqrt(N): fixed before the data, it makes the bound's gap O(1/sqrt(N))."""
    return float(np.sqrt(_check_n(N)))


def psi_model(
    system: StochasticLTI,
    theta: Predictor | StochasticLTI,
    N: int,
    lam: float,
    *,
    x0: X0Mode = "stationary",
    method: Literal["kalman", "dense"] = "kalman",
) -> float:
    """ln E_data exp(lam (L - V_N)) = lam L - 1/2 ln det(I + (2 lam / N) R_eps), exact for
    Gaussian data. ``method`` picks the log-determinant: "kalman" O(N) or "dense" O(N^3)."""
    N = _check_n(N)
    L = generalization_error(system, theta)
    return lam * L - 0.5 * error_logdet(system, theta, N, 2.0 * lam / N, x0=x0, method=method)


@dataclass(frozen=True)
class PsiEstimate:
    """Psi (or M2) over a prior and where it came from.

    Attributes:
        value: the estimate; an array with one entry per lambda when several were given.
        source: "true-system" (computed from the data generator), "upper-bound" or
            "generator-set" (worst case over candidate generators, no true system).
        n_samples: prior draws behind a Monte-Carlo estimate (0 for a closed-form bound).
        lam: the lambda value(s).
    """

    value: float | np.ndarray
    source: PsiSource
    n_samples: int
    lam: float | Sequence[float] | np.ndarray | None


def psi_prior(
    system: StochasticLTI,
    prior: TruncatedGaussian,
    param: Parametrization,
    N: int,
    lam: float | Sequence[float] | None,
    rng: np.random.Generator,
    *,
    n_samples: int = 500,
    x0: X0Mode = "stationary",
) -> PsiEstimate:
    """Psi = ln E_pi exp(psi_model) by log-mean-exp over ``n_samples`` prior draws.

    Does not depend on the data, so it is computed once per (system, prior, N, lambda).
    ``lam`` may be a grid (one Psi each) or None for the default sqrt(N).
    """
    N = _check_n(N)
    lam = default_lambda(N) if lam is None else lam
    lams = np.atleast_1d(np.asarray(lam, dtype=float))
    if not np.all(lams > 0):
        raise LTIError(f"lam: expected positive values, got {lam!r}")
    thetas, _ = prior.sample(n_samples, rng)
    vals = np.empty((n_samples, lams.size))
    for i, th in enumerate(thetas):
        theta = param.predictor(th)
        L = generalization_error(system, theta)
        for k, lm in enumerate(lams):
            vals[i, k] = lm * L - 0.5 * error_logdet(system, theta, N, 2.0 * lm / N, x0=x0)
    psi = logsumexp(vals, axis=0) - np.log(n_samples)
    value = float(psi[0]) if np.ndim(lam) == 0 else psi
    return PsiEstimate(value, "true-system", n_samples, lam)


def m2_prior(
    system: StochasticLTI,
    prior: TruncatedGaussian,
    param: Parametrization,
    N: int,
    rng: np.random.Generator,
    *,
    n_samples: int = 500,
    x0: X0Mode = "stationary",
) -> PsiEstimate:
    """M2 = E_pi[Var V_N + (E V_N - L)^2] of the Renyi-2 bound, by Monte Carlo over the prior."""
    N = _check_n(N)
    thetas, _ = prior.sample(n_samples, rng)
    vals = np.empty(n_samples)
    for i, th in enumerate(thetas):
        theta = param.predictor(th)
        mean, var = loss_moments(system, theta, N, x0=x0)
        vals[i] = var + (mean - generalization_error(system, theta)) ** 2
    return PsiEstimate(float(np.mean(vals)), "true-system", n_samples, None)


def psi_upper_bound(
    N: int, lam: float, *, loss_bound: float, spectral_bound: float, transient_bound: float
) -> PsiEstimate:
    """A bound on Psi without the data generator, from constants valid over the prior's support.

    From ln(1 + x) >= x - x^2/2 and tr R^2 <= ||R|| tr R::

        psi_model <= lam (L - E V_N) + (lam^2 / N) ||R|| E V_N
                  <= lam T / N + (lam^2 / N) s (l + T / N)

    Args:
        N: number of samples.
        lam: lambda.
        loss_bound: l >= L(theta) for every theta in the support.
        spectral_bound: s >= the largest eigenvalue of R_eps(theta) (for a stationary error,
            the peak of its power spectral density) for every theta in the support.
        transient_bound: T >= N |E V_N - L| for every theta (the summed start-up transient of
            the predictor).
    """
    N = _check_n(N)
    for name, v in (
        ("loss_bound", loss_bound),
        ("spectral_bound", spectral_bound),
        ("transient_bound", transient_bound),
    ):
        if not (np.isfinite(v) and v >= 0):
            raise LTIError(f"{name}: expected a finite non-negative number, got {v!r}")
    value = lam * transient_bound / N + lam**2 / N * spectral_bound * (
        loss_bound + transient_bound / N
    )
    return PsiEstimate(float(value), "upper-bound", 0, lam)


# --------------------------------------------------------------------------- bounds


@dataclass(frozen=True)
class Bound:
    """A PAC-Bayes bound on the expected generalisation error E_rho L of a posterior.

    Attributes:
        value: the bound.
        empirical_loss: E_rho V_N on the training data.
        divergence: KL(rho || pi) (KL form) or D2(rho || pi) (Renyi form).
        complexity: Psi (KL form) or M2 (Renyi form).
        lam: lambda of the KL form (None for the Renyi form).
        delta: confidence parameter used (after a union-bound correction).
        N: number of samples.
        form: "kl" or "renyi2".
        psi_source: "true-system", "upper-bound" or "generator-set".
        n_lambdas: size of the lambda grid the bound was minimised over (delta split by it).
    """

    value: float
    empirical_loss: float
    divergence: float
    complexity: float
    lam: float | None
    delta: float
    N: int
    form: str
    psi_source: PsiSource
    n_lambdas: int = 1


def _check_delta(delta: float) -> float:
    if not 0.0 < delta <= 1.0:
        raise LTIError(f"delta: expected a confidence level in (0, 1], got {delta!r}")
    return float(delta)


def kl_bound(
    empirical_loss: float,
    kl: float,
    *,
    lam: float | Sequence[float],
    delta: float,
    psi: float | Sequence[float] | np.ndarray | PsiEstimate,
    N: int,
    psi_source: PsiSource | None = None,
) -> Bound:
    """E_rho L <= E_rho V_N + (KL + ln(1/delta) + Psi) / lambda.

    With a grid of k lambdas (and one Psi per lambda) the smallest bound at delta/k is returned.
    ``psi_source`` is taken from a ``PsiEstimate``; otherwise it must be given.
    """
    delta = _check_delta(delta)
    lams = np.atleast_1d(np.asarray(lam, float))
    if isinstance(psi, PsiEstimate):
        if psi.lam is not None and (
            np.shape(np.atleast_1d(psi.lam)) != lams.shape or not np.allclose(psi.lam, lams)
        ):
            raise LTIError(f"psi: computed for lambda = {psi.lam}, the bound uses {lam}")
        psi_source = psi.source if psi_source is None else psi_source
        psi = psi.value
    if psi_source not in PSI_SOURCES:
        raise LTIError(f"psi_source: expected one of {PSI_SOURCES}, got {psi_source!r}")
    psis = np.broadcast_to(np.atleast_1d(np.asarray(psi, float)), lams.shape)
    if not np.all(lams > 0):
        raise LTIError(f"lam: expected positive values, got {lam!r}")
    k = lams.size
    vals = empirical_loss + (kl + np.log(k / delta) + psis) / lams
    best = int(np.argmin(vals))
    return Bound(
        float(vals[best]),
        float(empirical_loss),
        float(kl),
        float(psis[best]),
        float(lams[best]),
        delta / k,
        int(N),
        "kl",
        psi_source,
        k,
    )


def renyi2_bound(
    empirical_loss: float,
    d2: float,
    *,
    m2: float | np.ndarray | PsiEstimate,
    delta: float,
    N: int,
    psi_source: PsiSource | None = None,
) -> Bound:
    """E_rho L <= E_rho V_N + sqrt(M2 / delta) exp(D2 / 2)."""
    delta = _check_delta(delta)
    if isinstance(m2, PsiEstimate):
        psi_source = m2.source if psi_source is None else psi_source
        m2 = m2.value
    if psi_source not in PSI_SOURCES:
        raise LTIError(f"psi_source: expected one of {PSI_SOURCES}, got {psi_source!r}")
    value = empirical_loss + np.sqrt(m2 / delta) * np.exp(0.5 * d2)
    return Bound(
        float(value),
        float(empirical_loss),
        float(d2),
        float(m2),
        None,
        delta,
        int(N),
        "renyi2",
        psi_source,
    )


def posterior_losses(
    posterior: TruncatedGaussian,
    param: Parametrization,
    u: object,
    y: object,
    rng: np.random.Generator,
    *,
    n_samples: int = 500,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws (n, d) from the truncated posterior and their empirical losses V_N, (n,)."""
    thetas, _ = posterior.sample(n_samples, rng)
    return thetas, param.losses(thetas, u, y)


@dataclass(frozen=True)
class GaussianFit:
    """The bound-minimising Gaussian posterior of ``gaussian_posterior_bound``.

    Attributes:
        bound: its bound (KL or Renyi-2 form).
        posterior: the truncated Gaussian posterior.
        thetas: (M, d) posterior draws behind the empirical loss.
        losses: (M,) their V_N.
        scale: the selected scale.
        divergence: the divergence estimate with its truncation details.
    """

    bound: Bound
    posterior: TruncatedGaussian
    thetas: np.ndarray
    losses: np.ndarray
    scale: float
    divergence: Divergence


def gaussian_posterior_bound(
    u: object,
    y: object,
    prior: TruncatedGaussian,
    param: Parametrization,
    center: np.ndarray,
    *,
    lam: float | Sequence[float] | None = None,
    delta: float,
    psi: float | Sequence[float] | PsiEstimate,
    rng: np.random.Generator,
    form: Literal["kl", "renyi2"] = "kl",
    scales: Sequence[float] = (0.1, 0.2, 0.35, 0.5, 0.7, 1.0),
    n_samples: int = 200,
    n_divergence_samples: int = 4000,
    prior_mass: float | None = None,
    psi_source: PsiSource | None = None,
) -> GaussianFit:
    """Gaussian posterior around ``center`` (e.g. ``param.encode`` of a PEM estimate) with the
    prior's covariance times scale^2, the scale picked from ``scales`` to minimise the bound.

    Both bounds hold for all posteriors at once, so choosing the posterior on the data needs
    no union-bound correction (unlike lambda: a grid of lambdas, with one Psi each, costs
    ln(k) through delta / k; None means sqrt(N)). ``n_samples`` posterior draws estimate
    E_rho V_N, ``n_divergence_samples`` draws the truncation corrections of the divergence.

    Args:
        form: "kl" (``psi`` is Psi for ``lam``) or "renyi2" (``psi`` is M2 from ``m2_prior``;
            ``lam`` is unused).
    """
    u, y = _as_data(param.nominal, u, y)
    if form not in ("kl", "renyi2"):
        raise LTIError(f"form: expected 'kl' or 'renyi2', got {form!r}")
    lam = default_lambda(y.shape[0]) if lam is None else lam
    center = np.asarray(center, float)
    if center.shape != (param.size,):
        raise LTIError(f"center: expected shape ({param.size},), got {center.shape}")
    if prior_mass is None and prior.support is not None:
        prior_mass = prior.mass(rng)
    best: GaussianFit | None = None
    N = y.shape[0]
    divergence = kl_divergence if form == "kl" else renyi2_divergence
    for scale in scales:
        post = TruncatedGaussian(mean=center, cov=scale**2 * prior.cov, support=prior.support)
        try:
            thetas, losses = posterior_losses(post, param, u, y, rng, n_samples=n_samples)
            div = divergence(
                post, prior, rng, prior_mass=prior_mass, n_samples=n_divergence_samples
            )
        except LTIError:
            continue
        if form == "kl":
            bound = kl_bound(
                float(np.mean(losses)),
                div.value,
                lam=lam,
                delta=delta,
                psi=psi,
                N=N,
                psi_source=psi_source,
            )
        else:
            if isinstance(psi, Sequence):
                raise LTIError("psi: the Renyi-2 form takes one M2 value, got a sequence")
            bound = renyi2_bound(
                float(np.mean(losses)), div.value, m2=psi, delta=delta, N=N, psi_source=psi_source
            )
        if best is None or bound.value < best.bound.value:
            best = GaussianFit(bound, post, thetas, losses, float(scale), div)
    if best is None:
        raise LTIError("center: no posterior scale put mass inside the prior's support")
    return best


# --------------------------------------------------------------------------- Gibbs posterior


def metropolis_step(
    thetas: np.ndarray,
    log_target: np.ndarray,
    losses: np.ndarray,
    *,
    beta: float,
    prior: TruncatedGaussian,
    param: Parametrization,
    u: np.ndarray,
    y: np.ndarray,
    proposal_chol: np.ndarray,
    scales: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    """One random-walk Metropolis step of several chains targeting pi(theta) exp(-beta V_N).

    Args:
        thetas: (M, d) current states; log_target (M,) and losses (M,) their values.
        beta: inverse temperature.
        proposal_chol: (d, d) factor of the proposal covariance shape.
        scales: (M,) per-chain step scale.

    Returns:
        New (thetas, log_target, losses) and the (M,) bool acceptance mask.
    """
    M, d = thetas.shape
    cand = thetas + scales[:, None] * (rng.standard_normal((M, d)) @ proposal_chol.T)
    inside = np.ones(M, bool) if prior.support is None else prior.support(cand)
    cand_loss = np.full(M, np.inf)
    if np.any(inside):
        cand_loss[inside] = param.losses(cand[inside], u, y)
    cand_lt = np.where(inside, prior.logpdf(cand) - beta * cand_loss, -np.inf)
    cand_lt = np.where(np.isfinite(cand_loss), cand_lt, -np.inf)
    accept = np.log(rng.random(M)) < cand_lt - log_target
    thetas = np.where(accept[:, None], cand, thetas)
    log_target = np.where(accept, cand_lt, log_target)
    losses = np.where(accept, cand_loss, losses)
    return thetas, log_target, losses, accept


def log_partition(
    prior: TruncatedGaussian,
    param: Parametrization,
    u: object,
    y: object,
    lam: float,
    rng: np.random.Generator,
    *,
    method: Literal["ais", "prior"] = "ais",
    n_samples: int = 128,
    n_temps: int = 200,
    n_moves: int = 2,
) -> float:
    """ln Z_lambda = ln E_pi exp(-lambda V_N) of the Gibbs posterior.

    Args:
        method: "ais" - annealed importance sampling from the prior through
            pi exp(-beta V_N), beta = lambda (k / n_temps)^4, with ``n_moves`` random-walk
            Metropolis moves per temperature (unbiased for Z, so biased low in ln Z:
            conservative in the bound); "prior" - plain Monte Carlo over prior draws (the
            same direction of bias, but far noisier once lambda V_N varies by more than a few
            units over the prior).
        n_samples: particles (AIS) or prior draws.
    """
    u, y = _as_data(param.nominal, u, y)
    thetas, _ = prior.sample(n_samples, rng)
    losses = param.losses(thetas, u, y)
    if method == "prior":
        return float(logsumexp(-lam * losses) - np.log(n_samples))
    if method != "ais":
        raise LTIError(f"method: expected 'ais' or 'prior', got {method!r}")
    betas = lam * (np.arange(n_temps + 1) / n_temps) ** 4
    logw = np.zeros(n_samples)
    log_target = prior.logpdf(thetas)
    chol = prior.chol
    scale = 0.5
    for k in range(1, n_temps + 1):
        logw -= (betas[k] - betas[k - 1]) * losses
        log_target = log_target - (betas[k] - betas[k - 1]) * losses
        acc = 0.0
        for _ in range(n_moves):
            thetas, log_target, losses, accepted = metropolis_step(
                thetas,
                log_target,
                losses,
                beta=betas[k],
                prior=prior,
                param=param,
                u=u,
                y=y,
                proposal_chol=chol,
                scales=np.full(n_samples, scale),
                rng=rng,
            )
            acc += accepted.mean() / n_moves
        # Keep the acceptance rate near 0.3 as the target narrows.
        scale *= float(np.exp(acc - 0.3))
    return float(logsumexp(logw) - np.log(n_samples))


def gibbs_bound(
    posterior_losses: np.ndarray,
    log_z: float,
    *,
    lam: float,
    delta: float,
    psi: float | PsiEstimate,
    N: int,
    psi_source: PsiSource | None = None,
) -> Bound:
    """KL-form bound of the Gibbs posterior rho = pi exp(-lambda V_N) / Z_lambda.

    KL(rho || pi) = -lambda E_rho V_N - ln Z_lambda, so the bound is
    (-ln Z_lambda + ln(1/delta) + Psi) / lambda; ``posterior_losses`` (V_N of posterior samples,
    e.g. from ``identify.gibbs_sample``) only split it into its parts.
    """
    emp = float(np.mean(posterior_losses))
    kl = max(-lam * emp - log_z, 0.0)
    return kl_bound(emp, kl, lam=lam, delta=delta, psi=psi, N=N, psi_source=psi_source)
