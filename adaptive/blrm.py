"""Bayesian logistic regression model (BLRM) with escalation with overdose control (EWOC).

References
----------
Neuenschwander B, Branson M, Gsponer T (2008). Critical aspects of the Bayesian approach
to phase I cancer trials. Statistics in Medicine 27:2420-2439.

Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with
late-onset toxicities. Biometrics 56:1177-1182.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit, logit

from dartnk.models.priors import BLRMPrior

from ._base import BatchDecision, EscalationDesign
from ._quadrature import (
    GridPosterior,
    ModelBatchDecision,
    check_options,
    frozen_array,
    gauss_legendre,
    panel_edges,
    read_batch,
    tail_weights,
)
from ._state import EscalationState, PendingBatch

__all__ = ["BLRM", "BLRMBatchDecision", "BLRMFit"]

_GRID_SPAN = 5.5
_GRID_PATIENTS = 30
_KAPPA_ALPHA, _POINTS_ALPHA = 6.0, 8
_KAPPA_BETA, _POINTS_BETA = 5.0, 6
_SCAN_POINTS = 201

_START, _MODEL, _MAX_STEP, _EWOC_STOP, _SAMPLE_SIZE = range(5)
_RULES: tuple[tuple[str, str], ...] = (
    ("start", "no patient treated yet; the first cohort goes to the start dose if admissible"),
    (
        "model",
        "treat at the admissible dose with the highest probability of a DLT rate in the "
        "target interval",
    ),
    (
        "maximum step",
        "the best admissible dose is too far above the highest dose tried; treat at the best "
        "admissible dose within the maximum step",
    ),
    ("EWOC", "no dose is admissible under overdose control; stop, no MTD"),
    (
        "sample size",
        "the maximum number of patients is reached; stop, the MTD is the tried admissible "
        "dose with the highest probability of the target interval",
    ),
)


@dataclass(frozen=True, eq=False)
class BLRMBatchDecision(ModelBatchDecision):
    """BLRM decisions for a batch, with the interval probabilities the rules read.

    Attributes
    ----------
    prob_under, prob_target, prob_over : ndarray, shape (trials, doses)
        Posterior probabilities of the DLT rate in [0, low), [low, high), [high, 1].
    highest_tried, total : ndarray of int, shape (trials,)
        Highest dose given (-1 if none) and patients treated, pending included.
    pending : PendingBatch or None
        Pending patients the decision weighed (TITE).
    """

    prob_under: np.ndarray
    prob_target: np.ndarray
    prob_over: np.ndarray
    highest_tried: np.ndarray
    total: np.ndarray
    pending: PendingBatch | None = None


@dataclass(frozen=True, eq=False)
class BLRMFit:
    """Posterior of the BLRM given one trial's data, per 0-based dose.

    Attributes
    ----------
    labels : tuple of str
    doses : ndarray, shape (doses,)
    intervals : tuple of float
        (low, high): underdosing p < low, target low <= p < high, overdosing p >= high.
    ewoc : float
    n_at_dose, dlt_at_dose, pending_at_dose : ndarray of int, shape (doses,)
    prob_under, prob_target, prob_over : ndarray, shape (doses,)
    ptox_mean, ptox_median : ndarray, shape (doses,)
        Posterior mean and median of each dose's DLT rate.
    admissible : ndarray of bool, shape (doses,)
        prob_over < ewoc.
    log_alpha_mean, log_alpha_sd, log_beta_mean, log_beta_sd : float
        Posterior means and standard deviations of the parameters.
    """

    labels: tuple[str, ...]
    doses: np.ndarray
    intervals: tuple[float, float]
    ewoc: float
    n_at_dose: np.ndarray
    dlt_at_dose: np.ndarray
    pending_at_dose: np.ndarray
    prob_under: np.ndarray
    prob_target: np.ndarray
    prob_over: np.ndarray
    ptox_mean: np.ndarray
    ptox_median: np.ndarray
    admissible: np.ndarray
    log_alpha_mean: float
    log_alpha_sd: float
    log_beta_mean: float
    log_beta_sd: float
    _design: BLRM = field(repr=False)
    _weights: np.ndarray = field(repr=False)

    def prob_exceeds(self, threshold: float) -> np.ndarray:
        """P(DLT rate at each dose > ``threshold`` | data), shape (doses,)."""
        if threshold <= 0.0:
            return np.ones(len(self.labels))
        if threshold >= 1.0:
            return np.zeros(len(self.labels))
        return self._design._prob_logit_above(self._weights, float(logit(threshold)))

    def summary(self) -> pd.DataFrame:
        """Per-dose table: label, dose, patients, DLTs, pending, interval probabilities,
        posterior mean and median DLT rate, admissibility."""
        return pd.DataFrame(
            {
                "dose": self.labels,
                "amount": self.doses,
                "n": self.n_at_dose,
                "dlt": self.dlt_at_dose,
                "pending": self.pending_at_dose,
                **_estimate_columns(self),
                "admissible": self.admissible,
            }
        )

    def __repr__(self) -> str:
        low, high = self.intervals
        return (
            f"BLRM fit ({int(self.n_at_dose.sum())} patients with known outcome, "
            f"{int(self.pending_at_dose.sum())} pending): target interval [{low:g}, {high:g}), "
            f"admissible if P(overdose) < {self.ewoc:g}\n{self.summary().to_string(index=False)}"
        )

    def _repr_html_(self) -> str:
        import html

        head = html.escape(repr(self).splitlines()[0])
        return f"<p>{head}</p>{self.summary().to_html(index=False)}"


def _estimate_columns(fit: BLRMFit) -> dict[str, np.ndarray]:
    return {
        "prob_under": fit.prob_under,
        "prob_target": fit.prob_target,
        "prob_over": fit.prob_over,
        "ptox_mean": fit.ptox_mean,
        "ptox_median": fit.ptox_median,
    }


class BLRM(EscalationDesign):
    """Two-parameter Bayesian logistic regression model with EWOC, and its TITE version.

    The DLT rate at 0-based dose d is

        logit p_d = log_alpha + exp(log_beta) log(dose_d / reference_dose),

    with a bivariate normal prior on (log_alpha, log_beta): means ``prior_mean``,
    standard deviations ``prior_sd``, correlation ``prior_corr``. Rates increase with dose
    for every parameter value. The posterior is computed on a fixed tensor grid of
    composite Gauss-Legendre rules over the prior mean +/- 5.5 prior standard deviations,
    pruned to prior Mahalanobis distance 5.5. Panels in log_alpha are a fixed multiple of
    the smallest conditional posterior standard deviation ``max_n`` patients could give;
    panels in log_beta follow the largest information about the slope that ``max_n``
    patients split between two doses could give, so they are narrow only where a steep
    curve can be estimated precisely. Interval probabilities integrate log_alpha up to each
    cut with the panel's interpolating polynomial
    (:func:`~dartnk.adaptive._quadrature.tail_weights`). The grid (float32) agrees with
    adaptive integration to 1e-3 in every probability for trials of up to ``max_n``
    patients (30 when ``max_n`` is None); the tests measure it.

    With ``intervals = (low, high)``, each dose has P(underdose) = P(p < low),
    P(target) = P(low <= p < high) and P(overdose) = P(p >= high). A dose is admissible
    when P(overdose) < ``ewoc`` (escalation with overdose control).

    Decision after each cohort, for the next cohort:

    1. start: with no patient treated yet, the start dose, or the highest admissible dose
       below it if it is not admissible;
    2. model: the admissible dose with the highest P(target) (the lower dose on a tie) ...
    3. maximum step: ... among doses at most ``max_step`` levels above the highest dose
       tried;
    4. EWOC: stop with no MTD when no dose within reach is admissible; this wins over 1-3
       and 5;
    5. sample size (``max_n``): stop when ``max_n`` patients have been treated (pending
       ones included); the MTD is the tried admissible dose with the highest P(target), or
       none if no tried dose is admissible.

    TITE (``window`` set): a patient without a DLT after u days of follow-up contributes
    log(1 - w p) with w = min(1, u / window), as in TITE-CRM (Cheung and Chappell 2000);
    with ``escalate_after_complete = k`` the next dose is not above the current dose until
    k patients there have complete follow-up (Normolle and Lawrence 2006). Without
    ``window``, pending patients are weighed as for every design
    (:meth:`EscalationDesign.decide`).

    Unlike the one-parameter CRM, the two-parameter model is not monotone in DLTs: a DLT
    at a low dose with none above flattens the fitted curve, which can lower P(overdose)
    at higher doses and move the decision up. A DLT never lowers P(overdose) at its own
    dose.

    Parameters
    ----------
    doses : sequence of float
        Dose amounts, strictly increasing and positive (any unit, the same as
        ``reference_dose``).
    reference_dose : float
        Dose at which logit p = log_alpha.
    prior : BLRMPrior, optional
        The prior of (log_alpha, log_beta) (:class:`dartnk.models.BLRMPrior`, the one
        specification the PyMC model reads too); or give its numbers:
    prior_mean, prior_sd : pair of float
        Prior means and standard deviations of (log_alpha, log_beta).
    prior_corr : float, default 0
        Prior correlation of log_alpha and log_beta.
    intervals : pair of float, default (0.16, 0.33)
    ewoc : float, default 0.25
    max_step : int, default 1
    window : float, optional
        DLT window in days: makes the design TITE.
    start : int, default 0
    max_n : int, optional
    labels : sequence of str, optional
    cohort_size : int, default 3
        Patients per cohort (an unfinished cohort is completed while outcomes are pending).
    escalate_after_complete : int, optional
        TITE: patients at the current dose with complete follow-up needed before an
        escalation.

    Examples
    --------
    >>> blrm = BLRM([5e7, 1e8, 3e8, 1e9, 2e9], 3e8, prior_mean=(-0.85, 0.0),
    ...             prior_sd=(2.0, 1.0), start=1, max_n=18)
    >>> blrm.recommend([1] * 6, [0] * 6).next_dose
    2
    >>> bool(blrm.fit([1, 1, 1], [1, 1, 0]).admissible[3])
    False

    References
    ----------
    Neuenschwander B, Branson M, Gsponer T (2008). Critical aspects of the Bayesian
    approach to phase I cancer trials. Statistics in Medicine 27:2420-2439.

    Babb J, Rogatko A, Zacks S (1998). Cancer phase I clinical trials: efficient dose
    escalation with overdose control. Statistics in Medicine 17:1103-1120.

    Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with
    late-onset toxicities. Biometrics 56:1177-1182.

    Normolle D, Lawrence T (2006). Designing dose-escalation trials with late-onset
    toxicities using the time-to-event continual reassessment method. Journal of Clinical
    Oncology 24:4426-4433.
    """

    design_rules = _RULES

    def __init__(
        self,
        doses: Sequence[float] | np.ndarray,
        reference_dose: float,
        *,
        prior: BLRMPrior | None = None,
        prior_mean: Sequence[float] | None = None,
        prior_sd: Sequence[float] | None = None,
        prior_corr: float = 0.0,
        intervals: Sequence[float] = (0.16, 0.33),
        ewoc: float = 0.25,
        max_step: int = 1,
        window: float | None = None,
        start: int = 0,
        max_n: int | None = None,
        labels: Sequence[str] | None = None,
        cohort_size: int = 3,
        escalate_after_complete: int | None = None,
    ) -> None:
        amounts = np.asarray(doses, dtype=float)
        if amounts.ndim != 1 or amounts.size < 1:
            raise ValueError("doses must be a sequence of dose amounts, lowest first")
        if np.any(~np.isfinite(amounts)) or np.any(amounts <= 0):
            raise ValueError(f"doses must be positive amounts, got {amounts.tolist()}")
        if np.any(np.diff(amounts) <= 0):
            raise ValueError(f"doses must increase strictly, got {amounts.tolist()}")
        if not np.isfinite(reference_dose) or reference_dose <= 0:
            raise ValueError(f"reference_dose {reference_dose} must be a positive amount")
        if prior is not None:
            if prior_mean is not None or prior_sd is not None or prior_corr != 0.0:
                raise ValueError("give the prior either as prior= or as prior_mean/prior_sd")
            if not isinstance(prior, BLRMPrior):
                raise ValueError(f"prior must be a BLRMPrior, got {type(prior).__name__}")
            prior_mean, prior_sd, prior_corr = prior.mean, prior.sd, prior.corr
        elif prior_mean is None or prior_sd is None:
            raise ValueError("give the prior: prior=BLRMPrior(...) or prior_mean and prior_sd")
        mean = np.asarray(prior_mean, dtype=float)
        sd = np.asarray(prior_sd, dtype=float)
        if mean.shape != (2,) or not np.all(np.isfinite(mean)):
            raise ValueError("prior_mean must hold two numbers: (log_alpha, log_beta)")
        if sd.shape != (2,) or not np.all((sd > 0) & np.isfinite(sd)):
            raise ValueError("prior_sd must hold two positive standard deviations")
        if not -1.0 < prior_corr < 1.0:
            raise ValueError(f"prior_corr {prior_corr} must lie strictly between -1 and 1")
        bounds = tuple(float(v) for v in intervals)
        if len(bounds) != 2 or not 0.0 < bounds[0] < bounds[1] < 1.0:
            raise ValueError(
                f"intervals {tuple(intervals)} must be two DLT rates 0 < low < high < 1 "
                f"(underdose below low, overdose from high)"
            )
        if not 0.0 < ewoc < 1.0:
            raise ValueError(f"ewoc {ewoc} is not a probability strictly between 0 and 1")
        if int(max_step) != max_step or max_step < 1:
            raise ValueError(f"max_step {max_step} must be a positive whole number of levels")
        self.n_doses = int(amounts.size)
        self.doses = tuple(float(v) for v in amounts)
        self.reference_dose = float(reference_dose)
        self.prior_mean = (float(mean[0]), float(mean[1]))
        self.prior_sd = (float(sd[0]), float(sd[1]))
        self.prior_corr = float(prior_corr)
        self.prior = BLRMPrior(mean=self.prior_mean, sd=self.prior_sd, corr=self.prior_corr)
        self.intervals = (bounds[0], bounds[1])
        self.ewoc = float(ewoc)
        self.max_step = int(max_step)
        self.window, self.start, self.max_n, self.cohort_size = check_options(
            self.n_doses, window=window, start=start, max_n=max_n, cohort_size=cohort_size
        )
        self._set_restriction(escalate_after_complete)
        self.labels = self._labels_or_default(labels)
        self._log_dose = frozen_array(np.log(amounts / reference_dose))
        self._build_grid()

    def _key(self) -> tuple:
        return (
            self.doses,
            self.reference_dose,
            self.prior_mean,
            self.prior_sd,
            self.prior_corr,
            self.intervals,
            self.ewoc,
            self.max_step,
            self.window,
            self.start,
            self.max_n,
            self.labels,
            self.cohort_size,
            self.escalate_after_complete,
        )

    def __repr__(self) -> str:
        name = "BLRM" if self.window is None else "TITE-BLRM"
        low, high = self.intervals
        parts = [
            f"doses={self.doses}",
            f"reference_dose={self.reference_dose:g}",
            f"prior_mean={self.prior_mean}",
            f"prior_sd={self.prior_sd}",
            f"prior_corr={self.prior_corr:g}",
            f"intervals=({low:g}, {high:g})",
            f"ewoc={self.ewoc:g}",
            f"max_step={self.max_step}",
        ]
        if self.window is not None:
            parts.append(f"window={self.window:g}")
        parts += [f"start={self.labels[self.start]}", f"max_n={self.max_n}"]
        if self.escalate_after_complete is not None:
            parts.append(f"escalate_after_complete={self.escalate_after_complete}")
        return f"{name}({', '.join(parts)})"

    def ptox(self, log_alpha: float | np.ndarray, log_beta: float | np.ndarray) -> np.ndarray:
        """DLT rates at each dose for parameter values: shape ``broadcast shape + (doses,)``."""
        alpha, beta = np.broadcast_arrays(np.asarray(log_alpha, float), np.asarray(log_beta, float))
        return expit(alpha[..., None] + np.exp(beta)[..., None] * self._log_dose)

    def _build_grid(self) -> None:
        (mu_a, mu_b), (sd_a, sd_b), rho = self.prior_mean, self.prior_sd, self.prior_corr
        patients = self.max_n if self.max_n is not None else _GRID_PATIENTS
        conditional = 1.0 - rho**2
        scale_a = 1.0 / np.sqrt(patients / 4.0 + 1.0 / (sd_a**2 * conditional))
        lower_a, upper_a = mu_a - _GRID_SPAN * sd_a, mu_a + _GRID_SPAN * sd_a
        panels_a = max(1, int(np.ceil((upper_a - lower_a) / (_KAPPA_ALPHA * scale_a))))
        edges_a = np.linspace(lower_a, upper_a, panels_a + 1)
        slope_information = self._slope_information(patients, edges_a)

        def scale_b(b: np.ndarray) -> np.ndarray:
            return 1.0 / np.sqrt(slope_information(b) + 1.0 / (sd_b**2 * conditional))

        edges_b = panel_edges(
            mu_b - _GRID_SPAN * sd_b, mu_b + _GRID_SPAN * sd_b, scale_b, kappa=_KAPPA_BETA
        )
        a, weight_a = gauss_legendre(edges_a, _POINTS_ALPHA)
        b, weight_b = gauss_legendre(edges_b, _POINTS_BETA)
        za = (a[:, None] - mu_a) / sd_a
        zb = (b[None, :] - mu_b) / sd_b
        distance = (za**2 - 2.0 * rho * za * zb + zb**2) / (1.0 - rho**2)
        keep = (distance <= _GRID_SPAN**2).ravel()
        log_prior = -0.5 * distance + np.log(weight_a)[:, None] + np.log(weight_b)[None, :]
        alpha = np.repeat(a, b.size)[keep]
        beta = np.tile(b, a.size)[keep]
        theta = alpha[:, None] + np.exp(beta)[:, None] * self._log_dose
        self._edges_a = frozen_array(edges_a)
        self._weight_a = frozen_array(weight_a)
        self._rows_b = frozen_array(b)
        self._keep = keep
        self._keep.flags.writeable = False
        self._theta = frozen_array(theta)
        self._alpha = frozen_array(alpha)
        self._beta = frozen_array(beta)
        self._grid = GridPosterior(
            log_prior=frozen_array(log_prior.ravel()[keep], dtype=np.float32),
            log_p=frozen_array(-np.logaddexp(0.0, -theta), dtype=np.float32),
            log_q=frozen_array(-np.logaddexp(0.0, theta), dtype=np.float32),
            q=frozen_array(expit(-theta), dtype=np.float32),
        )
        low, high = logit(np.array(self.intervals))
        columns = [self._logit_above(low, d) for d in range(self.n_doses)]
        columns += [self._logit_above(high, d) for d in range(self.n_doses)]
        self._functionals = frozen_array(np.column_stack(columns))

    def _slope_information(
        self, patients: int, edges_a: np.ndarray
    ) -> Callable[[np.ndarray], np.ndarray]:
        """Largest information about log_beta, net of log_alpha, that ``patients`` split
        between two doses could give, as a function of log_beta (maximised over
        log_alpha): e^(2 log_beta) (N / 2) v_i v_j / (v_i + v_j) (x_i - x_j)^2 with
        v = p (1 - p)."""
        mu_b, sd_b = self.prior_mean[1], self.prior_sd[1]
        b = np.linspace(mu_b - _GRID_SPAN * sd_b, mu_b + _GRID_SPAN * sd_b, _SCAN_POINTS)
        a = np.linspace(edges_a[0], edges_a[-1], _SCAN_POINTS)
        p = self.ptox(a[:, None], b[None, :])
        v = p * (1.0 - p)
        best = np.zeros(b.size)
        x = self._log_dose
        for i in range(self.n_doses):
            for j in range(i + 1, self.n_doses):
                pair = v[..., i] * v[..., j] / np.maximum(v[..., i] + v[..., j], 1e-300)
                best = np.maximum(best, pair.max(axis=0) * (x[i] - x[j]) ** 2)
        information = np.exp(2.0 * b) * patients / 2.0 * best

        def interpolate(values: np.ndarray) -> np.ndarray:
            return np.interp(values, b, information)

        return interpolate

    def _logit_above(self, level: float, dose: int) -> np.ndarray:
        """Grid functional whose posterior expectation is P(logit p_dose >= level)."""
        cuts = level - np.exp(self._rows_b) * self._log_dose[dose]
        upper = tail_weights(self._edges_a, _POINTS_ALPHA, cuts) / self._weight_a
        return upper.T.ravel()[self._keep]

    def _prob_logit_above(self, weights: np.ndarray, level: float) -> np.ndarray:
        columns = np.column_stack([self._logit_above(level, d) for d in range(self.n_doses)])
        return np.clip(weights @ columns, 0.0, 1.0)

    def _interval_probs(self, post: np.ndarray) -> tuple[np.ndarray, ...]:
        doses = self.n_doses
        above_low = np.clip(post[..., :doses], 0.0, 1.0)
        over = np.clip(post[..., doses:], 0.0, 1.0)
        return 1.0 - above_low, np.clip(above_low - over, 0.0, 1.0), over

    def _decide(self, state: EscalationState) -> BLRMBatchDecision:
        """Batch decision of the rules in the class docstring.

        Parameters
        ----------
        state : EscalationState
            Known outcomes and DLTs per dose, the current dose and, for the TITE design,
            the pending patients with their weights.

        Returns
        -------
        BLRMBatchDecision
            ``next_dose`` and ``mtd`` as floats with NaN for none; ``rule`` indexes
            :attr:`rules`; ``admissible`` is P(overdose) < ewoc per dose.
        """
        batch = read_batch(state, tite=self.window is not None)
        trials = batch.n.shape[0]
        post = self._grid.expect(batch.n, batch.y, self._functionals, batch.pending)
        under, target, over = self._interval_probs(post)
        admissible = over < self.ewoc
        dose = np.arange(self.n_doses)
        fresh = batch.total == 0
        ceiling = np.maximum(batch.highest_tried + self.max_step, self.start)
        allowed = admissible & (dose <= ceiling[:, None])
        best_allowed = np.argmax(np.where(allowed, target, -1.0), axis=1)
        best_overall = np.argmax(np.where(admissible, target, -1.0), axis=1)
        start_dose = np.where(allowed & (dose <= self.start), dose, -1).max(axis=1)
        chosen = np.where(fresh, start_dose, best_allowed)
        rule = np.where(fresh, _START, np.where(best_overall > best_allowed, _MAX_STEP, _MODEL))
        no_dose = ~allowed.any(axis=1)
        full = np.zeros(trials, dtype=bool)
        mtd = np.full(trials, np.nan)
        if self.max_n is not None:
            full = (batch.total >= self.max_n) & ~no_dose
            candidates = admissible & batch.tried
            pick = np.argmax(np.where(candidates, target, -1.0), axis=1)
            mtd = np.where(full & candidates.any(axis=1), pick, np.nan)
        stop = no_dose | full
        rule = np.where(no_dose, _EWOC_STOP, np.where(full, _SAMPLE_SIZE, rule))
        return BLRMBatchDecision(
            next_dose=np.where(stop, np.nan, chosen.astype(float)),
            stop=stop,
            mtd=mtd,
            admissible=admissible,
            rule=rule,
            wait=np.zeros(trials, dtype=bool),
            prob_under=under,
            prob_target=target,
            prob_over=over,
            highest_tried=batch.highest_tried,
            total=batch.total,
            pending=batch.pending,
        )

    def fit(
        self,
        level: Sequence[int] | np.ndarray,
        dlt: Sequence[int] | np.ndarray,
        followup: Sequence[float | None] | np.ndarray | None = None,
    ) -> BLRMFit:
        """Posterior from one trial's patients in enrolment order.

        ``level`` holds 0-based doses, ``dlt`` 0/1, ``followup`` days of follow-up for
        patients still inside the DLT window (None/NaN when complete). The TITE design
        weighs pending patients by min(1, follow-up / window); otherwise they are left out.
        """
        return self._fit_state(self._state_of(level, dlt, followup))

    def _fit_state(self, state: EscalationState) -> BLRMFit:
        """The posterior of a state of one trial (pending patients weighed when TITE)."""
        if self.window is None:
            return self._fit(state.n[0], state.y[0], None, np.zeros(self.n_doses, np.int64))
        return self._fit(state.n[0], state.y[0], state.pending, state.n_pending[0])

    def _fit(
        self, n: np.ndarray, y: np.ndarray, pending: PendingBatch | None, n_pending: np.ndarray
    ) -> BLRMFit:
        weights = self._grid.weights(n[None, :], y[None, :], pending)[0]
        under, target, over = self._interval_probs(weights @ self._functionals)
        alpha_mean = float(weights @ self._alpha)
        beta_mean = float(weights @ self._beta)
        return BLRMFit(
            labels=self.labels,
            doses=frozen_array(self.doses),
            intervals=self.intervals,
            ewoc=self.ewoc,
            n_at_dose=frozen_array(n, dtype=np.int64),
            dlt_at_dose=frozen_array(y, dtype=np.int64),
            pending_at_dose=frozen_array(n_pending, dtype=np.int64),
            prob_under=frozen_array(under),
            prob_target=frozen_array(target),
            prob_over=frozen_array(over),
            ptox_mean=frozen_array(weights @ expit(self._theta)),
            ptox_median=frozen_array(self._median(weights)),
            admissible=frozen_array(over < self.ewoc, dtype=bool),
            log_alpha_mean=alpha_mean,
            log_alpha_sd=float(np.sqrt(weights @ (self._alpha - alpha_mean) ** 2)),
            log_beta_mean=beta_mean,
            log_beta_sd=float(np.sqrt(weights @ (self._beta - beta_mean) ** 2)),
            _design=self,
            _weights=frozen_array(weights),
        )

    def _median(self, weights: np.ndarray) -> np.ndarray:
        """Posterior median DLT rate per dose: the logit level L with P(logit p >= L) = 1/2."""
        theta = self._theta
        medians = np.empty(self.n_doses)
        for d in range(self.n_doses):
            low, high = float(theta[:, d].min()), float(theta[:, d].max())

            def excess(level: float, dose: int = d) -> float:
                return float(weights @ self._logit_above(level, dose)) - 0.5

            medians[d] = expit(brentq(excess, low, high, xtol=1e-10))
        return medians

    def _estimates(self, state: EscalationState) -> pd.DataFrame:
        return pd.DataFrame(_estimate_columns(self._fit_state(state)))

    def _explain(
        self, batch: BatchDecision, state: EscalationState, known: EscalationState | None = None
    ) -> list[tuple[str, str]]:
        assert isinstance(batch, BLRMBatchDecision)
        labels = self.labels
        low, high = self.intervals
        rule = int(batch.rule[0])
        target = batch.prob_target[0]
        over = batch.prob_over[0]
        admissible = batch.admissible[0]

        def ewoc(dose: int) -> tuple[str, str]:
            return (
                "EWOC",
                f"P(DLT rate at {labels[dose]} >= {high:g}) = {over[dose]:.2f} >= "
                f"{self.ewoc:g}: {labels[dose]} not admissible",
            )

        blocked = np.flatnonzero(~admissible)
        first_blocked = [ewoc(int(blocked[0]))] if blocked.size else []
        if rule == _EWOC_STOP:
            return [
                (
                    "EWOC",
                    f"no dose is admissible: P(DLT rate at {labels[0]} >= {high:g}) = "
                    f"{over[0]:.2f} >= {self.ewoc:g}; stop, no MTD",
                )
            ]
        if rule == _SAMPLE_SIZE:
            total = int(batch.total[0])
            if np.isnan(batch.mtd[0]):
                verdict = "no tried dose is admissible: no MTD"
            else:
                mtd = int(batch.mtd[0])
                verdict = (
                    f"MTD {labels[mtd]}, the tried admissible dose with the highest "
                    f"P({low:g} <= DLT rate < {high:g}) = {target[mtd]:.2f}"
                )
            return [
                ("sample size", f"{total} patients treated, the maximum is {self.max_n}: stop"),
                ("model", verdict),
                *first_blocked,
            ]
        chosen = int(batch.next_dose[0])
        if rule == _START:
            reasons = [("start", f"no patient treated yet; treat at {labels[chosen]}")]
            if chosen != self.start:
                reasons.append(ewoc(self.start))
            return reasons
        reasons = [
            (
                "model",
                f"P({low:g} <= DLT rate < {high:g}) at {labels[chosen]} = {target[chosen]:.2f}, "
                f"the highest among admissible doses within reach",
            ),
            *first_blocked,
        ]
        if rule == _MAX_STEP:
            best = int(np.argmax(np.where(admissible, target, -1.0)))
            highest = int(batch.highest_tried[0])
            reasons.append(
                (
                    "maximum step",
                    f"{labels[best]} (P(target) = {target[best]:.2f}) is more than "
                    f"{self.max_step} level(s) above the highest dose tried, {labels[highest]}",
                )
            )
        return reasons
