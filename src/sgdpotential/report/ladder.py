"""The model-ladder section of the report: which ingredient makes the IVF relation (from ``ladder.json``)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from ..pipeline.rundir import RunDir
from .figures import _loglog, _save, subplots

#: One colour per rung in both panels.
COLOURS = {"sgd": "C0", "batch": "C1", "full": "C2", "isotropic": "C3", "continuous": "C4", "discrete": "C5",
           "window": "C6"}

REPLAY_NAMES = {"batch": "the minibatch-Hessian replay (Eq. 20)", "full": "the full-Hessian replay (Eqs. 4/17)"}


def _interval(r: dict) -> str:
    return f"ψ = {r['psi']:.2f} [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]"


def _delta(r: dict) -> str:
    return "" if r.get("delta_psi") is None else f"Δψ = {r['delta_psi']:+.2f} from the recorded run"


def _label(r: dict, opt: str) -> str:
    return f"real {opt} (the recorded run)" if r["name"] == "sgd" else r["label"]


def ladder_sentences(ladder: dict, findings: dict | None = None, opt: str = "SGD") -> list[str]:
    """Plain sentences from ``ladder.json`` and the ladder's claims in the run's findings (their verdicts): each
    rung against the recorded run, and which ingredient matters."""
    rows = {r["name"]: r for r in ladder["rungs"]}
    claims = {c["key"]: c for c in (findings or {}).get("claims", []) if c["key"].startswith("ladder_")}
    sgd = rows["sgd"]
    if sgd.get("psi") is None:
        return [f"Real {opt} has too few usable directions for an IVF fit; the ladder cannot be compared."]
    out = [f"Real {opt}: {_interval(sgd)}."]
    for name, label in REPLAY_NAMES.items():
        r, c = rows.get(name), claims.get(f"ladder_{name}")
        if r is None or r.get("psi") is None:
            continue
        said = f": {c['verdict']} with reproducing it (|Δψ| within ± {c['margin']:g})" if c else ""
        out.append(f"In all weights, {label} gives {_interval(r)}, {_delta(r)}{said}; its variances along real "
                   f"{opt}'s directions are {r['median_ratio']:.2g}× real {opt}'s (median).")
    iso, c_iso = rows.get("isotropic"), claims.get("ladder_isotropic")
    if iso is not None and iso.get("psi") is not None:
        said = (f": {c_iso['verdict']} with equilibrium in the loss (ψ = {c_iso['prediction']:g} ± "
                f"{c_iso['margin']:g})") if c_iso else ""
        out.append(f"With isotropic gradient noise of the same total variance (full Hessian), {_interval(iso)}{said}.")
    laws = [rows[n] for n in ("continuous", "discrete", "window") if n in rows and rows[n].get("psi") is not None]
    if laws:
        parts = ", ".join(f"{r['name']} ψ = {r['psi']:.2f} ({_delta(r)})" for r in laws)
        out.append(f"Restricted to the {len(sgd['ratio_along_sgd'])} principal directions, the subspace laws give "
                   f"{parts}.")
    cl = ladder.get("closure", {})
    if cl.get("median_hessian_outside") is not None:
        other = cl.get("median_hessian_other_layers")
        out.append(f"The subspace is not closed: a median {cl['median_hessian_outside']:.0%} of H p_i "
                   f"(and {cl['median_noise_outside']:.0%} of C p_i) lies outside span(P)"
                   + ("." if other is None else f"; {other:.0%} of H p_i lies in the layers that were not recorded."))
    fit = ladder.get("fitted_sde", {})
    if "skipped" in fit:
        out.append(f"No linear SDE fitted to θ(t): {fit['skipped']}")
    if "force_rel_diff" in fit:
        null = fit.get("null", {})

        def against(key, value, unit):
            n = null.get(key)
            if n is None:
                return f"{value:.3g}{unit}"
            lo, hi = n["range95"]
            where = "inside it: estimator noise" if lo <= value <= hi else ("below it" if value < lo else "above it")
            return f"{value:.3g}{unit} (closed-subspace null {n['median']:.3g}{unit} [{lo:.3g}, {hi:.3g}]; {where})"

        out.append(f"A linear SDE fitted to θ(t) itself (least-squares VAR(1), drift directions removed), against "
                   f"(αH_P, C_P): force difference {against('force_rel_diff', fit['force_rel_diff'], '')}; diffusion "
                   f"difference {against('diffusion_rel_diff', fit['diffusion_rel_diff'], '')}; per-step increments "
                   f"{against('increment_variance_ratio_median', fit['increment_variance_ratio_median'], '×')} "
                   f"α²C_P/B. The null is the same fit on {null.get('paths', 0)} simulated paths of the exact "
                   f"subspace model of the same length (relative Frobenius differences).")
    replay = claims.get("ladder_full") or claims.get("ladder_batch")
    if replay and c_iso:
        if replay["verdict"] == "consistent" and c_iso["verdict"] == "consistent":
            out.append(f"Conclusion: the linear model in all weights reproduces real {opt}'s ψ with its anisotropic "
                       f"noise, and isotropic noise of the same trace gives equilibrium's ψ — the noise anisotropy, "
                       f"acting through the whole weight space, makes the relation.")
        elif replay["verdict"] == "inconsistent":
            out.append(f"Conclusion: the linear model in all weights does not reproduce real {opt}'s ψ; the "
                       f"non-quadratic loss matters here.")
        else:  # e.g. the isotropic control differs from equilibrium, or its interval is too wide to tell
            out.append(f"No conclusion on which ingredient makes IVF: the replay reproducing real {opt}'s ψ reads "
                       f"{replay['verdict']}, the isotropic control's equilibrium ψ {c_iso['verdict']}.")
    return out


def ladder_table(ladder: dict, opt: str = "SGD") -> str:
    """An HTML table of the rungs."""
    head = (f"<tr><th>rung</th><th>ψ</th><th>95% CI</th><th>Δψ from real {opt}</th><th>total variance</th>"
            f"<th>PC1 share</th><th>variance in real {opt}'s K directions</th><th>median ratio to real {opt}</th>"
            f"</tr>")
    body = []
    for r in ladder["rungs"]:
        if "error" in r:
            body.append(f"<tr><td>{html.escape(_label(r, opt))}</td><td colspan=7>{html.escape(r['error'])}</td>"
                        f"</tr>")
            continue

        def f(v, fmt=".3g"):
            return "—" if v is None else format(v, fmt)

        ci = "—" if r["ci95"] is None else f"{r['ci95'][0]:.2f} – {r['ci95'][1]:.2f}"
        body.append(f"<tr><td>{html.escape(_label(r, opt))}</td><td>{f(r['psi'], '.2f')}</td><td>{ci}</td>"
                    f"<td>{f(r.get('delta_psi'), '+.2f')}</td><td>{f(r.get('total_variance'))}</td>"
                    f"<td>{f(r.get('pc1_ratio'), '.3f')}</td><td>{f(r['subspace_variance'])}</td>"
                    f"<td>{f(r['median_ratio'])}</td></tr>")
    return f"<table border=1 cellpadding=4 style='border-collapse:collapse'>{head}{''.join(body)}</table>"


def draw_ladder(run_dir: Path, ladder: dict, opt: str = "SGD") -> Path:
    """figures/ladder.png: σ² against F for every trajectory rung, and variance ratios along the recorded run's
    p_i (``opt``: the optimizer it used)."""
    run_dir = Path(run_dir)
    rd = RunDir(run_dir)
    (rd / RunDir.FIGURES).mkdir(exist_ok=True)
    pca, probes = rd.load(RunDir.PCA), rd.load(RunDir.PROBES)
    fig, (a, b) = subplots(1, 2, figsize=(11, 4.2))
    _loglog(a, probes["width"], pca["variances"], f"real {opt}", color=COLOURS["sgd"])
    for name in ("batch", "full", "isotropic"):
        path = rd / RunDir.REPLAYS / f"{name}.npz"
        if path.exists():
            z = np.load(path)
            _loglog(a, z["width"], z["variances"], f"replay: {name}", color=COLOURS[name])
    a.set_xlabel("flatness F_i (own principal directions)")
    a.set_ylabel("σ_i²")
    a.legend(fontsize=7)
    a.set_title("IVF on each rung")
    # one marker per rung, hollow and larger for the continuous law: rungs that nearly coincide (continuous ≈
    # discrete) stay visible
    markers = {"batch": "o", "full": "s", "isotropic": "^", "continuous": "o", "discrete": "s", "window": "D"}
    for r in ladder["rungs"]:
        if r["name"] == "sgd" or "ratio_along_sgd" not in r:
            continue
        ratio = np.array([np.nan if v is None else v for v in r["ratio_along_sgd"]])
        hollow = r["name"] == "continuous"
        b.semilogy(np.arange(1, ratio.size + 1), ratio, ls="-", lw=0.6, marker=markers.get(r["name"], "."),
                   ms=6 if hollow else 3, mfc="none" if hollow else None, label=r["name"],
                   color=COLOURS[r["name"]])
    b.axhline(1.0, color="k", lw=0.8)
    b.set_xlabel(f"real {opt}'s principal direction i")
    b.set_ylabel(f"variance / real {opt}'s")
    b.legend(fontsize=7)
    b.set_title("agreement direction by direction")
    return _save(fig, rd / RunDir.FIGURES / "ladder.png")
