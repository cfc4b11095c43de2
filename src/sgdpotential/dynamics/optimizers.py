"""The optimizer of a training configuration, built in one place, and the one divergence error.

Today: plain SGD and heavy-ball SGD with weight decay (``torch.optim.SGD``). Only plain SGD has a linear model
in :mod:`sgdpotential.theory` (:func:`~sgdpotential.theory.linear_model` refuses the others), so a run with
momentum or weight decay can be recorded but not analysed.
"""

from __future__ import annotations

import math

import torch

from ..errors import TrainingDiverged

__all__ = ["diverged", "make_optimizer"]


def make_optimizer(params, config) -> torch.optim.Optimizer:
    """The optimizer that :class:`~sgdpotential.TrainConfig` ``config`` describes, over ``params``."""
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def diverged(what: str, when: str, symptom: str, lr: float, *, why: str = "lr is too large for it") -> TrainingDiverged:
    """The one message for a run that left the finite numbers: what diverged, when, how, and the fix."""
    smaller = 10 ** math.floor(math.log10(lr / 2)) if lr > 0 else lr
    return TrainingDiverged(f"{what} diverged {when}: {symptom}; {why} (lr = {lr:g}) — try lr ≤ {smaller:g}.")
