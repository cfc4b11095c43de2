"""The sweep page: ψ against α and B, the top-direction variances against α/B (theory: slope 1), with the sweep's
settings and the runs' warnings in its header — the same page, figure style and verdict grammar as a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..verdicts import interval_verdict
from .figures import _fitted, _log_ticks, _loglog, _save, subplots
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
        _log_ticks(ax, sorted({float(v) for a in _by(rows, key, group).values() for v in a[:, 0]}))
        ax.set_xlabel(label)
        ax.set_ylabel("ψ (σ² ∝ F^−ψ), 95% CI")
        ax.legend(fontsize=7)
        figs.append((_save(fig, out / "figures" / f"psi_vs_{key}.png"), f"ψ against {label}, one line per {group}."))
    ok = [r for r in rows if r["status"] == "done" and r.get("top_variance")]
    fig, ax = subplots(figsize=(5.5, 3.8))
    if ok:
        x = np.array([r["lr_over_b"] for r in ok])
        y = np.array([r["top_variance"] for r in ok])
        _loglog(ax, x, y, "runs (one point each)")
        if fits.get("variance_vs_lr_over_b"):  # the fit of sweep.json (same data, same bootstrap seed)
            _fitted(ax, x, y, np.ones(x.size, bool), "σ² ∝ (α/B)^slope (theory: 1)")
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
        out.append(f"The top-direction variance scales as (α/B)^{f['exponent']:.2f} (95% CI {lo:.2f}–{hi:.2f}, "
                   f"{f['n']} runs): {interval_verdict(f['ci95'], 1.0)} with the linear theory's slope 1 "
                   f"(ε = α²/2B, force ∝ α).")
    return out


def sweep_header(spec: dict | None) -> list[tuple[str, str]]:
    """The settings a reader needs before a sweep's numbers: what varied, the shared base, how it ran."""
    if not spec:
        return []
    base, t = spec["base"], spec["base"]["train"]
    varied = (", ".join(f"{k} ∈ {{{', '.join(str(v) for v in vs)}}}" for k, vs in spec["axes"].items())
              if spec.get("axes") else f"{len(spec.get('runs') or [])} listed runs")
    return [("varied", varied),
            ("base", f"data {base['dataset']}, hidden {base['hidden']}, "
                     f"{base['activation']}, weights {base['params']}, K = {base['components']}"),
            ("optimizer", f"SGD, α = {t['lr']:g}, B = {t['batch_size']}, sampling {t.get('sampling', 'shuffle')}, "
                          f"seed {t.get('seed', 0)}, initialisation {base['model_seed']} (unless varied)"),
            ("engine", f"{spec.get('backend', '?')} backend, {spec.get('workers', '?')} workers, ladder "
                       f"{'on' if spec.get('ladder') else 'off'}, replicas {'on' if spec.get('replicas') else 'off'}")]


def sweep_warnings(rows: list[dict]) -> list[dict]:
    """The runs' named warnings (``results.csv``), one entry per warning name with the runs it concerns."""
    by_name: dict[str, list[str]] = {}
    for r in rows:
        for w in filter(None, (r.get("warnings") or "").split(";")):
            by_name.setdefault(w, []).append(r["name"])
    return [{"name": w, "message": f"{len(names)} of {len(rows)} runs: {', '.join(names)} (see each run's report)."}
            for w, names in sorted(by_name.items())]


def sweep_report(out: Path, rows: list[dict], fits: dict, spec: dict | None = None) -> Path:
    """Figures and ``sweep.html`` for a sweep directory (``spec``: ``sweep.json``'s settings, for the header)."""
    figs = draw_sweep(out, rows, fits)
    return write_page(out / "sweep.html", f"Sweep {out.name}", sweep_sentences(rows, fits), figs,
                      {"fits": fits, "rows": rows}, header=sweep_header(spec), warnings=sweep_warnings(rows))
