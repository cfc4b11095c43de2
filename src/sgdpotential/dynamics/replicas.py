"""Train R replicas of one network together: stacked parameters and one vectorised SGD step.

Replicas differ in their minibatch seed and/or learning rate, and may start from their own initialisation (one
model per replica); everything else (architecture, batch size, sampling, window, stride) is shared, so their
parameters stack into tensors
with a leading replica axis (``torch.func.stack_module_state``) and one ``vmap``-ed gradient serves all of
them. Each replica follows exactly the protocol of :func:`~sgdpotential.train` — its own burn-in to the
target accuracy, its own window — and is recorded into its own trajectory store, identical to a sequential
run with the same seed up to floating-point summation order.
"""

from __future__ import annotations

import copy
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ..errors import ConfigError
from ..nn.data import Dataset
from ..nn.models import select_parameters
from ..nn.objective import per_sample_loss
from ..trajectory import Trajectory
from .config import TrainConfig
from .optimizers import EXPLOSION, diverged, explosion_scale
from .recorder import BurnIn, WindowRecorder
from .sampler import MinibatchSampler
from .training import TrainResult, store_metadata

__all__ = ["check_replicable", "train_replicas"]

#: The settings replicas may differ in; all others must agree.
VARYING = ("seed", "lr")


def check_replicable(model: nn.Module, config: TrainConfig) -> None:
    """What replicas can train together: plain SGD (no momentum, Adam or weight decay) of a model without
    BatchNorm; :class:`ConfigError` in one sentence otherwise (called before anything is written)."""
    if any(isinstance(x, nn.modules.batchnorm._BatchNorm) for x in model.modules()):
        raise ConfigError("replicas cannot train a model with BatchNorm together (its running statistics would be "
                          "updated inside vmap); train the seeds one after the other, or use GroupNorm "
                          "(model = 'resnet-gn').")
    if config.momentum or config.weight_decay or config.optimizer != "sgd":
        raise ConfigError("replicas train plain SGD: set optimizer = 'sgd', momentum = 0 and weight_decay = 0, "
                          "or train the seeds one after the other (run without --replicas).")


def _check(configs: Sequence[TrainConfig], stores, n_train: int, models: Sequence[nn.Module]) -> None:
    if len(configs) < 1 or len(configs) != len(stores):
        raise ConfigError(f"give one store per replica: {len(configs)} configurations and {len(stores)} stores.")
    if len(models) != len(configs):
        raise ConfigError(f"give one model (or one shared model) per replica: {len(models)} models and "
                          f"{len(configs)} configurations.")
    shapes = [[(k, tuple(v.shape)) for k, v in m.named_parameters()] for m in models]
    for i, s in enumerate(shapes):
        if s != shapes[0] or type(models[i]) is not type(models[0]):
            raise ConfigError(f"replica {i}'s model differs from replica 0's in its parameters; replicas may start "
                              "from different initialisations of one architecture only.")
    first = asdict(configs[0])
    for i, c in enumerate(configs):
        c.validate(n_train)
        other = asdict(c)
        diff = [k for k in first if k not in VARYING and other[k] != first[k]]
        if diff:
            raise ConfigError(f"replica {i} differs from replica 0 in {diff[0]!r} ({other[diff[0]]!r} vs "
                              f"{first[diff[0]]!r}); replicas may differ only in {' and '.join(VARYING)}.")
        check_replicable(models[i], c)
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


class _Stack:
    """R replicas of one network as stacked parameters, stepped together by one batched forward and backward."""

    def __init__(self, models: Sequence[nn.Module], data: Dataset, configs: Sequence[TrainConfig]):
        self.configs, self.cfg, self.R = configs, configs[0], len(configs)
        self.device = torch.device(self.cfg.device)
        self.data = data.to(self.device)
        stacked, self.buffers = stack_module_state([copy.deepcopy(m).to(self.device) for m in models])
        self.params = {k: v.detach() for k, v in stacked.items()}
        self.names = list(self.params)
        self.skeleton = copy.deepcopy(models[0]).to("meta")  # functional_call only needs the structure
        self.n_all = sum(v[0].numel() for v in self.params.values())
        self.spe = self.cfg.steps_per_epoch(data.n_train)
        self.samplers = [MinibatchSampler(data.n_train, self.cfg.batch_size, self.cfg.sampling, c.seed, self.device)
                         for c in configs]
        # The forward pass is batched over replicas, the backward is plain autograd of the sum of the replicas'
        # losses — independent replicas, so its gradient holds each replica's own gradient. For the MLPs of
        # build_mlp the batched forward is a chain of baddbmm calls (measured 1.9× faster per step than
        # vmap(functional_call) at R = 16 on the quick preset, whose tiny layers make dispatch dominate; 1.7×
        # faster again than vmap(grad(·))); any other model goes through vmap(functional_call).
        self.forward = _mlp_forward(self.skeleton) or vmap(
            lambda p, b, x: functional_call(self.skeleton, (p, b), (x,)), in_dims=(0, 0, 0))
        self.leaves = [self.params[k].requires_grad_(True) for k in self.names]
        self.same_lr = len({c.lr for c in configs}) == 1
        self.step_count = 0
        self.first_loss = None  # (R,): each replica's first minibatch loss, the scale of an explosion
        self.peak = None  # (R,): each replica's largest minibatch loss since the last check

    def step(self, active: np.ndarray) -> None:
        """One SGD step of every replica (``active``: those whose weights are still checked)."""
        R, B = self.R, self.cfg.batch_size
        idx = torch.stack([s.next() for s in self.samplers])  # (R, B): each replica its own minibatch
        out = self.forward(self.params, self.buffers, self.data.X[idx])
        losses = per_sample_loss(out.reshape(R * B, -1), self.data.y[idx].reshape(-1), self.cfg.loss)
        per_replica = losses.view(R, B).mean(1)
        grads = torch.autograd.grad(per_replica.sum(), self.leaves)
        loss = per_replica.detach()
        if self.first_loss is None:
            self.first_loss, self.peak = loss.clone(), loss.clone()
            self.scales = [explosion_scale(float(v), self.data.n_classes, self.cfg.loss) for v in loss]
            self.limit = torch.tensor([EXPLOSION * s if s > 0 else float("inf") for s, _ in self.scales],
                                      device=self.device, dtype=loss.dtype)
        else:  # NaN propagates through maximum: a non-finite loss stays visible until the check
            self.peak = torch.maximum(self.peak, loss)
        with torch.no_grad():
            # w ← w − α g exactly as torch.optim.SGD computes it (add with alpha), so that a replica stays on
            # its sequential twin's path as long as the gradients agree
            if self.same_lr:
                torch._foreach_add_(self.leaves, grads, alpha=-self.cfg.lr)
            else:
                for r, c in enumerate(self.configs):
                    torch._foreach_add_([t[r] for t in self.leaves], [g[r] for g in grads], alpha=-c.lr)
        self.step_count += 1
        if self.step_count % 64 == 0 or (self.device.type == "cpu" and self.step_count % 8 == 0):
            # checking the loss every step would sync a device; the weights show a divergence just as well
            finite = torch.stack([torch.isfinite(t.detach().reshape(R, -1)).all(1) for t in self.leaves]).all(0)
            calm = torch.isfinite(self.peak) & (self.peak <= self.limit)
            bad = np.flatnonzero(~(finite & calm).cpu().numpy() & active)
            if bad.size:
                r = int(bad[0])
                c, peak = self.configs[r], float(self.peak[r])
                symptom = ("the weights became non-finite" if not bool(finite[r]) else
                           f"the minibatch loss became {peak}" if not np.isfinite(peak) else
                           f"the minibatch loss reached {peak:.4g}, more than {EXPLOSION:g} times {self.scales[r][1]}")
                raise diverged(f"SGD in replica {r} (seed {c.seed})",
                               f"by step {self.step_count} (epoch {(self.step_count - 1) // self.spe + 1})", symptom,
                               c.lr, why="lr is too large for this network")
            self.peak = loss.clone()

    @torch.no_grad()
    def accuracy(self) -> torch.Tensor:
        """Full-batch training accuracy of every replica, one vmap-ed forward pass per 8,192 samples."""
        correct = torch.zeros(self.R, device=self.device)
        X, y = self.data.X, self.data.y
        for s in range(0, self.data.n_train, 8192):
            out = vmap(lambda p, b, x=X[s : s + 8192]: functional_call(self.skeleton, (p, b), (x,)))(
                self.params, self.buffers)
            correct += (out.argmax(-1) == y[s : s + 8192]).sum(-1)
        return correct / self.data.n_train

    @torch.no_grad()
    def rows(self, replicas: np.ndarray, names: list[str]) -> torch.Tensor:
        """The flat weights ``names`` of the given replicas, one row each."""
        ri = torch.as_tensor(replicas, device=self.device)
        return torch.cat([self.params[k][ri].reshape(replicas.size, -1) for k in names], 1)


def train_replicas(
    model: nn.Module | Sequence[nn.Module],
    data: Dataset,
    configs: Sequence[TrainConfig],
    stores: Sequence,
    *,
    params="hidden",
    metadata: dict | Sequence[dict] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[TrainResult]:
    """Train ``len(configs)`` replicas of ``model`` at once, each into its own trajectory store.

    Parameters
    ----------
    model : nn.Module or sequence of nn.Module
        The common initialisation, or one initialisation per replica (same architecture and parameter shapes);
        left untouched.
    data : Dataset
    configs : sequence of TrainConfig
        One per replica; they may differ only in ``seed`` and ``lr`` (plain SGD, no momentum).
    stores : sequence of paths
        One new trajectory store per replica.
    params, metadata, progress
        As in :func:`~sgdpotential.train` (``metadata`` shared, or one dict per replica; ``progress`` phases
        ``"burn-in"`` and ``"window"`` count epochs/snapshots of the slowest replica).

    Returns
    -------
    list of TrainResult
        In replica order, with ``window_seconds`` the shared wall time.

    Notes
    -----
    One step: each replica draws its minibatch from its own sampler (the same sampler and seed as
    :func:`~sgdpotential.train`); one batched forward pass over the stacked parameters (batched matrix
    products for :func:`~sgdpotential.build_mlp` networks, ``vmap(functional_call)`` otherwise), one
    backward pass of the summed losses, and w_r ← w_r − α_r g_r as ``torch.optim.SGD`` computes it. Each
    replica has its own burn-in (:class:`~sgdpotential.dynamics.recorder.BurnIn`) and window recorder
    (:class:`~sgdpotential.dynamics.recorder.WindowRecorder`), exactly as :func:`~sgdpotential.train`;
    replicas that finished their window keep stepping, unrecorded, until the slowest one is done.
    Equal to sequential runs up to the round-off of the batched products (~1e-9 per step), which training's
    sensitivity can amplify over thousands of steps (``bench/bench_replicas.py`` measures it).
    Not resumable (a killed replica batch is simply rerun). Raises :class:`TrainingDiverged` naming the
    replica whose weights became non-finite.
    """
    models = [model] * len(configs) if isinstance(model, nn.Module) else list(model)
    metas = [metadata or {}] * len(configs) if metadata is None or isinstance(metadata, dict) else list(metadata)
    _check(configs, stores, data.n_train, models)
    if len(metas) != len(configs):
        raise ConfigError(f"give one metadata dict per replica (or one shared): {len(metas)} for {len(configs)}.")
    cfg0, R = configs[0], len(configs)
    spe, n_snap = cfg0.steps_per_epoch(data.n_train), cfg0.n_snapshots(data.n_train)
    selection = select_parameters(models[0], params)
    stack = _Stack(models, data, configs)
    policy = BurnIn.of(cfg0)
    epoch, acc = np.zeros(R, dtype=int), torch.full((R,), float("nan"), device=stack.device)
    recs: list[WindowRecorder | None] = [None] * R  # a replica's recorder exists once its burn-in is over
    burn_info: list[dict | None] = [None] * R
    ended: list[dict | None] = [None] * R  # how each replica's burn-in proper ended
    rows = Trajectory.chunk_rows_for(selection.size)

    def end_burn_in(r: int) -> None:
        burn_info[r] = policy.outcome(epoch[r], stack.step_count, float(acc[r]), ended[r])
        meta = store_metadata(configs[r], data, selection, stack.n_all, params, burn_info[r],
                              {"replica": {"index": int(r), "of": R}, "sgd_step": "replicas (batched autograd)",
                               **metas[r]})
        traj = Trajectory.create(stores[r], selection.size, metadata=meta, capacity=n_snap, chunk_rows=rows)
        traj.set_start(stack.rows(np.array([r]), stack.names)[0].cpu().numpy())  # every weight as the window opens
        recs[r] = WindowRecorder(traj, n_snap, cfg0.stride, stack.n_all, stack.device)

    t0 = last = time.perf_counter()
    try:
        if policy.over(0, float("nan")):  # no burn-in proper: the accuracy at the start
            acc[:] = stack.accuracy()
        for r in range(R):
            opens, ended[r] = policy.step(0, float(acc[r]), None)
            if opens:
                end_burn_in(r)
        done = np.zeros(R, dtype=bool)
        while not done.all():
            stack.step(~done)
            _record(stack, recs, done, selection.names)
            burning = np.array([rec is None for rec in recs])
            if stack.step_count % spe == 0 and burning.any():  # epoch boundary: burn-in replicas check accuracy
                epoch[burning] += 1
                acc = torch.where(torch.as_tensor(burning, device=stack.device), stack.accuracy(), acc)
                for r in np.flatnonzero(burning):
                    opens, ended[r] = policy.step(epoch[r], float(acc[r]), ended[r])
                    if opens:
                        end_burn_in(r)
                if progress:
                    progress("burn-in", int(epoch.max()), policy.limit)
            if progress and time.perf_counter() - last > 0.5:
                progress("window", min(0 if rec is None else rec.committed for rec in recs), n_snap)
                last = time.perf_counter()
        if progress:
            progress("window", n_snap, n_snap)
    except BaseException:
        for r in range(R):
            if recs[r] is not None:
                shutil.rmtree(stores[r], ignore_errors=True)  # never leave half of a replica batch
        raise
    seconds = time.perf_counter() - t0
    return [TrainResult(recs[r].trajectory, selection, burn_info[r]["epochs"], burn_info[r]["accuracy"],
                        burn_info[r]["reached_target"], cfg0.n_window_steps(data.n_train), spe, 0.0, seconds)
            for r in range(R)]


def _record(stack: _Stack, recs: list, done: np.ndarray, recorded: tuple[str, ...]) -> None:
    """One window step of every recording replica: one gather of the snapshot rows, then each replica's
    recorder; a replica whose window is complete is finished and marked ``done`` (it keeps stepping)."""
    recording = [r for r, rec in enumerate(recs) if rec is not None and not done[r]]
    snap = np.array([r for r in recording if recs[r].advance()], dtype=int)
    if not snap.size:
        return
    sel, everything = stack.rows(snap, [n for n in stack.names if n in recorded]), stack.rows(snap, stack.names)
    for i, r in enumerate(snap):
        if recs[r].add(stack.step_count, sel[i], everything[i]) and recs[r].done:
            recs[r].finish()
            done[r] = True
