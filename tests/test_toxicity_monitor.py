"""Bayesian toxicity monitoring: boundaries from the Beta posterior, monotonicity in DLTs,
closed forms and exact operating characteristics against simulation."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from _monitoring import simulate, within_4_se
from scipy.stats import beta, binom

from dartnk.adaptive import SingleArmAction, ToxicityMonitor

STOP = SingleArmAction.STOP_TOXICITY

MONITORS = {
    "protocol": dict(limit=0.33, threshold=0.8, prior=(1, 1), n_max=20, min_n=3),
    "strict": dict(limit=0.25, threshold=0.9, prior=(0.5, 1.5), n_max=30, min_n=6),
    "every fifth": dict(limit=0.3, threshold=0.7, n_max=25, looks=(5, 10, 15, 20)),
}


def _monitor(name):
    return ToxicityMonitor(**MONITORS[name])


@pytest.mark.parametrize("name", MONITORS)
def test_boundaries_are_the_smallest_dlt_count_crossing_the_threshold(name):
    monitor = _monitor(name)
    a, b = monitor.prior
    for row in monitor.boundaries().itertuples(index=False):
        n = int(row.n)
        y = np.arange(n + 1)
        crossing = y[beta.sf(monitor.limit, a + y, b + n - y) > monitor.threshold]
        expected = int(crossing[0]) if crossing.size else None
        got = None if pd.isna(row.stop_if_ge) else int(row.stop_if_ge)
        assert got == expected, n


@pytest.mark.parametrize("name", MONITORS)
def test_more_dlts_never_turn_a_stop_into_a_go(name):
    monitor = _monitor(name)
    for n in range(monitor.n_max + 1):
        stop = monitor.decide(np.full(n + 1, n), np.arange(n + 1)) == STOP
        assert np.all(stop[1:] >= stop[:-1]), n


@pytest.mark.parametrize("name", MONITORS)
def test_no_decision_outside_the_looks(name):
    monitor = _monitor(name)
    off = [n for n in range(monitor.n_max + 1) if n not in monitor.looks]
    for n in off:
        assert np.all(monitor.decide(np.full(n + 1, n), np.arange(n + 1)) == 0), n


@pytest.mark.parametrize("name", MONITORS)
@pytest.mark.parametrize("p", [0.1, 0.33, 0.5])
def test_exact_oc_agrees_with_simulation(name, p):
    monitor = _monitor(name)
    oc = monitor.exact_oc([p])
    end_n, action = simulate(monitor, p, 40_000, seed=int(100 * p))
    for exact, draws in [
        (oc.prob_stop[0], action == STOP),
        (oc.pet[0], (action == STOP) & (end_n < monitor.n_max)),
        (oc.expected_n[0], end_n),
    ]:
        ok, message = within_4_se(exact, draws)
        assert ok, message


@pytest.mark.parametrize("p", [0.1, 0.3, 0.6])
def test_one_look_is_a_binomial_tail(p):
    monitor = ToxicityMonitor(0.3, 0.8, n_max=12, min_n=12)
    a, b = monitor.prior
    y = np.arange(13)
    k = int(y[beta.sf(0.3, a + y, b + 12 - y) > 0.8][0])
    assert monitor.exact_oc([p]).prob_stop[0] == pytest.approx(binom.sf(k - 1, 12, p))


def test_decision_reasons_give_the_posterior_probability():
    monitor = _monitor("protocol")
    post = beta.sf(0.33, 1 + 4, 1 + 2)
    decision = monitor.decision(6, 4)
    assert decision.action == STOP
    assert decision.probability == pytest.approx(post)
    assert decision.reasons == (
        (
            "toxicity monitoring",
            f"P(DLT rate > 0.33 | 4 DLTs in 6) = {post:.3f} > 0.8: stop accrual",
        ),
    )
    early = monitor.decision(2, 2)
    assert early.action == SingleArmAction.CONTINUE
    assert "monitoring starts at 3" in early.reasons[0][1]


def test_default_rates_are_the_limit():
    oc = _monitor("protocol").exact_oc()
    assert list(oc.summary()["label"]) == ["limit"]
    assert oc.true_rate[0] == 0.33


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        (dict(limit=1.0), "DLT rate limit 1.0 is not a probability"),
        (dict(threshold=-0.1), "toxicity threshold"),
        (dict(min_n=25), "min_n 25 exceeds n_max 20"),
        (dict(looks=(2, 5)), "start before min_n 3"),
        (dict(prior=(1, -1)), "Beta"),
    ],
)
def test_validation(changes, words):
    with pytest.raises(ValueError, match=words):
        ToxicityMonitor(**{**MONITORS["protocol"], **changes})


def test_monitor_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        _monitor("protocol").limit = 0.5
