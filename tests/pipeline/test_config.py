"""Configurations are typed when they are read: a wrong type or an unknown key, in a file, a mapping or the
overrides, is one sentence at once — and any generated configuration either validates to the end or gets a
ConfigError, never another exception."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgdpotential import load_dataset
from sgdpotential.errors import ConfigError
from sgdpotential.pipeline.config import RunConfig, config_from_mapping, load_config, preset, with_overrides
from sgdpotential.pipeline.network import build_network

DIGITS = load_dataset("digits")


@pytest.mark.parametrize(("text", "message"), [
    ('hidden = "50"', r"config file '.*c.toml': hidden = '50' must be a list of integers\."),
    ("hidden = [50.5]", r"hidden = \[50.5\] must be a list of integers\."),
    ('components = "20"', r"components = '20' must be an integer\."),
    ("threads = 1.5", r"threads = 1.5 must be an integer or unset\."),
    ("learning_rate = 0.1", r"unknown key 'learning_rate'; known keys are activation, ages, "),
    ('[train]\nlr = "0.1"', r"config file '.*c.toml', \[train\]: lr = '0.1' must be a number\."),
    ("[train]\nbatch_size = 32.0", r"\[train\]: batch_size = 32.0 must be an integer\."),
    ("[train]\nburn_in = 3", r"\[train\]: unknown key 'burn_in'; known keys are adam_eps, age_epochs, "),
    ("[train]\nwindow_epochs = true", r"window_epochs = True must be a number or unset\."),
    # bounds and choices, from the fields' specs: refused when read, before any data is loaded
    ("components = 0", r"config file '.*c.toml': components = 0 must be an integer ≥ 1; the number K of principal"),
    ("threads = 0", r"config file '.*c.toml': threads = 0 must be an integer ≥ 1; the torch threads"),
    ("replay_paths = -1", r"replay_paths = -1 must be an integer ≥ 0"),
    ("[train]\nsampling = \"random\"", r"\[train\]: sampling = 'random' is not one of shuffle, replacement\."),
    ("[train]\nmomentum = 1.0", r"\[train\]: momentum = 1.0 must be a finite number in \[0, 1\); 0 for plain SGD\."),
    ("[train]\nlr = 0", r"\[train\]: lr = 0 must be a finite number > 0; e.g. 0.1\."),
    ("[train]\nloss = \"l1\"", r"\[train\]: loss = 'l1' is not one of cross_entropy, mse\."),
])
def test_a_config_file_is_typed_on_load(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(f'preset = "quick"\n{text}\n')
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_overrides_are_typed_and_unknown_names_refused():
    with pytest.raises(ConfigError, match=r"the settings given: unknown key 'hiden'"):
        with_overrides(preset("quick"), hiden=[3])  # once silently put into train
    with pytest.raises(ConfigError, match=r"the settings given: hidden = '50' must be a list of integers"):
        preset("quick", hidden="50")
    assert preset("quick", hidden=(16, 16)).hidden == [16, 16]  # a tuple is a list


ANY = st.one_of(st.none(), st.booleans(), st.integers(-3, 70), st.floats(-1, 3), st.just(float("nan")),
                st.sampled_from(["", "x", "relu", "cpu", "all"]), st.lists(st.integers(-2, 40), max_size=3),
                st.dictionaries(st.sampled_from(["lr", "x"]), st.integers(0, 2), max_size=1))
REAL = st.one_of(st.floats(-0.5, 1.5), st.just(0.0), st.just(float("nan")))
#: per key: values of the right type, near and beyond their bounds (drawn twice as often as ANY's wrong types)
TOP = {
    "model": st.sampled_from(["mlp", "lenet", "resnet-gn", "factories:tiny_cnn", "nope:factory", "resnet"]),
    "hidden": st.lists(st.integers(-1, 40), max_size=3), "activation": st.sampled_from(["relu", "tanh", "bad"]),
    "model_seed": st.integers(-2, 5), "components": st.integers(-1, 400), "noise_axes": st.integers(-1, 10),
    "params": st.sampled_from(["hidden", "all", "type:Conv2d", "type:Linear", "fc1.weight", "nope", ""]),
    "noise_snapshots": st.integers(-1, 10), "replay_paths": st.integers(-1, 25),
    "ages": st.lists(st.integers(-1, 30), max_size=2), "threads": st.one_of(st.none(), st.integers(-1, 4)),
    "unknown_key": st.integers(0, 1),
}
TRAIN = {
    "lr": REAL, "batch_size": st.integers(-1, 3000), "sampling": st.sampled_from(["shuffle", "replacement", "x"]),
    "optimizer": st.sampled_from(["sgd", "adam", "rmsprop", "lbfgs"]), "momentum": REAL, "seed": st.integers(-2, 5),
    "burn_in_epochs": st.one_of(st.none(), st.integers(-1, 2)), "target_accuracy": REAL,
    "max_burn_in_epochs": st.integers(-1, 5), "age_epochs": st.integers(-1, 3),
    "window_epochs": st.one_of(st.none(), st.floats(-1, 5)), "window_steps": st.one_of(st.none(), st.integers(-1, 500)),
    "stride": st.integers(-1, 50), "eval_every": st.one_of(st.none(), st.integers(-1, 10)),
    "device": st.sampled_from(["cpu", "cuda", "gpu", "cpu:0"]), "loss": st.sampled_from(["mse", "cross_entropy", "l1"]),
    "weight_decay": REAL, "beta1": REAL, "beta2": REAL, "adam_eps": st.floats(-1e-8, 1e-6),
    "nonsense": st.integers(0, 1),
}


def _mapping(fields: dict):
    return st.lists(st.sampled_from(sorted(fields)), max_size=4, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries({k: st.one_of(fields[k], fields[k], ANY) for k in keys}))


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(top=_mapping(TOP), train=_mapping(TRAIN))
def test_any_generated_config_validates_or_is_one_config_error(top, train):
    """Read as a file would be (quick preset + the generated keys), then validated as every run is (build_network on
    the digits): it completes, or raises ConfigError — never a TypeError or a torch error from deep inside."""
    try:
        cfg = config_from_mapping({"preset": "quick", "dataset": "digits", **top, "train": train})
        assert isinstance(cfg, RunConfig)
        build_network(cfg, data=DIGITS)
    except ConfigError as exc:
        message = str(exc)
        assert message.endswith((".", ")")) and "\n" not in message, message


# ---------------------------------------------------------------- the one schema


def test_every_configuration_field_is_described_once_and_the_lists_follow_from_it():
    """Each field of RunConfig and TrainConfig carries its Spec (help; bounds and choices where it has them); the
    CLI's settings are exactly those marked cli, typed from the annotations; the sweep knows exactly these fields."""
    from dataclasses import fields

    from sgdpotential._validation import spec_of
    from sgdpotential.dynamics.config import OPTIMIZERS, SAMPLING, TrainConfig
    from sgdpotential.nn.losses import LOSSES
    from sgdpotential.pipeline.config import config_fields
    from sgdpotential.pipeline.settings import SETTINGS
    from sgdpotential.pipeline.sweep import _known_fields

    known = config_fields()
    assert set(known) == {f.name for f in fields(RunConfig)} - {"train"} | {f.name for f in fields(TrainConfig)}
    assert all(spec_of(f) is not None and spec_of(f).help.endswith(".") for _, f in known.values())
    assert [s.name for s in SETTINGS] == [n for n, (_, f) in known.items() if spec_of(f).cli]
    typed = {s.name: (s.type, s.int_list) for s in SETTINGS}
    assert typed["lr"] == (float, False) and typed["stride"] == (int, False) and typed["hidden"] == (str, True)
    assert typed["threads"] == (int, False)  # int | None: unset is the option left out
    assert {n: spec_of(known[n][1]).choices for n in ("sampling", "optimizer", "loss")} == {
        "sampling": SAMPLING, "optimizer": OPTIMIZERS, "loss": LOSSES}
    assert _known_fields() == set(known)
    from sgdpotential.nn.models import ACTIVATIONS  # the activation's help names every one the MLP builder takes

    assert all(a in spec_of(known["activation"][1]).help for a in ACTIVATIONS)


def test_a_field_that_is_not_used_is_not_checked():
    """window_epochs is not used while window_steps is set, nor target_accuracy while burn_in_epochs is: values
    that were accepted before the schema stay accepted (stored runs reopen); seeds may be negative, as torch's are."""
    cfg = config_from_mapping({"preset": "quick", "model_seed": -1, "train": {
        "window_steps": 100, "window_epochs": 0.0, "burn_in_epochs": 2, "target_accuracy": 2.0, "seed": -3}})
    cfg.train_config().validate(DIGITS.n_train)
    with pytest.raises(ConfigError, match=r"\[train\]: window_epochs = 0.0 must be a finite number > 0"):
        config_from_mapping({"preset": "quick", "train": {"window_epochs": 0.0}})


def test_presets_are_changes_of_feng_tu():
    from sgdpotential.pipeline.config import PRESETS

    base = PRESETS["feng-tu"].to_dict()
    changed = {name: {k for k in base if k != "train" and cfg.to_dict()[k] != base[k]}
               | {f"train.{k}" for k in base["train"] | cfg.train if cfg.train.get(k) != base["train"].get(k)}
               for name, cfg in PRESETS.items()}
    assert changed == {"feng-tu": set(), "feng-tu-mnist": {"dataset"},
                       "quick": {"dataset", "hidden", "components", "ages", "train.batch_size",
                                 "train.max_burn_in_epochs", "train.window_epochs"}}
    PRESETS["feng-tu-mnist"].hidden.append(7)  # a deep copy: changing one preset's list leaves the others
    try:
        assert PRESETS["feng-tu"].hidden == [50, 50]
    finally:
        PRESETS["feng-tu-mnist"].hidden.pop()
