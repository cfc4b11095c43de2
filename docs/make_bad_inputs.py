"""Write docs/bad-inputs.md: bad inputs, run through the command line, with the sentence each one gets.

    python docs/make_bad_inputs.py            # run every case and rewrite the table
    python docs/make_bad_inputs.py --check    # exit 1 when the table is not what the commands print now

Every case runs in a fresh folder (relative paths, so the sentences do not name a temporary folder), through the same
typer app as the ``sgdpotential`` command; the table records the exit code, the sentence on stderr (whitespace
normalised) and whether anything was left in ``--out``. Nothing in the table is typed by hand.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE / "bad-inputs.md"

FILES = {
    "mymodels.py": (
        "from torch import nn\n\n\n"
        "def factory(sample_shape, n_classes):  # sized for 3×32×32 images, given 1×8×8 digits\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, n_classes))\n"),
    "typo.toml": 'preset = "quick"\nhidden = "50"\n',
    "unknown.toml": 'preset = "quick"\n\n[train]\nburn_in = 3\n',
    "taken/summary.json": "{}",
}

#: (what goes wrong, the arguments after `sgdpotential`)
CASES = [
    ("SGD diverges (the learning rate is far too large)", "run --preset quick --lr 200 --no-ladder --out run"),
    ("SGD is frozen: the window has no variance", "run --preset quick --lr 1e-30 --window-epochs 1 --no-ladder "
                                                  "--out run"),
    ("a learning rate that is not positive", "run --preset quick --lr=-1 --out run"),
    ("a minibatch larger than the data set", "run --preset quick --batch-size 100000 --out run"),
    ("more principal directions than the window has", "run --preset quick --components 5000 --out run"),
    ("a thread count below 1", "run --preset quick --threads 0 --out run"),
    ("an unknown preset", "run --preset huge --out run"),
    ("an unknown data set", "run --dataset cifar100 --out run"),
    ("a CIFAR-10 folder without the batches", "run --preset quick --dataset cifar10:nowhere --model lenet --out run"),
    ("an unknown parameter name", "run --preset quick --params fc9.weight --out run"),
    ("a model factory that cannot be imported", "run --preset quick --model mymodels:missing --out run"),
    ("a model whose forward fails on the data", "run --preset quick --model mymodels:factory --params all --out run"),
    ("heavy-ball momentum of 1", "run --preset quick --momentum 1.0 --out run"),
    ("momentum with Adam", "run --preset quick --optimizer adam --momentum 0.9 --out run"),
    ("a malformed list of widths", "run --preset quick --hidden 50,x --out run"),
    ("ages closer than a window", "run --preset quick --ages 1 --window-epochs 2 --out run"),
    ("a config value of the wrong type", "run --config typo.toml --out run"),
    ("an unknown training setting in a config file", "run --config unknown.toml --out run"),
    ("a non-empty output folder", "run --preset quick --out taken"),
    ("analysing a folder that is not a run", "analyze nowhere"),
    ("a malformed sweep axis", "sweep --grid lr --out sweep"),
    ("a sweep with nothing to sweep", "sweep --out sweep"),
    ("an unknown calibration case", "calibrate --case nope --out cal.json"),
    ("a missing matrix file", "decompose F.npy D.npy"),
]


def _files(out: str | None) -> set[str]:
    if not out or not Path(out).exists():
        return set()
    return {str(p) for p in Path(out).rglob("*")} | {out}


def run_case(args: str) -> tuple[int, str, bool]:
    """(exit code, stderr as one line, whether the command left anything new in its --out)."""
    from typer.testing import CliRunner

    from sgdpotential.cli import app

    argv = args.split()
    out = argv[argv.index("--out") + 1] if "--out" in argv else None
    before = _files(out)
    r = CliRunner().invoke(app, [*argv, "--quiet"] if argv[0] in ("run", "sweep", "analyze", "calibrate") else argv)
    return r.exit_code, " ".join(r.stderr.split()), bool(_files(out) - before)


def table() -> str:
    """Run every case in a fresh folder and return the page."""
    rows = []
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as d:
        os.chdir(d)
        try:
            for name, text in FILES.items():
                Path(name).parent.mkdir(parents=True, exist_ok=True)
                Path(name).write_text(text)
            for what, args in CASES:
                code, message, left = run_case(args)
                cell = message.replace("|", "\\|")
                rows.append(f"| {what} | `sgdpotential {args}` | {code} | {cell} | {'yes' if left else 'no'} |")
        finally:
            os.chdir(cwd)
    files = "\n\n".join(f"* `{name}`:\n\n    ```\n" + "".join(f"    {line}\n" for line in text.splitlines()) + "    ```"
                      for name, text in FILES.items())
    return (
        "# Bad inputs and what they get\n\n"
        "Generated by `python docs/make_bad_inputs.py` (the test suite checks it is current): each command below ran "
        "through the command line in a fresh folder, and the table shows what it printed. Every bad input gets one "
        "sentence on stderr that names the value and the fix, exit code 2, and nothing left behind: settings are "
        "checked before any training, and a fresh run that stops later (SGD diverged, a window without variance) "
        "removes the folder it made. An interrupted run (Ctrl-C, a kill) keeps its folder for `--resume`.\n\n"
        f"The folder held these files:\n\n{files}\n\n"
        "| what goes wrong | command | exit | the sentence (stderr) | anything new left in --out |\n|---|---|---|---|---|\n"
        + "\n".join(rows) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when docs/bad-inputs.md is not current")
    args = ap.parse_args(argv)
    page = table()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != page:
            print("docs/bad-inputs.md is stale: run python docs/make_bad_inputs.py")
            return 1
        print("docs/bad-inputs.md is current")
        return 0
    TARGET.write_text(page)
    print(f"wrote {TARGET.relative_to(HERE.parent)} ({len(CASES)} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
