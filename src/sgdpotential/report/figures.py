"""The figures a reader of the paper expects, drawn from a run's stored arrays (matplotlib, PNG).

Figures are :class:`matplotlib.figure.Figure` objects rendered by the Agg canvas directly: nothing here goes
through ``pyplot`` or changes matplotlib's backend (a notebook user's backend is left alone). The report
computes nothing: every plotted number is read from ``summary.json``, ``pca.npz`` and ``probes.npz``.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

from ..claims import claim
from ..pipeline.analysis import age_row
from ..pipeline.rundir import RunDir
from ..theory.scaling import fit_power_law, power_law_band
from ..trajectory.pca import TAIL_RANGE
from .words import band_label, measured_text, prediction_text, relaxation_symbol


def subplots(nrows: int = 1, ncols: int = 1, *, sharex=False, sharey=False, **kw):
    """``pyplot.subplots`` without pyplot: a standalone Figure and its axes (no global state)."""
    fig = Figure(**kw)
    return fig, fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def _loglog(ax, x, y, label, used=None, marker="o", **kw):
    """Log–log scatter; points outside ``used`` (drift or censored directions, left out of the fits) hollow."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    used = np.ones_like(ok) if used is None else np.asarray(used, bool)
    line = ax.loglog(x[ok & used], y[ok & used], marker, ms=3, label=label, ls="none", **kw)
    if (ok & ~used).any():
        once = "left out of the fits (drift/censored): hollow; axes zoom to the fitted points"
        seen = once in [ln.get_label() for ln in ax.get_lines()]
        ax.loglog(x[ok & ~used], y[ok & ~used], marker, ms=4, mfc="none", ls="none", color=line[0].get_color(),
                  label="_nolegend_" if seen else once)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # keep a narrow log axis readable
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _fitted(ax, x, y, used, label: str, color: str = "k", zoom: bool = True) -> dict | None:
    """The power-law fit over the ``used`` points drawn as a line over their range with its 95% pairs-bootstrap
    band (the fit and seed of the summary's intervals); the legend reads ``label`` with the slope and interval.
    ``zoom``: fit the axes to the used points so that directions left out cannot squeeze them."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    m = np.asarray(used, bool) & np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if m.sum() < 3:
        return None
    f = fit_power_law(x[m], y[m], seed=0)
    grid = np.geomspace(x[m].min(), x[m].max(), 50)
    lo, hi = power_law_band(x[m], y[m], grid, seed=0)
    ax.fill_between(grid, lo, hi, color=color, alpha=0.15, lw=0)
    ax.loglog(grid, f.prefactor * grid**f.exponent, "-", color=color, lw=1.2,
              label=f"{label}: slope {f.exponent:+.2f} [{f.ci[0]:+.2f}, {f.ci[1]:+.2f}], 95% band")
    if zoom:
        ax.set_xlim(x[m].min() / 1.3, x[m].max() * 1.3)
        ax.set_ylim(y[m].min() / 2, y[m].max() * 2)
    return {"exponent": f.exponent, "ci": f.ci}


def draw_all(run_dir: Path, summary: dict, pca, probes) -> dict[str, Path]:
    """Write figures/*.png; returns {name: path}."""
    out = run_dir / RunDir.FIGURES
    out.mkdir(exist_ok=True)
    figs: dict[str, Path] = {}
    var, width, proj = pca["variances"], probes["width"], pca["projections"]
    used = (pca["drift"] <= summary["ivf"]["drift_max"]) & ~probes["censored"].any(axis=1)
    k = np.arange(1, pca["spectrum"].size + 1)

    fig, ax = subplots(figsize=(5.5, 3.8))
    share = pca["spectrum"] / summary["pca"]["total_variance"]
    ax.loglog(k, share, ".", ms=3, label="window: σ_i² / total")
    ax.loglog(k, pca["null_spectrum"], "-", color="gray", label="random-walk null (same T)")
    lo, hi = TAIL_RANGE
    tail = (k >= lo) & (k <= hi) & (share > 0)
    if tail.sum() >= 3:  # summary.json's pca.tail_exponent is the slope of this line (OLS over the same i)
        _fitted(ax, k[tail], share[tail], np.ones(tail.sum(), bool),
                f"tail σ_i² ∝ i^−γ, i = {lo}–{min(hi, int(k[tail].max()))}", color="C3", zoom=False)
    _log_ticks(ax, [v for v in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if v <= k.size])
    ax.set_xlabel("principal component i")
    ax.set_ylabel("σ_i² / total")
    ax.set_title("band: pairs bootstrap; it ignores the correlation of neighbouring eigenvalues", fontsize=8)
    ax.legend(fontsize=7)
    figs["spectrum"] = _save(fig, out / "spectrum.png")

    fig, axes = subplots(1, 2, figsize=(9, 3.6))
    i, j = min(9, proj.shape[1] - 2), min(10, proj.shape[1] - 1)
    t = np.arange(proj.shape[0])
    for ax, (a, b) in zip(axes, ((0, 1), (i, j)), strict=True):  # time-coloured: where the window starts, ends
        ax.plot(proj[:, a], proj[:, b], lw=0.3, color="0.75", zorder=1)
        sc = ax.scatter(proj[:, a], proj[:, b], c=t, s=2, cmap="viridis", zorder=2)
        ax.plot(*proj[0, [a, b]], "o", mfc="none", mec="k", ms=7, label="start", zorder=3)
        ax.plot(*proj[-1, [a, b]], "s", mfc="none", mec="r", ms=7, label="end", zorder=3)
        ax.set_xlabel(f"θ_{a + 1}")
        ax.set_ylabel(f"θ_{b + 1}")
        ax.legend(fontsize=7)
    fig.colorbar(sc, ax=axes, label="snapshot", shrink=0.8)
    figs["trajectory"] = _save(fig, out / "trajectory.png")

    fig, ax = subplots(figsize=(5, 3.6))
    L0 = float(probes["loss0"])
    for d, row in zip(probes["profile_directions"], probes["profile_losses"], strict=True):
        ax.plot(probes["profile_offsets"], row, label=f"p_{int(d) + 1}")
    ax.axhline(math.e * L0, color="k", ls="--", lw=0.8, label="e·L0")
    ax.set_yscale("log")
    ax.set_xlabel("offset θ along p_i")
    ax.set_ylabel("training loss")
    ax.legend()
    figs["profiles"] = _save(fig, out / "profiles.png")

    pot = summary["potential"]
    fig, axes = subplots(1, 2, figsize=(10, 4))
    _loglog(axes[0], width, var, "principal directions (fitted)", used)
    _fitted(axes[0], width, var, used, "σ² ∝ F^−ψ (ψ = −slope)")
    axes[0].set_xlabel("loss flatness F_i")
    axes[0].set_ylabel("σ_i²")
    claims = _claims(summary)
    axes[0].set_title(_titled(claims.get("psi"), "IVF ψ"), fontsize=9)
    axes[0].legend(fontsize=7)
    if "u_flatness" in pot:
        uf = np.array([np.nan if x is None else x for x in pot["u_flatness"]])
        _loglog(axes[1], uf, var, "principal directions (fitted)", used, color="C1")
        _fitted(axes[1], uf, var, used, "σ² against U-flatness", color="C1")
        axes[1].set_title(_titled(claims.get("boltzmann_u"), "Boltzmann in U, slope"), fontsize=9)
        axes[1].legend(fontsize=7)
    axes[1].set_xlabel("flatness of the stochastic potential U")
    axes[1].set_ylabel("σ_i²")
    figs["ivf"] = _save(fig, out / "ivf.png")

    H, C = probes["hessian"], probes["noise_cov"]
    fig, (ax, sx, bx) = subplots(1, 3, figsize=(15, 4))
    # distinct marker sizes and fills, so that laws that nearly coincide (continuous ≈ discrete) stay visible
    for key, label, style in (("continuous", "continuous law (Eq. 14)", dict(marker="o", ms=7, mfc="none")),
                              ("discrete", "exact discrete law", dict(marker="s", ms=3)),
                              ("window_from_w0", "finite-window law", dict(marker="^", ms=4))):
        predicted = summary["lyapunov"].get(key, {}).get("predicted")
        if predicted is not None:  # a law undefined here (no stationary state) has no points
            x, y = np.asarray(var, float), np.asarray(predicted, float)
            ok = used & np.isfinite(y) & (y > 0) & (x > 0)
            ax.loglog(x[ok], y[ok], ls="none", label=label, alpha=0.8, **style)
    shown = var[used & (var > 0)] if (used & (var > 0)).any() else var[var > 0]
    lim = [np.min(shown), np.max(shown)]
    ax.loglog(lim, lim, "k-", lw=0.8, label="predicted = measured")
    ax.set_xlabel("measured σ_i²")
    ax.set_ylabel("predicted p_iᵀΣp_i")
    ax.set_title("along the window's own p_i: biased by PCA's selection", fontsize=9)
    ax.legend(fontsize=7)
    spec = summary.get("sample_spectrum") or {}
    if spec.get("simulated_mean"):
        n = len(spec["simulated_mean"])
        i = np.arange(1, n + 1)
        sx.fill_between(i, spec["simulated_lo"], spec["simulated_hi"], color="C1", alpha=0.25, lw=0,
                        label="simulated windows of the law: 2.5–97.5%")
        sx.semilogy(i, spec["simulated_mean"], "-", color="C1", label="simulated windows of the law: mean")
        replay = summary.get("sample_spectrum_replay") or {}
        if replay.get("simulated_mean"):
            sx.fill_between(i, replay["simulated_lo"][:n], replay["simulated_hi"][:n], color="C2", alpha=0.25, lw=0,
                            label="replayed windows (Eq. 20, the run's sampling): 2.5–97.5%")
            sx.semilogy(i, replay["simulated_mean"][:n], "--", color="C2",
                        label="replayed windows (Eq. 20, the run's sampling): mean")
        sx.semilogy(i, var[:n], "o", ms=3, color="C0", label="measured σ_i² (this window)")
        sx.set_xlabel("principal component i")
        sx.set_ylabel("σ_i²")
        sx.set_title("the test: sample spectra, same T and PCA (no selection bias)", fontsize=9)
        sx.legend(fontsize=7)
    _band_verdicts(bx, spec, summary.get("sample_spectrum_replay") or {}, relaxation_symbol(summary.get("model")))
    figs["lyapunov"] = _save(fig, out / "lyapunov.png")

    fig, ax = subplots(figsize=(5, 3.6))
    idx = np.arange(1, var.size + 1)
    ax.semilogy(idx, np.abs(np.diag(H)), ".-", label="|H_P,ii|")
    ax.semilogy(idx, np.diag(C), ".-", label="C_P,ii")
    if "u_diag" in pot:
        ax.semilogy(idx, np.abs(pot["u_diag"]), ".-", label="|U_ii|")
    ax.set_xlabel("principal direction i")
    ax.legend()
    figs["spectra"] = _save(fig, out / "spectra.png")

    fig, axes = subplots(2, 2, figsize=(8, 6))
    lit = claim("noise_vs_hessian").prediction
    panels = [(width, np.diag(H), "F_i", f"H_P,ii (paper {claim('hessian_vs_flatness').prediction:+g})"),
              (width, np.diag(C), "F_i", f"C_P,ii (paper {claim('noise_vs_flatness').prediction:+g})"),
              (width, probes["theta_std"], "F_i", f"σ_θ,i (Feng & Tu {claim('theta_feng_tu').prediction:+g}, "
                                                  f"paper {claim('theta_paper').prediction:+g})"),
              (np.diag(H), np.diag(C), "H_P,ii", f"C_P,ii (literature {lit[0]:g}–{lit[1]:g}, paper "
                                                 f"{claim('noise_vs_hessian_paper').prediction:g})")]
    for ax, (x, y, xl, yl) in zip(axes.ravel(), panels, strict=True):
        _loglog(ax, x, y, "directions", used)
        _fitted(ax, np.abs(x), y, used, "fit")
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.legend(fontsize=6)
    figs["scaling"] = _save(fig, out / "scaling.png")
    figs["views"] = draw_views(summary, out / "views.png")
    return figs


def prediction_band(ax, key: str = "psi", label: str | None = None) -> None:
    """The prediction of claim ``key`` as a dotted line with its equivalence margin as a shaded band (the
    registry's numbers): an interval inside the band is *consistent*."""
    c = claim(key)
    lo, hi = (c.prediction if isinstance(c.prediction, tuple) else (c.prediction, c.prediction))
    ax.axhspan(lo - c.margin, hi + c.margin, color="k", alpha=0.07, lw=0)
    ax.axhline((lo + hi) / 2, color="k", ls=":", lw=0.8,
               label=label or f"{c.source.split(';')[0]}: {c.symbol} ≈ {c.prediction:g} (band: ± {c.margin:g}, "
                              f"the equivalence margin)")


def _claims(summary: dict) -> dict:
    return {c["key"]: c for c in (summary.get("findings") or {}).get("claims", [])}


def _titled(c: dict | None, what: str) -> str:
    """A panel title naming a claim's estimate, prediction ± margin and verdict (from the findings)."""
    if c is None or c.get("estimate") is None:
        return what
    # two lines, so that the titles of panels side by side do not run into each other
    return f"{what} = {measured_text(c)}\npredicted {prediction_text(c)}: {c['verdict']}"


def _band_verdicts(ax, spec: dict, replay: dict, rate: str = "α h T") -> None:
    """The sample-spectrum verdicts band by band: each relaxed band's median measured/simulated σ² (marker) and
    what sampling alone gives (bar: the 2.5–97.5% range of the same statistic among the simulated windows), for
    the law's simulated windows and, where the run has them, the replayed ones; ``rate`` names the relaxation index
    of the run's optimizer."""
    drawn = []
    for shift, comp, name, marker, color in ((-0.12, spec, "law (simulated windows)", "o", "C1"),
                                             (0.12, replay, "replayed windows (Eq. 20)", "D", "C2")):
        bands = [b for b in comp.get("bands", []) if b["relaxation"][0] >= 1 and b["null95"] is not None]
        for k, b in enumerate(bands):
            lo, hi = b["null95"]
            ax.plot([k + shift] * 2, [lo, hi], "-", color=color, lw=6, alpha=0.35,
                    label=f"{name}: sampling alone, 95%" if k == 0 else None)
            ax.plot(k + shift, b["median_ratio"], marker, color=color, ms=6,
                    label=f"{name}: measured/simulated, median" if k == 0 else None)
            drawn += [lo, hi, b["median_ratio"]]
        if bands:
            ax.set_xticks(range(len(bands)), [f"{rate} ∈ {band_label(b)}\n{b['n']} components" for b in bands],
                          fontsize=7)
    if not drawn:
        ax.set_axis_off()
        return
    ax.axhline(1.0, color="k", lw=0.8)
    if max(drawn) / min(drawn) > 3:  # ratios far from 1 (a law that misses): a log axis, plain numbers
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.3g"))
    ax.set_ylabel("median measured / simulated σ²")
    ax.set_title("band verdicts: consistent when the marker is inside its bar", fontsize=9)
    ax.legend(fontsize=7)


def _view_rows(summary: dict) -> list[dict]:
    """The windows whose ψ the views show: ``summary["ages"]["rows"]``, or this window alone as such a row."""
    if summary.get("ages"):
        return summary["ages"]["rows"]
    return [age_row(summary["burn_in"].get("age_epochs", 0), summary)]


def _psi_bars(ax, x, fits, fmt, color, label, shift=1.0):
    """ψ with its 95% interval as error bars at x (× shift, so that series sit side by side); gaps skipped."""
    pts = [(xi * shift, f) for xi, f in zip(x, fits, strict=True) if f and f.get("psi") is not None and f.get("ci95")]
    if not pts:
        return
    xs = np.array([p[0] for p in pts], float)
    psi = np.array([p[1]["psi"] for p in pts])
    lo, hi = np.array([p[1]["ci95"][0] for p in pts]), np.array([p[1]["ci95"][1] for p in pts])
    ax.errorbar(xs, psi, yerr=[psi - lo, hi - psi], fmt=fmt, color=color, ms=4, capsize=3, label=label)


def _log_ticks(ax, values):
    ax.set_xscale("log")
    ax.set_xticks(values)
    ax.set_xticklabels([f"{v:g}" for v in values])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def draw_views(summary: dict, path: Path) -> Path:
    """ψ as a function of how you look, from ``summary.json``: against K (nested K-scan), against the window length
    (nested sub-windows, same directions) and against the network's age (the run's later windows), Feng & Tu's
    way (along the window's own directions) and held out, each with its 95% bootstrap interval."""
    rows = _view_rows(summary)
    colors = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.8, max(len(rows), 1)))
    fig, (ak, aw, aa) = subplots(1, 3, figsize=(12, 3.8), sharey=True)
    ks: set = set()
    for row, color in zip(rows, colors, strict=True):
        k = [r["k"] for r in row["k_scan"]]
        ks.update(k)
        _psi_bars(ak, k, [r["feng_tu"] for r in row["k_scan"]], "o-", color, f"age {row['age']}: Feng & Tu", 0.97)
        _psi_bars(ak, k, [r.get("heldout") for r in row["k_scan"]], "s--", color, f"age {row['age']}: held out",
                  1.03)
        win = [n["window"] for n in row["nested"]]
        _psi_bars(aw, win, row["nested"], "o-", color, f"age {row['age']}")
    if ks:
        _log_ticks(ak, sorted(ks))
    if rows and rows[0]["nested"]:
        _log_ticks(aw, [n["window"] for n in rows[0]["nested"]])
    ages = [r["age"] for r in rows]
    _psi_bars(aa, ages, [r["feng_tu"] for r in rows], "o-", "C0", "Feng & Tu (own directions)")
    _psi_bars(aa, ages, [r["heldout"] for r in rows], "s--", "C1", "held out", 1.0)
    aa.set_xticks(ages)
    if len(rows) < 2:
        aa.text(0.5, 0.1, "one age recorded:\nset ages = [...] for more", transform=aa.transAxes, ha="center",
                fontsize=8)
    for ax, xl in ((ak, "K, principal directions in the fit (nested)"),
                   (aw, "last T′ snapshots of the window (same directions)"),
                   (aa, "age: epochs after the burn-in ends")):
        prediction_band(ax)
        ax.set_xlabel(xl)
        ax.legend(fontsize=6)
    ak.set_ylabel("ψ (σ_i² ∝ F_i^−ψ), 95% CI")
    return _save(fig, path)
