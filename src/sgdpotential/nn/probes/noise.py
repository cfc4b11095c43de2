"""Gradient noise in the principal subspace: C_P, noise temperatures, and the minibatch landscape (Eq. 20).

Everything here comes from the per-sample *directional* derivatives d_{k,i} = p_iᵀ∇ℓ_k(w0) (and the
second ones c_{k,i} = p_iᵀ∇²ℓ_k(w0) p_i): one forward-mode ``jvp`` per direction yields them for every
sample at once, so the N_L × N per-sample gradient matrix is never formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, jvp, vmap

from ..._repr import concise_repr
from ..._validation import check_scalar
from ...errors import ConfigError
from ...theory.lyapunov import sampling_factor
from ..objective import Objective
from ._directions import point_and_directions
from ._tangents import (
    dense_only,
    first_layer,
    first_layer_errors,
    layer_gradients,
    logits_and_tangents,
    output_residual_and_curvature,
    structured,
)

__all__ = ["MinibatchLandscape", "directional_derivatives", "gradient_noise_trace", "minibatch_landscape",
           "noise_covariance_response", "noise_temperature", "path_noise_covariance", "projected_noise_covariance"]


def directional_derivatives(obj: Objective, w0, directions, *, second: bool = False, batch: int = 16,
                            method: str = "auto"):
    """Per-sample directional derivatives D (N_L, K): D_ki = p_iᵀ ∇ℓ_k(w0); with ``second=True`` also
    C2 (N_L, K): C2_ki = p_iᵀ ∇²ℓ_k(w0) p_i.

    ``"jvp"``: one ``jvp`` of the vector of per-sample losses per direction (forward-over-forward for C2),
    ``vmap``-ed over directions and chunked over samples — any model; cost ≈ K forward passes, memory
    O(batch · chunk · width). ``"grad"`` (D only): per-sample gradients ``vmap(grad(ℓ_k))`` over chunks of
    samples, each chunk projected on the directions at once — any model; cost ≈ one batched backward pass,
    memory O(chunk · N) (chunks sized to ~2²⁴ floats). ``"structured"``: when w belongs to one linear layer
    followed by piecewise-linear layers (the Feng–Tu hidden weights), D from the per-layer per-sample gradients
    δ_k x_kᵀ and one GEMM with the directions; with C2, the logit tangents J of all directions by one GEMM
    (:mod:`._tangents`), D_ki = rᵀJ_ki and C2_ki = J_kiᵀ ∇²_out ℓ_k J_ki in closed form. ``"auto"`` picks
    ``structured`` when it applies; for D alone along K ≥ 4 directions ``jvp`` on dense networks (Linear and
    element-wise layers: batched GEMMs) and ``grad`` on any other (convolutions, normalisation, pooling: see
    ``bench/bench_cnn.py``); ``jvp`` with C2.
    """
    w0, P = point_and_directions(obj, w0, directions)
    if method not in ("auto", "jvp", "grad", "structured"):
        raise ConfigError(f"method = {method!r} is not one of 'auto', 'jvp', 'grad', 'structured'.")
    if method == "structured" and not structured(obj):
        raise ConfigError("method = 'structured' needs the weights of one linear layer followed by Linear/ReLU "
                          "layers; use method='jvp' (or 'auto').")
    if method == "grad" and second:
        raise ConfigError("method = 'grad' gives first derivatives only; use method='jvp' (or 'auto') with second.")
    if method == "structured" or (method == "auto" and structured(obj)):
        return _structured_derivatives(obj, w0, P, second)
    if method == "grad" or (method == "auto" and not second and P.shape[0] >= 4 and not dense_only(obj)):
        return _gradient_derivatives(obj, w0, P)

    def first(p, a, b):
        return jvp(lambda w: obj.sample_losses(w, a, b), (w0,), (p,))[1]

    def both(p, a, b):
        def d1(w):
            return jvp(lambda u: obj.sample_losses(u, a, b), (w,), (p,))[1]

        return jvp(d1, (w0,), (p,))

    K = P.shape[0]
    D = torch.empty((obj.n_train, K), dtype=obj.dtype, device=obj.device)
    C2 = torch.empty_like(D) if second else None
    with torch.no_grad():
        for i in range(0, K, batch):
            for a, b in obj.chunks():
                if second:
                    d, c = vmap(both, in_dims=(0, None, None))(P[i : i + batch], a, b)
                    C2[a:b, i : i + batch] = c.T
                else:
                    d = vmap(first, in_dims=(0, None, None))(P[i : i + batch], a, b)
                D[a:b, i : i + batch] = d.T
    D = D.cpu().double().numpy()
    return (D, C2.cpu().double().numpy()) if second else D


def _structured_derivatives(obj: Objective, w0: torch.Tensor, P: torch.Tensor, second: bool):
    K = P.shape[0]
    D = torch.empty((obj.n_train, K), dtype=torch.float64, device=obj.device)
    if not second:
        # first derivatives only: the per-layer per-sample gradients (δ_k x_kᵀ) of a row block, then one
        # GEMM with the directions — measured faster than the tangent GEMM when no curvature is needed
        rows = max(1, min(obj.chunk, 2**23 // max(obj.n_params, 1)))  # ≤ 32 MB of float32 gradients
        for a in range(0, obj.n_train, rows):
            b = min(a + rows, obj.n_train)
            D[a:b] = (layer_gradients(obj, w0, a, b) @ P.T).double()
        return D.cpu().numpy()
    C2 = torch.empty_like(D)
    with torch.no_grad():
        for a, b in obj.chunks():
            logits, J = logits_and_tangents(obj, w0, P, a, b)  # (n, K, out)
            J = J.double()
            r, s = output_residual_and_curvature(obj, logits.double(), a, b)
            D[a:b] = torch.einsum("nko,no->nk", J, r)
            if s is None:
                C2[a:b] = (J**2).sum(-1)
            else:
                C2[a:b] = (J**2 * s[:, None, :]).sum(-1) - torch.einsum("nko,no->nk", J, s) ** 2
    return D.cpu().numpy(), C2.cpu().numpy()


def _gradient_derivatives(obj: Objective, w0: torch.Tensor, P: torch.Tensor) -> np.ndarray:
    """D = G Pᵀ from per-sample gradients G (``vmap(grad)``), chunk by chunk: G is never held for all samples."""

    def loss_one(w, x, y):
        return obj.sample_losses_of(w, x[None], y[None])[0]

    per_sample = vmap(grad(loss_one), in_dims=(None, 0, 0))
    chunk = max(1, min(obj.chunk, (1 << 24) // max(1, obj.n_params)))
    D = torch.empty((obj.n_train, P.shape[0]), dtype=obj.dtype, device=obj.device)
    for a in range(0, obj.n_train, chunk):
        b = min(a + chunk, obj.n_train)
        D[a:b] = per_sample(w0, obj.features[a:b], obj.y[a:b]) @ P.T
    return D.cpu().double().numpy()


def _covariance(D: np.ndarray) -> np.ndarray:
    """(1/N_L) D_cᵀ D_c of the centred per-sample directional derivatives, symmetrised (float64)."""
    Dc = D - D.mean(axis=0)
    C = Dc.T @ Dc / D.shape[0]  # centred first: no cancellation between the two terms of Eq. (19)
    return (C + C.T) / 2


#: Bytes of first-layer tangents a structured objective keeps to evaluate C_P at many points (:func:`_derivatives_at`).
TANGENT_BUDGET = 1 << 28


def _first_layer_tangents(obj: Objective, P: torch.Tensor, method: str):
    """[(a, b, t)] per sample chunk, t (n, K, width) the tangents P^W_i x_k + P^b_i of the first layer's output along
    the directions — on a structured objective (:func:`~._tangents.structured`), when ``method`` allows it and they fit
    in :data:`TANGENT_BUDGET`; else None. They do not depend on w."""
    width = next(iter(obj._net.children())).out_features if structured(obj) else 0
    itemsize = torch.finfo(obj.dtype).bits // 8
    too_big = obj.n_train * P.shape[0] * width * itemsize > TANGENT_BUDGET
    if method not in ("auto", "structured") or not width or too_big:
        return None
    return [(a, b, first_layer(obj, obj.w_base, P, a, b)[2]) for a, b in obj.chunks()]


def _derivatives_at(obj: Objective, P: torch.Tensor, method: str, tangents=None):
    """w ↦ D(w) (N_L, K) along the fixed directions P, for evaluations at many points.

    On a structured objective (:func:`~._tangents.structured`) D_ki = δ_k(w)ᵀ(P^W_i x_k + P^b_i): the tangents
    t_ki = P^W_i x_k + P^b_i of the first layer's output do not depend on w, so they are computed once (when they fit in
    :data:`TANGENT_BUDGET`) and each point costs one backward pass for δ(w) and N_L small products — instead of the
    per-sample gradients times Pᵀ (N_L·N·K). The same numbers as :func:`directional_derivatives` up to round-off.
    ``tangents``: :func:`_first_layer_tangents`, if the caller already took them."""
    tangents = _first_layer_tangents(obj, P, method) if tangents is None else tangents
    if tangents is None:
        return lambda w: directional_derivatives(obj, w, P, method=method)

    def at(w):
        w = obj.check_w(w, "w")
        with torch.no_grad():
            return torch.cat([(t @ first_layer_errors(obj, w, a, b)[:, :, None])[:, :, 0] for a, b, t in tangents]
                             ).double().cpu().numpy()

    return at


def _steps_first_pays(n: int, K: int, width: int) -> bool:
    """Whether :func:`_structured_response` is the cheaper route: its per-step cost O(N_L·width²) against the
    term-by-term O(N_L·K·width + N_L·K²) needs width ≤ K, and its float64 buffers (T three times, M and G) must fit in
    4 × :data:`TANGENT_BUDGET` bytes."""
    return width <= K and 8 * n * width * (3 * K + 2 * width) <= 4 * TANGENT_BUDGET


def _structured_response(obj: Objective, w0: torch.Tensor, tangents, steps: torch.Tensor, weights: np.ndarray,
                         block: int = 64):
    """:func:`noise_covariance_response` on a structured objective, with every sum over steps taken before the sum
    over samples. With D_k(w) = T_k δ_k(w) (T_k the K × width tangents of sample k, δ_k its first-layer errors) and,
    per antithetic pair, e = (δ⁺ − δ⁻)/2 and f = (δ⁺ + δ⁻)/2 − δ⁰ (f = 0 when the loss is quadratic),

        ½(C_P⁺ + C_P⁻) − C_P⁰ = (1/N_L) Σ_k T_k m_k T_kᵀ − (ēēᵀ + f̄d̄⁰ᵀ + d̄⁰f̄ᵀ + f̄f̄ᵀ),
        m_k = e_k e_kᵀ + f_k δ⁰_kᵀ + δ⁰_k f_kᵀ + f_k f_kᵀ,

    with ē, f̄, d̄⁰ the sample means of T_k e_k, T_k f_k, T_k δ⁰_k: the same quantity as the term-by-term form,
    without forming the difference of two covariances. The width × width matrices m_k are
    accumulated over all steps, then contracted with the tangents once: O(A·N_L·width² + N_L·K·width² + N_L·K²·width)
    instead of 2A covariances of N_L × K derivatives (O(A·N_L·K²)); the means go through one GEMM per ``block`` steps.
    Taken where :func:`_steps_first_pays`. The second differences f are of float32 values on a float32 objective:
    what the rearrangement removes is the difference of two whole covariances, not that round-off."""
    n = obj.n_train
    f64 = {"dtype": torch.float64, "device": obj.device}

    def errors(w):  # (N_L, width), float64
        with torch.no_grad():
            return torch.cat([first_layer_errors(obj, w, a, b) for a, b, _ in tangents]).to(**f64)

    T = torch.cat([t for *_, t in tangents]).to(**f64)              # (N_L, K, width)
    K, width = T.shape[1], T.shape[2]
    Tflat = T.permute(1, 0, 2).reshape(K, n * width)                 # T_k side by side: a mean is one GEMV
    G = torch.einsum("nkw,nkv->nwv", T, T)                           # T_kᵀT_k, for the traces
    d0 = errors(w0)
    dbar0 = Tflat @ d0.reshape(-1) / n
    M = torch.zeros((n, width, width), **f64)
    means = torch.zeros((K, K), **f64)
    traces = np.empty(len(weights))
    wts = torch.as_tensor(weights, **f64)
    for lo in range(0, steps.shape[0], block):
        hi = min(lo + block, steps.shape[0])
        plus = torch.stack([errors(w0 + s) for s in steps[lo:hi]])    # (m, N_L, width)
        minus = torch.stack([errors(w0 - s) for s in steps[lo:hi]])
        e, f = (plus - minus) / 2, (plus + minus) / 2 - d0
        wj = wts[lo:hi, None, None]
        M += torch.einsum("jnw,jnv->nwv", wj * e, e) + torch.einsum("jnw,jnv->nwv", wj * f, f)
        cross = torch.einsum("jnw,nv->nwv", wj * f, d0)
        M += cross + cross.transpose(1, 2)
        ebar = (Tflat @ e.reshape(hi - lo, -1).T / n).T                 # (m, K)
        fbar = (Tflat @ f.reshape(hi - lo, -1).T / n).T
        wv = wts[lo:hi, None]
        cross_mean = (wv * fbar).T @ dbar0[None, :].expand(hi - lo, -1)
        means += (wv * ebar).T @ ebar + (wv * fbar).T @ fbar + cross_mean + cross_mean.T
        quad = (torch.einsum("jnw,nwv,jnv->j", e, G, e) + 2 * torch.einsum("jnw,nwv,nv->j", f, G, d0)
                + torch.einsum("jnw,nwv,jnv->j", f, G, f)) / n
        tr_mean = (ebar**2).sum(1) + 2 * fbar @ dbar0 + (fbar**2).sum(1)
        traces[lo:hi] = (wts[lo:hi] * (quad - tr_mean)).cpu().numpy()
    TM = torch.einsum("nkw,nwv->nkv", T, M).permute(1, 0, 2).reshape(K, n * width)
    total = (TM @ Tflat.T / n - means).cpu().numpy()
    return (total + total.T) / 2, traces


def projected_noise_covariance(obj: Objective, w0, directions, *, method: str = "auto") -> np.ndarray:
    """C_P = P C Pᵀ with C the per-sample gradient covariance of paper Eq. (19),
    C = (1/N_L) Σ_k ∇ℓ_k ∇ℓ_kᵀ − ∇L ∇Lᵀ (population normalisation, all N_L samples).

    Method: C_P = (1/N_L) DᵀD − d̄ d̄ᵀ from the per-sample directional derivatives D (N_L × K) of
    :func:`directional_derivatives`, in float64. Cost ≈ K forward passes; never an N_L × N matrix.
    For SGD's linear SDE this is the diffusion matrix D (paper Eq. 18–19), with ε = α²/(2B).
    """
    return _covariance(directional_derivatives(obj, w0, directions, method=method))


def noise_covariance_response(obj: Objective, w0, directions, steps, weights=None, *, c0=None,
                              method: str = "auto"):
    r"""The change of C_P when the state fluctuates about ω0 with covariance S = Σ_j w_j s_j s_jᵀ:

        Σ_j w_j [½(C_P(ω0 + s_j) + C_P(ω0 − s_j)) − C_P(ω0)]  =  𝒞_P(S)   (C quadratic in w)

    with 𝒞(S) = E_k[∂_w g_k S ∂_w g_kᵀ] − ∂_w ḡ S ∂_w ḡᵀ the second-order response of paper Eq. (19)'s C to the
    state (for linear regression, per-sample gradients g_k = A_k x + r_k: 𝒞(S) = E_k[(A_k − A)S(A_k − A)]).
    Antithetic pairs cancel the terms linear in s_j exactly; the weights may be negative, so any symmetric S
    (e.g. its eigendecomposition, s_j = √|μ_j| b_j, w_j = sign μ_j) can be passed. For a non-quadratic loss it is
    the second-order estimate.

    Parameters
    ----------
    obj, w0, directions
        As :func:`projected_noise_covariance` (C is projected on ``directions``).
    steps : (A, N) array
        The displacements s_j.
    weights : (A,) array, optional
        w_j (default 1).
    c0 : (K, K) array, optional
        C_P(ω0), if already evaluated (the term-by-term route subtracts it; the structured one needs none).

    Returns
    -------
    response : (K, K) ndarray
        𝒞_P(S), symmetrised.
    traces : (A,) ndarray
        tr of each term (how the response is made up).

    Notes
    -----
    Cost: 2A (+1 without ``c0``) evaluations of :func:`projected_noise_covariance` (≈ K forward passes each). On a
    structured objective (the Feng–Tu hidden weights, a linear model) the first layer's tangents along the
    directions are computed once, each point costs one backward pass, and the sum over the steps is taken before
    the sum over the samples where that pays (:func:`_steps_first_pays`; :func:`_structured_response`: the same
    response without forming 2A covariances, and without ``c0``, which then only cancels and is not used) — the exact
    linear case's probe stage (K = 650, A = 650, with the held-out basis) went from 52.7 s to 9.1 s.
    """
    w0t, P = point_and_directions(obj, w0, directions)
    steps = torch.as_tensor(np.asarray(steps), dtype=obj.dtype, device=obj.device).reshape(-1, obj.n_params)
    weights = np.ones(steps.shape[0]) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    if weights.size != steps.shape[0]:
        raise ConfigError(f"{steps.shape[0]} steps and {weights.size} weights; pass one weight per step.")
    tangents = _first_layer_tangents(obj, P, method)
    if tangents is not None and _steps_first_pays(obj.n_train, P.shape[0], tangents[0][2].shape[-1]):
        return _structured_response(obj, w0t, tangents, steps, weights)
    at = _derivatives_at(obj, P, method, tangents)
    c0 = _covariance(at(w0t)) if c0 is None else np.asarray(c0, dtype=float)
    total = np.zeros_like(c0)
    traces = np.empty(weights.size)
    for j, (step, wt) in enumerate(zip(steps, weights, strict=True)):
        term = wt * (0.5 * (_covariance(at(w0t + step)) + _covariance(at(w0t - step))) - c0)
        total += term
        traces[j] = np.trace(term)
    return (total + total.T) / 2, traces


def path_noise_covariance(obj: Objective, w0, directions, axes, sigmas, residuals=None, *, method: str = "auto"):
    r"""The noise covariance the window experienced: C̄_P, the time average of C_P(w_t) over the window's path.

    Where the noise depends on the state (for linear regression C(w) is quadratic in w: the multiplicative part
    of minibatch noise), the second moments of SGD obey Σ_{t+1} = RΣ_tRᵀ + (α²κ/B)·E[C(w_t)], not C(ω0). With
    ω0 the window mean, the window's deviations δ_t = w_t − ω0 split into their components along the leading
    principal axes a_i (variances σ_i²) and the rest δ'_t, and C quadratic in w:

        C̄ = C(ω0) + Σ_i [½(C(ω0 + σ_i a_i) + C(ω0 − σ_i a_i)) − C(ω0)]
                   + (1/m) Σ_j [½(C(ω0 + δ'_j) + C(ω0 − δ'_j)) − C(ω0)]

    i.e. C(ω0) + 𝒞(Σ) of :func:`noise_covariance_response`. The terms linear in δ average to zero about the window
    mean (and cancel exactly in each antithetic pair); the quadratic ones are contractions with the window's
    sample covariance — exactly, axis by axis, for the leading (slow, strongly autocorrelated) axes, and
    estimated from m snapshots for the remaining (fast) ones. The cross terms between the two parts vanish
    because principal coordinates are uncorrelated over the window. For a non-quadratic loss it is the
    second-order estimate.

    Parameters
    ----------
    obj, w0, directions
        As :func:`projected_noise_covariance` (C is projected on ``directions``).
    axes : (A, N) array
        The leading principal axes of the window.
    sigmas : (A,) array
        Their standard deviations σ_i (square roots of the PCA variances).
    residuals : (m, N) array, optional
        Deviations δ'_j of m snapshots from ω0 with their components along ``axes`` removed.

    Returns
    -------
    C_bar : (K, K) ndarray
        C̄_P.
    increments : (A,) ndarray, residual : float
        tr of each axis's term, and tr of the residual snapshots' mean term (how the correction is made up).

    Notes
    -----
    Cost: 2(A + m) + 1 evaluations of :func:`projected_noise_covariance` (≈ K forward passes each).
    """
    w0t, P = point_and_directions(obj, w0, directions)
    axes = torch.as_tensor(np.asarray(axes), dtype=obj.dtype, device=obj.device).reshape(-1, obj.n_params)
    sigmas = np.asarray(sigmas, dtype=float).reshape(-1)
    if axes.shape[0] != sigmas.size:
        raise ConfigError(f"{axes.shape[0]} axes and {sigmas.size} sigmas; pass one σ per axis.")
    res = (torch.zeros((0, obj.n_params), dtype=obj.dtype, device=obj.device) if residuals is None else
           torch.as_tensor(np.asarray(residuals), dtype=obj.dtype, device=obj.device).reshape(-1, obj.n_params))
    c0 = projected_noise_covariance(obj, w0t, P, method=method)
    along, inc = noise_covariance_response(obj, w0t, P, axes * torch.as_tensor(sigmas, dtype=obj.dtype,
                                                                               device=obj.device)[:, None],
                                           c0=c0, method=method)
    rest, rest_tr = noise_covariance_response(obj, w0t, P, res, np.full(res.shape[0], 1.0 / max(res.shape[0], 1)),
                                              c0=c0, method=method)
    total = c0 + along + rest
    return (total + total.T) / 2, inc, float(rest_tr.sum())


def gradient_noise_trace(obj: Objective, w0, *, rows: int | None = None) -> float:
    """tr C, the total per-sample gradient variance of paper Eq. (19) over all N selected parameters:
    tr C = (1/N_L) Σ_k ‖∇ℓ_k(w0)‖² − ‖∇L(w0)‖².

    Method: per-sample gradients of ``rows`` samples at a time by ``vmap(grad)`` (≤ 32 MB of them), summed
    in float64 after centring on the full gradient (no cancellation between the two terms). Cost ≈ one
    full-batch gradient; memory O(rows · N). A minibatch gradient then has total noise variance
    tr C / B (× (N_L − B)/(N_L − 1) without replacement) — the scale of the isotropic control of
    :func:`~sgdpotential.dynamics.replay.linearized_replay`.
    """
    w0 = obj.check_w(w0)
    rows = rows or max(1, min(obj.chunk, 2**23 // max(obj.n_params, 1)))
    per_sample = vmap(grad(lambda w, x, y: obj.sample_losses_of(w, x[None], y[None]).sum()), in_dims=(None, 0, 0))
    with torch.no_grad():
        mean = torch.zeros(obj.n_params, dtype=torch.float64, device=obj.device)
        total = 0.0
        blocks = [(a, min(a + rows, obj.n_train)) for a in range(0, obj.n_train, rows)]
        for a, b in blocks:
            mean += per_sample(w0, obj.features[a:b], obj.y[a:b]).double().sum(0)
        mean /= obj.n_train
        for a, b in blocks:
            G = per_sample(w0, obj.features[a:b], obj.y[a:b]).double() - mean
            total += float((G**2).sum())
    return total / obj.n_train


def noise_temperature(noise_cov, lr: float, batch_size: int, n_train: int | None = None) -> np.ndarray:
    """Feng & Tu's per-direction noise temperature T_i = (α/2)⟨(∂δL^μ/∂θ_i)²⟩_μ = (α/2)·C_P,ii/B
    (× (N_L − B)/(N_L − 1) for minibatches drawn without replacement)."""
    C = np.asarray(noise_cov, dtype=float)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise ConfigError(f"noise_cov has shape {C.shape}; pass the K×K projected covariance.")
    lr = check_scalar(lr, "lr", float, min_val=0, include_boundaries="neither")
    batch_size = check_scalar(batch_size, "batch_size", int, min_val=1)
    return 0.5 * lr * np.diag(C) * sampling_factor(n_train, batch_size) / batch_size


@dataclass(frozen=True)
class MinibatchLandscape:
    """Minibatch losses along each direction at w0, in the quadratic form of paper Eq. (20).

    Along p_i, L^μ(w0 + θp_i) ≈ L^μ_0 + g^μ_i θ + ½h^μ_i θ², so the minibatch minimum sits at
    θ^μ_i = −g^μ_i/h^μ_i with curvature M^μ_ii = h^μ_i/L^μ_0 in the paper's normalisation
    L^μ = L^μ_0 Σ_i (M^μ_ii/2) θ_i(θ_i − 2θ^μ_i).

    Attributes
    ----------
    gradient, curvature : (n_batches, K) ndarray
        g^μ_i and h^μ_i for each sampled minibatch.
    loss0 : (n_batches,) ndarray
        L^μ_0 = L^μ(w0).
    theta : (n_batches, K) ndarray
        θ^μ_i (NaN where h^μ_i ≤ 0: no minimum along that direction).
    M : (n_batches, K) ndarray
        M^μ_ii = h^μ_i / L^μ_0.
    theta_mean, theta_std, M_mean, M_std : (K,) ndarray
        Means and spreads over minibatches (σ_θ,i and σ_M,i; NaNs ignored); the spreads are what the paper
        (σ²_θ,i ∝ F_i^−2) and Feng & Tu (σ_θ,i ∝ F_i) dispute.
    nonconvex_fraction : (K,) ndarray
        Share of minibatches with h^μ_i ≤ 0.
    """

    __repr__ = concise_repr

    gradient: np.ndarray
    curvature: np.ndarray
    loss0: np.ndarray
    theta: np.ndarray
    M: np.ndarray
    theta_mean: np.ndarray
    theta_std: np.ndarray
    M_mean: np.ndarray
    M_std: np.ndarray
    nonconvex_fraction: np.ndarray


def minibatch_landscape(obj: Objective, w0, directions, batch_size: int, n_batches: int = 1000,
                        seed: int = 0) -> MinibatchLandscape:
    """Directional gradient and curvature of sampled minibatch losses L^μ along each p_i at w0 (Eq. 20).

    Method: per-sample first and second directional derivatives for all N_L samples once
    (:func:`directional_derivatives`, ≈ 2K forward passes), then each minibatch (B indices drawn without
    replacement) is a mean over its rows — exact, and n_batches costs only index arithmetic.
    """
    batch_size = check_scalar(batch_size, "batch_size", int, min_val=1, max_val=obj.n_train)
    n_batches = check_scalar(n_batches, "n_batches", int, min_val=2)
    w0t, _ = point_and_directions(obj, w0, directions)
    D, C2 = directional_derivatives(obj, w0, directions, second=True)
    losses = obj.per_sample_losses(w0t).detach().cpu().double().numpy()
    rng = np.random.default_rng(seed)
    idx = np.argpartition(rng.random((n_batches, obj.n_train)), batch_size - 1, axis=1)[:, :batch_size]
    g = D[idx].mean(axis=1)
    h = C2[idx].mean(axis=1)
    L0 = losses[idx].mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(h > 0, -g / h, np.nan)
        M = h / L0[:, None]
    return MinibatchLandscape(g, h, L0, theta, M, np.nanmean(theta, axis=0), np.nanstd(theta, axis=0),
                              M.mean(axis=0), M.std(axis=0), (h <= 0).mean(axis=0))
