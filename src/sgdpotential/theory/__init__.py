"""Exact linear theory of SGD as a stochastic process: NumPy and SciPy only, never torch.

Modules: :mod:`.decomposition` (Ao's U, Q, S, A), :mod:`.lyapunov` (continuous, discrete-SGD and
finite-window covariances), :mod:`.sgd` (the linear model of the optimizer: ε, the sampling factor, F, D and
the laws, in one object), :mod:`.optimizer` (which linear model a run's optimizer gets), :mod:`.pairs` (the pair
recursion behind every covariance law), :mod:`.momentum` (the exact laws of heavy-ball momentum), :mod:`.adaptive`
(Adam and RMSprop with a frozen preconditioner), :mod:`.thermo` (entropy production, current, rotation planes,
area rate),
:mod:`.ou` (exact simulation of the linear SDE), :mod:`.fit` (a linear SDE fitted to a sampled path),
:mod:`.scaling` (power-law fits with bootstrap intervals), :mod:`.population` (the population ψ of the linear model's
window law: the truth the ψ estimators are calibrated against).
"""

from ..errors import DecompositionError
from .decomposition import Decomposition, EigenDecomposition, decompose, decompose_eigenbasis
from .fit import LinearSDEFit, fit_linear_sde
from .lyapunov import sampling_factor, sgd_stationary_covariance, sgd_window_covariance, stationary_covariance
from .momentum import momentum_stationary_covariance, momentum_window_covariance
from .optimizer import linear_model
from .ou import ou_transition, simulate_ou
from .population import PopulationPsi, population_psi
from .scaling import PowerLawFit, fit_power_law, flatness_of_quadratic
from .sgd import LinearMomentumSGD, LinearSGD
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
    "EigenDecomposition",
    "LinearMomentumSGD",
    "LinearSDEFit",
    "LinearSGD",
    "PopulationPsi",
    "PowerLawFit",
    "RotationPlanes",
    "area_rate",
    "decompose",
    "decompose_eigenbasis",
    "entropy_production",
    "entropy_production_of",
    "fit_linear_sde",
    "fit_power_law",
    "flatness_of_quadratic",
    "linear_model",
    "momentum_stationary_covariance",
    "momentum_window_covariance",
    "ou_transition",
    "population_psi",
    "probability_current",
    "rotation_planes",
    "sampling_factor",
    "sgd_stationary_covariance",
    "sgd_window_covariance",
    "simulate_ou",
    "stationary_covariance",
]
