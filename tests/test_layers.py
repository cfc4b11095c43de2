"""The import graph of ``src/sgdpotential``, read with ``ast`` (every import, those inside functions included):
no cycle between modules, and no import upward between the layers (docs/development.md) —

    cli → report → pipeline → dynamics → nn, trajectory, demos → theory → the foundation

where the foundation is the package's own top-level modules (errors, validation, claims, verdicts, …) and the
package itself (``sgdpotential/__init__.py``, the API facade) sits above everything: nothing inside imports it.
The report layer reads run directories through the pipeline's ``RunDir``; the pipeline never imports the report
(the command line hands it the page writers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "sgdpotential"

#: Rank of each layer: a module may import modules of its own layer or of lower ranks only.
RANKS = {"foundation": 0, "theory": 1, "nn": 2, "trajectory": 2, "demos": 2, "dynamics": 3, "pipeline": 4,
         "report": 5, "cli": 6, "facade": 7}


def modules(src: Path = SRC) -> dict[str, Path]:
    out = {}
    for path in (src / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(src: Path = SRC) -> dict[str, set[str]]:
    """{module: the package's modules it imports}; ``from . import x`` counts as importing the module x."""
    mods = modules(src)

    def resolve(name: str) -> str | None:
        while name not in mods and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in mods else None

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {n.name for n in node.names if n.name.split(".")[0] == PACKAGE}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                    + ([node.module] if node.module else []))
                elif (node.module or "").split(".")[0] == PACKAGE:
                    base = node.module
                else:
                    continue
                found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names}
        graph[mod] = {m for m in map(resolve, found) if m and m != mod}
    return graph


def layer(mod: str) -> str:
    parts = mod.split(".")
    if len(parts) == 1:
        return "facade"
    if parts[1] in RANKS:
        return parts[1]
    return "foundation"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} ({layer(a)}) imports {b} ({layer(b)})" for a, bs in graph.items() for b in bs
                  if RANKS[layer(b)] > RANKS[layer(a)])


def test_the_import_graph_has_no_cycle():
    assert cycles(imports()) == []


def test_no_layer_imports_a_layer_above_it():
    graph = imports()
    assert len(graph) > 60 and sum(map(len, graph.values())) > 150  # the walk sees the package
    assert upward(graph) == []


def test_every_subpackage_has_a_rank():
    assert {m.split(".")[1] for m in modules() if m.count(".") >= 2} <= set(RANKS)


@pytest.mark.parametrize(("files", "expected"), [
    ({"theory/__init__.py": "", "theory/a.py": "def f():\n    from . import b\n", "theory/b.py": "from .a import f\n"},
     "cycle"),
    ({"theory/__init__.py": "", "theory/a.py": "from ..pipeline import run\n", "pipeline/__init__.py": "run = 1\n"},
     "upward"),
    ({"errors.py": "import sgdpotential\n"}, "upward"),
    ({"pipeline/__init__.py": "", "pipeline/a.py": "from ..theory.b import x\n", "theory/__init__.py": "",
      "theory/b.py": "x = 1\n"}, "clean"),
])
def test_the_walk_sees_cycles_and_upward_imports(tmp_path, files, expected):
    """The checks above can fail: an in-function import that closes a cycle, an import from a higher layer (a
    relative one, and the facade itself) are found; a downward import is not reported."""
    (tmp_path / PACKAGE).mkdir()
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    for name, text in files.items():
        path = tmp_path / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    graph = imports(tmp_path)
    found = "cycle" if cycles(graph) else "upward" if upward(graph) else "clean"
    assert found == expected, graph
