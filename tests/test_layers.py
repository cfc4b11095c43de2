"""The import graph of ``src/sgdpotential``, read with ``ast`` (every import, those inside functions included):
no cycle between modules, no import upward between the layers (docs/development.md), and no import inside a
function unless it keeps a light module light (see :func:`deferred_without_reason`) —

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


#: Third-party packages that take seconds to import: a module that does not load them defers the modules that do.
HEAVY = {"torch", "zarr", "matplotlib"}
#: Optional or environment-dependent dependencies, imported where used (a missing one fails only that feature).
OPTIONAL = {"ray", "sklearn", "mnist1d", "mlxtend", "tomli", "tomllib", "threadpoolctl"}


def _targets(mod: str, path: Path, node: ast.Import | ast.ImportFrom, mods: dict) -> set[str]:
    """The modules an import statement names, third-party ones included (``from . import x``: the module x)."""
    if isinstance(node, ast.Import):
        return {n.name for n in node.names}
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    if node.level:
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(parts + ([node.module] if node.module else []))
    else:
        base = node.module
    return {f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names}


def _module_level(body: list[ast.stmt]):
    """The import statements a module runs when imported (its body, and inside its if/try blocks)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If | ast.Try):
            for part in (node.body, node.orelse, *(h.body for h in getattr(node, "handlers", ())),
                         getattr(node, "finalbody", ())):
                yield from _module_level(part)


def heavy_modules(src: Path = SRC) -> set[str]:
    """The package's modules whose import loads a :data:`HEAVY` package (through their own module-level imports,
    those of the modules they import, or their parent packages')."""
    mods = modules(src)
    top = {m: set().union(*(_targets(m, p, n, mods) for n in _module_level(ast.parse(p.read_text()).body)))
           for m, p in mods.items()}

    def owner(name: str) -> str | None:  # the package module an import names (its package for a missing name)
        while name not in mods and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in mods else None

    # a fixpoint, not a memoised search (the graph has cycles: a module imports its package's __init__ and back)
    heavy = {m for m, names in top.items() if any(n.split(".")[0] in HEAVY for n in names)}
    while True:
        more = {m for m, names in top.items() if m not in heavy and (
            any(owner(n) in heavy for n in names if n.split(".")[0] == PACKAGE)
            or ("." in m and m.rsplit(".", 1)[0] in heavy))}
        if not more:
            return heavy
        heavy |= more


def deferred_without_reason(src: Path = SRC) -> list[str]:
    """Imports inside functions that have no reason to be there. The reasons: the function's module is light (it
    loads no :data:`HEAVY` package) and the import would make it heavy — the command line's ``--help``, the
    configuration and the theory stay torch-free — or the import is of an :data:`OPTIONAL` dependency. Everything
    else belongs at the top of its module, where the dependency graph is visible."""
    mods, heavy, out = modules(src), heavy_modules(src), []
    for mod, path in mods.items():
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                names = _targets(mod, path, node, mods)
                reason = any(n.split(".")[0] in OPTIONAL for n in names) or (
                    mod not in heavy and any((n in heavy) if n.split(".")[0] == PACKAGE else n.split(".")[0] in HEAVY
                                             for n in names))
                if not reason:
                    out.append(f"{path.relative_to(src)}:{node.lineno} imports {', '.join(sorted(names))}")
    return sorted(set(out))


def test_imports_inside_functions_only_keep_light_modules_light():
    assert {"sgdpotential.nn.objective", "sgdpotential.report.figures"} <= heavy_modules()
    assert not {"sgdpotential", "sgdpotential.cli", "sgdpotential.pipeline.config"} & heavy_modules()
    assert deferred_without_reason() == []


def test_the_deferred_import_check_can_fail(tmp_path):
    """A deferred stdlib import and a deferred import of a light module are found; deferring torch from a light
    module, or an optional dependency from any, is not."""
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "light.py").write_text("def f():\n    import json\n    from . import other\n    import torch\n"
                                  "    import ray\n")
    (pkg / "other.py").write_text("x = 1\n")
    (pkg / "heavy.py").write_text("import torch\n\ndef g():\n    import torch.nn\n")
    assert heavy_modules(tmp_path) == {"sgdpotential.heavy"}
    assert deferred_without_reason(tmp_path) == ["sgdpotential/heavy.py:4 imports torch.nn",
                                                 "sgdpotential/light.py:2 imports json",
                                                 "sgdpotential/light.py:3 imports sgdpotential.other"]
