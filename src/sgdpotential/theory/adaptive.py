r"""Adam and RMSprop near ω0 with their second-moment estimate frozen over the window: a preconditioned linear model.

Adam (``torch.optim.Adam``, no weight decay) steps m ← β1 m + (1 − β1)g, v ← β2 v + (1 − β2)g²,
w ← w − α m̂/(√v̂ + ϵ). Over a window in which v barely moves (the approximation: measured by a run as the
preconditioner's drift between the window's first and last step), p = 1/(√v̂ + ϵ) is a fixed diagonal
preconditioner and, with the linear gradient g = Hx + ξ (Cov ξ = κC/B), Adam is heavy-ball SGD with momentum
μ = β1 and learning rate α(1 − β1) on the preconditioned coordinates y = P^{-1/2}x:

.. math:: y \leftarrow \text{heavy ball}\big(\tilde H = P^{1/2} H P^{1/2},\ \tilde C = P^{1/2} C P^{1/2},\
          \alpha(1-\beta_1),\ \mu = \beta_1\big), \qquad \Sigma_x = P^{1/2}\,\Sigma_y\,P^{1/2}

(m's bias correction 1/(1 − β1^t) is 1 after the first few dozen steps and is left out). RMSprop is the μ = 0 case
(learning rate α). In a principal subspace of directions U (K × N) the preconditioner is P_K = U diag(p) Uᵀ, which
assumes, like every subspace law here, that the subspace is closed. The overdamped limit is plain SGD with the
matrix learning rate αP: F = αPH (not symmetric), D = κPCP, ε = α²/2B — the continuous law and Ao's
decomposition this model reports. Everything else (exact discrete and finite-window laws, simulated windows)
is exact *for the frozen model*, which is itself the approximation: results are labelled approximate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import check_scalar
from ..errors import DecompositionError
from .sgd import LinearMomentumSGD, LinearSGD

__all__ = ["ADAPTIVE", "LinearAdaptive", "projected_preconditioner"]

#: The adaptive optimizers modelled with a frozen second moment.
ADAPTIVE = ("adam", "rmsprop")


def projected_preconditioner(p, components) -> np.ndarray:
    """P_K = U diag(p) Uᵀ: the diagonal preconditioner ``p`` (over the recorded weights) in the subspace of the
    orthonormal rows of ``components`` (K × N). O(K²N)."""
    U = np.asarray(components, dtype=float)
    p = np.asarray(p, dtype=float).ravel()
    if U.ndim != 2 or U.shape[1] != p.size:
        raise DecompositionError(f"components have shape {U.shape} but the preconditioner has {p.size} entries; pass "
                                 f"one entry per recorded weight.")
    if not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise DecompositionError("the preconditioner must be finite and positive (1/(√v̂ + ϵ)).")
    P = (U * p) @ U.T
    return (P + P.T) / 2


@dataclass(frozen=True, eq=False)
class LinearAdaptive(LinearSGD):
    r"""Adam (``beta1`` > 0) or RMSprop (``beta1`` = 0) linearised at ω0 with the preconditioner P frozen (see the
    module docstring). An approximation, labelled as such in :meth:`describe`.

    Parameters
    ----------
    lr, batch_size, n_train
        α, B and N_L (as in :class:`LinearSGD`).
    preconditioner : (K, K) array
        P: symmetric positive definite (for a principal subspace, :func:`projected_preconditioner`).
    beta1 : float
        Adam's β1 ∈ [0, 1) (the heavy-ball momentum of the frozen model); 0 for RMSprop.
    optimizer : {"adam", "rmsprop"}

    Examples
    --------
    >>> import numpy as np
    >>> m = LinearAdaptive(0.01, 1, preconditioner=np.diag([4.0]), beta1=0.9)
    >>> h, c, p = 2.0, 1.0, 4.0   # one mode: heavy ball on h̃ = ph, c̃ = pc, lr α(1 − β1), μ = β1; σ² = p σ_y²
    >>> y = LinearMomentumSGD(0.01 * 0.1, 1, momentum=0.9).discrete([[p * h]], [[p * c]])[0, 0]
    >>> bool(np.isclose(m.discrete([[h]], [[c]])[0, 0], p * y))
    True
    """

    preconditioner: np.ndarray = field(default=None, repr=False)
    beta1: float = 0.0
    optimizer: str = "adam"

    def __post_init__(self):
        super().__post_init__()
        if self.optimizer not in ADAPTIVE:
            raise DecompositionError(f"optimizer = {self.optimizer!r} is not one of {', '.join(ADAPTIVE)}.")
        object.__setattr__(self, "beta1", check_scalar(self.beta1, "beta1", float, min_val=0, max_val=1,
                                                       include_boundaries="left", fix="Adam's β1, 0 for RMSprop",
                                                       error=DecompositionError))
        P = np.asarray(self.preconditioner, dtype=float)
        if P.ndim != 2 or P.shape[0] != P.shape[1]:
            raise DecompositionError(f"preconditioner has shape {P.shape}; pass the K × K matrix P.")
        w, V = np.linalg.eigh((P + P.T) / 2)
        if w.min() <= 0:
            raise DecompositionError(f"the preconditioner has eigenvalue {w.min():.3g} ≤ 0; it must be positive "
                                     f"definite (1/(√v̂ + ϵ) > 0).")
        object.__setattr__(self, "preconditioner", (P + P.T) / 2)
        object.__setattr__(self, "_sqrt", (V * np.sqrt(w)) @ V.T)

    # ---------------------------------------------------------------- the overdamped limit
    @property
    def effective_lr(self) -> float:
        """α: the scalar part of the overdamped limit's matrix learning rate αP (β1 cancels there)."""
        return self.lr

    def force(self, H) -> np.ndarray:
        """F = αPH (not symmetric)."""
        return self.lr * self.preconditioner @ np.asarray(H, dtype=float)

    def diffusion(self, C) -> np.ndarray:
        """D = κPCP: the covariance of the preconditioned minibatch noise, times B."""
        return self.sampling_factor * self.preconditioner @ np.asarray(C, dtype=float) @ self.preconditioner

    # ---------------------------------------------------------------- exact laws of the frozen model
    def _inner(self) -> LinearSGD:
        """The model of y = P^{-1/2}x: heavy ball with α(1 − β1), μ = β1 (plain SGD with α for RMSprop)."""
        if self.beta1 == 0:
            return LinearSGD(self.lr, self.batch_size, self.n_train)
        return LinearMomentumSGD(self.lr * (1 - self.beta1), self.batch_size, self.n_train, momentum=self.beta1)

    def _tilde(self, H, C):
        return self._sandwich(H), self._sandwich(C)

    def _sandwich(self, M) -> np.ndarray:
        """P^{1/2}MP^{1/2}, symmetrised: H and the noise covariances into the inner model's coordinates, and a
        covariance of y back into x = P^{1/2}y."""
        out = self._sqrt @ np.asarray(M, dtype=float) @ self._sqrt
        return (out + out.T) / 2

    def discrete(self, H, C) -> np.ndarray:
        """The exact stationary law of the frozen-preconditioner recursion: P^{1/2} Σ_y P^{1/2}."""
        return self._sandwich(self._inner().discrete(*self._tilde(H, C)))

    def window(self, H, C, steps: int, start: str | int = "stationary") -> np.ndarray:
        """The expected sample covariance of ``steps`` consecutive iterates of the frozen-preconditioner model."""
        return self._sandwich(self._inner().window(*self._tilde(H, C), steps, start=start))

    def start_covariance(self, H, C, white=None) -> np.ndarray:
        return self._sandwich(self._inner().start_covariance(*self._tilde(H, C), self._white(white)))

    def uncancelled_state(self, H, Sigma) -> np.ndarray:
        """:meth:`LinearSGD.uncancelled_state` of the frozen-preconditioner model: the inner model's, in the
        coordinates y = P^{-1/2}x where it is plain (or heavy-ball) SGD, mapped back."""
        inv = np.linalg.inv(self._sqrt)
        return self._sandwich(self._inner().uncancelled_state(self._sandwich(H), inv @ np.asarray(Sigma, dtype=float)
                                                          @ inv))

    def _white(self, white):
        """The white part of the noise in the inner model's coordinates (P^{1/2}WP^{1/2}), or None."""
        return None if white is None else self._sandwich(white)

    def _windows(self, H, C, steps: int, paths: int, stride: int, seed: int, white=None):
        """Simulated windows of y in H̃'s eigenbasis (the inner model's simulator), mapped back to x = P^{1/2}V y:
        P^{1/2} is not orthogonal, so the PCA must see x, not y."""
        Ht, Ct = self._tilde(H, C)
        V = np.linalg.eigh((Ht + Ht.T) / 2)[1]  # the basis the inner simulator works in (same call, same basis)
        back = (self._sqrt @ V).T
        for snaps in self._inner()._windows(Ht, Ct, steps, paths, stride, seed, self._white(white)):
            yield snaps @ back

    def describe(self) -> dict:
        """JSON-ready, with the approximation named."""
        return {**super().describe(), "optimizer": self.optimizer, "beta1": self.beta1, "effective_lr": self.lr,
                "approximate": "second-moment estimate frozen over the window (preconditioner P = 1/(√v̂ + ϵ) fixed)"}
