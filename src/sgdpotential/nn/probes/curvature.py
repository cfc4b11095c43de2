"""The Hessian projected on a set of directions, and its top eigenvalues — through the curvature operators of
:mod:`.operators`."""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import eigsh

from ..._validation import check_scalar
from ...errors import ConfigError
from ..objective import Objective
from ._directions import point_and_directions
from ._tangents import structured
from .operators import GaussNewtonOperator, HessianOperator

__all__ = ["gauss_newton_is_exact", "hessian_top_eigenvalues", "projected_hessian"]


def gauss_newton_is_exact(obj: Objective) -> bool:
    """True when the Hessian equals its Gauss–Newton part along the selected parameters (almost everywhere).

    That holds when w is (part of) the parameters of one ``nn.Linear`` layer and everything after it is
    ``Linear``/``ReLU``/``LeakyReLU``/``Identity``: the outputs are then piecewise *linear* in w, so their
    second derivatives vanish (autograd's convention at the kinks too) and only the loss curvature remains —
    the Feng–Tu hidden-weight case.
    """
    return structured(obj)


def projected_hessian(obj: Objective, w0, directions, *, method: str = "auto") -> np.ndarray:
    """H_P = P H Pᵀ, the Hessian of the mean loss at w0 in the span of the K directions (rows of P).

    Methods: ``"hvp"`` — K Hessian-vector products H p_i of :class:`~.operators.HessianOperator`
    (forward-over-reverse, batched with ``vmap``, accumulated over sample chunks), then H_P = P (H P)ᵀ; cost ≈ K
    gradient evaluations. ``"gauss-newton"`` — :class:`~.operators.GaussNewtonOperator`'s projection, exact
    only when :func:`gauss_newton_is_exact` (one linear layer followed by piecewise-linear layers, e.g. the
    Feng–Tu hidden weights): the output Jacobian along all directions from one GEMM and masked products, and
    the closed-form output curvature. ``"auto"`` picks Gauss–Newton exactly
    when it is exact. Memory O(batch · chunk · width), never N × N. The result is exactly symmetric.

    For SGD's linear SDE this gives the force matrix F = α H_P (paper Eqs. 17, 25).
    """
    w0, P = point_and_directions(obj, w0, directions)
    if method not in ("auto", "hvp", "gauss-newton"):
        raise ConfigError(f"method = {method!r} is not one of 'auto', 'hvp', 'gauss-newton'.")
    exact = gauss_newton_is_exact(obj)
    if method == "gauss-newton" and not exact:
        raise ConfigError("method = 'gauss-newton' is exact only for the weights of one linear layer followed by "
                          "Linear/ReLU layers; use method='hvp' (or 'auto').")
    if method == "gauss-newton" or (method == "auto" and exact):
        return GaussNewtonOperator(obj, w0).projected(P)
    return HessianOperator(obj, w0).projected(P)


def hessian_top_eigenvalues(obj: Objective, w0, k: int = 5, *, tol: float = 1e-6, seed: int = 0) -> np.ndarray:
    """The k algebraically largest eigenvalues of the Hessian over the selected parameters (Lanczos).

    SciPy's ``eigsh`` on :class:`~.operators.HessianOperator` (``to_scipy``); the largest one, times the
    learning rate, is SGD's stability number (lr·λ_max < 2).
    """
    w0 = obj.check_w(w0)
    k = check_scalar(k, "k", int, min_val=1, max_val=obj.n_params - 1)

    op = HessianOperator(obj, w0).to_scipy()
    v0 = np.random.default_rng(seed).standard_normal(obj.n_params)
    return np.sort(eigsh(op, k=k, which="LA", tol=tol, v0=v0, return_eigenvectors=False))[::-1]
