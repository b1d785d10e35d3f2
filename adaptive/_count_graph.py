"""Decisions of a design kept by state, for simulations that meet the same states again.

A design without a DLT window decides on discrete data only: patients and DLTs per dose,
the current dose, the pending patients per dose (their outcomes are weighed, not their
follow-up) and, for a design that reads the most recent cohort (the CRM's coherence rule),
the pending patients of that cohort and whether it had a DLT. The count part of such a
state is a node of a :class:`CountGraph`, found by a 64-bit hash of its row of whole
numbers (binary search on the sorted keys, the stored row compared digit by digit, so a
hash collision is detected, never used) and linked to the nodes the events of a calendar
walk lead to. Each (node, cohort variant) is decided by the design once, new ones in one
batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._base import BatchDecision, EscalationDesign
from ._state import EscalationState, PendingBatch

__all__ = ["CountGraph", "StoredDecisions", "pending_state", "reads_cohort", "stored_next_dose"]

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
    """Decisions of a batch of states: next dose (-1: none, the design stops or waits),
    stop, MTD (NaN: none) and the index of the rule that decided."""

    next_dose: np.ndarray
    stop: np.ndarray
    mtd: np.ndarray
    rule: np.ndarray


def stored_next_dose(decision: BatchDecision) -> np.ndarray:
    """The next dose as kept: the design's, or -1 where it stops or waits."""
    return np.where(
        decision.stop | decision.wait, -1, np.nan_to_num(decision.next_dose, nan=-1)
    ).astype(np.int64)


def _hash(digits: np.ndarray) -> np.ndarray:
    h = np.zeros(digits.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in digits.T:
            h ^= column.astype(np.uint64)
            h *= _MULTIPLIER
            h ^= h >> np.uint64(31)
            h *= _MIX
    return h.view(np.int64)


class _KeyIndex:
    """64-bit keys to record numbers: a large sorted part and a small sorted part for the
    latest keys, merged when the small one grows past an eighth of the large, so that an
    insertion costs in proportion to what it adds. Keys are looked up in sorted order, so
    that each binary search starts where the last one ended."""

    def __init__(self) -> None:
        self._main = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        self._recent = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    @staticmethod
    def _look(part: tuple[np.ndarray, np.ndarray], keys: np.ndarray) -> np.ndarray:
        sorted_keys, ids = part
        if sorted_keys.size == 0:
            return np.full(keys.size, -1, dtype=np.int64)
        order = np.argsort(keys)
        where = np.empty(keys.size, dtype=np.intp)
        where[order] = np.searchsorted(sorted_keys, keys[order])
        np.minimum(where, sorted_keys.size - 1, out=where)
        return np.where(sorted_keys[where] == keys, ids[where], -1)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Record number of each key, -1 where absent."""
        found = self._look(self._main, keys)
        missing = found < 0
        if missing.any() and self._recent[0].size:
            found[missing] = self._look(self._recent, keys[missing])
        return found

    def add(self, keys: np.ndarray, ids: np.ndarray) -> None:
        """Add keys (absent and distinct) with their record numbers."""
        recent_keys = np.concatenate([self._recent[0], keys])
        recent_ids = np.concatenate([self._recent[1], ids])
        if recent_keys.size > max(1024, self._main[0].size // 8):
            recent_keys = np.concatenate([self._main[0], recent_keys])
            recent_ids = np.concatenate([self._main[1], recent_ids])
            order = np.argsort(recent_keys, kind="stable")
            self._main = (recent_keys[order], recent_ids[order])
            self._recent = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
            return
        order = np.argsort(recent_keys, kind="stable")
        self._recent = (recent_keys[order], recent_ids[order])


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


def _count_row(
    n: np.ndarray, y: np.ndarray, pending: np.ndarray, current: np.ndarray
) -> np.ndarray:
    """Count states as rows of whole numbers: patients, DLTs and pending patients per dose,
    then the current dose."""
    columns = (n, y, pending, np.asarray(current)[:, None])
    return np.concatenate([np.asarray(c, dtype=np.int64) for c in columns], axis=1)


class CountGraph:
    """States of a design without a window, linked by the events of a calendar walk.

    The counts of an arm are its known patients and DLTs per dose, its pending patients per
    dose and its current dose; an enrolment at dose d, or a pending patient's outcome at
    dose d (no DLT, DLT, not evaluable), leads to one next count state. Each count state is
    a node, and ``children[node, event]`` links it to the next, so that following an arm is
    one gather per event. A design that reads the most recent cohort (the coherent CRM) is
    decided on a node together with a cohort variant, ``2 * recent + dlt``: the pending
    patients of that cohort (0 .. cohort size) and whether it had a known DLT; other designs
    have one variant. Each (node, variant) is decided once, when its decision is first asked
    for (:meth:`decisions`), all of a batch in one call of the design, on the state
    :func:`pending_state` makes of it.

    Events are coded ``d`` for an enrolment at dose d and ``doses + 3 d + o`` for an
    outcome o (0 no DLT, 1 DLT, 2 not evaluable) at dose d.
    """

    def __init__(self, design: EscalationDesign, doses: int) -> None:
        if design.window is not None:
            raise ValueError(f"{design!r} weighs follow-up; its decisions cannot be kept by state")
        self.design = design
        self.cohort = reads_cohort(design)
        self.doses = doses
        self.events = 4 * doses
        self.variants = 2 * (int(design.cohort_size) + 1) if self.cohort else 1
        self.size = 0
        self._index = _KeyIndex()
        self._grow(256)

    def _grow(self, capacity: int) -> None:
        """Room for ``capacity`` nodes: per-node arrays, and per-(node, variant) decisions
        indexed ``node * variants + variant``."""
        v = self.variants
        fields = {
            "n": ((capacity, self.doses), np.int16, 0, 1),
            "y": ((capacity, self.doses), np.int16, 0, 1),
            "pending": ((capacity, self.doses), np.int16, 0, 1),
            "current": ((capacity,), np.int64, 0, 1),
            "children": ((capacity, self.events), np.int32, -1, 1),
            "next_dose": ((capacity * v,), np.int64, -1, v),
            "stop": ((capacity * v,), bool, False, v),
            "mtd": ((capacity * v,), np.float64, np.nan, v),
            "rule": ((capacity * v,), np.int64, 0, v),
            "decided": ((capacity * v,), bool, False, v),
        }
        for name, (shape, dtype, fill, per_node) in fields.items():
            fresh = np.full(shape, fill, dtype=dtype)
            if self.size:
                used = self.size * per_node
                fresh[:used] = getattr(self, name)[:used]
            setattr(self, name, fresh)
        self.capacity = capacity

    def nodes_of(
        self,
        n: np.ndarray,
        y: np.ndarray,
        pending: np.ndarray,
        current: np.ndarray,
    ) -> np.ndarray:
        """The nodes of these count states (new ones are decided when first asked for)."""
        digits = _count_row(n, y, pending, current)
        keys = _hash(digits)
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        nodes = self._index.find(unique)
        found = np.flatnonzero(nodes >= 0)
        if not np.array_equal(digits, digits[first][inverse.ravel()]) or (
            found.size and not np.array_equal(self._digits(nodes[found]), digits[first[found]])
        ):
            raise RuntimeError("two escalation states share one 64-bit key")
        fresh = np.flatnonzero(nodes < 0)
        if fresh.size:
            rows = first[fresh]
            count = rows.size
            if self.size + count > self.capacity:
                self._grow(max(2 * self.capacity, self.size + count))
            made = np.arange(self.size, self.size + count)
            self.size += count
            self.n[made], self.y[made], self.pending[made] = n[rows], y[rows], pending[rows]
            self.current[made] = current[rows]
            nodes[fresh] = made
            self._index.add(unique[fresh], made)
        return nodes[inverse.ravel()]

    def _digits(self, nodes: np.ndarray) -> np.ndarray:
        """The rows of whole numbers of these nodes' count states (as :meth:`nodes_of` hashes
        them)."""
        return _count_row(self.n[nodes], self.y[nodes], self.pending[nodes], self.current[nodes])

    def _decide(self, keys: np.ndarray) -> None:
        """Decide these distinct, undecided (node, variant) keys ``node * variants +
        variant`` in one batch of the design."""
        nodes, variant = np.divmod(keys, self.variants)
        state = pending_state(
            self.n[nodes].astype(np.int64),
            self.y[nodes].astype(np.int64),
            self.current[nodes],
            self.pending[nodes].astype(np.int64),
            variant // 2,
            (variant % 2).astype(bool) if self.cohort else None,
        )
        decision = self.design.decide(state)
        self.next_dose[keys] = stored_next_dose(decision)
        self.stop[keys] = decision.stop
        self.mtd[keys] = decision.mtd
        self.rule[keys] = decision.rule
        self.decided[keys] = True

    def decisions(
        self,
        node: np.ndarray,
        recent: np.ndarray | None = None,
        last_cohort_dlt: np.ndarray | None = None,
    ) -> StoredDecisions:
        """The decisions at each of ``node`` (with, for a design that reads the most recent
        cohort, its pending patients ``recent`` and whether it had a DLT), deciding those not
        decided yet in one batch."""
        key = np.asarray(node, dtype=np.int64)
        if self.variants > 1:
            if recent is None or last_cohort_dlt is None:
                raise ValueError("the design reads the most recent cohort: pass recent and dlt")
            key = key * self.variants + 2 * np.asarray(recent) + last_cohort_dlt
        undecided = ~self.decided[key]
        if undecided.any():
            self._decide(np.unique(key[undecided]))
        return StoredDecisions(
            next_dose=self.next_dose[key],
            stop=self.stop[key],
            mtd=self.mtd[key],
            rule=self.rule[key],
        )

    def explore(self, start: np.ndarray, cohort: int, budget: int) -> None:
        """Make the nodes a calendar walk can reach from ``start``, breadth first, level by
        level until the graph has at least ``budget`` nodes (the rest are made as walks meet
        them), deciding each where a walk can ask: with fewer than ``cohort`` pending.

        From a node, the walk can enrol at the decided next dose while fewer than
        ``cohort`` patients are pending, and a pending patient's outcome can become known
        at each dose with one. A design that reads the most recent cohort is not explored:
        its decisions depend on the order of the patients, which a node does not hold.
        """
        if self.variants > 1:
            return
        frontier = np.unique(np.asarray(start, dtype=np.int64))
        while frontier.size and self.size < budget:
            pending = self.pending[frontier]
            open_slot = np.flatnonzero(pending.sum(axis=1) < cohort)
            decided = self.decisions(frontier[open_slot])
            enrol = (decided.next_dose >= 0) & ~decided.stop
            holder, dose = np.nonzero(pending > 0)
            outcome = self.doses + 3 * dose
            nodes = np.concatenate([frontier[open_slot[enrol]], *([frontier[holder]] * 3)])
            events = np.concatenate([decided.next_dose[enrol], outcome, outcome + 1, outcome + 2])
            before = self.size
            made = self.child(nodes, events)
            frontier = np.unique(made[made >= before]).astype(np.int64)

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
