"""The curvature operators against dense autograd matrices and closed forms: every product route, both layouts."""

import numpy as np
import pytest
import torch
from scipy.sparse.linalg import eigsh
from torch.func import grad, hessian, jacrev

import conftest
from conftest import orthonormal_directions
from sgdpotential import ConfigError, build_mlp
from sgdpotential.nn.objective import Objective
from sgdpotential.nn.probes.operators import (
    GaussNewtonOperator,
    HessianOperator,
    MinibatchHessians,
    NoiseCovarianceOperator,
)


def _dense(obj, w):
    """H, C and the Gauss–Newton matrix G by dense autograd, sample by sample (the oracle)."""
    H = hessian(lambda v: obj.loss(v))(w).numpy()
    G = torch.stack([grad(lambda v, k=k: obj.sample_losses(v, k, k + 1).sum())(w) for k in range(obj.n_train)])
    Gc = (G - G.mean(0)).numpy()
    C = Gc.T @ Gc / obj.n_train
    GN = np.zeros_like(H)
    for k in range(obj.n_train):
        J = jacrev(lambda v, k=k: obj.logits(v, k, k + 1)[0])(w).numpy()  # (out, N)
        out = obj.logits(w, k, k + 1)[0].detach()
        if obj.loss_name == "mse":
            S = np.eye(len(out))
        else:
            s = torch.softmax(out, -1).numpy()
            S = np.diag(s) - np.outer(s, s)
        GN += J.T @ S @ J / obj.n_train
    return H, C, GN


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_every_operator_equals_its_dense_matrix_in_every_layout(loss):
    data = conftest.make_data(n=30, d=5, classes=3, seed=1)
    obj = Objective(build_mlp([5, 4, 3], activation="tanh", seed=2).double(), data, "all", loss=loss, chunk=8)
    w = obj.w_base.clone()
    H, C, GN = _dense(obj, w)
    assert np.abs(H - GN).max() > 1e-3  # tanh: the Hessian has a part the Gauss–Newton matrix drops
    P = orthonormal_directions(obj.n_params, 6, seed=3)
    X = P.numpy().T
    scale = np.abs(H).max()
    for op, M in ((HessianOperator(obj, w), H), (HessianOperator(obj, w, method="graph"), H),
                  (HessianOperator(obj, w, method="reverse"), H),
                  (GaussNewtonOperator(obj, w), GN), (NoiseCovarianceOperator(obj, w), C)):
        np.testing.assert_allclose(op.rows(P).numpy(), P.numpy() @ M, atol=1e-12 * scale)
        np.testing.assert_allclose(op.matmat(X), M @ X, atol=1e-12 * scale)  # arrays in, arrays out
        np.testing.assert_allclose((op @ P.T).numpy(), M @ X, atol=1e-12 * scale)  # tensors in, tensors out
        np.testing.assert_allclose(op.matvec(X[:, 0]), M @ X[:, 0], atol=1e-12 * scale)
        np.testing.assert_allclose(op.projected(P), X.T @ M @ X, atol=1e-12 * scale)
        assert np.array_equal(op.projected(P), op.projected(P).T)
    top = eigsh(HessianOperator(obj, w).to_scipy(), k=2, which="LA", tol=1e-12, return_eigenvectors=False)
    np.testing.assert_allclose(np.sort(top), np.sort(np.linalg.eigvalsh(H))[-2:], rtol=1e-9)
    np.testing.assert_allclose(HessianOperator(obj, w, method="graph").gradient.numpy(),
                               grad(lambda v: obj.loss(v))(w).numpy(), atol=1e-14)


def test_gauss_newton_on_the_structured_case_is_the_hessian_by_either_route():
    """The Feng–Tu hidden weights: outputs piecewise linear in w, so G = H; the structured projection (one GEMM
    and masked products) equals the generic jvp/vjp one."""
    data = conftest.make_data(n=50, d=6, classes=4, seed=5)
    obj = Objective(build_mlp([6, 5, 5, 4], seed=1).double(), data, "hidden", chunk=13)
    w = obj.w_base
    P = orthonormal_directions(obj.n_params, 7, seed=3)
    structured = GaussNewtonOperator(obj, w).projected(P)
    generic = (P @ GaussNewtonOperator(obj, w).rows(P).T).numpy()
    np.testing.assert_allclose(structured, generic, atol=1e-12 * np.abs(generic).max())
    np.testing.assert_allclose(structured, HessianOperator(obj, w).projected(P), atol=1e-12 * np.abs(generic).max())


def test_noise_operator_closed_form_on_least_squares(linear_ls):
    obj, w, G, _, _, _ = linear_ls
    Gc = G - G.mean(0)
    C = Gc.T @ Gc / len(G)
    P = orthonormal_directions(obj.n_params, 4, seed=3).numpy()
    np.testing.assert_allclose(NoiseCovarianceOperator(obj, w).rows(torch.tensor(P)).numpy(), P @ C, atol=1e-12)


class _NotDense(Objective):
    """The same objective, taken for a network the batched route does not serve (one minibatch at a time)."""

    dense = property(lambda self: False)


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("layers", [[5, 4, 3], [5, 3]])
def test_minibatch_hessians_are_each_minibatch_loss_s_gradient_and_hessian(layers, dense):
    """R minibatches at once (the dense vmap route for R > 1; one at a time for R = 1 and off dense networks)
    against each minibatch's own dense Hessian; graph=False gives the gradients and refuses products."""
    data = conftest.make_data(n=30, d=5, classes=3, seed=1)
    obj = (Objective if dense else _NotDense)(build_mlp(layers, activation="tanh", seed=2).double(), data, "all")
    assert obj.dense == dense
    w = obj.w_base.clone()
    rng = np.random.default_rng(0)
    for R in (1, 3):
        index = [torch.tensor(rng.choice(30, 6, replace=False)) for _ in range(R)]
        X = torch.tensor(rng.standard_normal((R, obj.n_params)))
        mb = MinibatchHessians(obj, w, index)
        HX, g = mb.products(X), mb.gradients
        for r, i in enumerate(index):
            Hr = hessian(lambda v, i=i: obj.batch_loss(v, i))(w)
            np.testing.assert_allclose(HX[r].numpy(), (Hr @ X[r]).numpy(), atol=1e-13)
            np.testing.assert_allclose(g[r].numpy(), grad(lambda v, i=i: obj.batch_loss(v, i))(w).numpy(), atol=1e-14)
        plain = MinibatchHessians(obj, w, index, graph=False)
        np.testing.assert_allclose(plain.gradients.numpy(), g.numpy(), atol=1e-14)
        with pytest.raises(ConfigError, match="graph=False"):
            plain.products(X)


def test_bad_operands_and_methods(small_mlp):
    obj, w = small_mlp
    H = HessianOperator(obj, w)
    with pytest.raises(ConfigError, match=r"an operand of shape \(5,\) does not match the operator's \(39, 39\)"):
        H.matvec(np.ones(5))
    with pytest.raises(ConfigError, match="method = 'lbfgs' is not one of 'auto', 'jvp', 'reverse', 'graph'"):
        HessianOperator(obj, w, method="lbfgs")


def test_hessian_routes_agree_on_a_cnn_and_auto_picks_reverse_off_dense():
    """On a convolutional network (digits as 8×8 images, float64) every route of HessianOperator gives the same
    products — "reverse" against the dense autograd Hessian over the first convolution, and against "jvp" and
    "graph" over both convolutions — and "auto" takes "reverse" there, "jvp" on a dense network."""
    import sgdpotential as sp
    from sgdpotential.nn.models import build_model

    data = sp.load_dataset("digits")
    data = type(data)(data.X[:60].double(), data.y[:60], "digits", 10, data.scaling, data.sample_shape)
    net = build_model("lenet", data.sample_shape, 10, seed=1).double()
    first = Objective(net, data, "conv1.weight,conv1.bias", chunk=25)
    assert HessianOperator(first, first.w_base).method == "reverse"
    H = hessian(lambda v: first.loss(v))(first.w_base).numpy()
    P = orthonormal_directions(first.n_params, 5, seed=2)
    np.testing.assert_allclose(HessianOperator(first, first.w_base).rows(P).numpy(), P.numpy() @ H,
                               atol=1e-12 * np.abs(H).max())
    both = Objective(net, data, "type:Conv2d", chunk=25)
    P = orthonormal_directions(both.n_params, 5, seed=3)
    rows = {m: HessianOperator(both, both.w_base, method=m).rows(P).numpy() for m in ("reverse", "jvp", "graph")}
    scale = np.abs(rows["jvp"]).max()
    np.testing.assert_allclose(rows["reverse"], rows["jvp"], atol=1e-12 * scale)
    np.testing.assert_allclose(rows["graph"], rows["jvp"], atol=1e-12 * scale)
    dense = Objective(build_mlp([64, 5, 10], seed=1).double(), data, "all")
    assert HessianOperator(dense, dense.w_base).method == "jvp"
