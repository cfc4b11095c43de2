"""The sweep page: ψ against α and B, the top-direction variances against α/B (theory: slope 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .figures import _save, subplots
from .html import write_page


def _by(rows, key, group):
    """{group value: (x, ψ, lo, hi)} over finished runs with a ψ."""
    out: dict = {}
    for r in rows:
        if r["status"] == "done" and r.get("psi") is not None:
            out.setdefault(r[group], []).append((r[key], r["psi"], r["psi_lo"], r["psi_hi"]))
    return {g: np.array(sorted(v), dtype=float) for g, v in sorted(out.items())}


def draw_sweep(out: Path, rows: list[dict], fits: dict) -> list[tuple[Path, str]]:
    (out / "figures").mkdir(exist_ok=True)
    figs = []
    for key, group, label in (("lr", "batch_size", "learning rate α"), ("batch_size", "lr", "batch size B")):
        fig, ax = subplots(figsize=(5.5, 3.8))
        for g, a in _by(rows, key, group).items():
            ax.errorbar(a[:, 0], a[:, 1], yerr=[a[:, 1] - a[:, 2], a[:, 3] - a[:, 1]], fmt="o-", ms=4, capsize=3,
                        label=f"{group} = {g:g}")
        ax.axhline(4, color="k", ls=":", lw=0.8, label="Feng & Tu ψ ≈ 4")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("ψ (σ² ∝ F^−ψ), 95% CI")
        ax.legend(fontsize=7)
        figs.append((_save(fig, out / "figures" / f"psi_vs_{key}.png"), f"ψ against {label}, one line per {group}."))
    ok = [r for r in rows if r["status"] == "done" and r.get("top_variance")]
    fig, ax = subplots(figsize=(5.5, 3.8))
    if ok:
        x = np.array([r["lr_over_b"] for r in ok])
        y = np.array([r["top_variance"] for r in ok])
        ax.loglog(x, y, "o", ms=4, label="runs")
        fit = fits.get("variance_vs_lr_over_b")
        if fit:
            xs = np.geomspace(x.min(), x.max(), 20)
            k = np.exp(np.mean(np.log(y) - fit["exponent"] * np.log(x)))
            ax.loglog(xs, k * xs ** fit["exponent"], "-", label=f"slope {fit['exponent']:.2f} (theory 1)")
        ax.legend(fontsize=7)
    ax.set_xlabel("α / B")
    ax.set_ylabel("mean σ² of the top non-drift directions")
    figs.append((_save(fig, out / "figures" / "variance_vs_lr_over_b.png"),
                 "Variance of the leading non-drift principal directions against α/B, with the fitted power law."))
    return figs


def sweep_sentences(rows: list[dict], fits: dict) -> list[str]:
    out = [f"{fits['n_done']} runs finished, {fits['n_failed']} failed."]
    for r in rows:
        if r["status"] != "done":
            out.append(f"{r['name']} failed: {r['error']}")
    if "psi_range" in fits:
        lo, hi = fits["psi_range"]
        out.append(f"ψ ranges over {lo:.2f}–{hi:.2f} across the sweep (median {fits['psi_median']:.2f}); Feng & Tu "
                   f"report ψ ≈ 4 across learning rates and batch sizes.")
    f = fits.get("variance_vs_lr_over_b")
    if f:
        lo, hi = f["ci95"]
        verdict = "consistent with" if lo <= 1 <= hi else "not consistent with"
        out.append(f"The top-direction variance scales as (α/B)^{f['exponent']:.2f} (95% CI {lo:.2f}–{hi:.2f}, "
                   f"{f['n']} runs): {verdict} the linear theory's slope 1 (ε = α²/2B, force ∝ α).")
    return out


def sweep_report(out: Path, rows: list[dict], fits: dict) -> Path:
    """Figures and ``sweep.html`` for a sweep directory."""
    figs = draw_sweep(out, rows, fits)
    return write_page(out / "sweep.html", f"Sweep {out.name}", sweep_sentences(rows, fits), figs,
                      {"fits": fits, "rows": rows})
