"""Plain SGD with a burn-in phase and a recorded window, seeded, deterministic on CPU, resumable.

The window writes a snapshot of the selected parameters every ``stride`` steps into a
:class:`~sgdpotential.trajectory.Trajectory`, one chunk at a time, and after each chunk saves a
checkpoint (model, optimizer, sampler and RNG state) beside the store, so that a killed run resumes
exactly where its last committed chunk ended and produces the same trajectory as an uninterrupted run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import __version__
from ._atomic import atomic_write
from .data import Dataset
from .errors import ConfigError, TrainingDiverged
from .models import ParameterSelection, select_parameters
from .objective import LOSSES, per_sample_loss
from .trajectory import Trajectory

__all__ = ["MinibatchSampler", "TrainConfig", "TrainResult", "evaluate", "train"]

SAMPLING = ("shuffle", "replacement")


@dataclass
class TrainConfig:
    """SGD and recording settings.

    Attributes
    ----------
    lr, batch_size : float, int
        Fixed learning rate α and minibatch size B.
    sampling : {"shuffle", "replacement"}
        ``shuffle``: a new random permutation each epoch, N_L // B minibatches (an incomplete last batch is
        dropped so that every step uses exactly B samples); ``replacement``: B indices drawn uniformly
        with replacement at every step (an "epoch" is then N_L // B steps).
    momentum, weight_decay : float
        Off (0) by default: plain SGD, the process the theory describes.
    seed : int
        Seeds the minibatch sampler (the model's initialisation has its own seed).
    burn_in_epochs : int or None
        Fixed number of burn-in epochs; ``None`` to train until ``target_accuracy``.
    target_accuracy : float
        With ``burn_in_epochs=None``: stop burn-in at the end of the first epoch whose full-batch
        training accuracy is ≥ this (at most ``max_burn_in_epochs``).
    window_epochs, window_steps : float or None, int or None
        Length of the recorded window (give one; steps take precedence).
    stride : int
        A snapshot every ``stride`` steps.
    eval_every : int or None
        Full-batch loss/accuracy every this many window steps (default: once per epoch).
    device : str
        ``"cpu"`` or ``"cuda"`` (when available).
    loss : {"cross_entropy", "mse"}
        The per-sample loss (:func:`~sgdpotential.objective.per_sample_loss`); ``mse`` makes a linear
        model's loss exactly quadratic (tests, analytic cases).
    """

    lr: float = 0.1
    batch_size: int = 50
    sampling: str = "shuffle"
    momentum: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0
    burn_in_epochs: int | None = None
    target_accuracy: float = 1.0
    max_burn_in_epochs: int = 300
    window_epochs: float | None = 10.0
    window_steps: int | None = None
    stride: int = 1
    eval_every: int | None = None
    device: str = "cpu"
    loss: str = "cross_entropy"

    def validate(self, n_train: int) -> None:
        """Raise :class:`ConfigError` naming the first bad setting."""
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr) \
                or self.lr <= 0:
            raise ConfigError(f"lr = {self.lr!r} must be a finite number > 0, e.g. 0.1.")
        _int("batch_size", self.batch_size, 1)
        if self.batch_size > n_train:
            raise ConfigError(f"batch_size = {self.batch_size} is larger than the {n_train} training samples; "
                              f"use batch_size ≤ {n_train}.")
        if self.loss not in LOSSES:
            raise ConfigError(f"loss = {self.loss!r} is not one of {', '.join(LOSSES)}.")
        if self.sampling not in SAMPLING:
            raise ConfigError(f"sampling = {self.sampling!r} is not one of {', '.join(SAMPLING)}.")
        for name in ("momentum", "weight_decay"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"{name} = {v!r} must be a finite number ≥ 0 (0 for plain SGD).")
        if self.burn_in_epochs is not None:
            _int("burn_in_epochs", self.burn_in_epochs, 0)
        elif not 0 < self.target_accuracy <= 1:
            raise ConfigError(f"target_accuracy = {self.target_accuracy!r} must lie in (0, 1], e.g. 1.0.")
        _int("max_burn_in_epochs", self.max_burn_in_epochs, 1)
        _int("stride", self.stride, 1)
        if self.window_steps is not None:
            _int("window_steps", self.window_steps, 1)
        elif self.window_epochs is None or not self.window_epochs > 0:
            raise ConfigError(f"window_epochs = {self.window_epochs!r} must be > 0 (or give window_steps).")
        if self.eval_every is not None:
            _int("eval_every", self.eval_every, 1)
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device = {self.device!r} was asked for but CUDA is not available here; "
                              f"use device='cpu'.")

    def steps_per_epoch(self, n_train: int) -> int:
        return n_train // self.batch_size

    def n_window_steps(self, n_train: int) -> int:
        if self.window_steps is not None:
            return int(self.window_steps)
        return max(1, round(self.window_epochs * self.steps_per_epoch(n_train)))

    def n_snapshots(self, n_train: int) -> int:
        """Snapshots in the window; at least 2 (a PCA needs them), else :class:`ConfigError`."""
        n_window = self.n_window_steps(n_train)
        n_snap = n_window // self.stride
        if n_snap < 2:
            raise ConfigError(f"the window of {n_window} steps with stride {self.stride} gives {n_snap} snapshot(s); "
                              f"a PCA needs at least 2 — lengthen the window or reduce the stride.")
        return n_snap


def _int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} = {value!r} must be an integer ≥ {minimum}.")


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
    """

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


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, chunk: int = 8192, loss: str = "cross_entropy") -> tuple[float, float]:
    """Full-batch mean loss and accuracy."""
    total, correct = 0.0, 0
    for s in range(0, data.n_train, chunk):
        out = model(data.X[s : s + chunk])
        total += float(per_sample_loss(out, data.y[s : s + chunk], loss).sum())
        correct += int((out.argmax(1) == data.y[s : s + chunk]).sum())
    return total / data.n_train, correct / data.n_train


class MinibatchSampler:
    """Minibatch indices from a private generator; its whole state is checkpointable."""

    def __init__(self, n: int, batch_size: int, sampling: str, seed: int, device):
        self.n, self.B, self.sampling, self.device = n, batch_size, sampling, device
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = None
        self.pos = n  # forces a new permutation on first use

    def next(self) -> torch.Tensor:
        if self.sampling == "replacement":
            return torch.randint(0, self.n, (self.B,), generator=self.gen).to(self.device)
        if self.pos + self.B > self.n:
            self.perm = torch.randperm(self.n, generator=self.gen).to(self.device)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + self.B]
        self.pos += self.B
        return idx

    def state(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": None if self.perm is None else self.perm.cpu(), "pos": self.pos}

    def load(self, state: dict) -> None:
        self.gen.set_state(state["gen"])
        self.perm = None if state["perm"] is None else state["perm"].to(self.device)
        self.pos = state["pos"]


def _bind_flat(model: nn.Module) -> torch.Tensor:
    """Move every parameter into one contiguous flat buffer and make the parameters views of it.

    Recording then costs one copy per snapshot (a slice of the buffer) and one add for the running mean
    of all parameters, instead of a concatenation of every tensor at every step; SGD updates the views
    in place, so the buffer always holds the current weights.
    """
    params = list(model.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    offset = 0
    for p in params:
        n = p.numel()
        p.data = flat[offset : offset + n].view_as(p)
        offset += n
    return flat


def _selection_in_flat(model: nn.Module, selection: ParameterSelection, device):
    """Where the selected parameters sit in the flat buffer: a slice when contiguous (one copy per
    snapshot), else an index tensor for ``index_select``."""
    everything = select_parameters(model, "all")
    start = dict(zip(everything.names, everything.offsets, strict=True))
    ranges = [(start[n], start[n] + int(np.prod(shape))) for n, shape in zip(selection.names, selection.shapes,
                                                                              strict=True)]
    if all(a[1] == b[0] for a, b in pairwise(ranges)):
        return slice(ranges[0][0], ranges[-1][1]), None
    return None, torch.cat([torch.arange(a, b, device=device) for a, b in ranges])


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
) -> TrainResult:
    """Burn in with SGD, then record a window of snapshots into the trajectory store ``store``.

    Parameters
    ----------
    model : nn.Module
        Trained in place; ends at the last window step.
    data : Dataset
    config : TrainConfig
    store : path
        The zarr store to create (or to resume; see ``resume``). The checkpoint lives beside it.
    params : "hidden", "all", or parameter names
        The subset recorded in the snapshots (see :func:`~sgdpotential.models.select_parameters`).
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

    Raises
    ------
    ConfigError
        Bad settings; :class:`TrainingDiverged` when the loss becomes non-finite.

    Notes
    -----
    Cost per step: one forward/backward on B samples, plus a copy of N parameters on snapshot steps.
    Deterministic on CPU for a fixed thread count.
    """
    config.validate(data.n_train)
    spe = config.steps_per_epoch(data.n_train)
    n_window = config.n_window_steps(data.n_train)
    n_snap = config.n_snapshots(data.n_train)
    selection = select_parameters(model, params)
    ckpt = checkpoint_path(store)
    store = Path(store)
    if not store.parent.exists():
        raise ConfigError(f"the folder of {str(store)!r} does not exist; create it or choose another output path.")
    if not resume and (store.exists() or ckpt.exists()):
        raise ConfigError(f"{str(store)!r} already exists; resume it or choose a new output path.")

    # validated: from here on the model and data are prepared for the run
    device = torch.device(config.device)
    data = data.to(device)
    model.to(device)
    flat = _bind_flat(model)
    n_all = flat.numel()
    sel_slice, sel_index = _selection_in_flat(model, selection, device)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay)
    sampler = MinibatchSampler(data.n_train, config.batch_size, config.sampling, config.seed, device)

    state = None
    if resume:
        if not ckpt.exists():
            if store.exists() and Trajectory.open(store).complete:
                traj = Trajectory.open(store)
                meta = traj.metadata
                return TrainResult(traj, selection, meta["burn_in"]["epochs"], meta["burn_in"]["accuracy"],
                                   meta["burn_in"]["reached_target"], n_window, spe, resumed=True,
                                   eval_log=traj.eval_log)
            raise ConfigError(f"nothing to resume: no checkpoint {str(ckpt)!r}; start without --resume.")
        state = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sampler.load(state["sampler"])

    def snapshot_state(phase, **extra):
        return {"phase": phase, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "sampler": sampler.state(), **extra}

    step = 0 if state is None else state["step"]
    check_every = 64  # on a GPU a finite-loss check syncs the device: check a batch of steps at once
    recent = torch.zeros(check_every, device=device)

    def diverged(bad_step: int, value: float) -> TrainingDiverged:
        return TrainingDiverged(
            f"SGD diverged at step {bad_step} (epoch {(bad_step - 1) // spe + 1}): the minibatch loss became "
            f"{value}; lr = {config.lr:g} is too large for this network — try lr = {config.lr / 2:g} or smaller."
        )

    def sgd_step() -> None:
        nonlocal step
        idx = sampler.next()
        opt.zero_grad(set_to_none=True)
        loss = per_sample_loss(model(data.X[idx]), data.y[idx], config.loss).mean()
        loss.backward()
        opt.step()
        step += 1
        if device.type == "cpu":
            value = loss.item()  # no device to sync: check every step, name the exact one
            if not math.isfinite(value):
                raise diverged(step, value)
            return
        recent[(step - 1) % check_every] = loss.detach()
        if step % check_every == 0 and not bool(torch.isfinite(recent).all()):
            first = int(torch.nonzero(~torch.isfinite(recent))[0, 0])
            raise diverged(step - check_every + first + 1, float(recent[first]))

    # ---------------------------------------------------------------- burn-in
    t0 = time.perf_counter()
    if state is None or state["phase"] == "burn-in":
        epoch = 0 if state is None else state["epoch"]
        acc = float("nan") if state is None else state["accuracy"]
        fixed = config.burn_in_epochs
        while True:
            done = (epoch >= fixed) if fixed is not None else (
                epoch >= config.max_burn_in_epochs or (epoch > 0 and acc >= config.target_accuracy))
            if done:
                break
            for _ in range(spe):
                sgd_step()
            epoch += 1
            _, acc = evaluate(model, data, loss=config.loss)
            _save_checkpoint(ckpt, snapshot_state("burn-in", step=step, epoch=epoch, accuracy=acc))
            if progress:
                progress("burn-in", epoch, fixed if fixed is not None else config.max_burn_in_epochs)
        if epoch == 0:
            _, acc = evaluate(model, data, loss=config.loss)
        if progress:
            progress("burn-in", epoch, epoch)  # burn-in is over: the bar is complete
        burn_in = {"epochs": epoch, "steps": step, "accuracy": acc,
                   "reached_target": None if fixed is not None else bool(acc >= config.target_accuracy)}
        meta = store_metadata(config, data, selection, n_all, params, burn_in, metadata)
        traj = Trajectory.create(store, selection.size, metadata=meta, capacity=n_snap, chunk_rows=chunk_rows,
                                 overwrite=True)
        w_state = {"committed": 0, "window_step": 0, "sum_all": torch.zeros(n_all, dtype=torch.float64, device=device),
                   "eval": {"step": [], "loss": [], "accuracy": []}}
        _save_checkpoint(ckpt, snapshot_state("window", step=step, burn_in=burn_in, **w_state))
    else:
        burn_in = state["burn_in"]
        traj = Trajectory.open(store, mode="r+")
        if traj.n_snapshots > state["committed"]:
            traj.truncate(state["committed"])  # rows written after the last checkpoint: recomputed below
        w_state = {k: state[k] for k in ("committed", "window_step", "sum_all", "eval")}
    t_burn = time.perf_counter() - t0

    # ---------------------------------------------------------------- window
    t0 = time.perf_counter()
    rows = traj.chunk_rows
    buf = torch.empty((rows, selection.size), dtype=torch.float32, device=device)
    buf_steps = np.empty(rows, dtype=np.int64)
    sum_all = w_state["sum_all"].to(device)
    eval_log = w_state["eval"]
    eval_every = config.eval_every or spe
    committed, wstep, k = w_state["committed"], w_state["window_step"], 0
    last_checkpoint = time.perf_counter()
    while committed + k < n_snap:
        sgd_step()
        wstep += 1
        if wstep % config.stride == 0:
            with torch.no_grad():
                if sel_slice is not None:
                    buf[k].copy_(flat[sel_slice])
                else:
                    torch.index_select(flat, 0, sel_index, out=buf[k])
                sum_all.add_(flat)
            buf_steps[k] = step
            k += 1
        if wstep % eval_every == 0:
            loss, acc = evaluate(model, data, loss=config.loss)
            eval_log["step"].append(step)
            eval_log["loss"].append(loss)
            eval_log["accuracy"].append(acc)
        if k == rows or committed + k == n_snap:
            traj.append(buf[:k].cpu().numpy(), buf_steps[:k], eval_log=eval_log)
            committed += k
            k = 0
            # a checkpoint is a full copy of the training state: throttled, since the store commit above
            # already protects the data and a resume simply recomputes what came after the checkpoint
            if committed < n_snap and time.perf_counter() - last_checkpoint >= checkpoint_seconds:
                _save_checkpoint(ckpt, snapshot_state("window", step=step, burn_in=burn_in, committed=committed,
                                                      window_step=wstep, sum_all=sum_all, eval=eval_log))
                last_checkpoint = time.perf_counter()
            if progress:
                progress("window", committed, n_snap)
    traj.finish((sum_all / committed).cpu().numpy())
    ckpt.unlink(missing_ok=True)
    return TrainResult(traj, selection, burn_in["epochs"], burn_in["accuracy"], burn_in["reached_target"],
                       n_window, spe, t_burn, time.perf_counter() - t0, resumed=state is not None, eval_log=eval_log)
