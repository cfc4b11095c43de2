"""The ensemble page: ψ over the seeds of ``run --replicas`` — by K and by age, Feng & Tu's way and held out —
each seed's value beside the mean and its 95% t-interval over seeds (``ensemble.json``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..pipeline.rundir import RunDir
from .figures import _log_ticks, _save, subplots
from .html import settings_header, write_page


def over_seeds(x: dict | None) -> str:
    """An ``ensemble.json`` statistic as "mean [95% t-interval of the mean]" over the seeds ("—" when missing)."""
    if not x:
        return "—"
    return f"{x['mean']:.2f} [{x['ci95'][0]:.2f}, {x['ci95'][1]:.2f}]" if "ci95" in x else f"{x['mean']:.2f}"


def replicas_differ(ens: dict) -> str:
    """What the replicas of an ``ensemble.json`` differ in, in words: their minibatch seeds, their initialisations
    (model seeds) or both."""
    seeds, inits = ens["seeds"], ens.get("model_seeds") or [None] * len(ens["seeds"])

    def listed(v):
        return ", ".join(str(x) for x in v)

    if len(set(inits)) == 1:
        return f"minibatch seeds {listed(seeds)} from one initialisation (model seed {inits[0]})"
    if len(set(seeds)) == 1:
        return f"initialisations (model seeds) {listed(inits)} with one minibatch seed ({seeds[0]})"
    return f"minibatch seeds {listed(seeds)} and initialisations (model seeds) {listed(inits)}"


def _panel(ax, table: dict, numeric, label: str) -> None:
    keys = sorted(table, key=numeric)
    x = np.array([numeric(k) for k in keys], float)
    for way, fmt, color in (("feng_tu", "o-", "C0"), ("heldout", "s--", "C1")):
        stats = [table[k][way] for k in keys]
        if not all(stats):
            continue
        for j in range(len(stats[0]["values"])):  # each seed, thin
            ax.plot(x, [s["values"][j] for s in stats], fmt[0], color=color, alpha=0.35, ms=3)
        mean = np.array([s["mean"] for s in stats])
        lo = np.array([s.get("ci95", [s["mean"]] * 2)[0] for s in stats])
        hi = np.array([s.get("ci95", [s["mean"]] * 2)[1] for s in stats])
        name = "Feng & Tu (own directions)" if way == "feng_tu" else "held out"
        ax.errorbar(x, mean, yerr=[mean - lo, hi - mean], fmt=fmt, color=color, capsize=3,
                    label=f"{name}: mean, 95% interval over seeds (dots: each seed)")
    ax.axhline(4, color="k", ls=":", lw=0.8, label="Feng & Tu's ψ ≈ 4")
    ax.set_xlabel(label)
    ax.legend(fontsize=6)


def make_ensemble_report(out_dir) -> Path:
    """Write ``out_dir/ensemble.html`` from ``ensemble.json`` and the replicas' summaries; returns its path."""
    out = Path(out_dir)
    ens = json.loads((out / RunDir.ENSEMBLE).read_text())
    first = RunDir(out / ens["runs"][0]).load(RunDir.SUMMARY)
    (out / RunDir.FIGURES).mkdir(exist_ok=True)
    fig, (ak, aa) = subplots(1, 2, figsize=(10, 4), sharey=True)
    if ens.get("psi_by_k"):
        _panel(ak, ens["psi_by_k"], int, "K, principal directions in the fit (nested)")
        _log_ticks(ak, sorted(int(k) for k in ens["psi_by_k"]))
    if ens.get("psi_by_age"):
        _panel(aa, ens["psi_by_age"], int, "age: epochs after the burn-in ends")
    else:
        aa.text(0.5, 0.5, "one age recorded: set ages = [...] for more", transform=aa.transAxes, ha="center",
                fontsize=8)
    ak.set_ylabel("ψ (σ_i² ∝ F_i^−ψ)")
    fig_path = _save(fig, out / RunDir.FIGURES / "ensemble.png")

    sentences = [f"{len(ens['runs'])} replicas ({replicas_differ(ens)}): ψ = {over_seeds(ens['psi'])} "
                 f"Feng & Tu's way, {over_seeds(ens.get('psi_heldout'))} held out (mean and 95% t-interval of the mean "
                 f"over seeds — the run-to-run error bar; each run's bootstrap interval is within-run)."]
    for name, table in (("K", ens.get("psi_by_k") or {}), ("age", ens.get("psi_by_age") or {})):
        if table:
            sentences.append(f"By {name}: " + "; ".join(
                f"{k}: {over_seeds(v['feng_tu'])} / {over_seeds(v['heldout'])}" for k, v in table.items())
                + " (Feng & Tu / held out).")
    header = [(k, v) for k, v in settings_header(first) if k not in ("seeds", "burn-in", "recorded")]
    return write_page(out / "ensemble.html", f"Ensemble of {len(ens['runs'])} replicas: {out.name}", sentences,
                      [(fig_path, "ψ against K and against the network's age: every seed (dots) and the mean with "
                                  "its 95% t-interval over seeds, Feng & Tu's way and held out.")],
                      ens, header=header, note="Each run's own report: " + ", ".join(
                          f"{r}/report.html" for r in ens["runs"]) + ".")
