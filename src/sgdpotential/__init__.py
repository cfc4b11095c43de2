"""sgdpotential — stochastic gradient descent measured as a physical stochastic process.

The public API is re-exported here. Importing ``sgdpotential`` (or ``sgdpotential.theory``) does not
import torch: the exact linear theory is NumPy/SciPy only, and the torch- and zarr-based names (data,
models, training, trajectory store, PCA) are loaded on first use (PEP 562).
"""

import importlib

from .errors import ConfigError, DecompositionError, TrainingDiverged
from .scaling import PowerLawFit, fit_power_law
from .theory import (
    Decomposition,
    LinearSDEFit,
    RotationPlanes,
    area_rate,
    decompose,
    entropy_production,
    entropy_production_of,
    fit_linear_sde,
    ou_transition,
    probability_current,
    rotation_planes,
    sgd_stationary_covariance,
    sgd_window_covariance,
    simulate_ou,
    stationary_covariance,
)

__version__ = "0.1.0"

_LAZY = {
    "Dataset": "data", "load_dataset": "data",
    "ParameterSelection": "models", "build_mlp": "models", "flat_parameters": "models", "select_parameters": "models",
    "TrainConfig": "training", "TrainResult": "training", "train": "training",
    "Trajectory": "trajectory",
    "PCAResult": "pca", "random_walk_null": "pca", "trajectory_pca": "pca",
    "Objective": "objective",
    "Flatness": "probes", "MinibatchLandscape": "probes", "directional_derivatives": "probes", "flatness": "probes",
    "hessian_top_eigenvalues": "probes", "loss_profiles": "probes", "minibatch_landscape": "probes",
    "noise_temperature": "probes", "projected_hessian": "probes", "projected_noise_covariance": "probes",
    "ReplayResult": "replay", "linearized_replay": "replay",
    "train_replicas": "replicas",
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
    "LinearSDEFit",
    "PowerLawFit",
    "RotationPlanes",
    "__version__",
    "area_rate",
    "decompose",
    "entropy_production",
    "entropy_production_of",
    "fit_linear_sde",
    "fit_power_law",
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
