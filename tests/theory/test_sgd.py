"""The linear model of SGD: one owner of ε, κ, F, D and the laws; refusal of optimizers it does not model."""

import numpy as np
import pytest

from sgdpotential import DecompositionError, LinearSGD, linear_model
from sgdpotential.theory import decompose, sgd_stationary_covariance, sgd_window_covariance, stationary_covariance


def _problem(n=6, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    H = Q @ np.diag(np.geomspace(0.05, 3.0, n)) @ Q.T
    G = rng.standard_normal((n, 2 * n))
    return H, G @ G.T / (2 * n)


def test_constants_and_matrices():
    m = LinearSGD(0.1, 50, n_train=5000)
    assert m.eps == pytest.approx(0.1**2 / 100)
    assert m.sampling_factor == pytest.approx(4950 / 4999)
    assert LinearSGD(0.1, 50).sampling_factor == 1.0  # with replacement
    H, C = _problem()
    np.testing.assert_allclose(m.force(H), 0.1 * H)
    np.testing.assert_allclose(m.diffusion(C), 4950 / 4999 * C)


def test_laws_are_the_theory_functions_with_one_set_of_constants():
    H, C = _problem()
    m = LinearSGD(0.2, 10, n_train=100)
    kappa = 90 / 99
    laws = m.laws(H, C, 500)
    np.testing.assert_allclose(laws["continuous"], stationary_covariance(0.2 * H, kappa * C, 0.2**2 / 20))
    np.testing.assert_allclose(laws["discrete"], sgd_stationary_covariance(H, C, 0.2, 10, n_train=100))
    np.testing.assert_allclose(laws["window_from_w0"], sgd_window_covariance(H, C, 0.2, 10, 500, start=0, n_train=100))
    np.testing.assert_allclose(m.decompose(H, C).U, decompose(0.2 * H, kappa * C, 0.2**2 / 20).U)


def test_the_continuous_law_is_the_small_lr_limit_of_the_discrete_law_with_the_same_noise():
    """Both laws carry the sampling factor κ (at 0bee5a8 the continuous one did not: off by 1 − κ)."""
    H, C = _problem()
    m = LinearSGD(1e-5, 8, n_train=40)
    np.testing.assert_allclose(m.continuous(H, C), m.discrete(H, C), rtol=1e-4)


def test_an_undefined_law_is_returned_as_its_error():
    H, C = np.diag([1.0, 0.0]), np.eye(2)
    laws = LinearSGD(0.1, 4).laws(H, C, 100)
    assert isinstance(laws["continuous"], DecompositionError) and isinstance(laws["discrete"], DecompositionError)
    assert np.isfinite(laws["window_from_w0"]).all()  # a finite window from ω0 exists along a flat direction


def test_weight_decay_is_refused_in_one_sentence():
    with pytest.raises(DecompositionError, match=r"^weight_decay = 0.0001: sgdpotential's linear theory models SGD "
                       r"with and without momentum but not weight decay, so it refuses to analyse this run"):
        linear_model(0.1, 50, weight_decay=1e-4)
    with pytest.raises(DecompositionError, match="weight_decay"):
        linear_model(0.1, 50, momentum=0.9, weight_decay=1e-4)
    assert isinstance(linear_model(0.1, 50, 5000), LinearSGD)


def test_bad_settings():
    with pytest.raises(DecompositionError, match=r"lr = 0\.0 must be a finite number > 0"):
        LinearSGD(0.0, 5)
    with pytest.raises(DecompositionError, match="n_train = 3 is smaller than batch_size = 5"):
        LinearSGD(0.1, 5, n_train=3)


def test_sample_spectra_of_white_noise_keep_the_trace_and_show_the_selection_bias():
    """αH = I makes every step independent (x_{t+1} = η_t): the sample spectra then sum to (1 − 1/T) tr Cov η
    on average, while the largest sample eigenvalue lies above the largest true variance (PCA's selection)."""
    n, T, lr, B = 20, 100, 0.5, 4
    m = LinearSGD(lr, B)
    H, C = np.eye(n) / lr, np.diag(np.linspace(1.0, 2.0, n))
    sims = m.sample_spectra(H, C, T, n, paths=200, seed=1)
    true = lr**2 / B * np.diag(C)
    assert sims.shape == (200, n) and np.all(np.diff(sims, axis=1) <= 0)
    assert sims.sum(axis=1).mean() == pytest.approx((1 - 1 / T) * true.sum(), rel=0.01)
    assert sims[:, 0].mean() > 1.3 * true.max() and sims[:, -1].mean() < 0.7 * true.min()


def test_sample_spectra_start_stationary_along_stable_modes_only():
    m = LinearSGD(0.1, 1)
    H, C = np.diag([1.0, 0.0]), np.diag([1.0, 0.0])  # a flat, noiseless direction stays at 0
    sims = m.sample_spectra(H, C, 400, 2, paths=50, seed=0)
    assert sims[:, 1].max() == 0.0
    assert sims[:, 0].mean() == pytest.approx(0.01 / (0.1 * 1.9), rel=0.15)  # stationary αC/(Bh(2 − αh))


def test_within_epoch_memory_is_the_lag_autocorrelation_averaged_over_an_epochs_pairs_of_steps():
    """Φ = mean over the ordered pairs j ≠ k of one epoch (m = 100 steps) of R^|j−k|: → 1 slower than an epoch,
    0 where αλ = 1 (forgotten in one step); a rotated H gives the rotated Φ; no epochs with replacement."""
    model = LinearSGD(0.1, 10, n_train=1000)
    j, k = np.meshgrid(np.arange(100), np.arange(100))
    lag = np.abs(j - k)[j != k]
    rs = (1 - 1e-7, 0.95, 0.0, -0.5)  # αλ = 1e-7, 0.05, 1, 1.5
    direct = [np.mean(r**lag) for r in rs]
    H = np.diag([(1 - r) / 0.1 for r in rs])
    np.testing.assert_allclose(np.diag(model.within_epoch_memory(H)), direct, rtol=1e-12, atol=1e-15)
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))
    np.testing.assert_allclose(model.within_epoch_memory(Q @ H @ Q.T), Q @ np.diag(direct) @ Q.T, atol=1e-12)
    assert not LinearSGD(0.1, 10).within_epoch_memory(H).any()
    S = model.uncancelled_state(H, np.eye(4))
    np.testing.assert_allclose(np.diag(S), 1 - np.array(direct), atol=1e-12)


def test_the_white_part_of_reshuffled_noise_keeps_the_per_step_and_the_epoch_covariance():
    """With a white part W ⊂ C the drawn noise has, per step, Cov η = α²κC/B (as without it) and, summed over an
    epoch, α²[mκ/B·C − m(m − 1)/(N_L − 1)·(C − W)]: only C − W cancels — checked on 40,000 drawn epochs. With W = C
    reshuffling changes nothing: the start law is the stationary law of independent steps with κC (exact)."""
    H, C = _problem(n=3)
    W = 0.3 * C
    model = LinearSGD(0.2, 4, n_train=30)  # m = 7 steps, 2 samples dropped per epoch
    m, kappa, N = 7, 26 / 29, 30
    nm = model._noise_model(H, C, W)
    eta = model._noise(nm)(np.random.default_rng(0), 40_000).reshape(40_000, m, 3) @ nm.V.T  # back from H's basis
    step = np.einsum("emi,emj->ij", eta, eta) / eta.shape[0] / m
    total = eta.sum(axis=1)
    epoch = total.T @ total / len(total)
    expect_step = 0.04 * kappa / 4 * C
    expect_epoch = 0.04 * (m * kappa / 4 * C - m * (m - 1) / (N - 1) * (C - W))
    np.testing.assert_allclose(step, expect_step, atol=0.02 * np.abs(expect_step).max())
    np.testing.assert_allclose(epoch, expect_epoch, atol=0.03 * np.abs(expect_epoch).max())
    np.testing.assert_allclose(model.start_covariance(H, C, white=C),
                               LinearSGD(0.2, 4).start_covariance(H, kappa * C), rtol=1e-10)
    np.testing.assert_allclose(model.start_covariance(H, C, white=0 * C), model.start_covariance(H, C), rtol=1e-12)


def _epoch_batches(rng, N, B, chains):
    """One epoch of reshuffled minibatches for ``chains`` independent chains: a fresh permutation each, cut into
    ⌊N/B⌋ disjoint (chains, B) index blocks (the rest dropped), as ``MinibatchSampler`` draws them."""
    perm = rng.permuted(np.tile(np.arange(N), (chains, 1)), axis=1)
    return [perm[:, j * B:(j + 1) * B] for j in range(N // B)]


def _reshuffled_sgd_spectra(H, xi, lr, B, steps, chains, burn, seed):
    """Independent oracle: real reshuffled SGD on the quadratic loss with per-sample gradients H w + ξ_k
    (a fresh permutation per epoch, ⌊N/B⌋ disjoint minibatches, the rest dropped), ``chains`` at once,
    ``burn`` whole epochs before a window that opens at an epoch boundary; its sample PCA spectra."""
    rng = np.random.default_rng(seed)
    N, n = xi.shape
    m = N // B
    y = np.zeros((chains, n))
    snaps = np.empty((steps, chains, n))
    t = 0
    for epoch in range(burn + -(-steps // m)):
        for idx in _epoch_batches(rng, N, B, chains):
            noise = xi[idx].mean(axis=1)
            y = y - lr * (y @ H.T + noise)
            if epoch >= burn and t < steps:
                snaps[t] = y
                t += 1
    snaps -= snaps.mean(axis=0)
    cov = np.einsum("tci,tcj->cij", snaps, snaps) / steps
    return np.sort(np.linalg.eigvalsh(cov), axis=1)[:, ::-1]


def test_sample_spectra_of_reshuffled_epochs_match_reshuffled_sgd():
    """Minibatches from one permutation per epoch are anticorrelated (they sum to nearly the full gradient):
    the simulated spectra with ``n_train`` match real reshuffled SGD (an independent simulation with
    permutations of fixed per-sample gradients, N = 11 not a multiple of B = 3), including a direction
    slower than an epoch — where white noise with the same one-step variance is far too loud."""
    lr, B, steps = 0.1, 3, 90
    rng = np.random.default_rng(0)
    xi = rng.standard_normal((11, 3)) * [1.0, 2.0, 0.5]
    xi -= xi.mean(axis=0)
    C = xi.T @ xi / len(xi)
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    H = Q @ np.diag([0.05, 1.0, 8.0]) @ Q.T  # αλ = 0.005 (slower than the window), 0.1, 0.8
    oracle = _reshuffled_sgd_spectra(H, xi, lr, B, steps, chains=4000, burn=800, seed=1)
    sims = LinearSGD(lr, B, n_train=11).sample_spectra(H, C, steps, 3, paths=4000, seed=2)
    se = np.sqrt(oracle.var(axis=0) / len(oracle) + sims.var(axis=0) / len(sims))
    assert np.all(np.abs(sims.mean(axis=0) - oracle.mean(axis=0)) < 4 * se), (sims.mean(0), oracle.mean(0), se)
    white = LinearSGD(lr, B).sample_spectra(H, (8 / 10) * C, steps, 3, paths=4000, seed=2)  # κ C, one-step equal
    assert white.mean(axis=0)[0] > 2 * oracle.mean(axis=0)[0]  # 2.8× here


def _linear_regression_sgd(sampling, X, y, lr, B, chains, epochs, burn, seed):
    """Independent oracle: real SGD on least squares, ``chains`` at once; the covariance of the iterates at
    epoch boundaries after ``burn`` epochs, and the mean of C(w) over those iterates (paper Eq. 19)."""
    rng = np.random.default_rng(seed)
    N = len(X)
    m = N // B
    W = np.tile(np.linalg.lstsq(X, y, rcond=None)[0], (chains, 1))
    cov, C = [], []
    for ep in range(epochs):
        batches = _epoch_batches(rng, N, B, chains) if sampling == "shuffle" else None
        for j in range(m):
            idx = batches[j] if batches is not None else rng.integers(0, N, (chains, B))
            Xb = X[idx]
            W = W - lr * np.einsum("cbi,cb->ci", Xb, np.einsum("cbi,ci->cb", Xb, W) - y[idx]) / B
        if ep >= burn:
            Wc = W - W.mean(axis=0)
            cov.append(Wc.T @ Wc / chains)
            G = (W[:200] @ X.T - y)[:, :, None] * X[None]
            G -= G.mean(axis=1, keepdims=True)
            C.append(np.einsum("cni,cnj->ij", G, G) / (N * 200))
    return np.mean(cov, axis=0), np.mean(C, axis=0)


def test_state_dependent_noise_of_linear_regression_needs_the_path_averaged_c():
    """Least squares: SGD's gradient is affine in w, so with replacement Σ = RΣRᵀ + (α²/B)E[C(w)] holds exactly —
    the exact discrete law with C averaged over the iterates matches real SGD (within 3%, the Monte-Carlo error),
    while C at the minimum misses the multiplicative part (here 3–6% too quiet). With reshuffled epochs the
    additive model is not exact even with E[C(w)]: at epoch boundaries real reshuffled SGD is louder than the law
    of :meth:`LinearSGD.sample_spectra`'s anticorrelated Gaussian noise in every direction, by 13% to ~9× (the
    slowest) — the residual of the calibration in docs/exact-case.md (a test of a stated limitation)."""
    rng = np.random.default_rng(0)
    N, d, B, lr = 120, 6, 6, 0.08
    X = rng.standard_normal((N, d)) * np.linspace(0.3, 1.5, d)
    y = X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(N)
    H = X.T @ X / N
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    G0 = (X @ w_star - y)[:, None] * X
    G0 -= G0.mean(axis=0)
    C0 = G0.T @ G0 / N
    _, V = np.linalg.eigh(H)
    real, Cbar = _linear_regression_sgd("replacement", X, y, lr, B, chains=1500, epochs=250, burn=60, seed=1)
    along = np.diag(V.T @ real @ V)
    law = LinearSGD(lr, B)
    exact = along / np.diag(V.T @ law.discrete(H, Cbar) @ V)
    at_min = along / np.diag(V.T @ law.discrete(H, C0) @ V)
    assert np.all(np.abs(exact - 1) < 0.03), exact
    assert np.all(at_min > 1.025), at_min
    real_rr, Cbar_rr = _linear_regression_sgd("shuffle", X, y, lr, B, chains=1500, epochs=250, burn=60, seed=2)
    additive = np.diag(V.T @ LinearSGD(lr, B, n_train=N).start_covariance(H, Cbar_rr) @ V)
    assert np.all(np.diag(V.T @ real_rr @ V) / additive > 1.08)  # measured 1.13–8.8×: a known limitation


def _least_squares_chains(A, r, lr, B, chains, epochs, burn, seed, decoupled=False):
    """Independent oracle: reshuffled SGD on Σ_k ½ xᵀA_k x + r_kᵀx (per-sample gradients A_k x + r_k), ``chains``
    at once; with ``decoupled`` the minibatch curvature acts on an independent replica's state (its own
    permutations), x' = x − α(Ax + (A_B − A)x̃ + r_B): the exactly decoupled process. Time-averaged covariance."""
    rng = np.random.default_rng(seed)
    N, n = r.shape
    H = A.mean(axis=0)
    x, xt = np.zeros((chains, n)), np.zeros((chains, n))
    S, mean, count = np.zeros((n, n)), np.zeros(n), 0
    for epoch in range(epochs):
        for idx, idx2 in zip(*(_epoch_batches(rng, N, B, chains) for _ in range(2)), strict=True):
            Ab, rb = A[idx].mean(axis=1), r[idx].mean(axis=1)
            if decoupled:
                x = x - lr * (x @ H + np.einsum("cij,cj->ci", Ab, xt) - xt @ H + rb)
                xt = xt - lr * (np.einsum("cij,cj->ci", A[idx2].mean(axis=1), xt) + r[idx2].mean(axis=1))
            else:
                x = x - lr * (np.einsum("cij,cj->ci", Ab, x) + rb)
            if epoch >= burn:
                S += x.T @ x
                mean += x.sum(axis=0)
                count += chains
    mean /= count
    return S / count - np.outer(mean, mean)


@pytest.mark.slow
def test_reshuffling_decouples_except_through_the_per_sample_curvature_residual_correlation():
    """Where the residual of the reshuffled law comes from (docs/exact-case.md). The white part W of
    :meth:`LinearSGD.uncancelled_state` rests on decoupling the state from the permutation. On least squares
    (N = 120, B = 6, modes relaxing in 0.3–7 epochs), real reshuffled SGD equals the exactly decoupled process to the
    Monte-Carlo error once the per-sample curvature A_k = x_k x_kᵀ and residual r_k are paired at random, and is
    louder in every direction (by 3–6%) with them paired as the data pairs them: a third-moment correlation
    between the state and which samples remain in the epoch, which no second moment carries."""
    rng = np.random.default_rng(0)
    N, d, B, lr = 120, 6, 6, 0.08
    X = rng.standard_normal((N, d)) * np.linspace(0.3, 1.5, d)
    y = X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(N)
    A = X[:, :, None] * X[:, None, :]
    r = (X @ np.linalg.lstsq(X, y, rcond=None)[0] - y)[:, None] * X
    _, V = np.linalg.eigh(A.mean(axis=0))
    for pairing, residuals in (("random", r[np.random.default_rng(9).permutation(N)]), ("data", r)):
        real, dec = (np.diag(V.T @ _least_squares_chains(A, residuals, lr, B, 3000, 300, 60, seed, dec) @ V)
                     for seed, dec in ((1, False), (2, True)))
        ratio = real / dec
        if pairing == "random":
            assert np.all(np.abs(ratio - 1) < 0.02), ratio  # measured within 0.7%
        else:
            assert np.all(ratio > 1.02), ratio  # measured 1.03–1.06
