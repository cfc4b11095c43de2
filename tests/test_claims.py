"""The claims registry: every tested statement is data with one home — its prediction, its margin and why — and
every prediction is defined once in the package (no literal in a page, a figure or the command line)."""

import ast
import re
from pathlib import Path

import pytest

from sgdpotential import claims
from sgdpotential.claims import CLAIMS, SWEEP_CLAIMS, WARNINGS, claim

SRC = Path(claims.__file__).resolve().parent


def test_every_claim_is_complete_and_unique():
    keys = [c.key for c in (*CLAIMS, *SWEEP_CLAIMS)]
    assert len(keys) == len(set(keys))
    for c in (*CLAIMS, *SWEEP_CLAIMS):
        assert c.title and c.source and c.quantity and c.symbol and c.margin_reason, c.key
        assert c.rule in ("equivalence", "null", "above_null"), c.key
        if c.rule == "equivalence":
            assert c.prediction is not None and c.margin is not None and c.margin > 0, c.key
        else:
            assert c.prediction is None and c.margin is None, c.key
        assert claim(c.key) is c


def test_the_issue_lists_claims_are_all_registered():
    for key in ("psi", "psi_heldout", "sigma_subspace", "boltzmann_u", "hessian_vs_flatness", "noise_vs_flatness",
                "theta_paper", "theta_feng_tu", "noise_vs_hessian", "pc1_drift", "ladder_batch", "ladder_full",
                "ladder_isotropic"):
        claim(key)


def test_the_predictions_follow_from_the_sources_constants():
    """The founding paper's chain: D ∝ F^−2n, ψ = 2n − 2, σ_θ ∝ F^(2−n); it reproduces Feng & Tu's ψ at its n."""
    assert claim("noise_vs_flatness").prediction == -2 * claims.PAPER_N
    assert 2 * claims.PAPER_N - 2 == claims.FENG_TU_PSI == claim("psi").prediction == claim("psi_heldout").prediction
    assert claim("theta_paper").prediction == 2 - claims.PAPER_N
    assert claim("ladder_isotropic").prediction == -claim("boltzmann_u").prediction == -claims.BOLTZMANN_SLOPE


def test_margins_are_half_the_distance_to_the_nearest_competitor():
    theta = abs(claim("theta_feng_tu").prediction - claim("theta_paper").prediction)
    assert claim("theta_feng_tu").margin == claim("theta_paper").margin == theta / 2
    gamma = claims.PAPER_N - claims.LITERATURE_GAMMA[1]
    assert claim("noise_vs_hessian").margin == claim("noise_vs_hessian_paper").margin == gamma / 2
    assert claim("boltzmann_u").margin == claims.BOLTZMANN_SLOPE / 2
    # ψ = 2n − 2: half a unit of n is one unit of ψ; the ladder's replays are judged in units of ψ
    assert claim("psi").margin == 2 * 0.5 == claim("ladder_batch").margin == claim("ladder_isotropic").margin


def test_every_warning_names_tags_that_claims_carry():
    tags = set().union(*(c.tags for c in CLAIMS))
    names = [w.name for w in WARNINGS]
    assert len(names) == len(set(names))
    for w in WARNINGS:
        assert (w.invalidates | w.qualifies) <= tags, w.name
        assert w.explanation.endswith("."), w.name
    assert "not_stationary" in names and names.index("target_not_reached") == 0  # most severe first
    stationary = [c.key for c in CLAIMS if c.tags & claims.warning_kind("not_stationary").invalidates]
    assert stationary == ["boltzmann_u"]  # it invalidates the stationary law's claims, not the finite-window ones


def _strings(path: Path):
    """Every string literal (f-string parts included) of a module, with its line — docstrings and comments aside:
    what a page, a figure or the command line can print."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


@pytest.mark.parametrize("path", sorted(p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
                                        if p.parts[-2] in ("report", "pipeline") or p.name == "cli.py"))
def test_no_prediction_is_typed_into_a_page_or_the_command_line(path):
    """No 'ψ ≈ 4', 'paper −6', 'Boltzmann: +2' or '1–2' written as text: predictions come from the registry."""
    pattern = re.compile(r"(ψ ≈ \d|paper:? [−+-]?\d|Boltzmann[^\"']*: ?\+\d|literature \d–\d|Feng & Tu:? [−+]?\d"
                         r"|predicts [−+]?\d|slope \d\b|~\d+×)")
    hits = [(line, text) for line, text in _strings(SRC / path) if pattern.search(text)]
    assert hits == [], hits
