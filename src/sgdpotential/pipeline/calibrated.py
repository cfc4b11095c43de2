"""The calibrated ψ: which estimator a run's headline uses and how wide its interval is, chosen by measurement.

The choice reads the stored calibration study (``sgdpotential calibrate``, shipped as
``sgdpotential/data/calibration.json``; tables in ``docs/calibration.md``), which measured each estimator's bias
and the coverage of its 95% interval against the population ψ of linear models of SGD
(:mod:`~sgdpotential.pipeline.calibration`). The rule (:data:`RULE`) is applied to that data here, so that a new
study changes the choice without an edit. Nothing here imports torch.
"""

from __future__ import annotations

import functools
import json
import math
from importlib.resources import files

import numpy as np

from ..errors import DecompositionError

__all__ = ["CLAIM_OF", "ESTIMATORS", "IN_A_RUN", "RULE", "calibrate_interval", "choose_estimator", "stored",
           "wilson"]

#: The ψ estimators, in the order reported, with one line each.
ESTIMATORS = {
    "own": "Feng & Tu's way: the window's own principal directions and their sample variances",
    "heldout": "held out: directions from the first half of the window, variances from the second",
    "independent": "independent window: directions from one window, variances from an independent window",
}
#: The estimators one recorded window allows (an independent window of the same law needs replays).
IN_A_RUN = ("own", "heldout")
#: The finding (claim key) that holds each estimator's ψ in a run.
CLAIM_OF = {"own": "psi", "heldout": "psi_heldout"}
#: Coverage the calibrated interval must reach: the nominal level of the intervals.
LEVEL = 0.95
RULE = (f"The headline ψ uses the estimator, of those one window allows, whose largest |bias| over the calibration "
        f"study's cells is smallest; its {LEVEL:.0%} interval is widened on each side by the smallest bias allowance "
        f"with which it covers the population ψ in every cell of the study (the Wilson interval of the coverage "
        f"reaching {LEVEL:.0%}). Over seeds, whose interval shrinks with their number while a bias does not, the "
        f"interval is widened by the estimator's largest |bias| in the study instead.")


def wilson(share: float, n: int) -> list[float]:
    """The Wilson 95% interval of a proportion ``share`` observed in ``n`` trials.

    >>> [round(x, 3) for x in wilson(0.9, 100)]
    [0.826, 0.945]
    """
    z = 1.959963984540054
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [centre - half, centre + half]


@functools.cache
def stored() -> dict:
    """The shipped calibration study (``sgdpotential/data/calibration.json``)."""
    return json.loads(files("sgdpotential").joinpath("data", "calibration.json").read_text())


def _cells(cal: dict, name: str) -> list[dict]:
    """The study's cells of one estimator that have a summary (at least two windows with a fit)."""
    return [{"case": case["name"], "relaxation": cell["relaxation"], "k": row["k"], **row["estimators"][name]}
            for case in cal["cases"] for cell in case["cells"] for row in cell["rows"]
            if "bias" in row["estimators"][name]]


def choose_estimator(cal: dict | None = None) -> dict:
    """The estimator and interval allowance that :data:`RULE` gives on the study ``cal`` (default: the stored one).

    Returns ``{"estimator", "claim", "description", "allowance", "seed_allowance", "by_estimator", "date",
    "windows", "rule"}``; ``by_estimator`` holds, per estimator one window allows, the range of its bias and of its
    interval's coverage over the study's cells (and the median coverage), its largest |bias|, and its allowance
    (None when no studied allowance covers every cell). The headline estimator's ``allowance`` widens a run's
    interval (:func:`calibrate_interval`); ``seed_allowance``, its largest |bias|, widens the interval over seeds.

    Raises
    ------
    DecompositionError
        When no studied allowance makes the chosen estimator cover in every cell: the study cannot calibrate it.
    """
    cal = stored() if cal is None else cal
    per = {}
    for name in IN_A_RUN:
        cells = _cells(cal, name)
        bias = [c["bias"] for c in cells]
        cover = [c["coverage"]["share"] for c in cells]
        allowances = sorted(cells[0]["coverage_allowance"], key=float)
        allowance = next((float(a) for a in allowances if all(
            wilson(c["coverage_allowance"][a], c["n_windows"] + c.get("n_failed", 0))[1] >= LEVEL for c in cells)),
            None)
        per[name] = {"bias_range": [min(bias), max(bias)], "max_abs_bias": max(abs(b) for b in bias),
                     "coverage_range": [min(cover), max(cover)], "coverage_median": float(np.median(cover)),
                     "allowance": allowance, "cells": len(cells)}
    best = min(IN_A_RUN, key=lambda n: per[n]["max_abs_bias"])
    if per[best]["allowance"] is None:
        raise DecompositionError(
            f"the calibration study of {cal['date']} has no studied bias allowance with which {best}'s interval covers "
            f"in every cell; rerun sgdpotential calibrate with larger allowances before trusting a headline ψ.")
    return {"estimator": best, "claim": CLAIM_OF[best], "description": ESTIMATORS[best],
            "allowance": per[best]["allowance"], "seed_allowance": per[best]["max_abs_bias"], "by_estimator": per,
            "date": cal["date"], "windows": cal["windows"], "rule": RULE}


def calibrate_interval(ci, allowance: float | None):
    """[lo − a, hi + a] for an interval ``ci`` and allowance a (``ci`` unchanged when either is None)."""
    if ci is None or allowance is None:
        return ci
    return [ci[0] - allowance, ci[1] + allowance]
