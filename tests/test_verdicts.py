"""The one verdict grammar: a wide interval is inconclusive, never consistent."""

import pytest

from sgdpotential.verdicts import RULE, interval_verdict


@pytest.mark.parametrize(("ci", "predicted", "expected"), [
    ((-2.01, 7.24), 2.0, "inconclusive"),   # the report's old "consistent": contains +2 and 0
    ((1.6, 2.5), 2.0, "consistent"),
    ((2.37, 3.17), 4.0, "inconsistent"),
    ((4.3, 14.4), 2.0, "inconsistent"),
    ((-0.5, 0.4), -2.0, "inconsistent"),    # excludes the prediction even though it contains 0
    ((-2.06, -2.0), -2.0, "consistent"),   # the boundary belongs to the interval
    ((1.0, 1.12), (1.0, 2.0), "consistent"),  # a predicted range
    ((2.1, 2.3), (1.0, 2.0), "inconsistent"),
    ((7.2, -2.0), 2.0, "inconclusive"),     # order does not matter
    (None, 2.0, "inconclusive"),
    ((float("nan"), 1.0), 2.0, "inconclusive"),
])
def test_interval_verdict(ci, predicted, expected):
    assert interval_verdict(ci, predicted) == expected


def test_the_rule_is_stated_in_words():
    assert all(word in RULE for word in ("consistent", "inconsistent", "inconclusive", "95%"))
