"""The fitted linear SDE recovers F and D of simulated paths within their sampling error."""

import numpy as np
import pytest

from sgdpotential import DecompositionError, decompose, simulate_ou
from sgdpotential.theory import area_rate
from sgdpotential.theory.fit import fit_linear_sde

# a non-symmetric stable force (rotation: Q ≠ 0) and a correlated diffusion
F = np.array([[1.0, 0.4, 0.0], [-0.3, 0.5, 0.1], [0.0, 0.2, 0.2]])
D = np.array([[1.0, 0.3, 0.0], [0.3, 0.8, 0.1], [0.0, 0.1, 0.5]])
EPS = 0.05
REPS = 12  # independent paths: their spread is the sampling error the check is measured against


def _check_within_sampling_error(estimates, truth):
    """Mean of the estimates within 4.5 standard errors of the truth, entry by entry (18 entries, t with 11
    degrees of freedom: P(|t| > 4.5) ≈ 1e-3 each), and one path's error small in absolute terms."""
    est = np.asarray(estimates)
    se = est.std(axis=0, ddof=1) / np.sqrt(len(est))
    z = np.abs(est.mean(axis=0) - truth) / se
    assert z.max() < 4.5, z
    assert np.abs(est[0] - truth).max() < 0.1 * np.abs(truth).max()


@pytest.mark.parametrize("dt", [0.5, 2.0])
def test_continuous_model_recovers_f_and_d(dt):
    fits = [fit_linear_sde(simulate_ou(F, D, EPS, dt, 20_000, seed=s), dt=dt, eps=EPS, model="continuous")
            for s in range(REPS)]
    _check_within_sampling_error([f.F for f in fits], F)
    _check_within_sampling_error([f.D for f in fits], D)


def _sgd_recursion(force, seed, steps=40_000):
    """x ← (I − force)x + η, ⟨ηηᵀ⟩ = 2εD: SGD's linear recursion, one unit of time per step."""
    rng = np.random.default_rng(seed)
    A = np.eye(3) - force
    noise = rng.standard_normal((steps, 3)) @ np.linalg.cholesky(2 * EPS * D).T
    x = np.zeros((steps + 1, 3))
    for t in range(steps):
        x[t + 1] = A @ x[t] + noise[t]
    return x


@pytest.mark.parametrize("dt", [1, 3])
def test_discrete_model_recovers_the_sgd_recursion(dt):
    force = 0.1 * F
    fits = [fit_linear_sde(_sgd_recursion(force, s)[::dt], dt=dt, eps=EPS) for s in range(REPS)]
    _check_within_sampling_error([f.F for f in fits], force)
    _check_within_sampling_error([f.D for f in fits], D)


def test_discrete_dt1_is_the_regression_itself_and_standard_errors_are_honest():
    x = _sgd_recursion(0.1 * F, 0)
    fit = fit_linear_sde(x, eps=EPS)
    np.testing.assert_allclose(fit.F, np.eye(3) - fit.Phi, atol=1e-15)
    np.testing.assert_allclose(fit.D, fit.noise_cov / (2 * EPS), atol=1e-15)
    z = (fit.Phi - (np.eye(3) - 0.1 * F)) / fit.Phi_se
    assert np.abs(z).max() < 4.5
    np.testing.assert_allclose(fit.mean, 0, atol=5 * np.abs(fit.Phi_se).max() * 10)


def test_area_rate_matches_eps_q_of_the_fitted_model():
    # the area rate of a sampled path tends to εQ only as dt → 0 (it is (ΣΦᵀ − ΦΣ)/2dt): sample densely
    x = simulate_ou(F, D, EPS, 0.02, 200_000, seed=1)
    fit = fit_linear_sde(x, dt=0.02, eps=EPS, model="continuous")
    q_true, q_fit = EPS * decompose(F, D, EPS).Q, EPS * decompose(fit.F, fit.D, EPS).Q
    measured = area_rate(x, dt=0.02)
    scale = np.abs(q_true).max()
    assert np.abs(measured - q_true).max() < 0.1 * scale
    assert np.abs(q_fit - q_true).max() < 0.1 * scale


def test_bad_input():
    x = simulate_ou(F, D, EPS, 1.0, 100, seed=0)
    with pytest.raises(DecompositionError, match="model = 'euler'"):
        fit_linear_sde(x, model="euler")
    with pytest.raises(DecompositionError, match="at least 6 points"):
        fit_linear_sde(x[:5])
    with pytest.raises(DecompositionError, match="whole number of steps"):
        fit_linear_sde(x, dt=1.5)
    with pytest.raises(DecompositionError, match="non-finite"):
        fit_linear_sde(np.where(np.arange(3) == 1, np.nan, x))
    with pytest.raises(DecompositionError, match="collinear"):
        fit_linear_sde(np.column_stack([x, x[:, 0]]))
    flip = np.empty((200, 1))
    flip[::2], flip[1::2] = 1.0, -1.0
    flip += 1e-3 * np.random.default_rng(0).standard_normal(flip.shape)
    with pytest.raises(DecompositionError, match=r"eigenvalue .* ≤ 0"):
        fit_linear_sde(flip, model="continuous")
