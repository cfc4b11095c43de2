"""Benchmark: the README's main job (``sgdpotential run``, the feng-tu preset with its ages, K-scan and ladder) end
to end, this tree against another checkout's, rounds alternating, wall time of the whole command.

Run by hand:
    git worktree add /tmp/base 0bee5a8
    python bench/bench_e2e.py --baseline /tmp/base [--rounds 3] [--args "--no-ladder"]

Each round runs ``python -c "from sgdpotential.cli import main; main()" run --out DIR`` in a fresh process, once
with this tree's ``src`` first on ``PYTHONPATH`` and once with the baseline's, into fresh folders; it prints each
wall time, the minimum per tree and their ratio, and ψ of each run (the same preset and seed: equal ψ says the two
trees computed the same science; a change in training arithmetic, e.g. the fused SGD step, moves ψ by round-off).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def run_once(src: Path, out: Path, extra: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-c", "from sgdpotential.cli import main; main()", "run", "--out", str(out), *extra]
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, type=Path, help="a checkout of the baseline commit")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--args", default="", help="extra arguments for `sgdpotential run`")
    args = ap.parse_args()
    extra = shlex.split(args.args)
    trees = {"this tree": HERE / "src", f"baseline ({args.baseline.name})": args.baseline / "src"}
    print(f"# {datetime.date.today()}  {platform.machine()} {os.cpu_count()} cores  command: sgdpotential run "
          f"{args.args}".rstrip())
    times = {k: [] for k in trees}
    psi = {}
    with tempfile.TemporaryDirectory() as d:
        for r in range(args.rounds):
            for name, src in trees.items():
                out = Path(d) / f"{r}-{len(times[name])}-{name.split()[0]}"
                times[name].append(run_once(src, out, extra))
                s = json.loads((out / "summary.json").read_text())
                psi[name] = f"{s['ivf']['psi']:.3f} [{s['ivf']['ci95'][0]:.2f}, {s['ivf']['ci95'][1]:.2f}]"
                print(f"round {r + 1}  {name:28s} {times[name][-1]:8.1f} s   psi {psi[name]}", flush=True)
    (a, ta), (b, tb) = ((k, min(v)) for k, v in times.items())
    print(f"minimum: {a} {ta:.1f} s, {b} {tb:.1f} s — this tree takes {ta / tb:.2f}× the baseline's time")


if __name__ == "__main__":
    main()
