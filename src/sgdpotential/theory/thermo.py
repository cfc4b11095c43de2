"""Stochastic thermodynamics of the linear SDE: entropy production, probability current, rotation planes.

Detailed balance fails exactly when Q ≠ 0. These functions say by how much (entropy production), where
the probability flows (the current circulates on surfaces of constant potential), and in which planes
(the 2×2 "vortices" of S and A after whitening the noise; paper, Discussion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from .._repr import concise_repr
from ..errors import DecompositionError
from ._checks import positive_scalar
from .decomposition import Decomposition, decompose
from .lyapunov import require_stable

__all__ = [
    "RotationPlanes",
    "area_rate",
    "entropy_production",
    "probability_current",
    "rotation_planes",
]


def _noise_cholesky(D: np.ndarray, purpose: str) -> np.ndarray:
    """Lower Cholesky factor L of D = LLᵀ, or a clear error when D is singular."""
    w = np.linalg.eigvalsh(D)
    if w[0] <= D.shape[0] * np.finfo(float).eps * max(w[-1], 0.0):
        raise DecompositionError(
            f"{purpose} needs a positive-definite D, but its smallest eigenvalue is {w[0]:.3g} "
            f"(largest {w[-1]:.3g}); restrict F and D to the directions the noise reaches."
        )
    return np.linalg.cholesky(D)


def entropy_production(F, D, eps: float = 1.0, *, formula: str = "force") -> float:
    r"""Stationary entropy production rate e_p of ẋ = −Fx + ζ, ⟨ζζᵀ⟩ = 2εD.

    .. math:: e_p = \frac1\varepsilon \operatorname{tr}(F^\top D^{-1} F \Sigma) - \operatorname{tr} F
                  = \operatorname{tr}(Q^\top D^{-1} Q U) \;\ge 0,

    zero iff Q = 0 (detailed balance). Units: nats per unit time (per SGD step for F = αH).

    Parameters
    ----------
    F, D, eps
        As in :func:`decompose`; F must be stable and D positive definite.
    formula : {"force", "potential"}
        ``"force"``: the first expression, from Σ; ``"potential"``: tr(QᵀD⁻¹QU) from the decomposition.
        Both are computed from one decomposition; they agree to round-off (tested).

    Returns
    -------
    float

    Notes
    -----
    O(n³) (one decomposition and Cholesky solves with D). The potential form follows from F = (D + Q)U,
    Σ = εU⁻¹ and tr(QU) = 0.

    Examples
    --------
    >>> import numpy as np
    >>> round(entropy_production(np.eye(2), np.eye(2)), 12)  # detailed balance
    0.0
    """
    dec = decompose(F, D, eps)
    return entropy_production_of(dec, formula=formula)


def entropy_production_of(dec: Decomposition, *, formula: str = "force") -> float:
    """:func:`entropy_production` of an existing :class:`Decomposition` (no second solve)."""
    if formula not in ("force", "potential"):
        raise DecompositionError(f"formula = {formula!r} is not one of 'force', 'potential'.")
    if dec.kind != "stable":
        require_stable("F", dec.eigenvalues, "there is no stationary state whose entropy production to compute")
    L = _noise_cholesky(dec.D, "entropy production")
    if formula == "force":
        X = sla.cho_solve((L, True), dec.F)  # D⁻¹F
        return float(np.sum((dec.F.T @ X) * dec.covariance.T) / dec.eps - np.trace(dec.F))
    X = sla.cho_solve((L, True), dec.Q)  # D⁻¹Q
    return float(np.sum((dec.Q.T @ X) * dec.U.T))


def probability_current(dec: Decomposition, x) -> np.ndarray:
    r"""Stationary probability current J(x) = −QUx ρ(x) of a stable decomposition.

    ρ is the normalised Boltzmann density ∝ exp(−xᵀUx/2ε) (paper Eq. 6). J equals the Fokker–Planck flux
    −Fxρ − εD∇ρ, is divergence-free, and is tangent to the surfaces of constant potential.

    Parameters
    ----------
    dec : Decomposition
        With ``kind == "stable"`` (a saddle has no normalisable ρ).
    x : (n,) or (m, n) array_like
        Points.

    Returns
    -------
    J : ndarray of the shape of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> dec = decompose([[1.0, 0.5], [-0.5, 1.0]], np.eye(2))  # U = I, Q = [[0, 0.5], [-0.5, 0]]
    >>> probability_current(dec, [1.0, 0.0]).round(4) + 0.0  # −QUx·ρ(x), ρ(x) = e^{−1/2}/2π
    array([0.    , 0.0483])
    """
    if dec.kind != "stable":
        require_stable("F", dec.eigenvalues, "the Boltzmann density is not normalisable and has no current")
    x = np.asarray(x, dtype=float)
    if x.shape[-1:] != (dec.n,) or x.ndim > 2:
        raise DecompositionError(f"x has shape {x.shape}; pass points of shape ({dec.n},) or (m, {dec.n}).")
    sigma = dec.covariance
    _, logdet = np.linalg.slogdet(2 * np.pi * sigma)
    Ux = x @ dec.U  # U symmetric
    log_rho = -0.5 * np.sum(x * Ux, axis=-1) / dec.eps - 0.5 * logdet
    return -(Ux @ dec.Q.T) * np.exp(log_rho)[..., None]


@dataclass(frozen=True)
class RotationPlanes:
    """The invariant 2×2 planes of the circulation after whitening the noise.

    With D = LLᵀ and x = Ly the noise is isotropic, D_w = I, Q_w = L⁻¹QL⁻ᵀ, and S_w = (I − Q_w²)⁻¹,
    A_w = −Q_w(I − Q_w²)⁻¹ split into the same 2×2 blocks: S_w is s_k·1 and A_w is a rotation generator
    in plane k. Planes are sorted by decreasing q.

    Attributes
    ----------
    q : (K,) ndarray
        Circulation strengths q_k ≥ 0: Q_w = Σ_k q_k (e_k f_kᵀ − f_k e_kᵀ) with (e_k, f_k) plane k.
    area_rates : (K,) ndarray
        ε q_k, the stationary rate at which the whitened trajectory sweeps signed area in plane k
        (the area-rate estimator of εQ).
    s : (K,) ndarray
        Eigenvalue 1/(1 + q_k²) of S_w, shared by both vectors of plane k.
    a : (K,) ndarray
        A_w restricted to plane k is a·[[0, −1], [1, 0]] in the (e_k, f_k) basis with a = q_k/(1 + q_k²).
    planes_whitened : (K, n, 2) ndarray
        Orthonormal (e_k, f_k) in whitened coordinates y.
    planes : (K, n, 2) ndarray
        The same planes in the original coordinates x = Ly (columns L e_k, L f_k, not orthonormal).
    fixed_whitened : (n, n − 2K) ndarray
        Orthonormal basis of the whitened directions with no circulation (Q_w v = 0).
    whitening : (n, n) ndarray
        The lower-triangular L with D = LLᵀ.
    """

    __repr__ = concise_repr

    q: np.ndarray
    area_rates: np.ndarray
    s: np.ndarray
    a: np.ndarray
    planes_whitened: np.ndarray
    planes: np.ndarray
    fixed_whitened: np.ndarray
    whitening: np.ndarray


def rotation_planes(dec: Decomposition) -> RotationPlanes:
    """Rotation planes of Q (equivalently of A) in noise-whitened coordinates.

    Method: Cholesky D = LLᵀ, Q_w = L⁻¹QL⁻ᵀ, then the real Schur form of the antisymmetric (hence
    normal) Q_w, which is block-diagonal with blocks [[0, q], [−q, 0]]; O(n³). The planes in x
    coordinates do not depend on which square root of D whitens. Requires a positive-definite D.

    Examples
    --------
    >>> import numpy as np
    >>> dec = decompose([[1.0, 0.5], [-0.5, 1.0]], np.eye(2))
    >>> planes = rotation_planes(dec)
    >>> planes.q.round(12), planes.s.round(12)
    (array([0.5]), array([0.8]))
    """
    n = dec.n
    L = _noise_cholesky(dec.D, "rotation_planes (whitening the noise)")
    Qw = sla.solve_triangular(L, sla.solve_triangular(L, dec.Q.T, lower=True).T, lower=True)
    Qw = (Qw - Qw.T) / 2
    T, Z = sla.schur(Qw, output="real")
    qs, vecs, fixed = [], [], []
    i = 0
    while i < n:
        if i + 1 < n and T[i + 1, i] != 0.0:
            # normal quasi-triangular ⇒ block [[0, t], [−t, 0]]; orient so that q = T[i, i+1] ≥ 0
            e, f = Z[:, i], Z[:, i + 1]
            t = 0.5 * (T[i, i + 1] - T[i + 1, i])
            if t < 0:
                e, f, t = f, e, -t
            qs.append(t)
            vecs.append(np.column_stack([e, f]))
            i += 2
        else:
            fixed.append(Z[:, i])
            i += 1
    order = np.argsort(qs)[::-1]
    q = np.asarray(qs, dtype=float)[order]
    planes_w = np.asarray(vecs, dtype=float).reshape(-1, n, 2)[order]
    return RotationPlanes(
        q=q,
        area_rates=dec.eps * q,
        s=1.0 / (1.0 + q**2),
        a=q / (1.0 + q**2),
        planes_whitened=planes_w,
        planes=np.einsum("ij,kjl->kil", L, planes_w),
        fixed_whitened=np.asarray(fixed, dtype=float).reshape(-1, n).T,
        whitening=L,
    )


def area_rate(x, dt: float) -> np.ndarray:
    r"""Area-rate estimate of εQ from a sampled path: (1/T) Σ_t (x_t ∘ Δx_t − Δx_t ∘ x_t)/2.

    With the Stratonovich midpoint ``x̄_t = (x_t + x_{t+1})/2``, the antisymmetric matrix

    .. math:: \hat a_{ij} = \frac{1}{2T}\sum_t (\bar x_{t,i}\,\Delta x_{t,j} - \bar x_{t,j}\,\Delta x_{t,i})

    converges to εQ_ij for a stationary path of ẋ = −Fx + ζ (T = total time). Because the midpoint
    terms cancel, this equals (1/2T) Σ_t (x_{t,i} x_{t+1,j} − x_{t,j} x_{t+1,i}).

    Parameters
    ----------
    x : (m, n) array_like
        Path sampled every ``dt``.
    dt : float

    Returns
    -------
    (n, n) antisymmetric ndarray
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2:
        raise DecompositionError(f"x has shape {x.shape}; pass a path of shape (m ≥ 2, n).")
    dt = positive_scalar("dt", dt, "the sampling interval must be positive")
    M = x[:-1].T @ x[1:]
    return (M - M.T) / (2 * dt * (x.shape[0] - 1))
