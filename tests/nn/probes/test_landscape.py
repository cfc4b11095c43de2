"""Flatness and loss profiles: the quadratic closed form, a tight scalar reference, censoring, bad input."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from conftest import orthonormal_directions
from sgdpotential import ConfigError, build_mlp
from sgdpotential.nn.objective import Objective
from sgdpotential.nn.probes import flatness, loss_profiles


def test_quadratic_closed_form(linear_ls):
    """At the least-squares minimum L(w0 + θp) = L0 + ½(pᵀHp)θ² exactly: F = 2√(2(e − 1)L0/h)."""
    obj, w0, _, H, L0, _ = linear_ls
    P = orthonormal_directions(15, 8).numpy()
    res = flatness(obj, w0, P, rtol=1e-10)
    h = np.einsum("id,de,ie->i", P, H, P)
    expected = 2 * np.sqrt(2 * (math.e - 1) * L0 / h)
    np.testing.assert_allclose(res.width, expected, rtol=1e-8)
    np.testing.assert_allclose(res.right, -res.left, rtol=1e-8)
    assert res.loss0 == pytest.approx(L0, rel=1e-12) and not res.censored.any()
    assert 0 < res.tolerance <= 1e-10  # the bracket actually reached the requested tolerance


def _small_cnn():
    """LeNet-BN (eval mode) on 60 digits, its convolutions: the non-dense path (loop of losses, HVP start)."""
    import sgdpotential as sp
    from sgdpotential.nn.models import build_model

    data = sp.load_dataset("digits")
    data = type(data)(data.X[:60].double(), data.y[:60], "digits", 10, data.scaling, data.sample_shape)
    from sgdpotential.errors import ModelModeWarning

    with pytest.warns(ModelModeWarning, match="BatchNorm2d"):
        return Objective(build_model("lenet-bn", data.sample_shape, 10, seed=1).double(), data, "type:Conv2d",
                         chunk=25)


@pytest.mark.parametrize("structure", ["tanh MLP, all parameters (vmap path)", "ReLU MLP, hidden weights (GEMM path)",
                                       "LeNet-BN, convolutions (loop path)"])
def test_small_mlp_against_brent(small_mlp, structure):
    import conftest
    from sgdpotential.nn.probes._tangents import dense_only, structured

    obj, w0 = small_mlp
    if structure.startswith("ReLU"):
        obj = Objective(build_mlp([5, 6, 6, 3], seed=4).double(), conftest.make_data(n=30, seed=1), "hidden", chunk=8)
        w0 = obj.w_base
    if structure.startswith("LeNet"):
        obj = _small_cnn()
        w0 = obj.w_base
    assert structured(obj) == structure.startswith("ReLU")
    assert dense_only(obj) == structure.startswith(("tanh", "ReLU"))
    P = orthonormal_directions(obj.n_params, 6, seed=9)
    res = flatness(obj, w0, P, rtol=1e-10, start=1e-2)
    level = math.e * res.loss0
    for i in range(6):
        for sign, got in ((1, res.right[i]), (-1, res.left[i])):
            f = lambda t, i=i, sign=sign: float(obj.loss(w0 + sign * t * P[i])) - level  # noqa: E731
            grid = 1e-2 * 2.0 ** np.arange(0, 30)  # the same first bracket the scan finds
            j = next(j for j, t in enumerate(grid) if f(t) >= 0)
            ref = brentq(f, grid[j - 1] if j else 0.0, grid[j], xtol=1e-14, rtol=1e-13)
            assert sign * got == pytest.approx(ref, rel=1e-9)


def test_line_model_routes_agree_on_a_cnn():
    """The flatness search's quadratic start on a non-dense model (one gradient and Hessian-vector products)
    equals the means of the per-sample forward-mode derivatives; its batched losses equal direct ones."""
    from sgdpotential.nn.probes.landscape import _batched_losses, _slopes_and_curvatures
    from sgdpotential.nn.probes.noise import directional_derivatives

    obj = _small_cnn()
    P = orthonormal_directions(obj.n_params, 5, seed=3)
    g, h = _slopes_and_curvatures(obj, obj.w_base, P)
    D, C2 = directional_derivatives(obj, obj.w_base, P, second=True, method="jvp")
    np.testing.assert_allclose(g, D.mean(0), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(h, C2.mean(0), rtol=1e-10, atol=1e-14)
    W = obj.w_base + 0.3 * P[:3]
    np.testing.assert_allclose(_batched_losses(obj, W).numpy(), [float(obj.loss(w)) for w in W], rtol=1e-13)


@pytest.mark.parametrize("network", ["cnn", "mlp"])
def test_a_known_curvature_gives_the_same_crossings_to_the_tolerance(network, small_mlp):
    """Given h_i = (H_P)_ii (all of them, or some with NaN for the rest) the search starts from the same
    quadratic model and finds the same crossings to rtol; a curvature of the wrong length is refused."""
    from sgdpotential.nn.probes import projected_hessian

    obj, w0 = (_small_cnn(), None) if network == "cnn" else small_mlp
    w0 = obj.w_base if w0 is None else w0
    P = orthonormal_directions(obj.n_params, 4, seed=5)
    h = np.diag(projected_hessian(obj, w0, P))
    plain = flatness(obj, w0, P, rtol=1e-8)
    for given in (h, np.where(np.arange(4) < 2, h, np.nan)):
        shared = flatness(obj, w0, P, rtol=1e-8, curvature=given)
        np.testing.assert_allclose(shared.left, plain.left, rtol=2e-8)
        np.testing.assert_allclose(shared.right, plain.right, rtol=2e-8)
    with pytest.raises(ConfigError, match="curvature has 3 values for 4 directions"):
        flatness(obj, w0, P, curvature=h[:3])


def test_profiles_match_direct_evaluation(small_mlp):
    obj, w0 = small_mlp
    P = orthonormal_directions(obj.n_params, 3, seed=2)
    offsets = np.linspace(-1, 1, 5)
    prof = loss_profiles(obj, w0, P, offsets)
    direct = np.array([[float(obj.loss(w0 + t * P[i])) for t in offsets] for i in range(3)])
    np.testing.assert_allclose(prof, direct, rtol=1e-12)


def test_censored_directions():
    """Along a weight that multiplies an all-zero input feature the loss is flat: both sides are censored;
    along any other weight the squared error is a parabola and both sides cross."""
    import conftest
    from sgdpotential.nn.data import Dataset

    data = conftest.make_data()
    X0 = data.X.clone()
    X0[:, 0] = 0.0
    obj = Objective(build_mlp([5, 3], bias=False).double(), Dataset(X0, data.y, "x", 3, "as given"), "all",
                    loss="mse")
    P = torch.zeros(2, 15, dtype=torch.float64)
    P[0, 0] = 1.0  # W[0, 0] multiplies feature 0
    P[1, 1] = 1.0
    res = flatness(obj, obj.w_base, P, max_offset=10.0)
    assert res.censored[0].all() and not res.censored[1].any()
    assert np.isnan(res.width[0]) and np.isfinite(res.width[1])


@pytest.mark.parametrize(
    ("directions", "w0", "message"),
    [
        (np.ones((2, 7)), None, r"directions have shape \(2, 7\); each must have length 15"),
        (np.zeros((1, 15)), None, r"direction 0 is the zero vector"),
        (np.ones((16, 15)), None, r"K = 16 directions exceed the dimension 15"),
        (np.full((1, 15), np.nan), None, r"directions contain NaN or inf"),
        (np.ones((1, 15)), np.full(15, np.inf), r"w0 contains NaN or inf"),
    ],
)
def test_bad_input(linear_ls, directions, w0, message):
    obj, w_min, *_ = linear_ls
    with pytest.raises(ConfigError, match=message):
        flatness(obj, w_min if w0 is None else w0, directions)


def test_zero_loss_has_no_flatness():
    """Targets exactly linear in the inputs: the least-squares fit has L0 = 0, so e·L0 = 0 is meaningless."""
    import conftest

    data = conftest.make_data(n=3, d=5)
    net = build_mlp([5, 3], bias=False).double()
    X, Y = data.X.numpy(), np.eye(3)[data.y.numpy()]
    with torch.no_grad():
        net.fc1.weight.copy_(torch.tensor(np.linalg.lstsq(X, Y, rcond=None)[0].T))
    obj = Objective(net, data, "all", loss="mse")
    with pytest.raises(ConfigError, match=r"L0 = L\(w0\) = .* is zero to working precision: the flatness level"):
        flatness(obj, obj.w_base, np.eye(15)[:2])
