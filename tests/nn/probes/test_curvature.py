"""projected_hessian and hessian_top_eigenvalues against closed forms and a dense autograd Hessian."""

import numpy as np
import torch

from conftest import orthonormal_directions
from sgdpotential.nn.probes import hessian_top_eigenvalues, projected_hessian


def test_linear_least_squares_closed_form(linear_ls):
    obj, w0, _, H, _, _ = linear_ls
    P = orthonormal_directions(15, 6)
    np.testing.assert_allclose(projected_hessian(obj, w0, P), P.numpy() @ H @ P.numpy().T, rtol=0, atol=1e-12)
    top = hessian_top_eigenvalues(obj, w0, 3, tol=1e-12)
    np.testing.assert_allclose(top, np.sort(np.linalg.eigvalsh(H))[::-1][:3], rtol=1e-9)


def test_small_mlp_against_dense_hessian(small_mlp):
    obj, w0 = small_mlp
    H = torch.autograd.functional.hessian(lambda w: obj.loss(w), w0).numpy()
    P = orthonormal_directions(obj.n_params, 10, seed=4)
    np.testing.assert_allclose(projected_hessian(obj, w0, P), P.numpy() @ H @ P.numpy().T, rtol=0,
                               atol=1e-12 * np.abs(H).max())


def test_gauss_newton_path_is_exact_for_one_relu_layer_and_refused_otherwise():
    """Feng–Tu structure (hidden weights of a ReLU MLP): the Gauss–Newton path equals the HVP path; with tanh
    after the layer it is not exact, so auto uses HVPs and an explicit request is refused."""
    import pytest

    import conftest
    from sgdpotential import ConfigError, build_mlp
    from sgdpotential.nn.objective import Objective
    from sgdpotential.nn.probes.curvature import gauss_newton_is_exact

    data = conftest.make_data(n=50, d=6, classes=4, seed=5)
    relu = Objective(build_mlp([6, 5, 5, 4], seed=1).double(), data, "hidden", chunk=13)
    assert gauss_newton_is_exact(relu)
    P = orthonormal_directions(25, 7, seed=3)
    gn = projected_hessian(relu, relu.w_base, P, method="gauss-newton")
    np.testing.assert_allclose(gn, projected_hessian(relu, relu.w_base, P, method="hvp"), rtol=0,
                               atol=1e-12 * np.abs(gn).max())
    mse = Objective(build_mlp([6, 5, 5, 4], seed=1).double(), data, "fc2.weight,fc2.bias", loss="mse")
    Q = orthonormal_directions(30, 5, seed=4)
    np.testing.assert_allclose(projected_hessian(mse, mse.w_base, Q, method="gauss-newton"),
                               projected_hessian(mse, mse.w_base, Q, method="hvp"), atol=1e-12)
    tanh = Objective(build_mlp([6, 5, 5, 4], activation="tanh", seed=1).double(), data, "hidden")
    assert not gauss_newton_is_exact(tanh)
    assert not gauss_newton_is_exact(Objective(build_mlp([6, 5, 5, 4]).double(), data, "all"))
    with pytest.raises(ConfigError, match=r"'gauss-newton' is exact only for the weights of one linear layer"):
        projected_hessian(tanh, tanh.w_base, P, method="gauss-newton")
