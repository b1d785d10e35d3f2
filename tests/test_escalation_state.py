"""The one escalation state: pending patients, no MTD before complete follow-up, the TITE
escalation restriction, and the same state in recommend, pathways and the example cut."""

import numpy as np
import pytest

from dartnk.adaptive import BOIN, EscalationState, PendingBatch, ThreePlusThree
from dartnk.adaptive.pathways import dose_transition_pathways
from dartnk.analyses import build_design, default_protocol, example_data, load_trial, recommend
from dartnk.analyses.protocol import protocol_from_dict

PROTOCOL = default_protocol()
LABELS = PROTOCOL.dose_labels


def _unrestricted():
    data = PROTOCOL.to_dict()
    data["phase1"]["tite_escalate_after_complete"] = None
    return protocol_from_dict(data)


def test_the_3_plus_3_waits_for_the_sixth_patient_before_declaring_the_mtd():
    # DL1 0/3, DL2 0/3, DL3 2/3, then three more at DL2, the sixth 3 days into the window.
    design = ThreePlusThree(5, start=1, labels=LABELS)
    level = [1, 1, 1, 2, 2, 2, 3, 3, 3, 2, 2, 2]
    dlt = [0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    waiting = design.recommend(level, dlt, [None] * 11 + [3])
    assert waiting.action == "wait" and waiting.mtd is None and not waiting.stop
    assert waiting.reasons[0][0] == "await follow-up"
    done = design.recommend(level, dlt)
    assert done.action == "stop (MTD DL2)"


def test_boin_without_a_window_waits_at_its_sample_size_with_a_patient_pending():
    design = BOIN(0.3, n_doses=5, start=1, max_n=9, labels=LABELS)
    level, dlt = [1, 1, 1, 2, 2, 2, 2, 2, 2], [0] * 9
    assert design.recommend(level, dlt).stop
    waiting = design.recommend(level, dlt, [None] * 8 + [10])
    assert waiting.wait and not waiting.stop and waiting.mtd is None


@pytest.mark.parametrize("name", ["TITE-CRM", "TITE-BLRM", "TITE-BOIN"])
def test_tite_designs_wait_at_their_sample_size_with_a_patient_pending(name):
    design = build_design(PROTOCOL, name)
    level = [1] * 3 + [2] * 3 + [3] * 6 + [4] * 6
    dlt = [0] * 17 + [0]
    complete = design.recommend(level, dlt)
    assert complete.stop
    waiting = design.recommend(level, dlt, [None] * 17 + [20])
    assert waiting.wait and not waiting.stop and waiting.mtd is None
    assert waiting.reasons[0][0] == "await follow-up"


def test_a_stop_waits_in_the_batch_whenever_a_patient_is_pending():
    design = ThreePlusThree(5, start=1)
    n = np.array([[0, 3, 6, 3, 0]] * 2)
    y = np.array([[0, 0, 0, 2, 0]] * 2)
    pending = PendingBatch(
        level=np.array([[0], [0]]),
        weight=np.array([[0.0], [0.5]]),
        mask=np.array([[False], [True]]),
    )
    batch = design.decide(EscalationState.of(n, y, np.array([2, 2]), pending=pending))
    assert batch.stop.tolist() == [True, False]
    assert batch.wait.tolist() == [False, True]
    assert batch.mtd[0] == 2 and np.isnan(batch.mtd[1])


@pytest.fixture(scope="session")
def example():
    return load_trial(example_data())


def test_arm_c_of_the_example_waits_for_its_pending_and_awaiting_patients(example):
    # Arm C, DL3: one patient with complete follow-up, one inside the window and one
    # enrolled but awaiting the product (pending with weight 0).
    data = example.escalation_data("C")
    at_dl3 = data.level == PROTOCOL.dose_index("DL3")
    assert at_dl3.sum() == 3
    np.testing.assert_array_equal(np.sort(data.followup[at_dl3]), [0.0, 25.0, np.nan])
    decision = recommend(example, ["3+3"], arms=["C"]).decision("C", "3+3")
    assert decision.action == "wait"
    assert decision.pending_at_dose[PROTOCOL.dose_index("DL3")] == 2
    assert decision.n_at_dose[PROTOCOL.dose_index("DL3")] == 1
    text = " ".join(message for _, message in decision.reasons)
    assert "2 patients inside the DLT window" in text and "no follow-up yet" in text
    assert "completed patient" not in text


def test_reasons_never_count_pending_patients_as_completed():
    # One patient with a known outcome and one pending at DL3: the cohort is completed
    # whatever the pending outcome; the reason names the pending patient.
    design = ThreePlusThree(5, start=1, labels=LABELS)
    decision = design.recommend([1, 1, 1, 2, 2, 2, 3, 3], [0] * 8, [None] * 7 + [5])
    assert decision.next_dose == 3
    rule, message = decision.reasons[0]
    assert rule == "pending" and "1 patient inside the DLT window" in message
    assert "pending, counted without a DLT" in decision.reasons[1][1]


def _walk(design, days: int):
    """One patient a day at the recommended dose, none with a DLT, none followed to the
    end of the 28-day window: the doses given."""
    level: list[int] = []
    enrolled: list[int] = []
    for day in range(days):
        if level:
            decision = design.recommend(level, [0] * len(level), [float(day - e) for e in enrolled])
            if decision.next_dose is None:
                continue
            dose = decision.next_dose
        else:
            dose = design.start
        level.append(dose)
        enrolled.append(day)
    return level


@pytest.mark.parametrize("name", ["TITE-CRM", "TITE-BOIN", "TITE-BLRM"])
def test_tite_designs_of_the_protocol_do_not_escalate_before_anyone_completes_the_window(name):
    restricted = _walk(build_design(PROTOCOL, name), 27)
    assert max(restricted) == PROTOCOL.start_index


def test_without_the_restriction_tite_crm_escalates_on_partial_follow_up():
    unrestricted = _walk(build_design(_unrestricted(), "TITE-CRM"), 7)
    assert max(unrestricted) == PROTOCOL.dose_index("DL4")


def test_escalate_after_complete_needs_a_window():
    with pytest.raises(ValueError, match="TITE designs"):
        BOIN(0.3, n_doses=5, escalate_after_complete=3)


@pytest.mark.parametrize("name", ["3+3", "BOIN", "CRM", "TITE-CRM", "BLRM"])
def test_pathways_and_recommend_read_the_same_state(example, name):
    design = build_design(PROTOCOL, name)
    data = example.escalation_data("C")
    decision = design.recommend(data.level, data.dlt, data.followup)
    tree = dose_transition_pathways(design, data.level, data.dlt, data.followup, cohorts=1)
    root = tree.nodes.iloc[0]
    if decision.wait:
        assert root["decision"] == "wait for follow-up"
        resolved = tree.nodes[tree.nodes["cohort"] == 1]
        assert resolved["path"].str.startswith("pending DL3").all()
        assert len(resolved) == 3
    else:
        assert root["next_dose"] == LABELS[decision.next_dose]


def test_pending_resolution_in_pathways_matches_the_design_on_complete_data(example):
    design = build_design(PROTOCOL, "3+3")
    data = example.escalation_data("C")
    tree = dose_transition_pathways(design, data.level, data.dlt, data.followup, cohorts=1)
    resolved = tree.nodes[tree.nodes["cohort"] == 1].set_index("path")["decision"]
    pending = np.isfinite(data.followup)
    for k, expected in ((0, "escalate to DL4"), (2, "de-escalate to DL2")):
        dlt = data.dlt.copy()
        dlt[np.flatnonzero(pending)[:k]] = 1
        assert design.recommend(data.level, dlt).next_dose is not None
        assert resolved[f"pending DL3 {k}/2"] == expected
