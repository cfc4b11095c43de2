"""Benchmark: decompose() against the vectorised n²×n² solve of Eqs. (10)–(11), side by side in one run.

Run by hand (not a test):  python bench/bench_decompose.py  [--quick]

Rows 1–6: both methods on the same (F, D) at n = 20, 40, 60, in three alternating rounds (ours: min of 10
calls per round; baseline: one call per round; the minimum over rounds is reported), with the
largest relative difference between their U and Q to show that they compute the same thing. The baseline
is what existing code does: vec(U⁻¹) and vec(Q) from (I⊗F + F⊗I) vec X = vec R — here with one LU
factorisation for both right-hand sides, which is kinder to the baseline than dynamo's least squares.
Then decompose() alone at n = 500 and 2,500 (the Feng–Tu weight count), for symmetric F (the SGD case,
F = αH: eigenbasis path) and for general F (Bartels–Stewart), and the ratio of the two paths on one
symmetric F. Last, the symmetric path against its floor — one ``eigh`` of F plus the closed-form solve
Σ = V (2εD̃/(λ_i + λ_j)) Vᵀ, D̃ = VᵀDV, nothing else — for ``decompose`` and for ``decompose_eigenbasis`` (the
same decomposition with its outputs left in F's eigenbasis), three alternating rounds, minimum of each.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np
import scipy
import scipy.linalg as sla

from sgdpotential import decompose, decompose_eigenbasis


def vectorized_decompose(F, D, eps):
    """The baseline: Eqs. (10) and (11) as n²×n² linear systems (column-major vec)."""
    n = F.shape[0]
    K = np.kron(np.eye(n), F) + np.kron(F, np.eye(n))
    rhs = np.column_stack([(2 * D).reshape(-1, order="F"), (F @ D - D @ F.T).reshape(-1, order="F")])
    X = sla.lu_solve(sla.lu_factor(K, check_finite=False), rhs, check_finite=False)
    Uinv = X[:, 0].reshape(n, n, order="F")
    Q = X[:, 1].reshape(n, n, order="F")
    U = np.linalg.inv((Uinv + Uinv.T) / 2)
    SA = np.linalg.inv(D + Q)
    return U, Q, SA


def problem(n, symmetric, seed=0):
    rng = np.random.default_rng(seed)
    R, _ = np.linalg.qr(rng.standard_normal((n, n)))
    if symmetric:
        F = (R * np.logspace(-2, 0, n)) @ R.T  # curvature over two decades, like a projected Hessian
    else:
        F = np.eye(n) + 0.5 * rng.standard_normal((n, n)) / np.sqrt(n)
    Y = rng.standard_normal((n, n))
    D = Y @ Y.T / n + 1e-3 * np.eye(n)
    return F, D


def floor_solve(F, D, eps):
    """The least any symmetric-F decomposition must do: one eigh and the closed-form Lyapunov solve."""
    lam, V = np.linalg.eigh(F)
    D_eig = V.T @ D @ V
    return V @ (2 * eps * D_eig / (lam[:, None] + lam[None, :])) @ V.T


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip n = 2,500")
    parser.add_argument("--floor-only", action="store_true", help="only the symmetric path against its floor")
    args = parser.parse_args()
    eps = 0.1**2 / (2 * 50)
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  "
          f"python {platform.python_version()}  numpy {np.__version__}  scipy {scipy.__version__}")
    print(f"{'row':52s} {'ours (s)':>10s} {'baseline (s)':>13s} {'ratio':>9s} {'max rel diff':>13s}")
    for n in () if args.floor_only else (20, 40, 60):
        for symmetric in (False, True):
            F, D = problem(n, symmetric)
            t_ours, t_base = [], []
            for _ in range(3):  # alternate rounds, so that load on the shared machine hits both alike
                t, dec = best_of(lambda F=F, D=D: decompose(F, D, eps), 10)  # ms-scale: min of 10
                t_ours.append(t)
                t, (U, Q, SA) = best_of(lambda F=F, D=D: vectorized_decompose(F, D, eps), 1)
                t_base.append(t)
            diff = max(rel(dec.U, U), rel(dec.Q, Q), rel(dec.S + dec.A, SA))
            label = f"decompose vs vectorized, n={n}, {'symmetric' if symmetric else 'general'} F ({dec.method})"
            print(f"{label:52s} {min(t_ours):10.4f} {min(t_base):13.4f} {min(t_base) / min(t_ours):8.0f}x "
                  f"{diff:13.1e}")
    sizes = (500,) if args.quick else (500, 2500)
    for n in () if args.floor_only else sizes:
        F, D = problem(n, symmetric=True)
        t_eigh, dec = best_of(lambda F=F, D=D: decompose(F, D, eps, method="eigh"), 1)
        t_schur, dec_s = best_of(lambda F=F, D=D: decompose(F, D, eps, method="schur"), 1)
        diff = max(rel(dec.U, dec_s.U), rel(dec.Q, dec_s.Q))
        print(f"{f'symmetric F, n={n}: eigh path vs Schur path':52s} {t_eigh:10.2f} {t_schur:13.2f} "
              f"{t_schur / t_eigh:8.1f}x {diff:13.1e}   max residual {dec.max_residual():.1e}")
        F, D = problem(n, symmetric=False)
        t_gen, dec = best_of(lambda F=F, D=D: decompose(F, D, eps), 1)
        print(f"{f'general F, n={n} (schur), alone':52s} {t_gen:10.2f} {'':13s} {'':9s} {'':13s}"
              f"   max residual {dec.max_residual():.1e}")
    for n in sizes:
        F, D = problem(n, symmetric=True)
        t_ours, t_eig, t_floor = [], [], []
        for _ in range(3):
            t, dec = best_of(lambda F=F, D=D: decompose(F, D, eps), 1)
            t_ours.append(t)
            t, lazy = best_of(lambda F=F, D=D: decompose_eigenbasis(F, D, eps), 1)
            t_eig.append(t)
            t, sigma = best_of(lambda F=F, D=D: floor_solve(F, D, eps), 1)
            t_floor.append(t)
        print(f"{f'symmetric F, n={n}: decompose vs eigh + solve':52s} {min(t_ours):10.2f} {min(t_floor):13.2f} "
              f"{min(t_ours) / min(t_floor):8.2f}x {rel(dec.lyapunov_solution, sigma):13.1e}   (ours / floor)")
        diff = max(rel(lazy.rotate(lazy.sigma_eig), sigma), rel(lazy.U, dec.U))
        print(f"{f'symmetric F, n={n}: decompose_eigenbasis vs eigh + solve':52s} {min(t_eig):10.2f} "
              f"{min(t_floor):13.2f} {min(t_eig) / min(t_floor):8.2f}x {diff:13.1e}   (ours / floor; outputs in F's "
              f"eigenbasis)")


if __name__ == "__main__":
    main()
