"""Composite construct selection: scores, P(best), rank probabilities, gates and the
selection rule against plain loops over draws on hand-built inputs; laws (shared ties,
monotone weights, batch equals one trial); the sensitivity analysis against loops over
weight draws and the Dirichlet's closed-form moments."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _geometry import drawn, legend_of

from dartnk.adaptive import (
    ConstructSelection,
    ExceedanceGate,
    SelectionSensitivity,
    safety_gate,
    select_construct,
)

matplotlib.use("Agg")

CONSTRUCTS = ("A", "B", "C")
WEIGHTS = {"safety": 0.35, "efficacy": 0.30, "kinetics": 0.20, "manufacturability": 0.15}
RANGES = {
    "safety": (0.40, 0.10),
    "efficacy": (0.10, 0.40),
    "kinetics": (2.0, 5.0),
    "manufacturability": (0.70, 0.95),
}
BEYOND_BEST = {"safety": 0.05, "efficacy": 0.50, "kinetics": 5.5, "manufacturability": 0.99}
SPREAD = {
    "safety": (0.02, 0.32),
    "efficacy": (0.05, 0.50),
    "kinetics": (1.5, 5.5),
    "manufacturability": (0.60, 1.00),
}


def dataset(values, constructs=CONSTRUCTS):
    """Components from arrays of shape ([trial,] construct, draw)."""
    variables = {}
    for name, array in values.items():
        array = np.asarray(array, dtype=float)
        dims = ("trial", "construct", "draw") if array.ndim == 3 else ("construct", "draw")
        variables[name] = xr.DataArray(array, dims=dims, coords={"construct": list(constructs)})
    return xr.Dataset(variables)


def random_values(seed, n_draws=80, *, copies=0.25, saturated=0.1):
    """Uniform draws per component; in a share of draws C copies A (exact ties), in another
    share every construct is beyond best on every component (all tied at the top)."""
    rng = np.random.default_rng(seed)
    values = {k: rng.uniform(*SPREAD[k], (3, n_draws)) for k in WEIGHTS}
    copy = rng.random(n_draws) < copies
    top = rng.random(n_draws) < saturated
    for name, array in values.items():
        array[2, copy] = array[0, copy]
        array[:, top] = BEYOND_BEST[name] + rng.uniform(0, 0.01, (3, top.sum())) * np.sign(
            BEYOND_BEST[name] - RANGES[name][0]
        )
    return values


def loop_reference(values, weights=WEIGHTS, ranges=RANGES):
    """Scores, P(best) and rank probabilities by plain loops over draws."""
    names = list(weights)
    n_constructs, n_draws = np.shape(values[names[0]])
    score = [[0.0] * n_draws for _ in range(n_constructs)]
    for c in range(n_constructs):
        for s in range(n_draws):
            total = 0.0
            for name in names:
                worst, best = ranges[name]
                d = (values[name][c][s] - worst) / (best - worst)
                total += weights[name] * min(1.0, max(0.0, d))
            score[c][s] = total
    prob_best = [0.0] * n_constructs
    ranks = [[0.0] * n_constructs for _ in range(n_constructs)]
    for s in range(n_draws):
        column = [score[c][s] for c in range(n_constructs)]
        distinct = sorted(set(column), reverse=True)
        position = 0
        for value in distinct:
            group = [c for c in range(n_constructs) if column[c] == value]
            for c in group:
                for r in range(position, position + len(group)):
                    ranks[c][r] += 1.0 / len(group) / n_draws
                if position == 0:
                    prob_best[c] += 1.0 / len(group) / n_draws
            position += len(group)
    return np.array(score), np.array(prob_best), np.array(ranks)


def select(values, **options):
    options.setdefault("weights", WEIGHTS)
    options.setdefault("desirability", RANGES)
    return select_construct(dataset(values), **options)


def test_the_example_result_is_a_selection():
    result = select(random_values(0))
    assert isinstance(result, ConstructSelection)
    assert result.score.dims == ("construct", "draw")
    assert result.rank_probabilities.dims == ("construct", "rank")
    assert list(result.rank_probabilities["rank"].values) == [1, 2, 3]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_scores_prob_best_and_ranks_agree_with_loops(seed):
    values = random_values(seed)
    score, prob_best, ranks = loop_reference(values)
    result = select(values, gates=())
    np.testing.assert_allclose(result.score.values, score, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.expected_score.values, score.mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(result.prob_best.values, prob_best, atol=1e-12)
    np.testing.assert_allclose(result.rank_probabilities.values, ranks, atol=1e-12)
    above = [np.mean([v > 0.6 for v in row]) for row in score]
    np.testing.assert_allclose(result.prob_above(0.6).values, above, atol=1e-12)


@pytest.mark.parametrize("seed", [5, 6, 7])
@pytest.mark.parametrize("without_dose", [None, 1])
def test_rank_probabilities_rows_and_columns_sum_to_one(seed, without_dose):
    values = random_values(seed)
    if without_dose is not None:
        values["safety"][without_dose] = np.nan
    ranks = select(values).rank_probabilities.values
    np.testing.assert_allclose(ranks.sum(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(ranks.sum(axis=1), 1.0, atol=1e-12)


def test_identical_constructs_have_prob_best_near_a_third_and_no_selection():
    rng = np.random.default_rng(11)
    n_draws = 6000
    values = {k: rng.uniform(*SPREAD[k], (3, n_draws)) for k in WEIGHTS}
    result = select(values, gates=())
    se = math.sqrt((1 / 3) * (2 / 3) / n_draws)
    assert np.all(np.abs(result.prob_best.values - 1 / 3) < 4 * se)
    assert result.selected is None
    assert "refer to the safety monitoring committee" in result.decision


def test_identical_draws_share_every_rank_exactly():
    rng = np.random.default_rng(12)
    one = {k: rng.uniform(*SPREAD[k], (1, 50)) for k in WEIGHTS}
    values = {k: np.repeat(v, 3, axis=0) for k, v in one.items()}
    result = select(values)
    assert list(result.prob_best.values) == [1 / 3] * 3
    np.testing.assert_allclose(result.rank_probabilities.values, 1 / 3, atol=1e-15)
    assert result.selected is None


@pytest.mark.parametrize(
    ("saturated", "expected"),
    [((0, 1, 2), [1 / 3, 1 / 3, 1 / 3]), ((0, 1), [1 / 2, 1 / 2, 0.0]), ((2,), [0, 0, 1])],
)
def test_tied_saturated_constructs_share_prob_best_exactly(saturated, expected):
    rng = np.random.default_rng(13)
    values = {}
    for name, (worst, best) in RANGES.items():
        array = np.full((3, 40), worst + 0.5 * (best - worst))
        for c in saturated:
            array[c] = best + (best - worst) * rng.uniform(0.01, 0.5, 40)
        values[name] = array
    result = select(values)
    assert list(result.prob_best.values) == expected
    assert result.selected == ("C" if saturated == (2,) else None)


def test_a_dominating_construct_is_selected_with_rank_one_for_certain():
    rng = np.random.default_rng(14)
    values = {}
    for name, (worst, best) in RANGES.items():
        base = worst + (best - worst) * rng.uniform(0.2, 0.8, (1, 200))
        step = 0.1 * (best - worst)
        values[name] = np.concatenate([base + step, base, base - step])
    result = select(values)
    assert result.selected == "A"
    assert list(result.prob_best.values) == [1.0, 0.0, 0.0]
    np.testing.assert_array_equal(result.rank_probabilities.values, np.eye(3))
    assert bool(result.summary().set_index("construct").loc["A", "selected"])


def _efficacy_leader_values():
    """A has the best efficacy desirability in every draw, B the best safety."""
    rng = np.random.default_rng(15)
    efficacy = np.sort(rng.uniform(0.1, 0.4, (3, 3000)), axis=0)[::-1]
    safety = np.sort(rng.uniform(0.1, 0.4, (3, 3000)), axis=0)[[2, 0, 1]]
    return {"safety": safety, "efficacy": efficacy}


@pytest.mark.parametrize(("low", "high"), [(0.1, 0.3), (0.3, 0.5), (0.5, 0.6), (0.6, 0.9)])
def test_more_weight_on_a_component_favours_the_construct_best_on_it(low, high):
    values = _efficacy_leader_values()
    ranges = {k: RANGES[k] for k in values}

    def prob_best(w):
        weights = {"safety": 1 - w, "efficacy": w}
        return select(values, weights=weights, desirability=ranges).prob_best.values

    before, after = prob_best(low), prob_best(high)
    assert after[0] >= before[0]
    assert after[1] <= before[1]


def _batch_values():
    trials = [random_values(seed) for seed in (21, 22, 23, 24)]
    trials[1]["safety"][2] = np.nan
    for name in WEIGHTS:
        trials[2][name][:] = trials[2][name][0]
    return {k: np.stack([t[k] for t in trials]) for k in WEIGHTS}, trials


@pytest.mark.parametrize("trial", range(4))
def test_a_batch_of_trials_equals_each_trial_alone(trial):
    batch_values, trials = _batch_values()
    batch = select(batch_values)
    alone = select(trials[trial])
    assert batch.batch and not alone.batch
    for name in ("score", "prob_best", "rank_probabilities", "gate_probability", "eligible"):
        xr.testing.assert_identical(
            getattr(batch, name).isel(trial=trial, drop=True), getattr(alone, name)
        )
    assert batch.selected.values[trial] == alone.selected
    rows = batch.summary().query("trial == @trial").drop(columns="trial")
    pd.testing.assert_frame_equal(rows.reset_index(drop=True), alone.summary())


def test_the_selection_of_a_batch_is_labelled_with_none_for_no_selection():
    batch_values, _ = _batch_values()
    result = select(batch_values)
    selected = result.selected
    assert selected.dims == ("trial",) and selected.dtype == object
    assert selected.values[2] is None
    assert np.isnan(result.selected_index.values[2])
    index = result.selected_index.values
    chosen = [None if np.isnan(i) else CONSTRUCTS[int(i)] for i in index]
    assert list(selected.values) == chosen
    assert set(chosen) <= {*CONSTRUCTS, None}


def _toxic_leader(rate_centre):
    """A is best on efficacy, kinetics and manufacturability by far; its DLT rate centres on
    ``rate_centre``; B and C are safe but poor."""
    rng = np.random.default_rng(31)
    n = 400
    safety = np.stack(
        [
            rng.uniform(rate_centre - 0.06, rate_centre + 0.06, n),
            rng.uniform(0.10, 0.20, n),
            rng.uniform(0.10, 0.20, n),
        ]
    )
    efficacy = np.stack(
        [rng.uniform(0.38, 0.5, n), rng.uniform(0.1, 0.12, n), rng.uniform(0.1, 0.12, n)]
    )
    kinetics = np.stack([rng.uniform(4.8, 5.5, n), rng.uniform(2, 2.1, n), rng.uniform(2, 2.1, n)])
    manufacturing = np.stack(
        [rng.uniform(0.94, 1, n), rng.uniform(0.7, 0.72, n), rng.uniform(0.7, 0.72, n)]
    )
    return {
        "safety": safety,
        "efficacy": efficacy,
        "kinetics": kinetics,
        "manufacturability": manufacturing,
    }


def test_the_safety_gate_fails_a_toxic_construct_that_is_best_and_it_is_not_selected():
    values = _toxic_leader(0.34)
    result = select(values)
    assert result.prob_best.sel(construct="A") > 0.9
    expected = np.mean([v >= 0.33 for v in values["safety"][0]])
    gates = result.gates.set_index("construct")
    assert gates.loc["A", "probability"] == pytest.approx(expected, abs=1e-15)
    assert not gates.loc["A", "passed"]
    assert gates.loc["A", "message"] == f"P(DLT rate >= 0.33) = {expected:.3f} >= 0.25: fail"
    assert gates.loc["B", "message"] == "P(DLT rate >= 0.33) = 0.000 < 0.25: pass"
    assert result.selected is None
    assert "fails its gates" in result.decision


@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.9])
def test_a_gate_failing_construct_is_never_selected_at_any_threshold(threshold):
    result = select(_toxic_leader(0.34), prob_best_threshold=threshold)
    assert result.selected != "A"


def test_a_safe_leader_passes_the_same_gate_and_is_selected():
    result = select(_toxic_leader(0.15))
    assert result.selected == "A"
    assert bool(result.gate_passed.sel(construct="A").all())


def test_gates_given_by_the_caller_read_their_component():
    values = _toxic_leader(0.34)
    gates = [
        safety_gate(overdose_from=0.40, ewoc=0.5),
        ExceedanceGate("efficacy", 0.11, 0.5, direction="below", label="ORR"),
    ]
    result = select(values, gates=gates)
    probability = result.gate_probability.values
    assert probability[:, 0] == pytest.approx(
        [np.mean(values["safety"][c] >= 0.40) for c in range(3)]
    )
    assert probability[:, 1] == pytest.approx(
        [np.mean(values["efficacy"][c] <= 0.11) for c in range(3)]
    )
    assert result.selected == "A"
    assert list(result.gates["gate"].unique()) == [
        "P(DLT rate >= 0.4) < 0.5",
        "P(ORR <= 0.11) < 0.5",
    ]


def test_a_gate_may_read_a_component_with_no_weight():
    values = _toxic_leader(0.15)
    values["prob_overdose_draws"] = values["safety"].copy()
    gate = ExceedanceGate("prob_overdose_draws", 0.33, 0.25)
    result = select(values, gates=gate)
    assert result.selected == "A"


def test_a_construct_without_an_admissible_dose_is_out_of_the_selection():
    values = random_values(41)
    values["safety"][0] = np.nan
    result = select(values, gates=())
    kept = {k: v[1:] for k, v in values.items()}
    _, prob_best, ranks = loop_reference(kept)
    assert not bool(result.available.sel(construct="A"))
    assert np.isnan(result.score.values[0]).all() and np.isnan(result.expected_score.values[0])
    assert result.prob_best.values[0] == 0.0
    np.testing.assert_allclose(result.prob_best.values[1:], prob_best, atol=1e-12)
    np.testing.assert_allclose(result.rank_probabilities.values[1:, :2], ranks, atol=1e-12)
    assert list(result.rank_probabilities.values[0]) == [0.0, 0.0, 1.0]
    assert result.selected != "A"
    assert result.summary().set_index("construct").loc["A", "gates"].startswith("no admissible")


def test_no_construct_with_a_dose_gives_no_selection():
    values = random_values(42)
    values["safety"][:] = np.nan
    result = select(values)
    assert result.selected is None
    assert list(result.prob_best.values) == [0.0, 0.0, 0.0]
    assert "no construct has an admissible dose" in result.decision


def _bad(change):
    values = random_values(51, n_draws=10)
    weights, ranges = dict(WEIGHTS), dict(RANGES)
    change(values, weights, ranges)
    return values, weights, ranges


BAD_INPUTS = {
    "negative weight": (
        lambda v, w, r: w.update(safety=-0.05, efficacy=0.70),
        "weight of 'safety' is -0.05; weights must be non-negative",
    ),
    "weights not summing to one": (
        lambda v, w, r: w.update(safety=0.30),
        r"weights sum to 0\.95, expected 1",
    ),
    "weight not a number": (lambda v, w, r: w.update(safety="high"), "weight of 'safety'"),
    "NaN weight": (lambda v, w, r: w.update(efficacy=math.nan), "not a finite number"),
    "range missing": (
        lambda v, w, r: r.pop("kinetics"),
        r"no \(worst, best\) range for \['kinetics'\]",
    ),
    "range without weight": (
        lambda v, w, r: r.update(cost=(0, 1)),
        r"\['cost'\], which have no weight",
    ),
    "worst equals best": (
        lambda v, w, r: r.update(efficacy=(0.2, 0.2)),
        r"desirability\['efficacy'\] = \(0.2, 0.2\): worst and best must differ",
    ),
    "range not a pair": (lambda v, w, r: r.update(efficacy=0.2), "expected a pair"),
    "weighted component without draws": (
        lambda v, w, r: v.pop("kinetics"),
        r"components has no variable \['kinetics'\]",
    ),
    "draws without weight": (
        lambda v, w, r: v.update(cost=v["safety"]),
        r"\['cost'\] have no weight and no gate",
    ),
    "some NaN draws": (
        lambda v, w, r: v["efficacy"].__setitem__((1, 3), math.nan),
        r"components\['efficacy'\], construct 'B': NaN in some draws only",
    ),
    "infinite draws": (
        lambda v, w, r: v["kinetics"].__setitem__((2, 0), math.inf),
        r"components\['kinetics'\], construct 'C': infinite draws",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_weights_ranges_and_draws_raise_naming_the_problem(case):
    change, message = BAD_INPUTS[case]
    values, weights, ranges = _bad(change)
    with pytest.raises(ValueError, match=message):
        select(values, weights=weights, desirability=ranges)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prob_best_threshold": 1.5}, "prob_best_threshold 1.5 is not a probability"),
        ({"gates": ["safety"]}, "gates must be ExceedanceGate objects"),
        ({"gates": [safety_gate(), safety_gate()]}, "gates are repeated"),
    ],
)
def test_bad_options_raise(options, message):
    with pytest.raises(ValueError, match=message):
        select(random_values(52, n_draws=10), **options)


def test_the_default_gate_needs_safety_draws():
    values = random_values(53, n_draws=10)
    weights = {"efficacy": 0.5, "kinetics": 0.5}
    values = {k: values[k] for k in weights}
    ranges = {k: RANGES[k] for k in weights}
    with pytest.raises(ValueError, match=r"reads 'safety'.*pass gates=\(\)"):
        select(values, weights=weights, desirability=ranges)
    assert select(values, weights=weights, desirability=ranges, gates=()).gates.empty


def test_components_with_wrong_dims_raise():
    values = random_values(54, n_draws=10)
    components = dataset(values).rename({"draw": "sample"})
    with pytest.raises(ValueError, match="expected \\('construct', 'draw'\\)"):
        select_construct(components, weights=WEIGHTS, desirability=RANGES)


@pytest.mark.parametrize(
    ("name", "bad"),
    [("gate probability", dict(max_probability=0)), ("direction", dict(direction="up"))],
)
def test_gate_objects_validate_themselves(name, bad):
    options = dict(component="safety", threshold=0.33, max_probability=0.25) | bad
    with pytest.raises(ValueError, match="gate"):
        ExceedanceGate(**options)


def test_weights_within_the_tolerance_are_accepted():
    weights = dict(WEIGHTS, manufacturability=0.15 + 5e-10)
    assert select(random_values(55), weights=weights).selected in {*CONSTRUCTS, None}


def test_contributions_are_weighted_expected_desirabilities_summing_to_the_score():
    values = random_values(61)
    result = select(values)
    table = result.contributions()
    for row in table.itertuples(index=False):
        c = CONSTRUCTS.index(row.construct)
        worst, best = RANGES[row.component]
        d = np.mean(
            [min(1, max(0, (x - worst) / (best - worst))) for x in values[row.component][c]]
        )
        assert row.contribution == pytest.approx(WEIGHTS[row.component] * d, abs=1e-12)
    totals = table.groupby("construct", sort=False)["contribution"].sum()
    np.testing.assert_allclose(totals.values, result.expected_score.values, atol=1e-12)


def test_the_summary_has_one_row_per_construct_with_its_interval():
    values = random_values(62)
    score, _, _ = loop_reference(values)
    table = select(values).summary(ci_prob=0.9)
    assert list(table["construct"]) == list(CONSTRUCTS)
    sorted_scores = np.sort(score, axis=1)
    for c in range(3):
        assert sorted_scores[c, 0] <= table["eti_5%"][c] <= table["eti_95%"][c]
        assert np.mean(score[c] <= table["eti_95%"][c]) >= 0.95
        assert np.mean(score[c] < table["eti_5%"][c]) <= 0.05
    expected = {
        "available",
        "expected_score",
        "prob_best",
        "prob_rank_1",
        "prob_rank_3",
        "gates",
        "passed_gates",
        "selected",
    }
    assert expected <= set(table.columns)
    assert table["selected"].sum() <= 1


def test_labels_are_escaped_in_html_and_shown_in_repr():
    values = random_values(63)
    labels = ("<script>alert(1)</script>", "B&B", "C")
    result = select_construct(
        dataset(values, constructs=labels), weights=WEIGHTS, desirability=RANGES
    )
    page = result._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<script>alert(1)</script>" in repr(result)


def test_the_figure_has_three_labelled_panels_whose_titles_do_not_overlap():
    values = random_values(64)
    values["safety"][1] = np.nan
    figure = select(values).plot()
    renderer = drawn(figure)
    axes = figure.axes
    assert len(axes) == 3
    assert all(ax.get_title() for ax in axes)
    assert all(legend_of(ax) is not None for ax in axes)
    boxes = [ax.title.get_window_extent(renderer) for ax in axes]
    boxes.append(figure._suptitle.get_window_extent(renderer))
    for i, first in enumerate(boxes):
        for second in boxes[i + 1 :]:
            assert not first.overlaps(second)
    panels = [ax.get_window_extent(renderer) for ax in axes]
    for i, first in enumerate(panels):
        for second in panels[i + 1 :]:
            assert not first.overlaps(second)


def test_one_analysis_verbs_refuse_a_batch():
    batch_values, _ = _batch_values()
    result = select(batch_values)
    for verb in (result.plot, lambda: result.sensitivity(seed=1), lambda: result.decision):
        with pytest.raises(ValueError, match="one analysis"):
            verb()
    assert "over 4 trials" in repr(result)


def _close_call():
    """A leads on efficacy, B on safety; the protocol weights favour A mildly."""
    rng = np.random.default_rng(71)
    n = 300
    values = {
        "safety": np.stack(
            [rng.normal(0.24, 0.03, n), rng.normal(0.16, 0.03, n), rng.normal(0.22, 0.03, n)]
        ),
        "efficacy": np.stack(
            [rng.normal(0.36, 0.03, n), rng.normal(0.22, 0.03, n), rng.normal(0.28, 0.03, n)]
        ),
        "kinetics": np.stack([rng.normal(3.5, 0.3, n)] * 3),
        "manufacturability": np.stack([rng.normal(0.85, 0.02, n)] * 3),
    }
    values["kinetics"][1:] = values["kinetics"][0]
    values["manufacturability"][1:] = values["manufacturability"][0]
    return values


def test_the_sensitivity_is_reproducible_with_a_seed():
    result = select(_close_call())
    first, second = result.sensitivity(seed=7), result.sensitivity(seed=7)
    assert isinstance(first, SelectionSensitivity)
    pd.testing.assert_frame_equal(first.summary(), second.summary())
    xr.testing.assert_identical(first.weight_draws, second.weight_draws)
    other = result.sensitivity(seed=8)
    assert not np.array_equal(other.weight_draws.values, first.weight_draws.values)
    from_sequence = result.sensitivity(seed=np.random.SeedSequence(7))
    from_generator = result.sensitivity(seed=np.random.default_rng(7))
    np.testing.assert_array_equal(from_sequence.weight_draws.values, first.weight_draws.values)
    np.testing.assert_array_equal(from_generator.weight_draws.values, first.weight_draws.values)


@pytest.mark.parametrize("kappa", [5.0, 50.0])
def test_weight_draws_have_the_dirichlet_mean_and_variance(kappa):
    result = select(_close_call())
    draws = result.sensitivity(seed=3, kappa=kappa, n_weights=20000).weight_draws.values
    w = np.array(list(WEIGHTS.values()))
    variance = w * (1 - w) / (kappa + 1)
    np.testing.assert_allclose(draws.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(np.abs(draws.mean(axis=0) - w) < 4 * np.sqrt(variance / 20000))
    np.testing.assert_allclose(draws.var(axis=0), variance, rtol=0.05)


@pytest.mark.parametrize("kappa", [1e12, math.inf])
def test_concentrated_weights_cause_no_reversal(kappa):
    result = select(_close_call())
    assert result.selected == "A"
    sensitivity = result.sensitivity(seed=4, kappa=kappa, n_weights=200)
    reversals = sensitivity.reversals().set_index("uncertainty")["share"]
    assert reversals["weights (posterior at its expectations)"] == 0.0
    assert reversals["weights (selection rule on the full posterior)"] == 0.0
    np.testing.assert_allclose(
        sensitivity.prob_best_joint.values, result.prob_best.values, atol=1e-6
    )
    posterior = 1 - float(result.prob_best.sel(construct="A"))
    assert reversals["posterior (protocol weights)"] == pytest.approx(posterior, abs=1e-15)


def test_diffuse_weights_cause_reversals_in_a_close_call():
    result = select(_close_call())
    reversals = result.sensitivity(seed=4, kappa=2.0, n_weights=500).reversals()
    assert reversals.set_index("uncertainty")["share"].iloc[0] > 0.0


def test_weight_only_and_joint_shares_agree_with_loops_over_weight_draws():
    values = {k: v[:, :40] for k, v in _close_call().items()}
    result = select(values)
    sensitivity = result.sensitivity(seed=5, kappa=10.0, n_weights=30)
    draws = sensitivity.weight_draws.values
    names = list(WEIGHTS)
    weight_only = np.zeros(3)
    joint = np.zeros(3)
    expected = {
        k: [
            np.mean(
                [
                    min(1, max(0, (x - RANGES[k][0]) / (RANGES[k][1] - RANGES[k][0])))
                    for x in values[k][c]
                ]
            )
            for c in range(3)
        ]
        for k in names
    }
    for w in draws:
        weights = dict(zip(names, w, strict=True))
        at_mean = [sum(weights[k] * expected[k][c] for k in names) for c in range(3)]
        top = [c for c in range(3) if at_mean[c] == max(at_mean)]
        for c in top:
            weight_only[c] += 1 / len(top) / len(draws)
        _, prob_best, _ = loop_reference(values, weights=weights)
        joint += prob_best / len(draws)
    np.testing.assert_allclose(sensitivity.prob_best_weights.values, weight_only, atol=1e-12)
    np.testing.assert_allclose(sensitivity.prob_best_joint.values, joint, atol=1e-9)


def test_leaving_out_a_component_that_does_not_discriminate_changes_nothing():
    result = select(_close_call())
    loo = result.sensitivity(seed=6).leave_one_out.set_index("component")
    for name in ("kinetics", "manufacturability"):
        assert loo.loc[name, "selected"] == result.selected
        assert not loo.loc[name, "changed"]
        got = [loo.loc[name, f"prob_best[{c}]"] for c in CONSTRUCTS]
        np.testing.assert_allclose(got, result.prob_best.values, atol=1e-12)


@pytest.mark.parametrize("dropped", list(WEIGHTS))
def test_leave_one_out_renormalises_the_other_weights(dropped):
    values = {k: v[:, :60] for k, v in _close_call().items()}
    loo = select(values).sensitivity(seed=6).leave_one_out.set_index("component")
    rest = {k: w / (1 - WEIGHTS[dropped]) for k, w in WEIGHTS.items() if k != dropped}
    _, prob_best, _ = loop_reference(values, weights=rest)
    got = [loo.loc[dropped, f"prob_best[{c}]"] for c in CONSTRUCTS]
    np.testing.assert_allclose(got, prob_best, atol=1e-12)


def test_central_weights_of_the_leader_lean_towards_its_strength():
    sensitivity = select(_close_call()).sensitivity(seed=9, kappa=5.0, n_weights=2000)
    central = sensitivity.central_weights
    assert float(central.sel(construct="A", component="efficacy")) > float(
        central.sel(construct="B", component="efficacy")
    )
    np.testing.assert_allclose(central.sum("component").dropna("construct"), 1.0, atol=1e-12)
    assert "kappa 5" in repr(sensitivity)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"kappa": 0.0}, "kappa"), ({"n_weights": 0}, "n_weights"), ({"n_weights": 2.5}, "n_weights")],
)
def test_bad_sensitivity_options_raise(options, message):
    with pytest.raises(ValueError, match=message):
        select(_close_call()).sensitivity(seed=1, **options)
