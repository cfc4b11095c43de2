"""decompose(): structural invariants, an independent oracle, detailed balance, time reversal, scalings,
and the error messages of bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matrices import (
    general_force,
    kron_lyapunov,
    n_negative_real,
    orthogonal,
    rng_of,
    seeds,
    sizes,
    spd,
    symmetric_force,
)
from sgdpotential import DecompositionError, decompose

# Tolerances: well-conditioned inputs (eigenvalues in [0.5, 3], conditioning of M ≈ 2) lose only a few
# multiples of n·2⁻⁵² in O(n³) dense algebra; 1e-9 is the project's stated bound up to n = 200.
TOL = 1e-9


def rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-300)


def check_invariants(dec, F, D, eps):
    n = F.shape[0]
    assert dec.U.shape == dec.Q.shape == dec.S.shape == dec.A.shape == (n, n)
    np.testing.assert_array_equal(dec.U, dec.U.T)
    np.testing.assert_array_equal(dec.Q, -dec.Q.T)
    np.testing.assert_array_equal(dec.S, dec.S.T)
    np.testing.assert_array_equal(dec.A, -dec.A.T)
    # the invariants, recomputed here rather than read from dec.residuals
    assert rel(F, (D + dec.Q) @ dec.U) < TOL  # Eq. (9)
    assert rel(F @ dec.Q + dec.Q @ F.T, F @ D - D @ F.T) < TOL or np.linalg.norm(
        F @ dec.Q + dec.Q @ F.T - F @ D + D @ F.T
    ) < TOL * np.linalg.norm(F) * np.linalg.norm(D)  # Eq. (10), whose rhs vanishes when F, D commute
    Uinv = np.linalg.inv(dec.U)
    assert rel(F @ Uinv + Uinv @ F.T, 2 * D) < TOL  # Eq. (11)
    SA = dec.S + dec.A
    assert rel(dec.S, SA @ D @ (dec.S - dec.A)) < TOL  # Eq. (8)
    assert rel(SA @ (D + dec.Q), np.eye(n)) < TOL  # S + A = (D + Q)⁻¹
    assert rel(dec.lyapunov_solution, eps * Uinv) < TOL  # Eq. (15)
    assert max(dec.residuals.values()) < TOL
    assert set(dec.residuals) == {"eq8", "eq9", "eq10", "eq11", "eq14", "eq15"}


@given(n=sizes, seed=seeds, symmetric=st.booleans(), saddle=st.booleans(), eps=st.floats(1e-4, 1e2))
def test_invariants_random(n, seed, symmetric, saddle, eps):
    rng = rng_of(seed)
    k = int(rng.integers(1, n + 1)) if saddle else 0
    F = symmetric_force(rng, n, k) if symmetric else general_force(rng, n, k)
    D = spd(rng, n)
    dec = decompose(F, D, eps)
    check_invariants(dec, F, D, eps)
    assert dec.method == ("eigh" if symmetric or n == 1 else "schur")
    assert dec.kind == ("saddle" if k else "stable")
    # inertia theorem (Ostrowski–Schneider): with D ≻ 0, U has one negative eigenvalue per unstable mode
    assert int(np.sum(np.linalg.eigvalsh(dec.U) < 0)) == n_negative_real(F) == k


@pytest.mark.parametrize("n", [20, 60, 120, 200])
@pytest.mark.parametrize("symmetric", [True, False])
def test_invariants_up_to_200(n, symmetric):
    rng = rng_of(n)
    F = symmetric_force(rng, n) if symmetric else general_force(rng, n)
    D = spd(rng, n, 0.1, 3.0)
    check_invariants(decompose(F, D, 0.05), F, D, 0.05)


def test_rank_deficient_noise_that_reaches_every_direction():
    """D of rank 1 still gives a unique U when (F, D) is controllable (the noise is carried around)."""
    F = np.array([[1.0, 1.0], [-1.0, 1.0]])
    D = np.diag([1.0, 0.0])
    dec = decompose(F, D, 0.5)
    check_invariants(dec, F, D, 0.5)
    assert np.all(np.linalg.eigvalsh(dec.U) > 0)


@given(n=st.integers(1, 10), seed=seeds, symmetric=st.booleans())
def test_against_vectorized_oracle(n, seed, symmetric):
    """Eqs. (10) and (11) solved as n²×n² linear systems, independently of the package's solver."""
    rng = rng_of(seed)
    F = symmetric_force(rng, n, n // 3) if symmetric else general_force(rng, n, n // 3)
    D = spd(rng, n)
    eps = 0.7
    dec = decompose(F, D, eps)
    Uinv = kron_lyapunov(F, 2 * D)  # Eq. (11)
    Q = kron_lyapunov(F, F @ D - D @ F.T)  # Eq. (10)
    np.testing.assert_allclose(dec.U, np.linalg.inv(Uinv), rtol=0, atol=1e-10 * np.abs(dec.U).max())
    np.testing.assert_allclose(dec.Q, Q, rtol=0, atol=1e-10 * max(np.abs(Q).max(), 1e-300))
    np.testing.assert_allclose(dec.S + dec.A, np.linalg.inv(D + Q), rtol=0, atol=1e-10 * np.abs(dec.S).max())


def test_one_dimensional_closed_form():
    dec = decompose([[2.0]], [[3.0]], eps=0.5)
    assert dec.U[0, 0] == pytest.approx(2.0 / 3.0, rel=1e-15)  # F = DU
    assert dec.covariance[0, 0] == pytest.approx(0.5 * 3.0 / 2.0, rel=1e-15)  # εD/F
    assert dec.Q[0, 0] == 0.0
    assert dec.S[0, 0] == pytest.approx(1 / 3.0, rel=1e-15)


@pytest.mark.parametrize("symmetric", [True, False])
def test_detailed_balance(symmetric):
    """F = D·V with V symmetric gives Q = 0 and U = V (the potential is V, exactly as for gradient flow)."""
    rng = rng_of(3)
    n = 12
    D, V = spd(rng, n), spd(rng, n)
    F = D @ V if not symmetric else V  # symmetric case: D = I
    D = D if not symmetric else np.eye(n)
    dec = decompose(F, D, 0.2)
    assert np.linalg.norm(dec.Q) < 1e-12 * np.linalg.norm(D)
    np.testing.assert_allclose(dec.U, V, rtol=0, atol=1e-12 * np.abs(V).max())
    np.testing.assert_allclose(dec.A, 0, atol=1e-12)


def test_rotation_example_closed_form():
    """F = kI + wJ, D = I: Σ = (ε/k) I, U = kI, Q = (w/k) J."""
    k, w, eps = 1.5, 0.8, 0.3
    J = np.array([[0.0, 1.0], [-1.0, 0.0]])
    dec = decompose(k * np.eye(2) + w * J, np.eye(2), eps)
    np.testing.assert_allclose(dec.U, k * np.eye(2), atol=1e-15)
    np.testing.assert_allclose(dec.Q, (w / k) * J, atol=1e-15)
    np.testing.assert_allclose(dec.covariance, (eps / k) * np.eye(2), atol=1e-15)


@given(n=st.integers(2, 16), seed=seeds)
def test_time_reversal_keeps_U_and_flips_Q(n, seed):
    """The time-reversed stationary process has drift −F_R x with F_R = 2εDΣ⁻¹ − F (Σ from the oracle)."""
    rng = rng_of(seed)
    F, D, eps = general_force(rng, n), spd(rng, n), 0.4
    sigma = kron_lyapunov(F, 2 * eps * D)
    F_rev = 2 * eps * D @ np.linalg.inv(sigma) - F
    fwd, rev = decompose(F, D, eps), decompose(F_rev, D, eps)
    np.testing.assert_allclose(rev.U, fwd.U, rtol=0, atol=1e-9 * np.abs(fwd.U).max())
    np.testing.assert_allclose(rev.Q, -fwd.Q, rtol=0, atol=1e-9 * np.abs(fwd.Q).max())


def test_scalings():
    """ε → cε scales Σ only; D → cD scales Q by c and U by 1/c (REFERENCES.md)."""
    rng = rng_of(5)
    F, D = general_force(rng, 8), spd(rng, 8)
    base = decompose(F, D, 0.1)
    hot = decompose(F, D, 0.1 * 7.0)
    np.testing.assert_allclose(hot.U, base.U, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(hot.Q, base.Q, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(hot.covariance, 7.0 * base.covariance, rtol=1e-12, atol=1e-13)
    loud = decompose(F, 3.0 * D, 0.1)
    np.testing.assert_allclose(loud.Q, 3.0 * base.Q, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(loud.U, base.U / 3.0, rtol=1e-12, atol=1e-13)


def test_eigh_and_schur_agree_on_symmetric_F():
    rng = rng_of(11)
    F, D = symmetric_force(rng, 30, 4), spd(rng, 30)
    a, b = decompose(F, D, 0.3, method="eigh"), decompose(F, D, 0.3, method="schur")
    assert (a.method, b.method) == ("eigh", "schur")
    for x, y in ((a.U, b.U), (a.Q, b.Q), (a.S, b.S), (a.A, b.A)):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-11 * np.abs(x).max())


@pytest.mark.parametrize("saddle", [0, 3])
def test_eigenbasis_residuals_and_inverse_equal_the_reference(saddle):
    """The symmetric path's fast parts against their references: residuals computed in F's eigenbasis against
    the same residual formulas in the original basis, and U from the Cholesky inverse (stable: Σ positive
    definite) or ``eigh`` (saddle: Σ indefinite) against ``np.linalg.inv``."""
    from sgdpotential.theory.decomposition import _residuals

    rng = rng_of(5 + saddle)
    F, D = symmetric_force(rng, 40, saddle), spd(rng, 40)
    dec = decompose(F, D, 0.2)
    assert dec.method == "eigh" and dec.kind == ("saddle" if saddle else "stable")
    ref = _residuals(F, D, 0.2, dec.U, dec.Q, dec.S, dec.A, dec.lyapunov_solution)
    for key, value in dec.residuals.items():
        assert value < TOL and ref[key] < TOL  # both at round-off: equal up to round-off of round-off
    # a residual that is not round-off is reproduced: perturb U and compare both bases on the same input
    from sgdpotential.theory.decomposition import _residuals_eig

    V = np.linalg.eigh(F)[1]
    lam = np.linalg.eigvalsh(F)
    U_bad = dec.U + 1e-3 * np.eye(40)
    SA = dec.S + dec.A
    got = _residuals_eig(lam, V.T @ D @ V, 0.2, V.T @ U_bad @ V, V.T @ dec.Q @ V, V.T @ SA @ V,
                         V.T @ dec.lyapunov_solution @ V)
    want = _residuals(F, D, 0.2, U_bad, dec.Q, dec.S, dec.A, dec.lyapunov_solution)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-6, abs=1e-13)
    assert want["eq9"] > 1e-5  # the perturbation shows
    np.testing.assert_allclose(dec.U, 0.2 * np.linalg.inv(dec.lyapunov_solution), rtol=0,
                               atol=1e-10 * np.abs(dec.U).max())


def test_probed_residuals_estimate_the_exact_ones():
    """From n = 200 the residuals are estimated from 8 random probes: at round-off for a correct decomposition, and
    within a factor 3 of the exact value for a wrong one (U perturbed)."""
    from sgdpotential.theory.decomposition import _residuals_eig, _residuals_probed

    n = 220
    rng = rng_of(n)
    F, D = symmetric_force(rng, n), spd(rng, n)
    dec = decompose(F, D, 0.1)
    assert max(dec.residuals.values()) < TOL
    lam, V = np.linalg.eigh(F)
    args = [V.T @ X @ V for X in (D, dec.U + 1e-3 * np.eye(n), dec.Q, dec.S + dec.A, dec.lyapunov_solution)]
    exact = _residuals_eig(lam, args[0], 0.1, *args[1:])
    probed = _residuals_probed(lam, args[0], 0.1, *args[1:])
    for key in ("eq9", "eq11", "eq15"):  # those the perturbation of U reaches
        assert exact[key] > 1e-5 and 1 / 3 < probed[key] / exact[key] < 3, (key, exact[key], probed[key])


def test_cholesky_route_of_the_inverse():
    """From n = 200 a positive definite Σ is inverted by Cholesky: U = εΣ⁻¹ as np.linalg.inv gives it, and a
    singular Σ (noise that misses a direction) is still refused with the one message."""
    from sgdpotential.theory._checks import PSD_CHOLESKY_MIN

    n = 260
    assert n >= PSD_CHOLESKY_MIN
    rng = rng_of(n)
    F, D = symmetric_force(rng, n), spd(rng, n, 0.1, 3.0)
    dec = decompose(F, D, 0.05)
    check_invariants(dec, F, D, 0.05)
    np.testing.assert_allclose(dec.U, 0.05 * np.linalg.inv(dec.lyapunov_solution), rtol=0,
                               atol=1e-9 * np.abs(dec.U).max())
    for missed in (0.0, 1e-17):  # no noise, or noise below round-off, along one eigenvector of F
        # (Cholesky fails on the first; it succeeds on the second and the Lanczos test hands it to eigh)
        D_miss = np.diag(np.r_[missed, np.linspace(1.0, 2.0, n - 1)])
        with pytest.raises(DecompositionError, match=r"Σ is singular to working precision"):
            decompose(np.diag(np.linspace(1.0, 2.0, n)), D_miss, 0.05)


@pytest.mark.parametrize("n", [50, 300])  # below and above the Cholesky route's size
def test_psd_check_by_cholesky_keeps_the_rule(n):
    """λ_min ≥ −1e-10·λ_max is accepted, below is refused with the eigenvalue named, on both routes."""
    from sgdpotential.theory._checks import PSD_CHOLESKY_MIN, require_psd

    assert (n >= PSD_CHOLESKY_MIN) == (n == 300)
    R = orthogonal(rng_of(n), n)
    lam = np.linspace(0.0, 2.0, n)
    for low, ok in ((0.0, True), (-1e-12, True), (-1e-9, False), (-0.5, False)):
        lam[0] = low
        M = (R * lam) @ R.T
        M = (M + M.T) / 2
        if ok:
            require_psd("D", M, "a diffusion matrix")
        else:
            refused = r"D must be positive semi-definite .* eigenvalue -\S+ \(largest 2\)"
            with pytest.raises(DecompositionError, match=refused):
                require_psd("D", M, "a diffusion matrix")


def test_saddle_has_potential_but_no_covariance():
    dec = decompose(np.diag([1.0, -2.0, 3.0]), np.eye(3), 0.5)
    assert dec.kind == "saddle"
    np.testing.assert_allclose(np.diag(dec.U), [1.0, -2.0, 3.0])
    with pytest.raises(DecompositionError, match=r"eigenvalue -2 with Re λ ≤ 0 \(1 of 3\).*no stationary covariance"):
        _ = dec.covariance
    np.testing.assert_allclose(dec.lyapunov_solution, 0.5 * np.diag([1.0, -0.5, 1 / 3]))


def test_potential_function():
    dec = decompose(np.diag([1.0, 2.0]), np.eye(2))
    np.testing.assert_allclose(dec.potential([[1.0, 1.0], [2.0, 0.0]]), [1.5, 2.0])


# ---- bad input: one exception type, a message that names the value and the fix ----


@pytest.mark.parametrize(
    ("F", "D", "eps", "message"),
    [
        (np.ones((2, 3)), np.eye(2), 1.0, r"F has shape \(2, 3\); it must be a square \(n, n\) matrix"),
        (np.ones(3), np.eye(3), 1.0, r"F has shape \(3,\); it must be a square"),
        (np.eye(2), np.eye(3), 1.0, r"D has shape \(3, 3\) but the force/Hessian matrix is 2×2"),
        (np.zeros((0, 0)), np.zeros((0, 0)), 1.0, r"F is empty"),
        ([[1.0, np.nan], [0.0, 1.0]], np.eye(2), 1.0, r"F has 1 non-finite entry, first F\[0, 1\] = nan"),
        (np.eye(2), [[1.0, 0.0], [0.0, np.inf]], 1.0, r"D has 1 non-finite entry, first D\[1, 1\] = inf"),
        (np.eye(2) + 0j, np.eye(2), 1.0, r"F is complex; pass a real matrix"),
        (np.eye(2), [[1.0, 0.5], [0.0, 1.0]], 1.0,
         r"D must be symmetric \(a diffusion matrix\) but has relative asymmetry .*D\[0, 1\] = 0.5 vs D\[1, 0\] = 0.*"
         r"pass \(D \+ D.T\) / 2"),
        (np.eye(2), np.diag([1.0, -1.0]), 1.0,
         r"D must be positive semi-definite \(a diffusion matrix\) but has eigenvalue -1 \(largest 1\)"),
        (np.eye(2), np.eye(2), 0.0, r"eps = 0.0 must be a finite number > 0; the noise strength ε must be positive"),
        (np.eye(2), np.eye(2), float("nan"), r"eps = nan must be a finite number > 0"),
        (np.eye(2), np.eye(2), "1", r"eps = '1' must be a finite number > 0"),
        (np.diag([1.0, -1.0]), np.eye(2), 1.0,
         r"F has eigenvalues λ_i = -1 and λ_j = 1 that sum to 0 .*no unique solution.*remove flat/marginal directions"),
        ([[0.0, 1.0], [-1.0, 0.0]], np.eye(2), 1.0, r"F has eigenvalue λ = 0\+1j with Re λ ≈ 0"),
        (np.diag([1.0, 1e-13]), np.eye(2), 1.0, r"F has eigenvalue λ = 1e-13 with Re λ ≈ 0"),
        (np.zeros((2, 2)), np.eye(2), 1.0, r"F is the zero matrix"),
        (np.diag([1.0, 2.0]), np.diag([1.0, 0.0]), 1.0,
         r"Σ is singular to working precision .*the noise D does not reach every direction of F"),
    ],
)
def test_bad_input_messages(F, D, eps, message):
    with pytest.raises(DecompositionError, match=message):
        decompose(F, D, eps)


def test_error_is_a_value_error_and_bad_method():
    with pytest.raises(ValueError, match=r"method = 'lu' is not one of 'auto', 'eigh', 'schur'"):
        decompose(np.eye(2), np.eye(2), method="lu")
    with pytest.raises(DecompositionError, match=r"F must be symmetric \(method='eigh'"):
        decompose([[1.0, 1.0], [0.0, 1.0]], np.eye(2), method="eigh")


@pytest.mark.slow
def test_feng_tu_size():
    """n = 2,500 (the 50×50 hidden weights of the Feng–Tu net), SGD-like symmetric F spanning 2 decades."""
    rng = rng_of(2500)
    n = 2500
    R = orthogonal(rng, n)
    F = (R * np.logspace(-2, 0, n)) @ R.T
    Y = rng.standard_normal((n, n))
    D = Y @ Y.T / n + 1e-3 * np.eye(n)
    dec = decompose(F, D, 1e-4)
    assert dec.method == "eigh" and dec.kind == "stable"
    assert dec.max_residual() < TOL


# ---- decompose_eigenbasis: the same decomposition, kept in F's eigenbasis ----


@given(n=sizes, seed=seeds, saddle=st.booleans(), eps=st.floats(1e-4, 1e2))
def test_the_eigenbasis_decomposition_equals_decompose(n, seed, saddle, eps):
    from sgdpotential import decompose_eigenbasis

    rng = rng_of(seed)
    F = symmetric_force(rng, n, int(rng.integers(1, n + 1)) if saddle else 0)
    D = spd(rng, n)
    ref, lazy = decompose(F, D, eps), decompose_eigenbasis(F, D, eps)
    assert lazy.kind == ref.kind and lazy.residuals == ref.residuals
    np.testing.assert_array_equal(lazy.eigenvalues, ref.eigenvalues)
    V = lazy.basis
    np.testing.assert_allclose(V.T @ V, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(V @ np.diag(lazy.eigenvalues) @ V.T, F, atol=1e-12 * np.abs(F).max())
    for got, want in ((lazy.U, ref.U), (lazy.Q, ref.Q), (lazy.S, ref.S), (lazy.A, ref.A),
                      (lazy.lyapunov_solution, ref.lyapunov_solution)):
        np.testing.assert_array_equal(got, want)  # the same arithmetic: decompose's symmetric path is this one
    # the eigenbasis matrices themselves, against rotating the reference into the basis
    for got, want in ((lazy.U_eig, ref.U), (lazy.Q_eig, ref.Q), (lazy.SA_eig, ref.S + ref.A),
                      (lazy.sigma_eig, ref.lyapunov_solution), (lazy.D_eig, D)):
        np.testing.assert_allclose(got, V.T @ want @ V, rtol=0, atol=1e-9 * max(np.abs(want).max(), 1e-300))
    x = rng.standard_normal((3, n))
    np.testing.assert_allclose(lazy.potential(x), ref.potential(x), rtol=1e-10, atol=1e-12)
    check_invariants(lazy, F, D, eps)


def test_the_eigenbasis_decomposition_rotates_only_what_is_asked_for():
    from sgdpotential import decompose_eigenbasis

    rng = rng_of(3)
    F, D = symmetric_force(rng, 12, 0), spd(rng, 12)
    dec = decompose_eigenbasis(F, D, 0.1)
    assert not {"U", "Q", "lyapunov_solution", "_SA"} & set(vars(dec))  # nothing rotated yet
    U = dec.U
    assert dec.U is U and "U" in vars(dec) and "Q" not in vars(dec)  # rotated once, then kept
    inv = 0.1 * np.linalg.inv(U)
    np.testing.assert_allclose(dec.covariance, inv, rtol=0, atol=1e-10 * np.abs(inv).max())


def test_the_eigenbasis_decomposition_refuses_a_general_F_and_keeps_the_saddle_rule():
    from sgdpotential import decompose_eigenbasis

    with pytest.raises(DecompositionError, match=r"F must be symmetric \(decompose_eigenbasis works in F's "
                                                 r"orthonormal eigenbasis; use decompose for a general F\)"):
        decompose_eigenbasis([[1.0, 1.0], [0.0, 1.0]], np.eye(2))
    dec = decompose_eigenbasis(np.diag([1.0, -2.0, 3.0]), np.eye(3), 0.5)
    assert dec.kind == "saddle"
    with pytest.raises(DecompositionError, match=r"no stationary covariance"):
        _ = dec.covariance
    np.testing.assert_allclose(np.diag(dec.U), [1.0, -2.0, 3.0])
