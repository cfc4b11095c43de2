"""Benchmark: R replicas trained together against R sequential runs with the same seeds, side by side.

Run by hand:  python bench/bench_replicas.py [--preset quick] [--replicas 16]

The full recording protocol of the preset for every replica (burn-in to the target accuracy, then the
window, every snapshot stored): ``train_replicas`` (stacked parameters, one batched forward and one
backward per step) against a loop of ``train`` calls with seeds 0 … R−1 — the same stores, the same work.
Prints both wall times, the speed-up in SGD steps per second, and how far each replica's trajectory lies
from its sequential twin (float32 round-off of the batched GEMMs, amplified by the training dynamics).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sgdpotential import build_mlp, load_dataset, train
from sgdpotential.dynamics.replicas import train_replicas
from sgdpotential.pipeline.config import preset


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--replicas", type=int, default=16)
    args = ap.parse_args()
    rc = preset(args.preset)
    data = load_dataset(rc.dataset)
    widths = [data.n_features, *rc.hidden, data.n_classes]
    R = args.replicas
    configs = []
    for s in range(R):
        c = rc.train_config()
        c.seed = s
        configs.append(c)
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)  preset {args.preset}  R = {R}")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        t = time.perf_counter()
        together = train_replicas(build_mlp(widths, seed=rc.model_seed), data, configs,
                                  [d / f"r{i}.zarr" for i in range(R)])
        t_together = time.perf_counter() - t
        t = time.perf_counter()
        alone = [train(build_mlp(widths, seed=rc.model_seed), data, c, d / f"s{i}.zarr") for i, c in enumerate(configs)]
        t_alone = time.perf_counter() - t
        steps_together = sum(int(r.trajectory.steps[-1]) for r in together)
        steps_alone = sum(int(r.trajectory.steps[-1]) for r in alone)
        print(f"{'method':36s} {'seconds':>8s} {'SGD steps':>10s} {'steps/s':>9s}")
        print(f"{'R sequential train() (baseline)':36s} {t_alone:8.2f} {steps_alone:10d} {steps_alone / t_alone:9.0f}")
        print(f"{'train_replicas, R together':36s} {t_together:8.2f} {steps_together:10d} "
              f"{steps_together / t_together:9.0f}")
        print(f"speed-up in steps per second: {(steps_together / t_together) / (steps_alone / t_alone):.2f}x")
        dev, same_burn = [], 0
        for a, b in zip(together, alone, strict=True):
            same_burn += a.burn_in_epochs == b.burn_in_epochs
            x, y = a.trajectory.read(), b.trajectory.read()
            dev.append(np.abs(x - y).max() / np.abs(y).max() if x.shape == y.shape and np.array_equal(
                a.trajectory.steps, b.trajectory.steps) else np.inf)
        dev = np.array(dev)
        print(f"burn-in epochs equal in {same_burn}/{R} replicas; max |Δw|/max|w| per replica: median "
              f"{np.median(dev):.1e}, {np.sum(dev < 1e-4)}/{R} below 1e-4, worst {dev.max():.1e}")


if __name__ == "__main__":
    main()
