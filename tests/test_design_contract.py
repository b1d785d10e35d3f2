"""The contract every escalation design keeps, parametrised over the designs.

The designs are the protocol's seven (3+3, CRM, TITE-CRM, BOIN, TITE-BOIN, BLRM, TITE-BLRM,
from :func:`~dartnk.analyses.designs.build_design` on the default protocol) and two variants:
a 3+3 starting at the lowest dose and a CRM with the one-parameter logistic model.

Trial histories are drawn by hypothesis and walked forward with each design's own batch
decision, so that every state is one the design can reach: cohorts of 3 at the dose the
design chose, DLTs from a random non-decreasing dose-toxicity curve, the walk ending when
the design stops. A last cohort of 1-3 patients may follow at the chosen dose; its patients
without a DLT may still be inside the DLT window (pending, with follow-up days). The laws of
monotonicity see complete histories for non-TITE designs; every other test gives every
design the pending patients. Dose indices are 0-based.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dartnk.adaptive import (
    BLRM,
    BOIN,
    CRM,
    BatchDecision,
    Decision,
    EscalationDesign,
    EscalationState,
    ThreePlusThree,
)
from dartnk.analyses import default_protocol
from dartnk.analyses.designs import build_design
from dartnk.analyses.protocol import protocol_from_dict

PROTOCOL = default_protocol()
WINDOW = float(PROTOCOL.dlt_window)
COHORT = PROTOCOL.phase1.cohort_size
FIELDS = ("next_dose", "stop", "mtd", "admissible", "rule", "wait")
_UNRESTRICTED = protocol_from_dict(
    PROTOCOL.to_dict()
    | {"phase1": PROTOCOL.to_dict()["phase1"] | {"tite_escalate_after_complete": None}}
)


def _variants() -> dict[str, EscalationDesign]:
    labels = PROTOCOL.dose_labels
    crm = PROTOCOL.phase1.crm
    return {
        "3+3 from DL-1": ThreePlusThree(len(labels), start=0, labels=labels),
        "CRM logistic": CRM(
            crm.skeleton,
            PROTOCOL.toxicity.target,
            model="logistic",
            intercept=crm.intercept,
            prior_var=crm.prior_var,
            start=PROTOCOL.start_index,
            stop_prob=crm.stop_prob,
            max_n=PROTOCOL.phase1.max_per_arm_model_based,
            cohort_size=COHORT,
            labels=labels,
        ),
    }


NAMES = ("3+3", "CRM", "TITE-CRM", "BOIN", "TITE-BOIN", "BLRM", "TITE-BLRM")
DESIGNS = {name: build_design(PROTOCOL, name) for name in NAMES} | _variants()
EVERY = [pytest.param(design, id=name) for name, design in DESIGNS.items()]
TITE = [p for p in EVERY if p.values[0].window is not None]
NON_TITE = [p for p in EVERY if p.values[0].window is None]
MONOTONE = [p for p in EVERY if not isinstance(p.values[0], BLRM)]
BLRM_FAMILY = [p for p in EVERY if isinstance(p.values[0], BLRM)]
PARENTS = [
    pytest.param(build_design(_UNRESTRICTED, f"TITE-{name}"), DESIGNS[name], id=f"TITE-{name}")
    for name in ("CRM", "BOIN", "BLRM")
]

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class History:
    """One trial's patients in enrolment order: 0-based dose, DLT 0/1, and follow-up days
    (NaN when the DLT outcome is known)."""

    level: np.ndarray
    dlt: np.ndarray
    followup: np.ndarray

    @property
    def pending(self) -> np.ndarray:
        return (self.dlt == 0) & np.isfinite(self.followup)

    @property
    def current(self) -> int:
        return int(self.level[-1])

    def resolved(self, outcome: int) -> History:
        """Every pending patient's outcome known: ``outcome`` 0 (no DLT) or 1 (DLT)."""
        dlt = np.where(self.pending, outcome, self.dlt)
        return History(self.level, dlt, np.full(self.level.size, np.nan))

    def with_dlt(self, patient: int) -> History:
        dlt = self.dlt.copy()
        dlt[patient] = 1
        followup = self.followup.copy()
        followup[patient] = np.nan
        return History(self.level, dlt, followup)


def _history(level: list[int], dlt: list[int], followup: list[float] | None = None) -> History:
    follow = np.full(len(level), np.nan) if followup is None else np.array(followup, dtype=float)
    return History(np.array(level, dtype=np.int64), np.array(dlt, dtype=np.int64), follow)


def state(design: EscalationDesign, history: History) -> EscalationState:
    """The escalation state of one history as the design's ``recommend`` builds it."""
    return EscalationState.from_patients(
        history.level,
        history.dlt,
        history.followup,
        n_doses=design.n_doses,
        window=design.window,
        cohort_size=design.cohort_size,
    )


def decide(design: EscalationDesign, histories: list[History]) -> BatchDecision:
    """The design's batch decision for several histories, their states stacked in one
    batch (pending slots padded to the largest number of pending patients)."""
    return design.decide(EscalationState.stack([state(design, h) for h in histories]))


@st.composite
def histories(draw, design: EscalationDesign, *, min_pending: int = 0) -> History:
    """A history the design can reach (see the module docstring); at least one patient."""
    doses = design.n_doses
    curve = sorted(draw(st.lists(st.integers(0, 80), min_size=doses, max_size=doses)))
    cohorts = draw(st.integers(0, 7))
    level: list[int] = []
    dlt: list[int] = []
    dose = design.start
    for _ in range(cohorts):
        outcomes = draw(st.lists(st.integers(0, 99), min_size=COHORT, max_size=COHORT))
        walked = level + [dose] * COHORT
        toxic = dlt + [int(u < curve[dose]) for u in outcomes]
        decision = decide(design, [_history(walked, toxic)])
        if decision.stop[0] and min_pending == 0:
            return _history(walked, toxic)
        if decision.stop[0]:
            break
        level, dlt, dose = walked, toxic, int(decision.next_dose[0])
    tail = not level or min_pending or draw(st.booleans())
    size = draw(st.integers(1, COHORT)) if tail else 0
    kinds = draw(st.lists(st.sampled_from("TNP"), min_size=size, max_size=size))
    if min_pending and "P" not in kinds:
        kinds[-1] = "P"
    days = draw(st.lists(st.floats(0.0, WINDOW, exclude_max=True), min_size=size, max_size=size))
    followup = [np.nan] * len(level)
    for kind, day in zip(kinds, days, strict=True):
        level.append(dose)
        dlt.append(int(kind == "T"))
        followup.append(day if kind == "P" else np.nan)
    return _history(level, dlt, followup)


def _seen_by(design: EscalationDesign, history: History) -> History:
    """The history as the design's batch method sees it: complete for non-TITE designs."""
    return history if design.window is not None else history.resolved(0)


def _as_int(value: float) -> int | None:
    return None if np.isnan(value) else int(value)


def _rank(decision: BatchDecision) -> np.ndarray:
    """Decisions ordered from low to high: a stop without MTD lowest, then the dose of the
    decision (the next dose, or the MTD a stop declares)."""
    return np.where(decision.stop, np.nan_to_num(decision.mtd, nan=-1.0), decision.next_dose)


# --- types and shapes ---------------------------------------------------------------------


@pytest.mark.parametrize("design", EVERY)
@SETTINGS
@given(data=st.data())
def test_batch_decision_types_and_shapes(design, data):
    cases = data.draw(st.lists(histories(design), max_size=6))
    cases = cases or [_history([design.start] * COHORT, [0] * COHORT)]
    batch = decide(design, cases)
    trials, doses = len(cases), design.n_doses
    assert isinstance(batch, BatchDecision) and len(batch) == trials
    assert batch.next_dose.dtype == np.float64 and batch.next_dose.shape == (trials,)
    assert batch.mtd.dtype == np.float64 and batch.mtd.shape == (trials,)
    assert batch.stop.dtype == np.bool_ and batch.stop.shape == (trials,)
    assert batch.admissible.dtype == np.bool_ and batch.admissible.shape == (trials, doses)
    assert np.issubdtype(batch.rule.dtype, np.integer) and batch.rule.shape == (trials,)
    assert np.all((batch.rule >= 0) & (batch.rule < len(design.rules)))
    assert batch.wait.dtype == np.bool_ and not np.any(batch.wait & batch.stop)
    np.testing.assert_array_equal(np.isnan(batch.next_dose), batch.stop | batch.wait)
    for values in (batch.next_dose, batch.mtd):
        chosen = values[~np.isnan(values)]
        assert np.all((chosen == np.round(chosen)) & (chosen >= 0) & (chosen < doses))


@pytest.mark.parametrize("design", EVERY)
@SETTINGS
@given(data=st.data())
def test_recommend_types_and_summary(design, data):
    history = data.draw(histories(design))
    decision = design.recommend(history.level, history.dlt, history.followup)
    assert isinstance(decision, Decision)
    assert decision.next_dose is None or type(decision.next_dose) is int
    assert decision.mtd is None or type(decision.mtd) is int
    assert type(decision.stop) is bool and type(decision.wait) is bool
    assert (decision.next_dose is None) == (decision.stop or decision.wait)
    assert isinstance(decision.reasons, tuple) and decision.reasons
    for reason in decision.reasons:
        assert isinstance(reason, tuple) and len(reason) == 2
        assert all(isinstance(part, str) and part for part in reason)
    table = decision.summary()
    assert isinstance(table, pd.DataFrame) and len(table) == design.n_doses
    assert {"dose", "n", "dlt", "pending", "admissible"} <= set(table.columns)
    assert table["dose"].tolist() == list(design.labels)
    given_at = np.bincount(history.level, minlength=design.n_doses)
    np.testing.assert_array_equal(table["n"] + table["pending"], given_at)
    np.testing.assert_array_equal(
        table["pending"], np.bincount(history.level[history.pending], minlength=design.n_doses)
    )
    np.testing.assert_array_equal(
        table["dlt"], np.bincount(history.level, weights=history.dlt, minlength=design.n_doses)
    )
    np.testing.assert_array_equal(table["admissible"], decision.admissible)


# --- the batch is the one-trial path --------------------------------------------------------


def _posterior_tolerance(design: EscalationDesign) -> float:
    """Rounding allowed in posterior numbers between a batch and one trial alone: a few
    hundred units in the last place of the engine's working precision (float64 for the
    CRM, float32 for the BLRM), as matrix products of different shapes may round
    differently. Decisions must agree exactly."""
    grid = getattr(design, "_grid", None)
    return 0.0 if grid is None else 256 * float(np.finfo(grid.dtype).eps)


@pytest.mark.parametrize("design", EVERY)
@SETTINGS
@given(data=st.data())
def test_batch_equals_each_trial_alone_and_recommend(design, data):
    cases = data.draw(st.lists(histories(design), min_size=2, max_size=8))
    batch = decide(design, cases)
    tolerance = _posterior_tolerance(design)
    posterior = [f.name for f in fields(batch) if f.name not in (*FIELDS, "pending")]
    for t, history in enumerate(cases):
        alone = decide(design, [history])
        taken = batch.take(np.array([t]))
        for field in FIELDS:
            np.testing.assert_array_equal(getattr(batch, field)[t], getattr(alone, field)[0])
            np.testing.assert_array_equal(getattr(taken, field), getattr(alone, field))
        for field in posterior:
            np.testing.assert_array_equal(getattr(taken, field)[0], getattr(batch, field)[t])
            np.testing.assert_allclose(
                getattr(batch, field)[t], getattr(alone, field)[0], rtol=tolerance, atol=tolerance
            )
        one = design.recommend(history.level, history.dlt, history.followup)
        waits = bool(batch.wait[t])
        assert waits == (int(batch.rule[t]) in design.wait_rules)
        assert one.wait == waits
        assert one.next_dose == (None if waits else _as_int(batch.next_dose[t]))
        assert one.stop == bool(batch.stop[t])
        assert one.mtd == _as_int(batch.mtd[t])
        np.testing.assert_array_equal(one.admissible, batch.admissible[t])


# --- safety laws ----------------------------------------------------------------------------


@pytest.mark.parametrize("design", EVERY)
@SETTINGS
@given(data=st.data())
def test_never_recommends_an_inadmissible_dose_nor_skips(design, data):
    """The next dose and the MTD are admissible, and so is every dose below the next dose
    (no escalation through an eliminated dose); the next dose is at most ``max_step``
    (1 unless the design says otherwise) above the highest dose given, or the start dose."""
    cases = [_seen_by(design, h) for h in data.draw(st.lists(histories(design), max_size=6))]
    if not cases:
        return
    batch = decide(design, cases)
    step = getattr(design, "max_step", 1)
    for t, history in enumerate(cases):
        if not (batch.stop[t] or batch.wait[t]):
            chosen = int(batch.next_dose[t])
            assert batch.admissible[t, : chosen + 1].all()
            assert chosen <= max(int(history.level.max()) + step, design.start)
        if not np.isnan(batch.mtd[t]):
            assert batch.admissible[t, int(batch.mtd[t])]


def _patient_without_dlt(data: st.DataObject, history: History) -> int | None:
    """A patient without a DLT, drawn at the current dose half of the time (where a DLT
    matters most to the next decision), else anywhere; None if every patient had one."""
    anywhere = np.flatnonzero(history.dlt == 0)
    here = anywhere[history.level[anywhere] == history.current]
    candidates = here if here.size and data.draw(st.booleans()) else anywhere
    if candidates.size == 0:
        return None
    return int(data.draw(st.sampled_from(candidates.tolist())))


@pytest.mark.parametrize("design", MONOTONE)
@SETTINGS
@given(data=st.data())
def test_more_dlts_never_move_a_decision_up(design, data):
    """Turning one patient without a DLT (complete or pending) into a DLT never raises the
    decision (:func:`_rank`).

    A stop that declares an MTD ranks as its MTD, not lowest: in the 3+3, DL1 with 1/6
    after DL2 was too toxic stops with MTD DL1, and one more DLT at DL1 makes DL1 too
    toxic and sends the next cohort to DL-1, a move down. TITE-BOIN's waits are not
    doses: a DLT in a pending patient ends its pending state, which may lift an accrual
    suspension or let a stop that awaited follow-up select its MTD, so a wait before the
    change is not compared."""
    history = _seen_by(design, data.draw(histories(design)))
    patient = _patient_without_dlt(data, history)
    if patient is None:
        return
    batch = decide(design, [history, history.with_dlt(patient)])
    if batch.wait.any():
        return
    before, after = _rank(batch)
    event(f"decision lowered: {after < before}")
    assert after <= before


@pytest.mark.parametrize("design", BLRM_FAMILY)
@SETTINGS
@given(data=st.data())
def test_a_dlt_never_lowers_the_overdose_probability_at_its_dose(design, data):
    """The two-parameter logistic model is not monotone in DLTs: a DLT at a low dose with
    none above flattens the fitted slope, which can lower P(overdose) at higher doses and
    move the decision up (see :class:`~dartnk.adaptive.BLRM`). What holds is the law at
    the patient's own dose: a DLT multiplies the likelihood by p_d / (1 - p_d) (or
    p_d / (1 - w p_d) for a pending patient), increasing in logit p_d, so the posterior of
    logit p_d moves up and P(overdose) there cannot fall, nor P(underdose) rise."""
    history = _seen_by(design, data.draw(histories(design)))
    patient = _patient_without_dlt(data, history)
    if patient is None:
        return
    dose = int(history.level[patient])
    batch = decide(design, [history, history.with_dlt(patient)])
    assert batch.prob_over[1, dose] >= batch.prob_over[0, dose] - 1e-9
    assert batch.prob_under[1, dose] <= batch.prob_under[0, dose] + 1e-9


def _too_toxic_here(design: EscalationDesign, history: History) -> tuple[bool, bool]:
    """Whether the design's de-escalation boundary is met at the current dose, and whether
    it then must go down (True) or only not up (False).

    - 3+3: at least 2 DLTs at the current dose: de-escalate or stop.
    - BOIN: observed rate y/n (pending patients in n, as TITE-BOIN counts them) at or
      above lambda_d: de-escalate, stay at the lowest dose, or stop.
    - CRM: a DLT in the most recent cohort (the trailing patients at the current dose, at
      most ``cohort_size``): no escalation (coherence, Cheung 2005). The observed rate is
      no bound for the CRM: its model pools all doses.
    - BLRM: P(overdose) at the current dose at or above ``ewoc`` (from ``fit``): go down
      or stop, as P(overdose) increases with dose.
    """
    at = history.level == history.current
    if isinstance(design, ThreePlusThree):
        return int(history.dlt[at].sum()) >= 2, True
    if isinstance(design, BOIN):
        return history.dlt[at].sum() / at.sum() >= design.lambda_d, True
    if isinstance(design, CRM):
        run = int(np.argmin(at[::-1])) if not at.all() else at.size
        return bool(history.dlt[-min(run, design.cohort_size) :].any()), False
    assert isinstance(design, BLRM)
    fit = design.fit(history.level, history.dlt, history.followup)
    return bool(fit.prob_over[history.current] >= design.ewoc), True


@pytest.mark.parametrize("design", EVERY)
@SETTINGS
@given(data=st.data())
def test_no_escalation_at_or_above_the_deescalation_boundary(design, data):
    history = _seen_by(design, data.draw(histories(design)))
    too_toxic, must_go_down = _too_toxic_here(design, history)
    event(f"boundary met: {too_toxic}")
    if not too_toxic:
        return
    batch = decide(design, [history])
    if batch.stop[0] or batch.wait[0]:
        return
    chosen, current = int(batch.next_dose[0]), history.current
    if must_go_down:
        lowest_stay = isinstance(design, BOIN) and chosen == current == 0
        assert chosen < current or lowest_stay
    else:
        assert chosen <= current


# --- pending patients -------------------------------------------------------------------


@pytest.mark.parametrize(("tite", "parent"), PARENTS)
@SETTINGS
@given(data=st.data())
def test_tite_with_complete_follow_up_decides_as_its_parent(tite, parent, data):
    cases = [h.resolved(0) for h in data.draw(st.lists(histories(parent), min_size=1))]
    expected = decide(parent, cases)
    got = decide(tite, cases)
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(got, field), getattr(expected, field))
    for h in cases:
        one = tite.recommend(h.level, h.dlt, h.followup)
        other = parent.recommend(h.level, h.dlt)
        assert (one.next_dose, one.mtd, one.stop, one.wait) == (
            other.next_dose,
            other.mtd,
            other.stop,
            other.wait,
        )


def _outcomes(history: History) -> list[History]:
    """The history under every combination of outcomes of its pending patients."""
    pending = np.flatnonzero(history.pending)
    known = np.full(history.level.size, np.nan)
    cases = []
    for bits in range(1 << pending.size):
        dlt = history.dlt.copy()
        dlt[pending] = (bits >> np.arange(pending.size)) & 1
        cases.append(History(history.level, dlt, known))
    return cases


@pytest.mark.parametrize("design", NON_TITE)
@SETTINGS
@given(data=st.data())
def test_non_tite_designs_wait_only_when_pending_outcomes_matter(design, data):
    """With patients inside the DLT window, a non-TITE design takes the decision every
    combination of their outcomes agrees on (and waits if that is a stop); when they
    disagree it waits, except that the next patient completes an unfinished cohort at the
    current dose when, with no pending DLT, the design stays there."""
    history = data.draw(histories(design, min_pending=1))
    decision = design.recommend(history.level, history.dlt, history.followup)
    resolved = [design.recommend(h.level, h.dlt) for h in _outcomes(history)]
    outcomes = {(r.next_dose, r.mtd, r.stop) for r in resolved}
    best = resolved[0]
    unfinished = history.level[history.level == history.current].size % design.cohort_size
    completes = bool(unfinished) and not best.stop and best.next_dose == history.current
    event(f"agree: {len(outcomes) == 1}, completes: {completes}")
    if len(outcomes) == 1:
        if best.stop:
            assert decision.wait and decision.reasons[0][0] == "await follow-up"
        else:
            assert (decision.next_dose, decision.mtd, decision.stop) == (
                best.next_dose,
                None,
                False,
            )
            assert not decision.wait
    elif completes:
        assert not decision.wait and decision.next_dose == history.current
        assert decision.reasons[0][0] == "complete the cohort"
    else:
        assert decision.wait and (decision.next_dose, decision.mtd, decision.stop) == (
            None,
            None,
            False,
        )
        assert decision.reasons[0][0] == "pending"


@pytest.mark.parametrize("design", EVERY)
@SETTINGS
@given(data=st.data())
def test_no_design_stops_or_declares_an_mtd_while_a_patient_is_pending(design, data):
    cases = data.draw(st.lists(histories(design, min_pending=1), min_size=1, max_size=6))
    batch = decide(design, cases)
    assert not batch.stop.any()
    assert np.isnan(batch.mtd).all()
    for history in cases:
        one = design.recommend(history.level, history.dlt, history.followup)
        assert not one.stop and one.mtd is None


TITE_RESTRICTED = [p for p in TITE if p.values[0].escalate_after_complete is not None]


@pytest.mark.parametrize("design", TITE_RESTRICTED)
@SETTINGS
@given(data=st.data())
def test_tite_designs_escalate_only_after_enough_complete_follow_up(design, data):
    """``escalate_after_complete = k``: no next dose above the current dose while fewer
    than k patients at the current dose have complete follow-up (a DLT or the window)."""
    cases = data.draw(st.lists(histories(design, min_pending=1), min_size=1, max_size=6))
    states = [state(design, h) for h in cases]
    batch = design.decide(EscalationState.stack(states))
    for t, s in enumerate(states):
        if batch.wait[t] or batch.stop[t]:
            continue
        if batch.next_dose[t] > s.current[0]:
            assert s.complete_at_current[0] >= design.escalate_after_complete


# --- the design object --------------------------------------------------------------------


@pytest.mark.parametrize("design", EVERY)
def test_design_is_immutable(design):
    public = {k: v for k, v in vars(design).items() if not k.startswith("_")}
    assert {"n_doses", "labels", "start"} <= set(public)
    for name, value in public.items():
        hash(value)
        with pytest.raises(AttributeError, match="immutable"):
            setattr(design, name, value)
        assert getattr(design, name) is value


@pytest.mark.parametrize("design", EVERY)
def test_repr_is_readable(design):
    text = repr(design)
    family = {ThreePlusThree: "ThreePlusThree", BOIN: "BOIN", CRM: "CRM", BLRM: "BLRM"}
    name = family[type(design)]
    if design.window is not None:
        name = f"TITE-{name}"
        assert f"window={design.window:g}" in text
    else:
        assert "window" not in text
    assert text.startswith(f"{name}(") and text.endswith(")")
    assert "\n" not in text and " at 0x" not in text
    assert f"start={design.labels[design.start]}" in text
