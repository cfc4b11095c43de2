"""Is the principal subspace closed? How much of H p_i and C p_i leaves span(P).

The subspace laws of the paper (Eqs. 17–19 restricted to K principal directions) assume that the force
αH and the noise C map the subspace into itself. Where H p_i or C p_i has a large component outside
span(p_1 … p_K) — in other directions of the recorded layer or in other layers altogether — the K
coordinates are driven by the remaining weights and no K-dimensional linear SDE is closed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._repr import concise_repr
from ...errors import ConfigError
from ..objective import Objective
from ._directions import point_and_directions
from .operators import HessianOperator, NoiseCovarianceOperator

__all__ = ["Closure", "closure_fractions"]


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

    Method: H p_i and C p_i as the rows of :class:`~.operators.HessianOperator` and
    :class:`~.operators.NoiseCovarianceOperator`, the projector from a QR
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
    HP = HessianOperator(obj, w0).rows(P).detach().cpu().double().numpy()
    CP = NoiseCovarianceOperator(obj, w0).rows(P).detach().cpu().double().numpy()

    def shares(V):
        norm2 = (V**2).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            outside = np.clip((norm2 - ((V @ Qm) ** 2).sum(1)) / norm2, 0.0, 1.0)
            other = None if inside is None else (V[:, ~inside] ** 2).sum(1) / norm2
        return np.where(norm2 > 0, outside, np.nan), other

    h_out, h_other = shares(HP)
    c_out, c_other = shares(CP)
    return Closure(h_out, c_out, h_other, c_other)
