"""Objective: mean-vs-sum scaling, prefix caching, base values, and bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as nnf

from sgdpotential import ConfigError, build_mlp, flat_parameters, load_dataset, select_parameters
from sgdpotential.nn.objective import Objective

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
