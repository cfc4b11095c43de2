"""The linear model of a run's optimizer: which model of :mod:`.sgd` or :mod:`.adaptive` describes it, or a
one-sentence refusal for a configuration the theory does not model (weight decay). The one place that chooses, so
that :mod:`.sgd` need not import :mod:`.adaptive`, which builds on it."""

from __future__ import annotations

from ..errors import DecompositionError
from .adaptive import ADAPTIVE, LinearAdaptive
from .sgd import LinearMomentumSGD, LinearSGD

__all__ = ["linear_model"]


def linear_model(lr: float, batch_size: int, n_train: int | None = None, *, momentum: float = 0.0,
                 weight_decay: float = 0.0, optimizer: str = "sgd", beta1: float = 0.9,
                 preconditioner=None) -> LinearSGD | None:
    """The linear model of an optimizer configuration, or a one-sentence refusal for one it does not model.

    Plain SGD (:class:`LinearSGD`) and heavy-ball momentum (:class:`LinearMomentumSGD`, μ ∈ (0, 1)) are
    modelled exactly; Adam and RMSprop with their second moment frozen over the window
    (:class:`~sgdpotential.theory.adaptive.LinearAdaptive`, approximate), which needs the run's ``preconditioner``
    in the analysed basis — without it the configuration is only checked and ``None`` returned. Weight decay is
    refused: it shifts both the force (H + λI) and the expansion point, so the laws would be silently wrong for it.

    Examples
    --------
    >>> linear_model(0.1, 50, momentum=0.9).effective_lr
    1.0000000000000002
    >>> linear_model(0.1, 50, weight_decay=5e-4)
    Traceback (most recent call last):
    ...
    sgdpotential.errors.DecompositionError: weight_decay = 0.0005: sgdpotential's linear theory models SGD with \
and without momentum but not weight decay, so it refuses to analyse this run; train with weight_decay = 0, or \
record it without analysis (sgdpotential record).
    """
    if weight_decay != 0:
        raise DecompositionError(
            f"weight_decay = {weight_decay!r}: sgdpotential's linear theory models SGD with and without momentum but "
            f"not weight decay, so it refuses to analyse this run; train with weight_decay = 0, or record it without "
            f"analysis (sgdpotential record).")
    if optimizer in ADAPTIVE:
        if preconditioner is None:
            return None
        return LinearAdaptive(lr, batch_size, n_train, preconditioner=preconditioner,
                              beta1=beta1 if optimizer == "adam" else 0.0, optimizer=optimizer)
    if optimizer != "sgd":
        raise DecompositionError(f"optimizer = {optimizer!r}: sgdpotential's linear theory models sgd, adam and "
                                 f"rmsprop; train with one of them.")
    if momentum != 0:
        return LinearMomentumSGD(lr, batch_size, n_train, momentum=momentum)
    return LinearSGD(lr, batch_size, n_train)
