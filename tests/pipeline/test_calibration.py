"""The calibration study of the ψ estimators: its machinery against cases whose answer is known."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from sgdpotential.cli import app
from sgdpotential.pipeline.calibration import (
    ESTIMATORS,
    LinearCase,
    coverage,
    estimates,
    network_case,
    paper_law_case,
    study,
    summarize,
)
from sgdpotential.theory import LinearSGD, flatness_of_quadratic

# ------------------------------------------------------------------------------------------------ coverage


def test_coverage_counts_the_intervals_that_contain_the_truth():
    lo = np.r_[np.full(90, -1.0), np.full(10, 0.5)]
    got = coverage(0.0, lo, lo + 2)
    assert got["share"] == 0.9 and got["n"] == 100
    assert got["ci95"][0] < 0.9 < got["ci95"][1]
    assert coverage(np.arange(3.0), [0, 0, 0], [1, 1, 1])["share"] == pytest.approx(2 / 3)  # one truth per interval
    assert coverage(0.0, [np.nan, -1], [1, 1])["share"] == 0.5  # a missing end does not cover


@pytest.mark.parametrize("z", [0.6744897501960817, 1.959963984540054])
def test_coverage_of_a_synthetic_estimator_with_known_coverage(z):
    """Estimates N(θ, 1) with intervals ± z have coverage 2Φ(z) − 1 (50% and 95% here); the Wilson interval of
    20,000 draws must contain it, and a biased estimator (shifted by 1) must lose coverage as Φ says."""
    rng = np.random.default_rng(3)
    theta, est = 2.5, 2.5 + rng.standard_normal(20_000)
    expected = math.erf(z / math.sqrt(2))
    got = coverage(theta, est - z, est + z)
    assert got["ci95"][0] <= expected <= got["ci95"][1]
    shifted = coverage(theta, est + 1 - z, est + 1 + z)
    phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    assert shifted["ci95"][0] <= phi(z - 1) - phi(-z - 1) <= shifted["ci95"][1]


def test_summarize_reports_bias_spread_and_widened_coverage():
    est = [1.0, 2.0, 3.0]
    got = summarize(est, [[0.5, 1.5], [1.5, 2.5], [2.9, 3.1]], truth=1.2)
    assert got["bias"] == pytest.approx(0.8) and got["sd"] == pytest.approx(1.0)
    assert got["coverage"]["share"] == pytest.approx(1 / 3)
    assert got["coverage_widened"]["3"] == pytest.approx(2 / 3)  # [0, 3] covers, [2.9 − 0.3, …] does not
    failed = summarize([1.0, None, 3.0], [[0.5, 1.5], None, [2.9, 3.1]], truth=1.2)  # a window without a fit
    assert failed["n_failed"] == 1 and failed["bias"] == pytest.approx(0.8)
    assert failed["coverage"]["share"] == pytest.approx(1 / 3) and failed["coverage"]["n"] == 3  # it never covers


# ------------------------------------------------------------------------- a case with a known bias


N, T, STRIDE, BULK_H = 400, 800, 200, 0.3
SPIKES = np.array([64.0, 32.0, 16.0, 8.0, 4.0])
SPIKE_H = 0.05 * np.sqrt(SPIKES)  # F ∝ ℓ^(−1/4): population ψ = 4


def _spiked_case():
    """Five spikes of variance ℓ over an isotropic bulk of variance 1, snapshots far apart (every mode decays by
    (1 − h)^200 < 1e-9 between them: independent snapshots), the bulk at one curvature."""
    h = np.full(N, BULK_H)
    h[: SPIKES.size] = SPIKE_H
    var = np.ones(N)
    var[: SPIKES.size] = SPIKES
    return LinearCase("spiked", "", LinearSGD(1.0, 1), h, np.diag(var * h * (2 - h)), loss0=1e9)


def _spiked_prediction(gamma):
    """The spiked covariance model (Baik, Ben Arous & Péché 2005; Paul 2007), n/T → γ: the sample eigenvalue of a
    spike ℓ (bulk 1) tends to ℓ(1 + γ/(ℓ − 1)) and its eigenvector's squared overlap with the spike to
    ρ² = (1 − γ/(ℓ − 1)²)/(1 + γ/(ℓ − 1)); the rest lies in the bulk. Returns (sample eigenvalue, variance of an
    independent sample along the sample eigenvector, flatness along it)."""
    lam = SPIKES * (1 + gamma / (SPIKES - 1))
    overlap = (1 - gamma / (SPIKES - 1) ** 2) / (1 + gamma / (SPIKES - 1))
    curvature = overlap * SPIKE_H + (1 - overlap) * BULK_H
    return lam, overlap * SPIKES + (1 - overlap), flatness_of_quadratic(curvature, 1e9)


def test_the_simulated_estimators_reproduce_the_known_bias_of_the_spiked_model():
    """Each estimator's mean over 40 simulated windows equals the random-matrix prediction (within 4 standard
    errors), and that prediction is far from the population ψ = 4: the simulation reproduces a known bias."""
    case = _spiked_case()
    assert case.population(5, T, STRIDE).psi == pytest.approx(4.0, abs=1e-6)
    lam, _, flat = _spiked_prediction(N / T)
    _, var_h, flat_h = _spiked_prediction(N / (T // 2))
    _, var_i, flat_i = _spiked_prediction(N / T)
    slope = lambda f, v: -np.polyfit(np.log(f), np.log(v), 1)[0]  # noqa: E731
    predicted = {"own": slope(flat, lam), "heldout": slope(flat_h, var_h), "independent": slope(flat_i, var_i)}
    sims = case.windows(T, STRIDE, np.random.default_rng(0))
    got = {name: [] for name in ESTIMATORS}
    first = next(sims)
    for _ in range(40):
        second = next(sims)
        for name, by_k in estimates(case, first, second, [5]).items():
            got[name].append(by_k[5]["psi"])
        first = second
    for name, psi in got.items():
        mean, se = np.mean(psi), np.std(psi, ddof=1) / np.sqrt(len(psi))
        assert abs(mean - predicted[name]) < 4 * se, (name, mean, predicted[name], se)
        assert predicted[name] - 4.0 > 10 * se  # the known bias is resolved, not noise


# ------------------------------------------------------------------------------------------- the study


def test_the_study_reports_every_estimator_against_the_population():
    """A window far longer than every relaxation time has the stationary law's population ψ (4 for the founding
    paper's law at n = 3), a short one does not; every window of every cell is counted."""
    case = paper_law_case(n=60, curvature_range=(1e-4, 1e-2))
    got = study([case], windows=12, ks=(10, 20), relaxation=(10, 10_000), snapshots=200)
    short, long = got["cases"][0]["cells"]
    for row in long["rows"]:
        assert row["population"] == pytest.approx(4.0, abs=1e-3) and row["stationary"] == pytest.approx(4.0, abs=1e-9)
    assert all(abs(row["population"] - 4.0) > 0.05 for row in short["rows"])
    for cell in (short, long):
        for row in cell["rows"]:
            for name in ESTIMATORS:
                e = row["estimators"][name]
                assert e["n_windows"] + e["n_failed"] == 12 and e["coverage"]["n"] == 12
    json.dumps(got)  # JSON-ready


def test_calibrate_refuses_an_unknown_case(tmp_path):
    result = CliRunner().invoke(app, ["calibrate", "--case", "mnist", "--out", str(tmp_path / "c.json")])
    assert result.exit_code == 2
    assert "--case 'mnist' is not one of paper-law, digits" in result.output
    assert not (tmp_path / "c.json").exists()


@pytest.mark.e2e
def test_calibrate_writes_the_study_and_prints_the_rules_choice(tmp_path):
    out = tmp_path / "c.json"
    result = CliRunner().invoke(app, ["calibrate", "--case", "paper-law", "--windows", "10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    got = json.loads(out.read_text())
    assert [c["name"] for c in got["cases"]] == ["paper-law"] and got["windows"] == 10
    assert [cell["relaxation"] for cell in got["cases"][0]["cells"]] == [1, 10, 100]
    assert "(headline)" in result.output and "calibration:" in result.output


def test_the_network_case_is_the_linear_model_of_the_runs_probes(quick_run):
    """H and C of every recorded weight at the window mean: along the run's own principal directions they give back
    the probes' H_P and C_P (up to the dropped near-flat directions); only positive curvature is kept."""
    out, _ = quick_run
    case = network_case(out)
    pca, pr = np.load(out / "pca.npz"), np.load(out / "probes.npz")
    assert case.extra["recorded"] == pca["components"].shape[1] == case.basis.shape[0]
    assert case.h.size + case.extra["dropped"] == case.extra["recorded"] and np.all(case.h > 0)
    assert case.loss0 == pytest.approx(float(pr["loss0"]), rel=1e-6)
    P = pca["components"].astype(np.float64) @ case.basis  # the principal directions in the case's basis
    H_P, C_P = (P * case.h) @ P.T, P @ case.C @ P.T
    assert np.linalg.norm(H_P - pr["hessian"]) <= 1e-3 * np.linalg.norm(pr["hessian"])
    assert np.linalg.norm(C_P - pr["noise_cov"]) <= 1e-3 * np.linalg.norm(pr["noise_cov"])
    assert np.isfinite(case.population(min(25, case.h.size)).psi)


def test_calibrate_refuses_a_folder_without_a_recording(tmp_path):
    result = CliRunner().invoke(app, ["calibrate", "--network", str(tmp_path), "--out", str(tmp_path / "c.json")])
    assert result.exit_code == 2 and "is not a recorded run directory (no pca.npz)" in result.output
    assert not (tmp_path / "c.json").exists()
