"""The networks a run trains — multilayer perceptrons, a LeNet-style CNN, a small ResNet with BatchNorm or
GroupNorm, or any ``nn.Module`` a user factory returns — and named subsets of their parameters (the weights a
trajectory records).

Data sets hold their inputs flat, (n, d), with the sample shape beside them (:class:`~sgdpotential.Dataset`); a
network for images starts with ``nn.Unflatten`` to (C, H, W) as its parameter-free first module ``input``, so
every sampler, probe and replay handles one kind of input.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError

__all__ = ["ACTIVATIONS", "MODELS", "ParameterSelection", "build_mlp", "build_model", "flat_parameters",
           "select_parameters"]

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


#: Built-in architectures of :func:`build_model` (a ``package.module:factory`` names a user's instead).
MODELS = ("mlp", "lenet", "lenet-bn", "resnet-bn", "resnet-gn")


def build_model(name: str, sample_shape: Sequence[int], n_classes: int, *, hidden: Sequence[int] = (50, 50),
                activation: str = "relu", seed: int = 0) -> nn.Module:
    """The network ``name`` for inputs of ``sample_shape`` and ``n_classes`` outputs, initialised from ``seed``.

    ``"mlp"``: :func:`build_mlp` over the flattened input with ``hidden`` widths. ``"lenet"`` / ``"lenet-bn"``: two
    5×5 convolutions (6 and 16 channels, padding 2, each followed by 2×2 max-pooling; with BatchNorm after each
    convolution for ``-bn``) and fully connected layers 120 → 84 → classes (LeCun et al. 1998, sized to the
    image). ``"resnet-bn"`` / ``"resnet-gn"``: a 3×3 stem of 16 channels, two residual blocks (16 and 32 channels,
    the second with stride 2 and a 1×1 projection), global average pooling and a linear classifier, normalised by
    BatchNorm or GroupNorm (4 groups) (He et al. 2016). ``"package.module:factory"``: ``factory(sample_shape=…,
    n_classes=…)`` of the user's, which must return an ``nn.Module`` taking (B, *sample_shape) inputs; its
    parameters are named ``net.<name>``. The CNNs need images, sample shape (C, H, W). Initialisation is drawn
    from a private generator seeded with ``seed`` (the global RNG is left untouched).

    Examples
    --------
    >>> net = build_model("lenet-bn", (1, 8, 8), 10)
    >>> [n for n, _ in net.named_parameters()][:4]
    ['conv1.weight', 'conv1.bias', 'norm1.weight', 'norm1.bias']
    >>> net(torch.zeros(2, 64)).shape
    torch.Size([2, 10])
    """
    shape = tuple(int(x) for x in sample_shape)
    if not isinstance(name, str):
        raise ConfigError(f"model = {name!r} must be a string: one of {', '.join(MODELS)} or 'package.module:factory'.")
    if name == "mlp":
        return build_mlp([int(np.prod(shape)), *hidden, n_classes], activation, seed=seed)
    if name in MODELS or ":" not in name:
        if name not in MODELS:
            raise ConfigError(f"model = {name!r} is not one of {', '.join(MODELS)}, nor a 'package.module:factory'.")
        if len(shape) != 3:
            raise ConfigError(f"model = {name!r} needs images of shape (C, H, W), but the data set's samples have "
                              f"shape {shape}; use model = 'mlp', or an image data set (mnist5k, digits, cifar10).")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"activation = {activation!r} is not one of {', '.join(ACTIVATIONS)}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name.startswith("lenet"):
            body = _lenet(shape, n_classes, activation, norm=name.endswith("-bn"))
        elif name.startswith("resnet"):
            body = _resnet(shape, n_classes, activation, norm=name.split("-")[1])
        else:
            body = OrderedDict(net=_user_model(name, shape, n_classes))
    return nn.Sequential(OrderedDict(input=nn.Unflatten(1, shape), **body))


def _lenet(shape, n_classes, activation, norm: bool) -> OrderedDict:
    c, h, w = shape
    act = ACTIVATIONS[activation]
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for k, (cin, cout) in enumerate(((c, 6), (6, 16)), start=1):
        layers[f"conv{k}"] = nn.Conv2d(cin, cout, 5, padding=2)
        if norm:
            layers[f"norm{k}"] = nn.BatchNorm2d(cout)
        layers[f"act{k}"] = act()
        layers[f"pool{k}"] = nn.MaxPool2d(2)
    layers["flatten"] = nn.Flatten()
    layers["fc1"], layers["act3"] = nn.Linear(16 * (h // 4) * (w // 4), 120), act()
    layers["fc2"], layers["act4"] = nn.Linear(120, 84), act()
    layers["fc3"] = nn.Linear(84, n_classes)
    return layers


class _Block(nn.Module):
    """A residual block: conv–norm–act–conv–norm plus the (projected) input, then act."""

    def __init__(self, cin: int, cout: int, stride: int, norm, act):
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), norm(cout)
        self.conv2, self.norm2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), norm(cout)
        self.act = act()
        self.shortcut = (nn.Sequential() if stride == 1 and cin == cout else
                         nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), norm(cout)))

    def forward(self, x):
        y = self.act(self.norm1(self.conv1(x)))
        return self.act(self.norm2(self.conv2(y)) + self.shortcut(x))


def _resnet(shape, n_classes, activation, norm: str) -> OrderedDict:
    act = ACTIVATIONS[activation]
    make = nn.BatchNorm2d if norm == "bn" else (lambda ch: nn.GroupNorm(4, ch))
    return OrderedDict(stem=nn.Conv2d(shape[0], 16, 3, 1, 1, bias=False), stem_norm=make(16), stem_act=act(),
                       block1=_Block(16, 16, 1, make, act), block2=_Block(16, 32, 2, make, act),
                       pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(), fc=nn.Linear(32, n_classes))


def _import_from_cwd(name: str):
    """Import module ``name`` as uvicorn and gunicorn import apps: also from the current folder (placed after the
    installed packages, so that a folder named like one of them does not shadow it, and only for this import)."""

    try:
        cwd = os.getcwd()
    except OSError:  # the current folder was deleted
        return importlib.import_module(name)
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        return importlib.import_module(name)
    finally:
        if added:
            sys.path.remove(cwd)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _user_model(spec: str, shape, n_classes) -> nn.Module:
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(_import_from_cwd(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"model = {spec!r}: cannot import {attr!r} from module {module_name!r} ({_one_line(exc)}); "
                          f"give 'package.module:factory' of an importable module.") from exc
    except Exception as exc:  # the module's own code failed while it was imported
        raise ConfigError(f"model = {spec!r}: importing module {module_name!r} raised {type(exc).__name__}: "
                          f"{_one_line(exc)}; fix the module.") from exc
    if not callable(factory):
        raise ConfigError(f"model = {spec!r}: {attr!r} is not callable; it must be a factory returning an nn.Module.")
    try:
        model = factory(sample_shape=shape, n_classes=n_classes)
    except Exception as exc:
        raise ConfigError(f"model = {spec!r}: factory(sample_shape={shape}, n_classes={n_classes}) raised "
                          f"{type(exc).__name__}: {_one_line(exc)}.") from exc
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model = {spec!r}: the factory returned {type(model).__name__}, not a torch.nn.Module.")
    if not any(p.requires_grad for p in model.parameters()):
        raise ConfigError(f"model = {spec!r}: the factory's module has no trainable parameters.")
    return model


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
    784-50-50-10, ``fc2.weight``, N = 2,500 — the Feng–Tu choice). ``"type:Conv2d"`` (or ``"type:Conv2d,Linear"``):
    every parameter of the modules of those classes. A list (or comma-separated string) of parameter names:
    exactly those, in ``named_parameters()`` order.
    """
    named = OrderedDict(model.named_parameters())
    if isinstance(spec, str) and spec == "all":
        chosen = list(named)
    elif isinstance(spec, str) and spec.startswith("type:"):
        kinds = {k.strip() for k in spec[5:].split(",") if k.strip()}
        present = {type(m).__name__ for m in model.modules()}
        missing = sorted(kinds - present)
        if missing or not kinds:
            raise ConfigError(f"params = {spec!r}: the model has no module of type {missing[0] if missing else ''!r}; "
                              f"its types are {', '.join(sorted(present))}.")
        owned = {f"{mn}.{pn}" if mn else pn for mn, m in model.named_modules() if type(m).__name__ in kinds
                 for pn, _ in m.named_parameters(recurse=False)}
        chosen = [n for n in named if n in owned]
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
