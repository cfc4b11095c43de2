"""MkDocs hook: the page that is generated from the code at build time, so that it cannot go stale.

* ``api.md`` — the Python API reference: every name of ``sgdpotential.API``, grouped by the layer that defines
  it, each rendered by mkdocstrings from its docstring.
"""

from __future__ import annotations

from mkdocs.structure.files import File

#: The roles of ``sgdpotential.API`` in the order the API page shows them, with one line on what each holds.
ROLES = {
    "theory": "Linear theory (NumPy and SciPy only): Ao's decomposition and the laws of SGD",
    "nn": "Data, models, the objective and the probes at ω0",
    "dynamics": "Dynamics: training, replicas and the linearized replays",
    "trajectory": "Trajectory store and PCA",
    "pipeline": "Pipeline: configurations, run directories, stages and analysis",
    "errors": "Errors and warnings",
}


def public_names() -> dict[str, list[tuple[str, str]]]:
    """{role: [(name, defining module)]} for every name of ``sgdpotential.API``."""
    import sgdpotential as sp

    if set(sp.API) != set(ROLES):
        raise SystemExit(f"docs/hooks.py: sgdpotential.API has the roles {sorted(sp.API)}; describe each in ROLES.")
    return {role: [(name, getattr(sp, name).__module__) for name in sp.API[role]] for role in ROLES}


def api_reference() -> str:
    out = ["<!-- generated at build time from sgdpotential.API by docs/hooks.py -->",
           "# Python API reference", "",
           "Every public name of `sgdpotential` (`import sgdpotential as sp; sp.<name>`), grouped by the layer that",
           "defines it (`sp.API`), with its docstring: the equation it computes, the method, the cost and an example.",
           "Importing `sgdpotential` does not import torch; the torch-backed names load on first use, and",
           "`from sgdpotential import *` takes the torch-free part only (the errors and the theory).", ""]
    for role, names in public_names().items():
        out += [f"## {ROLES[role]}", ""]
        for name, module in sorted(names, key=lambda x: x[0].lower()):
            out += [f"::: {module}.{name}", "    options:", "      heading_level: 3", ""]
    return "\n".join(out)


def on_files(files, config):
    files.append(File.generated(config, "api.md", content=api_reference()))
    return files


