"""Benchmark: the probes on the feng-tu preset against the ways existing tools compute the same numbers.

Run by hand (BackPACK is a bench-only dependency and needs torchvision, hence its own environment):
    python -m venv /tmp/vb && /tmp/vb/bin/pip install torch==2.14.1 torchvision==0.29.1 backpack-for-pytorch -e .
    /tmp/vb/bin/python bench/bench_probes.py

Set-up: one `sgdpotential record --preset feng-tu` run (784-50-50-10, mnist5k, lr 0.1, B 50); the probes are
evaluated at its window mean ω0 (all parameters) along its top K = 50 principal directions of the hidden
50×50 weights. For the `all` subset (N = 42,310) the directions are 50 random orthonormal vectors (timing
does not depend on them). Every row is measured in this one process, methods alternating, minimum of
``--rounds``; peak memory is the rise of the process's peak RSS during one call (VmHWM reset through
/proc/self/clear_refs before it).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as nnf

from sgdpotential import build_mlp, load_dataset
from sgdpotential.nn.models import select_parameters
from sgdpotential.nn.objective import Objective
from sgdpotential.nn.probes import flatness, projected_hessian, projected_noise_covariance
from sgdpotential.nn.probes.curvature import gauss_newton_is_exact
from sgdpotential.pipeline.config import preset
from sgdpotential.pipeline.record import record


def vm(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0


def measure(fn, rounds):
    """(min seconds, peak RSS rise in bytes, result)."""
    best, rise, out = math.inf, 0, None
    for r in range(rounds):
        if r == 0:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            base = vm("VmRSS")
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
        if r == 0:
            rise = vm("VmHWM") - base
    return best, rise, out


def model_at(widths, mean_all, dtype=torch.float32):
    net = build_mlp(widths).to(dtype)
    with torch.no_grad():
        off = 0
        for p in net.parameters():
            p.copy_(torch.as_tensor(mean_all[off : off + p.numel()]).view_as(p))
            off += p.numel()
    return net


def set_selected(net, names, w):
    named = dict(net.named_parameters())
    off = 0
    with torch.no_grad():
        for n in names:
            p = named[n]
            p.copy_(w[off : off + p.numel()].view_as(p))
            off += p.numel()


# ------------------------------------------------------------------------------ baselines

def loop_noise(net, data, names, P):
    """A loop of per-sample autograd gradients through the whole model, then projection."""
    params = [dict(net.named_parameters())[n] for n in names]
    D = torch.empty(data.n_train, P.shape[0])
    for k in range(data.n_train):
        loss = nnf.cross_entropy(net(data.X[k : k + 1]), data.y[k : k + 1])
        g = torch.cat([x.reshape(-1) for x in torch.autograd.grad(loss, params)])
        D[k] = P @ g
    D = D.double()
    Dc = D - D.mean(0)
    return (Dc.T @ Dc / len(D)).numpy()


def vmap_grad_noise(obj, w0, P, chunk=512):
    """The other torch.func route: chunked per-sample gradients ``vmap(grad)`` (on the same cached prefix),
    each chunk projected at once; ours uses forward-mode products instead (kept: faster, see the table)."""
    from torch.func import functional_call, grad, vmap

    def loss_one(w, x, y):
        return nnf.cross_entropy(functional_call(obj._net, obj._params(w), (x[None],)), y[None])

    per_sample = vmap(grad(loss_one), in_dims=(None, 0, 0))
    D = torch.cat([per_sample(w0, obj.features[a : a + chunk], obj.y[a : a + chunk]) @ P.T
                   for a in range(0, obj.n_train, chunk)]).double()
    Dc = D - D.mean(0)
    return (Dc.T @ Dc / len(D)).numpy()


def backpack_noise(net, data, names, P):
    """BackPACK's per-sample gradients (BatchGrad), then projection."""
    from backpack import backpack, extend
    from backpack.extensions import BatchGrad

    ext = extend(net)
    lossf = extend(torch.nn.CrossEntropyLoss(reduction="sum"))
    ext.zero_grad()
    with backpack(BatchGrad()):
        lossf(ext(data.X), data.y).backward()
    named = dict(ext.named_parameters())
    G = torch.cat([named[n].grad_batch.reshape(data.n_train, -1) for n in names], dim=1)
    D = (G @ P.T).double()
    Dc = D - D.mean(0)
    return (Dc.T @ Dc / len(D)).numpy()


def pyhessian_hp(net, data, names, P, whole_model=True):
    """K sequential double-backward Hessian-vector products (PyHessian's way). PyHessian differentiates with
    respect to every parameter of the model, so the directions are zero-padded outside the subset
    (``whole_model=True``); ``whole_model=False`` restricts the products to the subset, a stronger baseline
    than the tool itself."""
    named = dict(net.named_parameters())
    params = list(named.values()) if whole_model else [named[n] for n in names]
    loss = nnf.cross_entropy(net(data.X), data.y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    index = {n: i for i, n in enumerate(named if whole_model else names)}
    sizes = [named[n].numel() for n in names]
    rows = []
    for v in P:
        vs = [torch.zeros_like(p) for p in params]
        for n, piece in zip(names, torch.split(v, sizes), strict=True):
            vs[index[n]] = piece.view_as(named[n])
        hv = torch.autograd.grad(grads, params, grad_outputs=vs, retain_graph=True)
        rows.append(torch.cat([hv[index[n]].reshape(-1) for n in names]))
    HP = torch.stack(rows)
    M = (P @ HP.T).double().numpy()
    return (M + M.T) / 2


def grid_flatness(net, data, names, w0, P, radius, points=101):
    """loss-landscape's way: a sequential grid per direction, one full-dataset pass per point; crossings by
    linear interpolation between the first grid points on each side that reach e·L0."""
    with torch.no_grad():
        set_selected(net, names, w0)
        L0 = float(nnf.cross_entropy(net(data.X), data.y))
        level = math.e * L0
        offs = np.linspace(-radius, radius, points)
        widths = np.full(P.shape[0], np.nan)
        for i in range(P.shape[0]):
            vals = np.empty(points)
            for j, d in enumerate(offs):
                set_selected(net, names, w0 + float(d) * P[i])
                vals[j] = float(nnf.cross_entropy(net(data.X), data.y))
            c = points // 2
            sides = []
            for rng in (range(c, points - 1), range(c, 0, -1)):
                step = 1 if rng.step > 0 else -1
                cross = next((j for j in rng if vals[j + step] >= level), None)
                if cross is None:
                    sides.append(np.nan)
                    continue
                a, b = offs[cross], offs[cross + step]
                fa, fb = vals[cross], vals[cross + step]
                sides.append(a + (level - fa) * (b - a) / (fb - fa))
            widths[i] = sides[0] - sides[1]
        set_selected(net, names, w0)
    return widths


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hessian-only", action="store_true", help="only the H_P rows")
    args = ap.parse_args()
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")
    data = load_dataset("mnist5k")
    with tempfile.TemporaryDirectory() as d:
        run = record(preset("feng-tu"), os.path.join(d, "run"))
        pca = np.load(os.path.join(d, "run", "pca.npz"))
    widths = [784, 50, 50, 10]
    mean_all = pca["mean_all"]
    net = model_at(widths, mean_all)
    K = 50
    rows = []

    def row(label, t, mem, note=""):
        rows.append((label, t, mem, note))
        print(f"{label:58s} {t:9.4f} s {mem / 2**20:9.1f} MiB  {note}")

    print(f"{'probe / method':58s} {'time':>11s} {'peak rise':>13s}")
    for subset in ("hidden", "all"):
        names = select_parameters(net, subset).names
        obj = Objective(net, data, subset, base=mean_all)
        N = obj.n_params
        if subset == "hidden":
            P = torch.as_tensor(pca["components"][:K], dtype=torch.float32).contiguous()
            w0 = torch.as_tensor(pca["mean"], dtype=torch.float32)
        else:
            P = torch.linalg.qr(torch.randn(N, K, generator=torch.Generator().manual_seed(0)))[0].T.contiguous()
            w0 = obj.w_base.clone()
        set_selected(net, names, w0)
        projected_noise_covariance(obj, w0, P[:2])  # warm-up of torch.func
        if not args.hessian_only:
            _c_rows(obj, w0, P, names, net, data, widths, mean_all, N, args.rounds, row)
        t_h, m_h, H = measure(lambda obj=obj, w0=w0, P=P: projected_hessian(obj, w0, P), args.rounds)
        t_ph, m_ph, H_ph = measure(lambda n=names, P=P: pyhessian_hp(net, data, n, P), args.rounds)
        t_sub, m_sub, _ = measure(lambda n=names, P=P: pyhessian_hp(net, data, n, P, whole_model=False), args.rounds)
        how = "Gauss-Newton, exact here" if gauss_newton_is_exact(obj) else "vmap forward-over-reverse"
        row(f"H_P [{subset}] ours ({how})", t_h, m_h,
            f"max rel diff vs PyHessian-style {np.abs(H - H_ph).max() / np.abs(H_ph).max():.1e}")
        row(f"H_P [{subset}] K sequential double-backward HVPs (PyHessian)", t_ph, m_ph,
            f"ours {t_ph / t_h:.1f}x faster")
        row(f"H_P [{subset}] same, restricted to the subset (stronger)", t_sub, m_sub,
            f"ours {t_sub / t_h:.1f}x faster")
        print(f"   N_L × N_params floats = {data.n_train * 42310 * 4 / 2**20:.0f} MiB (the memory bound to stay below)")
    if args.hessian_only:
        return

    # flatness along the 50 principal directions of the hidden weights
    _flatness_rows(net, data, pca, widths, mean_all, K, args.rounds, row)
    del run


def _c_rows(obj, w0, P, names, net, data, widths, mean_all, N, rounds, row):
    """The C_P rows of one subset: ours against a per-sample loop, BackPACK, torch.func and the GEMM floor."""
    subset = "hidden" if N < 42310 else "all"
    t_ours, m_ours, C = measure(lambda obj=obj, w0=w0, P=P: projected_noise_covariance(obj, w0, P), rounds)
    t_loop, m_loop, C_loop = measure(lambda n=names, P=P: loop_noise(net, data, n, P), rounds)
    t_bp, m_bp, C_bp = measure(lambda n=names, P=P: backpack_noise(model_at(widths, mean_all), data, n, P),
                               rounds)
    t_vg, m_vg, _ = measure(lambda obj=obj, w0=w0, P=P: vmap_grad_noise(obj, w0, P), rounds)
    G = torch.randn(data.n_train, N)
    t_floor, _, _ = measure(lambda G=G, P=P: G @ P.T, rounds)
    del G
    err = max(np.abs(C - C_loop).max(), np.abs(C - C_bp).max()) / np.abs(C_loop).max()
    how = "GEMM tangents, structured" if gauss_newton_is_exact(obj) else "vmap jvp"
    row(f"C_P [{subset}, N={N}] ours ({how})", t_ours, m_ours, f"max rel diff vs loop/BackPACK {err:.1e}")
    row(f"C_P [{subset}] per-sample autograd loop + projection", t_loop, m_loop,
        f"ours {t_loop / t_ours:.0f}x faster")
    row(f"C_P [{subset}] BackPACK BatchGrad + projection", t_bp, m_bp, f"ours {t_bp / t_ours:.1f}x faster")
    row(f"C_P [{subset}] chunked vmap(grad) + projection (torch.func)", t_vg, m_vg,
        f"ours {t_vg / t_ours:.1f}x faster")
    row(f"C_P [{subset}] floor: one dense (N_L×N)@(N×K) product", t_floor, 0,
        f"ours / floor = {t_ours / t_floor:.1f}")


def _flatness_rows(net, data, pca, widths, mean_all, K, rounds, row):
    """Flatness along the 50 principal directions of the hidden weights: ours against a grid scan."""
    names = select_parameters(net, "hidden").names
    obj = Objective(net, data, "hidden", base=mean_all)
    P = torch.as_tensor(pca["components"][:K], dtype=torch.float32).contiguous()
    w0 = torch.as_tensor(pca["mean"], dtype=torch.float32)
    net64 = model_at(widths, mean_all, torch.float64)
    data64 = type(data)(data.X.double(), data.y, data.name, data.n_classes, data.scaling)
    ref = flatness(Objective(net64, data64, "hidden", base=mean_all), w0.double(), P.double(), rtol=1e-12)
    ok = ~np.isnan(ref.width)
    t_f, m_f, fl = measure(lambda: flatness(obj, w0, P), rounds)
    radius = 1.25 * float(np.nanmax(np.abs(np.concatenate([ref.left, ref.right]))))
    t_g, m_g, gw = measure(lambda: grid_flatness(net, data, names, w0, P, radius), 1)
    e_ours = np.nanmax(np.abs(fl.width[ok] - ref.width[ok]) / ref.width[ok])
    e_grid = np.nanmax(np.abs(gw[ok] - ref.width[ok]) / ref.width[ok])
    row("flatness, 50 directions: ours (quadratic start + log-log Illinois)", t_f, m_f,
        f"max rel err {e_ours:.1e} vs float64 rtol-1e-12 reference; {int((~ok).sum())} censored")
    row("flatness: 101-point grid per direction, 1 pass per point", t_g, m_g,
        f"max rel err {e_grid:.1e}; ours {t_g / t_f:.0f}x faster (grid given ±1.25·max crossing)")


if __name__ == "__main__":
    main()
