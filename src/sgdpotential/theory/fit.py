"""A linear SDE fitted to a sampled path: force F and diffusion D from the increments (least-squares VAR(1)).

The paper's model of SGD in a subspace is ẋ = −Fx + ζ with ⟨ζζᵀ⟩ = 2εD (Eq. 4), F = αH and D = C
(Eqs. 17–19). Instead of measuring H and C, this module reads F and D off the trajectory itself, so that
the two can be compared: where they disagree, the subspace is not closed (other weights drive it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._repr import concise_repr
from ..errors import DecompositionError
from ._checks import positive_int, positive_scalar

__all__ = ["LinearSDEFit", "fit_linear_sde"]

MODELS = ("discrete", "continuous")


@dataclass(frozen=True)
class LinearSDEFit:
    """A linear SDE fitted to a path (see :func:`fit_linear_sde`).

    Attributes
    ----------
    F : (n, n) ndarray
        Force matrix per unit time (for SGD with time in steps: the estimate of αH).
    D : (n, n) ndarray
        Symmetric diffusion matrix for the given ε (for SGD with ε = α²/2B: the estimate of C, times
        (N_L − B)/(N_L − 1) for minibatches drawn without replacement).
    mean : (n,) ndarray
        Fixed point of the fitted recursion (NaN when I − Φ is singular).
    Phi, Phi_se : (n, n) ndarray
        Transition matrix over one sampling interval, x_{t+1} = Φ x_t + c + η_t, and the least-squares
        standard errors of its entries.
    noise_cov : (n, n) ndarray
        Covariance of the residuals η over one sampling interval.
    model : str
    dt, eps : float
    n_samples : int
        Number of increments used.
    """

    __repr__ = concise_repr

    F: np.ndarray
    D: np.ndarray
    mean: np.ndarray
    Phi: np.ndarray
    Phi_se: np.ndarray
    noise_cov: np.ndarray
    model: str
    dt: float
    eps: float
    n_samples: int


def fit_linear_sde(x, *, dt: float = 1.0, eps: float = 1.0, model: str = "discrete") -> LinearSDEFit:
    r"""Fit x_{t+1} = Φ x_t + c + η_t by least squares and read off the force F and diffusion D.

    Models
    ------
    ``"discrete"`` — the SGD recursion with unit time step, sampled every ``dt`` (integer) steps:
    x ← (I − F)x + η₁, ⟨η₁η₁ᵀ⟩ = 2εD, so Φ = (I − F)^{dt} and
    ⟨ηηᵀ⟩ = Σ_{m<dt} (I − F)^m 2εD (I − F)^{mᵀ}. With dt = 1: F = I − Φ and D = ⟨ηηᵀ⟩/(2ε) exactly.

    ``"continuous"`` — the SDE ẋ = −Fx + ζ, ⟨ζζᵀ⟩ = 2εD, sampled every dt (paper Eq. 4): Φ = e^{−F dt},
    ⟨ηηᵀ⟩ = ∫₀^{dt} e^{−Fs} 2εD e^{−Fᵀs} ds.

    Method: ordinary least squares of x_{t+1} on (x_t, 1), then F from the eigen-decomposition
    Φ = V diag(φ) V⁻¹ (F = V diag(−log φ / dt) V⁻¹, or V diag(1 − φ^{1/dt}) V⁻¹), and D by inverting the
    noise integral (sum) in the same eigenbasis, where it is diagonal:
    (V⁻¹⟨ηηᵀ⟩V⁻ᵀ)_ij = 2ε (V⁻¹DV⁻ᵀ)_ij · k(λ_i + λ_j) with k the integral (sum) of one exponential (power).
    No stationarity is assumed: a path with slow or even growing directions is fitted as it is.
    Cost O(m n² + n³) for m points.

    Parameters
    ----------
    x : (m, n) array_like
        The path, m ≥ n + 3 points.
    dt : float
        Sampling interval (an integer number of steps for ``"discrete"``).
    eps : float
        Noise strength ε that D is expressed with (ε = α²/2B for SGD).
    model : {"discrete", "continuous"}

    Returns
    -------
    LinearSDEFit

    Raises
    ------
    DecompositionError
        Too short a path, a degenerate path, or a fitted Φ without a real generator (an eigenvalue
        ≤ 0 for ``"continuous"``, or for ``"discrete"`` with dt > 1).

    References
    ----------
    Paper Eqs. (4), (17)–(19); the least-squares VAR(1) estimator (e.g. Hamilton, *Time Series Analysis*,
    ch. 11). :func:`~sgdpotential.theory.area_rate` estimates εQ from the same path.

    Examples
    --------
    >>> import numpy as np
    >>> from sgdpotential import simulate_ou
    >>> x = simulate_ou([[0.5]], [[2.0]], eps=0.1, dt=1.0, n_steps=50_000, seed=0)
    >>> fit = fit_linear_sde(x, dt=1.0, eps=0.1, model="continuous")
    >>> bool(abs(fit.F[0, 0] - 0.5) < 0.03 and abs(fit.D[0, 0] - 2.0) < 0.1)
    True
    """
    if model not in MODELS:
        raise DecompositionError(f"model = {model!r} is not one of {', '.join(MODELS)}.")
    dt = positive_scalar("dt", dt, "the sampling interval must be positive")
    eps = positive_scalar("eps", eps, "the noise strength ε must be positive")
    if model == "discrete":
        if dt != int(dt):
            raise DecompositionError(f"dt = {dt!r} must be a whole number of steps for the discrete model.")
        positive_int("dt", int(dt), "the sampling interval is a number of steps")
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or not np.all(np.isfinite(x)):
        raise DecompositionError(f"x has shape {x.shape} or non-finite entries; pass a finite path of shape (m, n).")
    m, n = x.shape
    if m < n + 3:
        raise DecompositionError(f"a path of {m} points cannot fit {n}×{n} + {n} coefficients; pass at least {n + 3} "
                                 f"points or fewer coordinates.")
    X = np.hstack([x[:-1], np.ones((m - 1, 1))])
    coef, _, rank, _ = np.linalg.lstsq(X, x[1:], rcond=None)
    if rank < n + 1:
        raise DecompositionError("the path does not move in every coordinate (the regressors are collinear); drop "
                                 "constant or duplicate coordinates.")
    Phi, c = coef[:n].T, coef[n]
    resid = x[1:] - X @ coef
    noise_cov = resid.T @ resid / (m - 1 - (n + 1))
    noise_cov = (noise_cov + noise_cov.T) / 2
    XtX_inv = np.linalg.inv(X.T @ X)
    Phi_se = np.sqrt(np.outer(np.diag(noise_cov), np.diag(XtX_inv)[:n]))
    eye = np.eye(n)
    try:
        mean = np.linalg.solve(eye - Phi, c)
    except np.linalg.LinAlgError:
        mean = np.full(n, np.nan)

    if model == "discrete" and dt == 1:
        F, D = eye - Phi, noise_cov / (2 * eps)  # the SGD recursion itself: nothing to invert
    else:
        phi, V = np.linalg.eig(Phi)
        real_generator = np.all((np.abs(phi.imag) > 0) | (phi.real > 0))
        if not real_generator:
            bad = phi[(np.abs(phi.imag) == 0) & (phi.real <= 0)][0].real
            raise DecompositionError(f"the fitted transition matrix has the eigenvalue {bad:.4g} ≤ 0, which no real "
                                     f"{model} generator over dt = {dt:g} produces; sample the path more densely.")
        Vinv = np.linalg.inv(V)
        if model == "continuous":
            lam = -np.log(phi.astype(complex)) / dt
            s = lam[:, None] + lam[None, :]
            small = np.abs(s * dt) < 1e-8
            kernel = np.where(small, dt, -np.expm1(-np.where(small, 1.0, s) * dt) / np.where(small, 1.0, s))
        else:
            a = phi.astype(complex) ** (1.0 / dt)
            lam = 1 - a
            p = a[:, None] * a[None, :]
            near = np.abs(1 - p) < 1e-12
            kernel = np.where(near, dt, (1 - p**dt) / np.where(near, 0.5, 1 - p))
        F = np.real_if_close((V * lam) @ Vinv, tol=1e6).real
        W = Vinv @ noise_cov @ Vinv.T
        D = (V @ (W / kernel) @ V.T).real / (2 * eps)
    D = (D + D.T) / 2
    return LinearSDEFit(F, D, mean, Phi, Phi_se, noise_cov, model, float(dt), eps, m - 1)
