"""The Bayesian optimal interval design (BOIN) and its time-to-event version (TITE-BOIN).

References: Liu S, Yuan Y (2015). Bayesian optimal interval designs for phase I clinical
trials. Journal of the Royal Statistical Society: Series C 64:507-523. Yuan Y, Lin R, Li D,
Nie L, Warren KE (2018). Time-to-event Bayesian optimal interval design to accelerate
phase I trials. Clinical Cancer Research 24:4921-4930.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import beta

from . import _isotonic
from ._base import BatchDecision, EscalationDesign, _assumed
from ._boin_tables import MIN_ELIMINATE, boundary_frame, decision_tables, interval_boundary
from ._boin_text import (
    DEESCALATE,
    ELIMINATE,
    ESCALATE,
    RULES,
    START,
    STAY,
    STAY_BLOCKED,
    STAY_LOWEST,
    STAY_TOP,
    STOP_EARLY,
    STOP_LOWEST,
    STOP_MAX,
    STOP_SAFE,
    SUSPEND,
    describe,
)
from ._state import EscalationState
from ._tite import imputed_rate

__all__ = ["BOIN"]

_OFFSET = np.array([0, 1, 0, -1, 0, 0, 0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan])
_STAYS = np.zeros(len(_OFFSET), dtype=bool)
_STAYS[[STAY, STAY_TOP, STAY_BLOCKED, STAY_LOWEST]] = True


class BOIN(EscalationDesign):
    """Bayesian optimal interval design (Liu and Yuan 2015); TITE-BOIN when ``window`` is set.

    With n patients and y DLTs at the current dose, BOIN escalates when y/n <= lambda_e,
    de-escalates when y/n >= lambda_d, and stays otherwise, where

    lambda_e = log((1 - p_saf) / (1 - target)) / log(target (1 - p_saf) / (p_saf (1 - target)))
    lambda_d = log((1 - target) / (1 - p_tox)) / log(p_tox (1 - target) / (target (1 - p_tox)))

    minimise the chance of a wrong decision between the hypotheses p = p_saf, p = target
    and p = p_tox. Decisions use BOIN::get.boundary's integer boundaries (``boundaries``).
    A dose with n >= 3 and P(p > target | y, n) > ``cutoff_eliminate`` under a Beta(1, 1)
    prior is eliminated with every higher dose; the design never escalates into an
    eliminated dose and stops with no MTD when the lowest dose is eliminated.

    Rules in order of precedence, for a batch of trials: stop with no MTD when the lowest
    dose is eliminated, or (``extra_safe``) when P(p at the lowest dose > target) >
    cutoff_eliminate - offset with n >= 3; stop and select the MTD when ``max_n`` patients
    have been treated; de-escalate to the highest admissible dose when the current one is
    eliminated; treat the start cohort when the current dose has no patient; then the
    interval rule above, staying when escalation would pass the highest or an eliminated
    dose and when de-escalation would pass the lowest; finally stop and select the MTD
    when the decision is to stay and ``n_earlystop`` patients have been treated at the
    current dose (BOIN::get.oc stops only then). The MTD is declared only when the trial
    stops (``mtd`` is NaN in every other decision); :meth:`select_mtd` gives the running
    estimate at any time.

    TITE-BOIN (Yuan et al. 2018) receives the patients still inside the DLT ``window``
    through ``pending``: m of the n patients at the current dose are pending, with
    standardized total follow-up STFT = sum of min(1, follow-up / window). Each pending
    outcome is imputed under a uniform time to DLT, giving the estimate

    p_hat = (y + (m - STFT) p_post / (1 - p_post)) / n,   p_post = (y + target/2) / (n - m + 1),

    where p_post is the posterior mean from the completed patients under the paper's
    Beta(target/2, 1 - target/2) prior. Its rules, at a current dose with pending
    patients: de-escalate when y/n >= lambda_d, whatever the pending outcomes; else
    suspend accrual when more than ``suspend_pending`` of its patients are pending; else
    escalate when p_hat <= lambda_e, and de-escalate when p_hat >= lambda_d and the
    observed y/n has reached the target (imputed outcomes alone never de-escalate from an
    observed rate below the target, as in the paper's Table 1). Elimination and the
    extra-safe rule count pending patients as treated without DLT, as Table 1 does.
    Without pending patients at the current dose the BOIN rule applies, so with complete
    follow-up TITE-BOIN is BOIN.

    "Suspend accrual" (above) is a wait: no new patient is enrolled and the design decides
    again once more follow-up has accrued. A stopping rule met while patients are pending
    waits for their follow-up before it stops and selects the MTD, as every design does
    (:meth:`EscalationDesign.decide`). With ``escalate_after_complete = k`` (TITE only) the
    next dose is not above the current dose until k patients there have complete
    follow-up. Without ``window``, pending patients are weighed as for every design.

    Parameters
    ----------
    target : float
        Target DLT rate, in [0.05, 0.6] as BOIN requires.
    n_doses : int
        Number of dose levels (index 0 is the lowest).
    cohort_size : int, default 3
        Patients per cohort, for tables and simulation.
    p_saf, p_tox : float, optional
        Highest DLT rate deemed too low and lowest deemed too toxic; defaults
        0.6 x target and 1.4 x target; each at least 0.1 x target away from the target.
    cutoff_eliminate : float, default 0.95
        Posterior probability of a DLT rate above target that eliminates a dose.
    extra_safe : bool, default False
        Also stop when the lowest dose has P(p > target) > cutoff_eliminate - offset.
    offset : float, default 0.05
        How much stricter the extra-safe stopping rule is, in [0, 0.5).
    window : float, optional
        DLT assessment window in days; set for TITE-BOIN.
    start : int, default 0
        0-based start dose.
    max_n : int, optional
        Patients in the whole trial; the trial stops and selects the MTD at this number.
    n_earlystop : int, optional
        Stop and select the MTD when this many patients have been treated at the current
        dose and the decision is to stay (BOIN's ``n.earlystop``).
    labels : sequence of str, optional
        Dose labels for tables.
    suspend_pending : float, default 0.5
        TITE-BOIN: suspend accrual when the fraction of pending patients at the current
        dose exceeds this.
    escalate_after_complete : int, optional
        TITE-BOIN: patients at the current dose with complete follow-up needed before an
        escalation.

    Examples
    --------
    >>> design = BOIN(0.3, n_doses=5, labels=["DL-1", "DL1", "DL2", "DL3", "DL4"], start=1)
    >>> round(design.lambda_e, 4), round(design.lambda_d, 4)
    (0.2365, 0.3585)
    >>> design.recommend([1, 1, 1], [0, 0, 0]).next_dose
    2
    >>> design.select_mtd([0, 3, 6, 3, 0], [0, 0, 1, 2, 0])
    2

    References
    ----------
    Liu S, Yuan Y (2015). Bayesian optimal interval designs for phase I clinical trials.
    Journal of the Royal Statistical Society: Series C 64:507-523.

    Yuan Y, Hess KR, Hilsenbeck SG, Gilbert MR (2016). Bayesian optimal interval design: a
    simple and well-performing design for phase I oncology trials. Clinical Cancer
    Research 22:4291-4301.

    Yuan Y, Lin R, Li D, Nie L, Warren KE (2018). Time-to-event Bayesian optimal interval
    design to accelerate phase I trials. Clinical Cancer Research 24:4921-4930.
    """

    design_rules = RULES
    design_wait_rules: frozenset[int] = frozenset({SUSPEND})

    def __init__(
        self,
        target: float,
        *,
        n_doses: int,
        cohort_size: int = 3,
        p_saf: float | None = None,
        p_tox: float | None = None,
        cutoff_eliminate: float = 0.95,
        extra_safe: bool = False,
        offset: float = 0.05,
        window: float | None = None,
        start: int = 0,
        max_n: int | None = None,
        n_earlystop: int | None = None,
        labels: Sequence[str] | None = None,
        suspend_pending: float = 0.5,
        escalate_after_complete: int | None = None,
    ) -> None:
        target = _probability("target", target)
        if not 0.05 <= target <= 0.6:
            raise ValueError(f"target {target} is outside 0.05-0.6, the range BOIN is built for")
        p_saf = 0.6 * target if p_saf is None else _probability("p_saf", p_saf)
        p_tox = 1.4 * target if p_tox is None else _probability("p_tox", p_tox)
        if target - p_saf < 0.1 * target:
            raise ValueError(
                f"p_saf {p_saf} is too close to the target {target}: "
                f"a DLT rate deemed too low must be at most 0.9 x target"
            )
        if p_tox - target < 0.1 * target:
            raise ValueError(
                f"p_tox {p_tox} is too close to the target {target}: "
                f"a DLT rate deemed too toxic must be at least 1.1 x target"
            )
        cutoff_eliminate = _probability("cutoff_eliminate", cutoff_eliminate)
        if not 0 <= offset < 0.5 or offset >= cutoff_eliminate:
            raise ValueError(f"offset {offset} must be in [0, 0.5) and below cutoff_eliminate")
        if window is not None and not window > 0:
            raise ValueError(f"DLT window {window} must be a positive number of days")
        if not 0 < suspend_pending <= 1:
            raise ValueError(f"suspend_pending {suspend_pending} must be a fraction in (0, 1]")
        self.n_doses = _count("n_doses", n_doses)
        if not 0 <= start < self.n_doses or int(start) != start:
            raise ValueError(f"start dose {start} is outside 0..{self.n_doses - 1} (0-based)")
        self.target = target
        self.cohort_size = _count("cohort_size", cohort_size)
        self.p_saf = float(p_saf)
        self.p_tox = float(p_tox)
        self.cutoff_eliminate = cutoff_eliminate
        self.extra_safe = bool(extra_safe)
        self.offset = float(offset)
        self.window = None if window is None else float(window)
        self.start = int(start)
        self.max_n = None if max_n is None else _count("max_n", max_n)
        self.n_earlystop = None if n_earlystop is None else _count("n_earlystop", n_earlystop)
        self.suspend_pending = float(suspend_pending)
        self.labels = self._labels_or_default(labels)
        self.lambda_e = interval_boundary(self.p_saf, target)
        self.lambda_d = interval_boundary(target, self.p_tox)
        self._set_restriction(escalate_after_complete)

    def _key(self) -> tuple[object, ...]:
        return (
            self.target,
            self.n_doses,
            self.cohort_size,
            self.p_saf,
            self.p_tox,
            self.cutoff_eliminate,
            self.extra_safe,
            self.offset,
            self.window,
            self.start,
            self.max_n,
            self.n_earlystop,
            self.labels,
            self.suspend_pending,
            self.escalate_after_complete,
        )

    def __repr__(self) -> str:
        name = "BOIN" if self.window is None else "TITE-BOIN"
        parts = [
            f"target={self.target:g}",
            f"n_doses={self.n_doses}",
            f"cohort_size={self.cohort_size}",
            f"lambda_e={self.lambda_e:.4f}",
            f"lambda_d={self.lambda_d:.4f}",
            f"cutoff_eliminate={self.cutoff_eliminate:g}",
            f"start={self.labels[self.start]}",
        ]
        if self.extra_safe:
            parts.append(f"extra_safe=True, offset={self.offset:g}")
        if self.max_n is not None:
            parts.append(f"max_n={self.max_n}")
        if self.n_earlystop is not None:
            parts.append(f"n_earlystop={self.n_earlystop}")
        if self.window is not None:
            parts.append(f"window={self.window:g}, suspend_pending={self.suspend_pending:g}")
        if self.escalate_after_complete is not None:
            parts.append(f"escalate_after_complete={self.escalate_after_complete}")
        return f"{name}({', '.join(parts)})"

    def _tables(self, largest: int) -> tuple[np.ndarray, ...]:
        size = max(64, 1 << int(largest).bit_length())
        stop_cutoff = self.cutoff_eliminate - self.offset if self.extra_safe else 2.0
        return decision_tables(
            self.target, self.lambda_e, self.lambda_d, self.cutoff_eliminate, stop_cutoff, size
        )

    def boundaries(self, max_n: int | None = None) -> pd.DataFrame:
        """Escalation, de-escalation and elimination boundaries for 1..max_n patients.

        The table of BOIN::get.boundary: escalate when the number of DLTs is at most
        ``escalate_if_le`` = floor(lambda_e n); de-escalate when at least
        ``deescalate_if_ge`` = ceiling(lambda_d n) (lambda_d n + 1 when lambda_d n is a
        whole number), capped at the elimination boundary; eliminate when at least
        ``eliminate_if_ge``, the smallest y with P(p > target | y, n) > cutoff_eliminate
        under Beta(1, 1), missing when n < 3 or no y qualifies. With ``extra_safe`` a
        column ``stop_if_ge`` gives the stopping boundary at the lowest dose.

        Parameters
        ----------
        max_n : int, optional
            Largest number of patients at a dose; defaults to the design's ``max_n``.
        """
        if max_n is None:
            if self.max_n is None:
                raise ValueError("give max_n: the design has no maximum sample size")
            max_n = self.max_n
        max_n = _count("max_n", max_n)
        return boundary_frame(self._tables(max_n), max_n, self.extra_safe)

    def _decide(self, state: EscalationState) -> BatchDecision:
        """Batch decision of the rules in the class docstring.

        Parameters
        ----------
        state : EscalationState
            Known outcomes and DLTs per dose, the current dose and, for TITE-BOIN, the
            pending patients with their weights.

        Returns
        -------
        BatchDecision
            ``next_dose`` (NaN when stopping or waiting), ``stop``, ``mtd`` (declared at a
            stop that selects one, else NaN), ``admissible`` (not eliminated), ``rule`` and
            ``wait``.
        """
        n, y, cur = state.n, state.y, state.current
        trials, doses = n.shape
        rows = np.arange(trials)
        if self.window is None:
            waiting = np.zeros_like(n)
            follow = np.zeros(n.shape)
        else:
            waiting, follow = state.pending.per_dose(doses)
        total = n + waiting
        escalate_le, deescalate_ge, _, _ = self._tables(total.max(initial=0))
        first, unsafe = self._screen(total, y)
        admissible = (np.arange(doses) < first[:, None]) & ~unsafe[:, None]

        nc = total[rows, cur]
        yc = y[rows, cur]
        mc = waiting[rows, cur]
        up = admissible[rows, np.minimum(cur + 1, doses - 1)] & (cur < doses - 1)
        escalate = yc <= escalate_le[nc]
        deescalate = yc >= deescalate_ge[nc]
        suspend = np.zeros(trials, dtype=bool)
        tite = mc > 0
        if tite.any():
            estimate = imputed_rate(self.target, nc, yc, mc, follow[rows, cur])
            at_target = yc >= self.target * nc - 1e-9
            suspend = tite & ~deescalate & (mc > self.suspend_pending * nc)
            escalate = np.where(tite, ~suspend & (estimate <= self.lambda_e), escalate)
            deescalate = deescalate | (tite & ~suspend & at_target & (estimate >= self.lambda_d))
        reached = total.sum(axis=1) >= (np.inf if self.max_n is None else self.max_n)
        rule = np.select(
            [
                first == 0,
                unsafe,
                reached,
                cur >= first,
                nc == 0,
                suspend,
                escalate & (cur == doses - 1),
                escalate & ~up,
                escalate,
                deescalate & (cur == 0),
                deescalate,
            ],
            [
                STOP_LOWEST,
                STOP_SAFE,
                STOP_MAX,
                ELIMINATE,
                START,
                SUSPEND,
                STAY_TOP,
                STAY_BLOCKED,
                ESCALATE,
                STAY_LOWEST,
                DEESCALATE,
            ],
            default=STAY,
        )
        if self.n_earlystop is not None:
            rule = np.where(_STAYS[rule] & (nc >= self.n_earlystop), STOP_EARLY, rule)
        next_dose = cur + _OFFSET[rule]
        next_dose = np.where(rule == ELIMINATE, first - 1, next_dose)
        mtd = np.full(trials, np.nan)
        selects = (rule == STOP_MAX) | (rule == STOP_EARLY)
        if selects.any():
            mtd[selects] = _isotonic.select_batch(
                n[selects], y[selects], admissible[selects], self.target
            )
        wait = rule == SUSPEND
        return BatchDecision(
            next_dose=next_dose,
            stop=np.isnan(next_dose) & ~wait,
            mtd=mtd,
            admissible=admissible,
            rule=rule,
            wait=wait,
        )

    def _screen(self, n: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per trial: the lowest eliminated dose (``doses`` if none) and whether the
        extra-safe rule stops the trial, from the integer tables."""
        _, _, eliminate_ge, stop_ge = self._tables(n.max(initial=0))
        eliminated = y >= eliminate_ge[n]
        first = np.where(eliminated.any(axis=1), np.argmax(eliminated, axis=1), n.shape[1])
        return first, y[:, 0] >= stop_ge[n[:, 0]]

    def _check(self, n: np.ndarray, y: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, ...]:
        n = np.asarray(n, dtype=np.int64)
        y = np.asarray(y, dtype=np.int64)
        cur = np.asarray(current, dtype=np.int64).reshape(-1)
        if n.ndim != 2 or n.shape != y.shape or n.shape[1] != self.n_doses:
            raise ValueError(f"n and y must have shape (trials, {self.n_doses})")
        if cur.shape != (n.shape[0],) or np.any((cur < 0) | (cur >= self.n_doses)):
            raise ValueError(f"current must hold one dose in 0..{self.n_doses - 1} per trial")
        if np.any((y < 0) | (y > n)):
            raise ValueError("DLT counts must lie between 0 and the number of patients")
        return n, y, cur

    def _eliminated(self, n: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Admissible doses of one trial by direct posterior probabilities (no tables)."""
        prob = beta.sf(self.target, y + 1, n - y + 1)
        over = (n >= MIN_ELIMINATE) & (prob > self.cutoff_eliminate)
        admissible = np.cumsum(over) == 0
        if self.extra_safe and n[0] >= MIN_ELIMINATE:
            if prob[0] > self.cutoff_eliminate - self.offset:
                admissible[:] = False
        return admissible

    def select_mtd(
        self, n: Sequence[int] | np.ndarray, y: Sequence[int] | np.ndarray
    ) -> int | None:
        """The MTD of one trial from per-dose counts, as BOIN::select.mtd with its defaults.

        Doses eliminated (n >= 3 and P(p > target | y, n) > cutoff_eliminate under
        Beta(1, 1), and every dose above) and doses not tried are excluded; none is left,
        or the lowest dose is eliminated (or, with ``extra_safe``, fails the stricter
        rule): no MTD. Over the remaining doses the smoothed rates
        (y + 0.05) / (n + 0.1) are made non-decreasing by pool-adjacent-violators with
        weights the inverse of their Beta(y + 0.05, n - y + 0.05) variances; after
        adding k x 1e-10 to the k-th remaining dose, the dose closest to the target is the
        MTD. So among pooled doses the highest is chosen when their estimate is below the
        target, the lowest when above.

        Parameters
        ----------
        n, y : sequence of int, shape (doses,)
            Patients and DLTs per 0-based dose.

        Returns
        -------
        int or None
            0-based MTD, or None when no dose qualifies.

        References
        ----------
        Liu S, Yuan Y (2015). Bayesian optimal interval designs for phase I clinical
        trials. Journal of the Royal Statistical Society: Series C 64:507-523.
        """
        n_arr = np.asarray(n, dtype=np.int64)
        y_arr = np.asarray(y, dtype=np.int64)
        self._check(n_arr[None], y_arr[None], np.zeros(1, dtype=np.int64))
        return _isotonic.select_one(n_arr, y_arr, self._eliminated(n_arr, y_arr), self.target)

    def select_mtd_batch(self, n: np.ndarray, y: np.ndarray) -> np.ndarray:
        """:meth:`select_mtd` for a batch: shape (trials, doses) in, float (NaN: none) out."""
        n, y, _ = self._check(n, y, np.zeros(np.shape(n)[0], dtype=np.int64))
        first, unsafe = self._screen(n, y)
        admissible = np.arange(n.shape[1]) < first[:, None]
        mtd = _isotonic.select_batch(n, y, admissible, self.target)
        return np.where((first == 0) | unsafe, np.nan, mtd)

    def _estimates(self, state: EscalationState) -> pd.DataFrame:
        """Observed rate, isotonic estimate and P(rate > target) from the known outcomes;
        TITE-BOIN adds ``imputed_rate``, its estimate with pending outcomes imputed, and
        counts pending patients as treated without DLT in ``prob_over_target``, as its
        elimination rule does."""
        n, y = state.n[0], state.y[0]
        tried = n > 0
        rate, weight = _isotonic.smoothed_rate(n, y)
        with np.errstate(invalid="ignore", divide="ignore"):
            observed = np.where(tried, y / n, np.nan)
        table = pd.DataFrame(
            {
                "observed_rate": observed,
                "isotonic_estimate": _isotonic.isotonic_one(rate, weight, tried),
                "prob_over_target": np.where(tried, beta.sf(self.target, y + 1, n - y + 1), np.nan),
            }
        )
        if self.window is None:
            return table
        m, stft = (values[0] for values in state.pending.per_dose(self.n_doses))
        total = n + m
        with np.errstate(invalid="ignore", divide="ignore"):
            table["imputed_rate"] = np.where(
                total > 0, imputed_rate(self.target, total, y, m, stft), np.nan
            )
        table["prob_over_target"] = np.where(
            total > 0, beta.sf(self.target, y + 1, total - y + 1), np.nan
        )
        return table

    def _explain(
        self, batch: BatchDecision, state: EscalationState, known: EscalationState | None = None
    ) -> list[tuple[str, str]]:
        n, y = state.n[0], state.y[0]
        if self.window is None:
            none = np.zeros_like(n)
            reasons = describe(self, batch, n, y, none, none.astype(float), int(state.current[0]))
        else:
            m, stft = (values[0] for values in state.pending.per_dose(self.n_doses))
            reasons = describe(self, batch, n, y, m, stft, int(state.current[0]))
        if known is not None and reasons:
            rule, message = reasons[-1]
            reasons[-1] = (rule, message + _assumed(state, known))
        return reasons


def _probability(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a probability") from None
    if not 0 < value < 1:
        raise ValueError(f"{name} {value} is not a probability")
    return value


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} {value} must be a positive whole number")
    return int(value)
