"""Random test matrices with controlled spectra, and oracles written independently of the package."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


def rng_of(seed) -> np.random.Generator:
    return np.random.default_rng(seed)


def orthogonal(rng, n):
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


def spd(rng, n, lo=0.5, hi=2.0):
    """Symmetric positive definite with eigenvalues in [lo, hi]."""
    R = orthogonal(rng, n)
    return (R * rng.uniform(lo, hi, n)) @ R.T


def symmetric_force(rng, n, n_negative=0):
    """Symmetric F with eigenvalues in [0.5, 2] and ``n_negative`` of them in [−3, −2.5] (a saddle).

    Positive and negative eigenvalues stay ≥ 0.5 apart in |λ_i + λ_j|, so the problem is well posed.
    """
    lam = rng.uniform(0.5, 2.0, n)
    lam[:n_negative] = rng.uniform(-3.0, -2.5, n_negative)
    R = orthogonal(rng, n)
    return (R * lam) @ R.T


def general_force(rng, n, n_negative=0):
    """Non-symmetric F = M B M⁻¹: B has ``n_negative`` real eigenvalues in [−3, −2.5] (a saddle), the rest
    Re λ in [0.5, 2] with random complex pairs; M = I + 0.3·Gaussian/√n is well-conditioned."""
    B = np.zeros((n, n))
    B[range(n_negative), range(n_negative)] = rng.uniform(-3.0, -2.5, n_negative)
    i = n_negative
    while i < n:
        re = rng.uniform(0.5, 2.0)
        if i + 1 < n and rng.random() < 0.5:
            w = rng.uniform(0.2, 1.5)
            B[i : i + 2, i : i + 2] = [[re, w], [-w, re]]
            i += 2
        else:
            B[i, i] = re
            i += 1
    M = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    return M @ B @ np.linalg.inv(M)


def n_negative_real(F) -> int:
    return int(np.sum(np.linalg.eigvals(F).real < 0))


# ---- oracles: the n²×n² vectorised solves that existing code uses (column-major vec) ----


def kron_lyapunov(F, R):
    """X with FX + XFᵀ = R, by (I⊗F + F⊗I) vec X = vec R."""
    n = F.shape[0]
    K = np.kron(np.eye(n), F) + np.kron(F, np.eye(n))
    return np.linalg.solve(K, R.reshape(-1, order="F")).reshape(n, n, order="F")


def kron_discrete_lyapunov(A, R):
    """X with X = AXAᵀ + R, by (I − A⊗A) vec X = vec R."""
    n = A.shape[0]
    K = np.eye(n * n) - np.kron(A, A)
    return np.linalg.solve(K, R.reshape(-1, order="F")).reshape(n, n, order="F")


def brute_window_covariance(H, noise, window, start, stride=1):
    """E of the 1/T sample covariance of x_{b}, x_{b+s}, …, x_{b+(T−1)s}, x_{t+1} = (I − H)x_t + ξ, Cov ξ = noise.

    ``H`` here already includes the learning rate. Explicit O(T²) double loop over snapshot pairs in the
    original coordinates: P_t = E x_t x_tᵀ by its recursion step by step, E x_u x_tᵀ = P_u (Aˢ)ᵗ⁻ᵘᵀ for
    snapshots u ≤ t. ``start`` is an int b (x_0 = 0) or a stationary covariance matrix for the first snapshot.
    """
    n = H.shape[0]
    A = np.eye(n) - H
    if isinstance(start, int):
        P = np.zeros((n, n))
        for _ in range(start):
            P = A @ P @ A.T + noise
    else:
        P = start
    Ps = []
    for _ in range(window):
        Ps.append(P)
        for _ in range(stride):
            P = A @ P @ A.T + noise
    As = np.linalg.matrix_power(A, stride)
    T = window
    second = sum(Ps) / T
    cross = np.zeros((n, n))
    for s in range(T):
        Ak = np.eye(n)
        for t in range(s, T):
            c = Ps[s] @ Ak.T  # E x_s x_tᵀ
            cross += c if t == s else c + c.T
            Ak = As @ Ak
    return second - cross / T**2


sizes = st.integers(min_value=1, max_value=24)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
