"""The claims the tool tests and the warnings that bind them: one registry, as data.

Every prediction the package compares a measurement with is defined here once — a module constant for each
number a source states, and :data:`CLAIMS`, one :class:`Claim` per tested statement with its source (paper and
equation), the quantity measured, the prediction, the **equivalence margin** and the reason for that margin.
:data:`WARNINGS` lists the named warnings of a run, most severe first, with the claims each one invalidates
(their verdict becomes *inconclusive*, the warning named) or merely qualifies (named beside the verdict). The rules
that turn an interval into a verdict are in :mod:`sgdpotential.verdicts`; the findings of a run are assembled in
:mod:`sgdpotential.pipeline.findings`; every sentence and table is rendered from those by :mod:`sgdpotential.report`.

Where a claim has a competing prediction, its margin is **half the distance from the prediction to the nearest
competitor**, in the units of the claim, so that a *consistent* interval tells the two apart; the others (curvature
against flatness, stationarity) state their own reason. ``docs/verdicts.md`` is generated from this module
(``python docs/make_findings.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = [
    "BOLTZMANN_SLOPE",
    "CLAIMS",
    "FENG_TU_PSI",
    "FENG_TU_THETA",
    "LINEAR_VARIANCE_SLOPE",
    "LITERATURE_GAMMA",
    "PAPER_N",
    "QUADRATIC_H_EXPONENT",
    "SWEEP_CLAIMS",
    "WARNINGS",
    "Claim",
    "WarningKind",
    "claim",
    "group_warnings",
    "warning_kind",
]

# ------------------------------------------------------------------------------------------------ the predictions

#: Feng & Tu (PNAS 2021): σ_i² ∝ F_i^−ψ with ψ ≈ 4 along the principal directions of a window (the founding
#: paper's Eq. 2), which the founding paper derives with :data:`PAPER_N` (ψ = 2n − 2).
FENG_TU_PSI = 4.0
#: Feng & Tu's Fig. S6: the spread of the minibatch minima grows with flatness, σ_θ,i ∝ F_i^+1.
FENG_TU_THETA = 1.0
#: The founding paper's Scaling Analysis: diffusion D ∝ F^n in the force matrix F_ii ∝ F_i^−2, "n > 2", "taking
#: n ≈ 3" — so D_ii ∝ F_i^−2n, σ_i² ∝ F_i^−(2n−2) and σ_θ,i ∝ F_i^(2−n) (Eq. 24).
PAPER_N = 3.0
#: The curvature of a quadratic profile against its flatness, H ∝ F^−2 (the paper's Eq. 25: "by definition").
QUADRATIC_H_EXPONENT = -2.0
#: Boltzmann's law in its own energy: variance ∝ (flatness of the energy)^+2 — in the stochastic potential U
#: (paper Eqs. 6, 15), and in the loss when the noise is isotropic (the paper's Discussion; Chaudhari & Soatto).
BOLTZMANN_SLOPE = 2.0
#: The literature's C_ii ∝ H_ii^γ: 1 ≤ γ ≤ 2 (Zhang, Yang & Tu 2026; C ≈ H/B near minima, Xie, Sato & Sugiyama).
LITERATURE_GAMMA = (1.0, 2.0)
#: The linear model of SGD: ε = α²/2B and F = αH give Σ ∝ α/B (paper Eqs. 14, 17–19).
LINEAR_VARIANCE_SLOPE = 1.0

#: The equivalence margin of ψ and of the claims measured in units of ψ.
PSI_MARGIN = 1.0
#: Half the distance between the two competing σ_θ exponents (the founding paper's 2 − n and Feng & Tu's).
_THETA_MARGIN = (FENG_TU_THETA - (2 - PAPER_N)) / 2
#: Half the step between the literature's upper noise exponent and the founding paper's n.
_GAMMA_MARGIN = (PAPER_N - LITERATURE_GAMMA[1]) / 2


def _num(x: float, signed: bool = False) -> str:
    """A prediction as a title writes it: a true minus sign, ``signed`` for exponents (+2, −6)."""
    return format(x, "+g" if signed else "g").replace("-", "−")


@dataclass(frozen=True)
class Claim:
    """A tested statement.

    Attributes
    ----------
    key : str
        Its name in ``summary.json["findings"]``.
    title : str
        What is claimed, in a few words (the scorecard's first column).
    source : str
        Who claims it, and where (paper and equation).
    quantity : str
        What the tool measures to test it.
    symbol : str
        The measured quantity in a sentence ("ψ", "slope", …).
    prediction : float, (float, float) or None
        The predicted value, or a (low, high) range; None for a claim decided against a simulated null.
    margin : float or None
        The equivalence margin (:func:`~sgdpotential.verdicts.equivalence`); None for a null-based claim.
    margin_reason : str
        Why that margin.
    rule : str
        ``"equivalence"`` (interval against prediction ± margin), ``"null"`` (band medians inside the range
        sampling alone gives) or ``"above_null"`` (above that range).
    tags : frozenset of str
        What the claim rests on (``pca_fit``: a fit along the window's principal directions; ``protocol``: Feng &
        Tu's window, after the target accuracy; ``probes_vs_run``: the trajectory set against the probes; ``law``: a
        linear law or replay; ``moment_law``: the subspace moment law; ``stationary``: a stationary law; ``ladder``;
        ``premise``); a warning invalidates or qualifies the claims whose tags it names.
    """

    key: str
    title: str
    source: str
    quantity: str
    symbol: str
    prediction: float | tuple[float, float] | None
    margin: float | None
    margin_reason: str
    rule: str = "equivalence"
    tags: frozenset = field(default_factory=frozenset)


def _n_step(what: str) -> str:
    return (f"half a unit of the noise exponent n (D ∝ F^n), in units of {what}: a consistent interval places n "
            f"nearer the paper's n = {PAPER_N:g} than either neighbouring integer (the literature's n = "
            f"{PAPER_N - 1:g} among them)")


#: What the ψ claims' quantity says of the headline estimator's interval (sgdpotential.pipeline.calibrated).
_HEADLINE_INTERVAL = ("; the estimator the calibration study supports (the headline) has it widened on each side by "
                      "its calibrated bias allowance (docs/calibration.md)")

_PSI = Claim(
    key="psi", title=f"IVF: σ_i² ∝ F_i^−ψ, ψ ≈ {_num(FENG_TU_PSI)}",
    source="Feng & Tu, PNAS 2021; founding paper Eq. (2), derived in its Scaling Analysis",
    quantity="ψ, minus the slope of log σ_i² against log F_i over the window's own principal directions (drift and "
             "censored directions left out), with a 95% pairs-bootstrap interval" + _HEADLINE_INTERVAL,
    symbol="ψ", prediction=FENG_TU_PSI, margin=PSI_MARGIN,
    margin_reason=("ψ = 2n − 2 when D ∝ F^n, so one unit of ψ is " + _n_step("ψ") + "; it also separates the "
                   "prediction from isotropic noise (ψ = 0) and from equilibrium in the loss (ψ = −2)"),
    tags=frozenset({"pca_fit", "protocol", "probes_vs_run"}))

#: Every claim a run tests, in the scorecard's order.
CLAIMS: tuple[Claim, ...] = (
    _PSI,
    replace(_PSI, key="psi_heldout", title=f"IVF ψ ≈ {_num(FENG_TU_PSI)}, held out",
            quantity="ψ over directions from the first half of the window and variances from the second half, with a "
                     "95% pairs-bootstrap interval" + _HEADLINE_INTERVAL),
    Claim(key="sigma_subspace", title="Σ = εU⁻¹ in the principal subspace (exact finite-window form)",
          source="founding paper Eqs. (14)–(15), with SGD's exact discrete law (Liu, Ziyin & Ueda 2021)",
          quantity="per band of the relaxation index, the median of measured σ_i² over the mean of the same PCA "
                   "applied to windows simulated from the linear law with F = αH_P, D = κC̄_P (same T, stride, "
                   "sampling)", symbol="measured/simulated", prediction=None, margin=None,
          margin_reason="decided against the range that sampling alone gives over the simulated windows",
          rule="null", tags=frozenset({"law", "moment_law"})),
    Claim(key="sigma_replayed", title="The linearization in every weight (Eq. 20) carries the fluctuations",
          source="founding paper Eq. (20); replayed windows started where the window started",
          quantity="per band, median measured σ_i² over the mean of the same PCA applied to windows replayed on the "
                   "minibatch-Hessian linearization with the run's sampling", symbol="measured/replayed",
          prediction=None, margin=None,
          margin_reason="decided against the range that sampling alone gives over the replayed windows",
          rule="null", tags=frozenset({"law"})),
    Claim(key="boltzmann_u", title=f"Boltzmann in the stochastic potential: σ_i² ∝ F_U,i^{_num(BOLTZMANN_SLOPE, True)}",
          source="founding paper Eqs. (6), (15) and its Fig. 1",
          quantity="slope of log σ_i² against the log flatness of U = εΣ⁻¹ of the continuous subspace law",
          symbol="slope", prediction=BOLTZMANN_SLOPE, margin=BOLTZMANN_SLOPE / 2,
          margin_reason="half the distance to no relation between variance and the potential's flatness (slope 0)",
          tags=frozenset({"pca_fit", "law", "stationary"})),
    Claim(key="hessian_vs_flatness",
          title=f"Curvature against flatness: H_P,ii ∝ F_i^{_num(QUADRATIC_H_EXPONENT, True)}",
          source="founding paper Eq. (25) (“by definition of flatness”)",
          quantity="slope of log H_P,ii against log F_i", symbol="slope", prediction=QUADRATIC_H_EXPONENT,
          margin=PSI_MARGIN / (PAPER_N - 1),
          margin_reason=("σ² ∝ F^(−a(n−1)) when H ∝ F^a, so at the paper's n an error of this size in a moves ψ by "
                         "ψ's own margin"),
          tags=frozenset({"pca_fit", "protocol"})),
    Claim(key="noise_vs_flatness", title=f"Diffusion against flatness: C_P,ii ∝ F_i^{_num(-2 * PAPER_N, True)}",
          source="founding paper, Scaling Analysis (D_ii ∝ F_i^−2n, n ≈ 3)",
          quantity="slope of log C_P,ii against log F_i", symbol="slope", prediction=-2 * PAPER_N, margin=1.0,
          margin_reason="D ∝ F^−2n, so one unit of slope is " + _n_step("the slope"),
          tags=frozenset({"pca_fit", "protocol"})),
    Claim(key="theta_paper",
          title=f"Minibatch-minimum spread: σ_θ,i ∝ F_i^{_num(2 - PAPER_N, True)} (the founding paper)",
          source="founding paper Eq. (24) and Scaling Analysis (σ_θ,i² ∝ F_i^−2)",
          quantity="slope of log σ_θ,i (spread of the minibatch minima, Eq. 20) against log F_i", symbol="slope",
          prediction=2 - PAPER_N, margin=_THETA_MARGIN,
          margin_reason="half the distance between the two competing predictions (the founding paper's and Feng & "
                        "Tu's)", tags=frozenset({"pca_fit", "protocol"})),
    Claim(key="theta_feng_tu", title=f"Minibatch-minimum spread: σ_θ,i ∝ F_i^{_num(FENG_TU_THETA, True)} (Feng & Tu)",
          source="Feng & Tu, PNAS 2021, Fig. S6 (disputed by the founding paper)",
          quantity="slope of log σ_θ,i against log F_i", symbol="slope", prediction=FENG_TU_THETA,
          margin=_THETA_MARGIN,
          margin_reason="half the distance between the two competing predictions (the founding paper's and Feng & "
                        "Tu's)", tags=frozenset({"pca_fit", "protocol"})),
    Claim(key="noise_vs_hessian",
          title=f"Noise against curvature: C_ii ∝ H_ii^γ, {_num(LITERATURE_GAMMA[0])} ≤ γ ≤ "
                f"{_num(LITERATURE_GAMMA[1])} (literature)",
          source="Zhang, Yang & Tu 2026; Xie, Sato & Sugiyama, ICLR 2021 (C ≈ H/B)",
          quantity="slope of log C_P,ii against log H_P,ii", symbol="γ", prediction=LITERATURE_GAMMA,
          margin=_GAMMA_MARGIN,
          margin_reason="half the step from the literature's upper end to the founding paper's n",
          tags=frozenset({"pca_fit", "protocol"})),
    Claim(key="noise_vs_hessian_paper",
          title=f"Noise against curvature: C_ii ∝ H_ii^n, n ≈ {_num(PAPER_N)} (founding paper)",
          source="founding paper, Scaling Analysis (“we expect D ∼ F^n with n > 2”, “taking n ≈ 3”)",
          quantity="slope of log C_P,ii against log H_P,ii", symbol="γ", prediction=PAPER_N,
          margin=_GAMMA_MARGIN,
          margin_reason="half the step from the founding paper's n to the literature's upper end",
          tags=frozenset({"pca_fit", "protocol"})),
    Claim(key="pc1_drift", title="Low-dimensional drift–diffusion: PC1 is a drift",
          source="Feng & Tu, PNAS 2021; random-walk null of Antognini & Sohl-Dickstein, NeurIPS 2018",
          quantity="PC1's share of the window's variance against the 95% range of PC1's share over random walks "
                   "with the same T and the window's own spectrum of diffusing directions (no drift)",
          symbol="PC1 share", prediction=None, margin=None,
          margin_reason="decided against the range that diffusion alone gives", rule="above_null",
          tags=frozenset({"protocol"})),
    Claim(key="stationary", title="The window is stationary (Yaida's fluctuation–dissipation relation)",
          source="Yaida, ICLR 2019 (⟨w·g⟩ = (α/2)⟨|g|²⟩ at stationarity)",
          quantity="Yaida's FDR ratio over the window's recorded steps, with a 95% interval", symbol="FDR ratio",
          prediction=1.0, margin=0.1,
          margin_reason=("the ratio is 1 − Δ|w|²/Σ|Δw|²: within the margin the weight norm changes by less than "
                         "that share of the squared steps the window took — fluctuation, not drift"),
          tags=frozenset({"premise"})),
    Claim(key="ladder_batch", title="The minibatch-Hessian replay (Eq. 20, every weight) reproduces real ψ",
          source="founding paper Eq. (20); the model ladder", quantity="ψ of the replay minus ψ of real SGD, with "
                 "the conservative interval of the difference", symbol="Δψ", prediction=0.0, margin=PSI_MARGIN,
          margin_reason="ψ's own margin: a replay reproduces the run when their ψ differ by less than it",
          tags=frozenset({"law", "ladder"})),
    Claim(key="ladder_full", title="The full-Hessian replay (Eqs. 4/17, every weight) reproduces real ψ",
          source="founding paper Eqs. (4), (17); the model ladder", quantity="ψ of the replay minus ψ of real SGD",
          symbol="Δψ", prediction=0.0, margin=PSI_MARGIN,
          margin_reason="ψ's own margin: a replay reproduces the run when their ψ differ by less than it",
          tags=frozenset({"law", "ladder"})),
    Claim(key="ladder_isotropic",
          title=f"With isotropic noise IVF is lost: equilibrium in the loss, ψ = {_num(-BOLTZMANN_SLOPE)}",
          source="founding paper, Discussion (the loss is the energy iff the noise is isotropic; Chaudhari & "
                 "Soatto 2018)", quantity="ψ of the full-Hessian replay with isotropic noise of the same trace",
          symbol="ψ", prediction=-BOLTZMANN_SLOPE, margin=PSI_MARGIN,
          margin_reason="ψ's own margin (half a unit of n)", tags=frozenset({"law", "ladder"})),
)

#: Claims a sweep tests across its runs.
SWEEP_CLAIMS: tuple[Claim, ...] = (
    Claim(key="variance_vs_lr_over_b", title="The top variances scale as α/B",
          source="the linear model of SGD: ε = α²/2B and F = αH give Σ ∝ α/B (founding paper Eqs. 14, 17–19)",
          quantity="slope of log (mean σ² of the leading non-drift directions) against log α/B over the sweep's runs",
          symbol="slope", prediction=LINEAR_VARIANCE_SLOPE, margin=LINEAR_VARIANCE_SLOPE / 2,
          margin_reason="half the distance to a variance independent of α/B (slope 0)"),
)

_BY_KEY = {c.key: c for c in (*CLAIMS, *SWEEP_CLAIMS)}


def claim(key: str) -> Claim:
    """The registered claim named ``key``."""
    return _BY_KEY[key]


# ------------------------------------------------------------------------------------------------------- warnings


@dataclass(frozen=True)
class WarningKind:
    """A named warning: which claims it invalidates (by tag: their verdict becomes *inconclusive*) and which it
    qualifies (named beside the verdict), and the long explanation the docs print (the run's message is short)."""

    name: str
    invalidates: frozenset
    qualifies: frozenset
    explanation: str


#: The named warnings, most severe first (the order every page lists them in).
WARNINGS: tuple[WarningKind, ...] = (
    WarningKind("target_not_reached", frozenset({"pca_fit", "protocol"}), frozenset(),
                "Burn-in ended below the target training accuracy: the window is not the protocol's (Feng & Tu "
                "measure after the training error reaches zero), so every claim about the trained network's window "
                "is inconclusive. The comparisons of this very window with its own linear law stand."),
    WarningKind("model_not_deterministic", frozenset({"law", "probes_vs_run"}), frozenset({"pca_fit", "protocol"}),
                "In training mode a sample's output depends on the rest of its minibatch (BatchNorm's batch "
                "statistics): SGD descended a batch-coupled loss, while probes, laws and replays use eval mode (the "
                "running statistics at the window's end) — a nearby per-sample process, not the one trained. Claims "
                "that set the trained trajectory against eval-mode probes (ψ: the run's variances against eval-mode "
                "flatness) or against a law of the eval-mode process are inconclusive; relations among eval-mode "
                "probes alone (curvature, noise and flatness) stand, qualified. Compare with GroupNorm "
                "(model = 'resnet-gn')."),
    WarningKind("few_snapshots", frozenset({"pca_fit"}), frozenset(),
                "Fewer snapshots than a tenth of the recorded weights: the window sees a small corner of the "
                "weight space and its principal directions are mostly sampling noise. Fits along them are "
                "inconclusive; the sample-spectrum comparison simulates the same T and stands."),
    WarningKind("k_close_to_t", frozenset({"pca_fit"}), frozenset(),
                "More principal directions than a quarter of the snapshots: the deep components are dominated by "
                "sampling noise, so fits along them are inconclusive. Record a longer window or lower K."),
    WarningKind("few_fit_points", frozenset(), frozenset(),
                "A fit over fewer directions than the verdict rules need: its interval is unreliable and its verdict "
                "inconclusive (the warning names the fits). Raise K or the window length."),
    WarningKind("not_stationary", frozenset({"stationary"}), frozenset({"law"}),
                "Yaida's fluctuation–dissipation relation fails over the window: the weights drift (after 100% "
                "training accuracy the cross-entropy has no minimum and the weight norm grows). Claims that rest "
                "on a stationary law (Boltzmann in U) are inconclusive; the finite-window comparisons, which "
                "simulate the window from its start, stand but are qualified."),
    WarningKind("frozen_preconditioner", frozenset(), frozenset({"law"}),
                "The laws treat Adam's or RMSprop's second-moment estimate as frozen over the window: every law, "
                "simulated spectrum and replay is that approximation's (the warning states how far the "
                "preconditioner moved)."),
    WarningKind("drift_not_separated", frozenset(), frozenset({"pca_fit"}),
                "PC1 holds more than the random-walk null's share of the variance but no direction's motion is a "
                "linear trend: PC1 stays in the fits. Check trajectory.png."),
    WarningKind("reshuffled_minibatches", frozenset(), frozenset({"moment_law"}),
                "Reshuffled minibatches are anticorrelated within an epoch. The simulated windows of the subspace "
                "law model that with a decoupling approximation for the state-dependent part of the noise (on the "
                "exactly solvable case it leaves an excess of measured variance of a few percent, beyond sampling "
                "error), while the analytic laws treat the noise as white and over-predict directions slower than "
                "an epoch. The replayed windows (replay_paths) draw minibatches as the run did and are exact for a "
                "loss quadratic per sample; sampling = 'replacement' is modelled exactly by every law."),
)

_WARNING_BY_NAME = {w.name: w for w in WARNINGS}


def warning_kind(name: str) -> WarningKind:
    """The registered warning named ``name``."""
    return _WARNING_BY_NAME[name]


def group_warnings(named: list[tuple[str, list[str]]]) -> list[dict]:
    """The warnings of several runs (``[(run name, [warning names])]``), one entry per warning, most severe first:
    its ``name``, the ``runs`` it concerns and a ``message`` that holds for all of them (each run's own numbers are
    in its own report)."""
    out = []
    for kind in WARNINGS:
        runs = [run for run, names in named if kind.name in names]
        if runs:
            first = kind.explanation.split(": ")[0].split(". ")[0].rstrip(".")
            first = first[0].lower() + first[1:] if first[1:2].islower() else first
            out.append({"name": kind.name, "runs": runs,
                        "message": f"{len(runs)} of {len(named)} runs: {first} (each run's report gives its "
                                   f"numbers)."})
    return out
