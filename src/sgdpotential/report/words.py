"""Findings into words: the one place where a run's, an ensemble's or a sweep's findings become sentences and
scorecard rows. The report pages, the command line and the docs tables all render through here, from
``summary.json["findings"]`` (:mod:`sgdpotential.pipeline.findings`); no prediction or measured number is typed
into a string — every number comes from the findings, every prediction from the claim registry.
"""

from __future__ import annotations

from ..claims import claim
from ..pipeline.calibrated import CLAIM_OF, ESTIMATORS
from ..pipeline.calibrated import RULE as CALIBRATION_RULE
from ..verdicts import ABOVE_NULL_RULE, MOVES_RULE, NULL_RULE, RULE

__all__ = ["RULES", "band_label", "claim_sentence", "describe", "ensemble_sentences", "feng_tu", "headline",
           "measured_text", "optimizer_name", "over_seeds", "prediction_text", "relaxation_symbol", "replicas_differ",
           "scorecard_rows", "sentences", "sweep_sentences", "verdict_text", "view_text", "warning_lines"]

#: Every rule a page applies, in the words it prints under its scorecard.
RULES = (RULE, MOVES_RULE, NULL_RULE, ABOVE_NULL_RULE, CALIBRATION_RULE)

_VIEW_NAMES = {"k": "K", "window": "the window length", "age": "the age", "seed": "the seed"}
_VIEW_UNITS = {"k": "at K = {}", "window": "over the last {} snapshots", "age": "at age {}", "seed": "in run {}"}


def optimizer_name(model: dict | None) -> str:
    """The optimizer a run used, as every sentence and title names it (``summary.json["model"]``)."""
    model = model or {}
    opt = model.get("optimizer", "sgd")
    if opt == "sgd_momentum":
        return f"heavy-ball SGD (μ = {model['momentum']:g})"
    return {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop"}.get(opt, opt)


def relaxation_symbol(model: dict | None) -> str:
    """The relaxation index of the run's optimizer: α h T (SGD), α h T/(1 − μ) (heavy ball), (αPH)_ii T (Adam,
    RMSprop: the frozen preconditioner P)."""
    model = model or {}
    if model.get("approximate"):
        return "(αPH)_ii T"
    return "α h T/(1 − μ)" if model.get("momentum") else "α h T"


def _num(x, fmt: str = ".2f") -> str:
    return "—" if x is None else format(x, fmt)


def _pair(ci, fmt: str = ".2f") -> str:
    return "—" if not ci else f"[{ci[0]:{fmt}}, {ci[1]:{fmt}}]"


def band_label(b: dict) -> str:
    """A relaxation band [lo, hi) of a comparison, as the pages write it."""
    lo, hi = b["relaxation"]
    return f"[{lo:g}, {'∞' if hi is None else f'{hi:g}'})"


def prediction_text(c: dict) -> str:
    """'4 ± 1', '[1, 2] ± 0.5', or what a null-rule claim is decided against."""
    if c["rule"] == "null":
        return "1 within sampling alone"
    if c["rule"] == "above_null":
        return "above diffusion alone"
    p = c["prediction"]
    value = f"[{p[0]:g}, {p[1]:g}]" if isinstance(p, list) else f"{p:g}"
    return f"{value} ± {c['margin']:g}"


def measured_text(c: dict, rate: str = "α h T") -> str:
    """The estimate with its interval, or the bands of a null-rule claim."""
    if c["rule"] == "null":
        return "; ".join(f"{rate} ∈ {band_label(b)}, {b['n']} components: {_num(b['median_ratio'], '.3g')} "
                         f"(sampling alone {_pair(b['null95'], '.3g')}, {b['verdict']})"
                         for b in c["bands"] if b["n"]) or "no relaxed component"
    if c["rule"] == "above_null":
        return f"{c['estimate']:.3f} (diffusion alone {_pair(c['null95'], '.3f')})"
    n = "" if c.get("n") is None else f", {c['n']} runs" if c.get("interval") else f", n = {c['n']}"
    return f"{c['estimate']:.2f} {_pair(c['ci95'])}{n}"


def verdict_text(c: dict) -> str:
    """The verdict with the warnings that invalidated or qualified it."""
    out = c["verdict"]
    if c.get("invalidated_by"):
        out += f" (invalidated by {', '.join(c['invalidated_by'])}; by its interval alone: {c['raw_verdict']})"
    if c.get("qualified_by"):
        out += f" (qualified by {', '.join(c['qualified_by'])})"
    return out


def view_text(c: dict, name: str, short: bool = False) -> str | None:
    """One choice's verdict on a claim: 'K moves ψ from 1.30 at K = 25 to 3.88 at K = 250' (``short``: 'K moves
    it (1.30 at K = 25 → 3.88 at K = 250)'); None when the choice was not varied."""
    view = c.get("views", {}).get(name)
    if not view or view["verdict"] == "untested":
        return None
    rows = [r for r in view["rows"] if r.get("estimate") is not None]
    lo, hi = min(rows, key=lambda r: r["estimate"]), max(rows, key=lambda r: r["estimate"])
    unit = _VIEW_UNITS[name]
    who, sym, verdict = _VIEW_NAMES[name], c["symbol"], view["verdict"]
    why = (f"invalidated by {', '.join(c['invalidated_by'])}" if c.get("invalidated_by") else
           "a warning invalidates its rows" if view["raw_verdict"] != "inconclusive" else
           "the intervals are too wide to tell")
    if short:
        span = f"{lo['estimate']:.2f} {unit.format(lo[name])} → {hi['estimate']:.2f} {unit.format(hi[name])}"
        said = {"moves": "moves it", "stable": "stable", "inconclusive": f"inconclusive, {why}"}[verdict]
        return f"{who.replace('the ', '')}: {said} ({span})"
    span = f"from {lo['estimate']:.2f} {unit.format(lo[name])} to {hi['estimate']:.2f} {unit.format(hi[name])}"
    if verdict == "moves":
        return f"{who} moves {sym} {span}"
    if verdict == "stable":
        return f"{who} leaves {sym} stable ({span}, all intervals within {c['margin']:g} of each other)"
    return f"whether {who} moves {sym} is inconclusive ({why}; {sym} runs {span})"


def _moves_cell(c: dict) -> str:
    said = [t for v in ("k", "window", "age", "seed") if (t := view_text(c, v, short=True))]
    return "; ".join(said) or "—"


def scorecard_rows(findings: dict, model: dict | None = None) -> list[dict]:
    """One row per measured claim: claim, source, prediction ± margin, measured [95% CI], verdict, what moves it."""
    rate = relaxation_symbol(model)
    return [{"claim": c["title"], "source": c["source"], "prediction": prediction_text(c),
             "measured": measured_text(c, rate), "verdict": verdict_text(c), "moves": _moves_cell(c),
             "key": c["key"], "word": c["verdict"]} for c in findings.get("claims", [])]


def _where_consistent(c: dict, name: str) -> str:
    """Where along a view the claim is consistent ('' when its warnings leave every row inconclusive)."""
    rows = (c.get("views", {}).get(name) or {}).get("rows", [])
    unit, what = _VIEW_UNITS[name], _VIEW_NAMES[name].replace("the ", "")
    words = {r.get("verdict") for r in rows}
    good = [str(r[name]) for r in rows if r.get("verdict") == "consistent"]
    if not rows or words == {"inconclusive"}:
        return ""
    if good:
        return f"consistent with {_pred(c)} {unit.format(', '.join(good))}"
    return f"inconsistent with {_pred(c)} at every {what}" if words == {"inconsistent"} else \
        f"consistent with {_pred(c)} at no {what}"


def feng_tu(c) -> str:
    """"Feng & Tu's ψ ≈ <prediction> ± <margin>" from a claim (a findings dict or a registry Claim)."""
    get = c.get if isinstance(c, dict) else lambda k: getattr(c, k)
    return f"Feng & Tu's ψ ≈ {get('prediction'):g} ± {get('margin'):g}"


def _pred(c: dict) -> str:
    return f"{c['prediction']:g}" if not isinstance(c["prediction"], list) else prediction_text(c)


def _calibration_note(c: dict, head: dict) -> str:
    """What the calibration study says of a ψ claim's estimator: the headline's allowance, or the other's bias."""
    if c.get("ci95_raw"):
        return (f"the estimator the calibration supports, its 95% interval {_pair(c['ci95_raw'])} widened by the "
                f"calibrated bias allowance ± {c['allowance']:g}")
    name = next((n for n, k in CLAIM_OF.items() if k == c["key"]), None)
    cal = (head.get("calibration") or {}).get("by_estimator", {}).get(name)
    if not cal:
        return ""
    (b0, b1), c0 = cal["bias_range"], cal["coverage_range"][0]
    median = f"a median {cal['coverage_median']:.0%} of a cell's windows, " if "coverage_median" in cal else ""
    return (f"biased in the calibration on linear models, by {b0:+.2f} to {b1:+.2f}, its 95% interval covering the "
            f"population ψ in {median}{c0:.0%} of the windows in the worst cell")


def _estimator_name(key: str) -> str:
    """'held out (directions from …' — an estimator's name and, opened in parentheses, what it does."""
    name, what = ESTIMATORS[next(n for n, k in CLAIM_OF.items() if k == key)].split(": ", 1)
    return f"{name} ({what}"


def _psi_sentence(c: dict, head: dict, lead: str) -> str:
    """One ψ estimator's sentence: estimate, interval, what the calibration says of it, verdict, how K moves it."""
    note = _calibration_note(c, head)
    text = (f"{lead}ψ = {c['estimate']:.2f} {_pair(c['ci95'])} {_estimator_name(c['key'])}"
            f"{'; ' + note if note else ''}) over {c['n']} directions: {verdict_text(c)} with {feng_tu(c)}")
    if (k := view_text(c, "k")) is not None:
        where = _where_consistent(c, "k")
        text += f"; {k}" + (f", {where}" if where else "")
    if c["key"] != "psi" and (age := view_text(c, "age")) is not None:
        text += f"; {age}"
    return text + "."


def headline(findings: dict, model: dict | None = None) -> list[str]:
    """The ψ headline, generated from the findings: first the estimator the calibration supports
    (``findings["headline"]``) at the run's K with its verdict and how K (and the age) moves it, then the other
    estimator with what the calibration says of it, then how the window and the age move Feng & Tu's ψ."""
    by = {c["key"]: c for c in findings.get("claims", [])}
    opt = optimizer_name(model)
    head = findings.get("headline") or {}
    lead_key = head.get("claim", "psi")
    present = [by[k] for k in (lead_key, *[k for k in ("psi", "psi_heldout") if k != lead_key]) if k in by]
    if not present:
        why = next((u["why"] for u in findings.get("untested", []) if u["key"] == "psi"), "not measured")
        return [f"No IVF exponent ψ for {opt} in this run: {why}."]
    at = present[0]["at"]
    out = [_psi_sentence(present[0], head, f"At K = {at['k']} (this run's K; window of T = {at['window']} snapshots "
                                           f"at age {at['age']}), {opt} gives ")]
    out += [_psi_sentence(c, head, "At the same K, ") for c in present[1:]]
    if "psi" in by:
        rest = [t for v in ("window", "age") if (t := view_text(by["psi"], v))]
        if rest:
            out.append("Along the window's own directions, " + "; ".join(rest) + ".")
    return out


def claim_sentence(c: dict, model: dict | None = None) -> str:
    """One claim in one sentence: what, whose, measured, predicted, the verdict and what binds it."""
    rate = relaxation_symbol(model)
    head = f"{c['title']} — {c['source']}"
    if c["rule"] == "null":
        return f"{head}: median {c['symbol']} σ² by relaxation index {rate}: {measured_text(c, rate)}; " \
               f"{verdict_text(c)}."
    if c["rule"] == "above_null":
        return f"{head}: {c['symbol']} {measured_text(c)}: {verdict_text(c)}."
    return f"{head}: {c['symbol']} = {measured_text(c)} against {prediction_text(c)}: {verdict_text(c)}."


def warning_lines(warnings: list[dict], findings: dict) -> list[tuple[str, str]]:
    """(name, message with the claims it invalidates and qualifies) per named warning, most severe first."""
    out = []
    for w in warnings:
        bad = [c["key"] for c in findings.get("claims", []) if w["name"] in c.get("invalidated_by", [])]
        qual = [c["key"] for c in findings.get("claims", []) if w["name"] in c.get("qualified_by", [])]
        tail = "".join([f" Invalidates: {', '.join(bad)}." if bad else "",
                        f" Qualifies: {', '.join(qual)}." if qual else ""])
        runs = f" Runs: {', '.join(w['runs'])}." if w.get("runs") else ""
        out.append((w["name"], w["message"] + runs + tail))
    return out


def describe(s: dict) -> list[str]:
    """Descriptions that are not verdicts: the approximation an optimizer needs, the laws along the window's own
    directions (biased by PCA's selection), the white share of reshuffled noise, the potential's structure."""
    out = []
    m = s.get("model") or {}
    opt = optimizer_name(m)
    if m.get("approximate"):
        out.append(f"Approximate: {opt} is modelled with {m['approximate']} — the preconditioner moved by "
                   f"{m.get('preconditioner_drift', float('nan')):.1%} over the window; every law below is that "
                   f"approximation's.")
    ly = s["lyapunov"]
    parts, undefined = [], []
    for key, label in (("continuous", "the continuous stationary law, paper Eq. 14"),
                       ("discrete", f"the exact discrete law of {opt}"), ("window_from_w0", "the finite-window law")):
        r = ly.get(key, {})
        if r.get("median_ratio") is None:
            undefined.append(f"{label[0].upper()}{label[1:]} is not defined here: "
                             f"{r.get('error', 'no usable directions')}")
        else:
            parts.append(f"{r['median_ratio']:.3g}× ({label})")
    if parts:
        out.append("Along the window's own principal directions the subspace laws predict median variances of "
                   + ", ".join(parts) + " the measured ones — a description, not a test: PCA picks those "
                   "directions from the same data, which biases the ratio; the test is the sample-spectrum claim.")
    out += [u + ("" if u.endswith(".") else ".") for u in undefined]
    replay = s.get("sample_spectrum_replay") or {}
    if "error" in replay:
        out.append("The replayed windows (minibatch-Hessian linearization, Eq. 20) are not compared: "
                   + replay["error"])
    elif replay:
        start = ("started from every weight as this window opened" if replay["start"] == "window" else
                 "started from this window's first snapshot, the unrecorded weights at their window mean")
        out.append(f"The {replay['paths']} windows replayed on the minibatch-Hessian linearization (Eq. 20 in every "
                   f"weight, minibatches drawn as the run drew them, {start}) are exact for a loss quadratic per "
                   f"sample.")
    white = ((s.get("sample_spectrum") or {}).get("noise") or {}).get("white_share")
    if white is not None:
        out.append(f"With reshuffled epochs the simulated noise is anticorrelated within each epoch except its white "
                   f"part, {white:.2%} of tr C̄_P: the state-dependent noise that does not cancel within an epoch "
                   f"(a decoupling approximation, named by the warning reshuffled_minibatches).")
    pot = s.get("potential") or {}
    if "kind" in pot:
        out.append(f"The stochastic potential of the subspace law is {pot['kind']}; ‖Q‖/‖D‖ = {pot['q_over_d']:.3g} "
                   f"(0 ⇔ detailed balance), ‖[H_P, C_P]‖ = {pot['commutator']:.3g} (relative).")
    return out


def sentences(s: dict) -> list[str]:
    """Every verdict sentence of a run, from its ``summary.json``: the ψ headline, then one sentence per other
    measured claim, then the claims this run could not test."""
    f = s.get("findings") or {"claims": [], "untested": []}
    m = s.get("model")
    out = headline(f, m)
    out += [claim_sentence(c, m) for c in f["claims"] if c["key"] not in ("psi", "psi_heldout")]
    if f.get("untested"):
        out.append("Not tested in this run: " + "; ".join(f"{u['title']} ({u['why']})" for u in f["untested"]) + ".")
    return out


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


def ensemble_sentences(ens: dict, model: dict | None = None) -> list[str]:
    """The ensemble's verdicts in words, from ``ensemble.json``'s findings: ψ over the seeds with its run-to-run
    interval and verdict, whether the seeds move it, every other claim, and ψ by K and by age."""
    f = ens.get("findings") or {"claims": []}
    by = {c["key"]: c for c in f["claims"]}
    opt = optimizer_name(model)
    out = []
    lead = (f.get("headline") or {}).get("claim", "psi")
    psi = by.get(lead)
    n = len(ens["runs"])
    if psi is not None:
        seeds = view_text(psi, "seed")
        how = {"psi": "Feng & Tu's way", "psi_heldout": "held out"}[lead]
        allowance = (f", widened by ± {psi['allowance']:.2f}, the estimator's largest |bias| in the calibration"
                     if psi.get("ci95_raw") else "")
        out.append(f"Over {n} replicas of {opt} ({replicas_differ(ens)}), ψ {how} (the estimator the calibration "
                   f"supports) at each run's K = {psi['estimate']:.2f} {_pair(psi['ci95'])} ({psi['interval']}"
                   f"{allowance}): {verdict_text(psi)} with {feng_tu(psi)}; "
                   + (seeds or "the seed view is untested") + ", judged on each run's own 95% interval; the runs' "
                   "own verdicts: " + ", ".join(psi["runs_verdicts"]) + ".")
    out += [claim_sentence(c, model) + (f" Seeds: {t}." if (t := view_text(c, "seed")) else "")
            for c in f["claims"] if c["key"] != lead]
    for name, table in (("K", ens.get("psi_by_k") or {}), ("age", ens.get("psi_by_age") or {})):
        if table:
            out.append(f"ψ by {name}, mean [95% t-interval over seeds], Feng & Tu's way / held out: " + "; ".join(
                f"{k}: {over_seeds(v['feng_tu'])} / {over_seeds(v['heldout'])}" for k, v in table.items()) + ".")
    if f.get("untested"):
        out.append("Not judged over the seeds: " + "; ".join(f"{u['title']} ({u['why']})" for u in f["untested"])
                   + ".")
    return out


def sweep_sentences(rows: list[dict], fits: dict) -> list[str]:
    """The sweep's verdicts in words: runs finished and failed, ψ's range and how many runs' ψ verdicts read
    each word (each run's own rule and warnings), and the sweep's own claims."""
    out = [f"{fits['n_done']} runs finished, {fits['n_failed']} failed."]
    for r in rows:
        if r["status"] != "done":
            out.append(f"{r['name']} failed: {r['error']}")
    if "psi_range" in fits:
        lo, hi = fits["psi_range"]
        said = ", ".join(f"{n} {w}" for w, n in fits.get("psi_verdicts", {}).items() if n)
        out.append(f"ψ ranges over {lo:.2f}–{hi:.2f} across the sweep (median {fits['psi_median']:.2f}); against "
                   f"{feng_tu(claim('psi'))}, each run at its own K: {said}.")
    found = fits.get("findings") or {"claims": [], "untested": []}
    out += [claim_sentence(c) for c in found["claims"]]
    out += [f"{u['title']}: not tested ({u['why']})." for u in found.get("untested", [])]
    return out
