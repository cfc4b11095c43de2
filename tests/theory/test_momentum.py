"""Heavy-ball momentum: the exact laws against an independent 2n-dimensional Stein solve, explicit moment
propagation, Monte Carlo simulation of the recursion, and torch.optim.SGD(momentum=μ) step for step."""

import numpy as np
import pytest
import scipy.linalg as sla
import torch

from sgdpotential.errors import DecompositionError
from sgdpotential.theory import LinearMomentumSGD, LinearSGD, linear_model
from sgdpotential.theory.momentum import momentum_stationary_covariance, momentum_window_covariance

N_MODES = 5
H_EIG = np.array([0.1, 0.5, 1.0, 2.0, 5.0])


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((N_MODES, N_MODES)))
    G = rng.standard_normal((N_MODES, N_MODES))
    return Q @ np.diag(H_EIG) @ Q.T, G @ G.T  # H and C do not commute


def _recursion(H, lr, mu):
    n = H.shape[0]
    return np.block([[np.eye(n) - lr * H, mu * np.eye(n)], [-lr * H, mu * np.eye(n)]])


MUS = [0.0, 0.5, 0.9, 0.99]


def _edge(mu):
    return 0.97 * 2 * (1 + mu) / H_EIG.max()  # 3% inside the stability edge 2(1 + μ)/λ_max


@pytest.mark.parametrize("mu", MUS)
def test_stationary_law_solves_the_2n_dimensional_stein_equation(mu):
    H, C = _problem()
    lr, B, n = _edge(mu), 3, N_MODES
    A = _recursion(H, lr, mu)
    ref = sla.solve_discrete_lyapunov(A, lr**2 / B * np.block([[C, C], [C, C]]))  # independent: Bartels–Stewart
    got = momentum_stationary_covariance(H, C, lr, B, mu, velocity=True)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
    np.testing.assert_allclose(momentum_stationary_covariance(H, C, lr, B, mu), ref[:n, :n],
                               rtol=0, atol=1e-10 * np.abs(ref).max())


def test_one_mode_gives_liu_ziyin_ueda_and_mu_zero_gives_plain_sgd():
    lr, h, c, B = 0.3, 2.0, 1.5, 4
    for mu in (0.3, 0.9):
        s = momentum_stationary_covariance([[h]], [[c]], lr, B, mu)[0, 0]
        assert s == pytest.approx(lr * (1 + mu) * c / (B * (1 - mu) * h * (2 * (1 + mu) - lr * h)), rel=1e-12)
    H, C = _problem(1)
    np.testing.assert_allclose(LinearMomentumSGD(0.3, 3, momentum=0.0).discrete(H, C), LinearSGD(0.3, 3).discrete(H, C),
                               rtol=1e-12, atol=0)
    np.testing.assert_allclose(LinearMomentumSGD(0.3, 3, 500, momentum=0.0).window(H, C, 40, start=2),
                               LinearSGD(0.3, 3, 500).window(H, C, 40, start=2), rtol=1e-12, atol=0)


@pytest.mark.parametrize("mu", MUS)
@pytest.mark.parametrize("start", ["stationary", 0, 3])
def test_window_law_equals_explicit_moment_propagation(mu, start):
    """E Σ̂_T by summing Cov(x_s, x_t) = [A^{t−s} Σ_z(s)]_xx over every pair of snapshots (O(T²) oracle)."""
    H, C = _problem(2)
    lr, B, n, T = _edge(mu), 3, N_MODES, 9
    A = _recursion(H, lr, mu)
    noise = lr**2 / B * np.block([[C, C], [C, C]])
    S = sla.solve_discrete_lyapunov(A, noise) if start == "stationary" else np.zeros((2 * n, 2 * n))
    for _ in range(0 if start == "stationary" else start):
        S = A @ S @ A.T + noise
    covs = [S]
    for _ in range(T - 1):
        covs.append(A @ covs[-1] @ A.T + noise)
    total = sum(np.linalg.matrix_power(A, t - s) @ covs[s] if t >= s else covs[t] @ np.linalg.matrix_power(A, s - t).T
                for s in range(T) for t in range(T))
    expected = (sum(covs) / T - total / T**2)[:n, :n]
    got = momentum_window_covariance(H, C, lr, B, mu, T, start=start)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * np.abs(expected).max())


def test_window_law_from_w0_allows_flat_and_negative_curvature():
    H = np.diag([-0.05, 0.0, 1.0])
    got = momentum_window_covariance(H, np.eye(3), 0.1, 1, 0.9, 20, start=0)
    assert np.all(np.isfinite(got)) and got[0, 0] > got[1, 1] > got[2, 2] > 0  # the unstable mode grows most


@pytest.mark.parametrize("mu", [0.5, 0.9])
def test_simulated_recursion_matches_the_laws(mu):
    """Monte Carlo: 4,000 chains of the recursion from rest, independent Gaussian noise; the stationary law within
    4 s.e., and the mean sample covariance of simulated windows (the simulator behind sample_spectra, started from
    its stationary law) against the window law."""
    H, C = _problem(3)
    lr, B, n = _edge(mu), 2, N_MODES
    model = LinearMomentumSGD(lr, B, momentum=mu)
    A = _recursion(H, lr, mu)
    rng = np.random.default_rng(0)
    Lc = np.linalg.cholesky(lr**2 / B * C)
    chains = 4000
    z = np.zeros((chains, 2 * n))  # from rest; 400 steps are > 40 relaxation times of the slowest mode
    for _ in range(400):
        eta = rng.standard_normal((chains, n)) @ Lc.T
        z = z @ A.T + np.concatenate([eta, eta], axis=1)
    x = z[:, :n]
    law = model.discrete(H, C)
    emp = x.T @ x / chains
    se = np.sqrt((law**2 + np.outer(np.diag(law), np.diag(law))) / chains)  # Gaussian: Var of x_i x_j
    assert np.all(np.abs(emp - law) < 4 * se)
    T, paths = 30, 400
    mean = np.zeros((n, n))
    for snaps in model._windows(H, C, T, paths, 1, seed=1):
        d = snaps - snaps.mean(axis=0)
        mean += d.T @ d / T / paths
    V = np.linalg.eigh(H)[1]
    win = V.T @ model.window(H, C, T) @ V  # the simulator works in H's eigenbasis
    assert np.all(np.abs(np.diag(mean) - np.diag(win)) < 0.1 * np.diag(win))


@pytest.mark.parametrize("mu", [0.5, 0.9])
def test_the_recursion_is_torch_sgd_with_momentum_step_for_step(mu):
    """On L_t(w) = ½(w − ω0)ᵀH(w − ω0) + ξ_tᵀw, torch.optim.SGD(momentum=μ) and the recursion
    x_{t+1} = (1 − αH)x + μu − αξ, u_{t+1} = −αHx + μu − αξ (u = −α·buffer) give the same iterates."""
    H, _ = _problem(4)
    lr, n = _edge(mu), N_MODES
    rng = np.random.default_rng(5)
    w0, xi = rng.standard_normal(n), rng.standard_normal((300, n))
    w = torch.tensor(w0 + rng.standard_normal(n), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr, momentum=mu)
    Ht, w0t = torch.tensor(H), torch.tensor(w0)
    A = _recursion(H, lr, mu)
    z = np.concatenate([w.detach().numpy() - w0, np.zeros(n)])
    for t in range(300):
        opt.zero_grad()
        loss = 0.5 * (w - w0t) @ Ht @ (w - w0t) + torch.tensor(xi[t]) @ w
        loss.backward()
        opt.step()
        z = A @ z - lr * np.concatenate([xi[t], xi[t]])
        np.testing.assert_allclose(w.detach().numpy() - w0, z[:n], rtol=0, atol=1e-11)


def test_overdamped_limit_and_decomposition_use_the_effective_learning_rate():
    H, C = _problem(5)
    m = LinearMomentumSGD(0.001, 4, momentum=0.9)
    plain = LinearSGD(0.01, 4)  # α/(1 − μ)
    assert m.effective_lr == pytest.approx(0.01) and m.eps == pytest.approx(plain.eps)
    np.testing.assert_allclose(m.continuous(H, C), plain.continuous(H, C), rtol=1e-10)
    np.testing.assert_allclose(m.decompose(H, C).U, plain.decompose(H, C).U, rtol=1e-8)
    # small αh: the exact law approaches the continuous one (relative gap O(αh/(1 − μ)))
    gap = np.abs(m.discrete(H, C) - m.continuous(H, C)).max() / np.abs(m.continuous(H, C)).max()
    assert gap < 0.05
    assert m.describe()["optimizer"] == "sgd_momentum" and m.describe()["momentum"] == 0.9


@pytest.mark.parametrize(("mu", "message"), [
    (1.0, "momentum = 1.0 must be a number in [0, 1)"), (-0.1, "momentum = -0.1 must be a number in [0, 1)"),
    (True, "momentum = True must be a number in [0, 1)")])
def test_bad_momentum(mu, message):
    with pytest.raises(DecompositionError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        LinearMomentumSGD(0.1, 1, momentum=mu)


def test_a_learning_rate_beyond_the_stability_edge_names_the_bound():
    H = np.diag([1.0, 4.0])
    with pytest.raises(DecompositionError, match=r"≥ 2\(1 \+ μ\) = 3\.8 .* use lr < 2\(1 \+ μ\)/λ_max = 0\.95"):
        momentum_stationary_covariance(H, np.eye(2), 1.0, 1, 0.9)
    momentum_stationary_covariance(H, np.eye(2), 0.94, 1, 0.9)  # inside the edge: fine (plain SGD would diverge)
    with pytest.raises(DecompositionError, match="no stationary law"):
        momentum_stationary_covariance(np.diag([0.0, 1.0]), np.eye(2), 0.1, 1, 0.9)
    assert isinstance(linear_model(0.1, 8, momentum=0.5), LinearMomentumSGD)
    assert type(linear_model(0.1, 8)) is LinearSGD
