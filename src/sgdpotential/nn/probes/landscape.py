"""Loss profiles along directions and the Feng–Tu flatness F_i, for many directions in one batched pass."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import vmap

from ..._repr import concise_repr
from ..._validation import check_scalar
from ...errors import ConfigError
from ..objective import Objective
from ._directions import point_and_directions
from ._tangents import dense_only
from .noise import directional_derivatives
from .operators import HessianOperator

__all__ = ["Flatness", "flatness", "loss_profiles"]


def _batched_losses(obj: Objective, W: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """L(w) for each row of W: on a dense network many weight vectors per forward pass (``vmap`` over stacked
    weights, batched GEMMs); on any other a loop of full-data passes — ``vmap`` turns a convolution with stacked
    weights into a grouped one, measured 2.5× slower than the loop on a LeNet (``bench/bench_cnn.py``)."""

    def loss_of(w, a, b):
        return obj.sample_losses(w, a, b).sum()

    out = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device)
    with torch.no_grad():
        if not dense_only(obj):
            for i in range(W.shape[0]):
                for a, b in obj.chunks():
                    out[i] += loss_of(W[i], a, b)
            return out / obj.n_train
        for i in range(0, W.shape[0], batch):
            Wi = W[i : i + batch]
            for a, b in obj.chunks():
                out[i : i + batch] += vmap(loss_of, in_dims=(0, None, None))(Wi, a, b)
    return out / obj.n_train


def _slopes_and_curvatures(obj: Objective, w0: torch.Tensor, P: torch.Tensor,
                           curvature: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """g_i = p_iᵀ∇L(w0) and h_i = p_iᵀ∇²L(w0) p_i: from the per-sample forward-mode derivatives where those are
    batched GEMMs (dense networks, the structured case among them), else from one gradient and Hessian-vector
    products (on a LeNet 0.84 s against 1.43 s per direction for the per-sample second derivatives). The h_i
    given in ``curvature`` (NaN where unknown) are taken as they are: then g costs one gradient and only the
    unknown h_i cost products."""
    known = np.zeros(P.shape[0], dtype=bool) if curvature is None else np.isfinite(curvature)
    if dense_only(obj) and not known.any():
        D, C2 = directional_derivatives(obj, w0, P, second=True)
        return D.mean(0), C2.mean(0)
    H = HessianOperator(obj, w0)
    h = np.array(curvature, dtype=float) if curvature is not None else np.full(P.shape[0], np.nan)
    if not known.all():
        Q = P[torch.as_tensor(~known, device=P.device)]
        h[~known] = (Q * H.rows(Q)).sum(1).double().cpu().numpy()
    return (P @ H.gradient).double().cpu().numpy(), h


def loss_profiles(obj: Objective, w0, directions, offsets) -> np.ndarray:
    """L(w0 + δ p_i) for every direction p_i and offset δ: an array (K, len(offsets)).

    All K·M weight vectors are evaluated in batched forward passes. Offsets are in units of each direction's
    length (θ for unit principal directions).
    """
    w0, P = point_and_directions(obj, w0, directions)
    d = torch.as_tensor(np.asarray(offsets, dtype=float), dtype=obj.dtype, device=obj.device).reshape(-1)
    W = (w0[None, None, :] + d[None, :, None] * P[:, None, :]).reshape(-1, obj.n_params)
    return _batched_losses(obj, W).reshape(P.shape[0], d.numel()).cpu().numpy()


@dataclass(frozen=True)
class Flatness:
    """Feng–Tu flatness of the loss along each direction.

    Attributes
    ----------
    left, right : (K,) ndarray
        θ_l < 0 < θ_r, the nearest offsets on each side with L(w0 + θ p_i) = factor·L0 (NaN where censored).
    width : (K,) ndarray
        F_i = θ_r − θ_l (NaN if either side is censored).
    censored : (K, 2) bool ndarray
        Whether the left/right side never reached factor·L0 within ``max_offset``.
    loss0 : float
        L0 = L(w0).
    factor : float
    tolerance : float
        Largest relative bracket width (hi − lo)/hi left around a crossing: ≤ ``rtol`` unless the root
        finder ran out of iterations (then honestly larger).
    """

    __repr__ = concise_repr

    left: np.ndarray
    right: np.ndarray
    width: np.ndarray
    censored: np.ndarray
    loss0: float
    factor: float
    tolerance: float


def flatness(obj: Objective, w0, directions, factor: float = math.e, *, start: float = 1e-3,
             max_offset: float = 1e3, rtol: float = 1e-6, curvature=None) -> Flatness:
    """Nearest crossings of factor·L0 on both sides of w0 along every direction (Feng & Tu's F_i).

    Method: all 2K half-lines at once. A quadratic model from the mean first and second directional
    derivatives (forward mode on dense networks, a gradient and Hessian-vector products on others) predicts
    each crossing; from there a geometric search (×2 up or
    ÷2 down; ×4 up from ``start`` where the model predicts none) brackets it with one batched evaluation
    of the still-open half-lines per step; the Illinois variant of regula falsi, vectorised over
    half-lines, its secant drawn in log-log coordinates of the rise L − L0 where that is positive at both ends,
    and evaluated at x ± (rtol/4)·x around each secant point x, then shrinks every bracket to relative width
    ``rtol``. Cost: measured 8.7 loss evaluations per half-line (3 bracketing, the rest root finding) on the
    principal directions of the feng-tu MLP and of a LeNet — each a pass over the data, ``vmap``-ed over
    weight vectors on a dense network, one by one on any other. The crossing found is the first one the
    search meets: a bump that rises above factor·L0 and falls back within one search step is not resolved,
    and where the quadratic model overshoots such a bump the nearer crossing can be missed.

    ``curvature`` (K,), optional: the second directional derivatives h_i = p_iᵀ∇²L(w0) p_i where already known
    — the diagonal of H_P (:func:`~sgdpotential.nn.probes.projected_hessian`), NaN where not — so that the
    quadratic start does not repeat H_P's Hessian-vector products (on a CNN each costs about four passes over
    the data). It only moves the first evaluation: the crossings found agree to ``rtol`` either way (tested).

    Half-lines that stay below factor·L0 up to ``max_offset`` are *censored* (reported, not an error).
    For a quadratic L = L0 + hθ²/2 along a unit direction, F = 2√(2(e − 1)L0/h) (tested).
    """
    w0, P = point_and_directions(obj, w0, directions)
    for name, v in (("factor", factor), ("start", start), ("max_offset", max_offset), ("rtol", rtol)):
        check_scalar(v, name, float, min_val=0, include_boundaries="neither")
    if factor <= 1:
        raise ConfigError(f"factor = {factor!r} must exceed 1 (the level factor·L0 must lie above L0).")
    if max_offset <= start:
        raise ConfigError(f"max_offset = {max_offset!r} must exceed start = {start!r}.")
    if curvature is not None:
        curvature = np.asarray(curvature, dtype=float).reshape(-1)
        if curvature.shape != (P.shape[0],):
            raise ConfigError(f"curvature has {curvature.size} values for {P.shape[0]} directions; give one h_i per "
                              f"direction (NaN where unknown), e.g. the diagonal of projected_hessian along them.")
    L0 = float(obj.loss(w0).detach())
    # below 100·eps² a loss is round-off of a perfect fit (residuals at the eps level), not a level to cross
    if not L0 > 100 * torch.finfo(obj.dtype).eps ** 2:
        raise ConfigError(f"L0 = L(w0) = {L0:.3g} is zero to working precision: the flatness level factor·L0 needs "
                          f"a positive loss — measure at a point with nonzero loss.")
    level = factor * L0
    K = P.shape[0]
    S = torch.cat([P, -P])  # 2K half-lines: right then left

    def line(idx, delta):  # L(w0 + δ_m s_m) for the half-lines idx, as float64
        return _batched_losses(obj, w0 + delta.to(obj.dtype)[:, None] * S[idx]).double()

    # quadratic start: along a half-line L ≈ L0 + gδ + ½hδ², with g, h the mean first and second
    # directional derivatives (one pass of per-sample forward-mode products); the level crossing of this
    # model puts the first evaluation next to the answer
    g1, h1 = _slopes_and_curvatures(obj, w0, P, curvature)
    g = torch.as_tensor(np.concatenate([g1, -g1]), dtype=torch.float64, device=obj.device)
    h = torch.as_tensor(np.tile(h1, 2), dtype=torch.float64, device=obj.device)
    rise = level - L0
    # the positive root of ½hδ² + gδ = rise in the cancellation-free form (also right for h ≤ 0 with g > 0)
    quad = 2 * rise / (g + torch.sqrt(torch.clamp(g * g + 2 * h * rise, min=0.0)))
    guess = torch.isfinite(quad) & (quad > 0)
    d = torch.where(guess, quad.clamp(start, max_offset), torch.full_like(quad, start))
    growth = torch.where(guess, torch.full_like(d, 2.0), torch.full_like(d, 4.0))
    lo = torch.zeros(2 * K, dtype=torch.float64, device=obj.device)
    hi = torch.full_like(lo, float("nan"))
    f_lo = torch.full_like(lo, L0 - level)  # f = L − level: negative below, ≥ 0 at or above the level
    f_hi = torch.full_like(lo, float("nan"))
    pending = torch.ones(2 * K, dtype=torch.bool, device=obj.device)
    floor = start * 1e-6
    while bool(pending.any()):
        idx = torch.nonzero(pending)[:, 0]
        f = line(idx, d[idx]) - level
        up = f >= 0
        # above the level: a bracket once the last point below is within one growth factor, else step down
        iu = idx[up]
        hi[iu], f_hi[iu] = d[iu], f[up]
        tight = (lo[iu] * growth[iu] >= d[iu] * (1 - 1e-12)) | (d[iu] / 2 < floor)
        pending[iu[tight]] = False
        down = iu[~tight]
        d[down], growth[down] = d[down] / 2, 2.0
        # below the level: done if a crossing above is known (we came down), else step up (censored past max)
        idn = idx[~up]
        lo[idn], f_lo[idn] = d[idn], f[~up]
        known = ~torch.isnan(hi[idn])
        pending[idn[known]] = False
        grow = idn[~known]
        nxt = d[grow] * growth[grow]
        over = nxt > max_offset * (1 + 1e-12)
        pending[grow[over]] = False
        d[grow[~over]] = nxt[~over]
    found = torch.nonzero(~torch.isnan(hi))[:, 0]
    # Illinois (modified regula falsi) on all brackets at once, evaluated as a pair x ± (rtol/4)·x around
    # each secant point x: far from the root both land on one side and act as a secant step; once x is
    # within rtol/4 of the root they straddle it and the bracket itself collapses to rtol/2, so the stated
    # tolerance is guaranteed while the convergence stays superlinear. The secant is drawn in log-log
    # coordinates of the rise, (log δ, log (L − L0)), wherever both ends rise above L0: a loss that grows as a
    # power of the offset (δ² near a minimum) is a straight line there, so the first secant point is nearly
    # the root; elsewhere in (δ, L). Measured with the convergence test below: 10.3 → 8.7 evaluations per
    # half-line in all on a LeNet's principal directions, 9.8 → 8.7 on the feng-tu MLP's.
    w_lo = torch.ones(2 * K, dtype=torch.float64, device=obj.device)  # Illinois weights of the two ends
    w_hi = torch.ones_like(w_lo)
    kept = torch.zeros(2 * K, dtype=torch.int8, device=obj.device)  # end kept by the last step: −1 lo, +1 hi
    last_x = torch.full_like(lo, float("nan"))  # the previous secant point
    for _ in range(100):
        if not found.numel():
            break
        active = found[(hi[found] - lo[found]) > rtol * hi[found]]
        if not active.numel():
            break
        a, b, fa, fb = lo[active], hi[active], f_lo[active], f_hi[active]
        wa, wb = w_lo[active], w_hi[active]
        x = b - wb * fb * (b - a) / (wb * fb - wa * fa)
        rise_a = fa + rise  # L(a) − L0; L(b) − L0 ≥ rise > 0 always
        log_log = (a > 0) & (rise_a > 0)
        va = torch.log(torch.where(log_log, rise_a, rise) / rise)
        vb = torch.log((fb + rise) / rise)
        u = torch.log(b) - wb * vb * (torch.log(b) - torch.log(torch.where(log_log, a, b))) / (wb * vb - wa * va)
        x = torch.where(log_log, torch.exp(u), x)
        x = torch.where((x > a) & (x < b), x, 0.5 * (a + b))
        # the straddling pair only once the bracket is within 64·rtol, or the secant point moved by less than
        # that since the last step (it converges superlinearly, so it is then within rtol/4 of the root as a
        # rule; if not, the pair lands on one side and the search goes on); before, a second evaluation would
        # be for nothing: far away, both "points" are x itself
        near = ((b - a) < 64 * rtol * b) | ((x - last_x[active]).abs() < 64 * rtol * x)
        last_x[active] = x
        step = torch.where(near, torch.minimum(0.25 * rtol * x, 0.25 * torch.minimum(x - a, b - x)), 0.0)
        pts = torch.stack([x - step, x + step])  # (2, m)
        m = active.numel()
        vals = line(torch.cat([active, active[near]]), torch.cat([pts[0], pts[1][near]])) - level
        fp = vals[:m].repeat(2, 1)  # far from the root both rows hold f(x)
        fp[1, near] = vals[m:]
        up = fp >= 0
        # new bracket: the highest point below the level and the lowest at or above it
        new_lo = torch.where(~up[1], pts[1], torch.where(~up[0], pts[0], a))
        new_flo = torch.where(~up[1], fp[1], torch.where(~up[0], fp[0], fa))
        new_hi = torch.where(up[0], pts[0], torch.where(up[1], pts[1], b))
        new_fhi = torch.where(up[0], fp[0], torch.where(up[1], fp[1], fb))
        moved_lo, moved_hi = new_lo != a, new_hi != b
        # Illinois: an end that survives a second step in a row has its weight halved; a moved end starts at 1
        w_lo[active] = torch.where(moved_lo, 1.0, torch.where(kept[active] == -1, 0.5 * wa, wa))
        w_hi[active] = torch.where(moved_hi, 1.0, torch.where(kept[active] == 1, 0.5 * wb, wb))
        kept[active] = torch.where(moved_lo & ~moved_hi, torch.tensor(1, dtype=torch.int8),
                                   torch.where(moved_hi & ~moved_lo, torch.tensor(-1, dtype=torch.int8),
                                               torch.tensor(0, dtype=torch.int8)))
        lo[active], f_lo[active], hi[active], f_hi[active] = new_lo, new_flo, new_hi, new_fhi
    cross = (0.5 * (lo + hi)).cpu().numpy()
    right, left = cross[:K], -cross[K:]
    censored = np.stack([np.isnan(left), np.isnan(right)], axis=1)
    achieved = float(((hi - lo) / hi)[found].max()) if found.numel() else 0.0
    return Flatness(left, right, right - left, censored, L0, float(factor), achieved)
