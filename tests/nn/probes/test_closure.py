"""Closure shares of H p_i and C p_i against dense closed forms and dense autograd."""

import numpy as np
import pytest
import torch
from torch.func import grad, hessian

from conftest import orthonormal_directions
from sgdpotential.errors import ConfigError
from sgdpotential.nn.probes.closure import closure_fractions


def _shares(V, P, inside):
    Q, _ = np.linalg.qr(P.T)
    n2 = (V**2).sum(1)
    return (n2 - ((V @ Q) ** 2).sum(1)) / n2, (V[:, ~inside] ** 2).sum(1) / n2


def _assert_matches(got, H, C, P, inside, atol):
    h_out, h_other = _shares(P @ H, P, inside)
    c_out, c_other = _shares(P @ C, P, inside)
    np.testing.assert_allclose(got.hessian_outside, h_out, atol=atol)
    np.testing.assert_allclose(got.noise_outside, c_out, atol=atol)
    np.testing.assert_allclose(got.hessian_other, h_other, atol=atol)
    np.testing.assert_allclose(got.noise_other, c_other, atol=atol)


def test_least_squares_closed_forms(linear_ls):
    obj, w, G, H, _, _ = linear_ls
    Gc = G - G.mean(0)
    C = Gc.T @ Gc / len(G)
    P = orthonormal_directions(obj.n_params, 4, seed=3).numpy()
    inside = np.arange(obj.n_params) < 6
    # float64 throughout: agreement to round-off
    _assert_matches(closure_fractions(obj, w, P, inside=inside), H, C, P, inside, atol=1e-10)


def test_an_invariant_subspace_is_closed(linear_ls):
    obj, w, _, H, _, _ = linear_ls
    _, V = np.linalg.eigh(H)
    got = closure_fractions(obj, w, V[:, :5].T.copy())
    assert np.all(got.hessian_outside < 1e-12)
    assert got.hessian_other is None and got.noise_other is None
    assert np.all(got.noise_outside > 1e-3)  # C does not share H's eigenvectors here: the test can tell


def test_small_mlp_against_dense_autograd(small_mlp):
    obj, w = small_mlp
    Hd = hessian(lambda v: obj.loss(v))(w).numpy()
    G = torch.stack([grad(lambda v, k=k: obj.sample_losses(v, k, k + 1).sum())(w) for k in range(obj.n_train)])
    Gc = (G - G.mean(0)).numpy()
    C = Gc.T @ Gc / obj.n_train
    P = orthonormal_directions(obj.n_params, 3, seed=1).numpy()
    inside = np.arange(obj.n_params) < 24  # the first layer's weights
    _assert_matches(closure_fractions(obj, w, P, inside=inside), Hd, C, P, inside, atol=1e-9)


def test_bad_mask(linear_ls):
    obj, w, *_ = linear_ls
    with pytest.raises(ConfigError, match="boolean mask of length 15"):
        closure_fractions(obj, w, orthonormal_directions(15, 2), inside=np.ones(3, bool))
