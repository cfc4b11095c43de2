"""Benchmark: the path-averaged noise covariance's response term on a structured objective — the steps-first sums
against the term-by-term evaluation they replaced.

Run by hand:  python bench/bench_noise_response.py [--steps 200] [--rounds 3]

The exactly solvable case of the calibration (tests/pipeline/test_exact_linear.py): a linear model with squared error
on the 1,797 digits, every weight (N = 650), K = 650 orthonormal directions, at the least-squares minimum; A antithetic
steps s_j (random, of the window's scale). Ours: :func:`~sgdpotential.nn.probes.noise_covariance_response` (on this
structured objective, :func:`~sgdpotential.nn.probes.noise._structured_response`). Baseline: the term-by-term route it
replaced — per step, D(ω0 ± s_j) (N_L × K) from the first layer's fixed tangents and two covariances (the code of
01e420a, through the same private helpers). Rounds alternate; minimum per method; the results are compared.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np
import torch

from sgdpotential import build_mlp, load_dataset
from sgdpotential.nn.objective import Objective
from sgdpotential.nn.probes import noise_covariance_response
from sgdpotential.nn.probes.noise import _covariance, _derivatives_at


def term_by_term(obj, w0, P, steps, weights):
    """The baseline: 2A evaluations of D and of its covariance, minus C_P(ω0)."""
    at = _derivatives_at(obj, P, "auto")
    c0 = _covariance(at(w0))
    total = np.zeros_like(c0)
    for s, wt in zip(steps, weights, strict=True):
        total += wt * (0.5 * (_covariance(at(w0 + s)) + _covariance(at(w0 - s))) - c0)
    return (total + total.T) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    data = load_dataset("digits")
    net = build_mlp([64, 10], seed=0)
    X, Y = data.X.double().numpy(), np.eye(10)[data.y.numpy()]
    Xb = np.hstack([X, np.ones((len(X), 1))])
    Wb = np.linalg.lstsq(Xb, Y, rcond=None)[0].T  # (10, 65): the least-squares minimum
    with torch.no_grad():
        net.fc1.weight.copy_(torch.tensor(Wb[:, :64]))
        net.fc1.bias.copy_(torch.tensor(Wb[:, 64]))
    obj = Objective(net, data, "all", loss="mse")
    rng = np.random.default_rng(0)
    P = torch.tensor(np.linalg.qr(rng.standard_normal((obj.n_params, obj.n_params)))[0].T, dtype=obj.dtype)
    steps = torch.tensor(0.01 * rng.standard_normal((args.steps, obj.n_params)), dtype=obj.dtype)
    weights = np.ones(args.steps)
    w0 = obj.w_base
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)  N = K = {obj.n_params}  A = {args.steps}")
    times = {"ours": [], "base": []}
    for _ in range(args.rounds):
        t = time.perf_counter()
        ours, _ = noise_covariance_response(obj, w0, P, steps, weights)
        times["ours"].append(time.perf_counter() - t)
        t = time.perf_counter()
        base = term_by_term(obj, w0, P, steps, weights)
        times["base"].append(time.perf_counter() - t)
    o, b = min(times["ours"]), min(times["base"])
    rel = np.abs(ours - base).max() / np.abs(base).max()
    print(f"steps-first sums {o:.2f} s   term by term {b:.2f} s   ratio {b / o:.1f}x   max rel diff {rel:.1e}")


if __name__ == "__main__":
    main()
