"""The Hessian projected on a set of directions, by batched Hessian-vector products."""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh
from torch.func import grad, jvp, vmap

from ..._validation import check_scalar
from ...errors import ConfigError
from ..objective import Objective
from ._directions import point_and_directions
from ._tangents import logits_and_tangents, output_residual_and_curvature, structured

__all__ = ["gauss_newton_is_exact", "hessian_top_eigenvalues", "hessian_vector_products", "projected_hessian"]



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


def gauss_newton_is_exact(obj: Objective) -> bool:
    """True when the Hessian equals its Gauss–Newton part along the selected parameters (almost everywhere).

    That holds when w is (part of) the parameters of one ``nn.Linear`` layer and everything after it is
    ``Linear``/``ReLU``/``LeakyReLU``/``Identity``: the outputs are then piecewise *linear* in w, so their
    second derivatives vanish (autograd's convention at the kinks too) and only the loss curvature remains —
    the Feng–Tu hidden-weight case.
    """
    return structured(obj)


def _gauss_newton_projected(obj: Objective, w0: torch.Tensor, P: torch.Tensor) -> np.ndarray:
    """H_P = (1/N_L) Σ_k J_kᵀ ∇²_out ℓ_k J_k with J_k (out × K) the output Jacobian along the directions
    (:func:`~sgdpotential.nn.probes._tangents.logits_and_tangents`) and the closed-form output curvature
    diag(s) − ssᵀ (softmax cross-entropy) or I (squared error)."""
    K = P.shape[0]
    H = torch.zeros((K, K), dtype=torch.float64, device=obj.device)
    with torch.no_grad():
        for a, b in obj.chunks():
            logits, J = logits_and_tangents(obj, w0, P, a, b)  # (n, K, out)
            J = J.double()  # the contraction sums N_L·out terms: float64 keeps H_P at the tangents' accuracy
            _, s = output_residual_and_curvature(obj, logits.double(), a, b)
            Jk = J.transpose(0, 1).reshape(K, -1)
            if s is None:
                H += Jk @ Jk.T
                continue
            H += (J * s[:, None, :]).transpose(0, 1).reshape(K, -1) @ Jk.T
            Js = torch.einsum("nko,no->nk", J, s)
            H -= Js.T @ Js
    return (H / obj.n_train).cpu().numpy()


def projected_hessian(obj: Objective, w0, directions, *, method: str = "auto") -> np.ndarray:
    """H_P = P H Pᵀ, the Hessian of the mean loss at w0 in the span of the K directions (rows of P).

    Methods: ``"hvp"`` — K Hessian-vector products H p_i by forward-over-reverse differentiation, batched
    with ``vmap`` and accumulated over sample chunks, then H_P = P (H P)ᵀ; cost ≈ K gradient evaluations.
    ``"gauss-newton"`` — exact only when :func:`gauss_newton_is_exact` (one linear layer followed by
    piecewise-linear layers, e.g. the Feng–Tu hidden weights): the output Jacobian along all directions from
    one GEMM and masked products, and the closed-form output curvature. ``"auto"`` picks Gauss–Newton exactly
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
        M = _gauss_newton_projected(obj, w0, P)
    else:
        HP = hessian_vector_products(obj, w0, P)
        M = (P @ HP.T).detach().cpu().double().numpy()
    return (M + M.T) / 2


def hessian_top_eigenvalues(obj: Objective, w0, k: int = 5, *, tol: float = 1e-6, seed: int = 0) -> np.ndarray:
    """The k algebraically largest eigenvalues of the Hessian over the selected parameters (Lanczos).

    SciPy's ``eigsh`` on a LinearOperator of Hessian-vector products; the largest one, times the
    learning rate, is SGD's stability number (lr·λ_max < 2).
    """
    w0 = obj.check_w(w0)
    k = check_scalar(k, "k", int, min_val=1, max_val=obj.n_params - 1)

    def mv(v):
        t = torch.as_tensor(np.asarray(v).reshape(-1), dtype=obj.dtype, device=obj.device)
        return hessian_vector_products(obj, w0, t[None, :])[0].detach().cpu().double().numpy()

    op = LinearOperator((obj.n_params, obj.n_params), matvec=mv, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(obj.n_params)
    return np.sort(eigsh(op, k=k, which="LA", tol=tol, v0=v0, return_eigenvectors=False))[::-1]
