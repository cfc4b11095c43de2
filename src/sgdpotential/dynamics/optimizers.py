"""The optimizer of a training configuration, built in one place, and the one divergence error.

SGD (plain or heavy-ball, ``torch.optim.SGD``), Adam and RMSprop, each with optional weight decay. The theory
models SGD and heavy-ball SGD exactly and Adam/RMSprop with their second moment frozen over the window
(:func:`~sgdpotential.theory.linear_model`); weight decay is recorded but not analysed.
"""

from __future__ import annotations

import math

import torch

from ..errors import TrainingDiverged
from .config import OPTIMIZERS

__all__ = ["EXPLOSION", "OPTIMIZERS", "diverged", "exploded", "explosion_scale", "make_optimizer", "preconditioner"]

#: A minibatch loss above this many times the first step's loss ends the run as diverged, like a non-finite one:
#: at initialisation the loss is at its largest scale (cross-entropy ≈ ln C), so a loss 10⁴ times larger means
#: the step size has thrown the weights out (a lr far too large kills the ReLUs with finite, frozen weights
#: that would otherwise burn every burn-in epoch and leave a window without variance).
EXPLOSION = 1e4


def make_optimizer(params, config) -> torch.optim.Optimizer:
    """The optimizer that :class:`~sgdpotential.TrainConfig` ``config`` describes, over ``params``:
    ``torch.optim.SGD`` (``momentum``), ``Adam`` (``betas = (beta1, beta2)``, ``eps = adam_eps``) or ``RMSprop``
    (``alpha = beta2``, ``eps = adam_eps``, no momentum)."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, betas=(config.beta1, config.beta2), eps=config.adam_eps,
                                weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, alpha=config.beta2, eps=config.adam_eps,
                                   weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


@torch.no_grad()
def preconditioner(opt: torch.optim.Optimizer, params) -> torch.Tensor | None:
    """Adam's or RMSprop's current diagonal preconditioner 1/(√v̂ + ϵ) over ``params`` (flat, in their order), with
    Adam's bias correction v̂ = v/(1 − β2^t); ``None`` for SGD or before the first step."""
    if not isinstance(opt, torch.optim.Adam | torch.optim.RMSprop):
        return None
    group = opt.param_groups[0]
    out = []
    for p in params:
        state = opt.state.get(p)
        if not state:
            return None
        if isinstance(opt, torch.optim.Adam):
            v = state["exp_avg_sq"] / (1 - group["betas"][1] ** float(state["step"]))
        else:
            v = state["square_avg"]
        out.append((1.0 / (v.sqrt() + group["eps"])).reshape(-1))
    return torch.cat(out)


def explosion_scale(first: float | None, n_classes: int | None, loss: str) -> tuple[float, str]:
    """The loss scale an explosion is measured against, and its name for the message: the first step's minibatch
    loss, but never below ln C for cross-entropy (the loss of a uniform guess — so that a run resumed from an old
    checkpoint, or a pretrained model, with a tiny first loss is not stopped by an ordinary spike)."""
    floor = math.log(n_classes) if loss == "cross_entropy" and n_classes and n_classes > 1 else 0.0
    first = 0.0 if first is None or not math.isfinite(first) else first
    if first >= floor:
        return first, f"its first value {first:.4g}"
    return floor, f"ln C = {floor:.4g}, the loss of a uniform guess (the first was lower)"


def exploded(loss: float, scale: float) -> bool:
    """Whether the minibatch ``loss`` is not finite or above :data:`EXPLOSION` × ``scale`` (no bound when the scale
    is not positive)."""
    return not math.isfinite(loss) or (scale > 0 and loss > EXPLOSION * scale)


def diverged(what: str, when: str, symptom: str, lr: float, *, why: str = "lr is too large for it") -> TrainingDiverged:
    """The one message for a run that left the finite numbers: what diverged, when, how, and the fix."""
    smaller = 10 ** math.floor(math.log10(lr / 2)) if lr > 0 else lr
    return TrainingDiverged(f"{what} diverged {when}: {symptom}; {why} (lr = {lr:g}) — try lr ≤ {smaller:g}.")
