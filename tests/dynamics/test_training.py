"""SGD recording: determinism, store contents, burn-in, divergence, bad settings, kill and resume."""

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import train_child

from sgdpotential import (
    ConfigError,
    TrainConfig,
    TrainingDiverged,
    Trajectory,
    build_mlp,
    flat_parameters,
    load_dataset,
    select_parameters,
    train,
)
from sgdpotential.dynamics.training import checkpoint_path

DIGITS = load_dataset("digits")


def small_run(tmp_path, name="t.zarr", params="hidden", **overrides):
    cfg = dict(lr=0.05, batch_size=32, burn_in_epochs=2, window_steps=60, stride=2, seed=3)
    cfg.update(overrides)
    net = build_mlp([64, 16, 16, 10], seed=0)
    return net, train(net, DIGITS, TrainConfig(**cfg), tmp_path / name, params=params, chunk_rows=8)


def test_recording_contents(tmp_path):
    net, res = small_run(tmp_path)
    tr = res.trajectory
    assert tr.complete and tr.shape == (30, 256) and res.selection.names == ("fc2.weight",)
    spe = DIGITS.n_train // 32
    assert res.steps_per_epoch == spe and res.burn_in_epochs == 2
    np.testing.assert_array_equal(tr.steps, 2 * spe + np.arange(2, 61, 2))  # after every 2nd window step
    np.testing.assert_array_equal(tr.read()[-1], flat_parameters(net, res.selection).numpy())  # last = final model
    assert tr.mean_all.shape == (64 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10,)
    sel = slice(64 * 16 + 16, 64 * 16 + 16 + 256)  # fc2.weight inside the all-parameter vector
    np.testing.assert_allclose(tr.mean_all[sel], tr.read().astype(np.float64).mean(axis=0), rtol=1e-6, atol=1e-7)
    meta = tr.metadata
    assert meta["config"]["lr"] == 0.05 and meta["sampling"] == "shuffle" and meta["seed"] == 3
    assert meta["parameters"] == [{"name": "fc2.weight", "shape": [16, 16], "offset": 0}]
    assert meta["dataset"]["name"] == "digits" and "torch" in meta["versions"]
    assert len(tr.eval_log["step"]) == 60 // spe
    assert not checkpoint_path(tmp_path / "t.zarr").exists()  # removed once complete


def test_the_store_keeps_every_weight_as_the_window_opened(tmp_path):
    """``start_all`` — where a replay of the window starts — holds all the weights before the window's first step:
    the state that the same training (deterministic, same minibatches) reaches after the burn-in's steps."""
    spe = DIGITS.n_train // 32
    _, res = small_run(tmp_path)  # 2 burn-in epochs, the hidden weights recorded every 2nd step
    start = res.trajectory.start_all
    assert start.shape == res.trajectory.mean_all.shape and start.dtype == np.float64
    _, plain = small_run(tmp_path, "plain.zarr", burn_in_epochs=0, window_steps=2 * spe, stride=1, params="all")
    np.testing.assert_array_equal(start, plain.trajectory.read()[-1])  # after the same 2·spe steps
    np.testing.assert_array_equal(plain.trajectory.start_all,
                                  flat_parameters(build_mlp([64, 16, 16, 10], seed=0)).numpy())  # no burn-in


def test_deterministic_and_options(tmp_path):
    _, a = small_run(tmp_path, "a.zarr")
    _, b = small_run(tmp_path, "b.zarr")
    np.testing.assert_array_equal(a.trajectory.read(), b.trajectory.read())
    _, c = small_run(tmp_path, "c.zarr", seed=4)
    assert not np.array_equal(a.trajectory.read(), c.trajectory.read())
    _, d = small_run(tmp_path, "d.zarr", sampling="replacement", momentum=0.9, weight_decay=1e-4)
    assert d.trajectory.shape == (30, 256) and np.isfinite(d.trajectory.read()).all()


def test_burn_in_until_target_accuracy(tmp_path):
    net = build_mlp([64, 32, 32, 10], seed=0)
    res = train(net, DIGITS, TrainConfig(lr=0.1, batch_size=32, target_accuracy=0.95, window_steps=10),
                tmp_path / "t.zarr")
    assert res.reached_target and res.burn_in_accuracy >= 0.95
    assert res.trajectory.metadata["burn_in"]["epochs"] == res.burn_in_epochs >= 1


def test_an_exploding_loss_stops_the_run_at_its_step(tmp_path):
    with pytest.raises(TrainingDiverged, match=r"SGD diverged at step 2 \(epoch 1\): the minibatch loss reached "
                       r"[0-9.e+]+, more than 10000 times ln C = 2\.303, the loss of a uniform guess \(the first was "
                       r"lower\); lr is too large for this network \(lr = 1e\+06\) — try lr ≤ 100000\."):
        small_run(tmp_path, lr=1e6)
    assert list(tmp_path.iterdir()) == []  # it stopped in the first epoch, before any checkpoint or store


def test_a_non_finite_loss_names_the_step(tmp_path, monkeypatch):
    from sgdpotential.dynamics import training

    monkeypatch.setattr(training, "exploded", lambda loss, scale: not np.isfinite(loss))  # the non-finite check only
    with pytest.raises(TrainingDiverged, match=r"SGD diverged at step \d+ \(epoch \d+\): the minibatch loss became "
                       r"(nan|inf); lr is too large for this network \(lr = 1e\+06\) — try lr ≤ 100000\."):
        small_run(tmp_path, lr=1e6)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lr": 0.0}, r"lr = 0.0 must be a finite number > 0"),
        ({"lr": -1}, r"lr = -1 must be a finite number > 0"),
        ({"batch_size": 5000}, r"batch_size = 5000 must be an integer in \[1, 1797\]; a minibatch cannot exceed "
                               r"the 1797 training samples\."),
        ({"batch_size": 32.0}, r"batch_size = 32.0 must be an integer in \[1, 1797\]"),
        ({"batch_size": True}, r"batch_size = True must be an integer"),
        ({"momentum": 1.0}, r"momentum = 1.0 must be a finite number in \[0, 1\); 0 for plain SGD\."),
        ({"sampling": "cyclic"}, r"sampling = 'cyclic' is not one of shuffle, replacement"),
        ({"stride": 100}, r"the window of 60 steps with stride 100 gives 0 snapshot\(s\)"),
        ({"device": "cuda:7"} if not torch.cuda.is_available() else {"lr": float("nan")},
         r"CUDA is not available here|lr = nan"),
    ],
)
def test_bad_settings(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        small_run(tmp_path, **overrides)
    assert not (tmp_path / "t.zarr").exists()  # nothing half-written


def test_unknown_parameter_and_existing_output(tmp_path):
    net = build_mlp([64, 16, 16, 10])
    with pytest.raises(ConfigError, match=r"unknown parameter name 'fc2.wieght'"):
        train(net, DIGITS, TrainConfig(window_steps=10), tmp_path / "t.zarr", params="fc2.wieght")
    small_run(tmp_path)
    with pytest.raises(ConfigError, match=r"already exists; resume it or choose a new output path"):
        small_run(tmp_path)
    with pytest.raises(ConfigError, match=r"nothing to resume"):
        train(net, DIGITS, TrainConfig(window_steps=10), tmp_path / "new.zarr", resume=True)


def _child(store, mode):
    script = Path(train_child.__file__)
    return subprocess.run([sys.executable, str(script), str(store), mode], capture_output=True, text=True,
                          check=False, timeout=300)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return train_child.run(tmp_path_factory.mktemp("ref") / "t.zarr").trajectory


@pytest.mark.kill
@pytest.mark.parametrize("mode", ["burn-in", "after-chunk", "before-checkpoint"])
def test_killed_run_resumes_to_the_identical_store(tmp_path, reference, mode):
    store = tmp_path / "t.zarr"
    proc = _child(store, mode)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if mode != "burn-in":
        killed = Trajectory.open(store)
        assert not killed.complete and 0 < killed.n_snapshots < 300
        np.testing.assert_array_equal(killed.read(), reference.read(0, killed.n_snapshots))  # intact prefix
    res = train_child.run(store, resume=True)
    assert res.resumed
    tr = Trajectory.open(store)
    assert tr.complete and tr.n_snapshots == reference.n_snapshots == 300
    np.testing.assert_array_equal(tr.read(), reference.read())
    np.testing.assert_array_equal(tr.steps, reference.steps)
    np.testing.assert_array_equal(tr.mean_all, reference.mean_all)
    np.testing.assert_array_equal(tr.start_all, reference.start_all)
    assert tr.eval_log == reference.eval_log
    assert not checkpoint_path(store).exists()


def test_non_contiguous_selection(tmp_path):
    """fc1.bias and fc3.weight are apart in the flat buffer: the snapshot gathers them in model order."""
    net = build_mlp([64, 16, 16, 10], seed=0)
    cfg = TrainConfig(lr=0.05, batch_size=32, burn_in_epochs=0, window_steps=12)
    res = train(net, DIGITS, cfg, tmp_path / "t.zarr", params="fc3.weight,fc1.bias", chunk_rows=5)
    assert res.selection.names == ("fc1.bias", "fc3.weight") and res.trajectory.n_params == 16 + 160
    np.testing.assert_array_equal(res.trajectory.read()[-1], flat_parameters(net, res.selection).numpy())


def test_selection_matches_model(tmp_path):
    net, res = small_run(tmp_path)
    assert res.selection == select_parameters(net, "hidden")


def test_age_epochs_opens_the_window_later_on_the_same_path(tmp_path):
    """A window opened ``age_epochs`` after burn-in is the stretch of the same training path that a run opening
    at burn-in reaches then (training is deterministic): an age scan needs no second protocol."""
    spe = 1797 // 32
    base = dict(lr=0.1, batch_size=32, target_accuracy=0.9, seed=2)
    young = train(build_mlp([64, 16, 16, 10], seed=0), DIGITS, TrainConfig(**base, window_steps=3 * spe + 40),
                  tmp_path / "young.zarr", params="all")
    old = train(build_mlp([64, 16, 16, 10], seed=0), DIGITS, TrainConfig(**base, age_epochs=3, window_steps=40),
                tmp_path / "old.zarr", params="all")
    b = old.trajectory.metadata["burn_in"]
    assert b["age_epochs"] == 3 and b["epochs"] == b["target_epochs"] + 3 == young.burn_in_epochs + 3
    assert b["reached_target"] is True
    np.testing.assert_array_equal(old.trajectory.read(), young.trajectory.read()[3 * spe :])


@pytest.mark.parametrize("sampling", ["shuffle", "replacement"])
def test_a_continued_window_is_the_later_age_of_the_same_run(tmp_path, sampling):
    """``train(start=state)`` records a later window of the same training run (no retraining of the prefix):
    the same snapshots as a fresh run with that ``age_epochs``, the same burn-in record but for its age, and
    a window ending mid-epoch continues mid-permutation."""
    base = dict(lr=0.1, batch_size=32, target_accuracy=0.9, seed=2, sampling=sampling)
    first = train(build_mlp([64, 16, 16, 10], seed=0), DIGITS, TrainConfig(**base, window_steps=70),
                  tmp_path / "first.zarr", params="all")
    cont = train(build_mlp([64, 16, 16, 10], seed=5), DIGITS, TrainConfig(**base, age_epochs=4, window_steps=50),
                 tmp_path / "cont.zarr", params="all", start=first.state)
    fresh = train(build_mlp([64, 16, 16, 10], seed=0), DIGITS, TrainConfig(**base, age_epochs=4, window_steps=50),
                  tmp_path / "fresh.zarr", params="all")
    np.testing.assert_array_equal(cont.trajectory.read(), fresh.trajectory.read())
    assert cont.trajectory.metadata["burn_in"] == fresh.trajectory.metadata["burn_in"]
    again = train(build_mlp([64, 16, 16, 10], seed=0), DIGITS, TrainConfig(**base, age_epochs=5, window_steps=50),
                  tmp_path / "again.zarr", params="all", start=cont.state)
    one = train(build_mlp([64, 16, 16, 10], seed=0), DIGITS, TrainConfig(**base, age_epochs=5, window_steps=2),
                tmp_path / "one.zarr", params="all")  # a chain of continuations stays on the path
    np.testing.assert_array_equal(again.trajectory.read()[:2], one.trajectory.read())
    with pytest.raises(ConfigError, match="ages must be at least the window length apart"):
        train(build_mlp([64, 16, 16, 10], seed=0), DIGITS, TrainConfig(**base, age_epochs=1, window_steps=50),
              tmp_path / "early.zarr", params="all", start=cont.state)


def test_the_explosion_scale_is_the_first_loss_but_never_below_a_uniform_guess():
    import math

    from sgdpotential.dynamics.optimizers import EXPLOSION, exploded, explosion_scale

    assert explosion_scale(2.5, 10, "cross_entropy") == (2.5, "its first value 2.5")
    scale, name = explosion_scale(1e-4, 10, "cross_entropy")  # a pretrained model, or an old checkpoint (0)
    assert scale == math.log(10) and name == "ln C = 2.303, the loss of a uniform guess (the first was lower)"
    assert explosion_scale(0.0, 10, "mse") == (0.0, "its first value 0")
    assert not exploded(1.0, scale) and exploded(EXPLOSION * scale * 1.01, scale)
    assert exploded(float("nan"), 0.0) and not exploded(1e300, 0.0)  # no scale: only a non-finite loss stops it
