"""The training settings of a run, :class:`TrainConfig`, and the names they are checked against — torch-free, so that
reading and validating a configuration (``sgdpotential.pipeline.config``) does not load torch (except to ask whether
CUDA is available when a CUDA device is asked for). What steps weights with these settings is :mod:`.training`."""

from __future__ import annotations

from dataclasses import dataclass

from .._validation import check_scalar, check_specs, setting
from ..errors import ConfigError
from ..nn.losses import LOSSES

__all__ = ["OPTIMIZERS", "SAMPLING", "TrainConfig"]

#: How minibatches are drawn (:class:`~sgdpotential.dynamics.sampler.MinibatchSampler`): ``shuffle``, a new
#: permutation each epoch, N_L // B minibatches (an incomplete last batch is dropped, so every step uses exactly B
#: samples); ``replacement``, B indices drawn uniformly with replacement every step.
SAMPLING = ("shuffle", "replacement")

#: The optimizers a run trains with (:func:`~sgdpotential.dynamics.optimizers.make_optimizer`): SGD (plain or
#: heavy-ball), Adam and RMSprop (torch's implementations).
OPTIMIZERS = ("sgd", "adam", "rmsprop")


def _cuda_available() -> bool:
    import torch  # only when a CUDA device is asked for

    return torch.cuda.is_available()


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
    optimizer : {"sgd", "adam", "rmsprop"}
        ``torch.optim.SGD`` (default), ``Adam`` or ``RMSprop``
        (:func:`~sgdpotential.dynamics.optimizers.make_optimizer`).
    momentum, weight_decay : float
        Off (0) by default: plain SGD, the process the theory describes (momentum: SGD's heavy ball only).
    beta1, beta2, adam_eps : float
        Adam's β1, β2 and ϵ (RMSprop: ``alpha = beta2``, ``eps = adam_eps``).
    seed : int
        Seeds the minibatch sampler (the model's initialisation has its own seed).
    burn_in_epochs : int or None
        Fixed number of burn-in epochs; ``None`` to train until ``target_accuracy``.
    target_accuracy : float
        With ``burn_in_epochs=None``: stop burn-in at the end of the first epoch whose full-batch
        training accuracy is ≥ this (at most ``max_burn_in_epochs``).
    age_epochs : int
        Further epochs of SGD after burn-in ends and before the window opens: the network's age at the window.
        Training is deterministic, so runs that differ only in ``age_epochs`` record the windows that one
        training run passes through at those ages (a sweep over it is an age scan).
    window_epochs, window_steps : float or None, int or None
        Length of the recorded window (give one; steps take precedence).
    stride : int
        A snapshot every ``stride`` steps.
    eval_every : int or None
        Full-batch loss/accuracy every this many window steps (default: once per epoch).
    device : str
        ``"cpu"`` or ``"cuda"`` (when available).
    loss : {"cross_entropy", "mse"}
        The per-sample loss (:func:`~sgdpotential.nn.objective.per_sample_loss`); ``mse`` makes a linear
        model's loss exactly quadratic (tests, analytic cases).
    """

    lr: float = setting(0.1, help="Learning rate α.", low=0, closed="neither", fix="e.g. 0.1", cli=True)
    batch_size: int = setting(50, help="Minibatch size B (at most the training samples).", low=1, cli=True)
    sampling: str = setting("shuffle", help="shuffle (one permutation per epoch) or replacement.", choices=SAMPLING,
                            cli=True)
    optimizer: str = setting("sgd", help="sgd, adam or rmsprop (Adam/RMSprop: laws approximate).",
                             choices=OPTIMIZERS, cli=True)
    momentum: float = setting(0.0, help="Heavy-ball momentum μ in [0, 1) (0: plain SGD).", low=0, high=1,
                              closed="left", fix="0 for plain SGD", cli=True)
    beta1: float = setting(0.9, help="Adam's β1 (first-moment decay).", low=0, high=1, closed="left",
                           fix="Adam's moment decay, e.g. 0.9 and 0.999")
    beta2: float = setting(0.999, help="Adam's β2 (second-moment decay; RMSprop's alpha).", low=0, high=1,
                           closed="left", fix="Adam's moment decay, e.g. 0.9 and 0.999")
    adam_eps: float = setting(1e-8, help="Adam's and RMSprop's ϵ.", low=0, closed="neither", fix="e.g. 1e-8")
    weight_decay: float = setting(0.0, help="L2 weight decay (0: plain SGD, the process the theory describes).",
                                  low=0, fix="0 for plain SGD")
    seed: int = setting(0, help="Seed of the minibatch sampler.", cli=True)
    burn_in_epochs: int | None = setting(None, help="Fixed burn-in epochs (unset: train to target_accuracy).", low=0)
    target_accuracy: float = setting(1.0, help="Training accuracy that ends burn-in (e.g. 1.0).", low=0, high=1,
                                     closed="right", fix="e.g. 1.0", cli=True, unless="burn_in_epochs")
    max_burn_in_epochs: int = setting(300, help="At most this many burn-in epochs to reach target_accuracy.", low=1)
    age_epochs: int = setting(0, help="Epochs of SGD after burn-in before the window opens.", low=0,
                              fix="0 opens the window when burn-in ends")
    window_epochs: float | None = setting(10.0, help="Length of the recorded window in epochs.", low=0,
                                          closed="neither", fix="or give window_steps", cli=True,
                                          unless="window_steps")
    window_steps: int | None = setting(None, help="Length of the recorded window in steps (before window_epochs).",
                                       low=1)
    stride: int = setting(1, help="A snapshot every this many steps.", low=1, cli=True)
    eval_every: int | None = setting(None, help="Full-batch loss and accuracy every this many window steps "
                                                "(unset: once per epoch).", low=1)
    device: str = setting("cpu", help="cpu or cuda.", cli=True)
    loss: str = setting("cross_entropy", help="cross_entropy, or mse (a linear model's loss exactly quadratic).",
                        choices=LOSSES)

    def validate(self, n_train: int) -> None:
        """Raise :class:`ConfigError` naming the first bad setting: each field against its declared bounds and choices
        (:func:`~sgdpotential._validation.check_specs`), then the rules between fields and the data."""
        check_scalar(self.batch_size, "batch_size", int, min_val=1, max_val=n_train,
                     fix=f"a minibatch cannot exceed the {n_train} training samples")
        check_specs(self)  # every field's bounds and choices (the settings above)
        if self.optimizer != "sgd" and self.momentum:
            raise ConfigError(f"momentum = {self.momentum:g} is SGD's heavy ball; with optimizer = "
                              f"{self.optimizer!r} set momentum = 0 (Adam's momentum is beta1).")
        if self.window_steps is None and self.window_epochs is None:
            raise ConfigError("window_epochs = None needs window_steps; give one of them (e.g. window_epochs = 10).")
        if self.device.startswith("cuda") and not _cuda_available():
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
