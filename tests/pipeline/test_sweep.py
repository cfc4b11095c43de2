"""Sweeps: the grid on both engines gives one table; failures are recorded; a killed sweep finishes only
what is missing; bad input is refused before anything is written."""

import csv
import html
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from quick import QUICK_AXES, QUICK_GRID, QUICK_RUNS
from sgdpotential.cli import app
from sgdpotential.errors import ConfigError
from sgdpotential.pipeline.config import preset
from sgdpotential.pipeline.sweep import load_sweep, parse_axes, sweep, sweep_points

pytestmark = pytest.mark.e2e

runner = CliRunner()
GRID = QUICK_GRID


def _table(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def local_grid(quick_sweep):
    return quick_sweep


def test_grid_of_the_quick_preset_completes_locally(local_grid):
    out, result = local_grid
    rows = _table(out / "results.csv")
    assert len(rows) == QUICK_RUNS and all(r["status"] == "done" for r in rows)
    assert {(r["lr"], r["batch_size"], r["seed"]) for r in rows} == {
        (lr, b, s) for lr in QUICK_AXES["lr"] for b in QUICK_AXES["batch_size"] for s in QUICK_AXES["seed"]}
    for r in rows:
        run = out / r["name"]
        assert (run / "summary.json").exists() and (run / "report.html").exists()
        assert float(r["psi"]) == json.loads((run / "summary.json").read_text())["ivf"]["psi"]
        assert float(r["lr_over_b"]) == float(r["lr"]) / int(r["batch_size"])
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["fits"]["n_done"] == QUICK_RUNS and "variance_vs_lr_over_b" in meta["fits"]
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["psi_vs_batch_size.png", "psi_vs_lr.png",
                                                                  "variance_vs_lr_over_b.png"]
    page = html.unescape((out / "sweep.html").read_text())
    (slope,) = meta["fits"]["findings"]["claims"]  # the sweep's own claim, judged by the one rule
    assert slope["key"] == "variance_vs_lr_over_b" and slope["n"] == QUICK_RUNS
    assert f"The top variances scale as α/B — {slope['source']}: slope = {slope['estimate']:.2f}" in page
    assert 'id="scorecard"' in page
    assert f"against {slope['prediction']:g} ± {slope['margin']:g}: {slope['verdict']}" in page
    for r in rows:  # each run's ψ verdict, as its own findings say, and its headline ψ (the calibrated estimator)
        findings = json.loads((out / r["name"] / "summary.json").read_text())["findings"]
        psi = next(c for c in findings["claims"] if c["key"] == "psi")
        assert r["psi_verdict"] == psi["verdict"]
        head = findings["headline"]
        assert r["headline_estimator"] == head["estimator"] == "heldout"
        assert (r["headline_lo"] == "" if head["ci95"] is None else
                float(r["headline_lo"]) == pytest.approx(head["ci95"][0]))
        assert r["headline_verdict"] == (head["verdict"] or "")
    assert sum(meta["fits"]["psi_verdicts"].values()) == QUICK_RUNS
    assert f"{QUICK_RUNS} run now, 0 already finished" in result.stdout


@pytest.mark.ray
def test_ray_backend_gives_the_same_table(local_grid, tmp_path):
    out, _ = local_grid
    ray_out = tmp_path / "ray"
    result = runner.invoke(app, ["sweep", "--preset", "quick", *GRID, "--out", str(ray_out), "--backend", "ray"])
    assert result.exit_code == 0, result.output
    # same runs, same numbers, bit for bit: one BLAS/torch thread count per run on both engines
    assert (ray_out / "results.csv").read_text() == (out / "results.csv").read_text()
    assert json.loads((ray_out / "sweep.json").read_text())["backend"] == "ray"


def test_a_failing_run_does_not_stop_the_others_and_is_retried(tmp_path):
    base = preset("quick", window_epochs=1.0, components=8)
    out = tmp_path / "fail"
    res = sweep(base, out, axes={"lr": [0.1, 1e6]}, workers=2)
    assert res.failed == ["lr=1000000.0"] and sorted(res.ran) == ["lr=0.1", "lr=1000000.0"]
    rows = {r["name"]: r for r in _table(out / "results.csv")}
    assert rows["lr=0.1"]["status"] == "done" and rows["lr=0.1"]["psi"]
    assert rows["lr=1000000.0"]["status"] == "failed"
    assert rows["lr=1000000.0"]["error"].startswith("SGD diverged at step")  # the sentence the command line prints
    assert "(lr = 1e+06) — try lr ≤ 100000." in rows["lr=1000000.0"]["error"]
    assert "SGD diverged" in json.loads((out / "lr=1000000.0" / "failed.json").read_text())["error"]
    stamp = (out / "lr=0.1" / "summary.json").stat().st_mtime_ns
    again = sweep(base, out, axes={"lr": [0.1, 1e6]}, workers=2)
    assert again.skipped == ["lr=0.1"] and again.ran == ["lr=1000000.0"] and again.failed == ["lr=1000000.0"]
    assert (out / "lr=0.1" / "summary.json").stat().st_mtime_ns == stamp


@pytest.mark.kill
def test_a_killed_sweep_finishes_only_the_missing_runs(tmp_path):
    out = tmp_path / "killed"
    args = ["sweep", "--preset", "quick", "--grid", "seed=0,1,2", "--out", str(out), "--workers", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "sgdpotential.cli", *args], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("*/report.html")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        time.sleep(1.5)  # let the next run start, so that the kill interrupts one
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/report.html")}
    assert 1 <= len(finished) < 3 and not (out / "results.csv").exists()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = _table(out / "results.csv")
    assert [r["status"] for r in rows] == ["done"] * 3
    assert {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/report.html") if p.parent.name in finished} \
        == finished  # the finished runs were not touched
    assert f"{3 - len(finished)} run now, {len(finished)} already finished" in result.stdout


def test_axes_points_and_sweep_files(tmp_path):
    assert parse_axes(["lr=0.05, 0.1", "params=hidden,all", "seed=3"]) == {
        "lr": [0.05, 0.1], "params": ["hidden", "all"], "seed": [3]}
    pts = sweep_points(preset("quick"), {"lr": [0.1, 0.2], "components": [5, 10]})
    assert [p.name for p in pts] == ["lr=0.1_components=5", "lr=0.1_components=10", "lr=0.2_components=5",
                                     "lr=0.2_components=10"]
    assert pts[3].config.train["lr"] == 0.2 and pts[3].config.components == 10
    f = tmp_path / "s.toml"
    f.write_text('preset = "quick"\ncomponents = 8\n[train]\nwindow_epochs = 2.0\n[grid]\nlr = [0.1, 0.2]\n')
    base, axes, runs = load_sweep(f)
    assert base.components == 8 and base.train["window_epochs"] == 2.0 and axes == {"lr": [0.1, 0.2]} and runs is None
    f.write_text('preset = "quick"\n[[runs]]\nlr = 0.1\n[[runs]]\nlr = 0.2\nbatch_size = 16\n')
    base, axes, runs = load_sweep(f)
    assert axes is None and [p.name for p in sweep_points(base, runs=runs)] == ["lr=0.1", "lr=0.2_batch_size=16"]


@pytest.mark.parametrize("args,message", [
    (["--grid", "lr"], "grid axis 'lr' must look like name=v1,v2"),
    (["--grid", "lr=0.1", "--grid", "lr=0.2"], "grid axis 'lr' is given twice"),
    (["--grid", "learning_rate=0.1"], "unknown sweep field 'learning_rate'"),
    (["--grid", "lr=0.1,-1"], "point lr=-1: lr = -1 must be a finite number > 0"),
    (["--grid", "batch_size=32,5000"], "point batch_size=5000: batch_size = 5000 must be an integer in [1, 1797]"),
    (["--grid", "seed=0", "--backend", "spark"], "backend = 'spark' is not one of local, ray"),
    ([], "nothing to sweep"),
])
def test_bad_input_one_sentence_exit_2_nothing_written(tmp_path, args, message):
    out = tmp_path / "bad"
    result = runner.invoke(app, ["sweep", "--preset", "quick", *args, "--out", str(out)])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output
    assert not out.exists()


def test_a_different_sweep_in_the_same_folder_is_refused(tmp_path):
    base = preset("quick", window_epochs=1.0, components=8)
    sweep(base, tmp_path / "s", axes={"seed": [0]}, workers=1)
    with pytest.raises(ConfigError, match="holds a different sweep"):
        sweep(base, tmp_path / "s", axes={"seed": [1]}, workers=1)


def test_replica_jobs_group_points_that_differ_only_in_seeds():
    """With --replicas, the minibatch seed and the initialisation (model_seed) may vary within one job."""
    from sgdpotential.pipeline.sweep import _groups

    points = sweep_points(preset("quick"), axes={"lr": [0.1, 0.2], "seed": [0, 1], "model_seed": [0, 1]})
    groups = _groups(points, replicas=True)
    assert [len(g) for g in groups] == [4, 4]
    assert all(len({p.config.train["lr"] for p in g}) == 1 for g in groups)
    assert {(p.config.train["seed"], p.config.model_seed) for p in groups[0]} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert [len(g) for g in _groups(points, replicas=False)] == [1] * 8
