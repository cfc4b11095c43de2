"""Benchmark: linearized-replay throughput against real SGD on the same network, side by side.

Run by hand:  OMP_WAIT_POLICY=PASSIVE python bench/bench_replay.py [--steps 1000] [--rounds 3] [--paths 20]
[--threads 1]

Feng–Tu network (784-50-50-10 ReLU) on mnist5k, B = 50, lr = 0.1, epoch-wise shuffling, the 2,500 hidden
weights recorded after every step. Baseline: real SGD through ``train`` (no burn-in, a window of the same
length). Ours: ``linearized_replay`` in all 42,310 weights, expanded at the same initial point, recording
the same subset — with minibatch Hessians (``batch``, the issue's target: ≥ 1/3 of real SGD's steps/s) and
with the full-batch Hessian (``full``); and ``--paths`` replays stepped together (``linearized_replays``), whose
rate *per path* is compared (issue 27: the full-Hessian replay per path, batched, ≥ 0.25× real SGD). Also the
full-batch Hessian's products for ``--paths`` vectors in one batched backward (``is_grads_batched``) against one
after another. Also the per-step primitive behind the replay, double backward,
against ``torch.func``'s ``jvp(grad(·))``. Rounds alternate; minimum per method.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from torch.func import grad, jvp

from sgdpotential import Objective, TrainConfig, build_mlp, load_dataset, train
from sgdpotential.dynamics.replay import linearized_replay, linearized_replays


def real_sgd(data, steps, folder):
    model = build_mlp([784, 50, 50, 10], seed=0)
    cfg = TrainConfig(lr=0.1, batch_size=50, burn_in_epochs=0, window_steps=steps, stride=1)
    t = time.perf_counter()
    train(model, data, cfg, Path(folder) / f"s{time.perf_counter_ns()}.zarr", params="hidden")
    return time.perf_counter() - t


def replay(data, steps, folder, hessian):
    obj = Objective(build_mlp([784, 50, 50, 10], seed=0), data, "all")
    t = time.perf_counter()
    linearized_replay(obj, obj.w_base, 0.1, 50, steps, store=Path(folder) / f"r{time.perf_counter_ns()}.zarr",
                      hessian=hessian, record=["fc2.weight"])
    return time.perf_counter() - t


def replays(data, steps, folder, hessian, paths):
    """``paths`` replays stepped together: seconds per step of every path (the per-path rate is steps / this)."""
    obj = Objective(build_mlp([784, 50, 50, 10], seed=0), data, "all")
    stores = [Path(folder) / f"p{time.perf_counter_ns()}-{p}.zarr" for p in range(paths)]
    t = time.perf_counter()
    linearized_replays(obj, obj.w_base, 0.1, 50, steps, stores=stores, seeds=list(range(paths)), hessian=hessian,
                       record=["fc2.weight"])
    return time.perf_counter() - t


def full_products(data, paths, batched):
    """The full-batch Hessian's products with ``paths`` vectors (the retained graph of ∇L(ω0), as the replay)."""
    obj = Objective(build_mlp([784, 50, 50, 10], seed=0), data, "all")
    w0g = obj.w_base.clone().requires_grad_(True)
    grads = [torch.autograd.grad(obj.sample_losses(w0g, a, b).sum() / obj.n_train, w0g, create_graph=True)[0]
             for a, b in obj.chunks()]
    X = 1e-3 * torch.randn((paths, obj.n_params), generator=torch.Generator().manual_seed(0))
    t = time.perf_counter()
    if batched:
        sum(torch.autograd.grad(g, w0g, grad_outputs=X, retain_graph=True, is_grads_batched=True)[0] for g in grads)
    else:
        for x in X:
            sum(torch.autograd.grad(g, w0g, grad_outputs=x, retain_graph=True)[0] for g in grads)
    return time.perf_counter() - t


def primitive(data, steps, how):
    """One minibatch gradient + Hessian-vector product at ω0 per step, nothing else."""
    obj = Objective(build_mlp([784, 50, 50, 10], seed=0), data, "all")
    w0 = obj.w_base
    x = 1e-3 * torch.randn(w0.shape, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    w0g = w0.clone().requires_grad_(True)
    t = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, obj.n_train, (50,), generator=gen)
        if how == "double-backward":
            (g,) = torch.autograd.grad(obj.batch_loss(w0g, idx), w0g, create_graph=True)
            torch.autograd.grad(g, w0g, grad_outputs=x)
        else:
            jvp(grad(lambda v, idx=idx: obj.batch_loss(v, idx)), (w0,), (x,))
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--paths", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for everything measured (recorded)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset("mnist5k")
    n = args.steps
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  torch {torch.__version__} "
          f"({torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')})  steps {n}  "
          f"paths {args.paths}")
    times = {k: [] for k in ("sgd", "batch", "full", "batch-R", "full-R", "products-batched", "products-one-by-one",
                             "double-backward", "jvp(grad)")}
    R, short = args.paths, max(n // 10, 20)
    with tempfile.TemporaryDirectory() as folder:
        real_sgd(data, 200, folder)  # warm-up
        for _ in range(args.rounds):
            times["sgd"].append(real_sgd(data, n, folder))
            times["batch"].append(replay(data, n, folder, "batch"))
            times["full"].append(replay(data, max(n // 10, 20), folder, "full") * n / max(n // 10, 20))
            times["batch-R"].append(replays(data, n, folder, "batch", R))
            times["full-R"].append(replays(data, short, folder, "full", R) * n / short)
            times["products-batched"].append(full_products(data, R, True))
            times["products-one-by-one"].append(full_products(data, R, False))
            times["double-backward"].append(primitive(data, n, "double-backward"))
            times["jvp(grad)"].append(primitive(data, n, "jvp(grad)"))
    sgd = min(times["sgd"])
    print(f"{'method':52s} {'steps/s':>8s} {'vs real SGD':>12s}")
    for label, key in (("real SGD, train() recording every step (baseline)", "sgd"),
                       ("replay, minibatch Hessian (target ≥ 0.33)", "batch"),
                       ("replay, full-batch Hessian", "full")):
        t = min(times[key])
        print(f"{label:52s} {n / t:8.0f} {sgd / t:11.2f}x")
    for label, key in ((f"{R} replays together, minibatch Hessian", "batch-R"),
                       (f"{R} replays together, full-batch Hessian", "full-R")):
        t = min(times[key])  # every path advanced n steps in t: R·n path-steps
        print(f"{label + ', path-steps/s':52s} {R * n / t:8.0f} {R * sgd / t:11.2f}x   "
              f"({min(times[key.split('-')[0]]) * R / t:.2f}x the paths one at a time)")
    pb, po = min(times["products-batched"]), min(times["products-one-by-one"])
    print(f"full-batch Hessian products with {R} vectors: batched {pb:.3f} s, one by one {po:.3f} s → ratio "
          f"{pb / po:.2f}")
    db, jg = min(times["double-backward"]), min(times["jvp(grad)"])
    print(f"per-step primitive: double backward {n / db:.0f}/s, torch.func jvp(grad) {n / jg:.0f}/s "
          f"→ double backward {jg / db:.2f}× faster")


if __name__ == "__main__":
    main()
