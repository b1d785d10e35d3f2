"""The engines under the simulator: decisions kept by count graph equal the
designs' own decide on random states; the calendar walk's rules of enrolment; the interim
posteriors against closed forms."""

import types

import numpy as np
import pytest
from scipy.special import betaincinv
from scipy.stats import beta as beta_dist
from scipy.stats import kstest

from dartnk.adaptive import _count_graph
from dartnk.adaptive._count_graph import (
    CountGraph,
    pending_state,
    reads_cohort,
    stored_next_dose,
)
from dartnk.adaptive.trial_walk import PENDING, ArmSlots, next_eligible, walk_phase1
from dartnk.analyses import build_design, default_protocol
from dartnk.analyses.simulation_draws import LOGIT_LIMIT, beta_draws, normal_draws, uniforms
from dartnk.analyses.simulation_interim import _pooled_sd_of_cells

PROTOCOL = default_protocol()
NON_TITE = ("3+3", "BOIN", "CRM", "BLRM")


def _random_states(rng, count, cap):
    """Random per-dose counts with pending patients, as the calendar walk meets them."""
    n = rng.integers(0, cap + 1, (count, 5))
    y = rng.binomial(n, rng.uniform(0.0, 0.6, n.shape))
    pending = np.zeros((count, 5), dtype=np.int64)
    current = rng.integers(0, 5, count)
    extra = rng.integers(0, 3, count)
    pending[np.arange(count), current] = extra
    recent = rng.integers(0, extra + 1)
    flag = rng.random(count) < 0.3
    return n, y, current, pending, recent, flag


@pytest.mark.parametrize("name", NON_TITE)
def test_kept_decisions_equal_the_designs_own_decide_on_random_states(name):
    design = build_design(PROTOCOL, name)
    cap = 6 if name == "3+3" else 4
    rng = np.random.default_rng(np.random.SeedSequence(17))
    n, y, current, pending, recent, flag = _random_states(rng, 300, cap)
    if name == "3+3":
        pending = np.minimum(pending, np.maximum(6 - n, 0))
        recent = np.minimum(recent, pending[np.arange(300), current])
    graph = CountGraph(design, 5)
    cohort = (recent, flag) if graph.cohort else ()
    twice = [graph.decisions(graph.nodes_of(n, y, pending, current), *cohort) for _ in range(2)]
    state = pending_state(n, y, current, pending, recent, flag if graph.cohort else None)
    direct = design.decide(state)
    expected_next = np.where(
        direct.stop | direct.wait, -1, np.nan_to_num(direct.next_dose, nan=-1)
    ).astype(int)
    for kept in twice:
        np.testing.assert_array_equal(kept.next_dose, expected_next)
        np.testing.assert_array_equal(kept.stop, direct.stop)
        np.testing.assert_array_equal(kept.rule, direct.rule)
        np.testing.assert_array_equal(kept.mtd, direct.mtd)


def test_a_hash_collision_between_two_states_is_detected(monkeypatch):
    """Two count states given one key (a hash made constant) raise instead of sharing a
    node."""
    graph = CountGraph(build_design(PROTOCOL, "BOIN"), 5)
    monkeypatch.setattr(_count_graph, "_hash", lambda digits: np.zeros(len(digits), np.int64))
    zero = np.zeros((1, 5), dtype=np.int64)
    first = graph.nodes_of(zero, zero, zero, np.array([0]))
    np.testing.assert_array_equal(graph.nodes_of(zero, zero, zero, np.array([0])), first)
    other = zero.copy()
    other[0, 2] = 3
    with pytest.raises(RuntimeError, match="share one 64-bit key"):
        graph.nodes_of(other, zero, zero, np.array([0]))


@pytest.mark.parametrize("name", NON_TITE)
def test_the_count_graph_follows_events_to_the_decisions_of_the_states(name):
    design = build_design(PROTOCOL, name)
    graph = CountGraph(design, 5)
    rng = np.random.default_rng(np.random.SeedSequence(3))
    trials = 64
    n = np.zeros((trials, 5), dtype=np.int64)
    y, pending = n.copy(), n.copy()
    current = np.full(trials, design.start)
    node = graph.nodes_of(n, y, pending, current)
    rows = np.arange(trials)
    for _ in range(12):
        dose = rng.integers(0, 5, trials)
        room = n[rows, dose] + pending[rows, dose] < 5
        enrol = room & ((pending.sum(axis=1) == 0) | (rng.random(trials) < 0.5))
        outcome = rng.integers(0, 3, trials)
        at = np.where(enrol, dose, np.argmax(pending > 0, axis=1))
        has = pending[rows, at] > 0
        idle = ~enrol & ~has
        enrol &= ~idle
        moving = np.flatnonzero(~idle)
        code = np.where(enrol, dose, 5 + 3 * at + outcome)[moving]
        node[moving] = graph.child(node[moving], code)
        change = np.where(enrol, 1, -1) * ~idle
        pending[rows, at] += change
        current = np.where(enrol, dose, current)
        resolved = ~enrol & ~idle
        n[rows, at] += resolved & (outcome != 2)
        y[rows, at] += resolved & (outcome == 1)
        if graph.cohort:
            at_current = pending[rows, current]
            recent = rng.integers(0, np.minimum(at_current, design.cohort_size) + 1)
            flag = rng.random(trials) < 0.4
            kept = graph.decisions(node, recent, flag)
        else:
            recent, flag = np.zeros(trials, int), rows < 0
            kept = graph.decisions(node)
        state = pending_state(n, y, current, pending, recent, flag if graph.cohort else None)
        expected = design.decide(state)
        np.testing.assert_array_equal(kept.next_dose, stored_next_dose(expected))
        np.testing.assert_array_equal(kept.stop, expected.stop)
        np.testing.assert_array_equal(kept.mtd, expected.mtd)
        np.testing.assert_array_equal(graph.n[node], n)


def test_the_explored_graph_holds_every_state_a_walk_of_the_3_3_meets():
    """The 3+3's reachable states fit the exploration's budget, so walks from an arm's first
    state, in every scenario, make no node and ask for no decision the exploration did not."""
    from dartnk.adaptive.trial_walk import _count_graph
    from dartnk.analyses.simulation import simulate_trials

    design = build_design(PROTOCOL, "3+3")
    graph = _count_graph(design)
    explored, decided = graph.size, int(graph.decided.sum())
    can_ask = graph.pending[:explored].sum(axis=1) < design.cohort_size
    assert graph.decided[:explored][can_ask].all()
    simulate_trials(PROTOCOL, designs=["3+3"], scenarios=None, n_trials=1000, seed=5)
    assert _count_graph(design) is graph
    assert (graph.size, int(graph.decided.sum())) == (explored, decided)


def test_only_the_coherent_crm_reads_the_most_recent_cohort():
    assert reads_cohort(build_design(PROTOCOL, "CRM"))
    assert not any(reads_cohort(build_design(PROTOCOL, n)) for n in ("3+3", "BOIN", "BLRM"))


def test_pending_state_places_the_recent_patients_at_the_current_dose():
    n = np.array([[0, 3, 0, 0, 0]])
    pending = np.array([[0, 1, 2, 0, 0]])
    state = pending_state(n, n * 0, np.array([2]), pending, np.array([1]), None)
    assert state.pending.level[0].tolist() == [1, 2, 2]
    assert state.recent[0].tolist() == [False, True, False]
    assert state.n_pending[0].tolist() == [0, 1, 2, 0, 0]


def _slots(trials, arms, count, *, delay=10.0, dlt=0.99):
    shape = (trials, arms, count)
    return ArmSlots(
        infusion_delay=np.full(shape, delay),
        failure_delay=np.full(shape, 20.0),
        dlt_uniform=np.full(shape, dlt),
        onset_day=np.full(shape, 5.0),
        dropout_day=np.full(shape, np.inf),
    )


def _check_cohort_registers(monkeypatch):
    """Make every step of a walk with cohort registers first compare them, on all its
    unfinished trials, with the most recent cohort read from the slots; return the number
    of (trial, arm) pairs compared."""
    from dartnk.adaptive import trial_walk

    step = trial_walk._Walk.step
    compared = [0]

    def checked(self, rows):
        if self.ring is not None and rows.size:
            pairs = (rows[:, None] * self.arms + self.arm_index).reshape(-1)
            in_cohort, flag = self._cohort(pairs, self.current_flat[pairs])
            pending = (in_cohort & (self.status_rows[pairs] == PENDING)).sum(axis=1)
            recent, kept_flag = self._recent_cohort(pairs)
            np.testing.assert_array_equal(recent, pending)
            np.testing.assert_array_equal(kept_flag, flag)
            compared[0] += pairs.size
        return step(self, rows)

    monkeypatch.setattr(trial_walk._Walk, "step", checked)
    return compared


def test_the_crm_cohort_register_is_the_most_recent_cohort_at_every_step(monkeypatch):
    """Product failures and withdrawals (patients who are not evaluable, and replaced) and
    DLTs at every dose: the register kept per arm equals the cohort read from the slots."""
    compared = _check_cohort_registers(monkeypatch)
    rng = np.random.default_rng(np.random.SeedSequence(23))
    trials, arms, count, k = 200, 3, 60, 2000
    shape = (trials, arms, count)
    slots = ArmSlots(
        infusion_delay=np.where(rng.random(shape) < 0.3, np.inf, rng.uniform(5, 20, shape)),
        failure_delay=rng.uniform(10, 30, shape),
        dlt_uniform=rng.random(shape),
        onset_day=rng.uniform(1, 28, shape),
        dropout_day=np.where(rng.random(shape) < 0.25, rng.uniform(0, 28, shape), np.inf),
    )
    arrival = np.cumsum(rng.exponential(1.0, (trials, k)), axis=1)
    eligible = rng.integers(1, 8, (trials, k)).astype(np.uint8)
    walk_phase1(
        build_design(PROTOCOL, "CRM"),
        np.tile([0.05, 0.15, 0.3, 0.45, 0.6], (arms, 1)),
        arrival,
        eligible,
        slots,
        max_wait=14.0,
        window=28.0,
    )
    assert compared[0] > 20 * trials * arms


def test_the_crm_cohort_register_holds_from_a_data_cut(monkeypatch):
    from dartnk.analyses import example_data, load_trial
    from dartnk.analyses.simulation_forward import simulate_forward

    compared = _check_cohort_registers(monkeypatch)
    simulate_forward(
        load_trial(example_data()), design="CRM", scenarios=["default"], n_trials=100, seed=4
    )
    assert compared[0] > 0


def test_an_arm_takes_patients_only_while_fewer_than_a_cohort_are_pending():
    design = build_design(PROTOCOL, "3+3")
    trials, k = 2, 300
    arrival = np.tile(np.arange(1, k + 1, dtype=float), (trials, 1))
    eligible = np.full((trials, k), 0b001, dtype=np.uint8)
    walk = walk_phase1(
        design,
        np.full((3, 5), 0.0),
        arrival,
        eligible | 0b110,
        _slots(trials, 3, 40),
        max_wait=0.0,
        window=28.0,
    )
    enrol = walk.enrol[0, 0]
    resolve = walk.resolve[0, 0]
    order = np.argsort(enrol)
    for j in order[np.isfinite(enrol[order])]:
        open_before = np.sum((enrol < enrol[j]) & (resolve > enrol[j]))
        assert open_before < 3
    assert np.isnan(walk.mtd[0, 0]) or walk.mtd[0, 0] == 4


def test_patients_go_to_the_open_arm_with_the_fewest_and_wait_for_a_full_one():
    design = build_design(PROTOCOL, "3+3")
    arrival = np.arange(1.0, 400.0)[None, :]
    eligible = np.full(arrival.shape, 0b111, dtype=np.uint8)
    walk = walk_phase1(
        design,
        np.zeros((3, 5)),
        arrival,
        eligible,
        _slots(1, 3, 40),
        max_wait=28.0,
        window=28.0,
    )
    first = np.sort(walk.enrol[0][:, 0])
    np.testing.assert_array_equal(first, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("count", [1, 2, 3, 7, 128, 384])
def test_next_eligible_is_the_first_eligible_patient_at_or_after_each_index(count):
    rng = np.random.default_rng(count)
    eligible = rng.integers(0, 8, size=(6, count), dtype=np.uint8)
    eligible[0] = 0
    eligible[1] = 0b010
    table = next_eligible(eligible, 3)
    assert table.shape == (6, 3, count + 1)
    for t in range(6):
        for a in range(3):
            for k in range(count + 1):
                after = [j for j in range(k, count) if eligible[t, j] >> a & 1]
                assert table[t, a, k] == (after[0] if after else count)


@pytest.mark.parametrize("shape", [(1,), (7,), (4, 256), (3, 5, 2)])
def test_uniforms_are_the_generators_single_precision_uniforms(shape):
    ours, numpys = np.random.default_rng(3), np.random.default_rng(3)
    values = uniforms(ours, shape)
    expected = numpys.random(shape, dtype=np.float32)
    np.testing.assert_array_equal(values, expected)
    assert values.dtype == np.float32 and values.min() >= 0 and values.max() < 1
    if values.size % 2 == 0:
        np.testing.assert_array_equal(ours.random(9), numpys.random(9))
    out = np.empty((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="C-contiguous float32"):
        uniforms(ours, out=out[:, :2])


def test_beta_draws_are_the_beta_quantiles_of_their_uniforms():
    """Each draw is the Beta quantile (SciPy's betaincinv, double precision) of the
    generator's next single-precision uniform, within 2e-5 over the simulation's range of
    posteriors, far tails included."""
    a = np.repeat([0.5, 1.0, 1.5, 3.0, 13.5, 40.0, 60.0], 7)
    b = np.tile([0.5, 1.0, 2.0, 6.0, 13.0, 41.5, 60.0], 7)
    draws = beta_draws(np.random.default_rng(8), a, b, 4000)
    u = np.random.default_rng(8).random((a.size, 4000), dtype=np.float32).astype(float)
    exact = betaincinv(a[:, None], b[:, None], u)
    assert np.abs(draws - exact).max() < 2e-5
    logit = np.log(u) - np.log1p(-u)
    assert (np.abs(logit) >= LOGIT_LIMIT).any()


class _FixedUniforms:
    """A generator stand-in whose uniforms are given (on the grid of 2^-24): its bit
    generator's raw outputs are the 64-bit words whose 32-bit halves give them."""

    def __init__(self, u):
        words = (np.round(np.ravel(u).astype(float) * 2**24).astype(np.uint64)) << np.uint64(8)
        if words.size % 2:
            words = np.append(words, np.uint64(0))
        raw = words[0::2] | (words[1::2] << np.uint64(32))
        self.bit_generator = types.SimpleNamespace(random_raw=lambda n: raw[:n])


def _on_grid(u):
    """Uniforms rounded to the grid of 2^-24, below 1."""
    return np.minimum(np.round(np.asarray(u, dtype=float) * 2**24), 2**24 - 1) / 2**24


def test_beta_draws_are_the_beta_quantiles_up_to_the_edges_of_the_table():
    """Uniforms packed into the outermost cells of the table (logit U within 0.1 of
    +-LOGIT_LIMIT) and across it: every draw within 2e-5 of betaincinv, and exact beyond."""
    edge = LOGIT_LIMIT * (1 - 1e-6)
    t = np.concatenate(
        [
            np.linspace(-edge, edge, 2001),
            np.linspace(LOGIT_LIMIT - 0.1, edge, 500),
            np.linspace(-edge, 0.1 - LOGIT_LIMIT, 500),
            [LOGIT_LIMIT + 0.5, -LOGIT_LIMIT - 0.5],
        ]
    )
    u = _on_grid(1.0 / (1.0 + np.exp(-t))).astype(np.float32)
    for a, b in [(0.5, 0.5), (0.5, 60.0), (60.0, 0.5), (3.0, 13.0), (60.0, 60.0), (1.0, 41.5)]:
        draws = beta_draws(_FixedUniforms(u[None, :]), np.array([a]), np.array([b]), u.size)
        exact = betaincinv(a, b, u.astype(float))
        assert np.abs(draws[0] - exact).max() < 2e-5, (a, b)


def test_beta_draws_follow_their_distribution_and_fill_out_in_place():
    a, b = np.array([[2.5, 0.5], [1.0, 9.0]]), np.array([[7.0, 0.5], [1.0, 2.0]])
    out = np.empty((2, 2, 20_000), dtype=np.float32)
    drawn = beta_draws(np.random.default_rng(4), a, b, 20_000, out=out)
    assert drawn is out
    for i, j in np.ndindex(2, 2):
        result = kstest(out[i, j], beta_dist(a[i, j], b[i, j]).cdf)
        assert result.pvalue > 1e-4
    with pytest.raises(ValueError, match="float32"):
        beta_draws(np.random.default_rng(4), a, b, 10, out=np.empty((2, 2, 10)))


def test_normal_draws_are_independent_standard_normals_in_every_piece():
    out = np.empty((3, 70_001), dtype=np.float32)
    assert normal_draws(np.random.default_rng(8), out=out) is out
    draws = out.ravel().astype(float)
    assert kstest(draws, "norm").pvalue > 1e-4
    piece = draws[: 1 << 16]
    cosine, sine = piece[: 1 << 15], piece[1 << 15 :]
    assert abs(np.corrcoef(cosine, sine)[0, 1]) < 4 / np.sqrt(cosine.size)
    assert abs(np.corrcoef(cosine**2, sine**2)[0, 1]) < 4 / np.sqrt(cosine.size)
    assert kstest(draws[-1001:], "norm").pvalue > 1e-4
    with pytest.raises(ValueError, match="float32"):
        normal_draws(np.random.default_rng(8), out=np.empty(4))


def test_the_pooled_within_dose_sd_is_that_of_the_groups_taken_one_by_one():
    rng = np.random.default_rng(0)
    value = rng.normal(3.0, 1.0, (60, 3, 20))
    known = rng.random(value.shape) < 0.4
    level = rng.integers(0, 5, value.shape)
    expected = np.full((60, 3), np.nan)
    for t, a in np.ndindex(60, 3):
        squares, freedom = 0.0, 0
        for dose in range(5):
            group = value[t, a][known[t, a] & (level[t, a] == dose)]
            if group.size:
                squares += float(((group - group.mean()) ** 2).sum())
                freedom += group.size - 1
        if freedom >= 2:
            expected[t, a] = np.sqrt(squares / freedom)
    cell = (np.arange(60 * 3).reshape(60, 3, 1) * 5 + level)[known]
    pooled = _pooled_sd_of_cells(cell, value[known], 60, 3, 5)
    np.testing.assert_allclose(pooled, expected, rtol=1e-12)
