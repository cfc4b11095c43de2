"""The rule that chooses the headline ψ estimator and its interval allowance from a calibration study."""

import pytest

from sgdpotential.claims import CLAIMS
from sgdpotential.errors import DecompositionError
from sgdpotential.pipeline.calibrated import calibrate_interval, choose_estimator, stored, wilson


def _cell(bias, coverage, allowance_cover, n=200):
    return {"bias": bias, "coverage": {"share": coverage}, "n_windows": n,
            "coverage_allowance": {f"{a:.1f}": c for a, c in allowance_cover.items()}}


def _study(own, heldout):
    rows = [{"k": 25, "estimators": {"own": o, "heldout": h, "independent": h}}
            for o, h in zip(own, heldout, strict=True)]
    return {"date": "2026-12-02", "windows": 200, "cases": [{"name": "x", "cells": [{"relaxation": 1, "rows": rows}]}]}


def test_the_rule_takes_the_estimator_with_the_smaller_worst_bias_and_the_smallest_covering_allowance():
    own = [_cell(0.1, 0.95, {0.0: 0.95, 0.5: 1.0, 1.0: 1.0}), _cell(3.0, 0.0, {0.0: 0.0, 0.5: 0.0, 1.0: 0.0})]
    held = [_cell(-0.4, 0.80, {0.0: 0.80, 0.5: 0.97, 1.0: 1.0}), _cell(0.3, 0.90, {0.0: 0.90, 0.5: 0.90, 1.0: 0.99})]
    got = choose_estimator(_study(own, held))
    assert (got["estimator"], got["claim"]) == ("heldout", "psi_heldout")
    # 0.5 leaves the second cell at 0.90 (Wilson upper end < 0.95): the allowance is 1.0
    assert got["allowance"] == 1.0 and got["seed_allowance"] == 0.4  # over seeds: the largest |bias|
    assert got["by_estimator"]["own"]["allowance"] is None  # nothing studied covers the 3.0-biased cell
    assert got["by_estimator"]["heldout"]["bias_range"] == [-0.4, 0.3]
    assert got["by_estimator"]["heldout"]["coverage_range"] == [0.80, 0.90]


def test_a_study_that_cannot_calibrate_the_chosen_estimator_is_refused():
    """No studied allowance makes the least-biased estimator cover everywhere: no headline interval can be
    calibrated from this study, and saying so beats a silently uncalibrated verdict."""
    held = [_cell(0.2, 0.5, {0.0: 0.5, 0.5: 0.7})]
    with pytest.raises(DecompositionError, match="no studied bias allowance with which heldout's interval covers"):
        choose_estimator(_study([_cell(3.0, 0.0, {0.0: 0.0, 0.5: 0.0})], held))


def test_a_coverage_within_sampling_of_95_percent_counts_as_covering():
    """0.93 over 200 windows is not significantly below 0.95 (Wilson upper end ≥ 0.95); 0.90 is."""
    assert wilson(0.93, 200)[1] >= 0.95 > wilson(0.90, 200)[1]
    held = [_cell(0.0, 0.93, {0.0: 0.93, 0.5: 1.0})]
    assert choose_estimator(_study([_cell(1.0, 0.0, {0.0: 0.0, 0.5: 0.0})], held))["allowance"] == 0.0


def test_the_shipped_study_justifies_psis_margin():
    """The ψ claims' equivalence margin must exceed the headline estimator's calibrated bias allowance, or a verdict
    could be the estimator's bias: a new study that breaks this fails here."""
    chosen = choose_estimator(stored())
    margin = next(c.margin for c in CLAIMS if c.key == chosen["claim"])
    assert chosen["allowance"] is not None and margin > chosen["allowance"]
    assert chosen["by_estimator"][chosen["estimator"]]["max_abs_bias"] < margin


def test_calibrate_interval():
    assert calibrate_interval([1.0, 2.0], 0.5) == [0.5, 2.5]
    assert calibrate_interval(None, 0.5) is None and calibrate_interval([1.0, 2.0], None) == [1.0, 2.0]
    assert wilson(0.5, 4) == pytest.approx([0.15, 0.85], abs=0.01)
