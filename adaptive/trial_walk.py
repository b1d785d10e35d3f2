"""Phase 1 of many trials in calendar time: parallel arms, one escalation design, patients
arriving, waiting for a slot, and outcomes known when their DLT follow-up ends.

A trial is an event calendar in study days. Screened patients arrive at given times, each
eligible for some arms (a bit mask); an arm takes a patient when its design calls for one
(:meth:`~dartnk.adaptive.EscalationDesign.decide` gives a next dose and no wait) and fewer
than a cohort's worth of its patients are inside their DLT follow-up (enrolled and not yet
resolved). Among the open arms a patient is eligible for, the one with the fewest patients
takes the patient (ties to the lower arm). A patient eligible only for arms that are not
open waits up to ``max_wait`` days and then is lost; a waiting patient goes, first come
first served, to an eligible arm as soon as it opens. An enrolled patient's product is
infused after a delay (or fails, and the patient is not evaluable); the patient then has a
DLT at the onset day when the latent uniform is below the true DLT rate at the dose and the
patient has not withdrawn by then; otherwise the outcome is known at the end of the DLT
window, or at withdrawal (not evaluable, and replaced). This is the calendar of
:func:`dartnk.analyses.generate_trial`, vectorised.

Each step handles one event per trial (an enrolment, a patient's outcome becoming known, or
an arrival), for all trials at once. Arms whose data changed are decided by the design in
one batch per step, on :class:`~dartnk.adaptive.EscalationState` of every such arm of every
trial; a design without a DLT window follows each arm through the nodes of a
:class:`~dartnk.adaptive._count_graph.CountGraph`, each state decided once (with, for the
coherent CRM, the arm's most recent cohort kept per arm as a register of its slots). A
TITE design weighs its pending patients by their follow-up, so its arms with pending
patients and a free slot are decided again at every event time; its decisions are taken at
arrivals and outcomes, as a live trial takes them.

Conventions: days are floats; doses 0-based; arms are indexed 0 .. arms - 1.

References
----------
Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with
late-onset toxicities. Biometrics 56:1177-1182 (TITE weights of pending patients).

Yuan Y, Lin R, Li D, Nie L, Warren KE (2018). Time-to-event Bayesian optimal interval
design to accelerate phase I trials. Clinical Cancer Research 24:4921-4930 (accrual
while DLT follow-up is open).
"""

from __future__ import annotations

import numpy as np

from ._base import EscalationDesign
from ._count_graph import (
    CountGraph,
    StoredDecisions,
    stored_next_dose,
)
from ._state import EscalationState, PendingBatch
from ._trial_arrays import (
    DLT,
    EMPTY,
    NO_DLT,
    NOT_EVALUABLE,
    PENDING,
    ArmSlots,
    OutOfPatients,
    OutOfSlots,
    Phase1Walk,
    StartState,
    next_eligible,
)

__all__ = [
    "ArmSlots",
    "OutOfPatients",
    "OutOfSlots",
    "Phase1Walk",
    "StartState",
    "next_eligible",
    "walk_phase1",
]

_GRAPHS: dict[EscalationDesign, CountGraph] = {}


_EXPLORED_NODES = 100_000
"""About how many nodes of a design's count graph are made before its first walk (breadth
first from an arm's first state, each decided where a walk can ask), so that walks rarely
meet a state not decided yet."""


def _across(ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
    """``ufunc`` reduced along each row of a 2-D array of a few columns, one column at a
    time: the same values as ``ufunc.reduce(values, axis=1)``, several times faster for rows
    of a handful of arms or slots."""
    out = values[:, 0].copy()
    for column in range(1, values.shape[1]):
        ufunc(out, values[:, column], out=out)
    return out


def _count_graph(design: EscalationDesign) -> CountGraph:
    """The count graph of ``design``, made on first use and explored from the state of an
    arm before its first patient (:meth:`CountGraph.explore`)."""
    graph = _GRAPHS.get(design)
    if graph is None:
        graph = CountGraph(design, design.n_doses)
        zero = np.zeros((1, design.n_doses), dtype=np.int64)
        first = graph.nodes_of(zero, zero, zero, np.array([design.start]))
        graph.explore(first, int(design.cohort_size), _EXPLORED_NODES)
        _GRAPHS[design] = graph
    return graph


class _Walk:
    """The arrays of a Phase 1 walk and its steps (see the module docstring)."""

    def __init__(
        self,
        design: EscalationDesign,
        dlt_probability: np.ndarray,
        arrival: np.ndarray,
        eligible: np.ndarray,
        slots: ArmSlots,
        *,
        max_wait: float,
        window: float,
        start: StartState | None,
        table: np.ndarray | None,
    ) -> None:
        trials, arms, count = slots.shape
        self.design = design
        self.tite = design.window is not None
        self.cohort = int(design.cohort_size)
        self.p = np.asarray(dlt_probability, dtype=float)
        self.doses = self.p.shape[1]
        self.window = float(window)
        self.max_wait = float(max_wait)
        self.slots = slots
        self.trials, self.arms, self.count = trials, arms, count
        k = arrival.shape[1]
        self.k = k
        self.arrival = np.concatenate([arrival, np.full((trials, 1), np.inf)], axis=1)
        self.eligible = np.concatenate([eligible, np.zeros((trials, 1), eligible.dtype)], axis=1)
        self.next_eligible = next_eligible(eligible, arms) if table is None else table
        self.consumed = np.zeros((trials, k + 1), dtype=bool)
        shape = (trials, arms, count)
        self.level = np.full(shape, -1, dtype=np.int8)
        self.status = np.zeros(shape, dtype=np.int8)
        self.enrol = np.full(shape, np.inf)
        self.infusion = np.full(shape, np.inf)
        self.resolve = np.full(shape, np.inf)
        self.outcome = np.full(shape, -1, dtype=np.int8)
        self.enrolled = np.zeros((trials, arms), dtype=np.int64)
        per_dose = (trials, arms, self.doses)
        self.n = np.zeros(per_dose, dtype=np.int64)
        self.y = np.zeros(per_dose, dtype=np.int64)
        self.pend = np.zeros(per_dose, dtype=np.int64)
        self.current = np.full((trials, arms), design.start, dtype=np.int64)
        self.stopped = np.zeros((trials, arms), dtype=bool)
        self.mtd = np.full((trials, arms), np.nan)
        self.stop_day = np.full((trials, arms), np.nan)
        self.stop_rule = np.full((trials, arms), -1, dtype=np.int64)
        self.next_dose = np.full((trials, arms), -1, dtype=np.int64)
        self.dirty = np.ones((trials, arms), dtype=bool)
        self.decided_at = np.full((trials, arms), -np.inf)
        day = 0.0 if start is None else float(start.day)
        self.now = np.full(trials, day)
        self.finished = np.zeros(trials, dtype=bool)
        self.end_day = np.full(trials, np.nan)
        capacity = self.cohort
        if start is not None:
            capacity = max(capacity, int((start.status == PENDING).sum(axis=2).max(initial=0)))
        self.capacity = capacity
        self.pend_slot = np.full((trials, arms, capacity), -1, dtype=np.int64)
        self.pend_time = np.full((trials, arms, capacity), np.inf)
        if start is not None:
            self._load(start)
        self.pending_count = self.pend.sum(axis=2).reshape(-1)
        self.graph = None if self.tite else _count_graph(design)
        if self.graph is not None:
            self.node = self.graph.nodes_of(
                self.n.reshape(-1, self.doses),
                self.y.reshape(-1, self.doses),
                self.pend.reshape(-1, self.doses),
                self.current.reshape(-1),
            )
        self._views()
        self.ring = None
        if self.graph is not None and self.graph.cohort:
            self.ring = np.full((trials * arms, self.cohort), -1, dtype=np.int64)
            if start is not None:
                self._rebuild_ring(np.arange(trials * arms))
        self.hi = np.zeros(trials, dtype=np.int64)
        self.queue_check = np.ones(trials, dtype=bool)
        self.queue_head = np.zeros(trials * arms, dtype=np.int64)
        self._arrived(np.arange(trials))

    def _views(self) -> None:
        """Flat views of the arrays, indexed by (trial, arm) = t * arms + a and by
        (trial, arm, item) = ((t * arms + a) * items + item), so that each gather or
        scatter of a step is one index array."""
        pairs = self.trials * self.arms
        self.row_k = self.k + 1
        for name in ("level", "status", "enrol", "infusion", "resolve", "outcome"):
            setattr(self, f"{name}_flat", getattr(self, name).reshape(-1))
        self.level_rows = self.level.reshape(pairs, self.count)
        self.status_rows = self.status.reshape(pairs, self.count)
        self.infusion_rows = self.infusion.reshape(pairs, self.count)
        for name in ("n", "y", "pend"):
            setattr(self, f"{name}_rows", getattr(self, name).reshape(pairs, self.doses))
            setattr(self, f"{name}_flat", getattr(self, name).reshape(-1))
        for name in ("enrolled", "current", "stopped", "mtd", "stop_day", "stop_rule"):
            setattr(self, f"{name}_flat", getattr(self, name).reshape(-1))
        for name in ("next_dose", "dirty", "decided_at"):
            setattr(self, f"{name}_flat", getattr(self, name).reshape(-1))
        self.pend_slot_flat = self.pend_slot.reshape(-1)
        self.pend_time_flat = self.pend_time.reshape(-1)
        self.pend_slot_rows = self.pend_slot.reshape(pairs, self.capacity)
        self.pend_time_trials = self.pend_time.reshape(self.trials, self.arms * self.capacity)
        self.arrival_flat = self.arrival.reshape(-1)
        self.eligible_flat = self.eligible.reshape(-1)
        self.consumed_flat = self.consumed.reshape(-1)
        self.next_flat = np.ascontiguousarray(self.next_eligible).reshape(-1)
        self.p_flat = self.p.reshape(-1)
        self.course = {
            name: np.ascontiguousarray(getattr(self.slots, name)).reshape(-1)
            for name in ArmSlots.__dataclass_fields__
        }
        self.arm_index = np.arange(self.arms)

    def _load(self, start: StartState) -> None:
        """Patients of a data cut in their slots, counts and pending table."""
        used = start.level.shape[2]
        for name in ("level", "status", "enrol", "infusion", "resolve", "outcome"):
            getattr(self, name)[:, :, :used] = getattr(start, name)
        filled = start.status != EMPTY
        self.enrolled[:] = filled.sum(axis=2)
        known = (start.status == NO_DLT) | (start.status == DLT)
        doses = np.arange(self.doses)
        at = start.level[..., None] == doses
        self.n[:] = (at & known[..., None]).sum(axis=2)
        self.y[:] = (at & (start.status == DLT)[..., None]).sum(axis=2)
        pending = start.status == PENDING
        self.pend[:] = (at & pending[..., None]).sum(axis=2)
        last = np.where(filled, np.arange(used), -1).max(axis=2)
        has = last >= 0
        lvl = np.take_along_axis(start.level, np.maximum(last, 0)[..., None], axis=2)[..., 0]
        self.current[:] = np.where(has, lvl, self.current)
        rank = np.cumsum(pending, axis=2) - 1
        t, a, s = np.nonzero(pending)
        self.pend_slot[t, a, rank[t, a, s]] = s
        self.pend_time[t, a, rank[t, a, s]] = start.resolve[t, a, s]
        self.stopped[:] = start.stopped
        self.mtd[:] = np.where(start.stopped, start.mtd, np.nan)
        self.stop_day[:] = np.where(start.stopped, start.day, np.nan)

    # --- arrivals ---------------------------------------------------------------------

    def _arrived(self, rows: np.ndarray) -> None:
        """Move ``hi`` of each of ``rows`` past the arrivals up to now: one arrival for
        every row, then, for the rows that moved, 4 and then 16 at a time."""
        base = rows * self.row_k
        now = self.now[rows]
        moving = np.flatnonzero(self.arrival_flat[base + self.hi[rows]] <= now)
        width = 4
        while moving.size:
            at = rows[moving]
            ahead = self.hi[at][:, None] + np.arange(width)
            probe = self.arrival_flat[base[moving][:, None] + np.minimum(ahead, self.k)]
            passed = (probe <= now[moving, None]) & (ahead < self.k)
            count = passed.sum(axis=1)
            self.hi[at] += count
            moving = moving[count == width]
            width = 16

    def _first_waiting(self, rows: np.ndarray, open_arm: np.ndarray) -> np.ndarray:
        """The first waiting patient (arrived, not enrolled, not too old) eligible for an
        open arm, per row; ``K`` for none.

        The first patient eligible for an arm, not enrolled and not too old can only move
        later (patients are only ever enrolled, and grow older), so each arm keeps it
        (``queue_head``) and the search resumes from there, skipping the patients enrolled
        or arrived before now - ``max_wait``."""
        pairs = rows[:, None] * self.arms + self.arm_index
        base = pairs * self.row_k
        hi = self.hi[rows][:, None]
        row_base = np.repeat(rows * self.row_k, self.arms)
        oldest = np.repeat(self.now[rows] - self.max_wait, self.arms)
        flat_base = base.ravel()
        j = self.next_flat[flat_base + self.queue_head[pairs].ravel()].astype(np.int64)
        at = row_base + j
        gone = self.consumed_flat[at] | (self.arrival_flat[at] < oldest)
        taken = np.flatnonzero(gone & (j < self.k))
        for _ in range(self.k + 1):
            if taken.size == 0:
                break
            j[taken] = self.next_flat[flat_base[taken] + np.minimum(j[taken] + 1, self.k)]
            at = row_base[taken] + j[taken]
            gone = self.consumed_flat[at] | (self.arrival_flat[at] < oldest[taken])
            taken = taken[gone & (j[taken] < self.k)]
        j = j.reshape(rows.size, self.arms)
        self.queue_head[pairs] = j
        j = np.where(open_arm & (j < hi), j, self.k)
        return _across(np.minimum, j)

    # --- decisions --------------------------------------------------------------------

    def _cohort(self, pairs: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per slot of each (trial, arm) pair, whether it is in the most recent cohort (the
        trailing run of valid patients at the current dose, after the last valid patient at
        another dose, at most a cohort of them), and whether a known DLT is among them."""
        status = self.status_rows[pairs]
        valid = (status == PENDING) | (status == NO_DLT) | (status == DLT)
        at = valid & (self.level_rows[pairs] == current[:, None])
        other = valid & ~at
        later_other = np.cumsum(other[:, ::-1], axis=1)[:, ::-1] - other
        run = at & (later_other == 0)
        from_end = np.cumsum(run[:, ::-1], axis=1)[:, ::-1]
        in_cohort = run & (from_end <= self.cohort)
        return in_cohort, (in_cohort & (status == DLT)).any(axis=1)

    def _rebuild_ring(self, pairs: np.ndarray) -> None:
        """Set the cohort register of these (trial, arm) pairs from their slots: the slots
        of the most recent cohort (:meth:`_cohort`), oldest first, right-aligned, -1
        before."""
        in_cohort, _ = self._cohort(pairs, self.current_flat[pairs])
        slot = np.sort(np.where(in_cohort, np.arange(self.count), -1), axis=1)
        width = min(self.count, self.cohort)
        ring = np.full((pairs.size, self.cohort), -1, dtype=np.int64)
        ring[:, self.cohort - width :] = slot[:, self.count - width :]
        self.ring[pairs] = ring

    def _ring_enrol(self, pair: np.ndarray, slot: np.ndarray, dose: np.ndarray) -> np.ndarray:
        """Shift a patient enrolled at ``dose`` in ``slot`` into the cohort registers, before
        the pairs' current doses change; return the pairs to rebuild from their slots once
        the enrolment is written. A patient at the current dose joins the trailing run (the
        oldest member leaves past a cohort); at another dose the run restarts with the
        patient, unless the old run was empty: then earlier patients at the new dose may
        belong to it (the patients after them were not evaluable)."""
        ring = self.ring[pair]
        same = dose == self.current_flat[pair]
        empty = ring[:, -1] < 0
        shifted = np.empty_like(ring)
        shifted[:, :-1] = np.where(same[:, None], ring[:, 1:], -1)
        shifted[:, -1] = slot
        self.ring[pair] = shifted
        return pair[~same & empty]

    def _recent_cohort(self, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per (trial, arm) pair, the pending patients of the most recent cohort and whether a
        known DLT is among it (as :meth:`_cohort`), read from the pair's cohort register:
        the slots of that cohort, shifted in by :meth:`_ring_enrol` as patients are enrolled
        and rebuilt from the slots when one of the arm's patients turns out not
        evaluable."""
        ring = self.ring[pairs]
        member = ring >= 0
        status = self.status_flat[(pairs * self.count)[:, None] + np.maximum(ring, 0)]
        recent = _across(np.add, (member & (status == PENDING)).astype(np.int64))
        flag = _across(np.logical_or, member & (status == DLT))
        return recent, flag

    def _decide(self, rows: np.ndarray) -> None:
        """Decide the arms of ``rows`` whose data changed (and TITE arms with pending
        patients and a free slot, whose follow-up grew), in one batch. An arm without a
        free slot is left for later: it takes no patient, and it cannot stop while
        patients are pending (stops are held), so its decision would not be used before
        an outcome changes its data again."""
        pairs = (rows[:, None] * self.arms + self.arm_index).reshape(-1)
        need = self.dirty_flat[pairs] & ~self.stopped_flat[pairs]
        count = self.pending_count[pairs]
        if not self.tite:
            need &= count < self.cohort
        else:
            need |= (
                ~self.stopped_flat[pairs]
                & (count > 0)
                & (count < self.cohort)
                & (self.decided_at_flat[pairs] < np.repeat(self.now[rows], self.arms))
            )
        chosen = pairs[need]
        if chosen.size == 0:
            return
        now = self.now[chosen // self.arms]
        if self.tite:
            n, y = self.n_rows[chosen], self.y_rows[chosen]
            decision = self._decide_tite(chosen, n, y, self.current_flat[chosen], now)
            self.decided_at_flat[chosen] = now
        else:
            cohort = self._recent_cohort(chosen) if self.graph.cohort else ()
            decision = self.graph.decisions(self.node[chosen], *cohort)
        self.next_dose_flat[chosen] = decision.next_dose
        self.dirty_flat[chosen] = False
        stop = decision.stop
        if stop.any():
            stopping = chosen[stop]
            self.stopped_flat[stopping] = True
            self.mtd_flat[stopping] = decision.mtd[stop]
            self.stop_day_flat[stopping] = now[stop]
            self.stop_rule_flat[stopping] = decision.rule[stop]
            self.next_dose_flat[stopping] = -1

    def _decide_tite(self, pairs, n, y, current, now):
        slot = self.pend_slot_rows[pairs]
        mask = slot >= 0
        safe = np.maximum(slot, 0)
        level = np.take_along_axis(self.level_rows[pairs], safe, axis=1).astype(np.int64)
        infusion = np.take_along_axis(self.infusion_rows[pairs], safe, axis=1)
        follow = now[:, None] - infusion
        weight = np.where(mask & np.isfinite(infusion), np.clip(follow / self.window, 0, 1), 0.0)
        in_cohort, flag = self._cohort(pairs, current)
        recent = mask & np.take_along_axis(in_cohort, safe, axis=1)
        state = EscalationState.of(
            n,
            y,
            current,
            pending=PendingBatch(level=np.where(mask, level, 0), weight=weight, mask=mask),
            recent=recent,
            last_cohort_dlt=flag,
        )
        decision = self.design.decide(state)
        return StoredDecisions(
            next_dose=stored_next_dose(decision),
            stop=decision.stop,
            mtd=decision.mtd,
            rule=decision.rule.astype(np.int64),
        )

    # --- events -----------------------------------------------------------------------

    def _enrol(self, rows: np.ndarray, patient: np.ndarray, open_arm: np.ndarray) -> None:
        """Enrol arrival ``patient`` of each row, now, in its open eligible arm with the
        fewest patients."""
        bits = (self.eligible_flat[rows * self.row_k + patient][:, None] >> self.arm_index) & 1
        allowed = open_arm & bits.astype(bool)
        pairs_all = rows[:, None] * self.arms + self.arm_index
        score = np.where(
            allowed,
            self.enrolled_flat[pairs_all] * self.arms + self.arm_index,
            np.iinfo(np.int64).max,
        )
        arm = np.argmin(score, axis=1)
        pair = rows * self.arms + arm
        slot = self.enrolled_flat[pair]
        if np.any(slot >= self.count):
            raise OutOfSlots(
                f"an arm enrolled more than {self.count} patients; too many were not evaluable"
            )
        dose = self.next_dose_flat[pair]
        now = self.now[rows]
        at = pair * self.count + slot
        course = self.course
        delay = course["infusion_delay"][at]
        infusion = now + delay
        product = np.isfinite(delay)
        onset = course["onset_day"][at]
        dropout = course["dropout_day"][at]
        has_dlt = course["dlt_uniform"][at] < self.p_flat[arm * self.doses + dose]
        seen = has_dlt & (onset <= dropout)
        withdrawn = ~seen & (dropout < self.window)
        after = np.where(seen, onset, np.where(withdrawn, dropout, self.window))
        failed = now + course["failure_delay"][at]
        resolve = np.where(product, infusion + after, failed)
        known = np.where(seen, DLT, np.where(withdrawn, NOT_EVALUABLE, NO_DLT))
        self.level_flat[at] = dose
        self.status_flat[at] = PENDING
        self.enrol_flat[at] = now
        self.infusion_flat[at] = infusion
        self.resolve_flat[at] = resolve
        self.outcome_flat[at] = np.where(product, known, NOT_EVALUABLE)
        free = np.argmax(self.pend_slot_rows[pair] < 0, axis=1)
        place = pair * self.capacity + free
        self.pend_slot_flat[place] = slot
        self.pend_time_flat[place] = resolve
        if self.graph is None:
            self.pend_flat[pair * self.doses + dose] += 1
        self.pending_count[pair] += 1
        self.enrolled_flat[pair] += 1
        rebuild = None if self.ring is None else self._ring_enrol(pair, slot, dose)
        self.current_flat[pair] = dose
        self.consumed_flat[rows * self.row_k + patient] = True
        self.dirty_flat[pair] = True
        if self.graph is not None:
            self.node[pair] = self.graph.child(self.node[pair], dose)
        if rebuild is not None and rebuild.size:
            self._rebuild_ring(rebuild)

    def _resolve(self, rows: np.ndarray, position: np.ndarray) -> None:
        arm = position // self.capacity
        pair = rows * self.arms + arm
        place = pair * self.capacity + position % self.capacity
        slot = self.pend_slot_flat[place]
        at = pair * self.count + slot
        dose = self.level_flat[at].astype(np.int64)
        outcome = self.outcome_flat[at]
        self.now[rows] = self.pend_time_flat[place]
        evaluable = outcome != NOT_EVALUABLE
        if self.graph is None:
            per_dose = pair * self.doses + dose
            self.n_flat[per_dose] += evaluable
            self.y_flat[per_dose] += outcome == DLT
            self.pend_flat[per_dose] -= 1
        self.pending_count[pair] -= 1
        self.status_flat[at] = np.where(
            outcome == DLT, DLT, np.where(evaluable, NO_DLT, NOT_EVALUABLE)
        )
        self.pend_slot_flat[place] = -1
        self.pend_time_flat[place] = np.inf
        self.dirty_flat[pair] = True
        if self.graph is not None:
            code = np.where(outcome == DLT, 1, np.where(evaluable, 0, 2))
            self.node[pair] = self.graph.child(self.node[pair], self.doses + 3 * dose + code)
        if self.ring is not None and not evaluable.all():
            self._rebuild_ring(pair[~evaluable])

    def step(self, rows: np.ndarray) -> np.ndarray:
        """One event per trial of ``rows``; returns the rows still in Phase 1."""
        self._decide(rows)
        pairs = rows[:, None] * self.arms + self.arm_index
        stopped = self.stopped_flat[pairs]
        done = _across(np.logical_and, stopped)
        if done.any():
            finished = rows[done]
            self.finished[finished] = True
            self.end_day[finished] = np.nanmax(self.stop_day[finished], axis=1)
            keep = ~done
            rows, pairs, stopped = rows[keep], pairs[keep], stopped[keep]
            if rows.size == 0:
                return rows
        free = self.pending_count[pairs] < self.cohort
        open_arm = ~stopped & (self.next_dose_flat[pairs] >= 0) & free
        reach = open_arm if not self.tite else ~stopped & free
        waiting = np.full(rows.size, self.k, dtype=np.int64)
        coming = np.full(rows.size, self.k, dtype=np.int64)
        some = np.flatnonzero(_across(np.logical_or, reach))
        if some.size:
            sub = rows[some]
            opened = open_arm[some]
            check = np.flatnonzero(_across(np.logical_or, opened) & self.queue_check[sub])
            if check.size:
                waiting[some[check]] = self._first_waiting(sub[check], opened[check])
            self.queue_check[sub] = False
            nxt = self.next_flat[pairs[some] * self.row_k + self.hi[sub][:, None]]
            coming[some] = _across(np.minimum, np.where(reach[some], nxt, self.k))
        arrival_day = self.arrival_flat[rows * self.row_k + coming]
        flat = self.pend_time_trials[rows]
        position = np.argmin(flat, axis=1)
        resolve_day = flat[np.arange(rows.size), position]
        queue = waiting < self.k
        resolve = ~queue & (resolve_day <= arrival_day) & np.isfinite(resolve_day)
        arrive = ~queue & ~resolve & np.isfinite(arrival_day)
        stuck = ~(queue | resolve | arrive)
        if stuck.any():
            raise OutOfPatients(
                f"{int(stuck.sum())} simulated trial(s) ran out of screened patients before "
                f"Phase 1 ended ({self.k} arrivals drawn per trial)"
            )
        self.now[rows[arrive]] = arrival_day[arrive]
        enrol = queue if self.tite else queue | arrive
        if enrol.any():
            patient = np.where(queue, waiting, coming)[enrol]
            self._enrol(rows[enrol], patient, open_arm[enrol])
        recheck = queue | arrive if self.tite else queue
        self.queue_check[rows[recheck]] = True
        if resolve.any():
            self._resolve(rows[resolve], position[resolve])
            self.queue_check[rows[resolve]] = True
        if arrive.any():
            moving = rows[arrive]
            self.hi[moving] = np.maximum(self.hi[moving], coming[arrive] + 1)
        moved = rows[resolve | arrive]
        if moved.size:
            self._arrived(moved)
        return rows

    def result(self) -> Phase1Walk:
        """The walk's arrays; a design with a count graph keeps its counts in the arms'
        nodes only, so they are read from there."""
        n, y = self.n, self.y
        if self.graph is not None:
            n = self.graph.n[self.node].astype(np.int64).reshape(n.shape)
            y = self.graph.y[self.node].astype(np.int64).reshape(y.shape)
        return Phase1Walk(
            level=self.level,
            enrol=self.enrol,
            infusion=self.infusion,
            resolve=self.resolve,
            outcome=self.outcome,
            enrolled=self.enrolled,
            n=n,
            y=y,
            mtd=self.mtd,
            stop_day=self.stop_day,
            stop_rule=self.stop_rule,
            end_day=self.end_day,
            rules=self.design.rules,
        )


def walk_phase1(
    design: EscalationDesign,
    dlt_probability: np.ndarray,
    arrival: np.ndarray,
    eligible: np.ndarray,
    slots: ArmSlots,
    *,
    max_wait: float,
    window: float,
    start: StartState | None = None,
    eligible_table: np.ndarray | None = None,
) -> Phase1Walk:
    """Walk Phase 1 of many trials in calendar time (see the module docstring).

    Parameters
    ----------
    design : EscalationDesign
        The escalation design of every arm.
    dlt_probability : ndarray, shape (arms, doses)
        True DLT probability per arm and 0-based dose.
    arrival : ndarray of float, shape (trials, K)
        Study days of the screened patients, increasing along each row.
    eligible : ndarray of uint8, shape (trials, K)
        Per screened patient, bit a set when the patient may join arm a.
    slots : ArmSlots
        The course of each patient slot, shape (trials, arms, slots).
    max_wait : float
        Days an eligible patient waits for an arm to open.
    window : float
        DLT window in days (outcomes without a DLT are known at its end).
    start : StartState, optional
        Patients already enrolled and the day to start from (a data cut).
    eligible_table : ndarray, optional
        :func:`next_eligible` of ``eligible``, when the caller has it already.

    Returns
    -------
    Phase1Walk

    Raises
    ------
    OutOfPatients
        When a trial runs out of screened patients before Phase 1 ends.
    OutOfSlots
        When an arm runs out of patient slots.
    """
    walk = _Walk(
        design,
        dlt_probability,
        np.asarray(arrival, dtype=float),
        np.asarray(eligible, dtype=np.uint8),
        slots,
        max_wait=max_wait,
        window=window,
        start=start,
        table=eligible_table,
    )
    rows = np.arange(walk.trials)
    while rows.size:
        rows = walk.step(rows)
    return walk.result()
