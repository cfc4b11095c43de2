"""The README's and the tutorial's code blocks run as written (in order, one namespace per document, in a fresh
folder), so that the documentation stays true."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def _blocks(doc: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)


@pytest.mark.parametrize("doc", ["README.md", "docs/tutorial.md"])
def test_the_code_blocks_run_as_written(doc, tmp_path, monkeypatch):
    blocks = _blocks(ROOT / doc)
    assert blocks, f"{doc} has no python blocks"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{doc}[block {i}]", "exec"), namespace)  # the documentation itself
        except Exception as exc:  # name the block that broke
            raise AssertionError(f"{doc}, python block {i} fails: {type(exc).__name__}: {exc}") from exc


def test_the_generated_tables_are_current():
    """Every table between `generated` markers in README.md and docs/*.md is what docs/make_findings.py writes from
    the stored summaries (docs/data/) and the claim registry: no number in them is typed by hand or stale."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "docs" / "make_findings.py"), "--check"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    blocks = re.findall(r"<!-- generated: ([\w-]+) -->", (ROOT / "README.md").read_text())
    assert {"default-headline", "default-scorecard", "seeds-scorecard", "seeds-psi", "windows", "ladder"} <= set(blocks)


def test_the_check_sees_a_stale_table(tmp_path, monkeypatch):
    """The check above can fail: a hand edit inside a generated block is reported."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_findings", ROOT / "docs" / "make_findings.py")
    mf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mf)
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- generated: claims -->\n| typed | by hand |\n<!-- /generated: claims -->\n")
    monkeypatch.setattr(mf, "DOCS", [doc])
    monkeypatch.setattr(mf, "ROOT", tmp_path)
    assert mf.regenerate(check=True) == ["doc.md: claims"]
    assert doc.read_text().count("typed") == 1  # --check writes nothing
    mf.regenerate(check=False)
    assert mf.regenerate(check=True) == [] and "`psi`" in doc.read_text()
