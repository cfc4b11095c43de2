"""Test-suite settings: Hypothesis runs the same examples every time (a deterministic default suite).

``HYPOTHESIS_PROFILE=explore python -m pytest`` draws fresh random examples (and more of them) by hand.
"""

import os

import pytest
from hypothesis import settings

settings.register_profile("deterministic", max_examples=50, derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """One complete ``sgdpotential run --preset quick`` (with the model ladder), shared by the tests that read it."""
    from typer.testing import CliRunner

    from sgdpotential.cli import app

    out = tmp_path_factory.mktemp("runs") / "quick"
    result = CliRunner().invoke(app, ["run", "--preset", "quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result
