"""The optimizer of a training configuration, built in one place, and the one divergence error.

SGD (plain or heavy-ball, ``torch.optim.SGD``), Adam and RMSprop, each with optional weight decay. The theory
models SGD and heavy-ball SGD exactly and Adam/RMSprop with their second moment frozen over the window
(:func:`~sgdpotential.theory.linear_model`); weight decay is recorded but not analysed.
"""

from __future__ import annotations

import math

import torch

from ..errors import TrainingDiverged

__all__ = ["OPTIMIZERS", "diverged", "make_optimizer", "preconditioner"]

#: The optimizers a run trains with: SGD (plain or heavy-ball), Adam and RMSprop (torch's implementations).
OPTIMIZERS = ("sgd", "adam", "rmsprop")


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


def diverged(what: str, when: str, symptom: str, lr: float, *, why: str = "lr is too large for it") -> TrainingDiverged:
    """The one message for a run that left the finite numbers: what diverged, when, how, and the fix."""
    smaller = 10 ** math.floor(math.log10(lr / 2)) if lr > 0 else lr
    return TrainingDiverged(f"{what} diverged {when}: {symptom}; {why} (lr = {lr:g}) — try lr ≤ {smaller:g}.")
