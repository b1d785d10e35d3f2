"""BOIN and TITE-BOIN: published boundaries, rules, MTD selection, operating characteristics."""

import numpy as np
import pandas as pd
import pytest
from _reference import PUBLISHED
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dartnk.adaptive import BOIN, EscalationState, PendingBatch

LABELS = ["DL-1", "DL1", "DL2", "DL3", "DL4"]
NAN = float("nan")


def _decide(design, n, y, current, pending=None):
    d = design.decide(
        EscalationState.of(np.array([n]), np.array([y]), np.array([current]), pending=pending)
    )
    return d.next_dose[0], bool(d.stop[0]), d.mtd[0], design.rules[int(d.rule[0])][0]


# ---------------------------------------------------------------- published boundaries


@pytest.mark.parametrize(
    "table", PUBLISHED["boin_boundaries"], ids=lambda t: f"target{t['target']}"
)
def test_lambdas_match_published(table):
    design = BOIN(table["target"], n_doses=3, p_saf=table["p_saf"], p_tox=table["p_tox"])
    assert design.lambda_e == pytest.approx(table["lambda_e"], abs=1e-6)
    assert design.lambda_d == pytest.approx(table["lambda_d"], abs=1e-6)


def _boundary_rows():
    for table in PUBLISHED["boin_boundaries"]:
        for i, n in enumerate(table["n"]):
            expected = (
                n,
                table["escalate_if_le"][i],
                table["deescalate_if_ge"][i],
                table["eliminate_if_ge"][i],
            )
            yield pytest.param(
                table["target"],
                table["ncohort"] * table["cohortsize"],
                expected,
                id=f"target{table['target']}-n{n}",
            )


@pytest.mark.parametrize(("target", "max_n", "expected"), list(_boundary_rows()))
def test_boundaries_match_published(target, max_n, expected):
    table = BOIN(target, n_doses=3).boundaries(max_n)
    assert len(table) == max_n
    row = table.iloc[expected[0] - 1]
    assert (row["n"], row["escalate_if_le"], row["deescalate_if_ge"]) == expected[:3]
    if expected[3] is None:
        assert pd.isna(row["eliminate_if_ge"])
    else:
        assert row["eliminate_if_ge"] == expected[3]


def test_boundaries_are_nullable_integers():
    table = BOIN(0.3, n_doses=3, max_n=12).boundaries()
    assert list(table.columns) == ["n", "escalate_if_le", "deescalate_if_ge", "eliminate_if_ge"]
    assert all(str(t) == "Int64" for t in table.dtypes)


def test_extra_safe_stopping_boundary():
    # P(p > 0.3 | Beta(y + 1, n - y + 1)) = P(Bin(n + 1, 0.3) <= y):
    # n = 3: y = 1 gives 0.652, y = 2 gives 0.916 > 0.95 - 0.05, so stop at 2;
    # n = 4: y = 2 gives 0.837, y = 3 gives 0.969, so stop at 3.
    table = BOIN(0.3, n_doses=3, extra_safe=True).boundaries(4)
    assert table["stop_if_ge"].tolist()[2:] == [2, 3]
    assert table["stop_if_ge"].isna().tolist()[:2] == [True, True]


def test_boundaries_need_a_size():
    with pytest.raises(ValueError, match="max_n"):
        BOIN(0.3, n_doses=3).boundaries()


# ---------------------------------------------------------------- design object


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": 1.2}, "target 1.2 is not a probability"),
        ({"target": 0.7}, "outside 0.05-0.6"),
        ({"target": 0.3, "p_saf": 0.29}, "p_saf 0.29 is too close"),
        ({"target": 0.3, "p_tox": 0.31}, "p_tox 0.31 is too close"),
        ({"target": 0.3, "cutoff_eliminate": 1.5}, "cutoff_eliminate 1.5 is not a probability"),
        ({"target": 0.3, "offset": 0.5}, "offset"),
        ({"target": 0.3, "n_doses": 0}, "n_doses 0 must be a positive whole number"),
        ({"target": 0.3, "cohort_size": 2.5}, "cohort_size"),
        ({"target": 0.3, "start": 5}, "start dose 5 is outside"),
        ({"target": 0.3, "window": -28}, "window"),
        ({"target": 0.3, "max_n": 0}, "max_n"),
        ({"target": 0.3, "n_earlystop": -1}, "n_earlystop"),
        ({"target": 0.3, "labels": ["a", "b"]}, "2 labels given for 5 doses"),
        ({"target": 0.3, "suspend_pending": 0}, "suspend_pending"),
    ],
)
def test_bad_designs_are_rejected(kwargs, message):
    kwargs = {"n_doses": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        BOIN(kwargs.pop("target"), **kwargs)


def test_design_is_immutable_and_comparable():
    design = BOIN(0.3, n_doses=5)
    with pytest.raises(AttributeError, match="immutable"):
        design.target = 0.25
    assert design == BOIN(0.3, n_doses=5)
    assert hash(design) == hash(BOIN(0.3, n_doses=5))
    assert design != BOIN(0.3, n_doses=5, window=28)


def test_repr_names_the_design_and_its_numbers():
    text = repr(BOIN(0.3, n_doses=5, start=1, labels=LABELS, max_n=18, window=28))
    assert text.startswith("TITE-BOIN(target=0.3, n_doses=5")
    assert "lambda_e=0.2365" in text and "lambda_d=0.3585" in text
    assert "start=DL1" in text and "max_n=18" in text and "window=28" in text


# ---------------------------------------------------------------- rules, one at a time

PLAIN = BOIN(0.3, n_doses=5)
SAFE = BOIN(0.3, n_doses=5, extra_safe=True)
CAPPED = BOIN(0.3, n_doses=5, max_n=12, n_earlystop=9)


@pytest.mark.parametrize(
    ("design", "n", "y", "current", "expected"),
    [
        # target 0.3, n = 3: escalate with 0 DLTs, de-escalate with >= 2, eliminate at 3
        (PLAIN, [3, 0, 0, 0, 0], [0, 0, 0, 0, 0], 0, (1, False, NAN, "escalate")),
        (PLAIN, [3, 3, 0, 0, 0], [0, 1, 0, 0, 0], 1, (1, False, NAN, "stay")),
        (PLAIN, [3, 3, 0, 0, 0], [0, 2, 0, 0, 0], 1, (0, False, NAN, "de-escalate")),
        (PLAIN, [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], 2, (2, False, NAN, "start")),
        # 3/3: P(p > 0.3 | Beta(4, 1)) = 1 - 0.3^4 = 0.992 > 0.95: DL2 and above go
        (
            PLAIN,
            [3, 3, 3, 0, 0],
            [0, 0, 3, 0, 0],
            2,
            (1, False, NAN, "de-escalate: dose eliminated"),
        ),
        (PLAIN, [3, 3, 3, 0, 0], [0, 0, 3, 0, 0], 1, (1, False, NAN, "stay: next dose eliminated")),
        (PLAIN, [3, 3, 3, 3, 3], [0, 0, 0, 0, 0], 4, (4, False, NAN, "stay: highest dose")),
        (PLAIN, [3, 0, 0, 0, 0], [2, 0, 0, 0, 0], 0, (0, False, NAN, "stay: lowest dose")),
        (
            PLAIN,
            [3, 0, 0, 0, 0],
            [3, 0, 0, 0, 0],
            0,
            (NAN, True, NAN, "stop: lowest dose too toxic"),
        ),
        # extra safe: 2/3 gives 0.916 > 0.95 - 0.05 at the lowest dose
        (SAFE, [3, 0, 0, 0, 0], [2, 0, 0, 0, 0], 0, (NAN, True, NAN, "stop: extra safety")),
        (SAFE, [3, 0, 0, 0, 0], [1, 0, 0, 0, 0], 0, (0, False, NAN, "stay")),
        # 12 patients in all: stop; smoothed rates 0.016, 0.016, 0.016, 0.339 do not
        # decrease, and DL3 (0.039 from 0.3) is the closest
        (CAPPED, [3, 3, 3, 3, 0], [0, 0, 0, 1, 0], 3, (NAN, True, 3, "stop: sample size reached")),
        # 9 at DL1 with 3 DLTs (above 2, below 4): stay, so stop; DL1, the only dose tried
        (
            CAPPED,
            [0, 9, 0, 0, 0],
            [0, 3, 0, 0, 0],
            1,
            (NAN, True, 1, "stop: enough patients at the dose"),
        ),
        # 9 at DL1 with 0 DLTs escalates, so n_earlystop does not stop the trial
        (CAPPED, [0, 9, 0, 0, 0], [0, 0, 0, 0, 0], 1, (2, False, NAN, "escalate")),
    ],
)
def test_rules(design, n, y, current, expected):
    next_dose, stop, mtd, rule = _decide(design, n, y, current)
    assert (stop, rule) == (expected[1], expected[3])
    np.testing.assert_equal(next_dose, expected[0])
    np.testing.assert_equal(mtd, expected[2])


def test_eliminated_doses_are_not_admissible():
    decision = PLAIN.decide(
        EscalationState.of(np.array([[3, 3, 3, 0, 0]]), np.array([[0, 0, 3, 0, 0]]), np.array([2]))
    )
    assert decision.admissible.tolist() == [[True, True, False, False, False]]


@pytest.mark.parametrize(
    ("n", "y", "current", "message"),
    [
        ([[3, 0]], [[0, 0]], [0], "2 doses, the design 5"),
        ([[3, 0, 0, 0, 0]], [[4, 0, 0, 0, 0]], [0], "DLTs <= patients"),
        ([[3, 0, 0, 0, 0]], [[0, 0, 0, 0, 0]], [5], "current"),
    ],
)
def test_bad_batches_are_rejected(n, y, current, message):
    with pytest.raises(ValueError, match=message):
        PLAIN.decide(EscalationState.of(np.array(n), np.array(y), np.array(current)))


# ---------------------------------------------------------------- select_mtd by hand
# Smoothed rate r = (y + 0.05) / (n + 0.1); weight w = (n + 0.1)^2 (n + 1.1) / ((y + 0.05)
# (n - y + 0.05)). For n = 3: r(0) = 0.0161, w(0) = 39.401 / 0.1525 = 258.37;
# r(1) = 0.3387 and r(2) = 0.6613, both with w = 39.401 / 2.1525 = 18.305.
# P(p > t | y, n) under Beta(1, 1) is P(Bin(n + 1, t) <= y).


@pytest.mark.parametrize(
    ("target", "n", "y", "extra_safe", "expected"),
    [
        # BOIN's documented example: r = 0.016, 0.016, 0.268, 0.445 already rise; 4/9 has
        # P(p > 0.3) = P(Bin(10, 0.3) <= 4) = 0.850, kept; DL2 (0.032 away) is the MTD
        (0.3, [3, 3, 15, 9, 0], [0, 0, 4, 4, 0], False, 2),
        # 1/3, 0/3, 0/3: 0.339 > 0.016 pools to (18.305 x 0.3387 + 258.37 x 0.0161) / 276.68
        # = 0.0375, then with the third to 0.0272; one estimate below 0.3: the highest wins
        (0.3, [3, 3, 3], [1, 0, 0], False, 2),
        # 0/3, 2/3, 1/3: 0.661 > 0.339 pool with equal weights to 0.5, above 0.3 and 0.2
        # away (DL0 is 0.284 away): the lowest of the pooled doses wins
        (0.3, [3, 3, 3], [0, 2, 1], False, 1),
        # 0/3, 2/3, 0/3: 0.661 and 0.016 pool to (18.305 x 0.6613 + 258.37 x 0.0161) / 276.68
        # = 0.0588, below 0.3: the highest. (Pooling y/n with weights n would give 1/3,
        # above 0.3, and DL1: BOIN's weights decide.)
        (0.3, [3, 3, 3], [0, 2, 0], False, 2),
        # untried DL1 is skipped: 0.016 and 0.339, and DL2 is 0.039 away
        (0.3, [3, 0, 3], [0, 0, 1], False, 2),
        # 10/20 at DL1: P(p > 0.3) = P(Bin(21, 0.3) <= 10) = 0.974 > 0.95, eliminated,
        # though its 10.05 / 20.1 = 0.5 is nearer 0.3 than DL0's 0.0082: DL0
        (0.3, [6, 20], [0, 10], False, 0),
        # 9/20: P(Bin(21, 0.3) <= 9) = 0.932, kept, and 9.05 / 20.1 = 0.450 is nearest
        (0.3, [6, 20], [0, 9], False, 1),
        # the lowest dose eliminated (3/3: 0.992): no MTD
        (0.3, [3, 3], [3, 0], False, None),
        # extra safe: 2/3 at the lowest has 0.916 > 0.90: no MTD; without it, 0.661 and
        # 0.016 pool to 0.0588 < 0.3 and the higher dose is chosen
        (0.3, [3, 3], [2, 0], True, None),
        (0.3, [3, 3], [2, 0], False, 1),
        # nobody treated
        (0.25, [0, 0, 0], [0, 0, 0], False, None),
        # 0/6 at DL0 and DL1: equal rates 0.0082, no pooling; the tie break picks the higher
        (0.25, [6, 6, 0], [0, 0, 0], False, 1),
    ],
)
def test_select_mtd_by_hand(target, n, y, extra_safe, expected):
    design = BOIN(target, n_doses=len(n), extra_safe=extra_safe)
    assert design.select_mtd(n, y) == expected
    batch = design.select_mtd_batch(np.array([n]), np.array([y]))[0]
    assert (None if np.isnan(batch) else int(batch)) == expected


# ---------------------------------------------------------------- operating characteristics


def _simulate(design, p, trials, seed):
    """A whole BOIN trial per row: cohorts at the decided dose, vectorised over trials."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    n = np.zeros((trials, design.n_doses), dtype=np.int64)
    y = np.zeros_like(n)
    cur = np.full(trials, design.start)
    mtd = np.full(trials, np.nan)
    active = np.arange(trials)
    while active.size:
        decision = design.decide(EscalationState.of(n[active], y[active], cur[active]))
        mtd[active[decision.stop]] = decision.mtd[decision.stop]
        active = active[~decision.stop]
        dose = decision.next_dose[~decision.stop].astype(np.int64)
        dlt = rng.random((active.size, design.cohort_size)) < p[dose][:, None]
        n[active, dose] += design.cohort_size
        y[active, dose] += dlt.sum(axis=1)
        cur[active] = dose
    return n, y, mtd


@pytest.fixture(scope="session")
def boin_oc():
    ref = PUBLISHED["boin_oc"]
    design = BOIN(
        ref["target"],
        n_doses=len(ref["p_true"]),
        cohort_size=ref["cohortsize"],
        cutoff_eliminate=ref["cutoff_eli"],
        extra_safe=ref["extrasafe"],
        start=ref["start_dose_1based"] - 1,
        max_n=ref["ncohort"] * ref["cohortsize"],
        n_earlystop=ref["n_earlystop"],
    )
    trials = 40_000
    n, y, mtd = _simulate(design, np.array(ref["p_true"]), trials, seed=20260101)
    return ref, n, y, mtd, trials


@pytest.mark.parametrize("dose", range(5))
def test_selection_matches_published_get_oc(boin_oc, dose):
    ref, _, _, mtd, trials = boin_oc
    p = ref["selection_percent"][dose] / 100
    se = np.sqrt(p * (1 - p) * (1 / trials + 1 / ref["ntrial"]))
    assert abs(np.mean(mtd == dose) - p) <= 4 * se


@pytest.mark.parametrize("dose", range(5))
def test_patients_per_dose_match_published_get_oc(boin_oc, dose):
    ref, n, _, _, trials = boin_oc
    se = n[:, dose].std() * np.sqrt(1 / trials + 1 / ref["ntrial"])
    assert abs(n[:, dose].mean() - ref["mean_patients_per_dose"][dose]) <= 4 * se


def test_totals_match_published_get_oc(boin_oc):
    ref, n, y, _, trials = boin_oc
    scale = np.sqrt(1 / trials + 1 / ref["ntrial"])
    assert abs(y.sum(axis=1).mean() - ref["mean_total_dlt"]) <= 4 * y.sum(axis=1).std() * scale
    assert abs(n.sum(axis=1).mean() - ref["mean_total_n"]) <= 4 * n.sum(axis=1).std() * scale + 1e-3


# ---------------------------------------------------------------- reasons and summary


def test_reasons_carry_the_numbers():
    design = BOIN(0.3, n_doses=5, start=1, labels=LABELS)
    decision = design.recommend([1, 1, 1, 2, 2, 2], [0, 0, 0, 1, 1, 0])
    assert decision.next_dose == 1
    assert decision.reasons == (
        (
            "de-escalate",
            "observed DLT rate 2/3 = 0.67 at DL2 >= lambda_d 0.359 (de-escalate with at least "
            "2 DLT in 3): de-escalate to DL1",
        ),
    )


def test_elimination_is_reported():
    design = BOIN(0.3, n_doses=5, start=1, labels=LABELS)
    decision = design.recommend([1, 1, 1, 2, 2, 2], [0, 0, 0, 1, 1, 1])
    assert decision.reasons[0] == (
        "eliminate",
        "P(DLT rate at DL2 > 0.3 | 3/3) = 0.992 > 0.95: DL2 and every higher dose eliminated",
    )
    assert decision.admissible.tolist() == [True, True, False, False, False]


def test_summary_has_the_estimates():
    design = BOIN(0.3, n_doses=3)
    table = design.recommend([0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 0, 0]).summary()
    assert list(table.columns) == [
        "dose",
        "n",
        "dlt",
        "pending",
        "admissible",
        "observed_rate",
        "isotonic_estimate",
        "prob_over_target",
    ]
    # 0/3 and 1/3 rise (0.016, 0.339); P(p > 0.3 | 1/3) = P(Bin(4, 0.3) <= 1) = 0.6517
    np.testing.assert_allclose(table["isotonic_estimate"][:2], [0.05 / 3.1, 1.05 / 3.1])
    assert table["prob_over_target"][1] == pytest.approx(0.7**4 + 4 * 0.3 * 0.7**3)
    assert np.isnan(table["observed_rate"][2])


def test_non_tite_boin_waits_when_pending_patients_could_change_the_decision():
    design = BOIN(0.3, n_doses=5, start=1, labels=LABELS)
    decision = design.recommend([1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 0, 0], [None] * 4 + [10, 12])
    assert decision.wait and decision.next_dose is None


# ---------------------------------------------------------------- TITE-BOIN
# Yuan et al. (2018), Table 1 (target 0.2) and supplementary Table S1 (target 0.3): each
# row is n treated at the current dose, DLTs y_lo..y_hi, pending m_lo..m_hi ("+" up to
# what n allows), the decision, and for E/S or S/D the STFT boundary: escalate when
# STFT >= the boundary, de-escalate when STFT <= it. Published to 2 decimals.

_YUAN_2018 = {
    0.2: """
    3 0 0 0 1 E; 3 0 0 2 + SUS; 3 1 1 0 2 D; 3 2 + 0 1 DE;
    6 0 0 0 3 E; 6 0 0 4 + SUS; 6 1 1 0 3 S; 6 1 1 4 + SUS; 6 2 2 0 4 D; 6 3 + 0 3 DE;
    9 0 0 0 4 E; 9 0 0 5 + SUS; 9 1 1 0 2 E; 9 1 1 3 3 ES 0.77; 9 1 1 4 4 ES 2.15;
    9 1 1 5 + SUS; 9 2 2 0 0 S; 9 2 2 1 1 SD 0.52; 9 2 2 2 2 SD 1.59; 9 2 2 3 3 SD 2.66;
    9 2 2 4 4 SD 3.73; 9 2 2 5 + SUS; 9 3 3 0 6 D; 9 4 + 0 5 DE;
    12 0 0 0 6 E; 12 0 0 7 + SUS; 12 1 1 0 5 E; 12 1 1 6 6 ES 1.24; 12 1 1 7 + SUS;
    12 2 2 0 6 S; 12 2 2 7 + SUS; 12 3 4 0 9 D; 12 5 + 0 7 DE;
    15 0 0 0 7 E; 15 0 0 8 + SUS; 15 1 1 0 7 E; 15 1 1 8 + SUS; 15 2 2 0 2 E;
    15 2 2 3 3 ES 1.14; 15 2 2 4 4 ES 2.31; 15 2 2 5 5 ES 3.48; 15 2 2 6 6 ES 4.65;
    15 2 2 7 7 ES 5.82; 15 2 2 8 + SUS; 15 3 3 0 2 S; 15 3 3 3 3 SD 1.16; 15 3 3 4 4 SD 2.34;
    15 3 3 5 5 SD 3.53; 15 3 3 6 6 SD 4.72; 15 3 3 7 7 SD 5.90; 15 3 3 8 + SUS;
    15 4 5 0 11 D; 15 6 + 0 9 DE
    """,
    0.3: """
    3 0 0 0 1 E; 3 0 0 2 + SUS; 3 1 1 0 0 S; 3 1 1 1 1 SD 0.88; 3 1 1 2 + SUS; 3 2 2 0 1 D;
    3 3 3 0 0 DE;
    6 0 0 0 3 E; 6 0 0 4 + SUS; 6 1 1 0 1 E; 6 1 1 2 2 ES 0.60; 6 1 1 3 3 ES 1.96;
    6 1 1 4 + SUS; 6 2 2 0 0 S; 6 2 2 1 1 SD 0.73; 6 2 2 2 2 SD 1.80; 6 2 2 3 3 SD 2.87;
    6 2 2 4 + SUS; 6 3 3 0 3 D; 6 4 + 0 2 DE;
    9 0 0 0 4 E; 9 0 0 5 + SUS; 9 1 1 0 4 E; 9 1 1 5 + SUS; 9 2 2 0 0 E; 9 2 2 1 1 ES 0.59;
    9 2 2 2 2 ES 1.65; 9 2 2 3 3 ES 2.71; 9 2 2 4 4 ES 3.77; 9 2 2 5 + SUS; 9 3 3 0 0 S;
    9 3 3 1 1 SD 0.58; 9 3 3 2 2 SD 1.65; 9 3 3 3 3 SD 2.72; 9 3 3 4 4 SD 3.79;
    9 3 3 5 + SUS; 9 4 4 0 5 D; 9 5 + 0 4 DE;
    12 0 0 0 6 E; 12 0 0 7 + SUS; 12 1 1 0 6 E; 12 1 1 7 + SUS; 12 2 2 0 3 E;
    12 2 2 4 4 ES 1.33; 12 2 2 5 5 ES 2.72; 12 2 2 6 6 ES 4.11; 12 2 2 7 + SUS;
    12 3 3 0 6 S; 12 3 3 7 + SUS; 12 4 4 0 0 S; 12 4 4 1 1 SD 0.43; 12 4 4 2 2 SD 1.50;
    12 4 4 3 3 SD 2.57; 12 4 4 4 4 SD 3.65; 12 4 4 5 5 SD 4.72; 12 4 4 6 6 SD 5.79;
    12 4 4 7 + SUS; 12 5 6 0 7 D; 12 7 + 0 5 DE;
    15 0 0 0 7 E; 15 0 0 8 + SUS; 15 1 1 0 7 E; 15 1 1 8 + SUS; 15 2 2 0 5 E;
    15 2 2 6 6 ES 0.35; 15 2 2 7 7 ES 2.07; 15 2 2 8 + SUS; 15 3 3 0 1 E;
    15 3 3 2 2 ES 0.11; 15 3 3 3 3 ES 1.29; 15 3 3 4 4 ES 2.46; 15 3 3 5 5 ES 3.64;
    15 3 3 6 6 ES 4.81; 15 3 3 7 7 ES 5.98; 15 3 3 8 + SUS; 15 4 4 0 7 S; 15 4 4 8 + SUS;
    15 5 5 0 0 S; 15 5 5 1 1 SD 0.28; 15 5 5 2 2 SD 1.35; 15 5 5 3 3 SD 2.42;
    15 5 5 4 4 SD 3.50; 15 5 5 5 5 SD 4.57; 15 5 5 6 6 SD 5.64; 15 5 5 7 7 SD 6.72;
    15 5 5 8 + SUS; 15 6 7 0 9 D; 15 8 + 0 7 DE
    """,
}


def _published_rows():
    for target, text in _YUAN_2018.items():
        for item in text.split(";"):
            fields = item.split()
            n, y_lo, y_hi, m_lo, m_hi, decision = fields[:6]
            bound = float(fields[6]) if len(fields) == 7 else None
            row = (int(n), int(y_lo), y_hi, int(m_lo), m_hi, decision, bound)
            yield pytest.param(target, row, id=f"t{target}-{'-'.join(fields)}")


def _states(row):
    n, y_lo, y_hi, m_lo, m_hi, _, _ = row
    top = n if y_hi == "+" else int(y_hi)
    return [
        (y, m)
        for y in range(y_lo, top + 1)
        for m in range(m_lo, (n - y if m_hi == "+" else min(int(m_hi), n - y)) + 1)
    ]


@pytest.mark.parametrize("target", sorted(_YUAN_2018))
def test_published_tite_rows_cover_every_state_once(target):
    rows = [p.values[1] for p in _published_rows() if p.values[0] == target]
    covered = [(row[0], *state) for row in rows for state in _states(row)]
    expected = [
        (n, y, m) for n in (3, 6, 9, 12, 15) for y in range(n + 1) for m in range(n - y + 1)
    ]
    assert sorted(covered) == sorted(expected)


_EXPECTED_NEXT = {"E": 3, "S": 2, "D": 1, "DE": 1, "SUS": np.nan}


@pytest.mark.parametrize(("target", "row"), list(_published_rows()))
def test_tite_boin_reproduces_yuan_2018_tables(target, row):
    design = BOIN(target, n_doses=5, window=90)
    n, decision, bound = row[0], row[5], row[6]
    cases = []
    for y, m in _states(row):
        if bound is None:
            follow = [0.0] if m == 0 else [0.0, m / 2, m - 1e-6]
            cases += [(y, m, s, decision) for s in follow]
        elif decision == "ES":
            cases += [(y, m, bound + 0.01, "E"), (y, m, bound - 0.01, "S")]
        else:
            cases += [(y, m, bound - 0.01, "D"), (y, m, bound + 0.01, "S")]
    trials = len(cases)
    slots = n
    counts = np.tile([3, 3, 0, 0, 0], (trials, 1))
    dlts = np.zeros((trials, 5), dtype=int)
    weight = np.zeros((trials, slots))
    mask = np.zeros((trials, slots), dtype=bool)
    for t, (y, m, stft, _) in enumerate(cases):
        counts[t, 2] = n - m
        dlts[t, 2] = y
        mask[t, :m] = True
        weight[t, :m] = stft / m if m else 0.0
    pending = PendingBatch(np.full((trials, slots), 2), weight, mask)
    batch = design.decide(EscalationState.of(counts, dlts, np.full(trials, 2), pending=pending))
    expected = [c[3] for c in cases]
    np.testing.assert_array_equal(batch.next_dose, [_EXPECTED_NEXT[e] for e in expected])
    assert not batch.stop.any()
    suspended = np.array([design.rules[r][0] == "suspend accrual" for r in batch.rule])
    np.testing.assert_array_equal(suspended, [e == "SUS" for e in expected])
    np.testing.assert_array_equal(batch.wait, suspended)
    np.testing.assert_array_equal(batch.admissible[:, 2], [e != "DE" for e in expected])


def _tite_patients(done_dlt, followups):
    """Doses 0 and 1 with 3 complete patients each, then dose 2: completed outcomes and
    the follow-up days of pending patients."""
    level = [0] * 3 + [1] * 3 + [2] * (len(done_dlt) + len(followups))
    dlt = [0] * 6 + list(done_dlt) + [0] * len(followups)
    follow = [None] * (6 + len(done_dlt)) + list(followups)
    return level, dlt, follow


def test_tite_boin_trial_example_escalates_after_enough_follow_up():
    # Yuan et al. (2018), trial example, target 0.2, 90-day window: 9 patients at the
    # current dose, 1 DLT among 5 completed, 4 pending followed 75, 60, 45 and 30 days.
    # STFT = 210 / 90 = 2.33 >= 2.15: escalate. By hand: p = (1 + 0.1) / (5 + 1) = 0.1833;
    # imputed rate (1 + 0.2245 x (4 - 2.333)) / 9 = 0.1527 <= lambda_e = 0.1572.
    design = BOIN(0.2, n_doses=5, window=90, labels=LABELS)
    decision = design.recommend(*_tite_patients([1, 0, 0, 0, 0], [75, 60, 45, 30]))
    assert decision.next_dose == 3 and not decision.wait
    assert decision.reasons[-1][0] == "escalate"
    assert "= 0.153 <= lambda_e 0.157" in decision.reasons[-1][1]
    summary = decision.summary()
    assert summary["imputed_rate"][2] == pytest.approx(
        (1 + 0.1833333 / 0.8166667 * (4 - 210 / 90)) / 9, rel=1e-6
    )
    # P(p > 0.2 | 1 DLT in all 9 treated) = P(Bin(10, 0.2) <= 1) = 0.8^10 + 10 x 0.2 x 0.8^9
    assert summary["prob_over_target"][2] == pytest.approx(0.8**10 + 2 * 0.8**9)


def test_tite_boin_trial_example_suspends_with_five_of_nine_pending():
    design = BOIN(0.2, n_doses=5, window=90, labels=LABELS)
    decision = design.recommend(*_tite_patients([1, 0, 0, 0], [75, 60, 45, 30, 10]))
    assert decision.wait and decision.next_dose is None and not decision.stop
    assert decision.action == "wait"
    assert decision.reasons[-1] == (
        "suspend accrual",
        "5 of 9 patients at DL2 are pending, more than 50%, and 1/9 = 0.11 is below "
        "lambda_d 0.238: suspend accrual until more follow-up accrues",
    )


def test_tite_boin_waits_for_follow_up_before_selecting_the_mtd():
    design = BOIN(0.3, n_doses=5, window=28, max_n=12)
    level, dlt, follow = _tite_patients([0, 0, 0, 0], [20, 25])
    waiting = design.recommend(level, dlt, follow)
    assert waiting.wait and not waiting.stop and waiting.reasons[0][0] == "await follow-up"
    assert waiting.reasons[1][0] == "stop: sample size reached"
    assert waiting.next_dose is None and waiting.mtd is None
    complete = design.recommend(level, dlt)
    assert complete.stop and complete.mtd == 2


def test_tite_boin_elimination_counts_pending_patients_as_treated():
    # 9 at the current dose, 3 DLTs among 3 completed, 6 pending: with all 9,
    # P(p > 0.2) = P(Bin(10, 0.2) <= 3) = 0.879 < 0.95, so DL2 stays admissible
    # (Table 1: D); with the 3 completed alone it would be 1 - 0.2^4 = 0.998.
    design = BOIN(0.2, n_doses=5, window=90)
    level, dlt, follow = _tite_patients([1, 1, 1], [10] * 6)
    decision = design.recommend(level, dlt, follow)
    assert decision.admissible.tolist() == [True] * 5
    assert decision.next_dose == 1


# ---------------------------------------------------------------- properties


@st.composite
def _states_strategy(draw, pending=False):
    """A batch of random trial states (counts, current dose) with random design options,
    and with ``pending`` a random padded batch of pending patients for TITE-BOIN."""
    doses = draw(st.integers(2, 6))
    trials = draw(st.integers(1, 12))
    n = draw(arrays(np.int64, (trials, doses), elements=st.integers(0, 15)))
    share = draw(arrays(np.float64, (trials, doses), elements=st.floats(0, 1)))
    y = np.floor(share * (n + 1)).clip(max=n).astype(np.int64)
    cur = draw(arrays(np.int64, trials, elements=st.integers(0, doses - 1)))
    options = {
        "target": draw(st.sampled_from([0.2, 0.25, 0.3, 0.33])),
        "extra_safe": draw(st.booleans()),
        "n_earlystop": draw(st.sampled_from([None, 9, 12])),
        "max_n": draw(st.sampled_from([None, 24, 40])),
    }
    batch = None
    if pending:
        shape = (trials, draw(st.integers(0, 4)))
        batch = PendingBatch(
            level=draw(arrays(np.int64, shape, elements=st.integers(0, doses - 1))),
            weight=draw(arrays(np.float64, shape, elements=st.floats(0, 0.999))),
            mask=draw(arrays(np.bool_, shape)),
        )
        options["window"] = 28.0
    return n, y, cur, options, batch


def _design(doses, options):
    return BOIN(
        options["target"], n_doses=doses, **{k: v for k, v in options.items() if k != "target"}
    )


def _rank(batch):
    """Decisions from low to high: a stop (for toxicity here), then the next dose; NaN for
    a wait (no dose: accrual suspended or a stop awaiting follow-up)."""
    return np.where(batch.stop, -1.0, batch.next_dose)


@settings(max_examples=150, deadline=None)
@given(_states_strategy(pending=True))
def test_more_dlts_never_move_the_decision_up(state):
    n, y, cur, options, pending = state
    options = {**options, "max_n": None, "n_earlystop": None}
    design = _design(n.shape[1], options)
    rows = np.arange(len(cur))
    more = y.copy()
    room = more[rows, cur] < n[rows, cur]
    more[rows[room], cur[room]] += 1
    before = _rank(design.decide(EscalationState.of(n, y, cur, pending=pending)))
    after = _rank(design.decide(EscalationState.of(n, more, cur, pending=pending)))
    assert np.all((after <= before) | np.isnan(before) | np.isnan(after))


@settings(max_examples=150, deadline=None)
@given(_states_strategy(pending=True))
def test_interval_rule_holds_at_the_current_dose(state):
    n, y, cur, options, pending = state
    design = _design(n.shape[1], options)
    rows = np.arange(len(cur))
    waiting = np.zeros_like(n) if pending is None else pending.per_dose(n.shape[1])[0]
    total = (n + waiting)[rows, cur]
    rate = np.divide(y[rows, cur], total, out=np.zeros(len(cur)), where=total > 0)
    batch = design.decide(EscalationState.of(n, y, cur, pending=pending))
    moving = ~batch.stop & ~batch.wait
    above_e = (total > 0) & (rate > design.lambda_e)
    assert np.all(batch.next_dose[moving & above_e] <= cur[moving & above_e])
    at_d = (total > 0) & (rate >= design.lambda_d)
    down = batch.stop | batch.wait | (batch.next_dose < cur) | ((cur == 0) & (batch.next_dose == 0))
    assert np.all(down[at_d])


@settings(max_examples=150, deadline=None)
@given(_states_strategy(pending=True))
def test_never_recommends_an_eliminated_dose(state):
    n, y, cur, options, pending = state
    design = _design(n.shape[1], options)
    batch = design.decide(EscalationState.of(n, y, cur, pending=pending))
    rows = np.arange(len(cur))
    go = ~batch.stop & ~batch.wait
    assert np.all(batch.admissible[rows[go], batch.next_dose[go].astype(int)])
    has = ~np.isnan(batch.mtd)
    assert np.all(batch.admissible[rows[has], batch.mtd[has].astype(int)])
    assert np.all(np.diff(batch.admissible.astype(int), axis=1) <= 0)


@settings(max_examples=150, deadline=None)
@given(_states_strategy(pending=True))
def test_batch_equals_one_trial_at_a_time(state):
    n, y, cur, options, pending = state
    design = _design(n.shape[1], options)
    batch = design.decide(EscalationState.of(n, y, cur, pending=pending))
    for field in ("next_dose", "stop", "mtd", "admissible", "rule", "wait"):
        singles = [
            getattr(
                design.decide(
                    EscalationState.of(
                        n[t : t + 1],
                        y[t : t + 1],
                        cur[t : t + 1],
                        pending=None
                        if pending is None
                        else PendingBatch(
                            pending.level[t : t + 1],
                            pending.weight[t : t + 1],
                            pending.mask[t : t + 1],
                        ),
                    )
                ),
                field,
            )[0]
            for t in range(len(cur))
        ]
        np.testing.assert_array_equal(getattr(batch, field), np.array(singles))


@settings(max_examples=150, deadline=None)
@given(_states_strategy())
def test_batch_mtd_equals_select_mtd(state):
    n, y, _, options, _ = state
    design = _design(n.shape[1], options)
    batch = design.select_mtd_batch(n, y)
    single = [design.select_mtd(n[t], y[t]) for t in range(len(n))]
    np.testing.assert_array_equal(batch, [NAN if s is None else s for s in single])


@settings(max_examples=100, deadline=None)
@given(_states_strategy())
def test_recommend_equals_the_batch_row(state):
    n, y, cur, options, _ = state
    design = _design(n.shape[1], options)
    batch = design.decide(EscalationState.of(n, y, cur))
    for t in range(len(cur)):
        if n[t, cur[t]] == 0:
            continue
        order = [d for d in range(n.shape[1]) if d != cur[t]] + [int(cur[t])]
        level = [d for d in order for _ in range(n[t, d])]
        dlt = [int(k < y[t, d]) for d in order for k in range(n[t, d])]
        decision = design.recommend(level, dlt)
        expected_next = batch.next_dose[t]
        assert decision.next_dose == (None if np.isnan(expected_next) else int(expected_next))
        assert decision.mtd == (None if np.isnan(batch.mtd[t]) else int(batch.mtd[t]))
        assert decision.stop == bool(batch.stop[t])


@settings(max_examples=150, deadline=None)
@given(_states_strategy())
def test_tite_boin_with_complete_follow_up_is_boin(state):
    n, y, cur, options, _ = state
    boin = _design(n.shape[1], options)
    tite = _design(n.shape[1], {**options, "window": 28.0})
    empty = PendingBatch(
        np.zeros((len(cur), 2), int), np.zeros((len(cur), 2)), np.zeros((len(cur), 2), bool)
    )
    expected = boin.decide(EscalationState.of(n, y, cur))
    for got in (
        tite.decide(EscalationState.of(n, y, cur)),
        tite.decide(EscalationState.of(n, y, cur, pending=empty)),
    ):
        for field in ("next_dose", "stop", "mtd", "admissible", "rule"):
            np.testing.assert_array_equal(getattr(got, field), getattr(expected, field))
