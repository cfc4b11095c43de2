"""The fused MLP step against torch.optim.SGD's autograd step: the same iterates to round-off, and only where
it applies."""

import numpy as np
import pytest
import torch
from torch import nn

from sgdpotential import TrainConfig, Trajectory, build_mlp, load_dataset, train
from sgdpotential.dynamics.fused import FusedMLPStep
from sgdpotential.dynamics.training import bind_flat_
from sgdpotential.nn.objective import per_sample_loss


def _autograd_steps(model, X, y, idx_list, lr, loss, momentum=0.0):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    for idx in idx_list:
        opt.zero_grad(set_to_none=True)
        per_sample_loss(model(X[idx]), y[idx], loss).mean().backward()
        opt.step()
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize(("dtype", "steps", "tol"), [(torch.float64, 100, 1e-12), (torch.float32, 500, 1e-5)])
def test_same_iterates_as_torch_sgd(loss, dtype, steps, tol, momentum):
    data = load_dataset("digits")
    X, y = data.X.to(dtype), data.y
    gen = torch.Generator().manual_seed(3)
    idx_list = [torch.randperm(X.shape[0], generator=gen)[:25] for _ in range(steps)]
    widths = [64, 20, 16, 10]
    # the same effective step α/(1 − μ) either way: at α = 0.1 with μ = 0.9 the path is chaotic enough that torch's
    # own float32 and float64 iterates part by 0.56 (of 3.1) within 500 steps — nothing to compare to round-off
    lr = 0.1 * (1 - momentum)
    ref = _autograd_steps(build_mlp(widths, seed=1).to(dtype), X, y, idx_list, lr, loss, momentum)
    model = build_mlp(widths, seed=1).to(dtype)
    flat = bind_flat_(model)
    step = FusedMLPStep(model, flat, X, y, lr, 25, loss, momentum)
    for idx in idx_list:
        value = step(idx)
    np.testing.assert_allclose(flat.numpy(), ref.numpy(), rtol=0, atol=tol * float(ref.abs().max()))
    with torch.no_grad():  # the loss it returns is the minibatch loss before its last update
        assert torch.isfinite(value) and value.ndim == 0


def test_bias_free_layers():
    data = load_dataset("digits")
    X, y = data.X.double(), data.y
    idx_list = [torch.arange(i, i + 30) for i in range(0, 300, 30)]
    make = lambda: build_mlp([64, 12, 10], seed=2, bias=False).double()  # noqa: E731
    ref = _autograd_steps(make(), X, y, idx_list, 0.05, "cross_entropy")
    model = make()
    flat = bind_flat_(model)
    step = FusedMLPStep(model, flat, X, y, 0.05, 30, "cross_entropy")
    for idx in idx_list:
        step(idx)
    np.testing.assert_allclose(flat.numpy(), ref.numpy(), rtol=0, atol=1e-13)


def test_applies_only_where_exact():
    sgd, mom = TrainConfig(), TrainConfig(momentum=0.9)
    mlp = build_mlp([4, 3, 2])
    assert FusedMLPStep.applies(mlp, sgd) and FusedMLPStep.applies(mlp, mom)
    assert not FusedMLPStep.applies(mlp, TrainConfig(weight_decay=1e-4))
    assert not FusedMLPStep.applies(mlp, TrainConfig(optimizer="adam"))
    assert not FusedMLPStep.applies(build_mlp([4, 3, 2], activation="tanh"), sgd)
    assert not FusedMLPStep.applies(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)), sgd)  # no ReLU between
    assert not FusedMLPStep.applies(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), sgd)  # ends in an activation


def test_train_records_the_same_window_either_way(tmp_path):
    """train() with the fused step and with the autograd step: the same stored trajectory to float32 round-off."""
    data = load_dataset("digits")
    cfg = TrainConfig(lr=0.1, batch_size=32, burn_in_epochs=2, window_steps=200, stride=1)
    out = {}
    for fused in (True, False):
        store = tmp_path / f"{fused}.zarr"
        train(build_mlp([64, 32, 32, 10], seed=0), data, cfg, store, params="hidden", fused=fused)
        traj = Trajectory.open(store)
        out[fused] = traj.read(0, 200)
        assert traj.metadata["sgd_step"] == ("fused" if fused else "autograd")  # the store says which arithmetic
    scale = np.abs(out[False]).max()
    np.testing.assert_allclose(out[True], out[False], rtol=0, atol=1e-5 * scale)
    assert not np.array_equal(out[True][0], out[True][-1])  # the window moved


def test_a_momentum_checkpoint_carries_the_fused_buffer():
    """Heavy-ball through the fused step: the optimizer's state_dict holds the flat buffer's views, so a checkpoint
    written mid-run and loaded into a fresh loop continues with the identical iterates (bit for bit); and the run
    follows the autograd step's iterates to float32 round-off."""
    import io

    from sgdpotential.dynamics.training import _SGDLoop

    data = load_dataset("digits")
    cfg = TrainConfig(lr=0.05, batch_size=32, momentum=0.9)
    loops = [_SGDLoop(build_mlp([64, 16, 10], seed=0), data, cfg, fused=f) for f in (True, False)]
    assert loops[0].fused is not None and loops[1].fused is None
    for _ in range(60):
        for loop in loops:
            loop.step()
    saved = io.BytesIO()
    torch.save(loops[0].state("burn-in"), saved)
    assert all(v["momentum_buffer"].abs().sum() > 0 for v in loops[0].opt.state_dict()["state"].values())
    saved.seek(0)
    resumed = _SGDLoop(build_mlp([64, 16, 10], seed=5), data, cfg)
    resumed.load(torch.load(saved, weights_only=False))
    for _ in range(60):
        for loop in (*loops, resumed):
            loop.step()
    assert torch.equal(resumed.flat, loops[0].flat)
    np.testing.assert_allclose(loops[0].flat.numpy(), loops[1].flat.numpy(), rtol=0,
                               atol=1e-5 * float(loops[1].flat.abs().max()))
