"""Benchmark: the cost of recording every SGD step, against the same SGD loop without recording.

Run by hand:  python bench/bench_recording.py [--steps 2000] [--rounds 3] [--momentum 0.9]

Feng–Tu network (784-50-50-10 ReLU) on mnist5k, B = 50, lr = 0.1, epoch-wise shuffling. Baseline: a bare
PyTorch loop (randperm per epoch, forward, backward, torch.optim.SGD step). Ours: ``train`` with no
burn-in and a window of the same length, a snapshot of the 2,500 hidden weights after *every* step
(stride 1), the running mean of all 42,310 parameters, the per-step finite-loss check, and chunked
writes to the zarr store with a resume checkpoint per chunk — with the fused analytic MLP step
(:class:`~sgdpotential.dynamics.fused.FusedMLPStep`, the default) and with the autograd step (``fused=False``,
the same step as the baseline: the difference is the cost of recording), and recording all 42,310 weights
(``params="all"``, 169 KB per step, as Feng & Tu's protocol does). Rounds alternate; minimum per method.
``--momentum μ``: heavy-ball SGD everywhere (the baseline's ``torch.optim.SGD`` too).
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
import torch.nn.functional as nnf

from sgdpotential import TrainConfig, build_mlp, load_dataset, train


def sgd_loop(data, steps, step, seed=0, device="cpu"):
    """Seconds for ``steps`` calls of ``step(idx)`` on epoch-wise shuffled minibatches of 50 (randperm per epoch)."""
    gen = torch.Generator().manual_seed(seed)
    n, B = data.n_train, 50
    t = time.perf_counter()
    pos, perm = n, None
    for _ in range(steps):
        if pos + B > n:
            perm, pos = torch.randperm(n, generator=gen).to(device), 0
        idx = perm[pos : pos + B]
        pos += B
        step(idx)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t


MOMENTUM = 0.0  # --momentum


def bare_loop(data, steps, seed=0, device="cpu"):
    """The baseline: forward, backward and a ``torch.optim.SGD`` step per minibatch."""
    model = build_mlp([784, 50, 50, 10], seed=0).to(device)
    data = data.to(torch.device(device))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=MOMENTUM)

    def step(idx):
        opt.zero_grad(set_to_none=True)
        nnf.cross_entropy(model(data.X[idx]), data.y[idx]).backward()
        opt.step()

    return sgd_loop(data, steps, step, seed, device)


def fused_loop(data, steps, seed=0):
    """The bare loop with the fused analytic step in place of forward/backward/optimizer (no recording)."""
    from sgdpotential.dynamics.fused import FusedMLPStep
    from sgdpotential.dynamics.training import bind_flat_

    model = build_mlp([784, 50, 50, 10], seed=0)
    return sgd_loop(data, steps, FusedMLPStep(model, bind_flat_(model), data.X, data.y, 0.1, 50, "cross_entropy",
                                              MOMENTUM), seed)


def recorded(data, steps, folder, eval_every, device="cpu", fused=True, params="hidden"):
    model = build_mlp([784, 50, 50, 10], seed=0)
    cfg = TrainConfig(lr=0.1, batch_size=50, burn_in_epochs=0, window_steps=steps, stride=1, eval_every=eval_every,
                      device=device, momentum=MOMENTUM)
    store = Path(folder) / f"t{time.perf_counter_ns()}.zarr"
    t = time.perf_counter()
    train(model, data, cfg, store, params=params, fused=fused)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--momentum", type=float, default=0.0, help="heavy-ball μ of every loop (0: plain SGD)")
    args = ap.parse_args()
    global MOMENTUM
    MOMENTUM = args.momentum
    data = load_dataset("mnist5k")
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)  steps {args.steps}  momentum {MOMENTUM}")
    times = {"bare": [], "fused": [], "record": [], "record+eval": [], "autograd": [], "autograd+eval": [],
             "all": []}
    with tempfile.TemporaryDirectory() as folder:
        bare_loop(data, 200)  # warm-up (allocator, kernels)
        for _ in range(args.rounds):
            times["bare"].append(bare_loop(data, args.steps))
            times["fused"].append(fused_loop(data, args.steps))
            times["record"].append(recorded(data, args.steps, folder, eval_every=args.steps + 1))
            times["record+eval"].append(recorded(data, args.steps, folder, eval_every=None))
            times["autograd"].append(recorded(data, args.steps, folder, eval_every=args.steps + 1, fused=False))
            times["autograd+eval"].append(recorded(data, args.steps, folder, eval_every=None, fused=False))
            times["all"].append(recorded(data, args.steps, folder, eval_every=args.steps + 1, params="all"))
    base = min(times["bare"])
    print(f"{'method':44s} {'seconds':>8s} {'steps/s':>8s} {'time vs bare':>13s}")
    rows = [("bare SGD loop (baseline)", "bare"),
            ("the same loop, fused step (no recording)", "fused"),
            ("train(fused=False), snapshot every step", "autograd"),
            ("train(fused=False), + full-batch eval/epoch", "autograd+eval"),
            ("train() (fused step), snapshot every step", "record"),
            ("train() (fused step), + full-batch eval/epoch", "record+eval"),
            ("train() (fused step), all weights every step", "all")]
    for label, key in rows:
        t = min(times[key])
        print(f"{label:44s} {t:8.2f} {args.steps / t:8.0f} {t / base:12.2f}x")


if __name__ == "__main__":
    main()
