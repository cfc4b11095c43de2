"""Entropy production, probability current, rotation planes and the area-rate estimator."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from matrices import general_force, rng_of, seeds, spd, symmetric_force
from sgdpotential import (
    DecompositionError,
    area_rate,
    decompose,
    entropy_production,
    entropy_production_of,
    probability_current,
    rotation_planes,
    simulate_ou,
)
from sgdpotential.theory import ou_transition

J2 = np.array([[0.0, 1.0], [-1.0, 0.0]])


@given(n=st.integers(1, 16), seed=seeds, eps=st.floats(1e-3, 10))
def test_entropy_production_formulas_agree_and_are_nonnegative(n, seed, eps):
    rng = rng_of(seed)
    F, D = general_force(rng, n), spd(rng, n)
    force = entropy_production(F, D, eps)
    potential = entropy_production(F, D, eps, formula="potential")
    scale = np.trace(F) + 1.0
    assert force >= -1e-10 * scale
    assert potential >= -1e-12 * scale
    assert force == pytest.approx(potential, rel=1e-8, abs=1e-10 * scale)


def test_entropy_production_closed_form_and_detailed_balance():
    """F = kI + wJ, D = I: Q = (w/k)J, U = kI, so e_p = tr(QᵀQU) = 2w²/k; symmetric F, D = I: 0."""
    k, w = 1.5, 0.8
    assert entropy_production(k * np.eye(2) + w * J2, np.eye(2), 0.3) == pytest.approx(2 * w**2 / k, rel=1e-13)
    rng = rng_of(1)
    assert abs(entropy_production(symmetric_force(rng, 10), np.eye(10), 0.5)) < 1e-12
    V, D = spd(rng, 6), spd(rng, 6)
    assert abs(entropy_production(D @ V, D, 0.5)) < 1e-11  # F = DV: detailed balance with anisotropic noise


def test_entropy_production_bad_input():
    with pytest.raises(DecompositionError, match=r"F has eigenvalue -2 with Re λ ≤ 0 \(1 of 2\), so there is no "
                       r"stationary state"):
        entropy_production(np.diag([1.0, -2.0]), np.eye(2))
    with pytest.raises(DecompositionError, match=r"entropy production needs a positive-definite D, but its smallest "
                       r"eigenvalue is 0"):
        entropy_production([[1.0, 1.0], [-1.0, 1.0]], np.diag([1.0, 0.0]))
    with pytest.raises(DecompositionError, match=r"formula = 'heat' is not one of 'force', 'potential'"):
        entropy_production(np.eye(2), np.eye(2), formula="heat")


def test_probability_current_is_the_fokker_planck_flux():
    """J = −Fxρ − εD∇ρ with ρ the Gaussian of the oracle covariance; divergence-free; tangent to u = const."""
    rng = rng_of(4)
    n, eps = 3, 0.3
    F, D = general_force(rng, n), spd(rng, n)
    dec = decompose(F, D, eps)
    rho = multivariate_normal(mean=np.zeros(n), cov=dec.covariance)
    x = rng.standard_normal((20, n)) * 0.5
    grad_rho = -(x @ np.linalg.inv(dec.covariance)) * rho.pdf(x)[:, None]
    flux = -(x @ F.T) * rho.pdf(x)[:, None] - eps * grad_rho @ D
    J = probability_current(dec, x)
    np.testing.assert_allclose(J, flux, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.sum(J * (x @ dec.U), axis=1), 0, atol=1e-13)
    # divergence by central differences (J is smooth; h² truncation ~1e-8)
    h = 1e-4
    div = sum(
        (probability_current(dec, x + h * e)[:, i] - probability_current(dec, x - h * e)[:, i]) / (2 * h)
        for i, e in enumerate(np.eye(n))
    )
    assert np.max(np.abs(div)) < 1e-6 * np.max(np.abs(J))
    assert probability_current(dec, x[0]).shape == (n,)


def test_probability_current_bad_input():
    dec = decompose(np.diag([1.0, -2.0]), np.eye(2))
    with pytest.raises(DecompositionError, match=r"the Boltzmann density is not normalisable"):
        probability_current(dec, [0.0, 0.0])
    with pytest.raises(DecompositionError, match=r"x has shape \(3,\); pass points of shape \(2,\) or \(m, 2\)"):
        probability_current(decompose(np.eye(2), np.eye(2)), [0.0, 0.0, 0.0])


@given(n=st.integers(2, 14), seed=seeds, symmetric=st.booleans())
def test_rotation_planes_block_structure(n, seed, symmetric):
    """After whitening, S and A split into the same 2×2 blocks: S_w = s_k·1, A_w = a_k·rotation (paper,
    Discussion); S_w and A_w commute; S_w = LᵀSL is (I − Q_w²)⁻¹."""
    rng = rng_of(seed)
    F = symmetric_force(rng, n) if symmetric else general_force(rng, n)
    D = spd(rng, n)
    dec = decompose(F, D, 0.7)
    planes = rotation_planes(dec)
    L = planes.whitening
    np.testing.assert_allclose(L @ L.T, D, atol=1e-12)
    Sw, Aw = L.T @ dec.S @ L, L.T @ dec.A @ L
    Qw = np.linalg.solve(L, np.linalg.solve(L, dec.Q.T).T)
    np.testing.assert_allclose(Sw, np.linalg.inv(np.eye(n) - Qw @ Qw), atol=1e-10)
    np.testing.assert_allclose(Aw @ Sw, Sw @ Aw, atol=1e-10)
    K = planes.q.size
    assert 2 * K + planes.fixed_whitened.shape[1] == n
    assert np.all(np.diff(planes.q) <= 0) and np.all(planes.q >= 0)
    Qrec = np.zeros((n, n))
    rot = np.array([[0.0, -1.0], [1.0, 0.0]])
    for k in range(K):
        E = planes.planes_whitened[k]
        np.testing.assert_allclose(E.T @ E, np.eye(2), atol=1e-12)
        np.testing.assert_allclose(E.T @ Sw @ E, planes.s[k] * np.eye(2), atol=1e-10)
        np.testing.assert_allclose(E.T @ Aw @ E, planes.a[k] * rot, atol=1e-10)
        np.testing.assert_allclose(Sw @ E, E * planes.s[k], atol=1e-10)  # invariant plane
        e, f = E.T
        Qrec += planes.q[k] * (np.outer(e, f) - np.outer(f, e))
        np.testing.assert_allclose(planes.planes[k], L @ E, atol=1e-14)
    np.testing.assert_allclose(Qrec, Qw, atol=1e-10)
    if planes.fixed_whitened.size:
        np.testing.assert_allclose(Qw @ planes.fixed_whitened, 0, atol=1e-10)
    np.testing.assert_allclose(planes.area_rates, 0.7 * planes.q)
    if symmetric:  # symmetric F, generic D: circulation still present unless D commutes with F
        assert K == n // 2


def test_rotation_planes_do_not_depend_on_the_whitening():
    """With the symmetric square root of D instead of Cholesky, Q_w changes but the x-space planes do not."""
    rng = rng_of(8)
    n = 6
    dec = decompose(general_force(rng, n), spd(rng, n), 0.5)
    planes = rotation_planes(dec)
    w, V = np.linalg.eigh(dec.D)
    Rh = (V * np.sqrt(w)) @ V.T
    Qw = np.linalg.solve(Rh, np.linalg.solve(Rh, dec.Q.T).T)
    q_sym = np.sort(np.abs(np.linalg.eigvals(Qw).imag))[::-1][::2]
    np.testing.assert_allclose(q_sym, planes.q, rtol=1e-10)
    for k in range(planes.q.size):  # plane k in x-space is Qw-invariant after mapping back
        Ey = np.linalg.solve(Rh, planes.planes[k])
        P = Ey @ np.linalg.pinv(Ey)
        np.testing.assert_allclose(P @ Qw @ Ey, Qw @ Ey, atol=1e-10)


def test_rotation_planes_closed_form_and_bad_input():
    planes = rotation_planes(decompose(1.5 * np.eye(2) + 0.8 * J2, np.eye(2), 0.3))
    np.testing.assert_allclose(planes.q, [0.8 / 1.5])
    np.testing.assert_allclose(planes.s, [1 / (1 + (0.8 / 1.5) ** 2)])
    with pytest.raises(DecompositionError, match=r"rotation_planes \(whitening the noise\) needs a positive-definite"):
        rotation_planes(decompose([[1.0, 1.0], [-1.0, 1.0]], np.diag([1.0, 0.0])))


def test_area_rate_estimates_eps_Q():
    """The stationary area rate of a simulated path converges to εQ; the discrete-sampling expectation
    (ΣΦᵀ − ΦΣ)/(2dt) is checked to its O(dt) difference from εQ as well."""
    rng = rng_of(9)
    n, eps, dt = 3, 0.5, 0.05
    F, D = general_force(rng, n), spd(rng, n)
    dec = decompose(F, D, eps)
    Phi, _ = ou_transition(F, D, eps, dt)
    sigma = dec.covariance
    expected = (sigma @ Phi.T - Phi @ sigma) / (2 * dt)
    assert np.linalg.norm(expected - eps * dec.Q) < 0.1 * np.linalg.norm(eps * dec.Q)
    est = np.mean([area_rate(simulate_ou(F, D, eps, dt, 20_000, seed=s), dt) for s in range(8)], axis=0)
    np.testing.assert_allclose(est, -est.T)
    assert np.linalg.norm(est - expected) < 0.1 * np.linalg.norm(expected)


def test_area_rate_bad_input():
    with pytest.raises(DecompositionError, match=r"x has shape \(1, 2\); pass a path of shape \(m ≥ 2, n\)"):
        area_rate(np.zeros((1, 2)), 0.1)


def test_entropy_production_of_reuses_a_decomposition():
    dec = decompose(1.5 * np.eye(2) + 0.8 * J2, np.eye(2), 0.3)
    assert entropy_production_of(dec) == pytest.approx(2 * 0.8**2 / 1.5)
