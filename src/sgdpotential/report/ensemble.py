"""The ensemble page: the claims over the seeds of ``run --replicas`` (run-to-run intervals, and whether the seed
moves each claim), ψ by K and by age — each seed's value beside the mean and its 95% t-interval over seeds — with
the replicas' provenance and warnings (``ensemble.json``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..pipeline.rundir import RunDir
from .figures import _log_ticks, _save, prediction_band, subplots
from .html import settings_header, write_page
from .words import RULES, ensemble_sentences, optimizer_name, replicas_differ, scorecard_rows, warning_lines


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
    prediction_band(ax)
    ax.set_xlabel(label)
    ax.legend(fontsize=6)


def _header(ens: dict, summaries: list[dict]) -> list[tuple[str, str]]:
    """The first run's settings with the replicas' seeds, burn-ins and the provenance of every recording."""
    rows = dict(settings_header(summaries[0]))
    rows["seeds"] = replicas_differ(ens)
    rows["burn-in"] = "; ".join(f"{name}: {s['burn_in']['epochs']} epochs, accuracy {s['burn_in']['accuracy']:.4f}"
                                for name, s in zip(ens["runs"], summaries, strict=True))
    provs = [(s.get("provenance") or {}).get("record") or {} for s in summaries]
    rows["recorded"] = "; ".join(f"{name}: {p.get('date', '?')} on {p.get('device', '?')}, "
                                 f"{p.get('torch_threads', '?')} torch threads, commit {p.get('commit') or 'unknown'}"
                                 for name, p in zip(ens["runs"], provs, strict=True))
    return list(rows.items())


def make_ensemble_report(out_dir) -> Path:
    """Write ``out_dir/ensemble.html`` from ``ensemble.json`` and the replicas' summaries; returns its path."""
    out = Path(out_dir)
    ens = json.loads((out / RunDir.ENSEMBLE).read_text())
    summaries = [RunDir(out / r).load(RunDir.SUMMARY) for r in ens["runs"]]
    model = summaries[0].get("model")
    (out / RunDir.FIGURES).mkdir(exist_ok=True)
    ages = bool(ens.get("psi_by_age"))
    fig, axes = subplots(1, 2 if ages else 1, figsize=(10 if ages else 5.5, 4), sharey=True)
    ak = axes[0] if ages else axes
    if ens.get("psi_by_k"):
        _panel(ak, ens["psi_by_k"], int, "K, principal directions in the fit (nested)")
        _log_ticks(ak, sorted(int(k) for k in ens["psi_by_k"]))
    if ages:
        _panel(axes[1], ens["psi_by_age"], int, "age: epochs after the burn-in ends")
    ak.set_ylabel("ψ (σ_i² ∝ F_i^−ψ)")
    fig_path = _save(fig, out / RunDir.FIGURES / "ensemble.png")
    findings = ens.get("findings") or {"claims": []}
    caption = ("ψ against K" + (" and against the network's age" if ages else "") + ": every seed (dots) and the "
               "mean with its 95% t-interval over seeds, Feng & Tu's way and held out; the dotted line and grey band "
               "are Feng & Tu's prediction and its equivalence margin.")
    return write_page(out / "ensemble.html",
                      f"Ensemble of {len(ens['runs'])} replicas of {optimizer_name(model)}: {out.name}",
                      ensemble_sentences(ens, model), [(fig_path, caption)], ens, header=_header(ens, summaries),
                      warnings=warning_lines(ens.get("warnings", []), findings),
                      scorecard=scorecard_rows(findings, model),
                      note=" ".join(RULES) + " Over seeds the interval is the 95% t-interval of the mean over runs; "
                           "the seed moves a claim by the same rule over the runs' own intervals. Each run's own "
                           "report: " + ", ".join(f"{r}/report.html" for r in ens["runs"]) + ".")
