"""Adam and RMSprop with a frozen second moment: the laws against an independent oracle of the (x, m) recursion,
and the approximation itself against real torch.optim.Adam / RMSprop on a noisy quadratic."""

import numpy as np
import pytest
import scipy.linalg as sla
import torch

from sgdpotential.errors import DecompositionError
from sgdpotential.theory import LinearSGD
from sgdpotential.theory.adaptive import LinearAdaptive, projected_preconditioner

N = 4


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((N, N)))
    G, R = rng.standard_normal((N, N)), rng.standard_normal((N, N))
    return Q @ np.diag([0.2, 0.5, 1.0, 3.0]) @ Q.T, G @ G.T, R @ R.T + 0.5 * np.eye(N)  # H, C, P: none commute


def _oracle(H, C, P, lr, beta1, B):
    """The frozen-preconditioner recursion in (x, m) written out: m' = β1 m + (1 − β1)(Hx + ξ), x' = x − αPm'."""
    eye = np.eye(N)
    A = np.block([[eye - lr * (1 - beta1) * P @ H, -lr * beta1 * P], [(1 - beta1) * H, beta1 * eye]])
    load = np.vstack([-lr * (1 - beta1) * P, (1 - beta1) * eye])
    return A, load @ (C / B) @ load.T


@pytest.mark.parametrize(("beta1", "optimizer"), [(0.9, "adam"), (0.5, "adam"), (0.0, "rmsprop")])
def test_laws_equal_the_explicit_recursion(beta1, optimizer):
    H, C, P = _problem()
    lr, B, T = 0.05, 4, 7
    m = LinearAdaptive(lr, B, preconditioner=P, beta1=beta1, optimizer=optimizer)
    A, noise = _oracle(H, C, P, lr, beta1, B)
    S = sla.solve_discrete_lyapunov(A, noise)
    np.testing.assert_allclose(m.discrete(H, C), S[:N, :N], rtol=0, atol=1e-12 * np.abs(S).max())
    for start in ("stationary", 0, 2):
        S0 = S if start == "stationary" else np.zeros_like(S)
        for _ in range(0 if start == "stationary" else start):
            S0 = A @ S0 @ A.T + noise
        covs = [S0]
        for _ in range(T - 1):
            covs.append(A @ covs[-1] @ A.T + noise)
        total = sum(np.linalg.matrix_power(A, t - s) @ covs[s] if t >= s else covs[t] @ np.linalg.matrix_power(
            A, s - t).T for s in range(T) for t in range(T))
        expected = (sum(covs) / T - total / T**2)[:N, :N]
        np.testing.assert_allclose(m.window(H, C, T, start=start), expected, rtol=0,
                                   atol=1e-12 * np.abs(expected).max())


def test_overdamped_limit_is_sgd_with_the_matrix_learning_rate():
    H, C, P = _problem(1)
    m = LinearAdaptive(1e-4, 2, preconditioner=P, beta1=0.9)
    np.testing.assert_allclose(m.force(H), 1e-4 * P @ H)
    np.testing.assert_allclose(m.diffusion(C), P @ C @ P)
    gap = np.abs(m.discrete(H, C) - m.continuous(H, C)).max() / np.abs(m.continuous(H, C)).max()
    assert gap < 0.01  # small αPH: the exact law approaches FΣ + ΣFᵀ = 2εD with F = αPH, D = PCP
    assert "frozen" in m.describe()["approximate"]


def test_simulated_windows_are_in_weight_coordinates():
    """P^{1/2} is not orthogonal: the simulated windows must be mapped back before their PCA (their mean sample
    covariance is the window law in x, not P^{-1/2} of it)."""
    H, C, P = _problem(2)
    m = LinearAdaptive(0.05, 4, preconditioner=P, beta1=0.9)
    T, paths = 40, 300
    mean = np.zeros((N, N))
    for snaps in m._windows(H, C, T, paths, 1, seed=0):
        d = snaps - snaps.mean(axis=0)
        mean += d.T @ d / T / paths
    law = m.window(H, C, T)
    assert np.all(np.abs(np.diag(mean) - np.diag(law)) < 0.1 * np.diag(law))


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_the_frozen_moment_model_describes_real_adam_on_a_noisy_quadratic(optimizer):
    """1,000 chains of torch.optim.Adam (RMSprop) on ½xᵀHx + ξᵀx, Cov ξ = C: the stationary variances agree with the
    frozen law evaluated at the chains' mean preconditioner to within 3% (measured 0.4–1% at 2,000 chains × 6,000
    steps); plain SGD's law at the same α is off by up to 2× here, so the comparison can fail."""
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.standard_normal((N, N)))
    H = Q @ np.diag([0.5, 1.0, 2.0, 4.0]) @ Q.T
    G = rng.standard_normal((N, N))
    C = G @ G.T / N
    chains, lr, beta1, beta2 = 1000, 0.01, 0.9 if optimizer == "adam" else 0.0, 0.999
    x = torch.zeros(chains, N, dtype=torch.float64, requires_grad=True)
    opt = (torch.optim.Adam([x], lr=lr, betas=(beta1, beta2)) if optimizer == "adam" else
           torch.optim.RMSprop([x], lr=lr, alpha=beta2))
    Ht, Lc = torch.tensor(H), torch.tensor(np.linalg.cholesky(C))
    acc, count = np.zeros((N, N)), 0
    for t in range(5000):
        opt.zero_grad()
        xi = torch.randn(chains, N, dtype=torch.float64) @ Lc.T
        (0.5 * ((x @ Ht) * x).sum() + (xi * x).sum()).backward()
        opt.step()
        if t >= 2500 and t % 5 == 0:
            xd = x.detach().numpy()
            acc += xd.T @ xd / chains
            count += 1
    state = opt.state[x]
    v = state["exp_avg_sq"] / (1 - beta2 ** state["step"]) if optimizer == "adam" else state["square_avg"]
    p = (1 / (v.sqrt() + 1e-8)).mean(0).numpy()  # both optimizers' default ϵ
    law = LinearAdaptive(lr, 1, preconditioner=np.diag(p), beta1=beta1, optimizer=optimizer).discrete(H, C)
    ratio = np.diag(acc / count) / np.diag(law)
    assert np.all(np.abs(ratio - 1) < 0.03), ratio
    plain = np.diag(acc / count) / np.diag(LinearSGD(lr, 1).discrete(H, C))
    assert np.abs(plain - 1).max() > 0.2, plain  # without the preconditioner the same check fails


def test_bad_preconditioners():
    P = _problem()[2]
    with pytest.raises(DecompositionError, match="positive definite"):
        LinearAdaptive(0.1, 1, preconditioner=-P, beta1=0.9)
    with pytest.raises(DecompositionError, match=r"beta1 = 1\.0 must be a finite number in \[0, 1\)"):
        LinearAdaptive(0.1, 1, preconditioner=P, beta1=1.0)
    with pytest.raises(DecompositionError, match="optimizer = 'sgd' is not one of adam, rmsprop"):
        LinearAdaptive(0.1, 1, preconditioner=P, optimizer="sgd")
    U = np.linalg.qr(np.random.default_rng(0).standard_normal((6, 3)))[0].T
    p = np.arange(1.0, 7.0)
    np.testing.assert_allclose(projected_preconditioner(p, U), U @ np.diag(p) @ U.T)
    with pytest.raises(DecompositionError, match="finite and positive"):
        projected_preconditioner(-p, U)


def test_the_uncancelled_state_is_that_of_the_preconditioned_recursion():
    """RMSprop's frozen model steps x' = (I − αPH)x + …: its within-epoch memory is Φ = Σ_l w_l (I − αPH)^l, not
    symmetric, and S_W = ½[(I − Φ)Σ + Σ(I − Φ)ᵀ] — computed here by matrix powers, against the model's route
    through y = P^{-1/2}x."""
    rng = np.random.default_rng(2)
    n, lr, N, B = 4, 0.05, 40, 4
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    H = Q @ np.diag([0.2, 1.0, 3.0, 8.0]) @ Q.T
    P = np.diag([0.5, 1.0, 2.0, 1.5])
    G = rng.standard_normal((n, n))
    Sigma = G @ G.T
    m = N // B
    R = np.eye(n) - lr * P @ H
    Phi = sum(2 * (m - lag) / (m * (m - 1)) * np.linalg.matrix_power(R, lag) for lag in range(1, m))
    direct = (np.eye(n) - Phi) @ Sigma
    model = LinearAdaptive(lr, B, N, preconditioner=P, beta1=0.0, optimizer="rmsprop")
    np.testing.assert_allclose(model.uncancelled_state(H, Sigma), (direct + direct.T) / 2, atol=1e-12)
