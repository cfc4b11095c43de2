r"""Calibration of the ψ estimators where the truth is known: bias, spread and interval coverage.

A run estimates Feng & Tu's exponent ψ (σ_i² ∝ F_i^−ψ) from one window. Its estimators are only as good as their
behaviour on a case whose answer is known. For plain SGD on a quadratic loss with Gaussian gradient noise (the
linear model of paper Eqs. 4, 17–19) the answer is the **population ψ**
(:func:`~sgdpotential.theory.population_psi`): the same fit over the K leading eigen-directions of the expected
window covariance E[Σ̂_T], with the loss's flatness along them. This module simulates many windows of that law
exactly, applies each estimator to each window exactly as a run does (PCA, the drift filter, the flatness at the
window's mean, the least-squares fit and its pairs-bootstrap interval of :func:`~.analysis.ivf_exponent`), and
reports for each estimator, K and window length: the population ψ, the bias (mean estimate − population), the
spread (SD over windows) and the coverage of the 95% interval.

Estimators (:data:`ESTIMATORS`):

``own``
    Feng & Tu's: the window's own principal directions and their sample variances.
``heldout``
    Directions from the first half of the window, variances from the second half along them.
``independent``
    Directions from one window, variances from an independent window of the same law along them (what a run can
    only have from replayed windows).

Cases (:func:`paper_law_case`, :func:`digits_case`): the founding paper's law made exact (diagonal H, C ∝ H³: the
stationary ψ is 2n − 2 = 4) and the exactly solvable case of the calibration (a linear model with squared error on
the digits, every weight, at its least-squares minimum, with its real H and C).

Windows are simulated exactly at the snapshots (the recursion over s steps in closed form: decay (1 − αh)^s and
the noise summed over s steps), stationary at their start and independent of each other, sampling with replacement
(so that the window law is exact, not the reshuffled approximation).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.linalg import eigh

from .._repr import concise_repr
from ..errors import ConfigError
from ..nn.data import load_dataset
from ..nn.probes import projected_hessian, projected_noise_covariance
from ..theory import LinearSGD, flatness_of_quadratic, population_psi
from ..theory.pairs import strided_decay
from ..trajectory.pca import drift_share
from .analysis import DRIFT_MAX, ivf_exponent
from .calibrated import ESTIMATORS, wilson
from .rundir import RunDir

__all__ = ["CASES", "ESTIMATORS", "KS", "RELAXATION", "LinearCase", "coverage", "digits_case", "estimates",
           "network_case", "paper_law_case", "study", "summarize"]

#: The numbers of directions studied.
KS = (25, 50, 100, 200)
#: Window lengths, as the relaxation index r = α·h_ref·(steps in the window) of the reference curvature.
RELAXATION = (1, 10, 100)
#: Snapshots per window (the stride grows with the window's steps).
SNAPSHOTS = 1000
#: Factors by which the study also widens each interval about its estimate, to say how much wider it must be.
WIDENINGS = (1.5, 2, 3, 5)
#: Bias allowances a (ψ units) added on each side of each interval: the study reports the coverage of
#: [lo − a, hi + a], so that the smallest allowance that covers can be chosen (:func:`~.calibrated.choose_estimator`).
ALLOWANCES = tuple(round(0.1 * i, 1) for i in range(16))
#: The number of directions whose median curvature is the reference h_ref.
REFERENCE_K = 50


@dataclass(frozen=True)
class LinearCase:
    """A linear model of SGD in H's eigenbasis, with a known population ψ.

    Attributes
    ----------
    name, description : str
    model : LinearSGD
        α and B (sampling with replacement).
    h : (n,) ndarray
        H's eigenvalues, all with 0 < αh < 2.
    C : (n, n) ndarray
        The per-sample gradient covariance in H's eigenbasis.
    loss0 : float
        L* at the minimum (Feng & Tu's level e·L*).
    extra : dict
        The constructor's parameters, reported with the case.
    basis : (N, n) ndarray or None
        For a case built from a network: the orthonormal eigenvectors of H (columns) in the recorded weights' space
        that the case keeps, so that x_weights = basis @ x.
    """

    __repr__ = concise_repr

    name: str
    description: str
    model: LinearSGD
    h: np.ndarray
    C: np.ndarray
    loss0: float
    extra: dict = field(default_factory=dict)
    basis: np.ndarray | None = None

    def population(self, k: int, snapshots: int | None = None, stride: int = 1):
        """:func:`~sgdpotential.theory.population_psi` of this case."""
        return population_psi(np.diag(self.h), self.C, self.loss0, k, lr=self.model.lr,
                              batch_size=self.model.batch_size, snapshots=snapshots, stride=stride)

    def reference_curvature(self) -> float:
        """h_ref: the median curvature of the :data:`REFERENCE_K` leading directions of the stationary law."""
        return float(np.median(self.population(min(REFERENCE_K, self.h.size)).curvatures))

    def window(self, relaxation: float, snapshots: int = SNAPSHOTS, h_ref: float | None = None) -> tuple[int, int]:
        """(T, s): the window of relaxation index r = α·h_ref·T·s, with ``snapshots`` snapshots (fewer, one per
        step, when the window has fewer steps)."""
        h_ref = self.reference_curvature() if h_ref is None else h_ref
        steps = max(2, round(relaxation / (self.model.lr * h_ref)))
        stride = max(1, steps // snapshots)
        return steps // stride, stride

    def windows(self, snapshots: int, stride: int, rng: np.random.Generator):
        """Independent windows of the law, (T, n) snapshots in H's eigenbasis, each started from the stationary law:
        x_{u+1} = ρx_u + η_u, ρ = (1 − αh)^s, Cov η = Q ∘ W with Q = (α²/B)C and W_ij = (1 − ρ_iρ_j)/(1 − r_ir_j)
        the noise of s steps (O(n³) once, then O(T n²) per window)."""
        a = self.model.lr * self.h
        a_s = strided_decay(a, stride)
        Q = self.model.lr**2 / self.model.batch_size * self.C
        one_minus_q = a[:, None] + a[None, :] - a[:, None] * a[None, :]
        W = (a_s[:, None] + a_s[None, :] - a_s[:, None] * a_s[None, :]) / one_minus_q
        noise, start = _factor(Q * W), _factor(Q / one_minus_q)
        rho = 1.0 - a_s
        n = self.h.size
        while True:
            eta = rng.standard_normal((snapshots, n)) @ noise.T
            x = np.empty((snapshots, n))
            x[0] = start @ rng.standard_normal(n)
            for u in range(1, snapshots):
                x[u] = rho * x[u - 1] + eta[u]
            yield x


def _factor(S: np.ndarray) -> np.ndarray:
    """L with L Lᵀ = S for a symmetric PSD S (eigenvalues clipped at 0)."""
    w, V = np.linalg.eigh((S + S.T) / 2)
    return V * np.sqrt(np.clip(w, 0, None))


def paper_law_case(n: int = 400, n_exp: float = 3.0, lr: float = 1.0, batch_size: int = 1,
                   curvature_range: tuple[float, float] = (1e-7, 1e-4), excess: float = 0.05) -> LinearCase:
    r"""The founding paper's law made exact: diagonal H with αh log-spaced over ``curvature_range`` and
    C = h^n(2 − αh), so that the stationary law σ² = αC/(Bh(2 − αh)) ∝ h^(n−1) is an exact power of the flatness
    F ∝ h^(−1/2): ψ = 2n − 2 (4 for n = 3) at every K. L* is set so that the stationary fluctuations raise the
    loss by ``excess`` (½tr(HΣ) = excess·L*)."""
    h = np.geomspace(*curvature_range, n) / lr
    c = h**n_exp * (2 - lr * h)
    model = LinearSGD(lr, batch_size)
    sigma = lr * c / (batch_size * h * (2 - lr * h))
    loss0 = 0.5 * float(np.sum(h * sigma)) / excess
    return LinearCase("paper-law", f"diagonal H, C ∝ H^{n_exp:g}: the founding paper's law, stationary ψ = "
                      f"{2 * n_exp - 2:g}", model, h, np.diag(c), loss0,
                      {"n": n, "n_exp": n_exp, "curvature_range": list(curvature_range), "excess": excess})


def digits_case(lr: float = 0.005, batch_size: int = 32) -> LinearCase:
    r"""The exactly solvable case: a linear model with squared error on scikit-learn's digits, every weight, at its
    least-squares minimum ω*. With X̃ = [X, 1] and residuals r_k: H = I₁₀ ⊗ X̃ᵀX̃/N, per-sample gradients
    g_k = r_k ⊗ x̃_k and C = Cov_k(g_k) (paper Eq. 19). The directions with h = 0 (pixels that are always 0, where
    C is 0 too) are dropped: SGD never moves along them. The default α is a tenth of the calibration run's 0.05 so
    that the shortest window (r = 1) still has 1,000 steps; ψ depends on α only through the relaxation α·h·T·s,
    which the windows fix, and through the factor 2 − αh of the stationary law (here ≤ 0.03 of 2)."""
    data = load_dataset("digits")
    X = data.X.numpy().astype(np.float64).reshape(len(data.X), -1)
    N = X.shape[0]
    Xt = np.hstack([X, np.ones((N, 1))])
    Y = np.eye(10)[data.y.numpy()]
    W, *_ = np.linalg.lstsq(Xt, Y, rcond=None)
    r = Xt @ W - Y
    loss0 = 0.5 * float(np.mean(np.sum(r**2, axis=1)))
    g_val, g_vec = np.linalg.eigh(Xt.T @ Xt / N)
    keep = g_val > 1e-10 * g_val.max()
    g_val, g_vec = g_val[keep], g_vec[:, keep]
    # per-sample gradients in H's eigenbasis: class c's block of H = G has eigenvectors g_vec
    grads = (r[:, :, None] * (Xt @ g_vec)[:, None, :]).reshape(N, -1)
    grads -= grads.mean(axis=0)
    C = grads.T @ grads / N
    h = np.tile(g_val, 10)
    return LinearCase("digits", "linear model, squared error, every weight, on the digits (the exactly solvable "
                      "case)", LinearSGD(lr, batch_size), h, C, loss0, {"n_samples": N})


def network_case(run_dir, min_curvature_ratio: float = 1e-6) -> LinearCase:
    r"""The linear model with a trained network's curvature and gradient noise: H and C of the run's recorded weights
    at its window mean ω0 (the full-batch Hessian and the per-sample gradient covariance of paper Eqs. 17–19, the
    probes' :func:`~sgdpotential.nn.probes.projected_hessian` and :func:`~sgdpotential.nn.probes.
    projected_noise_covariance` along every recorded axis), with the run's α and B and L* = L(ω0), in H's
    eigenbasis. Directions with αh ≤ ``min_curvature_ratio``·max αh (flat or negative curvature, which have no
    stationary law, and those relaxing more than 10⁶ times slower than the stiffest) are dropped and counted;
    αh ≥ 2 is refused. This is a linear model, not the network: its population ψ is exact for it, and its
    spectra are a real network's. Cost: one Hessian-vector product and one directional derivative per recorded
    weight."""

    rd = RunDir(run_dir)
    pca = rd.load(RunDir.PCA)
    net = rd.network()
    obj = net.objective(base=pca["mean_all"])
    w0 = torch.as_tensor(pca["mean"], dtype=obj.dtype, device=obj.device)
    axes = torch.eye(obj.n_params, dtype=obj.dtype, device=obj.device)
    H = projected_hessian(obj, w0, axes)
    C = projected_noise_covariance(obj, w0, axes)
    lr, batch = float(net.train.lr), int(net.train.batch_size)
    h, V = np.linalg.eigh(H)
    a = lr * h
    if a.max() >= 2:
        raise ConfigError(f"the run's lr·λ_max(H) = {a.max():.3g} ≥ 2: its linear model has no stationary law; pick a "
                          f"run that trained stably.")
    keep = a > min_curvature_ratio * a.max()
    V = V[:, keep]
    return LinearCase("network", f"the linear model of a trained network's {int(keep.sum())} recorded weights with "
                      f"positive curvature (H and C at the window mean of {rd.path.name})", LinearSGD(lr, batch),
                      h[keep], V.T @ C @ V, float(obj.loss(w0).detach()),
                      {"run": rd.path.name, "dropped": int((~keep).sum()), "min_curvature_ratio": min_curvature_ratio,
                       "recorded": int(obj.n_params),
                       "config": rd.load(RunDir.CONFIG)}, V)


#: The cases by name (constructors with their defaults).
CASES = {"paper-law": paper_law_case, "digits": digits_case}


def _top(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenvalues (descending) and their eigenvectors (columns) of a symmetric S."""
    n = S.shape[0]
    w, V = eigh(S, subset_by_index=[n - k, n - 1])
    return w[::-1], V[:, ::-1]


def _covariance(x: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=0)
    return xc.T @ xc / x.shape[0]


def estimates(case: LinearCase, window: np.ndarray, other: np.ndarray, ks) -> dict:
    """ψ of every estimator at every K on one window (``other``: an independent window of the same law), each as
    :func:`~.analysis.ivf_exponent` returns it."""
    kmax = max(ks)
    T = window.shape[0]
    half = T // 2
    _, P_own = _top(_covariance(window), kmax)
    _, P_held = _top(_covariance(window[:half]), kmax)
    mean = window.mean(axis=0)
    level = case.loss0 + 0.5 * float(np.sum(case.h * mean**2))
    slope_field = case.h * mean

    def fits(P, x):
        theta = x @ P
        var = theta.var(axis=0)
        drift = drift_share(theta, var)
        curv = np.einsum("ji,j,ji->i", P, case.h, P)
        width = flatness_of_quadratic(curv, level, P.T @ slope_field)
        return {k: ivf_exponent(width[:k], var[:k], drift[:k] <= DRIFT_MAX) for k in ks}

    return {"own": fits(P_own, window), "heldout": fits(P_held, window[half:]), "independent": fits(P_own, other)}


def coverage(truth, lower, upper) -> dict:
    """The share of intervals [lower, upper] that contain ``truth`` (a scalar or one value per interval), with the
    Wilson 95% interval of that share. Intervals with a missing end count as not covering.

    >>> coverage(0.0, [-1, -1, 1, -2], [1, 1, 2, -1])["share"]
    0.5
    """
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    truth = np.broadcast_to(np.asarray(truth, dtype=float), lo.shape)
    hits = (lo <= truth) & (truth <= hi)
    n = int(lo.size)
    p = float(hits.mean()) if n else float("nan")
    return {"share": p, "ci95": wilson(p, n), "n": n}


def summarize(estimates_list: list, intervals: list, truth: float) -> dict:
    """Bias (mean − truth, with its standard error), spread (SD) and coverage of one estimator over windows. A
    window without an estimate (None: too few usable directions) is left out of the bias and the spread and counts
    as not covering (``n_failed``); with fewer than two estimates only the counts are returned."""
    failed = [e is None or c is None for e, c in zip(estimates_list, intervals, strict=True)]
    est = np.asarray([e for e, f in zip(estimates_list, failed, strict=True) if not f], dtype=float)
    ci = np.asarray([c if not f else [np.nan, np.nan] for c, f in zip(intervals, failed, strict=True)], dtype=float)
    n = est.size
    if n < 2:
        return {"n_windows": n, "n_failed": int(sum(failed))}
    full = np.full(len(failed), np.nan)
    full[~np.asarray(failed)] = est
    est = full  # one entry per window (NaN where it failed), so that a failure never covers
    ok = np.isfinite(est)
    return {"n_windows": n, "n_failed": int(sum(failed)), "mean": float(est[ok].mean()),
            "bias": float(est[ok].mean() - truth), "bias_se": float(est[ok].std(ddof=1) / math.sqrt(n)),
            "sd": float(est[ok].std(ddof=1)), "half_width": float(np.mean((ci[ok, 1] - ci[ok, 0]) / 2)),
            "coverage": coverage(truth, ci[:, 0], ci[:, 1]),
            # the interval widened about the estimate by each factor: how much wider it must be to cover
            "coverage_widened": {str(f): coverage(truth, est - f * (est - ci[:, 0]),
                                                  est + f * (ci[:, 1] - est))["share"] for f in WIDENINGS},
            # the interval widened on each side by an allowance a for the estimator's bias
            "coverage_allowance": {f"{a:.1f}": coverage(truth, ci[:, 0] - a, ci[:, 1] + a)["share"]
                                   for a in ALLOWANCES}}


def study(cases, *, windows: int = 200, ks=KS, relaxation=RELAXATION, snapshots: int = SNAPSHOTS,
          seed: int = 0, progress=None) -> dict:
    """Bias, spread and coverage of every estimator (:data:`ESTIMATORS`) at every K and window length on every case.

    Each cell simulates ``windows`` + 1 independent windows (window j's independent partner is window j + 1).
    Returns a JSON-ready dict: per case and window its T, stride, the population ψ (window of T snapshots, half of
    it, and the stationary law) and the median relaxation index of the population's K directions, and per
    estimator and K the summary of :func:`summarize` (a window whose estimator has fewer than 3 usable directions
    counts in ``n_failed`` and as not covering). Consecutive estimates
    share one window (window j + 1 is window j's independent partner and then the next window), so the
    independent-window estimator's errors are slightly correlated between consecutive windows.
    Cost: O(windows · (T n² + n³)) per cell.
    """
    out = {"date": datetime.date.today().isoformat(), "windows": windows, "snapshots": snapshots, "seed": seed,
           "estimators": ESTIMATORS, "drift_max": DRIFT_MAX, "cases": []}
    rng = np.random.default_rng(seed)
    for case in cases:
        cells = []
        h_ref = case.reference_curvature()
        for r in relaxation:
            T, stride = case.window(r, snapshots, h_ref)
            ks_here = [k for k in ks if k <= min(case.h.size, T // 4)]
            if not ks_here:
                continue
            runs = []
            sims = case.windows(T, stride, rng)
            first = next(sims)
            for j in range(windows):
                second = next(sims)
                runs.append(estimates(case, first, second, ks_here))
                first = second
                if progress is not None:
                    progress(case.name, r, j + 1, windows)
            rows = []
            laws = [case.population(max(ks_here), t, stride) for t in (T, T - T // 2)]  # the held-out half: T − T//2
            stationary = case.population(max(ks_here))
            for k in ks_here:
                pop = laws[0].first(k)
                row = {"k": k, "population": pop.psi, "population_half": laws[1].first(k).psi,
                       "stationary": stationary.first(k).psi,
                       "relaxation_median": float(np.median(pop.relaxation)), "estimators": {}}
                for name in ESTIMATORS:
                    got = [w[name][k] for w in runs]
                    row["estimators"][name] = {**summarize([g["psi"] for g in got], [g["ci95"] for g in got], pop.psi),
                                               "n_used_median": float(np.median([g["n_used"] for g in got]))}
                rows.append(row)
            cells.append({"relaxation": r, "snapshots": T, "stride": stride, "steps": T * stride, "rows": rows})
        out["cases"].append({"name": case.name, "description": case.description, "lr": case.model.lr,
                             "batch_size": case.model.batch_size, "n": int(case.h.size), "loss0": case.loss0,
                             "reference_curvature": h_ref, **case.extra, "cells": cells})
    return out
