"""A fused SGD step for plain MLPs: the analytic forward and backward pass into preallocated buffers.

For a stack of ``nn.Linear`` and ``nn.ReLU`` layers trained by SGD (plain or heavy-ball) on the mean per-sample loss,
one step is::

    z_l = a_{l-1} W_lᵀ + b_l,   a_l = max(z_l, 0),   a_0 = the minibatch's inputs
    δ_L = ∂ℓ̄/∂z_L,   δ_{l-1} = (δ_l W_l) ⊙ [z_{l-1} > 0]
    ∇W_l = δ_lᵀ a_{l-1},   ∇b_l = Σ_k δ_{l,k},   w ← w − α ∇

with δ_L = (softmax(z_L) − onehot(y))/B for cross-entropy and (z_L − onehot(y))/B for half the squared error; with
heavy-ball momentum μ the update is ``torch.optim.SGD``'s, b ← μ b + ∇, w ← w − α b (b = ∇ at the first step, which
μ·0 + ∇ is exactly). It is the arithmetic autograd does, in the same order of GEMMs, so the iterates agree with
``torch.optim.SGD`` to round-off (tested: float64 to 1e-12 over 100 steps, float32 to 1e-5 over 500, with and without
momentum). Every intermediate lives in a buffer allocated once; the gradient is written into one flat buffer laid out
like the parameters (:func:`~sgdpotential.dynamics.training.bind_flat_`), and the update is a single ``add_`` over
all weights.

Why this and not ``torch.compile`` or batching seeds: at the feng-tu size (784-50-50-10, B = 50) a PyTorch step
spends most of its time in dispatch and autograd bookkeeping, not in its ~13 MFLOP of GEMMs; removing that
bookkeeping is a plain-PyTorch change that works on every device and needs nothing at run time, while
``torch.compile`` needs a C++ toolchain on CPU and compiles per shape, and batching seeds (the replica engine)
speeds up ensembles, not the one run a user waits for. Measured in ``bench/bench_recording.py``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FusedMLPStep"]


class FusedMLPStep:
    """``step(idx) -> loss``: one plain-SGD step of ``model`` on the minibatch ``idx`` of ``(X, y)``.

    Parameters
    ----------
    model : nn.Sequential
        Linear and ReLU layers only (:meth:`applies`); its parameters must already be views of ``flat``.
    flat : torch.Tensor
        The flat buffer holding every parameter (:func:`~sgdpotential.dynamics.training.bind_flat_`).
    X, y : torch.Tensor
        Inputs (n, d) and integer labels (n,), on the model's device and in its dtype.
    lr : float
    batch_size : int
    loss : {"cross_entropy", "mse"}
    momentum : float
        μ of heavy-ball SGD (0: plain SGD). Its buffer b is one flat tensor laid out like ``flat``; with ``optimizer``
        (the run's ``torch.optim.SGD``) the optimizer's per-parameter ``momentum_buffer`` state entries are views of
        it, so the optimizer's ``state_dict`` checkpoints it (call :meth:`adopt_optimizer_state` after loading one).
    optimizer : torch.optim.SGD, optional
    """

    def __init__(self, model: nn.Sequential, flat: torch.Tensor, X: torch.Tensor, y: torch.Tensor, lr: float,
                 batch_size: int, loss: str, momentum: float = 0.0, optimizer: torch.optim.Optimizer | None = None):
        self.X, self.y, self.lr, self.loss = X, y, float(lr), loss
        self.momentum, self.optimizer = float(momentum), optimizer
        self.layers = [m for m in model if isinstance(m, nn.Linear)]
        self.grad = torch.zeros_like(flat)
        B, dev, dt = batch_size, flat.device, flat.dtype

        def grad_view(p):  # the gradient buffer's slice at the parameter's place in ``flat``
            start = p.data.storage_offset() - flat.storage_offset()
            return self.grad[start : start + p.numel()].view_as(p)

        self.W = [m.weight.data for m in self.layers]
        self.b = [None if m.bias is None else m.bias.data for m in self.layers]
        self.gW = [grad_view(m.weight) for m in self.layers]
        self.gb = [None if m.bias is None else grad_view(m.bias) for m in self.layers]
        self.a = [torch.empty((B, X.shape[1]), device=dev, dtype=dt)]  # a_0 = the minibatch's inputs
        self.z = [torch.empty((B, W.shape[0]), device=dev, dtype=dt) for W in self.W]
        self.a += [torch.empty_like(z) for z in self.z[:-1]]
        self.delta = [torch.empty_like(z) for z in self.z]
        self.rows = torch.arange(B, device=dev)
        self.flat = flat
        self.params = [p for m in self.layers for p in (m.weight, m.bias) if p is not None]
        self.buf = torch.zeros_like(flat) if self.momentum else None
        self._views = {p: self.buf[p.data.storage_offset() - flat.storage_offset():][: p.numel()].view_as(p)
                       for p in self.params} if self.momentum else {}
        if self.momentum and optimizer is not None:
            self.adopt_optimizer_state()

    def adopt_optimizer_state(self) -> None:
        """Take the optimizer's momentum buffers (e.g. just loaded from a checkpoint) into the flat buffer and make
        its state entries views of it again (no entry yet: a fresh start, b = 0). Nothing to do without momentum or
        without an optimizer."""
        if self.optimizer is None:
            return
        for p, view in self._views.items():
            state = self.optimizer.state[p]
            if state.get("momentum_buffer") is not None and state["momentum_buffer"] is not view:
                view.copy_(state["momentum_buffer"])
            state["momentum_buffer"] = view

    @staticmethod
    def applies(model: nn.Module, config) -> bool:
        """True for an ``nn.Sequential`` Linear, ReLU, Linear, …, Linear (strictly alternating) trained by SGD, plain
        or heavy-ball (no weight decay) — the cases whose step this class computes exactly."""
        if not isinstance(model, nn.Sequential) or len(model) == 0:
            return False
        kids = list(model)
        return (len(kids) % 2 == 1 and all(type(m) is nn.Linear for m in kids[0::2])
                and all(type(m) is nn.ReLU for m in kids[1::2]) and not model._forward_hooks
                and config.optimizer == "sgd" and config.weight_decay == 0
                and config.loss in ("cross_entropy", "mse"))

    @torch.no_grad()
    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        a, z, L = self.a, self.z, len(self.layers)
        torch.index_select(self.X, 0, idx, out=a[0])
        y = self.y[idx]
        for i in range(L):
            if self.b[i] is None:
                torch.mm(a[i], self.W[i].t(), out=z[i])
            else:
                torch.addmm(self.b[i], a[i], self.W[i].t(), out=z[i])
            if i + 1 < L:
                torch.clamp_min(z[i], 0, out=a[i + 1])
        d = self.delta[-1]
        if self.loss == "mse":
            torch.sub(z[-1], 0, out=d)
            d[self.rows, y] -= 1
            loss = 0.5 * d.square().sum(1).mean()
        else:
            torch.log_softmax(z[-1], 1, out=d)
            loss = -d[self.rows, y].mean()
            d.exp_()
            d[self.rows, y] -= 1
        d /= d.shape[0]
        for i in range(L - 1, -1, -1):
            torch.mm(d.t(), a[i], out=self.gW[i])
            if self.gb[i] is not None:
                torch.sum(d, 0, out=self.gb[i])
            if i:
                torch.mm(d, self.W[i], out=self.delta[i - 1])
                d = self.delta[i - 1].mul_(z[i - 1] > 0)  # autograd's ReLU convention: derivative 0 at the kink
        if self.buf is None:
            self.flat.add_(self.grad, alpha=-self.lr)
        else:
            self.buf.mul_(self.momentum).add_(self.grad)
            self.flat.add_(self.buf, alpha=-self.lr)
        return loss
