"""Adam and RMSprop through `sgdpotential run`: trained with torch's optimizers, analysed with the frozen-moment
linear model (labelled approximate, its preconditioner's drift measured and named), replayed with the window's
frozen preconditioner; bad optimizer settings refused before any work."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from sgdpotential.cli import app
from sgdpotential.pipeline.rundir import RunDir

pytestmark = pytest.mark.e2e
runner = CliRunner()


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_an_adaptive_run_is_analysed_as_approximate_with_its_drift(tmp_path, optimizer):
    out = tmp_path / optimizer
    ladder = ["--no-ladder"] if optimizer == "rmsprop" else []
    result = runner.invoke(app, ["run", "--preset", "quick", "--optimizer", optimizer, "--lr", "0.001",
                                 "--window-epochs", "1", "--out", str(out), *ladder])
    assert result.exit_code == 0, result.output
    s = json.loads((out / "summary.json").read_text())
    assert s["model"]["optimizer"] == optimizer and "frozen" in s["model"]["approximate"]
    assert s["model"]["beta1"] == (0.9 if optimizer == "adam" else 0.0)
    z = np.load(out / "preconditioner.npz")
    a, b = z["start"][z["recorded"]], z["end"][z["recorded"]]
    assert np.all(a > 0) and s["model"]["preconditioner_drift"] == pytest.approx(
        float(np.linalg.norm(b - a) / np.linalg.norm(a)))
    assert 0 < s["model"]["preconditioner_drift"] < 1
    assert "frozen_preconditioner" in [w["name"] for w in s["warnings"]]
    assert "Approximate: " in (out / "report.html").read_text()
    # the laws are the frozen-preconditioner model's, in the run's principal basis
    from sgdpotential.theory.adaptive import LinearAdaptive

    pr, pca = np.load(out / "probes.npz"), np.load(out / "pca.npz")
    P = RunDir(out).preconditioner(pca["components"])
    m = LinearAdaptive(0.001, s["config"]["train"]["batch_size"], s["model"]["n_train"], preconditioner=P,
                       beta1=s["model"]["beta1"], optimizer=optimizer)
    law = np.diag(m.window(pr["hessian"], pr["noise_cov"], s["ivf"]["window"] * s["config"]["train"]["stride"],
                           start=0))
    assert s["lyapunov"]["window_from_w0"]["predicted"] == pytest.approx(list(law), rel=1e-9)
    if optimizer == "adam":
        meta = json.loads((out / "replays" / "full.zarr" / "zarr.json").read_text())["attributes"]["metadata"]
        assert meta["replay"]["preconditioned"] and meta["replay"]["dampening"] == 0.9


@pytest.mark.parametrize(("args", "message"), [
    (["--optimizer", "adamw"], "optimizer = 'adamw' is not one of sgd, adam, rmsprop"),
    (["--optimizer", "adam", "--momentum", "0.9"], "momentum = 0.9 is SGD's heavy ball; with optimizer = 'adam' set "
                                                   "momentum = 0"),
])
def test_bad_optimizer_settings_exit_2_before_anything_is_written(tmp_path, args, message):
    out = tmp_path / "bad"
    result = runner.invoke(app, ["run", "--preset", "quick", *args, "--out", str(out)])
    assert result.exit_code == 2 and message in " ".join(result.stderr.split()) and not out.exists()
