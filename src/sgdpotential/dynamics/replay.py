"""Linearized SGD replays: SGD on the second-order expansion of the loss around ω0, in the full weight space.

The paper explains the inverse variance–flatness relation with a *linear* SDE — force αH, diffusion C
(Eqs. 4, 17–19) — and its minibatch version with a minibatch Hessian (Eq. 20). A replay runs exactly
that model on real data, in every weight the objective holds (not just a principal subspace)::

    w ← w − α (g^•(ω0) + H^•(w − ω0))

with H^• the minibatch Hessian H^μ (``hessian="batch"``: Eq. 20) or the full-batch H (``"full"``: the
linear SDE of Eqs. 4/17), and g^• the minibatch gradient g^μ(ω0) (``noise="sgd"``), the full gradient plus
isotropic Gaussian noise of the same total variance (``"isotropic"``: the Einstein control), or the full
gradient alone (``"none"``: deterministic relaxation). It records into the same trajectory store as real
training, so PCA, flatness and the IVF fit apply unchanged (:mod:`sgdpotential.pipeline.ladder`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._repr import concise_repr
from .._validation import check_scalar
from ..errors import ConfigError
from ..nn.models import requested_names
from ..nn.objective import Objective
from ..nn.probes.noise import gradient_noise_trace
from ..nn.probes.operators import HessianOperator, MinibatchHessians
from ..theory.lyapunov import sampling_factor
from ..trajectory import Trajectory
from .optimizers import diverged
from .recorder import WindowRecorder
from .sampler import SAMPLING, MinibatchSampler

__all__ = ["HESSIANS", "NOISES", "ReplayResult", "linearized_replay", "linearized_replays"]

HESSIANS = ("batch", "full")
NOISES = ("sgd", "isotropic", "none")


@dataclass
class ReplayResult:
    """What :func:`linearized_replay` recorded.

    Attributes
    ----------
    trajectory : Trajectory
        Snapshots of the recorded parameters every ``stride`` steps (``mean_all``: the time average of
        every variable of the objective).
    hessian, noise : str
    steps, stride, warmup : int
    noise_std : float or None
        Per-coordinate standard deviation of the isotropic gradient noise (``noise="isotropic"``).
    seconds : float
        Wall time of the recorded steps.
    steps_per_second : float
    """

    __repr__ = concise_repr

    trajectory: Trajectory
    hessian: str
    noise: str
    steps: int
    stride: int
    warmup: int
    noise_std: float | None
    seconds: float
    steps_per_second: float


def _record_index(obj: Objective, record) -> tuple[slice | torch.Tensor, int, list[str]]:
    """Positions of the recorded parameters inside the objective's flat vector, their count and names."""
    names = obj.selection.names
    if record is None:
        return slice(0, obj.n_params), obj.n_params, list(names)
    wanted = set(requested_names(record))
    unknown = sorted(wanted - set(names))
    if unknown or not wanted:
        raise ConfigError(f"record names {unknown[0] if unknown else ''!r}, which the objective does not hold; "
                          f"choose among {', '.join(names)}.")
    chosen = [n for n in names if n in wanted]
    size = sum(int(np.prod(s)) for n, s in zip(names, obj.selection.shapes, strict=True) if n in wanted)
    return obj.selection.positions(chosen, obj.device), size, chosen


def _check_settings(obj, lr, batch_size, steps, hessian, noise, sampling, stride, warmup, momentum, dampening):
    for name, value, allowed in (("hessian", hessian, HESSIANS), ("noise", noise, NOISES),
                                 ("sampling", sampling, SAMPLING)):
        if value not in allowed:
            raise ConfigError(f"{name} = {value!r} is not one of {', '.join(allowed)}.")
    check_scalar(lr, "lr", float, min_val=0, include_boundaries="neither", fix="e.g. 0.1")
    check_scalar(momentum, "momentum", float, min_val=0, max_val=1, include_boundaries="left",
                 fix="heavy-ball μ in [0, 1), as in the real run")
    check_scalar(dampening, "dampening", float, min_val=0, max_val=1, include_boundaries="left",
                 fix="0 for SGD's heavy ball, β1 for Adam's first moment")
    check_scalar(batch_size, "batch_size", int, min_val=1, max_val=obj.n_train,
                 fix=f"a minibatch cannot exceed the {obj.n_train} training samples")
    for name, value, low in (("steps", steps, 2), ("stride", stride, 1), ("warmup", warmup, 0)):
        check_scalar(value, name, int, min_val=low)
    if steps // stride < 2:
        raise ConfigError(f"steps = {steps} with stride {stride} gives {steps // stride} snapshot(s); a PCA needs at "
                          f"least 2 — replay more steps or reduce the stride.")


def _force(obj: Objective, w0: torch.Tensor, batch_size: int, hessian: str, noise: str,
           samplers: list[MinibatchSampler], seeds: list[int]):
    """X ↦ the rows g^•_r(ω0) + H^•_r x_r for R paths at once (each drawing its own minibatch), and the
    isotropic noise's std.

    The products come from the curvature operators: :class:`~sgdpotential.nn.probes.operators.MinibatchHessians`
    (R > 1 paths of a dense network: one double backward over R·B samples gives every path's g and H x) and a
    :class:`~sgdpotential.nn.probes.operators.HessianOperator` with its graph kept for the full Hessian, whose
    products stay one per path: they are bound by their arithmetic, and ``is_grads_batched`` measured no faster
    (``bench/bench_replay.py``)."""
    device = obj.device
    # ∇L(ω0); with the full Hessian every chunk's graph is kept and each step's products are reverse passes
    # through it (reverse-over-reverse: 2.2× faster than forward-over-reverse at one vector, bench_replay.py)
    full = HessianOperator(obj, w0, method="graph" if hessian == "full" else "jvp")
    g_full = full.gradient
    noise_std = gens = None
    if noise == "isotropic":
        kappa = sampling_factor(obj.n_train if samplers[0].sampling == "shuffle" else None, batch_size)
        noise_std = float(np.sqrt(gradient_noise_trace(obj, w0) * kappa / batch_size / obj.n_params))
        gens = [torch.Generator(device=device).manual_seed(int(np.random.SeedSequence([s, 1]).generate_state(1)[0]))
                for s in seeds]

    def force(X: torch.Tensor) -> torch.Tensor:
        if hessian == "batch":  # each path's minibatch Hessian at ω0, the graphs gone after the products
            minibatch = MinibatchHessians(obj, w0, [s.next() for s in samplers])
            HX, G = minibatch.products(X), minibatch.gradients
        else:
            HX = full.rows(X)
            if noise == "sgd":
                G = MinibatchHessians(obj, w0, [s.next() for s in samplers], graph=False).gradients
        if noise == "isotropic":
            G = g_full + noise_std * torch.stack([torch.randn(X.shape[1:], generator=gen, device=device,
                                                              dtype=X.dtype) for gen in gens])
        elif noise == "none":
            G = g_full.expand_as(X)
        return G + HX

    return force, noise_std


def linearized_replay(
    obj: Objective,
    w0,
    lr: float,
    batch_size: int,
    steps: int,
    *,
    store,
    hessian: str = "batch",
    noise: str = "sgd",
    sampling: str = "shuffle",
    seed: int = 0,
    momentum: float = 0.0,
    dampening: float = 0.0,
    preconditioner=None,
    start=None,
    stride: int = 1,
    warmup: int = 0,
    record: str | Sequence[str] | None = None,
    metadata: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ReplayResult:
    r"""SGD on the quadratic expansion of the loss around ω0 (paper Eqs. 4, 17, 20), recorded like real SGD.

    .. math:: w_{t+1} = w_t - \alpha\,\big(g^\bullet(\omega_0) + H^\bullet (w_t - \omega_0)\big)

    — with heavy-ball momentum μ > 0 exactly as ``torch.optim.SGD(momentum=μ, dampening=d)`` steps:
    b ← μb + (1 − d)f, w ← w − αp ⊙ b, f the force above, b = 0 at the start (:mod:`~sgdpotential.theory.momentum`)
    and p a frozen diagonal preconditioner (1 without one). Adam with its second moment frozen is μ = d = β1,
    p = 1/(√v̂ + ϵ); RMSprop is μ = d = 0 with p (:mod:`~sgdpotential.theory.adaptive`).

    Parameters
    ----------
    obj : Objective
        The loss over the weights to replay (usually *all* of them: the coupling to the other layers is
        the point), expanded at ``w0``.
    w0 : (N,) tensor
        The expansion point ω0 (e.g. the window mean of a real run, ``mean_all``).
    lr, batch_size : float, int
        α and B, as in the real run.
    steps : int
        Recorded steps (after ``warmup`` unrecorded ones).
    store : path
        The trajectory store to create (must not exist).
    hessian : {"batch", "full"}
        H^μ of each step's minibatch, or the full-batch Hessian H.
    noise : {"sgd", "isotropic", "none"}
        g^μ(ω0) of the step's minibatch; g(ω0) + ξ with ξ ~ N(0, s²I), s² = tr Cov(g^μ)/N (the same total
        variance as minibatch noise, :func:`~sgdpotential.nn.probes.noise.gradient_noise_trace`); or g(ω0).
    sampling, seed : str, int
        Minibatches exactly as :func:`~sgdpotential.train` draws them (same sampler, same seed → same
        minibatches); the isotropic noise has its own generator derived from ``seed``.
    momentum, dampening : float
        Heavy-ball μ ∈ [0, 1) and dampening d ∈ [0, 1), as above (0, 0: plain SGD).
    preconditioner : (N,) tensor or array, optional
        The frozen diagonal preconditioner p over the objective's weights (Adam/RMSprop runs).
    start : (N,) tensor, optional
        Initial weights (default ω0).
    stride, warmup : int
        A snapshot every ``stride`` steps; ``warmup`` steps before recording starts.
    record : names, optional
        Parameter names (of the objective's) recorded in the snapshots, e.g. the hidden weights of a run;
        default: all of the objective's.
    metadata : dict, optional
        Extra JSON-ready entries for the store.
    progress : callable(phase, done, total), optional

    Returns
    -------
    ReplayResult

    Raises
    ------
    ConfigError
        Bad settings; :class:`~sgdpotential.TrainingDiverged` when the replay leaves the finite numbers
        (α λ_max(H) ≥ 2, or negative curvature growing). Either way the store is removed.

    Notes
    -----
    One Hessian-vector product per step, by double backward (reverse-over-reverse): the minibatch gradient
    at ω0 with its graph, then the product with w − ω0 — and the gradient g^μ(ω0) comes free with it.
    Measured 2.2× faster than ``torch.func``'s ``jvp(grad(·))`` at B = 50 (``bench/bench_replay.py``), where
    dispatch overhead dominates. With ``hessian="full"`` the graph of the full-batch gradient at ω0 is built
    once and reused by every step (one backward pass over N_L samples per step). Cost per step: batch ≈ 2–3 SGD steps;
    full ≈ 2 N_L/B SGD steps. On a loss that is exactly quadratic (a linear model with ``loss="mse"``)
    a batch-Hessian replay with SGD noise *is* SGD: the same iterates up to rounding.

    Examples
    --------
    >>> import torch, sgdpotential as sp, tempfile, os
    >>> data = sp.load_dataset("digits")
    >>> net = sp.build_mlp([64, 10])
    >>> obj = sp.Objective(net, data, "all", loss="mse")
    >>> store = os.path.join(tempfile.mkdtemp(), "replay.zarr")
    >>> r = linearized_replay(obj, obj.w_base, 0.01, 32, 20, store=store)
    >>> r.trajectory.shape
    (20, 650)
    """
    return linearized_replays(obj, w0, lr, batch_size, steps, stores=[store], seeds=[seed], hessian=hessian,
                              noise=noise, sampling=sampling, momentum=momentum, dampening=dampening,
                              preconditioner=preconditioner, start=start, stride=stride, warmup=warmup, record=record,
                              metadata=metadata, progress=progress)[0]


def linearized_replays(
    obj: Objective,
    w0,
    lr: float,
    batch_size: int,
    steps: int,
    *,
    stores: Sequence,
    seeds: Sequence[int],
    hessian: str = "batch",
    noise: str = "sgd",
    sampling: str = "shuffle",
    momentum: float = 0.0,
    dampening: float = 0.0,
    preconditioner=None,
    start=None,
    stride: int = 1,
    warmup: int = 0,
    record: str | Sequence[str] | None = None,
    metadata: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[ReplayResult]:
    r"""R replays of :func:`linearized_replay` from one start, one per seed, stepped together.

    .. math:: W_{t+1} = W_t - \alpha\,\big(G^\bullet + [H^\bullet_r (w_{r,t} - \omega_0)]_r\big)

    Path r draws its minibatches and its isotropic noise from ``seeds[r]`` exactly as
    ``linearized_replay(..., seed=seeds[r])`` does, and records into ``stores[r]``: the paths are those R replays,
    equal to them to round-off (tested). What they share is the work per step: on a dense network (every module
    in :data:`~sgdpotential.nn.objective.DENSE`) the R minibatch gradients and Hessian-vector products of
    ``hessian="batch"`` (and the R minibatch gradients of ``hessian="full"``) are one double backward over R·B
    samples through R copies of ω0 under ``vmap`` — batched GEMMs instead of R small passes. Measured on one
    thread with R = 20 (BENCHMARKS.md, 2026-12-03): 0.78× the time of the paths one at a time on the 42,310-weight
    feng-tu MLP (``bench/bench_replay.py``), 0.61× with each window's PCA and 0.31× on the 650-weight linear model
    (``bench/bench_replayed.py``). The full-batch Hessian's products stay one pass over the data per path and
    step: their cost is arithmetic, which sharing does not reduce (batched products measured 0.96× one by one).
    On other networks the paths take turns within each step.

    Parameters
    ----------
    stores : sequence of paths
        One new trajectory store per path (none may exist).
    seeds : sequence of int
        One seed per path, as ``seed`` of :func:`linearized_replay`.
    obj, w0, lr, batch_size, steps, hessian, noise, sampling, momentum, dampening, preconditioner, start, stride, \
warmup, record, metadata, progress
        As for :func:`linearized_replay`, shared by every path; ``progress`` counts the snapshots of each path.

    Returns
    -------
    list of ReplayResult
        One per path; ``seconds`` is the wall time of all paths together, and ``steps_per_second`` each path's
        rate (R paths advance that many steps per second each).

    Raises
    ------
    ConfigError, TrainingDiverged
        As :func:`linearized_replay`; every store is removed if any path fails.

    Notes
    -----
    Memory: R vectors of all weights per step, and each path's snapshot buffer (one store chunk).

    Examples
    --------
    >>> import sgdpotential as sp, tempfile, os
    >>> obj = sp.Objective(sp.build_mlp([64, 10]), sp.load_dataset("digits"), "all", loss="mse")
    >>> folder = tempfile.mkdtemp()
    >>> rs = linearized_replays(obj, obj.w_base, 0.01, 32, 20, stores=[f"{folder}/{r}.zarr" for r in range(3)],
    ...                         seeds=[0, 1, 2])
    >>> [r.trajectory.shape for r in rs]
    [(20, 650), (20, 650), (20, 650)]
    """
    _check_settings(obj, lr, batch_size, steps, hessian, noise, sampling, stride, warmup, momentum, dampening)
    if isinstance(stores, (str, Path)):
        raise ConfigError(f"stores = {str(stores)!r} is one path; pass a list with one new store per path.")
    stores, seeds = [Path(s) for s in stores], list(seeds)
    if not stores or len(stores) != len(seeds):
        raise ConfigError(f"{len(stores)} stores and {len(seeds)} seeds were given; pass one store and one seed per "
                          f"path (at least one).")
    for seed in seeds:
        check_scalar(seed, "seed", int, min_val=0)
    if len({s.resolve() for s in stores}) != len(stores):
        raise ConfigError("two paths were given the same store; pass one new path per replay.")
    if preconditioner is not None:
        preconditioner = torch.as_tensor(preconditioner, dtype=obj.dtype, device=obj.device).reshape(-1)
        if preconditioner.numel() != obj.n_params or not bool((preconditioner > 0).all()):
            raise ConfigError(f"preconditioner has {preconditioner.numel()} entries; pass one positive value per "
                              f"weight of the objective ({obj.n_params}).")
    w0 = obj.check_w(w0, "w0")
    w_start = w0.clone() if start is None else obj.check_w(start, "start").clone()
    rec_at, n_rec, rec_names = _record_index(obj, record)
    for store in stores:
        if store.exists():
            raise ConfigError(f"{str(store)!r} already exists; choose a new path for the replay.")
        if not store.parent.is_dir():
            raise ConfigError(f"the folder of {str(store)!r} does not exist; create it or choose another path.")

    R = len(stores)
    samplers = [MinibatchSampler(obj.n_train, batch_size, sampling, seed, obj.device) for seed in seeds]
    n_snap = steps // stride
    # one store chunk per path is buffered in memory: no larger than the window
    chunk_rows = min(Trajectory.chunk_rows_for(n_rec), n_snap)
    recs = []
    try:
        force, noise_std = _force(obj, w0, batch_size, hessian, noise, samplers, seeds)
        for store, seed in zip(stores, seeds, strict=True):
            meta = {"replay": {"hessian": hessian, "noise": noise, "lr": lr, "batch_size": batch_size,
                               "sampling": sampling, "seed": seed, "momentum": momentum, "dampening": dampening,
                               "preconditioned": preconditioner is not None, "steps": steps, "stride": stride,
                               "warmup": warmup, "start": "w0" if start is None else "given", "noise_std": noise_std,
                               "paths_together": R},
                    "parameters": rec_names, **(metadata or {})}
            created = Trajectory.create(store, n_rec, metadata=meta, capacity=n_snap, chunk_rows=chunk_rows)
            recs.append(WindowRecorder(created, n_snap, stride, obj.n_params, obj.device))
        W = w_start.expand(R, -1).clone()
        buf = torch.zeros_like(W) if momentum else None
        scale = lr if preconditioner is None else lr * preconditioner

        def sgd_step(W):
            nonlocal buf
            f = force(W - w0)
            if buf is None:
                return W - scale * ((1 - dampening) * f if dampening else f)
            buf = momentum * buf + (1 - dampening) * f  # torch.optim.SGD's heavy ball; Adam's m with d = β1
            return W - scale * buf

        for _ in range(warmup):
            W = sgd_step(W)
        for r, rec in enumerate(recs):
            rec.trajectory.set_start(W[r].detach().cpu().numpy())  # the objective's weights as the recording begins
        t0 = time.perf_counter()
        step = warmup
        while not recs[0].done:
            W = sgd_step(W)
            step += 1
            if not all([rec.advance() for rec in recs]):  # the paths advance in lockstep
                continue
            if any([rec.add(step, W[r, rec_at], W[r]) for r, rec in enumerate(recs)]):
                if not bool(torch.isfinite(W).all()):  # non-finite weights stay non-finite: a commit sees them
                    raise diverged(f"the {hessian}-Hessian replay", f"by step {step}", "the weights became non-finite",
                                   lr, why="the quadratic model is unstable (lr·λ_max(H) ≥ 2(1 + momentum), or "
                                   "negative curvature grew without bound)")
                if progress:
                    progress("replay", recs[0].committed, n_snap)
        seconds = time.perf_counter() - t0
        rate = n_snap * stride / seconds
        for rec in recs:
            rec.finish(extra={"timing": {"replay_seconds": seconds, "steps_per_second": rate}})
    except BaseException:
        for rec in recs:  # only the stores this call created: a replay is cheap to redo, never leave half of one
            shutil.rmtree(rec.trajectory.path, ignore_errors=True)
        raise
    return [ReplayResult(rec.trajectory, hessian, noise, steps, stride, warmup, noise_std, seconds, rate)
            for rec in recs]
