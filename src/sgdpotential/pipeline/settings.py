"""The run settings a command line may override: each declared once — its configuration field, its type and its
help — and the ``record`` and ``run`` commands' options generated from this one list. Torch-free.

A setting's name is a field of :class:`~sgdpotential.pipeline.config.RunConfig` or of its training table
(:class:`~sgdpotential.TrainConfig`); :func:`~sgdpotential.pipeline.config.with_overrides` puts it where it belongs
and checks its type and bounds, so this list carries no validation of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SETTINGS", "Setting"]


@dataclass(frozen=True)
class Setting:
    """One overridable setting: a configuration field as the command line offers it, ``--name VALUE`` (None,
    the default, leaves the preset's or config file's value).

    Attributes
    ----------
    name : str
        The configuration field (the option is ``--name`` with ``-`` for ``_``).
    type : type
        ``float``, ``int`` or ``str`` as typed on the command line.
    help : str
        One line for ``--help`` and the CLI reference.
    int_list : bool
        Given as comma-separated integers (``50,50``; ``''`` for an empty list).
    """

    name: str
    type: type
    help: str
    int_list: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("dataset", str, "mnist5k, digits, mnist1d, npz:PATH, mnist:DIR, cifar10:DIR, or mnist / fashion-mnist / "
                            "cifar10 (downloaded once, MD5-verified)."),
    Setting("lr", float, "Learning rate α."),
    Setting("batch_size", int, "Minibatch size B."),
    Setting("seed", int, "Seed of the minibatch sampler."),
    Setting("params", str, "Recorded subset: hidden, all, type:Conv2d, or parameter names."),
    Setting("components", int, "K, principal directions kept."),
    Setting("window_epochs", float, "Length of the recorded window in epochs."),
    Setting("stride", int, "A snapshot every this many steps."),
    Setting("device", str, "cpu or cuda."),
    Setting("hidden", str, "Hidden-layer widths, e.g. 50,50 ('' for a linear model).", int_list=True),
    Setting("activation", str, "relu, tanh, …"),
    Setting("target_accuracy", float, "Training accuracy that ends burn-in (e.g. 1.0)."),
    Setting("ages", str, "Later ages, epochs after burn-in, e.g. 20,80 ('' for none).", int_list=True),
    Setting("sampling", str, "shuffle (one permutation per epoch) or replacement."),
    Setting("model", str, "mlp, lenet, lenet-bn, resnet-bn, resnet-gn, or package.module:factory."),
    Setting("momentum", float, "Heavy-ball momentum μ in [0, 1) (0: plain SGD)."),
    Setting("optimizer", str, "sgd, adam or rmsprop (Adam/RMSprop: laws approximate)."),
    Setting("threads", int, "Torch (and BLAS) threads of every stage (default: per stage, chosen by "
                            "bench/bench_threads.py, at most the cores available); recorded in the provenance."),
)
