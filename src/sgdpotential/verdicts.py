"""The verdict rules: every "consistent / inconsistent / inconclusive" and every "moves / stable" the package writes.

Three rules, each stated once in words (:data:`RULE`, :data:`MOVES_RULE`, :data:`NULL_RULE` with
:data:`ABOVE_NULL_RULE`) and applied by one function each:

* :func:`equivalence` — an estimate with its 95% interval against a prediction with an equivalence margin, as in
  TOST (Schuirmann 1987; Lakens 2017) and ROPE (Kruschke 2018): *consistent* when the interval lies inside
  prediction ± margin, *inconsistent* when it excludes the prediction, *inconclusive* otherwise. A wide interval
  is never consistent: consistency needs an interval no wider than the prediction's range plus twice the margin.
* :func:`moves` — the same test on differences: does a choice (K, window, age, seed) move an estimate? *moves* when
  two estimates differ by more than the margin and their intervals do not overlap, *stable* when every interval
  lies within one margin of every other (equivalence of every difference with zero: stable needs narrow
  intervals), *inconclusive* otherwise, *untested* with fewer than two estimates.
* :func:`null_band` — a median ratio against the 95% range that sampling alone gives (simulated windows of a law):
  *consistent* inside, *inconsistent* outside, *inconclusive* over fewer than :data:`MIN_POINTS` components; and
  :func:`above_null`, its one-sided form for a statistic claimed to exceed its null (PC1 as a drift).

The claims these rules decide, with their predictions and margins, live in :mod:`sgdpotential.claims`; a warning
of the run that invalidates a claim turns its verdict into *inconclusive* (:mod:`sgdpotential.pipeline.findings`).
"""

from __future__ import annotations

import math

__all__ = ["ABOVE_NULL_RULE", "MIN_POINTS", "MOVES", "MOVES_RULE", "NULL_RULE", "RULE", "VERDICTS", "above_null",
           "equivalence", "interval", "moves", "null_band"]

VERDICTS = ("consistent", "inconsistent", "inconclusive")
MOVES = ("moves", "stable", "inconclusive", "untested")

#: Fewer directions than this in a fit, or components in a band, and its verdict is inconclusive: a slope or a
#: median over so few points is decided by single directions.
MIN_POINTS = 10

#: The equivalence rule, in the words every page prints.
RULE = ("A claim is consistent with its prediction when the 95% interval of its estimate lies inside the "
        "prediction ± its equivalence margin (an equivalence test, as in TOST); inconsistent when the interval "
        "lies outside that band and excludes the prediction; inconclusive otherwise — the data cannot decide — "
        "and whenever a warning of the run invalidates the claim, or its fit uses fewer than "
        f"{MIN_POINTS} directions.")

#: The rule for "a choice moves the estimate".
MOVES_RULE = ("A choice (K, window length, age, seed) moves an estimate when two of its values differ by more than "
              "the claim's margin and their 95% intervals do not overlap; it leaves the estimate stable when all its "
              "intervals lie within one margin of each other (every difference equivalent to none); otherwise the "
              "data cannot tell (inconclusive).")

#: The rule of the band comparisons against simulated or replayed windows.
NULL_RULE = ("A band of the sample-spectrum comparison is consistent when its median measured/simulated variance "
             "lies inside the 2.5–97.5% range that sampling alone gives over the simulated windows, inconsistent "
             f"outside it, inconclusive with fewer than {MIN_POINTS} components.")


def interval(ci) -> tuple[float, float] | None:
    """``ci`` as an ordered finite (lo, hi), or None when it is missing or not finite."""
    if ci is None or len(ci) != 2 or not all(isinstance(x, int | float) and math.isfinite(x) for x in ci):
        return None
    lo, hi = sorted(float(x) for x in ci)
    return lo, hi


def _range(prediction) -> tuple[float, float]:
    return tuple(sorted(prediction)) if isinstance(prediction, tuple | list) else (prediction, prediction)


def equivalence(ci, prediction, margin: float) -> str:
    """The verdict of :data:`RULE` for the 95% interval ``ci`` = (lo, hi) against ``prediction`` (one value, or a
    (low, high) range of predicted values such as the literature's 1–2) with equivalence ``margin`` ≥ 0.

    An interval that excludes the prediction but lies inside the margin is *consistent*: different from the exact
    value, equivalent at the claim's stated resolution (TOST's "different but equivalent").

    Examples
    --------
    >>> equivalence((3.74, 4.02), 4.0, 1.0), equivalence((2.37, 3.17), 4.0, 1.0)
    ('consistent', 'inconsistent')
    >>> equivalence((1.24, 6.24), 4.0, 1.0)        # contains 4, but too wide to call equivalent
    'inconclusive'
    >>> equivalence((1.0, 1.12), (1.0, 2.0), 0.5)
    'consistent'
    """
    if margin < 0 or not math.isfinite(margin):
        raise ValueError(f"margin = {margin!r} must be a finite number ≥ 0.")
    iv = interval(ci)
    if iv is None:
        return "inconclusive"
    lo, hi = iv
    p_lo, p_hi = _range(prediction)
    if lo >= p_lo - margin and hi <= p_hi + margin:
        return "consistent"
    if hi < p_lo or lo > p_hi:
        return "inconsistent"
    return "inconclusive"


def moves(estimates, cis, margin: float) -> str:
    """The verdict of :data:`MOVES_RULE` over the estimates and 95% intervals ``cis`` of one quantity under several
    values of a choice: *moves* when some pair differs by more than ``margin`` and its intervals do not overlap (the
    difference is practically large and statistically clear), *stable* when max(hi) − min(lo) ≤ ``margin`` (every
    difference lies within ±margin even at its least favourable: equivalent to no movement), *inconclusive*
    otherwise, *untested* with fewer than two estimates with intervals.

    Examples
    --------
    >>> moves([1.3, 3.88], [(0.6, 2.9), (3.74, 4.02)], 1.0), moves([3.85, 4.1], [(3.7, 4.0), (3.9, 4.3)], 1.0)
    ('moves', 'stable')
    >>> moves([2.55, 4.79], [(1.24, 6.24), (3.1, 6.5)], 1.0), moves([2.2], [(2.0, 2.5)], 1.0)
    ('inconclusive', 'untested')
    """
    pts = [(float(e), iv) for e, c in zip(estimates, cis, strict=True)
           if e is not None and math.isfinite(e) and (iv := interval(c)) is not None]
    if len(pts) < 2:
        return "untested"
    for i, (a, (alo, ahi)) in enumerate(pts):
        for b, (blo, bhi) in pts[i + 1:]:
            if abs(a - b) > margin and (ahi < blo or bhi < alo):
                return "moves"
    if max(hi for _, (_, hi) in pts) - min(lo for _, (lo, _) in pts) <= margin:
        return "stable"
    return "inconclusive"


def null_band(median, null95, n: int) -> str:
    """The verdict of :data:`NULL_RULE` for a band of ``n`` components whose median ratio is ``median`` and whose
    sampling-alone range is ``null95``.

    Examples
    --------
    >>> null_band(1.004, (0.99, 1.01), 40), null_band(1.3, (0.9, 1.1), 40), null_band(1.0, (0.9, 1.1), 3)
    ('consistent', 'inconsistent', 'inconclusive')
    """
    iv = interval(null95)
    if n < MIN_POINTS or iv is None or median is None or not math.isfinite(median):
        return "inconclusive"
    return "consistent" if iv[0] <= median <= iv[1] else "inconsistent"


#: The rule of a claim that an estimate exceeds what a null process gives.
ABOVE_NULL_RULE = ("A claim that a statistic exceeds its null (PC1's share of the variance against random walks "
                   "without drift) is consistent when the statistic lies above the null's 2.5–97.5% range, "
                   "inconsistent when it lies below it, inconclusive inside it.")


def above_null(value, null95) -> str:
    """The verdict of :data:`ABOVE_NULL_RULE` for ``value`` against the null's 95% range ``null95``.

    Examples
    --------
    >>> above_null(0.95, (0.55, 0.7)), above_null(0.4, (0.55, 0.7)), above_null(0.6, (0.55, 0.7))
    ('consistent', 'inconsistent', 'inconclusive')
    """
    iv = interval(null95)
    if iv is None or value is None or not math.isfinite(value):
        return "inconclusive"
    return "consistent" if value > iv[1] else "inconsistent" if value < iv[0] else "inconclusive"
