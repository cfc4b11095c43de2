"""The one place that turns a run configuration into what its stages compute with.

:func:`build_network` loads the data set, builds the model (initialised with ``model_seed``, on the run's
device) and validates every setting against them; :class:`Network` then hands every stage the same
:class:`~sgdpotential.nn.objective.Objective` (the run's loss, device and parameter subset), and :func:`analysable`
the same linear model of the optimizer (:func:`~sgdpotential.theory.linear_model`), so that no stage can probe or
analyse a run with settings different from the ones it was trained with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .._repr import concise_repr
from .._validation import check_scalar, check_specs
from ..errors import ConfigError, DecompositionError
from ..theory import linear_model
from .config import RunConfig

__all__ = ["Network", "analysable", "build_network"]

#: The fewest replayed windows that give the sample-spectrum comparison a sampling null.
MIN_REPLAY_PATHS = 5


@dataclass
class Network:
    """What a run configuration builds.

    Attributes
    ----------
    config : RunConfig
    train : TrainConfig
        Validated against the data.
    data : Dataset
    model : nn.Module
        Freshly initialised (``model_seed``), on the run's device.
    widths : list[int] or None
        The MLP's layer widths, input and output included (``None`` for other models).
    seconds : float
        Wall time of loading and building.
    """

    __repr__ = concise_repr

    config: RunConfig
    train: object
    data: object
    model: object
    widths: list
    seconds: float = 0.0

    @property
    def sampling_n_train(self) -> int | None:
        """N_L for the sampling factor: the training-set size when minibatches are drawn without replacement,
        ``None`` with replacement."""
        return self.data.n_train if self.train.sampling == "shuffle" else None

    def objective(self, params=None, *, base=None):
        """The run's objective over ``params`` (default: the recorded subset), the other weights held at ``base``
        (all weights, e.g. the window mean ``mean_all``): the run's loss, on the run's device, in eval mode."""
        from ..nn.objective import Objective

        return Objective(self.model, self.data, self.config.params if params is None else params, base=base,
                         loss=self.train.loss)


def analysable(config: RunConfig, n_train: int | None = None, preconditioner=None):
    """The linear model of ``config``'s optimizer (with ``n_train`` samples when minibatches are drawn without
    replacement; ``None`` only checks that a model exists); :class:`ConfigError` with the theory's one
    sentence when it models no such optimizer."""
    t = config.train_config()
    try:
        return linear_model(t.lr, t.batch_size, n_train if t.sampling == "shuffle" else None, momentum=t.momentum,
                            weight_decay=t.weight_decay, optimizer=t.optimizer, beta1=t.beta1,
                            preconditioner=preconditioner)
    except DecompositionError as exc:
        raise ConfigError(str(exc)) from exc


def _check_ages(ages, tcfg, n_train: int) -> None:
    """Later ages: integers, each at least one window length after the previous (the first window's age is
    ``train.age_epochs``)."""
    if not isinstance(ages, list | tuple):
        raise ConfigError(f"ages = {ages!r} must be a list of epochs after burn-in, e.g. [20, 80].")
    spe, window = tcfg.steps_per_epoch(n_train), tcfg.n_window_steps(n_train)
    previous = tcfg.age_epochs
    for a in ages:
        check_scalar(a, "ages", int, min_val=0, fix="ages are whole epochs after the burn-in ends, e.g. [20, 80]")
        if (a - previous) * spe < window:
            raise ConfigError(
                f"ages = {list(ages)}: age {a} opens its window {a - previous} epoch(s) after the window at age "
                f"{previous}, which lasts {window / spe:g} epochs; space the ages at least one window apart.")
        previous = a


def _check_forward(spec: str, model, data, device) -> None:
    """One forward pass on two training samples, before any training: a model that cannot take the data set's
    samples, or does not return one score per class, is refused in one sentence naming what it received."""
    import torch

    x = data.X[:2].to(device)
    # what the model's body receives: the flat samples (mlp) or, after the input Unflatten, the sample shape
    inner = tuple(x.shape) if spec == "mlp" else (2, *data.sample_shape)
    try:
        with torch.no_grad():
            out = model.eval()(x)
    except Exception as exc:
        why = " ".join(str(exc).split())
        raise ConfigError(f"model = {spec!r}: its forward pass failed on a batch of shape {inner} (2 samples of the "
                          f"data set {data.name!r}) with {type(exc).__name__}: {why}; make it accept "
                          f"(B, *sample_shape) inputs.") from exc
    finally:
        model.train()
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, data.n_classes):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(f"model = {spec!r}: on a batch of shape {inner} it returned {got}, not (2, "
                          f"{data.n_classes}) — one score per class of {data.name!r} for each sample.")


def build_network(config: RunConfig, *, data=None, fresh: bool = True) -> Network:
    """Load the data (unless given), build the model on the run's device and validate every setting — before
    any expensive work. Raises :class:`ConfigError` naming the first bad setting. ``fresh=False`` (a recorded run
    reopened) skips the limits of a window still to be recorded (``components`` ≤ min(T − 1, N)), which older runs
    met by clamping K."""
    import torch

    from ..nn.data import load_dataset
    from ..nn.models import build_model, select_parameters
    from ..nn.objective import check_deterministic

    t0 = time.perf_counter()
    tcfg = config.train_config()
    check_specs(config)  # every field's bounds (a RunConfig made in Python skips from_dict's check)
    if 0 < config.replay_paths < MIN_REPLAY_PATHS:
        raise ConfigError(f"replay_paths = {config.replay_paths} replayed windows cannot give a sampling null; use 0 "
                          f"(no replay) or at least {MIN_REPLAY_PATHS} (20 for the null's 95% range).")
    data = load_dataset(config.dataset) if data is None else data
    tcfg.validate(data.n_train)
    _check_ages(config.ages, tcfg, data.n_train)
    widths = [data.n_features, *config.hidden, data.n_classes] if config.model == "mlp" else None
    model = build_model(config.model, data.sample_shape, data.n_classes, hidden=config.hidden,
                        activation=config.activation, seed=config.model_seed).to(torch.device(tcfg.device))
    n_params = select_parameters(model, config.params).size  # a bad name fails here
    limit = min(tcfg.n_snapshots(data.n_train) - 1, n_params)
    if fresh and config.components > limit:  # a window of T snapshots of N weights has at most min(T − 1, N) directions
        raise ConfigError(
            f"components = {config.components} is more than this window can have: its {tcfg.n_snapshots(data.n_train)}"
            f" snapshots of {n_params} recorded weights give at most {limit} principal directions (min(T − 1, N)); "
            f"give components ≤ {limit}, or a longer window.")
    _check_forward(config.model, model, data, torch.device(tcfg.device))
    check_deterministic(model, data.X[:64].to(torch.device(tcfg.device)))  # eval mode: per-sample, deterministic
    return Network(config, tcfg, data, model, widths, time.perf_counter() - t0)
