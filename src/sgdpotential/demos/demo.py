"""A small, exactly solvable demonstration of the paper's argument (until ``sgdpotential run`` exists).

A synthetic quadratic minimum is built with the paper's *assumed* scalings (Sect. "Scaling analysis"):
the curvature along each eigen-direction falls with the flatness as h ∝ F^−2 and the gradient noise is
C ∝ h³ (D ∼ F^n, n = 3), plus a random coupling between modes of different curvature, which breaks
detailed balance. The exact decomposition then shows both halves of the claim: against the loss, the
variance follows the inverse relation σ² ∝ F^−4 (up to the coupling), while against the stochastic
potential U it follows the ordinary Boltzmann/Einstein law σ² ∝ (U-flatness)^+2 exactly (Σ = εU⁻¹).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._repr import concise_repr
from .._validation import check_scalar
from ..claims import PAPER_N
from ..theory import Decomposition, LinearSGD, entropy_production_of, rotation_planes
from ..theory.scaling import PowerLawFit, fit_power_law, flatness_of_quadratic

__all__ = ["DemoResult", "flatness_of_quadratic", "scaling_demo"]


@dataclass(frozen=True)
class DemoResult:
    """What :func:`scaling_demo` computed.

    Attributes
    ----------
    decomposition : Decomposition of (F = αH, D = C, ε = α²/2B).
    variances : (n,) σ_i², eigenvalues of Σ = εU⁻¹, descending.
    loss_flatness, potential_flatness : (n,) flatness of the loss and of u(x) = xᵀUx/2 along each p_i.
    loss_fit, potential_fit : PowerLawFit of σ_i² against each flatness.
    discrete_over_continuous : (n,) σ_i² of the exact discrete SGD law over the continuous one.
    q_over_d : ‖Q‖_F/‖D‖_F. entropy_production : e_p per step. top_rotation : largest q_k.
    lr, batch_size : the SGD parameters used.
    """

    __repr__ = concise_repr

    decomposition: Decomposition
    variances: np.ndarray
    loss_flatness: np.ndarray
    potential_flatness: np.ndarray
    loss_fit: PowerLawFit
    potential_fit: PowerLawFit
    discrete_over_continuous: np.ndarray
    q_over_d: float
    entropy_production: float
    top_rotation: float
    lr: float
    batch_size: int


def scaling_demo(n: int = 40, *, coupling: float = 0.3, seed: int = 0, lr: float = 0.1,
                 batch_size: int = 50) -> DemoResult:
    """Decompose a synthetic SGD minimum built with the paper's scalings and fit both IVF laws.

    Curvatures h_i are log-spaced over two decades (h_max = 1), C = K Kᵀ with
    K = R diag(h^{n/2}) (I + coupling·G) with the paper's n (:data:`~sgdpotential.claims.PAPER_N`), G
    Gaussian/√n and R a random rotation, H = R diag(h) Rᵀ.
    Cost O(n³).

    Examples
    --------
    >>> res = scaling_demo(10, coupling=0.0)
    >>> round(res.potential_fit.exponent, 9), round(res.loss_fit.exponent, 6)
    (2.0, -4.0)
    """
    n = check_scalar(n, "n", int, min_val=3, fix="a power law needs three directions")
    coupling = check_scalar(coupling, "coupling", float, min_val=0)
    rng = np.random.default_rng(seed)
    h = np.logspace(0.0, -2.0, n)
    R, _ = np.linalg.qr(rng.standard_normal((n, n)))
    H = (R * h) @ R.T
    K = R @ (h[:, None] ** (PAPER_N / 2) * (np.eye(n) + coupling * rng.standard_normal((n, n)) / np.sqrt(n)))
    C = K @ K.T
    model = LinearSGD(lr, batch_size)  # sampling with replacement: κ = 1
    dec = model.decompose(H, C)
    var, P = np.linalg.eigh(dec.covariance)
    var, P = var[::-1], P[:, ::-1]
    loss_curv = np.einsum("ij,ik,kj->j", P, H, P)
    pot_curv = np.einsum("ij,ik,kj->j", P, dec.U, P)
    loss_flat = flatness_of_quadratic(loss_curv)
    pot_flat = flatness_of_quadratic(pot_curv)
    discrete = np.einsum("ij,ik,kj->j", P, model.discrete(H, C), P)
    return DemoResult(
        decomposition=dec,
        variances=var,
        loss_flatness=loss_flat,
        potential_flatness=pot_flat,
        loss_fit=fit_power_law(loss_flat, var, seed=seed),
        potential_fit=fit_power_law(pot_flat, var, seed=seed),
        discrete_over_continuous=discrete / var,
        q_over_d=float(np.linalg.norm(dec.Q) / np.linalg.norm(dec.D)),
        entropy_production=entropy_production_of(dec),
        top_rotation=float(np.max(rotation_planes(dec).q, initial=0.0)),
        lr=lr,
        batch_size=batch_size,
    )
