"""Windows at several ages of one training run, through ``sgdpotential run``: recorded, probed and analysed
each, tabulated and drawn in the run's summary and report."""

import html
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from quick import assert_pinned
from sgdpotential.cli import app
from sgdpotential.trajectory import Trajectory

pytestmark = pytest.mark.e2e
runner = CliRunner()

CONFIG = """preset = "quick"
ages = [{ages}]
noise_axes = 2
noise_snapshots = 2
[train]
window_epochs = 2.0
"""


@pytest.fixture(scope="module")
def aged_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ages")
    (tmp / "c.toml").write_text(CONFIG.format(ages="3, 6"))
    out = tmp / "run"
    result = runner.invoke(app, ["run", "--config", str(tmp / "c.toml"), "--out", str(out), "--no-ladder"])
    assert result.exit_code == 0, result.output
    return tmp, out, result


def test_every_age_is_a_complete_window_of_the_same_run(aged_run):
    _, out, result = aged_run
    s = json.loads((out / "summary.json").read_text())
    first = s["burn_in"]
    rows = s["ages"]["rows"]
    assert [r["age"] for r in rows] == [0, 3, 6]
    assert [r["epochs"] for r in rows] == [first["target_epochs"] + a for a in (0, 3, 6)]
    for age in (3, 6):
        child = out / "ages" / f"age-{age}"
        for name in ("config.json", "record.json", "pca.npz", "probes.npz", "summary.json", "trajectory.zarr",
                     "report.html", "figures/views.png"):
            assert (child / name).exists(), name
        assert f'<a href="ages/age-{age}/report.html">age {age}</a>' in (out / "report.html").read_text()
        cs = json.loads((child / "summary.json").read_text())
        assert cs["burn_in"]["age_epochs"] == age and cs["burn_in"]["target_epochs"] == first["target_epochs"]
        assert cs["config"]["ages"] == [] and cs["config"]["train"]["age_epochs"] == age
        row = next(r for r in rows if r["age"] == age)
        assert row["feng_tu"]["psi"] == cs["ivf"]["psi"] and row["heldout"]["psi"] == cs["heldout"]["ivf_psi"]
    claims = {c["key"]: c for c in s["findings"]["claims"]}
    view = claims["psi"]["views"]["age"]  # the age view reads each later window's own claim
    assert [r["age"] for r in view["rows"]] == [0, 3, 6]
    for age in (3, 6):
        child = json.loads((out / "ages" / f"age-{age}" / "summary.json").read_text())
        mine = next(c for c in child["findings"]["claims"] if c["key"] == "psi")
        row = next(r for r in view["rows"] if r["age"] == age)
        assert (row["estimate"], row["ci95"], row["verdict"]) == (mine["estimate"], mine["ci95"], mine["verdict"])
    # the three ages' ψ and the verdict, pinned on this deterministic run
    # (2026-12-03, torch 2.13.0+cpu; quick.PINNED_TORCH): a change that moves it must say why
    assert_pinned(view["verdict"], "inconclusive")
    assert_pinned([r["estimate"] for r in view["rows"]], [2.680, 3.064, 3.167])
    assert ("age" in claims["psi"]["moved_by"]) == (view["verdict"] == "moves")
    assert "age" in claims["hessian_vs_flatness"]["views"]  # every equivalence claim has its age view
    assert "ψ by age" in result.stdout
    from sgdpotential.report.words import view_text

    page = " ".join(html.unescape((out / "report.html").read_text()).split())
    assert view_text(claims["psi"], "age") in page


def test_a_later_age_equals_a_fresh_run_opened_at_that_age(aged_run, tmp_path):
    """The continued training is the path a fresh run with age_epochs = 3 follows: the same window, bit for bit."""
    _, out, _ = aged_run
    (tmp_path / "c.toml").write_text(CONFIG.format(ages="").replace("[train]", "[train]\nage_epochs = 3"))
    result = runner.invoke(app, ["run", "--config", str(tmp_path / "c.toml"), "--out", str(tmp_path / "r"),
                                 "--no-ladder"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(Trajectory.open(out / "ages" / "age-3" / "trajectory.zarr").read(),
                                  Trajectory.open(tmp_path / "r" / "trajectory.zarr").read())


@pytest.mark.parametrize(("ages", "message"), [
    ("1", "age 1 opens its window 1 epoch\\(s\\) after the window at age 0, which lasts 2 epochs"),
    ("3, 4", "age 4 opens its window 1 epoch\\(s\\) after the window at age 3"),
    ("-2", "ages = -2"),
    ('"x"', r"config file '.*c.toml': ages = \['x'\] must be a list of integers\."),  # typed when read
])
def test_bad_ages_are_refused_before_any_work(tmp_path, ages, message):
    (tmp_path / "c.toml").write_text(CONFIG.format(ages=ages))
    result = runner.invoke(app, ["run", "--config", str(tmp_path / "c.toml"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert pytest.importorskip("re").search(message, " ".join(result.output.split())), result.output
    assert not (tmp_path / "r").exists()
