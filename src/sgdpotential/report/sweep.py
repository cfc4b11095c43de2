"""The sweep page: ψ against α and B, the top-direction variances against α/B (the linear model's claim), with the
sweep's settings, the runs' warnings and the sweep's scorecard — the same page, figure style and verdict rules as
a run, rendered from the findings in ``sweep.json``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..claims import claim, group_warnings
from ..verdicts import MIN_POINTS
from .figures import _fitted, _log_ticks, _loglog, _save, prediction_band, subplots
from .html import write_page
from .words import RULES, optimizer_name, scorecard_rows, sweep_sentences


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
        prediction_band(ax)
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
            c = claim("variance_vs_lr_over_b")
            _fitted(ax, x, y, np.ones(x.size, bool), f"σ² ∝ (α/B)^slope (linear model: {c.prediction:g} ± "
                                                      f"{c.margin:g})")
        ax.legend(fontsize=7)
    ax.set_xlabel("α / B")
    ax.set_ylabel("mean σ² of the top non-drift directions")
    figs.append((_save(fig, out / "figures" / "variance_vs_lr_over_b.png"),
                 "Variance of the leading non-drift principal directions against α/B, with the fitted power law."))
    return figs


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
            ("optimizer", f"{optimizer_name(_model_of(t))}, α = {t['lr']:g}, B = {t['batch_size']}, sampling "
                          f"{t.get('sampling', 'shuffle')}, "
                          f"seed {t.get('seed', 0)}, initialisation {base['model_seed']} (unless varied)"),
            ("engine", f"{spec.get('backend', '?')} backend, {spec.get('workers', '?')} workers, ladder "
                       f"{'on' if spec.get('ladder') else 'off'}, replicas {'on' if spec.get('replicas') else 'off'}")]


def _model_of(train: dict) -> dict:
    """The optimizer of a configuration's ``train`` table, as :func:`~.words.optimizer_name` reads it."""
    if train.get("optimizer", "sgd") == "sgd" and train.get("momentum"):
        return {"optimizer": "sgd_momentum", "momentum": train["momentum"]}
    return {"optimizer": train.get("optimizer", "sgd")}


def sweep_warnings(rows: list[dict], fits: dict | None = None) -> list[dict]:
    """The runs' named warnings (``results.csv``), one entry per warning with the runs it concerns, and the sweep's
    own (a fit over too few runs)."""
    out = group_warnings([(r["name"], list(filter(None, (r.get("warnings") or "").split(";")))) for r in rows])
    for c in ((fits or {}).get("findings") or {}).get("claims", []):
        if "few_fit_points" in c["invalidated_by"]:
            out.append({"name": "few_fit_points", "runs": [],
                        "message": f"the sweep's fit ({c['key']}) uses {c['n']} runs, fewer than the "
                                   f"{MIN_POINTS} points a fit needs for a verdict."})
    return out


def sweep_report(out: Path, rows: list[dict], fits: dict, spec: dict | None = None) -> Path:
    """Figures and ``sweep.html`` for a sweep directory (``spec``: ``sweep.json``'s settings, for the header)."""
    figs = draw_sweep(out, rows, fits)
    found = fits.get("findings") or {"claims": []}
    return write_page(out / "sweep.html", f"Sweep {out.name}", sweep_sentences(rows, fits), figs,
                      {"fits": fits, "rows": rows}, header=sweep_header(spec),
                      warnings=[(w["name"], w["message"]) for w in sweep_warnings(rows, fits)],
                      scorecard=scorecard_rows(found), note=" ".join(RULES))
