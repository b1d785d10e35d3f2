"""The protocol's modified 3+3 design, batch first, with exact operating characteristics.

Reference: Storer BE (1989). Design and analysis of phase I clinical trials.
Biometrics 45:925-937.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom

from ._base import BatchDecision, EscalationDesign
from ._state import EscalationState

__all__ = ["ExactOC", "ThreePlusThree"]

_COHORT = 3
_MAX_AT_DOSE = 6

_RULES: tuple[tuple[str, str], ...] = (
    ("start", "no completed patient at {cur}; treat a cohort of 3 there"),
    ("rule 1: escalate", "0 of 3 with DLT at {cur}; escalate to {up}"),
    (
        "rule 1: expand",
        "0 of 3 with DLT at {cur} and no admissible higher dose; treat 3 more at {cur}",
    ),
    ("rule 2: expand", "1 of 3 with DLT at {cur}; treat 3 more at {cur}"),
    ("rule 4: escalate", "{y} of 6 with DLT at {cur}; escalate to {up}"),
    ("rule 4: MTD", "{y} of 6 with DLT at {cur} and no admissible higher dose; {cur} is the MTD"),
    (
        "too toxic: de-escalate",
        "{y} of {n} with DLT at {cur}; {cur} is too toxic, treat 3 at {down}",
    ),
    (
        "too toxic: expand below",
        "{y} of {n} with DLT at {cur}; {cur} is too toxic, {down} has 3: treat 3 more there",
    ),
    (
        "too toxic: MTD below",
        "{y} of {n} with DLT at {cur}; {cur} is too toxic, {down} has 6: {down} is the MTD",
    ),
    (
        "too toxic at the lowest dose",
        "{y} of {n} with DLT at {cur}, the lowest dose; stop with no MTD",
    ),
    ("complete the cohort", "{n} patient(s) at {cur}, {y} with DLT; complete the cohort"),
)

_NEXT_OFFSET = np.array([0, 1, 0, 0, 1, np.nan, -1, -1, np.nan, np.nan, 0])
_MTD_OFFSET = np.array([np.nan] * 5 + [0, np.nan, np.nan, -1, np.nan, np.nan])
_STOPS = np.isnan(_NEXT_OFFSET)


@dataclass(frozen=True)
class ExactOC:
    """Exact operating characteristics of a 3+3 design under true DLT rates.

    Attributes
    ----------
    true_tox : ndarray, shape (doses,)
    prob_mtd : ndarray, shape (doses,)
        Probability that each dose is declared the MTD.
    prob_no_mtd : float
        Probability of stopping with no MTD (every dose too toxic from the lowest tried).
    expected_patients, expected_dlts : ndarray, shape (doses,)
    expected_total : float
        Expected number of patients in the trial.
    labels : tuple of str
    """

    true_tox: np.ndarray
    prob_mtd: np.ndarray
    prob_no_mtd: float
    expected_patients: np.ndarray
    expected_dlts: np.ndarray
    expected_total: float
    labels: tuple[str, ...]

    def summary(self) -> pd.DataFrame:
        """Per-dose table: label, true DLT rate, P(MTD), expected patients and DLTs."""
        return pd.DataFrame(
            {
                "dose": self.labels,
                "true_tox": self.true_tox,
                "prob_mtd": self.prob_mtd,
                "expected_patients": self.expected_patients,
                "expected_dlts": self.expected_dlts,
            }
        )

    def __repr__(self) -> str:
        return (
            f"3+3 exact operating characteristics: P(no MTD) = {self.prob_no_mtd:.4f}, "
            f"E[N] = {self.expected_total:.3f}\n{self.summary().to_string(index=False)}"
        )


class ThreePlusThree(EscalationDesign):
    """Modified 3+3 (Storer 1989) on 0-based dose indices, cohorts of 3, at most 6 a dose.

    At the current dose d with n_d patients and y_d DLTs, after a cohort:

    1. n_d = 3, y_d = 0: escalate to d+1 if d is not the top dose and d+1 is not too
       toxic; otherwise treat 3 more at d.
    2. n_d = 3, y_d = 1: treat 3 more at d.
    3. y_d >= 2 (n_d = 3 or 6): d is too toxic; de-escalate.
    4. n_d = 6, y_d <= 1: escalate to d+1 if d is not the top dose and d+1 is not too
       toxic; otherwise d is the MTD; stop.

    De-escalating from d: if d = 0, stop with no MTD; else go to d-1: with 6 patients
    there, d-1 is the MTD; with 3, treat 3 more there; with none, treat 3 there. A dose
    found too toxic (y >= 2) is never given again, and the MTD always has 6 patients.
    Two DLTs decide "too toxic" as soon as they occur, before the cohort completes.

    Parameters
    ----------
    n_doses : int
        Number of dose levels (index 0 is the lowest).
    start : int, default 0
        0-based start dose; ``start=1`` leaves dose 0 (the protocol's DL-1) for
        de-escalation only.
    labels : sequence of str, optional
        Dose labels for tables (``DL-1``, ``DL1``, ...).

    Examples
    --------
    >>> design = ThreePlusThree(5, start=1, labels=["DL-1", "DL1", "DL2", "DL3", "DL4"])
    >>> design.recommend([1, 1, 1], [0, 0, 0]).next_dose
    2
    >>> round(design.exact_oc([0.05, 0.1, 0.2, 0.35, 0.5]).expected_total, 2) > 0
    True

    References
    ----------
    Storer BE (1989). Design and analysis of phase I clinical trials. Biometrics 45:925-937.
    """

    design_rules = _RULES

    def __init__(
        self, n_doses: int, *, start: int = 0, labels: Sequence[str] | None = None
    ) -> None:
        if int(n_doses) != n_doses or n_doses < 1:
            raise ValueError(f"n_doses {n_doses} must be a positive whole number")
        if not 0 <= start < n_doses:
            raise ValueError(f"start dose {start} is outside 0..{n_doses - 1} (0-based)")
        self.n_doses = int(n_doses)
        self.cohort_size = _COHORT
        self.max_per_dose = _MAX_AT_DOSE
        self.start = int(start)
        self.labels = self._labels_or_default(labels)

    def __repr__(self) -> str:
        return f"ThreePlusThree(n_doses={self.n_doses}, start={self.labels[self.start]})"

    def _key(self) -> tuple[object, ...]:
        return (self.n_doses, self.start, self.labels)

    def _decide(self, state: EscalationState) -> BatchDecision:
        """Batch decision of the rules above on complete data.

        Parameters
        ----------
        state : EscalationState
            Patients with known outcomes and DLTs per dose (at most 6 a dose) and the
            current dose; :meth:`decide` resolves pending patients before this rule.

        Returns
        -------
        BatchDecision
            ``next_dose`` and ``mtd`` as floats with NaN for none; ``rule`` indexes
            :attr:`rules`.
        """
        n, y, cur = state.n, state.y, state.current
        if n.max(initial=0) > _MAX_AT_DOSE:
            raise ValueError("the 3+3 treats at most 6 patients at a dose")
        rows = np.arange(n.shape[0])
        nd = n[rows, cur]
        yd = y[rows, cur]
        too_toxic = y >= 2
        can_escalate = (cur < self.n_doses - 1) & ~too_toxic[
            rows, np.minimum(cur + 1, self.n_doses - 1)
        ]
        n_below = n[rows, np.maximum(cur - 1, 0)]
        deescalate = yd >= 2
        full3 = (nd == _COHORT) & ~deescalate
        full6 = (nd == _MAX_AT_DOSE) & ~deescalate
        rule = np.select(
            [
                deescalate & (cur == 0),
                deescalate & (n_below >= _MAX_AT_DOSE),
                deescalate & (n_below >= _COHORT),
                deescalate,
                nd == 0,
                full3 & (yd == 0) & can_escalate,
                full3 & (yd == 0),
                full3,
                full6 & can_escalate,
                full6,
            ],
            [9, 8, 7, 6, 0, 1, 2, 3, 4, 5],
            default=10,
        )
        return BatchDecision(
            next_dose=cur + _NEXT_OFFSET[rule],
            stop=_STOPS[rule],
            mtd=cur + _MTD_OFFSET[rule],
            admissible=~too_toxic,
            rule=rule,
            wait=np.zeros(rule.shape, dtype=bool),
        )

    def exact_oc(self, true_tox: Sequence[float] | np.ndarray) -> ExactOC:
        """Exact operating characteristics by enumerating every path of the design.

        The trial is a Markov chain on (n, y, current dose); every cohort of 3 at dose d
        adds k DLTs with probability C(3, k) p_d^k (1 - p_d)^(3 - k). States are merged
        after each cohort, and all open states are decided in one batch, so enumeration
        is exact (no simulation) and fast: at most 2 x doses cohorts.

        Parameters
        ----------
        true_tox : sequence of float, shape (doses,)
            True DLT probability at each dose.
        """
        p = np.asarray(true_tox, dtype=float)
        if p.shape != (self.n_doses,) or np.any((p < 0) | (p > 1)):
            raise ValueError(f"true_tox must hold {self.n_doses} probabilities in [0, 1]")
        doses = self.n_doses
        n = np.zeros((1, doses), dtype=np.int64)
        y = np.zeros((1, doses), dtype=np.int64)
        cur = np.array([self.start])
        prob = np.ones(1)
        prob_mtd = np.zeros(doses)
        expected_n = np.zeros(doses)
        expected_y = np.zeros(doses)
        outcome_prob = binom.pmf(np.arange(_COHORT + 1)[None, :], _COHORT, p[:, None])
        while prob.size:
            decision = self.decide(EscalationState.of(n, y, cur))
            done = decision.stop
            expected_n += prob[done] @ n[done]
            expected_y += prob[done] @ y[done]
            has_mtd = done & ~np.isnan(decision.mtd)
            np.add.at(prob_mtd, decision.mtd[has_mtd].astype(np.int64), prob[has_mtd])
            keep = ~done
            n, y, prob = n[keep], y[keep], prob[keep]
            cur = decision.next_dose[keep].astype(np.int64)
            n, y, cur, prob = _expand_cohort(n, y, cur, prob, outcome_prob)
        return ExactOC(
            true_tox=p,
            prob_mtd=prob_mtd,
            prob_no_mtd=float(max(0.0, 1.0 - prob_mtd.sum())),
            expected_patients=expected_n,
            expected_dlts=expected_y,
            expected_total=float(expected_n.sum()),
            labels=self.labels,
        )


def _expand_cohort(
    n: np.ndarray, y: np.ndarray, cur: np.ndarray, prob: np.ndarray, outcome_prob: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Every state followed by a cohort of 3 at its current dose with 0-3 DLTs, merged."""
    if prob.size == 0:
        return n, y, cur, prob
    states = prob.size
    outcomes = outcome_prob.shape[1]
    rows = np.repeat(np.arange(states), outcomes)
    k = np.tile(np.arange(outcomes), states)
    n_new = n[rows].copy()
    y_new = y[rows].copy()
    d = cur[rows]
    n_new[np.arange(rows.size), d] += _COHORT
    y_new[np.arange(rows.size), d] += k
    p_new = prob[rows] * outcome_prob[d, k]
    key = np.concatenate([n_new, y_new, d[:, None]], axis=1)
    unique, inverse = np.unique(key, axis=0, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=p_new, minlength=unique.shape[0])
    doses = n.shape[1]
    return unique[:, :doses], unique[:, doses : 2 * doses], unique[:, -1], merged
