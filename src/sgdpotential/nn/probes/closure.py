"""Is the principal subspace closed? How much of H p_i and C p_i leaves span(P).

The subspace laws of the paper (Eqs. 17–19 restricted to K principal directions) assume that the force
αH and the noise C map the subspace into itself. Where H p_i or C p_i has a large component outside
span(p_1 … p_K) — in other directions of the recorded layer or in other layers altogether — the K
coordinates are driven by the remaining weights and no K-dimensional linear SDE is closed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, vmap

from ..._repr import concise_repr
from ...errors import ConfigError
from ..objective import Objective
from ._directions import point_and_directions
from .curvature import hessian_vector_products
from .noise import directional_derivatives

__all__ = ["Closure", "closure_fractions", "noise_covariance_products"]


@dataclass(frozen=True)
class Closure:
    """Shares of H p_i and C p_i outside the subspace (squared-norm fractions in [0, 1]).

    Attributes
    ----------
    hessian_outside, noise_outside : (K,) ndarray
        ‖(I − Π) H p_i‖² / ‖H p_i‖² and the same for C p_i, with Π the orthogonal projector on span(P);
        0 for an invariant subspace. NaN where H p_i (C p_i) vanishes.
    hessian_other, noise_other : (K,) ndarray or None
        The share lying in parameters outside ``inside`` (e.g. the layers that were not recorded);
        ``None`` when ``inside`` was not given.
    """

    __repr__ = concise_repr

    hessian_outside: np.ndarray
    noise_outside: np.ndarray
    hessian_other: np.ndarray | None
    noise_other: np.ndarray | None


def noise_covariance_products(obj: Objective, w0, directions, *, batch: int = 16) -> torch.Tensor:
    """C p_i for each row p_i of ``directions``, with C the per-sample gradient covariance of paper Eq. (19).

    Method: C p_i = (1/N_L) Σ_k (∇ℓ_k − ∇L)(d_ki − d̄_i) = ∇_w [(1/N_L) Σ_k (d_ki − d̄_i) ℓ_k(w)] at w0, with
    d_ki = p_iᵀ∇ℓ_k from :func:`~sgdpotential.nn.probes.directional_derivatives`: one gradient of a reweighted
    loss per direction (``vmap``-ed over directions, chunked over samples), so the N_L × N per-sample
    gradient matrix is never formed. Cost ≈ 2K gradient evaluations.
    """
    w0, P = point_and_directions(obj, w0, directions)
    D = directional_derivatives(obj, w0, P)
    weights = torch.as_tensor((D - D.mean(axis=0)) / obj.n_train, dtype=obj.dtype, device=obj.device)  # (N_L, K)

    def weighted(w, c, a, b):
        return (c * obj.sample_losses(w, a, b)).sum()

    out = torch.zeros_like(P)
    with torch.no_grad():
        for i in range(0, P.shape[0], batch):
            for a, b in obj.chunks():
                c = weights[a:b, i : i + batch].T.contiguous()
                out[i : i + batch] += vmap(grad(weighted), in_dims=(None, 0, None, None))(w0, c, a, b)
    return out


def closure_fractions(obj: Objective, w0, directions, *, inside=None) -> Closure:
    """How much of H p_i and C p_i lies outside span(P), and how much outside the parameters ``inside``.

    Parameters
    ----------
    obj : Objective
        Usually over *all* parameters, so that couplings to other layers are seen.
    w0 : (N,) tensor
    directions : (K, N)
        The subspace (need not be orthonormal; its span is used).
    inside : (N,) bool array, optional
        Marks the parameters of the recorded subset; adds the ``*_other`` shares.

    Method: H p_i by batched Hessian-vector products (:func:`~sgdpotential.nn.probes.curvature.
    hessian_vector_products`), C p_i by :func:`noise_covariance_products`, the projector from a QR
    factorisation of Pᵀ in float64. Cost ≈ 3K gradient evaluations.

    Examples
    --------
    For least squares with H ∝ I every subspace is invariant (``hessian_outside`` ≈ 0); see
    ``tests/probes/test_closure.py``.
    """
    w0, P = point_and_directions(obj, w0, directions)
    if inside is not None:
        inside = np.asarray(inside)
        if inside.dtype != bool or inside.shape != (obj.n_params,):
            raise ConfigError(f"inside must be a boolean mask of length {obj.n_params}, got dtype {inside.dtype} and "
                              f"shape {inside.shape}.")
    Qm, _ = np.linalg.qr(P.detach().cpu().double().numpy().T)
    HP = hessian_vector_products(obj, w0, P).detach().cpu().double().numpy()
    CP = noise_covariance_products(obj, w0, P).detach().cpu().double().numpy()

    def shares(V):
        norm2 = (V**2).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            outside = np.clip((norm2 - ((V @ Qm) ** 2).sum(1)) / norm2, 0.0, 1.0)
            other = None if inside is None else (V[:, ~inside] ** 2).sum(1) / norm2
        return np.where(norm2 > 0, outside, np.nan), other

    h_out, h_other = shares(HP)
    c_out, c_other = shares(CP)
    return Closure(h_out, c_out, h_other, c_other)
