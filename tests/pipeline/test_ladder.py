"""The model ladder of a recorded run: ladder.json, the report section, reuse of replays, bad input."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from quick import assert_pinned
from sgdpotential.cli import app
from sgdpotential.trajectory import Trajectory

pytestmark = pytest.mark.e2e

runner = CliRunner()


def test_ladder_json_has_every_rung_measured_the_same_way(quick_run):
    out, result = quick_run
    lad = json.loads((out / "ladder.json").read_text())
    assert lad["schema"] == "sgdpotential.ladder/1"
    rows = {r["name"]: r for r in lad["rungs"]}
    assert list(rows) == ["sgd", "batch", "full", "isotropic", "continuous", "discrete", "window"]
    K = len(np.load(out / "pca.npz")["variances"])
    sgd = rows["sgd"]
    assert sgd["ratio_along_sgd"] == [1.0] * K
    # every rung's ψ, pinned on this deterministic run
    # (2026-12-03, torch 2.13.0+cpu; quick.PINNED_TORCH): a change that moves it must say why
    assert_pinned([rows[n]["psi"] for n in ("sgd", "batch", "full", "isotropic")], [2.309, 2.317, 2.486, -4.256])
    summary = json.loads((out / "summary.json").read_text())
    assert sgd["psi"] == summary["ivf"]["psi"] and sgd["ci95"] == summary["ivf"]["ci95"]  # the same fit
    for name in ("batch", "full", "isotropic"):
        r = rows[name]
        traj = Trajectory.open(out / "replays" / f"{name}.zarr")
        assert traj.complete and traj.shape == (summary["ivf"]["window"], 32 * 32)
        assert traj.metadata["replay"]["hessian"] == ("batch" if name == "batch" else "full")
        assert len(r["ratio_along_sgd"]) == K and r["steps_per_second"] > 0
        lo, hi = sgd["ci95"]
        assert r["outside_sgd_interval_by"] == max(lo - r["psi"], r["psi"] - hi, 0.0)
        arrays = np.load(out / "replays" / f"{name}.npz")
        assert arrays["along_sgd"].sum() == r["subspace_variance"]
    assert rows["isotropic"]["noise_std"] > 0 and rows["batch"]["noise_std"] is None
    # the subspace laws are the same numbers as the summary's Lyapunov section
    ratio = summary["lyapunov"]["continuous"]["ratio"]
    np.testing.assert_allclose(rows["continuous"]["ratio_along_sgd"], ratio, rtol=1e-12)
    fit, closure = lad["fitted_sde"], lad["closure"]
    assert fit["directions"] and "force_rel_diff" in fit and fit["increment_variance_ratio_median"] > 0
    for key in ("hessian_outside", "noise_outside", "hessian_other_layers", "noise_other_layers"):
        assert len(closure[key]) == K and all(0 <= x <= 1 for x in closure[key])
    assert "model ladder" in result.stdout
    claims = {c["key"]: c for c in summary["findings"]["claims"]}  # the ladder's claims joined the findings
    for name in ("batch", "full"):
        c = claims[f"ladder_{name}"]
        assert c["estimate"] == pytest.approx(rows[name]["psi"] - sgd["psi"])
        (lo, hi), (slo, shi) = rows[name]["ci95"], sgd["ci95"]
        assert c["ci95"] == pytest.approx([lo - shi, hi - slo])
    assert claims["ladder_isotropic"]["estimate"] == rows["isotropic"]["psi"]


def test_ladder_command_reuses_finished_replays(quick_run_copy):
    out, _ = quick_run_copy
    before = json.loads((out / "ladder.json").read_text())
    stamp = (out / "replays" / "full.zarr" / "zarr.json").stat().st_mtime_ns
    result = runner.invoke(app, ["ladder", str(out), "--rungs", "batch,full,isotropic"])
    assert result.exit_code == 0, result.output
    after = json.loads((out / "ladder.json").read_text())
    assert (out / "replays" / "full.zarr" / "zarr.json").stat().st_mtime_ns == stamp  # not replayed again

    def measured(lad):  # everything but the wall times
        return [{k: v for k, v in r.items() if k not in ("seconds",)} for r in lad["rungs"]]

    assert measured(after) == measured(before)
    assert "Which ingredient makes IVF?" in (out / "report.html").read_text()


def test_ladder_bad_input(tmp_path, quick_run):
    out, _ = quick_run
    r = runner.invoke(app, ["ladder", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "has no config.json, so it is not a run directory" in r.stderr
    r = runner.invoke(app, ["ladder", str(out), "--rungs", "batch,exact"])
    assert r.exit_code == 2 and "unknown ladder rung 'exact'; choose among batch, full, isotropic." in r.stderr


def test_a_closed_subspace_falls_inside_the_fitted_sde_null():
    """θ(t) simulated from the exact subspace model: the fit's differences lie inside the null range, and a
    path with twice the noise lies outside it (the null can tell)."""
    from sgdpotential import LinearSGD
    from sgdpotential.pipeline.ladder import _fitted_sde

    rng = np.random.default_rng(4)
    K, lr, B, T = 6, 0.1, 10, 1500
    Q, _ = np.linalg.qr(rng.standard_normal((K, K)))
    H = Q @ np.diag(np.geomspace(0.2, 3.0, K)) @ Q.T
    C = np.diag(np.geomspace(1.0, 0.1, K))
    eps = lr**2 / (2 * B)

    def path(noise_scale):
        L = np.linalg.cholesky(2 * eps * C) * noise_scale
        x = np.zeros((T, K))
        for t in range(1, T):
            x[t] = x[t - 1] - lr * H @ x[t - 1] + L @ rng.standard_normal(K)
        return x

    inside = _fitted_sde(path(1.0), np.ones(K, bool), H, C, LinearSGD(lr, B), 1)
    for key in ("diffusion_rel_diff", "increment_variance_ratio_median"):
        lo, hi = inside["null"][key]["range95"]
        assert lo <= inside[key] <= hi, key
    louder = _fitted_sde(path(np.sqrt(2.0)), np.ones(K, bool), H, C, LinearSGD(lr, B), 1)
    assert louder["increment_variance_ratio_median"] > louder["null"]["increment_variance_ratio_median"]["range95"][1]
    assert louder["diffusion_rel_diff"] > louder["null"]["diffusion_rel_diff"]["range95"][1]
