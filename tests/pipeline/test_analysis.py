"""The main job on the quick preset: run → probes → summary.json; analyze reproduces it; seeds reproduce it."""

import hashlib
import html
import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from quick import assert_pinned
from sgdpotential.cli import app

pytestmark = pytest.mark.e2e

runner = CliRunner()


def test_run_writes_every_stage(quick_run):
    out, result = quick_run
    names = sorted(p.name for p in out.iterdir())
    assert names == ["config.json", "figures", "ladder.json", "pca.npz", "probes.npz", "record.json", "replays",
                     "report.html", "summary.json", "trajectory.zarr"]
    assert sorted(p.stem for p in (out / "figures").glob("*.png")) == [
        "ivf", "ladder", "lyapunov", "profiles", "scaling", "spectra", "spectrum", "trajectory", "views"]
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 9 and "Verdict" in page and "IVF: σ_i² ∝ F_i^−ψ" in page
    assert "Which ingredient makes IVF?" in page
    s = json.loads((out / "summary.json").read_text())
    assert s["schema"] == "sgdpotential.summary/2"
    assert s["ivf"]["n_used"] + s["ivf"]["n_drift"] >= 19
    # ψ both ways and the directions fitted, pinned on this deterministic run
    # (2026-12-03, torch 2.13.0+cpu; quick.PINNED_TORCH): a change that moves it must say why
    assert_pinned(s["ivf"]["n_used"], 19, abs=0)
    assert_pinned((s["ivf"]["psi"], s["heldout"]["ivf_psi"]), (2.309, 1.295))
    assert [n["window"] for n in s["ivf"]["nested"]] == [35, 70, 140, 280]
    assert s["potential"]["kind"] in ("stable", "saddle")
    for key in ("continuous", "discrete", "window_stationary", "window_from_w0"):
        assert key in s["lyapunov"]
    probes = np.load(out / "probes.npz")
    assert probes["hessian"].shape == probes["noise_cov"].shape == (20, 20)
    assert "claims (summary.json findings)" in result.stdout and "At K = 20 (this run's K" in result.stdout
    s = json.loads((out / "summary.json").read_text())
    assert s["heldout"]["split"] + s["heldout"]["n_second"] == s["ivf"]["window"]
    assert len(s["sample_spectrum"]["simulated_mean"]) == 20 and len(s["sample_spectrum"]["bands"]) == 4
    # the quick preset reshuffles, and its window drifts (Yaida's ratio far from 1): most severe first
    assert [w["name"] for w in s["warnings"]] == ["not_stationary", "reshuffled_minibatches"]
    psi = next(c for c in s["findings"]["claims"] if c["key"] == "psi")
    assert "age" not in psi["views"] and set(psi["views"]) == {"k", "window"}
    assert psi["moved_by"] == [k for k in ("k", "window") if psi["views"][k]["verdict"] == "moves"]
    assert s["sample_spectrum"]["noise"]["source"] == "path"
    assert s["stationarity"]["se"] > 0 and "verdict" not in s["stationarity"]
    scan = s["k_scan"]  # quick: K = 20, T = 280 snapshots → K_max = 70
    assert scan["k_max"] == 70 and [r["k"] for r in scan["rows"]] == [20, 25, 50, 70]
    assert scan["rows"][0]["feng_tu"] == {k: s["ivf"][k] for k in ("psi", "ci95", "r2", "n_used")}  # nested reuse
    assert "ψ by K" in result.stdout and "Σ = εU⁻¹ in the principal subspace" in result.stdout
    assert "<b>reshuffled_minibatches</b>" in (out / "report.html").read_text()


def test_analyze_reproduces_the_summary_from_stored_arrays(quick_run_copy):
    out, _ = quick_run_copy
    before = (out / "summary.json").read_bytes()
    (out / "summary.json").unlink()
    result = runner.invoke(app, ["analyze", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").read_bytes() == before


def test_same_seed_same_summary(quick_run, tmp_path):
    out, _ = quick_run
    again = tmp_path / "again"
    assert runner.invoke(app, ["run", "--preset", "quick", "--out", str(again), "--no-ladder"]).exit_code == 0
    assert not (again / "ladder.json").exists()
    first, second = (json.loads((d / "summary.json").read_text()) for d in (out, again))
    # every number is the same; only the provenance of the recording (its date) tells the runs apart
    prov = second.pop("provenance")
    found, again_found = first.pop("findings"), second.pop("findings")
    assert {k: v for k, v in first.items() if k != "provenance"} == second
    # the findings too, but for the ladder's claims, which the second run (no ladder) cannot test
    assert again_found["claims"] == [c for c in found["claims"] if not c["key"].startswith("ladder_")]
    assert [u["key"] for u in again_found["untested"]] == [u["key"] for u in found["untested"]] + [
        "ladder_batch", "ladder_full", "ladder_isotropic"]
    assert prov["record"]["date"] and prov["record"]["torch_threads"] >= 1 and prov["record"]["device"] == "cpu"
    assert prov["analysis"]["sgdpotential"] == prov["record"]["sgdpotential"]


def test_non_empty_output_is_refused_and_left_untouched(quick_run):
    out, _ = quick_run
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir() if p.is_file()}
    result = runner.invoke(app, ["run", "--preset", "quick", "--out", str(out)])
    assert result.exit_code == 2
    assert "is not empty; choose a new --out, pass --resume to continue the run in it, or --force" in " ".join(
        result.stderr.split())
    assert digest == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir() if p.is_file()}


def test_resume_finishes_the_missing_stages(tmp_path):
    out = tmp_path / "run"
    assert runner.invoke(app, ["record", "--preset", "quick", "--out", str(out), "--window-epochs", "1"]).exit_code == 0
    result = runner.invoke(app, ["analyze", str(out)])
    assert result.exit_code == 2 and "has no probes.npz; finish the earlier stages first" in result.stderr
    result = runner.invoke(app, ["run", "--preset", "quick", "--out", str(out), "--window-epochs", "1", "--resume"])
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").exists() and (out / "probes.npz").exists() and (out / "ladder.json").exists()


def test_diverging_run_exits_2(tmp_path):
    result = runner.invoke(app, ["run", "--preset", "quick", "--out", str(tmp_path / "d"), "--lr", "1e6"])
    assert result.exit_code == 2 and "SGD diverged at step" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "d").exists()  # no half-written run left behind


def test_config_file_force_and_bad_outputs(tmp_path):
    cfg = tmp_path / "quick.toml"
    cfg.write_text('preset = "quick"\ncomponents = 8\n[train]\nwindow_epochs = 1.0\nseed = 3\n')
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "--config", str(cfg), "--out", str(out), "--no-ladder"])
    assert result.exit_code == 0, result.output
    used = json.loads((out / "config.json").read_text())
    assert used["components"] == 8 and used["train"]["seed"] == 3 and used["dataset"] == "digits"
    from dataclasses import asdict

    from sgdpotential.dynamics.training import TrainConfig

    complete = {**used, "train": {**asdict(TrainConfig()), **used["train"]}}  # every setting, defaults included
    assert json.loads((out / "summary.json").read_text())["config"] == complete
    again = runner.invoke(app, ["run", "--config", str(cfg), "--out", str(out), "--force", "--seed", "4",
                                "--no-ladder"])
    assert again.exit_code == 0, again.output
    assert json.loads((out / "config.json").read_text())["train"]["seed"] == 4  # option beats the file
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = = 1")
    r = runner.invoke(app, ["run", "--config", str(bad), "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "is not valid TOML" in r.stderr
    bad.write_text('preset = "quick"\nlearning_rate = 0.1\n')
    r = runner.invoke(app, ["run", "--config", str(bad), "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "unknown key 'learning_rate'; known keys are" in r.stderr
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = runner.invoke(app, ["run", "--preset", "quick", "--out", str(blocker / "run")])
    assert r.exit_code == 2 and "does not exist; create it first" in r.stderr and "Traceback" not in r.output


def test_every_verdict_follows_the_one_rule_from_its_stored_interval_and_warnings(quick_run):
    """summary.json's findings: each verdict is the rule applied to the stored interval, inconclusive exactly when a
    warning (or too few directions) invalidates it; none is consistent on an interval wider than twice its margin."""
    from sgdpotential.claims import claim, warning_kind
    from sgdpotential.verdicts import MIN_POINTS, RULE, equivalence

    out, _ = quick_run
    s = json.loads((out / "summary.json").read_text())
    names = [w["name"] for w in s["warnings"]]
    claims = s["findings"]["claims"]
    assert {c["key"] for c in claims} >= {"psi", "psi_heldout", "hessian_vs_flatness", "ladder_batch", "stationary"}
    for c in claims:
        reg = claim(c["key"])
        if c["rule"] == "equivalence":
            assert c["raw_verdict"] == equivalence(c["ci95"], reg.prediction, reg.margin)
            if c["verdict"] == "consistent":
                lo, hi = c["ci95"]
                assert hi - lo <= 2 * c["margin"] + (0 if c["prediction"] is None or not isinstance(
                    c["prediction"], list) else c["prediction"][1] - c["prediction"][0])
        expected = [n for n in names if reg.tags & warning_kind(n).invalidates]
        if c.get("n") is not None and c["n"] < MIN_POINTS:
            expected.append("few_fit_points")
        assert sorted(c["invalidated_by"]) == sorted(set(expected)), c["key"]
        assert c["verdict"] == ("inconclusive" if c["invalidated_by"] else c["raw_verdict"])
    page = html.unescape((out / "report.html").read_text())
    assert RULE in page and 'id="scorecard"' in page


NUMBER = re.compile(r"(?<![\w.])[−-]?\d+(?:\.\d+)?(?:e[−+-]?\d+)?%?")


def _formats(x: float) -> set[str]:
    out = set()
    for fmt in (".2f", ".3g", "#.3g", ".3f", "g", ".2g", ".1%", ".2%", ".0%", "+.2f", ".4f", "d"):
        try:
            out.add(format(x, fmt))
        except (ValueError, TypeError):
            pass
    return {v.replace("-", "−") for v in out} | out | {v.lstrip("+-−") for v in out}


def _numbers(obj) -> set[str]:
    """Every number of a JSON document in every format a page writes it with."""
    out: set[str] = set()
    if isinstance(obj, dict):
        for v in obj.values():
            out |= _numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            out |= _numbers(v)
    elif isinstance(obj, bool) or obj is None:
        pass
    elif isinstance(obj, int | float):
        out |= _formats(obj)
        if isinstance(obj, float) and obj.is_integer():
            out |= _formats(int(obj))
    elif isinstance(obj, str):
        out |= set(NUMBER.findall(obj))
    return out


def test_every_rendered_sentence_reads_back_against_the_summary(quick_run):
    """Each verdict sentence of the report and of the command line: its claim's verdict (with the warnings that
    bind it) is the summary's, and every number in it is a number of summary.json (or of the claim registry's own
    texts) — none is typed into the prose."""
    from sgdpotential.report.words import headline, sentences, verdict_text
    from sgdpotential.verdicts import RULE

    out, result = quick_run
    s = json.loads((out / "summary.json").read_text())
    said = sentences(s)
    page = " ".join(html.unescape((out / "report.html").read_text()).split())
    stdout = " ".join(result.stdout.split())
    allowed = _numbers(s) | set(NUMBER.findall(RULE))
    for sentence in said:
        assert " ".join(sentence.split()) in page
        assert " ".join(sentence.split()) in stdout
        stray = [n for n in NUMBER.findall(sentence) if n not in allowed]
        assert stray == [], (stray, sentence)
    for c in s["findings"]["claims"]:
        if c["key"] in ("psi", "psi_heldout"):
            continue
        (mine,) = [x for x in said if x.startswith(c["title"] + " — ")]
        assert f"{verdict_text(c)}." in mine, (c["key"], mine)
    lead = s["findings"]["headline"]["claim"]  # the estimator the calibration supports leads the headline
    psi = next(c for c in s["findings"]["claims"] if c["key"] == lead)
    first = headline(s["findings"], s["model"])[0]
    assert first.startswith(f"At K = {psi['at']['k']} (this run's K") and f"{verdict_text(psi)} with Feng & Tu" in first
    rows = psi["views"]["k"]["rows"]
    lo, hi = min(rows, key=lambda r: r["estimate"]), max(rows, key=lambda r: r["estimate"])
    assert f"{lo['estimate']:.2f} at K = {lo['k']}" in first and f"{hi['estimate']:.2f} at K = {hi['k']}" in first


def _health(**over):
    """A summary as the health checks read it: a clean run unless ``over`` says otherwise."""
    s = {"burn_in": {"reached_target": True, "target_epochs": 30, "accuracy": 1.0},
         "ivf": {"n_used": 45, "n_drift": 1},
         "exponents": {"hessian_diag_vs_flatness": {"n": 45}, "noise_vs_hessian_diag": None},
         "pca": {"pc1_ratio": 0.9, "null_pc1_ratio": 0.6},
         "model": {"optimizer": "sgd"}}
    for key, value in over.items():
        s[key] = {**s.get(key, {}), **value}
    return s


@pytest.mark.parametrize(("over", "shape", "name", "words"), [
    ({}, (50, 1000, 2500), None, None),
    ({"burn_in": {"reached_target": False, "accuracy": 0.93}}, (50, 1000, 2500), "target_not_reached",
     "accuracy 0.9300, below the target 1"),
    ({}, (50, 150, 1000), "k_close_to_t", "K = 50 principal directions from T = 150 snapshots"),
    ({}, (5, 30, 1024), "few_snapshots", "T = 30 snapshots for N = 1024 recorded weights"),
    ({"ivf": {"n_used": 7}, "exponents": {"hessian_diag_vs_flatness": {"n": 7}}}, (50, 1000, 2500), "few_fit_points",
     "ivf (7), hessian_diag_vs_flatness (7)"),
    ({"ivf": {"n_drift": 0}}, (50, 1000, 2500), "drift_not_separated", "PC1 holds 0.90 of the variance"),
    ({"model": {"optimizer": "adam", "approximate": "frozen", "preconditioner_drift": 0.125}}, (50, 1000, 2500),
     "frozen_preconditioner", "optimizer = 'adam': the laws treat its second-moment estimate as frozen over the "
                              "window (the preconditioner 1/(√v̂ + ϵ) moved by 12.5%"),
    ({"stationarity": {"fdr_ratio": -108.0, "se": 45.0}}, (50, 1000, 2500), "not_stationary",
     "Yaida's fluctuation–dissipation ratio over the window is -108 ± 45 (1 at stationarity)"),
    ({"stationarity": {"fdr_ratio": 0.97, "se": 0.02}}, (50, 1000, 2500), None, None),  # within 1 ± margin
    ({"coupling": 0.015}, (50, 1000, 2500), "model_not_deterministic",
     "in training mode a sample's output depends on the rest of its minibatch (relative change 0.015"),
])
def test_each_health_check_names_its_warning(over, shape, name, words):
    from sgdpotential.dynamics.training import TrainConfig
    from sgdpotential.pipeline.analysis import _warnings

    over = dict(over)
    coupling = over.pop("coupling", 0.0)
    tcfg = TrainConfig(sampling="replacement", optimizer=(over.get("model") or {}).get("optimizer", "sgd"))
    got = _warnings(tcfg, _health(**over), *shape, coupling)
    assert [w["name"] for w in got] == ([name] if name else [])
    if words:
        assert words in got[0]["message"]


def test_warnings_are_ordered_by_severity():
    from sgdpotential.claims import WARNINGS
    from sgdpotential.dynamics.training import TrainConfig
    from sgdpotential.pipeline.analysis import _warnings

    s = _health(burn_in={"reached_target": False, "accuracy": 0.4}, ivf={"n_used": 4, "n_drift": 0},
                stationarity={"fdr_ratio": -5.0, "se": 1.0})
    got = [w["name"] for w in _warnings(TrainConfig(sampling="shuffle"), s, 50, 120, 2500)]
    assert got == ["target_not_reached", "few_snapshots", "k_close_to_t", "few_fit_points", "not_stationary",
                   "drift_not_separated", "reshuffled_minibatches"]
    assert got == [w.name for w in WARNINGS if w.name in got]
