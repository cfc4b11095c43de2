"""Regenerate the findings tables of README.md and docs/*.md from stored run summaries and the claim registry.

    python docs/make_findings.py                          # rewrite every generated block
    python docs/make_findings.py --check                  # exit 1 when a block is stale (the test suite runs this)
    python docs/make_findings.py --store RUN_DIR NAME     # keep a run's summary.json (or ensemble.json) as
                                                          # docs/data/NAME/, then regenerate (repeatable)

The stored runs (``docs/data/``) were made with::

    sgdpotential run --replicas 3 --out runs/ft3                     # feng-tu-x3: seeds 0-2, three ages, ladder
    sgdpotential run --preset quick --model lenet-bn --params type:Conv2d --components 20 --no-ladder \
        --out runs/lenet-bn                                          # lenet-bn
    sgdpotential run --config cut.toml --no-ladder --out runs/cut-short   # cut-short: quick, [train]
                                                          # max_burn_in_epochs = 2, window_epochs = 0.5
    sgdpotential run --preset quick --replicas 8 --no-ladder --out runs/q8    # quick-x8: seeds 0-7
    sgdpotential run --config exact.toml --no-ladder --out runs/exact   # exact-linear: the exactly solvable case,
        # quick with hidden = [], params = "all", components = 650, noise_axes = 650, noise_snapshots = 0 and [train]
        # loss = "mse", lr = 0.05, batch_size = 32, burn_in_epochs = 2000, window_epochs = 100.0,
        # sampling = "replacement"
    python docs/make_findings.py --store runs/ft3 feng-tu-x3 --store runs/lenet-bn lenet-bn \
        --store runs/cut-short cut-short --store runs/q8 quick-x8 --store runs/exact exact-linear

Each generated block sits between ``<!-- generated: NAME -->`` and ``<!-- /generated: NAME -->``; the text between
the markers is this script's, never typed by hand. The tables render through ``sgdpotential.report.words`` — the
same words as report.html and the command line — so a README number is always a stored summary's number.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from sgdpotential.claims import CLAIMS, FENG_TU_PSI, SWEEP_CLAIMS, WARNINGS
from sgdpotential.pipeline.calibrated import ESTIMATORS, choose_estimator, stored
from sgdpotential.report.words import RULES, headline, measured_text, prediction_text, scorecard_rows, verdict_text

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
DOCS = [ROOT / "README.md", *sorted(HERE.glob("*.md"))]
MARK = re.compile(r"(<!-- generated: ([\w-]+) -->\n)(.*?)(<!-- /generated: \2 -->)", re.S)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(head: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def _provenance(record: dict | None, what: str) -> str:
    r = record or {}
    return (f"*{what}: measured {r.get('date', '?')[:10]} with sgdpotential {r.get('sgdpotential', '?')} (commit "
            f"{(r.get('commit') or 'unknown')[:7]}), torch {r.get('torch', '?')}, {r.get('torch_threads', '?')} "
            f"torch threads on {r.get('device', '?')}; stored in `docs/data/`.*\n")


def claims_table() -> str:
    rows = []
    for c in (*CLAIMS, *SWEEP_CLAIMS):
        pred = prediction_text({"rule": c.rule, "margin": c.margin,
                                "prediction": list(c.prediction) if isinstance(c.prediction, tuple) else c.prediction})
        rows.append([f"`{c.key}`", c.title, c.source, c.quantity, pred, c.margin_reason])
    return _table(["key", "claim", "source", "measured", "prediction ± margin", "why this margin"], rows)


def warnings_table() -> str:
    def keys(tags, minus=frozenset()):
        got = [f"`{c.key}`" for c in CLAIMS if c.tags & tags and not c.tags & minus]
        return ", ".join(got) or "—"

    rows = [[f"`{w.name}`", keys(w.invalidates) if w.name != "few_fit_points" else "each fit it names",
             keys(w.qualifies, w.invalidates), w.explanation] for w in WARNINGS]
    return _table(["warning (most severe first)", "invalidates (→ inconclusive)", "qualifies", "what it means"],
                  rows)


def rules_text() -> str:
    return "".join(f"* {r}\n" for r in RULES)


def _load(name: str, file: str) -> dict:
    return json.loads((DATA / name / file).read_text())


def scorecard(name: str) -> str:
    s = _load(name, "summary.json")
    rows = [[r["claim"], r["prediction"], r["measured"], f"**{r['verdict']}**", r["moves"]]
            for r in scorecard_rows(s["findings"], s["model"])]
    return (_provenance(s["provenance"]["record"], f"`{name}`") + "\n"
            + _table(["claim", "prediction ± margin", "measured [95% CI]", "verdict", "what moves it"], rows))


def headline_text(name: str) -> str:
    s = _load(name, "summary.json")
    return "".join(f"> {x}\n>\n" for x in headline(s["findings"], s["model"])).rstrip(">\n") + "\n"


def seeds_scorecard(name: str) -> str:
    ens = _load(name, "ensemble.json")
    model = {"optimizer": "sgd"}
    rows = [[r["claim"], r["prediction"], r["measured"], f"**{r['verdict']}**", r["moves"]]
            for r in scorecard_rows(ens["findings"], model)]
    return (_provenance(ens["provenance"]["record"][0], f"`{name}`, {len(ens['runs'])} seeds ({', '.join(ens['runs'])})"
                        ) + "\n"
            + _table(["claim", "prediction ± margin", "mean over seeds [95% t-interval]", "verdict",
                      "what moves it (the seed: the runs' own intervals)"], rows))


def seeds_psi(name: str) -> str:
    ens = _load(name, "ensemble.json")

    def cell(x):
        return "—" if not x else (f"{x['mean']:.2f} [{x['ci95'][0]:.2f}, {x['ci95'][1]:.2f}]" if "ci95" in x else
                                  f"{x['mean']:.2f}")

    rows = [[f"K = {k}", cell(v["feng_tu"]), cell(v["heldout"])] for k, v in ens["psi_by_k"].items()]
    rows += [[f"age {a} epochs", cell(v["feng_tu"]), cell(v["heldout"])] for a, v in ens["psi_by_age"].items()]
    return _table(["view", "ψ, own directions (Feng & Tu's way)", "ψ held out"], rows)


def _seed_runs(name: str) -> list[tuple[str, dict]]:
    ens = _load(name, "ensemble.json")
    return [(run, _load(f"{name}/{run}", "summary.json")) for run in ens["runs"]]


def _windows(name: str):
    """(seed, age, summary) of every window of an ensemble: each run's own and its later ages'."""
    for run, s in _seed_runs(name):
        seed = s["config"]["train"]["seed"]
        yield seed, s["burn_in"].get("age_epochs", 0), s
        for a in s["config"].get("ages") or []:
            yield seed, a, _load(f"{name}/{run}/ages/age-{a}", "summary.json")


def _psi_cell(f) -> str:
    return "—" if not f or f.get("psi") is None else f"{f['psi']:.2f} [{f['ci95'][0]:.2f}, {f['ci95'][1]:.2f}]"


def windows_table(name: str) -> str:
    """ψ of every window (Feng & Tu's way / held out) at the run's K and at K_max, with Yaida's ratio and the
    verdicts of how K and the window move ψ."""
    rows = []
    for seed, age, s in sorted(_windows(name), key=lambda x: (x[1], x[0])):
        scan = {r["k"]: r for r in s["k_scan"]["rows"]}
        k, kmax = s["ivf"]["k"], s["k_scan"]["k_max"]
        psi = next(c for c in s["findings"]["claims"] if c["key"] == "psi")
        st = s["stationarity"]
        rows.append([age, seed, s["burn_in"]["epochs"], _psi_cell(scan[k]["feng_tu"]), _psi_cell(scan[k]["heldout"]),
                     _psi_cell(scan[kmax]["feng_tu"]), _psi_cell(scan[kmax]["heldout"]),
                     " / ".join(psi["views"][v]["verdict"] if v in psi["views"] else "—" for v in ("k", "window")),
                     f"{st['fdr_ratio']:.3g} ± {st['se']:.2g}"])
    first = _seed_runs(name)[0][1]
    k, kmax = first["ivf"]["k"], first["k_scan"]["k_max"]
    return _table(["age", "seed", "epochs at window", f"K = {k}: own", f"K = {k}: held out", f"K = {kmax}: own",
                   f"K = {kmax}: held out", "K / window (moves rule)", "Yaida FDR ratio (1 if stationary)"], rows)


def theory_table(name: str) -> str:
    """Per window: the subspace law along the window's own directions (biased), held out with the white-noise law,
    and the sample-spectrum comparison band by band with its verdict."""
    rows = []
    for seed, age, s in sorted(_windows(name), key=lambda x: (x[1], x[0])):
        own = (s["lyapunov"].get("window_from_w0") or {}).get("median_ratio")
        held = ((s.get("heldout") or {}).get("window_from_w0") or {})
        spec = [b for b in s["sample_spectrum"]["bands"] if b["relaxation"][1] is not None]
        rows.append([age, seed, "—" if own is None else f"{own:.3g}",
                     " / ".join("—" if (held.get(g) or {}).get("median_ratio") is None else
                                f"{held[g]['median_ratio']:.3g}" for g in ("slow", "relaxed")),
                     "; ".join(f"{'—' if b['median_ratio'] is None else format(b['median_ratio'], '.3g')} "
                               f"(n = {b['n']}, {b['verdict']})" for b in spec)])
    bands = ", ".join(f"[{b['relaxation'][0]:g}, {b['relaxation'][1]:g})" for b in
                      _seed_runs(name)[0][1]["sample_spectrum"]["bands"] if b["relaxation"][1] is not None)
    return _table(["age", "seed", "law along own p_i, predicted/measured (biased)",
                   "held out, white-noise law, predicted/measured: r < 1 / r ≥ 1",
                   f"sample spectrum, measured/simulated, bands {bands}"], rows)


def ladder_table(name: str) -> str:
    """The model ladder over the seeds: each rung's ψ and its verdict, and its variance along real SGD's
    directions."""
    runs = _seed_runs(name)
    ladders = [_load(f"{name}/{run}", "ladder.json") for run, _ in runs]
    claims = [{c["key"]: c for c in s["findings"]["claims"]} for _, s in runs]
    rows = []
    for i, rung in enumerate(ladders[0]["rungs"]):
        cells = []
        for lad, cl in zip(ladders, claims, strict=True):
            r = lad["rungs"][i]
            c = cl.get(f"ladder_{rung['name']}")
            cells.append("—" if r.get("psi") is None else _psi_cell(r) + (f", {c['verdict']}" if c else ""))
        ratio = " / ".join("—" if lad["rungs"][i].get("median_ratio") is None else
                           f"{lad['rungs'][i]['median_ratio']:.2g}" for lad in ladders)
        rows.append([rung["label"], *cells, ratio])
    seeds = [s["config"]["train"]["seed"] for _, s in runs]
    return _table(["rung", *[f"seed {x}: ψ, verdict of its claim" for x in seeds],
                   "variance along real SGD's p_i, median ratio"], rows)


def _se(x: float) -> str:
    return f"{x:.2g}" if abs(x) < 0.1 else f"{x:.2f}"


def calibration_table() -> str:
    """Estimator × case × window × K → population ψ, bias, spread and coverage (``sgdpotential calibrate``)."""
    cal = stored()
    rows = []
    for case in cal["cases"]:
        for cell in case["cells"]:
            for row in cell["rows"]:
                for name, e in row["estimators"].items():
                    cov = e["coverage"]
                    rows.append([case["name"], f"{cell['relaxation']:g} ({cell['snapshots']} × {cell['stride']})",
                                 row["k"], f"{row['relaxation_median']:.3g}", f"{row['population']:.2f}",
                                 f"{row['population_half']:.2f}", f"{row['stationary']:.2f}", name,
                                 f"{e['bias']:+.2f} ± {_se(2 * e['bias_se'])}",
                                 f"{e['sd']:.2f}", f"{e['half_width']:.2f}",
                                 f"{cov['share']:.2f} [{cov['ci95'][0]:.2f}, {cov['ci95'][1]:.2f}]",
                                 f"{e['coverage_widened']['2']:.2f}"])
    network = next((c for c in cal["cases"] if c["name"] == "network"), None)
    flag = "" if network is None else (
        f" --network RUN_DIR` (RUN_DIR: the run `{network['run']}`, {network['config']['dataset']}, hidden "
        f"{network['config']['hidden']}, params {network['config']['params']}, "
        f"{network['recorded']} recorded weights)")
    head = (f"*`sgdpotential calibrate --windows {cal['windows']} --seed {cal['seed']}{flag or '`'}, run {cal['date']}: "
            f"{cal['windows']} simulated windows per case and window length, {cal['snapshots']} snapshots each "
            f"(fewer for windows of fewer steps); shipped as `src/sgdpotential/data/calibration.json`.*\n\n")
    return head + _table(["case", "window r = α·h_ref·steps (T × stride)", "K", "median r of the K directions",
                          "population ψ", "population ψ of the second half", "stationary ψ", "estimator",
                          "bias ± 2 SE (against the window's population ψ)", "spread (SD)",
                          "mean half-width of the 95% interval", "coverage [95% CI]", "coverage, interval × 2"],
                         rows)


def calibration_cases() -> str:
    """The study's design, read from the stored study: each case, its size, α, B, L*, h_ref and its windows."""
    cal = stored()
    rows = []
    for case in cal["cases"]:
        windows = "; ".join(f"r = {c['relaxation']:g}: {c['snapshots']} × {c['stride']}" for c in case["cells"])
        ks = sorted({r["k"] for c in case["cells"] for r in c["rows"]})
        rows.append([case["name"], case["description"], case["n"], f"{case['lr']:g}", case["batch_size"],
                     f"{case['loss0']:.3g}", f"{case['reference_curvature']:.3g}", windows,
                     ", ".join(str(k) for k in ks)])
    return _table(["case", "what it is", "directions n", "α", "B", "L*", "h_ref",
                   "windows: snapshots T × stride s", "K studied"], rows)


def _allowance(a) -> str:
    return "none studied" if a is None else f"± {a:g}"


def calibration_choice() -> str:
    """What the rule of ``sgdpotential.pipeline.calibrated`` chooses on the stored study, estimator by estimator."""
    chosen = choose_estimator()
    rows = [[ESTIMATORS[name], f"{e['bias_range'][0]:+.2f} to {e['bias_range'][1]:+.2f}",
             f"median {e['coverage_median']:.0%}, worst cell {e['coverage_range'][0]:.0%}", _allowance(e["allowance"]),
             "**yes**" if name == chosen["estimator"] else "no"]
            for name, e in chosen["by_estimator"].items()]
    psi = next(c for c in CLAIMS if c.key == chosen["claim"])
    a = chosen["allowance"]
    room = psi.margin - a
    margin = (f"ψ's equivalence margin ± {psi.margin:g} (the claims' registry) is wider than the allowance "
              f"{_allowance(a)}: a calibrated interval can still read *consistent* (even at ψ = "
              f"{psi.prediction:g} exactly, its bootstrap half-width must be under {room:.2g}), where an allowance as "
              f"wide as the margin would make every headline at best *inconclusive*. Over seeds the interval is widened by the estimator's largest |bias|, "
              f"± {chosen['seed_allowance']:.2f}." if room > 0 else
              f"ψ's equivalence margin ± {psi.margin:g} is not wider than the allowance {_allowance(a)}: no headline "
              f"can read *consistent*.")
    return (_table(["estimator (one window)", "bias over the study's cells", "coverage of its 95% interval",
                    "allowance that makes it cover everywhere", "the headline uses"], rows)
            + f"\n{chosen['rule']}\n\n{margin}\n")


def calibration_summary() -> str:
    """The calibration's verdict on the two estimators a run has, in a few generated sentences (findings page)."""
    chosen = choose_estimator()
    cal = stored()
    by = chosen["by_estimator"]
    cells = by[chosen["estimator"]]["cells"]

    def said(name):
        e = by[name]
        b0, b1 = e["bias_range"]
        return (f"{ESTIMATORS[name].split(':')[0]} was off the population ψ by {b0:+.2f} to {b1:+.2f}, its 95% "
                f"interval covering it in a median {e['coverage_median']:.0%} of a cell's windows "
                f"({e['coverage_range'][0]:.0%} in the worst cell)")

    psi = next(c for c in CLAIMS if c.key == chosen["claim"])
    return (f"  Over {cells} cells ({len(cal['cases'])} linear models × window lengths × K, {cal['windows']} "
            f"simulated windows each; {cal['date']}), {said('own')}; {said('heldout')}. By the rule of "
            f"`sgdpotential.pipeline.calibrated`, the headline therefore leads with "
            f"{ESTIMATORS[chosen['estimator']].split(':')[0]}, its interval widened by the calibrated bias allowance "
            f"± {chosen['allowance']:g} (with which its coverage reaches 95%, within sampling, in every cell; ψ's "
            f"margin is ± {psi.margin:g}). Feng & Tu's way is still reported beside it: it is their procedure, so it "
            f"compares like with like with their ψ ≈ {FENG_TU_PSI:g}, but it is not an estimate of the population "
            f"ψ.\n")


def exact_case_table(name: str) -> str:
    """The exactly solvable case, a real run: its population ψ against both estimators at every K of its scan."""
    s = _load(name, "summary.json")
    pop = {r["k"]: r["psi"] for r in s["ivf"]["population"]["by_k"]}
    held = next(c for c in s["findings"]["claims"] if c["key"] == "psi_heldout")
    allowance = held.get("allowance")

    def cell(p, widen=None):
        if not p or p.get("psi") is None:
            return "—"
        ci = p["ci95"] if widen is None else [p["ci95"][0] - widen, p["ci95"][1] + widen]
        return f"{p['psi']:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"

    rows = [[r["k"], f"{pop[r['k']]:.2f}", cell(r["feng_tu"]), cell(r.get("heldout")),
             cell(r.get("heldout"), allowance)] for r in s["k_scan"]["rows"] if r["k"] in pop]
    p = s["ivf"]["population"]
    return (_provenance(s["provenance"]["record"], f"`{name}`: T = {p['snapshots']} snapshots, stride {p['stride']}, "
                        f"{p['sampling']}, driven by `{p['noise']}`") + "\n"
            + _table(["K", "population ψ (`ivf.population.by_k`)", "Feng & Tu's way [95% CI]", "held out [95% CI]",
                      f"held out, ± {allowance:g} allowance"], rows))


def seed_intervals(name: str) -> str:
    """Within-run 95% intervals against the spread over seeds (``ensemble.json`` findings)."""
    ens = _load(name, "ensemble.json")
    rows = []
    for c in ens["findings"]["claims"]:
        cal = c.get("interval_calibration")
        if cal:
            rows.append([c["title"], cal["n"], f"{cal['within_half_width']:.3g}", f"{cal['seed_sd']:.3g}",
                         f"{cal['ratio']:.2f}"])
    return (_provenance(ens["provenance"]["record"][0], f"`{name}`, {len(ens['runs'])} seeds") + "\n"
            + _table(["claim", "runs", "mean half-width of a run's 95% interval", "SD over seeds",
                      "ratio half-width / (1.96 SD)"], rows))


def cli_reference() -> str:
    """The command-line reference, written by typer's own Markdown writer from the app (every command, argument
    and option with its help, type, bounds and default), headings one level down to sit under the page's."""
    import typer
    from typer.cli import get_docs_for_click

    from sgdpotential.cli import app

    command = typer.main.get_command(app)
    text = get_docs_for_click(obj=command, ctx=typer.Context(command), name="sgdpotential")
    return re.sub(r"^(#+) ", r"#\1 ", text.strip(), flags=re.M) + "\n"


def config_reference() -> str:
    """Every configuration field — top level or ``[train]`` — from the one schema (each field's type, default and
    :class:`~sgdpotential._validation.Spec`): what a config file, the overrides and a sweep may set."""
    from dataclasses import MISSING

    from sgdpotential._validation import field_kind, spec_of
    from sgdpotential.pipeline.config import config_fields

    def allowed(f) -> str:
        spec = spec_of(f)
        if spec.choices:
            return ", ".join(f"`{c}`" for c in spec.choices)
        if spec.low is None and spec.high is None:
            return ""
        left = "[" if spec.closed in ("both", "left") else "("
        right = "]" if spec.closed in ("both", "right") else ")"
        if spec.high is None:
            text = f"{'≥' if left == '[' else '>'} {spec.low:g}"
        elif spec.low is None:
            text = f"{'≤' if right == ']' else '<'} {spec.high:g}"
        else:
            text = f"{left}{spec.low:g}, {spec.high:g}{right}"
        return text + (f" (unless `{spec.unless}` is set)" if spec.unless else "")

    rows = []
    for name, (table, f) in config_fields().items():
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        kind = field_kind(f) + (" or unset" if "None" in str(f.type) else "")
        rows.append([f"`{name}`", "top level" if table == "run" else "`[train]`", kind,
                     "unset" if default is None else f"`{default!r}`", allowed(f),
                     ("`--" + name.replace("_", "-") + "`") if spec_of(f).cli else "", spec_of(f).help])
    return _table(["key", "table", "type", "default", "allowed", "option", "meaning"], rows)


#: The README's five findings: (stored run, claim key, the docs page that shows it in full).
README_FINDINGS = [
    ("feng-tu-x3", "psi_heldout", "docs/calibration.md"),
    ("feng-tu-x3", "psi", "docs/findings.md"),
    ("feng-tu-x3/seed=0", "sigma_subspace", "docs/findings.md#theory-against-measurement"),
    ("feng-tu-x3", "ladder_batch", "docs/findings.md#which-ingredient-makes-ivf-the-model-ladder"),
    ("feng-tu-x3", "noise_vs_flatness", "docs/findings.md"),
]


def readme_findings() -> str:
    """Five lines for the README, one claim each: its estimate and interval, prediction and verdict, from the
    stored runs (over the seeds where the run is an ensemble), each linking to the page that shows it in full."""
    lines = []
    for name, key, page in README_FINDINGS:
        found = _load(name, "ensemble.json" if (DATA / name / "ensemble.json").exists() else "summary.json")
        c = next(c for c in found["findings"]["claims"] if c["key"] == key)
        where = "" if "runs" in found else f" (one run, `{name}`)"  # an ensemble's text says "N runs"
        lines.append(f"* **{c['title']}** — {measured_text(c)}{where}; predicted {prediction_text(c)}: "
                     f"**{verdict_text(c)}** ([more]({page}))")
    return "\n".join(lines) + "\n"


def blocks() -> dict[str, callable]:
    return {
        "rules": rules_text, "readme-findings": readme_findings, "cli": cli_reference, "config": config_reference, "claims": claims_table, "warnings": warnings_table,
        "default-headline": lambda: headline_text("feng-tu-x3/seed=0"),
        "default-scorecard": lambda: scorecard("feng-tu-x3/seed=0"),
        "seeds-scorecard": lambda: seeds_scorecard("feng-tu-x3"), "seeds-psi": lambda: seeds_psi("feng-tu-x3"),
        "windows": lambda: windows_table("feng-tu-x3"), "theory-windows": lambda: theory_table("feng-tu-x3"),
        "ladder": lambda: ladder_table("feng-tu-x3"),
        "cnn-scorecard": lambda: scorecard("lenet-bn"), "short-scorecard": lambda: scorecard("cut-short"),
        "calibration": calibration_table, "calibration-choice": calibration_choice,
        "calibration-summary": calibration_summary, "calibration-cases": calibration_cases,
        "seed-intervals": lambda: seed_intervals("quick-x8"), "exact-case": lambda: exact_case_table("exact-linear"),
    }


def regenerate(check: bool) -> list[str]:
    """Rewrite (or, with ``check``, compare) every generated block; returns the stale ones as 'file: block'."""
    made = blocks()
    stale = []
    for doc in DOCS:
        text = doc.read_text()

        def fill(m, doc=doc):
            name = m.group(2)
            if name not in made:
                raise SystemExit(f"{doc.name}: unknown generated block {name!r}; known: {', '.join(made)}.")
            new = made[name]()
            if new != m.group(3):
                stale.append(f"{doc.relative_to(ROOT)}: {name}")
            return m.group(1) + new + m.group(4)

        new_text = MARK.sub(fill, text)
        if not check and new_text != text:
            doc.write_text(new_text)
    return stale


#: Lists of more numbers than this are left out of a stored summary (per-direction arrays): the tables read
#: scalars, bands and findings.
KEEP = 16


def _trim(obj):
    if isinstance(obj, dict):
        return {k: _trim(v) for k, v in obj.items()}
    if isinstance(obj, list):
        if len(obj) > KEEP and all(isinstance(x, int | float) or x is None for x in obj):
            return f"[{len(obj)} numbers left out of the stored copy]"
        return [_trim(v) for v in obj]
    return obj


def store(run_dir: Path, name: str) -> None:
    """Keep a run's summary.json and ladder.json (per-direction arrays left out), or an ensemble's ensemble.json
    with those of its runs and of their later ages, as docs/data/NAME/ (the same tree)."""
    run_dir = Path(run_dir)
    target = DATA / name
    if target.exists():
        shutil.rmtree(target)
    for path in sorted(run_dir.rglob("*.json")):
        if path.name in ("summary.json", "ensemble.json", "ladder.json") and "replays" not in path.parts:
            out = target / path.relative_to(run_dir)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(_trim(json.loads(path.read_text())), indent=1) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when a generated block is stale")
    ap.add_argument("--store", nargs=2, action="append", default=[], metavar=("RUN_DIR", "NAME"),
                    help="keep a run's summaries as docs/data/NAME (repeatable)")
    args = ap.parse_args(argv)
    for run_dir, name in args.store:
        store(Path(run_dir), name)
    stale = regenerate(args.check)
    if args.check and stale:
        print("stale generated blocks (run python docs/make_findings.py): " + "; ".join(stale))
        return 1
    print(("checked" if args.check else "regenerated") + f" {len(blocks())} kinds of block in {len(DOCS)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
