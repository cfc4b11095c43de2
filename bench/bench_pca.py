"""Benchmark: streaming PCA of a 12,000 × 42,310 float32 trajectory read from the store, against
scikit-learn's PCA on the in-memory matrix, with an exact reference — each in its own process so that
peak memory (max RSS) is measured per method. Ours runs with its defaults (block Krylov, 3 blocks + 1 pass).

Run by hand:  python bench/bench_pca.py [--folder /tmp/sgdp-bench] [--keep]

12,000 × 42,310 is all Feng–Tu weights over 10 full-MNIST epochs (B = 50). The synthetic trajectory is a
random walk inside a 300-dimensional subspace with step scales ∝ k^−1 (a decaying spectrum, as measured),
plus independent per-weight jitter; it is written chunk by chunk, never held whole.
Reference: the top-20 eigenvalues of the centred Gram matrix by Lanczos (scipy eigsh, tol 1e-12) on the
float64 matrix in memory.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

T, N, K, SUB = 12_000, 42_310, 20, 300

CHILD = {
    "ours": """
import json, resource, time
from sgdpotential import Trajectory, trajectory_pca
t = time.perf_counter()
res = trajectory_pca(Trajectory.open(STORE), K, method="randomized")
print(json.dumps({"seconds": time.perf_counter() - t, "variances": res.variances.tolist(),
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
""",
    "sklearn": """
import json, resource, time
import numpy as np
from sklearn.decomposition import PCA
from sgdpotential import Trajectory
X = Trajectory.open(STORE).read()  # the dense float32 matrix, as a user of scikit-learn would hold it
t = time.perf_counter()
pca = PCA(n_components=K, random_state=0).fit(X)
print(json.dumps({"seconds": time.perf_counter() - t, "solver": pca._fit_svd_solver,
                  "variances": (pca.explained_variance_ * (X.shape[0] - 1) / X.shape[0]).tolist(),
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
""",
    "exact": """
import json, resource, time
import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh
from sgdpotential import Trajectory
tr = Trajectory.open(STORE)
X = np.empty(tr.shape)
for s, b in tr.iter_chunks():
    X[s : s + b.shape[0]] = b
X -= X.mean(axis=0)
t = time.perf_counter()
G = LinearOperator((X.shape[0],) * 2, matvec=lambda v: X @ (X.T @ v), dtype=float)
w = eigsh(G, k=K, which="LA", tol=1e-12, return_eigenvectors=False)
print(json.dumps({"seconds": time.perf_counter() - t, "variances": (np.sort(w)[::-1] / X.shape[0]).tolist(),
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
""",
}


def make_store(path: Path) -> float:
    from sgdpotential import Trajectory

    rng = np.random.default_rng(0)
    P, _ = np.linalg.qr(rng.standard_normal((N, SUB)))
    scale = 0.01 / np.arange(1, SUB + 1)
    tr = Trajectory.create(path, N, capacity=T, metadata={"synthetic": "bench_pca"}, overwrite=True)
    t = time.perf_counter()
    z = np.zeros(SUB)
    rows = tr.chunk_rows * 8
    for s in range(0, T, rows):
        m = min(rows, T - s)
        walk = z + np.cumsum(rng.standard_normal((m, SUB)) * scale, axis=0)
        z = walk[-1]
        block = walk @ P.T + 1e-4 * rng.standard_normal((m, N))
        tr.append(block.astype(np.float32), np.arange(s, s + m))
    return time.perf_counter() - t


def run_child(name: str, store: Path) -> dict:
    code = f"STORE = {str(store)!r}\nK = {K}\n" + CHILD[name]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", default="/tmp/sgdp-bench")
    ap.add_argument("--keep", action="store_true", help="keep the 2 GB store afterwards")
    args = ap.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / "pca.zarr"
    dense = T * N * 4
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  T={T} N={N} K={K}  "
          f"dense float32 matrix {dense / 2**30:.2f} GiB")
    if not (store / "zarr.json").exists():
        print(f"writing the store: {make_store(store):.0f} s")
    results = {name: run_child(name, store) for name in ("ours", "sklearn", "exact")}
    ref = np.array(results["exact"]["variances"])
    print(f"{'method':44s} {'seconds':>8s} {'peak RSS GiB':>13s} {'max rel err top-20':>19s}")
    for name, label in (("ours", "trajectory_pca, block Krylov, streaming store"),
                        ("sklearn", f"sklearn PCA ({results['sklearn']['solver']}), in memory"),
                        ("exact", "exact reference (eigsh on float64 Gram)")):
        r = results[name]
        err = float(np.max(np.abs(np.array(r["variances"]) - ref) / ref))
        print(f"{label:44s} {r['seconds']:8.1f} {r['rss'] / 2**30:13.2f} {err:19.1e}")
    o, s = results["ours"], results["sklearn"]
    print(f"ratios (sklearn / ours): time {s['seconds'] / o['seconds']:.2f}x, peak memory {s['rss'] / o['rss']:.1f}x; "
          f"ours peak RSS / dense matrix = {o['rss'] / dense:.3f}")
    if not args.keep:
        shutil.rmtree(store)


if __name__ == "__main__":
    main()
