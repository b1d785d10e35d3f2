"""The protocol's modified 3+3: rule by rule, closed forms, and simulation."""

import numpy as np
import pytest
from scipy.stats import binom

from dartnk.adaptive import EscalationState, ThreePlusThree

LABELS = ["DL-1", "DL1", "DL2", "DL3", "DL4"]
NAN = float("nan")


def _decide(n, y, current, n_doses=5):
    design = ThreePlusThree(n_doses, start=1)
    d = design.decide(EscalationState.of(np.array([n]), np.array([y]), np.array([current])))
    return d.next_dose[0], bool(d.stop[0]), d.mtd[0]


@pytest.mark.parametrize(
    ("n", "y", "current", "expected"),
    [
        # rule 1: 0/3 escalates, or expands at the top dose or below a too-toxic dose
        ([0, 3, 0, 0, 0], [0, 0, 0, 0, 0], 1, (2, False, NAN)),
        ([0, 3, 3, 3, 3], [0, 0, 0, 0, 0], 4, (4, False, NAN)),
        ([3, 3, 0, 0, 0], [0, 2, 0, 0, 0], 0, (0, False, NAN)),
        # rule 2: 1/3 expands
        ([0, 3, 0, 0, 0], [0, 1, 0, 0, 0], 1, (1, False, NAN)),
        # rule 3: >= 2/3 de-escalates to a dose with 3 (expand), 6 (MTD) or none (treat 3)
        ([0, 3, 3, 0, 0], [0, 0, 2, 0, 0], 2, (1, False, NAN)),
        ([0, 6, 3, 0, 0], [0, 1, 3, 0, 0], 2, (NAN, True, 1)),
        ([0, 3, 0, 0, 0], [0, 2, 0, 0, 0], 1, (0, False, NAN)),
        ([3, 3, 0, 0, 0], [2, 2, 0, 0, 0], 0, (NAN, True, NAN)),
        # rule 4: <= 1/6 escalates, or is the MTD at the top or below a too-toxic dose
        ([0, 6, 0, 0, 0], [0, 1, 0, 0, 0], 1, (2, False, NAN)),
        ([0, 3, 3, 3, 6], [0, 0, 0, 0, 1], 4, (NAN, True, 4)),
        ([0, 6, 3, 0, 0], [0, 0, 2, 0, 0], 1, (NAN, True, 1)),
        # rule 5: >= 2/6 de-escalates
        ([0, 3, 6, 0, 0], [0, 0, 2, 0, 0], 2, (1, False, NAN)),
        ([0, 6, 6, 0, 0], [0, 0, 2, 0, 0], 2, (NAN, True, 1)),
        ([6, 3, 0, 0, 0], [2, 2, 0, 0, 0], 0, (NAN, True, NAN)),
        # two DLTs decide before the cohort is complete
        ([0, 3, 2, 0, 0], [0, 0, 2, 0, 0], 2, (1, False, NAN)),
        # an incomplete cohort is completed first
        ([0, 3, 2, 0, 0], [0, 0, 1, 0, 0], 2, (2, False, NAN)),
    ],
)
def test_rules(n, y, current, expected):
    next_dose, stop, mtd = _decide(n, y, current)
    assert stop == expected[1]
    np.testing.assert_equal(next_dose, expected[0])
    np.testing.assert_equal(mtd, expected[2])


def test_start_is_the_first_cohort():
    design = ThreePlusThree(5, start=1, labels=LABELS)
    decision = design.recommend([1, 1, 1], [0, 0, 0])
    assert decision.next_dose == 2
    assert decision.reasons[0][0] == "rule 1: escalate"


def test_pending_patients_that_could_change_the_decision_mean_wait():
    design = ThreePlusThree(5, start=1, labels=LABELS)
    decision = design.recommend([1, 1, 1, 2, 2, 2], [0, 0, 0, 1, 0, 0], [None] * 4 + [10, 12])
    assert decision.wait and decision.next_dose is None and not decision.stop
    assert decision.pending_at_dose.tolist() == [0, 0, 2, 0, 0]


def test_pending_patients_that_cannot_change_the_decision_do_not_wait():
    design = ThreePlusThree(5, start=1, labels=LABELS)
    decision = design.recommend([1, 1, 1, 2, 2, 2], [0, 0, 0, 1, 1, 0], [None] * 5 + [12])
    assert not decision.wait
    assert decision.next_dose == 1


def _one_dose_closed_form(p):
    b = binom.pmf(np.arange(4), 3, p)
    prob_mtd = b[0] * binom.cdf(1, 3, p) + b[1] * b[0]
    expected_n = 3 + 3 * (b[0] + b[1])
    expected_y = 3 * p + 3 * p * (b[0] + b[1])
    return prob_mtd, expected_n, expected_y


@pytest.mark.parametrize("p", [0.0, 0.05, 0.2, 0.33, 0.5, 0.9, 1.0])
def test_exact_oc_one_dose_closed_form(p):
    oc = ThreePlusThree(1).exact_oc([p])
    prob_mtd, expected_n, expected_y = _one_dose_closed_form(p)
    assert oc.prob_mtd[0] == pytest.approx(prob_mtd, abs=1e-12)
    assert oc.prob_no_mtd == pytest.approx(1 - prob_mtd, abs=1e-12)
    assert oc.expected_total == pytest.approx(expected_n, abs=1e-12)
    assert oc.expected_dlts[0] == pytest.approx(expected_y, abs=1e-12)


def _two_dose_closed_form(p0, p1):
    b0 = binom.pmf(np.arange(4), 3, p0)
    b1 = binom.pmf(np.arange(4), 3, p1)
    accept_top = b1[0] * binom.cdf(1, 3, p1) + b1[1] * b1[0]
    reach_top_with_3_below = b0[0]
    reach_top_with_6_below = b0[1] * b0[0]
    prob_mtd_1 = (reach_top_with_3_below + reach_top_with_6_below) * accept_top
    prob_mtd_0 = reach_top_with_3_below * (1 - accept_top) * binom.cdf(
        1, 3, p0
    ) + reach_top_with_6_below * (1 - accept_top)
    return prob_mtd_0, prob_mtd_1


@pytest.mark.parametrize(("p0", "p1"), [(0.1, 0.3), (0.05, 0.6), (0.3, 0.5), (0.2, 0.2)])
def test_exact_oc_two_doses_closed_form(p0, p1):
    oc = ThreePlusThree(2).exact_oc([p0, p1])
    expected = _two_dose_closed_form(p0, p1)
    np.testing.assert_allclose(oc.prob_mtd, expected, atol=1e-12)


def _simulate(design, p, trials, seed):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    doses = design.n_doses
    n = np.zeros((trials, doses), dtype=np.int64)
    y = np.zeros((trials, doses), dtype=np.int64)
    cur = np.full(trials, design.start)
    active = np.ones(trials, dtype=bool)
    mtd = np.full(trials, np.nan)
    rows = np.arange(trials)
    while active.any():
        idx = rows[active]
        decision = design.decide(EscalationState.of(n[idx], y[idx], cur[idx]))
        stopping = idx[decision.stop]
        mtd[stopping] = decision.mtd[decision.stop]
        active[stopping] = False
        go = idx[~decision.stop]
        dose = decision.next_dose[~decision.stop].astype(np.int64)
        n[go, dose] += 3
        y[go, dose] += rng.binomial(3, p[dose])
        cur[go] = dose
    return n, y, mtd


@pytest.mark.parametrize(
    "true_tox",
    [[0.05, 0.1, 0.2, 0.35, 0.5], [0.02, 0.05, 0.08, 0.12, 0.15], [0.3, 0.45, 0.6, 0.7, 0.8]],
)
def test_exact_oc_matches_simulation(true_tox):
    design = ThreePlusThree(5, start=1)
    p = np.array(true_tox)
    trials = 100_000
    n, _, mtd = _simulate(design, p, trials, seed=20261125)
    oc = design.exact_oc(p)
    for dose in range(5):
        freq = np.mean(mtd == dose)
        se = np.sqrt(oc.prob_mtd[dose] * (1 - oc.prob_mtd[dose]) / trials)
        assert abs(freq - oc.prob_mtd[dose]) <= 4 * se + 1e-12
        mean_n = n[:, dose].mean()
        se_n = n[:, dose].std() / np.sqrt(trials)
        assert abs(mean_n - oc.expected_patients[dose]) <= 4 * se_n + 1e-12
    se_none = np.sqrt(oc.prob_no_mtd * (1 - oc.prob_no_mtd) / trials)
    assert abs(np.mean(np.isnan(mtd)) - oc.prob_no_mtd) <= 4 * se_none + 1e-12


def test_mtd_always_has_six_and_toxic_doses_are_never_revisited():
    design = ThreePlusThree(5, start=1)
    n, y, mtd = _simulate(design, np.array([0.1, 0.2, 0.3, 0.4, 0.5]), 20_000, seed=7)
    has = ~np.isnan(mtd)
    assert np.all(n[has, mtd[has].astype(int)] == 6)
    assert np.all(y[has, mtd[has].astype(int)] <= 1)
    assert np.all(n <= 6)
    assert np.all(y[n == 3] <= 3)


def test_probabilities_sum_to_one():
    oc = ThreePlusThree(5, start=1).exact_oc([0.1, 0.15, 0.25, 0.4, 0.55])
    assert oc.prob_mtd.sum() + oc.prob_no_mtd == pytest.approx(1.0, abs=1e-12)
    assert oc.expected_total == pytest.approx(oc.expected_patients.sum())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n_doses": 0}, "positive"), ({"n_doses": 3, "start": 3}, "outside")],
)
def test_bad_designs_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ThreePlusThree(**kwargs)


def test_design_is_immutable():
    design = ThreePlusThree(3)
    with pytest.raises(AttributeError):
        design.start = 2
