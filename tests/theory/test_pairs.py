"""The pair recursion (``theory/pairs.py``): one engine for the laws of plain SGD (d = 1) and heavy-ball (d = 2),
checked for any d against explicit moment propagation, and plain SGD equal to heavy-ball at μ = 0 through it."""

import numpy as np
import pytest

from sgdpotential.theory import pairs
from sgdpotential.theory.lyapunov import sgd_stationary_covariance, sgd_window_covariance
from sgdpotential.theory.momentum import momentum_stationary_covariance, momentum_window_covariance
from sgdpotential.theory.sgd import LinearMomentumSGD, LinearSGD


def _problem(n=6, seed=0):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    H = Q @ np.diag(np.geomspace(0.05, 8.0, n)) @ Q.T
    G = rng.standard_normal((n, 2 * n))
    return H, G @ G.T / (2 * n)


def _explicit_window(Ai, Aj, T, P0):
    """E Σ̂_T's first entry for one pair by brute force: every E z_i(s) z_j(t)ᵀ of the window, O(T²)."""
    e = np.ones((Ai.shape[0], 1))
    P = [P0]
    for _ in range(T - 1):
        P.append(Ai @ P[-1] @ Aj.T + e @ e.T)
    cross = np.zeros_like(P0)
    for s in range(T):
        for t in range(T):
            cross += (np.linalg.matrix_power(Ai, t - s) @ P[s] if t >= s else
                      P[t] @ np.linalg.matrix_power(Aj.T, s - t))
    return (sum(P)[0, 0]) / T - cross[0, 0] / T**2


@pytest.mark.parametrize("d", [1, 2, 3])
def test_window_pairs_equals_explicit_moment_propagation_for_any_state_size(d):
    """Random stable d × d transitions (not only the optimizers'): the (5d² + 1)-dimensional power equals the
    brute-force sum over every pair of times, from the stationary moment and from z = 0 after b steps."""
    rng = np.random.default_rng(d)
    m, T = 4, 7
    A = rng.standard_normal((2 * m, d, d))
    A *= 0.8 / np.abs(np.linalg.eigvals(A)).max(axis=1)[:, None, None]  # spectral radius 0.8
    Ai, Aj = A[:m], A[m:]
    K = pairs.pair_kron(Ai, Aj)
    for P0 in (pairs.stationary_pairs(np.eye(d * d) - K), pairs.started_pairs(K, 5)):
        got = pairs.window_pairs(Ai, Aj, P0, T)
        want = [_explicit_window(Ai[k], Aj[k], T, P0[k].reshape(d, d)) for k in range(m)]
        np.testing.assert_allclose(got, want, rtol=1e-12)
    stationary = pairs.stationary_pairs(np.eye(d * d) - K).reshape(m, d, d)  # solves P = A_i P A_jᵀ + eeᵀ
    np.testing.assert_allclose(Ai @ stationary @ np.swapaxes(Aj, 1, 2) + 1.0, stationary, rtol=1e-12)


@pytest.mark.parametrize("start", ["stationary", 0, 40])
@pytest.mark.parametrize("n_train", [None, 500])
def test_plain_sgd_is_heavy_ball_at_mu_zero_through_the_same_engine(monkeypatch, start, n_train):
    """Every law of plain SGD equals heavy-ball's at μ = 0, and both window laws run through
    :func:`pairs.window_pairs` (a spy on the repeated squaring sees its 6- and 21-dimensional maps)."""
    H, C = _problem()
    lr, B, T = 0.1, 10, 300
    sizes = []
    power = pairs.affine_power_apply

    def spy(M, s, e):
        sizes.append(M.shape[-1])
        return power(M, s, e)

    monkeypatch.setattr(pairs, "affine_power_apply", spy)
    plain = sgd_window_covariance(H, C, lr, B, T, start=start, n_train=n_train)
    plain_sizes, sizes[:] = list(sizes), []
    heavy = momentum_window_covariance(H, C, lr, B, 0.0, T, start=start, n_train=n_train)
    assert 6 in plain_sizes and 21 in sizes  # 5d² + 1: d = 1 and d = 2 through window_pairs
    np.testing.assert_allclose(plain, heavy, rtol=1e-10, atol=1e-14 * np.abs(plain).max())
    np.testing.assert_allclose(sgd_stationary_covariance(H, C, lr, B, n_train),
                               momentum_stationary_covariance(H, C, lr, B, 0.0, n_train), rtol=1e-12)
    a, b = LinearSGD(lr, B, n_train), LinearMomentumSGD(lr, B, n_train, momentum=0.0)
    np.testing.assert_allclose(a.discrete(H, C), b.discrete(H, C), rtol=1e-12)
    np.testing.assert_allclose(a.window(H, C, T, start), b.window(H, C, T, start), rtol=1e-10,
                               atol=1e-14 * np.abs(plain).max())


def test_the_stability_sentence_names_the_bound_of_each_optimizer():
    h = np.array([1.0, 30.0])
    with pytest.raises(ValueError, match=r"≥ 2 with lr = 0.1: SGD diverges"):
        pairs.require_stable_modes(0.1 * h, h, 0.1, 0.0, "x")
    with pytest.raises(ValueError, match=r"≥ 2\(1 \+ μ\) = 3 with lr = 0.1, momentum = 0.5"):
        pairs.require_stable_modes(0.1 * h, h, 0.1, 0.5, "x")
    flat = np.array([-0.5, 1.0])
    with pytest.raises(ValueError, match=r"lr·λ = -0.05 is not in \(0, 2\(1 \+ μ\)\) \(1 of 2 such\).*; try this"):
        pairs.require_stable_modes(0.1 * flat, flat, 0.1, 0.5, "try this")
    pairs.require_stable_modes(0.1 * h[:1], h[:1], 0.1, 0.0, "x")  # stable: no sentence
