"""Replicas trained together follow their sequential twins; bad input and divergence leave nothing behind."""

import numpy as np
import pytest

import sgdpotential as sp
from sgdpotential.dynamics.replicas import train_replicas
from sgdpotential.dynamics.training import TrainConfig, train
from sgdpotential.errors import ConfigError, TrainingDiverged

WIDTHS = [64, 32, 32, 10]


@pytest.fixture(scope="module")
def digits():
    return sp.load_dataset("digits")


def _sequential(data, cfg, path, init=0):
    return train(sp.build_mlp(WIDTHS, seed=init), data, cfg, path).trajectory


@pytest.mark.parametrize("vary", ["seed", "lr", "init"])
def test_replicas_match_sequential_runs(digits, tmp_path, vary):
    # target-accuracy burn-in (each replica ends it on its own epoch) and a window with stride 2; short enough
    # that training's sensitivity does not amplify the batched GEMMs' round-off differences (~1e-9 per step)
    base = TrainConfig(lr=0.1, batch_size=32, target_accuracy=0.9, window_steps=120, stride=2)
    inits = (0, 1, 2) if vary == "init" else (0, 0, 0)
    if vary == "seed":
        configs = [TrainConfig(**{**base.__dict__, "seed": s}) for s in (0, 1, 2)]
    elif vary == "lr":
        configs = [TrainConfig(**{**base.__dict__, "lr": lr}) for lr in (0.05, 0.1, 0.2)]
    else:  # one minibatch seed, three initialisations
        configs = [base] * 3
    models = [sp.build_mlp(WIDTHS, seed=m) for m in inits] if vary == "init" else sp.build_mlp(WIDTHS, seed=0)
    res = train_replicas(models, digits, configs, [tmp_path / f"r{i}.zarr" for i in range(3)])
    for i, (r, cfg) in enumerate(zip(res, configs, strict=True)):
        seq = _sequential(digits, cfg, tmp_path / f"s{i}.zarr", inits[i])
        assert r.trajectory.metadata["burn_in"]["epochs"] == seq.metadata["burn_in"]["epochs"]
        np.testing.assert_array_equal(r.trajectory.steps, seq.steps)
        a, b = r.trajectory.read(), seq.read()
        assert a.shape == b.shape == (60, 32 * 32)
        assert np.abs(a - b).max() < 1e-4 * np.abs(b).max()  # float tolerance (weights ~1, float32)
        np.testing.assert_allclose(r.trajectory.mean_all, seq.mean_all, atol=1e-4)
        np.testing.assert_allclose(r.trajectory.start_all, seq.start_all, atol=1e-4)  # every weight as it opened
        assert r.trajectory.metadata["replica"] == {"index": i, "of": 3}
    # the replicas really are different runs (else the test could not tell them apart)
    assert np.abs(res[0].trajectory.read() - res[1].trajectory.read()).max() > 0.01


def test_bad_input(digits, tmp_path):
    cfg = TrainConfig(burn_in_epochs=1, window_steps=20)
    with pytest.raises(ConfigError, match="replica 1 differs from replica 0 in 'batch_size'"):
        train_replicas(sp.build_mlp(WIDTHS), digits, [cfg, TrainConfig(burn_in_epochs=1, window_steps=20,
                                                                         batch_size=16)],
                       [tmp_path / "a.zarr", tmp_path / "b.zarr"])
    with pytest.raises(ConfigError, match="one store per replica"):
        train_replicas(sp.build_mlp(WIDTHS), digits, [cfg, cfg], [tmp_path / "a.zarr"])
    with pytest.raises(ConfigError, match="momentum = 0"):
        m = TrainConfig(burn_in_epochs=1, window_steps=20, momentum=0.9)
        train_replicas(sp.build_mlp(WIDTHS), digits, [m, m], [tmp_path / "a.zarr", tmp_path / "b.zarr"])
    with pytest.raises(ConfigError, match="replica 1's model differs from replica 0's in its parameters"):
        train_replicas([sp.build_mlp(WIDTHS), sp.build_mlp([64, 16, 10])], digits, [cfg, cfg],
                       [tmp_path / "a.zarr", tmp_path / "b.zarr"])
    with pytest.raises(ConfigError, match=r"one model .* per replica: 1 models and 2"):
        train_replicas([sp.build_mlp(WIDTHS)], digits, [cfg, cfg], [tmp_path / "a.zarr", tmp_path / "b.zarr"])
    (tmp_path / "taken.zarr").mkdir()
    with pytest.raises(ConfigError, match="already exists"):
        train_replicas(sp.build_mlp(WIDTHS), digits, [cfg, cfg], [tmp_path / "a.zarr", tmp_path / "taken.zarr"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.zarr"]


def test_a_diverging_replica_is_named_and_nothing_is_left(digits, tmp_path):
    cfgs = [TrainConfig(burn_in_epochs=0, window_steps=200, lr=lr) for lr in (0.1, 1e6)]
    with pytest.raises(TrainingDiverged, match=r"SGD in replica 1 \(seed 0\) diverged by step 8 \(epoch 1\): the "
                       r"weights became non-finite; lr is too large for this network \(lr = 1e\+06\) — try lr ≤ "
                       r"100000\."):
        train_replicas(sp.build_mlp(WIDTHS), digits, cfgs, [tmp_path / "a.zarr", tmp_path / "b.zarr"])
    assert list(tmp_path.iterdir()) == []
    cfgs[1].lr = 200  # finite but exploding: the ReLUs die with huge, frozen weights (issue 26)
    with pytest.raises(TrainingDiverged, match=r"SGD in replica 1 \(seed 0\) diverged by step 8 \(epoch 1\): the "
                       r"minibatch loss reached [0-9.]+e\+\d\d, more than 10000 times its first value 2\.3\d\d; lr is "
                       r"too large for this network \(lr = 200\) — try lr ≤ 100\."):
        train_replicas(sp.build_mlp(WIDTHS), digits, cfgs, [tmp_path / "a.zarr", tmp_path / "b.zarr"])
    assert list(tmp_path.iterdir()) == []
