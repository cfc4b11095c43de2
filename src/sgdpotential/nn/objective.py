"""The training objective as a function of a flat vector w of selected parameters.

L(w) = (1/N_L) Σ_k ℓ_k(w) — the *mean* per-sample loss (cross-entropy, or squared error against one-hot
targets), as SGD's minibatch gradients estimate; per-sample losses ℓ_k are exposed for the noise probes.
Parameters outside the selection are held at given values (by default the model's current ones; e.g.
their window mean ω0).

When the model is an ``nn.Sequential`` and the selection starts at layer j, nothing before layer j depends
on w: its output for every sample is computed once and cached, and every probe runs only the layers from j
on (for the Feng–Tu hidden weights that skips the 784×50 first layer entirely).

**Model mode, the stated rule.** Per-sample quantities (ℓ_k, C of paper Eq. 19) exist only when a sample's
output does not depend on the rest of the batch or on randomness. The objective therefore evaluates a copy of
the model in *eval* mode (BatchNorm with its running statistics, Dropout off) and checks that copy for
determinism (:func:`check_deterministic`, after curvlinops' ``_check_deterministic``): a model that still
depends on the batch or on randomness is refused with a :class:`~sgdpotential.ConfigError`. A model that does so
only in *training* mode (BatchNorm, Dropout) is named in a :class:`~sgdpotential.errors.ModelModeWarning`: SGD
trained a different process from the one the probes describe.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as nnf
from torch import nn
from torch.func import functional_call

from .._validation import check_scalar
from ..errors import ConfigError, ModelModeWarning
from .data import Dataset
from .losses import LOSSES
from .models import ParameterSelection, select_parameters

__all__ = ["CHUNK_CACHE_BYTES", "CHUNK_MAX", "DENSE", "LOSSES", "Objective", "batch_dependence", "cache_sized_chunk",
           "check_deterministic", "mean_loss", "per_sample_loss"]


#: Layers of a dense network, on which batched forward-mode products beat per-sample gradients (``jvp`` 0.26 s
#: against ``vmap(grad)`` 3.2 s for C_P of all 42,310 weights of the feng-tu MLP, ``bench/bench_probes.py``) and
#: ``vmap`` over stacked weight vectors is batched GEMMs; on any other model (convolutions, pooling, normalisation)
#: ``vmap`` over weights becomes grouped convolutions, and a loop over directions or weight vectors is faster.
DENSE = (nn.Sequential, nn.Linear, nn.ReLU, nn.Tanh, nn.GELU, nn.Sigmoid, nn.LeakyReLU, nn.Identity, nn.Flatten,
         nn.Unflatten)


def per_sample_loss(out: torch.Tensor, y: torch.Tensor, loss: str = "cross_entropy") -> torch.Tensor:
    """ℓ_k for network outputs ``out`` (n, classes) and labels ``y`` (n,), no reduction: softmax
    cross-entropy, or ``"mse"`` — half the squared error against one-hot targets (a loss that is exactly
    quadratic in the weights of a linear model). Training and every probe use this one definition."""
    if loss == "mse":
        target = torch.zeros_like(out).scatter(-1, y[..., None], 1.0)  # one-hot that vmap can batch
        return 0.5 * ((out - target) ** 2).sum(-1)
    return nnf.cross_entropy(out, y, reduction="none")


def mean_loss(out: torch.Tensor, y: torch.Tensor, loss: str = "cross_entropy") -> torch.Tensor:
    """The minibatch loss L^μ = mean of :func:`per_sample_loss`, with the mean inside torch's cross-entropy
    kernel (one autograd node instead of two: ~40 µs less per step for the feng-tu network at B = 50, ~10% of
    the step). Equal to ``per_sample_loss(out, y, loss).mean()`` up to the order of the float additions."""
    if loss == "mse":
        return per_sample_loss(out, y, loss).mean()
    return nnf.cross_entropy(out, y)


def batch_dependence(model: nn.Module, X: torch.Tensor, *, train: bool, n: int = 16) -> float:
    """Largest change of the outputs for the first ``n`` samples between two evaluations, and when the rest
    of the batch changes, relative to their scale (0 for a deterministic, per-sample model).

    The model's buffers (BatchNorm running statistics) are cloned and the global RNG forked: nothing the caller
    holds is changed.
    """
    n = max(1, min(n, X.shape[0] // 2))
    params = {k: v.detach() for k, v in model.named_parameters()}
    was = model.training
    model.train(train)
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            def run(x):
                buffers = {k: b.clone() for k, b in model.named_buffers()}
                return functional_call(model, (params, buffers), (x,))

            alone = run(X[:n])
            again = run(X[:n])
            mixed = run(torch.cat([X[n : 2 * n], X[:n].flip(0)]))[n:].flip(0) if X.shape[0] >= 2 * n else again
    finally:
        model.train(was)
    scale = float(alone.abs().max()) + 1e-12
    return max(float((again - alone).abs().max()), float((mixed - alone).abs().max())) / scale


#: Relative output change above which a model counts as non-deterministic (round-off of batched GEMMs is ~1e-7).
DETERMINISM_RTOL = 1e-4


def check_deterministic(model: nn.Module, X: torch.Tensor) -> None:
    """Refuse a model whose eval-mode output for a sample depends on the batch or on randomness; warn when
    its *training-mode* output does (BatchNorm, Dropout), naming the modules.

    Method: the outputs of 16 samples evaluated twice, and again behind 16 other samples in reverse order,
    must agree to :data:`DETERMINISM_RTOL` of their scale (curvlinops' ``_check_deterministic`` does the
    same for its linear operators). Cost: six forward passes on ≤ 32 samples.

    Raises
    ------
    ConfigError
        The eval-mode model is not deterministic and per-sample: per-sample losses are undefined.
    """
    named = sorted({type(m).__name__ for m in model.modules()
                    if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd, nn.Dropout))})
    change = batch_dependence(model, X, train=False)
    if change > DETERMINISM_RTOL:
        raise ConfigError(
            f"the model's eval-mode output for a sample changes by {change:.3g} (relative) between two evaluations or "
            f"with the rest of the batch, so per-sample losses and the noise covariance of paper Eq. (19) are "
            f"undefined; remove the randomness or batch coupling from eval mode (e.g. a custom noise layer that "
            f"ignores model.training).")
    change = batch_dependence(model, X, train=True)
    if change > DETERMINISM_RTOL:
        warnings.warn(
            f"in training mode the model's output for a sample depends on the rest of the minibatch or on randomness "
            f"(relative change {change:.3g}{'; modules: ' + ', '.join(named) if named else ''}), so SGD did not "
            f"descend a mean of per-sample losses; the probes evaluate the model in eval mode (running statistics, "
            f"no dropout), which describes a different process from the one trained.", ModelModeWarning,
            stacklevel=3)


#: Bytes of the largest activation of one data chunk on the CPU: half the 32 MiB L3 cache of the 2-core AMD EPYC the
#: benchmarks run on. With chunks whose activations stay in cache a LeNet's loss pass and gradient ran 1.2–2.0× and a
#: ResNet's 3.0–3.6× faster than with chunks of 2,048 (``bench/bench_cnn_probes.py``, three runs); dense networks'
#: activations are small and keep 2,048.
CHUNK_CACHE_BYTES = 16 * 2**20

#: The most samples per chunk: beyond it a dense network's passes gain nothing (measured on the feng-tu MLP).
CHUNK_MAX = 2048


def cache_sized_chunk(model: nn.Module, X: torch.Tensor) -> int:
    """Samples per data chunk for ``model`` on inputs like ``X``: on the CPU the largest power of two ``c``
    with ``c`` × (the largest module output of one sample, in bytes; views such as Flatten's do not count)
    ≤ :data:`CHUNK_CACHE_BYTES`, clipped to [32, :data:`CHUNK_MAX`]; :data:`CHUNK_MAX` on any other device (a GPU
    wants large batches).

    Method: one eval-mode forward pass of two samples with a hook on every module, recording the largest output.

    Examples
    --------
    >>> from sgdpotential.nn.models import build_model
    >>> cache_sized_chunk(build_model("lenet", (1, 28, 28), 10), torch.zeros(2, 784))  # 6·28·28 floats a sample
    512
    """
    if X.device.type != "cpu":
        return CHUNK_MAX
    largest = [1]

    def record(_module, inputs, out):  # a new tensor, not a view of the input (Flatten, Unflatten)
        if isinstance(out, torch.Tensor) and all(not isinstance(x, torch.Tensor) or x.untyped_storage().data_ptr()
                                                 != out.untyped_storage().data_ptr() for x in inputs):
            largest.append(out[:1].numel() * out.element_size())

    hooks = [m.register_forward_hook(record) for m in model.modules()]
    was = model.training
    try:
        model.eval()
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            model(X[:2])
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    c = CHUNK_CACHE_BYTES // max(largest)
    return int(min(CHUNK_MAX, max(32, 1 << max(int(c).bit_length() - 1, 0))))


class Objective:
    """L(w) and ℓ_k(w) on a flat parameter vector, ready for ``torch.func`` transforms.

    Parameters
    ----------
    model : nn.Module
    data : Dataset
    params : "all", "hidden", or parameter names
        The selection that w holds (concatenated in ``model.named_parameters()`` order).
    base : 1-D tensor or array, optional
        Values of *all* parameters (flat, ``named_parameters()`` order) at which the unselected ones are held,
        e.g. the window mean ``mean_all`` of a trajectory; default: the model's current values.
    loss : "cross_entropy" or "mse"
        See :func:`per_sample_loss`.
    chunk : int, optional
        Samples per pass over the data (bounds memory; results do not depend on it beyond the order of float
        additions). Default: :func:`cache_sized_chunk` — on the CPU the largest power of two whose largest
        activation fits in :data:`CHUNK_CACHE_BYTES`, between 32 and 2,048 samples; 2,048 on other devices.

    Attributes
    ----------
    selection : ParameterSelection
    n_params : int
        N, the length of w.
    n_train : int
        N_L.
    w_base : torch.Tensor
        The selected parameters taken from ``base`` (a natural expansion point).

    Notes
    -----
    The model is evaluated as an eval-mode copy (the caller's model, its mode and its buffers are left
    untouched), after :func:`check_deterministic`.
    """

    def __init__(self, model: nn.Module, data: Dataset, params: str | Sequence[str] = "all", *, base=None,
                 loss: str = "cross_entropy", chunk: int | None = None):
        if loss not in LOSSES:
            raise ConfigError(f"loss = {loss!r} is not one of {', '.join(LOSSES)}.")
        self.loss_name = loss
        self.selection: ParameterSelection = select_parameters(model, params)
        named = dict(model.named_parameters())
        first = next(iter(named.values()))
        self.dtype, self.device = first.dtype, first.device
        values = {n: p.detach() for n, p in named.items()}
        if base is not None:
            base = torch.as_tensor(base, dtype=self.dtype, device=self.device).reshape(-1)
            total = sum(p.numel() for p in named.values())
            if base.numel() != total:
                raise ConfigError(f"base has {base.numel()} values but the model has {total} parameters; pass all "
                                  f"of them in named_parameters() order (e.g. a trajectory's mean_all).")
            if not bool(torch.isfinite(base).all()):
                raise ConfigError("base contains NaN or inf; pass finite parameter values.")
            offset = 0
            for n, p in named.items():
                values[n] = base[offset : offset + p.numel()].view_as(p)
                offset += p.numel()
        self.w_base = torch.cat([values[n].reshape(-1) for n in self.selection.names])
        self.n_params = self.selection.size
        self.n_train = data.n_train
        X = data.X.to(device=self.device, dtype=self.dtype)
        self.y = data.y.to(self.device)
        check_deterministic(model, X)
        self.chunk = cache_sized_chunk(model, X) if chunk is None else check_scalar(chunk, "chunk", int, min_val=1)
        model = copy.deepcopy(model).eval()  # probes are defined in eval mode; the caller's model is not touched
        chosen = set(self.selection.names)
        self._net, start = model, 0
        if isinstance(model, nn.Sequential):
            for start, (name, module) in enumerate(model.named_children()):  # noqa: B007 - start is used below
                if any(f"{name}.{pn}" in chosen for pn, _ in module.named_parameters()):
                    break
            self._net = model[start:]  # slicing keeps the children's names, hence the parameter names
        if start > 0:
            # the layers before the first selected one do not depend on w: run them once, at `base` values
            prefix = model[:start]
            with torch.no_grad():
                pre = {n: values[n] for n, _ in prefix.named_parameters()}
                self.features = torch.cat([functional_call(prefix, pre, (X[a : a + self.chunk],))
                                           for a in range(0, X.shape[0], self.chunk)])
        else:
            self.features = X
        self._fixed = {n: values[n] for n, _ in self._net.named_parameters() if n not in chosen}
        self._sel_names = list(self.selection.names)
        self._shapes = self.selection.shapes

    # ---------------------------------------------------------------- functional core

    def check_w(self, w, name: str = "w0") -> torch.Tensor:
        """w as a tensor of the objective's dtype/device, or a clear error."""
        w = torch.as_tensor(w, dtype=self.dtype, device=self.device)
        if w.shape != (self.n_params,):
            raise ConfigError(f"{name} has shape {tuple(w.shape)}; it must be a flat vector of the {self.n_params} "
                              f"selected parameters.")
        if not bool(torch.isfinite(w).all()):
            raise ConfigError(f"{name} contains NaN or inf; pass finite weights.")
        return w

    @property
    def dense(self) -> bool:
        """True when every module of the evaluated network is one of :data:`DENSE`: ``vmap`` over stacked weight
        vectors is then batched GEMMs (the batched flatness, noise and replay paths)."""
        return all(isinstance(m, DENSE) for m in self._net.modules())

    def _params(self, w: torch.Tensor) -> dict:
        out = dict(self._fixed)
        offset = 0
        for n, shape in zip(self._sel_names, self._shapes, strict=True):
            size = 1
            for s in shape:
                size *= s
            out[n] = w[offset : offset + size].reshape(shape)
            offset += size
        return out

    def logits(self, w: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Network outputs for samples ``start:stop`` with the selected parameters set to w."""
        return functional_call(self._net, self._params(w), (self.features[start:stop],))

    def sample_losses(self, w: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """ℓ_k(w) for samples ``start:stop`` (no reduction). Differentiable with ``torch.func``."""
        return self.sample_losses_of(w, self.features[start:stop], self.y[start:stop])

    def sample_losses_of(self, w: torch.Tensor, features: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """ℓ_k(w) for given inputs (rows of ``features``, after any cached prefix) and labels."""
        return per_sample_loss(functional_call(self._net, self._params(w), (features,)), y, self.loss_name)

    def batch_loss(self, w: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """The minibatch loss L^μ(w) = (1/B) Σ_{k∈μ} ℓ_k(w) over the samples ``idx`` (what SGD descends)."""
        return self.sample_losses_of(w, self.features[idx], self.y[idx]).mean()

    def chunks(self):
        """(start, stop) sample ranges of at most ``chunk`` samples."""
        return [(s, min(s + self.chunk, self.n_train)) for s in range(0, self.n_train, self.chunk)]

    # ---------------------------------------------------------------- conveniences

    def loss(self, w) -> torch.Tensor:
        """Full-batch mean loss L(w) = (1/N_L) Σ_k ℓ_k(w)."""
        w = torch.as_tensor(w, dtype=self.dtype, device=self.device)
        return sum(self.sample_losses(w, a, b).sum() for a, b in self.chunks()) / self.n_train

    def per_sample_losses(self, w) -> torch.Tensor:
        """All N_L per-sample losses."""
        w = torch.as_tensor(w, dtype=self.dtype, device=self.device)
        return torch.cat([self.sample_losses(w, a, b) for a, b in self.chunks()])
