"""The toy model's report: the same page machinery as a run (figure, verdict, numbers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .figures import _save, subplots
from .html import write_page


def toy_numbers(r, settings: dict) -> dict:
    dev = np.abs(r.variance - r.exact) / r.variance_se
    return {
        "settings": settings,
        "psi": -r.psi.exponent, "psi_ci95": [-r.psi.ci[1], -r.psi.ci[0]],
        "noise_vs_flatness": r.noise_vs_flatness.exponent,
        "eq24_ratio_range": [float((r.noise / r.eq24).min()), float((r.noise / r.eq24).max())],
        "max_deviation_from_exact_law_se": float(dev.max()),
        "flatness": r.flatness.tolist(), "variance": r.variance.tolist(), "exact": r.exact.tolist(),
        "noise": r.noise.tolist(), "eq24": r.eq24.tolist(),
    }


def toy_report(r, settings: dict, out_dir) -> Path:
    """Write ``out_dir/figures/toy.png`` and ``out_dir/report.html``; returns the page's path."""
    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    n = toy_numbers(r, settings)
    fig, axes = subplots(1, 2, figsize=(8, 3.4))
    axes[0].errorbar(r.flatness, r.variance, yerr=2 * r.variance_se, fmt="o", ms=3, label="SGD (±2 SE)")
    axes[0].loglog(r.flatness, r.exact, "-", label="exact discrete law")
    axes[0].set_xlabel("flatness F_i")
    axes[0].set_ylabel("σ_i²")
    axes[0].set_title(f"ψ = {n['psi']:.2f}")
    axes[0].legend()
    axes[1].loglog(r.flatness, r.noise, "o", ms=3, label="measured D_ii")
    axes[1].loglog(r.flatness, r.eq24, "-", label="Eq. (24)")
    axes[1].set_xlabel("flatness F_i")
    axes[1].legend()
    png = _save(fig, out_dir / "figures" / "toy.png")
    sentences = [
        f"With σ_θ,i ∝ F_i^{settings['theta_exponent']:+g}, SGD on the Eq. (20) model gives ψ = {n['psi']:.2f} "
        f"(CI {n['psi_ci95'][0]:.2f}–{n['psi_ci95'][1]:.2f}); the gradient noise scales as "
        f"F^{n['noise_vs_flatness']:.2f}.",
        f"Eq. (24) holds to within {100 * max(abs(1 - x) for x in n['eq24_ratio_range']):.1f}% per direction.",
        f"The exact discrete SGD law is off by at most {n['max_deviation_from_exact_law_se']:.1f} standard errors "
        + ("(additive noise: the law is exact)." if settings["sigma_m"] == 0 else
           "(random minibatch curvatures make the noise multiplicative: the additive law is approximate)."),
    ]
    return write_page(out_dir / "report.html", "The paper's Eq. (20) minibatch model", sentences,
                      [(png, "Variance and gradient noise against flatness, measured and predicted.")], n)
