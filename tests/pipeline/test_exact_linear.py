"""The exactly solvable case through the whole pipeline: a linear model with squared error on the digits.

The loss ℓ_k = ½‖W x_k + b − e_{y_k}‖² is exactly quadratic in w = (W, b), so the probes have closed forms:
with Z_k,a = A_a x_k + β_a the output change along direction p_a = (A_a, β_a) and r_k the residual at ω0,
H_P = (1/N) Σ_k Z_kᵀ Z_k and C_P = Cov_k(r_k · Z_k,a) (paper Eq. 19). At 0bee5a8 the probe stage built its
objective without the run's loss and measured cross-entropy curvature instead: this test failed there
(checked by running it against that commit's source).
"""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from sgdpotential import load_dataset
from sgdpotential.cli import app

pytestmark = pytest.mark.e2e
runner = CliRunner()

CONFIG = """preset = "quick"
hidden = []
params = "all"
components = 12
[train]
loss = "mse"
lr = 0.05
batch_size = 32
burn_in_epochs = 20
window_epochs = 2.0
"""


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("linear")
    (tmp / "mse.toml").write_text(CONFIG)
    out = tmp / "run"
    result = runner.invoke(app, ["run", "--config", str(tmp / "mse.toml"), "--out", str(out), "--no-ladder"])
    assert result.exit_code == 0, result.output
    return out


def _closed_form(out):
    data = load_dataset("digits")
    X, y = data.X.numpy().astype(np.float64), data.y.numpy()
    pca = np.load(out / "pca.npz")
    w0, P = pca["mean"].astype(np.float64), pca["components"].astype(np.float64)
    W, b = w0[:640].reshape(10, 64), w0[640:]
    r = X @ W.T + b - np.eye(10)[y]                                    # residuals at ω0, (N, 10)
    A, beta = P[:, :640].reshape(-1, 10, 64), P[:, 640:]               # directions as (W, b) pairs
    Z = np.einsum("aij,kj->kai", A, X) + beta[None]                    # output change along p_a, (N, K, 10)
    H = np.einsum("kai,kbi->ab", Z, Z) / len(X)
    d = np.einsum("ki,kai->ka", r, Z)                                  # per-sample directional derivatives
    dc = d - d.mean(0)
    C = dc.T @ dc / len(X)
    return H, C, 0.5 * np.mean(np.sum(r**2, 1))


def test_probes_of_a_linear_mse_run_equal_the_closed_form(linear_run):
    probes = np.load(linear_run / "probes.npz")
    H, C, loss0 = _closed_form(linear_run)
    assert np.linalg.norm(probes["hessian"] - H) <= 1e-5 * np.linalg.norm(H)
    assert np.linalg.norm(probes["noise_cov"] - C) <= 1e-4 * np.linalg.norm(C)
    assert float(probes["loss0"]) == pytest.approx(loss0, rel=1e-5)


def test_the_summary_uses_the_runs_loss_and_linear_model(linear_run):
    s = json.loads((linear_run / "summary.json").read_text())
    _, _, loss0 = _closed_form(linear_run)
    assert s["loss0"] == pytest.approx(loss0, rel=1e-5)
    kappa = (1797 - 32) / (1797 - 1)
    assert s["model"] == {"optimizer": "sgd", "lr": 0.05, "batch_size": 32, "n_train": 1797,
                          "eps": pytest.approx(0.05**2 / 64), "sampling_factor": pytest.approx(kappa)}
