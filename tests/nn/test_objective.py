"""Objective: mean-vs-sum scaling, prefix caching, base values, and bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as nnf

from sgdpotential import ConfigError, build_mlp, flat_parameters, load_dataset, select_parameters
from sgdpotential.nn.objective import Objective, mean_loss, per_sample_loss

DIGITS = load_dataset("digits")


@pytest.mark.parametrize("params", ["all", "hidden", "fc3.weight", "fc1.bias,fc3.bias"])
def test_loss_is_the_mean_of_per_sample_losses_and_matches_the_model(params):
    net = build_mlp([64, 16, 16, 10], seed=3).double()
    obj = Objective(net, DIGITS, params, chunk=500)
    w = obj.w_base
    per = obj.per_sample_losses(w)
    assert per.shape == (1797,)
    ref = nnf.cross_entropy(net(DIGITS.X.double()), DIGITS.y, reduction="none")
    torch.testing.assert_close(per, ref, rtol=1e-12, atol=1e-12)
    assert float(obj.loss(w)) == pytest.approx(float(ref.mean()), rel=1e-12)  # L is the mean, not the sum
    assert float(obj.loss(w)) * obj.n_train == pytest.approx(float(ref.sum()), rel=1e-12)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_the_training_loss_is_the_mean_of_the_per_sample_losses_with_the_same_gradient(loss):
    net = build_mlp([64, 16, 16, 10], seed=1).double()
    X, y = DIGITS.X[:50].double(), DIGITS.y[:50]
    fused = mean_loss(net(X), y, loss)
    g_fused = torch.autograd.grad(fused, list(net.parameters()))
    ref = per_sample_loss(net(X), y, loss).mean()
    g_ref = torch.autograd.grad(ref, list(net.parameters()))
    torch.testing.assert_close(fused, ref, rtol=1e-14, atol=0)
    for a, b in zip(g_fused, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


def test_prefix_is_cached_only_when_it_does_not_depend_on_w():
    net = build_mlp([64, 16, 16, 10])
    assert Objective(net, DIGITS, "hidden").features.shape == (1797, 16)  # fc1 + act1 precomputed
    assert Objective(net, DIGITS, "all").features.shape == (1797, 64)


def test_changing_w_changes_only_the_selected_parameters():
    net = build_mlp([64, 16, 16, 10], seed=0).double()
    obj = Objective(net, DIGITS, "hidden")
    w = obj.w_base + 0.1
    with torch.no_grad():
        net.fc2.weight += 0.1
    ref = nnf.cross_entropy(net(DIGITS.X.double()), DIGITS.y)
    assert float(obj.loss(w)) == pytest.approx(float(ref), rel=1e-12)


def test_base_holds_the_other_parameters():
    net = build_mlp([64, 16, 16, 10], seed=0).double()
    base = flat_parameters(net) * 0.5
    obj = Objective(net, DIGITS, "hidden", base=base)
    sel = select_parameters(net, "all")
    off = sel.offsets[sel.names.index("fc2.weight")]
    torch.testing.assert_close(obj.w_base, base[off : off + 256])
    half = build_mlp([64, 16, 16, 10], seed=0).double()
    with torch.no_grad():
        for p in half.parameters():
            p *= 0.5
    assert float(obj.loss(obj.w_base)) == pytest.approx(float(nnf.cross_entropy(half(DIGITS.X.double()), DIGITS.y)),
                                                        rel=1e-12)


def test_messages():
    net = build_mlp([64, 16, 16, 10])
    with pytest.raises(ConfigError, match=r"base has 3 values but the model has 1482 parameters"):
        Objective(net, DIGITS, base=np.zeros(3))
    with pytest.raises(ConfigError, match=r"loss = 'hinge' is not one of cross_entropy, mse"):
        Objective(net, DIGITS, loss="hinge")
    obj = Objective(net, DIGITS, "hidden")
    with pytest.raises(ConfigError, match=r"w0 has shape \(3,\); it must be a flat vector of the 256 selected"):
        obj.check_w(np.zeros(3))
    with pytest.raises(ConfigError, match=r"w0 contains NaN or inf"):
        obj.check_w(np.full(256, np.nan))


# ---------------------------------------------------------------------------------------------------- model mode


def _bn_net(seed=0):
    from collections import OrderedDict

    torch.manual_seed(seed)
    net = torch.nn.Sequential(OrderedDict(fc1=torch.nn.Linear(64, 16), bn=torch.nn.BatchNorm1d(16),
                                          act=torch.nn.ReLU(), fc2=torch.nn.Linear(16, 10)))
    with torch.no_grad():
        net(DIGITS.X[:500])  # running statistics that differ from the defaults
    return net


def test_batchnorm_is_named_and_probed_in_eval_mode():
    """Per-sample losses of a BatchNorm model do not depend on the chunk (at 0bee5a8 they did: the model was
    probed in training mode, normalising by each chunk's statistics, and nothing said so)."""
    from sgdpotential import ModelModeWarning

    net = _bn_net()
    stats = net.bn.running_mean.clone()
    with pytest.warns(ModelModeWarning, match=r"depends on the rest of the minibatch.*modules: BatchNorm1d"):
        small = Objective(net, DIGITS, "all", chunk=7)
    with pytest.warns(ModelModeWarning):
        large = Objective(net, DIGITS, "all", chunk=4096)
    w = small.w_base
    torch.testing.assert_close(small.per_sample_losses(w), large.per_sample_losses(w), rtol=1e-5, atol=1e-6)
    net.eval()
    with torch.no_grad():
        ref = nnf.cross_entropy(net(DIGITS.X), DIGITS.y, reduction="none")
    torch.testing.assert_close(small.per_sample_losses(w), ref, rtol=1e-5, atol=1e-6)
    net.train()
    assert net.training and torch.equal(net.bn.running_mean, stats)  # the caller's model is left as it was


def test_dropout_is_named_and_switched_off():
    from sgdpotential import ModelModeWarning

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(32, 10))
    before = torch.random.get_rng_state()
    with pytest.warns(ModelModeWarning, match="modules: Dropout"):
        obj = Objective(net, DIGITS, "all")
    assert torch.equal(torch.random.get_rng_state(), before)  # the check forks the global RNG
    w = obj.w_base
    torch.testing.assert_close(obj.per_sample_losses(w), obj.per_sample_losses(w), rtol=0, atol=0)


def test_a_model_that_is_random_even_in_eval_mode_is_refused():
    class Noisy(torch.nn.Module):
        def forward(self, x):
            return x + torch.randn_like(x)  # ignores self.training

    net = torch.nn.Sequential(torch.nn.Linear(64, 10), Noisy())
    with pytest.raises(ConfigError, match=r"eval-mode output for a sample changes by .* so per-sample losses and the "
                       r"noise covariance of paper Eq\. \(19\) are undefined"):
        Objective(net, DIGITS, "all")


def test_a_plain_mlp_raises_no_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Objective(build_mlp([64, 16, 16, 10]), DIGITS, "hidden")


def test_the_default_chunk_keeps_a_chunk_s_largest_activation_in_cache():
    """On the CPU the default chunk is the largest power of two whose largest module output fits in
    CHUNK_CACHE_BYTES (at most CHUNK_MAX); the loss does not depend on it beyond round-off."""
    from sgdpotential.nn.models import build_model
    from sgdpotential.nn.objective import CHUNK_CACHE_BYTES, CHUNK_MAX, cache_sized_chunk

    images = type(DIGITS)(DIGITS.X.double(), DIGITS.y, "digits", 10, DIGITS.scaling, DIGITS.sample_shape)
    net = build_model("lenet", images.sample_shape, 10, seed=2).double()
    obj = Objective(net, images, "all")
    largest = 6 * 8 * 8 * 8  # conv1's output of one 8×8 sample: 6 channels of float64
    assert obj.chunk == cache_sized_chunk(net, images.X) == CHUNK_MAX  # 384 bytes a sample: the cap
    assert obj.chunk * largest <= CHUNK_CACHE_BYTES
    big = type(DIGITS)(torch.zeros(4, 3 * 64 * 64, dtype=torch.float64), DIGITS.y[:4], "big", 10, "as given",
                       (3, 64, 64))
    c = cache_sized_chunk(build_model("lenet", (3, 64, 64), 10).double(), big.X)
    assert c * 6 * 64 * 64 * 8 <= CHUNK_CACHE_BYTES < 2 * c * 6 * 64 * 64 * 8  # 196,608 bytes a sample: 64
    assert Objective(build_mlp([64, 16, 10]).double(), DIGITS, "all").chunk == CHUNK_MAX
    one = Objective(net, images, "all", chunk=images.n_train)
    assert float(obj.loss(obj.w_base)) == pytest.approx(float(one.loss(obj.w_base)), rel=1e-13)
    with pytest.raises(ConfigError, match="chunk"):
        Objective(net, images, "all", chunk=0)
