"""Findings into words, on the stored default-preset runs (docs/data/): the headline names K and the K-range, every
sentence reads back against its summary, and names are right (optimizer, a user's model, the relaxation index)."""

import json
import re
from pathlib import Path

import pytest

from sgdpotential.report.html import settings_header
from sgdpotential.report.words import (
    headline,
    optimizer_name,
    relaxation_symbol,
    sentences,
    verdict_text,
    view_text,
)

DATA = Path(__file__).resolve().parents[2] / "docs" / "data"
STORED = sorted(DATA.rglob("summary.json"))
NUMBER = re.compile(r"(?<![\w.])[−-]?\d+(?:\.\d+)?%?")


def _numbers(obj, out=None) -> set[str]:
    """Every number of a JSON document, in every format the words write numbers with."""
    out = set() if out is None else out
    if isinstance(obj, dict):  # keys too: ψ by K and by age are keyed by K and the age
        for k, v in obj.items():
            out |= set(NUMBER.findall(str(k)))
            _numbers(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _numbers(v, out)
    elif isinstance(obj, bool) or obj is None:
        pass
    elif isinstance(obj, int | float):
        for fmt in (".2f", ".3g", "#.3g", ".3f", "g", ".2g", ".1%", ".2%", ".0%", "+.2f"):
            out.add(format(obj, fmt))
        if isinstance(obj, int) or float(obj).is_integer():
            out.add(str(int(obj)))
    elif isinstance(obj, str):
        out |= set(NUMBER.findall(obj))
    return out


def test_the_default_presets_stored_runs_exist():
    assert (DATA / "feng-tu-x3" / "seed=0" / "summary.json").exists()
    assert len([p for p in STORED if "feng-tu-x3" in p.parts]) == 9  # 3 seeds × 3 ages


def test_the_default_headline_names_k_the_k_range_and_not_stationary():
    s = json.loads((DATA / "feng-tu-x3" / "seed=0" / "summary.json").read_text())
    assert s["config"]["components"] == 50 and s["config"]["dataset"] == "mnist5k"  # the feng-tu preset
    lead = s["findings"]["headline"]  # the estimator the calibration supports leads
    psi = next(c for c in s["findings"]["claims"] if c["key"] == lead["claim"])
    first = headline(s["findings"], s["model"])[0]
    assert f"ψ = {lead['psi']:.2f} [{lead['ci95'][0]:.2f}, {lead['ci95'][1]:.2f}]" in first
    assert f"widened by the calibrated bias allowance ± {lead['allowance']:g}" in first
    assert first.startswith(f"At K = {psi['at']['k']} (this run's K")
    rows = psi["views"]["k"]["rows"]
    ks = [r["k"] for r in rows]
    lo, hi = min(rows, key=lambda r: r["estimate"]), max(rows, key=lambda r: r["estimate"])
    assert f"{lo['estimate']:.2f} at K = {lo['k']} to {hi['estimate']:.2f} at K = {hi['k']}" in first
    assert min(ks) == 25 and max(ks) == s["k_scan"]["k_max"]
    assert "not_stationary" in [w["name"] for w in s["warnings"]]
    boltzmann = next(c for c in s["findings"]["claims"] if c["key"] == "boltzmann_u")
    assert boltzmann["verdict"] == "inconclusive" and boltzmann["invalidated_by"] == ["not_stationary"]


@pytest.mark.parametrize("path", STORED, ids=lambda p: str(p.relative_to(DATA)))
def test_every_stored_sentence_reads_back_against_its_summary(path):
    """No sentence contradicts its summary: each claim's verdict (with what binds it) is the summary's, every number
    is a number of the summary, and no consistent verdict has an interval wider than twice its margin."""
    s = json.loads(path.read_text())
    said = sentences(s)
    allowed = _numbers(s)
    for sentence in said:
        stray = [n for n in NUMBER.findall(sentence) if n not in allowed]
        assert stray == [], (stray, sentence)
    for c in s["findings"]["claims"]:
        if c["rule"] == "equivalence" and c["verdict"] == "consistent":
            width = 0 if not isinstance(c["prediction"], list) else c["prediction"][1] - c["prediction"][0]
            assert c["ci95"][1] - c["ci95"][0] <= 2 * c["margin"] + width
        if c["key"] in ("psi", "psi_heldout"):
            assert any(f"{verdict_text(c)} with" in x for x in said)
            for view in c["views"]:
                if (text := view_text(c, view)) is not None:
                    assert any(text in x for x in said), (view, text)
            continue
        (mine,) = [x for x in said if x.startswith(c["title"] + " — ")]
        assert mine.endswith(f"{verdict_text(c)}.")


@pytest.mark.parametrize(("model", "name", "rate"), [
    ({"optimizer": "sgd"}, "SGD", "α h T"),
    ({"optimizer": "sgd_momentum", "momentum": 0.9}, "heavy-ball SGD (μ = 0.9)", "α h T/(1 − μ)"),
    ({"optimizer": "adam", "approximate": "frozen"}, "Adam", "(αPH)_ii T"),
    ({"optimizer": "rmsprop", "approximate": "frozen"}, "RMSprop", "(αPH)_ii T"),
])
def test_the_optimizer_and_its_relaxation_index_are_named(model, name, rate):
    assert optimizer_name(model) == name and relaxation_symbol(model) == rate


def _summary(**config) -> dict:
    s = json.loads((DATA / "cut-short" / "summary.json").read_text())
    s["config"] = {**s["config"], **config}
    return s


@pytest.mark.parametrize(("config", "said", "not_said"), [
    ({"model": "mlp", "hidden": [32, 32], "activation": "relu"}, "MLP hidden [32, 32], relu", "user factory"),
    ({"model": "mymodels:factory"}, "your model mymodels:factory (a user factory)", "relu"),
    ({"model": "lenet-bn"}, "lenet-bn", "relu"),
    ({"model": "mlp", "hidden": []}, "linear model (no hidden layer)", "relu"),
])
def test_a_users_model_is_named_as_such(config, said, not_said):
    rows = dict(settings_header(_summary(**config)))
    assert said in rows["model"] and not_said not in rows["model"]


def test_the_stored_ensembles_sentences_read_back_against_ensemble_json():
    """The ensemble page's words: each claim's run-to-run interval and verdict, and whether the seed moves it, are
    ensemble.json's; every number in them is one of its numbers."""
    from sgdpotential.report.words import ensemble_sentences

    ens = json.loads((DATA / "feng-tu-x3" / "ensemble.json").read_text())
    said = ensemble_sentences(ens, {"optimizer": "sgd"})
    allowed = _numbers(ens)
    for sentence in said:
        stray = [n for n in NUMBER.findall(sentence) if n not in allowed]
        assert stray == [], (stray, sentence)
    lead = ens["findings"]["headline"]["claim"]  # the estimator the calibration supports leads
    psi = next(c for c in ens["findings"]["claims"] if c["key"] == lead)
    assert said[0].startswith("Over 3 replicas of SGD (minibatch seeds 0, 1, 2 from one initialisation")
    assert f"{psi['ci95'][0]:.2f}, {psi['ci95'][1]:.2f}]" in said[0]
    assert f"widened by ± {psi['allowance']:.2f}, the estimator's largest |bias| in the calibration" in said[0]
    assert f"{verdict_text(psi)} with Feng & Tu's ψ ≈ {psi['prediction']:g} ± {psi['margin']:g}" in said[0]
    assert view_text(psi, "seed") in said[0] and psi["views"]["seed"]["verdict"] == "inconclusive"  # docs/data
    for c in ens["findings"]["claims"]:
        if c["key"] != lead:
            (mine,) = [x for x in said if x.startswith(c["title"] + " — ")]
            assert f"{verdict_text(c)}." in mine
