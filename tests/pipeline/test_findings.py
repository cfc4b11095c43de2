"""The findings model: each claim's verdict follows its interval and the run's warnings by the one rule; views say
which choice moves it; the headline names K and the K-range — on summaries built to have a known answer."""

import copy

import numpy as np
import pytest

from sgdpotential.claims import claim
from sgdpotential.pipeline.calibrated import choose_estimator
from sgdpotential.pipeline.findings import assess, over_seeds, sweep_findings
from sgdpotential.report.words import headline, scorecard_rows, sentences, view_text


def _fit(est, half, n=40):
    return {"exponent": est, "ci95": [est - half, est + half], "r2": 0.9, "n": n}


def _psi(est, half, n=40):
    return {"psi": est, "ci95": [est - half, est + half], "r2": 0.9, "n_used": n}


def summary(**over) -> dict:
    """A summary.json as analysis writes it (before findings): a clean run whose ψ at K = 50 is 2.73 [2.37, 3.17],
    moved by K from 1.3 (K = 25) to 3.88 (K = 250)."""
    s = {
        "burn_in": {"reached_target": True, "epochs": 37, "accuracy": 1.0, "age_epochs": 0, "target_epochs": 37},
        "ivf": {**_psi(2.73, 0.4, 45), "n_drift": 1, "n_censored": 0, "k": 50, "window": 1000,
                "nested": [{"window": n, **_psi(p, 0.45, 45), "invalidated_by": []}
                           for n, p in ((250, 2.6), (500, 2.7), (1000, 2.73))]},
        "heldout": {"ivf_psi": 1.23, "ivf_ci95": [0.96, 1.49], "ivf_n_used": 44},
        "k_scan": {"k_max": 250, "rows": [
            {"k": k, "feng_tu": _psi(p, 0.2, k - 3), "heldout": _psi(h, 0.2, k - 3)}
            for k, p, h in ((25, 1.30, 0.89), (50, 2.73, 1.23), (100, 3.29, 1.60), (250, 3.88, 2.03))]},
        "potential": {"kind": "stable", "q_over_d": 0.2, "commutator": 0.1, "sigma2_vs_u_flatness": _fit(2.2, 0.3)},
        "exponents": {"hessian_diag_vs_flatness": _fit(-2.03, 0.03), "noise_diag_vs_flatness": _fit(-2.13, 0.15),
                      "theta_spread_vs_flatness": _fit(0.98, 0.04), "noise_vs_hessian_diag": _fit(1.06, 0.06)},
        "pca": {"pc1_ratio": 0.954, "null_pc1_ratio": 0.61, "pc1_null95": [0.55, 0.70]},
        "stationarity": {"fdr_ratio": 1.01, "se": 0.02},
        "sample_spectrum": {"bands": [
            {"relaxation": [0.0, 1.0], "n": 5, "median_ratio": 12.1, "null95": [0.9, 1.1], "verdict": "inconsistent"},
            {"relaxation": [1.0, 10.0], "n": 30, "median_ratio": 1.004, "null95": [0.99, 1.01],
             "verdict": "consistent"},
            {"relaxation": [10.0, 100.0], "n": 3, "median_ratio": 1.7, "null95": [0.9, 1.1],
             "verdict": "inconclusive"}]},
        "sample_spectrum_replay": None,
        "lyapunov": {}, "model": {"optimizer": "sgd"},
        "warnings": [],
    }
    for key, value in over.items():
        s[key] = value
    return s


def _claims(f):
    return {c["key"]: c for c in f["claims"]}


def test_a_clean_run_is_judged_by_its_intervals():
    c = _claims(assess(summary()))
    assert c["psi"]["verdict"] == "inconsistent" and c["psi"]["at"] == {"k": 50, "window": 1000, "age": 0}
    assert c["psi_heldout"]["verdict"] == "inconsistent"
    assert c["hessian_vs_flatness"]["verdict"] == "consistent"
    assert c["noise_vs_flatness"]["verdict"] == "inconsistent"
    assert c["theta_feng_tu"]["verdict"] == "consistent" and c["theta_paper"]["verdict"] == "inconsistent"
    assert c["noise_vs_hessian"]["verdict"] == "consistent" and c["noise_vs_hessian_paper"]["verdict"] == "inconsistent"
    assert c["boltzmann_u"]["verdict"] == "consistent"
    assert c["pc1_drift"]["verdict"] == "consistent"
    assert c["stationary"]["verdict"] == "consistent"
    # bands: the 30-component band decides, the 3-component one is too small to count
    assert c["sigma_subspace"]["verdict"] == "consistent"
    for x in c.values():
        assert x["invalidated_by"] == [] and x["verdict"] == x["raw_verdict"]


@pytest.mark.parametrize(("warning", "invalidated", "untouched"), [
    ("target_not_reached", ["psi", "psi_heldout", "hessian_vs_flatness", "pc1_drift", "boltzmann_u"],
     ["sigma_subspace", "stationary"]),
    ("few_snapshots", ["psi", "hessian_vs_flatness", "boltzmann_u"], ["pc1_drift", "sigma_subspace"]),
    ("k_close_to_t", ["psi", "noise_vs_hessian"], ["sigma_subspace", "stationary"]),
    ("not_stationary", ["boltzmann_u"], ["psi", "sigma_subspace", "hessian_vs_flatness"]),
    ("model_not_deterministic", ["psi", "psi_heldout", "sigma_subspace", "boltzmann_u"], ["stationary"]),
])
def test_a_warning_turns_the_verdicts_it_invalidates_into_inconclusive(warning, invalidated, untouched):
    clean = _claims(assess(summary()))
    warned = _claims(assess(summary(warnings=[{"name": warning, "message": "x"}])))
    for key in invalidated:
        assert warned[key]["verdict"] == "inconclusive" and warned[key]["invalidated_by"] == [warning], key
        assert warned[key]["raw_verdict"] == clean[key]["verdict"]  # the interval alone still says what it said
    for key in untouched:
        assert warned[key]["verdict"] == clean[key]["verdict"] and warning not in warned[key]["invalidated_by"]
    # the verdict sentence names the warning
    text = " ".join(sentences({**summary(), "findings": assess(summary(warnings=[{"name": warning, "message": "x"}]))}))
    assert f"invalidated by {warning}" in text


def test_qualifying_warnings_are_named_and_leave_the_verdict():
    c = _claims(assess(summary(warnings=[{"name": "reshuffled_minibatches", "message": "x"},
                                         {"name": "not_stationary", "message": "x"}])))
    assert c["sigma_subspace"]["verdict"] == "consistent"
    assert c["sigma_subspace"]["qualified_by"] == ["not_stationary", "reshuffled_minibatches"]


def test_a_fit_over_too_few_directions_is_inconclusive():
    s = summary()
    s["exponents"]["hessian_diag_vs_flatness"] = _fit(-2.0, 0.01, n=7)
    c = _claims(assess(s))["hessian_vs_flatness"]
    assert c["raw_verdict"] == "consistent" and c["verdict"] == "inconclusive"
    assert c["invalidated_by"] == ["few_fit_points"]


def test_a_wide_interval_that_contains_the_prediction_is_inconclusive_and_not_stable():
    """The BatchNorm CNN of the issue: ψ = 2.55 [1.24, 6.24]; its K-scan 2.55 → 4.79 on wide intervals."""
    s = summary(ivf={**summary()["ivf"], **_psi(2.55, 0, 20), "ci95": [1.24, 6.24]})
    s["k_scan"]["rows"] = [{"k": 20, "feng_tu": {"psi": 2.55, "ci95": [1.24, 6.24], "n_used": 20}},
                           {"k": 50, "feng_tu": {"psi": 4.79, "ci95": [3.1, 6.5], "n_used": 48}}]
    c = _claims(assess(s))["psi"]
    assert c["verdict"] == "inconclusive"
    assert c["views"]["k"]["verdict"] == "inconclusive"
    assert "is inconclusive (the intervals are too wide to tell" in view_text(c, "k")


def test_views_say_which_choice_moves_psi_and_where_it_is_consistent():
    f = assess(summary())
    c = _claims(f)["psi"]
    assert c["views"]["k"]["verdict"] == "moves" and c["moved_by"] == ["k"]
    assert [r["verdict"] for r in c["views"]["k"]["rows"]] == ["inconsistent", "inconsistent", "consistent",
                                                               "consistent"]
    assert c["views"]["k"]["range"] == [1.30, 3.88]
    assert c["views"]["window"]["verdict"] == "inconclusive"  # ±0.45 intervals: too wide to call stable


def test_the_headline_leads_with_the_calibrated_estimator_and_names_k_and_the_k_range():
    """The stored calibration study picks held out with its allowance a: the headline leads with it, its interval
    widened by a; Feng & Tu's way follows with its calibrated bias range."""
    a = choose_estimator()["allowance"]
    f = assess(summary())
    lead, own, _ = headline(f, {"optimizer": "sgd"})
    assert lead.startswith(f"At K = 50 (this run's K; window of T = 1000 snapshots at age 0), SGD gives ψ = 1.23 "
                           f"[{0.96 - a:.2f}, {1.49 + a:.2f}] held out (directions from the first half of the window, "
                           f"variances from the second; the estimator the calibration supports, its 95% interval "
                           f"[0.96, 1.49] widened by the calibrated bias allowance ± {a:g}) over 44 directions: "
                           f"inconsistent with Feng & Tu's ψ ≈ 4 ± 1")
    assert "ψ runs from 0.89 at K = 25 to 2.03 at K = 250), inconsistent with 4 at every K" in lead
    assert own.startswith("At the same K, ψ = 2.73 [2.33, 3.13] Feng & Tu's way (the window's own principal "
                          "directions and their sample variances; biased in the calibration on linear models, by ")
    assert "K moves ψ from 1.30 at K = 25 to 3.88 at K = 250, consistent with 4 at K = 100, 250" in own


def test_the_headline_estimators_interval_carries_the_calibrated_allowance():
    """A held-out ψ of 3.5 [3.35, 3.65] lies inside 4 ± 1 (consistent by its bootstrap interval alone); widened by
    the allowance it reaches outside while containing 4: inconclusive. The summary names the estimator."""
    chosen = choose_estimator()
    assert chosen["estimator"] == "heldout" and chosen["allowance"] is not None
    a = chosen["allowance"]
    f = assess(summary(heldout={"ivf_psi": 3.5, "ivf_ci95": [3.35, 3.65], "ivf_n_used": 44}))
    c = _claims(f)["psi_heldout"]
    assert c["ci95_raw"] == [3.35, 3.65] and c["ci95"] == pytest.approx([3.35 - a, 3.65 + a])
    assert c["verdict"] == "inconclusive"
    head = f["headline"]
    assert (head["estimator"], head["claim"], head["psi"]) == ("heldout", "psi_heldout", 3.5)
    assert head["ci95"] == c["ci95"] and head["ci95_raw"] == [3.35, 3.65] and head["verdict"] == "inconclusive"
    assert head["calibration"]["by_estimator"]["own"]["max_abs_bias"] > head["calibration"]["by_estimator"][
        "heldout"]["max_abs_bias"]
    assert all(r["ci95"][1] - r["ci95"][0] == pytest.approx(0.4 + 2 * a) for r in c["views"]["k"]["rows"])
    assert _claims(f)["psi"]["ci95"] == [2.33, 3.13]  # the other estimator keeps its bootstrap interval


def test_the_optimizer_is_named_in_the_headline():
    f = assess(summary())
    assert "heavy-ball SGD (μ = 0.9) gives ψ" in headline(f, {"optimizer": "sgd_momentum", "momentum": 0.9})[0]
    assert ", Adam gives ψ" in headline(f, {"optimizer": "adam"})[0]


def test_ages_view_reads_the_later_windows_claims():
    own = assess(summary())
    later = copy.deepcopy(own)
    for c in later["claims"]:
        if c["key"] == "psi":
            c.update(estimate=2.87, ci95=[2.61, 3.21], verdict="inconsistent")
    f = assess(summary(), ages=[(80, _claims(later))])
    view = _claims(f)["psi"]["views"]["age"]
    assert [r["age"] for r in view["rows"]] == [0, 80] and [r["estimate"] for r in view["rows"]] == [2.73, 2.87]
    assert view["verdict"] == "stable"  # [2.33, 3.13] and [2.61, 3.21]: every difference within ± 1


def test_no_consistent_verdict_has_an_interval_wider_than_twice_its_margin():
    for c in assess(summary())["claims"]:
        if c["verdict"] == "consistent" and c["rule"] == "equivalence":
            lo, hi = c["ci95"]
            width = 0 if not isinstance(c["prediction"], list) else c["prediction"][1] - c["prediction"][0]
            assert hi - lo <= 2 * c["margin"] + width


def test_untested_claims_say_why():
    f = assess(summary())
    why = {u["key"]: u["why"] for u in f["untested"]}
    assert why["sigma_replayed"] == "no replayed windows (replay_paths = 0)"
    assert why["ladder_isotropic"].startswith("no model ladder")


def test_the_ladder_claims_come_from_ladder_json():
    ladder = {"rungs": [{"name": "sgd", "psi": 2.73, "ci95": [2.37, 3.17], "n_used": 45},
                        {"name": "batch", "psi": 2.72, "ci95": [2.42, 3.05], "n_used": 45},
                        {"name": "full", "psi": 2.70, "ci95": [2.47, 2.96], "n_used": 45},
                        {"name": "isotropic", "psi": -2.47, "ci95": [-4.69, -0.20], "n_used": 30}]}
    c = _claims(assess(summary(), ladder))
    assert c["ladder_batch"]["estimate"] == pytest.approx(-0.01)
    assert c["ladder_batch"]["ci95"] == pytest.approx([2.42 - 3.17, 3.05 - 2.37])
    assert c["ladder_batch"]["verdict"] == "consistent" and c["ladder_full"]["verdict"] == "consistent"
    assert c["ladder_isotropic"]["verdict"] == "inconclusive"  # contains −2, far wider than ± 1


def test_over_seeds_judges_the_run_to_run_interval_and_whether_seeds_move_psi():
    runs = []
    for p, h in ((2.65, 1.2), (2.75, 1.3), (2.60, 1.25)):
        s = summary(ivf={**summary()["ivf"], **_psi(p, 0.05)},
                    heldout={"ivf_psi": h, "ivf_ci95": [h - 0.265, h + 0.265], "ivf_n_used": 44})
        runs.append(assess(s))
    f = over_seeds(runs, ["seed=0", "seed=1", "seed=2"])
    c = _claims(f)["psi"]
    assert c["estimate"] == pytest.approx(2.6667, abs=1e-4) and c["n"] == 3
    assert c["verdict"] == "inconsistent" and c["runs_verdicts"] == ["inconsistent"] * 3
    assert c["views"]["seed"]["verdict"] == "stable"  # all three within ± 1 of each other, narrow intervals
    moved = over_seeds([assess(summary(ivf={**summary()["ivf"], **_psi(p, 0.05)})) for p in (1.0, 2.7)],
                       ["a", "b"])
    assert _claims(moved)["psi"]["views"]["seed"]["verdict"] == "moves"
    cal = c["interval_calibration"]  # within-run half-width 0.05 against the seeds' SD
    assert cal["seed_sd"] == pytest.approx(np.std([2.65, 2.75, 2.60], ddof=1))
    assert cal["ratio"] == pytest.approx(0.05 / (1.959963984540054 * cal["seed_sd"]))
    held = _claims(f)["psi_heldout"]  # the headline estimator: its seeds' t-interval widened by its largest |bias|
    a = choose_estimator()["seed_allowance"]
    assert a == choose_estimator()["by_estimator"]["heldout"]["max_abs_bias"]
    assert held["ci95"] == pytest.approx([held["ci95_raw"][0] - a, held["ci95_raw"][1] + a])
    assert held["interval_calibration"]["within_half_width"] == pytest.approx(0.265)  # its bootstrap intervals
    assert f["headline"]["claim"] == "psi_heldout"
    warned = over_seeds([runs[0], assess(summary(warnings=[{"name": "few_snapshots", "message": "x"}]))], ["a", "b"])
    assert _claims(warned)["psi"]["verdict"] == "inconclusive"
    assert _claims(warned)["psi"]["invalidated_by"] == ["few_snapshots"]


def test_sweep_findings_judge_the_variance_slope():
    f = sweep_findings({"exponent": 0.93, "ci95": [0.85, 1.02], "r2": 0.95, "n": 18})
    (c,) = f["claims"]
    assert c["key"] == "variance_vs_lr_over_b" and c["verdict"] == "consistent"
    assert sweep_findings(None)["claims"] == [] and sweep_findings(None)["untested"]
    few = sweep_findings({"exponent": 1.0, "ci95": [0.9, 1.1], "r2": 0.9, "n": 4})["claims"][0]
    assert few["verdict"] == "inconclusive" and few["invalidated_by"] == ["few_fit_points"]


def test_scorecard_rows_carry_prediction_margin_interval_verdict_and_moves():
    rows = {r["key"]: r for r in scorecard_rows(assess(summary()))}
    psi = claim("psi")
    assert rows["psi"]["prediction"] == f"{psi.prediction:g} ± {psi.margin:g}"
    assert rows["psi"]["measured"] == "2.73 [2.33, 3.13], n = 45"
    assert rows["psi"]["verdict"] == "inconsistent"
    assert rows["psi"]["moves"].startswith("K: moves it (1.30 at K = 25 → 3.88 at K = 250)")
    assert rows["noise_vs_hessian"]["prediction"] == "[1, 2] ± 0.5"
