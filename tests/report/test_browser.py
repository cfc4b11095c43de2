"""Every HTML page the package writes — a run's report, the ensemble page, the sweep page, the toy model's page —
rendered in a real browser (headless Chromium from the distribution's packages): every image loads, no console
errors, and the settings header, the verdict and the title are on the page.

Skipped with its reason where no Chromium is installed, except under ``SGDP_REQUIRE_BROWSER=1`` (``.ci/run`` sets
it after installing Debian's chromium), where a missing browser fails."""

import io
import os

import numpy as np
import pytest

from browser import chromium, render

pytestmark = pytest.mark.e2e

if chromium() is None:
    if os.environ.get("SGDP_REQUIRE_BROWSER") == "1":
        raise RuntimeError("SGDP_REQUIRE_BROWSER=1 but no Chromium: apt-get install chromium (see .ci/run).")
    pytest.skip("no Chromium here (apt-get install chromium); the browser tests need one", allow_module_level=True)
pytest.importorskip("playwright", reason="pip install -e '.[dev]' installs Playwright, which drives Chromium")


def _check(page, n_images: int, header: bool = True, extra: tuple[str, ...] = ()):
    r = render(page, ("#settings", "#verdict", "h1", *extra))
    assert r.errors == [], r.errors
    assert len(r.images) == n_images
    for alt, complete, w, h in r.images:
        assert complete and w > 100 and h > 100, (alt, complete, w, h)  # decoded, not a broken-image icon
    assert r.text["h1"]
    assert r.text["#verdict"] == "Verdict"
    if header:
        assert r.text["#settings"], "no settings header"
    from matplotlib.image import imread

    shot = imread(io.BytesIO(r.screenshot))
    assert shot.shape[:2] == (900, 1100) and np.ptp(shot[..., :3]) > 0.5  # something was drawn, not a blank page
    return r


def test_run_report_renders(quick_run):
    out, _ = quick_run
    n = len(list((out / "figures").glob("*.png")))
    r = _check(out / "report.html", n, extra=("#scorecard", "#warnings"))
    assert "α = " in r.text["#settings"] and "torch" in r.text["#settings"]
    assert "prediction ± margin" in r.text["#scorecard"] and "not_stationary" in r.text["#warnings"]


def test_ensemble_page_renders_with_provenance_warnings_and_the_seeds_verdict(quick_ensemble):
    import json

    out, _ = quick_ensemble
    r = _check(out / "ensemble.html", 1, extra=("#scorecard", "#warnings", "#verdict + ul"))
    ens = json.loads((out / "ensemble.json").read_text())
    assert "replicas" in r.text["h1"]
    for run, prov in zip(ens["runs"], ens["provenance"]["record"], strict=True):  # every recording's provenance
        assert f"{run}: {prov['date']}" in r.text["#settings"] and "torch" in r.text["#settings"]
    for w in ens["warnings"]:
        assert w["name"] in r.text["#warnings"]
    psi = next(c for c in ens["findings"]["claims"] if c["key"] == "psi")
    seeds = psi["views"]["seed"]["verdict"]
    said = {"moves": "the seed moves ψ", "stable": "the seed leaves ψ stable",
            "inconclusive": "whether the seed moves ψ is inconclusive"}[seeds]
    assert said in r.text["#verdict + ul"]  # the verdict sentences
    assert "what moves it" in r.text["#scorecard"] and "seed:" in r.text["#scorecard"]


def test_sweep_page_renders(quick_sweep):
    out, _ = quick_sweep
    r = _check(out / "sweep.html", 3)
    from quick import QUICK_AXES

    assert f"lr ∈ {{{', '.join(QUICK_AXES['lr'])}}}" in r.text["#settings"]


def test_toy_page_renders(tmp_path):
    from typer.testing import CliRunner

    from sgdpotential.cli import app

    result = CliRunner().invoke(app, ["toy", "--chains", "50", "--out", str(tmp_path / "toy")])
    assert result.exit_code == 0, result.output
    r = _check(tmp_path / "toy" / "report.html", 1)
    assert "σ_M = 0" in r.text["#settings"]


def test_a_broken_page_is_caught(tmp_path):
    """The checks above can fail: a missing image and a script error are both seen."""
    page = tmp_path / "broken.html"
    page.write_text('<html><body><h1>x</h1><img src="missing.png" alt="m"><script>nosuchfunction()</script>'
                    "</body></html>")
    r = render(page)
    assert any("nosuchfunction" in e for e in r.errors)
    assert r.images == [("m", True, 0, 0)] and r.text["#verdict"] is None
