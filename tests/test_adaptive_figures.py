"""The figures of dartnk.adaptive as a reader sees them: the construct selection and its
sensitivity (readable titles, a legend per panel, tick labels apart), decision tables with
the eliminated doses marked (against the elimination rule computed independently), and
dose-transition pathways whose labels no line crosses."""

from itertools import pairwise

import numpy as np
import pytest
import xarray as xr
from _geometry import crosses, drawn, legend_of, on_page, overlapping, titles
from matplotlib.figure import Figure
from scipy import stats

from dartnk.adaptive import BOIN, CRM, ThreePlusThree, select_construct
from dartnk.adaptive.pathways import decision_table, dose_transition_pathways, plot_decision_table

LABELS = ("DL-1", "DL1", "DL2", "DL3", "DL4")
WEIGHTS = {"safety": 0.35, "efficacy": 0.30, "kinetics": 0.20, "manufacturability": 0.15}
RANGES = {
    "safety": (0.40, 0.10),
    "efficacy": (0.10, 0.40),
    "kinetics": (2.0, 5.0),
    "manufacturability": (0.70, 0.95),
}


def components(constructs=("A", "B", "C"), *, without_dose=None, seed=3, n=600):
    """Posterior-like draws per component (Beta and normal), one construct optionally
    without an admissible dose (NaN safety)."""
    rng = np.random.default_rng(seed)
    values = {
        "safety": np.stack([rng.beta(3, 17, n), rng.beta(4, 12, n), rng.beta(2, 14, n)]),
        "efficacy": np.stack([rng.beta(4, 10, n), rng.beta(6, 9, n), rng.beta(3, 12, n)]),
        "kinetics": np.stack([rng.normal(m, 0.3, n) for m in (4.0, 4.3, 3.8)]),
        "manufacturability": np.stack([rng.beta(15, 2, n), rng.beta(12, 4, n), rng.beta(12, 1, n)]),
    }
    if without_dose is not None:
        values["safety"][without_dose] = np.nan
    return xr.Dataset(
        {
            k: xr.DataArray(v, dims=("construct", "draw"), coords={"construct": list(constructs)})
            for k, v in values.items()
        }
    )


LONG_NAMES = ("EB-DART-NK01 (DLL3/CD56)", "EB-DART-NK02 (DLL3/GD2)", "EB-DART-NK03 $5")


@pytest.fixture(scope="module", params=["short", "long names, one without a dose"])
def selection(request):
    if request.param == "short":
        return select_construct(components(), weights=WEIGHTS, desirability=RANGES)
    data = components(LONG_NAMES, without_dose=1)
    return select_construct(data, weights=WEIGHTS, desirability=RANGES)


def _tick_boxes(ax, renderer):
    return [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]


def test_selection_figure_panels_titles_legends_and_ticks_are_apart(selection):
    figure = selection.plot()
    renderer = drawn(figure)
    assert isinstance(figure, Figure) and len(figure.axes) == 3
    title_boxes = [t.get_window_extent(renderer) for t in titles(figure)]
    assert overlapping(title_boxes) == []
    assert all(on_page(box, figure) for box in title_boxes)
    legends = [legend_of(ax) for ax in figure.axes]
    assert all(legend is not None for legend in legends)
    boxes = [ax.get_window_extent(renderer) for ax in figure.axes]
    boxes += [legend.get_window_extent(renderer) for legend in legends]
    assert overlapping(boxes) == []
    for ax in figure.axes[1:]:
        assert overlapping(_tick_boxes(ax, renderer)) == []


def test_selection_bars_are_p_best_and_the_ineligible_are_hatched(selection):
    figure = selection.plot()
    bars = figure.axes[1].patches
    np.testing.assert_allclose([b.get_height() for b in bars], selection.prob_best.to_numpy())
    eligible = selection.eligible.to_numpy()
    assert [not b.get_hatch() for b in bars] == list(eligible)


def test_selection_figure_shows_a_dollar_sign_as_text():
    data = components(LONG_NAMES)
    figure = select_construct(data, weights=WEIGHTS, desirability=RANGES).plot()
    ticks = [t.get_text() for t in figure.axes[1].get_xticklabels()]
    assert ticks[2].replace("\n", " ") == r"EB-DART-NK03 \$5"


@pytest.fixture(scope="module")
def sensitivity(selection):
    return selection.sensitivity(seed=7, n_weights=300)


def test_sensitivity_figure_has_three_readable_panels(sensitivity):
    figure = sensitivity.plot()
    renderer = drawn(figure)
    assert len(figure.axes) == 3
    assert all(legend_of(ax) is not None for ax in figure.axes)
    title_boxes = [t.get_window_extent(renderer) for t in titles(figure)]
    assert overlapping(title_boxes) == []
    assert all(on_page(box, figure) for box in title_boxes)
    for ax in figure.axes:
        assert overlapping(_tick_boxes(ax, renderer)) == []
    boxes = [ax.get_window_extent(renderer) for ax in figure.axes]
    boxes += [legend_of(ax).get_window_extent(renderer) for ax in figure.axes]
    assert overlapping(boxes) == []


def test_sensitivity_bars_are_p_best_under_each_source_of_uncertainty(selection, sensitivity):
    figure = sensitivity.plot()
    heights = np.array([b.get_height() for b in figure.axes[0].patches]).reshape(3, -1)
    np.testing.assert_allclose(heights[0], selection.prob_best.to_numpy())
    np.testing.assert_allclose(heights[1], sensitivity.prob_best_weights.to_numpy())
    np.testing.assert_allclose(heights[2], sensitivity.prob_best_joint.to_numpy())


def test_leave_one_out_names_the_component_and_marks_the_selection(sensitivity):
    figure = sensitivity.plot()
    ax = figure.axes[1]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    components = list(sensitivity.leave_one_out["component"])
    assert ticks == ["protocol\nweights", *(f"without\n{c}" for c in components)]
    chosen = [sensitivity.base_selected, *sensitivity.leave_one_out["selected"]]
    bars = {(round(b.get_x() + b.get_width() / 2, 6)): b for b in ax.patches}
    markers = ax.collections[0].get_offsets()
    assert len(markers) == sum(c is not None for c in chosen)
    width = 0.8 / len(sensitivity.constructs)
    expected = [
        g + (sensitivity.constructs.index(c) - (len(sensitivity.constructs) - 1) / 2) * width
        for g, c in enumerate(chosen)
        if c is not None
    ]
    np.testing.assert_allclose(markers[:, 0], expected)
    for x, y in markers:
        assert y > bars[round(x, 6)].get_height()


def test_weight_panel_marks_the_protocol_weights(sensitivity):
    figure = sensitivity.plot()
    markers = figure.axes[2].collections[0].get_offsets()
    np.testing.assert_allclose(markers[:, 0], list(WEIGHTS.values()))
    rows = [t.get_text() for t in figure.axes[2].get_yticklabels()]
    assert rows == list(WEIGHTS)


# --- decision tables -----------------------------------------------------------------------


def boin_elimination(n: int, target: float = 0.3, cutoff: float = 0.95) -> int | None:
    """The smallest number of DLTs eliminating a dose with n patients (n >= 3): the
    posterior P(p > target | y, n) > cutoff under Beta(1, 1) (Liu and Yuan 2015)."""
    if n < 3:
        return None
    for y in range(n + 1):
        if stats.beta.sf(target, y + 1, n - y + 1) > cutoff:
            return y
    return None


def _hatched(ax):
    return {
        (round(p.get_x() + 0.5), round(p.get_y() + 0.5))
        for p in ax.patches
        if p.get_hatch()
    }  # fmt: skip


def test_boin_table_hatches_exactly_the_eliminated_cells_below_the_boundary():
    design = BOIN(0.3, n_doses=5, start=1, labels=LABELS, max_n=18)
    figure = plot_decision_table(decision_table(design, max_n=12), title="BOIN at DL1")
    ax = figure.axes[0]
    expected = set()
    for n in range(1, 13):
        bound = boin_elimination(n)
        if bound is not None:
            expected |= {(n, y) for y in range(bound, n + 1)}
    assert _hatched(ax) == expected
    line = next(li for li in ax.lines if li.get_label() == "elimination boundary")
    x, y = line.get_xdata(), line.get_ydata()
    drawn_at = {
        round((x[i] + x[i + 1]) / 2): y[i] + 0.5
        for i in range(len(x) - 1)
        if np.isfinite(y[i]) and y[i] == y[i + 1] and np.isclose(x[i + 1] - x[i], 1.0)
    }
    assert drawn_at == {n: boin_elimination(n) for n in range(3, 13)}


def test_three_plus_three_table_hatches_two_or_more_dlts():
    design = ThreePlusThree(5, start=1, labels=LABELS)
    ax = plot_decision_table(decision_table(design, max_n=6)).axes[0]
    assert _hatched(ax) == {(n, y) for n in range(2, 7) for y in range(2, n + 1)}


def test_a_table_without_elimination_has_no_boundary():
    design = CRM([0.05, 0.1, 0.2, 0.3, 0.45], 0.3, start=1, labels=LABELS)
    ax = plot_decision_table(decision_table(design, max_n=6)).axes[0]
    assert _hatched(ax) == set()
    assert not [li for li in ax.lines if li.get_label() == "elimination boundary"]


def test_the_table_legend_sits_beside_the_grid():
    design = BOIN(0.3, n_doses=5, start=1, labels=LABELS, max_n=18)
    figure = plot_decision_table(decision_table(design, max_n=12), title="BOIN")
    renderer = drawn(figure)
    ax = figure.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    assert overlapping([ax.get_window_extent(renderer), legend]) == []
    assert legend.x1 <= figure.bbox.x1 + 1


def test_a_table_drawn_on_given_axes_returns_their_figure():
    figure = Figure()
    ax = figure.subplots()
    design = ThreePlusThree(5, start=1, labels=LABELS)
    assert plot_decision_table(decision_table(design), ax=ax) is figure


# --- dose-transition pathways --------------------------------------------------------------

PATHWAYS = {
    "3+3 from an empty arm": lambda: dose_transition_pathways(
        ThreePlusThree(5, start=1, labels=LABELS), cohorts=2
    ),
    "3+3 after two cohorts": lambda: dose_transition_pathways(
        ThreePlusThree(5, start=1, labels=LABELS), [1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 0]
    ),
    "BOIN, three cohorts": lambda: dose_transition_pathways(
        BOIN(0.3, n_doses=5, start=1, labels=LABELS, max_n=18), [1, 1, 1], [0, 0, 1], cohorts=3
    ),
    "TITE-BOIN with pending patients": lambda: dose_transition_pathways(
        BOIN(0.3, n_doses=5, start=1, labels=LABELS, max_n=18, window=28.0),
        [1, 1, 1, 2, 2],
        [0, 0, 0, 0, 0],
        followup=[None, None, None, 10.0, 20.0],
        cohorts=1,
    ),
}


@pytest.fixture(scope="module", params=list(PATHWAYS))
def pathway_figure(request):
    pathways = PATHWAYS[request.param]()
    figure = pathways.plot()
    return pathways, figure, drawn(figure)


def _texts(figure, gid):
    return [t for t in figure.axes[0].texts if t.get_gid() == gid]


def test_every_node_has_one_label(pathway_figure):
    pathways, figure, _ = pathway_figure
    labels = _texts(figure, "node label")
    assert len(labels) == len(pathways.nodes)
    decisions = sorted(str(d) for d in pathways.nodes["decision"])
    assert sorted(t.get_text().split(": ", 1)[1] for t in labels) == decisions


def test_no_edge_crosses_a_label(pathway_figure):
    _, figure, renderer = pathway_figure
    ax = figure.axes[0]
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    edges = next(c for c in ax.collections if c.get_gid() == "edges")
    segments = [ax.transData.transform(np.asarray(s)) for s in edges.get_segments()]
    assert segments
    for segment in segments:
        assert not any(crosses(segment, box) for box in boxes)


def test_labels_do_not_overlap_and_stay_on_the_figure(pathway_figure):
    _, figure, renderer = pathway_figure
    ax = figure.axes[0]
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    boxes.append(ax.get_legend().get_window_extent(renderer))
    assert overlapping(boxes) == []
    page = figure.bbox
    for box in boxes:
        assert page.x0 <= box.x0 and box.x1 <= page.x1
        assert page.y0 <= box.y0 and box.y1 <= page.y1


def test_vertical_edges_of_one_gap_never_overlap(pathway_figure):
    _, figure, _ = pathway_figure
    edges = next(c for c in figure.axes[0].collections if c.get_gid() == "edges")
    spines = [np.asarray(s) for s in edges.get_segments() if np.isclose(s[0][0], s[1][0])]
    by_gap: dict[float, list[tuple[float, float]]] = {}
    for spine in spines:
        by_gap.setdefault(round(float(spine[0, 0]), 6), []).append(
            (float(spine[:, 1].min()), float(spine[:, 1].max()))
        )
    for spans in by_gap.values():
        spans.sort()
        for (_, top), (bottom, _) in pairwise(spans):
            assert top < bottom
