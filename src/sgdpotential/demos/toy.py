"""The paper's random quadratic minibatch model, Eq. (20), simulated: where does ψ come from?

Each minibatch μ has the loss L^μ(θ) = L0 [Σ_i (M^μ_ii/2) θ_i(θ_i − 2θ^μ_i)] with M^μ_ii ~ N(M⁰_ii, σ²_M,i) and
θ^μ_i ~ N(0, σ²_θ,i), so ∇L^μ = L0 M^μ(θ − θ^μ) and SGD is θ ← θ − α L0 M^μ(θ − θ^μ). The flatness spectrum
F_i fixes M⁰_ii = c F_i^−2 (paper Eq. 25 with the quadratic flatness); σ_θ,i ∝ F_i^a, with a = +1 (Feng & Tu's
measurement) or a = −1 (the paper's argument). With σ_M = 0 the noise is additive and the exact discrete law
holds; the measured Σ, D and exponents are compared with it and with Eq. (24), D_ii ≈ L0²(M⁰_ii)²σ²_θ,i.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._repr import concise_repr
from .._validation import check_scalar
from ..errors import ConfigError
from ..theory import LinearSGD
from ..theory.scaling import PowerLawFit, fit_power_law

__all__ = ["ToyResult", "toy_model"]


@dataclass(frozen=True)
class ToyResult:
    """Measured and predicted quantities of :func:`toy_model` (per direction i unless noted).

    Attributes
    ----------
    flatness, curvature, theta_spread : (n,) F_i, L0·M⁰_ii, σ_θ,i.
    variance : (n,) measured E θ_i² (the stationary mean is 0), averaged over chains after burn-in.
    variance_se : (n,) its standard error (from the spread between chains).
    exact : (n,) diag of the exact discrete SGD law (exact only when ``sigma_m`` = 0).
    noise : (n,) measured D_ii = Var(∂L^μ/∂θ_i) at θ = 0.
    eq24 : (n,) L0²(M⁰_ii)²σ²_θ,i, the paper's Eq. (24).
    psi, noise_vs_flatness : PowerLawFit of variance and of D_ii against F_i.
    """

    __repr__ = concise_repr

    flatness: np.ndarray
    curvature: np.ndarray
    theta_spread: np.ndarray
    variance: np.ndarray
    variance_se: np.ndarray
    exact: np.ndarray
    noise: np.ndarray
    eq24: np.ndarray
    psi: PowerLawFit
    noise_vs_flatness: PowerLawFit


def toy_model(n: int = 20, *, flatness_range=(1.0, 10.0), theta_exponent: float = -1.0, sigma_m: float = 0.0,
              lr: float = 0.1, loss0: float = 1.0, chains: int = 200, steps: int = 4000, seed: int = 0) -> ToyResult:
    """Simulate SGD on the Eq. (20) model and measure Σ, D and the exponents against the exact laws.

    Parameters
    ----------
    n : int
        Directions.
    flatness_range : (float, float)
        F_i log-spaced over this range; M⁰_ii = c F_i^−2 with c chosen so that α L0 M⁰_max = 0.5.
    theta_exponent : float
        a in σ_θ,i ∝ F_i^a (−1: the paper; +1: Feng & Tu's measurement).
    sigma_m : float
        Relative spread of the minibatch curvatures, σ_M,i = sigma_m · M⁰_ii (0: additive noise, exact law).
    lr, loss0 : float
        α and L0.
    chains, steps : int
        Independent SGD chains (vectorised) and steps per chain; the first half of the steps is burn-in.
    seed : int

    Notes
    -----
    Cost O(chains · steps · n). The burn-in is checked against the slowest relaxation time 1/(αL0M⁰_min).
    """
    n = check_scalar(n, "n", int, min_val=3, fix="a power law needs three directions")
    lo, hi = flatness_range
    if not (0 < lo < hi):
        raise ConfigError(f"flatness_range = {flatness_range!r} must satisfy 0 < low < high.")
    F = np.logspace(math.log10(lo), math.log10(hi), n)
    M0 = F**-2.0
    M0 *= 0.5 / (lr * loss0 * M0.max())
    tau = 1.0 / (lr * loss0 * M0.min())
    if steps // 2 < 5 * tau:
        raise ConfigError(f"steps = {steps} leaves a burn-in of {steps // 2} steps, shorter than 5× the slowest "
                          f"relaxation time {tau:.0f}; use steps ≥ {int(10 * tau) + 1} or a narrower flatness_range.")
    s_theta = F**theta_exponent
    s_theta *= 0.1 / s_theta.max()
    rng = np.random.default_rng(seed)
    theta = np.zeros((chains, n))
    burn = steps // 2
    acc2 = np.zeros((chains, n))
    for t in range(steps):
        m = M0 + sigma_m * M0 * rng.standard_normal((chains, n))
        target = s_theta * rng.standard_normal((chains, n))
        theta = theta - lr * loss0 * m * (theta - target)
        if t >= burn:
            acc2 += theta**2
    # the stationary mean is exactly 0 (every θ^μ has mean 0): second moments about 0 are unbiased, while
    # subtracting each chain's own time mean would bias slow directions low by ~2τ/steps
    per_chain = acc2 / (steps - burn)
    variance = per_chain.mean(axis=0)
    se = per_chain.std(axis=0, ddof=1) / math.sqrt(chains)
    # noise at θ = 0: ∂L^μ/∂θ_i = −L0 M^μ_ii θ^μ_i
    m = M0 + sigma_m * M0 * rng.standard_normal((20_000, n))
    g = -loss0 * m * (s_theta * rng.standard_normal((20_000, n)))
    noise = g.var(axis=0)
    H = np.diag(loss0 * M0)
    C = np.diag(loss0**2 * M0**2 * s_theta**2 * (1 + sigma_m**2))
    exact = np.diag(LinearSGD(lr, 1).discrete(H, C))
    return ToyResult(F, loss0 * M0, s_theta, variance, se, exact, noise, loss0**2 * M0**2 * s_theta**2,
                     fit_power_law(F, variance, seed=seed), fit_power_law(F, noise, seed=seed))
