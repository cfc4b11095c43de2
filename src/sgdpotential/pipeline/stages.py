"""The stages of a run, in their one order: record → ages → probes → ladder → analysis → report.

``sgdpotential run``, ``record``, ``analyze``, ``ladder``, every sweep point and every replica of
``run --replicas`` go through :func:`run_stages`; nothing else knows the order. Each stage reads what the
earlier ones wrote to the run directory (:class:`~sgdpotential.pipeline.rundir.RunDir`) and writes its
product; when resuming, an expensive stage whose product exists is skipped, and the cheap ones (analysis,
report) are always redone from the stored arrays.

The pipeline never imports the report layer above it: the pages are handed in as :class:`Pages`
(``sgdpotential.report.PAGES``, which the command line passes), and without them the report stage writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .analysis import analyze, probe_run
from .config import RunConfig
from .ladder import REPLAYS, ladder
from .network import analysable, build_network
from .record import record, record_ages
from .rundir import RunDir
from .threads import check_threads, is_mlp, stage_threads, thread_limit

__all__ = ["NO_PAGES", "STAGES", "Pages", "Stage", "plan", "run_stages"]


@dataclass(frozen=True)
class Pages:
    """The pages the layer above the pipeline writes, handed in so that the pipeline never imports it:
    ``run(run_dir)`` (report.html), ``ensemble(out_dir)`` (ensemble.html) and ``sweep(out, rows, fits, spec)``
    (sweep.html), each returning the page's path. Top-level functions, so that a process pool or a Ray task can
    receive them (``sgdpotential.report.PAGES``); a missing one writes no page."""

    run: Callable[[Path], Path] | None = None
    ensemble: Callable[[Path], Path] | None = None
    sweep: Callable[..., Path] | None = None


#: No pages: the pipeline alone writes every file but the HTML pages.
NO_PAGES = Pages()


@dataclass(frozen=True)
class _Context:
    """What a stage may need besides the run directory."""

    config: RunConfig
    network: object  # the Network built for recording, or None
    resume: bool
    progress: Callable[[str, int, int], None] | None
    rungs: tuple[str, ...] | None
    pages: Pages
    threads: dict  # the torch threads of each stage here (recorded in the provenance)


def _record(rd: RunDir, c: _Context) -> None:
    record(c.config, rd.path, resume=c.resume, progress=c.progress, network=c.network, threads=c.threads)


def _ages(rd: RunDir, c: _Context) -> None:
    record_ages(c.config, rd.path, progress=c.progress, threads=c.threads)


def _windows(rd: RunDir, config: RunConfig) -> list[RunDir]:
    """The run's windows: its own, then those of its later ages."""
    return [rd] + [child for _, child in rd.age_dirs(config)]


def _probes(rd: RunDir, c: _Context) -> None:
    windows = _windows(rd, c.config)
    for i, w in enumerate(windows):
        if c.progress:
            c.progress("probes", i, len(windows))
        if not (c.resume and w.has(RunDir.PROBES)):
            probe_run(w.path)
    if c.progress:
        c.progress("probes", len(windows), len(windows))


def _analysis(rd: RunDir, c: _Context) -> None:
    for w in _windows(rd, c.config)[1:]:  # the later ages first: the run's summary tabulates them
        analyze(w.path)
    analyze(rd.path)


def _ladder(rd: RunDir, c: _Context) -> None:
    ladder(rd.path, rungs=tuple(REPLAYS) if c.rungs is None else c.rungs, progress=c.progress)


def _report(rd: RunDir, c: _Context) -> None:
    if c.pages.run is not None:
        for w in _windows(rd, c.config)[1:]:  # each later age a complete run directory: its own report first
            c.pages.run(w.path)
        c.pages.run(rd.path)


@dataclass(frozen=True)
class Stage:
    """One stage: its name, the file that says it is done, what runs it, whether it is redone every time
    (cheap), whether it runs only when asked for (the ladder), and — for a stage whose product lives in every
    window of the run — which windows must hold it."""

    name: str
    product: str
    run: Callable[[RunDir, _Context], None]
    always: bool = False
    optional: bool = False
    windows: Callable[[RunDir, RunConfig], list[RunDir]] | None = None

    def missing(self, rd: RunDir, config: RunConfig) -> str | None:
        """The first product the stage has not written yet, relative to the run directory (in each of its
        windows, when it has them); None when it is done."""
        for w in self.windows(rd, config) if self.windows else [rd]:
            if not w.has(self.product):
                return str((w / self.product).relative_to(rd.path))
        return None


STAGES = (
    Stage("record", RunDir.RECORD, _record),
    Stage("ages", RunDir.RECORD, _ages, windows=lambda rd, config: _windows(rd, config)[1:]),
    Stage("probes", RunDir.PROBES, _probes, windows=_windows),
    Stage("ladder", RunDir.LADDER, _ladder, optional=True),  # a measurement: the analysis judges its claims
    Stage("analysis", RunDir.SUMMARY, _analysis, always=True),
    Stage("report", RunDir.REPORT, _report, always=True),
)
_NAMES = [s.name for s in STAGES]


def plan(first: str = "record", last: str = "report", *, ladder: bool = False) -> tuple[str, ...]:
    """The stage names from ``first`` to ``last`` in order, with the ladder only when ``ladder`` is set.

    Examples
    --------
    >>> plan()
    ('record', 'ages', 'probes', 'analysis', 'report')
    >>> plan(ladder=True)
    ('record', 'ages', 'probes', 'ladder', 'analysis', 'report')
    >>> plan("ladder")
    ('ladder', 'analysis', 'report')
    """
    for name in (first, last):
        if name not in _NAMES:
            raise ConfigError(f"unknown stage {name!r}; the stages are {', '.join(_NAMES)}.")
    chosen = STAGES[_NAMES.index(first) : _NAMES.index(last) + 1]
    return tuple(s.name for s in chosen if not s.optional or ladder or s.name == first)


def run_stages(run_dir, stages: tuple[str, ...] = plan(), *, config: RunConfig | None = None, resume: bool = False,
               progress: Callable[[str, int, int], None] | None = None, rungs: tuple[str, ...] | None = None,
               pages: Pages = NO_PAGES, threads: int | None = None) -> RunDir:
    """Run ``stages`` (see :func:`plan`) in order on ``run_dir``.

    Parameters
    ----------
    run_dir : path
    stages : tuple of stage names
    config : RunConfig, optional
        Needed when ``"record"`` is among the stages; otherwise read from ``config.json``.
    resume : bool
        Continue an interrupted run: recording resumes from its checkpoint, and probes, ladder and a finished
        recording are kept when their product exists.
    progress : callable(phase, done, total), optional
    rungs : tuple of str, optional
        The ladder's replays (default: all).
    pages : Pages, optional
        The report stage's page writer (``sgdpotential.report.PAGES``); without it the report stage writes nothing.
    threads : int, optional
        The most torch and BLAS threads any stage may use here (a sweep's worker passes its share of the cores): each
        stage uses :func:`~sgdpotential.pipeline.threads.stage_threads` of the configuration's ``threads``, capped at
        this. The configuration is not changed; the counts used are recorded in the provenance.

    Notes
    -----
    Everything that can be checked is checked before any work starts: the settings against the data and
    model, and — when an analysis stage follows — that the theory models the run's optimizer (a run with
    weight decay is refused here, before training, with one sentence).
    """

    check_threads(threads)
    rd = RunDir(run_dir)
    if "record" in stages:
        if config is None:
            raise ConfigError("the record stage needs a run configuration.")
        net = build_network(config, fresh=not resume)
    else:
        if not rd.has(RunDir.CONFIG):
            raise ConfigError(f"{str(rd.path)!r} has no {RunDir.CONFIG}, so it is not a run directory; start one "
                              f"with 'sgdpotential run --out {rd.path}'.")
        config, net = rd.config(), None
    if set(stages) & {"probes", "analysis", "ladder"}:
        analysable(config)  # the theory must model the run's optimizer: refused before any work
    first = _NAMES.index(stages[0])
    missing = [m for s in STAGES[:first] if not s.optional and (m := s.missing(rd, config))]
    if missing and "record" not in stages:
        raise ConfigError(f"{str(rd.path)!r} has no {missing[0]}; finish the earlier stages first "
                          f"(sgdpotential run --out {rd.path} --resume).")
    per_stage = stage_threads(config.threads, cap=threads, mlp=is_mlp(config))
    context = _Context(config, net, resume, progress, rungs, pages, per_stage)
    # a fresh run into a new or empty folder that stops with a sentence before its recording is complete leaves
    # nothing behind; once recorded, it keeps the recording and says how to finish (an interrupted or resumed run
    # keeps everything for --resume); a non-empty folder is refused by the record stage untouched
    fresh = "record" in stages and not resume and not (rd.path.exists() and any(rd.path.iterdir()))
    created = fresh and not rd.path.exists()
    try:
        for name in stages:
            stage = STAGES[_NAMES.index(name)]
            if resume and not stage.always and stage.missing(rd, config) is None:
                if name == "record":
                    rd.check_resumable(config)
                continue
            with thread_limit(per_stage[name]):
                stage.run(rd, context)
    except ConfigError as exc:
        if fresh and not _recorded(rd, config):
            rd.discard(created)  # nothing worth keeping: the recording itself did not finish
        elif fresh:  # a later stage stopped: the recording (minutes of training) is kept, and the sentence says so
            raise type(exc)(f"{str(exc).rstrip('.')}; the recording is kept in {str(rd.path)!r}: once that is fixed, "
                            f"finish the run with 'sgdpotential run --out {rd.path} --resume'.") from exc
        raise
    return rd


def _recorded(rd: RunDir, config: RunConfig) -> bool:
    """Whether the run's window and every later age are recorded (what a resume keeps)."""
    return all(w.has(RunDir.RECORD) for w in _windows(rd, config))
