"""Benchmark: the probes' passes over the data on CNNs — cache-sized chunks, reverse-over-reverse Hessian products and
the flatness start shared with H_P — against the way they ran before (chunks of 2,048, forward-over-reverse products,
a flatness start of its own).

Run by hand:  python bench/bench_cnn_probes.py [--rounds 2] [--components 8]
              python bench/bench_cnn_probes.py --accuracy   (only the float32 gradient against float64, per chunk)

Set-up: ``lenet`` on the 5,000 mnist5k digits after two epochs of plain SGD (α 0.1, B 50; a point near a minimum,
where the flatness crossings lie as in a run), its convolutions selected (``type:Conv2d``, N = 2,572), K orthonormal
random directions; and ``resnet-gn`` (all weights) at initialisation for the passes alone. In one process, rounds
alternating, minimum per method; results compared beside each time:

* a loss pass and a gradient over all samples, chunk 2,048 (before) against :func:`~sgdpotential.nn.objective.
  cache_sized_chunk`;
* H_P along K directions: ``HessianOperator(method="jvp")`` at chunk 2,048 against the default (``"auto"``, which is
  ``"reverse"`` on a CNN) at the default chunk;
* the analysis stage's pair "flatness and H_P along the same K directions": before, the flatness start's own K
  forward-over-reverse products plus H_P's, at chunk 2,048; now H_P once, its diagonal starting the search.

``--accuracy``: the ResNet-GN gradient over 1,000 images in float32 at chunks 1,000, 256 and 64 against float64.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import platform
import time

import numpy as np
import torch

from sgdpotential import load_dataset
from sgdpotential.nn.models import build_model
from sgdpotential.nn.objective import Objective
from sgdpotential.nn.probes import flatness
from sgdpotential.nn.probes.operators import HessianOperator


def trained_lenet(data, epochs: int = 2):
    net = build_model("lenet", data.sample_shape, data.n_classes, seed=0)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for idx in torch.randperm(data.n_train, generator=gen).split(50):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(data.X[idx]), data.y[idx]).backward()
            opt.step()
    return net.eval()


def timed(f, times: list):
    t = time.perf_counter()
    out = f()
    times.append(time.perf_counter() - t)
    return out


def compare(label: str, before, after, rounds: int, agree) -> None:
    tb, ta = [], []
    for _ in range(rounds):
        b = timed(before, tb)
        a = timed(after, ta)
    print(f"{label:<48} before {min(tb):8.2f} s   now {min(ta):8.2f} s   ratio {min(tb) / min(ta):5.2f}x   "
          f"{agree(b, a)}", flush=True)


def rel(b, a) -> str:
    b, a = (np.asarray(x.detach().cpu().double() if isinstance(x, torch.Tensor) else x, dtype=float) for x in (b, a))
    return f"max rel diff {np.abs(a - b).max() / np.abs(b).max():.1e}"


def accuracy(data) -> None:
    """The float32 ResNet-GN gradient over 1,000 images per chunk size, against float64 (one chunk)."""
    sub = type(data)(data.X[:1000], data.y[:1000], "mnist5k[:1000]", 10, data.scaling, data.sample_shape)
    sub64 = type(data)(sub.X.double(), sub.y, sub.name, 10, data.scaling, data.sample_shape)
    net = build_model("resnet-gn", data.sample_shape, data.n_classes, seed=0).eval()
    ref_obj = Objective(copy.deepcopy(net).double(), sub64, "all", chunk=1000)
    ref = HessianOperator(ref_obj, ref_obj.w_base).gradient
    for chunk in (1000, 256, 64):
        obj = Objective(net, sub, "all", chunk=chunk)
        g = HessianOperator(obj, obj.w_base).gradient.double()
        print(f"resnet-gn float32 gradient, 1,000 images, chunk {chunk:>5}: max error / max |g| against float64 "
              f"{float((g - ref).abs().max() / ref.abs().max()):.1e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--components", type=int, default=8)
    ap.add_argument("--accuracy", action="store_true", help="only the float32-against-float64 gradient check")
    args = ap.parse_args()
    torch.set_num_threads(2)
    data = load_dataset("mnist5k")
    if args.accuracy:
        accuracy(data)
        return
    net = trained_lenet(data)
    old = Objective(net, data, "type:Conv2d", chunk=2048)
    new = Objective(net, data, "type:Conv2d")
    w0 = new.w_base
    K = args.components
    P = torch.linalg.qr(torch.randn(new.n_params, K, generator=torch.Generator().manual_seed(1)))[0].T.contiguous()
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)  lenet type:Conv2d N = {new.n_params}, mnist5k, K = {K}, "
          f"chunk {old.chunk} -> {new.chunk}; rounds {args.rounds}")
    with torch.no_grad():
        compare("lenet loss pass", lambda: old.loss(w0), lambda: new.loss(w0), 3, rel)
    compare("lenet gradient", lambda: HessianOperator(old, w0).gradient, lambda: HessianOperator(new, w0).gradient,
            3, rel)
    compare(f"lenet H_P, K = {K}", lambda: HessianOperator(old, w0, method="jvp").projected(P),
            lambda: HessianOperator(new, w0).projected(P), args.rounds, rel)

    def before():
        h = (P * HessianOperator(old, w0, method="jvp").rows(P)).sum(1).double().numpy()
        return flatness(old, w0, P, curvature=h), HessianOperator(old, w0, method="jvp").projected(P)

    def after():
        H = HessianOperator(new, w0).projected(P)
        return flatness(new, w0, P, curvature=np.diag(H)), H

    compare(f"lenet flatness + H_P, K = {K}", before, after, args.rounds,
            lambda b, a: f"widths {rel(b[0].width, a[0].width)}, H_P {rel(b[1], a[1])}")
    res = build_model("resnet-gn", data.sample_shape, data.n_classes, seed=0).eval()
    old_r, new_r = Objective(res, data, "all", chunk=2048), Objective(res, data, "all")
    wr = new_r.w_base
    print(f"# resnet-gn all N = {new_r.n_params}, chunk {old_r.chunk} -> {new_r.chunk}")
    with torch.no_grad():
        compare("resnet-gn loss pass", lambda: old_r.loss(wr), lambda: new_r.loss(wr), 3, rel)
    compare("resnet-gn gradient", lambda: HessianOperator(old_r, wr).gradient,
            lambda: HessianOperator(new_r, wr).gradient, 2, rel)


if __name__ == "__main__":
    main()
