"""The models' figures as a reader sees them, on hand-built fits (no MCMC): one panel per
construct with a non-overlapping title and a legend, 0/n points strictly inside the axes,
the counts shown, the curves equal to independent computations from the draws, and the
same figure drawn twice gives the same SVG bytes."""

import sys

import matplotlib
import numpy as np
import pytest
from _figure_fits import (
    CONSTRUCTS,
    DOSES,
    LOTS,
    RESPONSE_COUNTS,
    SURVIVAL,
    TOXICITY_COUNTS,
    kinetics_fit,
    manufacturing_fit,
    response_fit,
    survival_fit,
    toxicity_fit,
)
from _geometry import (
    drawn,
    legend_of,
    on_page,
    overlapping,
    scatter_points,
    strictly_inside,
    titles,
)
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from dartnk.models._survival_plot import at_risk
from dartnk.reports import figure_to_svg, report_style

FIGURES = {
    "toxicity": lambda: toxicity_fit().plot(),
    "intervals": lambda: toxicity_fit().plot_intervals(),
    "response": lambda: response_fit().plot(),
    "kinetics": lambda: kinetics_fit().plot(),
    "manufacturing": lambda: manufacturing_fit().plot(),
    "survival": lambda: survival_fit().plot(),
    "pooled survival": lambda: survival_fit(by_construct=False).plot(),
    "rank": lambda: toxicity_fit().plot_rank(),
    "diagnostics": lambda: toxicity_fit().plot_diagnostics(),
}
PANELS = {
    "toxicity": 3,
    "intervals": 3,
    "response": 1,
    "kinetics": 6,
    "manufacturing": 3,
    "survival": 6,
    "pooled survival": 2,
    "rank": 6,
    "diagnostics": 2,
}
WITH_LEGENDS = [name for name in FIGURES if name != "rank"]


@pytest.fixture(scope="module", params=list(FIGURES))
def built(request):
    with report_style():
        figure = FIGURES[request.param]()
        renderer = drawn(figure)
    return request.param, figure, renderer


def test_every_figure_is_a_matplotlib_figure_with_its_panels(built):
    name, figure, _ = built
    assert isinstance(figure, Figure)
    assert len(figure.axes) == PANELS[name]


def test_titles_do_not_overlap(built):
    _, figure, renderer = built
    texts = titles(figure)
    assert texts
    boxes = [t.get_window_extent(renderer) for t in texts]
    assert overlapping(boxes) == []
    assert all(on_page(box, figure) for box in boxes)


def test_panels_and_legends_do_not_overlap_and_stay_on_the_figure(built):
    _, figure, renderer = built
    axes = [ax.get_window_extent(renderer) for ax in figure.axes]
    legends = []
    stack = [figure]
    while stack:
        panel = stack.pop()
        legends += [legend.get_window_extent(renderer) for legend in panel.legends]
        stack.extend(panel.subfigs)
    legends += [
        ax.get_legend().get_window_extent(renderer) for ax in figure.axes if ax.get_legend()
    ]
    assert overlapping(axes + legends) == []
    page = figure.bbox
    for box in legends:
        assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1
        assert page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1


@pytest.mark.parametrize("name", WITH_LEGENDS)
def test_every_data_panel_has_a_legend(name):
    with report_style():
        figure = FIGURES[name]()
    for ax in figure.axes:
        if ax.get_ylabel() or ax.get_title():
            legend = legend_of(ax)
            assert legend is not None and legend.get_texts(), ax.get_title()


@pytest.mark.parametrize("name", ["toxicity", "response", "kinetics", "survival"])
def test_scatter_points_lie_strictly_inside_the_axes(name):
    figure = FIGURES[name]()
    for ax in figure.axes:
        points = scatter_points(ax)
        if len(points):
            assert strictly_inside(points[:, 1], ax.get_ylim()), ax.get_title()
            assert strictly_inside(points[:, 0], ax.get_xlim()), ax.get_title()


# --- dose-toxicity --------------------------------------------------------------------------


def test_dose_toxicity_panels_are_the_constructs_with_dose_labels_and_counts():
    figure = toxicity_fit().plot()
    assert [ax.get_title() for ax in figure.axes] == list(CONSTRUCTS)
    for ax, construct in zip(figure.axes, CONSTRUCTS, strict=True):
        expected = [
            f"{dose}\n{y}/{n}" + (f" +{p}" if p else "")
            for dose, (n, y, p) in zip(DOSES, TOXICITY_COUNTS[construct], strict=True)
        ]
        assert [t.get_text() for t in ax.get_xticklabels()] == expected


def test_observed_zero_of_n_diamonds_are_drawn_above_the_lower_limit():
    figure = toxicity_fit().plot()
    ax = figure.axes[0]
    points = scatter_points(ax)
    observed = [(d, y / n) for d, (n, y, _) in enumerate(TOXICITY_COUNTS["A"]) if n]
    np.testing.assert_allclose(points, observed)
    assert ax.get_ylim()[0] < 0.0 < ax.get_ylim()[1]
    assert (points[:, 1] == 0).sum() == 2


def test_the_dose_toxicity_median_and_band_are_the_draws_quantiles():
    fit = toxicity_fit()
    figure = fit.plot(prob=0.8)
    draws = fit.idata["posterior"]["ptox"].sel(construct="B").to_numpy().reshape(-1, len(DOSES))
    median_line = next(
        line for line in figure.axes[1].lines if line.get_label() == "posterior median"
    )
    np.testing.assert_allclose(median_line.get_ydata(), np.median(draws, axis=0))
    band = next(c for c in figure.axes[1].collections if c.get_label() == "80% band")
    vertices = band.get_paths()[0].vertices
    for quantile in (0.1, 0.9):
        expected = np.quantile(draws, quantile, axis=0)
        assert all(np.isclose(vertices[:, 1], value).any() for value in expected)


def test_the_target_interval_is_shaded_from_low_to_high():
    figure = toxicity_fit().plot()
    span = next(p for p in figure.axes[0].patches if p.get_label().startswith("target"))
    assert (span.get_y(), span.get_y() + span.get_height()) == pytest.approx((0.16, 0.33))


def test_interval_bars_stack_to_one_and_hatch_the_doses_ewoc_excludes():
    fit = toxicity_fit()
    figure = fit.plot_intervals(ewoc=0.25)
    for ax, construct in zip(figure.axes, CONSTRUCTS, strict=True):
        draws = fit.idata["posterior"]["ptox"].sel(construct=construct).to_numpy()
        over = (draws.reshape(-1, len(DOSES)) >= 0.33).mean(axis=0)
        bars = [p for p in ax.patches if p.get_width() == pytest.approx(0.7)]
        heights = np.array([b.get_height() for b in bars]).reshape(3, len(DOSES))
        np.testing.assert_allclose(heights.sum(axis=0), 1.0)
        np.testing.assert_allclose(heights[0], over)
        hatched = [bool(b.get_hatch()) for b in bars[: len(DOSES)]]
        assert hatched == list(over >= 0.25)
        ewoc = [line for line in ax.lines if line.get_label().startswith("EWOC")]
        assert len(ewoc) == 1 and ewoc[0].get_ydata()[0] == 0.25


def test_an_ewoc_limit_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="ewoc"):
        toxicity_fit().plot_intervals(ewoc=1.5)


# --- response, kinetics, manufacturing -----------------------------------------------------


def test_response_rows_give_responders_over_n_and_the_observed_share():
    figure = response_fit().plot()
    ax = figure.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"{c}: {RESPONSE_COUNTS[c][1]}/{RESPONSE_COUNTS[c][0]}" for c in CONSTRUCTS]
    observed = scatter_points(ax)[:, 0]
    np.testing.assert_allclose(observed, [r / n for n, r in RESPONSE_COUNTS.values()])
    assert ax.get_xlim()[0] < 0.0 and ax.get_xlim()[1] > 1.0


def test_kinetics_shows_below_lloq_values_at_their_bound_and_n_per_dose():
    fit = kinetics_fit()
    figure = fit.plot()
    data = fit.data
    cmax_a = figure.axes[0]
    triangles = [
        c for c in cmax_a.collections
        if isinstance(c, PathCollection) and c.get_label() == "below LLOQ (at most)"
    ]  # fmt: skip
    assert len(triangles) == 1
    below = (data.construct == 0) & ~np.isfinite(data.lower[:, 0])
    np.testing.assert_allclose(triangles[0].get_offsets()[:, 1], data.upper[below, 0])
    for c, construct in enumerate(CONSTRUCTS):
        bottom = figure.axes[2 * c + 1]
        n = [int(((data.construct == c) & (data.dose == d)).sum()) for d in range(len(DOSES))]
        assert [t.get_text() for t in bottom.get_xticklabels()] == [
            f"{dose}\nn={k}" for dose, k in zip(DOSES, n, strict=True)
        ]
        assert figure.axes[2 * c].get_title() == construct


def test_kinetics_posterior_mean_is_the_mean_of_the_draws():
    fit = kinetics_fit()
    figure = fit.plot()
    draws = fit.mean_log10().sel(endpoint="log10_auc", construct="B").to_numpy()
    line = next(li for li in figure.axes[3].lines if li.get_label() == "posterior mean")
    np.testing.assert_allclose(line.get_ydata(), draws.reshape(-1, len(DOSES)).mean(axis=0))


def test_manufacturing_titles_and_observed_lines_show_released_over_lots():
    figure = manufacturing_fit().plot()
    for ax, construct in zip(figure.axes, CONSTRUCTS, strict=True):
        lots, released, awaiting = LOTS[construct]
        assert ax.get_title().startswith(f"{construct}: {released}/{lots} lots released")
        assert (f"{awaiting} awaiting" in ax.get_title()) == bool(awaiting)
        line = next(li for li in ax.lines if li.get_label().startswith("observed"))
        share = released / lots
        assert line.get_xdata()[0] == pytest.approx(share)
        assert strictly_inside(np.array([share]), ax.get_xlim())


# --- survival --------------------------------------------------------------------------------


@pytest.mark.parametrize("day", [0.0, 30.0, 31.0, 100.0, 240.0, 241.0])
def test_at_risk_counts_the_patients_still_followed(day):
    time = np.concatenate([SURVIVAL[c][0] for c in SURVIVAL]).astype(float)
    expected = sum(1 for t in time if t >= day)
    assert at_risk(time, np.array([day]))[0] == expected


def test_survival_panels_have_censoring_ticks_and_the_number_at_risk():
    from lifelines import KaplanMeierFitter

    fit = survival_fit()
    figure = fit.plot()
    main, tables = figure.axes[0::2], figure.axes[1::2]
    for c, (ax, table) in enumerate(zip(main, tables, strict=True)):
        days, events = (np.asarray(v) for v in SURVIVAL[c])
        ticks = next(li for li in ax.lines if li.get_label() == "censored")
        censored = np.sort(days[events == 0]).astype(float)
        np.testing.assert_allclose(ticks.get_xdata(), censored)
        kmf = KaplanMeierFitter().fit(days, events)
        np.testing.assert_allclose(ticks.get_ydata(), np.atleast_1d(kmf.predict(list(censored))))
        shown = {float(t.get_position()[0]): int(t.get_text()) for t in table.texts}
        for day, count in shown.items():
            assert count == int((days >= day).sum())
        assert [t.get_text() for t in table.get_yticklabels()] == ["at risk"]
        assert 0.0 in shown and len(shown) >= 3


def test_the_weibull_median_curve_is_the_median_of_the_draws():
    fit = survival_fit()
    figure = fit.plot()
    line = next(li for li in figure.axes[0].lines if li.get_label() == "Weibull median")
    t = line.get_xdata()[[10, 60, 120]]
    scale = fit.posterior["scale"].sel(construct="A").to_numpy().ravel()
    shape = fit.posterior["shape"].to_numpy().ravel()
    expected = np.median(np.exp(-((t[:, None] / scale) ** shape)), axis=1)
    np.testing.assert_allclose(line.get_ydata()[[10, 60, 120]], expected)


# --- diagnostics -----------------------------------------------------------------------------


def test_rank_plot_has_one_panel_per_scalar_with_every_chain():
    fit = toxicity_fit()
    figure = fit.plot_rank()
    assert len(figure.axes) == len(CONSTRUCTS) * 2
    chains = fit.idata.posterior.sizes["chain"]
    for ax in figure.axes:
        assert len(ax.patches) == chains
        assert ax.get_title()
        heights = np.array([p.get_data().values - p.get_data().baseline for p in ax.patches])
        assert heights.shape == (chains, 20)
        # The pooled ranks 1..N fill the 20 equal bins evenly, so the chains' counts,
        # each relative to draws / 20, add up to the number of chains in every bin.
        np.testing.assert_allclose(heights.sum(axis=0), chains, atol=1e-9)


def test_rank_plot_refuses_too_many_panels_and_names_the_count():
    with pytest.raises(ValueError, match="15 scalar parameters"):
        from dartnk.models._arviz import rank_figure

        rank_figure(toxicity_fit().idata, ["ptox"], max_panels=12)


def test_diagnostics_figure_marks_a_parameter_that_fails_its_gate():
    fit = toxicity_fit()
    stuck = fit.idata.copy()
    theta = stuck.posterior["theta"].to_numpy().copy()
    theta[1, :, 0, 0] += 3.0
    stuck.posterior["theta"] = (stuck.posterior["theta"].dims, theta)
    from dartnk.models import Gates
    from dartnk.models._diagnostics import diagnose

    diagnostics = diagnose(stuck, ["theta"], Gates())
    figure = diagnostics.plot()
    rhat_ax = figure.axes[0]
    labels = [t.get_text() for t in rhat_ax.get_yticklabels()]
    assert labels == list(diagnostics.table["parameter"])
    colours = rhat_ax.collections[0].get_facecolors()
    failing = ~diagnostics.summary()["passed"].to_numpy()
    assert failing[0] and diagnostics.table["r_hat"].iloc[0] > 1.01
    red, blue = matplotlib.colors.to_rgba("#d7301f"), matplotlib.colors.to_rgba("tab:blue")
    np.testing.assert_allclose(colours[failing], np.tile(red, (failing.sum(), 1)))
    np.testing.assert_allclose(colours[~failing], np.tile(blue, ((~failing).sum(), 1)))
    assert "FAILED" in figure._suptitle.get_text()


# --- determinism and global state ----------------------------------------------------------


@pytest.mark.parametrize("name", list(FIGURES))
def test_building_a_figure_leaves_rc_params_and_pyplot_alone(name):
    before = dict(matplotlib.rcParams)
    drawn(FIGURES[name]())
    assert dict(matplotlib.rcParams) == before
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        assert pyplot.get_fignums() == []


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FIGURES))
def test_the_same_figure_gives_the_same_svg(name):
    with report_style():
        first = figure_to_svg(FIGURES[name](), salt="f")
        second = figure_to_svg(FIGURES[name](), salt="f")
    assert first == second
