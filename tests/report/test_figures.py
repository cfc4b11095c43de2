"""The report draws what summary.json says — it computes nothing of its own — and leaves matplotlib alone."""

import subprocess
import sys

import numpy as np
import pytest

import sgdpotential.report.figures as figures
from sgdpotential.report import make_report

pytestmark = pytest.mark.e2e

# the law of each summary section and a word its series' legend label contains
LAWS = {"continuous": "continuous", "discrete": "discrete", "window_from_w0": "window"}


@pytest.fixture
def drawn(quick_run_copy, monkeypatch):
    """make_report on a copy of the quick run, keeping every figure object it saves."""
    out, _ = quick_run_copy
    saved = {}
    real = figures._save

    def keep(fig, path):
        saved[path.stem] = fig
        return real(fig, path)

    monkeypatch.setattr(figures, "_save", keep)
    make_report(out)
    return out, saved


def test_the_lyapunov_figure_plots_the_summarys_predictions(drawn):
    """Every plotted (measured, predicted) point of each law is the summary's: predicted_i = ratio_i × σ_i².
    At 0bee5a8 the figure re-derived the laws itself (snapshot count as the window, no sampling factor) and
    this failed by the sampling factor (N − B)/(N − 1) = 0.983 on the quick preset."""
    import json

    out, saved = drawn
    summary = json.loads((out / "summary.json").read_text())
    var = np.load(out / "pca.npz")["variances"]
    ax = saved["lyapunov"].axes[0]
    checked = 0
    for key, word in LAWS.items():
        law = summary["lyapunov"][key]
        if "error" in law:
            continue
        ratio = np.array([np.nan if r is None else r for r in law["ratio"]])
        expected = {(float(v), float(r * v)) for v, r in zip(var, ratio, strict=True) if np.isfinite(r) and r > 0}
        lines = [ln for ln in ax.get_lines() if word in ln.get_label()]
        assert lines, f"no series for the {key} law"
        plotted = [(float(x), float(y)) for ln in lines for x, y in zip(ln.get_xdata(), ln.get_ydata(), strict=True)]
        assert plotted, key
        for x, y in plotted:
            match = [e for e in expected if np.isclose(e[0], x, rtol=1e-12, atol=0)]
            assert match and np.isclose(match[0][1], y, rtol=1e-9, atol=0), (key, x, y)
        checked += 1
    assert checked >= 2  # the quick preset's continuous and discrete laws are defined


def test_importing_and_drawing_leaves_the_matplotlib_backend_alone(quick_run_copy):
    """No pyplot, no matplotlib.use on import: a notebook user's backend survives a report."""
    out, _ = quick_run_copy
    code = ("import matplotlib; matplotlib.use('svg'); "
            "from sgdpotential.report import make_report; import sgdpotential.report.figures; "
            f"make_report({str(out)!r}); print(matplotlib.get_backend())")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "svg"


def test_the_views_figure_plots_the_summarys_psi_and_intervals(drawn):
    """ψ against K, window and age: the K panel plots the K-scan of summary.json with its tick labels, the window
    panel the nested sub-windows, the age panel this window's ψ (one age: with the note saying how to get more)."""
    import json

    out, saved = drawn
    s = json.loads((out / "summary.json").read_text())
    scan = s["k_scan"]
    k_ax, w_ax, a_ax = saved["views"].axes
    series = {c.get_label(): c for c in k_ax.containers}  # one errorbar container per way
    feng_tu = next(c for label, c in series.items() if "Feng & Tu" in label)
    psi = [r["feng_tu"]["psi"] for r in scan["rows"] if r["feng_tu"]["psi"] is not None]
    np.testing.assert_allclose(feng_tu.lines[0].get_ydata(), psi, rtol=1e-12)
    assert any("held out" in label for label in series)
    assert [t.get_text() for t in k_ax.get_xticklabels()] == [str(r["k"]) for r in scan["rows"]]
    nested = w_ax.containers[0].lines[0]
    np.testing.assert_allclose(nested.get_ydata(), [n["psi"] for n in s["ivf"]["nested"] if n["psi"] is not None])
    np.testing.assert_allclose(a_ax.containers[0].lines[0].get_ydata(), [s["ivf"]["psi"]])
    assert any("ages = [...]" in t.get_text() for t in a_ax.texts)


def test_fits_are_drawn_with_their_interval_as_the_summary_reports_them(drawn):
    """ivf.png and scaling.png carry the fitted line, its 95% band and the slope ± interval of summary.json in the
    legend; trajectory.png is time-coloured with its start and end marked."""
    import json

    out, saved = drawn
    s = json.loads((out / "summary.json").read_text())
    ivf_ax = saved["ivf"].axes[0]
    labels = [ln.get_label() for ln in ivf_ax.get_lines()]
    lo, hi = s["ivf"]["ci95"]
    assert f"slope {-s['ivf']['psi']:+.2f} [{-hi:+.2f}, {-lo:+.2f}], 95% band" in " ".join(labels)
    assert ivf_ax.collections  # the band
    h = s["exponents"]["hessian_diag_vs_flatness"]
    assert any(f"slope {h['exponent']:+.2f}" in ln.get_label() for ln in saved["scaling"].axes[0].get_lines())
    traj = saved["trajectory"]
    assert len(traj.axes) == 3  # two panels and the time colour bar
    assert {"start", "end"} <= {ln.get_label() for ln in traj.axes[0].get_lines()}


def test_the_band_verdict_panel_plots_each_relaxed_bands_median_inside_or_outside_its_null(drawn):
    """The third panel of the Lyapunov figure draws, for each band of directions that relax within the window,
    the summary's median measured/simulated σ² and its sampling-alone range — nothing recomputed."""
    import json

    out, saved = drawn
    summary = json.loads((out / "summary.json").read_text())
    bands = [b for b in summary["sample_spectrum"]["bands"] if b["relaxation"][0] >= 1 and b["null95"] is not None]
    ax = saved["lyapunov"].axes[2]
    if not bands:  # nothing to judge: the panel is off
        assert not ax.axison
        return
    medians = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert [float(y) for ln in medians for y in ln.get_ydata()] == [b["median_ratio"] for b in bands]
    bars = [ln for ln in ax.get_lines() if ln.get_color() == "C1" and ln.get_linewidth() == 6]
    assert [list(map(float, ln.get_ydata())) for ln in bars] == [b["null95"] for b in bands]
    assert len(ax.get_xticklabels()) == len(bands)
