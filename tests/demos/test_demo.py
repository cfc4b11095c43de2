"""The built-in demo reproduces the paper's argument exactly on its own assumptions."""

import numpy as np
import pytest

from sgdpotential.demos.demo import flatness_of_quadratic, scaling_demo


def test_flatness_of_quadratic():
    h, L0 = 3.0, 0.2
    F = flatness_of_quadratic(h, L0)
    assert L0 + 0.5 * h * (F / 2) ** 2 == pytest.approx(np.e * L0, rel=1e-14)


def test_commuting_noise_gives_exact_exponents():
    res = scaling_demo(20, coupling=0.0)
    assert res.loss_fit.exponent == pytest.approx(-4.0, abs=1e-9)  # σ² ∝ F^−4 (paper Eq. 2)
    assert res.potential_fit.exponent == pytest.approx(2.0, abs=1e-9)  # Boltzmann in U
    assert res.q_over_d < 1e-12 and abs(res.entropy_production) < 1e-10


def test_coupled_noise_breaks_detailed_balance_but_not_boltzmann_in_U():
    res = scaling_demo(30, coupling=0.5, seed=1)
    assert res.potential_fit.exponent == pytest.approx(2.0, abs=1e-9)
    assert res.potential_fit.r2 == pytest.approx(1.0, abs=1e-12)
    # an exact NumPy computation: circulation, entropy production, the top rotation and the loss-flatness slope
    assert (res.q_over_d, res.entropy_production, res.top_rotation, res.loss_fit.exponent) == pytest.approx(
        (0.05896566009, 0.2521484899, 1.270487951, -4.165101650), rel=1e-7)
    assert 3.0 < -res.loss_fit.exponent < 5.0
    assert res.decomposition.max_residual() < 1e-9
    assert np.all(res.discrete_over_continuous >= 1.0)  # the discrete law exceeds the continuous one


def test_demo_input_messages():
    with pytest.raises(ValueError, match=r"n = 2 must be an integer ≥ 3"):
        scaling_demo(2)
    with pytest.raises(ValueError, match=r"coupling = -1 must be a finite number ≥ 0"):
        scaling_demo(5, coupling=-1)
