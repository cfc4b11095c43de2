"""Input validation shared by the theory modules.

Every public function of :mod:`sgdpotential.theory` validates its inputs here, so that the same bad
value gets the same message everywhere. Messages name the value and the fix, in one sentence.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from scipy.spatial import cKDTree

from .._validation import check_scalar
from ..errors import DecompositionError

#: Relative asymmetry ‖M − Mᵀ‖_F / ‖M‖_F above which a matrix that must be symmetric is rejected.
#: Round-off of float64 matrix products stays orders of magnitude below it; float32 data does not, and
#: its owner should symmetrise explicitly (the message says how).
SYMMETRY_RTOL = 1e-10

#: Relative size, against the spectral scale, below which an eigenvalue (or eigenvalue sum) counts as
#: zero. Computed eigenvalues carry a backward error of about n·2⁻⁵² relative to ‖F‖ (≈ 6e-13 at
#: n = 2,500), so anything below 1e-10 cannot be told from zero and the Lyapunov operator is singular.
SINGULARITY_RTOL = 1e-10


def as_square(name: str, M, n: int | None = None) -> np.ndarray:
    """Return ``M`` as a finite real float64 square matrix, or raise naming what is wrong."""
    try:
        A = np.asarray(M)
    except Exception as exc:  # ragged lists and the like
        raise DecompositionError(f"{name} could not be read as a matrix ({exc}); pass a 2-D array.") from exc
    if np.iscomplexobj(A):
        raise DecompositionError(f"{name} is complex; pass a real matrix (these equations are real).")
    if A.dtype == object or (not np.issubdtype(A.dtype, np.number) and A.dtype != bool):
        raise DecompositionError(f"{name} has dtype {A.dtype}; pass a real numeric matrix.")
    A = A.astype(np.float64, copy=True)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise DecompositionError(f"{name} has shape {A.shape}; it must be a square (n, n) matrix.")
    if A.shape[0] == 0:
        raise DecompositionError(f"{name} is empty (shape {A.shape}); pass at least a 1×1 matrix.")
    if n is not None and A.shape[0] != n:
        raise DecompositionError(
            f"{name} has shape {A.shape} but the force/Hessian matrix is {n}×{n}; pass matrices of one size."
        )
    bad = ~np.isfinite(A)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DecompositionError(
            f"{name} has {int(bad.sum())} non-finite entr{'y' if bad.sum() == 1 else 'ies'}, "
            f"first {name}[{i}, {j}] = {A[i, j]}; remove NaN/inf before decomposing."
        )
    return A


def asymmetry(M: np.ndarray) -> float:
    """Relative asymmetry ‖M − Mᵀ‖_F / ‖M‖_F (0 for the zero matrix)."""
    norm = np.linalg.norm(M)
    return 0.0 if norm == 0 else float(np.linalg.norm(M - M.T) / norm)


def require_symmetric(name: str, M: np.ndarray, what: str) -> np.ndarray:
    """Check symmetry to :data:`SYMMETRY_RTOL`; return the exactly symmetric part."""
    asym = asymmetry(M)
    if asym > SYMMETRY_RTOL:
        i, j = np.unravel_index(np.argmax(np.abs(M - M.T)), M.shape)
        raise DecompositionError(
            f"{name} must be symmetric ({what}) but has relative asymmetry {asym:.3g} "
            f"({name}[{i}, {j}] = {M[i, j]:.6g} vs {name}[{j}, {i}] = {M[j, i]:.6g}); "
            f"if that is round-off, pass ({name} + {name}.T) / 2."
        )
    return (M + M.T) / 2


#: Size from which a positive definiteness question is decided by one Cholesky factorisation instead of all
#: eigenvalues (:func:`require_psd`, the decomposition's inverse of Σ).
PSD_CHOLESKY_MIN = 200


def require_psd(name: str, M: np.ndarray, what: str) -> None:
    """Symmetric positive semi-definite check: λ_min(M) ≥ −:data:`SINGULARITY_RTOL`·λ_max(M).

    Method: below :data:`PSD_CHOLESKY_MIN`, ``eigvalsh``. From there, λ_max by Lanczos (``eigsh``, k = 1 —
    only the tolerance's scale, so to 1e-3) and one Cholesky factorisation of M + τI, τ = SINGULARITY_RTOL·λ_max,
    which exists iff λ_min > −τ (up to round-off of n·2⁻⁵²·λ_max, far below τ): n³/3 flops instead of an
    eigenvalue reduction. A failed factorisation falls back to ``eigvalsh`` for the eigenvalue the message names.
    """
    M = require_symmetric(name, M, what)
    n = M.shape[0]
    if n >= PSD_CHOLESKY_MIN:
        try:
            top = float(eigsh(M, k=1, which="LA", tol=1e-3, v0=np.ones(n), return_eigenvectors=False)[0])
        except ArpackNoConvergence:
            top = 0.0  # undecided: the exact route below
        if top > 0:
            _, info = lapack.dpotrf(M + SINGULARITY_RTOL * top * np.eye(n), lower=1, clean=0)
            if info == 0:
                return
    w = np.linalg.eigvalsh(M)
    scale = max(abs(w[0]), abs(w[-1]))
    if scale == 0:
        return
    if w[0] < -SINGULARITY_RTOL * scale:
        raise DecompositionError(
            f"{name} must be positive semi-definite ({what}) but has eigenvalue {w[0]:.6g} "
            f"(largest {w[-1]:.6g}); a covariance cannot have negative variance — check how {name} was estimated."
        )


def positive_scalar(name: str, value, fix: str) -> float:
    """A finite real number > 0 (:func:`~sgdpotential._validation.check_scalar` with the theory's error)."""
    return check_scalar(value, name, float, min_val=0, include_boundaries="neither", fix=fix, error=DecompositionError)


def positive_int(name: str, value, fix: str, minimum: int = 1) -> int:
    """An integer ≥ ``minimum`` (NumPy integers accepted, floats and bools refused)."""
    return check_scalar(value, name, int, min_val=minimum, fix=fix, error=DecompositionError)


def check_lyapunov_spectrum(name: str, lam: np.ndarray) -> None:
    """Raise when some λ_i + λ_j ≈ 0: then FX + XFᵀ = R has no unique solution.

    SciPy's solvers only warn (or not at all) in that case and return garbage; we check the spectrum
    ourselves. The nearest pair is found with a k-d tree over the points −λ̄ in the complex plane,
    O(n log n) instead of the n² pairs.
    """
    lam = np.asarray(lam, dtype=complex)
    scale = float(np.max(np.abs(lam)))
    if scale == 0:
        raise DecompositionError(
            f"{name} is the zero matrix: every λ_i + λ_j = 0, so the Lyapunov equation is singular; "
            f"a linear SDE needs a nonzero force."
        )
    pts = np.column_stack([lam.real, lam.imag])
    dist, idx = cKDTree(pts).query(-pts, k=1)
    i = int(np.argmin(dist))
    j = int(idx[i])
    if dist[i] <= SINGULARITY_RTOL * scale:
        li, lj = lam[i], lam[j]
        what = (
            f"eigenvalue λ = {_fmt(li)} with Re λ ≈ 0"
            if i == j or np.isclose(li, np.conj(lj))
            else f"eigenvalues λ_i = {_fmt(li)} and λ_j = {_fmt(lj)} that sum to {_fmt(li + lj)}"
        )
        raise DecompositionError(
            f"{name} has {what} (|λ_i + λ_j| ≤ {SINGULARITY_RTOL:g}·max|λ| = {SINGULARITY_RTOL * scale:.3g}), "
            f"so FΣ + ΣFᵀ = 2εD has no unique solution: the variance along that mode diverges; "
            f"remove flat/marginal directions from {name} or use sgd_window_covariance for a finite window."
        )


def _fmt(z: complex) -> str:
    z = complex(z)
    if abs(z.imag) <= 1e-15 * max(1.0, abs(z.real)):
        return f"{z.real:.6g}"
    return f"{z.real:.6g}{z.imag:+.6g}j"
