"""Exact OU transition and simulation."""

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.integrate import quad_vec

from matrices import general_force, rng_of, spd
from sgdpotential import DecompositionError, decompose, simulate_ou, stationary_covariance
from sgdpotential.theory import ou_transition


def test_transition_against_quadrature():
    rng = rng_of(0)
    F, D, eps, dt = general_force(rng, 3), spd(rng, 3), 0.7, 0.4
    Phi, Q = ou_transition(F, D, eps, dt)
    np.testing.assert_allclose(Phi, sla.expm(-F * dt), atol=1e-13)
    integral, _ = quad_vec(lambda s: sla.expm(-F * s) @ D @ sla.expm(-F.T * s), 0, dt, epsabs=1e-13)
    np.testing.assert_allclose(Q, 2 * eps * integral, atol=1e-11)


def test_transition_preserves_the_stationary_law():
    rng = rng_of(1)
    F, D = general_force(rng, 5), spd(rng, 5)
    sigma = stationary_covariance(F, D, 0.3)
    for dt in (1e-3, 0.5, 20.0):
        Phi, Q = ou_transition(F, D, 0.3, dt)
        np.testing.assert_allclose(Phi @ sigma @ Phi.T + Q, sigma, atol=1e-12)


def test_simulation_reproduces_the_stationary_covariance():
    """Exact in distribution at any dt: a coarse dt = 2 (where Euler–Maruyama would be badly biased)."""
    rng = rng_of(2)
    F, D, eps = general_force(rng, 3), spd(rng, 3), 0.5
    sigma = decompose(F, D, eps).covariance
    runs = np.array([np.cov(simulate_ou(F, D, eps, 2.0, 4000, seed=s).T, bias=True) for s in range(30)])
    est, se = runs.mean(axis=0), runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    assert np.all(np.abs(est - sigma) <= 5 * se + 1e-12)


def test_simulation_options():
    x = simulate_ou(np.diag([1.0, -1.0]), np.eye(2), 0.1, 0.01, 10, seed=0)
    np.testing.assert_array_equal(x[0], 0.0)  # a saddle has no stationary law: starts at the origin
    y = simulate_ou(np.eye(2), np.eye(2), 0.1, 0.01, 5, x0=[1.0, 2.0], seed=3)
    np.testing.assert_array_equal(y[0], [1.0, 2.0])
    np.testing.assert_array_equal(y, simulate_ou(np.eye(2), np.eye(2), 0.1, 0.01, 5, x0=[1.0, 2.0], seed=3))
    with pytest.raises(DecompositionError, match=r"x0 has shape \(3,\) or non-finite entries; pass a finite \(2,\)"):
        simulate_ou(np.eye(2), np.eye(2), 0.1, 0.01, 5, x0=[1.0, 2.0, 3.0])
    with pytest.raises(DecompositionError, match=r"dt = 0 must be a finite number > 0; the time step"):
        simulate_ou(np.eye(2), np.eye(2), 0.1, 0, 5)
    with pytest.raises(DecompositionError, match=r"n_steps = 0 must be an integer ≥ 1"):
        simulate_ou(np.eye(2), np.eye(2), 0.1, 0.1, 0)
