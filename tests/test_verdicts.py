"""The verdict rules: every branch of each, and their properties over arbitrary intervals (Hypothesis)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sgdpotential.verdicts import (
    ABOVE_NULL_RULE,
    MIN_POINTS,
    MOVES_RULE,
    NULL_RULE,
    RULE,
    above_null,
    equivalence,
    moves,
    null_band,
)


@pytest.mark.parametrize(("ci", "prediction", "margin", "expected"), [
    ((3.74, 4.02), 4.0, 1.0, "consistent"),        # inside 4 ± 1 and containing 4
    ((3.2, 3.9), 4.0, 1.0, "consistent"),          # excludes 4 but inside the margin: equivalent at the resolution
    ((3.0, 5.0), 4.0, 1.0, "consistent"),          # the band's edges belong to it
    ((2.37, 3.17), 4.0, 1.0, "inconsistent"),      # the default run's K = 50: excludes 4, leaves the band
    ((5.2, 9.0), 4.0, 1.0, "inconsistent"),        # above
    ((1.24, 6.24), 4.0, 1.0, "inconclusive"),      # the BatchNorm CNN: contains 4, too wide to call equivalent
    ((2.5, 4.2), 4.0, 1.0, "inconclusive"),        # contains 4, leaves the band on one side
    ((6.24, 1.24), 4.0, 1.0, "inconclusive"),      # order does not matter
    ((1.0, 1.12), (1.0, 2.0), 0.5, "consistent"),  # a predicted range
    ((0.6, 2.4), (1.0, 2.0), 0.5, "consistent"),
    ((2.6, 2.9), (1.0, 2.0), 0.5, "inconsistent"),
    ((1.5, 2.7), (1.0, 2.0), 0.5, "inconclusive"),
    (None, 4.0, 1.0, "inconclusive"),
    ((math.nan, 1.0), 4.0, 1.0, "inconclusive"),
    ((1.0, math.inf), 4.0, 1.0, "inconclusive"),
])
def test_equivalence_every_branch(ci, prediction, margin, expected):
    assert equivalence(ci, prediction, margin) == expected


def test_a_bad_margin_is_refused():
    with pytest.raises(ValueError, match="margin = -1"):
        equivalence((1, 2), 1.0, -1)


@pytest.mark.parametrize(("est", "cis", "margin", "expected"), [
    ([1.3, 3.88], [(0.6, 2.9), (3.74, 4.02)], 1.0, "moves"),          # apart by 2.6 > 1, intervals disjoint
    ([2.73, 3.88], [(2.37, 3.17), (3.74, 4.02)], 1.0, "moves"),       # 1.15 > 1, disjoint
    ([2.9, 3.45], [(2.5, 3.15), (3.2, 3.7)], 1.0, "inconclusive"),    # disjoint, but closer than the margin
    ([1.3, 3.88], [(-1.0, 4.0), (3.74, 4.02)], 1.0, "inconclusive"),  # far apart, but the intervals overlap
    ([3.85, 4.1], [(3.7, 4.0), (3.9, 4.3)], 1.0, "stable"),           # every difference within ± 1
    ([2.55, 4.79], [(1.24, 6.24), (3.1, 6.5)], 1.0, "inconclusive"),  # overlap is not stability: too wide
    ([2.1, 2.2, 3.55], [(2.0, 2.2), (2.1, 2.3), (3.5, 3.6)], 1.0, "moves"),  # any pair decides
    ([2.2], [(2.0, 2.5)], 1.0, "untested"),
    ([], [], 1.0, "untested"),
    ([2.2, None, 1.0], [(2.0, 2.5), (1, 2), (math.nan, 1)], 1.0, "untested"),  # missing values do not count
])
def test_moves_every_branch(est, cis, margin, expected):
    assert moves(est, cis, margin) == expected


@pytest.mark.parametrize(("median", "null95", "n", "expected"), [
    (1.004, (0.99, 1.01), MIN_POINTS, "consistent"),
    (1.3, (0.9, 1.1), 40, "inconsistent"),
    (0.5, (0.9, 1.1), 40, "inconsistent"),
    (1.0, (0.9, 1.1), MIN_POINTS - 1, "inconclusive"),      # too few components (the 3-component band)
    (1.0, None, 40, "inconclusive"),
    (None, (0.9, 1.1), 40, "inconclusive"),
])
def test_null_band_every_branch(median, null95, n, expected):
    assert null_band(median, null95, n) == expected


@pytest.mark.parametrize(("value", "null95", "expected"), [
    (0.95, (0.55, 0.7), "consistent"), (0.4, (0.55, 0.7), "inconsistent"), (0.6, (0.55, 0.7), "inconclusive"),
    (None, (0.55, 0.7), "inconclusive"), (0.9, None, "inconclusive")])
def test_above_null_every_branch(value, null95, expected):
    assert above_null(value, null95) == expected


def test_the_rules_are_stated_in_words_with_their_threshold():
    for words in (RULE, MOVES_RULE, NULL_RULE, ABOVE_NULL_RULE):
        assert "consistent" in words or "moves" in words
    assert "margin" in RULE and "95%" in RULE and f"{MIN_POINTS} directions" in RULE
    assert f"{MIN_POINTS} components" in NULL_RULE


# ---------------------------------------------------------------------------------------------- properties

# multiples of 1/8: exact in binary, so that shifting and mirroring are exact and only the rule is tested
finite = st.integers(-400, 400).map(lambda i: i / 8)
margins = st.integers(0, 80).map(lambda i: i / 8)


@st.composite
def intervals(draw):
    a, b = draw(finite), draw(finite)
    return (min(a, b), max(a, b))


@given(intervals(), finite, margins)
def test_consistent_needs_an_interval_no_wider_than_twice_the_margin(ci, prediction, margin):
    verdict = equivalence(ci, prediction, margin)
    assert verdict in ("consistent", "inconsistent", "inconclusive")
    if verdict == "consistent":
        assert ci[1] - ci[0] <= 2 * margin + 1e-9
        assert prediction - margin - 1e-9 <= ci[0] and ci[1] <= prediction + margin + 1e-9
    if verdict == "inconsistent":  # it excludes the prediction
        assert ci[1] < prediction or ci[0] > prediction


@given(intervals(), finite, margins, st.floats(0, 1), st.floats(0, 1))
def test_a_narrower_interval_never_withdraws_a_decision(ci, prediction, margin, a, b):
    """More data (a sub-interval) can turn 'inconclusive' into a decision and 'inconsistent' into 'consistent'
    (different from the value, equivalent within the margin); it never makes a decision inconclusive and never
    turns 'consistent' into 'inconsistent'."""
    lo, hi = ci
    inner = (lo + min(a, b) * (hi - lo), lo + max(a, b) * (hi - lo))
    outer, narrow = equivalence(ci, prediction, margin), equivalence(inner, prediction, margin)
    if outer == "consistent":
        assert narrow == "consistent"
    if outer == "inconsistent":
        assert narrow in ("inconsistent", "consistent")


@given(intervals(), finite, margins, finite)
def test_the_rule_is_translation_and_mirror_invariant(ci, prediction, margin, shift):
    v = equivalence(ci, prediction, margin)
    assert equivalence((ci[0] + shift, ci[1] + shift), prediction + shift, margin) == v
    assert equivalence((-ci[1], -ci[0]), -prediction, margin) == v


@st.composite
def estimates(draw):
    lo, hi = draw(intervals())
    return lo + draw(st.integers(0, 8)) * (hi - lo) / 8, (lo, hi)


@given(st.lists(estimates(), min_size=2, max_size=6), margins)
def test_moves_and_stable_exclude_each_other_and_follow_the_margin(pts, margin):
    est, cis = [p for p, _ in pts], [c for _, c in pts]
    verdict = moves(est, cis, margin)
    span = max(hi for _, hi in cis) - min(lo for lo, _ in cis)
    moved = any(abs(a - b) > margin and (ca[1] < cb[0] or cb[1] < ca[0])
                for a, ca in pts for b, cb in pts)
    assert verdict == ("moves" if moved else "stable" if span <= margin else "inconclusive")
    if verdict == "stable":  # stable needs narrow intervals: each at most one margin wide, estimates close
        assert all(hi - lo <= margin for lo, hi in cis) and max(est) - min(est) <= margin
    if verdict == "moves":
        assert max(est) - min(est) > margin


@given(st.lists(estimates(), min_size=2, max_size=6), margins)
def test_adding_a_choice_never_unmoves_an_estimate(pts, margin):
    est, cis = [p for p, _ in pts], [c for _, c in pts]
    if moves(est[:-1], cis[:-1], margin) == "moves":
        assert moves(est, cis, margin) == "moves"
