"""The continual reassessment method (CRM) and TITE-CRM, on an exact quadrature engine.

References
----------
O'Quigley J, Pepe M, Fisher L (1990). Continual reassessment method: a practical design
for phase 1 clinical trials in cancer. Biometrics 46:33-48.

Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with
late-onset toxicities. Biometrics 56:1177-1182.

Cheung YK (2011). Dose Finding by the Continual Reassessment Method. Boca Raton:
Chapman & Hall/CRC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import logit
from scipy.stats import norm

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

__all__ = ["CRM", "CRMBatchDecision", "CRMFit"]

_Z90 = float(norm.ppf(0.95))
_GRID_SPAN = 10.0
_GRID_LIMIT = 50.0
_GRID_KAPPA = 3.0
_GRID_POINTS = 10
_GRID_PATIENTS = 100

_START, _MODEL, _NO_SKIP, _COHERENCE, _SAFETY, _SAMPLE_SIZE = range(6)
_RULES: tuple[tuple[str, str], ...] = (
    ("start", "no patient treated yet; the first cohort goes to the start dose"),
    ("model", "treat at the dose whose plug-in DLT rate is closest to the target"),
    (
        "no skipping",
        "the model's dose is more than one level above the highest dose tried; "
        "treat one level above the highest dose tried",
    ),
    ("coherence", "a DLT in the most recent cohort at {cur}; no escalation above {cur}"),
    ("safety stop", "the DLT rate at the lowest dose is probably above the target; stop, no MTD"),
    ("sample size", "the maximum number of patients is reached; stop, the MTD is the model's dose"),
)


@dataclass(frozen=True, eq=False)
class CRMBatchDecision(ModelBatchDecision):
    """CRM decisions for a batch, with the posterior numbers the rules read.

    Attributes
    ----------
    beta_mean : ndarray, shape (trials,)
        Posterior mean of beta.
    ptox_plugin : ndarray, shape (trials, doses)
        DLT rates of the working model at the posterior mean of beta.
    prob_lowest_over : ndarray, shape (trials,)
        P(DLT rate at dose 0 > target | data).
    model_dose : ndarray of int, shape (trials,)
        0-based dose whose plug-in rate is closest to the target, before safety rules.
    highest_tried, total : ndarray of int, shape (trials,)
        Highest dose given (-1 if none) and patients treated, pending included.
    last_cohort_dlt : ndarray of bool, shape (trials,)
        Whether the coherence rule counted a DLT in the most recent cohort.
    pending : PendingBatch or None
        Pending patients the decision weighed (TITE-CRM).
    """

    beta_mean: np.ndarray
    ptox_plugin: np.ndarray
    prob_lowest_over: np.ndarray
    model_dose: np.ndarray
    highest_tried: np.ndarray
    total: np.ndarray
    last_cohort_dlt: np.ndarray
    pending: PendingBatch | None = None


@dataclass(frozen=True, eq=False)
class CRMFit:
    """Posterior of a CRM working model given one trial's data.

    ``ptox_plugin`` is the working model at the posterior mean of beta (as dfcrm
    reports); ``ptox_lower`` and ``ptox_upper`` are dfcrm's 90% plug-in limits, the model
    at beta_mean + z sd(beta) and beta_mean - z sd(beta) with z = 1.645 (DLT rates
    decrease in beta); ``ptox_mean`` is the posterior mean of each dose's DLT rate, which
    differs from the plug-in rate. Doses are 0-based.

    Attributes
    ----------
    labels : tuple of str
    skeleton : ndarray, shape (doses,)
    target : float
    model : str
    n_at_dose, dlt_at_dose, pending_at_dose : ndarray of int, shape (doses,)
    beta_mean, beta_var : float
        Posterior mean and variance of beta.
    ptox_plugin, ptox_lower, ptox_upper, ptox_mean : ndarray, shape (doses,)
    mtd : int
        0-based dose whose plug-in rate is closest to the target (dfcrm's ``mtd``), with no
        safety rule applied.
    """

    labels: tuple[str, ...]
    skeleton: np.ndarray
    target: float
    model: str
    n_at_dose: np.ndarray
    dlt_at_dose: np.ndarray
    pending_at_dose: np.ndarray
    beta_mean: float
    beta_var: float
    ptox_plugin: np.ndarray
    ptox_lower: np.ndarray
    ptox_upper: np.ndarray
    ptox_mean: np.ndarray
    mtd: int
    _design: CRM = field(repr=False)
    _weights: np.ndarray = field(repr=False)

    def prob_exceeds(self, threshold: float) -> np.ndarray:
        """P(DLT rate at each dose > ``threshold`` | data), shape (doses,)."""
        return self._design._prob_above(self._weights[None, :], float(threshold))[0]

    def summary(self) -> pd.DataFrame:
        """Per-dose table: label, skeleton, patients, DLTs, pending, plug-in rate with its
        90% limits, posterior mean rate, and P(DLT rate > target)."""
        return pd.DataFrame(
            {
                "dose": self.labels,
                "skeleton": self.skeleton,
                "n": self.n_at_dose,
                "dlt": self.dlt_at_dose,
                "pending": self.pending_at_dose,
                **_estimate_columns(self),
            }
        )

    def __repr__(self) -> str:
        return (
            f"CRM fit ({self.model} model, {int(self.n_at_dose.sum())} patients with known "
            f"outcome, {int(self.pending_at_dose.sum())} pending): beta mean "
            f"{self.beta_mean:.4f}, variance {self.beta_var:.4f}; MTD estimate "
            f"{self.labels[self.mtd]}\n{self.summary().to_string(index=False)}"
        )

    def _repr_html_(self) -> str:
        import html

        head = html.escape(repr(self).splitlines()[0])
        return f"<p>{head}</p>{self.summary().to_html(index=False)}"


def _estimate_columns(fit: CRMFit) -> dict[str, np.ndarray]:
    return {
        "ptox_plugin": fit.ptox_plugin,
        "ptox_lower": fit.ptox_lower,
        "ptox_upper": fit.ptox_upper,
        "ptox_mean": fit.ptox_mean,
        "prob_over_target": fit.prob_exceeds(fit.target),
    }


class CRM(EscalationDesign):
    """Continual reassessment method (CRM), and TITE-CRM when ``window`` is set.

    The working model gives the DLT rate at 0-based dose d from the skeleton s_d (prior
    guesses of the rates) and one parameter beta ~ N(0, ``prior_var``):

    - ``model="empiric"`` (power): p_d = s_d ^ exp(beta);
    - ``model="logistic"``: logit p_d = a + exp(beta) x_d with x_d = logit(s_d) - a and
      ``a = intercept`` (dfcrm's convention; every x_d must be negative).

    Both give p_d = s_d at beta = 0 and rates that decrease in beta. The posterior of beta
    is computed on a fixed composite Gauss-Legendre grid that agrees with adaptive
    integration to 1e-6 for trials of up to ``max_n`` patients (100 when ``max_n`` is
    None): panels are narrow where the posterior could be narrow (see
    :mod:`dartnk.adaptive._quadrature`).

    Decision after each cohort, for the next cohort:

    1. start: with no patient treated yet, the start dose;
    2. model: the dose whose plug-in rate (model at the posterior mean of beta) is closest
       to the target (dfcrm's ``mtd``; the lower dose on an exact tie);
    3. no skipping (``no_skip``): at most one level above the highest dose tried (nor
       above the start dose before it is tried);
    4. coherence (``coherent``): no escalation above the current dose after a DLT in the
       most recent cohort (Cheung 2005); this rule wins over 2 and 3;
    5. safety stop (``stop_prob``): stop with no MTD when P(DLT rate at dose 0 > target |
       data) > ``stop_prob``, once a patient has been treated; this wins over 1-4 and 6;
    6. sample size (``max_n``): stop when ``max_n`` patients have been treated (pending
       ones included); the MTD is the model's dose of rule 2 (as dfcrm's final estimate,
       with no further restriction).

    The most recent cohort is the run of trailing patients (in enrolment order) at the
    current dose, at most ``cohort_size`` of them; the state carries whether it had a DLT
    (:attr:`EscalationState.last_cohort_dlt`). dfcrm's ``crmsim``
    forbids escalation when the last cohort's DLT proportion is at least the target: the
    same rule for cohorts of 3 and targets up to 1/3.

    TITE-CRM (Cheung and Chappell 2000): a patient without a DLT after u days of follow-up
    has weight w = min(1, u / window) and contributes log(1 - w p) to the log-likelihood;
    a DLT contributes log p (dfcrm's ``titecrm`` with its linear scheme). Without
    ``window``, pending patients are weighed as for every design
    (:meth:`EscalationDesign.decide`). With ``escalate_after_complete = k`` (TITE only),
    the next dose is not above the current dose until k patients there have complete
    follow-up, a safeguard against escalating on partial follow-up alone (Cheung 2011,
    ch. 12; Normolle and Lawrence 2006); the default None keeps dfcrm's ``titecrm``
    semantics.

    Parameters
    ----------
    skeleton : sequence of float
        Prior DLT rate guesses per dose, strictly increasing in (0, 1); see
        :func:`calibrate_skeleton`.
    target : float
        Target DLT rate.
    model : {"empiric", "logistic"}
    intercept : float, default 3.0
        Intercept a of the logistic model.
    prior_var : float, default 1.34
        Prior variance of beta.
    window : float, optional
        DLT window in days: makes the design TITE-CRM.
    start : int, default 0
        0-based start dose.
    no_skip, coherent : bool, default True
    stop_prob : float, optional
        Posterior probability above which the trial stops for toxicity at dose 0 (e.g. 0.9).
    max_n : int, optional
        Maximum number of patients.
    cohort_size : int, default 3
        Patients per cohort, for the coherence rule.
    labels : sequence of str, optional
        Dose labels for tables.
    escalate_after_complete : int, optional
        TITE-CRM: patients at the current dose with complete follow-up needed before an
        escalation.

    Examples
    --------
    >>> crm = CRM([0.05, 0.12, 0.20, 0.30, 0.40], 0.30, start=1, stop_prob=0.9, max_n=18)
    >>> crm.recommend([1, 1, 1], [0, 0, 0]).next_dose
    2
    >>> fit = crm.fit([1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 0])
    >>> fit.mtd
    3

    References
    ----------
    O'Quigley J, Pepe M, Fisher L (1990). Continual reassessment method: a practical design
    for phase 1 clinical trials in cancer. Biometrics 46:33-48.

    Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with
    late-onset toxicities. Biometrics 56:1177-1182.

    Cheung YK (2005). Coherence principles in dose-finding studies. Biometrika 92:863-873.

    Cheung YK (2011). Dose Finding by the Continual Reassessment Method. Boca Raton:
    Chapman & Hall/CRC.

    Normolle D, Lawrence T (2006). Designing dose-escalation trials with late-onset
    toxicities using the time-to-event continual reassessment method. Journal of Clinical
    Oncology 24:4426-4433.
    """

    design_rules = _RULES

    def __init__(
        self,
        skeleton: Sequence[float] | np.ndarray,
        target: float,
        *,
        model: str = "empiric",
        intercept: float = 3.0,
        prior_var: float = 1.34,
        window: float | None = None,
        start: int = 0,
        no_skip: bool = True,
        coherent: bool = True,
        stop_prob: float | None = None,
        max_n: int | None = None,
        cohort_size: int = 3,
        labels: Sequence[str] | None = None,
        escalate_after_complete: int | None = None,
    ) -> None:
        s = np.asarray(skeleton, dtype=float)
        if s.ndim != 1 or s.size < 1:
            raise ValueError("skeleton must be a sequence of prior DLT rates, one per dose")
        for d, value in enumerate(s):
            if not 0.0 < value < 1.0:
                raise ValueError(
                    f"skeleton value {value} at dose {d} is not a probability strictly "
                    f"between 0 and 1"
                )
        if np.any(np.diff(s) <= 0):
            raise ValueError(f"skeleton must increase strictly with dose, got {s.tolist()}")
        if model not in ("empiric", "logistic"):
            raise ValueError(f"model {model!r} is not one of 'empiric', 'logistic'")
        if not np.isfinite(intercept):
            raise ValueError(f"intercept {intercept} must be a finite number")
        scaled = np.log(s) if model == "empiric" else logit(s) - intercept
        if model == "logistic" and np.any(scaled >= 0):
            d = int(np.argmax(scaled >= 0))
            raise ValueError(
                f"intercept {intercept} is too small for the logistic model: logit(skeleton) "
                f"- intercept must be negative at every dose, and is {scaled[d]:.3f} at dose {d}"
            )
        if not prior_var > 0 or not np.isfinite(prior_var):
            raise ValueError(f"prior_var {prior_var} must be a positive variance")
        if not isinstance(no_skip, bool) or not isinstance(coherent, bool):
            raise ValueError("no_skip and coherent must be True or False")
        if not 0.0 < target < 1.0:
            raise ValueError(f"target {target} is not a probability strictly between 0 and 1")
        if stop_prob is not None and not 0.0 < stop_prob < 1.0:
            raise ValueError(f"stop_prob {stop_prob} is not a probability strictly between 0 and 1")
        self.n_doses = int(s.size)
        self.skeleton = tuple(float(v) for v in s)
        self.target = float(target)
        self.stop_prob = None if stop_prob is None else float(stop_prob)
        self.window, self.start, self.max_n, self.cohort_size = check_options(
            self.n_doses, window=window, start=start, max_n=max_n, cohort_size=cohort_size
        )
        self._set_restriction(escalate_after_complete)
        self.model = model
        self.intercept = float(intercept)
        self.prior_var = float(prior_var)
        self.no_skip = no_skip
        self.coherent = coherent
        self.labels = self._labels_or_default(labels)
        self._scaled = frozen_array(scaled)
        self._build_grid()

    def _key(self) -> tuple:
        return (
            self.skeleton,
            self.target,
            self.model,
            self.intercept if self.model == "logistic" else None,
            self.prior_var,
            self.window,
            self.start,
            self.no_skip,
            self.coherent,
            self.stop_prob,
            self.max_n,
            self.cohort_size,
            self.labels,
            self.escalate_after_complete,
        )

    def __repr__(self) -> str:
        name = "CRM" if self.window is None else "TITE-CRM"
        parts = [
            f"skeleton={self.skeleton}",
            f"target={self.target:g}",
            f"model={self.model!r}",
        ]
        if self.model == "logistic":
            parts.append(f"intercept={self.intercept:g}")
        parts.append(f"prior_var={self.prior_var:g}")
        if self.window is not None:
            parts.append(f"window={self.window:g}")
        parts += [
            f"start={self.labels[self.start]}",
            f"no_skip={self.no_skip}",
            f"coherent={self.coherent}",
            f"stop_prob={self.stop_prob}",
            f"max_n={self.max_n}",
            f"cohort_size={self.cohort_size}",
        ]
        if self.escalate_after_complete is not None:
            parts.append(f"escalate_after_complete={self.escalate_after_complete}")
        return f"{name}({', '.join(parts)})"

    def ptox(self, beta: float | np.ndarray) -> np.ndarray:
        """DLT rates of the working model at ``beta``: shape ``np.shape(beta) + (doses,)``."""
        log_p, _ = self._log_rates(np.asarray(beta, dtype=float))
        return np.exp(log_p)

    def _log_rates(self, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        slope = np.exp(beta)[..., None]
        if self.model == "empiric":
            log_p = slope * self._scaled
            return log_p, np.log(np.maximum(-np.expm1(log_p), np.finfo(float).tiny))
        theta = self.intercept + slope * self._scaled
        return -np.logaddexp(0.0, -theta), -np.logaddexp(0.0, theta)

    def _beta_where(self, rate: float) -> np.ndarray:
        """For each dose, the beta below which its DLT rate exceeds ``rate``."""
        if rate <= 0.0:
            return np.full(self.n_doses, np.inf)
        if rate >= 1.0:
            return np.full(self.n_doses, -np.inf)
        if self.model == "empiric":
            return np.log(np.log(rate) / self._scaled)
        ratio = (logit(rate) - self.intercept) / self._scaled
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ratio > 0, np.log(np.where(ratio > 0, ratio, 1.0)), -np.inf)

    def _information(self, beta: np.ndarray) -> np.ndarray:
        """Largest Fisher information about beta one patient can give, over the doses."""
        log_p, log_q = self._log_rates(beta)
        if self.model == "empiric":
            log_info = log_p + 2.0 * np.log(np.maximum(-log_p, 1e-300)) - log_q
        else:
            log_info = log_p + log_q + 2.0 * (beta[:, None] + np.log(-self._scaled))
        return np.exp(log_info).max(axis=1)

    def _build_grid(self) -> None:
        sd = float(np.sqrt(self.prior_var))
        lower = max(-_GRID_SPAN * sd, -_GRID_LIMIT)
        upper = min(_GRID_SPAN * sd, _GRID_LIMIT)
        patients = self.max_n if self.max_n is not None else _GRID_PATIENTS
        cut = float(self._beta_where(self.target)[0])

        def scale(beta: np.ndarray) -> np.ndarray:
            return 1.0 / np.sqrt(patients * self._information(beta) + 1.0 / self.prior_var)

        edges = panel_edges(
            lower, upper, scale, kappa=_GRID_KAPPA, breaks=[cut] if np.isfinite(cut) else []
        )
        nodes, weights = gauss_legendre(edges, _GRID_POINTS)
        log_p, log_q = self._log_rates(nodes)
        self._edges = frozen_array(edges)
        self._nodes = frozen_array(nodes)
        self._quad_weights = frozen_array(weights)
        self._grid = GridPosterior(
            log_prior=frozen_array(np.log(weights) - 0.5 * nodes**2 / self.prior_var),
            log_p=frozen_array(log_p),
            log_q=frozen_array(log_q),
            q=frozen_array(np.exp(log_q)),
        )
        below = 1.0 - tail_weights(edges, _GRID_POINTS, np.array([cut]))[0] / weights
        self._functionals = frozen_array(np.column_stack([nodes, below]))

    def _prob_above(self, posterior: np.ndarray, threshold: float) -> np.ndarray:
        """P(DLT rate > threshold) per dose from normalised grid weights (trials, nodes)."""
        return np.clip(posterior @ self._below(threshold).T, 0.0, 1.0)

    def _below(self, threshold: float) -> np.ndarray:
        """Per dose, the grid functional of P(DLT rate <= threshold), kept per threshold."""
        cache = self.__dict__.setdefault("_below_cache", {})
        if threshold not in cache:
            cuts = self._beta_where(threshold)
            upper = tail_weights(self._edges, _GRID_POINTS, np.clip(cuts, -1e300, 1e300))
            cache[threshold] = frozen_array(1.0 - upper / self._quad_weights)
        return cache[threshold]

    def _decide(self, state: EscalationState) -> CRMBatchDecision:
        """Batch decision of the rules in the class docstring.

        Parameters
        ----------
        state : EscalationState
            Known outcomes and DLTs per dose, the current dose, the most recent cohort's
            DLT (coherence) and, for TITE-CRM, the pending patients with their weights.

        Returns
        -------
        CRMBatchDecision
            ``next_dose`` and ``mtd`` as floats with NaN for none; ``rule`` indexes
            :attr:`rules`; every dose is admissible unless the safety stop fired.
        """
        batch = read_batch(state, tite=self.window is not None)
        trials = batch.n.shape[0]
        flag = batch.last_cohort_dlt
        post = self._grid.expect(batch.n, batch.y, self._functionals, batch.pending)
        beta_mean, prob_low = post[:, 0], np.clip(post[:, 1], 0.0, 1.0)
        ptox = self.ptox(beta_mean)
        model_dose = np.argmin(np.abs(ptox - self.target), axis=1)
        ceiling = (
            np.maximum(batch.highest_tried + 1, self.start)
            if self.no_skip
            else np.full(trials, self.n_doses - 1)
        )
        capped = np.minimum(model_dose, ceiling)
        chosen = np.where(flag, np.minimum(capped, batch.current), capped)
        if not self.coherent:
            chosen = capped
        rule = np.where(
            chosen < capped, _COHERENCE, np.where(capped < model_dose, _NO_SKIP, _MODEL)
        )
        fresh = batch.total == 0
        chosen = np.where(fresh, self.start, chosen)
        rule = np.where(fresh, _START, rule)
        too_toxic = np.zeros(trials, dtype=bool)
        if self.stop_prob is not None:
            too_toxic = ~fresh & (prob_low > self.stop_prob)
        full = np.zeros(trials, dtype=bool)
        if self.max_n is not None:
            full = (batch.total >= self.max_n) & ~too_toxic
        stop = too_toxic | full
        rule = np.where(too_toxic, _SAFETY, np.where(full, _SAMPLE_SIZE, rule))
        return CRMBatchDecision(
            next_dose=np.where(stop, np.nan, chosen.astype(float)),
            stop=stop,
            mtd=np.where(full, model_dose.astype(float), np.nan),
            admissible=np.repeat(~too_toxic[:, None], self.n_doses, axis=1),
            rule=rule,
            wait=np.zeros(trials, dtype=bool),
            beta_mean=beta_mean,
            ptox_plugin=ptox,
            prob_lowest_over=prob_low,
            model_dose=model_dose,
            highest_tried=batch.highest_tried,
            total=batch.total,
            last_cohort_dlt=flag & self.coherent,
            pending=batch.pending,
        )

    def fit(
        self,
        level: Sequence[int] | np.ndarray,
        dlt: Sequence[int] | np.ndarray,
        followup: Sequence[float | None] | np.ndarray | None = None,
    ) -> CRMFit:
        """Posterior of the working model from one trial's patients in enrolment order.

        ``level`` holds 0-based doses, ``dlt`` 0/1, ``followup`` days of follow-up for
        patients still inside the DLT window (None/NaN when complete). TITE-CRM weighs
        pending patients by min(1, follow-up / window); the CRM leaves them out.
        """
        return self._fit_state(self._state_of(level, dlt, followup))

    def _fit_state(self, state: EscalationState) -> CRMFit:
        """The posterior of a state of one trial (pending patients weighed when TITE)."""
        if self.window is None:
            return self._fit(state.n[0], state.y[0], None, np.zeros(self.n_doses, np.int64))
        return self._fit(state.n[0], state.y[0], state.pending, state.n_pending[0])

    def _fit(
        self, n: np.ndarray, y: np.ndarray, pending: PendingBatch | None, n_pending: np.ndarray
    ) -> CRMFit:
        weights = self._grid.weights(n[None, :], y[None, :], pending)[0]
        nodes = self._nodes
        beta_mean = float(weights @ nodes)
        beta_var = float(weights @ (nodes - beta_mean) ** 2)
        half = _Z90 * np.sqrt(beta_var)
        plugin = self.ptox(beta_mean)
        return CRMFit(
            labels=self.labels,
            skeleton=frozen_array(self.skeleton),
            target=self.target,
            model=self.model,
            n_at_dose=frozen_array(n, dtype=np.int64),
            dlt_at_dose=frozen_array(y, dtype=np.int64),
            pending_at_dose=frozen_array(n_pending, dtype=np.int64),
            beta_mean=beta_mean,
            beta_var=beta_var,
            ptox_plugin=frozen_array(plugin),
            ptox_lower=frozen_array(self.ptox(beta_mean + half)),
            ptox_upper=frozen_array(self.ptox(beta_mean - half)),
            ptox_mean=frozen_array(weights @ np.exp(self._grid.log_p)),
            mtd=int(np.argmin(np.abs(plugin - self.target))),
            _design=self,
            _weights=frozen_array(weights),
        )

    def _estimates(self, state: EscalationState) -> pd.DataFrame:
        fit = self._fit_state(state)
        return pd.DataFrame({"skeleton": fit.skeleton, **_estimate_columns(fit)})

    def _explain(
        self, batch: BatchDecision, state: EscalationState, known: EscalationState | None = None
    ) -> list[tuple[str, str]]:
        assert isinstance(batch, CRMBatchDecision)
        current = int(state.current[0])
        labels = self.labels
        rule = int(batch.rule[0])
        dose = int(batch.model_dose[0])
        rate = float(batch.ptox_plugin[0, dose])
        model = (
            "model",
            f"plug-in DLT rate at {labels[dose]} = {rate:.2f} closest to target "
            f"{self.target:.2f} (posterior mean of beta {float(batch.beta_mean[0]):.3f})",
        )
        if rule == _START:
            start = labels[self.start]
            return [("start", f"no patient treated yet; treat at the start dose {start}")]
        if rule == _SAFETY:
            return [
                (
                    "safety stop",
                    f"P(DLT rate at {labels[0]} > {self.target:.2f}) = "
                    f"{float(batch.prob_lowest_over[0]):.3f} > {self.stop_prob:.2f}: "
                    f"stop, no MTD",
                )
            ]
        if rule == _SAMPLE_SIZE:
            return [
                (
                    "sample size",
                    f"{int(batch.total[0])} patients treated, the maximum is {self.max_n}: "
                    f"stop with MTD {labels[dose]}",
                ),
                model,
            ]
        reasons = [model]
        chosen = int(batch.next_dose[0])
        if rule == _NO_SKIP:
            highest = int(batch.highest_tried[0])
            reasons.append(
                (
                    "no skipping",
                    f"{labels[dose]} is more than one level above the highest dose tried, "
                    f"{labels[highest]}: treat at {labels[chosen]}",
                )
            )
        elif rule == _COHERENCE:
            reasons.append(
                (
                    "coherence",
                    f"a DLT in the most recent cohort at {labels[current]}: no escalation "
                    f"above {labels[current]}; treat at {labels[chosen]}",
                )
            )
        return reasons
