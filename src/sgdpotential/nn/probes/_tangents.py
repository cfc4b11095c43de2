"""Forward-mode tangents of the network outputs by plain matrix products, for the structured case.

When w is (part of) the parameters of one ``nn.Linear`` layer and only Linear / ReLU / LeakyReLU /
Identity modules follow (the Feng–Tu hidden weights), the outputs are piecewise linear in w. The tangent
of the logits along every direction p_i then follows from one GEMM with the layer's input (cached by the
Objective) and masked products through the later layers — the same numbers ``torch.func.jvp`` computes,
without its per-call overhead, and the output curvature is closed-form (Gauss–Newton is exact).
"""

from __future__ import annotations

import torch
from torch import nn

from ..objective import Objective

PIECEWISE_LINEAR = (nn.Linear, nn.ReLU, nn.LeakyReLU, nn.Identity)

def dense_only(obj: Objective) -> bool:
    """:attr:`Objective.dense`: every module of the probed network is dense (batched GEMMs under ``vmap``)."""
    return obj.dense


def structured(obj: Objective) -> bool:
    """True when the outputs are piecewise linear in w (see the module docstring)."""
    net = obj._net
    if not isinstance(net, nn.Sequential) or len(net) == 0:
        return False
    first_name, first = next(iter(net.named_children()))
    own = {f"{first_name}.{n}" for n, _ in first.named_parameters()}
    return (isinstance(first, nn.Linear) and set(obj.selection.names) <= own
            and all(isinstance(m, PIECEWISE_LINEAR) for m in net.children()))


def first_layer(obj: Objective, w0: torch.Tensor, P: torch.Tensor, a: int, b: int):
    """(params, h (n, out1), t (n, K, out1)): the selected layer's pre-activation at w0 and its tangents
    t[:, i] = PW_i x + Pb_i for all directions — one GEMM (n, in) @ (in, K·out1)."""
    params = obj._params(w0)
    K = P.shape[0]
    first_name, first = next(iter(obj._net.named_children()))
    # the directions' components on the first layer's weight and bias (zero where not selected)
    PW = torch.zeros((K, first.out_features, first.in_features), dtype=P.dtype, device=P.device)
    Pb = torch.zeros((K, first.out_features), dtype=P.dtype, device=P.device)
    offset = 0
    for name, shape in zip(obj.selection.names, obj.selection.shapes, strict=True):
        size = 1
        for s in shape:
            size *= s
        block = P[:, offset : offset + size]
        if name.endswith(".weight"):
            PW = block.reshape(K, *shape)
        else:
            Pb = block
        offset += size
    x = obj.features[a:b]
    W, bias = params[f"{first_name}.weight"], params.get(f"{first_name}.bias")
    h = x @ W.T + (bias if bias is not None else 0)
    t = (x @ PW.reshape(K * first.out_features, first.in_features).T).reshape(x.shape[0], K, -1) + Pb
    return params, h, t


def rest(obj: Objective, params: dict, h: torch.Tensor, t: torch.Tensor | None = None):
    """Propagate the first layer's output h (n, …, width) — and tangents t (n, K, width) — through the
    remaining Linear / ReLU / LeakyReLU / Identity modules; returns (logits, tangents)."""
    for name, module in list(obj._net.named_children())[1:]:
        if isinstance(module, nn.Linear):
            Wm = params[f"{name}.weight"]
            bm = params.get(f"{name}.bias")
            h = h @ Wm.T + (bm if bm is not None else 0)
            t = None if t is None else t @ Wm.T
        elif isinstance(module, nn.ReLU):
            if t is not None:
                t = t * (h > 0)[:, None, :]  # autograd's convention: derivative 0 at the kink
            h = torch.relu(h)
        elif isinstance(module, nn.LeakyReLU):
            if t is not None:
                t = t * torch.where(h > 0, torch.ones_like(h), torch.full_like(h, module.negative_slope))[:, None, :]
            h = nn.functional.leaky_relu(h, module.negative_slope)
    return h, t


def logits_and_tangents(obj: Objective, w0: torch.Tensor, P: torch.Tensor, a: int, b: int):
    """(logits (n, out), tangents (n, K, out)) for samples a:b; requires :func:`structured`.

    The (n, K, ·) layout keeps every product a plain GEMM on the last axis, with no transposed copies.
    """
    params, h, t = first_layer(obj, w0, P, a, b)
    return rest(obj, params, h, t)


def first_layer_errors(obj: Objective, w0: torch.Tensor, a: int, b: int) -> torch.Tensor:
    """δ (n, out1): δ_k = ∂ℓ_k/∂z_k, the per-sample loss's derivative with respect to the selected linear layer's
    output z_k, for samples a:b — one backward pass of Σ_k ℓ_k (samples do not interact). Requires
    :func:`structured`."""
    params = obj._params(w0)
    first_name, _ = next(iter(obj._net.named_children()))
    x = obj.features[a:b]
    W, bias = params[f"{first_name}.weight"], params.get(f"{first_name}.bias")
    with torch.enable_grad():
        z = (x @ W.T + (bias if bias is not None else 0)).detach().requires_grad_(True)
        logits, _ = rest(obj, params, z)
        r, _ = output_residual_and_curvature(obj, logits.detach(), a, b)
        (delta,) = torch.autograd.grad(logits, z, grad_outputs=r)  # ∂ℓ_k/∂z_k, row by row
    return delta


def layer_gradients(obj: Objective, w0: torch.Tensor, a: int, b: int) -> torch.Tensor:
    """Per-sample gradients (n, N) of ℓ_k with respect to w for samples a:b, in the per-layer form:
    for the selected linear layer ∇_W ℓ_k = δ_k x_kᵀ and ∇_b ℓ_k = δ_k (:func:`first_layer_errors`).
    Requires :func:`structured`."""
    delta, x = first_layer_errors(obj, w0, a, b), obj.features[a:b]
    pieces = []
    for name in obj.selection.names:
        pieces.append((delta[:, :, None] * x[:, None, :]).reshape(x.shape[0], -1) if name.endswith(".weight")
                      else delta)
    return torch.cat(pieces, dim=1)


def output_residual_and_curvature(obj: Objective, logits: torch.Tensor, a: int, b: int):
    """(r, s): r = ∂ℓ/∂logits per sample; for cross-entropy s = softmax (curvature diag(s) − ssᵀ), for
    squared error s = None (curvature I)."""
    target = nn.functional.one_hot(obj.y[a:b], logits.shape[-1]).to(logits.dtype)
    if obj.loss_name == "mse":
        return logits - target, None
    s = torch.softmax(logits, dim=-1)
    return s - target, s
