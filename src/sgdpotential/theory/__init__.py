"""Exact linear theory of SGD as a stochastic process: NumPy and SciPy only, never torch.

Modules: :mod:`.decomposition` (Ao's U, Q, S, A), :mod:`.lyapunov` (continuous, discrete-SGD and
finite-window covariances), :mod:`.thermo` (entropy production, current, rotation planes, area rate),
:mod:`.ou` (exact simulation of the linear SDE), :mod:`.fit` (a linear SDE fitted to a sampled path).
"""

from ..errors import DecompositionError
from .decomposition import Decomposition, decompose
from .fit import LinearSDEFit, fit_linear_sde
from .lyapunov import sgd_stationary_covariance, sgd_window_covariance, stationary_covariance
from .ou import ou_transition, simulate_ou
from .thermo import (
    RotationPlanes,
    area_rate,
    entropy_production,
    entropy_production_of,
    probability_current,
    rotation_planes,
)

__all__ = [
    "Decomposition",
    "DecompositionError",
    "LinearSDEFit",
    "RotationPlanes",
    "area_rate",
    "decompose",
    "entropy_production",
    "entropy_production_of",
    "fit_linear_sde",
    "ou_transition",
    "probability_current",
    "rotation_planes",
    "sgd_stationary_covariance",
    "sgd_window_covariance",
    "simulate_ou",
    "stationary_covariance",
]
