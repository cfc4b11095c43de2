"""Stationary and finite-window covariances of linear stochastic dynamics.

Three laws, all exact for the linear model (no n²×n² systems anywhere):

* :func:`stationary_covariance` — the continuous-time law of ẋ = −Fx + ζ, ⟨ζζᵀ⟩ = 2εD, i.e. the
  Lyapunov equation FΣ + ΣFᵀ = 2εD (paper Eq. 14);
* :func:`sgd_stationary_covariance` — the exact stationary law of discrete SGD near a quadratic minimum,
  Σ = (I − αH) Σ (I − αH)ᵀ + α² C / B;
* :func:`sgd_window_covariance` — the expected *sample* covariance of T consecutive SGD steps, the
  quantity a trajectory PCA over a finite window actually estimates.

Symmetric F or H (always the case for SGD, F = αH) is solved in its eigenbasis with one ``eigh``: the
Lyapunov operator is diagonal there. General F uses Bartels–Stewart (real Schur form + LAPACK ``trsyl``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from .._repr import concise_repr
from ..errors import DecompositionError
from ._checks import (
    SINGULARITY_RTOL,
    as_square,
    asymmetry,
    check_lyapunov_spectrum,
    positive_int,
    positive_scalar,
    require_psd,
    require_symmetric,
)
from .pairs import (
    over_pairs,
    pair_kron,
    require_stable_modes,
    sgd_blocks,
    started_pairs,
    stationary_pairs,
    strided_decay,
    window_pairs,
)

__all__ = ["sampling_factor", "sgd_stationary_covariance", "sgd_window_covariance", "stationary_covariance"]

#: ``method="auto"`` takes the eigenbasis path when F is symmetric to this relative round-off level.
AUTO_EIGH_RTOL = 1e-12


# --------------------------------------------------------------------------------------------------
# continuous time
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LyapunovSolution:
    """Solution of FΣ + ΣFᵀ = 2εD with what the solver learned on the way.

    Attributes
    ----------
    sigma : (n, n) symmetric solution Σ.
    eigenvalues : eigenvalues of F (real for the ``eigh`` path, complex for ``schur``).
    method : ``"eigh"`` or ``"schur"``.
    basis : for ``eigh``, the orthonormal eigenvectors V of F (F = V diag(λ) Vᵀ); else ``None``.
    sigma_eig, d_eig : for ``eigh``, Σ̃ = VᵀΣV and D̃ = VᵀDV; else ``None``.
    """

    __repr__ = concise_repr

    sigma: np.ndarray
    eigenvalues: np.ndarray
    method: str
    basis: np.ndarray | None = None
    sigma_eig: np.ndarray | None = None
    d_eig: np.ndarray | None = None

    @property
    def stable(self) -> bool:
        return bool(np.all(self.eigenvalues.real > 0))


def choose_method(F: np.ndarray, method: str) -> str:
    """Resolve ``method`` ("auto", "eigh", "schur") for a validated F."""
    if method == "auto":
        return "eigh" if asymmetry(F) <= AUTO_EIGH_RTOL else "schur"
    if method == "eigh":
        require_symmetric("F", F, "method='eigh' diagonalises F with an orthogonal basis")
        return "eigh"
    if method == "schur":
        return "schur"
    raise DecompositionError(f"method = {method!r} is not one of 'auto', 'eigh', 'schur'.")


def solve_lyapunov(F: np.ndarray, D: np.ndarray, eps: float, method: str = "auto") -> LyapunovSolution:
    """Solve FΣ + ΣFᵀ = 2εD for validated F, D (internal; public callers validate first).

    The spectrum of F is checked for λ_i + λ_j ≈ 0 *before* solving (SciPy would only warn).
    """
    method = choose_method(F, method)
    if method == "eigh":
        lam, V, sigma_eig, D_eig = solve_lyapunov_eigenbasis(F, D, eps)
        sigma = V @ sigma_eig @ V.T
        return LyapunovSolution((sigma + sigma.T) / 2, lam, "eigh", V, sigma_eig, D_eig)
    # Bartels–Stewart: F = Z T Zᵀ (real Schur), T Y + Y Tᵀ = Zᵀ(2εD)Z by LAPACK trsyl, Σ = Z Y Zᵀ.
    # Done here rather than through scipy.linalg.solve_continuous_lyapunov so that the eigenvalues come
    # from the same Schur form and are checked before the solve, at no extra O(n³) cost.
    T, Z = sla.schur(F, output="real")
    lam = _quasi_triangular_eigenvalues(T)
    check_lyapunov_spectrum("F", lam)
    rhs = Z.T @ (2.0 * eps * D) @ Z
    (trsyl,) = sla.get_lapack_funcs(("trsyl",), (T, rhs))
    Y, scale, info = trsyl(T, T, rhs, tranb="T")
    if info < 0:  # pragma: no cover - argument errors cannot happen with validated input
        raise DecompositionError(f"LAPACK trsyl rejected argument {-info}; please report this as a bug.")
    sigma = Z @ (Y / scale) @ Z.T
    return LyapunovSolution((sigma + sigma.T) / 2, lam, "schur")


def solve_lyapunov_eigenbasis(F: np.ndarray, D: np.ndarray, eps: float):
    """FΣ + ΣF = 2εD for a validated *symmetric* F, left in F's eigenbasis (internal): (λ, V, Σ̃, D̃) with
    F = V diag(λ) Vᵀ, D̃ = VᵀDV and Σ̃ = VᵀΣV, Σ̃_ij = 2εD̃_ij/(λ_i + λ_j) — the operator X ↦ FX + XF is diagonal
    there. One ``eigh`` and two products; the spectrum is checked for λ_i + λ_j ≈ 0 first."""
    lam, V = np.linalg.eigh((F + F.T) / 2)
    check_lyapunov_spectrum("F", lam)
    D_eig = V.T @ D @ V
    D_eig = (D_eig + D_eig.T) / 2
    return lam, V, 2.0 * eps * D_eig / (lam[:, None] + lam[None, :]), D_eig


def _quasi_triangular_eigenvalues(T: np.ndarray) -> np.ndarray:
    """Eigenvalues of a real Schur form: its 1×1 and 2×2 diagonal blocks."""
    n = T.shape[0]
    lam = np.empty(n, dtype=complex)
    i = 0
    while i < n:
        if i + 1 < n and T[i + 1, i] != 0.0:
            lam[i : i + 2] = np.linalg.eigvals(T[i : i + 2, i : i + 2])
            i += 2
        else:
            lam[i] = T[i, i]
            i += 1
    return lam


def require_stable(name: str, lam: np.ndarray, consequence: str) -> None:
    """Raise unless every eigenvalue has a positive real part."""
    k = int(np.argmin(lam.real))
    if lam[k].real <= 0:
        raise DecompositionError(
            f"{name} has eigenvalue {complex(lam[k]).real:.6g}{'' if lam[k].imag == 0 else f'{lam[k].imag:+.6g}j'}"
            f" with Re λ ≤ 0 ({int(np.sum(lam.real <= 0))} of {lam.size}), so {consequence}."
        )


def stationary_covariance(F, D, eps: float = 1.0, *, method: str = "auto") -> np.ndarray:
    r"""Stationary covariance Σ of the linear SDE ẋ = −Fx + ζ, ⟨ζ(t)ζ(t')ᵀ⟩ = 2εD δ(t − t').

    Solves the continuous Lyapunov equation (paper Eq. 14)

    .. math:: F\Sigma + \Sigma F^\top = 2\varepsilon D .

    Parameters
    ----------
    F : (n, n) array_like
        Force matrix; must be stable (all Re λ(F) > 0), else there is no stationary law.
    D : (n, n) array_like
        Diffusion matrix, symmetric positive semi-definite.
    eps : float
        Noise strength ε > 0.
    method : {"auto", "eigh", "schur"}
        ``eigh`` diagonalises a symmetric F (Σ̃_ij = 2εD̃_ij/(λ_i + λ_j) in F's eigenbasis);
        ``schur`` is Bartels–Stewart for any F; ``auto`` picks ``eigh`` when F is symmetric.

    Returns
    -------
    Sigma : (n, n) ndarray, symmetric positive semi-definite.

    Notes
    -----
    O(n³): one symmetric eigendecomposition or one real Schur form plus a triangular Sylvester solve
    (Bartels & Stewart 1972). The spectrum is checked first: some λ_i + λ_j ≈ 0 raises
    :class:`~sgdpotential.DecompositionError` instead of SciPy's warning.

    Examples
    --------
    >>> import numpy as np
    >>> stationary_covariance(np.diag([1.0, 2.0]), np.eye(2), eps=0.5)
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    F = as_square("F", F)
    D = as_square("D", D, F.shape[0])
    require_psd("D", D, "a diffusion matrix")
    eps = positive_scalar("eps", eps, "the noise strength ε must be positive")
    sol = solve_lyapunov(F, (D + D.T) / 2, eps, method)
    require_stable("F", sol.eigenvalues, "ẋ = −Fx + ζ has no stationary covariance (decompose(F, D) still "
                   "gives the saddle's potential U)")
    return sol.sigma


# --------------------------------------------------------------------------------------------------
# discrete SGD
# --------------------------------------------------------------------------------------------------


def sampling_factor(n_train, batch_size: int) -> float:
    """κ = (N_L − B)/(N_L − 1) for minibatches drawn without replacement (``n_train`` = N_L); 1 with replacement
    (``n_train=None``). The one definition of the factor: every law and probe takes it from here.

    Examples
    --------
    >>> sampling_factor(5000, 50), sampling_factor(None, 50)
    (0.9901980396079216, 1.0)
    """
    if n_train is None:
        return 1.0
    n_train = positive_int("n_train", n_train, "pass the training-set size N_L, or None for sampling "
                           "with replacement", minimum=2)
    if n_train < batch_size:
        raise DecompositionError(
            f"n_train = {n_train} is smaller than batch_size = {batch_size}; a minibatch drawn without "
            f"replacement cannot exceed the training set — check both values."
        )
    return (n_train - batch_size) / (n_train - 1)


def _sgd_inputs(H, C, lr, batch_size, n_train):
    H = as_square("H", H)
    C = as_square("C", C, H.shape[0])
    require_psd("C", C, "the per-sample gradient covariance of paper Eq. (19)")
    lr = positive_scalar("lr", lr, "the learning rate α must be positive")
    batch_size = positive_int("batch_size", batch_size, "the minibatch size B must be a positive integer")
    noise = (lr**2 * sampling_factor(n_train, batch_size) / batch_size) * (C + C.T) / 2
    return H, noise, lr


def sgd_stationary_covariance(H, C, lr: float, batch_size: int, n_train: int | None = None) -> np.ndarray:
    r"""Exact stationary covariance of SGD near a quadratic minimum.

    For w_{t+1} = w_t − α(H w_t + ξ_t), Cov ξ = C/B (the minibatch-mean noise of paper Eqs. 18–19),
    the stationary covariance solves the discrete Lyapunov equation

    .. math:: \Sigma = (I - \alpha H)\,\Sigma\,(I - \alpha H)^\top + \frac{\alpha^2}{B} C .

    With ``n_train`` = N_L the minibatch is drawn without replacement and C/B is multiplied by
    (N_L − B)/(N_L − 1). Unlike the continuous law HΣ + ΣH = (α/B)C it is exact at any α; per mode
    of commuting H, C it gives σ² = αC/(B h (2 − αh)) (Liu, Ziyin & Ueda 2021).

    Parameters
    ----------
    H : (n, n) array_like
        Hessian at the minimum; needs 0 < α λ_i(H) < 2 (for non-symmetric H: spectral radius of
        I − αH below 1).
    C : (n, n) array_like
        Per-sample gradient covariance (paper Eq. 19), symmetric PSD.
    lr, batch_size : float, int
        Learning rate α > 0 and minibatch size B ≥ 1.
    n_train : int, optional
        Training-set size N_L ≥ B for sampling without replacement; ``None`` for with replacement.

    Returns
    -------
    Sigma : (n, n) ndarray

    Notes
    -----
    Symmetric H: in H's eigenbasis (H = V diag(h) Vᵀ, a_i = αh_i) the equation is diagonal,
    Σ̃_ij = (α²/B) C̃_ij / (a_i + a_j − a_i a_j) — exact, O(n³) for one ``eigh``. Other H: SciPy's
    ``solve_discrete_lyapunov`` (bilinear transform + Bartels–Stewart), also O(n³).

    Examples
    --------
    >>> import numpy as np
    >>> float(sgd_stationary_covariance([[2.0]], [[1.0]], lr=0.5, batch_size=1)[0, 0])  # αC/(Bh(2−αh))
    0.25
    """
    H, noise, lr = _sgd_inputs(H, C, lr, batch_size, n_train)
    n = H.shape[0]
    if asymmetry(H) <= AUTO_EIGH_RTOL:
        h, V = np.linalg.eigh((H + H.T) / 2)
        a = lr * h
        require_stable_modes(a, h, lr, 0.0, "use sgd_window_covariance(..., start=b) for a finite window")
        noise_eig = V.T @ noise @ V
        # the d = 1 stationary pair moment 1/(1 − r_i r_j) (pairs.stationary_pairs), r = 1 − a, written so that
        # small a keeps its relative precision and divided directly
        denom = a[:, None] + a[None, :] - a[:, None] * a[None, :]
        sigma = V @ (noise_eig / denom) @ V.T
        return (sigma + sigma.T) / 2
    A = np.eye(n) - lr * H
    mu = np.linalg.eigvals(A)
    k = int(np.argmax(np.abs(mu)))
    if abs(mu[k]) >= 1 - SINGULARITY_RTOL:
        raise DecompositionError(
            f"I − lr·H has eigenvalue {complex(mu[k]):.6g} with |μ| = {abs(mu[k]):.6g} ≥ 1 (lr = {lr:g}): "
            f"SGD has no stationary law; reduce lr or use a stable H."
        )
    sigma = sla.solve_discrete_lyapunov(A, noise)
    return (sigma + sigma.T) / 2


def sgd_window_covariance(
    H,
    C,
    lr: float,
    batch_size: int,
    window: int,
    start: str | int = "stationary",
    n_train: int | None = None,
    stride: int = 1,
) -> np.ndarray:
    r"""Expected sample covariance of a window of T snapshots of SGD near a quadratic point, one every ``stride``
    steps.

    For the recursion x_{t+1} = (I − αH) x_t + ξ_t, Cov ξ = (α²/B) C (× (N_L − B)/(N_L − 1) with
    ``n_train``), returns

    .. math:: \mathbb{E}\,\hat\Sigma_T,\qquad
              \hat\Sigma_T = \frac1T\sum_{t=1}^{T} (x_t - \bar x)(x_t - \bar x)^\top,\quad
              \bar x = \frac1T\sum_t x_t ,

    the 1/T-normalised covariance that a PCA of the window estimates. Slow directions (relaxation time
    1/(αh) ≫ T) never equilibrate inside a window, so this — not the stationary law — is what a
    measured window should be compared with.

    Parameters
    ----------
    H : (n, n) array_like, symmetric
        Hessian; any spectrum for an integer ``start`` (flat and negative-curvature directions included).
    C : (n, n) array_like
        Per-sample gradient covariance (paper Eq. 19), symmetric PSD.
    lr, batch_size : float, int
        Learning rate α and minibatch size B.
    window : int
        Number of snapshots T ≥ 2.
    start : "stationary" or int
        ``"stationary"``: x at the window's first snapshot is drawn from the stationary law
        (requires 0 < αλ_i(H) < 2). An integer b ≥ 0: the recursion starts exactly at the expansion point
        x = 0 and the first snapshot is taken b steps later (b = 0: the first snapshot is the start).
    n_train : int, optional
        Training-set size for sampling without replacement.
    stride : int
        SGD steps between snapshots (1: consecutive steps), as a run records its window.

    Returns
    -------
    Sigma_T : (n, n) ndarray

    Notes
    -----
    In H's eigenbasis (r_i = 1 − αh_i) the second moments of mode pair (i, j) — P = E y_i y_j, the
    cross moments with the running window sums, and their accumulation — obey a 6-dimensional affine
    recursion whose T-step map is a power of a 6×6 matrix. That power is the closed-form geometric sum
    (1 − q^T)/(1 − q) and its nested relatives, evaluated by repeated squaring: O(log T) per pair, no loop
    over T, and free of the catastrophic cancellation the textbook formulas suffer when r → 1 (flat
    directions). Snapshots ``stride`` = s steps apart follow the same recursion with r_i → r_i^s and the
    noise of mode pair (i, j) summed over s steps, (1 − (r_i r_j)^s)/(1 − r_i r_j) times one step's, with
    1 − (r_i r_j)^s = a'_i + a'_j − a'_i a'_j, a' = 1 − r^s (no cancellation). Total cost O(n³ + n² log(T·s)).

    Examples
    --------
    >>> import numpy as np
    >>> # a pure random walk (h = 0) of T steps: E var = (T² − 1)/(6T)·σ_ξ² (here σ_ξ² = 1)
    >>> float(sgd_window_covariance([[0.0]], [[1.0]], lr=1.0, batch_size=1, window=10, start=0)[0, 0])
    1.65
    """
    H, noise, lr = _sgd_inputs(H, C, lr, batch_size, n_train)
    H = require_symmetric("H", H, "a Hessian; the window law is computed in its eigenbasis")
    window = positive_int("window", window, "a window needs at least 2 snapshots", minimum=2)
    stride = positive_int("stride", stride, "the number of SGD steps between two snapshots")
    h, V = np.linalg.eigh(H)
    a = lr * h
    if isinstance(start, str):
        if start != "stationary":
            raise DecompositionError(f"start = {start!r} must be 'stationary' or an integer b ≥ 0.")
        require_stable_modes(a, h, lr, 0.0, "pass an integer start=b (the recursion started b steps before the window)")
        b = None
    else:
        b = positive_int("start", start, "pass 'stationary' or the number of steps b ≥ 0 before the window",
                         minimum=0)
    noise_eig = V.T @ noise @ V
    factor = _window_pair_factors(a, window, b, stride=stride)
    if not np.all(np.isfinite(factor)):
        steps = window * stride + (b or 0)
        raise DecompositionError(
            f"the window variance overflows float64: lr·λ_min(H) = {a.min():.6g} grows as "
            f"(1 − lr·λ)^(2·{steps}) over {steps} steps; shorten the window or remove the unstable directions."
        )
    sigma = V @ (noise_eig * factor) @ V.T
    return (sigma + sigma.T) / 2


def _window_pair_factors(a: np.ndarray, T: int, b: int | None, chunk: int = 200_000, *,
                         stride: int = 1) -> np.ndarray:
    """G_ij with E Σ̂_T = V (C̃ ∘ G) Vᵀ: the window-covariance factor of mode pair (i, j) per unit noise of one
    step, for T snapshots ``stride`` steps apart (b steps before the first one when b is an integer) — the d = 1
    case of :func:`~.pairs.window_pairs` (r = 1 − αh per step). With a stride s the recursion runs per snapshot
    on r' = r^s in units of the pair's noise over s steps, w = (1 − q^s)/(1 − q) with q = r_i r_j (→ s where
    q → 1), and G is w times its result."""
    s_a = strided_decay(a, stride) if stride > 1 else a

    def factor(i, j):
        ai, aj = a[i], a[j]
        one_minus_q = ai + aj - ai * aj  # 1 − r_i r_j without cancellation
        P0 = (stationary_pairs(one_minus_q[:, None, None]) if b is None else
              started_pairs(pair_kron(sgd_blocks(ai), sgd_blocks(aj)), b))
        w = np.ones(i.size)
        if stride > 1:  # one snapshot's noise, in units of one step's
            ai, aj = s_a[i], s_a[j]
            with np.errstate(divide="ignore", invalid="ignore"):
                w = np.where(one_minus_q != 0, (ai + aj - ai * aj) / one_minus_q, float(stride))
            P0 = P0 / w[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            return w * window_pairs(sgd_blocks(ai), sgd_blocks(aj), P0, T)

    return over_pairs(a.size, factor, chunk)
