"""The main job on the quick preset: run → probes → summary.json; analyze reproduces it; seeds reproduce it."""

import hashlib
import json

import numpy as np
import pytest
from typer.testing import CliRunner

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
    assert page.count("data:image/png;base64,") == 9 and "Verdict" in page and "inverse variance" in page
    assert "Which ingredient makes IVF?" in page
    s = json.loads((out / "summary.json").read_text())
    assert s["schema"] == "sgdpotential.summary/1"
    assert s["ivf"]["n_used"] + s["ivf"]["n_drift"] >= 19 and s["ivf"]["psi"] is not None
    assert [n["window"] for n in s["ivf"]["nested"]] == [35, 70, 140, 280]
    assert s["potential"]["kind"] in ("stable", "saddle")
    for key in ("continuous", "discrete", "window_stationary", "window_from_w0"):
        assert key in s["lyapunov"]
    probes = np.load(out / "probes.npz")
    assert probes["hessian"].shape == probes["noise_cov"].shape == (20, 20)
    assert "IVF" in result.stdout and "finite window" in result.stdout
    s = json.loads((out / "summary.json").read_text())
    assert s["heldout"]["split"] + s["heldout"]["n_second"] == s["ivf"]["window"]
    assert len(s["sample_spectrum"]["simulated_mean"]) == 20 and len(s["sample_spectrum"]["bands"]) == 4
    assert [w["name"] for w in s["warnings"]] == ["reshuffled_minibatches"]  # the quick preset reshuffles
    views = s["views"]
    assert views["age"] == "untested" and views["k"] in ("stable", "moves") and views["window"] in ("stable", "moves")
    assert views["moved_by"] == [k for k in ("k", "window") if views[k] == "moves"]
    assert s["sample_spectrum"]["noise"]["source"] == "path"
    assert s["stationarity"]["verdict"] in ("consistent", "inconsistent") and s["stationarity"]["se"] > 0
    scan = s["k_scan"]  # quick: K = 20, T = 280 snapshots → K_max = 70
    assert scan["k_max"] == 70 and [r["k"] for r in scan["rows"]] == [20, 25, 50, 70]
    assert scan["rows"][0]["feng_tu"] == {k: s["ivf"][k] for k in ("psi", "ci95", "r2", "n_used")}  # nested reuse
    assert scan["feng_tu_verdict"] in ("stable", "moves with K") and "ψ by K" in result.stdout
    assert "sample spectrum" in result.stdout
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
    assert {k: v for k, v in first.items() if k != "provenance"} == second
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
    assert r.exit_code == 2 and "unknown configuration key 'learning_rate'" in r.stderr
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = runner.invoke(app, ["run", "--preset", "quick", "--out", str(blocker / "run")])
    assert r.exit_code == 2 and "does not exist; create it first" in r.stderr and "Traceback" not in r.output


def test_every_verdict_on_an_exponent_follows_the_one_rule(quick_run):
    """summary.json, the report and the command line say consistent / inconsistent / inconclusive by the rule of
    sgdpotential.verdicts, from the stored interval — never a bare "contains the value"."""
    import html

    from sgdpotential.verdicts import RULE, interval_verdict

    out, result = quick_run
    s = json.loads((out / "summary.json").read_text())
    judged = [(e["ci95"], e["paper"], e["paper_verdict"]) for e in s["exponents"].values() if e]
    judged.append((s["ivf"]["ci95"], 4.0, s["ivf"]["feng_tu_verdict"]))
    sl = s["potential"].get("sigma2_vs_u_flatness")
    if sl:
        judged.append((sl["ci95"], sl["paper"], sl["paper_verdict"]))
    for ci, predicted, said in judged:
        assert said == interval_verdict(ci, tuple(predicted) if isinstance(predicted, list) else predicted)
    page = html.unescape((out / "report.html").read_text())
    assert RULE in page and f"ψ ≈ 4: {s['ivf']['feng_tu_verdict']}." in page
    assert f"Feng & Tu: ψ ≈ 4 — {s['ivf']['feng_tu_verdict']}" in " ".join(result.stdout.split())


def _health(**over):
    """A summary as the health checks read it: a clean run unless ``over`` says otherwise."""
    s = {"burn_in": {"reached_target": True, "target_epochs": 30, "accuracy": 1.0},
         "ivf": {"n_used": 45, "n_drift": 1},
         "exponents": {"hessian_diag_vs_flatness": {"n": 45}, "noise_vs_hessian_diag": None},
         "pca": {"pc1_ratio": 0.9, "null_pc1_ratio": 0.6},
         "model": {"optimizer": "sgd"}}
    for key, value in over.items():
        s[key] = {**s[key], **value}
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
