"""The recorded window: the on-disk trajectory store (:mod:`.store`) and its streaming PCA (:mod:`.pca`)."""

from .pca import PCAResult, random_walk_null, trajectory_pca
from .store import Trajectory

__all__ = ["PCAResult", "Trajectory", "random_walk_null", "trajectory_pca"]
