r"""The linear model of an optimizer near a point ω0: one object owning ε, the sampling factor, F, D and the laws.

Plain SGD with learning rate α and minibatch size B, expanded to second order around ω0 (paper Eqs. 4, 17–19)::

    x_{t+1} = (I − αH) x_t − α ξ_t,    Cov ξ_t = κ C / B,

with H the Hessian and C the per-sample gradient covariance (Eq. 19) at ω0, and κ the sampling factor:
κ = (N_L − B)/(N_L − 1) for minibatches drawn without replacement (one permutation per epoch), κ = 1 with
replacement. Read as the SDE ẋ = −Fx + ζ, ⟨ζζᵀ⟩ = 2εD with one step as the time unit:

    F = αH,   D = κC,   ε = α²/(2B).

Every consumer — the analysis of a run, the model ladder, the report, the demo — asks this object for those
matrices and for the laws of the covariance (continuous Eq. 14, exact discrete, finite window), so that the
constants live in one place. It is also the seam where other optimizers plug in:
:func:`~sgdpotential.theory.optimizer.linear_model` returns the model of an optimizer configuration, and refuses
(one sentence) an optimizer it does not model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .._validation import check_scalar
from ..errors import DecompositionError
from ._checks import SINGULARITY_RTOL
from .decomposition import Decomposition, decompose
from .lyapunov import sampling_factor, sgd_stationary_covariance, sgd_window_covariance, stationary_covariance
from .momentum import _pair_blocks, check_momentum, momentum_stationary_covariance, momentum_window_covariance
from .pairs import stable_modes

__all__ = ["LAWS", "LinearMomentumSGD", "LinearSGD"]

#: The covariance laws every linear model provides, in the order they are reported.
LAWS = ("continuous", "discrete", "window_stationary", "window_from_w0")


@dataclass(frozen=True)
class LinearSGD:
    r"""Plain SGD linearised at ω0: x_{t+1} = (I − αH)x_t − αξ_t, Cov ξ = κC/B.

    Parameters
    ----------
    lr : float
        Learning rate α > 0.
    batch_size : int
        Minibatch size B ≥ 1.
    n_train : int or None
        Training-set size N_L for minibatches drawn without replacement (κ = (N_L − B)/(N_L − 1));
        ``None`` for sampling with replacement (κ = 1).

    Attributes
    ----------
    eps : float
        Noise strength ε = α²/(2B).
    sampling_factor : float
        κ.

    Notes
    -----
    Each law costs one symmetric eigendecomposition of H, O(K³) (finite window: plus O(K² log T)).

    Examples
    --------
    >>> import numpy as np
    >>> m = LinearSGD(lr=0.5, batch_size=1)
    >>> float(m.discrete([[2.0]], [[1.0]])[0, 0])   # αC/(Bh(2 − αh)), Liu, Ziyin & Ueda 2021
    0.25
    >>> float(m.continuous([[2.0]], [[1.0]])[0, 0])  # the small-α limit αC/(2Bh)
    0.125
    """

    lr: float
    batch_size: int
    n_train: int | None = None

    def __post_init__(self):
        fix = "the learning rate α must be positive"
        object.__setattr__(self, "lr", check_scalar(self.lr, "lr", float, min_val=0, include_boundaries="neither",
                                                    fix=fix, error=DecompositionError))
        object.__setattr__(self, "batch_size", check_scalar(self.batch_size, "batch_size", int, min_val=1,
                                                            fix="the minibatch size B", error=DecompositionError))
        sampling_factor(self.n_train, self.batch_size)  # validates n_train against B

    @property
    def effective_lr(self) -> float:
        """The learning rate of the small-step (overdamped) limit: α for plain SGD."""
        return self.lr

    @property
    def eps(self) -> float:
        """ε = α_eff²/(2B) (α²/(2B) for plain SGD)."""
        return self.effective_lr**2 / (2 * self.batch_size)

    @property
    def sampling_factor(self) -> float:
        """κ = (N_L − B)/(N_L − 1) without replacement, 1 with."""
        return sampling_factor(self.n_train, self.batch_size)

    def force(self, H) -> np.ndarray:
        """F = α_eff H (αH for plain SGD)."""
        return self.effective_lr * np.asarray(H, dtype=float)

    def diffusion(self, C) -> np.ndarray:
        """D = κC (the covariance of the minibatch-mean gradient noise, times B)."""
        return self.sampling_factor * np.asarray(C, dtype=float)

    def continuous(self, H, C) -> np.ndarray:
        """Σ of the SDE: FΣ + ΣFᵀ = 2εD (paper Eq. 14), i.e. HΣ + ΣH = (α_eff κ/B)C."""
        return stationary_covariance(self.force(H), self.diffusion(C), self.eps)

    def discrete(self, H, C) -> np.ndarray:
        """The exact stationary law of the recursion: Σ = (I − αH)Σ(I − αH)ᵀ + (α²κ/B)C."""
        return sgd_stationary_covariance(H, C, self.lr, self.batch_size, n_train=self.n_train)

    def window(self, H, C, steps: int, start: str | int = "stationary") -> np.ndarray:
        """The expected sample covariance of ``steps`` consecutive iterates (:func:`sgd_window_covariance`)."""
        return sgd_window_covariance(H, C, self.lr, self.batch_size, steps, start=start, n_train=self.n_train)

    def decompose(self, H, C) -> Decomposition:
        """Ao's decomposition of (F, D, ε): U, Q, S, A (paper Eqs. 5–15)."""
        return decompose(self.force(H), self.diffusion(C), self.eps)

    def sample_spectra(self, H, C, steps: int, n_components: int, *, paths: int = 20, stride: int = 1,
                       seed: int = 0, white=None) -> np.ndarray:
        r"""The sample PCA spectra that windows of the linear model show: ``paths`` exact simulations of
        x_{t+1} = (I − αH)x_t + η_t, each a window of ``steps`` steps with a snapshot every ``stride``, centred on
        its own mean and diagonalised exactly as a run's window is.

        A PCA picks the extreme eigenvalues of an autocorrelated sample covariance, so a run's σ_i² must be
        compared with these — the same selection applied to the law — never with p_iᵀΣp_i along its own p_i.

        The noise η = −αξ is Gaussian with the covariance of the run's minibatch sampling:

        * with replacement (``n_train=None``): independent steps, Cov η = (α²/B)C;
        * reshuffled epochs (``n_train`` = N_L): m = ⌊N_L/B⌋ disjoint minibatches per permutation, so within an
          epoch Cov(η_j, η_k) = α²C[κ/B·δ_jk − (1 − δ_jk)/(N_L − 1)] (sampling without replacement from a finite
          population; with mB = N_L an epoch's noise sums to zero), independent across epochs. Drawn as
          η_j = √a (z_j − λ z̄), z_j ~ N(0, α²C) i.i.d., a = N_L/(B(N_L − 1)), λ = 1 − √(1 − mB/N_L).

        * with reshuffled epochs and state-dependent noise (``white``): the part W of C that does not cancel within
          an epoch — the multiplicative noise driven by the state's fluctuations faster than an epoch
          (:meth:`uncancelled_state`) — is drawn as independent steps, Cov = (α²κ/B)W, and only C − W with the
          within-epoch anticorrelation above. Exact for additive noise (W = 0); with W it is the decoupling
          approximation of :meth:`uncancelled_state` (it keeps the per-step covariance and an epoch's summed
          noise of the decoupled process exactly, not its distribution over the lags within an epoch).

        Each path starts from the stationary law of the modes that have one (0 < αλ < 2 in H's eigenbasis, their
        cross-covariances included: a process that has run long before the window) and at 0 along the others;
        with reshuffling, the law at an epoch boundary (where a run's window opens):
        Σ_E = R^m Σ_E R^m + Q_E, Q_E = α²[a Σ_{j<m} R^j (C − W) R^j − S (C − W) S/(N_L − 1)
        + (κ/B) Σ_{j<m} R^j W R^j], R = I − αH, S = Σ_{j<m} R^j, solved elementwise in H's eigenbasis.

        Returns
        -------
        (paths, K) ndarray
            Descending sample variances (1/T normalisation), K = min(n_components, T − 1, n).

        Notes
        -----
        O(n³) for the eigenbasis and noise factor, then per path one (steps × n) × (n × n) product for the noise,
        an elementwise recursion, and an n × n eigendecomposition: O(paths · (steps·n² + n³)).
        Second moments are exact for a quadratic loss with state-independent noise; pass the C that the window
        experienced (e.g. :func:`~sgdpotential.nn.probes.path_noise_covariance`) when the noise depends on the
        state.
        """
        T = steps // stride
        K = min(n_components, T - 1, np.asarray(H).shape[0])
        out = np.empty((paths, K))
        for p, snaps in enumerate(self._windows(H, C, steps, paths, stride, seed, white)):
            snaps = snaps - snaps.mean(axis=0)  # H's eigenbasis: the spectrum does not depend on the basis
            out[p] = np.sort(np.linalg.eigvalsh(snaps.T @ snaps / T))[::-1][:K]
        return out

    def start_covariance(self, H, C, white=None) -> np.ndarray:
        r"""The covariance the simulated windows start from: the stationary law of the recursion along the modes
        that have one (0 < αλ < 2), 0 along the others — with reshuffled epochs (``n_train``) the law at an epoch
        boundary, Σ_E = R^m Σ_E R^m + Q_E, with ``white`` the part of C drawn independently per step (see
        :meth:`sample_spectra`). Exact for additive noise; O(n³).
        """
        nm = self._noise_model(H, C, white)
        start = np.zeros((nm.V.shape[0], nm.V.shape[0]))
        start[np.ix_(nm.stable, nm.stable)] = (nm.start + nm.start.T) / 2
        return nm.V @ start @ nm.V.T

    def within_epoch_memory(self, H) -> np.ndarray:
        r"""Φ = Σ_{l=1}^{m−1} [2(m − l)/(m(m − 1))] R^l, R = I − α_eff H: the lag-l autocorrelation operator of the
        stationary linear model (E[x_{t+l}x_tᵀ] = R^lΣ) averaged over the ordered pairs of distinct steps of one
        epoch of m = ⌊N_L/B⌋ minibatches. Φ → I along directions slower than an epoch, → 0 along those that
        forget within a few steps; 0 with replacement (no epochs). Along unstable directions (αλ ≤ 0) R is
        taken as I (no decay). With momentum, the overdamped R = I − (α/(1 − μ))H (an approximation).

        Method: H's eigendecomposition, φ(r) summed over the m − 1 lags; O(n³ + n·m).
        """
        H = np.asarray(H, dtype=float)
        if self.n_train is None or self.n_train // self.batch_size < 2:
            return np.zeros_like(H)
        h, V = np.linalg.eigh((H + H.T) / 2)
        m = self.n_train // self.batch_size
        lags = np.arange(1, m)
        r = np.clip(1.0 - self.effective_lr * h, -1.0, 1.0)
        phi = (r[:, None] ** lags) @ (2.0 * (m - lags) / (m * (m - 1)))
        return (V * phi) @ V.T

    def uncancelled_state(self, H, Sigma) -> np.ndarray:
        r"""The state covariance whose multiplicative noise does not cancel within a reshuffled epoch:
        S_W = ½[(I − Φ)Σ + Σ(I − Φ)ᵀ], Φ = :meth:`within_epoch_memory`.

        Where the per-sample gradients depend on the state, g_k(w) = A_k x + r_k (a quadratic loss: linear
        regression), minibatch noise has a multiplicative part D_t x_t, D_t = A_{B_t} − A, with per-step covariance
        (κ/B)𝒞(Σ), 𝒞(S) = E_k[(A_k − A)S(A_k − A)]. With one permutation per epoch the D_t of one epoch are
        anticorrelated exactly as additive noise is, Cov(D_j, D_k) = −Var(A_k)/(N_L − 1), and sum to ~0 — so
        that part of the noise cancels over an epoch only as far as the state stays put. Decoupling x from the
        permutation (the approximation: ``E[D_j x_j x_kᵀ D_k] ≈ E[D_j ⊗ D_k](R^{k−j}Σ)``), the pairs of distinct
        steps of an epoch contribute −m(m − 1)𝒞(½(ΦΣ + ΣΦᵀ))/(N_L − 1) to its summed noise. So the noise
        covariance the path experienced, C̄ = C(ω0) + 𝒞(Σ), splits into an anticorrelated part C̄ − W and a
        white part W = 𝒞(S_W) (the ``white`` of :meth:`sample_spectra`): this keeps both the per-step covariance
        and the epoch's summed covariance of the decoupled process. 𝒞 needs per-sample curvature, so W is
        measured, not computed here: the change of C when the state fluctuates with covariance S_W
        (:func:`~sgdpotential.nn.probes.noise_covariance_response`).

        Examples
        --------
        >>> m = LinearSGD(0.1, 10, n_train=1000)          # 100 minibatches per epoch
        >>> float(m.uncancelled_state([[1e-4]], [[1.0]])[0, 0]) < 0.01   # slower than an epoch: cancels
        True
        >>> round(float(m.uncancelled_state([[10.0]], [[1.0]])[0, 0]), 2)   # αλ = 1: forgets in one step
        1.0
        """
        Sigma = np.asarray(Sigma, dtype=float)
        S = Sigma - self.within_epoch_memory(H) @ Sigma
        return (S + S.T) / 2

    def _noise_model(self, H, C, white=None) -> _NoiseModel:
        """H's eigenbasis, the per-step noise, the epoch structure and the start covariance of the simulations."""
        H = np.asarray(H, dtype=float)
        h, V = np.linalg.eigh((H + H.T) / 2)
        a = self.lr * h

        def rotated(M):  # α²M in H's eigenbasis, symmetrised
            out = V.T @ (self.lr**2 * np.asarray(M, dtype=float)) @ V
            return (out + out.T) / 2

        base = rotated(C)
        # with replacement every step is independent anyway: no white part to split off
        white_base = rotated(white) if white is not None and self.n_train is not None else None
        tol = SINGULARITY_RTOL * max(float(np.max(np.abs(a))), 1.0)
        s_idx = np.flatnonzero((a > tol) & (a < 2 - tol))
        a_s, r_s = a[s_idx], 1.0 - a[s_idx]
        d = a_s[:, None] + a_s[None, :] - a_s[:, None] * a_s[None, :]  # 1 − r_k r_l without cancellation
        if self.n_train is None:
            scale, m, lam = 1.0 / self.batch_size, 1, 0.0
            sig0 = scale * base[np.ix_(s_idx, s_idx)] / d  # the d = 1 stationary pair moment 1/(1 − r_k r_l)
        else:
            N, B = self.n_train, self.batch_size
            m = N // B
            scale, lam = N / (B * (N - 1)), 1.0 - np.sqrt(1.0 - m * B / N)
            dm = _one_minus_power(1.0 - d, d, m)            # 1 − (r_k r_l)^m
            S = _one_minus_power(r_s, a_s, m) / a_s          # Σ_{j<m} r^j
            anti = _anticorrelated(base, white_base)[np.ix_(s_idx, s_idx)]
            Q = anti * (scale * dm / d - S[:, None] * S[None, :] / (N - 1))
            if white_base is not None:
                Q = Q + self.sampling_factor / B * white_base[np.ix_(s_idx, s_idx)] * dm / d
            sig0 = Q / dm
        return _NoiseModel(a, V, base, scale, m, lam, s_idx, sig0, white_base)

    def _noise(self, nm: _NoiseModel):
        """draw(rng, epochs): the noise η of ``epochs`` epochs of m steps, (epochs·m, n) in H's eigenbasis —
        η_j = √a(z_j − λz̄) within each epoch (white, λ = 0, with replacement) plus, with a ``white`` part,
        independent steps. The noise factors are computed once (O(n³)); a draw costs O(epochs·m·n²)."""
        n, m = nm.a.size, nm.m
        L = _factor(nm.scale * _anticorrelated(nm.base, nm.white)).T
        LW = None if nm.white is None else _factor(self.sampling_factor / self.batch_size * nm.white).T

        def draw(rng, epochs: int) -> np.ndarray:
            eta = (rng.standard_normal((epochs * m, n)) @ L).reshape(epochs, m, n)
            if nm.lam:
                eta -= nm.lam * eta.mean(axis=1, keepdims=True)
            eta = eta.reshape(-1, n)
            if LW is not None:
                eta += rng.standard_normal((epochs * m, n)) @ LW
            return eta

        return draw

    def _windows(self, H, C, steps: int, paths: int, stride: int, seed: int, white=None):
        """``paths`` simulated windows as (T, n) snapshots in H's eigenbasis (see :meth:`sample_spectra`)."""
        nm = self._noise_model(H, C, white)
        n, m, s_idx = nm.a.size, nm.m, nm.stable
        r = 1.0 - nm.a
        L0, draw = _factor(nm.start), self._noise(nm)
        T = steps // stride
        epochs = -(-steps // m)
        rng = np.random.default_rng(seed)
        for _ in range(paths):
            y = np.zeros(n)
            y[s_idx] = L0 @ rng.standard_normal(s_idx.size)
            eta = draw(rng, epochs)
            snaps = np.empty((T, n))
            for t in range(steps):
                y = r * y + eta[t]
                if (t + 1) % stride == 0:
                    snaps[(t + 1) // stride - 1] = y
            yield snaps

    def laws(self, H, C, steps: int) -> dict[str, np.ndarray | DecompositionError]:
        """Every law of :data:`LAWS` for a window of ``steps`` SGD steps; a law that is undefined here (e.g. no
        stationary state along a flat direction) is returned as its :class:`DecompositionError`."""
        fns = {"continuous": lambda: self.continuous(H, C), "discrete": lambda: self.discrete(H, C),
               "window_stationary": lambda: self.window(H, C, steps),
               "window_from_w0": lambda: self.window(H, C, steps, start=0)}
        out: dict = {}
        for name in LAWS:
            try:
                out[name] = fns[name]()
            except DecompositionError as exc:
                out[name] = exc
        return out

    def describe(self) -> dict:
        """JSON-ready: the optimizer, α, B, N_L, ε and κ."""
        return {"optimizer": "sgd", "lr": self.lr, "batch_size": self.batch_size, "n_train": self.n_train,
                "eps": self.eps, "sampling_factor": self.sampling_factor}


class _NoiseModel(NamedTuple):
    """What :meth:`LinearSGD._noise_model` derives once for the simulations, in H's eigenbasis."""

    a: np.ndarray        # αλ_i
    V: np.ndarray        # H's eigenvectors
    base: np.ndarray     # α²C in that basis (all of it, the white part included)
    scale: float         # the per-step noise is scale·base (before the within-epoch correction)
    m: int               # steps per epoch (1 with replacement)
    lam: float           # within-epoch correction η_j − λ η̄ (0 with replacement)
    stable: np.ndarray   # indices of the modes with a stationary law (0 < αλ < 2)
    start: np.ndarray    # their start covariance (stationary, or at an epoch boundary)
    white: np.ndarray | None  # α²W, the part of α²C drawn independently per step (reshuffled epochs only)


def _anticorrelated(base: np.ndarray, white: np.ndarray | None) -> np.ndarray:
    """α²(C − W): the part of the noise anticorrelated within an epoch (all of it without a white part)."""
    return base if white is None else base - white


def _factor(cov) -> np.ndarray:
    """L with LLᵀ = cov for a symmetric PSD ``cov`` (eigenvalues below 0 from round-off set to 0)."""
    w, U = np.linalg.eigh((cov + cov.T) / 2)
    return U * np.sqrt(np.clip(w, 0.0, None))


def _one_minus_power(x, one_minus_x, m: int):
    """1 − x^m, accurate when x is close to 1 (``one_minus_x`` = 1 − x computed without cancellation)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        near = -np.expm1(m * np.log1p(-one_minus_x))
    return np.where(x > 0, near, 1.0 - x**m)


@dataclass(frozen=True)
class LinearMomentumSGD(LinearSGD):
    r"""Heavy-ball SGD (``torch.optim.SGD(momentum=μ)``, dampening 0) linearised at ω0: the recursion in
    (x, u) of :mod:`~sgdpotential.theory.momentum`, z_{t+1} = Az_t − α(1, 1)ᵀξ_t, Cov ξ = κC/B.

    Parameters
    ----------
    lr, batch_size, n_train
        As in :class:`LinearSGD`.
    momentum : float
        μ ∈ [0, 1); μ = 0 gives exactly :class:`LinearSGD`'s laws.

    Attributes
    ----------
    effective_lr : float
        α/(1 − μ), the learning rate of the overdamped (small αh) limit, in which heavy-ball SGD is plain SGD.
    eps : float
        ε = α²/(2B(1 − μ)²); F = αH/(1 − μ), D = κC: the continuous law (paper Eq. 14) and Ao's decomposition
        of the overdamped limit. The exact discrete and finite-window laws hold at any α in the stable range
        0 < αλ < 2(1 + μ) (Liu, Ziyin & Ueda 2021).

    Examples
    --------
    >>> m = LinearMomentumSGD(0.1, 1, momentum=0.9)
    >>> round(float(m.discrete([[2.0]], [[1.0]])[0, 0]), 6)  # α(1+μ)C/(B(1−μ)h(2(1+μ) − αh))
    0.263889
    >>> round(float(m.continuous([[2.0]], [[1.0]])[0, 0]), 6)  # the overdamped limit α_eff C/(2Bh)
    0.25
    """

    momentum: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "momentum", check_momentum(self.momentum))

    @property
    def effective_lr(self) -> float:
        """α/(1 − μ)."""
        return self.lr / (1 - self.momentum)

    def discrete(self, H, C) -> np.ndarray:
        """The exact stationary law of the heavy-ball recursion (:func:`~.momentum.momentum_stationary_covariance`)."""
        return momentum_stationary_covariance(H, C, self.lr, self.batch_size, self.momentum, n_train=self.n_train)

    def window(self, H, C, steps: int, start: str | int = "stationary") -> np.ndarray:
        """The expected sample covariance of ``steps`` consecutive iterates
        (:func:`~.momentum.momentum_window_covariance`; an integer ``start`` begins at ω0 with zero velocity)."""
        return momentum_window_covariance(H, C, self.lr, self.batch_size, self.momentum, steps, start=start,
                                          n_train=self.n_train)

    def start_covariance(self, H, C, white=None) -> np.ndarray:
        """The weight block of the law the simulated windows start from (see :meth:`_windows`)."""
        nm = self._noise_model(H, C, white)
        Z, stable = self._momentum_start(nm)
        V = nm.V
        n = V.shape[0]
        x = np.zeros((n, n))
        x[np.ix_(stable, stable)] = Z[: stable.size, : stable.size]
        return V @ x @ V.T

    def _momentum_start(self, nm: _NoiseModel):
        """The stationary covariance of (x, u) over the stable modes in H's eigenbasis (blocks [[xx, xu], [ux,
        uu]]) for the noise model ``nm``, and the stable modes' indices."""
        stable = np.flatnonzero(stable_modes(nm.a, self.momentum))
        s = stable.size
        i, j = np.triu_indices(s)
        S = _pair_blocks(nm.a[stable][i], nm.a[stable][j], self.momentum)
        blocks = np.empty((s, s, 2, 2))
        blocks[i, j], blocks[j, i] = S, np.swapaxes(S, 1, 2)
        q = self.sampling_factor / self.batch_size * nm.base[np.ix_(stable, stable)]  # κα²C̃/B, all of it white
        Z = (q[:, :, None, None] * blocks).transpose(2, 0, 3, 1).reshape(2 * s, 2 * s)
        return (Z + Z.T) / 2, stable

    def _windows(self, H, C, steps: int, paths: int, stride: int, seed: int, white=None):
        """``paths`` simulated windows of the heavy-ball recursion in H's eigenbasis: per mode
        x' = (1 − αh)x + μu + η, u' = −αhx + μu + η, the noise η exactly as :meth:`LinearSGD.sample_spectra`
        draws it. Each path starts from the stationary law of (x, u) along the stable modes (0 < αh < 2(1 + μ))
        and at 0 along the others — with reshuffled epochs the stationary law of κ-scaled white noise, not the
        epoch-boundary law (exact with replacement)."""
        nm = self._noise_model(H, C, white)
        Z, stable = self._momentum_start(nm)  # the same noise model: one eigendecomposition of H, not two
        n, m, mu, a = nm.a.size, nm.m, self.momentum, nm.a
        L0, draw = _factor(Z), self._noise(nm)
        T = steps // stride
        epochs = -(-steps // m)
        rng = np.random.default_rng(seed)
        for _ in range(paths):
            x, u = np.zeros(n), np.zeros(n)
            z0 = L0 @ rng.standard_normal(2 * stable.size)
            x[stable], u[stable] = z0[: stable.size], z0[stable.size :]
            eta = draw(rng, epochs)
            snaps = np.empty((T, n))
            for t in range(steps):
                x, u = (1.0 - a) * x + mu * u + eta[t], -a * x + mu * u + eta[t]
                if (t + 1) % stride == 0:
                    snaps[(t + 1) // stride - 1] = x
            yield snaps

    def describe(self) -> dict:
        """JSON-ready: as :meth:`LinearSGD.describe`, plus μ and the effective learning rate α/(1 − μ)."""
        return {**super().describe(), "optimizer": "sgd_momentum", "momentum": self.momentum,
                "effective_lr": self.effective_lr}

