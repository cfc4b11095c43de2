"""MLP builder and parameter subsets."""

import pytest
import torch

from sgdpotential import ConfigError, build_mlp, flat_parameters, select_parameters


def test_feng_tu_network_and_hidden_subset():
    net = build_mlp([784, 50, 50, 10])
    sel = select_parameters(net, "hidden")
    assert sel.names == ("fc2.weight",) and sel.size == 2500 and sel.shapes == ((50, 50),)
    allp = select_parameters(net, "all")
    assert allp.size == 784 * 50 + 50 + 50 * 50 + 50 + 50 * 10 + 10 == 42310
    assert allp.offsets[:3] == (0, 39200, 39250)
    w = flat_parameters(net, sel)
    assert torch.equal(w, net.fc2.weight.detach().reshape(-1))
    assert flat_parameters(net).shape == (42310,)


def test_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = build_mlp([5, 4, 3], seed=7), build_mlp([5, 4, 3], seed=7)
    assert torch.equal(torch.rand(1), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c = build_mlp([5, 4, 3], seed=8)
    assert not torch.equal(a.fc1.weight, c.fc1.weight)


def test_named_subsets_in_model_order():
    net = build_mlp([4, 3, 3, 2])
    sel = select_parameters(net, "fc3.bias, fc1.weight")
    assert sel.names == ("fc1.weight", "fc3.bias") and sel.offsets == (0, 12) and sel.size == 14
    assert select_parameters(net, ["fc2.weight"]).size == 9


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: select_parameters(build_mlp([4, 3, 2]), "hidden"),
         r"params = 'hidden' needs at least two hidden layers, but the model has 2 linear layer\(s\)"),
        (lambda: select_parameters(build_mlp([4, 3, 2]), "fc9.weight"),
         r"unknown parameter name 'fc9.weight'; choose 'all', 'hidden' or names from fc1.weight, fc1.bias"),
        (lambda: build_mlp([784]), r"widths = \[784\] must be at least two positive integers"),
        (lambda: build_mlp([4, 0, 2]), r"must be at least two positive integers"),
        (lambda: build_mlp([4, 2], activation="swish"), r"activation = 'swish' is not one of relu, tanh, gelu"),
    ],
)
def test_messages(call, message):
    with pytest.raises(ConfigError, match=message):
        call()
