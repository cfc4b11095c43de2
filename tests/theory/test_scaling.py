"""fit_power_law: exact recovery, interval coverage on noisy data, messages."""

import numpy as np
import pytest

from sgdpotential import fit_power_law


def test_exact_power_law():
    x = np.logspace(0, 2, 20)
    fit = fit_power_law(x, 2.5 * x**-4.0)
    assert fit.exponent == pytest.approx(-4.0, abs=1e-12)
    assert fit.prefactor == pytest.approx(2.5, rel=1e-12)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.ci == pytest.approx((-4.0, -4.0), abs=1e-12)
    assert fit.n == 20


def test_interval_covers_the_true_exponent_at_its_level():
    """Over 200 noisy data sets, the 90% interval should contain the truth ~90% of the time."""
    rng = np.random.default_rng(0)
    x = np.logspace(0, 1, 40)
    hits = 0
    for s in range(200):
        y = x**2.0 * np.exp(0.3 * rng.standard_normal(x.size))
        lo, hi = fit_power_law(x, y, n_boot=400, confidence=0.9, seed=s).ci
        hits += lo <= 2.0 <= hi
    assert 0.8 <= hits / 200 <= 0.97


def test_reproducible_and_no_bootstrap():
    x = np.arange(1.0, 10.0)
    y = x**1.5 * np.exp(np.sin(x))
    assert fit_power_law(x, y, seed=3).ci == fit_power_law(x, y, seed=3).ci
    assert np.isnan(fit_power_law(x, y, n_boot=0).ci).all()


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "message"),
    [
        ([1.0, 2.0, -3.0], [1.0, 2.0, 3.0], {}, r"x\[2\] = -3.0: a log–log fit needs finite positive values"),
        ([1.0, 2.0, 3.0], [1.0, np.nan, 3.0], {}, r"y\[1\] = nan"),
        ([1.0, 2.0], [1.0, 2.0], {}, r"needs at least 3 points, got 2"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], {}, r"x has 3 values but y has 2"),
        ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], {}, r"all x are equal"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], {"confidence": 95}, r"confidence = 95 must lie strictly between 0 and 1"),
    ],
)
def test_messages(x, y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_power_law(x, y, **kwargs)
