"""Trajectory PCA: exact methods against NumPy's SVD, the randomized one against them, the random-walk null,
diagnostics, and bad input."""

import numpy as np
import pytest

from sgdpotential import ConfigError, Trajectory, random_walk_null, trajectory_pca


def exact(X):
    Xc = X - X.mean(axis=0)
    _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    return s**2 / X.shape[0], Vt


def spectrum_data(T, N, gamma=2.0, seed=0):
    """Rows with a known power-law spectrum σ_i² ∝ i^−γ along random orthonormal directions."""
    rng = np.random.default_rng(seed)
    k = min(T, N)
    P, _ = np.linalg.qr(rng.standard_normal((N, k)))
    return (rng.standard_normal((T, k)) * np.arange(1, k + 1) ** (-gamma / 2)) @ P.T + 3.0


@pytest.mark.parametrize(("T", "N", "method"), [(40, 300, "gram"), (300, 40, "covariance"), (60, 60, "auto")])
def test_exact_methods_match_svd(T, N, method):
    X = spectrum_data(T, N)
    res = trajectory_pca(X, method=method)
    var, Vt = exact(X)
    K = min(T - 1, N)
    np.testing.assert_allclose(res.variances, var[:K], rtol=1e-9, atol=1e-12 * var[0])
    np.testing.assert_allclose(res.components @ res.components.T, np.eye(K), atol=1e-8)
    top = 10
    np.testing.assert_allclose(np.abs(np.sum(res.components[:top] * Vt[:top], axis=1)), 1.0, atol=1e-8)
    np.testing.assert_allclose(res.projections, (X - X.mean(axis=0)) @ res.components.T, atol=1e-9)
    np.testing.assert_allclose(res.mean, X.mean(axis=0))
    assert res.explained_variance_ratio.sum() == pytest.approx(1.0, rel=1e-9)
    assert np.all(np.diff(res.variances) <= 1e-15)


def test_randomized_matches_exact_top_components(tmp_path):
    X = spectrum_data(500, 800, gamma=2.0).astype(np.float32)
    tr = Trajectory.create(tmp_path / "t.zarr", 800, chunk_rows=64, capacity=500)
    tr.append(X, np.arange(500))
    ref = trajectory_pca(X.astype(np.float64), 20, method="gram")
    res = trajectory_pca(tr, 20, method="randomized")
    assert res.method == "randomized"
    # the project's bar is 1e-4 relative on the top-20 variances; three Krylov blocks reach ~5e-7 here (one: 0.1)
    np.testing.assert_allclose(res.variances, ref.variances, rtol=2e-6)
    assert res.total_variance == pytest.approx(ref.total_variance, rel=1e-6)
    # directions only where the spectrum has a gap (σ²_18 and σ²_17 differ by 0.1%: their p's may mix)
    assert np.all(np.abs(np.sum(res.components[:10] * ref.components[:10], axis=1)) > 1 - 1e-6)
    np.testing.assert_allclose(np.abs(res.projections[:, :10]), np.abs(ref.projections[:, :10]),
                               atol=1e-4 * ref.projections[:, 0].std())


def test_randomized_is_exact_relative_to_the_fluctuations_not_the_weights(tmp_path):
    """Weights O(1), fluctuations O(1e-3): the float32 products run on rows shifted by the first snapshot, so the
    variances (≈1e-6 each) keep float32 precision relative to themselves. Unshifted, float32 rounding of the
    weights (~1e-7) alone would be ~10% of every fluctuation. Also the exact methods' total variance."""
    rng = np.random.default_rng(1)
    X = ((spectrum_data(400, 600) - 3.0) * 1e-3 + rng.uniform(-2, 2, 600)).astype(np.float32)
    X64 = X.astype(np.float64)
    trace = float(((X64 - X64.mean(axis=0)) ** 2).sum() / 400)
    ref = trajectory_pca(X64, 20, method="gram")
    kept = X.copy()
    res = trajectory_pca(X, 20, method="randomized")
    np.testing.assert_array_equal(X, kept)  # the caller's array is not used as scratch
    np.testing.assert_allclose(res.variances, ref.variances, rtol=1e-6)
    np.testing.assert_allclose(res.mean, X64.mean(axis=0), rtol=0, atol=1e-12)
    assert res.total_variance == pytest.approx(trace, rel=1e-10)
    assert ref.total_variance == pytest.approx(trace, rel=1e-10)


def test_randomized_store_and_array_agree(tmp_path):
    X = spectrum_data(300, 500).astype(np.float32)
    tr = Trajectory.create(tmp_path / "t.zarr", 500, chunk_rows=16, capacity=300)
    tr.append(X, np.arange(300))
    a, b = trajectory_pca(X, 10, method="randomized"), trajectory_pca(tr, 10, method="randomized")
    np.testing.assert_allclose(a.variances, b.variances, rtol=1e-6)
    np.testing.assert_allclose(np.abs(np.sum(a.components * b.components, axis=1)), 1.0, atol=1e-6)


def test_store_and_array_agree(tmp_path):
    X = spectrum_data(50, 120).astype(np.float32)
    tr = Trajectory.create(tmp_path / "t.zarr", 120, chunk_rows=7)
    tr.append(X, np.arange(50))
    a, b = trajectory_pca(X, 10), trajectory_pca(tr, 10)
    np.testing.assert_allclose(a.variances, b.variances, rtol=1e-10)
    np.testing.assert_allclose(a.components, b.components, atol=1e-10)


def test_random_walk_null():
    """PCA of a high-dimensional random walk: PC1 ≈ 6/π² of the variance, then ∝ k⁻² (Antognini &
    Sohl-Dickstein 2018). Finite N adds O(1/√N) fluctuations; tolerance 0.02."""
    rng = np.random.default_rng(0)
    X = np.cumsum(rng.standard_normal((300, 20_000)), axis=0)
    res = trajectory_pca(X, 5)
    assert res.explained_variance_ratio[0] == pytest.approx(6 / np.pi**2, abs=0.02)
    np.testing.assert_allclose(res.explained_variance_ratio, res.null_ratio, atol=0.02)
    assert res.drift[0] > 0.7  # a random walk's PC1 looks like a trend: why drift is a diagnostic, not proof


def test_random_walk_null_closed_form():
    T = 40
    s = np.arange(1, T + 1)
    C = np.eye(T) - 1.0 / T
    ev = np.sort(np.linalg.eigvalsh(C @ np.minimum.outer(s, s) @ C))[::-1][: T - 1]
    np.testing.assert_allclose(random_walk_null(T), ev / ev.sum(), rtol=1e-12)
    assert random_walk_null(10**6, 1)[0] == pytest.approx(6 / np.pi**2, rel=1e-5)


def test_diagnostics():
    rng = np.random.default_rng(2)
    T, N = 400, 300
    t = np.arange(T)
    P, _ = np.linalg.qr(rng.standard_normal((N, 30)))
    theta = rng.standard_normal((T, 30)) * np.arange(1, 31) ** -1.25 * 0.1  # γ = 2.5 tail
    theta[:, 0] = 0.01 * t  # a pure drift in the leading direction
    w0 = 5.0 * P[:, 0] + 0.1 * P[:, 5]
    X = w0 + theta @ P.T
    res = trajectory_pca(X, 29, tail_range=(5, 29))
    assert res.drift[0] > 0.999 and np.all(res.drift[1:] < 0.1)
    assert res.mean_alignment == pytest.approx(abs(P[:, 0] @ res.mean) / np.linalg.norm(res.mean), rel=1e-3)
    assert res.tail_exponent == pytest.approx(2.5, abs=0.35)
    assert res.n_components_90 is not None and 1 <= res.n_components_90 <= 28
    assert res.projections[-1, 0] > res.projections[0, 0]  # sign convention: drift runs upwards


@pytest.mark.parametrize(
    ("X", "kwargs", "message"),
    [
        (np.zeros(5), {}, r"snapshots have shape \(5,\); pass a \(T, N\) array or a Trajectory"),
        (np.full((3, 4), np.nan), {}, r"snapshots contain NaN or inf"),
        (np.zeros((1, 4)), {}, r"PCA needs at least 2 snapshots, got 1"),
        (np.zeros((5, 4)), {"n_components": 9},
         r"n_components = 9 must be an integer in \[1, 4\]; at most min\(T − 1, N\) components"),
        (np.zeros((5, 4)), {"method": "svd"}, r"method = 'svd' is not one of 'auto', 'gram', 'covariance'"),
        (np.zeros((5, 4)), {"method": "randomized", "krylov_blocks": 0},
         r"krylov_blocks = 0 must be an integer in \[1, 20\]; 1–20 passes \(3 reach ~1e-8 on the benchmark\)"),
        (np.zeros((5, 4)), {"method": "randomized", "oversample": -1},
         r"oversample = -1 must be an integer in \[0, 10000\]"),
    ],
)
def test_messages(X, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        trajectory_pca(X, **kwargs)


def test_heldout_variances_carry_no_selection_bias(tmp_path):
    """i.i.d. isotropic snapshots: the first half's PCA spreads its variances (selection bias), the second
    half's variances along those directions do not."""
    from sgdpotential.trajectory.pca import heldout_pca

    X = np.random.default_rng(3).standard_normal((400, 60))
    traj = Trajectory.create(tmp_path / "t.zarr", 60, capacity=400, chunk_rows=64)
    traj.append(X, np.arange(400))
    h = heldout_pca(traj, 60)
    assert h.split == h.n_second == 200 and h.components.shape == (60, 60)
    assert h.selection_variances[:5].mean() > 1.4 and h.selection_variances[-5:].mean() < 0.6
    assert 0.75 < h.variances[:5].mean() < 1.25 and 0.75 < h.variances[-5:].mean() < 1.25
    stored = traj.read().astype(np.float64)[200:]  # the store holds float32
    second = stored - stored.mean(0)
    np.testing.assert_allclose(h.variances, (second @ h.components.T).var(0), rtol=1e-9)


def test_yaidas_relation_tells_a_stationary_window_from_a_drift(tmp_path):
    from sgdpotential.claims import claim
    from sgdpotential.trajectory.pca import stationarity
    from sgdpotential.verdicts import equivalence

    rng = np.random.default_rng(0)
    T, N = 4000, 30
    x = np.zeros((T, N))
    for t in range(1, T):  # an AR(1) fluctuation around a fixed point far from the origin
        x[t] = 0.9 * x[t - 1] + 0.1 * rng.standard_normal(N)
    still = Trajectory.create(tmp_path / "s.zarr", N, capacity=T)
    still.append(3.0 + x, np.arange(T))
    s = stationarity(still)
    fdr = claim("stationary")
    assert equivalence((s.fdr_ratio - 1.96 * s.se, s.fdr_ratio + 1.96 * s.se), fdr.prediction, fdr.margin) == \
        "consistent" and abs(s.fdr_ratio - 1) <= 2 * s.se
    drifting = Trajectory.create(tmp_path / "d.zarr", N, capacity=T)
    drifting.append(3.0 + x + np.linspace(0, 0.5, T)[:, None], np.arange(T))  # |w| grows over the window
    d = stationarity(drifting)
    assert equivalence((d.fdr_ratio - 1.96 * d.se, d.fdr_ratio + 1.96 * d.se), fdr.prediction, fdr.margin) == \
        "inconsistent" and d.fdr_ratio < 1 - 2 * d.se


def test_the_pc1_null_follows_the_spectrum_of_the_diffusing_directions():
    """Isotropic diffusion gives PC1 about 6/π² of the variance; one dominant diffusing direction gives it nearly
    all; the range is seeded."""
    from sgdpotential.trajectory.pca import random_walk_pc1_range

    lo, hi = random_walk_pc1_range(np.ones(500), 2000)
    assert lo < 6 / np.pi**2 < hi and hi - lo < 0.25
    lo1, _ = random_walk_pc1_range(np.r_[1.0, 1.0, np.full(300, 1e-6)], 2000)
    assert lo1 > 0.95
    assert random_walk_pc1_range(np.ones(500), 2000, seed=3) == random_walk_pc1_range(np.ones(500), 2000, seed=3)
    with pytest.raises(ConfigError, match="a PC1 null needs T ≥ 3 snapshots"):
        random_walk_pc1_range(np.ones(1), 100)
