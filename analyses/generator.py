"""Synthetic DART-NK-SCLC trials: one seeded run of the protocol under a scenario, as tables.

The run is an event calendar in study days. Patients arrive for screening as a Poisson
process; each is screened for ECOG and the antigen H-scores, and may go only to an arm whose
two antigens are both at or above the protocol threshold. An arm takes a new patient only
when its escalation design (:class:`dartnk.adaptive.ThreePlusThree`) calls for one and it
has fewer than a cohort's worth of patients whose DLT follow-up is open (enrolled and not
yet past a DLT, the end of the DLT window, withdrawal or a manufacturing failure). A patient
eligible only for full arms waits up to ``accrual.max_wait_days`` and then screen-fails;
among open eligible arms the one with the fewest patients takes the patient (ties in
protocol order).

The design decides on each arm's escalation state (:class:`dartnk.adaptive.EscalationState`)
with the same batch method a live recommendation uses: it decides as soon as no outcome of
the patients still in follow-up could change the decision (two DLTs settle "too toxic"
before the cohort is complete), completes an unfinished cohort while waiting, and never
stops or declares an MTD while a patient is pending; a patient who leaves the DLT window
early without a DLT is not evaluable and is replaced. Phase 2, when asked for, expands the
selected construct at its MTD.
"""

from __future__ import annotations

import functools
import heapq
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from dartnk.adaptive import EscalationState, PendingBatch, ThreePlusThree

from ._course import Course, Screening, Streams, Truth, draw_course, screen
from ._export import tables_at_cutoff
from .derive import response_known_day, response_status
from .protocol import Protocol
from .scenario import Scenario

__all__ = ["generate_trial"]

_DAYS_PER_MONTH = 365.25 / 12
_MAX_SCREENED = 100_000


def generate_trial(
    protocol: Protocol,
    scenario: Scenario,
    *,
    seed: int | np.random.SeedSequence,
    cutoff: int | None = None,
    include_phase2: bool = False,
) -> dict[str, pd.DataFrame]:
    """Simulate one trial under the protocol and export its seven tables.

    Parameters
    ----------
    protocol : Protocol
        Constructs, doses, DLT window and definition, cohort size, assessment schedule,
        assignment threshold, release specification, PK LLOQ.
    scenario : Scenario
        The truth the patients are drawn from; checked against ``protocol`` first.
    seed : int or numpy.random.SeedSequence
        All randomness comes from ``numpy.random.SeedSequence(seed)``, spawned into one
        stream per kind of draw (accrual, antigens, manufacturing, toxicity, response, pk,
        survival, follow-up) and per screened patient, so the same seed gives identical
        tables and changing one part of the scenario leaves the other draws alone.
    cutoff : int, optional
        Study day of the data cut. Default: ``follow_up.final_follow_up_days`` after the
        last patient's first infusion (or manufacturing failure).
    include_phase2 : bool, default False
        Run Phase 2 after Phase 1: ``protocol.phase2.n_patients`` patients on the construct
        fixed by the scenario or, failing that, the arm with the best observed ORR among
        arms with an MTD at the interim, dosed at that arm's MTD.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``patients``, ``infusions``, ``adverse_events``, ``manufacturing``, ``pk``,
        ``responses`` and ``survival``, following the trial table contract.

    Raises
    ------
    ScenarioError
        If the scenario does not fit the protocol.

    Examples
    --------
    >>> from dartnk.analyses import default_protocol
    >>> from dartnk.analyses.scenario import default_scenario
    >>> tables = generate_trial(default_protocol(), default_scenario(), seed=1, cutoff=200)
    >>> sorted(tables)[:3]
    ['adverse_events', 'infusions', 'manufacturing']
    >>> bool((tables["patients"]["enrolled_day"] <= 200).all())
    True
    """
    if cutoff is not None and cutoff < 0:
        raise ValueError(f"cutoff {cutoff} must be a study day (>= 0)")
    run = _Run(protocol, scenario, Streams(seed), horizon=math.inf if cutoff is None else cutoff)
    run.phase1()
    if include_phase2:
        run.phase2()
    return tables_at_cutoff(protocol, run.courses, run.final_day() if cutoff is None else cutoff)


class _Arm:
    """One arm's escalation state: current dose, patients, stop and MTD (0-based), and the
    dose its next patient would get (None: wait or stopped), recomputed when ``dirty``."""

    def __init__(self, index: int, start: int) -> None:
        self.index = index
        self.current = start
        self.members: list[Course] = []
        self.stopped = False
        self.mtd: int | None = None
        self.numbered = 0
        self.dirty = True
        self.next_dose: int | None = None


class _Run:
    """The event calendar of one trial; ``courses`` collects every enrolled patient."""

    def __init__(
        self, protocol: Protocol, scenario: Scenario, streams: Streams, *, horizon: float
    ) -> None:
        self.protocol = protocol
        self.scenario = scenario
        self.truth = Truth.build(protocol, scenario)
        self.streams = streams
        self.horizon = horizon
        self.design = ThreePlusThree(
            len(protocol.dose_levels), start=protocol.start_index, labels=protocol.dose_labels
        )
        self.arms = [_Arm(i, protocol.start_index) for i in range(len(protocol.constructs))]
        self.courses: list[Course] = []
        self.stop_day: int | None = None
        self._arrivals = self._arrival_days()
        self._next = next(self._arrivals)

    def _arrival_days(self) -> Iterator[tuple[int, int]]:
        rng = self.streams.stream("accrual")
        scale = _DAYS_PER_MONTH / self.scenario.accrual.screened_per_month
        time, k = 0.0, 0
        while k < _MAX_SCREENED:
            for gap in rng.exponential(scale, size=64):
                yield k, int(time)
                time += gap
                k += 1
        raise RuntimeError(
            f"{_MAX_SCREENED} patients screened and the trial has not finished; "
            f"check the scenario's antigen distributions and accrual"
        )

    def _screen_next(self) -> Screening:
        k, day = self._next
        self._next = next(self._arrivals)
        return screen(self.streams, self.scenario, self.protocol, k, day)

    def _fits(self, screening: Screening, arm: _Arm) -> bool:
        """ECOG within the limit and both antigens of the arm's construct at or above the
        H-score threshold."""
        threshold = self.protocol.assignment.hscore_threshold
        antigens = self.truth.construct_antigens[arm.index]
        return screening.ecog <= self.protocol.eligibility.max_ecog and all(
            screening.hscores[a] >= threshold for a in antigens
        )

    def _enrol(self, screening: Screening, arm: _Arm, dose: int, phase: int, day: int) -> Course:
        arm.numbered += 1
        construct = self.protocol.construct_ids[arm.index]
        course = draw_course(
            self.protocol,
            self.scenario,
            self.truth,
            self.streams,
            screening,
            patient_id=f"{construct}-{arm.numbered:03d}",
            arm=arm.index,
            dose=dose,
            phase=phase,
            enrolled_day=day,
        )
        self.courses.append(course)
        return course

    def _action(self, arm: _Arm, day: int) -> int | None:
        """The dose the arm's next patient gets on ``day``, or None (wait or stopped);
        stops the arm when the design stops (which it does only on complete follow-up)."""
        if arm.stopped:
            return None
        doses = len(self.protocol.dose_levels)
        n = np.zeros(doses, dtype=np.int64)
        y = np.zeros(doses, dtype=np.int64)
        pending = []
        for course in arm.members:
            if course.resolution_day > day:
                pending.append(course.dose)
            elif course.dlt_evaluable:
                n[course.dose] += 1
                y[course.dose] += course.dlt
        k = len(pending)
        decision, treated_by_dose = _decided(
            self.design, tuple(n.tolist()), tuple(y.tolist()), tuple(sorted(pending)), arm.current
        )
        if decision.stop[0]:
            arm.stopped = True
            arm.mtd = None if np.isnan(decision.mtd[0]) else int(decision.mtd[0])
            self.stop_day = day
            return None
        if decision.wait[0] or k >= self.protocol.phase1.cohort_size:
            return None
        dose = int(decision.next_dose[0])
        treated = treated_by_dose[dose]
        if treated >= self.protocol.phase1.max_per_dose:
            raise RuntimeError(
                f"the design asks for a patient at {self.protocol.dose_labels[dose]} of arm "
                f"{self.protocol.construct_ids[arm.index]}, which already has "
                f"{treated} (protocol maximum {self.protocol.phase1.max_per_dose})"
            )
        return dose

    def phase1(self) -> None:
        """Run Phase 1 until every arm has stopped or the horizon is passed."""
        waiting: list[Screening] = []
        follow_ups: list[tuple[int, int]] = []
        max_wait = self.scenario.accrual.max_wait_days
        while not all(arm.stopped for arm in self.arms):
            day = min(self._next[1], follow_ups[0][0] if follow_ups else math.inf)
            if day > self.horizon:
                return
            while follow_ups and follow_ups[0][0] <= day:
                self.arms[heapq.heappop(follow_ups)[1]].dirty = True
            while self._next[1] == day:
                waiting.append(self._screen_next())
            for arm in self.arms:
                if arm.dirty:
                    arm.next_dose, arm.dirty = self._action(arm, day), False
            still_waiting = []
            for screening in waiting:
                eligible = [a for a in self.arms if not a.stopped and self._fits(screening, a)]
                if not eligible or screening.day + max_wait < day:
                    continue
                open_arms = [arm for arm in eligible if arm.next_dose is not None]
                if not open_arms:
                    still_waiting.append(screening)
                    continue
                arm = min(open_arms, key=lambda a: (len(a.members), a.index))
                dose = arm.next_dose
                course = self._enrol(screening, arm, dose, phase=1, day=day)
                arm.members.append(course)
                arm.current = dose
                heapq.heappush(follow_ups, (course.resolution_day, arm.index))
                arm.next_dose = self._action(arm, day)
            waiting = still_waiting

    def phase2(self) -> None:
        """Expand the selected construct at its MTD, enrolling eligible arrivals after
        the interim (``phase2.selection_delay_days`` after the last arm stopped), until
        ``phase2.n_patients`` are enrolled or a monitoring rule stops the expansion: the
        predictive-probability rule on the responses known so far, or the toxicity
        monitor on the DLT outcomes known so far, at a planned look."""
        if self.stop_day is None or not all(arm.stopped for arm in self.arms):
            return
        interim = self.stop_day + self.scenario.phase2.selection_delay_days
        arm = self._select(interim)
        if arm is None:
            return
        from .expansion import predictive_design, toxicity_monitor

        rules = (predictive_design(self.protocol), toxicity_monitor(self.protocol))
        expansion: list[Course] = []
        while len(expansion) < self.protocol.phase2.n_patients:
            day = self._next[1]
            if day > self.horizon:
                return
            if day <= interim:
                self._next = next(self._arrivals)
                continue
            screening = self._screen_next()
            if self._fits(screening, arm):
                if _monitoring_stops(rules, expansion, day, self.protocol):
                    return
                expansion.append(self._enrol(screening, arm, arm.mtd, phase=2, day=day))

    def _select(self, interim: int) -> _Arm | None:
        with_mtd = [arm for arm in self.arms if arm.mtd is not None]
        fixed = self.scenario.phase2.construct_id
        if fixed is not None:
            chosen = self.arms[self.protocol.construct_ids.index(fixed)]
            return chosen if chosen.mtd is not None else None
        if not with_mtd:
            return None

        def observed_orr(arm: _Arm) -> float:
            infused = [
                c
                for c in arm.members
                if c.first_infusion_day is not None and c.first_infusion_day <= interim
            ]
            responders = [
                c
                for c in infused
                if c.confirmed_day is not None and c.first_infusion_day + c.confirmed_day <= interim
            ]
            return len(responders) / len(infused) if infused else 0.0

        return max(with_mtd, key=lambda arm: (observed_orr(arm), -arm.index))

    def final_day(self) -> int:
        """Default cut-off: final follow-up after the last first infusion or failure."""
        last = max(
            (
                c.first_infusion_day if c.first_infusion_day is not None else c.failure_day
                for c in self.courses
            ),
            default=0,
        )
        return int(last) + self.scenario.follow_up.final_follow_up_days


@functools.lru_cache(maxsize=1 << 16)
def _decided(
    design: ThreePlusThree,
    n: tuple[int, ...],
    y: tuple[int, ...],
    pending: tuple[int, ...],
    current: int,
) -> tuple[Any, np.ndarray]:
    """The design's decision on an arm's state, and the patients treated per dose. A pure
    function of the state, kept for the states met again (runs of one design meet the same
    few states many times)."""
    k = len(pending)
    state = EscalationState.of(
        np.array([n], dtype=np.int64),
        np.array([y], dtype=np.int64),
        np.array([current]),
        pending=PendingBatch(
            level=np.array([pending], dtype=np.int64).reshape(1, k),
            weight=np.zeros((1, k)),
            mask=np.ones((1, k), dtype=bool),
        ),
    )
    return design.decide(state), state.treated[0]


def _monitoring_stops(rules: tuple, expansion: list[Course], day: int, protocol: Protocol) -> bool:
    """Whether a monitoring rule has stopped the expansion by study ``day``: a look of the
    predictive-probability rule (before its final analysis) or of the toxicity monitor
    reached by the outcomes known that day, in the order they became known, whose action
    is a stop (as :func:`dartnk.analyses.analyse_expansion` reads a data cut)."""
    design, monitor = rules
    responses = sorted(
        r for r in (_response_known(c, day, protocol) for c in expansion) if r is not None
    )
    dlts = sorted(
        (c.resolution_day, i, int(c.dlt))
        for i, c in enumerate(expansion)
        if c.resolution_day <= day and c.dlt_evaluable
    )
    for rule, known, final in ((design, responses, False), (monitor, dlts, True)):
        counts = np.cumsum(np.asarray([k[-1] for k in known], dtype=np.int64))
        for look in rule.looks:
            if look > len(known) or (look == rule.n_max and not final):
                break
            if rule.decide(np.array([look]), counts[look - 1 : look])[0] != 0:
                return True
    return False


def _response_known(course: Course, day: int, protocol: Protocol) -> tuple[int, int, int] | None:
    """(study day the response became known, enrolment position, 1 or 0) when the course's
    response is decided on study ``day``; None while pending or never infused. The same
    derivation as a data cut's (:func:`dartnk.analyses.derive.response_status`)."""
    first = course.first_infusion_day
    if first is None or first > day:
        return None
    settings = protocol.assessments
    off = course.off_day is not None and first + course.off_day <= day
    followed = course.off_day if off else day - first
    seen = [(d, r) for d, r in course.assessments if d <= followed]
    days = np.array([d for d, _ in seen], dtype=float)
    codes = np.array([r for _, r in seen], dtype=object)
    status, _ = response_status(days, codes, followed=followed, off_study=off, settings=settings)
    if status == "pending":
        return None
    known = response_known_day(
        days, codes, followed=followed, off_day=followed if off else np.nan, settings=settings
    )
    return first + int(known), course.enrolled_day, int(status == "responder")
