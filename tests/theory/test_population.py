"""The population ψ of the linear model of SGD against closed forms."""

import math

import numpy as np
import pytest

from sgdpotential import DecompositionError
from sgdpotential.theory import population_psi


def _window_variance(a, c, lr, B, T, s):
    """A scalar mode's expected 1/T sample variance of T stationary snapshots s steps apart: x' = (1 − a)x + η,
    Var η = α²c/B, stationary Var σ² = α²c/(B(1 − (1 − a)²)), ρ = (1 − a)^s, and E var = σ²[1 − Var(x̄)/σ²] with
    T²Var(x̄)/σ² = T + 2 Σ_{l=1}^{T−1} (T − l) ρ^l = T(1 + ρ)/(1 − ρ) − 2ρ(1 − ρ^T)/(1 − ρ)²."""
    sigma2 = lr**2 * c / (B * (1 - (1 - a) ** 2))
    rho = (1 - a) ** s
    mean_var = (T * (1 + rho) / (1 - rho) - 2 * rho * (1 - rho**T) / (1 - rho) ** 2) / T**2
    return sigma2 * (1 - mean_var)


@pytest.mark.parametrize("n_exp", [1.5, 2.0, 3.0])
def test_stationary_population_psi_of_the_founding_papers_law_is_2n_minus_2(n_exp):
    """Diagonal H and C with C ∝ H^n(2 − αH): the exact discrete law σ² = αC/(BH(2 − αH)) ∝ H^(n−1) and
    F ∝ H^(−1/2), so ψ = 2n − 2 at every K."""
    lr, B = 0.3, 8
    h = np.geomspace(1e-3, 5.0, 40)
    c = h**n_exp * (2 - lr * h)
    for k in (3, 17, 40):
        got = population_psi(np.diag(h), np.diag(c), 0.7, k, lr=lr, batch_size=B)
        assert got.psi == pytest.approx(2 * n_exp - 2, abs=1e-10)
        assert got.law == "stationary" and got.relaxation is None


@pytest.mark.parametrize("stride", [1, 7])
def test_window_population_psi_of_a_diagonal_case_equals_its_closed_form(stride):
    """The window law along the axes is the scalar AR(1) window variance; the population directions are the axes
    with the K largest of them, and ψ is the least-squares slope over those."""
    lr, B, T, loss0, k = 0.1, 4, 60, 0.3, 12
    h = np.geomspace(1e-3, 3.0, 30)
    c = h**3
    var = _window_variance(lr * h, c, lr, B, T, stride)
    top = np.argsort(var)[::-1][:k]
    flat = 2 * np.sqrt(2 * (math.e - 1) * loss0 / h[top])
    slope = np.polyfit(np.log(flat), np.log(var[top]), 1)[0]
    got = population_psi(np.diag(h), np.diag(c), loss0, k, lr=lr, batch_size=B, snapshots=T, stride=stride)
    assert got.psi == pytest.approx(-slope, rel=1e-9)
    np.testing.assert_allclose(got.variances, var[top], rtol=1e-9)
    np.testing.assert_allclose(got.curvatures, h[top], rtol=1e-9)
    np.testing.assert_allclose(got.relaxation, lr * h[top] * T * stride, rtol=1e-9)
    # a finite window suppresses the slow directions: ψ differs from the stationary law's 4
    assert abs(got.psi - 4) > 0.1


def test_population_psi_does_not_depend_on_the_basis():
    rng = np.random.default_rng(0)
    n = 25
    h = np.geomspace(1e-2, 2.0, n)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = rng.standard_normal((n, n))
    C = A @ A.T / n + np.eye(n)
    kw = dict(lr=0.2, batch_size=3, snapshots=40, stride=3)
    plain = population_psi(np.diag(h), C, 1.0, 10, **kw)
    rotated = population_psi(Q @ np.diag(h) @ Q.T, Q @ C @ Q.T, 1.0, 10, **kw)
    assert rotated.psi == pytest.approx(plain.psi, rel=1e-8)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"k": 11}, "k = 11 exceeds the 10 dimensions"),
    ({"k": 2}, "k = 2"),
    ({"loss0": 0.0}, "loss0 = 0.0"),
])
def test_population_psi_bad_input(kwargs, message):
    args = {"k": 5, "loss0": 1.0, **kwargs}
    with pytest.raises(DecompositionError, match=message):
        population_psi(np.diag(np.linspace(0.1, 1, 10)), np.eye(10), args["loss0"], args["k"], lr=0.1, batch_size=1)


def test_the_leading_directions_are_nested():
    h = np.geomspace(1e-2, 1.0, 30)
    kw = dict(lr=0.5, batch_size=2, snapshots=80, stride=2)
    full = population_psi(np.diag(h), np.diag(h**2.5), 1.0, 30, **kw)
    for k in (3, 11, 30):
        assert full.first(k).psi == pytest.approx(population_psi(np.diag(h), np.diag(h**2.5), 1.0, k, **kw).psi,
                                                  rel=1e-12)
    with pytest.raises(DecompositionError, match="k = 31 exceeds the 30 directions computed"):
        full.first(31)


def test_flat_directions_without_noise_are_dropped_and_with_noise_refused():
    """A weight that no sample moves (h = 0 and C = 0 along it, like a pixel that is 0 in every image) carries no
    fluctuation: the population ψ is that of the other directions. A flat direction with noise has no stationary
    law: refused."""
    h = np.geomspace(1e-2, 1.0, 12)
    kw = dict(lr=0.3, batch_size=2, snapshots=50, stride=2)
    base = population_psi(np.diag(h), np.diag(h**3), 1.0, 12, **kw)
    padded = population_psi(np.diag(np.r_[h, 0.0, 0.0]), np.diag(np.r_[h**3, 0.0, 0.0]), 1.0, 14, **kw)
    assert padded.k == 12 and padded.psi == pytest.approx(base.psi, rel=1e-10)
    assert np.abs(padded.directions[:, 12:]).max() < 1e-12  # the directions live in the weights' space
    with pytest.raises(DecompositionError, match="no stationary law"):
        population_psi(np.diag(np.r_[h, 0.0]), np.diag(np.r_[h**3, 1e-3]), 1.0, 13, **kw)
