"""Benchmark: what ``replay_paths = 20`` adds to the probes of a window.

Run by hand:  OMP_WAIT_POLICY=PASSIVE python bench/bench_replayed.py [--rounds 3] [--paths 20] [--case feng-tu|linear]
[--threads 1]

Set-up: one recorded window — ``feng-tu``: 784-50-50-10 on mnist5k, lr 0.1, B 50, T = 1,000 snapshots of the 2,500
hidden weights, reshuffled epochs; ``linear``: the exactly solvable case of the calibration (a linear model, squared
error, every one of its 650 weights, on the digits, B 32, a 10-epoch window). Measured in this one process,
alternating within each round, minimum of ``--rounds``:

* the probes as every run does them (``probe_run`` with ``replay_paths = 0``: flatness, H_P, C_P, the path-averaged
  noise and its white part, the minibatch landscape, the K-scan's and the held-out basis' flatness) — the baseline;
* ``replayed_spectra(run, paths)``: ``paths`` windows replayed on the minibatch-Hessian linearization in all
  the network's weights, each with its PCA — what ``replay_paths`` adds: stepped together (``linearized_replays``,
  this tree) and one after another (``STORE_BUDGET = 0``: groups of one path, the code before batching);
* one SGD window of the same length (``train`` with no burn-in from the window's start, the run's fused step) —
  what a replayed window costs in units of training.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import math
import platform
import shutil
import tempfile
import time

import torch

from sgdpotential.dynamics.training import train
from sgdpotential.pipeline import replayed
from sgdpotential.pipeline.analysis import probe_run
from sgdpotential.pipeline.config import preset
from sgdpotential.pipeline.record import record
from sgdpotential.pipeline.replayed import replayed_spectra
from sgdpotential.pipeline.rundir import RunDir
from sgdpotential.trajectory import Trajectory


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--paths", type=int, default=20)
    ap.add_argument("--case", choices=("feng-tu", "linear"), default="feng-tu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for everything measured (recorded)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tmp = tempfile.mkdtemp()
    out = f"{tmp}/run"
    cfg = (preset("feng-tu") if args.case == "feng-tu" else
           preset("quick", hidden=[], params="all", loss="mse", lr=0.05, batch_size=32, burn_in_epochs=20,
                  window_epochs=10.0))
    record(cfg, out)
    rd = RunDir(out)
    store = Trajectory.open(rd / RunDir.TRAJECTORY)
    net = rd.network()
    tcfg = net.train
    steps = store.n_snapshots * tcfg.stride

    def sgd_window():
        model = rd.network().model
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(torch.as_tensor(store.start_all, dtype=torch.float32),
                                                model.parameters())
        cfg = dataclasses.replace(tcfg, burn_in_epochs=0, window_steps=steps)
        shutil.rmtree(f"{tmp}/sgd.zarr", ignore_errors=True)
        train(model, net.data, cfg, f"{tmp}/sgd.zarr", params=rd.config().params)

    def one_by_one():
        budget, replayed.STORE_BUDGET = replayed.STORE_BUDGET, 0
        try:
            replayed_spectra(out, args.paths)
        finally:
            replayed.STORE_BUDGET = budget

    times = {name: math.inf for name in ("probes", "replays", "sequential", "sgd")}
    for _ in range(args.rounds):
        for name, fn in (("probes", lambda: probe_run(out)), ("replays", lambda: replayed_spectra(out, args.paths)),
                         ("sequential", one_by_one), ("sgd", sgd_window)):
            times[name] = min(times[name], timed(fn))
    print(f"# {datetime.date.today()}  {platform.machine()} {torch.get_num_threads()} threads  torch "
          f"{torch.__version__}  {args.case} window, T = {store.n_snapshots}, {steps} steps, sampling {tcfg.sampling}")
    print(f"probes (replay_paths = 0):                    {times['probes']:.2f} s (baseline)")
    print(f"one SGD window of {steps} steps:                 {times['sgd']:.2f} s")
    for name, label in (("replays", "stepped together"), ("sequential", "one after another")):
        print(f"{args.paths} replayed windows + PCA, {label}: {times[name]:.2f} s   "
              f"{times[name] / times['probes']:.2f}x the probes, {times[name] / times['sgd']:.2f}x one SGD window")
    print(f"together / one after another: {times['replays'] / times['sequential']:.3f}")


if __name__ == "__main__":
    main()
