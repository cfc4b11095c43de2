"""A run whose optimizer the theory does not model is refused before any work, with one sentence.

At 0bee5a8 a run with momentum = 0.9 was trained and then analysed with plain SGD's laws (ε = α²/2B, F = αH)
without a word: the first test failed there (exit code 0, a full run directory).
"""

import pytest
from typer.testing import CliRunner

from sgdpotential.cli import app

runner = CliRunner()
SENTENCE = ("{name} = {value}: sgdpotential's linear theory models plain SGD only (momentum = 0, weight_decay = 0), "
            "so it refuses to analyse this run; train with {name} = 0, or record it without analysis "
            "(sgdpotential record).")


@pytest.mark.parametrize(("name", "value"), [("momentum", 0.9), ("weight_decay", 0.0001)])
def test_run_with_an_unmodelled_optimizer_is_refused_before_training(tmp_path, name, value):
    cfg = tmp_path / "opt.toml"
    cfg.write_text(f'preset = "quick"\n[train]\n{name} = {value}\n')
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert SENTENCE.format(name=name, value=value) in " ".join(result.stderr.split())
    assert not out.exists()  # refused before the run folder (let alone a trajectory) was written
    assert "burn-in" not in result.stderr  # no progress bar: no training started


def test_a_recorded_momentum_run_cannot_be_analysed_or_laddered(tmp_path):
    from sgdpotential.pipeline.config import preset
    from sgdpotential.pipeline.stages import plan, run_stages

    out = tmp_path / "run"
    run_stages(out, plan(last="record"), config=preset("quick", momentum=0.9, window_epochs=1.0))  # allowed
    assert (out / "pca.npz").exists()
    cfg = tmp_path / "momentum.toml"
    cfg.write_text('preset = "quick"\n[train]\nmomentum = 0.9\nwindow_epochs = 1.0\n')
    for command in (["analyze", str(out)], ["ladder", str(out)],
                    ["run", "--config", str(cfg), "--out", str(out), "--resume"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, command
        assert "momentum = 0.9: sgdpotential's linear theory models plain SGD only" in " ".join(result.stderr.split())
    assert not (out / "summary.json").exists() and not (out / "probes.npz").exists()
