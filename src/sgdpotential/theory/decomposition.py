"""Ao's stochastic decomposition of a linear SDE: the potential U, the circulation Q, and S, A.

For ẋ = −Fx + ζ, ⟨ζζᵀ⟩ = 2εD (paper Eq. 4), the decomposition rewrites the dynamics as
(S + A)ẋ = −Ux + ξ (Eq. 5) with F = (D + Q)U (Eq. 9). Its potential u(x) = xᵀUx/2 is the true energy:
the stationary law is exp(−u/ε) and Σ = εU⁻¹ (Eq. 15), while the loss is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.linalg import lapack
from scipy.sparse.linalg import ArpackNoConvergence, eigsh

from .._repr import concise_repr
from ..errors import DecompositionError
from ._checks import PSD_CHOLESKY_MIN, as_square, positive_scalar, require_psd, require_symmetric
from .lyapunov import choose_method, require_stable, solve_lyapunov, solve_lyapunov_eigenbasis

__all__ = ["Decomposition", "EigenDecomposition", "decompose", "decompose_eigenbasis"]


@dataclass(frozen=True, eq=False)
class Decomposition:
    """Result of :func:`decompose`.

    Attributes
    ----------
    F, D : (n, n) ndarray
        Force and diffusion matrices of ẋ = −Fx + ζ, ⟨ζζᵀ⟩ = 2εD (as validated; D symmetrised).
    eps : float
        Noise strength ε.
    U : (n, n) ndarray
        Symmetric potential matrix, u(x) = xᵀUx/2; U = εΣ⁻¹ (Eq. 15). Positive definite iff ``kind`` is
        ``"stable"``; indefinite at a saddle.
    Q : (n, n) ndarray
        Antisymmetric matrix with F = (D + Q)U (Eq. 9); solves Eq. (10). Q = 0 iff detailed balance.
    S, A : (n, n) ndarray
        Symmetric and antisymmetric parts of (D + Q)⁻¹ (Eqs. 5, 9); S satisfies Eq. (8).
    kind : {"stable", "saddle"}
        ``"stable"`` when every Re λ(F) > 0, else ``"saddle"``.
    eigenvalues : ndarray
        Eigenvalues of F, ascending real part.
    residuals : dict[str, float]
        Relative residuals ‖lhs − rhs‖_F / (sum of the terms' norms) of ``"eq9"`` F = (D + Q)U,
        ``"eq8"`` S = (S + A)D(S − A), ``"eq10"`` FQ + QFᵀ = FD − DFᵀ, ``"eq11"`` FU⁻¹ + U⁻¹Fᵀ = 2D
        (checked as UF + FᵀU = 2UDU),
        ``"eq14"`` FΣ + ΣFᵀ = 2εD and ``"eq15"`` ΣU = εI. Part of the result: check them. For symmetric F they
        are computed in F's eigenbasis (same norms); from n = 200 on there each norm is *estimated* from 8
        random probes, ‖X‖_F ≈ ‖XZ‖_F with Z of N(0, 1/8) entries (unbiased for ‖X‖²_F, relative spread ~0.5,
        seed fixed): O(n²) instead of six n³ products — a residual at round-off (~1e-14) stays far from any
        threshold either way.
    method : {"eigh", "schur"}
        How the Lyapunov equation was solved.
    """

    __repr__ = concise_repr

    F: np.ndarray
    D: np.ndarray
    eps: float
    U: np.ndarray
    Q: np.ndarray
    S: np.ndarray
    A: np.ndarray
    kind: str
    eigenvalues: np.ndarray
    residuals: dict = field(repr=False)
    method: str
    lyapunov_solution: np.ndarray = field(repr=False)

    @property
    def n(self) -> int:
        """Dimension n."""
        return self.F.shape[0]

    @property
    def covariance(self) -> np.ndarray:
        """Stationary covariance Σ = εU⁻¹ (Eq. 15); only a stable F has one.

        At a saddle the Lyapunov solution εU⁻¹ still exists (``lyapunov_solution``) but is not a
        covariance, so asking for it raises :class:`~sgdpotential.DecompositionError`.
        """
        if self.kind != "stable":
            require_stable("F", self.eigenvalues, "this saddle has no stationary covariance; εU⁻¹ is in "
                           "dec.lyapunov_solution and the potential in dec.U")
        return self.lyapunov_solution

    def potential(self, x) -> np.ndarray:
        """Stochastic potential u(x) = xᵀUx/2 for x of shape (n,) or (m, n)."""
        x = np.asarray(x, dtype=float)
        return 0.5 * np.einsum("...i,ij,...j->...", x, self.U, x)

    def max_residual(self) -> float:
        """Largest entry of :attr:`residuals`."""
        return max(self.residuals.values())


def decompose(F, D, eps: float = 1.0, *, method: str = "auto") -> Decomposition:
    r"""Stochastic decomposition of ẋ = −Fx + ζ, ⟨ζζᵀ⟩ = 2εD into U, Q, S, A.

    Finds the symmetric potential U and antisymmetric Q with

    .. math:: F = (D + Q)U,\qquad (S + A)\dot x = -Ux + \xi,\qquad S + A = (D + Q)^{-1}

    (paper Eqs. 5, 9), i.e. the unique solutions of Eqs. (10) and (11). Near a stable point the
    stationary law is the Boltzmann distribution exp(−xᵀUx/2ε) with covariance Σ = εU⁻¹ (Eqs. 6, 15).

    Method (one Lyapunov solve, then closed forms):

    1. Σ solves FΣ + ΣFᵀ = 2εD (Eq. 14) — in F's eigenbasis when F is symmetric
       (Σ̃_ij = 2εD̃_ij/(λ_i + λ_j), Q̃_ij = D̃_ij(λ_i − λ_j)/(λ_i + λ_j)), else Bartels–Stewart;
    2. U = εΣ⁻¹ (via ``eigh`` of Σ), Q = (FΣ − ΣFᵀ)/(2ε), S + A = (D + Q)⁻¹ = UF⁻¹.

    Parameters
    ----------
    F : (n, n) array_like
        Force matrix (for SGD, αH). Need not be symmetric or stable, but λ_i + λ_j ≠ 0 for all pairs.
    D : (n, n) array_like
        Diffusion matrix (for SGD, the gradient-noise covariance C), symmetric positive semi-definite,
        and reaching every direction of F (else Σ is singular and U does not exist).
    eps : float
        Noise strength ε > 0 (for SGD, α²/(2B)).
    method : {"auto", "eigh", "schur"}
        Lyapunov solver; ``auto`` uses ``eigh`` for symmetric F.

    Returns
    -------
    Decomposition

    Raises
    ------
    DecompositionError
        Bad shapes or values, D not symmetric PSD, some λ_i + λ_j ≈ 0, or Σ singular.

    Notes
    -----
    O(n³) time, O(n²) memory: never an n²×n² system (dynamo's least squares is O(n⁶)). The paper's
    Eq. (13) lacks a factor ε; Eq. (14) is used. References: Ao, J. Phys. A 37, L25 (2004);
    Kwon, Ao & Thouless, PNAS 102, 13029 (2005); Xiong, Chen, Shi & Ao, Eqs. (4)–(15).

    Examples
    --------
    >>> import numpy as np
    >>> dec = decompose([[1.0, 0.5], [-0.5, 1.0]], np.eye(2), eps=0.1)
    >>> dec.kind, np.allclose(dec.F, (dec.D + dec.Q) @ dec.U)
    ('stable', True)
    >>> np.round(dec.U, 12)  # rotation only: U stays the identity, Q carries the circulation
    array([[1., 0.],
           [0., 1.]])
    """
    F, D, eps = _validated(F, D, eps)
    if choose_method(F, method) == "eigh":
        return _in_eigenbasis(F, D, eps).to_decomposition()
    n = F.shape[0]
    sol = solve_lyapunov(F, D, eps, "schur")
    sigma = sol.sigma
    U = eps * _symmetric_inverse(sigma, n)
    K = F @ sigma
    Q = (K - K.T) / (2 * eps)  # antisymmetric exactly (a − b = −(b − a) in floating point)
    SA = np.linalg.inv(D + Q)
    U = (U + U.T) / 2
    S, A = (SA + SA.T) / 2, (SA - SA.T) / 2
    residuals = _residuals(F, D, eps, U, Q, S, A, sigma)
    lam = sol.eigenvalues
    order = np.argsort(lam.real, kind="stable")
    kind = "stable" if sol.stable else "saddle"
    return Decomposition(F, D, eps, U, Q, S, A, kind, lam[order], residuals, sol.method, sigma)


def _validated(F, D, eps):
    F = as_square("F", F)
    D = as_square("D", D, F.shape[0])
    require_psd("D", D, "a diffusion matrix")
    return F, (D + D.T) / 2, positive_scalar("eps", eps, "the noise strength ε must be positive")


@dataclass(frozen=True, eq=False)
class EigenDecomposition:
    """Result of :func:`decompose_eigenbasis`: the decomposition of a symmetric F kept in F's orthonormal
    eigenbasis, F = V diag(λ) Vᵀ, where it is computed; the matrices in the original basis are rotated on first
    use (X = V X̃ Vᵀ, two n³ products each) and kept.

    Attributes
    ----------
    F, D : (n, n) ndarray
        As validated (D symmetrised).
    eps : float
    basis : (n, n) ndarray
        V, the orthonormal eigenvectors of F (columns).
    eigenvalues : (n,) ndarray
        λ, ascending.
    U_eig, Q_eig, sigma_eig, D_eig : (n, n) ndarray
        Ũ = VᵀUV, Q̃ = VᵀQV, Σ̃ = VᵀΣV (the Lyapunov solution εU⁻¹) and D̃ = VᵀDV. In this basis
        Σ̃_ij = 2εD̃_ij/(λ_i + λ_j), Q̃_ij = D̃_ij(λ_i − λ_j)/(λ_i + λ_j), Ũ = εΣ̃⁻¹ and (S + A)~ = Ũ diag(λ)⁻¹.
    kind : {"stable", "saddle"}
    residuals : dict[str, float]
        As :attr:`Decomposition.residuals` (the same equations, evaluated in this basis, which keeps every
        Frobenius norm).
    """

    __repr__ = concise_repr

    F: np.ndarray
    D: np.ndarray
    eps: float
    basis: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray
    U_eig: np.ndarray = field(repr=False)
    Q_eig: np.ndarray = field(repr=False)
    sigma_eig: np.ndarray = field(repr=False)
    D_eig: np.ndarray = field(repr=False)
    kind: str
    residuals: dict = field(repr=False)

    @property
    def n(self) -> int:
        """Dimension n."""
        return self.F.shape[0]

    @property
    def SA_eig(self) -> np.ndarray:
        """(S + A)~ = Ũ diag(λ)⁻¹ = Vᵀ(D + Q)⁻¹V (a column scaling)."""
        return self.U_eig / self.eigenvalues[None, :]

    def rotate(self, X_eig: np.ndarray) -> np.ndarray:
        """V X̃ Vᵀ: a matrix of this basis in the original one."""
        return self.basis @ X_eig @ self.basis.T

    @cached_property
    def _VU(self) -> np.ndarray:  # VŨ: shared by U = VŨVᵀ and S + A = VŨ diag(λ)⁻¹Vᵀ
        return self.basis @ self.U_eig

    @cached_property
    def U(self) -> np.ndarray:
        """The potential matrix U = VŨVᵀ (symmetric)."""
        U = self._VU @ self.basis.T
        return (U + U.T) / 2

    @cached_property
    def lyapunov_solution(self) -> np.ndarray:
        """εU⁻¹ = VΣ̃Vᵀ, the Lyapunov solution (the stationary covariance when F is stable)."""
        sigma = self.rotate(self.sigma_eig)
        return (sigma + sigma.T) / 2

    @cached_property
    def Q(self) -> np.ndarray:
        """The antisymmetric Q = (FΣ − ΣF)/(2ε) (Eq. 10; one product with Σ in the original basis)."""
        K = self.F @ self.lyapunov_solution
        return (K - K.T) / (2 * self.eps)

    @cached_property
    def _SA(self) -> np.ndarray:
        return (self._VU / self.eigenvalues[None, :]) @ self.basis.T

    @property
    def S(self) -> np.ndarray:
        """Symmetric part of (D + Q)⁻¹."""
        return (self._SA + self._SA.T) / 2

    @property
    def A(self) -> np.ndarray:
        """Antisymmetric part of (D + Q)⁻¹."""
        return (self._SA - self._SA.T) / 2

    #: Stationary covariance Σ = εU⁻¹ (Eq. 15); only a stable F has one (the rule of :class:`Decomposition`).
    covariance = Decomposition.covariance

    def potential(self, x) -> np.ndarray:
        """Stochastic potential u(x) = xᵀUx/2 = x̃ᵀŨx̃/2 with x̃ = Vᵀx, for x of shape (n,) or (m, n)."""
        xt = np.asarray(x, dtype=float) @ self.basis
        return 0.5 * np.einsum("...i,ij,...j->...", xt, self.U_eig, xt)

    max_residual = Decomposition.max_residual

    def to_decomposition(self) -> Decomposition:
        """The same decomposition with every matrix in the original basis (six n³ products)."""
        return Decomposition(self.F, self.D, self.eps, self.U, self.Q, self.S, self.A, self.kind, self.eigenvalues,
                             self.residuals, "eigh", self.lyapunov_solution)


def decompose_eigenbasis(F, D, eps: float = 1.0) -> EigenDecomposition:
    r"""The stochastic decomposition of :func:`decompose` for a symmetric F (SGD's F = αH), with the outputs kept
    in F's eigenbasis and rotated to the original basis only when asked for.

    In the orthonormal eigenbasis F = V diag(λ) Vᵀ the Lyapunov equation (Eq. 14) and Eq. (10) are diagonal:

    .. math:: \tilde\Sigma_{ij} = \frac{2\varepsilon \tilde D_{ij}}{\lambda_i + \lambda_j},\qquad
              \tilde Q_{ij} = \tilde D_{ij}\,\frac{\lambda_i - \lambda_j}{\lambda_i + \lambda_j},\qquad
              \tilde U = \varepsilon\tilde\Sigma^{-1},\qquad (S + A)^\sim = \tilde U\,\mathrm{diag}(\lambda)^{-1}

    (paper Eqs. 9–15), with D̃ = VᵀDV.

    Method: one ``eigh`` of F, two products for D̃, the elementwise closed forms, one symmetric inverse (Cholesky
    from n = 200, ``eigh`` below or when Σ̃ is indefinite) and the residuals of Eqs. 8–15 in this basis (probed from
    n = 200, as in :func:`decompose`). O(n³) time with about half the n³ products of :func:`decompose`: the four
    rotations back (U, S + A, Σ, Q) are deferred to first use of ``.U``, ``.S``/``.A``, ``.covariance``, ``.Q``.

    Parameters
    ----------
    F : (n, n) array_like
        Symmetric force matrix (for SGD, αH); λ_i + λ_j ≠ 0 for all pairs.
    D : (n, n) array_like
        Diffusion matrix, symmetric positive semi-definite, reaching every direction of F.
    eps : float
        Noise strength ε > 0.

    Returns
    -------
    EigenDecomposition

    Raises
    ------
    DecompositionError
        As :func:`decompose`, and when F is not symmetric (its eigenbasis is not orthonormal: use
        :func:`decompose`).

    Examples
    --------
    >>> import numpy as np
    >>> dec = decompose_eigenbasis(np.diag([1.0, 3.0]), [[1.0, 0.5], [0.5, 1.0]], eps=0.1)
    >>> np.allclose(dec.U, decompose(np.diag([1.0, 3.0]), [[1.0, 0.5], [0.5, 1.0]], eps=0.1).U)
    True
    >>> np.round(dec.Q_eig, 6)  # the circulation between the two modes, in F's eigenbasis
    array([[ 0.  , -0.25],
           [ 0.25,  0.  ]])
    """
    F, D, eps = _validated(F, D, eps)
    require_symmetric("F", F, "decompose_eigenbasis works in F's orthonormal eigenbasis; use decompose for a "
                              "general F")
    return _in_eigenbasis(F, D, eps)


def _in_eigenbasis(F: np.ndarray, D: np.ndarray, eps: float) -> EigenDecomposition:
    n = F.shape[0]
    lam, V, s_eig, d_eig = solve_lyapunov_eigenbasis(F, D, eps)
    Q_eig = d_eig * (lam[:, None] - lam[None, :]) / (lam[:, None] + lam[None, :])
    U_eig = eps * _symmetric_inverse(s_eig, n)
    SA_eig = U_eig / lam[None, :]
    residuals = (_residuals_probed if n >= PSD_CHOLESKY_MIN else _residuals_eig)(lam, d_eig, eps, U_eig, Q_eig,
                                                                                 SA_eig, s_eig)
    kind = "stable" if bool(np.all(lam > 0)) else "saddle"
    return EigenDecomposition(F, D, eps, V, lam, U_eig, Q_eig, s_eig, d_eig, kind, residuals)


def _symmetric_inverse(M: np.ndarray, n: int) -> np.ndarray:
    """Inverse of a symmetric matrix, refusing one that is singular to working precision
    (|λ|_min ≤ n·2⁻⁵²·|λ|_max).

    From n = :data:`~sgdpotential.theory._checks.PSD_CHOLESKY_MIN` on, a positive definite M (Σ at a stable point)
    is inverted by Cholesky (``potrf``, ``potri``: n³ flops instead of an ``eigh``), with λ_max of M and of M⁻¹
    by Lanczos to decide the singularity test (kept 10× clear of its threshold, else decided by ``eigh``);
    smaller or indefinite matrices (Σ at a saddle), or a failed factorisation: ``eigh``.
    """

    M = (M + M.T) / 2
    if n >= PSD_CHOLESKY_MIN:
        c, info = lapack.dpotrf(M, lower=1, clean=1)
        inv, info = lapack.dpotri(c, lower=1) if info == 0 else (None, info)
        if info == 0:
            inv += inv.T  # potri filled the lower triangle; the upper one is zero (clean=1)
            inv[np.diag_indices(n)] /= 2
            try:
                top, top_inv = (float(eigsh(X, k=1, which="LA", tol=1e-3, v0=np.ones(n),
                                            return_eigenvectors=False)[0]) for X in (M, inv))
            except ArpackNoConvergence:
                top = top_inv = 0.0
            if top_inv > 0 and 1 / top_inv > 10 * n * np.finfo(float).eps * top:
                return inv
    s, W = np.linalg.eigh(M)
    smax = np.max(np.abs(s))
    k = int(np.argmin(np.abs(s)))
    if smax == 0 or abs(s[k]) <= n * np.finfo(float).eps * smax:
        raise DecompositionError(
            f"the Lyapunov solution Σ is singular to working precision (eigenvalue {s[k]:.3g} against "
            f"{smax:.3g}): the noise D does not reach every direction of F, so U = εΣ⁻¹ does not exist; "
            f"restrict F and D to the directions the noise reaches."
        )
    inv = (W / s) @ W.T
    return (inv + inv.T) / 2


def _rel(residual: np.ndarray, *terms: np.ndarray) -> float:
    """‖residual‖_F over the sum of the terms' norms: scale-free, and defined when the answer is 0."""
    scale = sum(float(np.linalg.norm(t)) for t in terms)
    return float(np.linalg.norm(residual) / scale) if scale > 0 else 0.0


def _residuals(F, D, eps, U, Q, S, A, sigma) -> dict[str, float]:
    DQU = (D + Q) @ U
    FQ, QFt, FD, DFt = F @ Q, Q @ F.T, F @ D, D @ F.T
    # Eq. (11) multiplied by U on both sides, UF + FᵀU = 2UDU, so that it tests the computed U itself
    # (with U⁻¹ = Σ/ε it would repeat the Eq. (14) check).
    UF, UDU = U @ F, U @ D @ U
    SAD = (S + A) @ D @ (S - A)
    Fs, sFt = F @ sigma, sigma @ F.T
    return {
        "eq9": _rel(F - DQU, F, DQU),
        "eq8": _rel(S - SAD, S, SAD),
        "eq10": _rel(FQ + QFt - FD + DFt, FQ, QFt, FD, DFt),
        "eq11": _rel(UF + UF.T - 2 * UDU, UF, UF.T, 2 * UDU),
        "eq14": _rel(Fs + sFt - 2 * eps * D, Fs, sFt, 2 * eps * D),
        "eq15": _rel(sigma @ U / eps - np.eye(F.shape[0]), np.eye(F.shape[0])),
    }


def _residuals_eig(lam, D, eps, U, Q, SA, sigma) -> dict[str, float]:
    """:func:`_residuals` in F's eigenbasis, F = diag(λ) and every other matrix there too (an orthogonal change of
    basis keeps every Frobenius norm); for n below the probed residuals' size, where the products are cheap."""
    return _residuals(np.diag(lam), D, eps, U, Q, (SA + SA.T) / 2, (SA - SA.T) / 2, sigma)


def _residuals_probed(lam, D, eps, U, Q, SA, sigma, m: int = 8, seed: int = 0) -> dict[str, float]:
    """:func:`_residuals_eig` with every Frobenius norm estimated as ‖XZ‖_F, Z (n × m) of N(0, 1/m) entries:
    each product is applied to Z right to left, O(m·n²)."""
    Z = np.random.default_rng(seed).standard_normal((lam.size, m)) / np.sqrt(m)

    def L(X):  # F = diag(λ) applied from the left
        return lam[:, None] * X

    def rel(*terms):  # the probed residual: the sum of the signed terms, over the sum of their norms
        return _rel(sum(terms), *terms)

    UZ, LZ, DZ, QZ, SZ, STZ, sZ = U @ Z, L(Z), D @ Z, Q @ Z, SA @ Z, SA.T @ Z, sigma @ Z
    return {
        "eq9": rel(LZ, -(D @ UZ + Q @ UZ)),
        "eq8": rel((SZ + STZ) / 2, -(SA @ (D @ STZ))),
        "eq10": rel(L(QZ), Q @ LZ, -L(DZ), D @ LZ),
        "eq11": rel(U @ LZ, L(UZ), -2 * (U @ (D @ UZ))),
        "eq14": rel(L(sZ), sigma @ LZ, -2 * eps * DZ),
        "eq15": rel(sigma @ UZ / eps, -Z),
    }
