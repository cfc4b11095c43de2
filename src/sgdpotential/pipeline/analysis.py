"""From a recorded run to the paper's numbers: probes at ω0, the IVF fit, the Lyapunov test, the stochastic
potential in the principal subspace, and the scaling exponents (``summary.json``).

Two stages, each reading what the previous one wrote in the run directory:
:func:`probe_run` (``pca.npz`` → ``probes.npz``) and :func:`analyze` (everything → ``summary.json``).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from itertools import pairwise

import numpy as np
import scipy

from .._version import __version__
from ..claims import WARNINGS, claim
from ..errors import ConfigError, DecompositionError, TrainingDiverged
from ..theory import (
    LinearSGD,
    entropy_production_of,
    fit_power_law,
    flatness_of_quadratic,
    population_psi,
    rotation_planes,
)
from ..verdicts import MIN_POINTS, equivalence, null_band
from .findings import assess, stationary_interval
from .network import analysable
from .replayed import replayed_spectra
from .rundir import RunDir

__all__ = ["age_row", "analyze", "ivf_exponent", "probe_run", "usable_directions"]

#: Bands of the relaxation index r_i = α H_ii T_steps (T_steps: the SGD steps of the compared window). r < 1: the
#: direction has not relaxed within the window — its variance is diffusive, not stationary — and is reported apart.
RELAXATION_BANDS = (0.0, 1.0, 10.0, 100.0, math.inf)

#: Directions whose θ_i(t) is more than this share a linear trend are drift, not diffusion (Feng & Tu's PC1),
#: and are left out of the fits (counted in the summary).
DRIFT_MAX = 0.5


def probe_run(run_dir, *, n_batches: int = 1000) -> dict:
    """Probe the loss at the window mean ω0 along the run's principal directions; writes ``probes.npz``.

    Arrays: flatness ``left``, ``right``, ``width``, ``censored``, ``loss0``; ``hessian`` (H_P),
    ``noise_cov`` (C_P, paper Eq. 19), ``noise_cov_path`` (C̄_P, its average over the window's path along the
    run's first ``noise_axes`` principal axes and ``noise_snapshots`` residual snapshots; ``heldout_noise_cov_path``
    the same along the held-out basis, one evaluation for both) with ``noise_path_increments`` (each axis's
    term, trace over both bases), ``noise_path_residual``, ``noise_path_snapshots``, ``noise_path_clipped`` (the
    share of the estimate's trace in negative eigenvalues, set to 0); with reshuffled epochs also
    ``noise_cov_path_white`` and ``heldout_noise_cov_path_white`` (its part that does not cancel within an epoch,
    see :func:`_path_noise`) and ``noise_path_white_clipped``,
    ``noise_temperature``; minibatch landscape (Eq. 20) ``theta_mean``,
    ``theta_std``, ``M_mean``, ``M_std``, ``nonconvex_fraction``; ``hessian_top`` (largest eigenvalues of the
    Hessian over the recorded subset).
    With ``replay_paths``: ``replay_spectra``, the PCA spectra of that many replayed windows, and ``replay_start``,
    where they started (:func:`~sgdpotential.pipeline.replayed.replayed_spectra`) — or ``replay_error``, why a
    replay diverged (the quadratic model of a network can be unstable).
    With a K-scan in ``pca.npz``: ``scan_width``, ``scan_censored`` along its K_max directions (the first K are
    ``width``, ``censored``). With a held-out basis: ``heldout_width``, ``heldout_censored`` along its K_max
    directions, ``heldout_hessian``, ``heldout_noise_cov`` along its first K (twice the cost of H_P and C_P).
    """
    import torch

    from ..nn.objective import batch_dependence
    from ..nn.probes import (
        flatness,
        hessian_top_eigenvalues,
        loss_profiles,
        minibatch_landscape,
        noise_temperature,
        projected_hessian,
        projected_noise_covariance,
    )

    rd = RunDir(run_dir)
    pca = rd.load(RunDir.PCA)
    net = rd.network()
    tcfg = net.train
    obj = net.objective(base=pca["mean_all"])  # the run's loss, device and recorded subset, in eval mode
    # how much a sample's training-mode output depends on the rest of its minibatch (BatchNorm): SGD then
    # descended a batch-coupled loss, while every probe is defined in eval mode (a named warning in the summary)
    coupling = batch_dependence(net.model, net.data.X[:64].to(obj.device), train=True)
    w0 = torch.as_tensor(pca["mean"], dtype=obj.dtype, device=obj.device)
    P = torch.as_tensor(pca["components"], dtype=obj.dtype, device=obj.device)
    H = projected_hessian(obj, w0, P)
    flat = flatness(obj, w0, P, curvature=np.diag(H))  # H_P's products also start the search
    C = projected_noise_covariance(obj, w0, P)
    n_train = rd.load(RunDir.RECORD)["n_train"]  # the sampling factor, as the recording stage set it
    mb = minibatch_landscape(obj, w0, P, batch_size=tcfg.batch_size, n_batches=n_batches, seed=tcfg.seed)
    top = hessian_top_eigenvalues(obj, w0, k=min(3, obj.n_params - 1), tol=1e-4)
    # loss profiles along a few directions for the report, over ±1.5 × the widest crossing among them
    shown = np.unique(np.clip([1, P.shape[0] // 4, P.shape[0] - 1], 0, P.shape[0] - 1))
    reach = np.nanmax(np.abs(np.concatenate([flat.left[shown], flat.right[shown]]))) if np.isfinite(
        flat.width[shown]).any() else 1.0
    offsets = np.linspace(-1.5 * reach, 1.5 * reach, 61)
    profiles = loss_profiles(obj, w0, P[torch.as_tensor(shown)], offsets)
    arrays = {
        "left": flat.left, "right": flat.right, "width": flat.width, "censored": flat.censored,
        "loss0": np.array(flat.loss0), "hessian": H, "noise_cov": C,
        "noise_temperature": noise_temperature(C, tcfg.lr, tcfg.batch_size, n_train),
        "theta_mean": mb.theta_mean, "theta_std": mb.theta_std, "M_mean": mb.M_mean, "M_std": mb.M_std,
        "nonconvex_fraction": mb.nonconvex_fraction, "hessian_top": top,
        "profile_directions": shown, "profile_offsets": offsets, "profile_losses": profiles,
        "train_mode_coupling": np.array(coupling),
    }
    if "scan_components" in pca and pca["scan_components"].shape[0] > P.shape[0]:  # the K-scan's deeper directions
        extra = flatness(obj, w0, torch.as_tensor(pca["scan_components"][P.shape[0]:], dtype=obj.dtype,
                                                  device=obj.device))
        arrays.update({"scan_width": np.concatenate([flat.width, extra.width]),
                       "scan_censored": np.concatenate([flat.censored, extra.censored])})
    K = P.shape[0]
    both = P
    if "heldout_components" in pca:  # the held-out basis: flatness along all its directions, H and C along K
        PA = torch.as_tensor(pca["heldout_components"], dtype=obj.dtype, device=obj.device)
        HA = projected_hessian(obj, w0, PA[:K])  # the held-out basis may hold fewer than K directions
        flat_a = flatness(obj, w0, PA, curvature=np.concatenate([np.diag(HA), np.full(PA.shape[0] - len(HA), np.nan)]))
        arrays.update({"heldout_width": flat_a.width, "heldout_censored": flat_a.censored,
                       "heldout_hessian": HA, "heldout_noise_cov": projected_noise_covariance(obj, w0, PA[:K])})
        both = torch.cat([P, PA[:K]])
    if net.config.noise_axes or net.config.noise_snapshots:  # the noise the window experienced, along P and PA
        # one orthonormal basis of span(P, PA) (its rank is ≤ 2K, ≤ N when K = N): C̄ once, projected on both
        U, sv, _ = torch.linalg.svd(both.T.double(), full_matrices=False)
        basis = U[:, sv > 1e-9 * sv[0]].T.to(obj.dtype)

        try:  # the model of the window: with reshuffled epochs the path noise is split (see _path_noise)
            model = analysable(net.config, n_train, rd.preconditioner(pca["components"]))
        except ConfigError:
            model = None
        path = _path_noise(rd, obj, w0, basis, pca, net.config.noise_axes, net.config.noise_snapshots, model, H)
        R = (both.double() @ basis.T.double()).cpu().numpy()  # (2K or K, rank): the directions in that basis
        for name in ("noise_cov_path", "noise_cov_path_white"):
            if name in path:
                C_both = R @ path.pop(name) @ R.T
                arrays[name] = C_both[:K, :K]
                if both.shape[0] > K:
                    arrays[f"heldout_{name}"] = C_both[K:, K:]
        arrays.update(path)
    if net.config.replay_paths:  # windows of the minibatch-Hessian linearization, drawn like the run's own

        try:
            spectra, start = replayed_spectra(run_dir, net.config.replay_paths, net=net)
            arrays.update(replay_spectra=spectra, replay_start=np.array(start))
        except TrainingDiverged as exc:  # the quadratic model of a network need not be stable: say so, go on
            arrays["replay_error"] = np.array(str(exc))
    rd.save(RunDir.PROBES, **arrays)
    return arrays


def _path_noise(rd, obj, w0, basis, pca, n_axes: int, n_snapshots: int, model, H) -> dict:
    """C̄ along ``basis`` (:func:`~sgdpotential.nn.probes.path_noise_covariance`): the first ``n_axes`` principal
    axes of the window exactly, the rest from ``n_snapshots`` evenly spaced snapshots with those axes removed.

    With reshuffled epochs (``model.n_train``; ``model`` is None for an optimizer without a linear model) also its
    white part W (``noise_cov_path_white``): the response of C to the state covariance whose multiplicative noise
    does not cancel within an epoch (:meth:`~sgdpotential.theory.LinearSGD.uncancelled_state`), computed with
    ``H`` = H_P for the axes inside span(P); the axes outside P and the residual snapshots (the fast remainder)
    count as white entirely."""
    from ..nn.probes import noise_covariance_response, projected_noise_covariance
    from ..trajectory import Trajectory

    axes, ax_var = ((pca["scan_components"], pca["scan_variances"]) if "scan_components" in pca
                    else (pca["components"], pca["variances"]))
    axes, ax_var = axes[:n_axes].astype(np.float64), np.clip(ax_var[:n_axes], 0, None)
    store = Trajectory.open(rd / RunDir.TRAJECTORY)
    T = store.n_snapshots
    rows = np.unique(((np.arange(n_snapshots) + 0.5) * T / max(n_snapshots, 1)).astype(int)) if n_snapshots else []
    dev = (np.stack([store.read(i, i + 1)[0].astype(np.float64) - pca["mean"] for i in rows]) if len(rows) else
           np.zeros((0, axes.shape[1])))
    dev -= (dev @ axes.T) @ axes
    c0 = projected_noise_covariance(obj, w0, basis)
    along, inc = noise_covariance_response(obj, w0, basis, np.sqrt(ax_var)[:, None] * axes, c0=c0)
    rest, rest_tr = noise_covariance_response(obj, w0, basis, dev, np.full(len(dev), 1 / max(len(dev), 1)), c0=c0)
    C_path, clipped = _nearest_psd(c0 + along + rest)
    out = {"noise_cov_path": C_path, "noise_path_increments": inc, "noise_path_residual": np.array(rest_tr.sum()),
           "noise_path_snapshots": np.asarray(rows, dtype=np.int64), "noise_path_clipped": np.array(clipped)}
    if model is not None and model.n_train is not None:
        P = pca["components"].astype(np.float64)
        coords = axes @ P.T                                       # the axes in P's coordinates
        inside = np.abs(np.sum(coords**2, axis=1) - 1) < 1e-6
        S_W = model.uncancelled_state(H, (coords[inside].T * ax_var[inside]) @ coords[inside])
        mu, U = np.linalg.eigh(S_W)  # S_W = Σ_j μ_j u_j u_jᵀ, μ of either sign: C's response term by term
        keep = np.abs(mu) > 1e-12 * max(np.abs(mu).max(), np.finfo(float).tiny)
        steps = np.sqrt(np.abs(mu[keep]))[:, None] * (U[:, keep].T @ P)
        white, _ = noise_covariance_response(obj, w0, basis, steps, np.sign(mu[keep]), c0=c0)
        outside = noise_covariance_response(obj, w0, basis, np.sqrt(ax_var[~inside])[:, None] * axes[~inside],
                                            c0=c0)[0] if (~inside).any() else 0.0
        W, clipped = _nearest_psd(white + outside + rest)
        out.update(noise_cov_path_white=W, noise_path_white_clipped=np.array(clipped))
    return out


def _nearest_psd(C) -> tuple[np.ndarray, float]:
    """The nearest positive semi-definite matrix (negative eigenvalues set to 0) — an estimate from finitely many
    axes and snapshots need not be PSD — and the share of the trace that took."""
    lam, vec = np.linalg.eigh((C + C.T) / 2)
    clipped = float(-lam[lam < 0].sum() / max(lam[lam > 0].sum(), np.finfo(float).tiny))
    return (vec * np.clip(lam, 0, None)) @ vec.T, clipped


def _fit(x, y, mask, seed=0) -> dict | None:
    """Power-law fit over the masked positive points, as a JSON-ready dict (None with fewer than 3)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    use = mask & np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if use.sum() < 3:
        return None
    f = fit_power_law(x[use], y[use], seed=seed)
    return {"exponent": f.exponent, "ci95": list(f.ci), "r2": f.r2, "n": f.n}


def usable_directions(width, censored, drift) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The directions an IVF fit uses: finite flatness on both sides and not drift (share of a linear trend
    ≤ :data:`DRIFT_MAX`). Returns (use, is_drift, censored) boolean masks."""
    censored = np.asarray(censored).any(axis=1)
    is_drift = np.asarray(drift) > DRIFT_MAX
    return ~censored & ~is_drift & np.isfinite(width), is_drift, censored


def ivf_exponent(width, variances, use) -> dict:
    """ψ of σ_i² ∝ F_i^−ψ over the ``use`` directions: {psi, ci95, r2, n_used} (None values below 3 points)."""
    fit = _fit(width, variances, use)
    if fit is None:
        return {"psi": None, "ci95": None, "r2": None, "n_used": int(np.sum(use))}
    return {"psi": -fit["exponent"], "ci95": [-fit["ci95"][1], -fit["ci95"][0]], "r2": fit["r2"], "n_used": fit["n"]}


def _ratio_stats(pred: np.ndarray, measured: np.ndarray, use: np.ndarray) -> dict:
    d = np.diag(pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = d / measured
    ok = use & np.isfinite(ratio) & (ratio > 0)
    off = pred - np.diag(d)
    return {
        "predicted": [float(x) for x in d],
        "ratio": [float(r) if np.isfinite(r) else None for r in ratio],
        "median_abs_log10_ratio": float(np.median(np.abs(np.log10(ratio[ok])))) if ok.any() else None,
        "median_ratio": float(np.median(ratio[ok])) if ok.any() else None,
        "offdiag_over_diag": float(np.linalg.norm(off) / np.linalg.norm(d)) if np.linalg.norm(d) > 0 else None,
    }


def relaxation_index(model, hessian, steps: int) -> np.ndarray:
    """r_i = F_ii × steps, F the overdamped force of the optimizer's linear model (αH for SGD, αH/(1 − μ) with
    heavy-ball momentum, αPH for Adam/RMSprop): how many relaxation times of direction i a window of ``steps``
    steps spans (≤ 0 for flat or negative-curvature directions)."""
    return np.diag(model.force(hessian)) * steps


def compare_by_relaxation(predicted, measured, r, use) -> dict:
    """Predicted against measured variances, band by band of the relaxation index r (:data:`RELAXATION_BANDS`).

    Per band: ``n``, ``median_ratio`` (predicted/measured) and ``se`` — the sampling error of that median,
    √(π/2)·median_i √(2/r_i)/√n, from the relative standard error √(2/r) of a variance estimated over a window
    with relaxation index r (an AR(1) mode with lag-1 correlation 1 − αh observed for r/(αh) steps); None below 3
    directions or in the unrelaxed band (r < 1), where no stationary sampling error exists. A description, not a
    test: along a window's own directions PCA's selection biases the ratio (no verdict is attached).
    """
    predicted, measured, r = (np.asarray(a, dtype=float) for a in (predicted, measured, r))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = predicted / measured
    ok = np.asarray(use, bool) & np.isfinite(ratio) & (ratio > 0)
    bands = []
    for lo, hi in pairwise(RELAXATION_BANDS):
        m = ok & (r >= lo) & (r < hi)
        band = {"relaxation": [lo, None if math.isinf(hi) else hi], "n": int(m.sum()), "median_ratio": None,
                "se": None}
        if m.any():
            band["median_ratio"] = float(np.median(ratio[m]))
        if m.sum() >= 3 and lo >= 1:
            band["se"] = float(math.sqrt(math.pi / 2) * np.median(np.sqrt(2 / r[m])) / math.sqrt(m.sum()))
        bands.append(band)

    def group(m):
        return {"n": int(m.sum()), "median_ratio": float(np.median(ratio[m])) if m.any() else None}

    return {"relaxed": group(ok & (r >= 1)), "slow": group(ok & (r < 1)), "bands": bands}


#: Simulated windows of the linear law behind the sample-spectrum comparison.
SPECTRUM_PATHS = 20


def compare_sample_spectrum(measured, simulated, r) -> dict:
    """The run's PCA spectrum against the sample spectra of simulated windows of the law (same T, stride, PCA).

    Per band of the relaxation index r_i (:data:`RELAXATION_BANDS`): ``n``, ``median_ratio`` =
    median_i σ_i²/⟨σ̂_i²⟩_sim, and ``null95`` — the 2.5–97.5% range of the same statistic for each simulated
    path against the mean of the others (what sampling alone produces), and ``verdict`` by
    :func:`~sgdpotential.verdicts.null_band` (inside / outside ``null95``; inconclusive below
    :data:`~sgdpotential.verdicts.MIN_POINTS` components).
    """
    measured, simulated, r = (np.asarray(a, dtype=float) for a in (measured, simulated, r))
    K = min(measured.size, simulated.shape[1])
    measured, simulated, r = measured[:K], simulated[:, :K], r[:K]
    mean = simulated.mean(axis=0)
    others = [(simulated.sum(axis=0) - s) / (len(simulated) - 1) for s in simulated]
    ok = (measured > 0) & (mean > 0) & np.isfinite(r)
    bands = []
    for lo, hi in pairwise(RELAXATION_BANDS):
        m = ok & (r >= lo) & (r < hi)
        band = {"relaxation": [lo, None if math.isinf(hi) else hi], "n": int(m.sum()), "median_ratio": None,
                "null95": None, "verdict": "inconclusive"}
        if m.sum() >= 1:
            band["median_ratio"] = float(np.median(measured[m] / mean[m]))
        if m.sum() >= 3:
            null = [float(np.median(s[m] / o[m])) for s, o in zip(simulated, others, strict=True)]
            band["null95"] = [float(np.percentile(null, 2.5)), float(np.percentile(null, 97.5))]
        band["verdict"] = null_band(band["median_ratio"], band["null95"], band["n"])
        bands.append(band)
    return {"simulated_mean": [float(x) for x in mean],
            "simulated_lo": [float(x) for x in np.percentile(simulated, 2.5, axis=0)],
            "simulated_hi": [float(x) for x in np.percentile(simulated, 97.5, axis=0)], "bands": bands}


def _sample_spectrum(var, H, pr, model, T: int, stride: int) -> dict:
    """The measured spectrum against :meth:`~sgdpotential.theory.LinearSGD.sample_spectra` of the window law,
    driven by the path-averaged noise C̄_P where the probes measured it (else C_P at ω0).

    ``noise``: which C drove it, over how many principal axes, tr C̄_P / tr C_P(ω0), and the share of the
    path correction that the exact axes carry (the rest comes from the residual snapshots), and ``clipped``: the
    share of the estimate's trace in negative eigenvalues, set to 0 (an estimate need not be PSD)."""
    C0 = pr["noise_cov"]
    noise: dict = {"source": "w0", "axes": 0}
    C, white = C0, None
    if "noise_cov_path" in pr:
        C, inc, rest = pr["noise_cov_path"], pr["noise_path_increments"], float(pr["noise_path_residual"])
        total = float(np.sum(inc)) + rest
        noise = {"source": "path", "axes": int(inc.size), "snapshots": int(pr["noise_path_snapshots"].size),
                 "trace_ratio": float(np.trace(C) / np.trace(C0)),
                 "clipped": float(pr["noise_path_clipped"]) if "noise_path_clipped" in pr else None,
                 "axes_share": float(np.sum(inc) / total) if total else None}
        if "noise_cov_path_white" in pr:  # reshuffled epochs: the part that does not cancel within one
            white = pr["noise_cov_path_white"]
            noise["white_share"] = float(np.trace(white) / np.trace(C))
    sims = model.sample_spectra(H, C, T * stride, var.size, paths=SPECTRUM_PATHS, stride=stride, white=white)
    r = relaxation_index(model, H, T * stride)
    return {"paths": SPECTRUM_PATHS, "noise": noise, "relaxation_index": [float(x) for x in r],
            **compare_sample_spectrum(var, sims, r)}


def _replayed_spectrum(var, H, pr, model, T: int, stride: int) -> dict | None:
    """The measured spectrum against the spectra of the replayed windows (``replay_spectra`` of the probes: SGD on
    the minibatch-Hessian linearization with the run's sampling, started where the window started), by
    :func:`compare_sample_spectrum`; ``{"error": …}`` when a replay diverged; None when the run replayed none
    (``replay_paths = 0``)."""
    if "replay_error" in pr:
        return {"error": str(pr["replay_error"])}
    if "replay_spectra" not in pr:
        return None
    sims = pr["replay_spectra"]
    return {"paths": int(sims.shape[0]), "model": "batch-Hessian replay (Eq. 20), the run's sampling",
            "start": str(pr["replay_start"]),
            **compare_sample_spectrum(var, sims, relaxation_index(model, H, T * stride))}


def _k_scan(pca, pr) -> dict | None:
    """ψ over the nested K of :func:`~sgdpotential.trajectory.pca.k_ladder`, Feng & Tu's way (variances along
    the window's own directions) and held out (directions from the first half, variances from the second).
    Whether K moves ψ is decided with the claim (:mod:`~sgdpotential.pipeline.findings`)."""
    from ..trajectory.pca import k_ladder

    if "scan_variances" not in pca:  # recorded before the scan existed
        return None
    K = pca["components"].shape[0]
    width = pr["scan_width"] if "scan_width" in pr else pr["width"]
    censored = pr["scan_censored"] if "scan_censored" in pr else pr["censored"]
    var, drift = pca["scan_variances"][: width.size], pca["scan_drift"][: width.size]
    use, _, _ = usable_directions(width, censored, drift)
    rows = []
    for k in k_ladder(K, width.size):
        row = {"k": k, "feng_tu": ivf_exponent(width[:k], var[:k], use[:k])}
        if "heldout_width" in pr and pr["heldout_width"].size >= k:
            h_use, _, _ = usable_directions(pr["heldout_width"][:k], pr["heldout_censored"][:k],
                                            pca["heldout_drift"][:k])
            row["heldout"] = ivf_exponent(pr["heldout_width"][:k], pca["heldout_variances"][:k], h_use)
        rows.append(row)
    return {"k_max": int(width.size), "rows": rows}


def _heldout(pca, pr, model, stride: int) -> dict | None:
    """The comparisons along the held-out basis: directions from the first half of the window, variances from
    the second half, laws projected on those directions (selection bias only where directions stay correlated
    across the halves), driven by C̄ along them where it was probed."""
    if "heldout_components" not in pca or "heldout_hessian" not in pr:
        return None
    H = pr["heldout_hessian"]
    C = pr["heldout_noise_cov_path"] if "heldout_noise_cov_path" in pr else pr["heldout_noise_cov"]
    K = H.shape[0]  # the run's K (the held-out basis itself reaches K_max, for the K-scan)
    split, var, width = int(pca["heldout_split"]), pca["heldout_variances"][:K], pr["heldout_width"][:K]
    n_second = int(pca["projections"].shape[0]) - split
    steps, start = n_second * stride, split * stride  # the second half's SGD steps, and how far into the window
    use, is_drift, censored = usable_directions(width, pr["heldout_censored"][:K], pca["heldout_drift"][:K])
    r = relaxation_index(model, H, steps)
    out = {"split": split, "n_second": n_second, "steps": steps, "start_steps": start,
           **{f"ivf_{k}": v for k, v in ivf_exponent(width, var, use).items()},
           "ivf_selection_psi": ivf_exponent(width, pca["heldout_selection_variances"][:K], use)["psi"],
           "n_drift": int(is_drift.sum()), "n_censored": int(censored.sum()),
           "relaxation_index": [float(x) for x in r], "variances": [float(x) for x in var]}
    laws = {"window_from_w0": lambda: model.window(H, C, steps, start=start),
            "window_stationary": lambda: model.window(H, C, steps), "discrete": lambda: model.discrete(H, C)}
    for name, law in laws.items():
        try:
            pred = np.diag(law())
        except DecompositionError as exc:
            out[name] = {"error": str(exc)}
            continue
        out[name] = {"predicted": [float(x) for x in pred], **compare_by_relaxation(pred, var, r, use)}
    return out


def _population(model, pr, k: int, T: int, stride: int, n_params: int, ks=()) -> dict:
    """The population ψ of the run's linear model (:func:`~sgdpotential.theory.population_psi`: the law of T snapshots
    ``stride`` steps apart, along its own K leading directions), when the analysed subspace holds every weight —
    for a quadratic loss the exact value a window's estimators try to measure; otherwise why it is not defined.
    Driven by C̄ along the path where it was probed (``noise_cov_path``), else C(ω0); ``by_k`` gives it over the
    K-scan's ``ks`` as well (the leading directions are nested; a K beyond the ``k`` directions with curvature and
    noise uses them all, as a run's fit leaves out the others' infinite flatness)."""
    if k < n_params:
        return {"psi": None, "why": f"the analysed subspace holds {k} of the {n_params} weights, and the population ψ "
                                    f"is the linear model's in every weight (params = 'all', components = {n_params})"}
    if type(model) is not LinearSGD:
        return {"psi": None, "why": "the population ψ is computed for plain SGD's window law"}
    C = pr["noise_cov_path"] if "noise_cov_path" in pr else pr["noise_cov"]
    try:
        pop = population_psi(pr["hessian"], C, float(pr["loss0"]), k, lr=model.lr, batch_size=model.batch_size,
                             snapshots=T, stride=stride, n_train=model.n_train)
    except DecompositionError as exc:
        return {"psi": None, "why": str(exc)}
    by_k = [{"k": int(j), "psi": pop.first(min(j, pop.k)).psi} for j in ks if j >= 3]
    return {"psi": pop.psi, "k": pop.k, "by_k": by_k, "snapshots": T, "stride": stride,
            "noise": "noise_cov_path" if "noise_cov_path" in pr else "noise_cov",
            "sampling": "with replacement (exact)" if model.n_train is None else
                        "reshuffled epochs, as white noise scaled by κ (the window law's approximation)"}


def age_row(age: int, s: dict) -> dict:
    """One window's ψ as the age table of ``summary.json`` holds it (``s``: that window's summary): Feng & Tu's and
    held out at the run's K, over K and over sub-windows, its stationarity and sample-spectrum verdicts."""
    held, scan = s.get("heldout") or {}, s.get("k_scan") or {}
    return {
        "age": int(age), "epochs": s["burn_in"]["epochs"],
        "feng_tu": {"psi": s["ivf"]["psi"], "ci95": s["ivf"]["ci95"]},
        "heldout": {"psi": held.get("ivf_psi"), "ci95": held.get("ivf_ci95")},
        "k_scan": [{"k": r["k"], "feng_tu": r["feng_tu"], "heldout": r.get("heldout")} for r in scan.get("rows", [])],
        "nested": s["ivf"]["nested"],
        "stationarity": s.get("stationarity"),
        "sample_spectrum": [{"relaxation": b["relaxation"], "n": b["n"], "median_ratio": b["median_ratio"],
                             "verdict": b["verdict"]} for b in (s.get("sample_spectrum") or {}).get("bands", [])],
    }


def _ages(cfg, summary: dict, children: list[tuple[int, dict]]) -> dict | None:
    """ψ at each age of the run: its own window and those of ``cfg.ages`` (``children``: their summaries; whether
    the age moves it is decided with each claim, :mod:`~sgdpotential.pipeline.findings`)."""
    if not cfg.ages:
        return None
    return {"rows": [age_row(cfg.train_config().age_epochs, summary), *(age_row(a, c) for a, c in children)]}


#: Health checks (:func:`_warnings`): fewer directions than this in a fit (the verdict rules' own threshold); K above
#: this share of T; fewer snapshots than this share of the recorded weights.
MIN_FIT_POINTS = MIN_POINTS
MAX_K_SHARE_OF_T = 0.25
MIN_T_SHARE_OF_N = 0.1


def _drift(rd) -> dict:
    """Adam / RMSprop: how far the preconditioner 1/(√v̂ + ϵ) moved over the window, on the recorded weights — the
    measure of the frozen-moment approximation (relative Frobenius change and the median per-weight change)."""
    if not (rd.path / RunDir.PRECONDITIONER).exists():
        return {}
    with rd.load(RunDir.PRECONDITIONER) as z:
        a, b = z["start"][z["recorded"]], z["end"][z["recorded"]]
    return {"preconditioner_drift": float(np.linalg.norm(b - a) / np.linalg.norm(a)),
            "preconditioner_drift_median": float(np.median(np.abs(b - a) / a))}


def _warnings(tcfg, summary: dict, K: int, T: int, N: int, coupling: float = 0.0) -> list[dict]:
    """Named warnings, one short sentence each, in the order of :data:`~sgdpotential.claims.WARNINGS` (most
    severe first): what the laws do not model in this run, and what makes its numbers fragile. Which verdicts each
    one invalidates or qualifies is the registry's (bound in :func:`~sgdpotential.pipeline.findings.assess`); the
    long explanations are in the docs (``docs/verdicts.md``)."""
    from ..nn.objective import DETERMINISM_RTOL

    said: dict[str, str] = {}
    b = summary["burn_in"]
    if b.get("reached_target") is False:
        said["target_not_reached"] = (
            f"burn-in ended after {b['target_epochs']} epochs at training accuracy {b['accuracy']:.4f}, below the "
            f"target {tcfg.target_accuracy:g}: the window is not the protocol's (raise max_burn_in_epochs or the "
            f"learning rate, or lower target_accuracy).")
    if coupling > DETERMINISM_RTOL:
        said["model_not_deterministic"] = (
            f"in training mode a sample's output depends on the rest of its minibatch (relative change "
            f"{coupling:.2g}; BatchNorm's batch statistics): probes, laws and replays describe the eval-mode "
            f"process, not the one trained.")
    if T < MIN_T_SHARE_OF_N * N:
        said["few_snapshots"] = (
            f"T = {T} snapshots for N = {N} recorded weights (fewer than N/{1 / MIN_T_SHARE_OF_N:g}): the window "
            f"sees a small corner of the weight space; record a longer window or fewer weights.")
    if K > MAX_K_SHARE_OF_T * T:
        said["k_close_to_t"] = (
            f"K = {K} principal directions from T = {T} snapshots (K > T/{1 / MAX_K_SHARE_OF_T:g}): the deep "
            f"components are dominated by sampling noise; record a longer window or lower K.")
    held, pot = summary.get("heldout") or {}, summary.get("potential") or {}
    fits = (("ivf", {"n": summary["ivf"]["n_used"]}), ("heldout", {"n": held.get("ivf_n_used")} if held else None),
            *summary["exponents"].items(), ("sigma2_vs_u_flatness", pot.get("sigma2_vs_u_flatness")))
    few = [(name, f["n"]) for name, f in fits if f and f.get("n") is not None and f["n"] < MIN_FIT_POINTS]
    if few:
        said["few_fit_points"] = (
            "fits over fewer than " + str(MIN_FIT_POINTS) + " directions: "
            + ", ".join(f"{name} ({n})" for name, n in few)
            + " — their verdicts are inconclusive; raise K or the window length.")
    st = summary.get("stationarity")
    fdr = claim("stationary")
    if (ci := stationary_interval(st)) is not None and equivalence(ci, fdr.prediction, fdr.margin) == "inconsistent":
        said["not_stationary"] = (
            f"Yaida's fluctuation–dissipation ratio over the window is {st['fdr_ratio']:.3g} ± {st['se']:.2g} "
            f"({fdr.prediction:g} at stationarity): the weights drift, so the stationary laws do not describe the "
            f"window.")
    if summary["model"].get("approximate"):
        said["frozen_preconditioner"] = (
            f"optimizer = {tcfg.optimizer!r}: the laws treat its second-moment estimate as frozen over the window "
            f"(the preconditioner 1/(√v̂ + ϵ) moved by {summary['model'].get('preconditioner_drift', math.nan):.1%} "
            f"between the window's first and last step, relative Frobenius change on the recorded weights).")
    pca = summary["pca"]
    null = (pca.get("pc1_null95") or [None, pca["null_pc1_ratio"]])[1]  # the drift claim's null when there is one
    if summary["ivf"]["n_drift"] == 0 and pca["pc1_ratio"] > null:
        said["drift_not_separated"] = (
            f"PC1 holds {pca['pc1_ratio']:.2f} of the variance (above what diffusion alone gives, {null:.2f}) but "
            f"no direction's motion is a trend (drift share ≤ {DRIFT_MAX}): PC1 stays in the fits — check "
            f"trajectory.png.")
    if tcfg.sampling == "shuffle":
        said["reshuffled_minibatches"] = (
            "sampling = 'shuffle': the subspace law's simulated windows model the epoch's anticorrelated noise with "
            "a decoupling approximation and the analytic laws treat it as white; "
            + ("the replayed windows draw minibatches as the run did." if summary.get("sample_spectrum_replay") else
               "replay_paths = 20 adds windows replayed with the run's own sampling."))
    return [{"name": w.name, "message": said[w.name]} for w in WARNINGS if w.name in said]


def analyze(run_dir) -> dict:
    """Assemble ``summary.json`` from ``config.json``, ``record.json``, ``pca.npz`` and ``probes.npz``.

    Sections: ``ivf`` (ψ of σ_i² ∝ F_i^−ψ with a 95% bootstrap interval, R², directions used and left out,
    K, T, and ψ on nested sub-windows with the same directions), ``lyapunov`` (the laws of the run's linear model,
    :class:`~sgdpotential.theory.LinearSGD` — continuous, exact discrete and finite-window predictions of
    diag Σ with F = αH_P, D = κC_P, ε = α²/2B — each with its ``predicted`` variances and their ratios to
    the measured σ_i², relaxation times against the window), ``potential`` (the decomposition: kind,
    U-flatness and the slope of σ_i² against it, ‖Q‖/‖D‖, the normalised commutator ‖[H_P, C_P]‖, entropy
    production, rotation planes), ``exponents`` (H_P,ii, C_P,ii, σ_i², σ_θ,i against F_i; C_P,ii against
    H_P,ii), ``pca`` (with the PC1 null of diffusion without drift), ``model`` (the linear model's α, B, N_L, ε,
    κ), ``warnings`` (named, most severe first), ``findings`` (every claim of :mod:`sgdpotential.claims` with its
    estimate, interval, verdict, the warnings that bind it and the choices that move it:
    :func:`~sgdpotential.pipeline.findings.assess`) and ``provenance`` (of the recording, and the versions of the
    analysis). Pure arithmetic on the stored arrays: rerunning it reproduces the
    summary exactly. A run whose optimizer the theory does not model is refused (:class:`ConfigError`).
    """

    rd = RunDir(run_dir)
    cfg, tcfg, rec, pca, pr = rd.stored()
    model = analysable(cfg, rec.get("n_train"), rd.preconditioner(pca["components"]))
    held_model = (analysable(cfg, rec.get("n_train"), rd.preconditioner(pca["heldout_components"][
        : pca["components"].shape[0]])) if "heldout_components" in pca and rd.preconditioner() is not None else model)
    lr = tcfg.lr
    var = pca["variances"]
    T = int(rec["n_snapshots"])
    window = int(rec["window_steps"])  # SGD steps the T snapshots span (T × stride): what the window law needs
    width = pr["width"]
    use, is_drift, censored = usable_directions(width, pr["censored"], pca["drift"])

    # ---------------------------------------------------------------- IVF
    proj = pca["projections"]
    nested = []
    K = int(pca["components"].shape[0])
    for frac in (0.125, 0.25, 0.5, 1.0):
        n = max(3, round(frac * T))
        fit = ivf_exponent(width, proj[-n:].var(axis=0), use)
        # a sub-window with K > n/4 fails the run's own health rule (k_close_to_t): shown, never a verdict's input
        nested.append({"window": n, "psi": fit["psi"], "ci95": fit["ci95"], "n_used": fit["n_used"],
                       "invalidated_by": ["k_close_to_t"] if K > MAX_K_SHARE_OF_T * n else []})
    k_scan = _k_scan(pca, pr)
    ivf_out = {
        **ivf_exponent(width, var, use),
        "n_drift": int(is_drift.sum()), "n_censored": int(censored.sum()),
        "k": K, "window": T, "nested": nested, "drift_max": DRIFT_MAX,
        "population": _population(model, pr, K, T, int(tcfg.stride), int(rec["n_params"]),
                                  [r["k"] for r in (k_scan or {}).get("rows", [])]),
    }

    # ---------------------------------------------------------------- Lyapunov test
    H = pr["hessian"]
    C = pr["noise_cov"]
    h = np.linalg.eigvalsh(H)
    lyap = {"eps": model.eps, "lr_lambda_min": float(lr * h[0]), "lr_lambda_max": float(lr * h[-1]),
            "lr_hessian_top": [float(lr * x) for x in pr["hessian_top"]]}
    for name, law in model.laws(H, C, window).items():
        lyap[name] = {"error": str(law)} if isinstance(law, DecompositionError) else _ratio_stats(law, var, use)
    hd = np.diag(H)
    with np.errstate(divide="ignore"):
        fd = np.diag(model.force(H))  # the overdamped per-step relaxation rate of each direction
        tau = np.where(fd > 0, 1.0 / fd, np.inf)
    lyap["relaxation_steps"] = [float(t) if np.isfinite(t) else None for t in tau]
    lyap["n_slower_than_window"] = int(np.sum(tau > window))

    # ---------------------------------------------------------------- stochastic potential
    pot: dict = {}
    try:
        dec = model.decompose(H, C)
        U = dec.U
        u_diag = np.diag(U)
        uflat = flatness_of_quadratic(np.where(u_diag > 0, u_diag, np.nan), level=model.eps)
        slope = _fit(uflat, var, use)
        comm = H @ C - C @ H
        pot = {
            "kind": dec.kind, "max_residual": dec.max_residual(),
            "u_diag": [float(x) for x in u_diag],
            "u_flatness": [float(x) if np.isfinite(x) else None for x in uflat],
            "sigma2_vs_u_flatness": slope,  # Boltzmann in U (claim boltzmann_u)
            "q_over_d": float(np.linalg.norm(dec.Q) / np.linalg.norm(dec.D)),
            "commutator": float(np.linalg.norm(comm) / (np.linalg.norm(H) * np.linalg.norm(C))),
        }
        if dec.kind == "stable":
            try:
                pot["entropy_production_per_step"] = entropy_production_of(dec)
                planes = rotation_planes(dec)
                pot["rotation_q"] = [float(q) for q in planes.q[:5]]
            except DecompositionError as exc:
                pot["thermo_error"] = str(exc)
    except DecompositionError as exc:
        pot = {"error": str(exc)}

    # ---------------------------------------------------------------- exponents
    exps = {
        "hessian_diag_vs_flatness": _fit(width, hd, use),
        "noise_diag_vs_flatness": _fit(width, np.diag(C), use),
        "theta_spread_vs_flatness": _fit(width, pr["theta_std"], use),
        "noise_vs_hessian_diag": _fit(hd, np.diag(C), use),
    }
    summary = {
        "schema": "sgdpotential.summary/2",
        "config": {**cfg.to_dict(), "train": asdict(tcfg)},  # every setting, defaults included
        "burn_in": rec["burn_in"],
        "stationarity": rec.get("stationarity"),
        "pca": {**rec["pca"], "pc1_null95": _pc1_null(pca, T)},
        "model": {**model.describe(), **_drift(rd)},
        "ivf": ivf_out,
        "lyapunov": lyap,
        "potential": pot,
        "exponents": exps,
        "loss0": float(pr["loss0"]),
        "heldout": _heldout(pca, pr, held_model, int(tcfg.stride)),
        "k_scan": k_scan,
        "sample_spectrum": _sample_spectrum(var, H, pr, model, T, int(tcfg.stride)),
        "sample_spectrum_replay": _replayed_spectrum(var, H, pr, model, T, int(tcfg.stride)),
        "warnings": [],
        "ages": None,
        "findings": None,
        "provenance": {"record": rec.get("provenance"),
                       "analysis": {"sgdpotential": __version__, "numpy": np.__version__, "scipy": scipy.__version__}},
    }
    summary["warnings"] = _warnings(tcfg, summary, K, T, int(rec["n_params"]),
                                    float(pr["train_mode_coupling"]) if "train_mode_coupling" in pr else 0.0)
    children = [(a, child.load(RunDir.SUMMARY)) for a, child in rd.age_dirs(cfg)] if cfg.ages else []
    summary["ages"] = _ages(cfg, summary, children)
    summary["findings"] = assess(summary, rd.load(RunDir.LADDER) if rd.has(RunDir.LADDER) else None,
                                 [(a, {c["key"]: c for c in (child.get("findings") or {}).get("claims", [])})
                                  for a, child in children])
    rd.save(RunDir.SUMMARY, summary)
    return summary


def _pc1_null(pca, T: int) -> list[float] | None:
    """The 95% range of PC1's share under diffusion without drift with this window's spectrum
    (:func:`~sgdpotential.trajectory.pca.random_walk_pc1_range`), or None for a window too short for one."""
    from ..trajectory.pca import random_walk_pc1_range

    try:
        return list(random_walk_pc1_range(pca["spectrum"], T))
    except ConfigError:
        return None

