"""Multilayer perceptrons and named subsets of their parameters (the weights a trajectory records)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError

__all__ = ["ACTIVATIONS", "ParameterSelection", "build_mlp", "flat_parameters", "select_parameters"]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


def build_mlp(widths: Sequence[int], activation: str = "relu", seed: int = 0, bias: bool = True) -> nn.Sequential:
    """Fully connected network ``widths[0] → … → widths[-1]`` with layers named ``fc1, act1, fc2, …``.

    The Feng–Tu network is ``build_mlp([784, 50, 50, 10])``. Initialisation is PyTorch's default for
    ``nn.Linear``, drawn from a private generator seeded with ``seed`` (the global RNG is left untouched).

    Examples
    --------
    >>> net = build_mlp([784, 50, 50, 10])
    >>> [name for name, _ in net.named_parameters()][:3]
    ['fc1.weight', 'fc1.bias', 'fc2.weight']
    """
    widths = list(widths)
    if len(widths) < 2 or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
        raise ConfigError(f"widths = {widths!r} must be at least two positive integers, e.g. [784, 50, 50, 10].")
    if activation not in ACTIVATIONS:
        raise ConfigError(f"activation = {activation!r} is not one of {', '.join(ACTIVATIONS)}.")
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for k, (a, b) in enumerate(pairwise(widths), start=1):
            layers[f"fc{k}"] = nn.Linear(a, b, bias=bias)
            if k < len(widths) - 1:
                layers[f"act{k}"] = ACTIVATIONS[activation]()
    return nn.Sequential(layers)


@dataclass(frozen=True)
class ParameterSelection:
    """Which parameters form the flat vector w, in ``model.named_parameters()`` order.

    Attributes
    ----------
    names : tuple[str, ...]
    shapes : tuple[tuple[int, ...], ...]
    offsets : tuple[int, ...]
        Start of each parameter in the flat vector.
    size : int
        N, the length of w.
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    size: int

    def positions(self, names, device=None):
        """Where the parameters ``names`` (a subset of this selection) sit in its flat vector: a slice when they
        are contiguous (a snapshot is then one view), else an index tensor for ``index_select``."""
        wanted = set(names)
        ranges = [(o, o + int(np.prod(s))) for n, s, o in zip(self.names, self.shapes, self.offsets, strict=True)
                  if n in wanted]
        if all(a[1] == b[0] for a, b in pairwise(ranges)):
            return slice(ranges[0][0], ranges[-1][1])
        return torch.cat([torch.arange(a, b, device=device) for a, b in ranges])

    def describe(self) -> list[dict]:
        """JSON-ready list of {name, shape, offset}."""
        return [{"name": n, "shape": list(s), "offset": o} for n, s, o in zip(self.names, self.shapes, self.offsets,
                                                                               strict=True)]


def select_parameters(model: nn.Module, spec: str | Sequence[str] = "all") -> ParameterSelection:
    """Name the parameter subset to analyse.

    ``"all"``: every parameter. ``"hidden"``: the weight matrices between two hidden layers (for
    784-50-50-10, ``fc2.weight``, N = 2,500 — the Feng–Tu choice). A list (or comma-separated string) of
    parameter names: exactly those, in ``named_parameters()`` order.
    """
    named = OrderedDict(model.named_parameters())
    if isinstance(spec, str) and spec == "all":
        chosen = list(named)
    elif isinstance(spec, str) and spec == "hidden":
        linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        chosen = [f"{n}.weight" for n in linear[1:-1]]
        if not chosen:
            raise ConfigError(f"params = 'hidden' needs at least two hidden layers, but the model has "
                              f"{len(linear)} linear layer(s); use 'all' or name parameters.")
    else:
        wanted = requested_names(spec)
        unknown = [w for w in wanted if w not in named]
        if unknown or not wanted:
            raise ConfigError(f"unknown parameter name {unknown[0] if unknown else ''!r}; choose 'all', 'hidden' or "
                              f"names from {', '.join(named)}.")
        chosen = [n for n in named if n in set(wanted)]
    shapes = tuple(tuple(named[n].shape) for n in chosen)
    sizes = [named[n].numel() for n in chosen]
    offsets = tuple(int(sum(sizes[:i])) for i in range(len(sizes)))
    return ParameterSelection(tuple(chosen), shapes, offsets, int(sum(sizes)))


def requested_names(spec: str | Sequence[str]) -> list[str]:
    """Parameter names from a comma-separated string or a sequence."""
    return [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)


def flat_parameters(model: nn.Module, selection: ParameterSelection | None = None) -> torch.Tensor:
    """The selected parameters (all by default) concatenated into one detached flat vector."""
    named = dict(model.named_parameters())
    names = selection.names if selection is not None else list(named)
    return torch.cat([named[n].detach().reshape(-1) for n in names])
