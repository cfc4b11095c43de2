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


def test_the_public_api_whole_by_role_and_the_star_import_without_torch():
    """``sgdpotential.API`` lists every public name once, under the layer that defines it; ``__all__`` is its
    torch-free part (errors and theory) plus the version, and ``from sgdpotential import *`` takes exactly that
    without loading torch."""
    api = sgdpotential.API
    names = [n for group in api.values() for n in group]
    assert len(names) == len(set(names)) and set(api) == {"errors", "theory", "nn", "dynamics", "trajectory",
                                                          "pipeline"}
    for role, group in api.items():
        for name in group:
            module = getattr(sgdpotential, name).__module__
            assert module.split(".")[1] == role, (name, module)
    from sgdpotential import errors, theory

    # computed independently of API: the version, every exception of errors.py, and the theory's own __all__
    exceptions = sorted(n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, Exception)
                        and v.__module__ == errors.__name__)
    assert sorted(sgdpotential.__all__) == sorted({"__version__", *exceptions, *theory.__all__})
    assert set(names) - set(sgdpotential.__all__) == set(sgdpotential._LAZY)
    code = ("import sys; ns = {}; exec('from sgdpotential import *', ns); import sgdpotential; "
            "assert sorted(k for k in ns if k != '__builtins__') == sorted(sgdpotential.__all__); "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_reading_and_validating_a_configuration_does_not_import_torch(tmp_path):
    """Configurations are torch-free (``pipeline/config.py``, ``dynamics/config.py``, ``nn/losses.py``): a config
    file read, overridden, checked field by field and its training table validated, without loading torch."""
    (tmp_path / "c.toml").write_text('preset = "quick"\ncomponents = 10\n[train]\nlr = 0.05\n'
                                     'sampling = "replacement"\n')
    code = (f"import sys; from sgdpotential.pipeline.config import load_config, with_overrides; "
            f"c = with_overrides(load_config({str(tmp_path / 'c.toml')!r}), batch_size=16); "
            f"c.train_config().validate(1797); assert c.train['lr'] == 0.05; sys.exit('torch' in sys.modules)")
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


def test_the_readme_is_short_and_keeps_its_two_commands():
    """At most 150 lines (the research tables live in docs/); the two commands stay verbatim, the first ending in
    the main job and the second in the test suite."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    commands = [b.strip() for b in re.findall(r"```bash\n(.*?)```", readme, flags=re.S)]
    assert commands[:2] == [
        'python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 -e . && sgdpotential run',
        'python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 -e ".[dev]" && python -m pytest']


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "bench", "docs"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (in functions too), resolved to sgdpotential's dotted names."""
    import ast

    package = "sgdpotential." + ".".join(path.relative_to(ROOT / "src" / "sgdpotential").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rstrip(".").split(".")
            mod = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module
            out |= {mod} | {f"{mod}.{a.name}" for a in node.names}
    return out


def test_the_pipeline_never_imports_the_report_layer():
    """Arrows point down (docs/development.md): pipeline → report would be a cycle; the pages are handed in (Pages)."""
    for path in sorted((ROOT / "src" / "sgdpotential" / "pipeline").glob("*.py")):
        bad = sorted(m for m in _imports(path) if m.startswith("sgdpotential.report"))
        assert bad == [], (path.name, bad)
    code = ("import sys, sgdpotential.pipeline.stages, sgdpotential.pipeline.analysis, sgdpotential.pipeline.sweep, "
            "sgdpotential.pipeline.ensemble; sys.exit(any(m.startswith('sgdpotential.report') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_import_check_sees_a_report_import():
    """The check above can fail: a relative import of the report layer, inside a function, is seen."""
    probe = ROOT / "src" / "sgdpotential" / "pipeline" / "_probe_for_test.py"
    probe.write_text("def f():\n    from ..report import PAGES\n")
    try:
        assert "sgdpotential.report" in _imports(probe)
    finally:
        probe.unlink()
