"""The sample spectra of replayed windows: the exact law of the window for a loss that is quadratic per sample.

The sample-spectrum comparison (:func:`~sgdpotential.pipeline.analysis.compare_sample_spectrum`) needs windows
drawn from a model of the run. The linear law (:meth:`~sgdpotential.theory.LinearSGD.sample_spectra`) draws them
from H_P and C̄_P — second moments — which is exact with replacement, but with one permutation per epoch the
second moments do not close: the minibatch curvature of a step is correlated with the samples that the epoch has
already used, through the per-sample third moments of (A_k, r_k) (``reshuffled_minibatches`` warning; measured
1.3–1.7% on the exactly solvable case). A replay does not go through moments at all: SGD on the second-order
expansion of the loss around ω0 with each step's minibatch Hessian and minibatch gradient (paper Eq. 20,
:func:`~sgdpotential.dynamics.replay.linearized_replay`), in *all* the network's weights, drawn by the run's own
sampler (same scheme, fresh seeds) and stepped by the run's optimizer. On a loss that is quadratic per sample
(a linear model with squared error) that *is* SGD, so its windows have exactly the law of the run's window.

Each replayed window starts where the run's window did — every weight as it opened (the store's ``start_all``), so
it is drawn from the law of the window *given its start*: the directions slower than the window drift as the run's
did, not from a stationary start.
"""

from __future__ import annotations

import shutil
import tempfile

import numpy as np

from .._validation import check_scalar
from .rundir import RunDir
from .threads import is_mlp, kind_threads, thread_limit

__all__ = ["STORE_BUDGET", "optimizer_of", "replayed_spectra", "window_start"]

#: Bytes of replayed snapshots on disk at once: the paths that step together (one pass per step) are as many as fit.
STORE_BUDGET = 1 << 30


def optimizer_of(tcfg, rd) -> dict:
    """The replay's step, as the run's optimizer takes it (Adam/RMSprop with the window's frozen preconditioner)."""
    if tcfg.optimizer == "adam":
        return {"momentum": tcfg.beta1, "dampening": tcfg.beta1, "preconditioner": rd.preconditioner()}
    if tcfg.optimizer == "rmsprop":
        return {"preconditioner": rd.preconditioner()}
    return {"momentum": tcfg.momentum}


def window_start(obj, recorded, store) -> tuple[object, str]:
    """All of ``obj``'s weights where the window of ``store`` began, and how that is known: ``"window"`` — as the
    window opened, before its first step (:attr:`~sgdpotential.trajectory.Trajectory.start_all`) — or, for a store
    written before it kept that, ``"first snapshot"``: the first snapshot over the ``recorded`` parameters (in the
    objective's order, as the store keeps them) and the window mean ``obj.w_base`` elsewhere."""
    import torch

    if store.start_all is not None:
        return obj.check_w(store.start_all, "start_all"), "window"
    start = obj.w_base.clone()
    start[obj.selection.positions(recorded, obj.device)] = torch.as_tensor(store.read(0, 1)[0], dtype=obj.dtype,
                                                                           device=obj.device)
    return start, "first snapshot"


def replayed_spectra(run_dir, paths: int, *, net=None) -> tuple[np.ndarray, str]:
    r"""The PCA spectra of ``paths`` replayed windows of a recorded run, each analysed as the run's window is.

    The paths are :func:`~sgdpotential.dynamics.replay.linearized_replays` (``hessian="batch"``, ``noise="sgd"``,
    stepped together in groups whose stores fit in :data:`STORE_BUDGET`), each
    for the window's T·stride steps: w_{t+1} = w_t − α(g^{B_t}(ω0) + H^{B_t}(w_t − ω0)), ω0 the window mean of all
    weights, B_t drawn by the run's sampling scheme with seed (run seed, path), started where the window opened
    (:func:`window_start`), with the run's momentum or frozen preconditioner (a heavy-ball buffer starts at
    0: a transient of ~1/(1 − μ) steps). The recorded weights' snapshots then go through the run's PCA
    (:func:`~sgdpotential.trajectory.trajectory_pca`, K components).

    Exact in law for a loss quadratic per sample (linear model, squared error) under either sampling scheme; for a
    network, the minibatch-Hessian linearization of Eq. (20), the ladder's ``batch`` rung. The replayed windows
    are written to a temporary folder in the run directory and removed.

    Raises
    ------
    TrainingDiverged
        When a replay leaves the finite numbers (the quadratic model of a network can be unstable); nothing is left.

    Returns
    -------
    spectra : (paths, K) ndarray
        Descending sample variances of each replayed window.
    start : str
        Where they started (:func:`window_start`): ``"window"``, or ``"first snapshot"`` for an older store.

    Notes
    -----
    Cost: per path and step one minibatch gradient and Hessian-vector product, shared by the paths of a dense
    network (:func:`~sgdpotential.dynamics.replay.linearized_replays`), and a PCA of each window. The replays run
    on the ``steps`` threads (:func:`~sgdpotential.pipeline.threads.kind_threads`). Measured with
    ``bench/bench_replayed.py`` (2026-12-03, 1 thread): 20 feng-tu windows of 1,000 steps in all 42,310 weights take
    30 s — 0.95× the window's other probes, 12× one SGD window, 0.61× the paths one after another; on the 650-weight
    linear model 20 windows of 560 steps take 1.0× the probes, 0.31× one after another. Off by default
    (``replay_paths``).
    """
    import torch

    from ..dynamics.replay import linearized_replays
    from ..nn.models import select_parameters
    from ..trajectory import Trajectory, trajectory_pca

    check_scalar(paths, "paths", int, min_val=1, fix="the number of windows to replay")
    rd = RunDir(run_dir)
    cfg, tcfg, rec, pca, _ = rd.stored(probes=False)
    net = rd.network() if net is None else net
    obj = net.objective("all", base=pca["mean_all"])
    recorded = select_parameters(net.model, cfg.params).names
    start, how = window_start(obj, recorded, Trajectory.open(rd / RunDir.TRAJECTORY))
    K = pca["components"].shape[0]
    steps = int(rec["n_snapshots"]) * int(tcfg.stride)
    seeds = [int(np.random.SeedSequence([tcfg.seed, 2, p]).generate_state(1)[0]) for p in range(paths)]
    # the paths step together; a group's stores (float32 snapshots of the recorded weights) fit in STORE_BUDGET
    group = max(1, min(paths, STORE_BUDGET // (4 * int(rec["n_snapshots"]) * pca["components"].shape[1])))
    # stepping work, inside the probe stage: on the "steps" threads (measured 1.23× faster on 1 thread than on 2)
    threads = kind_threads("steps", cfg.threads, cap=torch.get_num_threads(), mlp=is_mlp(cfg))
    out = np.empty((paths, K))
    folder = tempfile.mkdtemp(prefix="replayed-", dir=rd.path)
    try:
        for first in range(0, paths, group):
            chosen = range(first, min(first + group, paths))
            with thread_limit(threads):
                results = linearized_replays(obj, obj.w_base, tcfg.lr, tcfg.batch_size, steps,
                                             stores=[f"{folder}/{p}.zarr" for p in chosen],
                                             seeds=[seeds[p] for p in chosen], hessian="batch", noise="sgd",
                                             sampling=tcfg.sampling, start=start, stride=int(tcfg.stride),
                                             record=recorded, **optimizer_of(tcfg, rd))
            for p, r in zip(chosen, results, strict=True):
                out[p] = trajectory_pca(r.trajectory, K).variances[:K]
                shutil.rmtree(f"{folder}/{p}.zarr")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out, how
