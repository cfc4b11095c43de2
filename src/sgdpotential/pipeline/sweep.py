"""Sweeps: a grid (or list) of ordinary runs over any configuration field, on a process pool or on Ray.

A sweep directory holds ``sweep.json`` (the specification), one run directory per point (exactly what
``sgdpotential run`` writes), ``results.csv`` (one row per run: its settings and the summary numbers),
``figures/`` (ψ against α and B, the top-direction variances against α/B with the fitted slope) and
``sweep.html``. Every run is independent and resumable, so a failed run is recorded and the others go on,
and rerunning a sweep finishes only what is missing.

Across the runs the sweep tests the claims of :data:`sgdpotential.claims.SWEEP_CLAIMS` (the linear model's
variance ∝ α/B); each run's own claims are in its ``summary.json``, their ψ verdict in ``results.csv``.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import itertools
import json
import math
import multiprocessing
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._atomic import atomic_write, write_json_atomic
from .._repr import concise_repr
from .._validation import check_scalar
from ..errors import ConfigError
from ..theory import fit_power_law
from .analysis import DRIFT_MAX
from .config import RunConfig, config_fields, config_from_mapping, read_toml, with_overrides
from .findings import sweep_findings
from .network import analysable, build_network
from .record import record_replicas
from .rundir import RunDir
from .stages import NO_PAGES, Pages, plan, run_stages
from .threads import available_cores, is_mlp, stage_threads, thread_limit

__all__ = ["BACKENDS", "SweepPoint", "SweepResult", "load_sweep", "parse_axes", "run_group", "run_point",
           "runtime_env", "sweep", "sweep_points"]

BACKENDS = ("local", "ray")

#: The sweep's specification and bookkeeping, in the sweep directory (beside one run directory per point).
SWEEP_SPEC = "sweep.json"
RESULTS = "results.csv"

#: Columns of ``results.csv`` after the swept settings (wall times live in ``sweep.json``, so that the table
#: is the same whatever the backend).
COLUMNS = ("name", "status", "lr", "batch_size", "seed", "lr_over_b", "psi", "psi_lo", "psi_hi", "psi_r2", "n_used",
           "psi_verdict", "headline_estimator", "headline_psi", "headline_lo", "headline_hi", "headline_verdict",
           "top_variance", "total_variance", "pc1_ratio", "pc1_drift", "burn_in_epochs", "burn_in_accuracy",
           "continuous_median_ratio", "window_median_ratio", "hessian_vs_flatness", "noise_vs_flatness", "loss0",
           "warnings", "error")

#: Directions averaged into ``top_variance``: the leading non-drift principal directions.
TOP = 5


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep: its directory name, the swept values and the full configuration."""

    name: str
    values: dict
    config: RunConfig


@dataclass
class SweepResult:
    """What :func:`sweep` did.

    Attributes
    ----------
    out : Path
    rows : list[dict]
        One per point, in sweep order (the rows of ``results.csv``).
    ran, skipped, failed : list[str]
        Names of the runs computed now, found finished, and failed.
    seconds : float
    fits : dict
        ``variance_vs_lr_over_b`` (power-law fit; theory: exponent 1) and the ψ range.
    """

    __repr__ = concise_repr

    out: Path
    rows: list
    ran: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    seconds: float = 0.0
    fits: dict = field(default_factory=dict)


def _value(text: str):
    """A swept value from the command line: int, float, bool or string."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for kind in (int, float):
        try:
            return kind(t)
        except ValueError:
            pass
    return t


def parse_axes(specs) -> dict[str, list]:
    """``["lr=0.05,0.1", "seed=0,1"]`` → ``{"lr": [0.05, 0.1], "seed": [0, 1]}``.

    Examples
    --------
    >>> parse_axes(["lr=0.05,0.1", "batch_size=25,50"])
    {'lr': [0.05, 0.1], 'batch_size': [25, 50]}
    """
    axes: dict[str, list] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ConfigError(f"grid axis {spec!r} must look like name=v1,v2,… (e.g. lr=0.05,0.1,0.2).")
        if key in axes:
            raise ConfigError(f"grid axis {key!r} is given twice; list all its values once (e.g. {key}=a,b).")
        axes[key] = [_value(v) for v in values.split(",") if v.strip()]
    return axes


def _known_fields() -> set[str]:
    return set(config_fields())


def _slug(values: dict) -> str:
    text = "_".join(f"{k}={v}" for k, v in values.items())
    return re.sub(r"[^A-Za-z0-9=._+-]", "-", text) or "base"


def sweep_points(base: RunConfig, axes: dict | None = None, runs: list[dict] | None = None) -> list[SweepPoint]:
    """The points of a sweep: the Cartesian product of ``axes`` (a grid), or the explicit list ``runs`` of
    overrides — each applied to ``base`` (:func:`~sgdpotential.pipeline.config.with_overrides`: training fields go into
    ``train``). Unknown fields, empty axes and duplicate points are refused."""
    known = _known_fields()
    if (axes is None) == (runs is None):
        raise ConfigError("give either grid axes or a list of runs, not both (and not neither).")
    if axes is not None:
        for key, values in axes.items():
            if key not in known:
                raise ConfigError(f"unknown sweep field {key!r}; sweepable fields are {', '.join(sorted(known))}.")
            if not values:
                raise ConfigError(f"grid axis {key!r} has no values; give at least one (e.g. {key}=1,2).")
        overrides = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]
    else:
        overrides = []
        for i, r in enumerate(runs):
            if not isinstance(r, dict) or not r:
                raise ConfigError(f"run {i + 1} of the list must be a non-empty table of settings.")
            bad = sorted(set(r) - known)
            if bad:
                raise ConfigError(f"unknown sweep field {bad[0]!r} in run {i + 1}; sweepable fields are "
                                  f"{', '.join(sorted(known))}.")
            overrides.append(dict(r))
    points, seen = [], set()
    for values in overrides:
        name = _slug(values)
        if name in seen:
            raise ConfigError(f"the sweep lists the point {name!r} twice; remove the duplicate.")
        seen.add(name)
        cfg = with_overrides(base, where=f"point {name}", **values)  # unknown keys, types, bounds and choices
        points.append(SweepPoint(name, values, cfg))
    return points


def load_sweep(path) -> tuple[RunConfig, dict | None, list | None]:
    """A sweep file (TOML): the base run as in :func:`~sgdpotential.pipeline.config.load_config` (``preset``, top-level
    fields, ``[train]``), plus either a ``[grid]`` table of lists or ``[[runs]]`` tables of overrides.

    Returns (base, axes, runs): ``axes`` is the grid (``{}`` when the file has neither, for the command line
    to fill) and ``runs`` the list (``None`` for a grid).
    """
    data = read_toml(path, "sweep file")
    where = f"sweep file {str(path)!r}"
    grid, runs = data.pop("grid", None), data.pop("runs", None)
    if grid is not None and runs is not None:
        raise ConfigError(f"{where} has both [grid] and [[runs]]; keep one.")
    if grid is not None and not (isinstance(grid, dict) and all(isinstance(v, list) for v in grid.values())):
        raise ConfigError(f"{where}: [grid] must map each field to a list of values.")
    if runs is not None and not isinstance(runs, list):
        raise ConfigError(f"{where}: runs must be an array of tables ([[runs]]).")
    base = config_from_mapping(data, where)
    return base, (None if runs is not None else dict(grid or {})), runs


# ---------------------------------------------------------------------------------------------------- one run


def _finished(run_dir: Path, with_ladder: bool, page: bool) -> bool:
    """Every stage written (the report too when ``page``) and no failure recorded."""
    rd = RunDir(run_dir)
    needed = [RunDir.SUMMARY, *([RunDir.REPORT] if page else []), *([RunDir.LADDER] if with_ladder else [])]
    return not rd.has(RunDir.FAILED) and rd.has(*needed)


def _failed(run_dir: Path, error: str) -> None:
    """Record a failed run (the next sweep retries it from scratch)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        RunDir(run_dir).save(RunDir.FAILED, {"error": error})
    except OSError:
        pass


def _error(exc: Exception) -> str:
    """What results.csv says of a failure: a ConfigError's sentence as the command line prints it (a divergence
    names lr, step, epoch and loss), any other exception with its type."""
    return str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"


def run_point(config: dict, run_dir: str, with_ladder: bool = False, threads: int | None = None,
              pages: Pages = NO_PAGES) -> dict:
    """Run (or finish) one point of a sweep in ``run_dir``: every stage of :func:`~.stages.run_stages`. Never
    raises: a failure is returned as ``{"status": "failed", "error": …}`` and written to ``run_dir/failed.json``
    (the next sweep retries it from scratch). A run that was interrupted resumes from its checkpoint.
    Top-level and picklable, so that a process pool or a Ray task can call it."""
    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    try:
        import torch
        from threadpoolctl import threadpool_limits

        from ..dynamics.training import checkpoint_path
        from ..trajectory import Trajectory

        if threads:
            torch.set_num_threads(threads)
        with threadpool_limits(limits=threads):  # NumPy's BLAS too: sums in the same order on every backend
            store = run_dir / RunDir.TRAJECTORY
            resumable = checkpoint_path(store).exists() or (store.exists() and Trajectory.open(store).complete)
            if run_dir.exists() and ((run_dir / RunDir.FAILED).exists() or not resumable):
                shutil.rmtree(run_dir)  # a failed or barely started run: start it again
                resumable = False
            run_stages(run_dir, plan(ladder=with_ladder), config=RunConfig.from_dict(config), resume=resumable,
                       pages=pages, threads=threads)
        return {"status": "done", "seconds": time.perf_counter() - t0}
    except Exception as exc:  # a sweep records every failure and goes on
        error = _error(exc)
        _failed(run_dir, error)
        return {"status": "failed", "error": error, "seconds": time.perf_counter() - t0}


def run_group(configs: list[dict], run_dirs: list[str], with_ladder: bool = False, threads: int | None = None,
              progress=None, pages: Pages = NO_PAGES) -> list[dict]:
    """Run points that differ only in their seed (and/or lr) as replicas trained together
    (:func:`~sgdpotential.pipeline.record.record_replicas`), then the other stages of each. Finished runs are
    skipped; unfinished ones are started afresh together (replica batches are not resumable). Never raises:
    one result per run, as :func:`run_point` returns them."""
    t0 = time.perf_counter()
    out: list[dict | None] = [None] * len(configs)
    try:
        import torch
        from threadpoolctl import threadpool_limits

        if threads:
            torch.set_num_threads(threads)
        todo = [i for i, d in enumerate(run_dirs) if not _finished(Path(d), with_ladder, pages.run is not None)]
        for i in set(range(len(configs))) - set(todo):
            out[i] = {"status": "done", "seconds": None, "skipped": True}
        with threadpool_limits(limits=threads):
            fresh = [i for i in todo if not RunDir(run_dirs[i]).has(RunDir.RECORD) or RunDir(run_dirs[i]).has(
                RunDir.FAILED)]
            for i in fresh:
                shutil.rmtree(run_dirs[i], ignore_errors=True)
            batch = [i for i in fresh if not configs[i].get("ages")]  # later ages continue one run: recorded alone
            if batch:
                cfgs = [RunConfig.from_dict(configs[i]) for i in batch]
                used = stage_threads(cfgs[0].threads, cap=threads, mlp=is_mlp(cfgs[0]))  # as run_stages sets them
                with thread_limit(used["record"]):
                    record_replicas(cfgs, [Path(run_dirs[i]) for i in batch], progress=progress, threads=used)
            for i in todo:  # every replica is now recorded: the rest is per run
                out[i] = run_point(configs[i], run_dirs[i], with_ladder, threads, pages)
    except Exception as exc:  # the batch itself failed (e.g. one replica diverged): every unfinished run failed
        error = _error(exc)
        for i, d in enumerate(run_dirs):
            if out[i] is None:
                _failed(Path(d), error)
                out[i] = {"status": "failed", "error": error, "seconds": time.perf_counter() - t0}
    return out


# ---------------------------------------------------------------------------------------------------- engines


def _deliver(names: list[str], result, on_result) -> None:
    for name, r in zip(names, result if isinstance(result, list) else [result], strict=True):
        on_result(name, r)


def _local(jobs, workers: int, on_result):
    """A process pool (spawned workers: no torch state is forked), results as they finish."""

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(fn, *args): names for names, fn, args in jobs}
        for fut in as_completed(futures):
            _deliver(futures[fut], fut.result(), on_result)


def runtime_env(models=()) -> dict:
    """The Ray ``runtime_env`` that ships this package to every node of a cluster: its source folder as one of
    ``py_modules`` (Ray uploads it once and puts it first on each worker's import path, so a node needs Ray, torch
    and the dependencies, not sgdpotential), without bytecode caches, and this process's ``OMP_WAIT_POLICY``.
    The model factories ``module:function`` of ``models`` whose module is a file or package in the current folder
    (``--model mycnn:factory``) are shipped too, as the job's ``working_dir``: a new temporary folder holding only
    those (workers start in it, and the factory import looks in the current folder; the caller removes it)."""
    package = Path(__file__).resolve().parents[1]  # src/sgdpotential, without importing the API facade
    env: dict = {"py_modules": [str(package)], "excludes": ["__pycache__", "*.pyc"]}
    if os.environ.get("OMP_WAIT_POLICY"):  # the command's thread policy (pipeline/threads.py), on every node too
        env["env_vars"] = {"OMP_WAIT_POLICY": os.environ["OMP_WAIT_POLICY"]}
    local = {p for m in models if ":" in m for name in [m.split(":", 1)[0].split(".")[0]]
             for p in (Path.cwd() / f"{name}.py", Path.cwd() / name) if p.exists()}
    if local:
        folder = Path(tempfile.mkdtemp(prefix="sgdpotential-ray-"))
        for p in sorted(local):
            (shutil.copytree if p.is_dir() else shutil.copy2)(p, folder / p.name)
        env["working_dir"] = str(folder)
    return env


def _on_node(fn, *args):
    """Run ``fn(*args)`` in a Ray task and say where: (the node's id, the result)."""
    import ray

    return ray.get_runtime_context().get_node_id(), fn(*args)


@contextlib.contextmanager
def _ray_session(address: str | None, workers: int, models=()):
    """Ray for a sweep: joined at ``address`` (a cluster; the package travels in :func:`runtime_env`), or started
    here with ``workers`` CPUs, and stopped afterwards; an instance already running is used as it is."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("backend 'ray' needs Ray: pip install 'sgdpotential[ray]' (or use --backend local).") from exc
    if ray.is_initialized():
        if address:
            raise ConfigError(f"Ray is already running in this process, so address = {address!r} cannot be joined "
                              f"(nor the package shipped to it); call ray.shutdown() first, or leave address out to "
                              f"use the running instance.")
        yield ray
        return
    if address:
        _check_reachable(address)
    env: dict = {}
    try:
        env = runtime_env(models) if address else {}
        # a copy: ray.init rewrites the paths it uploads into gcs:// names, and the folder must be removed after
        kwargs = {"address": address, "runtime_env": copy.deepcopy(env)} if address else {"num_cpus": workers}
        try:
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kwargs)
        except ConnectionError as exc:
            raise ConfigError(_no_cluster(address, " ".join(str(exc).split()))) from exc
        yield ray
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if "working_dir" in env:
            shutil.rmtree(env["working_dir"], ignore_errors=True)


def _no_cluster(address: str, why: str) -> str:
    return (f"no Ray cluster answers at address = {address!r} ({why}); start one with 'ray start --head' and pass the "
            f"address it prints, or leave --address out to run Ray on this machine.")


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse a ``host:port`` where nothing listens, in one sentence (``ray.init`` itself retries for minutes);
    other forms (``auto``, ``ray://…``) are left to Ray."""
    host, _, port = address.rpartition(":")
    if not host or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(_no_cluster(address, exc.strerror or type(exc).__name__)) from exc


def _ray_jobs(ray, jobs, on_result, cpus_per_run: float, gpus_per_run: float) -> dict[str, str]:
    """One Ray task per job (a run, or a batch of replicas) declaring its resources, gathered with ``ray.wait`` as
    they finish. Returns the node id each run ran on."""
    nodes: dict[str, str] = {}
    remote = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=0)(_on_node)
    pending = {remote.remote(fn, *args): names for names, fn, args in jobs}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        names = pending.pop(done[0])
        try:
            node, result = ray.get(done[0])
            nodes.update(dict.fromkeys(names, node))
        except Exception as exc:  # the worker itself died (out of memory, killed node)
            result = [{"status": "failed", "error": f"{type(exc).__name__}: {exc}", "seconds": None}] * len(names)
        _deliver(names, result, on_result)
    return nodes


# ---------------------------------------------------------------------------------------------------- the sweep


def sweep(base: RunConfig, out, *, axes: dict | None = None, runs: list | None = None, backend: str = "local",
          workers: int | None = None, address: str | None = None, cpus_per_run: float | None = None,
          gpus_per_run: float = 0.0, with_ladder: bool = False, replicas: bool = False,
          progress: Callable[[str, int, int], None] | None = None, pages: Pages = NO_PAGES) -> SweepResult:
    """Run every point of a grid (``axes``) or list (``runs``) of configurations under ``out``.

    Parameters
    ----------
    base : RunConfig
        The settings every point starts from.
    out : path
        The sweep directory (created; an existing one is continued only if it holds the same sweep).
    axes, runs
        See :func:`sweep_points`.
    backend : {"local", "ray"}
        ``local``: a process pool of ``workers`` processes on this machine (default: one per core).
        ``ray``: one Ray task per run; ``address`` joins a running cluster (``ray.init(address=…)``),
        otherwise a local Ray instance with ``workers`` CPUs is started and stopped.
    cpus_per_run, gpus_per_run : float
        Resources each run declares (Ray) and torch threads per run (both engines; default: cores/workers).
    with_ladder : bool
        Add the model ladder to each run (costly; off by default).
    replicas : bool
        Points that differ only in ``seed`` are trained together as replicas in one job
        (:func:`~sgdpotential.dynamics.replicas.train_replicas`: several times the throughput of separate runs for small
        networks; results equal to separate runs up to floating-point summation order).
    progress : callable(phase, done, total), optional
    pages : Pages, optional
        The report pages of every run and of the sweep (``sgdpotential.report.PAGES``); without them none is written.

    Returns
    -------
    SweepResult

    Notes
    -----
    Every bad setting of every point is found before anything is written (the data set of each point is
    loaded to check batch sizes). Runs that raise are recorded as failed with their error and the sweep goes
    on; rerunning the same command skips finished runs, resumes interrupted ones and retries failed ones.
    """
    t0 = time.perf_counter()
    if backend not in BACKENDS:
        raise ConfigError(f"backend = {backend!r} is not one of {', '.join(BACKENDS)}.")

    cores = available_cores()
    workers = check_scalar(cores if workers is None else workers, "workers", int, min_val=1)
    # workers × threads ≤ cores here; on a cluster each run uses the CPUs it declares on its node
    threads = max(1, int(cpus_per_run) if cpus_per_run else 1 if backend == "ray" and address else cores // workers)
    points = sweep_points(base, axes, runs)
    _validate(points)
    out = Path(out).resolve()
    spec = {"schema": "sgdpotential.sweep/1", "base": base.to_dict(), "axes": axes, "runs": runs,
            "ladder": with_ladder, "replicas": replicas, "points": [p.name for p in points]}
    models = {p.config.model for p in points}
    # a cluster that does not answer is refused before anything is written
    with _ray_session(address, workers, models) if backend == "ray" and address else contextlib.nullcontext():
        earlier = _prepare(out, spec)

        statuses: dict[str, dict] = {}
        pending = []
        for p in points:
            rd = out / p.name
            if _finished(rd, with_ladder, pages.run is not None):
                statuses[p.name] = {"status": "done", "seconds": None, "skipped": True}
            else:
                pending.append(p)
        jobs = []
        for group in _groups(pending, replicas):
            names = [p.name for p in group]
            configs, dirs = [p.config.to_dict() for p in group], [str(out / p.name) for p in group]
            if len(group) == 1:
                jobs.append((names, run_point, (configs[0], dirs[0], with_ladder, threads, pages)))
            else:
                jobs.append((names, run_group, (configs, dirs, with_ladder, threads, None, pages)))
        done = len(points) - len(pending)
        if progress:
            progress("sweep", done, len(points))

        def on_result(name, result):
            nonlocal done
            statuses[name] = result
            done += 1
            if progress:
                progress("sweep", done, len(points))

        nodes: dict[str, str] = {}
        if jobs:
            if backend == "local":
                _local(jobs, min(workers, len(jobs)), on_result)
            else:
                with _ray_session(None, workers) as ray:  # the cluster joined above, or Ray started here now
                    nodes = _ray_jobs(ray, jobs, on_result, cpus_per_run or 1, gpus_per_run)

    rows = [_row(p, out / p.name, statuses[p.name]) for p in points]
    fits = _fits(rows)
    _write_table(out / RESULTS, rows, list(axes) if axes else sorted({k for r in (runs or []) for k in r}))
    seconds = time.perf_counter() - t0
    write_json_atomic(out / SWEEP_SPEC, {**spec, "backend": backend, "workers": workers, "seconds": seconds,
                                           "run_seconds": {n: s.get("seconds") for n, s in statuses.items()},
                                           **({"nodes": {**earlier.get("nodes", {}), **nodes}}  # kept across reruns
                                              if backend == "ray" else {}),
                                           "fits": fits})
    if pages.sweep is not None:
        pages.sweep(out, rows, fits, spec={**spec, "backend": backend, "workers": workers})
    return SweepResult(out, rows, ran=[n for j in jobs for n in j[0]], skipped=[p.name for p in points
                                                                       if statuses[p.name].get("skipped")],
                       failed=[r["name"] for r in rows if r["status"] != "done"], seconds=seconds, fits=fits)


def _groups(points: list[SweepPoint], replicas: bool) -> list[list[SweepPoint]]:
    """Jobs: one point each, or (replicas) the points that differ only in the training seed and/or the
    initialisation (``model_seed``) together."""
    if not replicas:
        return [[p] for p in points]
    groups: dict[str, list[SweepPoint]] = {}
    for p in points:
        d = p.config.to_dict()
        key = json.dumps({**d, "model_seed": None, "train": {k: v for k, v in d["train"].items() if k != "seed"}},
                         sort_keys=True)
        groups.setdefault(key, []).append(p)
    return list(groups.values())


def _validate(points: list[SweepPoint]) -> None:
    """Every point's settings against its data set and model, and that the theory models its optimizer,
    before anything runs (:func:`~sgdpotential.pipeline.network.build_network`)."""
    from ..nn.data import load_dataset

    data: dict = {}
    for p in points:
        try:
            if p.config.dataset not in data:
                data[p.config.dataset] = load_dataset(p.config.dataset)
            build_network(p.config, data=data[p.config.dataset])
            analysable(p.config)
        except ConfigError as exc:
            raise ConfigError(f"point {p.name}: {exc}") from exc


def _prepare(out: Path, spec: dict) -> dict:
    """Create the sweep directory, or accept it when it holds the same sweep; returns what an earlier invocation
    recorded in ``sweep.json`` (empty for a new sweep)."""
    marker = out / SWEEP_SPEC
    if marker.exists():
        old = json.loads(marker.read_text())
        if {k: old.get(k) for k in spec} != spec:
            raise ConfigError(f"{str(out)!r} holds a different sweep; rerun it with the same settings or choose a new "
                              f"--out.")
        return old
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"output folder {str(out)!r} is not empty and holds no sweep; choose a new --out.")
    if not out.parent.is_dir():
        raise ConfigError(f"the parent folder of {str(out)!r} does not exist; create it first.")
    try:
        out.mkdir(exist_ok=True)
        write_json_atomic(marker, spec)
    except OSError as exc:
        raise ConfigError(f"cannot write the sweep folder {str(out)!r} ({exc.strerror or exc}); choose another "
                          f"--out.") from exc
    return {}


def _row(p: SweepPoint, run_dir: Path, status: dict) -> dict:
    tcfg = p.config.train_config()
    row = {**p.values, "name": p.name, "status": status["status"], "lr": tcfg.lr,
           "batch_size": tcfg.batch_size, "seed": tcfg.seed, "lr_over_b": tcfg.lr / tcfg.batch_size,
           "error": status.get("error")}
    if status["status"] != "done":
        return row
    rd = RunDir(run_dir)
    s, pca = rd.load(RunDir.SUMMARY), rd.load(RunDir.PCA)
    ivf = s["ivf"]
    drift = pca["drift"]
    top = pca["variances"][drift <= DRIFT_MAX][:TOP]
    ex = s["exponents"]
    psi_claim = next((c for c in (s.get("findings") or {}).get("claims", []) if c["key"] == "psi"), None)
    head = (s.get("findings") or {}).get("headline") or {}  # the estimator the calibration supports
    row.update({
        "headline_estimator": head.get("estimator"), "headline_psi": head.get("psi"),
        "headline_lo": (head.get("ci95") or [None, None])[0], "headline_hi": (head.get("ci95") or [None, None])[1],
        "headline_verdict": head.get("verdict"),
        "psi": ivf["psi"], "psi_lo": ivf["ci95"][0] if ivf["ci95"] else None,
        "psi_hi": ivf["ci95"][1] if ivf["ci95"] else None, "psi_r2": ivf["r2"], "n_used": ivf["n_used"],
        "psi_verdict": psi_claim["verdict"] if psi_claim else "inconclusive",
        "top_variance": float(np.mean(top)) if top.size else None, "total_variance": s["pca"]["total_variance"],
        "pc1_ratio": s["pca"]["pc1_ratio"], "pc1_drift": s["pca"]["pc1_drift"],
        "burn_in_epochs": s["burn_in"]["epochs"], "burn_in_accuracy": s["burn_in"]["accuracy"],
        "continuous_median_ratio": s["lyapunov"].get("continuous", {}).get("median_ratio"),
        "window_median_ratio": s["lyapunov"].get("window_from_w0", {}).get("median_ratio"),
        "hessian_vs_flatness": (ex.get("hessian_diag_vs_flatness") or {}).get("exponent"),
        "noise_vs_flatness": (ex.get("noise_diag_vs_flatness") or {}).get("exponent"),
        "loss0": s["loss0"], "warnings": ";".join(w["name"] for w in s.get("warnings", [])),
    })
    return row


def _fits(rows: list[dict]) -> dict:
    """Across the finished runs: variance against α/B (the claim of :data:`~sgdpotential.claims.SWEEP_CLAIMS`,
    with its verdict in ``findings``), the range of ψ and how many runs' ψ verdicts read each word."""

    ok = [r for r in rows if r["status"] == "done" and r.get("top_variance")]
    out: dict = {"n_done": len(ok), "n_failed": sum(r["status"] != "done" for r in rows)}
    x = np.array([r["lr_over_b"] for r in ok])
    if len(ok) >= 3 and np.unique(x).size >= 2:
        f = fit_power_law(x, np.array([r["top_variance"] for r in ok]))
        out["variance_vs_lr_over_b"] = {"exponent": f.exponent, "ci95": list(f.ci), "r2": f.r2, "n": f.n}
    psis = [r["psi"] for r in ok if r.get("psi") is not None]
    if psis:
        out["psi_range"] = [float(min(psis)), float(max(psis))]
        out["psi_median"] = float(np.median(psis))
    out["psi_verdicts"] = {w: sum(r.get("psi_verdict") == w for r in ok) for w in ("consistent", "inconsistent",
                                                                                    "inconclusive")}
    out["findings"] = sweep_findings(out.get("variance_vs_lr_over_b"))
    return out


def _write_table(path: Path, rows: list[dict], axis_names: list[str]) -> None:
    cols = [c for c in axis_names if c not in COLUMNS] + list(COLUMNS)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: _cell(r.get(c)) for c in cols})
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())


def _cell(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return repr(v) if isinstance(v, float) else v
