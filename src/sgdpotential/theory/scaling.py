"""Power-law fits y ∝ x^k on log–log axes, with bootstrap confidence intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["PowerLawFit", "fit_power_law", "flatness_of_quadratic", "power_law_band"]


@dataclass(frozen=True)
class PowerLawFit:
    """Least-squares fit of log y = log c + k log x.

    Attributes
    ----------
    exponent : float
        The slope k (for σ² ∝ F^−ψ, ψ = −k).
    prefactor : float
        c.
    ci : tuple[float, float]
        Percentile bootstrap interval of k at level ``confidence`` (pairs resampled).
    r2 : float
        Coefficient of determination on log–log axes.
    n : int
        Number of points used.
    confidence : float
    """

    exponent: float
    prefactor: float
    ci: tuple[float, float]
    r2: float
    n: int
    confidence: float


def fit_power_law(x, y, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> PowerLawFit:
    """Fit y ∝ x^k by ordinary least squares in log–log space, with a pairs-bootstrap interval for k.

    Parameters
    ----------
    x, y : (m,) array_like
        Positive, finite values, m ≥ 3.
    n_boot : int
        Bootstrap resamples (vectorised: one (n_boot, m) index draw); 0 skips the interval (NaNs).
    confidence : float
        Interval level in (0, 1).
    seed : int
        Seed of the resampling, so that reruns give the same interval.

    Returns
    -------
    PowerLawFit

    Notes
    -----
    O(n_boot · m). Resamples whose log x is constant (possible for tiny m) are dropped.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 4.0, 8.0])
    >>> fit = fit_power_law(x, 3 * x**-4.0)
    >>> round(fit.exponent, 12), round(fit.r2, 12)
    (-4.0, 1.0)
    """
    lx, ly = _logs("x", x), _logs("y", y)
    if lx.shape != ly.shape:
        raise ValueError(f"x has {lx.size} values but y has {ly.size}; pass one y per x.")
    if lx.size < 3:
        raise ValueError(f"a power-law fit needs at least 3 points, got {lx.size}.")
    if np.ptp(lx) == 0:
        raise ValueError("all x are equal, so no exponent can be fitted; pass x that vary.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence = {confidence!r} must lie strictly between 0 and 1, e.g. 0.95.")
    k, c = _ols(lx[None, :], ly[None, :])
    resid = ly - (c[0] + k[0] * lx)
    ss_tot = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 1.0
    ci = (np.nan, np.nan)
    if n_boot > 0:
        idx = np.random.default_rng(seed).integers(0, lx.size, size=(n_boot, lx.size))
        bx, by = lx[idx], ly[idx]
        keep = np.ptp(bx, axis=1) > 0
        kb, _ = _ols(bx[keep], by[keep])
        alpha = (1 - confidence) / 2
        ci = (float(np.quantile(kb, alpha)), float(np.quantile(kb, 1 - alpha)))
    return PowerLawFit(float(k[0]), float(np.exp(c[0])), ci, r2, int(lx.size), confidence)


def power_law_band(x, y, grid, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple:
    """The pointwise ``confidence`` band of the fitted line y = c·x^k on ``grid``, from the same pairs bootstrap as
    :func:`fit_power_law` (same ``seed``: the band belongs to the interval that function reports).

    Returns (lower, upper) arrays over ``grid``. O(n_boot · (m + len(grid))).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 4.0, 8.0]); lo, hi = power_law_band(x, 3 * x**-4.0, x)
    >>> bool(np.allclose(lo, 3 * x**-4.0) and np.allclose(hi, lo))
    True
    """
    lx, ly = _logs("x", x), _logs("y", y)
    lg = np.log(np.asarray(grid, dtype=float))
    idx = np.random.default_rng(seed).integers(0, lx.size, size=(n_boot, lx.size))
    bx, by = lx[idx], ly[idx]
    keep = np.ptp(bx, axis=1) > 0
    kb, cb = _ols(bx[keep], by[keep])
    lines = cb[:, None] + kb[:, None] * lg[None, :]
    alpha = (1 - confidence) / 2
    return np.exp(np.quantile(lines, alpha, axis=0)), np.exp(np.quantile(lines, 1 - alpha, axis=0))


def _logs(name: str, v) -> np.ndarray:
    v = np.asarray(v, dtype=float).ravel()
    bad = ~(np.isfinite(v) & (v > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"{name}[{i}] = {float(v[i])!r}: a log–log fit needs finite positive values; drop such points."
        )
    return np.log(v)


def _ols(lx: np.ndarray, ly: np.ndarray):
    """Row-wise slope and intercept of ly on lx."""
    mx, my = lx.mean(axis=1, keepdims=True), ly.mean(axis=1, keepdims=True)
    k = np.sum((lx - mx) * (ly - my), axis=1) / np.sum((lx - mx) ** 2, axis=1)
    return k, my[:, 0] - k * mx[:, 0]


def flatness_of_quadratic(curvature, level: float = 1.0, slope=0.0) -> np.ndarray:
    """Feng–Tu flatness of L(θ) = L0 + gθ + hθ²/2 along a direction: the width of {L ≤ e·L0}.

    F = 2√(g² + 2(e − 1)L0h)/h (the distance between the two roots of gθ + hθ²/2 = (e − 1)L0), which is
    2√(2(e − 1)L0/h) at a minimum (g = 0); ``level`` is L0, ``slope`` g.

    >>> round(float(flatness_of_quadratic(2.0, level=1.0)), 6), round(float(flatness_of_quadratic(2.0, 1.0, 1.0)), 6)
    (2.621665, 2.805909)
    """
    h, g = np.asarray(curvature, dtype=float), np.asarray(slope, dtype=float)
    return 2.0 * np.sqrt(g * g + 2.0 * (math.e - 1.0) * level * h) / h
