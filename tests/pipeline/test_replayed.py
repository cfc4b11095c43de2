"""Replayed windows for the sample-spectrum comparison: where they start, what they return, what they leave
behind, and ``replay_paths`` through ``sgdpotential run`` (summary, report, console; bad values refused).
Their exactness is checked on the exactly solvable case (``test_exact_linear.py``, reshuffled)."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sgdpotential.cli import app
from sgdpotential.nn.models import select_parameters
from sgdpotential.pipeline.replayed import replayed_spectra, window_start
from sgdpotential.pipeline.rundir import RunDir
from sgdpotential.trajectory import Trajectory

pytestmark = pytest.mark.e2e
runner = CliRunner()


def test_a_replayed_window_starts_where_the_runs_window_did(quick_run, tmp_path):
    """Every weight as the window opened (the store's ``start_all``); a store without it (written before it was
    kept) falls back to the first snapshot in the recorded weights and the window mean in the others."""
    out, _ = quick_run
    rd = RunDir(out)
    net, pca = rd.network(), rd.load(RunDir.PCA)
    obj = net.objective("all", base=pca["mean_all"])
    recorded = select_parameters(net.model, net.config.params).names
    store = Trajectory.open(rd / RunDir.TRAJECTORY)
    start, how = window_start(obj, recorded, store)
    assert how == "window"
    np.testing.assert_array_equal(start.cpu().numpy(), store.start_all.astype(np.float32))

    class Older:  # the same store as an older release wrote it: no start_all
        start_all = None
        read = store.read

    start, how = window_start(obj, recorded, Older())
    start = start.cpu().numpy()
    inside = np.zeros(obj.n_params, dtype=bool)
    inside[torch.arange(obj.n_params)[obj.selection.positions(recorded)].numpy()] = True
    assert how == "first snapshot" and 0 < inside.sum() == store.n_params < obj.n_params  # hidden weights only
    np.testing.assert_array_equal(start[inside], store.read(0, 1)[0])
    np.testing.assert_array_equal(start[~inside], pca["mean_all"][~inside].astype(start.dtype))


def test_replayed_spectra_are_the_runs_pca_of_fresh_windows_and_leave_nothing_behind(quick_run_copy):
    out, _ = quick_run_copy
    before = sorted(p.name for p in out.iterdir())
    spectra, start = replayed_spectra(out, 5)
    assert start == "window"
    K = np.load(out / "pca.npz")["variances"].size
    assert spectra.shape == (5, K) and np.all(spectra > 0)
    assert np.all(np.diff(spectra, axis=1) <= 0)  # each a descending PCA spectrum
    assert len({tuple(row) for row in spectra}) == 5  # each path its own minibatches
    np.testing.assert_array_equal(replayed_spectra(out, 5)[0], spectra)  # seeded: the same windows again
    assert sorted(p.name for p in out.iterdir()) == before  # the replays' stores are gone


def test_replay_paths_through_run_adds_the_replayed_comparison(tmp_path):
    cfg = tmp_path / "r.toml"
    cfg.write_text('preset = "quick"\nreplay_paths = 5\n[train]\nwindow_epochs = 1.0\n')
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "--config", str(cfg), "--out", str(out), "--no-ladder"])
    assert result.exit_code == 0, result.output
    s = json.loads((out / "summary.json").read_text())
    replay = s["sample_spectrum_replay"]
    assert replay["paths"] == 5 and replay["start"] == "window"
    assert np.load(out / "probes.npz")["replay_spectra"].shape == (5, len(replay["simulated_mean"]))
    assert {b["verdict"] for b in replay["bands"]} <= {"consistent", "inconsistent", "inconclusive"}
    warning = next(w["message"] for w in s["warnings"] if w["name"] == "reshuffled_minibatches")
    assert "the replayed windows draw minibatches as the run did" in warning
    replayed = next(c for c in s["findings"]["claims"] if c["key"] == "sigma_replayed")
    assert [b["relaxation"] for b in replayed["bands"]] == [b["relaxation"] for b in replay["bands"][1:]]
    assert "The linearization in every weight (Eq. 20) carries the fluctuations — " in " ".join(result.stdout.split())
    html = " ".join((out / "report.html").read_text().split())
    assert "The 5 windows replayed on the minibatch-Hessian linearization (Eq. 20 in every weight, minibatches drawn " \
        "as the run drew them, started from every weight as this window opened" in html


@pytest.mark.parametrize("value", [3, -1])
def test_too_few_replay_paths_are_refused_before_any_work(tmp_path, value):
    cfg = tmp_path / "r.toml"
    cfg.write_text(f'preset = "quick"\nreplay_paths = {value}\n')
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert f"replay_paths = {value}" in message and ("at least 5" in message or "≥ 0" in message), message
    assert not out.exists()


def test_a_diverging_replay_is_reported_and_the_run_goes_on(quick_run_copy, monkeypatch):
    """The quadratic model of a network can be unstable: the probes keep why, the summary and the report say it,
    and everything else is analysed as usual."""
    import sgdpotential.dynamics.replay as replay
    from sgdpotential.errors import TrainingDiverged
    from sgdpotential.pipeline.analysis import analyze, probe_run
    from sgdpotential.report import make_report

    out, _ = quick_run_copy
    cfg = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**cfg, "replay_paths": 5}))

    def diverges(*args, **kwargs):
        raise TrainingDiverged("the batch-Hessian replay diverged by step 7: the weights became non-finite.")

    monkeypatch.setattr(replay, "linearized_replays", diverges)
    probe_run(out)
    s = analyze(out)
    assert s["sample_spectrum_replay"] == {"error": "the batch-Hessian replay diverged by step 7: the weights "
                                                    "became non-finite."}
    assert s["sample_spectrum"]["bands"] and s["ivf"]["psi"] is not None  # the rest as usual
    assert not [p for p in out.iterdir() if p.name.startswith("replayed-")]
    html = " ".join(make_report(out).read_text().split())
    assert "The replayed windows (minibatch-Hessian linearization, Eq. 20) are not compared: the batch-Hessian" in html
