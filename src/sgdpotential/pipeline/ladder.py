"""Which ingredient makes the IVF relation? The model ladder of a recorded run (``ladder.json``).

Rungs, from the real thing to the paper's subspace theory, each measured the same way (ψ of σ_i² ∝ F_i^−ψ
with its interval, total variance, PC1 share, variance along real SGD's principal directions):

* ``sgd`` — the recorded run;
* ``batch`` — a linearized replay with minibatch Hessians and minibatch gradient noise (paper Eq. 20) in
  *all* weights (:func:`~sgdpotential.dynamics.replay.linearized_replay`);
* ``full`` — the same with the full-batch Hessian: the linear SDE of Eqs. (4)/(17) in all weights;
* ``isotropic`` — the full-Hessian replay with isotropic gradient noise of the same trace (Einstein control);
* ``continuous``, ``discrete``, ``window`` — the subspace laws with F = αH_P, D = κC_P (Eqs. 5/17,
  the exact discrete recursion, and the finite window from ω0).

Plus two diagnostics of the subspace itself: a linear SDE fitted to θ(t) (VAR(1) on the increments,
:func:`~sgdpotential.theory.fit.fit_linear_sde`) against (αH_P, C_P) and its potential U, with the area-rate
estimate of εQ; and the closure shares of H p_i and C p_i outside span(P) (:mod:`~sgdpotential.nn.probes.closure`).
"""

from __future__ import annotations

import shutil
import time

import numpy as np

from ..errors import ConfigError, DecompositionError
from ..theory import LinearSGD, area_rate, decompose, fit_linear_sde
from .analysis import ivf_exponent, usable_directions
from .network import analysable
from .replayed import optimizer_of
from .rundir import RunDir

__all__ = ["REPLAYS", "ladder"]

#: The replay rungs: name → (hessian, noise) of :func:`~sgdpotential.dynamics.replay.linearized_replay`.
REPLAYS = {"batch": ("batch", "sgd"), "full": ("full", "sgd"), "isotropic": ("full", "isotropic")}

LABELS = {
    "sgd": "real SGD",
    "batch": "replay: minibatch Hessian + SGD noise (Eq. 20)",
    "full": "replay: full Hessian + SGD noise (Eqs. 4/17)",
    "isotropic": "replay: full Hessian + isotropic noise (control)",
    "continuous": "subspace law, continuous (Eq. 14)",
    "discrete": "subspace law, exact discrete SGD",
    "window": "subspace law, finite window from ω0",
}


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    """‖a − b‖_F / ‖b‖_F."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _along(snapshots: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Variance of a trajectory (T, N) along each row of ``components`` (float64 accumulation)."""
    theta = (snapshots - snapshots.mean(axis=0)).astype(np.float64) @ components.T
    return theta.var(axis=0)


def _rung(name: str, psi: dict, ref: dict | None, along: np.ndarray, sgd_var: np.ndarray, use: np.ndarray,
          **extra) -> dict:
    """One row of the ladder: ψ with its interval, its place relative to real SGD's interval, the
    variance along real SGD's principal directions and the ratios to real SGD there."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = along / sgd_var
    ok = use & np.isfinite(ratio) & (ratio > 0)
    row = {"name": name, "label": LABELS[name], **psi, "subspace_variance": float(np.sum(along)),
           "ratio_along_sgd": [float(r) if np.isfinite(r) else None for r in ratio],
           "median_ratio": float(np.median(ratio[ok])) if ok.any() else None,
           "median_abs_log10_ratio": float(np.median(np.abs(np.log10(ratio[ok])))) if ok.any() else None, **extra}
    if ref is not None and ref["psi"] is not None and psi["psi"] is not None:
        lo, hi = ref["ci95"]
        row["delta_psi"] = psi["psi"] - ref["psi"]
        row["outside_sgd_interval_by"] = max(lo - psi["psi"], psi["psi"] - hi, 0.0)
    return row


def ladder(run_dir, *, rungs=tuple(REPLAYS), progress=None) -> dict:
    """Replay a recorded run on its linearized models and measure every rung; writes ``ladder.json``.

    Reads ``config.json``, ``record.json``, ``pca.npz`` and ``probes.npz``; writes
    ``replays/<rung>.zarr`` (the replay trajectories, reused when complete), ``replays/<rung>.npz`` (their
    PCA and flatness) and ``ladder.json`` (sections ``rungs``, ``fitted_sde``, ``closure``). Each replay
    starts at ω0 and uses the run's α, B, sampling scheme, seed, window length and stride, and records
    the run's parameter subset; it is expanded in *all* the network's weights.

    Cost: per replay one Hessian-vector product per step (``full``: over all N_L samples), a PCA and K
    flatness searches; then K Hessian- and noise-vector products over all weights for the closure. The analysis
    stage, which follows, judges the ladder's claims with the run's others.
    """
    from ..dynamics.replay import linearized_replay
    from ..nn.models import select_parameters
    from ..nn.probes import flatness
    from ..nn.probes.closure import closure_fractions
    from ..trajectory import Trajectory, trajectory_pca

    rd = RunDir(run_dir)
    unknown = [r for r in rungs if r not in REPLAYS]
    if unknown:
        raise ConfigError(f"unknown ladder rung {unknown[0]!r}; choose among {', '.join(REPLAYS)}.")
    cfg, tcfg, rec, pca, pr = rd.stored()
    model = analysable(cfg, rec.get("n_train"), rd.preconditioner(pca["components"]))
    lr, B = tcfg.lr, tcfg.batch_size
    T, stride, window = int(rec["n_snapshots"]), int(tcfg.stride), int(rec["window_steps"])
    P, sgd_var = pca["components"], pca["variances"]
    K = P.shape[0]
    width = pr["width"]
    use, is_drift, _ = usable_directions(width, pr["censored"], pca["drift"])

    net = rd.network()
    recorded = select_parameters(net.model, cfg.params)
    obj_all = net.objective("all", base=pca["mean_all"])
    w0_all = obj_all.w_base
    inside = np.zeros(obj_all.n_params, dtype=bool)
    for name, shape, offset in zip(obj_all.selection.names, obj_all.selection.shapes, obj_all.selection.offsets,
                                   strict=True):
        if name in recorded.names:
            inside[offset : offset + int(np.prod(shape))] = True

    sgd_psi = ivf_exponent(width, sgd_var, use)
    rows = [_rung("sgd", sgd_psi, None, sgd_var, sgd_var, use, total_variance=rec["pca"]["total_variance"],
                  pc1_ratio=rec["pca"]["pc1_ratio"], pc1_drift=rec["pca"]["pc1_drift"])]

    # ---------------------------------------------------------------- replays
    replays = rd / RunDir.REPLAYS
    replays.mkdir(exist_ok=True)
    for name in rungs:
        hessian, noise = REPLAYS[name]
        store = replays / f"{name}.zarr"
        done = store.exists() and Trajectory.open(store).complete
        if store.exists() and not done:
            shutil.rmtree(store)
        t0 = time.perf_counter()
        if not done:
            linearized_replay(obj_all, w0_all, lr, B, T * stride, store=store, hessian=hessian, noise=noise,
                              sampling=tcfg.sampling, seed=tcfg.seed, stride=stride, record=recorded.names,
                              **optimizer_of(tcfg, rd),
                              progress=None if progress is None else (lambda _p, d, t, n=name: progress(n, d, t)))
        traj = Trajectory.open(store)
        rp = trajectory_pca(traj, K)
        obj = net.objective(base=traj.mean_all)
        fl = flatness(obj, rp.mean, rp.components)
        r_use, _, _ = usable_directions(fl.width, fl.censored, rp.drift)
        snaps = traj.read()
        along = _along(snaps, P)
        rd.save(f"{RunDir.REPLAYS}/{name}.npz", variances=rp.variances, width=fl.width,
                     censored=fl.censored, drift=rp.drift, along_sgd=along,
                     explained_variance_ratio=rp.explained_variance_ratio)
        rows.append(_rung(name, ivf_exponent(fl.width, rp.variances, r_use), sgd_psi, along, sgd_var, use,
                          total_variance=float(rp.total_variance), pc1_ratio=float(rp.explained_variance_ratio[0]),
                          pc1_drift=float(rp.drift[0]), noise_std=traj.metadata["replay"]["noise_std"],
                          seconds=time.perf_counter() - t0, **traj.timing))

    # ---------------------------------------------------------------- subspace laws
    H, C = pr["hessian"], pr["noise_cov"]
    laws = model.laws(H, C, window)
    for name, law in (("continuous", "continuous"), ("discrete", "discrete"), ("window", "window_from_w0")):
        if isinstance(laws[law], DecompositionError):
            rows.append({"name": name, "label": LABELS[name], "error": str(laws[law])})
            continue
        pred = np.diag(laws[law])
        rows.append(_rung(name, ivf_exponent(width, pred, use), sgd_psi, pred, sgd_var, use))

    out = {"schema": "sgdpotential.ladder/1", "window": T, "stride": stride, "start": "w0", "rungs": rows,
           "fitted_sde": _fitted_sde(pca["projections"], ~is_drift, H, C, model, stride),
           "closure": _closure(closure_fractions(obj_all, w0_all, _embed(P, inside, obj_all), inside=inside))}
    rd.save(RunDir.LADDER, out)
    return out


def _embed(P: np.ndarray, inside: np.ndarray, obj) -> np.ndarray:
    """Directions over the recorded subset, as vectors over all the objective's weights (zeros elsewhere)."""
    full = np.zeros((P.shape[0], obj.n_params))
    full[:, inside] = P
    return full


def _closure(c) -> dict:
    def lst(a):
        return None if a is None else [float(x) if np.isfinite(x) else None for x in a]

    def med(a):
        return None if a is None or not np.isfinite(a).any() else float(np.nanmedian(a))

    return {"hessian_outside": lst(c.hessian_outside), "noise_outside": lst(c.noise_outside),
            "hessian_other_layers": lst(c.hessian_other), "noise_other_layers": lst(c.noise_other),
            "median_hessian_outside": med(c.hessian_outside), "median_noise_outside": med(c.noise_outside),
            "median_hessian_other_layers": med(c.hessian_other), "median_noise_other_layers": med(c.noise_other)}


def _fitted_sde(theta: np.ndarray, keep: np.ndarray, H, C, model: LinearSGD, stride, *, null_paths: int = 20) -> dict:
    """VAR(1) fit of θ(t) in the non-drift principal directions against the probes' (αH_P, C_P); skipped, with the
    reason, with momentum — heavy ball or Adam's β1 — (θ alone is not Markov there: its state is (θ, velocity)).

    A least-squares VAR(1) with K coordinates and T points is biased (its force is inflated by ~K/T per step,
    large against the small αH_ii of flat directions), so every difference is reported beside its *closed-
    subspace null*: the same fit on ``null_paths`` simulated paths of the closed model x ← (I − αH_P)x + η,
    ⟨ηηᵀ⟩ = α²C_P/B, of the same length, stride and starting point. A real difference well outside the null
    range is evidence against closure; one inside it is estimator noise.
    """
    eps = model.eps
    idx = np.flatnonzero(keep)
    out: dict = {"directions": [int(i) for i in idx], "model": "discrete", "dt": stride}
    if getattr(model, "momentum", 0) or getattr(model, "beta1", 0):
        return {**out, "skipped": "a first-order linear SDE (VAR(1) in θ) does not model momentum — SGD's heavy ball "
                                  "or Adam's first moment —, whose state is (θ, velocity); the fit is not made for "
                                  "such runs."}
    F_hc, D_hc = model.force(H)[np.ix_(idx, idx)], model.diffusion(C)[np.ix_(idx, idx)]
    x = theta[:, idx] - theta[:, idx].mean(axis=0)
    try:
        measured = _fit_against(x, F_hc, D_hc, eps, stride)
    except DecompositionError as exc:
        return {**out, "error": str(exc)}
    out.update(measured)
    # the closed-subspace null: what the same estimator reports when the subspace model is exactly true
    rng = np.random.default_rng(0)
    A = np.eye(len(idx)) - F_hc
    L = np.linalg.cholesky(2 * eps * D_hc + 1e-300 * np.eye(len(idx)))
    nulls = []
    for _ in range(null_paths):
        path = np.empty((x.shape[0] * stride, len(idx)))
        path[0] = x[0]
        noise = rng.standard_normal(path.shape) @ L.T
        for t in range(1, path.shape[0]):
            path[t] = A @ path[t - 1] + noise[t]
        try:
            nulls.append(_fit_against(path[::stride] - path[::stride].mean(axis=0), F_hc, D_hc, eps, stride))
        except DecompositionError:
            continue
    out["null"] = {"paths": len(nulls)}
    for key in ("force_rel_diff", "diffusion_rel_diff", "potential_rel_diff", "increment_variance_ratio_median"):
        values = [n[key] for n in nulls if n.get(key) is not None]
        if values:
            out["null"][key] = {"median": float(np.median(values)), "range95": [float(np.percentile(values, 2.5)),
                                                                                float(np.percentile(values, 97.5))]}
    return out


def _fit_against(x: np.ndarray, F_hc: np.ndarray, D_hc: np.ndarray, eps: float, stride: int) -> dict:
    """Fit a discrete linear SDE to the centred path x and compare it with (F_hc, D_hc)."""
    fit = fit_linear_sde(x, dt=stride, eps=eps, model="discrete")
    # model-free: the per-step increments against α²C_P,ii/B (the noise term of the SGD recursion)
    inc = np.diff(x, axis=0).var(axis=0) / stride / (2 * eps * np.diag(D_hc))
    se = np.diag(fit.Phi_se) if stride == 1 else None
    out = {
        "increment_variance_ratio_median": float(np.median(inc)),
        "force_rel_diff": _rel(fit.F, F_hc),
        "force_diag_ratio": [float(v) for v in np.diag(fit.F) / np.diag(F_hc)],
        # least-squares standard errors of the fitted diagonal (they do not include the small-sample bias)
        "force_diag_z": None if se is None else [float(v) for v in (np.diag(fit.F) - np.diag(F_hc)) / se],
        "diffusion_rel_diff": _rel(fit.D, D_hc),
        "diffusion_trace_ratio": float(np.trace(fit.D) / np.trace(D_hc)),
        "fitted_force_eigenvalues": sorted(float(v) for v in np.linalg.eigvals(fit.F).real),
    }
    try:
        fitted, probed = decompose(fit.F, fit.D, eps), decompose(F_hc, D_hc, eps)
        out["potential_rel_diff"] = _rel(fitted.U, probed.U)
        out["fitted_kind"], out["probed_kind"] = fitted.kind, probed.kind
        measured = area_rate(x, dt=stride)
        out["area_rate_vs_fitted_q_rel_diff"] = _rel(measured, eps * fitted.Q) if np.any(fitted.Q) else None
        out["area_rate_vs_probed_q_rel_diff"] = _rel(measured, eps * probed.Q) if np.any(probed.Q) else None
        out["q_over_d_fitted"] = float(np.linalg.norm(fitted.Q) / np.linalg.norm(fitted.D))
    except DecompositionError as exc:
        out["potential_error"] = str(exc)
    return out
