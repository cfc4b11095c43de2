"""Curvature operators: the Hessian, its Gauss–Newton part and the gradient-noise covariance of the mean loss
as symmetric N × N linear operators over the flat parameter vector w, known through their products only.

In the spirit of curvlinops: every operator has ``matvec`` (a vector of length N), ``matmat`` (N × K, columns
as in SciPy), ``@``, :meth:`~CurvatureOperator.rows` (the products with each row of a (K, N) stack of
directions, the layout the probes hold) and :meth:`~CurvatureOperator.projected` (P M Pᵀ, K × K, float64),
and :meth:`~CurvatureOperator.to_scipy` for ``eigsh``. They are the one home of Hessian-vector products: the
probes (H_P, C_P, the flatness start, the closure, the top Hessian eigenvalues) and the linearized replays
(:class:`MinibatchHessians`, and a :class:`HessianOperator` with a kept graph) all take their products here.

* :class:`HessianOperator`: H = ∇²L(w0), L the mean loss (paper Eq. 17), by forward-over-reverse products
  or reverse-over-reverse through a kept graph;
* :class:`GaussNewtonOperator`: G = (1/N_L) Σ_k J_kᵀ ∇²_out ℓ_k J_k, by ``jvp`` and ``vjp`` of the outputs;
* :class:`NoiseCovarianceOperator`: C = (1/N_L) Σ_k ∇ℓ_k∇ℓ_kᵀ − ∇L∇Lᵀ (Eq. 19), one reweighted gradient per
  vector;
* :class:`MinibatchHessians`: R minibatch Hessians H^{μ_r} (Eq. 20) at one point, one vector each.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator
from torch.func import grad, jvp, vjp, vmap

from ..._validation import check_scalar
from ...errors import ConfigError
from ..objective import Objective
from ._directions import point_and_directions
from ._tangents import logits_and_tangents, output_residual_and_curvature, structured
from .noise import directional_derivatives, projected_noise_covariance

__all__ = ["CurvatureOperator", "GaussNewtonOperator", "HessianOperator", "MinibatchHessians",
           "NoiseCovarianceOperator"]


class CurvatureOperator:
    """A symmetric N × N matrix M over the selected parameters of ``obj`` at ``w0``, known through its products.

    Subclasses define :meth:`rows`; everything else follows from it. Inputs may be tensors or arrays; outputs
    are of the same kind (tensors in the objective's dtype and device, arrays in float64).

    Attributes
    ----------
    obj : Objective
    w0 : (N,) tensor
    shape : (N, N)
    """

    def __init__(self, obj: Objective, w0) -> None:
        self.obj = obj
        self.w0 = obj.check_w(w0)
        self.shape = (obj.n_params, obj.n_params)

    def rows(self, V: torch.Tensor) -> torch.Tensor:
        """(K, N) tensor → (K, N) tensor: M v_i for every row v_i of V."""
        raise NotImplementedError

    def _apply(self, X):
        """M X for X of shape (N,) or (N, K), a tensor or an array (the result is of the same kind)."""
        as_array = not isinstance(X, torch.Tensor)
        V = torch.as_tensor(np.asarray(X) if as_array else X, dtype=self.obj.dtype, device=self.obj.device)
        if V.ndim not in (1, 2) or V.shape[0] != self.shape[0]:
            raise ConfigError(f"an operand of shape {tuple(V.shape)} does not match the operator's {self.shape}; "
                              f"give a vector of length {self.shape[0]} or a ({self.shape[0]}, K) matrix.")
        out = self.rows(V.reshape(self.shape[0], -1).T.contiguous()).T
        out = out.reshape(V.shape)
        return out.detach().cpu().double().numpy() if as_array else out

    def matvec(self, v):
        """M v for one vector v of length N."""
        return self._apply(v)

    def matmat(self, X):
        """M X for X of shape (N, K) (columns, as in SciPy)."""
        return self._apply(X)

    def __matmul__(self, X):
        return self._apply(X)

    def projected(self, P) -> np.ndarray:
        """P M Pᵀ for directions P (K, N) (rows; need not be orthonormal): K × K, float64, exactly symmetric.
        Cost: K products."""
        _, P = point_and_directions(self.obj, self.w0, P)
        M = (P @ self.rows(P).T).detach().cpu().double().numpy()
        return (M + M.T) / 2

    def to_scipy(self) -> LinearOperator:
        """A SciPy ``LinearOperator`` (float64) over the same products, e.g. for ``eigsh``."""
        def mv(v):
            return self._apply(np.asarray(v).reshape(-1))

        # symmetric: the adjoint's products are the operator's own
        return LinearOperator(self.shape, matvec=mv, rmatvec=mv, matmat=self._apply, dtype=np.float64)


class HessianOperator(CurvatureOperator):
    """H = ∇²L(w0), the Hessian of the full-batch mean loss L = (1/N_L) Σ_k ℓ_k (paper Eq. 17: F = αH).

    Three routes (``method``), all exact (tested against a dense autograd Hessian):

    * ``"jvp"``: forward-over-reverse (``jvp`` of ``grad``), ``vmap``-ed over ``batch`` vectors at a time and
      accumulated over the objective's sample chunks; memory O(batch · chunk · width). Batched GEMMs on a dense
      network.
    * ``"reverse"``: reverse-over-reverse, one data chunk at a time — the chunk's gradient is built with its graph,
      every vector's product is one reverse pass through it, and the graph is freed before the next chunk;
      memory of one chunk's graph. On a convolutional network forward mode through the convolutions' backward
      is slow: with the cache-sized chunks, H_P of a LeNet 2.3× faster than ``"jvp"`` with chunks of 2,048
      (``bench/bench_cnn_probes.py``).
    * ``"graph"``: as ``"reverse"``, but every chunk's graph is built once and kept between calls — for many
      calls at one point with one vector each (the full-Hessian replay: 2.2× faster than ``"jvp"`` there), at
      the memory of all chunks' graphs.
    * ``"auto"`` (default): ``"jvp"`` on a dense network (:attr:`~sgdpotential.nn.objective.Objective.dense`),
      ``"reverse"`` on any other.

    Cost: one product ≈ two gradient evaluations over the data (``"reverse"`` adds one gradient per call).

    Examples
    --------
    Least squares on four orthonormal inputs: H = I ⊗ XᵀX/N = I/4.

    >>> import torch
    >>> from sgdpotential.nn.data import Dataset
    >>> from sgdpotential.nn.models import build_mlp
    >>> from sgdpotential.nn.objective import Objective
    >>> data = Dataset(torch.eye(4, dtype=torch.float64), torch.tensor([0, 1, 0, 1]), "toy", 2, "as given")
    >>> obj = Objective(build_mlp([4, 2], bias=False).double(), data, "all", loss="mse")
    >>> H = HessianOperator(obj, obj.w_base)
    >>> H.projected(torch.eye(8, dtype=torch.float64)[:2])   # P H Pᵀ
    array([[0.25, 0.  ],
           [0.  , 0.25]])
    """

    def __init__(self, obj: Objective, w0, *, method: str = "auto", batch: int = 16) -> None:
        super().__init__(obj, w0)
        if method not in ("auto", "jvp", "reverse", "graph"):
            raise ConfigError(f"method = {method!r} is not one of 'auto', 'jvp', 'reverse', 'graph'.")
        if method == "auto":
            method = "jvp" if obj.dense else "reverse"
        self.method, self.batch = method, check_scalar(batch, "batch", int, min_val=1)
        self._graphs: list[torch.Tensor] | None = None  # ∇L per chunk (with their graphs for "graph")

    def _chunk_gradient(self, w: torch.Tensor, a: int, b: int, *, scale: float = 1.0,
                        create_graph: bool) -> torch.Tensor:
        """∇ of (Σ_{k∈[a,b)} ℓ_k(w)) / scale at the leaf w, with its graph if ``create_graph``."""
        with torch.enable_grad():
            return torch.autograd.grad(self.obj.sample_losses(w, a, b).sum() / scale, w, create_graph=create_graph)[0]

    def _chunk_gradients(self) -> list[torch.Tensor]:
        if self._graphs is None:
            w = self.w0.detach().clone().requires_grad_(True)
            self._leaf = w
            self._graphs = [self._chunk_gradient(w, a, b, scale=self.obj.n_train, create_graph=self.method == "graph")
                            for a, b in self.obj.chunks()]
        return self._graphs

    @property
    def gradient(self) -> torch.Tensor:
        """∇L(w0) (computed once; with ``method="graph"`` from the kept graphs)."""
        return sum(g.detach() for g in self._chunk_gradients())

    def rows(self, V: torch.Tensor) -> torch.Tensor:
        obj = self.obj
        if self.method == "graph":
            graphs = self._chunk_gradients()  # built once (this also sets the leaf they hang on)
            out = []
            for v in V:
                terms = [torch.autograd.grad(g, self._leaf, grad_outputs=v, retain_graph=True)[0]
                         for g in graphs if g.requires_grad]  # a chunk linear in w: no curvature
                out.append(sum(terms) if terms else torch.zeros_like(v))
            return torch.stack(out)
        if self.method == "reverse":
            out = torch.zeros_like(V)
            w = self.w0.detach().clone().requires_grad_(True)
            for a, b in obj.chunks():
                g = self._chunk_gradient(w, a, b, create_graph=True)
                if g.requires_grad:  # a chunk linear in w has no curvature
                    for i, v in enumerate(V):
                        out[i] += torch.autograd.grad(g, w, grad_outputs=v, retain_graph=i < len(V) - 1)[0]
                del g  # this chunk's graph goes before the next one is built
            return out / obj.n_train

        def hvp(v, a, b):
            def chunk_loss(w):
                return obj.sample_losses(w, a, b).sum()

            return jvp(grad(chunk_loss), (self.w0,), (v,))[1]

        out = torch.zeros_like(V)
        for i in range(0, V.shape[0], self.batch):
            for a, b in obj.chunks():
                out[i : i + self.batch] += vmap(hvp, in_dims=(0, None, None))(V[i : i + self.batch], a, b)
        return out / obj.n_train


class GaussNewtonOperator(CurvatureOperator):
    """G = (1/N_L) Σ_k J_kᵀ ∇²_out ℓ_k J_k, the generalised Gauss–Newton part of the Hessian: J_k the Jacobian of
    sample k's network outputs with respect to w, ∇²_out ℓ_k the loss curvature in the outputs — closed form,
    diag(s) − ssᵀ for softmax cross-entropy (s the softmax), I for squared error. Positive semi-definite.

    G = H exactly when the outputs are piecewise linear in w (:func:`~sgdpotential.nn.probes.curvature.
    gauss_newton_is_exact`: one linear layer followed by Linear/ReLU layers, the Feng–Tu hidden weights);
    elsewhere it drops the term Σ_k Σ_o (∂ℓ_k/∂out_o) ∇²out_{k,o}.

    Method: per chunk J v by ``jvp`` of the outputs, ``vmap``-ed over vectors, the output curvature applied in
    closed form, Jᵀ(·) by one ``vjp``. :meth:`projected` on the structured case takes the output Jacobian along
    all directions from one GEMM and masked products instead (the same numbers, far cheaper). Cost: one product
    ≈ one forward and one backward pass over the data.
    """

    def _curvature(self, logits, a, b, Jv):  # ∇²_out ℓ applied to Jv (K, n, out)
        _, s = output_residual_and_curvature(self.obj, logits, a, b)
        return Jv if s is None else s * Jv - s * (s * Jv).sum(-1, keepdim=True)

    def rows(self, V: torch.Tensor) -> torch.Tensor:
        obj = self.obj
        out = torch.zeros_like(V)
        for a, b in obj.chunks():
            def outputs(w, a=a, b=b):
                return obj.logits(w, a, b)

            logits, pullback = vjp(outputs, self.w0)
            Jv = vmap(lambda v: jvp(outputs, (self.w0,), (v,))[1])(V)  # (K, n, out)
            out += vmap(pullback)(self._curvature(logits.detach(), a, b, Jv))[0]
        return out / obj.n_train

    def projected(self, P) -> np.ndarray:
        if not structured(self.obj):
            return super().projected(P)
        obj = self.obj
        _, P = point_and_directions(obj, self.w0, P)
        K = P.shape[0]
        H = torch.zeros((K, K), dtype=torch.float64, device=obj.device)
        with torch.no_grad():
            for a, b in obj.chunks():
                logits, J = logits_and_tangents(obj, self.w0, P, a, b)  # (n, K, out)
                J = J.double()  # the contraction sums N_L·out terms: float64 keeps G_P at the tangents' accuracy
                _, s = output_residual_and_curvature(obj, logits.double(), a, b)
                Jk = J.transpose(0, 1).reshape(K, -1)
                if s is None:
                    H += Jk @ Jk.T
                    continue
                H += (J * s[:, None, :]).transpose(0, 1).reshape(K, -1) @ Jk.T
                Js = torch.einsum("nko,no->nk", J, s)
                H -= Js.T @ Js
        M = (H / obj.n_train).cpu().numpy()
        return (M + M.T) / 2


class NoiseCovarianceOperator(CurvatureOperator):
    """C = (1/N_L) Σ_k ∇ℓ_k ∇ℓ_kᵀ − ∇L ∇Lᵀ, the per-sample gradient covariance of paper Eq. (19) (population
    normalisation, all N_L samples); SGD's diffusion matrix is D = κ α² C/(2B).

    Products: C v = ∇_w [(1/N_L) Σ_k (d_k − d̄) ℓ_k(w)] at w0 with d_k = vᵀ∇ℓ_k — the per-sample directional
    derivatives of :func:`~sgdpotential.nn.probes.directional_derivatives`, then one gradient of a reweighted
    loss per vector (``vmap``-ed over vectors, chunked over samples); the N_L × N per-sample gradient matrix is
    never formed. Cost ≈ 2 gradient evaluations per vector. :meth:`projected` needs no product at all:
    P C Pᵀ = (1/N_L) D_cᵀD_c from the derivatives D (N_L × K) alone, in float64 (cost ≈ K forward passes).
    ``method`` chooses how those derivatives are taken (:func:`~sgdpotential.nn.probes.directional_derivatives`).
    """

    def __init__(self, obj: Objective, w0, *, method: str = "auto", batch: int = 16) -> None:
        super().__init__(obj, w0)
        self.method, self.batch = method, batch

    def rows(self, V: torch.Tensor) -> torch.Tensor:
        obj = self.obj
        D = directional_derivatives(obj, self.w0, V, method=self.method)
        weights = torch.as_tensor((D - D.mean(axis=0)) / obj.n_train, dtype=obj.dtype, device=obj.device)

        def weighted(w, c, a, b):
            return (c * obj.sample_losses(w, a, b)).sum()

        out = torch.zeros_like(V)
        with torch.no_grad():
            for i in range(0, V.shape[0], self.batch):
                for a, b in obj.chunks():
                    c = weights[a:b, i : i + self.batch].T.contiguous()
                    out[i : i + self.batch] += vmap(grad(weighted), in_dims=(None, 0, None, None))(self.w0, c, a, b)
        return out

    def projected(self, P) -> np.ndarray:
        return projected_noise_covariance(self.obj, self.w0, P, method=self.method)


class MinibatchHessians:
    """R minibatch losses L^{μ_r}(w) = (1/B) Σ_{k∈μ_r} ℓ_k(w) at one point w0: their gradients g^{μ_r}(w0) and
    the products H^{μ_r} x_r, one vector per minibatch (paper Eq. 20) — what a step of R linearized replays
    needs.

    On a dense network (:attr:`Objective.dense`) with R > 1 the R losses are one ``vmap`` over R copies of w0,
    so one backward gives every g^{μ_r} (row r of the gradient of their sum) and one double backward every
    H^{μ_r} x_r — batched GEMMs over R·B samples. Elsewhere one minibatch at a time in :meth:`products`: its
    gradient with its graph, the product, then the graph released. Exact either way (tested against each
    minibatch's dense Hessian, and through the replays against single replays to round-off).

    Parameters
    ----------
    obj : Objective
    w0 : (N,) tensor
    index : sequence of R index tensors of one length B
    graph : bool
        Keep the gradients' graphs for :meth:`products` (False: the gradients only).
    """

    def __init__(self, obj: Objective, w0: torch.Tensor, index, *, graph: bool = True) -> None:
        self.obj, self.graph, self.index = obj, graph, list(index)
        self._w0 = w0.detach()
        self._g: torch.Tensor | None = None
        self._batched = len(self.index) > 1 and obj.dense
        if self._batched:
            with torch.enable_grad():
                self._leaf = self._w0.expand(len(self.index), -1).clone().requires_grad_(True)
                idx = torch.stack(self.index)
                losses = vmap(lambda w, f, y: obj.sample_losses_of(w, f, y).mean())
                loss = losses(self._leaf, obj.features[idx], obj.y[idx]).sum()
                self._G = torch.autograd.grad(loss, self._leaf, create_graph=graph)[0]

    def _one(self, i, create_graph: bool):
        """One minibatch's gradient at w0 (with its graph if asked) and the leaf it hangs on."""
        with torch.enable_grad():
            w = self._w0.clone().requires_grad_(True)
            return torch.autograd.grad(self.obj.batch_loss(w, i), w, create_graph=create_graph)[0], w

    @property
    def gradients(self) -> torch.Tensor:
        """(R, N): g^{μ_r}(w0) in row r."""
        if self._batched:
            return self._G.detach()
        if self._g is None:  # not yet taken by products(): without graphs
            self._g = torch.stack([self._one(i, False)[0] for i in self.index])
        return self._g

    def products(self, X: torch.Tensor) -> torch.Tensor:
        """(R, N) → (R, N): H^{μ_r} x_r in row r. One call per instance. Off the batched route each minibatch's
        graph is built, used and released before the next (peak memory: one minibatch's graph)."""
        if not self.graph:
            raise ConfigError("these minibatch gradients were taken without their graphs (graph=False): no products.")
        if self._batched:
            G = self._G
            return torch.autograd.grad(G, self._leaf, grad_outputs=X)[0] if G.requires_grad else torch.zeros_like(X)
        rows, grads = [], []
        for i, x in zip(self.index, X, strict=True):
            g, w = self._one(i, True)
            rows.append(torch.autograd.grad(g, w, grad_outputs=x)[0] if g.requires_grad else torch.zeros_like(x))
            grads.append(g.detach())
        self._g = torch.stack(grads)
        return torch.stack(rows)
