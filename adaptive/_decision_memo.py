"""Decisions of a design kept by state, for simulations that meet the same states again.

A design without a DLT window decides on discrete data only: patients and DLTs per dose,
the current dose, the pending patients per dose (their outcomes are weighed, not their
follow-up) and, for a design that reads the most recent cohort (the CRM's coherence rule),
the pending patients of that cohort and whether it had a DLT. Such a state is written as a
row of whole numbers, hashed to one 64-bit key and kept with its decision; a state met
again is looked up (binary search on the sorted keys) and its stored row compared digit by
digit, so a hash collision is detected, never used. New states are decided by the design
in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._base import EscalationDesign
from ._state import EscalationState, PendingBatch

__all__ = ["DecisionMemo", "StoredDecisions", "reads_cohort"]

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def reads_cohort(design: EscalationDesign) -> bool:
    """Whether a design's decision reads the most recent cohort (``recent`` and
    ``last_cohort_dlt`` of the state): the CRM with its coherence rule, and any design this
    module does not know (assumed to, which is always safe)."""
    from .blrm import BLRM
    from .boin import BOIN
    from .crm import CRM
    from .three_plus_three import ThreePlusThree

    if isinstance(design, ThreePlusThree | BOIN | BLRM):
        return False
    if isinstance(design, CRM):
        return design.coherent
    return True


@dataclass(frozen=True)
class StoredDecisions:
    """Decisions of a batch of states: next dose (-1: none), stop, wait, MTD (NaN: none)
    and the index of the rule that decided."""

    next_dose: np.ndarray
    stop: np.ndarray
    wait: np.ndarray
    mtd: np.ndarray
    rule: np.ndarray


def _hash(digits: np.ndarray) -> np.ndarray:
    h = np.zeros(digits.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in digits.T:
            h ^= column.astype(np.uint64)
            h *= _MULTIPLIER
            h ^= h >> np.uint64(31)
            h *= _MIX
    return h.view(np.int64)


class DecisionMemo:
    """Decisions of one design without a DLT window, by state.

    Parameters
    ----------
    design : EscalationDesign
        A design with ``window`` None.
    """

    def __init__(self, design: EscalationDesign) -> None:
        if design.window is not None:
            raise ValueError(f"{design!r} weighs follow-up; its decisions cannot be kept by state")
        self.design = design
        self.cohort = reads_cohort(design)
        self._keys = np.zeros(0, dtype=np.int64)
        self._digits: np.ndarray | None = None
        self._values = StoredDecisions(
            next_dose=np.zeros(0, dtype=np.int64),
            stop=np.zeros(0, dtype=bool),
            wait=np.zeros(0, dtype=bool),
            mtd=np.zeros(0),
            rule=np.zeros(0, dtype=np.int64),
        )

    def __len__(self) -> int:
        return int(self._keys.size)

    def digits(
        self,
        n: np.ndarray,
        y: np.ndarray,
        current: np.ndarray,
        pending: np.ndarray,
        recent: np.ndarray,
        last_cohort_dlt: np.ndarray,
    ) -> np.ndarray:
        """The state as a row of whole numbers (cohort columns only when the design reads
        them)."""
        columns = [n, y, pending, current[:, None]]
        if self.cohort:
            columns += [recent[:, None], last_cohort_dlt[:, None]]
        return np.concatenate([np.asarray(c, dtype=np.int64) for c in columns], axis=1)

    def decide(
        self,
        n: np.ndarray,
        y: np.ndarray,
        current: np.ndarray,
        pending: np.ndarray,
        recent: np.ndarray,
        last_cohort_dlt: np.ndarray,
    ) -> StoredDecisions:
        """Decisions for a batch of states.

        Parameters
        ----------
        n, y : ndarray of int, shape (states, doses)
            Known patients and DLTs per 0-based dose.
        current : ndarray of int, shape (states,)
        pending : ndarray of int, shape (states, doses)
            Pending patients per dose.
        recent : ndarray of int, shape (states,)
            Pending patients of the most recent cohort (all at the current dose).
        last_cohort_dlt : ndarray of bool, shape (states,)
        """
        digits = self.digits(n, y, current, pending, recent, last_cohort_dlt)
        keys = _hash(digits)
        where = np.searchsorted(self._keys, keys)
        where = np.minimum(where, max(self._keys.size - 1, 0))
        found = self._keys[where] == keys if self._keys.size else np.zeros(keys.size, bool)
        if found.any():
            if not np.array_equal(self._digits[where[found]], digits[found]):
                raise RuntimeError("two escalation states share one 64-bit key")
        missing = np.flatnonzero(~found)
        if missing.size:
            self._insert(digits[missing], keys[missing], n.shape[1])
            where = np.searchsorted(self._keys, keys)
        values = self._values
        return StoredDecisions(
            next_dose=values.next_dose[where],
            stop=values.stop[where],
            wait=values.wait[where],
            mtd=values.mtd[where],
            rule=values.rule[where],
        )

    def _insert(self, digits: np.ndarray, keys: np.ndarray, doses: int) -> None:
        keys, first = np.unique(keys, return_index=True)
        digits = digits[first]
        n, y, pending = (
            digits[:, :doses],
            digits[:, doses : 2 * doses],
            digits[:, 2 * doses : 3 * doses],
        )
        current = digits[:, 3 * doses]
        recent = digits[:, 3 * doses + 1] if self.cohort else np.zeros(keys.size, np.int64)
        flag = digits[:, 3 * doses + 2].astype(bool) if self.cohort else None
        state = pending_state(n, y, current, pending, recent, flag)
        decision = self.design.decide(state)
        fresh = StoredDecisions(
            next_dose=np.where(
                decision.stop | decision.wait, -1, np.nan_to_num(decision.next_dose, nan=-1)
            ).astype(np.int64),
            stop=decision.stop.copy(),
            wait=decision.wait.copy(),
            mtd=decision.mtd.astype(float),
            rule=decision.rule.astype(np.int64),
        )
        all_keys = np.concatenate([self._keys, keys])
        order = np.argsort(all_keys, kind="stable")
        self._keys = all_keys[order]
        stored = digits if self._digits is None else np.concatenate([self._digits, digits])
        self._digits = stored[order]
        self._values = StoredDecisions(
            **{
                name: np.concatenate([getattr(self._values, name), getattr(fresh, name)])[order]
                for name in ("next_dose", "stop", "wait", "mtd", "rule")
            }
        )


def pending_state(
    n: np.ndarray,
    y: np.ndarray,
    current: np.ndarray,
    pending: np.ndarray,
    recent: np.ndarray,
    last_cohort_dlt: np.ndarray | None,
    weights: np.ndarray | None = None,
) -> EscalationState:
    """An escalation state from per-dose counts of pending patients (weights 0 unless
    given per pending slot), the first ``recent`` of those at the current dose being the
    most recent cohort's."""
    states, doses = n.shape
    slots = int(pending.sum(axis=1).max(initial=0))
    order = np.arange(slots)
    cumulative = np.cumsum(pending, axis=1)
    level = (order[None, :, None] >= cumulative[:, None, :]).sum(axis=2)
    mask = order[None, :] < cumulative[:, -1:]
    level = np.where(mask, np.minimum(level, doses - 1), 0)
    start_current = np.where(
        current > 0, cumulative[np.arange(states), np.maximum(current - 1, 0)], 0
    )
    start_current = np.where(current > 0, start_current, 0)
    in_recent = (
        mask
        & (level == current[:, None])
        & (order[None, :] - start_current[:, None] < np.asarray(recent)[:, None])
    )
    batch = PendingBatch(
        level=level,
        weight=np.zeros(level.shape) if weights is None else weights,
        mask=mask,
    )
    return EscalationState.of(
        n, y, current, pending=batch, recent=in_recent, last_cohort_dlt=last_cohort_dlt
    )


class CountGraph:
    """States of a design that reads counts only, linked by the events of a calendar walk.

    For a design without a window that does not read the most recent cohort, the state of
    an arm is its known patients and DLTs per dose, its pending patients per dose and its
    current dose; an enrolment at dose d, or a pending patient's outcome at dose d (no DLT,
    DLT, not evaluable), leads to one next state. Each state is a node decided once
    (through the design's :class:`DecisionMemo`), and ``children[node, event]`` links it to
    the next, so that following an arm is one gather per event.

    Events are coded ``d`` for an enrolment at dose d and ``doses + 3 d + o`` for an
    outcome o (0 no DLT, 1 DLT, 2 not evaluable) at dose d.
    """

    def __init__(self, memo: DecisionMemo, doses: int) -> None:
        if memo.cohort:
            raise ValueError("the design reads the most recent cohort: use the DecisionMemo")
        self.memo = memo
        self.doses = doses
        self.events = 4 * doses
        self.size = 0
        self._keys = np.zeros(0, dtype=np.int64)
        self._nodes = np.zeros(0, dtype=np.int64)
        self._grow(256)

    def _grow(self, capacity: int) -> None:
        fields = {
            "n": ((capacity, self.doses), np.int16, 0),
            "y": ((capacity, self.doses), np.int16, 0),
            "pending": ((capacity, self.doses), np.int16, 0),
            "current": ((capacity,), np.int64, 0),
            "next_dose": ((capacity,), np.int64, -1),
            "stop": ((capacity,), bool, False),
            "mtd": ((capacity,), np.float64, np.nan),
            "rule": ((capacity,), np.int64, 0),
            "children": ((capacity, self.events), np.int32, -1),
        }
        for name, (shape, dtype, fill) in fields.items():
            fresh = np.full(shape, fill, dtype=dtype)
            if self.size:
                fresh[: self.size] = getattr(self, name)[: self.size]
            setattr(self, name, fresh)
        self.capacity = capacity

    def nodes_of(
        self, n: np.ndarray, y: np.ndarray, pending: np.ndarray, current: np.ndarray
    ) -> np.ndarray:
        """The nodes of these states, new ones decided in one batch."""
        zero = np.zeros(n.shape[0], dtype=np.int64)
        digits = self.memo.digits(n, y, current, pending, zero, zero.astype(bool))
        keys = _hash(digits)
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        where = np.minimum(np.searchsorted(self._keys, unique), max(self._keys.size - 1, 0))
        found = self._keys[where] == unique if self._keys.size else np.zeros(unique.size, bool)
        nodes = np.where(found, self._nodes[where] if self._keys.size else 0, -1)
        fresh = np.flatnonzero(~found)
        if fresh.size:
            rows = first[fresh]
            count = rows.size
            if self.size + count > self.capacity:
                self._grow(max(2 * self.capacity, self.size + count))
            made = np.arange(self.size, self.size + count)
            self.size += count
            decision = self.memo.decide(
                n[rows], y[rows], current[rows], pending[rows], zero[rows], zero[rows] > 0
            )
            self.n[made], self.y[made], self.pending[made] = n[rows], y[rows], pending[rows]
            self.current[made] = current[rows]
            self.next_dose[made] = decision.next_dose
            self.stop[made] = decision.stop
            self.mtd[made] = decision.mtd
            self.rule[made] = decision.rule
            nodes[fresh] = made
            all_keys = np.concatenate([self._keys, unique[fresh]])
            order = np.argsort(all_keys, kind="stable")
            self._keys = all_keys[order]
            self._nodes = np.concatenate([self._nodes, made])[order]
        return nodes[inverse.ravel()]

    def child(self, node: np.ndarray, event: np.ndarray) -> np.ndarray:
        """The nodes after ``event`` at each of ``node``."""
        flat = node.astype(np.int64) * self.events + event
        child = self.children.reshape(-1)[flat]
        missing = child < 0
        if missing.any():
            parent, code = node[missing], event[missing]
            n = self.n[parent].astype(np.int64)
            y = self.y[parent].astype(np.int64)
            pending = self.pending[parent].astype(np.int64)
            current = self.current[parent].copy()
            rows = np.arange(parent.size)
            enrol = code < self.doses
            dose = np.where(enrol, code, (code - self.doses) // 3)
            outcome = (code - self.doses) % 3
            pending[rows, dose] += np.where(enrol, 1, -1)
            current = np.where(enrol, dose, current)
            known = ~enrol & (outcome != 2)
            n[rows, dose] += known
            y[rows, dose] += ~enrol & (outcome == 1)
            made = self.nodes_of(n, y, pending, current)
            self.children.reshape(-1)[flat[missing]] = made
            child = self.children.reshape(-1)[flat]
        return child
