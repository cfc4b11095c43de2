"""The Eq. (20) toy model: SGD reproduces the exact discrete law, Eq. (24), and the paper's ψ = 4 mechanism."""

import numpy as np
import pytest
from typer.testing import CliRunner

from sgdpotential import ConfigError
from sgdpotential.cli import app
from sgdpotential.demos.toy import toy_model
from sgdpotential.theory.scaling import fit_power_law


def test_paper_scaling_gives_psi_4_and_the_exact_law_holds():
    r = toy_model(theta_exponent=-1.0, seed=1)
    assert np.all(np.abs(r.variance - r.exact) <= 5 * r.variance_se)  # additive noise: the discrete law is exact
    np.testing.assert_allclose(r.noise / r.eq24, 1.0, atol=0.05)  # Eq. (24); 20,000 draws: ~1% per entry
    assert r.noise_vs_flatness.exponent == pytest.approx(-6.0, abs=0.05)  # D ∝ M²σ_θ² ∝ F^−6
    exact_psi = -fit_power_law(r.flatness, r.exact).exponent  # ≈ 4 (+ the discrete-time correction)
    lo, hi = -r.psi.ci[1], -r.psi.ci[0]
    assert lo - 0.05 <= exact_psi <= hi + 0.05 and 3.9 < exact_psi < 4.3


def test_feng_tu_theta_spread_gives_no_ivf_in_the_linear_model():
    r = toy_model(theta_exponent=1.0)
    assert abs(r.psi.exponent) < 0.4  # σ_θ ∝ F: D ∝ F^−2 cancels the curvature, σ² flat in F


def test_multiplicative_noise_departs_from_the_additive_law():
    r = toy_model(sigma_m=0.5, seed=2)
    assert np.max(np.abs(r.variance - r.exact) / r.variance_se) > 5


def test_messages_and_cli():
    with pytest.raises(ConfigError, match=r"leaves a burn-in of 50 steps, shorter than 5× the slowest relaxation"):
        toy_model(steps=100)
    with pytest.raises(ConfigError, match=r"flatness_range = \(5, 1\) must satisfy 0 < low < high"):
        toy_model(flatness_range=(5, 1))
    result = CliRunner().invoke(app, ["toy", "--chains", "50"])
    assert result.exit_code == 0 and "ψ =" in result.stdout and "Eq. (24)" in result.stdout
    bad = CliRunner().invoke(app, ["toy", "--steps", "100"])
    assert bad.exit_code == 2 and "burn-in" in bad.stderr


def test_toy_report(tmp_path):
    result = CliRunner().invoke(app, ["toy", "--chains", "50", "--out", str(tmp_path / "toy")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "toy" / "report.html").read_text()
    assert "data:image/png;base64," in page and "Eq. (24) holds" in page
    import json

    assert json.loads((tmp_path / "toy" / "toy.json").read_text())["settings"]["chains"] == 50
