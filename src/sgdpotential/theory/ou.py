"""Exact simulation of the linear SDE ẋ = −Fx + ζ (Ornstein–Uhlenbeck), for tests and null models."""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from ..errors import DecompositionError
from ._checks import as_square, positive_int, positive_scalar, require_psd
from .lyapunov import solve_lyapunov

__all__ = ["ou_transition", "simulate_ou"]


def ou_transition(F, D, eps: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact one-step law of ẋ = −Fx + ζ over a time dt: x(t + dt) = Φ x(t) + η, η ~ N(0, Q_dt).

    .. math:: \Phi = e^{-F\,dt},\qquad Q_{dt} = 2\varepsilon\int_0^{dt} e^{-Fs} D e^{-F^\top s}\,ds ,

    both from the matrix exponential of the 2n×2n block matrix [[F, 2εD], [0, −Fᵀ]]·h (Van Loan 1978) at
    h = dt/2^k ≤ 1/‖F‖, then k doublings (stable for any dt).
    Valid for any F (stable, saddle or singular); O(n³).

    Examples
    --------
    >>> import numpy as np
    >>> Phi, Q = ou_transition([[1.0]], [[1.0]], eps=1.0, dt=0.5)
    >>> np.allclose([Phi[0, 0], Q[0, 0]], [np.exp(-0.5), 1 - np.exp(-1.0)])
    True
    """
    F = as_square("F", F)
    n = F.shape[0]
    D = as_square("D", D, n)
    require_psd("D", D, "a diffusion matrix")
    eps = positive_scalar("eps", eps, "the noise strength ε must be positive")
    dt = positive_scalar("dt", dt, "the time step must be positive")
    # Van Loan: expm([[−M, G], [0, Mᵀ]] h) = [[·, E12], [0, E22]] with E22 = e^{Mᵀh} and
    # ∫_0^h e^{Ms} G e^{Mᵀs} ds = E22ᵀ E12, here for M = −F and G = 2εD. The block [·] is e^{Fh}, which
    # for large ‖F‖h makes E22ᵀE12 a difference of huge numbers; so take h = dt/2^k with ‖F‖h ≤ 1 and
    # double k times, Φ_{2h} = Φ_h², Q_{2h} = Q_h + Φ_h Q_h Φ_hᵀ (sums of PSD terms, no cancellation).
    k = max(0, int(np.ceil(np.log2(max(np.linalg.norm(F, 1) * dt, 1.0)))))
    h = dt / 2**k
    block = np.zeros((2 * n, 2 * n))
    block[:n, :n] = F
    block[:n, n:] = 2 * eps * (D + D.T) / 2
    block[n:, n:] = -F.T
    E = sla.expm(block * h)
    Phi = E[n:, n:].T
    Q = Phi @ E[:n, n:]
    for _ in range(k):
        Q = Q + Phi @ Q @ Phi.T
        Phi = Phi @ Phi
    return Phi, (Q + Q.T) / 2


def _psd_sqrt(Q: np.ndarray) -> np.ndarray:
    """A factor R with RRᵀ = Q for a PSD (possibly singular) Q; tiny negative round-off is clipped."""
    w, V = np.linalg.eigh(Q)
    return V * np.sqrt(np.clip(w, 0.0, None))


def simulate_ou(F, D, eps: float, dt: float, n_steps: int, x0=None, seed=None) -> np.ndarray:
    r"""Sample path of ẋ = −Fx + ζ, ⟨ζζᵀ⟩ = 2εD, exact in distribution at the sampling times.

    Uses the exact transition of :func:`ou_transition`, not Euler–Maruyama: the samples have exactly
    the law of the SDE at times 0, dt, …, n_steps·dt, whatever dt.

    Parameters
    ----------
    F, D, eps
        As in :func:`~sgdpotential.decompose`.
    dt : float
        Sampling interval.
    n_steps : int
        Number of steps; the path has n_steps + 1 points.
    x0 : (n,) array_like, optional
        Start. By default a draw from the stationary law N(0, Σ) when F is stable (a stationary path),
        else the origin.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    x : (n_steps + 1, n) ndarray

    Notes
    -----
    O(n³) set-up and O(n_steps · n²) sampling; memory O(n_steps · n).

    Examples
    --------
    >>> x = simulate_ou([[1.0]], [[1.0]], eps=1.0, dt=0.1, n_steps=1000, seed=0)
    >>> x.shape
    (1001, 1)
    """
    F = as_square("F", F)
    n = F.shape[0]
    D = as_square("D", D, n)
    n_steps = positive_int("n_steps", n_steps, "ask for at least one step")
    Phi, Q = ou_transition(F, D, eps, dt)
    rng = np.random.default_rng(seed)
    if x0 is None:
        sol = solve_lyapunov(F, (D + D.T) / 2, float(eps)) if _is_stable(F) else None
        x0 = _psd_sqrt(sol.sigma) @ rng.standard_normal(n) if sol is not None else np.zeros(n)
    else:
        x0 = np.asarray(x0, dtype=float)
        if x0.shape != (n,) or not np.all(np.isfinite(x0)):
            raise DecompositionError(f"x0 has shape {x0.shape} or non-finite entries; pass a finite ({n},) vector.")
    noise = rng.standard_normal((n_steps, n)) @ _psd_sqrt(Q).T
    x = np.empty((n_steps + 1, n))
    x[0] = x0
    PhiT = Phi.T
    for t in range(n_steps):
        x[t + 1] = x[t] @ PhiT + noise[t]
    return x


def _is_stable(F: np.ndarray) -> bool:
    return bool(np.all(np.linalg.eigvals(F).real > 0))
