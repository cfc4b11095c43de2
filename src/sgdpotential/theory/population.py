r"""The population ψ of a linear model of SGD: the IVF exponent that a window's estimators try to measure.

For plain SGD near a quadratic point (paper Eqs. 4, 17–19: x_{t+1} = (I − αH)x_t − αξ_t, Cov ξ = κC/B) a window
of T snapshots, one every s steps, has the expected sample covariance E[Σ̂_T] (:func:`~.lyapunov.
sgd_window_covariance`). Its eigenvectors v_i are the *population* principal directions, its eigenvalues σ_i²
their variances, and the quadratic loss L(ω* + x) = L* + ½xᵀHx gives the flatness along them in closed form,
F_i = 2√(2(e − 1)L*/v_iᵀHv_i) (Feng & Tu's e·L0 crossings, at the minimum). The population ψ is minus the
least-squares slope of log σ_i² against log F_i over the K directions of largest σ_i² — the same fit a run makes
over its own K directions, applied to the law instead of to a sample. It depends on K, T, s, α and B; T → ∞ gives
the stationary law's value (the exact discrete law, :func:`~.lyapunov.sgd_stationary_covariance`).

It is the truth against which :mod:`sgdpotential.pipeline.calibration` measures the bias and the interval
coverage of the estimators a run uses (Feng & Tu's: variances along the window's own principal directions; held
out: directions from one half, variances from the other).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._repr import concise_repr
from ..errors import DecompositionError
from ._checks import SINGULARITY_RTOL, positive_int, positive_scalar
from .lyapunov import sgd_stationary_covariance, sgd_window_covariance
from .scaling import fit_power_law, flatness_of_quadratic

__all__ = ["PopulationPsi", "population_psi"]


@dataclass(frozen=True)
class PopulationPsi:
    """The population ψ of a linear model of SGD (see :func:`population_psi`).

    Attributes
    ----------
    psi : float
        Minus the least-squares slope of log σ_i² on log F_i over the K directions.
    k : int
        Number of directions fitted.
    variances : (K,) ndarray
        The K largest eigenvalues σ_i² of the law, descending.
    directions : (K, n) ndarray
        Their eigenvectors v_i (rows).
    curvatures : (K,) ndarray
        v_iᵀHv_i.
    flatness : (K,) ndarray
        F_i = 2√(2(e − 1)L*/v_iᵀHv_i).
    relaxation : (K,) ndarray or None
        The relaxation index r_i = α v_iᵀHv_i · T·s of each direction over the window (None for the stationary
        law): r < 1 does not relax within the window.
    law : str
        ``"window"`` (T snapshots, stride s) or ``"stationary"``.
    """

    __repr__ = concise_repr

    psi: float
    k: int
    variances: np.ndarray
    directions: np.ndarray
    curvatures: np.ndarray
    flatness: np.ndarray
    relaxation: np.ndarray | None
    law: str

    def first(self, k: int) -> PopulationPsi:
        """The population ψ over the first ``k`` ≤ K of these directions (the leading directions are nested)."""
        k = positive_int("k", k, "the number of directions to fit", minimum=3)
        if k > self.k:
            raise DecompositionError(f"k = {k} exceeds the {self.k} directions computed; pass k ≤ {self.k}.")
        psi = -fit_power_law(self.flatness[:k], self.variances[:k], n_boot=0).exponent
        relax = None if self.relaxation is None else self.relaxation[:k]
        return PopulationPsi(float(psi), k, self.variances[:k], self.directions[:k], self.curvatures[:k],
                             self.flatness[:k], relax, self.law)


def population_psi(H, C, loss0: float, k: int, *, lr: float, batch_size: int, snapshots: int | None = None,
                   stride: int = 1, n_train: int | None = None) -> PopulationPsi:
    r"""The IVF exponent of the law of plain SGD, along its own principal directions.

    Solves σ_i² = λ_i(E[Σ̂_T]) (or of the stationary Σ when ``snapshots`` is None), F_i = 2√(2(e − 1)L*/v_iᵀHv_i),
    and fits log σ_i² = c − ψ log F_i by least squares over the K largest σ_i².

    Parameters
    ----------
    H, C : (n, n) array_like
        Hessian (0 < αλ < 2 for every eigenvalue: the law must be stationary) and per-sample gradient covariance
        (paper Eq. 19) at the minimum ω*.
    loss0 : float
        L* = L(ω*) > 0, the level of Feng & Tu's flatness (e·L*).
    k : int
        Number of directions, 3 ≤ K ≤ n (at most the directions with curvature: flat directions that no noise
        moves are dropped first, as a run's fit leaves out their infinite flatness).
    lr, batch_size, n_train
        α, B and (for minibatches drawn without replacement) N_L, as in :class:`~.sgd.LinearSGD`; with
        ``n_train`` the law scales the noise by κ and keeps it white (the window law's approximation).
    snapshots : int or None
        Window length T in snapshots (None: the stationary law, T → ∞).
    stride : int
        SGD steps between snapshots.

    Returns
    -------
    PopulationPsi

    Notes
    -----
    One window law, O(n³ + n² log(T·s)), and one symmetric eigendecomposition, O(n³). Directions inside a
    degenerate eigenspace of the law are not unique; their curvatures (and the fit) are then those of the
    eigenvectors LAPACK returns.

    References
    ----------
    Paper Eqs. (4), (14), (17)–(19); Feng & Tu (2021) for the flatness and ψ.

    Examples
    --------
    >>> import numpy as np
    >>> h = np.geomspace(1e-3, 1e-1, 20)
    >>> c = h**3 * (2 - h)           # the founding paper's D ∝ F^−2n with n = 3: ψ = 2n − 2 = 4 exactly
    >>> round(population_psi(np.diag(h), np.diag(c), 1.0, 10, lr=1.0, batch_size=1).psi, 12)
    4.0
    """
    H = np.asarray(H, dtype=float)
    n = H.shape[0] if H.ndim == 2 else 0
    k = positive_int("k", k, "the number of directions to fit", minimum=3)
    if k > n:
        raise DecompositionError(f"k = {k} exceeds the {n} dimensions of H; pass k ≤ {n}.")
    loss0 = positive_scalar("loss0", loss0, "the loss at the minimum sets Feng & Tu's level e·L*")
    lr = positive_scalar("lr", lr, "the learning rate α must be positive")
    C = np.asarray(C, dtype=float)
    basis, H, C = _noisy_range(H, C, lr)
    k = min(k, H.shape[0])
    if k < 3:
        raise DecompositionError(f"only {k} directions have curvature and noise; the fit needs at least 3.")
    if snapshots is None:
        law = sgd_stationary_covariance(H, C, lr, batch_size, n_train=n_train)
    else:
        law = sgd_window_covariance(H, C, lr, batch_size, snapshots, n_train=n_train, stride=stride)
    values, vectors = np.linalg.eigh((law + law.T) / 2)
    order = np.argsort(values)[::-1][:k]
    var, V = values[order], vectors[:, order].T
    if not np.all(var > 0):
        raise DecompositionError(f"the law has {int(np.sum(var <= 0))} of its {k} largest variances ≤ 0 (directions "
                                 f"without noise); pass a smaller k.")
    curv = np.einsum("ij,jk,ik->i", V, (H + H.T) / 2, V)
    flat = flatness_of_quadratic(curv, loss0)
    psi = -fit_power_law(flat, var, n_boot=0).exponent
    relax = None if snapshots is None else lr * curv * snapshots * stride
    return PopulationPsi(float(psi), k, var, V @ basis.T, curv, flat, relax,
                         "stationary" if snapshots is None else "window")


def _noisy_range(H: np.ndarray, C: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Q, QᵀHQ, QᵀCQ) with Q an orthonormal basis of H's directions with αλ > SINGULARITY_RTOL — all of them when
    there are none other. Flat directions along which C vanishes too (to 10⁻¹⁰ of its trace: a weight no sample
    moves, such as a pixel that is 0 in every image) carry no fluctuation and are dropped; a flat direction with
    noise has no stationary law, and the laws below refuse it."""
    Hs = (H + H.T) / 2
    h, V = np.linalg.eigh(Hs)
    flat = lr * h <= SINGULARITY_RTOL
    if not flat.any():
        return np.eye(H.shape[0]), Hs, C
    Vf = V[:, flat]
    if np.abs(Vf.T @ C @ Vf).max() > 1e-10 * max(np.trace(C), np.finfo(float).tiny):
        return np.eye(H.shape[0]), Hs, C  # noise along a flat direction: the law refuses it with its own sentence
    Q = V[:, ~flat]
    return Q, Q.T @ Hs @ Q, Q.T @ C @ Q


