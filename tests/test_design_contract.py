"""The contract every escalation design keeps, parametrised over the designs.

The designs are the protocol's seven (3+3, CRM, TITE-CRM, BOIN, TITE-BOIN, BLRM, TITE-BLRM,
from :func:`~dartnk.analyses.designs.build_design` on the default protocol) and two variants:
a 3+3 starting at the lowest dose and a CRM with the one-parameter logistic model.

Trial histories are drawn by hypothesis and walked forward with each design's own batch
decision, so that every state is one the design can reach: cohorts of 3 at the dose the
design chose, DLTs from a random non-decreasing dose-toxicity curve, the walk ending when
the design stops. A last cohort of 1-3 patients may follow at the chosen dose; its patients
without a DLT may still be inside the DLT window (pending, with follow-up days). Non-TITE
designs see complete histories, except in the test of "wait". Dose indices are 0-based.
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
    PatientData,
    PendingBatch,
    ThreePlusThree,
)
from dartnk.analyses import default_protocol
from dartnk.analyses.designs import build_design

PROTOCOL = default_protocol()
WINDOW = float(PROTOCOL.dlt_window)
COHORT = PROTOCOL.phase1.cohort_size
FIELDS = ("next_dose", "stop", "mtd", "admissible", "rule")


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
    pytest.param(DESIGNS[f"TITE-{name}"], DESIGNS[name], id=f"TITE-{name}")
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


def decide(design: EscalationDesign, histories: list[History]) -> BatchDecision:
    """The design's batch decision for several histories, counted here from the patients.

    Pending patients go to a TITE design with weight min(1, follow-up / window), padded to
    the batch's largest number of pending patients; a non-TITE design gets complete
    histories only. Options a design reads from the order of patients (the CRM's most
    recent cohort) come from its ``_decide_options``, as ``recommend`` passes them.
    """
    doses = design.n_doses
    trials = len(histories)
    n = np.zeros((trials, doses), dtype=np.int64)
    y = np.zeros((trials, doses), dtype=np.int64)
    slots = max(1, *(int(h.pending.sum()) for h in histories))
    level = np.zeros((trials, slots), dtype=np.int64)
    weight = np.zeros((trials, slots))
    options: dict[str, list[np.ndarray]] = {}
    for t, h in enumerate(histories):
        known = ~h.pending
        np.add.at(n[t], h.level[known], 1)
        np.add.at(y[t], h.level[known], h.dlt[known])
        waiting = int(h.pending.sum())
        assert design.window is not None or waiting == 0
        level[t, :waiting] = h.level[h.pending]
        if waiting:
            weight[t, :waiting] = np.minimum(1.0, h.followup[h.pending] / design.window)
        data = PatientData.coerce(h.level, h.dlt, h.followup, doses)
        for key, value in design._decide_options(data, None).items():
            options.setdefault(key, []).append(value)
    pending = None
    if design.window is not None:
        mask = np.arange(slots) < np.array([h.pending.sum() for h in histories])[:, None]
        pending = PendingBatch(level=level, weight=weight, mask=mask)
    current = np.array([h.current for h in histories])
    extra = {key: np.concatenate(values) for key, values in options.items()}
    return design.decide(n, y, current, pending=pending, **extra)


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
    cases = [_seen_by(design, h) for h in data.draw(st.lists(histories(design), max_size=6))]
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
    np.testing.assert_array_equal(np.isnan(batch.next_dose), batch.stop)
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
    drawn = data.draw(st.lists(histories(design), min_size=2, max_size=8))
    cases = [_seen_by(design, h) for h in drawn]
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
        waits = int(batch.rule[t]) in design.wait_rules
        assert one.wait == waits
        assert one.next_dose == (None if waits else _as_int(batch.next_dose[t]))
        assert one.stop == (bool(batch.stop[t]) and not waits)
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
        if not batch.stop[t]:
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
    if int(batch.rule[0]) in design.wait_rules:
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
    if batch.stop[0]:
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


@pytest.mark.parametrize("design", NON_TITE)
@SETTINGS
@given(data=st.data())
def test_non_tite_designs_wait_only_when_pending_outcomes_matter(design, data):
    """With patients inside the DLT window, a non-TITE design waits exactly when the
    decision with every pending patient free of DLT differs from the decision with every
    pending patient a DLT; otherwise it takes that common decision."""
    history = data.draw(histories(design, min_pending=1))
    decision = design.recommend(history.level, history.dlt, history.followup)
    outcomes = []
    for outcome in (0, 1):
        known = history.resolved(outcome)
        resolved = design.recommend(known.level, known.dlt)
        outcomes.append((resolved.next_dose, resolved.mtd, resolved.stop))
    event(f"wait: {decision.wait}")
    assert decision.wait == (outcomes[0] != outcomes[1])
    if decision.wait:
        assert (decision.next_dose, decision.mtd, decision.stop) == (None, None, False)
        assert decision.reasons[0][0] == "pending"
    else:
        assert (decision.next_dose, decision.mtd, decision.stop) == outcomes[0]


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
