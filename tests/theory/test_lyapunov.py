"""Continuous, discrete-SGD and finite-window covariance laws against oracles, closed forms and simulation."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matrices import (
    brute_window_covariance,
    general_force,
    kron_discrete_lyapunov,
    kron_lyapunov,
    orthogonal,
    rng_of,
    seeds,
    spd,
    symmetric_force,
)
from sgdpotential import (
    DecompositionError,
    sgd_stationary_covariance,
    sgd_window_covariance,
    stationary_covariance,
)

# ---------------------------------------------------------------- continuous law


@given(n=st.integers(1, 10), seed=seeds, symmetric=st.booleans(), eps=st.floats(1e-3, 10))
def test_stationary_covariance_matches_oracle(n, seed, symmetric, eps):
    rng = rng_of(seed)
    F = symmetric_force(rng, n) if symmetric else general_force(rng, n)
    D = spd(rng, n)
    expected = kron_lyapunov(F, 2 * eps * D)
    got = stationary_covariance(F, D, eps)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-11 * np.abs(expected).max())
    np.testing.assert_array_equal(got, got.T)


def test_stationary_covariance_closed_form_and_methods():
    F, D = np.diag([1.0, 4.0]), np.array([[2.0, 1.0], [1.0, 2.0]])
    expected = 0.5 * np.array([[2.0, 2 * 1.0 / 5.0], [2 * 1.0 / 5.0, 0.5]])  # 2εD_ij/(λ_i+λ_j)
    for method in ("auto", "eigh", "schur"):
        np.testing.assert_allclose(stationary_covariance(F, D, 0.5, method=method), expected, atol=1e-15)


def test_stationary_covariance_refuses_a_saddle():
    with pytest.raises(DecompositionError, match=r"F has eigenvalue -1 with Re λ ≤ 0 \(1 of 2\), so ẋ = −Fx \+ ζ has "
                       r"no stationary covariance"):
        stationary_covariance(np.diag([2.0, -1.0]), np.eye(2))


# ---------------------------------------------------------------- discrete SGD law


def test_sgd_law_commuting_closed_form():
    """Commuting H, C: σ² = αC/(B h (2 − αh)) per mode (Liu, Ziyin & Ueda 2021)."""
    rng = rng_of(0)
    R = orthogonal(rng, 5)
    h = np.array([0.1, 1.0, 5.0, 10.0, 19.0])
    c = np.array([1.0, 2.0, 0.5, 3.0, 0.1])
    lr, B = 0.1, 8
    got = sgd_stationary_covariance((R * h) @ R.T, (R * c) @ R.T, lr, B)
    expected = (R * (lr * c / (B * h * (2 - lr * h)))) @ R.T
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13 * np.abs(expected).max())


@given(n=st.integers(1, 9), seed=seeds, symmetric=st.booleans(), B=st.integers(1, 64))
def test_sgd_law_matches_vectorized_oracle(n, seed, symmetric, B):
    rng = rng_of(seed)
    H = symmetric_force(rng, n) if symmetric else general_force(rng, n)
    C = spd(rng, n)
    lam = np.linalg.eigvals(H)
    lr = 0.9 * np.min(2 * lam.real / np.abs(lam) ** 2)  # |1 − lr·λ| < 1 for every (complex) λ
    expected = kron_discrete_lyapunov(np.eye(n) - lr * H, lr**2 * C / B)
    got = sgd_stationary_covariance(H, C, lr, B)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * np.abs(expected).max())


def test_sgd_law_without_replacement_factor():
    H, C = np.diag([1.0, 2.0]), np.eye(2)
    with_repl = sgd_stationary_covariance(H, C, 0.1, 10)
    np.testing.assert_allclose(sgd_stationary_covariance(H, C, 0.1, 10, n_train=100), with_repl * 90 / 99)
    np.testing.assert_array_equal(sgd_stationary_covariance(H, C, 0.1, 10, n_train=10), 0.0)  # full batch: GD


def _minibatch_sgd(H, mu, lr, B, steps, burn, chains, rng, replace, window=None):
    """Real minibatch SGD on L = (1/N)Σ_k ½(x − μ_k)ᵀH(x − μ_k) (mean μ = 0), many chains at once.

    Returns per-chain time averages of x xᵀ after burn-in (window=None), or per-chain 1/T sample
    covariances of the window of snapshots taken after ``burn`` steps (window=T).
    """
    N, n = mu.shape
    x = np.zeros((chains, n))
    A = np.eye(n) - lr * H
    acc = np.zeros((chains, n, n))
    snaps = []
    for t in range(steps):
        if window is not None and t >= burn:
            snaps.append(x.copy())
            if len(snaps) == window:
                break
        elif window is None and t >= burn:
            acc += x[:, :, None] * x[:, None, :]
        if replace:
            idx = rng.integers(0, N, size=(chains, B))
        else:
            idx = np.argpartition(rng.random((chains, N)), B - 1, axis=1)[:, :B]
        x = x @ A.T + lr * mu[idx].mean(axis=1) @ H.T
    if window is None:
        return acc / (steps - burn)
    X = np.stack(snaps, axis=1)  # (chains, T, n)
    Xc = X - X.mean(axis=1, keepdims=True)
    return np.einsum("cti,ctj->cij", Xc, Xc) / window


@pytest.mark.parametrize("replace", [True, False])
def test_sgd_law_against_minibatch_simulation(replace):
    """Per-chain averages of real minibatch SGD (independent chains) vs the exact law, within 5 standard
    errors; the continuous law, off by 1/(1 − αh/2) = 4× along the stiff mode, must be rejected."""
    rng = rng_of(42)
    n, N, B, lr = 3, 60, 6, 0.3
    R = orthogonal(rng, n)
    H = (R * np.array([0.5, 2.0, 5.0])) @ R.T  # lr·h = 0.15, 0.6, 1.5
    mu = rng.standard_normal((N, n)) * np.array([1.0, 0.5, 2.0])
    mu -= mu.mean(axis=0)
    C = H @ (mu.T @ mu / N) @ H  # paper Eq. (19) at the minimum: population covariance of ∇ℓ_k
    per_chain = _minibatch_sgd(H, mu, lr, B, steps=500, burn=100, chains=1500, rng=rng, replace=replace)
    est = per_chain.mean(axis=0)
    se = per_chain.std(axis=0, ddof=1) / np.sqrt(per_chain.shape[0])
    exact = sgd_stationary_covariance(H, C, lr, B, n_train=None if replace else N)
    assert np.all(np.abs(est - exact) <= 5 * se), (est, exact, se)
    continuous = stationary_covariance(H, C, lr / (2 * B) * (1 if replace else (N - B) / (N - 1)))
    assert np.max(np.abs(est - continuous) / se) > 20


@pytest.mark.parametrize(
    ("H", "lr", "message"),
    [
        (np.diag([1.0, 30.0]), 0.1, r"H has eigenvalue 30, so lr·λ = 3 ≥ 2 with lr = 0.1: SGD diverges along that "
         r"direction; use lr < 2/λ_max = 0.0666667"),
        (np.diag([1.0, -0.5]), 0.1, r"H has eigenvalue -0.5, so lr·λ = -0.05 is not in \(0, 2\) \(1 of 2 such\): "
         r"along flat or negative-curvature directions SGD has no stationary law; use sgd_window_covariance"),
        (np.diag([1.0, 0.0]), 0.1, r"H has eigenvalue 0, so lr·λ = 0 is not in \(0, 2\)"),
        ([[1.0, 5.0], [0.0, 25.0]], 0.1, r"I − lr·H has eigenvalue .* with \|μ\| = 1.5 ≥ 1 \(lr = 0.1\)"),
    ],
)
def test_sgd_law_stability_messages(H, lr, message):
    with pytest.raises(DecompositionError, match=message):
        sgd_stationary_covariance(H, np.eye(2), lr, 10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -0.1}, r"lr = -0.1 must be a finite number > 0; the learning rate α must be positive"),
        ({"batch_size": 0}, r"batch_size = 0 must be an integer ≥ 1; the minibatch size B must be a positive integer"),
        ({"batch_size": 2.5}, r"batch_size = 2.5 must be an integer"),
        ({"n_train": 5}, r"n_train = 5 is smaller than batch_size = 10"),
        ({"C": -np.eye(2)}, r"C must be positive semi-definite \(the per-sample gradient covariance of paper "
         r"Eq. \(19\)\) but has eigenvalue -1"),
        ({"C": np.eye(3)}, r"C has shape \(3, 3\) but the force/Hessian matrix is 2×2"),
    ],
)
def test_sgd_law_bad_input_messages(kwargs, message):
    args = {"H": np.eye(2), "C": np.eye(2), "lr": 0.1, "batch_size": 10} | kwargs
    with pytest.raises(DecompositionError, match=message):
        sgd_stationary_covariance(**args)


# ---------------------------------------------------------------- finite-window law


def _mixed_hessian(rng, n, a_values):
    R = orthogonal(rng, n)
    return (R * np.asarray(a_values)) @ R.T


@pytest.mark.parametrize("window", [2, 3, 17, 40])
@pytest.mark.parametrize("start", [0, 1, 7, "stationary"])
def test_window_law_matches_brute_force(window, start):
    """Every kind of mode at once: stiff oscillating (1 < αh < 2), αh = 1, ordinary, tiny and (for an
    integer start) exactly flat and negative-curvature ones."""
    rng = rng_of(window)
    stable = [1.7, 1.0, 0.4, 0.05, 1e-3]
    a = stable if start == "stationary" else [*stable, 0.0, -0.03]
    n = len(a)
    H = _mixed_hessian(rng, n, a)  # lr = 1, so H holds lr·h
    C = spd(rng, n, 0.2, 2.0)
    B = 4
    got = sgd_window_covariance(H, C, 1.0, B, window, start=start)
    first = sgd_stationary_covariance(H, C, 1.0, B) if start == "stationary" else start
    expected = brute_window_covariance(H, C / B, window, first)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-11 * np.abs(expected).max())


@pytest.mark.parametrize("stride", [2, 5, 13])
@pytest.mark.parametrize("start", [0, 3, "stationary"])
def test_strided_window_law_matches_brute_force(stride, start):
    """Snapshots every s steps, as a run records them: the same kinds of modes as above, against the explicit
    step-by-step second moments picked every s steps."""
    rng = rng_of(stride)
    stable = [1.7, 1.0, 0.4, 0.05, 1e-3]
    a = stable if start == "stationary" else [*stable, 0.0, -0.03]
    H = _mixed_hessian(rng, len(a), a)
    C = spd(rng, len(a), 0.2, 2.0)
    got = sgd_window_covariance(H, C, 1.0, 4, 9, start=start, stride=stride)
    first = sgd_stationary_covariance(H, C, 1.0, 4) if start == "stationary" else start
    expected = brute_window_covariance(H, C / 4, 9, first, stride=stride)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-11 * np.abs(expected).max())


def test_strided_random_walk_is_the_random_walk_of_its_snapshots():
    """h = 0: snapshots s steps apart are a random walk with s times the step variance."""
    got = sgd_window_covariance([[0.0]], [[3.0]], lr=0.5, batch_size=3, window=50, start=0, stride=7)[0, 0]
    assert got == pytest.approx((50**2 - 1) / (6 * 50) * 0.25 * 7, rel=1e-12)


def test_window_law_random_walk_closed_form():
    """h = 0 from any start: the window is a random walk, E var = (T² − 1)/(6T)·σ_ξ²."""
    for T in (2, 10, 1000, 10**6):
        got = sgd_window_covariance([[0.0]], [[3.0]], lr=0.5, batch_size=3, window=T, start=5)[0, 0]
        assert got == pytest.approx((T**2 - 1) / (6 * T) * 0.25, rel=1e-12)


def test_window_law_is_continuous_at_flat_directions():
    """αh → 0 must approach the random walk smoothly: naive closed forms lose all digits here."""
    T = 10**4
    flat = sgd_window_covariance([[0.0]], [[1.0]], 1.0, 1, T, start=0)[0, 0]
    for a in (1e-14, 1e-12, 1e-10):
        near = sgd_window_covariance([[a]], [[1.0]], 1.0, 1, T, start=0)[0, 0]
        # first-order change is O(a·T) relative; anything larger is cancellation error
        assert abs(near - flat) / flat < 10 * a * T + 1e-13


def test_window_law_long_window_tends_to_stationary():
    rng = rng_of(3)
    H, C = _mixed_hessian(rng, 3, [0.5, 0.1, 0.05]), spd(rng, 3)
    stat = sgd_stationary_covariance(H, C, 1.0, 2)
    for T, tol in ((10**3, 0.2), (10**5, 2e-3), (10**7, 2e-5)):  # deficit O(τ/T), τ = 1/(αh_min) = 20
        got = sgd_window_covariance(H, C, 1.0, 2, T)
        assert np.linalg.norm(got - stat) / np.linalg.norm(stat) < tol


def test_window_law_against_minibatch_simulation():
    """Sample covariances of real minibatch-SGD windows (chains started at the minimum, b steps before),
    averaged over chains, against the window law with the without-replacement factor."""
    rng = rng_of(7)
    n, N, B, lr, b, T = 3, 50, 5, 0.2, 3, 30
    R = orthogonal(rng, n)
    H = (R * np.array([0.05, 1.0, 8.0])) @ R.T  # lr·h = 0.01 (never equilibrates), 0.2, 1.6
    mu = rng.standard_normal((N, n))
    mu -= mu.mean(axis=0)
    C = H @ (mu.T @ mu / N) @ H
    per_chain = _minibatch_sgd(H, mu, lr, B, steps=b + T, burn=b, chains=4000, rng=rng, replace=False, window=T)
    est = per_chain.mean(axis=0)
    se = per_chain.std(axis=0, ddof=1) / np.sqrt(per_chain.shape[0])
    exact = sgd_window_covariance(H, C, lr, B, T, start=b, n_train=N)
    assert np.all(np.abs(est - exact) <= 5 * se), (est, exact, se)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"H": [[1.0, 0.2], [0.0, 1.0]]}, r"H must be symmetric \(a Hessian; the window law is computed in its "
         r"eigenbasis\).*pass \(H \+ H.T\) / 2"),
        ({"window": 1}, r"window = 1 must be an integer ≥ 2; a window needs at least 2 snapshots"),
        ({"start": "burn-in"}, r"start = 'burn-in' must be 'stationary' or an integer b ≥ 0"),
        ({"start": -1}, r"start = -1 must be an integer ≥ 0"),
        ({"H": np.diag([1.0, 0.0])}, r"lr·λ = 0 is not in \(0, 2\).*pass an integer start=b"),
        ({"H": np.diag([1.0, -5.0]), "start": 0, "window": 10**5},
         r"the window variance overflows float64: lr·λ_min\(H\) = -0.5"),
    ],
)
def test_window_law_bad_input_messages(kwargs, message):
    args = {"H": np.eye(2), "C": np.eye(2), "lr": 0.1, "batch_size": 10, "window": 20} | kwargs
    with pytest.raises(DecompositionError, match=message):
        sgd_window_covariance(**args)


@pytest.mark.slow
def test_sgd_law_long_single_chain():
    """One long minibatch-SGD chain (the way a trajectory is measured); standard errors from batch means
    over blocks of 1,000 steps, much longer than the relaxation time 1/(αh_min) ≈ 3 steps."""
    rng = rng_of(99)
    n, N, B, lr = 2, 40, 4, 0.5
    H = np.array([[1.0, 0.3], [0.3, 2.5]])  # lr·h ≈ 0.47 and 1.32
    mu = rng.standard_normal((N, n))
    mu -= mu.mean(axis=0)
    C = H @ (mu.T @ mu / N) @ H
    A = np.eye(n) - lr * H
    steps, burn, block = 300_000, 1_000, 1_000
    batches = rng.integers(0, N, size=(steps, B))
    x, xs = np.zeros(n), np.empty((steps, n))
    kicks = lr * mu[batches].mean(axis=1) @ H.T
    for t in range(steps):
        x = A @ x + kicks[t]
        xs[t] = x
    xs = xs[burn:].reshape(-1, block, n)
    blocks = np.einsum("bti,btj->bij", xs, xs) / block
    est, se = blocks.mean(axis=0), blocks.std(axis=0, ddof=1) / np.sqrt(len(blocks))
    exact = sgd_stationary_covariance(H, C, lr, B)
    assert np.all(np.abs(est - exact) <= 5 * se), (est, exact, se)
