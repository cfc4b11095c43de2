"""Landscape and noise probes at a point w0 along given directions (usually the principal directions p_i).

:mod:`.landscape` (loss profiles, flatness F_i), :mod:`.operators` (the Hessian, Gauss–Newton and noise
covariance as linear operators over w: the one home of their products), :mod:`.curvature` (projected Hessian
H_P, top Hessian eigenvalues), :mod:`.noise` (projected gradient-noise covariance C_P and its average over the
window's path, noise temperature, the minibatch landscape of paper Eq. 20). Probes compute; they never write files.
"""

from .curvature import hessian_top_eigenvalues, projected_hessian
from .landscape import Flatness, flatness, loss_profiles
from .noise import (
    MinibatchLandscape,
    directional_derivatives,
    minibatch_landscape,
    noise_covariance_response,
    noise_temperature,
    path_noise_covariance,
    projected_noise_covariance,
)
from .operators import (
    CurvatureOperator,
    GaussNewtonOperator,
    HessianOperator,
    MinibatchHessians,
    NoiseCovarianceOperator,
)

__all__ = [
    "CurvatureOperator",
    "Flatness",
    "GaussNewtonOperator",
    "HessianOperator",
    "MinibatchHessians",
    "MinibatchLandscape",
    "NoiseCovarianceOperator",
    "directional_derivatives",
    "flatness",
    "hessian_top_eigenvalues",
    "loss_profiles",
    "minibatch_landscape",
    "noise_covariance_response",
    "noise_temperature",
    "path_noise_covariance",
    "projected_hessian",
    "projected_noise_covariance",
]
