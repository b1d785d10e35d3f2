"""Simon's two-stage designs: the published optimal and minimax designs, closed forms,
an independent brute-force search, the shared decision rule and exact OC."""

from math import comb

import numpy as np
import pytest
from _monitoring import simulate, within_4_se
from _reference import PUBLISHED
from scipy.stats import binom

from dartnk.adaptive import SimonDesign, SingleArmAction, simon_two_stage

CASES = [
    pytest.param(row, kind, id=f"p0={row['p0']}-p1={row['p1']}-{kind}")
    for row in PUBLISHED["simon_two_stage"]
    for kind in ("optimal", "minimax")
]


@pytest.mark.parametrize(("row", "kind"), CASES)
def test_published_designs(row, kind):
    design = simon_two_stage(row["p0"], row["p1"], row["alpha"], row["beta"], design=kind)
    expected = row[kind]
    assert (design.r1, design.n1, design.r, design.n) == (
        expected["r1"],
        expected["n1"],
        expected["r"],
        expected["n"],
    )
    assert design.en_p0 == pytest.approx(expected["en_p0"], abs=0.005)
    decimals = len(str(expected["pet_p0"]).split(".")[1])
    assert design.pet_p0 == pytest.approx(expected["pet_p0"], abs=0.5 * 10**-decimals)


@pytest.mark.parametrize(("row", "kind"), CASES)
def test_published_designs_meet_their_error_targets(row, kind):
    design = simon_two_stage(row["p0"], row["p1"], row["alpha"], row["beta"], design=kind)
    assert design.type_i_error <= row["alpha"]
    assert design.power >= 1 - row["beta"]


def _closed_form(r1, n1, r, n, p):
    pet = binom.cdf(r1, n1, p)
    reject = sum(binom.pmf(k, n1, p) * binom.sf(r - k, n - n1, p) for k in range(r1 + 1, n1 + 1))
    return pet, n1 + (1 - pet) * (n - n1), reject


@pytest.mark.parametrize(
    ("r1", "n1", "r", "n"), [(1, 10, 5, 29), (3, 13, 12, 43), (0, 5, 3, 12), (2, 8, 2, 9)]
)
@pytest.mark.parametrize("p", [0.05, 0.2, 0.45])
def test_exact_oc_equals_the_closed_forms(r1, n1, r, n, p):
    design = SimonDesign(r1, n1, r, n, p0=0.1, p1=0.3)
    oc = design.exact_oc([p])
    pet, expected_n, reject = _closed_form(r1, n1, r, n, p)
    assert oc.pet[0] == pytest.approx(pet, abs=1e-12)
    assert oc.expected_n[0] == pytest.approx(expected_n, abs=1e-10)
    assert oc.prob_promising[0] == pytest.approx(reject, abs=1e-12)


def _brute_force(p0, p1, alpha, beta, n_max):
    """Every (r1, n1, r, n) in pure Python; the feasible ones with their E[N | p0]."""

    def pmf(k, m, p):
        return comb(m, k) * p**k * (1 - p) ** (m - k)

    def tail(k, m, p):
        return sum(pmf(j, m, p) for j in range(max(k + 1, 0), m + 1))

    feasible = []
    for n in range(2, n_max + 1):
        for n1 in range(1, n):
            for r1 in range(n1):
                for r in range(r1, n):
                    size = sum(
                        pmf(k, n1, p0) * tail(r - k, n - n1, p0) for k in range(r1 + 1, n1 + 1)
                    )
                    if size > alpha:
                        continue
                    power = sum(
                        pmf(k, n1, p1) * tail(r - k, n - n1, p1) for k in range(r1 + 1, n1 + 1)
                    )
                    if power >= 1 - beta:
                        pet = sum(pmf(k, n1, p0) for k in range(r1 + 1))
                        feasible.append((n1 + (1 - pet) * (n - n1), n, r1, n1, r))
                    break
    return feasible


@pytest.mark.parametrize(
    ("p0", "p1", "alpha", "beta"), [(0.2, 0.5, 0.1, 0.2), (0.3, 0.6, 0.05, 0.2)]
)
def test_search_agrees_with_brute_force(p0, p1, alpha, beta):
    feasible = _brute_force(p0, p1, alpha, beta, 22)
    optimal = simon_two_stage(p0, p1, alpha, beta, design="optimal", n_max=22)
    minimax = simon_two_stage(p0, p1, alpha, beta, design="minimax", n_max=22)
    assert optimal.en_p0 == pytest.approx(min(f[0] for f in feasible), abs=1e-9)
    smallest_n = min(f[1] for f in feasible)
    assert minimax.n == smallest_n
    assert minimax.en_p0 == pytest.approx(min(f[0] for f in feasible if f[1] == smallest_n))


@pytest.mark.parametrize(
    ("n", "x", "action"),
    [
        (10, 0, SingleArmAction.STOP_FUTILITY),
        (10, 1, SingleArmAction.STOP_FUTILITY),
        (10, 2, SingleArmAction.CONTINUE),
        (17, 1, SingleArmAction.CONTINUE),
        (29, 5, SingleArmAction.STOP_FUTILITY),
        (29, 6, SingleArmAction.STOP_EFFICACY),
    ],
)
def test_decide_follows_the_convention(n, x, action):
    design = SimonDesign(1, 10, 5, 29, p0=0.1, p1=0.3)
    assert design.decide(np.array([n]), np.array([x]))[0] == action
    assert design.decision(n, x).action == action


def test_boundaries_state_the_convention():
    bounds = SimonDesign(1, 10, 5, 29, p0=0.1, p1=0.3).boundaries()
    assert list(bounds["n"]) == [10, 29]
    assert list(bounds["futility_if_le"]) == [1, 5]
    assert bounds["efficacy_if_ge"].iloc[1] == 6
    assert bounds["efficacy_if_ge"].isna().iloc[0]


@pytest.mark.parametrize(("row", "kind"), CASES)
@pytest.mark.parametrize("which", [0, 1])
def test_exact_oc_agrees_with_simulation(row, kind, which):
    design = simon_two_stage(row["p0"], row["p1"], row["alpha"], row["beta"], design=kind)
    p = (design.p0, design.p1)[which]
    oc = design.exact_oc()
    end_n, action = simulate(design, p, 40_000, seed=3 + which)
    for exact, draws in [
        (oc.prob_promising[which], action == SingleArmAction.STOP_EFFICACY),
        (oc.pet[which], end_n == design.n1),
        (oc.expected_n[which], end_n),
    ]:
        ok, message = within_4_se(exact, draws)
        assert ok, message


def test_reasons_name_the_boundary():
    design = SimonDesign(1, 10, 5, 29, p0=0.1, p1=0.3)
    assert design.decision(10, 1).reasons == (
        ("stage 1", "1 response in 10 <= r1 = 1: stop for futility"),
    )
    assert design.decision(29, 6).reasons == (
        ("final analysis", "6 responses in 29 > r = 5: promising"),
    )


def test_no_design_within_n_max():
    with pytest.raises(ValueError, match="no two-stage design with n <= 10"):
        simon_two_stage(0.1, 0.2, 0.05, 0.1, n_max=10)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((2, 10, 5, 29), None),
        ((1, 10, 5, 10), "must be below the total size"),
        ((10, 10, 12, 29), "stage 1 would always stop"),
        ((3, 10, 2, 29), "final boundary r 2"),
    ],
)
def test_design_validation(args, words):
    if words is None:
        assert SimonDesign(*args, p0=0.1, p1=0.3).n == 29
        return
    with pytest.raises(ValueError, match=words):
        SimonDesign(*args, p0=0.1, p1=0.3)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(p0=0.3, p1=0.3, alpha=0.05, beta=0.2), "must exceed p0"),
        (dict(p0=0.1, p1=0.3, alpha=1.5, beta=0.2), "alpha 1.5 is not a probability"),
        (dict(p0=0.1, p1=0.3, alpha=0.05, beta=0.2, design="best"), "'optimal' or 'minimax'"),
    ],
)
def test_search_validation(kwargs, words):
    with pytest.raises(ValueError, match=words):
        simon_two_stage(**kwargs)


def _exhaustive(p0, p1, alpha, beta, n_max):
    """Every (r1, n1, r, n) with SciPy's binomial, one (n, n1) at a time; the feasible ones
    as (E[N | p0], n, n1, r1, r), with the smallest r meeting alpha per (n, n1, r1)."""
    m = np.arange(n_max + 1)[:, None]
    pmf = {p: binom.pmf(m.T, m, p) for p in (p0, p1)}
    sf = {p: binom.sf(np.arange(-n_max, n_max + 1)[None, :], m, p) for p in (p0, p1)}
    pet = binom.cdf(m.T, m, p0)
    feasible = []
    for n in range(2, n_max + 1):
        for n1 in range(1, n):
            k = np.arange(n1 + 1)[:, None]
            lag = n_max + np.arange(n)[None, :] - k
            terms = [pmf[p][n1, : n1 + 1, None] * sf[p][n - n1, lag] for p in (p0, p1)]
            for r1 in range(n1):
                size, power = (t[r1 + 1 :].sum(axis=0) for t in terms)
                meets = (size <= alpha) & (np.arange(n) >= r1)
                if not meets.any():
                    continue
                r_star = int(np.argmax(meets))
                if power[r_star] >= 1 - beta:
                    en = n1 + (1 - pet[n1, r1]) * (n - n1)
                    feasible.append((en, n, n1, r1, r_star))
    return feasible


def _first_least(designs):
    least = min(d[0] for d in designs)
    return min(d for d in designs if d[0] <= least + 1e-9)[1:]


@pytest.mark.parametrize(
    ("p0", "p1", "alpha", "beta", "n_max"),
    [
        (0.05, 0.25, 0.05, 0.2, 35),
        (0.1, 0.35, 0.1, 0.1, 35),
        (0.25, 0.55, 0.05, 0.1, 35),
        (0.4, 0.65, 0.1, 0.2, 35),
        (0.6, 0.85, 0.05, 0.2, 35),
        (0.7, 0.95, 0.025, 0.1, 35),
        (0.3, 0.5, 0.1, 0.2, 30),
    ],
)
def test_pruned_search_equals_the_exhaustive_search(p0, p1, alpha, beta, n_max):
    feasible = _exhaustive(p0, p1, alpha, beta, n_max)
    smallest_n = min(d[1] for d in feasible)
    expected_minimax = _first_least([d for d in feasible if d[1] == smallest_n])
    expected_optimal = _first_least(feasible)
    for kind, (n, n1, r1, r) in (("minimax", expected_minimax), ("optimal", expected_optimal)):
        design = simon_two_stage(p0, p1, alpha, beta, design=kind, n_max=n_max)
        assert (design.r1, design.n1, design.r, design.n) == (r1, n1, r, n)


def test_exact_ties_go_to_the_smaller_n():
    """At p0 = 1/2, p1 = 4/5 the probabilities are exact fractions: (r1, n1, r, n) =
    (1, 3, 3, 5) and (0, 1, 4, 7) both have E[N | p0] = 4 exactly, the least of all."""
    from fractions import Fraction

    def pmf(k, m, p):
        return comb(m, k) * p**k * (1 - p) ** (m - k)

    def above(j, m, p):
        return sum(pmf(i, m, p) for i in range(max(j + 1, 0), m + 1))

    half, high = Fraction(1, 2), Fraction(4, 5)
    feasible = []
    for n in range(2, 9):
        for n1 in range(1, n):
            for r1 in range(n1):
                for r in range(r1, n):
                    rows = range(r1 + 1, n1 + 1)
                    size = sum(pmf(k, n1, half) * above(r - k, n - n1, half) for k in rows)
                    if size > Fraction(1, 5):
                        continue
                    power = sum(pmf(k, n1, high) * above(r - k, n - n1, high) for k in rows)
                    if power >= Fraction(7, 10):
                        pet = sum(pmf(k, n1, half) for k in range(r1 + 1))
                        feasible.append((n1 + (1 - pet) * (n - n1), n, n1, r1, r))
                    break
    least = min(d[0] for d in feasible)
    assert least == 4
    tied = sorted(d[1:] for d in feasible if d[0] == least)
    assert (5, 3, 1, 3) in tied and (7, 1, 0, 4) in tied
    design = simon_two_stage(0.5, 0.8, 0.2, 0.3, design="optimal", n_max=8)
    assert (design.n, design.n1, design.r1, design.r) == tied[0]


def test_n_max_above_the_limit_is_refused_at_once():
    from dartnk.adaptive.simon import SIMON_N_MAX_LIMIT

    assert SIMON_N_MAX_LIMIT == 1000
    with pytest.raises(ValueError, match="n_max 100000 is above 1000"):
        simon_two_stage(0.15, 0.35, 0.05, 0.2, n_max=100_000)
    assert simon_two_stage(0.15, 0.35, 0.05, 0.2, n_max=1000).n < 100
