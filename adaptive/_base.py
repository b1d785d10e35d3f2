"""The decision protocol every escalation design shares.

A design decides on arrays for many trials at once (:meth:`EscalationDesign.decide`);
:meth:`EscalationDesign.recommend` turns one trial's patient-level data into a batch of one
and calls the same method, so a simulated design and a live recommendation run one code path.

Conventions: dose indices are 0-based; ``NaN`` in a float array means "none" (no next dose
when the trial stops, no MTD); labels are used only in tables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["BatchDecision", "Decision", "EscalationDesign", "PatientData", "PendingBatch"]


@dataclass(frozen=True)
class PendingBatch:
    """Patients still inside the DLT window without a DLT, for TITE designs, per trial.

    Padded to ``slots`` columns: a padded slot has ``mask`` False and weight 0, so it adds
    nothing to a TITE likelihood (log(1 - 0 p) = 0).

    Attributes
    ----------
    level : ndarray of int, shape (trials, slots)
        0-based dose of each pending patient.
    weight : ndarray of float, shape (trials, slots)
        TITE weight w = min(1, follow-up / window) (Cheung and Chappell 2000).
    mask : ndarray of bool, shape (trials, slots)
        True for a real pending patient.
    """

    level: np.ndarray
    weight: np.ndarray
    mask: np.ndarray

    def per_dose(self, n_doses: int) -> tuple[np.ndarray, np.ndarray]:
        """Pending patients and the sum of their weights per dose, shape (trials, doses)."""
        trials = self.level.shape[0]
        one_hot = (self.level[..., None] == np.arange(n_doses)) & self.mask[..., None]
        count = one_hot.sum(axis=1)
        weight_sum = np.einsum("tk,tkd->td", self.weight * self.mask, one_hot)
        return count.reshape(trials, n_doses), weight_sum.reshape(trials, n_doses)


@dataclass(frozen=True)
class BatchDecision:
    """Decisions for a batch of trials.

    Attributes
    ----------
    next_dose : ndarray of float, shape (trials,)
        0-based dose for the next cohort; NaN where the trial stops.
    stop : ndarray of bool, shape (trials,)
    mtd : ndarray of float, shape (trials,)
        0-based MTD where one is declared, else NaN.
    admissible : ndarray of bool, shape (trials, doses)
        Doses the design may still give (not eliminated as too toxic).
    rule : ndarray of int, shape (trials,)
        Index into the design's ``rules`` of the rule that decided.
    """

    next_dose: np.ndarray
    stop: np.ndarray
    mtd: np.ndarray
    admissible: np.ndarray
    rule: np.ndarray

    def __len__(self) -> int:
        return int(self.stop.shape[0])

    def take(self, index: np.ndarray) -> BatchDecision:
        """The decisions of a subset of trials."""
        return BatchDecision(
            next_dose=self.next_dose[index],
            stop=self.stop[index],
            mtd=self.mtd[index],
            admissible=self.admissible[index],
            rule=self.rule[index],
        )


@dataclass(frozen=True)
class PatientData:
    """One trial's patients in enrolment order (0-based dose, DLT 0/1, follow-up days)."""

    level: np.ndarray
    dlt: np.ndarray
    followup: np.ndarray

    @classmethod
    def coerce(
        cls,
        level: Sequence[int] | np.ndarray,
        dlt: Sequence[int] | np.ndarray,
        followup: Sequence[float | None] | np.ndarray | None,
        n_doses: int,
    ) -> PatientData:
        """Validate per-patient arrays; ``followup`` None or NaN means complete follow-up."""
        level_arr = np.asarray(level)
        dlt_arr = np.asarray(dlt)
        if level_arr.ndim != 1 or dlt_arr.shape != level_arr.shape:
            raise ValueError(
                f"level and dlt must be 1-D arrays of one length, got shapes "
                f"{level_arr.shape} and {dlt_arr.shape}"
            )
        if level_arr.size and not np.issubdtype(level_arr.dtype, np.integer):
            if not np.all(np.mod(level_arr, 1) == 0):
                raise ValueError(f"dose levels must be whole 0-based indices, got {level_arr}")
        level_arr = level_arr.astype(np.int64)
        bad = (level_arr < 0) | (level_arr >= n_doses)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"patient {i}: dose index {level_arr[i]} is outside 0..{n_doses - 1} "
                f"(0-based dose indices)"
            )
        if not np.all(np.isin(dlt_arr, (0, 1))):
            raise ValueError(f"dlt must hold 0 or 1 per patient, got {dlt_arr}")
        if followup is None:
            follow = np.full(level_arr.shape, np.nan)
        else:
            follow = np.array(
                [np.nan if v is None else v for v in np.asarray(followup, dtype=object)],
                dtype=float,
            )
            if follow.shape != level_arr.shape:
                raise ValueError(f"followup has shape {follow.shape}, expected {level_arr.shape}")
            if np.any(follow[np.isfinite(follow)] < 0):
                raise ValueError("followup days must be non-negative")
        return cls(level=level_arr, dlt=dlt_arr.astype(np.int64), followup=follow)

    @property
    def pending(self) -> np.ndarray:
        """Patients without a DLT whose follow-up is still running."""
        return (self.dlt == 0) & np.isfinite(self.followup)

    def pending_batch(self, window: float) -> PendingBatch:
        """Pending patients as a batch of one, with TITE weight w = min(1, follow-up / window)."""
        weight = np.minimum(1.0, self.followup[self.pending] / window)
        return PendingBatch(
            level=self.level[self.pending][None, :],
            weight=weight[None, :],
            mask=np.ones((1, weight.size), dtype=bool),
        )

    def counts(self, n_doses: int, *, pending_as: int | None = None) -> tuple[np.ndarray, ...]:
        """Patients, DLTs and pending patients per dose.

        ``pending_as`` None drops pending patients from n and y (completed cohorts only);
        0 counts them as completed without DLT; 1 counts them as DLTs.
        """
        pending = self.pending
        n_pending = np.bincount(self.level[pending], minlength=n_doses)
        keep = ~pending if pending_as is None else np.ones_like(pending)
        n = np.bincount(self.level[keep], minlength=n_doses)
        dlt = self.dlt.copy()
        if pending_as is not None:
            dlt[pending] = pending_as
        y = np.bincount(self.level[keep], weights=dlt[keep], minlength=n_doses).astype(np.int64)
        return n, y, n_pending


@dataclass(frozen=True)
class Decision:
    """The decision for one trial, with the reasons a safety committee reads.

    ``next_dose`` and ``mtd`` are 0-based indices or None; ``wait`` is True when patients
    inside the DLT window could still change the decision.
    """

    design: str
    next_dose: int | None
    mtd: int | None
    stop: bool
    wait: bool
    reasons: tuple[tuple[str, str], ...]
    labels: tuple[str, ...]
    n_at_dose: np.ndarray
    dlt_at_dose: np.ndarray
    pending_at_dose: np.ndarray
    admissible: np.ndarray
    estimates: pd.DataFrame | None = field(default=None, repr=False)

    def summary(self) -> pd.DataFrame:
        """Per-dose table: label, n, DLTs, pending, admissible, and the design's estimates."""
        table = pd.DataFrame(
            {
                "dose": self.labels,
                "n": self.n_at_dose,
                "dlt": self.dlt_at_dose,
                "pending": self.pending_at_dose,
                "admissible": self.admissible,
            }
        )
        if self.estimates is not None:
            table = pd.concat([table, self.estimates.reset_index(drop=True)], axis=1)
        return table

    @property
    def action(self) -> str:
        """Plain words: ``wait``, ``stop``, or ``treat next cohort at <label>``."""
        if self.wait:
            return "wait"
        if self.stop:
            mtd = "no MTD" if self.mtd is None else f"MTD {self.labels[self.mtd]}"
            return f"stop ({mtd})"
        return f"treat next cohort at {self.labels[self.next_dose]}"  # type: ignore[index]

    def __repr__(self) -> str:
        reasons = "\n".join(f"  - {rule}: {message}" for rule, message in self.reasons)
        return (
            f"{self.design} decision: {self.action}\n{reasons}\n"
            f"{self.summary().to_string(index=False)}"
        )

    def _repr_html_(self) -> str:
        import html

        items = "".join(
            f"<li><b>{html.escape(rule)}</b>: {html.escape(message)}</li>"
            for rule, message in self.reasons
        )
        return (
            f"<p><b>{html.escape(self.design)}</b>: {html.escape(self.action)}</p>"
            f"<ul>{items}</ul>{self.summary().to_html(index=False)}"
        )


class EscalationDesign(ABC):
    """Base of every escalation design: one batch method, and ``recommend`` on top of it.

    Subclasses implement :meth:`decide` on count arrays and describe their ``rules``. A
    design with a DLT ``window`` (TITE) receives pending patients with their weights
    w = min(1, follow-up / window), and waits when its decision is one of ``wait_rules``
    (e.g. TITE-BOIN's accrual suspension); other designs wait when pending patients could
    change the decision.
    """

    n_doses: int
    labels: tuple[str, ...]
    rules: tuple[tuple[str, str], ...]
    window: float | None = None
    wait_rules: frozenset[int] = frozenset()
    max_per_dose: int | None = None
    """Most patients the design treats at one dose (None: no limit of its own)."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in self.__dict__:
            raise AttributeError(f"{type(self).__name__} is immutable; build a new design")
        object.__setattr__(self, name, value)

    @abstractmethod
    def _key(self) -> tuple[object, ...]:
        """Every protocol number of the design, for equality and hashing."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    @abstractmethod
    def decide(
        self,
        n: np.ndarray,
        y: np.ndarray,
        current: np.ndarray,
        *,
        pending: PendingBatch | None = None,
    ) -> BatchDecision:
        """Decide for a batch of trials from completed-patient counts.

        Parameters
        ----------
        n, y : ndarray of int, shape (trials, doses)
            Patients whose DLT outcome is known (a DLT, or complete follow-up without
            one) and their DLTs, per dose.
        current : ndarray of int, shape (trials,)
            0-based dose of the most recent cohort.
        pending : PendingBatch, optional
            Patients still inside the window without a DLT; only TITE designs use it
            (other designs raise if it is given).
        """

    def _labels_or_default(self, labels: Sequence[str] | None) -> tuple[str, ...]:
        if labels is None:
            return tuple(str(i) for i in range(self.n_doses))
        if len(labels) != self.n_doses:
            raise ValueError(f"{len(labels)} labels given for {self.n_doses} doses")
        return tuple(str(label) for label in labels)

    def _estimates(self, n: np.ndarray, y: np.ndarray) -> pd.DataFrame | None:
        return None

    def _summary_estimates(
        self, batch: BatchDecision, n: np.ndarray, y: np.ndarray
    ) -> pd.DataFrame | None:
        """Per-dose estimates for the summary of the batch-of-one decision ``batch``: by
        default :meth:`_estimates` of the counts; a TITE design overrides this to include
        the pending patients its decision used."""
        return self._estimates(n, y)

    def _decide_options(self, data: PatientData, pending_as: int | None) -> dict[str, np.ndarray]:
        """Keyword arguments of :meth:`decide` beyond the counts, for a batch of one.

        A design whose rules read the order of patients (e.g. coherence: was there a DLT in
        the most recent cohort) derives them here from the patient data; ``pending_as``
        says how pending patients were resolved for the counts (None: left out, 0: no DLT,
        1: DLT). None by default.
        """
        return {}

    def _explain(
        self, batch: BatchDecision, n: np.ndarray, y: np.ndarray, current: int
    ) -> list[tuple[str, str]]:
        """The (rule, message) pairs behind a batch-of-one decision; designs with
        posteriors override this to add the probabilities that decided."""
        return [self._reason(int(batch.rule[0]), n, y, current)]

    def _reason(self, rule: int, n: np.ndarray, y: np.ndarray, current: int) -> tuple[str, str]:
        name, template = self.rules[rule]
        labels = self.labels
        return name, template.format(
            cur=labels[current],
            n=int(n[current]),
            y=int(y[current]),
            up=labels[min(current + 1, self.n_doses - 1)],
            down=labels[max(current - 1, 0)],
        )

    def recommend(
        self,
        level: Sequence[int] | np.ndarray,
        dlt: Sequence[int] | np.ndarray,
        followup: Sequence[float | None] | np.ndarray | None = None,
    ) -> Decision:
        """Next dose for one trial from its patients in enrolment order.

        ``followup`` holds days of DLT follow-up for patients still inside the window and
        NaN/None for complete ones. A TITE design (``window`` set) weighs pending patients
        by w = min(1, follow-up / window). Any other design resolves pending patients
        both ways (all without DLT, all with DLT): if the two decisions agree it decides
        now, otherwise the decision is to wait.
        """
        data = PatientData.coerce(level, dlt, followup, self.n_doses)
        if data.level.size == 0:
            raise ValueError("no patients yet: the first cohort goes to the start dose")
        current = np.array([data.level[-1]])
        cur = int(current[0])
        n_done, y_done, n_pending = data.counts(self.n_doses)
        if self.window is not None:
            batch = data.pending_batch(self.window)
            options = self._decide_options(data, None)
            chosen = self.decide(n_done[None], y_done[None], current, pending=batch, **options)
            reasons = self._explain(chosen, n_done, y_done, cur)
            wait = int(chosen.rule[0]) in self.wait_rules
            return _single(self, chosen, wait, reasons, n_done, y_done, n_pending)
        n_none, y_none, _ = data.counts(self.n_doses, pending_as=0)
        n_all, y_all, _ = data.counts(self.n_doses, pending_as=1)
        optimistic = self.decide(
            n_none[None, :], y_none[None, :], current, **self._decide_options(data, 0)
        )
        pessimistic = self.decide(
            n_all[None, :], y_all[None, :], current, **self._decide_options(data, 1)
        )
        wait = bool(n_pending.sum() > 0) and not _same(optimistic, pessimistic)
        if wait:
            options = self._decide_options(data, None)
            chosen = self.decide(n_done[None], y_done[None], current, **options)
            best = self._explain(optimistic, n_none, y_none, cur)
            worst = self._explain(pessimistic, n_all, y_all, cur)
            reasons = [
                (
                    "pending",
                    f"{int(n_pending.sum())} patient(s) still inside the DLT window could "
                    f"change the decision; wait for their follow-up",
                ),
                *[("if no pending patient has a DLT", f"{r}: {m}") for r, m in best],
                *[("if every pending patient has a DLT", f"{r}: {m}") for r, m in worst],
            ]
        else:
            chosen = optimistic
            reasons = self._explain(chosen, n_none, y_none, cur)
        return _single(self, chosen, wait, reasons, n_done, y_done, n_pending)


def _same(a: BatchDecision, b: BatchDecision) -> bool:
    return bool(
        np.array_equal(a.next_dose, b.next_dose, equal_nan=True)
        and np.array_equal(a.stop, b.stop)
        and np.array_equal(a.mtd, b.mtd, equal_nan=True)
    )


def _single(
    design: EscalationDesign,
    batch: BatchDecision,
    wait: bool,
    reasons: list[tuple[str, str]],
    n: np.ndarray,
    y: np.ndarray,
    pending: np.ndarray,
) -> Decision:
    next_dose = batch.next_dose[0]
    mtd = batch.mtd[0]
    return Decision(
        design=repr(design),
        next_dose=None if (wait or np.isnan(next_dose)) else int(next_dose),
        mtd=None if (wait or np.isnan(mtd)) else int(mtd),
        stop=bool(batch.stop[0]) and not wait,
        wait=wait,
        reasons=tuple(reasons),
        labels=design.labels,
        n_at_dose=n,
        dlt_at_dose=y,
        pending_at_dose=pending,
        admissible=batch.admissible[0],
        estimates=design._summary_estimates(batch, n, y),
    )
