"""sgdpotential — stochastic gradient descent measured as a physical stochastic process.

The public API, by role (:data:`API`: the layer that defines each name; the docs' API reference has one section
per role). Importing ``sgdpotential`` (or ``sgdpotential.theory``) does not import torch: the exact linear theory
is NumPy/SciPy only, and the torch- and zarr-based names (data, models, probes, training, trajectory store, PCA,
pipeline) are loaded on first use (PEP 562). ``__all__`` — what ``from sgdpotential import *`` takes — is the
torch-free part (the errors and the theory), so that a star import never loads torch; the torch-backed names are
attributes, ``sp.train``, ``sp.flatness``, …, listed in :data:`API`.
"""

import importlib

from ._version import __version__
from .errors import ConfigError, DecompositionError, ModelModeWarning, TrainingDiverged
from .theory import *  # noqa: F403 - the linear theory, exactly theory.__all__
from .theory import __all__ as _THEORY

_LAZY = {
    "Dataset": "nn.data", "load_dataset": "nn.data",
    "ParameterSelection": "nn.models", "build_mlp": "nn.models", "flat_parameters": "nn.models",
    "select_parameters": "nn.models",
    "Objective": "nn.objective", "check_deterministic": "nn.objective",
    "Flatness": "nn.probes", "MinibatchLandscape": "nn.probes", "directional_derivatives": "nn.probes",
    "flatness": "nn.probes", "hessian_top_eigenvalues": "nn.probes", "loss_profiles": "nn.probes",
    "minibatch_landscape": "nn.probes", "noise_temperature": "nn.probes", "projected_hessian": "nn.probes",
    "projected_noise_covariance": "nn.probes", "path_noise_covariance": "nn.probes",
    "noise_covariance_response": "nn.probes", "CurvatureOperator": "nn.probes", "HessianOperator": "nn.probes",
    "GaussNewtonOperator": "nn.probes", "NoiseCovarianceOperator": "nn.probes", "MinibatchHessians": "nn.probes",
    "TrainConfig": "dynamics.config", "TrainResult": "dynamics.training", "train": "dynamics.training",
    "train_replicas": "dynamics.replicas",
    "ReplayResult": "dynamics.replay", "linearized_replay": "dynamics.replay", "linearized_replays": "dynamics.replay",
    "Trajectory": "trajectory", "PCAResult": "trajectory", "random_walk_null": "trajectory",
    "trajectory_pca": "trajectory",
    "ivf_exponent": "pipeline.analysis", "usable_directions": "pipeline.analysis",
    "RunConfig": "pipeline.config", "RunDir": "pipeline.rundir", "run_stages": "pipeline.stages",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sgdpotential' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


_ERRORS = ("ConfigError", "DecompositionError", "ModelModeWarning", "TrainingDiverged")
_THEORY_ONLY = tuple(n for n in _THEORY if n not in _ERRORS)  # theory re-exports DecompositionError
__all__ = ["__version__", "ConfigError", "DecompositionError", "ModelModeWarning", "TrainingDiverged", *_THEORY_ONLY]

#: Every public name by role: the layer that defines it (``errors``, ``theory``, ``nn``, ``dynamics``,
#: ``trajectory``, ``pipeline``); ``__all__`` is ``errors`` and ``theory``, the torch-free part
#: (``tests/test_package.py`` checks the whole of it).
API: dict[str, tuple[str, ...]] = {
    "errors": _ERRORS,
    "theory": _THEORY_ONLY,
    **{layer: tuple(n for n, m in _LAZY.items() if m.split(".")[0] == layer)
       for layer in ("nn", "dynamics", "trajectory", "pipeline")},
}
