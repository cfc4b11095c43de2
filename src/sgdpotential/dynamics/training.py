"""Plain SGD with a burn-in phase and a recorded window, seeded, deterministic on CPU, resumable.

The window writes a snapshot of the selected parameters every ``stride`` steps into a
:class:`~sgdpotential.trajectory.Trajectory`, one chunk at a time, and after each chunk saves a
checkpoint (model, optimizer, sampler and RNG state) beside the store, so that a killed run resumes
exactly where its last committed chunk ended and produces the same trajectory as an uninterrupted run.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._atomic import atomic_write
from .._repr import concise_repr
from .._version import __version__
from ..errors import ConfigError
from ..nn.data import Dataset
from ..nn.models import ParameterSelection, select_parameters
from ..nn.objective import mean_loss, per_sample_loss
from ..trajectory import Trajectory
from .config import TrainConfig
from .fused import FusedMLPStep
from .optimizers import EXPLOSION, diverged, exploded, explosion_scale, make_optimizer, preconditioner
from .recorder import BurnIn, WindowRecorder
from .sampler import MinibatchSampler

__all__ = ["TrainConfig", "TrainResult", "bind_flat_", "evaluate", "train"]


@dataclass
class TrainResult:
    """What :func:`train` did.

    Attributes
    ----------
    trajectory : Trajectory
        The recorded window.
    selection : ParameterSelection
    burn_in_epochs : int
    burn_in_accuracy : float
        Full-batch training accuracy at the end of burn-in.
    reached_target : bool or None
        Whether ``target_accuracy`` was reached (``None`` for a fixed burn-in).
    window_steps, steps_per_epoch : int
    burn_in_seconds, window_seconds : float
        Wall time of each phase in this process (a resumed run counts only its own part).
    resumed : bool
    state : dict or None
        The training state at the end of the window (model, optimizer, sampler, step, burn-in outcome): what
        ``train(..., start=state)`` continues from to record a later window of the same run.
    preconditioner : dict or None
        Adam / RMSprop: ``{"start": …, "end": …}``, the diagonal preconditioner 1/(√v̂ + ϵ) over all parameters
        (NumPy, ``named_parameters()`` order) when the window opened and when it closed; ``None`` for SGD.
    """

    __repr__ = concise_repr

    trajectory: Trajectory
    selection: ParameterSelection
    burn_in_epochs: int
    burn_in_accuracy: float
    reached_target: bool | None
    window_steps: int
    steps_per_epoch: int
    burn_in_seconds: float = 0.0
    window_seconds: float = 0.0
    resumed: bool = False
    eval_log: dict = field(default_factory=dict)
    state: dict | None = None
    preconditioner: dict | None = None


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, chunk: int = 8192, loss: str = "cross_entropy") -> tuple[float, float]:
    """Full-batch mean loss and accuracy, in eval mode (BatchNorm's running statistics; the model's mode and
    buffers are restored and left untouched)."""
    total, correct = 0.0, 0
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            for s in range(0, data.n_train, chunk):
                out = model(data.X[s : s + chunk])
                total += float(per_sample_loss(out, data.y[s : s + chunk], loss).sum())
                correct += int((out.argmax(1) == data.y[s : s + chunk]).sum())
    finally:
        model.train(was)
    return total / data.n_train, correct / data.n_train


def bind_flat_(model: nn.Module) -> torch.Tensor:
    """Move every parameter of ``model`` into one contiguous flat buffer, in place, and return the buffer.

    Each ``p.data`` is re-pointed to a view of the buffer (values unchanged, the same ``Parameter`` objects),
    so the optimizer's in-place updates keep the buffer current: a snapshot is then one slice copy and the
    running mean one add, instead of a concatenation of every tensor at every step. :func:`train` does this to
    the model it trains (documented there); the trailing underscore marks the in-place change.
    """
    params = list(model.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    offset = 0
    for p in params:
        p.data = flat[offset : offset + p.numel()].view_as(p)
        offset += p.numel()
    return flat


def store_metadata(config: TrainConfig, data: Dataset, selection: ParameterSelection, n_all: int, params,
                   burn_in: dict, extra: dict | None = None) -> dict:
    """What a trajectory store records about the run that wrote it (one definition for every writer)."""
    return {
        "config": asdict(config),
        "dataset": data.describe(),
        "parameters": selection.describe(),
        "n_params_all": n_all,
        "params_spec": params if isinstance(params, str) else list(params),
        "versions": {"sgdpotential": __version__, "torch": torch.__version__, "numpy": np.__version__},
        "seed": config.seed,
        "sampling": config.sampling,
        "steps_per_epoch": config.steps_per_epoch(data.n_train),
        "window_steps": config.n_window_steps(data.n_train),
        "stride": config.stride,
        "burn_in": burn_in,
        **(extra or {}),
    }


def checkpoint_path(store) -> Path:
    """Where :func:`train` keeps the resume checkpoint of ``store``."""
    return Path(f"{store}.checkpoint.pt")


def _save_checkpoint(path: Path, state: dict) -> None:
    with atomic_write(path, "wb") as fh:  # a kill leaves the old or the new checkpoint, never half of one
        torch.save(state, fh)


class _SGDLoop:
    """One model trained by :func:`make_optimizer` on one sampler: the step, its divergence check, the
    checkpointable state."""

    check_every = 64  # on a GPU a finite-loss check syncs the device: check a batch of steps at once

    def __init__(self, model: nn.Module, data: Dataset, config: TrainConfig, fused: bool = True):
        self.config, self.device = config, torch.device(config.device)
        self.data = data.to(self.device)
        self.model = model.to(self.device)
        self.flat = bind_flat_(model)
        self.opt = make_optimizer(model.parameters(), config)
        self.fused = (FusedMLPStep(model, self.flat, self.data.X, self.data.y, config.lr, config.batch_size,
                                   config.loss, config.momentum, self.opt)
                      if fused and FusedMLPStep.applies(model, config) else None)
        self.sampler = MinibatchSampler(data.n_train, config.batch_size, config.sampling, config.seed, self.device)
        self.spe = config.steps_per_epoch(data.n_train)
        self.step_count = 0
        self.first_loss = None  # the first step's minibatch loss: the scale an explosion is measured against
        self.scale = explosion_scale(None, data.n_classes, config.loss)
        self.recent = torch.zeros(self.check_every, device=self.device)

    def load(self, state: dict) -> dict:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        if self.fused is not None:  # the loaded momentum buffers into the fused step's flat one
            self.fused.adopt_optimizer_state()
        self.sampler.load(state["sampler"])
        self.step_count = state["step"]
        # a checkpoint from before the first loss was kept: no scale of its own, so ln C (cross-entropy) or none
        self.first_loss = state.get("first_loss", 0.0)
        self.scale = explosion_scale(self.first_loss, self.data.n_classes, self.config.loss)
        return state

    def state(self, phase: str, **extra) -> dict:
        return {"phase": phase, "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "sampler": self.sampler.state(), "step": self.step_count, "first_loss": self.first_loss, **extra}

    def step(self) -> None:
        idx = self.sampler.next()
        if self.fused is not None:
            loss = self.fused(idx)
        else:
            self.opt.zero_grad(set_to_none=True)
            loss = mean_loss(self.model(self.data.X[idx]), self.data.y[idx], self.config.loss)
            loss.backward()
            self.opt.step()
        self.step_count += 1
        if self.first_loss is None:  # a fresh start: the first step sets the scale
            self.first_loss = float(loss.detach())
            self.scale = explosion_scale(self.first_loss, self.data.n_classes, self.config.loss)
        if self.device.type == "cpu":  # no device to sync: check every step, name the exact one
            if exploded(value := loss.item(), self.scale[0]):
                raise self._diverged(self.step_count, value)
        else:
            self.recent[(self.step_count - 1) % self.check_every] = loss.detach()
            if self.step_count % self.check_every == 0:
                bad = ~torch.isfinite(self.recent)
                if self.scale[0] > 0:
                    bad |= self.recent > EXPLOSION * self.scale[0]
                if bool(bad.any()):
                    first = int(torch.nonzero(bad)[0, 0])
                    raise self._diverged(self.step_count - self.check_every + first + 1, float(self.recent[first]))
        if self.step_count % self.check_every == 0 and not bool(torch.isfinite(self.flat).all()):
            # a dead layer can hide non-finite weights behind a finite loss (ReLU(−∞) = 0)
            raise self._diverged(self.step_count, None)

    def _diverged(self, step: int, value: float | None):
        """The sentence: where (step, epoch), what (the loss or the weights), the learning rate and the fix."""
        when = "at"
        if value is None:  # the weights are checked every check_every steps: they went bad since the last check
            when, symptom = "by", "the weights became non-finite"
        elif math.isfinite(value):
            symptom = f"the minibatch loss reached {value:.4g}, more than {EXPLOSION:g} times {self.scale[1]}"
        else:
            symptom = f"the minibatch loss became {value}"
        return diverged("SGD", f"{when} step {step} (epoch {(step - 1) // self.spe + 1})", symptom, self.config.lr,
                        why="lr is too large for this network")

    def evaluate(self) -> tuple[float, float]:
        return evaluate(self.model, self.data, loss=self.config.loss)


def _burn_in(loop: _SGDLoop, policy: BurnIn, state: dict | None, checkpoint, progress) -> dict:
    """Epochs of SGD until ``policy`` says burn-in is over (resuming from ``state``); its outcome."""
    epoch, acc, ended = (0, float("nan"), None) if state is None else (state["epoch"], state["accuracy"],
                                                                        state.get("ended"))
    if epoch == 0 and policy.over(0, acc):
        acc = loop.evaluate()[1]  # no burn-in proper: the accuracy at the start
    while True:
        opens, ended = policy.step(epoch, acc, ended)
        if opens:
            break
        for _ in range(loop.spe):
            loop.step()
        epoch += 1
        acc = loop.evaluate()[1]
        checkpoint(loop.state("burn-in", epoch=epoch, accuracy=acc, ended=ended))
        if progress:
            progress("burn-in", epoch, policy.limit)
    if progress:
        progress("burn-in", epoch, epoch)  # burn-in is over: the bar is complete
    return policy.outcome(epoch, loop.step_count, acc, ended)


def _window(loop: _SGDLoop, rec: WindowRecorder, where, checkpoint, progress, every: float) -> None:
    """SGD steps until ``rec`` holds its window; checkpoints (at most one per ``every`` seconds) after commits."""
    eval_every = loop.config.eval_every or loop.spe
    last = time.perf_counter()
    while not rec.done:
        loop.step()
        snapshot = rec.advance()
        if rec.window_step % eval_every == 0:  # logged first: a chunk committed at this step carries it
            rec.log(loop.step_count, *loop.evaluate())
        if snapshot and rec.add(loop.step_count, loop.flat[where], loop.flat):
            # a checkpoint is a full copy of the training state: throttled, since the store commit already
            # protects the data and a resume simply recomputes what came after the checkpoint
            if not rec.done and time.perf_counter() - last >= every:
                checkpoint(loop.state("window", **rec.state()))
                last = time.perf_counter()
            if progress:
                progress("window", rec.committed, rec.n_snapshots)


def train(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig,
    store,
    *,
    params="hidden",
    resume: bool = False,
    metadata: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    chunk_rows: int | None = None,
    checkpoint_seconds: float = 2.0,
    start: dict | None = None,
    fused: bool = True,
) -> TrainResult:
    """Burn in with SGD, then record a window of snapshots into the trajectory store ``store``.

    Parameters
    ----------
    model : nn.Module
        Trained in place; ends at the last window step. Its parameters are moved into one flat buffer
        (:func:`bind_flat_`: same values, same ``Parameter`` objects, ``p.data`` re-pointed).
    data : Dataset
    config : TrainConfig
        The optimizer comes from :func:`~sgdpotential.dynamics.optimizers.make_optimizer`.
    store : path
        The zarr store to create (or to resume; see ``resume``). The checkpoint lives beside it.
    params : "hidden", "all", or parameter names
        The subset recorded in the snapshots (see :func:`~sgdpotential.nn.models.select_parameters`).
    resume : bool
        Continue from the checkpoint beside ``store`` (the store's committed rows are kept; rows written
        after the last checkpoint are dropped and recomputed identically).
    metadata : dict, optional
        Extra JSON-ready entries recorded in the store (e.g. the model widths).
    progress : callable(phase, done, total), optional
        Called after each burn-in epoch (``"burn-in"``) and window chunk (``"window"``).
    chunk_rows : int, optional
        Snapshots per store chunk; default ≈ 4 MB chunks.
    checkpoint_seconds : float
        Least wall time between two resume checkpoints in the window (each chunk is committed to the
        store at once; a checkpoint follows a commit when this much time has passed, and at the end of
        burn-in). A killed run recomputes at most this much; 0 checkpoints after every chunk.
    start : dict, optional
        :attr:`TrainResult.state` of an earlier window of the same run: continue that training (no new burn-in)
        and open this window ``config.age_epochs`` epochs after the burn-in that ``start`` records ended — a
        later age of the same network, the exact path a fresh run with that ``age_epochs`` passes through
        (tested). Not resumable midway: a killed continuation is redone from ``start``.
    fused : bool
        Take SGD steps of a plain ReLU MLP by the analytic forward/backward pass of
        :class:`~sgdpotential.dynamics.fused.FusedMLPStep` (the same iterates as ``torch.optim.SGD`` to round-off,
        about twice as fast at the feng-tu size); False always takes the autograd step. Other models and
        optimizers take the autograd step either way.

    Raises
    ------
    ConfigError
        Bad settings; :class:`TrainingDiverged` when the loss becomes non-finite.

    Notes
    -----
    The burn-in policy (:class:`~sgdpotential.dynamics.recorder.BurnIn`) and the window recorder
    (:class:`~sgdpotential.dynamics.recorder.WindowRecorder`) are those of the replicas and replays.
    Cost per step: one forward/backward on B samples, plus a copy of N parameters on snapshot steps.
    Deterministic on CPU for a fixed thread count.
    """
    config.validate(data.n_train)
    n_snap = config.n_snapshots(data.n_train)
    selection = select_parameters(model, params)
    store, ckpt = Path(store), checkpoint_path(store)
    if not store.parent.exists():
        raise ConfigError(f"the folder of {str(store)!r} does not exist; create it or choose another output path.")
    if not resume and (store.exists() or ckpt.exists()):
        raise ConfigError(f"{str(store)!r} already exists; resume it or choose a new output path.")
    if resume and not ckpt.exists():
        return _completed(store, ckpt, selection, config, data.n_train)

    loop = _SGDLoop(model, data, config, fused=fused)
    n_all = loop.flat.numel()
    if start is not None and resume:
        raise ConfigError("a continued window (start=…) is not resumable; continue it again from its start.")
    state = loop.load(torch.load(ckpt, map_location=loop.device, weights_only=False)) if resume else None
    t0 = time.perf_counter()
    if state is None or state["phase"] == "burn-in":
        burn_in = (_continue(loop, start, config, progress) if start is not None else
                   _burn_in(loop, BurnIn.of(config), state, lambda s: _save_checkpoint(ckpt, s), progress))
        traj = Trajectory.create(store, selection.size, capacity=n_snap, chunk_rows=chunk_rows, overwrite=True,
                                 metadata=store_metadata(config, data, selection, n_all, params, burn_in,
                                                         {"sgd_step": "autograd" if loop.fused is None else "fused",
                                                          **(metadata or {})}))
        traj.set_start(loop.flat.detach().cpu().numpy())  # every weight as the window opens
        rec = WindowRecorder(traj, n_snap, config.stride, n_all, loop.device)
        pre_start = preconditioner(loop.opt, list(loop.model.parameters()))
        if start is None:
            _save_checkpoint(ckpt, loop.state("window", burn_in=burn_in, pre_start=pre_start, **rec.state()))
    else:
        burn_in = state["burn_in"]
        traj = Trajectory.open(store, mode="r+")
        traj.truncate(min(traj.n_snapshots, state["committed"]))  # rows after the checkpoint: recomputed
        rec = WindowRecorder(traj, n_snap, config.stride, n_all, loop.device, state=state)
        pre_start = state.get("pre_start")
    t_burn, t0 = time.perf_counter() - t0, time.perf_counter()
    where = select_parameters(model, "all").positions(selection.names, loop.device)
    _window(loop, rec, where, lambda s: _save_checkpoint(ckpt, {**s, "burn_in": burn_in, "pre_start": pre_start}),
            progress, checkpoint_seconds)
    pre_end = preconditioner(loop.opt, list(loop.model.parameters()))
    rec.finish()
    ckpt.unlink(missing_ok=True)
    return TrainResult(traj, selection, burn_in["epochs"], burn_in["accuracy"], burn_in["reached_target"],
                       config.n_window_steps(data.n_train), loop.spe, t_burn, time.perf_counter() - t0,
                       resumed=state is not None, eval_log=rec.eval_log,
                       state=copy.deepcopy(loop.state("end", burn_in=burn_in)),
                       preconditioner=None if pre_start is None or pre_end is None else
                       {"start": pre_start.cpu().numpy(), "end": pre_end.cpu().numpy()})


def _continue(loop: _SGDLoop, start: dict, config: TrainConfig, progress) -> dict:
    """Load ``start`` (the end of an earlier window) and run SGD until the window at ``config.age_epochs`` opens;
    the burn-in outcome of that window."""
    first = start["burn_in"]
    loop.load(start)
    opens = (first["target_epochs"] + config.age_epochs) * loop.spe
    if opens < loop.step_count:
        raise ConfigError(
            f"age_epochs = {config.age_epochs} opens the window at step {opens}, before the earlier window ended "
            f"(step {loop.step_count}); ages must be at least the window length apart.")
    total = opens - loop.step_count
    for done in range(total):
        loop.step()
        if progress and (done + 1) % loop.spe == 0:
            progress("age", (done + 1) // loop.spe, total // loop.spe)
    acc = loop.evaluate()[1]
    return {**first, "epochs": int(opens // loop.spe), "steps": int(loop.step_count), "accuracy": float(acc),
            "age_epochs": int(config.age_epochs)}


def _completed(store: Path, ckpt: Path, selection, config: TrainConfig, n_train: int) -> TrainResult:
    """``resume`` of a run whose window is already complete (no checkpoint left): its stored result."""
    if not (store.exists() and Trajectory.open(store).complete):
        raise ConfigError(f"nothing to resume: no checkpoint {str(ckpt)!r}; start without --resume.")
    traj = Trajectory.open(store)
    b = traj.metadata["burn_in"]
    return TrainResult(traj, selection, b["epochs"], b["accuracy"], b["reached_target"],
                       config.n_window_steps(n_train), config.steps_per_epoch(n_train), resumed=True,
                       eval_log=traj.eval_log)
