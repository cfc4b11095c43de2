"""A run whose optimizer the theory does not model (weight decay) is refused before any work, with one sentence;
heavy-ball momentum, which it models exactly, goes through every stage with its own laws.

At 0bee5a8 a run with momentum = 0.9 was trained and then analysed with plain SGD's laws (ε = α²/2B, F = αH)
without a word; until the momentum laws existed it was refused.
"""

import html
import json

import pytest
from typer.testing import CliRunner

from sgdpotential.cli import app

runner = CliRunner()
SENTENCE = ("{name} = {value}: sgdpotential's linear theory models SGD with and without momentum but not weight "
            "decay, so it refuses to analyse this run; train with {name} = 0, or record it without analysis "
            "(sgdpotential record).")


@pytest.mark.parametrize(("name", "value"), [("weight_decay", 0.0001)])
def test_run_with_an_unmodelled_optimizer_is_refused_before_training(tmp_path, name, value):
    cfg = tmp_path / "opt.toml"
    cfg.write_text(f'preset = "quick"\n[train]\n{name} = {value}\n')
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert SENTENCE.format(name=name, value=value) in " ".join(result.stderr.split())
    assert not out.exists()  # refused before the run folder (let alone a trajectory) was written
    assert "burn-in" not in result.stderr  # no progress bar: no training started


def test_a_recorded_weight_decay_run_cannot_be_analysed_or_laddered(tmp_path):
    from sgdpotential.pipeline.config import preset
    from sgdpotential.pipeline.stages import plan, run_stages

    out = tmp_path / "run"
    run_stages(out, plan(last="record"), config=preset("quick", weight_decay=1e-4, window_epochs=1.0))  # allowed
    assert (out / "pca.npz").exists()
    cfg = tmp_path / "wd.toml"
    cfg.write_text('preset = "quick"\n[train]\nweight_decay = 0.0001\nwindow_epochs = 1.0\n')
    for command in (["analyze", str(out)], ["ladder", str(out)],
                    ["run", "--config", str(cfg), "--out", str(out), "--resume"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, command
        assert "weight_decay = 0.0001: sgdpotential's linear theory models SGD with and without momentum but not" \
            in " ".join(result.stderr.split())
    assert not (out / "summary.json").exists() and not (out / "probes.npz").exists()


def test_a_momentum_run_goes_through_run_and_the_ladder_with_its_own_laws(tmp_path):
    """momentum = 0.9 through `sgdpotential run` (probes, analysis, ladder, report): the summary's linear model is
    heavy-ball SGD (ε and F from α/(1 − μ)), the replays step with the same momentum, the VAR(1) fit is skipped
    with its reason, and the laws are the momentum laws (not plain SGD's)."""
    import numpy as np

    from sgdpotential.theory import LinearMomentumSGD, LinearSGD

    cfg = tmp_path / "m.toml"
    cfg.write_text('preset = "quick"\n[train]\nmomentum = 0.9\nlr = 0.02\nwindow_epochs = 1.0\n')
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 0, result.output
    s = json.loads((out / "summary.json").read_text())
    assert s["model"]["optimizer"] == "sgd_momentum" and s["model"]["momentum"] == 0.9
    assert s["model"]["effective_lr"] == pytest.approx(0.2)
    assert s["lyapunov"]["eps"] == pytest.approx(0.2**2 / (2 * s["config"]["train"]["batch_size"]))
    ladder = json.loads((out / "ladder.json").read_text())
    assert "does not model momentum" in ladder["fitted_sde"]["skipped"]
    meta = json.loads((out / "replays" / "full.zarr" / "zarr.json").read_text())["attributes"]["metadata"]
    assert meta["replay"]["momentum"] == 0.9
    pr = np.load(out / "probes.npz")
    H, C, B = pr["hessian"], pr["noise_cov"], s["config"]["train"]["batch_size"]  # the Lyapunov test's C(ω0)
    T = s["ivf"]["window"] * s["config"]["train"]["stride"]
    law = np.diag(LinearMomentumSGD(0.02, B, s["model"]["n_train"], momentum=0.9).window(H, C, T, start=0))
    assert s["lyapunov"]["window_from_w0"]["predicted"] == pytest.approx(list(law), rel=1e-9)
    plain = np.diag(LinearSGD(0.02, B, s["model"]["n_train"]).window(H, C, T, start=0))
    assert np.median(law / plain) > 2  # momentum's laws, not plain SGD's at the same α
    page = html.unescape((out / "report.html").read_text())
    assert "momentum 0.9" in page
    # named as what it is, in the title, the headline, the ladder and the relaxation index of its bands
    assert "<title>heavy-ball SGD (μ = 0.9) as a stochastic process" in page
    assert "heavy-ball SGD (μ = 0.9) gives ψ" in page and "Real heavy-ball SGD (μ = 0.9):" in page
    assert "SGD gives ψ" not in page.replace("heavy-ball SGD (μ = 0.9) gives ψ", "")
    spectrum = next(c for c in s["findings"]["claims"] if c["key"] == "sigma_subspace")
    if any(b["n"] for b in spectrum["bands"]):
        assert "α h T/(1 − μ) ∈ [" in page
