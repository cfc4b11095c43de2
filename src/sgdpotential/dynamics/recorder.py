"""The burn-in policy and the window recorder shared by training, replicas and replays.

* :class:`BurnIn` — when burn-in is over: after a fixed number of epochs, or at the end of the first epoch
  whose full-batch training accuracy reaches the target (at most ``max_epochs``).
* :class:`WindowRecorder` — a snapshot of the recorded weights every ``stride`` steps into a
  :class:`~sgdpotential.trajectory.Trajectory`, buffered on the device and committed one store chunk at a
  time, plus the running sum of *all* weights (the window mean ω0 of every parameter). Its state is a plain
  dict for checkpoints, so a resumed run continues exactly where the last committed chunk ended.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..trajectory import Trajectory

__all__ = ["BurnIn", "WindowRecorder"]


@dataclass(frozen=True)
class BurnIn:
    """When burn-in is over.

    Attributes
    ----------
    epochs : int or None
        A fixed number of epochs; ``None`` to train until ``target_accuracy``.
    target_accuracy : float
        Full-batch training accuracy that ends burn-in (checked at the end of each epoch).
    max_epochs : int
        The most epochs spent trying to reach the target.
    """

    epochs: int | None
    target_accuracy: float
    max_epochs: int
    age: int = 0

    @classmethod
    def of(cls, config) -> BurnIn:
        """The policy of a :class:`~sgdpotential.TrainConfig`."""
        return cls(config.burn_in_epochs, config.target_accuracy, config.max_burn_in_epochs, config.age_epochs)

    @property
    def limit(self) -> int:
        """The most epochs burn-in can take, age included (for progress bars)."""
        return (self.epochs if self.epochs is not None else self.max_epochs) + self.age

    def over(self, epoch: int, accuracy: float) -> bool:
        """Whether the burn-in proper ends after ``epoch`` epochs with training ``accuracy`` (unused at epoch 0)."""
        if self.epochs is not None:
            return epoch >= self.epochs
        return epoch >= self.max_epochs or (epoch > 0 and accuracy >= self.target_accuracy)

    def step(self, epoch: int, accuracy: float, ended: dict | None) -> tuple[bool, dict | None]:
        """After ``epoch`` epochs: (whether the window opens now, how the burn-in proper ended — ``{"epochs",
        "accuracy"}`` once it has, else None). The window opens ``age`` epochs after the burn-in proper ends."""
        if ended is None and self.over(epoch, accuracy):
            ended = {"epochs": int(epoch), "accuracy": float(accuracy)}
        return ended is not None and epoch >= ended["epochs"] + self.age, ended

    def outcome(self, epoch: int, step: int, accuracy: float, ended: dict) -> dict:
        """JSON-ready record of how burn-in ended (stored in the trajectory's metadata): the epochs, steps and
        accuracy when the window opens, whether the target was reached when the burn-in proper ended, and the age."""
        return {"epochs": int(epoch), "steps": int(step), "accuracy": float(accuracy),
                "reached_target": None if self.epochs is not None else bool(ended["accuracy"] >= self.target_accuracy),
                "age_epochs": self.age, "target_epochs": ended["epochs"]}


class WindowRecorder:
    """Record a window of ``n_snapshots`` snapshots, one every ``stride`` steps, into ``trajectory``.

    Call :meth:`advance` once per SGD step of the window; when it returns True the step is a snapshot step:
    pass the recorded weights and all weights to :meth:`add`. A full buffer (one store chunk) is appended to
    the store at once; :meth:`add` then returns True (a moment to checkpoint). :meth:`finish` stores ω0 of all
    weights and marks the store complete.

    Parameters
    ----------
    trajectory : Trajectory
        Created (or reopened and truncated to ``state["committed"]`` rows when resuming).
    n_snapshots, stride : int
    n_all : int
        Number of all weights (for the running mean).
    device : torch.device
    state : dict, optional
        :meth:`state` of an earlier recorder (resume).
    """

    def __init__(self, trajectory: Trajectory, n_snapshots: int, stride: int, n_all: int, device, *,
                 state: dict | None = None):
        self.trajectory, self.n_snapshots, self.stride = trajectory, n_snapshots, stride
        self.rows = trajectory.chunk_rows
        self.buf = torch.empty((self.rows, trajectory.n_params), dtype=torch.float32, device=device)
        self.buf_steps = np.empty(self.rows, dtype=np.int64)
        self.k = 0
        state = state or {}
        self.committed = int(state.get("committed", 0))
        self.window_step = int(state.get("window_step", 0))
        self.sum_all = (state["sum_all"].to(device) if "sum_all" in state
                        else torch.zeros(n_all, dtype=torch.float64, device=device))
        self.eval_log = state.get("eval", {"step": [], "loss": [], "accuracy": []})

    @property
    def done(self) -> bool:
        """Every snapshot committed."""
        return self.committed == self.n_snapshots

    def advance(self) -> bool:
        """Count one step of the window; True when it is a snapshot step."""
        self.window_step += 1
        return self.window_step % self.stride == 0

    @torch.no_grad()
    def add(self, step: int, recorded: torch.Tensor, everything: torch.Tensor) -> bool:
        """Buffer one snapshot (``recorded``: the recorded weights; ``everything``: all weights) taken after
        SGD step ``step``; True when this committed a chunk to the store."""
        self.buf[self.k].copy_(recorded)
        self.sum_all.add_(everything)
        self.buf_steps[self.k] = step
        self.k += 1
        if self.k < self.rows and self.committed + self.k < self.n_snapshots:
            return False
        self.trajectory.append(self.buf[: self.k].cpu().numpy(), self.buf_steps[: self.k],
                               eval_log=self.eval_log)
        self.committed += self.k
        self.k = 0
        return True

    def log(self, step: int, loss: float, accuracy: float) -> None:
        """A full-batch evaluation inside the window (stored with the next chunk)."""
        self.eval_log["step"].append(step)
        self.eval_log["loss"].append(loss)
        self.eval_log["accuracy"].append(accuracy)

    def state(self) -> dict:
        """What a checkpoint needs to resume the window after the last committed chunk."""
        if self.k:
            raise RuntimeError("a window checkpoint is taken right after a commit, never with snapshots buffered")
        return {"committed": self.committed, "window_step": self.window_step, "sum_all": self.sum_all,
                "eval": self.eval_log}

    def finish(self, extra: dict | None = None) -> None:
        """Store ω0 of all weights (the time average over the snapshots) and mark the store complete."""
        self.trajectory.finish((self.sum_all / self.committed).cpu().numpy(), extra=extra)
