"""Stochastic LTI models in innovation form, their simulation, Kalman predictors and exact losses.

Data generator (innovation form), t = 0, 1, 2, ...::

    x(t+1) = A x(t) + B u(t) + K e(t)
    y(t)   = C x(t) + D u(t) + e(t)

with white Gaussian innovations e (covariance ``noise_cov``) and a stationary Gaussian input u:
white with covariance ``input_cov``, or the output of a stable ``InputFilter`` driven by white noise
of covariance ``input_cov``. A hypothesis theta = (A, B, C, D, K) is the steady-state Kalman
one-step predictor of a model::

    xh(t+1) = (A - K C) xh(t) + (B - K D) u(t) + K y(t),   xh(0) = 0
    yh(t)   = C xh(t) + D u(t)

Signals are time-major arrays: u (N, nu), y (N, ny). Losses are mean squared prediction errors
summed over outputs: V_N (empirical, on data) and L (stationary generalisation error, exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike

from swarmsim.errors import SwarmsimError
from swarmsim.lti import _cpu

__all__ = [
    "ErrorSystem",
    "InputFilter",
    "LTIError",
    "Predictor",
    "StochasticLTI",
    "empirical_loss",
    "error_covariance",
    "error_logdet",
    "error_system",
    "from_noise_model",
    "generalization_error",
    "loss_moments",
    "predict",
    "prediction_errors",
    "simulate",
    "spectral_radius",
]

X0Mode = Literal["stationary", "zero"]

# Relative tolerance of the symmetry check for covariance matrices.
_SYM_RTOL = 1e-8


class LTIError(SwarmsimError):
    """An invalid system, hypothesis, data set or option; the message names the culprit."""


def spectral_radius(M: np.ndarray) -> float:
    """Largest eigenvalue modulus of a square matrix (0 for an empty one)."""
    M = np.asarray(M, dtype=float)
    if M.size == 0:
        return 0.0
    return float(np.max(np.abs(np.linalg.eigvals(M))))


def _matrix(name: str, value: object, shape: tuple[int, int] | None = None) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise LTIError(f"{name}: expected a real matrix, got {type(value).__name__}") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    if arr.ndim != 2:
        raise LTIError(f"{name}: expected a 2-D matrix, got an array of shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise LTIError(f"{name}: expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise LTIError(f"{name}: contains NaN or inf")
    arr.setflags(write=False)
    return arr


def _covariance(name: str, value: object, dim: int, *, definite: bool) -> np.ndarray:
    arr = np.array(_matrix(name, value, (dim, dim)))
    scale = max(1.0, float(np.max(np.abs(arr)))) if arr.size else 1.0
    if not np.allclose(arr, arr.T, rtol=0.0, atol=_SYM_RTOL * scale):
        raise LTIError(f"{name}: expected a symmetric covariance matrix")
    arr = 0.5 * (arr + arr.T)
    if dim:
        low = float(np.min(np.linalg.eigvalsh(arr)))
        if definite and low <= 0.0:
            raise LTIError(
                f"{name}: expected a positive definite covariance, smallest eigenvalue {low:.3g}"
            )
        if not definite and low < -_SYM_RTOL * scale:
            raise LTIError(
                f"{name}: expected a positive semidefinite covariance, smallest "
                f"eigenvalue {low:.3g}"
            )
    arr.setflags(write=False)
    return arr


def _check_schur(name: str, M: np.ndarray, what: str) -> None:
    r = spectral_radius(M)
    if not r < 1.0:
        raise LTIError(
            f"{name}: expected {what} (spectral radius < 1), got spectral radius {r:.6g}"
        )


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, kw_only=True, eq=False)
class InputFilter:
    """Stable LTI filter shaping the input: xf(t+1) = A xf + B w, u = C xf + D w, w white.

    Attributes:
        A: (nf, nf) Schur-stable state matrix.
        B: (nf, nw) noise input matrix.
        C: (nu, nf) output matrix.
        D: (nu, nw) feed-through.
    """

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray

    if TYPE_CHECKING:
        # The constructor takes any real array-likes; __post_init__ stores float arrays.
        def __init__(self, *, A: ArrayLike, B: ArrayLike, C: ArrayLike, D: ArrayLike) -> None: ...

    def __post_init__(self) -> None:
        A = _matrix("input_filter.A", self.A)
        if A.shape[0] != A.shape[1]:
            raise LTIError(f"input_filter.A: expected a square matrix, got shape {A.shape}")
        nf = A.shape[0]
        B = _matrix("input_filter.B", self.B)
        if B.shape[0] != nf:
            raise LTIError(f"input_filter.B: expected {nf} rows (nf), got shape {B.shape}")
        C = _matrix("input_filter.C", self.C)
        if C.shape[1] != nf:
            raise LTIError(f"input_filter.C: expected {nf} columns (nf), got shape {C.shape}")
        D = _matrix("input_filter.D", self.D, (C.shape[0], B.shape[1]))
        _check_schur("input_filter.A", A, "a Schur-stable input filter")
        for name, value in zip("ABCD", (A, B, C, D), strict=True):
            _set(self, name, value)


class _Dimensions:
    """State, input and output dimensions of a model with matrices A, B, C."""

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray

    @property
    def n(self) -> int:
        """State dimension."""
        return self.A.shape[0]

    @property
    def nu(self) -> int:
        """Number of inputs."""
        return self.B.shape[1]

    @property
    def ny(self) -> int:
        """Number of outputs."""
        return self.C.shape[0]


@dataclass(frozen=True, kw_only=True, eq=False)
class Predictor(_Dimensions):
    """A hypothesis: the steady-state Kalman predictor of the model (A, B, C, D, K).

    Only the predictor has to be stable (rho(A - K C) < 1); A itself may be anything.

    Attributes:
        A: (n, n) state matrix.
        B: (n, nu) input matrix.
        C: (ny, n) output matrix.
        D: (ny, nu) feed-through.
        K: (n, ny) predictor (Kalman) gain.
    """

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray
    K: np.ndarray

    def __post_init__(self) -> None:
        A, B, C, D, K = _check_abcdk(self.A, self.B, self.C, self.D, self.K)
        _check_schur("A - K C", A - K @ C, "a Schur-stable predictor (minimum phase model)")
        for name, value in zip("ABCDK", (A, B, C, D, K), strict=True):
            _set(self, name, value)


def _check_abcdk(A, B, C, D, K) -> tuple[np.ndarray, ...]:
    A = _matrix("A", A)
    if A.shape[0] != A.shape[1]:
        raise LTIError(f"A: expected a square matrix, got shape {A.shape}")
    n = A.shape[0]
    B = _matrix("B", B)
    if B.shape[0] != n:
        raise LTIError(f"B: expected {n} rows (the order of A), got shape {B.shape}")
    C = _matrix("C", C)
    if C.shape[1] != n:
        raise LTIError(f"C: expected {n} columns (the order of A), got shape {C.shape}")
    nu, ny = B.shape[1], C.shape[0]
    D = _matrix("D", np.zeros((ny, nu)) if D is None else D, (ny, nu))
    K = _matrix("K", np.zeros((n, ny)) if K is None else K, (n, ny))
    return A, B, C, D, K


@dataclass(frozen=True, kw_only=True, eq=False)
class StochasticLTI(_Dimensions):
    """A stochastic LTI system in innovation form with a Gaussian stationary input model.

    Attributes:
        A: (n, n) Schur-stable state matrix.
        B: (n, nu) input matrix.
        C: (ny, n) output matrix.
        D: (ny, nu) feed-through; zeros if omitted.
        K: (n, ny) Kalman gain with rho(A - K C) < 1; zeros (output-error model) if omitted.
        noise_cov: (ny, ny) positive definite innovation covariance; identity if omitted.
        input_cov: covariance of the white noise driving the input, (nu, nu) without a filter,
            (nw, nw) with one; identity if omitted.
        input_filter: optional stable filter turning that white noise into u.

    Raises:
        LTIError: a matrix has the wrong shape, is not finite, a covariance is not symmetric
            (semi)definite, A or A - K C is not Schur stable.
    """

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    if TYPE_CHECKING:
        # The constructor takes real array-likes, None for an omitted matrix; __post_init__
        # stores float arrays, the omitted ones filled in, so no attribute is None afterwards.
        D: np.ndarray
        K: np.ndarray
        noise_cov: np.ndarray
        input_cov: np.ndarray
        input_filter: InputFilter | None

        def __init__(
            self,
            *,
            A: ArrayLike,
            B: ArrayLike,
            C: ArrayLike,
            D: ArrayLike | None = None,
            K: ArrayLike | None = None,
            noise_cov: ArrayLike | None = None,
            input_cov: ArrayLike | None = None,
            input_filter: InputFilter | None = None,
        ) -> None: ...
    else:
        D: np.ndarray | None = None
        K: np.ndarray | None = None
        noise_cov: np.ndarray | None = None
        input_cov: np.ndarray | None = None
        input_filter: InputFilter | None = None

    def __post_init__(self) -> None:
        A, B, C, D, K = _check_abcdk(self.A, self.B, self.C, self.D, self.K)
        nu, ny = B.shape[1], C.shape[0]
        noise = _covariance(
            "noise_cov", np.eye(ny) if self.noise_cov is None else self.noise_cov, ny, definite=True
        )
        filt = self.input_filter
        if filt is not None:
            if not isinstance(filt, InputFilter):
                raise LTIError("input_filter: expected an InputFilter or None")
            if filt.C.shape[0] != nu:
                raise LTIError(
                    f"input_filter.C: expected {nu} rows (inputs of B), got shape {filt.C.shape}"
                )
            nw = filt.B.shape[1]
        else:
            nw = nu
        inp = _covariance(
            "input_cov",
            np.eye(nw) if self.input_cov is None else self.input_cov,
            nw,
            definite=False,
        )
        _check_schur("A", A, "a Schur-stable system")
        _check_schur("A - K C", A - K @ C, "a Schur-stable predictor (minimum phase model)")
        for name, value in zip(
            ("A", "B", "C", "D", "K", "noise_cov", "input_cov"),
            (A, B, C, D, K, noise, inp),
            strict=True,
        ):
            _set(self, name, value)

    @property
    def predictor(self) -> Predictor:
        """The system's own (optimal) steady-state Kalman predictor."""
        return Predictor(A=self.A, B=self.B, C=self.C, D=self.D, K=self.K)

    def generator(self) -> tuple[np.ndarray, ...]:
        """The whole data generator as one LTI system driven by white noise.

        Returns:
            (F, G, H, J, W): state s = [xf; x], noise w = [w_in; e] with covariance
            W = blkdiag(input_cov, noise_cov), outputs [u; y]; s(t+1) = F s + G w,
            [u; y] = H s + J w.
        """
        A, B, C, D, K = self.A, self.B, self.C, self.D, self.K
        n, nu, ny = self.n, self.nu, self.ny
        f = self.input_filter
        if f is None:
            Af, Bf, Cf, Df = np.zeros((0, 0)), np.zeros((0, nu)), np.zeros((nu, 0)), np.eye(nu)
        else:
            Af, Bf, Cf, Df = f.A, f.B, f.C, f.D
        nf, nw = Af.shape[0], Bf.shape[1]
        F = np.block([[Af, np.zeros((nf, n))], [B @ Cf, A]])
        G = np.block([[Bf, np.zeros((nf, ny))], [B @ Df, K]])
        H = np.block([[Cf, np.zeros((nu, n))], [D @ Cf, C]])
        J = np.block([[Df, np.zeros((nu, ny))], [D @ Df, np.eye(ny)]])
        W = scipy.linalg.block_diag(self.input_cov, self.noise_cov).reshape(nw + ny, nw + ny)
        return F, G, H, J, W

    def stationary_state_cov(self) -> np.ndarray:
        """Stationary covariance of the generator state [xf; x], (nf + n, nf + n)."""
        F, G, _, _, W = self.generator()
        return _dlyap(F, G @ W @ G.T)


def _dlyap(F: np.ndarray, Q: np.ndarray) -> np.ndarray:
    if F.shape[0] == 0:
        return np.zeros((0, 0))
    P = scipy.linalg.solve_discrete_lyapunov(F, Q)
    return 0.5 * (P + P.T)


def from_noise_model(
    A: np.ndarray,
    B: np.ndarray,
    C: np.ndarray,
    D: np.ndarray | None,
    Q: np.ndarray,
    R: np.ndarray,
    S: np.ndarray | None = None,
    *,
    G: np.ndarray | None = None,
    input_cov: np.ndarray | None = None,
    input_filter: InputFilter | None = None,
) -> StochasticLTI:
    """Innovation form of x(t+1) = A x + B u + G w, y = C x + D u + v.

    The steady-state Kalman predictor gain and innovation covariance come from the filter DARE
    (python-control ``dlqe`` without cross-covariance, ``dare`` with it).

    Args:
        A, B, C, D: system matrices, shapes (n, n), (n, nu), (ny, n), (ny, nu); D may be None.
        Q: (nq, nq) process-noise covariance of w (nq = n without G).
        R: (ny, ny) positive definite measurement-noise covariance of v.
        S: (nq, ny) cross-covariance E[w v^T]; zero if omitted.
        G: (n, nq) process-noise input matrix; identity if omitted.
        input_cov, input_filter: input model, as in ``StochasticLTI``.

    Returns:
        The equivalent ``StochasticLTI`` with K = (A P C^T + G S)(C P C^T + R)^-1 and
        noise_cov = C P C^T + R, P the stabilising DARE solution.

    Raises:
        LTIError: bad shapes, or no stabilising DARE solution exists (e.g. (A, C) not
            detectable).
    """
    import control

    A, B, C, D, _ = _check_abcdk(A, B, C, D, None)
    n, ny = A.shape[0], C.shape[0]
    G = _matrix("G", np.eye(n) if G is None else G)
    if G.shape[0] != n:
        raise LTIError(f"G: expected {n} rows (the order of A), got shape {G.shape}")
    nq = G.shape[1]
    Q = _covariance("Q", Q, nq, definite=False)
    R = _covariance("R", R, ny, definite=True)
    S = None if S is None else _matrix("S", S, (nq, ny))
    try:
        if S is None:
            K, P, _ = control.dlqe(A, G, C, Q, R)
        else:
            P, _, gain = control.dare(A.T, C.T, G @ Q @ G.T, R, S=G @ S)
            K = gain.T
    except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
        raise LTIError(f"Q, R, S: no stabilising Kalman filter (DARE failed: {exc})") from exc
    P = np.asarray(P)
    Lam = C @ P @ C.T + R
    return StochasticLTI(
        A=A,
        B=B,
        C=C,
        D=D,
        K=np.asarray(K),
        noise_cov=0.5 * (Lam + Lam.T),
        input_cov=input_cov,
        input_filter=input_filter,
    )


def _psd_factor(M: np.ndarray) -> np.ndarray:
    """L with L L^T = M for a symmetric positive semidefinite M."""
    if M.shape[0] == 0:
        return np.zeros((0, 0))
    vals, vecs = np.linalg.eigh(M)
    return vecs * np.sqrt(np.clip(vals, 0.0, None))


def simulate(
    model: StochasticLTI,
    N: int,
    rng: np.random.Generator,
    *,
    x0: X0Mode = "stationary",
    method: Literal["numba", "control"] = "numba",
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one trajectory (u, y) of N samples.

    Args:
        model: the data generator.
        N: number of samples.
        rng: source of all randomness (initial state, input noise, innovations, in this order).
        x0: "stationary" draws the initial generator state from its stationary distribution,
            "zero" starts from rest.
        method: "numba" (compiled loop) or "control" (python-control ``forced_response`` on the
            same random draws; slower, a cross-check).

    Returns:
        u (N, nu) and y (N, ny).
    """
    N = _check_n(N)
    F, G, H, J, W = model.generator()
    ns = F.shape[0]
    if x0 == "stationary":
        s0 = _psd_factor(_dlyap(F, G @ W @ G.T)) @ rng.standard_normal(ns)
    elif x0 == "zero":
        s0 = np.zeros(ns)
    else:
        raise LTIError(f"x0: expected 'stationary' or 'zero', got {x0!r}")
    nw = W.shape[0] - model.ny
    w_in = rng.standard_normal((N, nw)) @ _psd_factor(W[:nw, :nw]).T
    e = rng.standard_normal((N, model.ny)) @ np.linalg.cholesky(W[nw:, nw:]).T
    w = np.ascontiguousarray(np.hstack([w_in, e]))
    if method == "numba":
        out = _cpu.ss_run(F, G, H, J, s0, w)
    elif method == "control":
        import control

        sys = control.ss(F, G, H, J, dt=True)
        resp = control.forced_response(sys, np.arange(N), w.T, X0=s0)
        out = np.asarray(resp.outputs).reshape(H.shape[0], N).T
    else:
        raise LTIError(f"method: expected 'numba' or 'control', got {method!r}")
    return np.ascontiguousarray(out[:, : model.nu]), np.ascontiguousarray(out[:, model.nu :])


def _check_n(N: object) -> int:
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 1:
        raise LTIError(f"N: expected a positive integer number of samples, got {N!r}")
    return int(N)


class _Channels(Protocol):
    """Anything with input and output channel counts (a model, or a stand-in for raw data)."""

    @property
    def nu(self) -> int: ...
    @property
    def ny(self) -> int: ...


def _as_data(theta: _Channels, u: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """Validated contiguous (N, nu) and (N, ny) float arrays.

    1-D arrays are accepted for a single channel, and u may be None without inputs.
    """
    arrays: list[np.ndarray] = []
    for name, value, width in (("y", y, theta.ny), ("u", u, theta.nu)):
        if value is None and width == 0:
            arrays.append(np.zeros((arrays[0].shape[0], 0)))
            continue
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as exc:
            raise LTIError(f"{name}: expected a real array, got {type(value).__name__}") from exc
        if arr.ndim == 1 and width == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != width:
            raise LTIError(f"{name}: expected shape (N, {width}), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise LTIError(f"{name}: contains NaN or inf")
        arrays.append(arr)
    y_arr, u_arr = arrays
    if u_arr.shape[0] != y_arr.shape[0]:
        raise LTIError(
            f"u, y: expected the same number of samples, got {u_arr.shape[0]} and {y_arr.shape[0]}"
        )
    if y_arr.shape[0] < 1:
        raise LTIError("y: expected at least one sample")
    return np.ascontiguousarray(u_arr), np.ascontiguousarray(y_arr)


def _predictor_system(theta: Predictor | StochasticLTI) -> tuple[np.ndarray, ...]:
    """The predictor as an LTI system from [u; y] to the prediction error eps."""
    A, B, C, D, K = theta.A, theta.B, theta.C, theta.D, theta.K
    Abar = A - K @ C
    Gp = np.hstack([B - K @ D, K])
    Jp = np.hstack([-D, np.eye(theta.ny)])
    return Abar, Gp, -C, Jp


def prediction_errors(theta: Predictor | StochasticLTI, u: object, y: object) -> np.ndarray:
    """eps = y - yh, (N, ny), of the steady-state predictor started at xh(0) = 0."""
    u, y = _as_data(theta, u, y)
    Abar, Gp, Hp, Jp = _predictor_system(theta)
    return _cpu.ss_run(Abar, Gp, Hp, Jp, np.zeros(theta.n), np.hstack([u, y]))


def predict(theta: Predictor | StochasticLTI, u: object, y: object) -> np.ndarray:
    """One-step predictions yh(t) from u(0..t) and y(0..t-1), (N, ny); xh(0) = 0."""
    u_arr, y_arr = _as_data(theta, u, y)
    return y_arr - prediction_errors(theta, u_arr, y_arr)


def empirical_loss(theta: Predictor | StochasticLTI, u: object, y: object) -> float:
    """V_N = (1/N) sum_t ||y(t) - yh(t)||^2."""
    eps = prediction_errors(theta, u, y)
    return float(np.sum(eps * eps) / eps.shape[0])


class ErrorSystem(NamedTuple):
    """Joint system of data generator and predictor whose output is the prediction error.

    z(t+1) = F z + G w, eps(t) = H z + J w with w white of covariance W; z = [xf; x; xh].
    ``P0`` is Cov z(0) for the chosen initial condition (the predictor always starts at 0).
    """

    F: np.ndarray
    G: np.ndarray
    H: np.ndarray
    J: np.ndarray
    W: np.ndarray
    P0: np.ndarray


def error_system(
    system: StochasticLTI, theta: Predictor | StochasticLTI, *, x0: X0Mode = "stationary"
) -> ErrorSystem:
    """Augmented (F, G, H, J, W, P0) of the reference: generator state, then predictor state."""
    if theta.nu != system.nu or theta.ny != system.ny:
        raise LTIError(
            f"theta: expected {system.nu} inputs and {system.ny} outputs like the "
            f"system, got {theta.nu} and {theta.ny}"
        )
    Fs, Gs, Hs, Js, W = system.generator()
    Abar, Gp, Hp, Jp = _predictor_system(theta)
    ns, n = Fs.shape[0], theta.n
    F = np.block([[Fs, np.zeros((ns, n))], [Gp @ Hs, Abar]])
    G = np.vstack([Gs, Gp @ Js])
    H = np.hstack([Jp @ Hs, Hp])
    J = Jp @ Js
    P0 = np.zeros((ns + n, ns + n))
    if x0 == "stationary":
        P0[:ns, :ns] = _dlyap(Fs, Gs @ W @ Gs.T)
    elif x0 != "zero":
        raise LTIError(f"x0: expected 'stationary' or 'zero', got {x0!r}")
    return ErrorSystem(F, G, H, J, W, P0)


def generalization_error(system: StochasticLTI, theta: Predictor | StochasticLTI) -> float:
    """L(theta) = lim E||y(t) - yh(t)||^2 from the augmented discrete Lyapunov equation."""
    F, G, H, J, W, _ = error_system(system, theta, x0="zero")
    P = _dlyap(F, G @ W @ G.T)
    return float(np.trace(H @ P @ H.T + J @ W @ J.T))


def _generalization_errors(
    system: StochasticLTI,
    A: np.ndarray,
    B: np.ndarray,
    C: np.ndarray,
    D: np.ndarray,
    K: np.ndarray,
) -> np.ndarray:
    """L of M predictors given as batched matrices (M, n, n), ..., (M, n, ny); (M,).

    The Lyapunov equations are solved together as Kronecker-product linear systems, which for
    small state dimensions is far cheaper than one scipy call per model. Unstable predictors
    give inf.
    """
    Fs, Gs, Hs, Js, W = system.generator()
    M, n = A.shape[0], A.shape[1]
    ny = system.ny
    ns = Fs.shape[0]
    nz = ns + n
    Abar = A - K @ C
    Gp = np.concatenate([B - K @ D, K], axis=2)
    Jp = np.concatenate([-D, np.broadcast_to(np.eye(ny), (M, ny, ny))], axis=2)
    F = np.zeros((M, nz, nz))
    F[:, :ns, :ns] = Fs
    F[:, ns:, :ns] = Gp @ Hs
    F[:, ns:, ns:] = Abar
    G = np.concatenate([np.broadcast_to(Gs, (M, *Gs.shape)), Gp @ Js], axis=1)
    H = np.concatenate([Jp @ Hs, -C], axis=2)
    J = Jp @ Js
    out = np.full(M, np.inf)
    radius = np.max(np.abs(np.linalg.eigvals(Abar)), axis=1) if n else np.zeros(M)
    ok = radius < 1.0
    if not np.any(ok):
        return out
    F, G, H, J = F[ok], G[ok], H[ok], J[ok]
    Q = G @ W @ G.transpose(0, 2, 1)
    kron = np.einsum("mij,mkl->mikjl", F, F).reshape(-1, nz * nz, nz * nz)
    vecP = np.linalg.solve(np.eye(nz * nz) - kron, Q.reshape(-1, nz * nz, 1))
    P = vecP.reshape(-1, nz, nz)
    out[ok] = np.einsum("mij,mjk,mik->m", H, P, H) + np.einsum("mij,jk,mik->m", J, W, J)
    return out


def _moment_terms(
    es: ErrorSystem,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    F, G, H, J, W, P0 = es
    return (
        np.ascontiguousarray(F),
        G @ W @ G.T,
        G @ W @ J.T,
        J @ W @ J.T,
        np.ascontiguousarray(H),
        np.ascontiguousarray(P0),
    )


def loss_moments(
    system: StochasticLTI, theta: Predictor | StochasticLTI, N: int, *, x0: X0Mode = "stationary"
) -> tuple[float, float]:
    """Exact mean and variance of V_N(theta) over trajectories of N samples (Gaussian data).

    E V_N = tr(R)/N and Var V_N = 2 tr(R^2)/N^2 for the error covariance R, both in O(N)
    through covariance recursions instead of the (N ny)^2 matrix.
    """
    N = _check_n(N)
    tr1, tr2 = _cpu.error_moments(*_moment_terms(error_system(system, theta, x0=x0)), N)
    return tr1 / N, 2.0 * tr2 / N**2


def error_covariance(
    system: StochasticLTI, theta: Predictor | StochasticLTI, N: int, *, x0: X0Mode = "stationary"
) -> np.ndarray:
    """Dense covariance R of the stacked errors [eps(0); ...; eps(N-1)], (N ny, N ny).

    O(N^2) memory; a reference for small N.
    """
    N = _check_n(N)
    F, GWG, GWJ, JWJ, H, P0 = _moment_terms(error_system(system, theta, x0=x0))
    ny, nz = H.shape
    # H F^k for k = 0..N-2, then every column block of R from M(t) = F P(t) H^T + G W J^T.
    HFk = np.empty((max(N - 1, 1), ny, nz))
    HFk[0] = H
    for k in range(1, N - 1):
        HFk[k] = HFk[k - 1] @ F
    R = np.zeros((N * ny, N * ny))
    P = P0.copy()
    for t in range(N):
        R[t * ny : (t + 1) * ny, t * ny : (t + 1) * ny] = H @ P @ H.T + JWJ
        if t < N - 1:
            M = F @ P @ H.T + GWJ
            block = (HFk[: N - 1 - t] @ M).reshape(-1, ny)
            R[(t + 1) * ny :, t * ny : (t + 1) * ny] = block
            R[t * ny : (t + 1) * ny, (t + 1) * ny :] = block.T
        P = F @ P @ F.T + GWG
    return R


def error_logdet(
    system: StochasticLTI,
    theta: Predictor | StochasticLTI,
    N: int,
    c: float,
    *,
    x0: X0Mode = "stationary",
    method: Literal["kalman", "dense"] = "kalman",
    tol: float = 1e-15,
) -> float:
    """ln det(I + c R) for the error covariance R of N samples.

    Args:
        system, theta: data generator and hypothesis.
        N: number of samples.
        c: non-negative scale (2 lambda / N in the bound).
        x0: initial condition of the generator.
        method: "kalman" factorises the determinant into Kalman innovation covariances,
            O(N n^3) (faster still once the Riccati recursion has converged, see ``tol``);
            "dense" forms R and takes its log-determinant, O(N^3), a reference.
        tol: relative change of the Riccati solution below which it counts as converged and the
            remaining steps are added in closed form; 0 runs all N steps.
    """
    N = _check_n(N)
    if not c >= 0.0:
        raise LTIError(f"c: expected a non-negative scale, got {c!r}")
    if method == "kalman":
        F, GWG, GWJ, JWJ, H, P0 = _moment_terms(error_system(system, theta, x0=x0))
        return float(_cpu.kalman_logdet(F, GWG, GWJ, JWJ, H, P0, float(c), N, float(tol)))
    if method == "dense":
        R = error_covariance(system, theta, N, x0=x0)
        _, logdet = np.linalg.slogdet(np.eye(R.shape[0]) + c * R)
        return float(logdet)
    raise LTIError(f"method: expected 'kalman' or 'dense', got {method!r}")
