"""C_P, directional derivatives, noise temperature and the minibatch landscape against closed forms and
plain per-sample autograd loops."""

import numpy as np
import pytest
import torch

from conftest import orthonormal_directions
from sgdpotential import ConfigError
from sgdpotential.nn.probes import (
    directional_derivatives,
    minibatch_landscape,
    noise_covariance_response,
    noise_temperature,
    path_noise_covariance,
    projected_hessian,
    projected_noise_covariance,
)


def eq19(G):
    """Paper Eq. (19), population normalisation: (1/N) Σ g gᵀ − ḡḡᵀ."""
    return G.T @ G / len(G) - np.outer(G.mean(0), G.mean(0))


def test_linear_least_squares_closed_form(linear_ls):
    obj, w0, G, _, _, X = linear_ls
    P = orthonormal_directions(15, 6).numpy()
    np.testing.assert_allclose(projected_noise_covariance(obj, w0, P), P @ eq19(G) @ P.T, rtol=0, atol=1e-13)
    D, C2 = directional_derivatives(obj, w0, P, second=True)
    np.testing.assert_allclose(D, G @ P.T, atol=1e-13)
    Pm = P.reshape(6, 3, 5)
    np.testing.assert_allclose(C2, np.einsum("ioj,kj->kio", Pm, X).__pow__(2).sum(-1), atol=1e-12)  # Σ_o (P_i x_k)_o²


def test_small_mlp_against_a_per_sample_loop(small_mlp):
    obj, w0 = small_mlp
    G, Hs = [], []
    for k in range(obj.n_train):
        def f(w, k=k):
            return obj.sample_losses(w, k, k + 1)[0]
        G.append(torch.func.grad(f)(w0).numpy())
        Hs.append(torch.autograd.functional.hessian(f, w0).numpy())
    G, Hs = np.array(G), np.array(Hs)
    P = orthonormal_directions(obj.n_params, 8, seed=5).numpy()
    np.testing.assert_allclose(projected_noise_covariance(obj, w0, P), P @ eq19(G) @ P.T, rtol=0,
                               atol=1e-12 * np.abs(G).max() ** 2)
    D, C2 = directional_derivatives(obj, w0, P, second=True)
    np.testing.assert_allclose(D, G @ P.T, atol=1e-12)
    np.testing.assert_allclose(C2, np.einsum("id,kde,ie->ki", P, Hs, P), atol=1e-12)


def test_full_batch_minibatch_is_the_full_landscape(small_mlp):
    """With B = N_L every minibatch is the whole set: g = P∇L, h = diag(H_P), θ = −g/h."""
    obj, w0 = small_mlp
    P = orthonormal_directions(obj.n_params, 5, seed=6)
    mb = minibatch_landscape(obj, w0, P, batch_size=obj.n_train, n_batches=3)
    grad = torch.func.grad(obj.loss)(w0).numpy()
    np.testing.assert_allclose(mb.gradient, np.tile(P.numpy() @ grad, (3, 1)), atol=1e-12)
    np.testing.assert_allclose(mb.curvature, np.tile(np.diag(projected_hessian(obj, w0, P)), (3, 1)), atol=1e-12)
    assert np.all(mb.theta_std[np.isfinite(mb.theta_std)] < 1e-9)
    L0 = float(obj.loss(w0))
    np.testing.assert_allclose(mb.M, mb.curvature / L0, rtol=1e-12)


def test_minibatch_spreads_follow_the_sampling():
    """For B ≪ N_L the spread of g^μ is √(C_P,ii/B·(N_L − B)/(N_L − 1)) (sampling without replacement)."""
    import conftest

    data = conftest.make_data(n=400, d=5, classes=3, seed=3)
    from sgdpotential.nn.models import build_mlp
    from sgdpotential.nn.objective import Objective

    obj = Objective(build_mlp([5, 4, 3], activation="tanh", seed=0).double(), data, "all")
    w0 = obj.w_base
    P = orthonormal_directions(obj.n_params, 4, seed=7)
    B = 10
    mb = minibatch_landscape(obj, w0, P, batch_size=B, n_batches=20_000, seed=1)
    C = projected_noise_covariance(obj, w0, P)
    expected = np.sqrt(np.diag(C) / B * (400 - B) / 399)
    np.testing.assert_allclose(mb.gradient.std(axis=0), expected, rtol=0.03)  # 20,000 draws: ~0.5% per σ


def test_noise_temperature():
    C = np.diag([2.0, 4.0])
    np.testing.assert_allclose(noise_temperature(C, lr=0.1, batch_size=10), [0.01, 0.02])
    np.testing.assert_allclose(noise_temperature(C, 0.1, 10, n_train=100), np.array([0.01, 0.02]) * 90 / 99)
    with pytest.raises(ConfigError, match=r"lr = 0 must be a finite number > 0"):
        noise_temperature(C, 0, 10)


@pytest.mark.parametrize("activation", ["relu", "identity-like"])
def test_structured_path_equals_the_generic_jvp_path(activation):
    """The GEMM tangents of the structured path reproduce torch.func's jvp (first and second derivatives)."""
    from torch import nn

    import conftest
    from sgdpotential.nn.models import build_mlp
    from sgdpotential.nn.objective import Objective

    data = conftest.make_data(n=60, d=6, classes=4, seed=8)
    net = build_mlp([6, 5, 5, 4], seed=2).double()
    if activation != "relu":
        net.act2 = nn.LeakyReLU(0.1)
    for params, loss in (("hidden", "cross_entropy"), ("fc2.weight,fc2.bias", "mse"), ("fc3.bias", "cross_entropy")):
        obj = Objective(net, data, params, loss=loss, chunk=17)
        P = orthonormal_directions(obj.n_params, min(4, obj.n_params), seed=1)
        a = directional_derivatives(obj, obj.w_base, P, second=True, method="structured")
        b = directional_derivatives(obj, obj.w_base, P, second=True, method="jvp")
        np.testing.assert_allclose(a[0], b[0], atol=1e-12)
        np.testing.assert_allclose(a[1], b[1], atol=1e-12)
        first = directional_derivatives(obj, obj.w_base, P, method="structured")  # per-layer gradient form
        np.testing.assert_allclose(first, b[0], atol=1e-12)
        # many points along fixed directions (the noise response): tangents once, δ(w) per point
        from sgdpotential.nn.probes.noise import _derivatives_at

        at = _derivatives_at(obj, P, "auto")
        assert at.__name__ == "at"  # the tangent path, not the fallback
        for shift in (0.0, 0.3, -0.7):
            w = obj.w_base + shift * torch.as_tensor(P[0])
            np.testing.assert_allclose(at(w), directional_derivatives(obj, w, P, method="jvp"), atol=1e-12)
    tanh = Objective(build_mlp([6, 5, 5, 4], activation="tanh").double(), data, "hidden")
    with pytest.raises(ConfigError, match=r"method = 'structured' needs the weights of one linear layer"):
        directional_derivatives(tanh, tanh.w_base, np.eye(25)[:2], method="structured")


@pytest.mark.parametrize("model", ["lenet-bn", "resnet-gn"])
def test_per_sample_gradient_path_equals_the_jvp_path_on_cnns(model):
    """The generic paths agree on CNNs (BatchNorm in eval mode included): vmap(grad) projected, and K jvps; and
    'auto' takes the gradient path there."""
    import sgdpotential as sp
    from sgdpotential.nn.models import build_model
    from sgdpotential.nn.objective import Objective

    data = sp.load_dataset("digits")
    data = type(data)(data.X[:90].double(), data.y[:90], "digits", 10, data.scaling, data.sample_shape)
    net = build_model(model, data.sample_shape, 10, seed=1).double()
    obj = Objective(net, data, "type:Conv2d", chunk=40)
    P = orthonormal_directions(obj.n_params, 6, seed=2)
    a = directional_derivatives(obj, obj.w_base, P, method="grad")
    b = directional_derivatives(obj, obj.w_base, P, method="jvp")
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())
    np.testing.assert_array_equal(directional_derivatives(obj, obj.w_base, P), a)
    with pytest.raises(ConfigError, match="method = 'grad' gives first derivatives only"):
        directional_derivatives(obj, obj.w_base, P, second=True, method="grad")


def test_gradient_noise_trace_closed_form(linear_ls, small_mlp):
    from sgdpotential.nn.probes.noise import gradient_noise_trace

    obj, w, G, *_ = linear_ls
    Gc = G - G.mean(0)
    assert gradient_noise_trace(obj, w, rows=7) == pytest.approx(np.sum(Gc**2) / len(G), rel=1e-12)
    obj, w = small_mlp
    G = torch.stack([torch.func.grad(lambda v, k=k: obj.sample_losses(v, k, k + 1).sum())(w)
                     for k in range(obj.n_train)]).numpy()
    Gc = G - G.mean(0)
    assert gradient_noise_trace(obj, w) == pytest.approx(np.sum(Gc**2) / len(G), rel=1e-10)


def test_path_noise_covariance_is_the_time_average_of_c_along_a_path(linear_ls):
    """For linear least squares C(w) is quadratic in w: the principal-axes form over every axis of a path's sample
    covariance, and the antithetic form over every snapshot, both equal the time average of C_P(w_t) over the
    path exactly — which differs from C_P at the path's mean (the multiplicative noise)."""
    obj, w_star, _, _, _, _ = linear_ls
    rng = np.random.default_rng(3)
    n = obj.n_params
    path = w_star.numpy() + 0.3 * rng.standard_normal((40, n)) @ np.diag(np.linspace(0.2, 1.0, n))
    mean = path.mean(axis=0)
    P = orthonormal_directions(n, 4, seed=1)
    exact = np.mean([projected_noise_covariance(obj, torch.tensor(w), P) for w in path], axis=0)
    dev = path - mean
    lam, vec = np.linalg.eigh(dev.T @ dev / len(path))
    axes, sig = vec.T, np.sqrt(np.clip(lam, 0, None))
    by_axes, inc, rest = path_noise_covariance(obj, torch.tensor(mean), P, torch.tensor(axes), sig)
    by_snapshots, inc2, rest2 = path_noise_covariance(obj, torch.tensor(mean), P, axes[:0], sig[:0], dev)
    at_mean = projected_noise_covariance(obj, torch.tensor(mean), P)
    assert np.linalg.norm(at_mean - exact) > 0.05 * np.linalg.norm(exact)
    for est in (by_axes, by_snapshots):
        assert np.allclose(est, exact, rtol=1e-9, atol=1e-12 * np.abs(exact).max())
    assert inc.shape == (n,) and rest == 0.0 and inc2.shape == (0,)
    assert np.trace(by_axes) == pytest.approx(np.trace(at_mean) + inc.sum()) and rest2 == pytest.approx(inc.sum())
    # the split: the leading axes exactly, the snapshots with those axes removed for the rest
    k = 5
    resid = dev - (dev @ axes[-k:].T) @ axes[-k:]
    split, _, _ = path_noise_covariance(obj, torch.tensor(mean), P, torch.tensor(axes[-k:]), sig[-k:], resid)
    assert np.allclose(split, exact, rtol=1e-9, atol=1e-12 * np.abs(exact).max())
    with pytest.raises(ConfigError, match="one σ per axis"):
        path_noise_covariance(obj, torch.tensor(mean), P, torch.tensor(axes[:2]), sig[:3])


def test_noise_covariance_response_is_the_exact_second_order_response_for_any_symmetric_state(linear_ls):
    """Least squares: g_k(w) = A_k w − b_k with A_k = I ⊗ x_k x_kᵀ, so C(w) is quadratic and its response to a state
    covariance S is 𝒞(S) = E_k[A_k S A_k] − HSH exactly — also for an indefinite S passed as its eigendecomposition
    (signed weights), which is how the white part of reshuffled noise is measured."""
    obj, w0, _, H, _, X = linear_ls
    rng = np.random.default_rng(4)
    P = orthonormal_directions(15, 6)
    Q, _ = np.linalg.qr(rng.standard_normal((15, 15)))
    S = 0.04 * Q @ np.diag(np.linspace(-1.0, 2.0, 15)) @ Q.T  # indefinite
    A = np.stack([np.kron(np.eye(3), np.outer(x, x)) for x in X])
    exact = P.numpy() @ (np.einsum("kij,jl,klm->im", A, S, A) / len(X) - H @ S @ H) @ P.numpy().T
    mu, U = np.linalg.eigh(S)
    got, traces = noise_covariance_response(obj, w0, P, np.sqrt(np.abs(mu))[:, None] * U.T, np.sign(mu))
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-10 * np.abs(exact).max())
    assert traces.shape == (15,) and traces.sum() == pytest.approx(np.trace(exact), rel=1e-9)
    assert (traces < 0).any()  # the negative part of S enters with its sign
    with pytest.raises(ConfigError, match="3 steps and 2 weights; pass one weight per step"):
        noise_covariance_response(obj, w0, P, U.T[:3], [1.0, 1.0])
    # the term-by-term route (2A covariances, no structure) gives the same response and traces
    slow, slow_traces = noise_covariance_response(obj, w0, P, np.sqrt(np.abs(mu))[:, None] * U.T, np.sign(mu),
                                                  method="jvp")
    np.testing.assert_allclose(got, slow, rtol=0, atol=1e-10 * np.abs(exact).max())
    np.testing.assert_allclose(traces, slow_traces, rtol=0, atol=1e-10 * np.abs(traces).max())


def test_the_structured_response_equals_the_term_by_term_one_off_the_quadratic_case():
    """The Feng–Tu hidden weights of a ReLU MLP with cross-entropy: C is not quadratic in w (f ≠ 0 in
    _structured_response), and the steps-first sums still give exactly the term-by-term response, with weights of
    both signs and more steps than one block."""
    import conftest
    from sgdpotential import build_mlp
    from sgdpotential.nn.objective import Objective
    from sgdpotential.nn.probes._tangents import structured

    data = conftest.make_data(n=50, d=6, classes=4, seed=5)
    obj = Objective(build_mlp([6, 5, 5, 4], seed=1).double(), data, "hidden", chunk=13)
    assert structured(obj)
    rng = np.random.default_rng(2)
    P = orthonormal_directions(obj.n_params, 7, seed=3)
    steps = 0.3 * rng.standard_normal((70, obj.n_params))
    weights = rng.uniform(-1, 2, 70)
    fast, fast_tr = noise_covariance_response(obj, obj.w_base, P, steps, weights)
    slow, slow_tr = noise_covariance_response(obj, obj.w_base, P, steps, weights, method="jvp")
    assert np.abs(slow).max() > 1e-4  # a response worth comparing
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-11 * np.abs(slow).max())
    np.testing.assert_allclose(fast_tr, slow_tr, rtol=0, atol=1e-11 * np.abs(slow_tr).max())
