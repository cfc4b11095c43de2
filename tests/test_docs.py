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
