"""The escalation state: everything an escalation decision reads, for many trials at once.

A live recommendation builds a state of one trial from its patients
(:meth:`EscalationState.from_patients`); the simulator builds states of many trials from
its arrays (:meth:`EscalationState.of`). Every design decides on this one type
(:meth:`~dartnk.adaptive.EscalationDesign.decide`), so the rule that is simulated is the
rule that is run.

Conventions: dose indices are 0-based; a patient's DLT outcome is *known* when the patient
had a DLT or completed the DLT window without one, and *pending* while still inside the
window without a DLT (or enrolled and awaiting the first infusion, with TITE weight 0).
Patients who left before the end of the window without a DLT are not evaluable and are not
in the state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dartnk.models.tite import tite_weight

__all__ = ["EscalationState", "PendingBatch"]

_MAX_ENUMERATED = 16


@dataclass(frozen=True)
class PendingBatch:
    """Patients still inside the DLT window without a DLT, per trial.

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
        if self.level.shape[1] == 0:
            zeros = np.zeros((trials, n_doses), dtype=np.int64)
            return zeros, zeros.astype(float)
        one_hot = (self.level[..., None] == np.arange(n_doses)) & self.mask[..., None]
        count = one_hot.sum(axis=1)
        weight_sum = np.einsum("tk,tkd->td", self.weight * self.mask, one_hot)
        return count.reshape(trials, n_doses), weight_sum.reshape(trials, n_doses)


def _readonly(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values


@dataclass(frozen=True, eq=False)
class EscalationState:
    """The data of a batch of trials at the moment of a decision.

    Attributes
    ----------
    n, y : ndarray of int, shape (trials, doses)
        Patients whose DLT outcome is known, and their DLTs, per 0-based dose.
    current : ndarray of int, shape (trials,)
        0-based dose of the most recent patient (the current dose).
    pending : PendingBatch
        Patients still inside the DLT window without a DLT, padded to a common number of
        slots: 0-based dose, TITE weight w = min(1, follow-up / window) (0 for a patient
        awaiting the first infusion) and a mask of real patients.
    recent : ndarray of bool, shape (trials, slots)
        Pending patients who belong to the most recent cohort.
    last_cohort_dlt : ndarray of bool, shape (trials,)
        Whether a patient of the most recent cohort with a known outcome had a DLT. The
        most recent cohort is the run of trailing patients, in enrolment order, at the
        current dose, at most ``cohort_size`` of them (the CRM's coherence rule reads it).
    pending_days : ndarray of float, shape (trials, slots)
        Days of follow-up of each pending patient, for the reasons a committee reads (NaN
        where only the weight is known).
    """

    n: np.ndarray
    y: np.ndarray
    current: np.ndarray
    pending: PendingBatch
    recent: np.ndarray
    last_cohort_dlt: np.ndarray
    pending_days: np.ndarray

    @classmethod
    def of(
        cls,
        n: np.ndarray | Sequence[Sequence[int]],
        y: np.ndarray | Sequence[Sequence[int]],
        current: np.ndarray | Sequence[int],
        *,
        pending: PendingBatch | None = None,
        recent: np.ndarray | None = None,
        last_cohort_dlt: np.ndarray | Sequence[bool] | None = None,
        pending_days: np.ndarray | None = None,
    ) -> EscalationState:
        """A state from count arrays, checked.

        Parameters
        ----------
        n, y : array of int, shape (trials, doses)
            Patients with a known outcome and their DLTs per 0-based dose.
        current : array of int, shape (trials,)
            0-based current dose.
        pending : PendingBatch, optional
            Pending patients with their TITE weights (none by default).
        recent : array of bool, shape (trials, slots), optional
            Pending patients of the most recent cohort; by default those at the current
            dose.
        last_cohort_dlt : array of bool, shape (trials,), optional
            A known DLT in the most recent cohort; by default a DLT anywhere at the
            current dose (implied by one in the most recent cohort, so never less safe).
        pending_days : array of float, shape (trials, slots), optional
            Follow-up days of the pending patients, for reasons (unknown by default).
        """
        n_arr = np.asarray(n)
        y_arr = np.asarray(y)
        if n_arr.ndim != 2 or n_arr.shape != y_arr.shape:
            raise ValueError(
                f"n and y must be arrays of shape (trials, doses), got {n_arr.shape} and "
                f"{y_arr.shape}"
            )
        for name, values in (("n", n_arr), ("y", y_arr)):
            if values.size and not np.issubdtype(values.dtype, np.integer):
                if not np.all(np.mod(values, 1) == 0):
                    raise ValueError(f"{name} must hold whole numbers of patients")
        n_arr = n_arr.astype(np.int64)
        y_arr = y_arr.astype(np.int64)
        if np.any(n_arr < 0) or np.any(y_arr < 0) or np.any(y_arr > n_arr):
            raise ValueError("counts must satisfy 0 <= DLTs <= patients at every dose")
        trials, doses = n_arr.shape
        cur = np.asarray(current).reshape(-1)
        if cur.size and not np.all(np.mod(cur, 1) == 0):
            raise ValueError(f"current must hold whole 0-based doses, got {cur}")
        cur = cur.astype(np.int64)
        if cur.shape != (trials,) or np.any((cur < 0) | (cur >= doses)):
            raise ValueError(f"current must hold one 0-based dose in 0..{doses - 1} per trial")
        if pending is None:
            pending = PendingBatch(
                level=np.zeros((trials, 0), dtype=np.int64),
                weight=np.zeros((trials, 0)),
                mask=np.zeros((trials, 0), dtype=bool),
            )
        pending = _checked_pending(pending, trials, doses)
        if recent is None:
            recent = pending.mask & (pending.level == cur[:, None])
        recent = np.asarray(recent, dtype=bool)
        if recent.shape != pending.mask.shape:
            raise ValueError(f"recent must have shape {pending.mask.shape}, got {recent.shape}")
        if last_cohort_dlt is None:
            flag = y_arr[np.arange(trials), cur] > 0
        else:
            flag = np.asarray(last_cohort_dlt, dtype=bool).reshape(-1)
            if flag.shape != (trials,):
                raise ValueError("last_cohort_dlt must hold one True/False per trial")
        days = np.full(pending.mask.shape, np.nan)
        if pending_days is not None:
            days = np.where(pending.mask, np.asarray(pending_days, dtype=float), np.nan)
            if days.shape != pending.mask.shape:
                raise ValueError(f"pending_days must have shape {pending.mask.shape}")
        return cls(
            n=_readonly(n_arr),
            y=_readonly(y_arr),
            current=_readonly(cur),
            pending=pending,
            recent=_readonly(recent & pending.mask),
            last_cohort_dlt=_readonly(flag.copy()),
            pending_days=_readonly(days),
        )

    @classmethod
    def from_patients(
        cls,
        level: Sequence[int] | np.ndarray,
        dlt: Sequence[int] | np.ndarray,
        followup: Sequence[float | None] | np.ndarray | None = None,
        *,
        n_doses: int,
        window: float | None,
        cohort_size: int,
    ) -> EscalationState:
        """The state of one trial from its patients in enrolment order.

        Parameters
        ----------
        level : sequence of int
            0-based dose of each patient.
        dlt : sequence of int
            1 for a DLT, else 0.
        followup : sequence of float, optional
            Days of DLT follow-up of patients still inside the window without a DLT (0 for
            a patient awaiting the first infusion); None or NaN where the outcome is known.
            With a ``window``, follow-up of the whole window is complete follow-up.
        n_doses : int
        window : float or None
            DLT window in days, for the TITE weights w = min(1, follow-up / window)
            (:func:`dartnk.models.tite_weight`); None for a design that does not weigh
            pending patients (weights 0).
        cohort_size : int
            Largest size of the most recent cohort.
        """
        level_arr, dlt_arr, follow = _patients(level, dlt, followup, n_doses)
        if level_arr.size == 0:
            raise ValueError("no patients yet: the first cohort goes to the start dose")
        pending = (dlt_arr == 0) & np.isfinite(follow)
        if window is not None:
            pending &= follow < window
        known = ~pending
        n = np.bincount(level_arr[known], minlength=n_doses)
        y = np.bincount(level_arr[known], weights=dlt_arr[known], minlength=n_doses)
        current = int(level_arr[-1])
        at_current = level_arr[::-1] == current
        run = int(np.argmin(at_current)) if not at_current.all() else at_current.size
        in_cohort = np.zeros(level_arr.size, dtype=bool)
        in_cohort[level_arr.size - min(run, int(cohort_size)) :] = True
        slots = int(pending.sum())
        batch = PendingBatch(
            level=level_arr[pending][None, :],
            weight=(np.zeros(slots) if window is None else tite_weight(follow[pending], window))[
                None, :
            ],
            mask=np.ones((1, slots), dtype=bool),
        )
        return cls.of(
            n[None, :],
            y.astype(np.int64)[None, :],
            np.array([current]),
            pending=batch,
            recent=in_cohort[pending][None, :],
            last_cohort_dlt=np.array([bool((dlt_arr[in_cohort & known] == 1).any())]),
            pending_days=follow[pending][None, :],
        )

    @classmethod
    def stack(cls, states: Sequence[EscalationState]) -> EscalationState:
        """One batch of the trials of several states, pending slots padded to the largest."""
        if not states:
            raise ValueError("stack needs at least one state")
        slots = max(s.pending.mask.shape[1] for s in states)

        def padded(values: np.ndarray, fill: object) -> np.ndarray:
            width = slots - values.shape[1]
            return np.pad(values, ((0, 0), (0, width)), constant_values=fill)

        pending = PendingBatch(
            level=np.concatenate([padded(s.pending.level, 0) for s in states]),
            weight=np.concatenate([padded(s.pending.weight, 0.0) for s in states]),
            mask=np.concatenate([padded(s.pending.mask, False) for s in states]),
        )
        return cls.of(
            np.concatenate([s.n for s in states]),
            np.concatenate([s.y for s in states]),
            np.concatenate([s.current for s in states]),
            pending=pending,
            recent=np.concatenate([padded(s.recent, False) for s in states]),
            last_cohort_dlt=np.concatenate([s.last_cohort_dlt for s in states]),
            pending_days=np.concatenate([padded(s.pending_days, np.nan) for s in states]),
        )

    def __len__(self) -> int:
        return int(self.n.shape[0])

    @property
    def n_doses(self) -> int:
        return int(self.n.shape[1])

    @property
    def n_pending(self) -> np.ndarray:
        """Pending patients per dose, shape (trials, doses)."""
        return self.pending.per_dose(self.n_doses)[0]

    @property
    def any_pending(self) -> np.ndarray:
        """Whether a trial has a pending patient, shape (trials,)."""
        return self.pending.mask.any(axis=1)

    @property
    def treated(self) -> np.ndarray:
        """Patients treated per dose, pending ones included, shape (trials, doses)."""
        return self.n + self.n_pending

    @property
    def complete_at_current(self) -> np.ndarray:
        """Patients at the current dose whose outcome is known, shape (trials,)."""
        return self.n[np.arange(len(self)), self.current]

    def take(self, index: np.ndarray | slice) -> EscalationState:
        """The states of a subset of trials."""
        pending = self.pending
        return EscalationState(
            n=self.n[index],
            y=self.y[index],
            current=self.current[index],
            pending=PendingBatch(
                level=pending.level[index], weight=pending.weight[index], mask=pending.mask[index]
            ),
            recent=self.recent[index],
            last_cohort_dlt=self.last_cohort_dlt[index],
            pending_days=self.pending_days[index],
        )

    def complete(self) -> EscalationState:
        """The states without their pending patients (known outcomes only)."""
        return _complete_state(self.n, self.y, self.current, self.last_cohort_dlt)

    def resolved(self, outcome: int) -> EscalationState:
        """Every pending patient's outcome known: ``outcome`` 0 (no DLT) or 1 (DLT)."""
        outcomes = np.full(self.pending.mask.shape, int(outcome), dtype=np.int64)
        return self._resolve(outcomes)

    def outcomes(self) -> tuple[EscalationState, int]:
        """Every combination of outcomes of the pending patients, as complete states.

        Returns the states, trial-major (trial t's combinations are rows
        t * k ... t * k + k - 1), and k = 2^slots, the combinations per trial; combination 0
        has no pending DLT and combination k - 1 a DLT in every pending patient. Padded
        slots give repeated combinations, which decide alike.
        """
        slots = self.pending.mask.shape[1]
        if slots > _MAX_ENUMERATED:
            raise ValueError(
                f"{slots} patients are pending in one trial; a design without a DLT window "
                f"can weigh the outcomes of at most {_MAX_ENUMERATED}"
            )
        k = 1 << slots
        bits = (np.arange(k)[:, None] >> np.arange(slots)) & 1
        rows = np.repeat(np.arange(len(self)), k)
        expanded = self.take(rows)
        return expanded._resolve(np.tile(bits, (len(self), 1))), k

    def _resolve(self, outcomes: np.ndarray) -> EscalationState:
        pending = self.pending
        doses = self.n_doses
        one_hot = (pending.level[..., None] == np.arange(doses)) & pending.mask[..., None]
        n = self.n + one_hot.sum(axis=1)
        y = self.y + np.einsum("ts,tsd->td", outcomes, one_hot)
        flag = self.last_cohort_dlt | ((outcomes == 1) & self.recent).any(axis=1)
        return _complete_state(n, y, self.current, flag)


def _complete_state(
    n: np.ndarray, y: np.ndarray, current: np.ndarray, last_cohort_dlt: np.ndarray
) -> EscalationState:
    """A state without pending patients from arrays already checked."""
    trials = n.shape[0]
    empty = np.zeros((trials, 0))
    return EscalationState(
        n=n,
        y=y,
        current=current,
        pending=PendingBatch(level=empty.astype(np.int64), weight=empty, mask=empty.astype(bool)),
        recent=empty.astype(bool),
        last_cohort_dlt=last_cohort_dlt,
        pending_days=empty,
    )


def _checked_pending(pending: PendingBatch, trials: int, doses: int) -> PendingBatch:
    level = np.asarray(pending.level)
    weight = np.asarray(pending.weight, dtype=float)
    mask = np.asarray(pending.mask, dtype=bool)
    if level.ndim != 2 or level.shape != weight.shape or level.shape != mask.shape:
        raise ValueError("pending level, weight and mask must share one shape (trials, slots)")
    if level.shape[0] != trials:
        raise ValueError(f"pending has {level.shape[0]} rows for {trials} trials")
    level = level.astype(np.int64)
    if np.any(mask & ((level < 0) | (level >= doses))):
        raise ValueError(f"pending doses must lie in 0..{doses - 1} (0-based)")
    if np.any(mask & ~((weight >= 0) & (weight <= 1))):
        raise ValueError("TITE weights of pending patients must lie in [0, 1]")
    return PendingBatch(
        level=_readonly(np.where(mask, level, 0)),
        weight=_readonly(np.where(mask, weight, 0.0)),
        mask=_readonly(mask.copy()),
    )


def _patients(
    level: Sequence[int] | np.ndarray,
    dlt: Sequence[int] | np.ndarray,
    followup: Sequence[float | None] | np.ndarray | None,
    n_doses: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-patient arrays checked: 0-based doses, DLTs 0/1, follow-up days (NaN: known)."""
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
    if not ((dlt_arr == 0) | (dlt_arr == 1)).all():
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
    return level_arr, dlt_arr.astype(np.int64), follow
