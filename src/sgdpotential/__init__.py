"""sgdpotential — stochastic gradient descent measured as a physical stochastic process.

The public API is re-exported here. Importing ``sgdpotential`` (or ``sgdpotential.theory``) does not
import torch: the exact linear theory is NumPy/SciPy only, and the torch- and zarr-based names (data,
models, training, trajectory store, PCA) are loaded on first use (PEP 562).
"""

import importlib

from ._version import __version__
from .errors import ConfigError, DecompositionError, ModelModeWarning, TrainingDiverged
from .theory import (
    Decomposition,
    EigenDecomposition,
    LinearSDEFit,
    LinearSGD,
    PowerLawFit,
    RotationPlanes,
    area_rate,
    decompose,
    decompose_eigenbasis,
    entropy_production,
    entropy_production_of,
    fit_linear_sde,
    fit_power_law,
    linear_model,
    ou_transition,
    probability_current,
    rotation_planes,
    sgd_stationary_covariance,
    sgd_window_covariance,
    simulate_ou,
    stationary_covariance,
)

_LAZY = {
    "Dataset": "nn.data", "load_dataset": "nn.data",
    "ParameterSelection": "nn.models", "build_mlp": "nn.models", "flat_parameters": "nn.models",
    "select_parameters": "nn.models",
    "Objective": "nn.objective", "check_deterministic": "nn.objective",
    "Flatness": "nn.probes", "MinibatchLandscape": "nn.probes", "directional_derivatives": "nn.probes",
    "flatness": "nn.probes", "hessian_top_eigenvalues": "nn.probes", "loss_profiles": "nn.probes",
    "minibatch_landscape": "nn.probes", "noise_temperature": "nn.probes", "projected_hessian": "nn.probes",
    "projected_noise_covariance": "nn.probes", "path_noise_covariance": "nn.probes",
    "noise_covariance_response": "nn.probes",
    "TrainConfig": "dynamics.training", "TrainResult": "dynamics.training", "train": "dynamics.training",
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

__all__ = [
    "ConfigError",
    "Decomposition",
    "DecompositionError",
    "EigenDecomposition",
    "LinearSDEFit",
    "LinearSGD",
    "ModelModeWarning",
    "PowerLawFit",
    "RotationPlanes",
    "__version__",
    "area_rate",
    "decompose",
    "decompose_eigenbasis",
    "entropy_production",
    "entropy_production_of",
    "fit_linear_sde",
    "fit_power_law",
    "linear_model",
    "ou_transition",
    "probability_current",
    "rotation_planes",
    "sgd_stationary_covariance",
    "sgd_window_covariance",
    "simulate_ou",
    "stationary_covariance",
    "TrainingDiverged",
    *_LAZY,
]
