"""Test-suite settings: Hypothesis runs the same examples every time (a deterministic default suite).

``HYPOTHESIS_PROFILE=explore python -m pytest`` draws fresh random examples (and more of them) by hand.
"""

import os
import shutil

import pytest
from hypothesis import settings

settings.register_profile("deterministic", max_examples=50, derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):  # read-only: tests that change a run use quick_run_copy
    """One complete ``sgdpotential run --preset quick`` (with the model ladder), shared by the tests that read it."""
    from typer.testing import CliRunner

    from sgdpotential.cli import app

    out = tmp_path_factory.mktemp("runs") / "quick"
    result = CliRunner().invoke(app, ["run", "--preset", "quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result


@pytest.fixture
def quick_run_copy(quick_run, tmp_path):
    """A private copy of the session's quick run, for tests that rewrite or delete its files (the shared run
    stays as the other tests expect it)."""
    out, result = quick_run
    copy = tmp_path / out.name
    shutil.copytree(out, copy)
    return copy, result


@pytest.fixture(scope="session")
def quick_ensemble(tmp_path_factory):  # read-only
    """``sgdpotential run --preset quick --replicas 3`` (seeds 5–7, one-epoch windows, no ladder): three run
    directories, ensemble.json and ensemble.html."""
    from typer.testing import CliRunner

    from sgdpotential.cli import app

    out = tmp_path_factory.mktemp("ensembles") / "ens"
    result = CliRunner().invoke(app, ["run", "--preset", "quick", "--replicas", "3", "--seed", "5", "--window-epochs",
                                      "1", "--no-ladder", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result


@pytest.fixture(scope="session")
def quick_sweep(tmp_path_factory):  # read-only
    """A local sweep of the quick preset over ``quick.QUICK_AXES`` (lr, batch size, seed): results.csv, sweep.html."""
    from typer.testing import CliRunner

    from quick import QUICK_GRID
    from sgdpotential.cli import app

    out = tmp_path_factory.mktemp("sweeps") / "local"
    result = CliRunner().invoke(app, ["sweep", "--preset", "quick", *QUICK_GRID, "--out", str(out),
                                      "--backend", "local"])
    assert result.exit_code == 0, result.output
    return out, result
