"""Benchmark: the cost of the nested K-scan of ψ, and probes at K = 200 against K = 50.

Run by hand:  python bench/bench_kscan.py [--rounds 3]

Set-up: one recorded feng-tu run (784-50-50-10 on mnist5k, lr 0.1, B 50, T = 1,000 snapshots of the 2,500
hidden weights); its PCA to K_max = 250 directions (``scan_limit``). Measured in this one process, methods
alternating, minimum of ``--rounds``:

* probes (flatness, H_P, C_P) along the top 200 directions against the top 50 — the ratio the issue asks for;
* the K-scan as the pipeline does it — flatness along K_max directions once, then ψ (with its bootstrap
  interval) for every K of ``k_ladder`` — against probing the K_max directions once and fitting ψ at K_max only
  (the overhead of the scan: target ≤ 10%), and against probing each K of the ladder separately (what nested
  reuse saves).
"""

from __future__ import annotations

import argparse
import datetime
import math
import platform
import tempfile
import time

import numpy as np
import torch

from sgdpotential.nn.probes import flatness, projected_hessian, projected_noise_covariance
from sgdpotential.pipeline.analysis import ivf_exponent, usable_directions
from sgdpotential.pipeline.config import preset
from sgdpotential.pipeline.record import record
from sgdpotential.pipeline.rundir import RunDir
from sgdpotential.trajectory.pca import k_ladder


def best_of(fn, rounds):
    best = math.inf
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    out = f"{tempfile.mkdtemp()}/run"
    record(preset("feng-tu"), out)
    rd = RunDir(out)
    pca = rd.load(RunDir.PCA)
    obj = rd.network().objective(base=pca["mean_all"])
    w0 = torch.as_tensor(pca["mean"], dtype=obj.dtype)
    P = torch.as_tensor(pca["scan_components"], dtype=obj.dtype)
    k_max, var, drift = P.shape[0], pca["scan_variances"], pca["scan_drift"]
    ladder = k_ladder(50, k_max)

    def probes(k):
        flatness(obj, w0, P[:k])
        projected_hessian(obj, w0, P[:k])
        projected_noise_covariance(obj, w0, P[:k])

    def fit(fl, k):
        use, _, _ = usable_directions(fl.width[:k], fl.censored[:k], drift[:k])
        return ivf_exponent(fl.width[:k], var[:k], use)

    def scan():
        fl = flatness(obj, w0, P)
        return [fit(fl, k) for k in ladder]

    def once():
        return fit(flatness(obj, w0, P), k_max)

    def separately():
        return [fit(flatness(obj, w0, P[:k]), k) for k in ladder]

    times = {name: math.inf for name in ("probes 50", "probes 200", "scan", "once", "separately")}
    for _ in range(args.rounds):  # alternate the methods within each round
        for name, fn in (("probes 50", lambda: probes(50)), ("probes 200", lambda: probes(200)), ("scan", scan),
                         ("once", once), ("separately", separately)):
            times[name] = min(times[name], best_of(fn, 1))
    print(f"# {datetime.date.today()}  {platform.machine()} {torch.get_num_threads()} threads  torch "
          f"{torch.__version__}  feng-tu, T = {pca['projections'].shape[0]}, K_max = {k_max}, ladder {ladder}")
    print(f"probes (flatness + H_P + C_P), K = 50:   {times['probes 50']:.2f} s")
    print(f"probes (flatness + H_P + C_P), K = 200:  {times['probes 200']:.2f} s   "
          f"ratio {times['probes 200'] / times['probes 50']:.2f}x")
    print(f"K_max flatness + ψ at K_max only:        {times['once']:.2f} s (baseline)")
    print(f"K-scan (K_max flatness, ψ at each K):    {times['scan']:.2f} s   "
          f"overhead {100 * (times['scan'] / times['once'] - 1):+.1f}% (target ≤ 10%)")
    print(f"each K probed separately:                {times['separately']:.2f} s   "
          f"{times['separately'] / times['scan']:.2f}x the scan")
    psi = [f["psi"] for f in scan()]
    print("ψ by K:", ", ".join(f"{k}: {p:.2f}" for k, p in zip(ladder, psi, strict=True)), np.round(var[:3], 6))


if __name__ == "__main__":
    main()
