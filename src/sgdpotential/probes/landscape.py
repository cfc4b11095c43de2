"""Loss profiles along directions and the Feng–Tu flatness F_i, for many directions in one batched pass."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as nnf
from torch.func import vmap

from ..errors import ConfigError
from ..objective import Objective
from ._directions import point_and_directions
from ._tangents import first_layer, rest, structured

__all__ = ["Flatness", "flatness", "loss_profiles"]


def _batched_losses(obj: Objective, W: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """L(w) for each row of W, many weight vectors per forward pass (``vmap`` over stacked weights)."""

    def loss_of(w, a, b):
        return obj.sample_losses(w, a, b).sum()

    out = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device)
    with torch.no_grad():
        for i in range(0, W.shape[0], batch):
            Wi = W[i : i + batch]
            for a, b in obj.chunks():
                out[i : i + batch] += vmap(loss_of, in_dims=(0, None, None))(Wi, a, b)
    return out / obj.n_train


class _LineLosses:
    """L(w0 + δ_m s_m) for half-lines s_m = ±p_{i_m}: along the structured path the selected layer's
    pre-activation moves on a straight line, h0 + δ t_i, so one cached GEMM (the tangents) replaces a
    forward pass per weight vector; otherwise stacked weights through ``vmap``."""

    def __init__(self, obj: Objective, w0: torch.Tensor, S: torch.Tensor):
        self.obj, self.w0, self.S = obj, w0, S
        self.cache = None
        if structured(obj):
            with torch.no_grad():
                self.cache = [(*first_layer(obj, w0, S, a, b), a, b) for a, b in obj.chunks()]

    def __call__(self, idx: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        obj = self.obj
        if self.cache is None:
            return _batched_losses(obj, self.w0 + delta.to(obj.dtype)[:, None] * self.S[idx])
        total = torch.zeros(idx.numel(), dtype=torch.float64, device=obj.device)
        d = delta.to(obj.dtype)[None, :, None]
        with torch.no_grad():
            for params, h0, t, a, b in self.cache:
                logits, _ = rest(obj, params, h0[:, None, :] + d * t[:, idx, :])  # (n, M, out)
                n, M, out = logits.shape
                y = obj.y[a:b][:, None].expand(n, M).reshape(-1)
                if obj.loss_name == "mse":
                    target = nnf.one_hot(y, out).to(logits.dtype).reshape(n, M, out)
                    per = 0.5 * ((logits - target) ** 2).sum(-1)
                else:
                    per = nnf.cross_entropy(logits.reshape(-1, out), y, reduction="none").reshape(n, M)
                total += per.sum(0).double()
        return total / obj.n_train


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
        Relative accuracy of each crossing (bracket width / offset).
    """

    left: np.ndarray
    right: np.ndarray
    width: np.ndarray
    censored: np.ndarray
    loss0: float
    factor: float
    tolerance: float


def flatness(obj: Objective, w0, directions, factor: float = math.e, *, start: float = 1e-3,
             max_offset: float = 1e3, rtol: float = 1e-6) -> Flatness:
    """Nearest crossings of factor·L0 on both sides of w0 along every direction (Feng & Tu's F_i).

    Method: all 2K half-lines at once — an outward geometric scan δ = start·4^j (one batched evaluation
    of the still-open half-lines per level) finds the first bracket [δ/4, δ] with L ≥ factor·L0; the
    Illinois variant of regula falsi, vectorised over half-lines, then shrinks every bracket to relative
    width ``rtol`` (superlinear; bisection when a secant step stalls). Cost: about log₄(max/start) + 10
    batched passes of ≤ 2K weight vectors over the data. A crossing is the first one seen by the scan: a
    bump that rises above factor·L0 and falls back within one scan step is not resolved.

    Half-lines that stay below factor·L0 up to ``max_offset`` are *censored* (reported, not an error).
    For a quadratic L = L0 + hθ²/2 along a unit direction, F = 2√(2(e − 1)L0/h) (tested).
    """
    w0, P = point_and_directions(obj, w0, directions)
    for name, v in (("factor", factor), ("start", start), ("max_offset", max_offset), ("rtol", rtol)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ConfigError(f"{name} = {v!r} must be a finite number > 0.")
    if factor <= 1:
        raise ConfigError(f"factor = {factor!r} must exceed 1 (the level factor·L0 must lie above L0).")
    if max_offset <= start:
        raise ConfigError(f"max_offset = {max_offset!r} must exceed start = {start!r}.")
    L0 = float(obj.loss(w0).detach())
    # below 100·eps² a loss is round-off of a perfect fit (residuals at the eps level), not a level to cross
    if not L0 > 100 * torch.finfo(obj.dtype).eps ** 2:
        raise ConfigError(f"L0 = L(w0) = {L0:.3g} is zero to working precision: the flatness level factor·L0 needs "
                          f"a positive loss — measure at a point with nonzero loss.")
    level = factor * L0
    K = P.shape[0]
    S = torch.cat([P, -P])  # 2K half-lines: right then left
    line = _LineLosses(obj, w0, S)
    lo = torch.zeros(2 * K, dtype=torch.float64, device=obj.device)
    hi = torch.full_like(lo, float("nan"))
    f_lo = torch.full_like(lo, L0 - level)  # f = L − level: negative below, ≥ 0 at or above the level
    f_hi = torch.full_like(lo, float("nan"))
    open_ = torch.ones(2 * K, dtype=torch.bool, device=obj.device)
    d = start
    while d <= max_offset * (1 + 1e-12) and bool(open_.any()):
        idx = torch.nonzero(open_)[:, 0]
        f = line(idx, torch.full((idx.numel(),), d, dtype=torch.float64, device=obj.device)) - level
        crossed = f >= 0
        hi[idx[crossed]], f_hi[idx[crossed]] = d, f[crossed]
        lo[idx[~crossed]], f_lo[idx[~crossed]] = d, f[~crossed]
        open_[idx[crossed]] = False
        d *= 4.0  # wide brackets are cheap: the root finder below converges superlinearly
    found = torch.nonzero(~torch.isnan(hi))[:, 0]
    # Illinois (modified regula falsi) on all brackets at once: keeps a bracket, converges superlinearly
    side = torch.zeros(2 * K, dtype=torch.int8, device=obj.device)  # which end was kept last (−1 lo, +1 hi)
    for _ in range(200):
        if not found.numel():
            break
        width = hi[found] - lo[found]
        active = found[width > rtol * hi[found]]
        if not active.numel():
            break
        a, b, fa, fb = lo[active], hi[active], f_lo[active], f_hi[active]
        x = b - fb * (b - a) / (fb - fa)
        # keep x strictly inside the bracket (round-off), and bisect when the secant stalls at an end
        bad = ~((x > a) & (x < b)) | (torch.minimum(x - a, b - x) < 1e-3 * (b - a))
        x = torch.where(bad, 0.5 * (a + b), x)
        fx = line(active, x) - level
        up = fx >= 0
        # Illinois: when the same end survives twice, halve its function value to pull the secant over
        keep_lo = up & (side[active] == -1)
        keep_hi = ~up & (side[active] == 1)
        f_lo[active[keep_lo]] *= 0.5
        f_hi[active[keep_hi]] *= 0.5
        hi[active[up]], f_hi[active[up]] = x[up], fx[up]
        lo[active[~up]], f_lo[active[~up]] = x[~up], fx[~up]
        side[active] = torch.where(up, torch.tensor(-1, dtype=torch.int8), torch.tensor(1, dtype=torch.int8))
    cross = (0.5 * (lo + hi)).cpu().numpy()
    right, left = cross[:K], -cross[K:]
    censored = np.stack([np.isnan(left), np.isnan(right)], axis=1)
    return Flatness(left, right, right - left, censored, L0, float(factor), float(rtol))
