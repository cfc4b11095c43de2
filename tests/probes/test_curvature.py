"""projected_hessian and hessian_top_eigenvalues against closed forms and a dense autograd Hessian."""

import numpy as np
import torch

from conftest import orthonormal_directions
from sgdpotential.probes import hessian_top_eigenvalues, projected_hessian


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
