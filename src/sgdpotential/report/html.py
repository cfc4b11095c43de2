"""report.html: one self-contained page (figures embedded as base64 PNG): the settings and provenance, the claims
scorecard, the named warnings with what they bind, the verdict sentences, the figures and every number — all
rendered from ``summary.json``'s findings (:mod:`.words`)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from .._atomic import atomic_write
from ..pipeline.rundir import RunDir
from .figures import draw_all
from .ladder import draw_ladder, ladder_sentences, ladder_table
from .words import RULES, describe, optimizer_name, scorecard_rows, sentences, warning_lines


def settings_header(s: dict) -> list[tuple[str, str]]:
    """What a reader needs to judge the run before its numbers: data, model, optimizer, seeds, burn-in, window,
    and the provenance of the recording (versions, commit, date, threads, device)."""
    c, t, b = s["config"], s["config"]["train"], s["burn_in"]
    prov = (s.get("provenance") or {}).get("record") or {}
    reached = {True: "target reached", False: "target NOT reached", None: "fixed length"}[b.get("reached_target")]
    rows = [
        ("data", c["dataset"]),
        ("model", _model_name(c) + f", recorded weights: {c['params']}, K = {c['components']}, loss "
                                   f"{t.get('loss', 'cross_entropy')}"),
        ("optimizer", f"{optimizer_name(s.get('model'))}, α = {t['lr']:g}, B = {t['batch_size']}, sampling "
                      f"{t.get('sampling', 'shuffle')}, "
                      + (f"momentum {t.get('momentum', 0):g}" if t.get("optimizer", "sgd") == "sgd" else
                         f"β1 {t.get('beta1', 0.9):g}, β2 {t.get('beta2', 0.999):g}")
                      + f", weight decay {t.get('weight_decay', 0):g}"),
        ("seeds", f"sampler {t.get('seed', 0)}, initialisation {c['model_seed']}"),
        ("burn-in", f"{b['epochs']} epochs to the window, accuracy {b['accuracy']:.4f} ({reached}); age "
                    f"{b.get('age_epochs', 0)} epochs after the target"
                    + (f"; later ages {c['ages']}" if c.get("ages") else "")),
        ("window", f"T = {s['ivf']['window']} snapshots, stride {t.get('stride', 1)}"),
        ("versions", ", ".join(f"{k} {prov[k]}" for k in ("sgdpotential", "torch", "numpy", "scipy", "python")
                               if prov.get(k))),
        ("recorded", f"{prov.get('date', '?')} on {prov.get('device', '?')}, {prov.get('torch_threads', '?')} torch "
                     f"threads, commit {prov.get('commit') or 'unknown'}"),
    ]
    return rows


def _model_name(c: dict) -> str:
    """The model as a reader should know it: an MLP with its widths and activation, a built-in CNN by name, or the
    user's own factory named as such."""
    name = c.get("model", "mlp")
    if name == "mlp":
        return f"MLP hidden {c['hidden']}, {c['activation']}" if c["hidden"] else "linear model (no hidden layer)"
    if ":" in name:
        return f"your model {name} (a user factory)"
    return name


def scorecard_html(rows: list[dict]) -> str:
    """The claims scorecard as an HTML table (rows of :func:`~.words.scorecard_rows`)."""
    head = "".join(f"<th>{h}</th>" for h in ("claim", "source", "prediction ± margin", "measured [95% CI]",
                                              "verdict", "what moves it"))
    body = "".join(
        f'<tr class="{html.escape(r["word"])}">' + "".join(f"<td>{html.escape(r[k])}</td>" for k in (
            "claim", "source", "prediction", "measured", "verdict", "moves")) + "</tr>" for r in rows)
    return f'<table class="scorecard" id="scorecard"><tr>{head}</tr>{body}</table>'


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'


def make_report(run_dir) -> Path:
    """Draw the figures and write ``run_dir/report.html`` (atomically); returns its path."""
    rd = RunDir(run_dir)
    summary, cfg = rd.load(RunDir.SUMMARY), rd.config()
    figs = draw_all(rd.path, summary, rd.load(RunDir.PCA), rd.load(RunDir.PROBES))
    captions = {
        "spectrum": "PCA spectrum of the window with the random-walk null for the same T.",
        "trajectory": "(θ₁, θ₂) over the window, and a late (θ_i, θ_j) pair.",
        "profiles": "Loss along selected principal directions, with the e·L0 level that defines F_i.",
        "ivf": "σ_i² against the loss flatness F_i (IVF) and against the flatness of the stochastic potential U "
               "(the paper's Fig. 1, from data).",
        "lyapunov": "Left: the laws' p_iᵀΣp_i against the measured σ_i² along the window's own principal directions "
                    "(biased by PCA's selection: a description). Right: the test — the measured spectrum against "
                    "the spectra of simulated windows of the law (same T, stride, sampling and PCA).",
        "spectra": "H_P, C_P and U along each principal direction.",
        "scaling": "The scaling panel: the paper's assumptions and the disputed σ_θ law.",
        "views": "ψ as a function of how you look: against the number K of principal directions in the fit (nested "
                 "K-scan), the window length (nested sub-windows) and the network's age (later windows of the same "
                 "training run); along the window's own directions (Feng & Tu) and held out; bars are 95% bootstrap "
                 "intervals.",
    }
    sections, numbers = [], summary
    opt = optimizer_name(summary.get("model"))
    if rd.has(RunDir.LADDER):
        ladder = rd.load(RunDir.LADDER)
        items = "".join(f"<li>{html.escape(x)}</li>" for x in ladder_sentences(ladder, summary.get("findings"), opt))
        fig = draw_ladder(rd.path, ladder, opt)
        caption = (f"Left: σ_i² against F_i on each rung (each along its own principal directions). Right: variance "
                   f"along real {opt}'s principal directions, relative to real {opt}.")
        sections.append(("Which ingredient makes IVF? The model ladder",
                         f"<ul>{items}</ul>{ladder_table(ladder, opt)}<figure>{_img(fig)}"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>"))
        numbers = {"summary": summary, "ladder": ladder}
    ages = [(a, child / RunDir.REPORT) for a, child in rd.age_dirs(cfg) if child.has(RunDir.REPORT)]
    if ages:
        links = "".join(f'<li><a href="{html.escape(str(p.relative_to(rd.path)))}">age {a}</a>: the window recorded '
                        f"{a} epochs after burn-in ended, probed and analysed like this one</li>" for a, p in ages)
        sections.append(("Later ages of this training run", f"<ul>{links}</ul>"))
    details = "".join(f"<li>{html.escape(x)}</li>" for x in describe(summary))
    sections.append(("Descriptions (not verdicts)", f"<ul>{details}</ul>"))
    findings = summary.get("findings") or {}
    return write_page(rd / RunDir.REPORT,
                      f"{opt} as a stochastic process: {cfg.dataset}, {cfg.params} weights",
                      sentences(summary), [(p, captions[n]) for n, p in figs.items()], numbers, sections,
                      header=settings_header(summary),
                      warnings=warning_lines(summary.get("warnings", []), findings),
                      scorecard=scorecard_rows(findings, summary.get("model")), note=" ".join(RULES))


def write_page(path: Path, title: str, sentences: list[str], figures: list[tuple[Path, str]], numbers: dict,
               sections: list[tuple[str, str]] = (), note: str | None = None,
               header: list[tuple[str, str]] = (), warnings: list[tuple[str, str]] = (),
               scorecard: list[dict] = ()) -> Path:
    """One self-contained HTML page — a settings-and-provenance header, the claims scorecard, the named warnings
    ((name, message) pairs), the verdict, extra sections of ready HTML, embedded figures, and every number as JSON
    collapsed behind ``<details>`` — written atomically."""
    items = "".join(f"<li>{html.escape(x)}</li>" for x in sentences)
    head = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in header)
    warned = "".join(f"<li><b>{html.escape(n)}</b>: {html.escape(m)}</li>" for n, m in warnings)
    body = "".join(f"<figure>{_img(p)}<figcaption>{html.escape(c)}</figcaption></figure>" for p, c in figures)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto;line-height:1.45}}
img{{max-width:100%}}figure{{margin:1.5em 0}}pre{{background:#f4f4f4;padding:1em;overflow:auto;font-size:80%}}
table.settings th{{text-align:left;padding-right:1em;font-weight:normal;color:#555}}
.warnings{{background:#fff4e0;border-left:4px solid #e0a000;padding:.3em 1em}}
table.scorecard{{border-collapse:collapse;font-size:85%}}table.scorecard td,table.scorecard th{{border:1px solid #ccc;
padding:3px 5px;vertical-align:top;text-align:left}}tr.consistent td:nth-child(5){{background:#e6f4e6}}
tr.inconsistent td:nth-child(5){{background:#fbe3e3}}tr.inconclusive td:nth-child(5){{background:#f2f2f2}}</style>
</head><body><h1>{html.escape(title)}</h1>
{f'<table class="settings" id="settings">{head}</table>' if head else ""}
{f'<h2>Scorecard</h2>{scorecard_html(list(scorecard))}' if scorecard else ""}
{f'<div class="warnings" id="warnings"><h2>Warnings</h2><ul>{warned}</ul></div>' if warned else ""}
<h2 id="verdict">Verdict</h2><ul>{items}</ul>
{"" if note is None else f"<p>{html.escape(note)}</p>"}
{"".join(f"<h2>{html.escape(h)}</h2>{content}" for h, content in sections)}
<h2>Figures</h2>{body}
<h2>Numbers</h2><details><summary>every number of this page (JSON)</summary>
<pre>{html.escape(json.dumps(numbers, indent=1))}</pre></details></body></html>"""
    with atomic_write(path) as fh:
        fh.write(page)
    return path
