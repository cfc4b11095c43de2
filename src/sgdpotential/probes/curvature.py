"""The Hessian projected on a set of directions, by batched Hessian-vector products."""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh
from torch.func import grad, jvp, vmap

from ..errors import ConfigError
from ..objective import Objective
from ._directions import point_and_directions

__all__ = ["hessian_top_eigenvalues", "hessian_vector_products", "projected_hessian"]


def hessian_vector_products(obj: Objective, w0: torch.Tensor, V: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """H v for every row v of V: forward-over-reverse (``jvp`` of ``grad``), ``vmap``-ed over rows,
    accumulated over sample chunks (H of the mean loss)."""

    def hvp(v, a, b):
        def chunk_loss(w):
            return obj.sample_losses(w, a, b).sum()

        return jvp(grad(chunk_loss), (w0,), (v,))[1]

    out = torch.zeros_like(V)
    for i in range(0, V.shape[0], batch):
        for a, b in obj.chunks():
            out[i : i + batch] += vmap(hvp, in_dims=(0, None, None))(V[i : i + batch], a, b)
    return out / obj.n_train


def projected_hessian(obj: Objective, w0, directions) -> np.ndarray:
    """H_P = P H Pᵀ, the Hessian of the mean loss at w0 in the span of the K directions (rows of P).

    Method: K Hessian-vector products H p_i by forward-over-reverse differentiation, batched with ``vmap``
    and accumulated over sample chunks, then H_P = P (H P)ᵀ. Cost ≈ K gradient evaluations; memory
    O(batch · chunk · width), never N × N. Returned exactly symmetrised ((H_P + H_Pᵀ)/2: the products are
    symmetric only to round-off).

    For SGD's linear SDE this gives the force matrix F = α H_P (paper Eqs. 17, 25).
    """
    w0, P = point_and_directions(obj, w0, directions)
    HP = hessian_vector_products(obj, w0, P)
    M = (P @ HP.T).detach().cpu().double().numpy()
    return (M + M.T) / 2


def hessian_top_eigenvalues(obj: Objective, w0, k: int = 5, *, tol: float = 1e-6, seed: int = 0) -> np.ndarray:
    """The k algebraically largest eigenvalues of the Hessian over the selected parameters (Lanczos).

    SciPy's ``eigsh`` on a LinearOperator of Hessian-vector products; the largest one, times the
    learning rate, is SGD's stability number (lr·λ_max < 2).
    """
    w0 = obj.check_w(w0)
    if not (isinstance(k, int) and 1 <= k < obj.n_params):
        raise ConfigError(f"k = {k!r} must be an integer in 1 … {obj.n_params - 1}.")

    def mv(v):
        t = torch.as_tensor(np.asarray(v).reshape(-1), dtype=obj.dtype, device=obj.device)
        return hessian_vector_products(obj, w0, t[None, :])[0].detach().cpu().double().numpy()

    op = LinearOperator((obj.n_params, obj.n_params), matvec=mv, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(obj.n_params)
    return np.sort(eigsh(op, k=k, which="LA", tol=tol, v0=v0, return_eigenvectors=False))[::-1]
