"""The one verdict grammar for an estimate with an interval against a predicted value.

Every "consistent / inconsistent / inconclusive" that ``summary.json``, the report and the command line attach to
a fitted exponent comes from :func:`interval_verdict`, under the rule :data:`RULE` (stated once, printed in the
report). Comparisons against a simulated sampling null (the sample spectrum) and the stable/moves rule of ψ
under K, window and age are their own rules, stated where they are made.
"""

from __future__ import annotations

import math

__all__ = ["RULE", "VERDICTS", "interval_verdict"]

VERDICTS = ("consistent", "inconsistent", "inconclusive")

#: The rule, in the words the report prints.
RULE = ("An estimate is consistent with a prediction when its 95% interval contains the predicted value and "
        "excludes the null value (no relation: 0); inconsistent when the interval excludes the predicted value; "
        "inconclusive when the interval contains both — too wide to tell them apart — or is missing.")


def interval_verdict(ci, predicted, null: float = 0.0) -> str:
    """The verdict of :data:`RULE` for the 95% interval ``ci`` = (lo, hi) against ``predicted`` — one value, or a
    (low, high) range of predicted values (e.g. the literature's 1–2), consistent when the intervals overlap.

    Examples
    --------
    >>> interval_verdict((-2.01, 7.24), 2.0)      # contains +2 and 0: too wide
    'inconclusive'
    >>> interval_verdict((1.6, 2.5), 2.0), interval_verdict((2.37, 3.17), 4.0)
    ('consistent', 'inconsistent')
    >>> interval_verdict((1.0, 1.12), (1.0, 2.0))
    'consistent'
    """
    if ci is None or len(ci) != 2 or not all(isinstance(x, int | float) and math.isfinite(x) for x in ci):
        return "inconclusive"
    lo, hi = sorted(float(x) for x in ci)
    p_lo, p_hi = sorted(predicted) if isinstance(predicted, tuple | list) else (predicted, predicted)
    if hi < p_lo or lo > p_hi:
        return "inconsistent"
    return "inconclusive" if lo <= null <= hi else "consistent"
