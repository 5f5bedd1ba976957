"""numba kernels for the LTI package: state-space runs, predictor losses and error-covariance
recursions. All are O(N) in the sample length and allocate nothing per time step."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def ss_run(F, G, H, J, x0, w):  # pragma: no cover - compiled
    """Output (N, ny) of x(t+1) = F x + G w(t), out(t) = H x + J w(t) from x(0) = x0."""
    N = w.shape[0]
    nx = F.shape[0]
    nw = G.shape[1]
    ny = H.shape[0]
    out = np.empty((N, ny))
    x = x0.copy()
    xn = np.empty(nx)
    for t in range(N):
        for i in range(ny):
            acc = 0.0
            for k in range(nx):
                acc += H[i, k] * x[k]
            for k in range(nw):
                acc += J[i, k] * w[t, k]
            out[t, i] = acc
        for i in range(nx):
            acc = 0.0
            for k in range(nx):
                acc += F[i, k] * x[k]
            for k in range(nw):
                acc += G[i, k] * w[t, k]
            xn[i] = acc
        for i in range(nx):
            x[i] = xn[i]
    return out


@njit(cache=True)
def predictor_loss_batch(Abar, Bbar, K, C, D, u, y):  # pragma: no cover - compiled
    """V_N of M predictors at once: Abar (M, n, n), Bbar (M, n, nu), K (M, n, ny), C (M, ny, n),
    D (M, ny, nu); u (N, nu), y (N, ny). Returns (M,)."""
    M = Abar.shape[0]
    n = Abar.shape[1]
    nu = u.shape[1]
    ny = y.shape[1]
    N = y.shape[0]
    out = np.empty(M)
    for m in range(M):
        x = np.zeros(n)
        xn = np.empty(n)
        acc = 0.0
        for t in range(N):
            for i in range(ny):
                e = y[t, i]
                for k in range(n):
                    e -= C[m, i, k] * x[k]
                for k in range(nu):
                    e -= D[m, i, k] * u[t, k]
                acc += e * e
            for i in range(n):
                s = 0.0
                for k in range(n):
                    s += Abar[m, i, k] * x[k]
                for k in range(nu):
                    s += Bbar[m, i, k] * u[t, k]
                for k in range(ny):
                    s += K[m, i, k] * y[t, k]
                xn[i] = s
            for i in range(n):
                x[i] = xn[i]
        out[m] = acc / N
    return out


@njit(cache=True)
def kalman_logdet(F, GWG, GWJ, JWJ, H, P0, c, N, tol):  # pragma: no cover - compiled
    """ln det(I + c R) for the covariance R of N samples of eps(t) = H z(t) + J w(t),
    z(t+1) = F z + G w, Cov z(0) = P0, w white with covariance W.

    I + c R is the covariance of sqrt(c) eps + v with v white and unit, so a Kalman filter for
    that observation factorises it: ln det = sum_t ln det S_t. Once the Riccati recursion has
    converged (relative change <= tol) the remaining innovation covariances are all equal.
    """
    ny = H.shape[0]
    P = P0.copy()
    eye = np.eye(ny)
    total = 0.0
    for t in range(N):
        HP = H @ P
        S = eye + c * (HP @ H.T + JWJ)
        Mt = F @ HP.T + GWJ
        Lc = np.linalg.cholesky(S)
        ld = 0.0
        for i in range(ny):
            ld += 2.0 * np.log(Lc[i, i])
        total += ld
        # S^-1 Mt^T through the Cholesky factor.
        Z = np.linalg.solve(Lc, Mt.T)
        Pn = F @ P @ F.T + GWG - c * (Z.T @ Z)
        Pn = 0.5 * (Pn + Pn.T)
        if tol > 0.0 and t + 1 < N:
            diff = np.max(np.abs(Pn - P))
            scale = np.max(np.abs(Pn))
            if diff <= tol * scale:
                HP = H @ Pn
                S = eye + c * (HP @ H.T + JWJ)
                Lc = np.linalg.cholesky(S)
                ld = 0.0
                for i in range(ny):
                    ld += 2.0 * np.log(Lc[i, i])
                total += (N - t - 1) * ld
                return total
        P = Pn
    return total


@njit(cache=True)
def error_moments(F, GWG, GWJ, JWJ, H, P0, N):  # pragma: no cover - compiled
    """(tr R, tr R^2) for the error covariance R of kalman_logdet, without forming R.

    Cov(eps(t), eps(t)) = H P(t) H^T + JWJ and Cov(eps(t+k), eps(t)) = H F^(k-1) M(t) with
    M(t) = F P(t) H^T + GWJ, so the off-diagonal part of tr R^2 is
    2 sum_t tr(M(t)^T Q_(N-1-t) M(t)) with the finite observability Gramians
    Q_(m+1) = H^T H + F^T Q_m F, Q_0 = 0.
    """
    nz = F.shape[0]
    ny = H.shape[0]
    M = np.empty((N, nz, ny))
    P = P0.copy()
    tr1 = 0.0
    tr2 = 0.0
    for t in range(N):
        HP = H @ P
        Dt = HP @ H.T + JWJ
        tr1 += np.trace(Dt)
        tr2 += np.sum(Dt * Dt)
        M[t] = F @ HP.T + GWJ
        P = F @ P @ F.T + GWG
    HtH = H.T @ H
    Q = np.zeros((nz, nz))
    for m in range(1, N):
        Q = HtH + F.T @ Q @ F
        Mt = M[N - 1 - m]
        tr2 += 2.0 * np.trace(Mt.T @ Q @ Mt)
    return tr1, tr2


@njit(cache=True)
def pem_normal_equations(A, B, C, D, K, kinds, rows, cols, u, y, H, g):  # pragma: no cover
    """Sum of squared one-step prediction errors of an innovation model and, for the parameters
    listed by (kinds, rows, cols) (kind 0..4: an entry of A, B, C, D, K), the Gauss-Newton
    normal equations: H = J^T J and g = J^T e with J = de/dtheta, filled in place.

    The predictor runs x(t+1) = A x + B u + K e, e(t) = y - C x - D u, and each parameter's
    state sensitivity s = dx/dtheta follows s(t+1) = A s + K de + (unit term), de = -C s -
    (unit term), so J is exact. Every sum runs in a fixed order: the same data give the same
    bits whatever the memory layout or thread count.
    """
    N = y.shape[0]
    n = A.shape[0]
    nu = u.shape[1]
    ny = y.shape[1]
    P = kinds.shape[0]
    x = np.zeros(n)
    xn = np.empty(n)
    e = np.empty(ny)
    S = np.zeros((P, n))
    Sn = np.empty((P, n))
    de = np.empty((P, ny))
    for p in range(P):
        g[p] = 0.0
        for q in range(P):
            H[p, q] = 0.0
    cost = 0.0
    for t in range(N):
        for i in range(ny):
            acc = y[t, i]
            for k in range(n):
                acc -= C[i, k] * x[k]
            for k in range(nu):
                acc -= D[i, k] * u[t, k]
            e[i] = acc
            cost += acc * acc
        for p in range(P):
            for i in range(ny):
                acc = 0.0
                for k in range(n):
                    acc -= C[i, k] * S[p, k]
                de[p, i] = acc
            kind, r, c = kinds[p], rows[p], cols[p]
            if kind == 2:
                de[p, r] -= x[c]
            elif kind == 3:
                de[p, r] -= u[t, c]
            for i in range(n):
                acc = 0.0
                for k in range(n):
                    acc += A[i, k] * S[p, k]
                for k in range(ny):
                    acc += K[i, k] * de[p, k]
                Sn[p, i] = acc
            if kind == 0:
                Sn[p, r] += x[c]
            elif kind == 1:
                Sn[p, r] += u[t, c]
            elif kind == 4:
                Sn[p, r] += e[c]
        for p in range(P):
            acc = 0.0
            for i in range(ny):
                acc += de[p, i] * e[i]
            g[p] += acc
            for q in range(p + 1):
                acc = 0.0
                for i in range(ny):
                    acc += de[p, i] * de[q, i]
                H[p, q] += acc
        for i in range(n):
            acc = 0.0
            for k in range(n):
                acc += A[i, k] * x[k]
            for k in range(nu):
                acc += B[i, k] * u[t, k]
            for k in range(ny):
                acc += K[i, k] * e[k]
            xn[i] = acc
        for i in range(n):
            x[i] = xn[i]
        for p in range(P):
            for i in range(n):
                S[p, i] = Sn[p, i]
    for p in range(P):
        for q in range(p):
            H[q, p] = H[p, q]
    return cost


@njit(cache=True)
def pem_cost(A, B, C, D, K, u, y):  # pragma: no cover - compiled
    """Sum of squared one-step prediction errors, the same recursion as pem_normal_equations."""
    N = y.shape[0]
    n = A.shape[0]
    nu = u.shape[1]
    ny = y.shape[1]
    x = np.zeros(n)
    xn = np.empty(n)
    e = np.empty(ny)
    cost = 0.0
    for t in range(N):
        for i in range(ny):
            acc = y[t, i]
            for k in range(n):
                acc -= C[i, k] * x[k]
            for k in range(nu):
                acc -= D[i, k] * u[t, k]
            e[i] = acc
            cost += acc * acc
        for i in range(n):
            acc = 0.0
            for k in range(n):
                acc += A[i, k] * x[k]
            for k in range(nu):
                acc += B[i, k] * u[t, k]
            for k in range(ny):
                acc += K[i, k] * e[k]
            xn[i] = acc
        for i in range(n):
            x[i] = xn[i]
    return cost


@njit(cache=True)
def damped_solve(H, g, mu):  # pragma: no cover - compiled
    """Solve (H + mu diag(H)) d = -g by Cholesky in a fixed order (H symmetric PSD, mu > 0).

    Diagonal entries that vanish (a parameter the data do not see) are floored at a tiny
    multiple of the largest so the damped system stays definite. Returns (d, predicted, ok):
    ``predicted`` = d^T (mu diag(H) d - g), twice the decrease of the Gauss-Newton model of
    half the sum of squares.
    """
    P = g.shape[0]
    top = 0.0
    for p in range(P):
        top = max(top, H[p, p])
    floor = 1e-12 * top if top > 0.0 else 1.0
    L = np.zeros((P, P))
    for i in range(P):
        for j in range(i + 1):
            acc = H[i, j]
            if i == j:
                acc += mu * max(H[i, i], floor)
            for k in range(j):
                acc -= L[i, k] * L[j, k]
            if i == j:
                if acc <= 0.0:
                    return np.zeros(P), 0.0, False
                L[i, i] = np.sqrt(acc)
            else:
                L[i, j] = acc / L[j, j]
    z = np.empty(P)
    for i in range(P):
        acc = -g[i]
        for k in range(i):
            acc -= L[i, k] * z[k]
        z[i] = acc / L[i, i]
    d = np.empty(P)
    for i in range(P - 1, -1, -1):
        acc = z[i]
        for k in range(i + 1, P):
            acc -= L[k, i] * d[k]
        d[i] = acc / L[i, i]
    predicted = 0.0
    for i in range(P):
        predicted += d[i] * (mu * max(H[i, i], floor) * d[i] - g[i])
    return d, predicted, True


@njit(cache=True)
def sum_squares(e):  # pragma: no cover - compiled
    """Sum of squares of all entries of a 2-D array, in row-major order."""
    acc = 0.0
    for t in range(e.shape[0]):
        for i in range(e.shape[1]):
            acc += e[t, i] * e[t, i]
    return acc


@njit(cache=True)
def gram(e):  # pragma: no cover - compiled
    """e^T e of an (N, m) array, each entry summed over t in order (no BLAS blocking)."""
    m = e.shape[1]
    out = np.zeros((m, m))
    for t in range(e.shape[0]):
        for i in range(m):
            for j in range(m):
                out[i, j] += e[t, i] * e[t, j]
    return out
