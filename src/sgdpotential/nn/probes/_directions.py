"""Validation of the point and directions every probe takes."""

from __future__ import annotations

import torch

from ...errors import ConfigError
from ..objective import Objective


def point_and_directions(obj: Objective, w0, directions) -> tuple[torch.Tensor, torch.Tensor]:
    """(w0, P) as tensors of the objective's dtype, P of shape (K, N); clear errors otherwise."""
    w0 = obj.check_w(w0, "w0")
    P = torch.as_tensor(directions, dtype=obj.dtype, device=obj.device)
    if P.ndim == 1:
        P = P[None, :]
    if P.ndim != 2 or P.shape[1] != obj.n_params:
        raise ConfigError(f"directions have shape {tuple(P.shape)}; each must have length {obj.n_params} "
                          f"(the selected parameters), i.e. shape (K, {obj.n_params}).")
    if P.shape[0] > obj.n_params:
        raise ConfigError(f"K = {P.shape[0]} directions exceed the dimension {obj.n_params}; pass at most "
                          f"{obj.n_params}.")
    if not bool(torch.isfinite(P).all()):
        raise ConfigError("directions contain NaN or inf; pass finite vectors.")
    norms = torch.linalg.vector_norm(P, dim=1)
    if bool((norms == 0).any()):
        raise ConfigError(f"direction {int(torch.nonzero(norms == 0)[0, 0])} is the zero vector; every direction "
                          f"needs a nonzero length.")
    return w0, P
