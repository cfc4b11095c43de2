"""Minibatch indices, exactly as every stepping engine draws them (training, replicas, replays)."""

from __future__ import annotations

import torch

from .config import SAMPLING

__all__ = ["SAMPLING", "MinibatchSampler"]


class MinibatchSampler:
    """Minibatch indices from a private generator; its whole state is checkpointable.

    The same ``(n, batch_size, sampling, seed)`` gives the same minibatches in :func:`~sgdpotential.train`,
    :func:`~sgdpotential.train_replicas` and :func:`~sgdpotential.linearized_replay`: that is what makes a
    replay comparable step for step with the run it replays.
    """

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
