"""The Phase 2 expansion of simulated trials, with its monitoring rules acting on enrolment.

The selected construct is expanded at its MTD from the interim on: every screened patient
eligible for it who arrives after the interim is enrolled, until ``expansion.n_max``
patients have received the product (a patient whose lots fail is replaced, as in Phase 1)
or a monitoring rule stops enrolment. The rules are the protocol's
(:func:`~dartnk.analyses.expansion.predictive_design` on the responses known so far, in the
order they became known, at its planned looks before the final one;
:func:`~dartnk.analyses.expansion.toxicity_monitor` on the DLT outcomes known so far), as the
trial generator applies them: a rule stops enrolment from the day a look's outcomes are
known, and a patient arriving that day or later is not enrolled. Patients already enrolled
stay. A look's outcomes all belong to patients enrolled before it, so the first stopping
look is found from the outcomes of every candidate patient at once, vectorised over trials.

At the end, an expansion that was not stopped is promising ("go") when its responders reach
the predictive design's final boundary (:attr:`PredictiveProbabilityDesign.final_responses`);
it ends on the day the last response is known.

References: Lee JJ, Liu DD (2008). A predictive probability design for phase II cancer
clinical trials. Clinical Trials 5:93-106. Thall PF, Simon RM, Estey EH (1995). Bayesian
sequential monitoring designs for single-arm clinical trials with multiple outcomes.
Statistics in Medicine 14:357-379.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dartnk.adaptive import SingleArmAction
from dartnk.adaptive.trial_walk import DLT, NO_DLT, NOT_EVALUABLE, OutOfPatients

from .expansion import predictive_design, toxicity_monitor
from .protocol import Protocol
from .simulation_interim import ResponseTiming, response_times
from .simulation_latents import ScenarioArrays, SlotCourses

__all__ = [
    "EXPANSION_OUTCOMES",
    "ExpansionOutcomes",
    "simulate_expansion",
]

EXPANSION_OUTCOMES = ("not started", "go", "no go", "stopped for futility", "stopped for toxicity")
NOT_STARTED, GO, NO_GO, FUTILITY, TOXICITY = range(len(EXPANSION_OUTCOMES))


@dataclass(frozen=True, eq=False)
class ExpansionOutcomes:
    """Per trial: outcome code (index into :data:`EXPANSION_OUTCOMES`), patients enrolled,
    responders and DLTs among them, and the study day the expansion ended (NaN when it did
    not start)."""

    outcome: np.ndarray
    enrolled: np.ndarray
    responders: np.ndarray
    dlts: np.ndarray
    end_day: np.ndarray


def _sorted_counts(times: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(times, axis=1, kind="stable")
    ordered = np.take_along_axis(times, order, axis=1)
    cumulative = np.cumsum(np.take_along_axis(events, order, axis=1), axis=1)
    return ordered, cumulative


def simulate_expansion(
    protocol: Protocol,
    truth: ScenarioArrays,
    courses: SlotCourses,
    arrival: np.ndarray,
    next_eligible: np.ndarray,
    selected: np.ndarray,
    dose: np.ndarray,
    interim_day: np.ndarray,
    timing: ResponseTiming,
    window: float,
) -> ExpansionOutcomes:
    """Simulate the expansion of every trial with a selected construct.

    Parameters
    ----------
    protocol : Protocol
    truth : ScenarioArrays
    courses : SlotCourses
        Expansion patient slots, shape (trials, arms, slots): row a is used when construct
        a is selected.
    arrival : ndarray, shape (trials, K + 1)
        Study days of the screened patients, ``inf`` in the last column.
    next_eligible : ndarray of int, shape (trials, arms, K + 1)
        First patient at or after k eligible for each arm (K: none).
    selected : ndarray of int, shape (trials,)
        0-based selected construct, -1 for none.
    dose : ndarray of int, shape (trials,)
        0-based expansion dose (the construct's MTD) where selected.
    interim_day : ndarray, shape (trials,)
    timing : ResponseTiming
    window : float
        DLT window in days.
    """
    trials = selected.shape[0]
    outcome = np.zeros(trials, dtype=np.int64)
    enrolled = np.zeros(trials, dtype=np.int64)
    responders = np.zeros(trials, dtype=np.int64)
    dlts = np.zeros(trials, dtype=np.int64)
    end_day = np.full(trials, np.nan)
    rows = np.flatnonzero(selected >= 0)
    if rows.size == 0:
        return ExpansionOutcomes(outcome, enrolled, responders, dlts, end_day)
    arm = selected[rows]
    d = dose[rows]
    k = arrival.shape[1] - 1
    slots = courses.walk.infusion_delay.shape[2]
    start = (arrival[rows, :k] <= interim_day[rows, None]).sum(axis=1)
    index = np.empty((rows.size, slots), dtype=np.int64)
    j = next_eligible[rows, arm, start].astype(np.int64)
    for i in range(slots):
        index[:, i] = j
        j = next_eligible[rows, arm, np.minimum(j + 1, k)].astype(np.int64)
    enrol = arrival[rows[:, None], index]

    picked = _pick(courses, rows, arm)
    walk = picked.walk
    infusion = enrol + walk.infusion_delay
    product = np.isfinite(infusion)
    onset, dropout = walk.onset_day, walk.dropout_day
    has_dlt = walk.dlt_uniform < truth.dlt[arm, d][:, None]
    seen = product & has_dlt & (onset <= dropout)
    withdrawn = product & ~seen & (dropout < window)
    dlt_day = infusion + np.where(seen, onset, np.where(withdrawn, dropout, window))
    code = np.where(seen, DLT, np.where(withdrawn | ~product, NOT_EVALUABLE, NO_DLT))
    responder, known = response_times(
        picked, infusion, code, truth.response[arm, d][:, None], timing
    )
    n_max = protocol.expansion.n_max
    infused_before = np.cumsum(product, axis=1) - product
    candidate = np.isfinite(enrol) & (infused_before < n_max)
    short = (candidate & product).sum(axis=1) < n_max
    if short.any():
        raise OutOfPatients(
            f"{int(short.sum())} simulated trial(s) ran out of screened patients during the "
            f"expansion ({k} arrivals drawn per trial)"
        )
    design = predictive_design(protocol)
    monitor = toxicity_monitor(protocol)
    stop_day = np.full(rows.size, np.inf)
    reason = np.full(rows.size, NO_GO)
    response_day, response_count = _sorted_counts(
        np.where(candidate & product, known, np.inf), responder & candidate & product
    )
    for look in design.looks:
        if look >= design.n_max or look > slots:
            continue
        day = response_day[:, look - 1]
        action = design.decide(np.full(rows.size, look), response_count[:, look - 1])
        stops = (action != SingleArmAction.CONTINUE) & np.isfinite(day) & (day < stop_day)
        stop_day = np.where(stops, day, stop_day)
        reason = np.where(
            stops, np.where(action == SingleArmAction.STOP_EFFICACY, GO, FUTILITY), reason
        )
    evaluable = candidate & (code != NOT_EVALUABLE)
    dlt_known, dlt_count = _sorted_counts(np.where(evaluable, dlt_day, np.inf), evaluable & seen)
    for look in monitor.looks:
        if look > slots:
            continue
        day = dlt_known[:, look - 1]
        action = monitor.decide(np.full(rows.size, look), dlt_count[:, look - 1])
        stops = (action == SingleArmAction.STOP_TOXICITY) & np.isfinite(day) & (day < stop_day)
        stop_day = np.where(stops, day, stop_day)
        reason = np.where(stops, TOXICITY, reason)
    stopped = np.isfinite(stop_day)
    taken = candidate & (enrol < stop_day[:, None])
    final_responders = (responder & candidate & product).sum(axis=1)
    verdict = np.where(final_responders >= design.final_responses, GO, NO_GO)
    outcome[rows] = np.where(stopped, reason, verdict)
    enrolled[rows] = taken.sum(axis=1)
    responders[rows] = (taken & responder & product).sum(axis=1)
    dlts[rows] = (taken & seen).sum(axis=1)
    last_known = np.where(candidate & product, known, -np.inf).max(axis=1)
    end_day[rows] = np.where(stopped, stop_day, last_known)
    return ExpansionOutcomes(outcome, enrolled, responders, dlts, end_day)


def _pick(courses: SlotCourses, rows: np.ndarray, arm: np.ndarray) -> SlotCourses:
    """The expansion slots of each row's selected construct, shape (rows, slots)."""
    from dartnk.adaptive.trial_walk import ArmSlots

    walk = courses.walk
    return SlotCourses(
        walk=ArmSlots(**{f: getattr(walk, f)[rows, arm] for f in walk.__dataclass_fields__}),
        **{f: getattr(courses, f)[rows, arm] for f in courses.__dataclass_fields__ if f != "walk"},
    )
