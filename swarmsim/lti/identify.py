"""Learning stochastic LTI models from one trajectory.

- ``subspace_id``: N4SID (or CVA-weighted) subspace identification with past inputs and outputs
  as instruments; returns an innovation-form ``StochasticLTI`` whose K and innovation covariance
  come from the estimated noise covariances through the filter DARE.
- ``pem``: prediction-error refinement by Levenberg-Marquardt on the exact Jacobian, keeping the
  predictor stable, bit-reproducible; never returns a larger V_N than its start.
- ``select_order``: order by AIC or BIC of the (refined) fit.
- ``gibbs_sample``: random-walk Metropolis samples of the Gibbs posterior
  rho(theta) ~ exp(-lambda V_N(theta)) pi(theta) over a fixed ``Parametrization``.

Signals are time-major: u (N, nu), y (N, ny).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from swarmsim.lti import _cpu
from swarmsim.lti.model import (
    LTIError,
    StochasticLTI,
    _as_data,
    _predictor_system,
    from_noise_model,
    spectral_radius,
)
from swarmsim.lti.pacbayes import Parametrization, TruncatedGaussian, metropolis_step

__all__ = [
    "GibbsSamples",
    "OrderSelection",
    "gibbs_sample",
    "n_parameters",
    "pem",
    "select_order",
    "subspace_id",
]


class _Shape:
    """Stand-in with the channel counts that ``_as_data`` checks."""

    def __init__(self, nu: int, ny: int) -> None:
        self.nu, self.ny = nu, ny


def _raw_data(u: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y, dtype=float)
    y_arr = y_arr[:, None] if y_arr.ndim == 1 else y_arr
    if u is None:
        u_arr = np.zeros((y_arr.shape[0], 0))
    else:
        u_arr = np.asarray(u, dtype=float)
        u_arr = u_arr[:, None] if u_arr.ndim == 1 else u_arr
    if y_arr.ndim != 2 or u_arr.ndim != 2:
        raise LTIError(
            f"u, y: expected (N, nu) and (N, ny) arrays, got shapes {u_arr.shape} and {y_arr.shape}"
        )
    return _as_data(_Shape(u_arr.shape[1], y_arr.shape[1]), u_arr, y_arr)


def _block_hankel(x: np.ndarray, rows: int, start: int, cols: int) -> np.ndarray:
    """Transposed block Hankel matrix (cols, rows * dim); row k holds x(start + k + r), r < rows."""
    win = np.lib.stride_tricks.sliding_window_view(x[start : start + cols + rows - 1], rows, axis=0)
    # win: (cols, dim, rows) -> time-major blocks per row.
    return win.transpose(0, 2, 1).reshape(cols, -1)


def _subspace_core(u: np.ndarray, y: np.ndarray, horizon: int, method: str):
    """LQ factors of [Uf; Wp; Yf] and the (weighted) oblique projection's SVD."""
    N, nu = u.shape
    ny = y.shape[1]
    i = horizon
    j = N - 2 * i + 1
    if j < max(10, 2 * i * (nu + ny)):
        raise LTIError(
            f"N: {N} samples are too few for horizon {i} "
            f"(need N > {2 * i - 1 + max(10, 2 * i * (nu + ny))})"
        )
    Hm = np.hstack(
        [
            _block_hankel(u, i, i, j),  # future inputs
            _block_hankel(u, i, 0, j),
            _block_hankel(y, i, 0, j),  # past inputs and outputs
            _block_hankel(y, i, i, j),  # future outputs
        ]
    )
    R = np.linalg.qr(Hm, mode="r") / np.sqrt(j)
    Lq = R.T
    r1, r2 = i * nu, i * (nu + ny)
    L21, L22 = Lq[r1 : r1 + r2, :r1], Lq[r1 : r1 + r2, r1 : r1 + r2]
    L32, L33 = Lq[r1 + r2 :, r1 : r1 + r2], Lq[r1 + r2 :, r1 + r2 :]
    L22p = np.linalg.pinv(L22, rcond=1e-12)
    # Oblique projection of Yf along Uf onto Wp: O = L32 L22^+ Wp; its row space is that of
    # [L32 L22^+ L21, L32] times orthonormal rows, so the small matrix carries its SVD.
    Osmall = np.hstack([L32 @ L22p @ L21, L32])
    if method == "cva":
        # Canonical variate weighting: future outputs whitened after removing future inputs.
        Sig = L32 @ L32.T + L33 @ L33.T
        vals, vecs = np.linalg.eigh(0.5 * (Sig + Sig.T))
        vals = np.clip(vals, 1e-12 * vals.max(), None)
        W1 = (vecs / np.sqrt(vals)) @ vecs.T
        W1i = (vecs * np.sqrt(vals)) @ vecs.T
    elif method == "n4sid":
        W1 = W1i = np.eye(Osmall.shape[0])
    else:
        raise LTIError(f"method: expected 'n4sid' or 'cva', got {method!r}")
    U, s, _ = np.linalg.svd(W1 @ Osmall, full_matrices=False)
    return Hm, L32 @ L22p, W1i, U, s, j


def subspace_id(
    u: object,
    y: object,
    order: int,
    *,
    horizon: int | None = None,
    method: Literal["n4sid", "cva"] = "n4sid",
) -> StochasticLTI:
    """Subspace identification of an innovation-form model.

    Kalman-filter states are estimated from the oblique projection of future outputs along
    future inputs onto past inputs and outputs (the instruments); (A, B, C, D) follow by least
    squares on consecutive states, the residual covariances give (Q, R, S) and the DARE gives K.
    The innovation covariance is the sample covariance of the model's prediction errors on the
    data, and the input model is white with the sample covariance of u.
    O(N h^2 (nu + ny)^2) for horizon h: one thin QR of the block Hankel matrix.

    Args:
        u: (N, nu) inputs (None or (N, 0) for a time series); 1-D for one input.
        y: (N, ny) outputs; 1-D for one output.
        order: state dimension n.
        horizon: block rows h of the past and future Hankel matrices (> n / ny);
            max(10, 2 ceil(n / ny)) if omitted.
        method: "n4sid" (unweighted) or "cva" (canonical variate weighting).

    Raises:
        LTIError: bad data or options, or the estimate is not a stable minimum-phase model.
    """
    u, y = _raw_data(u, y)
    nu, ny = u.shape[1], y.shape[1]
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise LTIError(f"order: expected a positive integer, got {order!r}")
    n = int(order)
    h = max(10, 2 * -(-n // ny)) if horizon is None else int(horizon)
    if h * ny < n + 1 or h < 1:
        raise LTIError(f"horizon: expected more than order / ny = {n / ny:g} block rows, got {h}")
    Hm, proj, W1i, U, s, j = _subspace_core(u, y, h, method)
    if s.shape[0] < n or s[n - 1] <= 1e-12 * s[0]:
        raise LTIError(
            f"order: the data support at most {int(np.sum(s > 1e-12 * s[0]))} states, asked for {n}"
        )
    Gam = W1i @ U[:, :n] * np.sqrt(s[:n])
    r1, r2 = h * nu, h * (nu + ny)
    # States for times h .. h + j - 1 from the past data window of each column.
    X = Hm[:, r1 : r1 + r2] @ (np.linalg.pinv(Gam) @ proj).T  # (j, n)
    Uk, Yk = u[h : h + j - 1], y[h : h + j - 1]
    reg = np.hstack([X[:-1], Uk])
    tgt = np.hstack([X[1:], Yk])
    sol, *_ = np.linalg.lstsq(reg, tgt, rcond=None)
    theta = sol.T
    A, B = theta[:n, :n], theta[:n, n:]
    C, D = theta[n:, :n], theta[n:, n:]
    res = tgt - reg @ sol
    cov = res.T @ res / res.shape[0]
    Q, S, R = cov[:n, :n], cov[:n, n:], cov[n:, n:]
    if spectral_radius(A) >= 1.0:
        raise LTIError(
            f"order: the estimated A is unstable (spectral radius "
            f"{spectral_radius(A):.4g}); the data may not come from a stable system "
            f"of this order"
        )
    input_cov = u.T @ u / u.shape[0] if nu else np.zeros((0, 0))
    try:
        model = from_noise_model(A, B, C, D, Q, R, S, input_cov=input_cov)
    except LTIError:
        # No stabilising DARE solution: fall back on the regression's own gain S R^-1.
        K = np.linalg.solve(R, S.T).T
        model = StochasticLTI(A=A, B=B, C=C, D=D, K=K, noise_cov=R, input_cov=input_cov)
    # The DARE's C P C^T + R is inflated by the state-estimation error in (Q, R, S); the model's
    # own prediction errors estimate the innovation covariance without that bias.
    return dataclasses.replace(model, noise_cov=_error_cov(model, u, y))


def _error_cov(model: StochasticLTI, u: np.ndarray, y: np.ndarray) -> np.ndarray:
    Abar, Gp, Hp, Jp = _predictor_system(model)
    eps = _cpu.ss_run(Abar, Gp, Hp, Jp, np.zeros(model.n), np.hstack([u, y]))
    cov = eps.T @ eps / eps.shape[0]
    return 0.5 * (cov + cov.T)


_FREE = ("A", "B", "C", "D", "K")
# The matrices (A, B, C, D, K) of a model, in the order of _FREE.
_ABCDK = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def pem(
    u: object,
    y: object,
    initial: StochasticLTI,
    *,
    free: tuple[str, ...] = _FREE,
    r_bar: float = 0.999,
    max_nfev: int | None = None,
    ftol: float = 1e-10,
) -> StochasticLTI:
    """Prediction-error refinement: minimise V_N over the entries of the free matrices.

    Levenberg-Marquardt from ``initial`` (e.g. a ``subspace_id`` estimate) on the exact
    Jacobian of the prediction errors (state sensitivities run with the predictor, see
    `_cpu.pem_normal_equations`), with Marquardt's diagonal scaling, so the flat directions of
    an overparametrised model (any change of state basis) are damped instead of amplifying
    rounding. Every sum runs in a fixed order in numba: the same data and start give the same
    bits in any process, at any thread count. Steps to parameters with rho(A - K C) > r_bar or
    rho(A) >= 1 are refused, so the predictor stays stable. With Gaussian innovations this is
    maximum likelihood for the predictor. The result's V_N is never larger than the start's.

    Args:
        u, y: data, (N, nu) and (N, ny).
        initial: starting model; must satisfy rho(A - K C) <= r_bar.
        free: which of "A", "B", "C", "D", "K" to fit (e.g. drop "D" for strictly proper
            models).
        r_bar: stability margin for the predictor.
        max_nfev: budget of passes over the data (default 200).
        ftol: stop when an accepted step lowers V_N by less than this share.

    Returns:
        The refined model; noise_cov is the sample covariance of its prediction errors.
    """
    if not isinstance(initial, StochasticLTI):
        raise LTIError("initial: expected a StochasticLTI")
    u, y = _as_data(initial, u, y)
    bad = [f for f in free if f not in _FREE]
    if bad:
        raise LTIError(f"free: expected names among {_FREE}, got {tuple(free)}")
    names = [m for m in _FREE if m in free]
    base = {m: np.array(getattr(initial, m), np.float64) for m in _FREE}
    entries = [(_FREE.index(m), i, j) for m in names for i, j in np.ndindex(base[m].shape)]
    kinds, rows, cols = np.array(entries, np.int64).reshape(-1, 3).T.copy()
    u = np.ascontiguousarray(u, np.float64)
    y = np.ascontiguousarray(y, np.float64)
    N, ny = y.shape

    def unpack(p: np.ndarray) -> _ABCDK:
        mats = {m: base[m].copy() for m in _FREE}
        for k, (kind, i, j) in enumerate(zip(kinds, rows, cols, strict=True)):
            mats[_FREE[kind]][i, j] = p[k]
        A, B, C, D, K = (mats[m] for m in _FREE)
        return A, B, C, D, K

    def stable(mats: _ABCDK) -> bool:
        A, _, C, _, K = mats
        return spectral_radius(A - K @ C) <= r_bar and spectral_radius(A) < 1.0

    p0 = np.array([base[_FREE[k]][i, j] for k, i, j in entries])
    p = p0
    if not stable(unpack(p)):
        raise LTIError(f"initial: expected rho(A - K C) <= r_bar = {r_bar} and rho(A) < 1")
    budget = 200 if max_nfev is None else int(max_nfev)
    P = len(p)
    H, g = np.empty((P, P)), np.empty(P)
    cost = _cpu.pem_normal_equations(*unpack(p), kinds, rows, cols, u, y, H, g)
    passes, mu, nu = 1, 1e-3, 2.0
    while P and passes < budget and math.isfinite(cost) and np.max(np.abs(g)) > 0.0:
        step, predicted, ok = _cpu.damped_solve(H, g, mu)
        trial = p + step
        mats = unpack(trial)
        if ok and np.all(np.isfinite(trial)) and stable(mats):
            new = _cpu.pem_cost(*mats, u, y)
            passes += 1
            gain = (cost - new) / predicted if predicted > 0.0 and math.isfinite(new) else -1.0
        else:
            gain = -1.0
        if gain > 0.0:
            done = cost - new <= ftol * cost
            p = trial
            mu *= max(1.0 / 3.0, 1.0 - (2.0 * gain - 1.0) ** 3)
            nu = 2.0
            cost = _cpu.pem_normal_equations(*mats, kinds, rows, cols, u, y, H, g)
            passes += 1
            if done:
                break
        else:
            mu, nu = mu * nu, nu * 2.0
            if mu > 1e20:  # no step lowers V_N: a minimum to rounding
                break
    # The refined model must fit at least as well as the start, measured one way for both.
    uy = np.ascontiguousarray(np.hstack([u, y]))

    def errors(q: np.ndarray) -> np.ndarray:
        A, B, C, D, K = unpack(q)
        G, J = np.hstack([B - K @ D, K]), np.hstack([-D, np.eye(ny)])
        return _cpu.ss_run(A - K @ C, G, -C, J, np.zeros(A.shape[0]), uy)

    eps, eps0 = errors(p), errors(p0)
    if not _cpu.sum_squares(eps) <= _cpu.sum_squares(eps0):
        p, eps = p0, eps0
    A, B, C, D, K = unpack(p)
    noise = _cpu.gram(eps) / N
    return StochasticLTI(
        A=A, B=B, C=C, D=D, K=K, noise_cov=0.5 * (noise + noise.T),
        input_cov=initial.input_cov, input_filter=initial.input_filter,
    )  # fmt: skip


@dataclass(frozen=True)
class OrderSelection:
    """Result of ``select_order``.

    Attributes:
        order: the selected state dimension.
        model: the model of that order.
        scores: criterion value per tried order (inf where identification failed).
        criterion: "aic" or "bic".
    """

    order: int
    model: StochasticLTI
    scores: dict[int, float]
    criterion: str


def n_parameters(n: int, nu: int, ny: int) -> int:
    """Identifiable parameters of an innovation-form model: n (2 ny + nu) + ny nu."""
    return n * (2 * ny + nu) + ny * nu


def select_order(
    u: object,
    y: object,
    *,
    orders: range | tuple[int, ...] = range(1, 7),
    criterion: Literal["aic", "bic"] = "bic",
    refine: bool = True,
    horizon: int | None = None,
    method: Literal["n4sid", "cva"] = "n4sid",
) -> OrderSelection:
    """Pick the order minimising N ln det(Lambda) + c p (c = 2 for AIC, ln N for BIC).

    Each order is identified by ``subspace_id`` and, with ``refine``, polished by ``pem``;
    Lambda is the sample covariance of its prediction errors on the data.
    """
    u, y = _raw_data(u, y)
    N, nu = u.shape
    ny = y.shape[1]
    if criterion not in ("aic", "bic"):
        raise LTIError(f"criterion: expected 'aic' or 'bic', got {criterion!r}")
    c = 2.0 if criterion == "aic" else np.log(N)
    scores: dict[int, float] = {}
    models: dict[int, StochasticLTI] = {}
    for n in orders:
        try:
            hz = horizon if horizon is None or horizon * ny > n else None
            model = subspace_id(u, y, int(n), horizon=hz, method=method)
            if refine:
                model = pem(u, y, model)
        except LTIError:
            scores[int(n)] = float("inf")
            continue
        _, logdet = np.linalg.slogdet(_error_cov(model, u, y))
        scores[int(n)] = float(N * logdet + c * n_parameters(int(n), nu, ny))
        models[int(n)] = model
    if not models:
        raise LTIError(f"orders: no order in {tuple(orders)} could be identified")
    best = min(models, key=lambda k: scores[k])
    return OrderSelection(best, models[best], scores, criterion)


@dataclass(frozen=True)
class GibbsSamples:
    """Random-walk Metropolis samples of a Gibbs posterior.

    Attributes:
        thetas: (M, d) parameter vectors (all chains, after burn-in and thinning).
        losses: (M,) their empirical losses V_N.
        acceptance: acceptance rate during sampling.
        lam: the inverse temperature lambda.
    """

    thetas: np.ndarray
    losses: np.ndarray
    acceptance: float
    lam: float


def gibbs_sample(
    u: object,
    y: object,
    prior: TruncatedGaussian,
    param: Parametrization,
    *,
    lam: float,
    n_samples: int,
    rng: np.random.Generator,
    n_chains: int = 4,
    burn_in: int = 1000,
    thin: int = 5,
    start: np.ndarray | None = None,
) -> GibbsSamples:
    """Sample rho(theta) ~ exp(-lam V_N(theta)) pi(theta) by random-walk Metropolis.

    ``n_chains`` chains run in lock step (their losses are evaluated in one batched call). The
    proposal is Gaussian; during the first half of the burn-in its shape is the prior's, then
    the chains' sample covariance (2.38^2 / d scaling), and its per-chain scale is adapted
    towards 25 % acceptance. After burn-in the proposal is frozen, so the kept samples come
    from a fixed Metropolis kernel.

    Args:
        u, y: training data.
        prior: truncated Gaussian prior on ``param``'s parameters.
        param: the parametrisation.
        lam: inverse temperature (lambda of the bound).
        n_samples: samples to return (rounded up to a multiple of ``n_chains``).
        rng: source of randomness.
        n_chains: parallel chains.
        burn_in: steps per chain before sampling.
        thin: keep every ``thin``-th step.
        start: (d,) starting point inside the prior's support (e.g. ``param.encode`` of a PEM
            estimate); the prior mean if omitted.
    """
    u, y = _as_data(param.nominal, u, y)
    if not lam > 0:
        raise LTIError(f"lam: expected a positive inverse temperature, got {lam!r}")
    d = param.size
    start = prior.mean if start is None else np.asarray(start, float)
    if start.shape != (d,):
        raise LTIError(f"start: expected shape ({d},), got {start.shape}")
    thetas = np.repeat(start[None], n_chains, axis=0)
    if prior.support is not None and not np.all(prior.support(thetas)):
        raise LTIError("start: expected a point inside the prior's support")
    losses = param.losses(thetas, u, y)
    log_target = prior.logpdf(thetas) - lam * losses
    chol = prior.chol
    # The posterior is about lam-times narrower than the loss curvature; start small.
    scales = np.full(n_chains, 0.1)
    history = []
    for step in range(burn_in):
        thetas, log_target, losses, acc = metropolis_step(
            thetas,
            log_target,
            losses,
            beta=lam,
            prior=prior,
            param=param,
            u=u,
            y=y,
            proposal_chol=chol,
            scales=scales,
            rng=rng,
        )
        scales *= np.exp((acc - 0.25) / np.sqrt(1.0 + step / 50.0))
        history.append(thetas.copy())
        if step + 1 == burn_in // 2 and d:
            pooled = np.concatenate(history[len(history) // 2 :])
            emp = np.cov(pooled.T).reshape(d, d) + 1e-12 * np.diag(np.diag(prior.cov))
            try:
                chol = np.linalg.cholesky(emp * 2.38**2 / d)
                scales[:] = 1.0
            except np.linalg.LinAlgError:
                pass
    steps = -(-n_samples // n_chains) * thin
    kept_t, kept_l, n_acc = [], [], 0
    for step in range(steps):
        thetas, log_target, losses, acc = metropolis_step(
            thetas,
            log_target,
            losses,
            beta=lam,
            prior=prior,
            param=param,
            u=u,
            y=y,
            proposal_chol=chol,
            scales=scales,
            rng=rng,
        )
        n_acc += int(acc.sum())
        if (step + 1) % thin == 0:
            kept_t.append(thetas.copy())
            kept_l.append(losses.copy())
    return GibbsSamples(
        np.concatenate(kept_t), np.concatenate(kept_l), n_acc / (steps * n_chains), float(lam)
    )
