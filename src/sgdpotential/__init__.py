"""sgdpotential — stochastic gradient descent measured as a physical stochastic process.

The public API is re-exported here. Importing ``sgdpotential`` (or ``sgdpotential.theory``) does not
import torch: the exact linear theory is NumPy/SciPy only, and torch-based parts are imported by the
modules that need them.
"""

from .errors import DecompositionError
from .scaling import PowerLawFit, fit_power_law
from .theory import (
    Decomposition,
    RotationPlanes,
    area_rate,
    decompose,
    entropy_production,
    entropy_production_of,
    ou_transition,
    probability_current,
    rotation_planes,
    sgd_stationary_covariance,
    sgd_window_covariance,
    simulate_ou,
    stationary_covariance,
)

__version__ = "0.1.0"

__all__ = [
    "Decomposition",
    "DecompositionError",
    "PowerLawFit",
    "RotationPlanes",
    "__version__",
    "area_rate",
    "decompose",
    "entropy_production",
    "entropy_production_of",
    "fit_power_law",
    "ou_transition",
    "probability_current",
    "rotation_planes",
    "sgd_stationary_covariance",
    "sgd_window_covariance",
    "simulate_ou",
    "stationary_covariance",
]
