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


# ---------------------------------------------------------------------------------------------------- any nn.Module


@pytest.mark.parametrize("name", ["lenet", "lenet-bn", "resnet-bn", "resnet-gn"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_built_in_cnns_take_flat_images_and_are_seeded(name, shape):
    from sgdpotential.nn.models import build_model

    net = build_model(name, shape, 10, seed=3)
    x = torch.rand(5, int(torch.tensor(shape).prod()))
    assert net(x).shape == (5, 10) and isinstance(net.input, torch.nn.Unflatten)
    again = build_model(name, shape, 10, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), again.parameters(), strict=True))
    other = build_model(name, shape, 10, seed=4)
    assert not all(torch.equal(p, q) for p, q in zip(net.parameters(), other.parameters(), strict=True))
    norms = {type(m).__name__ for m in net.modules()} & {"BatchNorm2d", "GroupNorm"}
    assert norms == ({"BatchNorm2d"} if name.endswith("-bn") else {"GroupNorm"} if name.endswith("-gn") else set())


def test_mlp_through_build_model_is_build_mlp():
    from sgdpotential.nn.models import build_model

    a, b = build_model("mlp", (1, 8, 8), 10, hidden=[16], seed=2), build_mlp([64, 16, 10], seed=2)
    assert [n for n, _ in a.named_parameters()] == [n for n, _ in b.named_parameters()]
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_user_factory_and_parameter_subsets_by_layer_type():
    from sgdpotential.nn.models import build_model

    net = build_model("factories:tiny_cnn", (1, 8, 8), 10, seed=0)
    assert [n for n, _ in net.named_parameters()][:2] == ["net.0.weight", "net.0.bias"]
    assert net(torch.rand(3, 64)).shape == (3, 10)
    conv = select_parameters(net, "type:Conv2d")
    assert conv.names == ("net.0.weight", "net.0.bias") and conv.size == 4 * 9 + 4
    both = select_parameters(net, "type:Conv2d,Linear")
    assert both.names == ("net.0.weight", "net.0.bias", "net.4.weight", "net.4.bias")
    with pytest.raises(ConfigError, match="no module of type 'BatchNorm2d'; its types are"):
        select_parameters(net, "type:BatchNorm2d")


@pytest.mark.parametrize(("name", "shape", "message"), [
    ("lenet", (40,), r"model = 'lenet' needs images of shape \(C, H, W\), but the data set's samples have shape"),
    ("vgg", (1, 8, 8), "model = 'vgg' is not one of mlp, lenet"),
    ("nosuchpackage.mod:f", (1, 8, 8), "cannot import 'f' from module 'nosuchpackage.mod'"),
    ("factories:missing", (1, 8, 8), "cannot import 'missing' from module 'factories'"),
    ("factories:NOT_CALLABLE", (1, 8, 8), "'NOT_CALLABLE' is not callable"),
    ("factories:not_a_module", (1, 8, 8), "the factory returned str, not a torch.nn.Module"),
    ("factories:broken", (1, 8, 8), r"raised ValueError: needs colour images"),
])
def test_bad_models_are_refused_in_one_sentence(name, shape, message):
    from sgdpotential.nn.models import build_model

    with pytest.raises(ConfigError, match=message):
        build_model(name, shape, 10)
