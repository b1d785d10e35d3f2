"""Per-patient derivations at a cut-off, against answers worked out by hand.

Hand-made data (tests/_handmade.py): A-001 first infused on study day 7, A-002 on day 9
with a DLT (grade 3 CRS) on day 2, A-003 on day 11 and off study on day 10, B-001 on day
14, B-002 enrolled on day 50 and infused on day 57, C-001 never infused, C-002 on day 28.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _handmade import drop_rows, handmade, set_cell, with_changes

from dartnk.analyses import (
    InputError,
    best_overall_response,
    default_cutoff,
    default_protocol,
    kinetics_summary,
    load_trial,
)
from dartnk.analyses.derive import response_known_day, response_status
from dartnk.analyses.protocol import protocol_from_dict

LOG25 = math.log10(25.0)
LOG50 = math.log10(50.0)


# Best overall response (RECIST 1.1, confirmation 28 days, SD from day 35)


@pytest.mark.parametrize(
    ("days", "codes", "on_study", "best", "awaiting"),
    [
        pytest.param([42, 70], ["PR", "PR"], True, "PR", False, id="PR-then-PR-28-days-later"),
        pytest.param([42, 63], ["PR", "PR"], True, "SD", True, id="PR-then-PR-21-days-later"),
        pytest.param([42, 63], ["PR", "PR"], False, "SD", False, id="unconfirmed-off-study"),
        pytest.param([21, 28], ["PR", "PR"], False, "NE", False, id="unconfirmed-before-sd-min"),
        pytest.param([42, 70], ["CR", "PR"], True, "PR", False, id="CR-then-PR"),
        pytest.param([42, 70], ["CR", "CR"], True, "CR", False, id="CR-confirmed"),
        pytest.param([42, 84], ["PR", "PD"], True, "SD", False, id="PR-then-PD-after-sd-min"),
        pytest.param([28, 56], ["PR", "PD"], True, "PD", False, id="PR-then-PD-before-sd-min"),
        pytest.param([42, 70, 98], ["PR", "PR", "PD"], True, "PR", False, id="confirmed-then-PD"),
        pytest.param([42, 56, 70], ["PR", "NE", "PR"], True, "PR", False, id="NE-in-between"),
        pytest.param([42, 70], ["PR", "SD"], True, "SD", False, id="PR-not-confirmed-by-SD"),
        pytest.param([70, 42], ["PR", "PR"], True, "PR", False, id="any-order"),
        pytest.param([42], ["PR"], True, "SD", True, id="single-PR-awaiting"),
        pytest.param([30], ["PR"], True, "NE", True, id="early-PR-awaiting"),
        pytest.param([42, 70, 98], ["PR", "PR", "CR"], True, "PR", True, id="CR-may-confirm"),
        pytest.param([42], ["SD"], True, "SD", False, id="SD-at-42"),
        pytest.param([28], ["SD"], True, "NE", False, id="SD-before-sd-min"),
        pytest.param([42], ["PD"], True, "PD", False, id="PD"),
        pytest.param([], [], True, "NE", False, id="no-assessment"),
    ],
)
def test_best_overall_response(days, codes, on_study, best, awaiting):
    result = best_overall_response(days, codes, on_study=on_study)
    assert (result.best, result.awaiting_confirmation) == (best, awaiting)


def test_confirmation_interval_comes_from_the_arguments():
    assert best_overall_response([42, 63], ["PR", "PR"], confirmation_days=21).best == "PR"
    assert best_overall_response([14, 28], ["SD", "SD"], sd_min_days=28).best == "SD"


# Kinetics: AUC of log10 copies on [0, 28] by the trapezoid rule


def test_auc_of_a_log_linear_rise_is_exact():
    days = [0, 7, 14, 21, 28]
    copies = [10 ** (2 + t / 7) for t in days]
    e = kinetics_summary(days, copies, [False] * 5)
    # integral of 2 + t/7 over [0, 28] = 56 + 28**2 / 14 = 112
    assert e.auc == pytest.approx(112.0)
    assert (e.cmax, e.tmax, e.last_detectable_day, e.n_blq_used) == (
        pytest.approx(1e6),
        28.0,
        28.0,
        0,
    )


def test_auc_interpolates_at_day_28():
    # log10 copies 2 -> 4 -> 2 at days 0, 14, 42: y(28) = 3;
    # integral = (2 + 4) / 2 * 14 + (4 + 3) / 2 * 14 = 42 + 49 = 91
    e = kinetics_summary([0, 14, 42], [100.0, 1e4, 100.0], [False] * 3)
    assert e.auc == pytest.approx(91.0)
    assert e.last_detectable_day == 42.0


@pytest.mark.parametrize(
    ("policy", "auc", "n_blq"),
    [
        pytest.param("half_lloq", 14 * (LOG25 + 4), 2, id="half_lloq"),
        pytest.param("lloq", 14 * (LOG50 + 4), 2, id="lloq"),
        pytest.param("exclude", math.nan, 0, id="exclude-cannot-reach-28"),
    ],
)
def test_below_lloq_policies(policy, auc, n_blq):
    # BLQ at day 0, 1e4 copies at day 14, BLQ (20 copies) at day 28; LLOQ 50
    e = kinetics_summary(
        [0, 14, 28], [np.nan, 1e4, 20.0], [True, False, True], lloq=50.0, blq_policy=policy
    )
    assert e.n_blq_used == n_blq
    assert e.auc == pytest.approx(auc, nan_ok=True)
    assert (e.cmax, e.tmax, e.last_detectable_day) == (1e4, 14.0, 14.0)


@pytest.mark.parametrize(
    ("policy", "auc"),
    [
        # exclude: curve from day 7: (3 + 4) / 2 * 14 + (4 + 3) / 2 * 7 = 73.5 (y(28) = 3)
        pytest.param("exclude", 73.5, id="exclude-starts-at-first-quantified"),
        pytest.param("half_lloq", 73.5 + 7 * (LOG25 + 3) / 2, id="half_lloq-from-day-0"),
    ],
)
def test_below_lloq_policy_with_a_curve_reaching_day_28(policy, auc):
    e = kinetics_summary(
        [0, 7, 21, 35], [np.nan, 1e3, 1e4, 1e2], [True, False, False, False], blq_policy=policy
    )
    assert e.auc == pytest.approx(auc)


def test_auc_is_nan_when_samples_stop_before_day_28():
    e = kinetics_summary([0, 7, 21], [100.0, 1e3, 1e2], [False] * 3)
    assert math.isnan(e.auc) and e.n_blq_used == 0


def test_linear_auc_bounds_put_below_lloq_samples_at_zero_and_at_the_lloq():
    # BLQ day 0, 1e4 at day 14, BLQ at day 28 (LLOQ 50): low = 14 * 1e4 / 2 * 2 = 140000;
    # high adds 14 * 50 / 2 at each end = 700
    e = kinetics_summary([0, 14, 28], [np.nan, 1e4, 20.0], [True, False, True], lloq=50.0)
    assert (e.auc_copies_low, e.auc_copies_high) == (pytest.approx(1.4e5), pytest.approx(1.407e5))


def test_linear_auc_bounds_interpolate_at_day_28_and_ignore_the_policy():
    # 100 -> 1e4 -> 100 at days 0, 14, 42: copies(28) = 5050 by linear interpolation;
    # integral = (100 + 1e4) / 2 * 14 + (1e4 + 5050) / 2 * 14 = 70700 + 105350
    for policy in ("half_lloq", "lloq", "exclude"):
        e = kinetics_summary([0, 14, 42], [100.0, 1e4, 100.0], [False] * 3, blq_policy=policy)
        assert e.auc_copies_low == e.auc_copies_high == pytest.approx(176050.0)


def test_linear_auc_bounds_of_a_patient_never_quantified():
    e = kinetics_summary([0, 14, 28], [np.nan] * 3, [True] * 3, lloq=50.0)
    assert e.auc_copies_low == 0.0
    assert e.auc_copies_high == pytest.approx(28 * 50.0)


def test_window_cmax_ignores_samples_after_the_auc_window():
    e = kinetics_summary([0, 14, 28, 42], [np.nan, 1e3, 2e2, 5e3], [True, False, False, False])
    assert (e.cmax, e.window_cmax) == (5e3, 1e3)
    never = kinetics_summary([0, 14, 28], [np.nan] * 3, [True] * 3)
    assert math.isnan(never.window_cmax)


def test_linear_auc_bounds_are_nan_when_samples_stop_before_day_28():
    e = kinetics_summary([0, 7, 21], [100.0, 1e3, 1e2], [False] * 3)
    assert math.isnan(e.auc_copies_low) and math.isnan(e.auc_copies_high)


def test_no_quantified_sample():
    e = kinetics_summary([0, 7], [np.nan, 10.0], [True, True])
    assert math.isnan(e.cmax) and math.isnan(e.tmax) and math.isnan(e.last_detectable_day)


# Derivations through load_trial on the hand-made data


def _patient(cutoff, pid, data=None):
    trial = load_trial(data if data is not None else handmade(), cutoff=cutoff)
    return trial.patients.set_index("patient_id").loc[pid]


def test_default_cutoff_is_the_latest_study_day_recorded():
    # first infusion on study day 7 + os_days 100
    assert default_cutoff(load_trial(handmade(), cutoff=0).tables) == 107
    assert load_trial(handmade()).cutoff == 107


@pytest.mark.parametrize(
    ("cutoff", "pid", "status", "followup", "weight"),
    [
        pytest.param(21, "A-001", "pending", 14.0, 0.5, id="14-days-follow-up-weight-half"),
        pytest.param(35, "A-001", "no DLT", 28.0, 1.0, id="window-complete"),
        pytest.param(10, "A-002", "pending", 1.0, 1 / 28, id="DLT-after-cutoff-ignored"),
        pytest.param(11, "A-002", "DLT", 2.0, 1.0, id="DLT-known-on-its-day"),
        pytest.param(15, "A-003", "pending", 4.0, 4 / 28, id="off-study-day-not-yet-reached"),
        pytest.param(21, "A-003", "not evaluable", 10.0, math.nan, id="off-study-at-day-10"),
        pytest.param(107, "C-001", "not evaluable", math.nan, math.nan, id="never-infused"),
        pytest.param(54, "B-002", "pending", 0.0, 0.0, id="awaiting-infusion"),
        pytest.param(107, "B-001", "no DLT", 60.0, 1.0, id="off-study-after-window"),
    ],
)
def test_dlt_status_and_tite_weight(cutoff, pid, status, followup, weight):
    row = _patient(cutoff, pid)
    assert row["dlt_status"] == status
    assert row["followup_days"] == pytest.approx(followup, nan_ok=True)
    assert row["tite_weight"] == pytest.approx(weight, nan_ok=True)


@pytest.mark.parametrize(
    ("reason", "status", "awaiting"),
    [
        pytest.param(None, "pending", True, id="lot-failed-no-failure-recorded-yet"),
        pytest.param("manufacturing failure", "not evaluable", False, id="failure-recorded"),
    ],
)
def test_a_patient_not_infused_awaits_the_product_until_a_failure_is_recorded(
    reason, status, awaiting
):
    data = handmade()
    patients = data["patients"].copy()
    patients.loc[patients["patient_id"] == "C-001", "off_study_reason"] = reason
    data["patients"] = patients
    row = _patient(107, "C-001", data)
    assert (row["dlt_status"], bool(row["awaiting_infusion"])) == (status, awaiting)
    assert row["tite_weight"] == pytest.approx(0.0 if awaiting else math.nan, nan_ok=True)


def test_patients_enrolled_after_the_cutoff_are_not_in_the_trial_yet():
    trial = load_trial(handmade(), cutoff=40)
    assert list(trial.patients["patient_id"]) == [
        "A-001",
        "A-002",
        "A-003",
        "B-001",
        "C-001",
        "C-002",
    ]


def test_dlt_window_follows_the_protocol():
    settings = load_trial(handmade()).protocol.to_dict()
    settings["schedule"]["dlt_window_days"] = 21
    trial = load_trial(handmade(), protocol_from_dict(settings), cutoff=21)
    row = trial.patients.set_index("patient_id").loc["A-001"]
    assert (row["dlt_status"], row["tite_weight"]) == ("pending", pytest.approx(14 / 21))


@pytest.mark.parametrize(
    ("cutoff", "pid", "best", "responder", "awaiting", "evaluable"),
    [
        pytest.param(107, "A-001", "PR", True, False, True, id="confirmed-PR"),
        pytest.param(90, "A-001", "SD", False, True, False, id="second-PR-after-cutoff"),
        pytest.param(107, "C-002", "SD", False, True, False, id="PR-awaiting-confirmation"),
        pytest.param(107, "B-001", "SD", False, False, True, id="SD-then-PD"),
        pytest.param(107, "A-003", "NE", False, False, True, id="off-study-without-assessment"),
        pytest.param(107, "B-002", "NE", False, False, False, id="on-study-not-assessed-yet"),
    ],
)
def test_best_response_at_the_cutoff(cutoff, pid, best, responder, awaiting, evaluable):
    row = _patient(cutoff, pid)
    assert (
        row["best_response"],
        row["responder"],
        row["awaiting_confirmation"],
        row["response_evaluable"],
    ) == (best, responder, awaiting, evaluable)


def test_kinetics_of_a_patient_at_full_follow_up():
    row = _patient(107, "A-001")
    # day 0 BLQ at log10(25); 5000, 2000, 300 copies at days 7, 14, 28
    auc = (
        7 * (LOG25 + math.log10(5000)) / 2
        + 7 * (math.log10(5000) + math.log10(2000)) / 2
        + 14 * (math.log10(2000) + math.log10(300)) / 2
    )
    assert row["auc"] == pytest.approx(auc)
    assert (row["cmax"], row["tmax"], row["last_detectable_day"], row["n_blq_used"]) == (
        5000.0,
        7.0,
        28.0,
        1,
    )


def test_pk_samples_after_the_cutoff_are_ignored():
    row = _patient(21, "A-001")  # study day 21 = day 14 after first infusion
    assert math.isnan(row["auc"])
    assert (row["cmax"], row["last_detectable_day"]) == (5000.0, 14.0)


def test_manufacturing_per_patient():
    trial = load_trial(handmade(), cutoff=54)
    lots = trial.patients.set_index("patient_id")[["lots", "released_lots", "released"]]
    assert lots.loc["C-001"].tolist() == [1, 0, False]
    assert lots.loc["B-002"].tolist() == [1, 0, False]  # released on study day 55
    assert lots.loc["A-001"].tolist() == [1, 1, True]
    no_lot = load_trial(with_changes((drop_rows, "manufacturing", 6)))
    assert no_lot.patients.set_index("patient_id").loc["C-001", "released"] is pd.NA


# The trial object


def test_counts_by_arm_and_dose():
    summary = load_trial(handmade(), cutoff=107).summary()
    assert summary.shape == (15, 10)
    assert list(summary["dose_level"][:5]) == ["DL-1", "DL1", "DL2", "DL3", "DL4"]
    rows = summary.set_index(["construct", "dose_level"])
    counts = rows.loc[[("A", "DL1"), ("B", "DL1"), ("B", "DL2"), ("C", "DL1")]]
    assert counts.to_numpy().tolist() == [
        # patients infused evaluable dlt pending not_evaluable responders response_evaluable
        # SD on study, followed 98 < 126 days: its response is pending)
        [3, 3, 2, 1, 0, 1, 1, 2],
        [1, 1, 1, 0, 0, 0, 0, 1],
        [1, 1, 1, 0, 0, 0, 0, 0],
        [2, 1, 1, 0, 0, 1, 0, 0],
    ]
    assert rows.drop(index=counts.index).to_numpy().sum() == 0


def test_escalation_data_of_an_arm_in_enrolment_order():
    data = load_trial(handmade(), cutoff=21).escalation_data("A")
    # A-003 is off study on day 10 without a DLT: not evaluable, left out
    assert data.patient_ids == ("A-001", "A-002")
    assert data.level.tolist() == [1, 1]
    assert data.dlt.tolist() == [0, 1]
    np.testing.assert_array_equal(data.followup, [14.0, np.nan])
    np.testing.assert_allclose(data.weight, [0.5, 1.0])


def test_escalation_data_is_read_only_and_sorted_by_enrolment():
    data = with_changes((set_cell, "patients", 1, "enrolled_day", 5))
    escalation = load_trial(data, cutoff=21).escalation_data("A")
    assert escalation.patient_ids == ("A-002", "A-001")
    with pytest.raises(ValueError, match="read-only"):
        escalation.level[0] = 0


def test_escalation_data_of_an_unknown_arm():
    with pytest.raises(InputError, match="construct = 'Z'"):
        load_trial(handmade()).escalation_data("Z")


@pytest.mark.parametrize("cutoff", [-1, 2.5, "100", True])
def test_cutoff_must_be_a_study_day(cutoff):
    with pytest.raises(InputError, match="expected a study day"):
        load_trial(handmade(), cutoff=cutoff)


def test_at_cutoff_rederives_without_reloading():
    trial = load_trial(handmade())
    earlier = trial.at_cutoff(21)
    assert earlier.cutoff == 21 and trial.cutoff == 107
    assert earlier.patients.set_index("patient_id").loc["A-001", "tite_weight"] == 0.5


def test_repr_and_html_come_from_the_summary():
    trial = load_trial(handmade())
    text = repr(trial)
    assert text.splitlines()[0] == (
        "TrialData(DART-NK-SCLC, cut-off study day 107: 7 patients, 6 infused, 0 warnings)"
    )
    assert text.splitlines()[1].split()[:3] == ["construct", "dose_level", "patients"]
    html = trial._repr_html_()
    assert html.startswith("<p>TrialData(DART-NK-SCLC") and "<table" in html


ASSESSMENTS = default_protocol().assessments


@pytest.mark.parametrize(
    ("days", "codes", "followed", "off", "status", "known_day"),
    [
        pytest.param([42], ["SD"], 60, False, "pending", math.nan, id="SD-at-42-before-PR"),
        pytest.param([42, 84], ["SD", "PR"], 100, False, "pending", math.nan, id="PR-unconfirmed"),
        pytest.param(
            [42, 84, 126], ["SD", "PR", "PR"], 130, False, "responder", 126.0, id="PR-late"
        ),
        pytest.param([42, 84], ["SD", "SD"], 126, False, "non-responder", 126.0, id="window-over"),
        pytest.param(
            [42, 84, 126],
            ["SD", "SD", "PR"],
            130,
            False,
            "pending",
            math.nan,
            id="window-over-but-PR-awaits-confirmation",
        ),
        pytest.param([42], ["PD"], 50, False, "non-responder", 42.0, id="progressed"),
        pytest.param([42], ["SD"], 50, True, "non-responder", 50.0, id="off-study-at-50"),
    ],
)
def test_a_response_is_pending_until_known(days, codes, followed, off, status, known_day):
    """On study without a confirmed response or progression, and followed for less than
    the response window of 126 days (three assessments), the response is pending; a
    responder whose PR follows SD at day 42 is not counted a non-responder meanwhile."""
    got, _ = response_status(days, codes, followed=followed, off_study=off, settings=ASSESSMENTS)
    assert got == status
    day = response_known_day(
        np.array(days, float),
        np.array(codes, object),
        followed=followed,
        off_day=followed if off else math.nan,
        settings=ASSESSMENTS,
    )
    assert day == pytest.approx(known_day, nan_ok=True)


def test_the_response_window_comes_from_the_protocol():
    data = default_protocol().to_dict()
    data["assessments"]["response_window_days"] = 84
    short = protocol_from_dict(data).assessments
    got, _ = response_status([42, 84], ["SD", "SD"], followed=84, off_study=False, settings=short)
    assert got == "non-responder"
