"""Linearized replays: on an exactly quadratic loss a batch-Hessian replay *is* SGD; the other variants
against their closed forms; bad input leaves nothing behind."""

import numpy as np
import pytest
import torch
from torch.func import hessian

import sgdpotential as sp
from sgdpotential.dynamics.replay import linearized_replay, linearized_replays
from sgdpotential.dynamics.training import TrainConfig, train
from sgdpotential.errors import ConfigError, TrainingDiverged
from sgdpotential.nn.probes.noise import gradient_noise_trace


@pytest.fixture(scope="module")
def digits():
    return sp.load_dataset("digits")


def _linear(seed=1):
    return sp.build_mlp([64, 10], seed=seed)  # linear regression on the 8×8 digits (weights and biases)


@pytest.mark.parametrize("sampling,stride,momentum", [("shuffle", 1, 0.0), ("replacement", 3, 0.0),
                                                       ("shuffle", 1, 0.9), ("replacement", 2, 0.5)])
def test_batch_replay_of_a_quadratic_loss_is_sgd_step_for_step(digits, tmp_path, sampling, stride, momentum):
    """Heavy-ball momentum included: the replay's buffer is torch.optim.SGD's."""
    net = _linear()
    w_init = sp.flat_parameters(net).clone()
    cfg = TrainConfig(lr=0.01, batch_size=32, burn_in_epochs=0, window_steps=150, loss="mse", seed=3,
                      sampling=sampling, stride=stride, momentum=momentum)
    real = train(net, digits, cfg, tmp_path / "sgd.zarr", params="all").trajectory
    obj = sp.Objective(_linear(), digits, "all", loss="mse")
    w0 = w_init + 0.05 * torch.randn(w_init.shape, generator=torch.Generator().manual_seed(0))  # any ω0 will do
    rep = linearized_replay(obj, w0, 0.01, 32, 150, store=tmp_path / "rep.zarr", seed=3, start=w_init,
                            sampling=sampling, stride=stride, momentum=momentum).trajectory
    assert rep.shape == real.shape == (150 // stride, 650)
    np.testing.assert_array_equal(rep.start_all, real.start_all)  # both opened at w_init (no burn-in)
    np.testing.assert_array_equal(real.start_all, w_init.numpy())
    np.testing.assert_array_equal(rep.steps, real.steps)
    moved = np.abs(real.read() - w_init.numpy()).max()
    assert moved > 0.05  # SGD moved far compared with float32 round-off...
    assert np.abs(rep.read() - real.read()).max() < 1e-6  # ...and the replay followed it step for step
    np.testing.assert_allclose(rep.mean_all, real.read().mean(0), rtol=1e-5, atol=1e-7)


FROZEN_ADAM = {"sampling": "shuffle", "warmup": 3, "record": ["fc2.weight"], "dampening": 0.9}  # + a preconditioner


@pytest.mark.parametrize("network,hessian,noise,momentum,extra", [
    ("mlp", "batch", "sgd", 0.0, {}), ("mlp", "batch", "sgd", 0.9, FROZEN_ADAM), ("mlp", "full", "sgd", 0.0, {}),
    ("mlp", "full", "isotropic", 0.5, {}), ("mlp", "full", "none", 0.0, {"sampling": "shuffle"}),
    ("cnn", "batch", "sgd", 0.9, {}), ("cnn", "full", "sgd", 0.0, {})])
def test_paths_stepped_together_equal_the_replays_one_by_one(digits, tmp_path, network, hessian, noise, momentum,
                                                             extra):
    """R paths in one pass (the vmap'ed double backward of a dense network; turns within a step for a CNN) are the R
    single replays of their seeds, to float64 round-off — on a network whose loss is not quadratic, so every path's
    minibatch Hessian differs from step to step and from the others'."""
    from factories import tiny_cnn

    if network == "mlp":
        net = sp.build_mlp([64, 12, 10], seed=2, activation="tanh").double()
    else:
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 8, 8)), *tiny_cnn((1, 8, 8), 10)).double()
    obj = sp.Objective(net, digits, "all")
    assert obj.dense == (network == "mlp")
    w0 = obj.w_base
    start = w0 + 0.05 * torch.randn(w0.shape, generator=torch.Generator().manual_seed(1), dtype=w0.dtype)
    seeds = [3, 4, 11]
    steps = 12 if (network, hessian) == ("cnn", "full") else 40  # a float64 CNN's full Hessian: ~1 s per step
    kw = {"hessian": hessian, "noise": noise, "momentum": momentum, "start": start, "sampling": "replacement",
          "stride": 2, **extra}
    if "dampening" in extra:
        kw["preconditioner"] = 0.5 + torch.rand(w0.shape, generator=torch.Generator().manual_seed(2), dtype=w0.dtype)
    stores = [tmp_path / f"t{s}.zarr" for s in seeds]
    together = linearized_replays(obj, w0, 0.05, 16, steps, stores=stores, seeds=seeds, **kw)
    for seed, t in zip(seeds, together, strict=True):
        alone = linearized_replay(obj, w0, 0.05, 16, steps, store=tmp_path / f"a{seed}.zarr", seed=seed, **kw)
        assert t.trajectory.metadata["replay"]["seed"] == seed
        # the snapshots are stored in float32: equal up to its last bit; the window mean is float64
        np.testing.assert_allclose(t.trajectory.read(), alone.trajectory.read(), rtol=2**-22, atol=1e-12)
        np.testing.assert_allclose(t.trajectory.mean_all, alone.trajectory.mean_all, rtol=1e-12, atol=1e-14)
    if noise != "none":
        a, b = (t.trajectory.read() for t in together[:2])
        assert np.abs(a - b).max() > 0.1 * np.abs(a - a[0]).max()  # the seeds drew different paths


def test_replays_together_refuse_mismatched_stores_and_seeds(digits, tmp_path):
    obj = sp.Objective(_linear(), digits, "all", loss="mse")
    with pytest.raises(ConfigError, match="2 stores and 1 seeds were given"):
        linearized_replays(obj, obj.w_base, 0.1, 32, 20, stores=[tmp_path / "a.zarr", tmp_path / "b.zarr"], seeds=[0])
    with pytest.raises(ConfigError, match="the same store"):
        linearized_replays(obj, obj.w_base, 0.1, 32, 20, stores=[tmp_path / "a.zarr", tmp_path / "x" / ".." / "a.zarr"],
                           seeds=[0, 1])
    with pytest.raises(ConfigError, match="is one path; pass a list"):
        linearized_replays(obj, obj.w_base, 0.1, 32, 20, stores=str(tmp_path / "a.zarr"), seeds=[0])
    (tmp_path / "b.zarr").mkdir()
    with pytest.raises(ConfigError, match="already exists"):
        linearized_replays(obj, obj.w_base, 0.1, 32, 20, stores=[tmp_path / "a.zarr", tmp_path / "b.zarr"],
                           seeds=[0, 1])
    with pytest.raises(TrainingDiverged):
        linearized_replays(obj, obj.w_base, 50.0, 32, 400, stores=[tmp_path / "c.zarr", tmp_path / "d.zarr"],
                           seeds=[0, 1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.zarr"]


def test_full_hessian_without_noise_is_gradient_descent_on_the_quadratic_model(digits, tmp_path):
    obj = sp.Objective(_linear(), digits, "all", loss="mse", chunk=500)
    w0 = obj.w_base.double()
    H = hessian(lambda v: obj.loss(v.float()).double())(w0)
    g = torch.func.grad(lambda v: obj.loss(v))(obj.w_base).double()
    rep = linearized_replay(obj, obj.w_base, 0.05, 32, 40, store=tmp_path / "gd.zarr", hessian="full", noise="none")
    x = torch.zeros_like(w0)
    expected = []
    for _ in range(40):
        x = x - 0.05 * (g + H @ x)
        expected.append((w0 + x).numpy())
    np.testing.assert_allclose(rep.trajectory.read(), np.array(expected), atol=2e-6)


def test_isotropic_noise_has_the_minibatch_trace(digits, tmp_path):
    obj = sp.Objective(_linear(), digits, "all", loss="mse")
    B, lr = 32, 0.01
    rep = linearized_replay(obj, obj.w_base, lr, B, 400, store=tmp_path / "iso.zarr", hessian="full",
                            noise="isotropic", seed=5)
    N, n = obj.n_train, obj.n_params
    expected = np.sqrt(gradient_noise_trace(obj, obj.w_base) * (N - B) / (N - 1) / B / n)
    assert rep.noise_std == pytest.approx(expected, rel=1e-12)
    # recover the noise from the path: ξ_t = −(x_{t+1} − x_t)/α − g − H x_t
    w = torch.tensor(rep.trajectory.read(), dtype=torch.float64)
    w0 = obj.w_base.double()
    H = hessian(lambda v: obj.loss(v.float()).double())(w0)
    g = torch.func.grad(lambda v: obj.loss(v))(obj.w_base).double()
    x = w - w0
    xi = (-(x[1:] - x[:-1]) / lr - g - x[:-1] @ H).numpy()
    # 399 × 650 draws: the spread matches to ~1%, the mean is ~0, coordinates are alike (isotropic)
    assert xi.std() == pytest.approx(expected, rel=0.02)
    assert abs(xi.mean()) < 5 * expected / np.sqrt(xi.size)
    per_coord = xi.std(axis=0)
    assert per_coord.min() > 0.8 * expected and per_coord.max() < 1.2 * expected


def test_recording_a_subset(digits, tmp_path):
    net = sp.build_mlp([64, 16, 16, 10], seed=0)
    obj = sp.Objective(net, digits, "all")
    rep = linearized_replay(obj, obj.w_base, 0.05, 32, 20, store=tmp_path / "h.zarr", record=["fc2.weight"])
    assert rep.trajectory.shape == (20, 256)
    assert rep.trajectory.metadata["parameters"] == ["fc2.weight"]
    assert rep.trajectory.metadata["replay"]["hessian"] == "batch"
    assert rep.trajectory.mean_all.shape == (obj.n_params,)
    offset = obj.selection.offsets[obj.selection.names.index("fc2.weight")]
    np.testing.assert_allclose(rep.trajectory.read().mean(0), rep.trajectory.mean_all[offset : offset + 256],
                               rtol=1e-5, atol=1e-7)
    assert rep.steps_per_second > 0 and rep.trajectory.timing["steps_per_second"] == rep.steps_per_second


def test_bad_input_and_divergence_leave_nothing(digits, tmp_path):
    obj = sp.Objective(_linear(), digits, "all", loss="mse")
    w0 = obj.w_base
    cases = [
        ({"hessian": "diag"}, "hessian = 'diag' is not one of batch, full"),
        ({"noise": "white"}, "noise = 'white' is not one of sgd, isotropic, none"),
        ({"sampling": "sorted"}, "sampling = 'sorted'"),
        ({"stride": 20}, "gives 1 snapshot"),
        ({"record": ["fc9.weight"]}, "record names 'fc9.weight'"),
        ({"start": torch.zeros(3)}, "start has shape"),
        ({"momentum": 1.0}, r"momentum = 1.0 must be a finite number in \[0, 1\); heavy-ball μ"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ConfigError, match=message):
            linearized_replay(obj, w0, 0.1, 32, 20, store=tmp_path / "bad.zarr", **kwargs)
        assert not (tmp_path / "bad.zarr").exists()
    with pytest.raises(ConfigError, match="lr = -1"):
        linearized_replay(obj, w0, -1, 32, 20, store=tmp_path / "bad.zarr")
    with pytest.raises(ConfigError, match=r"batch_size = 5000 must be an integer in \[1, 1797\]; a minibatch cannot "
                       r"exceed the 1797"):
        linearized_replay(obj, w0, 0.1, 5000, 20, store=tmp_path / "bad.zarr")
    (tmp_path / "taken.zarr").mkdir()
    with pytest.raises(ConfigError, match="already exists"):
        linearized_replay(obj, w0, 0.1, 32, 20, store=tmp_path / "taken.zarr")
    with pytest.raises(TrainingDiverged, match="replay diverged"):
        linearized_replay(obj, w0, 50.0, 32, 400, store=tmp_path / "boom.zarr")
    with pytest.raises(TrainingDiverged, match=r"lr·λ_max\(H\) ≥ 2\(1 \+ momentum\)"):
        linearized_replay(obj, w0, 50.0, 32, 400, store=tmp_path / "boom.zarr", momentum=0.5)
    assert not (tmp_path / "boom.zarr").exists()


def test_a_frozen_adam_replay_is_heavy_ball_sgd_with_the_scaled_rate(digits, tmp_path):
    """With a constant preconditioner c, the frozen-Adam step (b ← β1 b + (1 − β1)f, w ← w − αc b) is heavy-ball SGD
    with learning rate α(1 − β1)c and momentum β1: on a quadratic loss, real SGD step for step."""
    net = _linear()
    w_init = sp.flat_parameters(net).clone()
    alpha, beta1, c = 0.05, 0.9, 2.0
    cfg = TrainConfig(lr=alpha * (1 - beta1) * c, batch_size=32, burn_in_epochs=0, window_steps=120, loss="mse",
                      seed=5, momentum=beta1)
    real = train(net, digits, cfg, tmp_path / "sgd.zarr", params="all").trajectory
    obj = sp.Objective(_linear(), digits, "all", loss="mse")
    rep = linearized_replay(obj, w_init, alpha, 32, 120, store=tmp_path / "rep.zarr", seed=5, momentum=beta1,
                            dampening=beta1, preconditioner=torch.full((obj.n_params,), c)).trajectory
    assert np.abs(real.read() - w_init.numpy()).max() > 0.05
    assert np.abs(rep.read() - real.read()).max() < 1e-6
    with pytest.raises(ConfigError, match="preconditioner has 3 entries"):
        linearized_replay(obj, w_init, alpha, 32, 20, store=tmp_path / "bad.zarr", preconditioner=torch.ones(3))
