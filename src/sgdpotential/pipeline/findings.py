"""The findings of a run: every registered claim (:mod:`sgdpotential.claims`) with its estimate, 95% interval,
verdict, the warnings that bind it and the choices that move it — ``summary.json["findings"]`` — and the same over
the seeds of an ensemble (:func:`over_seeds`).

This is the one place where a verdict is decided. The rules are those of :mod:`sgdpotential.verdicts`: a claim's
*raw* verdict follows its interval; a warning of the run that invalidates the claim (by the claim's tags, or a fit
over fewer than :data:`~sgdpotential.verdicts.MIN_POINTS` directions) makes the verdict *inconclusive* with the
warning named; a warning that qualifies it is named beside it. For each view — K (the nested K-scan), the window
(nested sub-windows), the age (later windows of the same run), the seed (an ensemble) — the claim's estimates are
tabulated with their own verdicts, and :func:`~sgdpotential.verdicts.moves` says whether that choice moves it.
The ψ estimator that the calibration study supports (:mod:`~sgdpotential.pipeline.calibrated`) is the
``headline``; its interval, in every view, carries the calibrated bias allowance before any verdict is taken.
Every sentence and table of the reports is rendered from this model; nothing here formats prose.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from scipy import stats

from ..claims import CLAIMS, SWEEP_CLAIMS, WARNINGS, Claim, warning_kind
from ..verdicts import MIN_POINTS, above_null, equivalence, interval, moves
from .calibrated import calibrate_interval, choose_estimator

__all__ = ["VIEWS", "assess", "mean_and_interval", "over_seeds", "stationary_interval", "sweep_findings"]

#: The choices that can move an estimate, in the order the reports name them.
VIEWS = ("k", "window", "age", "seed")

#: z of a two-sided 95% normal interval (for an estimate given with its standard error).
Z95 = 1.959963984540054


def _fit(f: dict | None) -> dict | None:
    """A power-law fit of ``summary.json`` as an estimate."""
    if not f or f.get("exponent") is None:
        return None
    return {"estimate": f["exponent"], "ci95": f["ci95"], "n": f["n"]}


def _psi(f: dict | None) -> dict | None:
    """A ψ fit (``ivf_exponent``) as an estimate."""
    if not f or f.get("psi") is None:
        return None
    return {"estimate": f["psi"], "ci95": f["ci95"], "n": f.get("n_used")}


def _bands(comp: dict | None) -> dict | None:
    """A sample-spectrum comparison as the estimate of a null-rule claim: its relaxed bands (r ≥ 1: a window law
    describes directions that relax within the window)."""
    if not comp or "bands" not in comp:
        return None
    return {"bands": [{k: b[k] for k in ("relaxation", "n", "median_ratio", "null95", "verdict")}
                      for b in comp["bands"] if b["relaxation"][0] >= 1]}


def _rung(ladder: dict | None, name: str, against_sgd: bool) -> dict | None:
    """A ladder rung's ψ, or its difference from real SGD's with the conservative interval of the difference."""
    rows = {r["name"]: r for r in (ladder or {}).get("rungs", [])}
    r, sgd = rows.get(name), rows.get("sgd")
    if r is None or r.get("psi") is None or r.get("ci95") is None:
        return None
    if not against_sgd:
        return _psi(r)
    if sgd is None or sgd.get("psi") is None:
        return None
    (lo, hi), (slo, shi) = r["ci95"], sgd["ci95"]
    return {"estimate": r["psi"] - sgd["psi"], "ci95": [lo - shi, hi - slo], "n": min(r["n_used"], sgd["n_used"])}


def stationary_interval(st: dict | None) -> list[float] | None:
    """The 95% interval of Yaida's ratio (``summary.json["stationarity"]``: ratio ± z·se), or None."""
    if not st or st.get("se") is None:
        return None
    return [st["fdr_ratio"] - Z95 * st["se"], st["fdr_ratio"] + Z95 * st["se"]]


def mean_and_interval(values: list[float]) -> dict:
    """Over runs: ``n``, ``values``, ``mean`` and, from two values on, ``std``, ``se`` and ``ci95`` (the 95%
    Student-t interval of the mean)."""

    x = np.asarray(values, dtype=float)
    out = {"n": int(x.size), "values": [float(v) for v in x], "mean": float(x.mean())}
    if x.size >= 2:
        sd = float(x.std(ddof=1))
        se = sd / np.sqrt(x.size)
        half = float(stats.t.ppf(0.975, x.size - 1) * se)
        out.update({"std": sd, "se": se, "ci95": [out["mean"] - half, out["mean"] + half]})
    return out


def _stationary(st: dict | None) -> dict | None:
    ci = stationary_interval(st)
    return None if ci is None else {"estimate": st["fdr_ratio"], "ci95": ci, "n": None}


def _estimates(s: dict, ladder: dict | None) -> dict:
    """{claim key: estimate dict, or a string saying why it was not measured}."""
    held = s.get("heldout")
    pot = s.get("potential") or {}
    ex = s.get("exponents") or {}
    pca = s.get("pca") or {}
    replay = s.get("sample_spectrum_replay")
    no_ladder = "no model ladder in this run (sgdpotential ladder RUN_DIR adds it)"
    out = {
        "psi": _psi(s["ivf"]) or "fewer than 3 usable directions",
        "psi_heldout": (_psi({"psi": held.get("ivf_psi"), "ci95": held.get("ivf_ci95"),
                              "n_used": held.get("ivf_n_used")}) if held else None)
        or ("fewer than 3 usable held-out directions" if held else "no held-out basis in this run"),
        "sigma_subspace": _bands(s.get("sample_spectrum")) or "no sample-spectrum comparison",
        "sigma_replayed": (f"a replay diverged: {replay['error']}" if replay and "error" in replay else
                           _bands(replay) or "no replayed windows (replay_paths = 0)"),
        "boltzmann_u": _fit(pot.get("sigma2_vs_u_flatness")) or (
            f"the stochastic potential is not defined here: {pot['error']}" if "error" in pot else
            "fewer than 3 directions with a finite U-flatness"),
        "hessian_vs_flatness": _fit(ex.get("hessian_diag_vs_flatness")),
        "noise_vs_flatness": _fit(ex.get("noise_diag_vs_flatness")),
        "theta_paper": _fit(ex.get("theta_spread_vs_flatness")),
        "theta_feng_tu": _fit(ex.get("theta_spread_vs_flatness")),
        "noise_vs_hessian": _fit(ex.get("noise_vs_hessian_diag")),
        "noise_vs_hessian_paper": _fit(ex.get("noise_vs_hessian_diag")),
        "pc1_drift": ({"estimate": pca["pc1_ratio"], "null95": pca["pc1_null95"], "n": None}
                      if pca.get("pc1_null95") else "no random-walk null for this window"),
        "stationary": _stationary(s.get("stationarity")) or "fewer than 3 snapshots",
        "ladder_batch": _rung(ladder, "batch", True) or no_ladder,
        "ladder_full": _rung(ladder, "full", True) or no_ladder,
        "ladder_isotropic": _rung(ladder, "isotropic", False) or no_ladder,
    }
    return {k: v if v is not None else "fewer than 3 usable directions" for k, v in out.items()}


def _raw_verdict(c: Claim, e: dict) -> str:
    if c.rule == "null":
        used = [b for b in e["bands"] if b["n"] >= MIN_POINTS]
        said = {b["verdict"] for b in used}
        return ("inconsistent" if "inconsistent" in said else "consistent" if said == {"consistent"} else
                "inconclusive")
    if c.rule == "above_null":
        return above_null(e["estimate"], e["null95"])
    return equivalence(e["ci95"], c.prediction, c.margin)


def _row_verdict(c: Claim, row: dict) -> str:
    if row.get("invalidated_by") or (row.get("n") is not None and row["n"] < MIN_POINTS):
        return "inconclusive"
    return equivalence(row.get("ci95"), c.prediction, c.margin)


def _view(c: Claim, rows: list[dict], invalid: bool) -> dict:
    """One choice's rows (each with its estimate, interval and verdict) and whether the choice moves the claim —
    decided over the rows that no warning invalidates and whose fits are not too small (``raw_verdict``: over every
    row with an interval); inconclusive when the claim itself is invalidated or too few rows remain."""
    for r in rows:
        r.setdefault("verdict", _row_verdict(c, r))
        if invalid and r["verdict"] != "inconclusive":  # the claim's warnings bind each of its rows too
            r["raw_verdict"], r["verdict"] = r["verdict"], "inconclusive"
    measured = [r for r in rows if interval(r.get("ci95")) is not None]
    usable = [r for r in measured if not r.get("invalidated_by") and (r.get("n") is None or r["n"] >= MIN_POINTS)]
    raw = moves([r["estimate"] for r in measured], [r["ci95"] for r in measured], c.margin)
    said = moves([r["estimate"] for r in usable], [r["ci95"] for r in usable], c.margin)
    if raw != "untested" and (said == "untested" or invalid):
        said = "inconclusive"
    est = [r["estimate"] for r in rows if r.get("estimate") is not None]
    return {"rows": rows, "verdict": said, "raw_verdict": raw, "range": [min(est), max(est)] if est else None}


def _calibrated(p: dict, allowance: float | None) -> dict:
    """A ψ estimate of the headline estimator with its interval widened by the calibrated bias allowance (the
    interval before it kept as ``ci95_raw``)."""
    if allowance is None or p.get("ci95") is None:
        return p
    return {**p, "ci95": calibrate_interval(p["ci95"], allowance), "ci95_raw": p["ci95"],
            "allowance": allowance}


def _views(c: Claim, s: dict, ages: list[tuple[int, dict]], e: dict, raw: str, invalid: list[str],
           allowance: float | None = None) -> dict:
    """The claim's views in this run: K and window for ψ, the age — this window's estimate ``e`` (its rule verdict
    ``raw``, its warnings ``invalid``) beside the later ages' — for every equivalence claim measured at several."""
    if c.rule != "equivalence":
        return {}
    views = {}
    if c.key in ("psi", "psi_heldout"):
        way = "feng_tu" if c.key == "psi" else "heldout"
        rows = [{"k": r["k"], **_calibrated(p, allowance)} for r in (s.get("k_scan") or {}).get("rows", [])
                if (p := _psi(r.get(way)))]
        if rows:
            views["k"] = _view(c, rows, bool(invalid))
    if c.key == "psi":
        rows = [_calibrated({"window": n["window"], "estimate": n["psi"], "ci95": n["ci95"], "n": n.get("n_used"),
                             "invalidated_by": n.get("invalidated_by", [])}, allowance)
                for n in s["ivf"]["nested"] if n.get("psi") is not None]
        if rows:
            views["window"] = _view(c, rows, bool(invalid))
    if ages:
        rows = [{"age": int(s["burn_in"].get("age_epochs", 0)), "estimate": e["estimate"], "ci95": e["ci95"],
                 "n": e.get("n"), "verdict": raw, "invalidated_by": invalid}]
        rows += [{"age": int(age), "estimate": a["estimate"], "ci95": a["ci95"], "n": a.get("n"),
                  "verdict": a["verdict"], "invalidated_by": a.get("invalidated_by", [])}
                 for age, found in ages if (a := found.get(c.key)) and a.get("estimate") is not None]
        views["age"] = _view(c, rows, bool(invalid))
    return views


def _bound(c: Claim, warnings: list[dict]) -> tuple[list[str], list[str]]:
    """The warnings of the run that invalidate and that qualify claim ``c``, most severe first."""
    invalid, qualified = [], []
    for w in warnings:
        kind = warning_kind(w["name"])
        if c.tags & kind.invalidates:
            invalid.append(w["name"])
        elif c.tags & kind.qualifies:
            qualified.append(w["name"])
    return invalid, qualified


def assess(summary: dict, ladder: dict | None = None, ages: list[tuple[int, dict]] = ()) -> dict:
    """The findings of a run from its ``summary.json`` (without findings), its ``ladder.json`` (or None) and the
    findings of its later ages (``[(age, {claim key: claim finding})]``).

    Returns ``{"claims": [...], "untested": [{"key", "title", "why"}]}``; each claim: the registry's fields
    (title, source, quantity, symbol, prediction, margin, margin_reason, rule), ``estimate``, ``ci95`` and ``n``
    (or ``bands`` for a null-rule claim, ``null95`` for an above-null one), ``at`` (K, T and the age it was
    measured at), ``raw_verdict`` (the rule alone), ``verdict`` (after the warnings), ``invalidated_by``,
    ``qualified_by``, ``views`` ({choice: {rows, verdict, raw_verdict, range}}) and ``moved_by``.
    """
    warnings = summary.get("warnings") or []
    est = _estimates(summary, ladder)
    at = {"k": summary["ivf"]["k"], "window": summary["ivf"]["window"], "age": summary["burn_in"].get("age_epochs", 0)}
    chosen = choose_estimator()
    claims, untested = [], []
    for c in CLAIMS:
        e = est[c.key]
        if isinstance(e, str):
            untested.append({"key": c.key, "title": c.title, "why": e})
            continue
        allowance = chosen["allowance"] if c.key == chosen["claim"] else None
        e = _calibrated(e, allowance)
        invalid, qualified = _bound(c, warnings)
        if e.get("n") is not None and e["n"] < MIN_POINTS and "few_fit_points" not in invalid:
            invalid.append("few_fit_points")
        invalid = [k.name for k in WARNINGS if k.name in invalid]  # most severe first
        qualified = [k.name for k in WARNINGS if k.name in qualified]
        raw = _raw_verdict(c, e)
        views = _views(c, summary, list(ages), e, raw, invalid, allowance)
        claims.append({
            **{k: v for k, v in asdict(c).items() if k not in ("tags", "key")}, "key": c.key,
            "prediction": list(c.prediction) if isinstance(c.prediction, tuple) else c.prediction,
            **e, "at": at, "raw_verdict": raw, "verdict": "inconclusive" if invalid else raw,
            "invalidated_by": invalid, "qualified_by": qualified, "views": views,
            "moved_by": [v for v in VIEWS if views.get(v, {}).get("verdict") == "moves"],
        })
    return {"claims": claims, "untested": untested, "headline": headline_of(claims, chosen)}


def headline_of(claims: list[dict], chosen: dict) -> dict:
    """The headline ψ: the estimator the calibration supports (:func:`~.calibrated.choose_estimator`), its claim's
    estimate, interval (widened by the calibrated allowance; ``ci95_raw`` before it) and verdict — or, when that
    claim was not measured, the estimator named with ``psi`` None."""
    c = next((c for c in claims if c["key"] == chosen["claim"]), None)
    out = {k: chosen[k] for k in ("estimator", "claim", "description", "allowance", "seed_allowance", "rule")}
    out["calibration"] = {k: chosen[k] for k in ("date", "windows", "by_estimator")}
    if c is None:
        return {**out, "psi": None, "ci95": None, "verdict": None}
    return {**out, "psi": c["estimate"], "ci95": c["ci95"], "ci95_raw": c.get("ci95_raw"),
            "n": c.get("n"), "k": (c.get("at") or {}).get("k"), "verdict": c["verdict"]}


def over_seeds(findings: list[dict], names: list[str]) -> dict:
    """The findings of an ensemble from its runs' findings (``names``: the runs, in order): per claim measured in
    every run, the per-run estimates with their within-run intervals, their mean and the 95% t-interval of the
    mean over runs, the verdict of that interval (inconclusive when any run's verdict was invalidated, with those
    warnings named) and the seed view — whether the seed moves the estimate (:func:`~sgdpotential.verdicts.moves`
    over the within-run intervals)."""
    claims, untested = [], []
    by_run = [{c["key"]: c for c in f["claims"]} for f in findings]
    chosen = choose_estimator()
    for c in CLAIMS:
        got = [r.get(c.key) for r in by_run]
        if c.rule != "equivalence" or not all(g and g.get("estimate") is not None for g in got):
            why = ("decided per run against its own null" if c.rule != "equivalence" else
                   "not measured in every run")
            untested.append({"key": c.key, "title": c.title, "why": why})
            continue
        stat = mean_and_interval([g["estimate"] for g in got])
        mean, ci = stat["mean"], stat.get("ci95")
        # the headline estimator's bias does not average out over seeds, while their interval shrinks with their
        # number: the seeds' interval is widened by the estimator's largest |bias| in the study
        allowance = chosen["seed_allowance"] if c.key == chosen["claim"] else None
        calibrated = _calibrated({"ci95": ci}, allowance)
        invalid = [k.name for k in WARNINGS if any(k.name in g["invalidated_by"] for g in got)]
        rows = [{"seed": name, "estimate": g["estimate"], "ci95": g["ci95"], "n": g.get("n"),
                 "verdict": g["verdict"], "invalidated_by": g["invalidated_by"]} for name, g in zip(
            names, got, strict=True)]
        raw = equivalence(calibrated["ci95"], c.prediction, c.margin)
        seed_view = _view(c, rows, False)  # an invalidated run's row is shown, never decides (its invalidated_by)
        claims.append({
            "key": c.key, "title": c.title, "source": c.source, "symbol": c.symbol, "rule": c.rule,
            "prediction": list(c.prediction) if isinstance(c.prediction, tuple) else c.prediction,
            "margin": c.margin, "margin_reason": c.margin_reason, "estimate": mean, **calibrated, "n": stat["n"],
            "interval": "95% t-interval of the mean over runs", "raw_verdict": raw,
            "verdict": "inconclusive" if invalid else raw, "invalidated_by": invalid,
            "qualified_by": [k.name for k in WARNINGS if any(k.name in g["qualified_by"] for g in got)],
            "views": {"seed": seed_view}, "moved_by": ["seed"] if seed_view["verdict"] == "moves" else [],
            "runs_verdicts": [g["verdict"] for g in got],
            "interval_calibration": interval_calibration(stat, [g.get("ci95_raw") or g["ci95"] for g in got]),
        })
    return {"claims": claims, "untested": untested, "headline": headline_of(claims, chosen)}


def interval_calibration(stat: dict, intervals: list) -> dict | None:
    """Within-run intervals against the spread over runs: the mean half-width of the runs' 95% intervals (for the
    headline ψ its bootstrap interval, before the calibrated allowance), the standard deviation σ of the estimates
    over runs, and their ratio half-width/(1.96σ) — 1 when a run's interval
    is as wide as the spread over seeds says a 95% interval of one run should be, > 1 wider (conservative), < 1
    narrower (over-confident, if the seeds sample what the interval claims to cover). None with fewer than two
    runs, a missing interval or no spread."""
    if "std" not in stat or any(ci is None for ci in intervals) or not stat["std"] > 0:
        return None
    half = float(np.mean([(hi - lo) / 2 for lo, hi in intervals]))
    return {"within_half_width": half, "seed_sd": stat["std"], "ratio": half / (1.959963984540054 * stat["std"]),
            "n": stat["n"]}



def sweep_findings(variance_fit: dict | None) -> dict:
    """The findings of a sweep across its runs (:data:`~sgdpotential.claims.SWEEP_CLAIMS`): the fit of the top
    variances against α/B (or None with fewer than 3 runs over 2 values of α/B), judged like a run's claims."""
    claims, untested = [], []
    for c in SWEEP_CLAIMS:
        e = _fit(variance_fit)
        if e is None:
            untested.append({"key": c.key, "title": c.title, "why": "fewer than 3 finished runs over 2 values of α/B"})
            continue
        invalid = ["few_fit_points"] if e["n"] < MIN_POINTS else []
        raw = _raw_verdict(c, e)
        claims.append({**{k: v for k, v in asdict(c).items() if k != "tags"}, **e, "raw_verdict": raw,
                       "verdict": "inconclusive" if invalid else raw, "invalidated_by": invalid, "qualified_by": [],
                       "views": {}, "moved_by": []})
    return {"claims": claims, "untested": untested}
