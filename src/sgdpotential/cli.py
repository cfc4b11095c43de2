"""Command line: a thin layer over the importable API (no science here).

Errors in user input end with one sentence on stderr and exit code 2, and never leave a partial file.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import shutil
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ._atomic import savez_atomic, write_json_atomic
from ._progress import progress_reporter
from ._version import __version__
from .claims import BOLTZMANN_SLOPE, PAPER_N
from .demos.demo import scaling_demo
from .demos.toy import toy_model
from .errors import ConfigError, DecompositionError
from .pipeline.calibrated import ESTIMATORS, choose_estimator
from .pipeline.config import load_config, with_overrides
from .pipeline.config import preset as make_preset
from .pipeline.ensemble import replica_configs, run_replicas
from .pipeline.network import build_network
from .pipeline.rundir import RunDir
from .pipeline.settings import SETTINGS
from .pipeline.stages import plan, run_stages
from .pipeline.sweep import load_sweep, parse_axes
from .pipeline.sweep import sweep as run_sweep
from .theory import decompose

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="sgdpotential: SGD measured as a physical stochastic process (Ao's stochastic potential, IVF).",
)
console = Console()
err = Console(stderr=True, soft_wrap=True)  # one sentence per error, never re-wrapped


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # a sentence's [train] is not markup
    return typer.Exit(code=2)


def _version(value: bool):
    if value:
        console.print(f"sgdpotential {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
):
    """Measure SGD as a stochastic process."""


@app.command()
def demo(
    n: Annotated[int, typer.Option(min=3, help="Number of directions of the synthetic minimum.")] = 40,
    coupling: Annotated[
        float, typer.Option(min=0.0, help="Noise coupling between modes of different curvature.")
    ] = 0.3,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    rows: Annotated[int, typer.Option(min=1, help="Directions shown in the table.")] = 8,
):
    """Decompose a synthetic SGD minimum built with the paper's scalings (exact, ~1 s)."""
    try:
        res = scaling_demo(n, coupling=coupling, seed=seed)
    except (DecompositionError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    dec = res.decomposition
    console.print(
        f"[bold]Synthetic minimum[/]: n = {n}, α = {res.lr}, B = {res.batch_size}, ε = α²/2B = {dec.eps:.3g}; "
        f"curvature ∝ F⁻² and noise ∝ curvature^{PAPER_N:g} [italic](the paper's assumed scalings)[/], "
        f"mode coupling {coupling}."
    )
    table = Table(title="principal directions of Σ = εU⁻¹", title_justify="left")
    for col in ("i", "σ_i²", "loss flatness F_i", "U-flatness", "discrete/continuous σ²"):
        table.add_column(col, justify="right")
    shown = np.unique(np.linspace(0, n - 1, min(rows, n)).round().astype(int))
    for i in shown:
        table.add_row(
            str(i + 1),
            f"{res.variances[i]:.3e}",
            f"{res.loss_flatness[i]:.3f}",
            f"{res.potential_flatness[i]:.3g}",
            f"{res.discrete_over_continuous[i]:.4f}",
        )
    console.print(table)
    lf, pf = res.loss_fit, res.potential_fit
    summary = Table(show_header=False, box=None)
    summary.add_row("kind", dec.kind)
    summary.add_row("max residual (Eqs. 8–15)", f"{dec.max_residual():.1e}")
    summary.add_row(
        "σ² vs loss flatness", f"slope {lf.exponent:+.3f}  95% CI [{lf.ci[0]:+.3f}, {lf.ci[1]:+.3f}]  "
        f"R² {lf.r2:.3f}   (IVF exponent ψ = {-lf.exponent:.2f}; the paper's scalings give {2 * PAPER_N - 2:g})"
    )
    summary.add_row(
        "σ² vs U-flatness", f"slope {pf.exponent:+.3f}  R² {pf.r2:.3f}   (Boltzmann in U: {BOLTZMANN_SLOPE:+g})"
    )
    summary.add_row("‖Q‖/‖D‖", f"{res.q_over_d:.3g}  (0 ⇔ detailed balance)")
    summary.add_row("entropy production", f"{res.entropy_production:.3e} per step")
    summary.add_row("strongest rotation plane", f"q = {res.top_rotation:.3g}")
    console.print(summary)


def _load_matrix(path: Path, name: str) -> np.ndarray:
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        return np.loadtxt(path, delimiter="," if path.suffix == ".csv" else None, ndmin=2)
    except FileNotFoundError as exc:
        raise _fail(f"{name} file {str(path)!r} does not exist; pass the path of a .npy, .csv or text matrix.") from exc
    except (OSError, ValueError) as exc:
        raise _fail(f"{name} file {str(path)!r} could not be read as a matrix ({exc}).") from exc


@app.command("decompose")
def decompose_cmd(
    force: Annotated[Path, typer.Argument(help="F, the force matrix (.npy, .csv or whitespace text).")],
    diffusion: Annotated[Path, typer.Argument(help="D, the diffusion matrix (same formats).")],
    eps: Annotated[float, typer.Option(help="Noise strength ε > 0.")] = 1.0,
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write U, Q, S, A and the Lyapunov solution to this .npz.")
    ] = None,
):
    """Decompose ẋ = −Fx + ζ, ⟨ζζᵀ⟩ = 2εD into U, Q, S, A and print the diagnostics."""
    F = _load_matrix(force, "force")
    D = _load_matrix(diffusion, "diffusion")
    if output is not None and not output.parent.exists():
        raise _fail(f"output folder {str(output.parent)!r} does not exist; create it or pick another --out.")
    try:
        dec = decompose(F, D, eps)
    except DecompositionError as exc:
        raise _fail(str(exc)) from exc
    info = {
        "n": dec.n,
        "kind": dec.kind,
        "method": dec.method,
        "eps": dec.eps,
        "residuals": dec.residuals,
        "q_over_d": float(np.linalg.norm(dec.Q) / max(np.linalg.norm(dec.D), np.finfo(float).tiny)),
    }
    if output is not None:
        arrays = {"U": dec.U, "Q": dec.Q, "S": dec.S, "A": dec.A, "eigenvalues": dec.eigenvalues}
        arrays["lyapunov_solution"] = dec.lyapunov_solution
        savez_atomic(output, **arrays)
        info["output"] = str(output)
    console.print_json(json.dumps(info))


def _int_list(name: str, text: str | None) -> list[int] | None:
    """'50,50' → [50, 50]; '' → []; None → None; anything else: one sentence, exit 2."""
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise _fail(f"--{name} {text!r} is not a comma-separated list of integers, e.g. 50,50.") from None


def _record_options(preset: str, settings: dict, base=None):
    """The run configuration: ``base`` (a loaded config file) or the preset, with the settings given here
    (:data:`~sgdpotential.pipeline.settings.SETTINGS`; None: not given)."""

    over = {s.name: _int_list(s.name, settings.get(s.name)) if s.int_list else settings.get(s.name) for s in SETTINGS}
    try:
        return with_overrides(base, **over) if base is not None else make_preset(preset, **over)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc


def _with_settings(command):
    """A command with one option per :data:`~sgdpotential.pipeline.settings.SETTINGS` entry in place of its
    ``settings`` parameter, which receives them as one dict — so ``record`` and ``run`` declare them once. Every
    parameter of the command has a default (the options are inserted where ``settings`` stands); settings not given,
    from the command line or from Python, are None."""
    signature = inspect.signature(command, eval_str=True)
    params = list(signature.parameters.values())
    at = [p.name for p in params].index("settings")
    added = [inspect.Parameter(s.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                               annotation=Annotated[(str if s.int_list else s.type) | None, typer.Option(help=s.help)])
             for s in SETTINGS]

    @functools.wraps(command)
    def with_settings(**kwargs):
        return command(settings={s.name: kwargs.pop(s.name, None) for s in SETTINGS}, **kwargs)

    with_settings.__signature__ = signature.replace(parameters=params[:at] + added + params[at + 1 :])
    with_settings.__annotations__ = {p.name: p.annotation for p in with_settings.__signature__.parameters.values()}
    return with_settings


def _replace(out: Path | None, force: bool, resume: bool, cfg) -> None:
    """--force: empty --out for a fresh run — only once every setting has been validated, so that bad input
    never costs the old run."""
    if force and out is not None and out.exists() and not resume:
        try:
            build_network(cfg)
        except ConfigError as exc:
            raise _fail(str(exc)) from exc
        shutil.rmtree(out)


def _default_out(out: Path | None, name: str, resume: bool) -> Path:
    """--out, or runs/<name>-<time> for a fresh run."""
    if out is not None:
        return out
    if resume:
        raise _fail("--resume needs --out, the run directory to continue.")
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


@contextmanager
def _default_parent(out: Path, default: bool):
    """For a default --out: make runs/ for the run, and remove it again if the run left nothing in it."""
    made = default and not out.parent.exists()
    if made:
        out.parent.mkdir()
    try:
        yield
    finally:
        if made:
            with suppress(OSError):
                out.parent.rmdir()  # only when empty


def _stages(run_dir: Path, stages, *, config=None, resume: bool = False, rungs=None, quiet: bool = False,
            threads: int | None = None) -> RunDir:
    """The pipeline's stages with progress; a ConfigError becomes one sentence and exit code 2."""
    from .report import PAGES

    if config is not None and not resume and run_dir.parent.exists() and not os.access(run_dir.parent, os.W_OK):
        raise _fail(f"cannot write into {str(run_dir.parent)!r} (permission denied); choose another --out.")
    try:
        with progress_reporter(err, quiet=quiet) as progress:
            return run_stages(run_dir, stages, config=config, resume=resume, progress=progress, rungs=rungs,
                              pages=PAGES, threads=threads)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc


# the options shared by `record` and `run`, declared once
PresetOpt = Annotated[str | None, typer.Option(help="Preset: feng-tu (mnist5k, 784-50-50-10; the default), "
                                                    "feng-tu-mnist (the full 60,000 digits, downloaded once) or quick "
                                                    "(digits).")]
OutOpt = Annotated[Path | None, typer.Option(help="Run directory (default: runs/<preset>-<time>).")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --out.")]
ThreadsOpt = Annotated[int | None, typer.Option(help=next(s.help for s in SETTINGS if s.name == "threads"))]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace a non-empty --out (deletes its contents).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress (errors and results still print). "
                                        "Without a terminal, progress is plain lines on stderr.")]


@app.command()
@_with_settings
def record(
    preset: PresetOpt = None,
    out: OutOpt = None,
    settings: dict | None = None,  # one option per SETTINGS entry (_with_settings)
    resume: ResumeOpt = False,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
):
    """Train with SGD, record the window (and the later ages) into trajectory stores, and run their PCA."""
    preset = preset or "feng-tu"
    cfg = _record_options(preset, settings or {})
    _replace(out, force, resume, cfg)
    path = _default_out(out, preset, resume)
    with _default_parent(path, out is None):
        _print_record(_stages(path, plan(last="ages"), config=cfg, resume=resume, quiet=quiet))


@app.command()
@_with_settings
def run(
    preset: PresetOpt = None,
    out: OutOpt = None,
    config: Annotated[Path | None, typer.Option(help="TOML file of settings (options given here override it).")] = None,
    settings: dict | None = None,  # one option per SETTINGS entry (_with_settings)
    resume: ResumeOpt = False,
    force: ForceOpt = False,
    with_ladder: Annotated[bool, typer.Option("--ladder/--no-ladder", help="Replay the run on its linearized models "
                                              "(the model ladder, see 'sgdpotential ladder').")] = True,
    replicas: Annotated[int, typer.Option(min=1, help="Train R replicas (seeds seed … seed+R−1) together, one run "
                                          "directory each under --out, plus ensemble.json.")] = 1,
    vary: Annotated[str, typer.Option(help="What the replicas differ in: sampler (minibatch seeds seed … seed+R−1, "
                                      "one initialisation), init (initialisations model_seed … model_seed+R−1) "
                                      "or both (independent runs).")] = "sampler",
    quiet: QuietOpt = False,
):
    """The main job: record, probe at ω0 along the principal directions, analyse, report (report.html)."""
    if config is not None and preset is not None:
        raise _fail(f"--preset {preset} and --config {config} were both given; the config file names its own preset "
                    f"(preset = \"…\" inside it): give one of them.")
    preset = preset or "feng-tu"
    if config is not None:
        try:
            base = load_config(config)
        except ConfigError as exc:
            raise _fail(str(exc)) from exc
        cfg = _record_options(preset, settings or {}, base=base)
    else:
        cfg = _record_options(preset, settings or {})
    if replicas > 1:
        try:
            replica_configs(cfg, replicas, vary)  # a bad --vary before anything is replaced
        except ConfigError as exc:
            raise _fail(str(exc)) from exc
    _replace(out, force, resume, cfg)
    if replicas > 1:
        _run_replicas(cfg, preset, out, resume, replicas, vary, with_ladder, quiet)
        return

    path = _default_out(out, preset, resume)
    with _default_parent(path, out is None):
        rd = _stages(path, plan(ladder=with_ladder), config=cfg, resume=resume, quiet=quiet)
    _print_record(rd)
    _print_summary(rd)
    if with_ladder:
        _print_ladder(rd)


def _run_replicas(cfg, preset: str, out: Path | None, resume: bool, replicas: int, vary: str,
                  with_ladder: bool, quiet: bool = False) -> None:
    from .report import PAGES
    from .report.words import ensemble_sentences

    default, out = out is None, _default_out(out, f"{preset}-x{replicas}", resume)
    try:
        with _default_parent(out, default), progress_reporter(err, quiet=quiet) as progress:
            dirs, ens = run_replicas(cfg, out, replicas, vary=vary, resume=resume, with_ladder=with_ladder,
                                     progress=progress, pages=PAGES)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    table = Table(title=f"{replicas} replicas in {out} ({RunDir.ENSEMBLE})", title_justify="left")
    for col in ("run", "ψ", "95% CI (within run)"):
        table.add_column(col)
    for d in dirs:
        ivf = RunDir(d).load(RunDir.SUMMARY)["ivf"]
        table.add_row(d.name, "—" if ivf["psi"] is None else f"{ivf['psi']:.2f}",
                      "—" if ivf["ci95"] is None else f"{ivf['ci95'][0]:.2f} – {ivf['ci95'][1]:.2f}")
    console.print(table)
    model = RunDir(dirs[0]).load(RunDir.SUMMARY).get("model")
    _print_scorecard(ens.get("findings") or {"claims": []}, model, "claims over the seeds (ensemble.json)")
    for sentence in ensemble_sentences(ens, model):
        console.print(f"• {escape(sentence)}", highlight=False, soft_wrap=True)
    _print_ensemble_views(ens)


def _print_ensemble_views(ens: dict) -> None:
    """ψ over seeds by K and by age, Feng & Tu's way and held out."""
    from .report.words import over_seeds

    table = Table(title="ψ over the seeds: mean [95% interval of the mean]", title_justify="left")
    for col in ("view", "Feng & Tu (own directions)", "held out"):
        table.add_column(col)
    table.add_row("run's K", over_seeds(ens["psi"]), over_seeds(ens.get("psi_heldout")))
    for k, v in (ens.get("psi_by_k") or {}).items():
        table.add_row(f"K = {k}", over_seeds(v["feng_tu"]), over_seeds(v["heldout"]))
    for a, v in (ens.get("psi_by_age") or {}).items():
        table.add_row(f"age {a}", over_seeds(v["feng_tu"]), over_seeds(v["heldout"]))
    console.print(table)


@app.command("analyze")
def analyze_cmd(run_dir: Annotated[Path, typer.Argument(help="A run directory written by 'sgdpotential run'.")],
                threads: ThreadsOpt = None, quiet: QuietOpt = False):
    """Redo the analysis of a run from its stored arrays (no retraining): summary.json, figures, report.html."""
    _print_summary(_stages(run_dir, plan("analysis"), quiet=quiet, threads=threads))


@app.command()
def sweep(
    grid: Annotated[list[str] | None, typer.Option("--grid", help="An axis name=v1,v2,… (repeat for a grid), e.g. "
                                                   "--grid lr=0.05,0.1 --grid seed=0,1.")] = None,
    preset: Annotated[str | None, typer.Option(help="Preset of every run (default quick); not with --config.")] =
        None,
    config: Annotated[Path | None, typer.Option(help="Sweep file (TOML): a run config plus "
                                                   "\\[grid] or \\[\\[runs]] (a grid of values, or a list).")] =
        None,
    out: Annotated[Path | None, typer.Option(help="Sweep directory (default: sweeps/<preset>-<time>).")] = None,
    backend: Annotated[str, typer.Option(help="local (a process pool here) or ray.")] = "local",
    workers: Annotated[int | None, typer.Option(help="Runs at a time (default: one per core).")] = None,
    address: Annotated[str | None, typer.Option(
        help="Ray cluster address (host:port from 'ray start --head'); the package and a local model factory travel "
             "to the nodes, --out must be on a file system every node sees (docs/cluster.md). Default: start Ray "
             "locally.")] = None,
    gpus_per_run: Annotated[float, typer.Option(help="GPUs each Ray task declares.")] = 0.0,
    with_ladder: Annotated[bool, typer.Option("--ladder/--no-ladder", help="Add the model ladder to every run.")] =
        False,
    replicas: Annotated[bool, typer.Option("--replicas/--no-replicas", help="Train points that differ only in "
                                           "seed and/or model_seed together, as vectorised replicas.")] = False,
    allow_failures: Annotated[bool, typer.Option("--allow-failures", help="Exit 0 even when some runs failed "
                                                 "(they are listed in results.csv either way).")] = False,

    quiet: QuietOpt = False,
):
    """Run a grid (or list) of runs over any setting, locally or on Ray; results.csv, figures, sweep.html.
    Rerunning the same command skips finished runs and retries failed ones."""

    if config is not None and preset is not None:
        raise _fail(f"--preset {preset} and --config {config} were both given; the sweep file names its own preset "
                    f"(preset = \"…\" inside it): give one of them.")
    preset = preset or "quick"
    try:
        runs = None
        if config is not None:
            base, axes, runs = load_sweep(config)
        else:
            base, axes = make_preset(preset), {}
        if grid:
            if runs is not None:
                raise ConfigError("--grid cannot be combined with a sweep file that lists [[runs]]; use one of them.")
            axes = {**axes, **parse_axes(grid)}
        if runs is None and not axes:
            raise ConfigError("nothing to sweep: give --grid name=v1,v2 (or a sweep file with [grid] or [[runs]]).")
        if out is None:
            out = Path("sweeps") / f"{preset if config is None else config.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
            out.parent.mkdir(exist_ok=True)
        from .report import PAGES

        with progress_reporter(err, quiet=quiet) as progress:
            res = run_sweep(base, out, axes=axes if runs is None else None, runs=runs, backend=backend,
                            workers=workers, address=address, gpus_per_run=gpus_per_run, with_ladder=with_ladder,
                            replicas=replicas, progress=progress, pages=PAGES)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    table = Table(title=f"sweep {res.out}", title_justify="left")
    for col in ("run", "status", "ψ", "95% CI", "ψ verdict", "top variance", "burn-in epochs"):
        table.add_column(col, overflow="fold")
    for r in res.rows:
        ok = r["status"] == "done" and r.get("psi") is not None
        table.add_row(r["name"], r["status"] if r["status"] == "done" else f"[red]{r['status']}[/]: {r['error']}",
                      f"{r['psi']:.2f}" if ok else "—", f"{r['psi_lo']:.2f} – {r['psi_hi']:.2f}" if ok else "—",
                      r.get("psi_verdict") or "—",
                      f"{r['top_variance']:.3g}" if r.get("top_variance") else "—", str(r.get("burn_in_epochs", "—")))
    console.print(table)
    console.print(f"{len(res.ran)} run now, {len(res.skipped)} already finished, {res.seconds:.1f} s", soft_wrap=True)
    from .report.words import sweep_sentences

    for sentence in sweep_sentences(res.rows, res.fits):
        console.print(f"• {escape(sentence)}", highlight=False)
    console.print(f"results: {res.out / 'results.csv'}, report: {res.out / 'sweep.html'}")
    failed = [r["name"] for r in res.rows if r["status"] != "done"]
    if failed and not allow_failures:
        err.print(f"[bold red]error:[/] {len(failed)} of {len(res.rows)} runs failed (first: {failed[0]}; see "
                  f"results.csv); rerun the same command to retry them, or pass --allow-failures to exit 0.",
                  highlight=False)
        raise typer.Exit(code=1)


@app.command("ladder")
def ladder_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by 'sgdpotential run'.")],
    rungs: Annotated[str, typer.Option(help="Replays to run: comma-separated among batch, full, isotropic.")] =
        "batch,full,isotropic",
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
):
    """Which ingredient makes IVF: replay the run on its linearized models (minibatch Hessian, full Hessian,
    isotropic noise), fit a linear SDE to θ(t), measure closure; writes ladder.json and updates report.html."""
    _stages(run_dir, plan("ladder"), rungs=tuple(r.strip() for r in rungs.split(",") if r.strip()), quiet=quiet,
            threads=threads)
    _print_ladder(run_dir)


def _print_ladder(run_dir) -> None:
    from .report.ladder import ladder_sentences
    from .report.words import optimizer_name

    rd = RunDir(run_dir)
    lad, s = rd.load(RunDir.LADDER), rd.load(RunDir.SUMMARY)
    opt = optimizer_name(s.get("model"))
    table = Table(title="model ladder (ladder.json)", title_justify="left")
    for col in ("rung", "ψ", "95% CI", f"Δψ from real {opt}", "K-subspace variance", "median ratio"):
        table.add_column(col, justify="right" if col != "rung" else "left")
    for r in lad["rungs"]:
        if "error" in r:
            table.add_row(r["name"], "—", "—", r["error"][:60], "—", "—")
            continue
        d = r.get("delta_psi")
        table.add_row(r["name"], "—" if r["psi"] is None else f"{r['psi']:.2f}",
                      "—" if r["ci95"] is None else f"{r['ci95'][0]:.2f} – {r['ci95'][1]:.2f}",
                      "—" if d is None else f"{d:+.2f}",
                      f"{r['subspace_variance']:.3g}", "—" if r["median_ratio"] is None else f"{r['median_ratio']:.3g}")
    console.print(table)
    for sentence in ladder_sentences(lad, s.get("findings"), opt):
        console.print(f"• {escape(sentence)}", highlight=False)


def _print_scorecard(findings: dict, model: dict | None, title: str) -> None:
    """The claims scorecard (:func:`~sgdpotential.report.words.scorecard_rows`) as a table."""
    from .report.words import scorecard_rows

    colour = {"consistent": "green", "inconsistent": "red", "inconclusive": "yellow"}
    table = Table(title=title, title_justify="left")
    for col in ("claim", "prediction ± margin", "measured [95% CI]", "verdict", "what moves it"):
        table.add_column(col, overflow="fold")
    for r in scorecard_rows(findings, model):
        table.add_row(r["claim"], r["prediction"], r["measured"], f"[{colour[r['word']]}]{r['verdict']}[/]",
                      r["moves"])
    console.print(table)


def _print_summary(run_dir) -> None:
    """The run's scorecard, its verdict sentences and its warnings with what each binds — the report's words."""
    from .report.words import describe, sentences, warning_lines

    s = RunDir(run_dir).load(RunDir.SUMMARY)
    findings = s.get("findings") or {"claims": []}
    _print_scorecard(findings, s.get("model"), "claims (summary.json findings)")
    for sentence in sentences(s):
        console.print(f"• {escape(sentence)}", highlight=False, soft_wrap=True)
    for name, message in warning_lines(s.get("warnings", []), findings):
        console.print(f"[yellow]warning[/] {name}: {escape(message)}", highlight=False, soft_wrap=True)
    for sentence in describe(s):
        console.print(f"  {escape(sentence)}", highlight=False, soft_wrap=True)
    st = s.get("stationarity")
    scan, ages = s.get("k_scan"), s.get("ages")
    if scan:
        console.print(f"  ψ by K (Feng & Tu / held out): {_psi_by(scan['rows'], 'k')}", highlight=False)
    if ages:
        console.print(f"  ψ by age (epochs after burn-in; Feng & Tu / held out): {_psi_by(ages['rows'], 'age')}",
                      highlight=False)
    if st:
        console.print(f"  stationarity: Yaida's FDR ratio {st['fdr_ratio']:.3g} ± {st['se']:.2g}", highlight=False)


def _psi_by(rows: list[dict], key: str) -> str:
    """'25: 2.65/1.31, 50: …' — ψ Feng & Tu's way / held out per value of ``key`` (K or age)."""
    return ", ".join(f"{r[key]}: {r['feng_tu']['psi']:.2f}" + (f"/{r['heldout']['psi']:.2f}" if (
        r.get("heldout") or {}).get("psi") is not None else "") for r in rows if r["feng_tu"]["psi"] is not None)


def _print_record(rd: RunDir) -> None:
    info = rd.load(RunDir.RECORD)
    pca, b = info["pca"], info["burn_in"]
    table = Table(show_header=False, box=None, title=f"run {rd.path}", title_justify="left")
    reached = "" if b["reached_target"] is None else (" (target reached)" if b["reached_target"] else
                                                       " [bold red](target NOT reached)[/]")
    table.add_row("burn-in", f"{b['epochs']} epochs, training accuracy {b['accuracy']:.4f}{reached}, "
                  f"{info['seconds']['burn_in']:.1f} s")
    w = info["seconds"]["window"]
    table.add_row("window", f"{info['window_steps']} steps → {info['n_snapshots']} snapshots × {info['n_params']} "
                  f"parameters in {w:.1f} s" + (f" ({info['window_steps'] / w:.0f} steps/s)" if w > 0 else ""))
    table.add_row("PCA", f"{pca['method']}, {info['seconds']['pca']:.2f} s; PC1 holds {pca['pc1_ratio']:.3f} of the "
                  f"variance (random-walk null {pca['null_pc1_ratio']:.3f}), drift share {pca['pc1_drift']:.3f}, "
                  f"|cos(p1, ω0)| = {pca['mean_alignment']:.3f}")
    n90 = pca["n_components_90"]
    table.add_row("spectrum", f"tail exponent γ = {pca['tail_exponent']:.2f} (σ_i² ∝ i^−γ, i = 20…200); "
                  f"90% of the variance without PC1 in {n90 if n90 is not None else '> K'} components")
    table.add_row("files", ", ".join(sorted(p.name for p in rd.path.iterdir() if not p.name.startswith("."))))
    console.print(table)


@app.command()
def toy(
    n: Annotated[int, typer.Option(min=3, help="Directions.")] = 20,
    theta_exponent: Annotated[float, typer.Option(help="a in σ_θ,i ∝ F_i^a: −1 the paper, +1 Feng & Tu.")] = -1.0,
    sigma_m: Annotated[float, typer.Option(min=0.0, help="Relative spread of minibatch curvatures.")] = 0.0,
    lr: Annotated[float, typer.Option(help="Learning rate α.")] = 0.1,
    chains: Annotated[int, typer.Option(min=2, help="Independent SGD chains.")] = 200,
    steps: Annotated[int, typer.Option(min=2, help="Steps per chain (half burn-in).")] = 4000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    report: Annotated[Path | None, typer.Option("--out", help="Write report.html and toy.json to this folder.")] = None,
):
    """The paper's random quadratic minibatch model, Eq. (20): simulate SGD, measure Σ, D and ψ."""
    try:
        r = toy_model(n, theta_exponent=theta_exponent, sigma_m=sigma_m, lr=lr, chains=chains, steps=steps,
                      seed=seed)
    except (ConfigError, DecompositionError) as exc:
        raise _fail(str(exc)) from exc
    dev = np.abs(r.variance - r.exact) / r.variance_se
    table = Table(show_header=False, box=None, title="Eq. (20) toy model", title_justify="left")
    psi, ci = -r.psi.exponent, (-r.psi.ci[1], -r.psi.ci[0])
    table.add_row("IVF", f"ψ = {psi:.2f} [{ci[0]:.2f}, {ci[1]:.2f}] with σ_θ ∝ F^{theta_exponent:+g} "
                  f"(Eqs. 24–25 give {2 - 2 * theta_exponent:g})")
    table.add_row("D_ii vs F_i", f"exponent {r.noise_vs_flatness.exponent:+.2f} (Eqs. 24–25 give "
                  f"{2 * theta_exponent - 4:+g})")
    table.add_row("Eq. (24)", f"measured D_ii / L0²M²σ_θ² in [{(r.noise / r.eq24).min():.3f}, "
                  f"{(r.noise / r.eq24).max():.3f}]")
    table.add_row("exact discrete law", f"max |measured − exact| = {dev.max():.1f} standard errors"
                  + (" (additive noise: exact)" if sigma_m == 0 else " (σ_M > 0: multiplicative noise, approximate)"))
    console.print(table)
    if report is not None:
        from .report.toy import toy_numbers, toy_report

        settings = {"n": n, "theta_exponent": theta_exponent, "sigma_m": sigma_m, "lr": lr, "chains": chains,
                    "steps": steps, "seed": seed}
        try:
            report.mkdir(parents=True, exist_ok=True)
            write_json_atomic(report / "toy.json", toy_numbers(r, settings))
            console.print(f"report: {toy_report(r, settings, report)}")
        except OSError as exc:
            raise _fail(f"cannot write the report into {str(report)!r} ({exc.strerror or exc}).") from exc


@app.command()
def calibrate(
    out: Annotated[Path, typer.Option("--out", help="Where to write the study (JSON).")] = Path("calibration.json"),
    windows: Annotated[int, typer.Option(min=10, help="Simulated windows per case and window length.")] = 200,
    case: Annotated[list[str] | None,
                    typer.Option("--case", help="paper-law or digits (repeat; default both).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated windows.")] = 0,
    network: Annotated[Path | None, typer.Option(
        "--network", help="Also calibrate on the linear model with this recorded run's H and C (a run directory; "
                          "its recorded weights, one Hessian-vector product each).")] = None,

    quiet: QuietOpt = False,
):
    """Calibrate the ψ estimators where the truth is known: bias, spread and 95%-interval coverage of Feng & Tu's,
    the held-out and the independent-window estimator against the population ψ of the linear model's window law.
    The study the tool ships (and chooses its headline estimator from) is src/sgdpotential/data/calibration.json,
    written by this command; docs/calibration.md shows it."""
    from .pipeline.calibration import CASES, network_case, study

    names = case or list(CASES)
    unknown = [c for c in names if c not in CASES]
    if unknown:
        raise _fail(f"--case {unknown[0]!r} is not one of {', '.join(CASES)}; pass one of them.")
    if out.exists() and out.is_dir():
        raise _fail(f"--out {str(out)!r} is a folder; pass a file name such as calibration.json.")
    if network is not None and not (network / RunDir.PCA).exists():
        raise _fail(f"--network {str(network)!r} is not a recorded run directory (no {RunDir.PCA}); pass the folder "
                    f"of a finished 'sgdpotential record' or 'run'.")
    cases = [CASES[c]() for c in names]
    if network is not None:
        try:
            cases.append(network_case(network))
        except (ConfigError, DecompositionError) as exc:
            raise _fail(str(exc)) from exc
    with progress_reporter(err, quiet=quiet) as progress:
        result = study(cases, windows=windows, seed=seed, progress=None if progress is None else
                       lambda name, r, j, n: progress(f"{name}, r = {r}", j, n))
    try:
        write_json_atomic(out, result)
    except OSError as exc:
        raise _fail(f"cannot write {str(out)!r} ({exc.strerror or exc}).") from exc

    chosen = choose_estimator(result)
    table = Table(title="ψ estimators against the population ψ", title_justify="left")
    for col in ("estimator", "bias over the cells", "coverage of its 95% interval", "allowance that covers"):
        table.add_column(col)
    for name, e in chosen["by_estimator"].items():
        table.add_row(name + (" (headline)" if name == chosen["estimator"] else ""),
                      f"{e['bias_range'][0]:+.2f} to {e['bias_range'][1]:+.2f}",
                      f"{e['coverage_range'][0]:.0%}–{e['coverage_range'][1]:.0%}",
                      "none studied" if e["allowance"] is None else f"± {e['allowance']:g}")
    console.print(table)
    console.print(f"{chosen['rule']} This study gives: {ESTIMATORS[chosen['estimator']]}.", highlight=False)
    console.print(f"calibration: {out}")


def main() -> None:  # console-script entry point
    # OpenMP threads that finish a parallel region sleep instead of spinning (unless the user chose otherwise): alone
    # it costs nothing, and two processes on two busy cores no longer burn each other's time in spin-waits (the
    # probes of two runs at once: 2.75× the time of one alone with spinning, 1.76× without; bench_contention.py).
    # Set here, before torch (and its libgomp, which reads it once) is imported by a command.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
