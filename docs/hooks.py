"""MkDocs hook: the page that is generated from the code at build time, so that it cannot go stale.

* ``api.md`` — the Python API reference: every name of ``sgdpotential.__all__``, grouped by the layer that
  defines it, each rendered by mkdocstrings from its docstring.
"""

from __future__ import annotations

from mkdocs.structure.files import File

#: The layers of ``src/sgdpotential`` in the order the API page shows them, with one line on what each holds.
LAYERS = {
    "theory": "Linear theory (NumPy and SciPy only): Ao's decomposition and the laws of SGD",
    "nn": "Data, models, the objective and the probes at ω0",
    "dynamics": "Dynamics: training, replicas and the linearized replays",
    "trajectory": "Trajectory store and PCA",
    "pipeline": "Pipeline: configurations, run directories, stages and analysis",
    "errors": "Errors and warnings",
}


def public_names() -> dict[str, list[tuple[str, str]]]:
    """{layer: [(name, defining module)]} for every public name but ``__version__``."""
    import sgdpotential as sp

    groups: dict[str, list[tuple[str, str]]] = {layer: [] for layer in LAYERS}
    for name in sp.__all__:
        if name == "__version__":
            continue
        module = getattr(sp, name).__module__
        layer = module.split(".")[1]
        if layer not in groups:
            raise SystemExit(f"docs/hooks.py: {name} lives in {module}, outside the layers {', '.join(LAYERS)}.")
        groups[layer].append((name, module))
    return groups


def api_reference() -> str:
    out = ["<!-- generated at build time from sgdpotential.__all__ by docs/hooks.py -->",
           "# Python API reference", "",
           "Every public name of `sgdpotential` (`import sgdpotential as sp; sp.<name>`), grouped by the layer that",
           "defines it, with its docstring: the equation it computes, the method, the cost and an example.",
           "Importing `sgdpotential` does not import torch; the torch-backed names load on first use.", ""]
    for layer, names in public_names().items():
        out += [f"## {LAYERS[layer]}", ""]
        for name, module in sorted(names, key=lambda x: x[0].lower()):
            out += [f"::: {module}.{name}", "    options:", "      heading_level: 3", ""]
    return "\n".join(out)


def on_files(files, config):
    files.append(File.generated(config, "api.md", content=api_reference()))
    return files


