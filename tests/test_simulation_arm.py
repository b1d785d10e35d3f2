"""Single-arm simulation: the walk against exact enumeration, published get.oc values and an
independent cohort-by-cohort loop; seeds per block; common random numbers."""

import numpy as np
import pytest
from _reference import PUBLISHED

from dartnk.adaptive import BLRM, BOIN, CRM, EscalationState, ThreePlusThree
from dartnk.adaptive.walk import patient_limit, walk_arm
from dartnk.analyses import build_design, default_protocol, simulate_arm
from dartnk.analyses.simulation_arm import true_mtd

PROTOCOL = default_protocol()
SCENARIOS_33 = [
    [0.05, 0.10, 0.20, 0.35, 0.50],
    [0.02, 0.05, 0.08, 0.12, 0.15],
    [0.30, 0.45, 0.60, 0.70, 0.80],
]


@pytest.fixture(scope="module", params=range(len(SCENARIOS_33)))
def three_plus_three(request):
    p = np.array(SCENARIOS_33[request.param])
    design = ThreePlusThree(5, start=1)
    return design.exact_oc(p), simulate_arm(design, p, n_trials=40_000, seed=11 + request.param)


@pytest.mark.parametrize("dose", range(5))
def test_three_plus_three_selection_within_4_se_of_exact(three_plus_three, dose):
    exact, sim = three_plus_three
    se = np.sqrt(exact.prob_mtd[dose] * (1 - exact.prob_mtd[dose]) / sim.n_trials)
    assert abs(sim.prob_mtd[dose] - exact.prob_mtd[dose]) <= 4 * se + 1e-12


@pytest.mark.parametrize("dose", range(5))
def test_three_plus_three_patients_within_4_se_of_exact(three_plus_three, dose):
    exact, sim = three_plus_three
    se = sim.mean_patients_se[dose]
    assert abs(sim.mean_patients[dose] - exact.expected_patients[dose]) <= 4 * se + 1e-12
    dlt_se = sim.mean_dlts_se[dose]
    assert abs(sim.mean_dlts[dose] - exact.expected_dlts[dose]) <= 4 * dlt_se + 1e-12


def test_three_plus_three_no_mtd_within_4_se_of_exact(three_plus_three):
    exact, sim = three_plus_three
    se = np.sqrt(exact.prob_no_mtd * (1 - exact.prob_no_mtd) / sim.n_trials)
    assert abs(sim.prob_no_mtd - exact.prob_no_mtd) <= 4 * se + 1e-12
    assert abs(sim.mean_total - exact.expected_total) <= 4 * sim.mean_total_se


@pytest.fixture(scope="session")
def boin_get_oc():
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
    return ref, simulate_arm(design, ref["p_true"], n_trials=40_000, seed=2026)


@pytest.mark.parametrize("dose", range(5))
def test_boin_selection_within_4_se_of_published_get_oc(boin_get_oc, dose):
    ref, sim = boin_get_oc
    p = ref["selection_percent"][dose] / 100
    se = np.sqrt(p * (1 - p) * (1 / sim.n_trials + 1 / ref["ntrial"]))
    assert abs(sim.prob_mtd[dose] - p) <= 4 * se


@pytest.mark.parametrize("dose", range(5))
def test_boin_patients_within_4_se_of_published_get_oc(boin_get_oc, dose):
    ref, sim = boin_get_oc
    sd = sim.mean_patients_se[dose] * np.sqrt(sim.n_trials)
    se = sd * np.sqrt(1 / sim.n_trials + 1 / ref["ntrial"])
    assert abs(sim.mean_patients[dose] - ref["mean_patients_per_dose"][dose]) <= 4 * se


def test_boin_totals_within_4_se_of_published_get_oc(boin_get_oc):
    ref, sim = boin_get_oc
    scale = np.sqrt(1 / sim.n_trials + 1 / ref["ntrial"])
    dlts = sim.y.sum(axis=1)
    assert abs(dlts.mean() - ref["mean_total_dlt"]) <= 4 * dlts.std() * scale
    assert (
        abs(sim.mean_total - ref["mean_total_n"])
        <= 4 * sim.mean_total_se * np.sqrt(sim.n_trials) * scale + 1e-3
    )


def _loop_walk(design, p, u):
    """Independent reference: every trial decided on its own state, cohort after cohort."""
    trials = u.shape[1]
    n = np.zeros((trials, design.n_doses), dtype=np.int64)
    y = np.zeros_like(n)
    mtd = np.full(trials, np.nan)
    limit = patient_limit(design)
    for t in range(trials):
        current, total, flag = design.start, 0, False
        while True:
            state = EscalationState.of(
                n[t : t + 1], y[t : t + 1], [current], last_cohort_dlt=[flag]
            )
            decision = design.decide(state)
            if decision.stop[0] or total >= limit:
                mtd[t] = decision.mtd[0] if decision.stop[0] else np.nan
                break
            current = int(decision.next_dose[0])
            size = min(design.cohort_size, limit - total)
            hits = u[total : total + size, t] < p[current]
            n[t, current] += size
            y[t, current] += hits.sum()
            flag = bool(hits.any())
            total += size
    return n, y, mtd


DESIGNS = {
    "3+3": ThreePlusThree(5, start=1),
    "BOIN": BOIN(0.3, n_doses=5, start=1, max_n=18),
    "CRM": CRM([0.05, 0.12, 0.2, 0.3, 0.4], 0.3, start=1, stop_prob=0.9, max_n=20),
    "BLRM": build_design(PROTOCOL, "BLRM"),
}


@pytest.mark.parametrize("name", list(DESIGNS))
def test_walk_equals_a_loop_over_trials(name):
    design = DESIGNS[name]
    p = np.array([0.08, 0.15, 0.3, 0.45, 0.6])
    u = np.random.default_rng(np.random.SeedSequence(5)).random((patient_limit(design), 120))
    walk = walk_arm(design, p, u)
    n, y, mtd = _loop_walk(design, p, u)
    np.testing.assert_array_equal(walk.n, n)
    np.testing.assert_array_equal(walk.y, y)
    np.testing.assert_array_equal(walk.mtd, mtd)


def test_a_partial_last_cohort_stops_at_max_n():
    design = CRM([0.05, 0.12, 0.2, 0.3, 0.4], 0.3, start=0, max_n=20)
    sim = simulate_arm(design, [0.01] * 5, n_trials=200, seed=3)
    assert np.all(sim.n.sum(axis=1) == 20)


def test_trials_do_not_depend_on_the_number_of_trials():
    design = DESIGNS["BOIN"]
    p = [0.1, 0.2, 0.3, 0.4, 0.5]
    short = simulate_arm(design, p, n_trials=1000, seed=4)
    long = simulate_arm(design, p, n_trials=2500, seed=4)
    np.testing.assert_array_equal(short.n, long.n[:1000])
    np.testing.assert_array_equal(short.mtd, long.mtd[:1000])


def test_designs_on_one_seed_see_the_same_patients():
    p = [0.1, 0.2, 0.3, 0.4, 0.5]
    first = simulate_arm(DESIGNS["3+3"], p, n_trials=500, seed=8)
    twin = simulate_arm(ThreePlusThree(5, start=1), p, n_trials=500, seed=8)
    np.testing.assert_array_equal(first.n, twin.n)
    np.testing.assert_array_equal(first.y, twin.y)


def test_summary_stop_reasons_and_trials_agree():
    sim = simulate_arm(DESIGNS["BOIN"], [0.1, 0.2, 0.3, 0.4, 0.5], n_trials=2000, seed=9)
    table = sim.summary()
    assert list(table["dose"]) == list(DESIGNS["BOIN"].labels)
    assert table["prob_mtd"].sum() + sim.prob_no_mtd == pytest.approx(1.0)
    assert sim.stop_reasons()["trials"].sum() == 2000
    trials = sim.trials()
    assert len(trials) == 2000
    assert (trials["mtd"].isna()).mean() == pytest.approx(sim.prob_no_mtd)
    assert "P(correct)" in repr(sim)


@pytest.mark.parametrize(
    ("p", "target", "expected"),
    [([0.1, 0.2, 0.3, 0.4], 0.3, 2), ([0.4, 0.5], 0.3, None), ([0.01, 0.02], 0.3, 1)],
)
def test_true_mtd_is_the_highest_dose_at_or_below_the_target(p, target, expected):
    assert true_mtd(p, target) == expected


def test_share_above_the_true_mtd_counts_doses_above_it():
    sim = simulate_arm(DESIGNS["3+3"], [0.05, 0.1, 0.3, 0.5, 0.7], n_trials=3000, seed=2)
    above = sim.n[:, 3:].sum(axis=1) / sim.n.sum(axis=1)
    assert sim.share_above_mtd == pytest.approx(above.mean())
    assert sim.mean_patients_above_mtd == pytest.approx(sim.n[:, 3:].sum(axis=1).mean())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"true_tox": [0.1, 0.2]}, "5 probabilities"),
        ({"true_tox": [0.1, 0.2, 0.3, 0.4, 1.2]}, "probabilities"),
        ({"n_trials": 0}, "positive whole number"),
        ({"target": 1.5}, "not a probability"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    arguments = {"true_tox": [0.1, 0.2, 0.3, 0.4, 0.5], "n_trials": 10, "seed": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        simulate_arm(DESIGNS["BOIN"], **arguments)


def test_a_design_without_a_limit_is_refused():
    with pytest.raises(ValueError, match="max_n"):
        simulate_arm(BOIN(0.3, n_doses=5), [0.1] * 5, n_trials=10, seed=1)


def test_blrm_arm_runs_and_plots():
    design = BLRM([1, 2, 4, 8, 16], 4, prior_mean=(-0.85, 0.0), prior_sd=(2, 1), max_n=12)
    sim = simulate_arm(design, [0.05, 0.1, 0.2, 0.35, 0.5], n_trials=300, seed=7)
    figure = sim.plot()
    assert len(figure.axes) == 2
