"""Predictive-probability design (Lee and Liu 2008): PP by direct beta-binomial summation,
the paper's worked example, boundaries, monotonicity and exact operating characteristics."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from _monitoring import simulate, within_4_se
from _reference import PUBLISHED
from scipy.stats import beta, betabinom, binom

from dartnk.adaptive import (
    PredictiveProbabilityDesign,
    SingleArmAction,
    search_predictive_design,
)

LEE_LIU = PUBLISHED["lee_liu_2008_example"]

CONFIGS = {
    "lee-liu": dict(p0=0.6, p1=0.8, n_max=40, prior=(0.6, 0.4), theta_t=0.9, theta_l=0.05),
    "protocol": dict(
        p0=0.15, p1=0.35, n_max=20, prior=(0.5, 0.5), theta_t=0.9, theta_l=0.05, looks=(10, 15)
    ),
    "uniform prior": dict(p0=0.2, p1=0.4, n_max=30, prior=(1, 1), theta_t=0.95, theta_l=0.1),
    "efficacy stop": dict(
        p0=0.2, p1=0.4, n_max=25, prior=(0.2, 0.8), theta_t=0.85, theta_l=0.02, theta_u=0.95
    ),
}


def _design(name):
    return PredictiveProbabilityDesign(**CONFIGS[name])


def _direct_pp(design, n, x):
    """PP = sum_i P(Y = i | x) 1{P(p > p0 | x + i, n_max) > theta_t}, summed term by term."""
    a, b = design.prior
    m = design.n_max - n
    i = np.arange(m + 1)
    predictive = betabinom.pmf(i, m, a + x, b + n - x)
    final = beta.sf(design.p0, a + x + i, b + design.n_max - x - i)
    return float(np.sum(predictive * (final > design.theta_t)))


def _value(cell):
    return None if pd.isna(cell) else int(cell)


def _direct_table(design):
    table = np.full((design.n_max + 1, design.n_max + 1), np.nan)
    for n in range(design.n_max + 1):
        for x in range(n + 1):
            table[n, x] = _direct_pp(design, n, x)
    return table


@pytest.mark.parametrize("name", CONFIGS)
def test_pp_equals_direct_beta_binomial_summation(name):
    design = _design(name)
    direct = _direct_table(design)
    n, x = np.nonzero(~np.isnan(direct))
    np.testing.assert_allclose(design.predictive_probability(n, x), direct[n, x], atol=1e-10)


def test_lee_liu_worked_example_pp():
    design = PredictiveProbabilityDesign(
        LEE_LIU["p0"],
        0.8,
        LEE_LIU["n_max"],
        prior=(LEE_LIU["a"], LEE_LIU["b"]),
        theta_t=LEE_LIU["theta_t"],
        theta_l=0.05,
    )
    pp = float(design.predictive_probability(LEE_LIU["n"], LEE_LIU["x"]))
    assert round(pp, 4) == LEE_LIU["pp_published"]


def test_lee_liu_rejection_region_and_the_responses_still_needed():
    a, b, p0, n_max = LEE_LIU["a"], LEE_LIU["b"], LEE_LIU["p0"], LEE_LIU["n_max"]
    n, x, theta_t = LEE_LIU["n"], LEE_LIU["x"], LEE_LIU["theta_t"]
    s = np.arange(n_max + 1)
    needed = int(s[beta.sf(p0, a + s, b + n_max - s) > theta_t][0])
    design = PredictiveProbabilityDesign(
        p0, 0.8, n_max, prior=(a, b), theta_t=theta_t, theta_l=0.05
    )
    assert design.final_responses == needed
    final_row = design.boundaries().iloc[-1]
    assert final_row["efficacy_if_ge"] == needed
    assert final_row["futility_if_le"] == needed - 1
    assert beta.sf(p0, a + needed - 1, b + n_max - needed + 1) <= theta_t
    remaining = n_max - n
    pp_from_region = betabinom.sf(needed - x - 1, remaining, a + x, b + n - x)
    assert round(float(pp_from_region), 4) == LEE_LIU["pp_published"]


def test_lee_liu_example_continues_between_thresholds():
    design = PredictiveProbabilityDesign(
        0.6, 0.8, 40, prior=(0.6, 0.4), theta_t=0.9, theta_l=0.1, theta_u=0.95
    )
    decision = design.decision(LEE_LIU["n"], LEE_LIU["x"])
    assert decision.action == SingleArmAction.CONTINUE
    assert decision.reasons[0][0] == "continue"
    assert "PP = 0.566" in decision.reasons[0][1]


@pytest.mark.parametrize("name", CONFIGS)
def test_boundaries_match_thresholds_applied_to_direct_pp(name):
    design = _design(name)
    direct = _direct_table(design)
    bounds = design.boundaries()
    assert tuple(bounds["n"]) == design.looks
    for row in bounds.itertuples(index=False):
        n = int(row.n)
        pp = direct[n, : n + 1]
        if n == design.n_max:
            futile = np.flatnonzero(pp < 0.5)
            promising = np.flatnonzero(pp > 0.5)
        else:
            futile = np.flatnonzero(pp < design.theta_l)
            upper = np.inf if design.theta_u is None else design.theta_u
            promising = np.flatnonzero(pp > upper)
        expected_futility = futile.max() if futile.size else None
        expected_efficacy = promising.min() if promising.size else None
        assert _value(row.futility_if_le) == expected_futility, n
        assert _value(row.efficacy_if_ge) == expected_efficacy, n


def test_efficacy_stop_happens_at_an_interim_look():
    design = _design("efficacy stop")
    interim = design.boundaries().iloc[:-1]
    assert interim["efficacy_if_ge"].notna().any()
    oc = design.exact_oc()
    assert oc.early_efficacy[1] > 0


@pytest.mark.parametrize("name", CONFIGS)
def test_more_responses_never_lower_the_pp(name):
    design = _design(name)
    for n in range(design.n_max + 1):
        pp = design.predictive_probability(np.full(n + 1, n), np.arange(n + 1))
        assert np.all(np.diff(pp) >= -1e-12), n


@pytest.mark.parametrize("name", CONFIGS)
def test_more_responses_never_turn_a_go_into_a_futility_stop(name):
    design = _design(name)
    futility = SingleArmAction.STOP_FUTILITY
    for n in design.looks:
        codes = design.decide(np.full(n + 1, n), np.arange(n + 1))
        stop = codes == futility
        assert np.all(stop[1:] <= stop[:-1]), n


@pytest.mark.parametrize("name", CONFIGS)
def test_batch_decisions_equal_one_trial_decisions(name):
    design = _design(name)
    rng = np.random.default_rng(7)
    n = rng.integers(0, design.n_max + 1, size=40)
    x = rng.integers(0, n + 1)
    batch = design.decide(n, x)
    single = [design.decision(int(a), int(b)).action for a, b in zip(n, x, strict=True)]
    np.testing.assert_array_equal(batch, single)


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("which", [0, 1])
def test_exact_oc_agrees_with_simulation(name, which):
    design = _design(name)
    p = (design.p0, design.p1)[which]
    oc = design.exact_oc()
    end_n, action = simulate(design, p, 40_000, seed=11 + which)
    checks = [
        (oc.prob_promising[which], action == SingleArmAction.STOP_EFFICACY),
        (oc.pet[which], (end_n < design.n_max) & (action != SingleArmAction.CONTINUE)),
        (oc.expected_n[which], end_n),
    ]
    for exact, draws in checks:
        ok, message = within_4_se(exact, draws)
        assert ok, message


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_single_final_look_is_a_binomial_tail(p):
    design = PredictiveProbabilityDesign(
        0.3, 0.5, 25, prior=(1, 1), theta_t=0.9, theta_l=0.05, looks=(25,)
    )
    oc = design.exact_oc([p])
    assert oc.prob_promising[0] == pytest.approx(binom.sf(design.final_responses - 1, 25, p))
    assert oc.expected_n[0] == pytest.approx(25)
    assert oc.pet[0] == pytest.approx(0)


@pytest.mark.parametrize("name", CONFIGS)
def test_end_probabilities_sum_to_one(name):
    oc = _design(name).exact_oc([0.0, 0.25, 0.6, 1.0])
    np.testing.assert_allclose(oc.end_probability.sum(axis=(1, 2)), 1.0, atol=1e-12)
    table = oc.by_look()
    assert set(table["n"]) == set(_design(name).looks)


def test_summary_labels_p0_and_p1():
    design = _design("protocol")
    table = design.exact_oc().summary()
    assert list(table["label"]) == ["p0", "p1"]
    assert design.type_i_error == pytest.approx(table["prob_promising"].iloc[0])
    assert design.power == pytest.approx(table["prob_promising"].iloc[1])
    assert design.en_p0 == pytest.approx(table["expected_n"].iloc[0])


@pytest.mark.parametrize(
    ("n", "x", "rule", "words"),
    [
        (10, 1, "futility", "< theta_l 0.05 with 1 response in 10: stop"),
        (10, 3, "continue", "continue to 15"),
        (12, 1, "between looks", "12 is not a planned look"),
        (20, 6, "final analysis", "> theta_t 0.9: promising"),
        (20, 5, "final analysis", "not promising"),
    ],
)
def test_decision_reasons(n, x, rule, words):
    decision = _design("protocol").decision(n, x)
    assert decision.reasons[0][0] == rule
    assert words in decision.reasons[0][1]


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        (dict(p1=0.1), "must exceed p0"),
        (dict(theta_t=1.2), "theta_t 1.2 is not a probability"),
        (dict(theta_l=0), "theta_l 0 is not a probability"),
        (dict(theta_u=0.01), "theta_u 0.01 must exceed theta_l"),
        (dict(prior=(0, 1)), "Beta(a, b) prior"),
        (dict(looks=(15, 10)), "strictly increasing"),
        (dict(looks=(0, 10)), "between 1 and n_max"),
        (dict(n_max=3, looks=None, theta_t=0.9999), "could never succeed"),
        (dict(n_max=0, looks=None), "n_max"),
    ],
)
def test_validation_errors_in_clinical_words(changes, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        PredictiveProbabilityDesign(**{**CONFIGS["protocol"], **changes})


@pytest.mark.parametrize(("n", "x"), [(21, 3), (5, 6), (-1, 0), (4, -1), (2.5, 1)])
def test_decide_rejects_impossible_counts(n, x):
    with pytest.raises(ValueError):
        _design("protocol").decide(np.array([n]), np.array([x]))


def test_design_is_frozen():
    design = _design("protocol")
    with pytest.raises(dataclasses.FrozenInstanceError):
        design.theta_l = 0.2


def test_every_builds_looks_from_first_look_and_spacing():
    design = PredictiveProbabilityDesign.every(
        0.15, 0.35, 20, first_look=10, look_every=5, theta_t=0.9, theta_l=0.05
    )
    assert design.looks == (10, 15, 20)
    assert design == _design("protocol")


def test_search_returns_the_feasible_design_with_smallest_expected_n():
    found = search_predictive_design(
        0.15, 0.35, 30, alpha=0.1, beta=0.2, looks=(10, 15, 20, 25), theta_t=(0.85, 0.9, 0.95)
    )
    design = found.design
    assert design is not None
    assert design.type_i_error <= 0.1
    assert design.power >= 0.8
    feasible = found.candidates[found.candidates["feasible"]]
    assert design.en_p0 == pytest.approx(feasible["en_p0"].min())
    infeasible = found.candidates[~found.candidates["feasible"]]
    assert np.all((infeasible["type_i_error"] > 0.1) | (infeasible["power"] < 0.8))
    assert len(found.candidates) == 3 * 10


def test_search_without_a_feasible_design_says_so():
    found = search_predictive_design(0.15, 0.35, 10, alpha=0.05, beta=0.1)
    assert found.design is None
    assert "no thresholds meet" in repr(found)
    assert not found.candidates["feasible"].any()
