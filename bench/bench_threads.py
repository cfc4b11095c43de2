"""Benchmark: torch threads per stage — the training loop, the probes and the ladder at 1 thread against 2.

Run by hand, with nothing else running:  python bench/bench_threads.py [--preset feng-tu] [--rounds 3]
[--wait-policy PASSIVE] [--config run.toml]

``--config`` takes a run configuration file instead of a preset (e.g. a CNN: ``preset = "feng-tu"``,
``model = "lenet"``, ``params = "type:Conv2d"`` and a shorter window).

The default of ``threads`` (:data:`sgdpotential.pipeline.threads.STAGE_THREADS`) is chosen from this measurement.
It records the preset's window once (no later ages), then, in rounds alternating the thread count, each in a fresh
process (``torch.set_num_threads`` and NumPy's BLAS through threadpoolctl):

* ``train``: SGD steps per second of the preset's training loop (the run's own step: fused for a ReLU MLP),
  ``--steps`` steps after a warm-up;
* ``probes``: the wall time of the probe stage (``probe_run``: flatness root searches, H_P, C_P, the path noise,
  the K-scan and the held-out basis) on the recorded window;
* ``ladder``: the wall time of the ladder's replays (``ladder`` with its default rungs) on that window.

Every child runs with ``OMP_WAIT_POLICY`` as the command sets it (``PASSIVE``: OpenMP threads sleep between
parallel regions; ``--wait-policy ''`` leaves it unset, the runtime's default of spinning a while first).
Prints every measurement, the best per thread count, and the ratio 2 threads / 1 thread (below 1: two threads
help).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import sys, time, json, torch
from threadpoolctl import threadpool_limits
threads, what, arg, steps = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
torch.set_num_threads(threads)


def config(source):  # a preset's name or a configuration file
    from sgdpotential.pipeline.config import load_config, preset
    return load_config(source) if source.endswith(".toml") else preset(source)


with threadpool_limits(limits=threads):
    if what == "record":  # the window, once, into the folder given after the source
        from sgdpotential.pipeline.stages import plan, run_stages
        run_stages(sys.argv[5], plan(last="record"), config=config(arg))
        print(json.dumps(0.0))
    elif what == "train":
        from sgdpotential.pipeline.network import build_network
        from sgdpotential.dynamics.training import _SGDLoop
        net = build_network(config(arg))
        loop = _SGDLoop(net.model, net.data, net.train)
        for _ in range(200):
            loop.step()
        t = time.perf_counter()
        for _ in range(steps):
            loop.step()
        print(json.dumps(steps / (time.perf_counter() - t)))
    elif what == "probes":
        from sgdpotential.pipeline.analysis import probe_run
        t = time.perf_counter()
        probe_run(arg)
        print(json.dumps(time.perf_counter() - t))
    else:
        from sgdpotential.pipeline.ladder import REPLAYS, ladder
        t = time.perf_counter()
        ladder(arg, rungs=tuple(REPLAYS))
        print(json.dumps(time.perf_counter() - t))
"""


def measure(threads: int, what: str, arg: str, steps: int, policy: str, *extra: str) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, str(threads), what, arg, str(steps), *extra], check=True,
                         capture_output=True, text=True, env={**os.environ, "OMP_WAIT_POLICY": policy})
    return float(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="feng-tu")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--wait-policy", default="PASSIVE", help="OMP_WAIT_POLICY of every child (the command's: PASSIVE)")
    ap.add_argument("--config", help="a run configuration file (TOML) instead of --preset")
    args = ap.parse_args()
    source = str(Path(args.config).resolve()) if args.config else args.preset
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  {source}  "
          f"python {platform.python_version()}  OMP_WAIT_POLICY={args.wait_policy!r}")
    with tempfile.TemporaryDirectory() as d:
        run = Path(d) / "run"
        measure(2, "record", source, 0, args.wait_policy, str(run))
        best = {(w, n): 0.0 if w == "train" else float("inf") for w in ("train", "probes", "ladder") for n in (1, 2)}
        for r in range(args.rounds):
            for threads in (1, 2) if r % 2 == 0 else (2, 1):
                sps = measure(threads, "train", source, args.steps, args.wait_policy)
                best["train", threads] = max(best["train", threads], sps)
                (run / "probes.npz").unlink(missing_ok=True)
                sec = measure(threads, "probes", str(run), 0, args.wait_policy)
                best["probes", threads] = min(best["probes", threads], sec)
                (run / "ladder.json").unlink(missing_ok=True)
                shutil.rmtree(run / "replays", ignore_errors=True)
                lad = measure(threads, "ladder", str(run), 0, args.wait_policy)
                best["ladder", threads] = min(best["ladder", threads], lad)
                print(f"round {r + 1}  {threads} thread(s): train {sps:7.0f} steps/s   probes {sec:6.1f} s   "
                      f"ladder {lad:6.1f} s", flush=True)
    t1, t2 = best["train", 1], best["train", 2]
    print(f"best: train {t1:.0f} steps/s at 1 thread, {t2:.0f} at 2 — 2 threads take {t1 / t2:.2f}× the time per "
          f"step of 1")
    for what in ("probes", "ladder"):
        s1, s2 = best[what, 1], best[what, 2]
        print(f"best: {what} {s1:.1f} s at 1 thread, {s2:.1f} s at 2 — 2 threads take {s2 / s1:.2f}× the time of 1")


if __name__ == "__main__":
    main()
