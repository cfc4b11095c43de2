"""Train R replicas of one network together: stacked parameters and one vectorised SGD step.

Replicas differ only in their minibatch seed and/or learning rate; everything else (architecture,
initialisation, batch size, sampling, window, stride) is shared, so their parameters stack into tensors
with a leading replica axis (``torch.func.stack_module_state``) and one ``vmap``-ed gradient serves all of
them. Each replica follows exactly the protocol of :func:`~sgdpotential.train` — its own burn-in to the
target accuracy, its own window — and is recorded into its own trajectory store, identical to a sequential
run with the same seed up to floating-point summation order.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .data import Dataset
from .errors import ConfigError, TrainingDiverged
from .models import select_parameters
from .objective import per_sample_loss
from .training import MinibatchSampler, TrainConfig, TrainResult, store_metadata
from .trajectory import Trajectory

__all__ = ["train_replicas"]

#: The settings replicas may differ in; all others must agree.
VARYING = ("seed", "lr")


def _check(configs: Sequence[TrainConfig], stores, n_train: int) -> None:
    if len(configs) < 1 or len(configs) != len(stores):
        raise ConfigError(f"give one store per replica: {len(configs)} configurations and {len(stores)} stores.")
    first = asdict(configs[0])
    for i, c in enumerate(configs):
        c.validate(n_train)
        other = asdict(c)
        diff = [k for k in first if k not in VARYING and other[k] != first[k]]
        if diff:
            raise ConfigError(f"replica {i} differs from replica 0 in {diff[0]!r} ({other[diff[0]]!r} vs "
                              f"{first[diff[0]]!r}); replicas may differ only in {' and '.join(VARYING)}.")
        if c.momentum or c.weight_decay:
            raise ConfigError("replicas train plain SGD: set momentum = 0 and weight_decay = 0, or train sequentially.")
    for s in stores:
        s = Path(s)
        if s.exists():
            raise ConfigError(f"{str(s)!r} already exists; choose new stores for the replicas.")
        if not s.parent.is_dir():
            raise ConfigError(f"the folder of {str(s)!r} does not exist; create it or choose another path.")


#: Element-wise layers that act on any leading shape, hence on stacked replicas as they are.
ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.GELU, nn.Sigmoid, nn.LeakyReLU, nn.Identity)


def _mlp_forward(model: nn.Module):
    """For an ``nn.Sequential`` of Linear and element-wise layers: the stacked forward pass
    x (R, B, in) ↦ (R, B, out) as batched matrix products; ``None`` for any other model."""
    if not isinstance(model, nn.Sequential) or not all(isinstance(m, (nn.Linear, *ELEMENTWISE)) for m in model):
        return None
    layers = list(model.named_children())

    def forward(p, b, x):
        for name, module in layers:
            if isinstance(module, nn.Linear):
                W = p[f"{name}.weight"].transpose(1, 2)
                bias = p.get(f"{name}.bias")
                x = torch.bmm(x, W) if bias is None else torch.baddbmm(bias.unsqueeze(1), x, W)
            else:
                x = module(x)
        return x

    return forward


def train_replicas(
    model: nn.Module,
    data: Dataset,
    configs: Sequence[TrainConfig],
    stores: Sequence,
    *,
    params="hidden",
    metadata: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[TrainResult]:
    """Train ``len(configs)`` replicas of ``model`` at once, each into its own trajectory store.

    Parameters
    ----------
    model : nn.Module
        The common initialisation (left untouched).
    data : Dataset
    configs : sequence of TrainConfig
        One per replica; they may differ only in ``seed`` and ``lr`` (plain SGD, no momentum).
    stores : sequence of paths
        One new trajectory store per replica.
    params, metadata, progress
        As in :func:`~sgdpotential.train` (``progress`` phases ``"burn-in"`` and ``"window"`` count
        epochs/snapshots of the slowest replica).

    Returns
    -------
    list of TrainResult
        In replica order, with ``window_seconds`` the shared wall time.

    Notes
    -----
    One step: each replica draws its minibatch from its own sampler (the same sampler and seed as
    :func:`~sgdpotential.train`); one batched forward pass over the stacked parameters (batched matrix
    products for :func:`~sgdpotential.build_mlp` networks, ``vmap(functional_call)`` otherwise), one
    backward pass of the summed losses, and w_r ← w_r − α_r g_r as ``torch.optim.SGD`` computes it.
    Replicas that finished their window keep stepping, unrecorded, until the slowest one is done. The
    per-epoch full-batch accuracy of the burn-in is one ``vmap``-ed forward pass for all replicas.
    Equal to sequential runs up to the round-off of the batched products (~1e-9 per step), which training's
    sensitivity can amplify over thousands of steps (``bench/bench_replicas.py`` measures it).
    Not resumable (a killed replica batch is simply rerun). Raises :class:`TrainingDiverged` naming the
    replica whose weights became non-finite.
    """
    _check(configs, stores, data.n_train)
    cfg0 = configs[0]
    R = len(configs)
    spe = cfg0.steps_per_epoch(data.n_train)
    n_window = cfg0.n_window_steps(data.n_train)
    n_snap = cfg0.n_snapshots(data.n_train)
    selection = select_parameters(model, params)
    device = torch.device(cfg0.device)
    data = data.to(device)
    copies = [copy.deepcopy(model).to(device) for _ in range(R)]
    stacked, buffers = stack_module_state(copies)
    stacked = {k: v.detach() for k, v in stacked.items()}
    skeleton = copy.deepcopy(model).to("meta")  # functional_call only needs the structure
    names = list(stacked)
    n_all = sum(v[0].numel() for v in stacked.values())
    samplers = [MinibatchSampler(data.n_train, cfg0.batch_size, cfg0.sampling, c.seed, device) for c in configs]

    def forward(p, b, x):
        return functional_call(skeleton, (p, b), (x,))

    # The forward pass is batched over replicas, the backward is plain autograd of the sum of the replicas'
    # losses — independent replicas, so its gradient holds each replica's own gradient. For the MLPs of
    # build_mlp the batched forward is a chain of baddbmm calls (measured 1.9× faster per step than
    # vmap(functional_call) at R = 16 on the quick preset, whose tiny layers make dispatch dominate; 1.7× faster
    # again than vmap(grad(·))); any other model goes through vmap(functional_call).
    batched_forward = _mlp_forward(skeleton) or vmap(forward, in_dims=(0, 0, 0))
    leaves = [stacked[k].requires_grad_(True) for k in names]

    @torch.no_grad()
    def accuracy() -> torch.Tensor:
        correct = torch.zeros(R, device=device)
        for s in range(0, data.n_train, 8192):
            out = vmap(lambda p, b, x=data.X[s : s + 8192]: functional_call(skeleton, (p, b), (x,)))(stacked, buffers)
            correct += (out.argmax(-1) == data.y[s : s + 8192]).sum(-1)
        return correct / data.n_train

    step = 0
    same_lr = len({c.lr for c in configs}) == 1

    def sgd_step(active: np.ndarray) -> None:
        """One SGD step of every replica (``active``: those whose weights are still checked)."""
        nonlocal step
        idx = torch.stack([s.next() for s in samplers])  # (R, B): each replica its own minibatch
        out = batched_forward(stacked, buffers, data.X[idx])
        losses = per_sample_loss(out.reshape(R * cfg0.batch_size, -1), data.y[idx].reshape(-1), cfg0.loss)
        grads = torch.autograd.grad(losses.view(R, cfg0.batch_size).mean(1).sum(), leaves)
        with torch.no_grad():
            # w ← w − α g exactly as torch.optim.SGD computes it (add with alpha), so that a replica stays on
            # its sequential twin's path as long as the gradients agree
            if same_lr:
                torch._foreach_add_(leaves, grads, alpha=-cfg0.lr)
            else:
                for r, c in enumerate(configs):
                    torch._foreach_add_([t[r] for t in leaves], [g[r] for g in grads], alpha=-c.lr)
        step += 1
        if step % 64 == 0 or (device.type == "cpu" and step % 8 == 0):
            # checking the loss every step would sync a device; the weights show a divergence just as well
            finite = torch.stack([torch.isfinite(t.detach().reshape(R, -1)).all(1) for t in leaves]).all(0)
            bad = np.flatnonzero(~finite.cpu().numpy() & active)
            if bad.size:
                r = int(bad[0])
                raise TrainingDiverged(f"SGD diverged in replica {r} (seed {configs[r].seed}, lr = {configs[r].lr:g}) "
                                       f"by step {step}: the weights became non-finite; lr is too large for this "
                                       f"network — try lr = {configs[r].lr / 2:g} or smaller.")

    # ---------------------------------------------------------------- burn-in, each replica on its own
    t0 = time.perf_counter()
    fixed = cfg0.burn_in_epochs
    epoch = np.zeros(R, dtype=int)
    acc = torch.full((R,), float("nan"), device=device)
    in_burn = np.ones(R, dtype=bool)
    burn_info: list[dict | None] = [None] * R
    # replicas whose burn-in ends at different epochs: the earlier ones start their windows while the
    # others are still burning in; all keep stepping together
    wstep = np.zeros(R, dtype=int)
    committed = np.zeros(R, dtype=int)
    filled = np.zeros(R, dtype=int)  # rows waiting in each replica's buffer
    trajs: list[Trajectory | None] = [None] * R
    sel = [n for n in names if n in selection.names]
    n_sel = selection.size
    rows = Trajectory.chunk_rows_for(n_sel)
    buf = np.empty((R, rows, n_sel), dtype=np.float32)
    buf_steps = np.empty((R, rows), dtype=np.int64)
    sum_all = torch.zeros((R, n_all), dtype=torch.float64, device=device)
    last = time.perf_counter()

    def end_burn_in(r: int) -> None:
        burn = {"epochs": int(epoch[r]), "steps": int(step), "accuracy": float(acc[r]),
                "reached_target": None if fixed is not None else bool(float(acc[r]) >= cfg0.target_accuracy)}
        burn_info[r] = burn
        meta = store_metadata(configs[r], data, selection, n_all, params, burn,
                              {"replica": {"index": int(r), "of": R}, **(metadata or {})})
        trajs[r] = Trajectory.create(stores[r], n_sel, metadata=meta, capacity=n_snap, chunk_rows=rows)
        in_burn[r] = False

    created: list[Path] = []
    try:
        if fixed == 0:  # no burn-in: every window starts at once
            acc[:] = accuracy()
            for r in range(R):
                end_burn_in(r)
                created.append(Path(stores[r]))
        done = np.zeros(R, dtype=bool)
        while not done.all():
            sgd_step(~done)
            # windows: one gather of every recording replica's snapshot, then per-replica bookkeeping
            recording = ~in_burn & ~done
            wstep[recording] += 1
            snap = np.flatnonzero(recording & (wstep % cfg0.stride == 0))
            if snap.size:
                with torch.no_grad():
                    ri = torch.as_tensor(snap, device=device)
                    buf[snap, filled[snap]] = torch.cat([stacked[k][ri].reshape(snap.size, -1) for k in sel],
                                                        1).cpu().numpy()
                    sum_all[ri] += torch.cat([stacked[k][ri].reshape(snap.size, -1) for k in names], 1).double()
                buf_steps[snap, filled[snap]] = step
                filled[snap] += 1
                for r in snap[(filled[snap] == rows) | (committed[snap] + filled[snap] == n_snap)]:
                    trajs[r].append(buf[r, : filled[r]], buf_steps[r, : filled[r]])
                    committed[r] += filled[r]
                    filled[r] = 0
                    if committed[r] == n_snap:
                        trajs[r].finish((sum_all[r] / n_snap).cpu().numpy())
                        done[r] = True  # finished: it keeps stepping (unrecorded) while the others go on
            # epoch boundaries: the burn-in replicas check their accuracy
            if step % spe == 0 and in_burn.any():
                epoch[in_burn] += 1
                a = accuracy()
                for r in np.flatnonzero(in_burn):
                    acc[r] = a[r]
                    over = (epoch[r] >= fixed) if fixed is not None else (
                        epoch[r] >= cfg0.max_burn_in_epochs or float(acc[r]) >= cfg0.target_accuracy)
                    if over:
                        end_burn_in(r)
                        created.append(Path(stores[r]))
                if progress:
                    progress("burn-in", int(epoch.max()), fixed if fixed is not None else cfg0.max_burn_in_epochs)
            if progress and time.perf_counter() - last > 0.5:
                progress("window", int(committed.min()), n_snap)
                last = time.perf_counter()
        if progress:
            progress("window", n_snap, n_snap)
    except BaseException:
        import shutil

        for s in created:
            shutil.rmtree(s, ignore_errors=True)  # never leave half of a replica batch
        raise
    seconds = time.perf_counter() - t0
    return [TrainResult(trajs[r], selection, burn_info[r]["epochs"], burn_info[r]["accuracy"],
                        burn_info[r]["reached_target"], n_window, spe, 0.0, seconds) for r in range(R)]
