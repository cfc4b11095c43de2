r"""The pair recursion: the exact second moments of a linear stochastic recursion, one pair of modes at a time.

In the eigenbasis of a symmetric Hessian H = V diag(h) Vᵀ every linear model of an optimizer here decouples into
modes. Mode i carries a state z_i of d numbers — d = 1 for plain SGD (the weight), d = 2 for heavy-ball momentum
(weight and velocity) — that obeys

.. math:: z_{i,t+1} = A_i z_{i,t} + e\,\xi_{i,t},\qquad e = (1, \dots, 1)^\top,

with the per-step noise ξ, of covariance Ñ = Vᵀ(α²κC/B)V across modes, shared by the d components. Every
covariance law (stationary, finite window) is then V (Ñ ∘ G) Vᵀ with G_ij a factor of the pair (i, j) per unit
noise, computed here for all pairs at once and for both optimizers by the same code:

* :func:`stationary_pairs` — P = E z_i z_jᵀ in the stationary state, the Stein equation P = A_i P A_jᵀ + eeᵀ
  solved as (I − A_i ⊗ A_j) vec P = vec eeᵀ (one d² × d² solve per pair);
* :func:`started_pairs` — P after b steps from z = 0, the affine map to its b-th power by repeated squaring;
* :func:`window_pairs` — the expected 1/T-normalised sample covariance of T snapshots, whose pair state
  (P, X = E z_i Y_jᵀ, W = E Y_i z_jᵀ, V = E Y_i Y_jᵀ with Y the running window sums, and Z = Σ_u P(u)) is one
  affine map of dimension 5d² + 1, taken to its (T − 1)-th power: O(log T) products per pair.

Plain SGD's laws are the d = 1 case, heavy-ball's the d = 2 case: at μ = 0 the two agree to round-off
(``tests/theory/test_pairs.py``). The caller builds A (:func:`sgd_blocks`, :func:`momentum_blocks`) and may pass
I − A_i ⊗ A_j in a form without cancellation where it has one (plain SGD: a_i + a_j − a_i a_j).
"""

from __future__ import annotations

import numpy as np

from ..errors import DecompositionError
from ._checks import SINGULARITY_RTOL

__all__ = ["affine_power_apply", "momentum_blocks", "over_pairs", "pair_kron", "require_stable_modes", "sgd_blocks",
           "stable_modes", "started_pairs", "stationary_pairs", "strided_decay", "window_pairs"]


def affine_power_apply(M: np.ndarray, s: np.ndarray, e: int) -> np.ndarray:
    """M^e s for stacks M (m, k, k), s (m, k) by repeated squaring (powers of M commute)."""
    s = s[..., None]
    while e:
        if e & 1:
            s = M @ s
        e >>= 1
        if e:
            M = M @ M
    return s[..., 0]


def strided_decay(a: np.ndarray, stride: int) -> np.ndarray:
    """a' = 1 − (1 − a)^s: the decay per snapshot of modes with decay a per step, computed without cancellation
    where 1 − a > 0."""
    r = 1.0 - a
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        logs = np.log1p(-np.where(r > 0, a, 0.0))
        return np.where(r > 0, -np.expm1(stride * logs), 1.0 - np.power(r, stride))


def sgd_blocks(a: np.ndarray) -> np.ndarray:
    """Plain SGD's per-mode transition, A = [[1 − a]] with a = αh: shape (n, 1, 1)."""
    return (1.0 - np.asarray(a, dtype=float)).reshape(-1, 1, 1)


def momentum_blocks(a: np.ndarray, momentum: float) -> np.ndarray:
    """Heavy-ball's per-mode transition in (x, u), A = [[1 − a, μ], [−a, μ]] with a = αh: shape (n, 2, 2)."""
    a = np.asarray(a, dtype=float)
    A = np.empty((a.size, 2, 2))
    A[:, 0, 0], A[:, 0, 1], A[:, 1, 0], A[:, 1, 1] = 1.0 - a, momentum, -a, momentum
    return A


def _upper(momentum: float) -> float:
    """The stability edge of αh, 2(1 + μ) (Jury's criterion; 2 for plain SGD)."""
    return 2 * (1 + momentum)


def stable_modes(a: np.ndarray, momentum: float = 0.0) -> np.ndarray:
    """Which modes have a stationary law: 0 < αh < 2(1 + μ), with margin SINGULARITY_RTOL."""
    return (a > SINGULARITY_RTOL) & (a < _upper(momentum) - SINGULARITY_RTOL)


def require_stable_modes(a: np.ndarray, h: np.ndarray, lr: float, momentum: float, alternative: str) -> None:
    """Every mode stable (:func:`stable_modes`), or a :class:`DecompositionError` naming the extreme mode that is not
    (the smallest αh at or below 0, else the largest at or above the edge)."""
    lo, hi = int(np.argmin(a)), int(np.argmax(a))
    bound, who = ("2", "SGD") if momentum == 0 else ("2(1 + μ)", "SGD with momentum")
    if a[lo] <= SINGULARITY_RTOL:
        raise DecompositionError(
            f"H has eigenvalue {h[lo]:.6g}, so lr·λ = {a[lo]:.3g} is not in (0, {bound}) "
            f"({int(np.sum(a <= SINGULARITY_RTOL))} of {a.size} such): along flat or negative-curvature directions "
            f"{who} has no stationary law; {alternative}.")
    if a[hi] >= _upper(momentum) - SINGULARITY_RTOL:
        if momentum == 0:
            raise DecompositionError(
                f"H has eigenvalue {h[hi]:.6g}, so lr·λ = {a[hi]:.6g} ≥ 2 with lr = {lr:g}: SGD diverges along "
                f"that direction; use lr < 2/λ_max = {2 / h[hi]:.6g}.")
        raise DecompositionError(
            f"H has eigenvalue {h[hi]:.6g}, so lr·λ = {a[hi]:.6g} ≥ 2(1 + μ) = {_upper(momentum):.6g} with lr = "
            f"{lr:g}, momentum = {momentum:g}: SGD with momentum diverges along that direction; use lr < 2(1 + μ)/"
            f"λ_max = {_upper(momentum) / h[hi]:.6g}.")


def pair_kron(Ai: np.ndarray, Aj: np.ndarray) -> np.ndarray:
    """K = A_i ⊗ A_j per pair, the map vec P ↦ vec(A_i P A_jᵀ) (row-major vec): shape (m, d², d²)."""
    m, d = Ai.shape[0], Ai.shape[1]
    if d == 1:
        return Ai * Aj
    return np.einsum("mpr,mqs->mpqrs", Ai, Aj).reshape(m, d * d, d * d)


def stationary_pairs(I_K: np.ndarray) -> np.ndarray:
    """vec P of the stationary pair moment per unit noise, (I − K) vec P = vec eeᵀ, from ``I_K`` = I − K of shape
    (..., d², d²): shape (..., d²).

    The caller passes I − K in a form without cancellation where it has one (plain SGD: a_i + a_j − a_i a_j, exact
    for flat modes where 1 − r_i r_j is not); with d = 1 the solve is the division it amounts to."""
    if I_K.shape[-1] == 1:
        return 1.0 / I_K[..., 0]
    return np.linalg.solve(I_K, np.ones((*I_K.shape[:-1], 1)))[..., 0]


def over_pairs(n: int, factor, chunk: int) -> np.ndarray:
    """The symmetric (n, n) matrix G of a pair factor: ``factor(i, j)`` on the pairs i ≤ j, ``chunk`` at a time."""
    iu, ju = np.triu_indices(n)
    G = np.empty((n, n))
    for lo in range(0, iu.size, chunk):
        i, j = iu[lo : lo + chunk], ju[lo : lo + chunk]
        g = factor(i, j)
        G[i, j] = g
        G[j, i] = g
    return G


def started_pairs(K: np.ndarray, b: int) -> np.ndarray:
    """vec P of the pair moment per unit noise ``b`` steps after z = 0: the affine map vec P ↦ K vec P + vec eeᵀ
    to its b-th power, shape (m, d²)."""
    m, k = K.shape[0], K.shape[1]
    pre = np.zeros((m, k + 1, k + 1))
    pre[:, :k, :k], pre[:, :k, k], pre[:, k, k] = K, 1.0, 1.0
    start = np.zeros((m, k + 1))
    start[:, k] = 1.0
    return affine_power_apply(pre, start, b)[:, :k]


def window_pairs(Ai: np.ndarray, Aj: np.ndarray, P0: np.ndarray, T: int, K: np.ndarray | None = None) -> np.ndarray:
    """G_ij per unit noise: the first components' entry of E Σ̂_T = Z/T − V/T² after T snapshots, the first
    with pair moment ``P0`` (vec, (m, d²)), one step of A apart: shape (m,).

    One step maps P' = A_i P A_jᵀ + eeᵀ, X' = A_i X + P', W' = W A_jᵀ + P', V' = V + A_i X + W A_jᵀ + P',
    Z' = Z + P' — one (5d² + 1)-dimensional affine map per pair, applied T − 1 times by repeated squaring.
    ``K`` is :func:`pair_kron` of (A_i, A_j) where the caller has it already."""
    m, d = Ai.shape[0], Ai.shape[1]
    k = d * d
    if K is None:
        K = pair_kron(Ai, Aj)
    if d == 1:  # the scalar case: A_i ⊗ I and I ⊗ A_j are A_i and A_j
        L, R = Ai, Aj
    else:
        eye = np.eye(d)
        L = np.einsum("mpr,qs->mpqrs", Ai, eye).reshape(m, k, k)  # vec X ↦ vec(A_i X)
        R = np.einsum("pr,mqs->mpqrs", eye, Aj).reshape(m, k, k)  # vec W ↦ vec(W A_jᵀ)
    P_, X_, W_, V_, Z_ = (slice(b * k, (b + 1) * k) for b in range(5))
    M = np.zeros((m, 5 * k + 1, 5 * k + 1))
    for rows in (P_, X_, W_, V_, Z_):  # every block gains P' = K P + eeᵀ
        M[:, rows, P_] = K
        M[:, rows, 5 * k] = 1.0
    M[:, X_, X_] = L
    M[:, W_, W_] = R
    M[:, V_, V_] = np.eye(k)
    M[:, V_, X_] = L
    M[:, V_, W_] = R
    M[:, Z_, Z_] = np.eye(k)
    M[:, 5 * k, 5 * k] = 1.0
    s0 = np.concatenate([np.tile(P0, (1, 5)), np.ones((m, 1))], axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        s = affine_power_apply(M, s0, T - 1)
        return s[:, 4 * k] / T - s[:, 3 * k] / T**2  # the first components' entries of Z and V
