"""BLRM with EWOC: the fixed grid against adaptive integration, the batch method against the
one-trial path, EWOC and step rules, TITE, and the model's known non-monotonicity."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special

from dartnk.adaptive import BLRM, BLRMFit, EscalationState, PendingBatch

DOSES = (5e7, 1e8, 3e8, 1e9, 2e9)
LABELS = ("DL-1", "DL1", "DL2", "DL3", "DL4")
TRIAL = dict(reference_dose=3e8, prior_mean=(-0.85, 0.0), prior_sd=(2.0, 1.0))
OTHER = dict(
    doses=(1.0, 2.0, 4.0, 8.0, 12.0, 16.0),
    reference_dose=1.0,
    prior_mean=(-1.4, 0.5),
    prior_sd=(1.0, 0.7),
    prior_corr=-0.3,
)


def _trial_blrm(**options):
    settings_ = dict(TRIAL, start=1, max_n=18, labels=LABELS)
    settings_.update(options)
    return BLRM(DOSES, **settings_)


# --- the fixed grid against adaptive integration ------------------------------------------


def _reference(design_options, n, y, pending_level, pending_weight, extra_levels):
    """Posterior mean DLT rates and P(logit p_d >= level) by nested adaptive quadrature.

    ``extra_levels`` (doses,) are logit levels at which P(logit p_d >= level) is also
    returned. The inner integral over log_alpha is split at every cut and at the
    conditional mode; the outer over log_beta at the joint mode.
    """
    doses = np.asarray(design_options["doses"])
    x = np.log(doses / design_options["reference_dose"])
    mu = np.asarray(design_options["prior_mean"])
    sd = np.asarray(design_options["prior_sd"])
    rho = design_options.get("prior_corr", 0.0)
    precision = np.linalg.inv(
        [[sd[0] ** 2, rho * sd[0] * sd[1]], [rho * sd[0] * sd[1], sd[1] ** 2]]
    )
    n, y = np.asarray(n), np.asarray(y)
    pl, pw = np.asarray(pending_level, dtype=int), np.asarray(pending_weight, dtype=float)
    levels = special.logit(np.array([0.16, 0.33]))

    def log_post(a, b):
        z = np.array([a - mu[0], b - mu[1]])
        theta = a + np.exp(b) * x
        value = -0.5 * z @ precision @ z
        value += np.sum(-y * np.logaddexp(0, -theta) - (n - y) * np.logaddexp(0, theta))
        return value + np.sum(np.log1p(-pw * special.expit(theta[pl])))

    mode = optimize.minimize(lambda v: -log_post(*v), mu, method="Nelder-Mead").x
    top = log_post(*mode)
    a_range = (mu[0] - 10 * sd[0], mu[0] + 10 * sd[0])
    b_range = (mu[1] - 7 * sd[1], mu[1] + 7 * sd[1])

    def inner(b):
        a_mode = optimize.minimize_scalar(
            lambda a: -log_post(a, b), bounds=a_range, method="bounded"
        ).x
        cuts = np.concatenate([level - np.exp(b) * x for level in (*levels, extra_levels)])

        def f(a):
            weight = np.exp(log_post(a, b) - top)
            return weight * np.concatenate([[1.0], special.expit(a + np.exp(b) * x), a >= cuts])

        points = [v for v in (a_mode, *cuts) if a_range[0] < v < a_range[1]]
        return integrate.quad_vec(
            f, *a_range, points=points, epsabs=1e-13, epsrel=1e-9, limit=2000
        )[0]

    values = integrate.quad_vec(
        inner, *b_range, points=[mode[1]], epsabs=1e-13, epsrel=1e-9, limit=2000
    )[0]
    values = values[1:] / values[0]
    k = doses.size
    return values[:k], values[k : 2 * k], values[2 * k : 3 * k], values[3 * k :]


CASES = [
    ("trial", [0, 3, 3, 0, 0], [0, 0, 1, 0, 0], [], []),
    ("trial", [0, 6, 6, 3, 0], [0, 0, 1, 2, 0], [], []),
    ("trial", [3, 9, 6, 0, 0], [1, 0, 0, 0, 0], [], []),
    ("trial", [0, 3, 6, 3, 0], [0, 0, 1, 1, 0], [3, 3, 2], [0.25, 0.6, 0.9]),
    ("trial", [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 1], [0.5, 0.1]),
    ("other", [3, 3, 6, 3, 0, 0], [0, 0, 1, 2, 0, 0], [], []),
    ("other", [3, 3, 3, 3, 3, 2], [0, 0, 0, 1, 1, 2], [5], [0.7]),
    ("trial, 30", [9, 6, 9, 6, 0], [1, 0, 2, 3, 0], [], []),
    ("other, 30", [6, 6, 6, 6, 3, 1], [0, 1, 1, 2, 3, 1], [3, 4], [0.2, 0.5]),
]


@pytest.mark.parametrize(("which", "n", "y", "pending_level", "pending_weight"), CASES)
def test_grid_agrees_with_adaptive_integration_to_1e3(which, n, y, pending_level, pending_weight):
    options = dict(TRIAL, doses=DOSES) if which.startswith("trial") else dict(OTHER)
    max_n = None if which.endswith("30") else 18
    assert sum(n) + len(pending_level) <= (max_n or 30)
    design = BLRM(**options, window=28.0, max_n=max_n)
    pending = PendingBatch(
        level=np.array([pending_level], dtype=int).reshape(1, -1),
        weight=np.array([pending_weight], dtype=float).reshape(1, -1),
        mask=np.ones((1, len(pending_level)), dtype=bool),
    )
    fit = design._fit(np.array(n), np.array(y), pending, np.zeros(len(n), dtype=int))
    mean, above_low, above_high, above_median = _reference(
        options, n, y, pending_level, pending_weight, special.logit(fit.ptox_median)
    )
    np.testing.assert_allclose(fit.ptox_mean, mean, atol=1e-3)
    np.testing.assert_allclose(fit.prob_under, 1 - above_low, atol=1e-3)
    np.testing.assert_allclose(fit.prob_target, above_low - above_high, atol=1e-3)
    np.testing.assert_allclose(fit.prob_over, above_high, atol=1e-3)
    np.testing.assert_allclose(above_median, 0.5, atol=1e-3)
    batch = design.decide(
        EscalationState.of(np.array([n]), np.array([y]), np.array([0]), pending=pending)
    )
    np.testing.assert_allclose(batch.prob_over[0], above_high, atol=1e-3)


def test_more_dlts_can_move_the_two_parameter_model_up():
    """A DLT at the lowest dose, with none above, flattens the fitted curve: P(overdose) at
    DL3 falls (checked by adaptive integration) and DL3 becomes admissible. The BLRM is not
    monotone in DLTs; a one-parameter model (CRM) is."""
    n = [3, 9, 6, 0, 0]
    options = dict(TRIAL, doses=DOSES)
    _, _, without, _ = _reference(options, n, [0, 0, 0, 0, 0], [], [], np.zeros(5))
    _, _, with_dlt, _ = _reference(options, n, [1, 0, 0, 0, 0], [], [], np.zeros(5))
    assert without[3] > 0.25 > with_dlt[3]
    blrm = _trial_blrm(max_n=None)
    before = blrm.decide(EscalationState.of(np.array([n]), np.zeros((1, 5), int), np.array([0])))
    after = blrm.decide(
        EscalationState.of(np.array([n]), np.array([[1, 0, 0, 0, 0]]), np.array([0]))
    )
    assert not before.admissible[0, 3] and after.admissible[0, 3]
    assert after.next_dose[0] > before.next_dose[0]


# --- decisions --------------------------------------------------------------------------


def _one(design, n, y, current=1):
    d = design.decide(EscalationState.of(np.array([n]), np.array([y]), np.array([current])))
    return d, design.rules[int(d.rule[0])][0]


def test_first_cohort_goes_to_the_start_dose():
    decision, rule = _one(_trial_blrm(), [0] * 5, [0] * 5)
    assert decision.next_dose[0] == 1 and rule == "start"


def test_an_inadmissible_start_dose_is_replaced_by_the_highest_admissible_below():
    cautious = _trial_blrm(start=4, prior_mean=(0.0, 0.5))
    decision, rule = _one(cautious, [0] * 5, [0] * 5)
    assert rule == "start"
    first = int(decision.next_dose[0])
    assert first < 4
    assert decision.admissible[0, first] and not decision.admissible[0, first + 1]


def test_escalation_is_limited_to_max_step_above_the_highest_dose_tried():
    options = dict(reference_dose=30.0, prior_mean=(-1.0, 0.0), prior_sd=(1.0, 0.5))
    n, y = [6, 0, 0, 0, 0], [0, 0, 0, 0, 0]
    one, rule_one = _one(BLRM((10, 20, 30, 40, 50), **options, max_step=1), n, y, current=0)
    two, rule_two = _one(BLRM((10, 20, 30, 40, 50), **options, max_step=2), n, y, current=0)
    admissible, target = one.admissible[0], one.prob_target[0]
    best = int(np.argmax(np.where(admissible, target, -1)))
    assert best == 2, "the example needs the best admissible dose two levels up"
    assert one.next_dose[0] == 1 and rule_one == "maximum step"
    assert two.next_dose[0] == 2 and rule_two == "model"


def test_ewoc_stops_when_no_dose_is_admissible():
    decision, rule = _one(_trial_blrm(), [3, 3, 0, 0, 0], [3, 3, 0, 0, 0], current=0)
    assert decision.stop[0] and np.isnan(decision.next_dose[0]) and np.isnan(decision.mtd[0])
    assert rule == "EWOC" and not decision.admissible.any()


def test_sample_size_stop_declares_the_best_tried_admissible_dose():
    n, y = [0, 6, 6, 6, 0], [0, 0, 1, 3, 0]
    decision, rule = _one(_trial_blrm(), n, y, current=3)
    assert decision.stop[0] and rule == "sample size"
    tried_admissible = decision.admissible[0] & (np.array(n) > 0)
    best = np.argmax(np.where(tried_admissible, decision.prob_target[0], -1))
    assert decision.mtd[0] == best and tried_admissible[best]


def test_reasons_carry_the_numbers_that_decided():
    blrm = _trial_blrm()
    decision = blrm.recommend([1, 1, 1, 2, 2, 2, 3, 3, 3], [0, 0, 0, 0, 0, 1, 1, 1, 0])
    fit = blrm.fit([1, 1, 1, 2, 2, 2, 3, 3, 3], [0, 0, 0, 0, 0, 1, 1, 1, 0])
    rule, message = decision.reasons[0]
    chosen = decision.next_dose
    assert rule == "model"
    assert f"at {LABELS[chosen]} = {fit.prob_target[chosen]:.2f}" in message
    blocked = int(np.flatnonzero(~fit.admissible)[0])
    assert (
        "EWOC",
        f"P(DLT rate at {LABELS[blocked]} >= 0.33) = {fit.prob_over[blocked]:.2f} >= 0.25: "
        f"{LABELS[blocked]} not admissible",
    ) in decision.reasons


def test_summary_agrees_with_the_fit_and_the_decision():
    blrm = _trial_blrm()
    level, dlt = [1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 0]
    fit = blrm.fit(level, dlt)
    assert isinstance(fit, BLRMFit)
    table = blrm.recommend(level, dlt).summary()
    np.testing.assert_allclose(table["prob_over"], fit.prob_over)
    np.testing.assert_allclose(table["ptox_median"], fit.ptox_median)
    assert table["admissible"].tolist() == fit.admissible.tolist()
    np.testing.assert_allclose(
        fit.prob_under + fit.prob_target + fit.prob_over, np.ones(5), atol=1e-12
    )
    np.testing.assert_allclose(fit.prob_exceeds(0.33), fit.prob_over, atol=1e-12)
    assert np.all(np.diff(fit.prob_over) >= 0)
    assert fit.summary()["dose"].tolist() == list(LABELS)


def test_fit_is_read_only():
    fit = _trial_blrm().fit([1, 1, 1], [0, 0, 1])
    with pytest.raises(ValueError, match="read-only"):
        fit.prob_over[0] = 0.5


def test_tite_summary_uses_pending_patients():
    blrm = _trial_blrm(window=28.0)
    level, dlt, followup = [1, 1, 1, 2, 2, 2], [0] * 6, [None] * 3 + [3, 4, 5]
    decision = blrm.recommend(level, dlt, followup)
    fit = blrm.fit(level, dlt, followup)
    np.testing.assert_allclose(decision.summary()["ptox_mean"], fit.ptox_mean)
    assert fit.pending_at_dose.tolist() == [0, 0, 3, 0, 0]
    assert not np.allclose(fit.ptox_mean, blrm.fit([1, 1, 1], [0, 0, 0]).ptox_mean)


def test_non_tite_blrm_waits_for_pending_patients_that_could_change_the_decision():
    decision = _trial_blrm().recommend(
        [1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 0, 0], [None] * 3 + [3, 4, 5]
    )
    assert decision.wait and decision.next_dose is None


# --- the batch method is the one-trial path ---------------------------------------------


@pytest.mark.parametrize("window", [None, 28.0])
def test_batch_decide_equals_one_trial_recommend(window):
    blrm = _trial_blrm(window=window)
    rng = np.random.default_rng(7)
    trials, n, y, current, level, weight, mask = [], [], [], [], [], [], []
    for _ in range(120):
        patients = int(rng.integers(1, 19))
        lv = np.clip(np.cumsum(rng.integers(-1, 2, patients)) + 1, 0, 4)
        dl = rng.binomial(1, np.array([0.05, 0.1, 0.2, 0.35, 0.5])[lv])
        fu = np.full(patients, np.nan)
        if window is not None:
            recent = (np.arange(patients) >= patients - int(rng.integers(0, 4))) & (dl == 0)
            fu[recent] = rng.uniform(0, 28, recent.sum())
        pending = (dl == 0) & np.isfinite(fu)
        trials.append((lv, dl, fu))
        n.append(np.bincount(lv[~pending], minlength=5))
        y.append(np.bincount(lv[~pending], weights=dl[~pending], minlength=5).astype(int))
        current.append(lv[-1])
        slots = np.zeros(3, dtype=int)
        slots[: pending.sum()] = lv[pending]
        w = np.zeros(3)
        w[: pending.sum()] = np.minimum(1, fu[pending] / 28)
        level.append(slots)
        weight.append(w)
        mask.append(np.arange(3) < pending.sum())
    batch_pending = None
    if window is not None:
        batch_pending = PendingBatch(np.array(level), np.array(weight), np.array(mask))
    batch = blrm.decide(
        EscalationState.of(np.array(n), np.array(y), np.array(current), pending=batch_pending)
    )
    for t, (lv, dl, fu) in enumerate(trials):
        one = blrm.recommend(lv, dl, fu if window is not None else None)
        expected_next = None if np.isnan(batch.next_dose[t]) else int(batch.next_dose[t])
        expected_mtd = None if np.isnan(batch.mtd[t]) else int(batch.mtd[t])
        assert (one.next_dose, one.mtd, one.stop) == (expected_next, expected_mtd, batch.stop[t])
        assert one.admissible.tolist() == batch.admissible[t].tolist()


# --- properties -------------------------------------------------------------------------

counts = st.lists(st.integers(0, 6), min_size=5, max_size=5)


@settings(max_examples=150, deadline=None)
@given(n=counts, data=st.data(), max_step=st.integers(1, 2))
def test_never_recommends_an_inadmissible_dose_nor_steps_too_far(n, data, max_step):
    blrm = _trial_blrm(max_step=max_step, max_n=None)
    y = [data.draw(st.integers(0, k)) for k in n]
    decision, _ = _one(blrm, n, y, current=data.draw(st.integers(0, 4)))
    tried = [d for d in range(5) if n[d] > 0]
    ceiling = max(tried) + max_step if tried else 1
    if decision.stop[0]:
        assert not decision.admissible[0, : ceiling + 1].any()
        return
    chosen = int(decision.next_dose[0])
    assert decision.admissible[0, chosen]
    assert decision.prob_over[0, chosen] < 0.25
    assert chosen <= ceiling


@settings(max_examples=150, deadline=None)
@given(n=counts, data=st.data())
def test_a_dlt_never_lowers_the_overdose_probability_at_its_own_dose(n, data):
    blrm = _trial_blrm(max_n=None)
    y = [data.draw(st.integers(0, k)) for k in n]
    room = [d for d in range(5) if n[d] > y[d]]
    if not room:
        return
    d = data.draw(st.sampled_from(room))
    worse = list(y)
    worse[d] += 1
    before, _ = _one(blrm, n, y)
    after, _ = _one(blrm, n, worse)
    assert after.prob_over[0, d] >= before.prob_over[0, d] - 1e-3
    assert after.prob_under[0, d] <= before.prob_under[0, d] + 1e-3


@settings(max_examples=50, deadline=None)
@given(level=st.lists(st.integers(0, 4), min_size=1, max_size=15), data=st.data())
def test_tite_with_complete_follow_up_equals_the_blrm(level, data):
    dlt = [data.draw(st.integers(0, 1)) for _ in level]
    followup = [data.draw(st.floats(28.0, 400.0)) for _ in level]
    tite, plain = _trial_blrm(window=28.0), _trial_blrm()
    a, b = tite.fit(level, dlt, followup), plain.fit(level, dlt)
    np.testing.assert_allclose(a.prob_over, b.prob_over, atol=1e-5)
    np.testing.assert_allclose(a.ptox_mean, b.ptox_mean, atol=1e-5)
    one, other = tite.recommend(level, dlt, followup), plain.recommend(level, dlt)
    assert (one.next_dose, one.mtd, one.stop) == (other.next_dose, other.mtd, other.stop)


# --- the design object ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(doses=(1.0, -2.0)), "positive"),
        (dict(doses=(2.0, 1.0)), "increase strictly"),
        (dict(reference_dose=0.0), "reference_dose"),
        (dict(prior_mean=(0.0,)), "prior_mean"),
        (dict(prior_sd=(1.0, 0.0)), "prior_sd"),
        (dict(prior_corr=1.0), "prior_corr"),
        (dict(intervals=(0.33, 0.16)), "intervals"),
        (dict(ewoc=1.5), "ewoc"),
        (dict(max_step=0), "max_step"),
        (dict(start=7), "start dose"),
        (dict(window=0.0), "window"),
        (dict(max_n=-3), "max_n"),
        (dict(labels=("a", "b")), "labels"),
    ],
)
def test_constructor_rejects_bad_input_in_clinical_words(changes, message):
    arguments = dict(TRIAL, doses=DOSES)
    arguments.update(changes)
    with pytest.raises(ValueError, match=message):
        BLRM(**arguments)


def test_design_is_immutable_comparable_and_readable():
    blrm = _trial_blrm()
    with pytest.raises(AttributeError, match="immutable"):
        blrm.ewoc = 0.5
    assert blrm == _trial_blrm() and hash(blrm) == hash(_trial_blrm())
    assert blrm != _trial_blrm(ewoc=0.3)
    assert repr(blrm).startswith("BLRM(doses=(50000000.0, 100000000.0, 300000000.0")
    assert "ewoc=0.25" in repr(blrm) and "start=DL1" in repr(blrm)
    assert repr(_trial_blrm(window=28.0)).startswith("TITE-BLRM(")
