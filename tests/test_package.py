"""Packaging promises: the theory never imports torch; the README's commands are what CI runs."""

import re
import subprocess
import sys
from pathlib import Path

import sgdpotential

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_package_does_not_import_torch():
    code = "import sys, sgdpotential, sgdpotential.theory; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_public_api_is_reexported():
    for name in ("decompose", "Decomposition", "DecompositionError", "stationary_covariance",
                 "sgd_stationary_covariance", "sgd_window_covariance", "entropy_production",
                 "probability_current", "rotation_planes", "simulate_ou"):
        assert name in sgdpotential.__all__ and hasattr(sgdpotential, name)
    assert issubclass(sgdpotential.DecompositionError, ValueError)


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    test_cmd = next(line for b in blocks for line in b.splitlines() if "pytest" in line)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd.strip() in ci


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "bench", "docs"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
