"""Benchmark: the exact window laws (plain SGD and heavy-ball, ``theory``) of this tree against another checkout's,
side by side in fresh processes, rounds alternating.

Run by hand:
    git worktree add /tmp/base 7aacbaf~4           # e.g. the tree before the pair engine (theory/pairs.py)
    OMP_WAIT_POLICY=PASSIVE python bench/bench_laws.py --baseline /tmp/base [--n 400] [--rounds 3]

Each round times, in a fresh process per tree (its ``src`` first on ``PYTHONPATH``, 1 BLAS thread),
``sgd_window_covariance`` and ``momentum_window_covariance`` (μ = 0.5) on one n × n problem (a random H with
eigenvalues 1e-4 … 5, α = 0.1 / 0.05, B = 32, a 1,000-snapshot window started 50 steps after ω0), the minimum of
three calls; it prints each tree's minimum over rounds, their ratio, and the largest relative difference between the
two trees' results (0: the same numbers). Then it compares the two trees' laws on 30 more cases (n = 40: the
stationary law of each optimizer, heavy-ball's with its velocity block, windows stationary or started 0 and 13 steps
before, strides 1, 3 and 7, both samplings, and the simulations' start covariance) and prints how many are identical
to the last bit.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
import numpy as np
from threadpoolctl import threadpool_limits
from sgdpotential.theory.lyapunov import sgd_window_covariance
from sgdpotential.theory.momentum import momentum_window_covariance
n, out = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
H = Q @ np.diag(np.geomspace(1e-4, 5, n)) @ Q.T
G = rng.standard_normal((n, n))
C = G @ G.T / n
times = {}
with threadpool_limits(1):
    for name, f, args in (("plain", sgd_window_covariance, (H, C, 0.1, 32, 1000)),
                          ("momentum", momentum_window_covariance, (H, C, 0.05, 32, 0.5, 1000))):
        best = 1e9
        for _ in range(3):
            t = time.perf_counter()
            S = f(*args, start=50)
            best = min(best, time.perf_counter() - t)
        times[name] = best
        np.save(f"{out}-{name}.npy", S)
print(json.dumps(times))
"""

CASES = r"""
import pickle, sys
import numpy as np
from sgdpotential.theory.lyapunov import sgd_stationary_covariance, sgd_window_covariance
from sgdpotential.theory.momentum import momentum_stationary_covariance, momentum_window_covariance
from sgdpotential.theory.sgd import LinearSGD
rng = np.random.default_rng(1)
n = 40
Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
H = Q @ np.diag(np.geomspace(1e-3, 5, n)) @ Q.T
G = rng.standard_normal((n, n))
C = G @ G.T / n
out = {}
for nt in (None, 800):
    out["stationary", nt] = sgd_stationary_covariance(H, C, 0.1, 16, nt)
    out["momentum stationary", nt] = momentum_stationary_covariance(H, C, 0.05, 16, 0.5, nt, velocity=True)
    for start in ("stationary", 0, 13):
        for stride in (1, 3, 7):
            out["window", nt, start, stride] = sgd_window_covariance(H, C, 0.1, 16, 200, start=start, n_train=nt,
                                                                     stride=stride)
        out["momentum window", nt, start] = momentum_window_covariance(H, C, 0.05, 16, 0.5, 200, start=start,
                                                                       n_train=nt)
    out["start covariance", nt] = LinearSGD(0.1, 16, nt).start_covariance(H, C)
pickle.dump(out, open(sys.argv[1], "wb"))
"""


def run_once(src: Path, n: int, out: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    res = subprocess.run([sys.executable, "-c", CHILD, str(n), out], env=env, check=True, capture_output=True,
                         text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True, help="another checkout (its src/ is used)")
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    best = {"this": {}, "baseline": {}}
    for _ in range(args.rounds):
        for tree, src in (("this", HERE / "src"), ("baseline", args.baseline / "src")):
            for name, t in run_once(src, args.n, f"{tmp}/{tree}").items():
                best[tree][name] = min(best[tree].get(name, 1e9), t)
    print(f"{datetime.date.today()} · {platform.machine()} · {os.cpu_count()} cores · Python "
          f"{platform.python_version()} · NumPy {np.__version__} · n = {args.n}, {args.rounds} rounds, 1 BLAS thread")
    print("| law | this tree (s) | baseline (s) | ratio this/baseline | max rel diff |")
    print("|---|---:|---:|---:|---:|")
    for name in ("plain", "momentum"):
        a, b = np.load(f"{tmp}/this-{name}.npy"), np.load(f"{tmp}/baseline-{name}.npy")
        diff = float(np.abs(a - b).max() / np.abs(b).max())
        print(f"| {name} | {best['this'][name]:.3f} | {best['baseline'][name]:.3f} | "
              f"{best['this'][name] / best['baseline'][name]:.2f} | {diff:.1e} |")
    laws = {}
    for tree, src in (("this", HERE / "src"), ("baseline", args.baseline / "src")):
        subprocess.run([sys.executable, "-c", CASES, f"{tmp}/{tree}.pkl"], env={**os.environ, "PYTHONPATH": str(src)},
                       check=True)
        laws[tree] = pickle.loads(Path(f"{tmp}/{tree}.pkl").read_bytes())
    differ = [k for k in laws["this"] if not np.array_equal(laws["this"][k], laws["baseline"][k])]
    print(f"identical to the last bit: {len(laws['this']) - len(differ)} of {len(laws['this'])} cases"
          + (f"; differing: {differ}" if differ else ""))


if __name__ == "__main__":
    main()
