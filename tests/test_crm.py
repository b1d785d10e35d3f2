"""CRM and TITE-CRM: dfcrm's published example, the grid against adaptive quadrature,
the batch method against the one-trial path, safety rules, and skeleton calibration."""

import numpy as np
import pytest
from _reference import PUBLISHED
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special, stats

from dartnk.adaptive import CRM, CRMFit, EscalationState, PendingBatch, calibrate_skeleton
from dartnk.adaptive._quadrature import gauss_legendre, tail_weights

REFERENCE = PUBLISHED["dfcrm_crm_doc_example"]
SKELETON = (0.05, 0.12, 0.20, 0.30, 0.40)
LABELS = ("DL-1", "DL1", "DL2", "DL3", "DL4")
Z90 = stats.norm.ppf(0.95)


def _trial_crm(**options):
    settings_ = dict(start=1, stop_prob=0.9, max_n=18, labels=LABELS)
    settings_.update(options)
    return CRM(SKELETON, 0.30, **settings_)


# --- dfcrm's documented example (O'Quigley, Pepe and Fisher 1990 CRM in dfcrm 0.2-2.1) ---


@pytest.mark.parametrize(
    ("model", "key"), [("empiric", "empiric"), ("logistic", "logistic_intercept_3")]
)
def test_reproduces_the_dfcrm_documentation_example(model, key):
    published = REFERENCE[key]
    crm = CRM(REFERENCE["skeleton"], REFERENCE["target"], model=model, intercept=3.0)
    fit = crm.fit(np.array(REFERENCE["level_1based"]) - 1, REFERENCE["dlt"])
    assert isinstance(fit, CRMFit)
    assert fit.beta_mean == pytest.approx(published["beta_mean"], abs=5e-8)
    assert fit.beta_var == pytest.approx(published["beta_var"], abs=5e-8)
    np.testing.assert_allclose(fit.ptox_plugin, published["ptox_plugin"], atol=1e-9)
    assert fit.mtd == published["mtd_1based"] - 1


def test_reproduces_dfcrm_plug_in_limits_empiric():
    published = REFERENCE["empiric"]
    crm = CRM(REFERENCE["skeleton"], REFERENCE["target"])
    fit = crm.fit(np.array(REFERENCE["level_1based"]) - 1, REFERENCE["dlt"])
    np.testing.assert_allclose(fit.ptox_lower, published["ptox_90pct_lower"], atol=1e-9)
    np.testing.assert_allclose(fit.ptox_upper, published["ptox_90pct_upper"], atol=1e-9)


def test_logistic_plug_in_limits_follow_dfcrm_convention():
    published = REFERENCE["logistic_intercept_3"]
    crm = CRM(REFERENCE["skeleton"], REFERENCE["target"], model="logistic")
    fit = crm.fit(np.array(REFERENCE["level_1based"]) - 1, REFERENCE["dlt"])
    x = special.logit(np.array(REFERENCE["skeleton"])) - 3.0
    sd = np.sqrt(published["beta_var"])
    lower = special.expit(3.0 + np.exp(published["beta_mean"] + Z90 * sd) * x)
    upper = special.expit(3.0 + np.exp(published["beta_mean"] - Z90 * sd) * x)
    np.testing.assert_allclose(fit.ptox_lower, lower, atol=1e-7)
    np.testing.assert_allclose(fit.ptox_upper, upper, atol=1e-7)
    # values printed by dfcrm 0.2-2.1 crm(..., model = "logistic") for this example
    np.testing.assert_allclose(fit.ptox_lower[[0, 5]], [0.0126312710785, 0.582995045171], atol=1e-9)
    np.testing.assert_allclose(fit.ptox_upper[[0, 5]], [0.298859688677, 0.832685672551], atol=1e-9)


@pytest.mark.parametrize(
    ("model", "beta_mean", "beta_var", "ptox"),
    [
        # dfcrm 0.2-2.1: titecrm(c(.05,.12,.2,.3,.4), .3, c(0,0,0,0,1,0,0,0),
        #   c(2,2,2,3,3,3,4,4), followup = c(28,28,28,28,10,20,5,14), obswin = 28)
        ("empiric", -0.00255018982022, 0.241448220604, [0.0503829567581, 0.400934585432]),
        ("logistic", 0.0133447503500, 0.0709501877637, [0.0463401767387, 0.389071982501]),
    ],
)
def test_reproduces_dfcrm_titecrm(model, beta_mean, beta_var, ptox):
    crm = CRM(SKELETON, 0.30, model=model, window=28.0)
    fit = crm.fit(
        [1, 1, 1, 2, 2, 2, 3, 3], [0, 0, 0, 0, 1, 0, 0, 0], [None] * 5 + [20.0, 5.0, 14.0]
    )
    assert fit.beta_mean == pytest.approx(beta_mean, abs=1e-9)
    assert fit.beta_var == pytest.approx(beta_var, abs=1e-9)
    np.testing.assert_allclose(fit.ptox_plugin[[0, 4]], ptox, atol=1e-9)
    assert fit.mtd == 3
    assert fit.pending_at_dose.tolist() == [0, 0, 1, 2, 0]


# --- the fixed grid against adaptive integration ------------------------------------------


def _independent_log_posterior(model, skeleton, prior_var, n, y, pending_level, pending_weight):
    s = np.asarray(skeleton)

    def log_post(beta):
        if model == "empiric":
            log_p = np.exp(beta) * np.log(s)
            log_1mp = np.log(-np.expm1(log_p))
        else:
            theta = 3.0 + np.exp(beta) * (np.log(s / (1 - s)) - 3.0)
            log_p, log_1mp = -np.logaddexp(0, -theta), -np.logaddexp(0, theta)
        p = np.exp(log_p)
        value = -0.5 * beta**2 / prior_var + np.sum(y * log_p + (n - y) * log_1mp)
        value += np.sum(np.log1p(-pending_weight * p[pending_level]))
        return value, p

    return log_post


def _random_data(seed, window, max_patients):
    rng = np.random.default_rng(seed)
    patients = int(rng.integers(1, max_patients + 1))
    level = np.minimum(rng.integers(0, 5, patients), rng.integers(0, 5, patients))
    dlt = rng.binomial(1, np.array([0.05, 0.1, 0.25, 0.45, 0.6])[level])
    n = np.bincount(level, minlength=5)
    y = np.bincount(level, weights=dlt, minlength=5).astype(int)
    k = int(rng.integers(0, 5)) if window else 0
    pending_level = rng.integers(0, 5, k)
    pending_weight = rng.uniform(0.0, 1.0, k)
    return n, y, pending_level, pending_weight, float(rng.uniform(0.05, 0.6))


@pytest.mark.parametrize("model", ["empiric", "logistic"])
@pytest.mark.parametrize("window", [None, 28.0])
@pytest.mark.parametrize(
    ("max_n", "seed"), [(18, 0), (18, 1), (18, 2), (60, 3), (60, 4), (None, 5)]
)
def test_grid_agrees_with_adaptive_quadrature_to_1e6(model, window, max_n, seed):
    crm = CRM(SKELETON, 0.30, model=model, window=window, max_n=max_n)
    n, y, pending_level, pending_weight, threshold = _random_data(seed, window, max_n or 100)
    log_post = _independent_log_posterior(
        model, SKELETON, 1.34, n, y, pending_level, pending_weight
    )
    grid = np.linspace(-12, 12, 4801)
    values = np.array([log_post(b)[0] for b in grid])
    top, mode = values.max(), grid[np.argmax(values)]

    def moment(g, lower=-12.0, upper=12.0):
        def f(b):
            return g(b) * np.exp(log_post(b)[0] - top)

        points = [mode] if lower < mode < upper else None
        return integrate.quad(f, lower, upper, points=points, epsabs=0, epsrel=1e-12, limit=400)[0]

    mass = moment(lambda b: 1.0)
    mean = moment(lambda b: b) / mass
    var = moment(lambda b: (b - mean) ** 2) / mass
    ptox_mean = np.array([moment(lambda b, d=d: log_post(b)[1][d]) for d in range(5)]) / mass

    def prob_above(rate, dose):
        beta = optimize.brentq(lambda b: log_post(b)[1][dose] - rate, -12, 12, xtol=1e-14)
        return moment(lambda b: 1.0, upper=beta) / mass

    pending = None
    if window is not None:
        pending = PendingBatch(
            level=pending_level[None, :],
            weight=pending_weight[None, :],
            mask=np.ones((1, pending_level.size), dtype=bool),
        )
    fit = crm._fit(n, y, pending, np.zeros(5, dtype=int))
    assert fit.beta_mean == pytest.approx(mean, abs=1e-6)
    assert fit.beta_var == pytest.approx(var, abs=1e-6)
    np.testing.assert_allclose(fit.ptox_mean, ptox_mean, atol=1e-6)
    exceeds = np.array([prob_above(threshold, d) for d in range(5)])
    np.testing.assert_allclose(fit.prob_exceeds(threshold), exceeds, atol=1e-6)
    batch = crm.decide(EscalationState.of(n[None], y[None], np.array([0]), pending=pending))
    assert batch.beta_mean[0] == pytest.approx(mean, abs=1e-6)
    assert batch.prob_lowest_over[0] == pytest.approx(prob_above(0.30, 0), abs=1e-6)


# --- decisions --------------------------------------------------------------------------


def _one(crm, n, y, current, **options):
    d = crm.decide(EscalationState.of(np.array([n]), np.array([y]), np.array([current]), **options))
    return d.next_dose[0], bool(d.stop[0]), d.mtd[0], crm.rules[int(d.rule[0])][0]


def test_first_cohort_goes_to_the_start_dose():
    next_dose, stop, mtd, rule = _one(_trial_crm(), [0] * 5, [0] * 5, 1)
    assert (next_dose, stop, rule) == (1, False, "start") and np.isnan(mtd)


def test_no_skipping_caps_escalation_at_one_level_above_the_highest_dose_tried():
    crm = _trial_crm()
    free = _trial_crm(no_skip=False)
    n, y = [0, 3, 0, 0, 0], [0, 0, 0, 0, 0]
    assert _one(free, n, y, 1)[0] == 4
    assert _one(crm, n, y, 1)[0] == 2
    assert _one(crm, n, y, 1)[3] == "no skipping"


def test_coherence_blocks_escalation_after_a_dlt_in_the_most_recent_cohort():
    crm = _trial_crm(stop_prob=None)
    n, y = [0, 6, 3, 0, 0], [0, 0, 1, 0, 0]
    assert _one(crm, n, y, 2, last_cohort_dlt=np.array([False]))[0] == 3
    assert _one(crm, n, y, 2, last_cohort_dlt=np.array([True]))[:2] == (2, False)
    assert _one(crm, n, y, 2, last_cohort_dlt=np.array([True]))[3] == "coherence"
    assert _one(_trial_crm(coherent=False), n, y, 2, last_cohort_dlt=np.array([True]))[0] == 3


def test_coherence_without_the_last_cohort_counts_any_dlt_at_the_current_dose():
    crm = _trial_crm(stop_prob=None)
    n, y = [0, 6, 3, 0, 0], [0, 0, 1, 0, 0]
    assert _one(crm, n, y, 2)[0] == 2


def test_recommend_reads_the_most_recent_cohort_from_enrolment_order():
    crm = _trial_crm(stop_prob=None)
    dlt_first = crm.recommend([1, 1, 1, 1, 1, 1, 2, 2, 2], [0] * 6 + [1, 0, 0])
    dlt_before = crm.recommend([2, 2, 2, 1, 1, 1, 1, 1, 1], [1, 0, 0] + [0] * 6)
    assert dlt_first.next_dose == 2
    assert dlt_first.reasons[-1][0] == "coherence"
    assert dlt_before.next_dose == 3


def test_safety_stop_when_the_lowest_dose_is_probably_too_toxic():
    crm = _trial_crm()
    next_dose, stop, mtd, rule = _one(crm, [3, 3, 0, 0, 0], [3, 3, 0, 0, 0], 0)
    assert stop and np.isnan(next_dose) and np.isnan(mtd) and rule == "safety stop"
    decision = crm.recommend([1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1])
    assert decision.stop and decision.mtd is None and not decision.admissible.any()
    assert "P(DLT rate at DL-1 > 0.30) = " in decision.reasons[0][1]


def test_sample_size_stop_declares_the_model_dose_as_mtd():
    crm = _trial_crm()
    next_dose, stop, mtd, rule = _one(crm, [0, 6, 6, 6, 0], [0, 0, 1, 2, 0], 3)
    assert stop and np.isnan(next_dose) and rule == "sample size"
    fit = crm._fit(np.array([0, 6, 6, 6, 0]), np.array([0, 0, 1, 2, 0]), None, np.zeros(5, int))
    assert mtd == fit.mtd


def test_non_tite_crm_waits_when_pending_patients_could_change_the_decision():
    crm = _trial_crm()
    decision = crm.recommend([1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 0, 0], [None] * 3 + [5, 6, 7])
    assert decision.wait and decision.next_dose is None
    assert decision.pending_at_dose.tolist() == [0, 0, 3, 0, 0]


def test_tite_crm_uses_pending_patients_and_shows_them_in_the_summary():
    crm = _trial_crm(window=28.0)
    decision = crm.recommend([1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 0, 0], [None] * 3 + [5, 6, 7])
    assert not decision.wait
    fit = crm.fit([1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 0, 0], [None] * 3 + [5, 6, 7])
    table = decision.summary()
    np.testing.assert_allclose(table["ptox_mean"], fit.ptox_mean)
    assert table["pending"].tolist() == [0, 0, 3, 0, 0]
    completed = crm.fit([1, 1, 1], [0, 0, 0])
    assert not np.allclose(fit.ptox_mean, completed.ptox_mean)


def test_reasons_carry_the_numbers_that_decided():
    crm = _trial_crm()
    decision = crm.recommend([1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 0])
    rule, message = decision.reasons[0]
    assert rule == "model"
    fit = crm.fit([1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 0])
    dose = fit.mtd
    assert f"plug-in DLT rate at {LABELS[dose]} = {fit.ptox_plugin[dose]:.2f}" in message
    assert "target 0.30" in message


def test_summary_columns_agree_with_the_fit():
    crm = _trial_crm()
    fit = crm.fit([1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 0])
    table = fit.summary()
    assert table["dose"].tolist() == list(LABELS)
    np.testing.assert_allclose(table["ptox_plugin"], fit.ptox_plugin)
    np.testing.assert_allclose(table["prob_over_target"], fit.prob_exceeds(0.30))
    decision_table = crm.recommend([1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 0]).summary()
    np.testing.assert_allclose(decision_table["ptox_upper"], fit.ptox_upper)


def test_fit_is_read_only():
    fit = _trial_crm().fit([1, 1, 1], [0, 0, 1])
    with pytest.raises(ValueError, match="read-only"):
        fit.ptox_mean[0] = 0.5


@pytest.mark.parametrize("points", [4, 10])
def test_tail_weights_integrate_polynomials_exactly(points):
    edges = np.array([-2.0, -0.5, 0.3, 2.0])
    nodes, _ = gauss_legendre(edges, points)
    cuts = np.array([-3.0, -2.0, -1.1, -0.5, 0.0, 1.7, 2.0, 2.5])
    weights = tail_weights(edges, points, cuts)
    for degree in range(points):
        exact = (2.0 ** (degree + 1) - np.clip(cuts, -2, 2) ** (degree + 1)) / (degree + 1)
        np.testing.assert_allclose(weights @ nodes**degree, exact, atol=1e-12)


def test_plug_in_interval_brackets_the_plug_in_rate():
    fit = _trial_crm().fit([1, 1, 1, 2, 2, 2, 3, 3, 3], [0, 0, 0, 0, 1, 0, 1, 1, 0])
    assert np.all(fit.ptox_lower < fit.ptox_plugin)
    assert np.all(fit.ptox_plugin < fit.ptox_upper)
    assert np.all(np.diff(fit.prob_exceeds(0.3)) > 0)


# --- the batch method is the one-trial path ---------------------------------------------


def _random_trial(rng, window):
    patients = int(rng.integers(1, 19))
    level = np.clip(np.cumsum(rng.integers(-1, 2, patients)) + 1, 0, 4)
    dlt = rng.binomial(1, np.array([0.05, 0.1, 0.2, 0.35, 0.5])[level])
    followup = np.full(patients, np.nan)
    if window is not None:
        recent = np.arange(patients) >= patients - int(rng.integers(0, 4))
        followup[recent & (dlt == 0)] = rng.uniform(0, 28, (recent & (dlt == 0)).sum())
    return level, dlt, followup


@pytest.mark.parametrize("window", [None, 28.0])
@pytest.mark.parametrize("model", ["empiric", "logistic"])
def test_batch_decide_equals_one_trial_recommend(window, model):
    crm = _trial_crm(window=window, model=model)
    rng = np.random.default_rng(11)
    trials = [_random_trial(rng, window) for _ in range(150)]
    n, y, current, flag, level, weight, mask = [], [], [], [], [], [], []
    for lv, dl, fu in trials:
        pending = (dl == 0) & np.isfinite(fu)
        n.append(np.bincount(lv[~pending], minlength=5))
        y.append(np.bincount(lv[~pending], weights=dl[~pending], minlength=5).astype(int))
        current.append(lv[-1])
        run = 0
        while run < min(3, lv.size) and lv[-1 - run] == lv[-1]:
            run += 1
        flag.append(bool(dl[-run:].any()))
        slots = np.zeros(4, dtype=int)
        slots[: pending.sum()] = lv[pending]
        level.append(slots)
        w = np.zeros(4)
        w[: pending.sum()] = np.minimum(1.0, fu[pending] / 28.0)
        weight.append(w)
        mask.append(np.arange(4) < pending.sum())
    batch_pending = None
    if window is not None:
        batch_pending = PendingBatch(np.array(level), np.array(weight), np.array(mask))
    batch = crm.decide(
        EscalationState.of(
            np.array(n),
            np.array(y),
            np.array(current),
            pending=batch_pending,
            last_cohort_dlt=np.array(flag),
        )
    )
    for t, (lv, dl, fu) in enumerate(trials):
        one = crm.recommend(lv, dl, fu if window is not None else None)
        expected_next = None if np.isnan(batch.next_dose[t]) else int(batch.next_dose[t])
        expected_mtd = None if np.isnan(batch.mtd[t]) else int(batch.mtd[t])
        assert (one.next_dose, one.mtd, one.stop) == (expected_next, expected_mtd, batch.stop[t])


def test_take_keeps_the_posterior_arrays():
    crm = _trial_crm(window=28.0)
    pending = PendingBatch(
        level=np.array([[1, 0], [2, 2]]),
        weight=np.array([[0.5, 0.0], [0.2, 0.9]]),
        mask=np.array([[True, False], [True, True]]),
    )
    batch = crm.decide(
        EscalationState.of(
            np.array([[0, 3, 0, 0, 0], [0, 3, 3, 0, 0]]),
            np.array([[0, 0, 0, 0, 0], [0, 0, 1, 0, 0]]),
            np.array([1, 2]),
            pending=pending,
        )
    )
    second = batch.take(np.array([1]))
    assert second.beta_mean[0] == batch.beta_mean[1]
    assert second.pending.weight.tolist() == [[0.2, 0.9]]


# --- properties -------------------------------------------------------------------------

counts = st.lists(st.integers(0, 6), min_size=5, max_size=5)


def _rank(next_dose, stop, mtd):
    """Order of decisions: stop without MTD lowest, then doses (next or MTD)."""
    if stop and np.isnan(mtd):
        return -1.0
    return mtd if stop else next_dose


@settings(max_examples=150, deadline=None)
@given(n=counts, data=st.data(), model=st.sampled_from(["empiric", "logistic"]))
def test_more_dlts_never_move_a_decision_up(n, data, model):
    crm = _trial_crm(model=model, max_n=None)
    y = [data.draw(st.integers(0, k)) for k in n]
    room = [d for d in range(5) if n[d] > y[d]]
    if not room:
        return
    d = data.draw(st.sampled_from(room))
    worse = list(y)
    worse[d] += 1
    current = data.draw(st.integers(0, 4))
    flag = data.draw(st.booleans())
    before = _one(crm, n, y, current, last_cohort_dlt=np.array([flag]))
    after = _one(crm, n, worse, current, last_cohort_dlt=np.array([flag or d == current]))
    assert _rank(*after[:3]) <= _rank(*before[:3])


@settings(max_examples=150, deadline=None)
@given(n=counts, data=st.data(), window=st.sampled_from([None, 28.0]))
def test_never_skips_an_untried_dose_and_never_escalates_incoherently(n, data, window):
    crm = _trial_crm(window=window, stop_prob=None, max_n=None)
    y = [data.draw(st.integers(0, k)) for k in n]
    current = data.draw(st.integers(0, 4))
    flag = data.draw(st.booleans())
    next_dose, stop, _, _ = _one(crm, n, y, current, last_cohort_dlt=np.array([flag]))
    tried = [d for d in range(5) if n[d] > 0]
    ceiling = max(max(tried) + 1, 1) if tried else 1
    assert not stop and next_dose <= ceiling
    if flag and tried:
        assert next_dose <= current


@settings(max_examples=60, deadline=None)
@given(
    level=st.lists(st.integers(0, 4), min_size=1, max_size=15),
    data=st.data(),
    model=st.sampled_from(["empiric", "logistic"]),
)
def test_tite_with_complete_follow_up_equals_the_crm(level, data, model):
    dlt = [data.draw(st.integers(0, 1)) for _ in level]
    followup = [data.draw(st.floats(28.0, 400.0)) for _ in level]
    tite = _trial_crm(model=model, window=28.0)
    plain = _trial_crm(model=model)
    a, b = tite.fit(level, dlt, followup), plain.fit(level, dlt)
    assert a.beta_mean == pytest.approx(b.beta_mean, abs=1e-12)
    np.testing.assert_allclose(a.ptox_mean, b.ptox_mean, atol=1e-12)
    one, other = tite.recommend(level, dlt, followup), plain.recommend(level, dlt)
    assert (one.next_dose, one.mtd, one.stop) == (other.next_dose, other.mtd, other.stop)


# --- skeleton calibration (Lee and Cheung 2009) -----------------------------------------


def test_calibration_by_hand_empiric():
    r = np.log(0.20) / np.log(0.30)
    expected = [0.25 ** (r**2), 0.25**r, 0.25, 0.25 ** (1 / r), 0.25 ** (1 / r**2)]
    skeleton = calibrate_skeleton(0.25, 5, halfwidth=0.05, prior_mtd=2)
    np.testing.assert_allclose(skeleton, expected, rtol=1e-12)
    # dfcrm 0.2-2.1 getprior(0.05, 0.25, 3, 5) prints 0.0839734913056243 ... 0.460343111085307
    np.testing.assert_allclose(
        skeleton[[0, 4]], [0.0839734913056243, 0.460343111085307], rtol=1e-12
    )


@pytest.mark.parametrize(
    ("target", "halfwidth", "prior_mtd", "n_doses", "intercept", "dfcrm"),
    [
        # dfcrm 0.2-2.1 getprior(0.07, 0.30, 2, 6, model = "logistic", intcpt = 3)
        (0.30, 0.07, 1, 6, 3.0, [0.170271930333398, 0.3, 0.442948849869496, 0.748480690434451]),
        # dfcrm 0.2-2.1 getprior(0.04, 0.20, 4, 6, model = "logistic", intcpt = 4)
        (0.20, 0.04, 3, 6, 4.0, [0.0417927972215708, 0.0762035828740250, 0.2, 0.385376504117513]),
    ],
)
def test_calibration_reproduces_dfcrm_getprior_logistic(
    target, halfwidth, prior_mtd, n_doses, intercept, dfcrm
):
    skeleton = calibrate_skeleton(
        target,
        n_doses,
        halfwidth=halfwidth,
        prior_mtd=prior_mtd,
        model="logistic",
        intercept=intercept,
    )
    picks = [0, 1, 2, 5] if prior_mtd == 1 else [0, 1, 3, 5]
    np.testing.assert_allclose(skeleton[picks], dfcrm, rtol=1e-12)


@pytest.mark.parametrize("model", ["empiric", "logistic"])
@pytest.mark.parametrize(
    ("target", "halfwidth", "prior_mtd"), [(0.25, 0.05, 2), (0.3, 0.08, 0), (0.2, 0.03, 5)]
)
def test_neighbouring_indifference_intervals_meet(model, target, halfwidth, prior_mtd):
    skeleton = calibrate_skeleton(target, 6, halfwidth=halfwidth, prior_mtd=prior_mtd, model=model)
    assert skeleton[prior_mtd] == pytest.approx(target, abs=1e-15)
    assert np.all(np.diff(skeleton) > 0)
    crm = CRM(skeleton, target, model=model)

    def beta_at(dose, rate):
        return optimize.brentq(lambda b: crm.ptox(b)[dose] - rate, -30, 30, xtol=1e-14)

    for k in range(1, 6):
        upper_edge_of_k_minus_1 = beta_at(k - 1, target - halfwidth)
        lower_edge_of_k = beta_at(k, target + halfwidth)
        assert upper_edge_of_k_minus_1 == pytest.approx(lower_edge_of_k, abs=1e-10)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(target=1.2, n_doses=5, halfwidth=0.05, prior_mtd=2), "not a probability"),
        (dict(target=0.25, n_doses=5, halfwidth=0.3, prior_mtd=2), "halfwidth"),
        (dict(target=0.25, n_doses=5, halfwidth=0.05, prior_mtd=5), "prior_mtd"),
        (
            dict(
                target=0.25, n_doses=5, halfwidth=0.05, prior_mtd=2, model="logistic", intercept=-2
            ),
            "intercept",
        ),
    ],
)
def test_calibration_rejects_bad_input(arguments, message):
    with pytest.raises(ValueError, match=message):
        calibrate_skeleton(**arguments)


# --- the design object ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(skeleton=[0.1, 1.2], target=0.3), "not a probability"),
        (dict(skeleton=[0.2, 0.1], target=0.3), "increase strictly"),
        (dict(skeleton=[0.1, 0.2], target=1.3), "target 1.3 is not a probability"),
        (dict(skeleton=[0.1, 0.2], target=0.3, model="probit"), "model"),
        (dict(skeleton=[0.1, 0.99], target=0.3, model="logistic"), "intercept"),
        (dict(skeleton=[0.1, 0.2], target=0.3, prior_var=0), "prior_var"),
        (dict(skeleton=[0.1, 0.2], target=0.3, start=2), "start dose"),
        (dict(skeleton=[0.1, 0.2], target=0.3, window=-1), "window"),
        (dict(skeleton=[0.1, 0.2], target=0.3, stop_prob=1.5), "stop_prob"),
        (dict(skeleton=[0.1, 0.2], target=0.3, max_n=0), "max_n"),
        (dict(skeleton=[0.1, 0.2], target=0.3, cohort_size=0), "cohort_size"),
        (dict(skeleton=[0.1, 0.2], target=0.3, labels=["a"]), "labels"),
    ],
)
def test_constructor_rejects_bad_input_in_clinical_words(arguments, message):
    with pytest.raises(ValueError, match=message):
        CRM(**arguments)


def test_design_is_immutable_comparable_and_readable():
    crm = _trial_crm()
    with pytest.raises(AttributeError, match="immutable"):
        crm.target = 0.2
    assert crm == _trial_crm() and hash(crm) == hash(_trial_crm())
    assert crm != _trial_crm(cohort_size=2)
    assert repr(crm).startswith("CRM(skeleton=(0.05, 0.12, 0.2, 0.3, 0.4), target=0.3")
    assert "start=DL1" in repr(crm)
    assert repr(_trial_crm(window=28.0)).startswith("TITE-CRM(")


def test_batch_input_errors():
    crm = _trial_crm()
    with pytest.raises(ValueError, match="4 doses, the design 5"):
        crm.decide(EscalationState.of(np.zeros((1, 4)), np.zeros((1, 4)), np.array([0])))
    with pytest.raises(ValueError, match="DLTs <= patients"):
        crm.decide(
            EscalationState.of(
                np.array([[1, 0, 0, 0, 0]]), np.array([[2, 0, 0, 0, 0]]), np.array([0])
            )
        )
    with pytest.raises(TypeError, match="EscalationState"):
        crm.decide(np.zeros((1, 5)))
