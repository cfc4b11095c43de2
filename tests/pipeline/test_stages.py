"""A fresh run that stops with a sentence — SGD diverged, a frozen window, a failing stage — exits 2 with that
sentence and leaves nothing behind; a resumed or interrupted run keeps its folder."""

import json
import re
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from sgdpotential.cli import app
from sgdpotential.errors import ConfigError
from sgdpotential.pipeline.config import preset
from sgdpotential.pipeline.stages import plan, run_stages

runner = CliRunner()


def test_a_diverging_run_exits_2_at_once_with_the_sentence_and_leaves_nothing(tmp_path):
    """The issue's command: `sgdpotential run --preset quick --lr 200 --no-ladder`."""
    out = tmp_path / "div"
    t = time.perf_counter()
    r = runner.invoke(app, ["run", "--preset", "quick", "--lr", "200", "--no-ladder", "--out", str(out)])
    seconds = time.perf_counter() - t
    assert r.exit_code == 2, r.output
    assert re.fullmatch(r"error: SGD diverged at step 3 \(epoch 1\): the minibatch loss reached [0-9.]+e\+0\d, "
                        r"more than 10000 times its first value 2\.3\d\d; lr is too large for this network "
                        r"\(lr = 200\) — try lr ≤ 100\.", " ".join(r.stderr.split())), r.stderr
    assert "Traceback" not in r.output and not out.exists()
    assert seconds < 60  # stopped in the first epoch, not after 100 epochs of burn-in (a sanity bound, not a timing)


def test_a_window_whose_weights_do_not_move_is_one_sentence(tmp_path):
    out = tmp_path / "frozen"
    r = runner.invoke(app, ["run", "--preset", "quick", "--lr", "1e-30", "--window-epochs", "1", "--no-ladder",
                            "--out", str(out)])
    assert r.exit_code == 2, r.output
    message = " ".join(r.stderr.split())
    assert ("the 1024 recorded weights did not move over the window's 56 steps (zero variance; burn-in ended at "
            "training accuracy 0.101) with lr = 1e-30: SGD is frozen or the network is dead") in message
    assert "Traceback" not in r.output and not out.exists()


def test_a_stage_after_the_recording_keeps_it_and_says_how_to_finish(tmp_path, monkeypatch):
    """Minutes of training are not thrown away for a failure in the probes, the ladder or the analysis: the sentence
    says the recording is kept and how to finish; a failure in the recording itself leaves nothing, and an empty
    folder the user made is emptied, not removed."""
    from sgdpotential.pipeline import stages

    def fails(run_dir, **kwargs):
        raise ConfigError("the probes cannot go on.")

    monkeypatch.setattr(stages, "probe_run", fails)
    cfg = preset("quick", window_epochs=1.0)
    fresh = tmp_path / "fresh"
    with pytest.raises(ConfigError, match=r"^the probes cannot go on; the recording is kept in '.*fresh': once "
                                          r"that is fixed, finish the run with 'sgdpotential run --out .*fresh "
                                          r"--resume'\.$"):
        run_stages(fresh, plan(), config=cfg)
    assert (fresh / "record.json").exists() and (fresh / "trajectory.zarr").exists()
    assert not (fresh / "probes.npz").exists()
    monkeypatch.undo()
    run_stages(fresh, plan(), config=cfg, resume=True)  # the advice works
    assert (fresh / "summary.json").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    with pytest.raises(ConfigError, match="SGD diverged at step"):
        run_stages(mine, plan(), config=preset("quick", lr=200.0))
    assert mine.exists() and list(mine.iterdir()) == []


@pytest.mark.parametrize(("name", "keep"), [("all censored", 0), ("one usable", 1), ("two usable", 2)])
def test_an_analysis_without_enough_usable_directions_says_so(quick_run_copy, name, keep):
    """The audit of divisions that can meet zero: every direction censored, or one or two left, give ψ = None with
    the few_fit_points warning, the claims untested with the reason, no headline verdict — never a traceback."""
    out, _ = quick_run_copy
    z = dict(np.load(out / "probes.npz"))
    for key in ("censored", "scan_censored", "heldout_censored"):
        z[key][:] = True
        z[key][:keep] = False
    np.savez(out / "probes.npz", **z)
    r = runner.invoke(app, ["analyze", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["ivf"]["psi"] is None and s["ivf"]["ci95"] is None
    assert "few_fit_points" in {w["name"] if isinstance(w, dict) else w for w in s["warnings"]}
    untested = {u["key"]: u["why"] for u in s["findings"]["untested"]}
    assert untested["psi"] == "fewer than 3 usable directions"
    assert untested["psi_heldout"] == "fewer than 3 usable held-out directions"
    assert s["findings"]["headline"]["psi"] is None and s["findings"]["headline"]["verdict"] is None
