"""GPU readiness: the feng-tu run and its hot paths on an accelerator beside the CPU, in one table.

Run by hand on a machine with a CUDA GPU (never needed by tests; the project's code must not need one):
    python bench/gpu_check.py                 # device cuda; --device cpu runs the same script here
    python bench/gpu_check.py --quick         # the quick preset instead of feng-tu (a minute)

What it prints, every row measured in this one process on the same machine, CPU and device side by side:

1. The run's stages (record, probes, analysis) of the preset on the device, with ``ages = []`` and without the
   path-averaged noise (as ``bench_cnn.py``), against the same stages on the CPU; ψ of both runs beside each
   other (not equal: float round-off differs between devices and the trajectories part, so they agree only
   statistically — the ψ intervals should overlap).
2. At the CPU run's window mean: C_P, H_P and the flatness along its K principal directions, on the device
   and on the CPU (minimum of ``--rounds``, device synchronised), with the largest relative difference.
3. SGD steps/s: ``train()`` recording every step against the bare PyTorch loop, on each device.

Paste its output into ``BENCHMARKS.md`` with the date and the device name it prints.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time

import numpy as np
import torch

from sgdpotential.nn.probes import flatness, projected_hessian, projected_noise_covariance
from sgdpotential.pipeline.config import preset
from sgdpotential.pipeline.rundir import RunDir
from sgdpotential.pipeline.stages import plan, run_stages


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device, rounds=1):
    """(min seconds over rounds, last result), the device synchronised around each call."""
    best, out = float("inf"), None
    for _ in range(rounds):
        sync(device)
        t = time.perf_counter()
        out = fn()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best, out


def run_on(device, name, out):
    """The preset's run on ``device`` in ``out``: seconds per stage and ``out``."""
    cfg = preset(name, ages=[], noise_axes=0, noise_snapshots=0, device=device)
    seconds = {"record": timed(lambda: run_stages(out, plan(last="ages"), config=cfg), device)[0]}
    for stage in ("probes", "analysis"):
        seconds[stage] = timed(lambda stage=stage: run_stages(out, (stage,)), device)[0]
    return seconds, out


def probes_at(run_dir, device, rounds):
    """C_P, H_P and flatness of ``run_dir``'s window mean along its K directions, on ``device``."""
    from sgdpotential.nn.objective import Objective

    rd = RunDir(run_dir)
    pca = rd.load(RunDir.PCA)
    net = rd.network()
    obj = Objective(net.model.to(device), net.data, net.config.params, base=pca["mean_all"], loss=net.train.loss)
    w0 = torch.as_tensor(pca["mean"], dtype=obj.dtype, device=obj.device)
    P = torch.as_tensor(pca["components"], dtype=obj.dtype, device=obj.device)
    return {"C_P": timed(lambda: projected_noise_covariance(obj, w0, P), device, rounds),
            "H_P": timed(lambda: projected_hessian(obj, w0, P), device, rounds),
            "flatness F_i": timed(lambda: flatness(obj, w0, P).width, device, 1)}


def steps_per_second(device, steps):
    """(bare loop, train() recording every step) steps/s on the feng-tu network and mnist5k."""
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from bench_recording import bare_loop, recorded  # the same loops as the CPU benchmark
    from sgdpotential import load_dataset

    data = load_dataset("mnist5k")
    bare_loop(data, 100, device=device)  # warm-up (kernels, allocator)
    t_bare = bare_loop(data, steps, device=device)
    with tempfile.TemporaryDirectory() as d:
        t_rec, _ = timed(lambda: recorded(data, steps, d, steps + 1, device=device), device)
    return steps / t_bare, steps / t_rec


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="the quick preset (digits) instead of feng-tu")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=2000)
    args = ap.parse_args()
    dev = args.device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"device = {dev!r} was asked for but CUDA is not available here; run with --device cpu "
                         f"to check the script itself.")
    name = "quick" if args.quick else "feng-tu"
    gpu = torch.cuda.get_device_name(torch.device(dev)) if dev.startswith("cuda") else "—"
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  torch {torch.__version__}  "
          f"device {dev} ({gpu})  preset {name}")
    with tempfile.TemporaryDirectory() as folder:
        s_cpu, run_cpu = run_on("cpu", name, os.path.join(folder, "cpu"))
        s_dev, run_dev = run_on(dev, name, os.path.join(folder, "device"))
        print(f"{'stage':44s} {'cpu (s)':>9s} {dev + ' (s)':>11s} {'speed-up':>9s}")
        for stage in s_cpu:
            print(f"{stage:44s} {s_cpu[stage]:9.2f} {s_dev[stage]:11.2f} {s_cpu[stage] / s_dev[stage]:8.2f}x")
        for label, r in (("cpu", run_cpu), (dev, run_dev)):
            ivf = RunDir(r).load(RunDir.SUMMARY)["ivf"]
            fit = "no fit" if ivf["psi"] is None else f"{ivf['psi']:.2f} [{ivf['ci95'][0]:.2f}, {ivf['ci95'][1]:.2f}]"
            print(f"psi on {label}: {fit} ({ivf['n_used']} directions used)")
        on_cpu, on_dev = probes_at(run_cpu, "cpu", args.rounds), probes_at(run_cpu, dev, args.rounds)
        print(f"{'probe at the CPU run window mean (K directions)':44s} {'cpu (s)':>9s} {dev + ' (s)':>11s} "
              f"{'speed-up':>9s} {'max rel diff':>13s}")
        for key in on_cpu:
            (tc, a), (td, b) = on_cpu[key], on_dev[key]
            a, b = np.asarray(a, float), np.asarray(b, float)
            ok = np.isfinite(a) & np.isfinite(b)
            diff = np.abs(a - b)[ok].max() / np.abs(a[ok]).max() if ok.any() else float("nan")
            print(f"{key:44s} {tc:9.3f} {td:11.3f} {tc / td:8.2f}x {diff:13.1e}")
    bare_c, rec_c = steps_per_second("cpu", args.steps)
    bare_d, rec_d = steps_per_second(dev, args.steps)
    print(f"{'SGD steps/s (feng-tu, B = 50)':44s} {'cpu':>9s} {dev:>11s}")
    print(f"{'bare PyTorch loop':44s} {bare_c:9.0f} {bare_d:11.0f}")
    print(f"{'train(), snapshot every step':44s} {rec_c:9.0f} {rec_d:11.0f}")
    print(f"{'train() / bare':44s} {rec_c / bare_c:9.2f} {rec_d / bare_d:11.2f}")


if __name__ == "__main__":
    main()
