"""The recording stage: train, record the window into ``trajectory.zarr``, and write its PCA (``pca.npz``,
``record.json``). One run at a time (:func:`record`) or several seeds trained together (:func:`record_replicas`)."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .._atomic import atomic_write
from .._repr import concise_repr
from ..errors import ConfigError
from .config import RunConfig
from .network import Network, build_network
from .rundir import RunDir, provenance
from .threads import available_cores

__all__ = ["RecordResult", "record", "record_ages", "record_replicas"]


@dataclass
class RecordResult:
    """What :func:`record` produced in the run directory.

    Attributes
    ----------
    run_dir : Path
    train : TrainResult
    pca : PCAResult
    seconds : dict
        Wall time of ``load``, ``burn_in``, ``window`` and ``pca`` in this process.
    """

    __repr__ = concise_repr

    run_dir: Path
    train: object
    pca: object
    seconds: dict


def _store_metadata(net: Network) -> dict:
    c = net.config
    return {"model": c.model, "widths": net.widths, "activation": c.activation, "model_seed": c.model_seed}


def record(config: RunConfig, run_dir, *, resume: bool = False, progress=None, network: Network | None = None,
           threads: dict | None = None) -> RecordResult:
    """Train, record the window into ``run_dir/trajectory.zarr`` and write its PCA to ``run_dir/pca.npz``.

    ``pca.npz`` holds ``mean`` (ω0 of the recorded subset), ``mean_all`` (ω0 of all parameters),
    ``components``, ``variances``, ``projections``, ``explained_variance_ratio``, ``drift``,
    ``null_ratio``, ``spectrum`` (every variance computed) with its random-walk ``null_spectrum``,
    ``steps``, the K-scan's ``scan_components``, ``scan_variances``, ``scan_drift`` (K_max ≥ K directions,
    :func:`~sgdpotential.trajectory.pca.scan_limit`, the first K equal to ``components``), and the held-out basis
    (:func:`~sgdpotential.trajectory.pca.heldout_pca`: directions
    ``heldout_components`` from the first half of the window, ``heldout_variances`` and ``heldout_drift`` of
    the second half along them, ``heldout_selection_variances`` of the first, ``heldout_split``); its scalars
    (total variance, alignment, γ, n90, method) go to ``run_dir/record.json`` with
    the timings, the burn-in outcome and the provenance of the recording (versions, commit, date, threads,
    device). Every setting is validated before the folder is touched; a fresh run that cannot go on (SGD
    diverged) leaves nothing behind, an interrupted one keeps everything for ``resume``.
    """
    from ..dynamics.training import train

    rd = RunDir(run_dir)
    net = network or build_network(config)
    seconds = {"load": net.seconds}
    if resume:
        rd.check_resumable(config)
        created = False
    else:
        created = rd.create(config)
    try:
        tr = train(net.model, net.data, net.train, rd / RunDir.TRAJECTORY, params=config.params, resume=resume,
                   metadata=_store_metadata(net), progress=progress)
    except ConfigError:
        if not resume:
            rd.discard(created)
        raise
    if config.ages and tr.state is not None:
        _save_state(rd, tr.state)  # where the later ages continue from
    return _finish_record(rd, net, tr, seconds, threads)


def _threads(config: RunConfig, used: dict | None) -> dict:
    """The thread setting of ``config``, the cores available and the count each stage used
    (:func:`~sgdpotential.pipeline.stages.run_stages` sets them; ``None`` when called outside it, where
    ``torch_threads`` alone says what the recording used)."""
    return {"setting": config.threads, "cores": available_cores(), "stages": used}


def _save_state(rd: RunDir, state: dict) -> None:
    import torch

    with atomic_write(rd / RunDir.WINDOW_END, "wb") as fh:
        torch.save(state, fh)


def age_config(config: RunConfig, age: int) -> RunConfig:
    """The configuration of the window at ``age`` of ``config``'s training run (no further ages)."""
    return replace(config, ages=[], train={**config.train, "age_epochs": int(age)})


def record_ages(config: RunConfig, run_dir, *, progress=None, threads: dict | None = None) -> list[RecordResult]:
    """The later windows of ``config.ages``: continue the run's training from the end of each window
    (``window_end.pt``) to the next age and record it into ``ages/age-<a>/``, a complete run directory.

    One training run: the windows are the ones a fresh run with ``age_epochs = a`` records (training is
    deterministic; tested), without retraining the prefix. A finished age is kept; an unfinished one is redone
    from the end of the window before it.
    """
    import torch

    from ..dynamics.training import train

    rd = RunDir(run_dir)
    previous, results = rd, []
    for age, child in rd.age_dirs(config):
        if child.has(RunDir.RECORD, RunDir.WINDOW_END):
            previous = child
            continue
        if not previous.has(RunDir.WINDOW_END):
            raise ConfigError(f"{str(previous.path)!r} has no {RunDir.WINDOW_END} to continue the training from; "
                              f"rerun it without --resume.")
        if child.path.exists():
            shutil.rmtree(child.path)
        child.path.parent.mkdir(exist_ok=True)
        cfg = age_config(config, age)
        net = build_network(cfg)
        created = child.create(cfg)
        try:
            start = torch.load(previous / RunDir.WINDOW_END, map_location=net.train.device, weights_only=False)
            tr = train(net.model, net.data, net.train, child / RunDir.TRAJECTORY, params=cfg.params,
                       metadata=_store_metadata(net), progress=progress, start=start)
            _save_state(child, tr.state)
        except BaseException:
            child.discard(created)
            raise
        results.append(_finish_record(child, net, tr, {"load": net.seconds}, threads))
        previous = child
    return results


def record_replicas(configs: list[RunConfig], run_dirs: list, *, progress=None, threads: dict | None = None
                    ) -> list[RecordResult]:
    """:func:`record` for several runs that differ only in the training ``seed``, ``lr`` and/or ``model_seed`` (the
    initialisation), trained together
    (:func:`~sgdpotential.dynamics.replicas.train_replicas`); each run directory is exactly what :func:`record`
    writes. Fresh runs only: a failure removes every directory this call created."""
    from ..dynamics.replicas import VARYING, train_replicas

    if not configs or len(configs) != len(run_dirs):
        raise ConfigError(f"give one run directory per configuration ({len(configs)} and {len(run_dirs)}).")

    def shared(c: RunConfig) -> dict:
        d = c.to_dict()
        return {**d, "model_seed": None, "train": {k: v for k, v in d["train"].items() if k not in VARYING}}

    if any(shared(c) != shared(configs[0]) for c in configs):
        raise ConfigError("replicas may differ only in the training seed, lr and model_seed; run the others "
                          "separately.")
    nets = [build_network(configs[0])]
    nets += [build_network(c, data=nets[0].data) for c in configs[1:]]  # validates every replica's settings
    load = sum(n.seconds for n in nets)
    dirs = [RunDir(d) for d in run_dirs]
    created = []
    try:
        for c, d in zip(configs, dirs, strict=True):
            created.append((d, d.create(c)))
        trs = train_replicas([n.model for n in nets], nets[0].data, [n.train for n in nets],
                             [d / RunDir.TRAJECTORY for d in dirs], params=configs[0].params,
                             metadata=[_store_metadata(n) for n in nets], progress=progress)
    except BaseException:
        for d, new in created:
            d.discard(new)
        raise
    return [_finish_record(d, n, tr, {"load": load, "burn_in": 0.0, "window": tr.window_seconds}, threads)
            for d, n, tr in zip(dirs, nets, trs, strict=True)]


def _finish_record(rd: RunDir, net: Network, tr, seconds: dict, threads: dict | None = None) -> RecordResult:
    """PCA of the recorded window → ``pca.npz`` and ``record.json``."""
    from ..trajectory import random_walk_null, trajectory_pca
    from ..trajectory.pca import heldout_pca, scan_limit, stationarity

    seconds["burn_in"], seconds["window"] = tr.burn_in_seconds, tr.window_seconds
    if tr.preconditioner is not None:  # Adam / RMSprop: the preconditioner as the window opened and closed
        from ..nn.models import select_parameters

        where = select_parameters(net.model, "all").positions(tr.selection.names)
        recorded = (np.arange(tr.preconditioner["start"].size)[where] if isinstance(where, slice) else
                    where.cpu().numpy())
        rd.save(RunDir.PRECONDITIONER, start=tr.preconditioner["start"], end=tr.preconditioner["end"],
                recorded=recorded)
    buffers = {k: v.detach().cpu().numpy() for k, v in net.model.named_buffers()}
    if buffers:  # BatchNorm's running statistics at the window's end: what the probes' eval mode uses
        rd.save(RunDir.BUFFERS, **buffers)
    t = time.perf_counter()
    T, N = tr.trajectory.n_snapshots, tr.trajectory.n_params
    K = min(net.config.components, T - 1, N)
    k_max = scan_limit(K, T, N)
    scan = trajectory_pca(tr.trajectory, k_max)  # the K-scan's directions; the analysis uses the first K
    pca = scan.first(K)
    if not pca.total_variance > 0:  # every later ratio would divide by it
        b = tr.trajectory.metadata["burn_in"]
        raise ConfigError(
            f"the {tr.selection.size} recorded weights did not move over the window's {tr.window_steps} steps (zero "
            f"variance; burn-in ended at training accuracy {b['accuracy']:.3f}) with lr = {net.train.lr:g}: SGD is "
            f"frozen or the network is dead, so there is nothing to analyse — try another lr or record other "
            f"parameters (--params).")
    held = heldout_pca(tr.trajectory, k_max) if T >= 8 else None  # directions ≠ the variances' sample
    fdr = stationarity(tr.trajectory) if T >= 3 else None
    seconds["pca"] = time.perf_counter() - t
    rd.save(RunDir.PCA, mean=pca.mean, mean_all=tr.trajectory.mean_all, components=pca.components,
            variances=pca.variances, projections=pca.projections,
            explained_variance_ratio=pca.explained_variance_ratio, drift=pca.drift, null_ratio=pca.null_ratio,
            spectrum=pca.spectrum, null_spectrum=random_walk_null(pca.n_snapshots, pca.spectrum.size),
            steps=tr.trajectory.steps, scan_components=scan.components, scan_variances=scan.variances,
            scan_drift=scan.drift,
            **({} if held is None else {
                "heldout_components": held.components, "heldout_selection_variances": held.selection_variances,
                "heldout_variances": held.variances, "heldout_drift": held.drift,
                "heldout_split": np.array(held.split)}))
    rd.save(RunDir.RECORD, {
        "burn_in": tr.trajectory.metadata["burn_in"],
        "n_train": net.sampling_n_train,
        "window_steps": tr.window_steps, "steps_per_epoch": tr.steps_per_epoch, "n_snapshots": pca.n_snapshots,
        "n_params": tr.trajectory.n_params, "pca": {
            "method": pca.method, "total_variance": pca.total_variance, "mean_alignment": pca.mean_alignment,
            "tail_exponent": pca.tail_exponent, "n_components_90": pca.n_components_90,
            "pc1_ratio": float(pca.explained_variance_ratio[0]), "null_pc1_ratio": float(pca.null_ratio[0]),
            "pc1_drift": float(pca.drift[0])},
        "stationarity": None if fdr is None else {"fdr_ratio": fdr.fdr_ratio, "se": fdr.se},
        "seconds": seconds, "resumed": tr.resumed,
        "provenance": provenance(net.train.device, _threads(net.config, threads)),
    })
    return RecordResult(rd.path, tr, pca, seconds)
