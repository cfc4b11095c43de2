"""Benchmark: two runs at once on the same machine against one alone — the cost of sharing the cores.

Run by hand, with nothing else running:
    python bench/bench_contention.py [--rounds 3] [--commands record,probes,run] [--compare-old]

For each command (``record``: ``sgdpotential record --preset feng-tu``; ``run``: the README's ``sgdpotential run``;
``probes``: the probes, analysis and report of one recorded feng-tu window, by ``run --resume``),
each round runs it once alone, then twice at the same time (two processes started together into separate
folders), and prints the wall time of each and the ratio (both finished) / (alone). A fair share of two cores is
2×; two processes whose threads fight over the cores take more. ``--compare-old`` adds, per round, the same with
the previous defaults — ``--threads 2`` for every stage (torch's own default on this 2-core machine: one per core)
and ``OMP_WAIT_POLICY=ACTIVE`` (OpenMP threads spin while they wait) — the baseline the defaults are measured
against.
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
import time
from pathlib import Path

COMMANDS = {"record": ["record", "--preset", "feng-tu"], "run": ["run"],
            # the probe stage alone (with the analysis and report after it): a recorded feng-tu window (no later
            # ages), copied into each folder before the clock starts, finished by `run --resume`
            "probes": ["run", "--preset", "feng-tu", "--ages", "", "--no-ladder", "--resume"]}


def launch(args: list[str], out: Path, env: dict | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from sgdpotential.cli import main; main()", *args, "--quiet", "--out", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def together(args: list[str], outs: list[Path], env: dict | None = None, seed: Path | None = None
             ) -> tuple[float, list[float]]:
    """Start one process per folder at once (each a copy of ``seed`` when given); (wall time until all finished,
    each one's own wall time)."""
    for o in outs:
        if seed is not None:
            shutil.copytree(seed, o)
    t0 = time.perf_counter()
    procs = [launch(args, o, env) for o in outs]
    ends = [0.0] * len(procs)
    while any(e == 0.0 for e in ends):
        for i, p in enumerate(procs):
            if ends[i] == 0.0 and p.poll() is not None:
                ends[i] = time.perf_counter() - t0
                if p.returncode != 0:
                    raise SystemExit(f"{' '.join(args)} failed: {p.stderr.read()}")
        time.sleep(0.05)
    return max(ends), ends


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--commands", default="record,probes,run")
    ap.add_argument("--compare-old", action="store_true",
                    help="add the previous defaults: --threads 2 for every stage and spinning OpenMP threads")
    a = ap.parse_args()
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  python {platform.python_version()}"
          f"  rounds {a.rounds}", flush=True)
    with tempfile.TemporaryDirectory() as d:
        for name in a.commands.split(","):
            args, seed = COMMANDS[name], None
            if name == "probes":
                seed = Path(d) / "recorded"
                together(["record", "--preset", "feng-tu", "--ages", ""], [seed])
            rows = []
            for r in range(a.rounds):
                base = Path(d) / f"{name}-{r}"
                base.mkdir()
                alone, _ = together(args, [base / "alone"], seed=seed)
                pair, each = together(args, [base / "a", base / "b"], seed=seed)
                row = f"round {r + 1}  {name}: alone {alone:6.1f} s, two at once {pair:6.1f} s " \
                      f"({each[0]:.1f}, {each[1]:.1f}) → {pair / alone:.2f}×"
                cmp = None
                if a.compare_old:
                    fixed, spin = [*args, "--threads", "2"], {"OMP_WAIT_POLICY": "ACTIVE"}
                    alone_t, _ = together(fixed, [base / "alone-t"], spin, seed)
                    cmp, _ = together(fixed, [base / "a-t", base / "b-t"], spin, seed)
                    row += f";  previous defaults: alone {alone_t:6.1f} s, two at once {cmp:6.1f} s → " \
                           f"{cmp / alone_t:.2f}×"
                    cmp = (alone_t, cmp)
                rows.append((alone, pair, cmp))
                print(row, flush=True)
            ratios = sorted(p / s for s, p, _ in rows)
            print(f"{name}: two at once / alone, default threads: median {ratios[len(ratios) // 2]:.2f}× "
                  f"(range {ratios[0]:.2f}–{ratios[-1]:.2f}×)", flush=True)
            if a.compare_old:
                fixed = sorted(c[1] / c[0] for _, _, c in rows)
                print(f"{name}: two at once / alone, previous defaults: median {fixed[len(fixed) // 2]:.2f}× (range "
                      f"{fixed[0]:.2f}–{fixed[-1]:.2f}×); alone, now / previous defaults: "
                      f"{sorted(s / c[0] for s, _, c in rows)[len(rows) // 2]:.2f}×", flush=True)


if __name__ == "__main__":
    main()
