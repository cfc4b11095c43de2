r"""Heavy-ball momentum near a quadratic point: the exact laws of the recursion in (w, velocity).

``torch.optim.SGD(momentum=μ)`` (dampening 0, no Nesterov) keeps a buffer b_{t+1} = μ b_t + g_t and steps
w_{t+1} = w_t − α b_{t+1}. With the displacement u_t = −α b_t and the gradient g = Hx + ξ of the linear model
(x = w − ω0, Cov ξ = κC/B) this is the 2n-dimensional recursion

.. math:: z_{t+1} = A z_t + \beta\,\xi_t,\qquad
          z = \begin{pmatrix} x \\ u \end{pmatrix},\quad
          A = \begin{pmatrix} I - \alpha H & \mu I \\ -\alpha H & \mu I \end{pmatrix},\quad
          \beta = -\alpha \begin{pmatrix} I \\ I \end{pmatrix}.

In H's eigenbasis A is a 2×2 block A(a) = [[1 − a, μ], [−a, μ]] per mode (a = αh) and the noise couples the
modes, so the laws reduce to one small problem per *pair* of modes — never a 2n × 2n solve:

* :func:`momentum_stationary_covariance` — Σ_z = AΣ_zAᵀ + ββᵀ⊗(κC/B), per mode pair the 4×4 system
  (I − A_k ⊗ A_l) vec S = vec 11ᵀ; per commuting mode it gives Liu, Ziyin & Ueda's (ICML 2021) law
  σ² = α(1 + μ)κc / (B(1 − μ) h (2(1 + μ) − αh)), which is the plain-SGD law at μ = 0.
* :func:`momentum_window_covariance` — the expected sample covariance of T consecutive iterates, from the
  stationary law or from z = 0 (w = ω0, zero velocity) b steps before the window: a 21-dimensional affine
  recursion per mode pair (the second moments, their running window sums and the accumulated moment),
  powered by repeated squaring, O(n² log T).

Stability: every mode needs 0 < αh < 2(1 + μ) (Jury's criterion for z² − (1 + μ − αh)z + μ), so the largest
stable learning rate is 2(1 + μ)/λ_max(H) — momentum *widens* the stable range. In the small-αh limit the
recursion is plain SGD with the effective learning rate α/(1 − μ) (the overdamped limit): F = αH/(1 − μ),
ε = α²/(2B(1 − μ)²), D = κC, which is the continuous law and the decomposition that
:class:`~sgdpotential.theory.sgd.LinearMomentumSGD` reports.
"""

from __future__ import annotations

import numpy as np

from ..errors import DecompositionError
from ._checks import as_square, positive_int, require_symmetric
from .lyapunov import _sgd_inputs
from .pairs import (
    momentum_blocks,
    over_pairs,
    pair_kron,
    require_stable_modes,
    started_pairs,
    stationary_pairs,
    window_pairs,
)

__all__ = ["check_momentum", "momentum_stationary_covariance", "momentum_transition",
           "momentum_window_covariance"]


def check_momentum(momentum) -> float:
    """μ as a float in [0, 1), or :class:`DecompositionError` naming the value."""
    if isinstance(momentum, bool) or not isinstance(momentum, int | float | np.floating | np.integer) \
            or not 0 <= float(momentum) < 1:
        raise DecompositionError(f"momentum = {momentum!r} must be a number in [0, 1) (heavy-ball μ; 0 is plain "
                                 f"SGD, and μ ≥ 1 never forgets a gradient).")
    return float(momentum)


#: The per-mode 2×2 blocks A(a) = [[1 − a, μ], [−a, μ]] of the recursion in (x, u), shape (n, 2, 2).
momentum_transition = momentum_blocks


def _inputs(H, C, lr, batch_size, momentum, n_train):
    """H (symmetric) and μ checked first, then plain SGD's inputs and per-step noise (:func:`~.lyapunov._sgd_inputs`);
    H's eigenbasis."""
    require_symmetric("H", as_square("H", H), "a Hessian; the momentum laws are computed in its eigenbasis")
    mu = check_momentum(momentum)
    H, noise, lr = _sgd_inputs(H, C, lr, batch_size, n_train)
    h, V = np.linalg.eigh((H + H.T) / 2)
    noise_eig = V.T @ noise @ V
    return h, V, (noise_eig + noise_eig.T) / 2, lr, mu


def _pair_blocks(a_i: np.ndarray, a_j: np.ndarray, mu: float) -> np.ndarray:
    """Per pair (i, j) of stable modes and unit noise: the stationary 2×2 cross-moment S = E z_i z_jᵀ
    (:func:`~.pairs.stationary_pairs`, the Stein equation S = A_i S A_jᵀ + 11ᵀ). Shape (m, 2, 2)."""
    K = pair_kron(momentum_blocks(a_i, mu), momentum_blocks(a_j, mu))
    return stationary_pairs(np.eye(4) - K).reshape(-1, 2, 2)


def momentum_stationary_covariance(H, C, lr: float, batch_size: int, momentum: float,
                                   n_train: int | None = None, *, velocity: bool = False) -> np.ndarray:
    r"""Exact stationary covariance of heavy-ball SGD near a quadratic minimum.

    Solves the discrete Lyapunov (Stein) equation of the recursion in (x, u) (see the module docstring)

    .. math:: \Sigma_z = A \Sigma_z A^\top + \frac{\alpha^2\kappa}{B}\begin{pmatrix}C & C\\ C & C\end{pmatrix}

    and returns its weight block Σ_xx (or all of Σ_z with ``velocity=True``, blocks [[xx, xu], [ux, uu]]).
    Per commuting mode: σ² = α(1 + μ)κc / (B(1 − μ)h(2(1 + μ) − αh)) (Liu, Ziyin & Ueda 2021, Thm. 3).

    Parameters
    ----------
    H : (n, n) symmetric; every eigenvalue needs 0 < αλ < 2(1 + μ).
    C : (n, n) symmetric PSD per-sample gradient covariance (paper Eq. 19).
    lr, batch_size, momentum : α > 0, B ≥ 1, μ ∈ [0, 1).
    n_train : N_L for minibatches without replacement (κ = (N_L − B)/(N_L − 1)); ``None``: κ = 1.

    Returns
    -------
    (n, n) ndarray, or (2n, 2n) with ``velocity=True``.

    Notes
    -----
    One ``eigh`` of H (O(n³)), then one 4×4 solve per mode pair (O(n²)) — exact, no 2n × 2n Stein solver.

    Examples
    --------
    >>> s = momentum_stationary_covariance([[2.0]], [[1.0]], lr=0.1, batch_size=1, momentum=0.5)
    >>> a, mu = 0.2, 0.5; bool(np.isclose(s[0, 0], 0.1 * (1 + mu) / ((1 - mu) * 2.0 * (2 * (1 + mu) - a))))
    True
    """
    h, V, noise_eig, lr, mu = _inputs(H, C, lr, batch_size, momentum, n_train)
    a = lr * h
    require_stable_modes(a, h, lr, mu, "use momentum_window_covariance(..., start=b) for a finite window")
    n = a.size
    i, j = np.triu_indices(n)
    S = _pair_blocks(a[i], a[j], mu)
    blocks = np.empty((n, n, 2, 2))
    blocks[i, j], blocks[j, i] = S, np.swapaxes(S, 1, 2)
    full = noise_eig[:, :, None, None] * blocks  # Σ̃ per pair of modes, 2×2 each
    if not velocity:
        sigma = V @ full[:, :, 0, 0] @ V.T
        return (sigma + sigma.T) / 2
    Z = full.transpose(2, 0, 3, 1).reshape(2 * n, 2 * n)  # [[xx, xu], [ux, uu]] in H's eigenbasis
    W = np.kron(np.eye(2), V)
    sigma = W @ Z @ W.T
    return (sigma + sigma.T) / 2


def momentum_window_covariance(H, C, lr: float, batch_size: int, momentum: float, window: int,
                               start: str | int = "stationary", n_train: int | None = None) -> np.ndarray:
    r"""Expected sample covariance of T consecutive iterates of heavy-ball SGD near a quadratic point.

    .. math:: \mathbb{E}\,\hat\Sigma_T,\qquad \hat\Sigma_T = \frac1T \sum_{t=1}^T (x_t - \bar x)(x_t - \bar x)^\top

    — what a PCA of a window of T snapshots estimates (cf. :func:`~sgdpotential.theory.sgd_window_covariance`,
    the μ = 0 case).

    Parameters
    ----------
    H, C, lr, batch_size, momentum, n_train
        As in :func:`momentum_stationary_covariance`; with an integer ``start`` any spectrum of H is allowed.
    window : int
        T ≥ 2 snapshots (consecutive steps).
    start : "stationary" or int
        ``"stationary"``: (x, u) at the first snapshot drawn from the stationary law. An integer b ≥ 0: the
        recursion starts at x = 0 with zero velocity and the first snapshot is taken b steps later.

    Notes
    -----
    Per mode pair (i, j) the state P = E z_i z_jᵀ, X = E z_i Y_jᵀ, W = E Y_i z_jᵀ, V = E Y_i Y_jᵀ (Y: running
    window sums) and Z = Σ_u P(u) — 20 numbers and a constant — obeys one affine step
    P' = A_i P A_jᵀ + 11ᵀ, X' = A_i X + P', W' = W A_jᵀ + P', V' = V + A_i X + W A_jᵀ + P', Z' = Z + P', and
    E Σ̂_T = Z_xx/T − V_xx/T². Its (T − 1)-th power by repeated squaring: O(n² · 21³ · log T) after one ``eigh``.

    Examples
    --------
    >>> import numpy as np
    >>> # μ = 0 is plain SGD: the random walk of T = 10 steps has E var = (T² − 1)/(6T)
    >>> float(momentum_window_covariance([[0.0]], [[1.0]], 1.0, 1, 0.0, 10, start=0)[0, 0])
    1.65
    """
    h, V, noise_eig, lr, mu = _inputs(H, C, lr, batch_size, momentum, n_train)
    T = positive_int("window", window, "a window needs at least 2 snapshots", minimum=2)
    a = lr * h
    if isinstance(start, str):
        if start != "stationary":
            raise DecompositionError(f"start = {start!r} must be 'stationary' or an integer b ≥ 0.")
        require_stable_modes(a, h, lr, mu, "pass an integer start=b (the recursion started b steps before the window)")
        b = None
    else:
        b = positive_int("start", start, "pass 'stationary' or the number of steps b ≥ 0 before the window",
                         minimum=0)
    G = _window_pair_factors(a, mu, T, b)
    if not np.all(np.isfinite(G)):
        raise DecompositionError(
            f"the window variance overflows float64: some mode grows over the {T + (b or 0)} steps (lr·λ_min(H) = "
            f"{a.min():.6g}); shorten the window or remove the unstable directions.")
    sigma = V @ (noise_eig * G) @ V.T
    return (sigma + sigma.T) / 2


def _window_pair_factors(a: np.ndarray, mu: float, T: int, b: int | None, chunk: int = 20_000) -> np.ndarray:
    """G_ij with E Σ̂_T = V (C̃ ∘ G) Vᵀ per unit noise (see :func:`momentum_window_covariance`): the d = 2 case of
    :func:`~.pairs.window_pairs`."""

    def factor(i, j):
        Ai, Aj = momentum_blocks(a[i], mu), momentum_blocks(a[j], mu)
        K = pair_kron(Ai, Aj)
        P0 = stationary_pairs(np.eye(4) - K) if b is None else started_pairs(K, b)
        return window_pairs(Ai, Aj, P0, T, K)

    return over_pairs(a.size, factor, chunk)
