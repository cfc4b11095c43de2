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
])
def test_a_config_file_is_typed_on_load(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(f'preset = "quick"\n{text}\n')
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_overrides_are_typed_and_unknown_names_refused():
    with pytest.raises(ConfigError, match=r"the settings given, \[train\]: unknown key 'hiden'"):
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
