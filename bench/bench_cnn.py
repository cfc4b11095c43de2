"""Benchmark: a CNN run on mnist5k — its stages timed — and its probes against the ways existing tools compute them.

Run by hand, in the BackPACK environment of ``bench_probes.py`` (BackPACK needs torchvision):
    python -m venv /tmp/vb && /tmp/vb/bin/pip install torch==2.14.1 torchvision==0.29.1 backpack-for-pytorch -e .
    /tmp/vb/bin/python bench/bench_cnn.py

Set-up: ``model = "lenet"`` (two 5×5 convolutions, 6 and 16 channels, then 120 → 84 → 10; no BatchNorm, which
BackPACK's per-sample gradients do not support) on the 5,000 mnist5k digits, the feng-tu protocol (α 0.1, B 50,
100% training accuracy, a 10-epoch window, no later ages), the recorded weights being the convolutions'
(``params = "type:Conv2d"``, N = 2,572), K = 50, without the path-averaged noise (``noise_axes = noise_snapshots =
0``; its cost is 33 C_P evaluations along K + K' directions, see the C_P row); ``--components`` and
``--window-epochs`` shorten it (K, and the window that sets the snapshots and the replays' steps). It times the
stages of that run
(record, probes, analysis, ladder) and, after the record stage, evaluates C_P and H_P at the window mean along the
50 principal directions: ours, a per-sample autograd loop, BackPACK's ``BatchGrad`` and PyHessian-style
sequential double-backward products, in this one process, minimum of ``--rounds``; agreement beside each time.
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

from bench_probes import (  # the same baselines as the MLP benchmark (bench/ is on sys.path)
    backpack_noise,
    loop_noise,
    measure,
    pyhessian_hp,
)
from sgdpotential import load_dataset
from sgdpotential.nn.models import build_model, select_parameters
from sgdpotential.nn.objective import Objective
from sgdpotential.nn.probes import projected_hessian, projected_noise_covariance
from sgdpotential.pipeline.config import preset
from sgdpotential.pipeline.rundir import RunDir
from sgdpotential.pipeline.stages import plan, run_stages


def cnn_at(mean_all, data):
    net = build_model("lenet", data.sample_shape, data.n_classes)
    with torch.no_grad():
        off = 0
        for p in net.parameters():
            p.copy_(torch.as_tensor(mean_all[off : off + p.numel()]).view_as(p))
            off += p.numel()
    return net.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--stages-only", action="store_true", help="time the run's stages, skip the probe comparison")
    ap.add_argument("--components", type=int, default=50, help="K (the K-scan goes to K_max = scan_limit(K, T, N))")
    ap.add_argument("--window-epochs", type=float, default=10.0, help="the window's length (replay steps too)")
    args = ap.parse_args()
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")
    # C̄_P (the path-averaged noise: 2(8 + 8) + 1 = 33 evaluations of C_P along K + K' directions by default) is
    # switched off here and its cost given per C_P evaluation below, so that the stage times stay readable
    cfg = preset("feng-tu", model="lenet", params="type:Conv2d", ages=[], noise_axes=0, noise_snapshots=0,
                 components=args.components, window_epochs=args.window_epochs)
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "run")
        t = time.perf_counter()
        run_stages(out, plan(last="ages"), config=cfg)
        print(f"stage {f'record (burn-in to 100% + {args.window_epochs:g}-epoch window + PCA)':62s} "
              f"{time.perf_counter() - t:8.1f} s")
        pca = np.load(os.path.join(out, "pca.npz"))
        if not args.stages_only:
            compare(pca, args.rounds)
        k_max = pca["scan_components"].shape[0]
        print(f"K = {pca['components'].shape[0]}, K_max = {k_max}, T = {pca['projections'].shape[0]} snapshots")
        for name, stages in ((f"probes (flatness along K_max = {k_max} + {k_max} held out, H_P, C_P)", ("probes",)),
                             ("analysis (laws, simulated spectra, decomposition)", ("analysis",)),
                             ("ladder (3 replays in all weights + subspace laws)", ("ladder",))):
            t = time.perf_counter()
            run_stages(out, stages)
            print(f"stage {name:62s} {time.perf_counter() - t:8.1f} s")
        s = RunDir(out).load(RunDir.SUMMARY)
        print(f"psi (K = 50) = {s['ivf']['psi']:.2f} [{s['ivf']['ci95'][0]:.2f}, {s['ivf']['ci95'][1]:.2f}], held out "
              f"{s['heldout']['ivf_psi']:.2f}; sample-spectrum bands "
              + ", ".join(f"{b['relaxation'][0]:g}: {b['median_ratio']:.3g}" for b in s["sample_spectrum"]["bands"]
                          if b["median_ratio"] is not None))


def compare(pca, rounds):
    """C_P and H_P at the window mean along the top 50 directions: ours against the other tools' ways."""
    mean_all, mean, comps = pca["mean_all"], pca["mean"], pca["components"][:50]
    data = load_dataset("mnist5k")
    net = cnn_at(mean_all, data)
    names = select_parameters(net, "type:Conv2d").names
    obj = Objective(net, data, "type:Conv2d", base=mean_all)
    P = torch.as_tensor(comps, dtype=torch.float32).contiguous()
    w0 = torch.as_tensor(mean, dtype=torch.float32)
    print(f"{'probe / method (N = ' + str(obj.n_params) + ', K = 50, N_L = 5,000)':68s} {'time':>10s}")
    projected_noise_covariance(obj, w0, P[:2])  # warm-up
    t_ours, _, C = measure(lambda: projected_noise_covariance(obj, w0, P), rounds)
    t_loop, _, C_loop = measure(lambda: loop_noise(net, data, names, P), 1)
    try:
        t_bp, _, C_bp = measure(lambda: backpack_noise(cnn_at(mean_all, data), data, names, P), rounds)
    except ImportError:
        t_bp, C_bp = float("nan"), C_loop
    scale = np.abs(C_loop).max()
    t_jvp, _, _ = measure(lambda: projected_noise_covariance(obj, w0, P, method="jvp"), 1)
    print(f"{'C_P ours (auto: per-sample vmap(grad) chunks, projected)':68s} {t_ours:9.3f} s  max rel diff vs loop "
          f"{np.abs(C - C_loop).max() / scale:.1e}, vs BackPACK {np.abs(C - C_bp).max() / scale:.1e}")
    print(f"{'C_P per-sample autograd loop + projection':68s} {t_loop:9.3f} s  ours {t_loop / t_ours:.1f}x faster")
    print(f"{'C_P BackPACK BatchGrad + projection':68s} {t_bp:9.3f} s  ours {t_bp / t_ours:.2f}x faster")
    print(f"{'C_P ours, forward-mode route (K jvps; what auto took before)':68s} {t_jvp:9.3f} s  "
          f"auto {t_jvp / t_ours:.1f}x faster")
    t_h, _, H = measure(lambda: projected_hessian(obj, w0, P), rounds)
    t_ph, _, H_ph = measure(lambda: pyhessian_hp(net, data, names, P), rounds)
    print(f"{'H_P ours (vmap forward-over-reverse)':68s} {t_h:9.3f} s  max rel diff vs PyHessian-style "
          f"{np.abs(H - H_ph).max() / np.abs(H_ph).max():.1e}")
    print(f"{'H_P K sequential double-backward HVPs (PyHessian)':68s} {t_ph:9.3f} s  ours {t_ph / t_h:.2f}x faster")


if __name__ == "__main__":
    main()
