"""The figures of a construct selection: score distributions, P(best) and rank
probabilities; and the sensitivity of the selection to its weights.

Figures are built on :class:`matplotlib.figure.Figure` without ``pyplot`` and change no
global ``rcParams``. Each panel is a subfigure with its legend below its axes
(constrained layout keeps legends, tick labels and titles apart); constructs keep one
colour across panels and figures.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

if TYPE_CHECKING:
    from ._selection_sensitivity import SelectionSensitivity
    from .selection import ConstructSelection

__all__ = ["selection_figure", "sensitivity_figure"]

_LEGEND_FONT = 8.0
_TITLE_FONT = 10.0
_TICK_FONT = 8.5


def _text(label: str) -> str:
    """A label as plain text for matplotlib (no mathtext)."""
    return label.replace("$", r"\$")


def _colours(count: int) -> list[str]:
    return [f"C{i % 10}" for i in range(count)]


def _legend(panel: SubFigure, handles: Sequence[object], *, ncol: int) -> None:
    """The panel's legend below its axes, in up to ``ncol`` columns: as many as fit the
    panel's width (a character takes about 0.58 font sizes, a handle and spacing about
    3.4)."""
    handles = list(handles)
    dpi = panel.get_figure(root=True).dpi
    available = panel.bbox.width * 72.0 / dpi
    widest = max(len(str(h.get_label())) for h in handles)
    entry = (0.58 * widest + 3.4) * _LEGEND_FONT
    columns = max(1, min(ncol, len(handles), int(available // entry)))
    panel.legend(
        handles=handles,
        loc="outside lower center",
        ncol=columns,
        fontsize=_LEGEND_FONT,
        frameon=False,
        columnspacing=1.0,
        handlelength=1.6,
    )


def _title(ax: Axes, text: str) -> None:
    """The axes title, broken over lines to fit the panel's width (a character takes about
    0.6 font sizes)."""
    panel = ax.get_figure(root=False)
    dpi = ax.get_figure(root=True).dpi
    width = max(20, int(0.75 * panel.bbox.width * 72.0 / dpi / (0.6 * _TITLE_FONT)))
    ax.set_title(textwrap.fill(text, width), fontsize=_TITLE_FONT)


def _construct_ticks(ax: Axes, labels: Sequence[str], notes: Sequence[str] | None = None) -> None:
    """Construct labels (with their notes) under their bars in a fixed font size, long ones
    broken over lines to fit their share of the panel's width (a character takes about
    0.6 font sizes), never rotated."""
    panel = ax.get_figure(root=False)
    dpi = ax.get_figure(root=True).dpi
    share = 0.8 * panel.bbox.width * 72.0 / dpi / max(1, len(labels))
    width = max(8, int(share / (0.6 * _TICK_FONT)))
    ticks = [
        textwrap.fill(
            label + ("" if notes is None else notes[i]),
            width,
            break_long_words=False,
            break_on_hyphens=False,
        )
        for i, label in enumerate(labels)
    ]
    ax.set_xticks(np.arange(len(labels)), ticks, fontsize=_TICK_FONT)


def selection_figure(result: ConstructSelection) -> Figure:
    """Three panels of one analysis's selection: the posterior distribution of each
    construct's composite score (with its mean), P(best) against the selection
    threshold (a construct failing a gate or without an admissible dose hatched), and
    the rank probabilities; the decision in words above them."""
    table = result.summary()
    constructs = [_text(c) for c in result.constructs]
    available = table["available"].to_numpy(dtype=bool)
    notes = ["" if ok else " (no admissible dose)" for ok in available]
    colours = _colours(len(constructs))
    figure = Figure(figsize=(14.0, 5.2), layout="constrained", facecolor="white")
    score_panel, best_panel, rank_panel = figure.subfigures(1, 3, width_ratios=(1.4, 1.0, 1.0))

    scores = score_panel.subplots()
    score = result.score.to_numpy()
    finite = score[available]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    pad = max(0.02, 0.05 * (high - low))
    bins = np.linspace(max(0.0, low - pad), min(1.0, high + pad), 41)
    handles: list[object] = []
    for i, label in enumerate(constructs):
        if not available[i]:
            handles.append(Line2D([], [], ls="none", label=f"{label}: no admissible dose"))
            continue
        mean = table["expected_score"].iloc[i]
        scores.hist(score[i], bins=bins, density=True, histtype="step", lw=1.6, color=colours[i])
        scores.axvline(mean, color=colours[i], ls="--", lw=1)
        handles.append(Line2D([], [], color=colours[i], lw=1.6, label=f"{label} (mean {mean:.2f})"))
    handles.append(Line2D([], [], color="0.3", ls="--", lw=1, label="posterior mean"))
    scores.set_xlabel("composite score (weighted desirability, 0 to 1)")
    scores.set_ylabel("posterior density")
    _title(scores, "Composite score per construct")
    _legend(score_panel, handles, ncol=2)

    best = best_panel.subplots()
    positions = np.arange(len(constructs))
    prob_best = table["prob_best"].to_numpy()
    passed = table["passed_gates"].to_numpy(dtype=bool)
    bars = best.bar(positions, prob_best, color=colours, edgecolor="black", lw=0.6, width=0.7)
    for bar, ok in zip(bars, passed, strict=True):
        if not ok:
            bar.set_hatch("//")
            bar.set_facecolor("white")
    for x, p in zip(positions, prob_best, strict=True):
        best.annotate(
            f"{p:.2f}", (x, p), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8
        )
    threshold = result.prob_best_threshold
    best.axhline(threshold, color="0.3", ls="--", lw=1)
    _construct_ticks(best, constructs, notes)
    best.set_ylim(0, 1.1)
    best.set_ylabel("P(best)")
    _title(best, "Probability of the best score")
    _legend(
        best_panel,
        [
            Line2D([], [], color="0.3", ls="--", lw=1, label=f"selection threshold {threshold:g}"),
            Patch(
                facecolor="white", edgecolor="black", hatch="//", label="fails a gate or no dose"
            ),
        ],
        ncol=1,
    )

    ranks = rank_panel.subplots()
    rank_prob = result.rank_probabilities.to_numpy()
    shades = _blues(rank_prob.shape[1])
    bottom = np.zeros(len(constructs))
    rank_handles = []
    for r in range(rank_prob.shape[1]):
        name = "rank 1 (best)" if r == 0 else f"rank {r + 1}"
        ranks.bar(
            positions,
            rank_prob[:, r],
            bottom=bottom,
            color=shades[r],
            edgecolor="white",
            lw=0.6,
            width=0.7,
        )
        rank_handles.append(Patch(facecolor=shades[r], label=name))
        bottom += rank_prob[:, r]
    _construct_ticks(ranks, constructs, notes)
    ranks.set_ylim(0, 1)
    ranks.set_ylabel("probability")
    _title(ranks, "Rank probabilities")
    _legend(rank_panel, rank_handles, ncol=min(3, len(rank_handles)))

    figure.suptitle(textwrap.fill(_text(result.decision), 130), fontsize=11)
    return figure


def _blues(count: int) -> np.ndarray:
    from matplotlib import colormaps

    return colormaps["Blues_r"](np.linspace(0.15, 0.8, count))


def sensitivity_figure(sensitivity: SelectionSensitivity) -> Figure:
    """Three panels of the sensitivity analysis (Tervonen et al. 2011).

    1. P(best) per construct under each source of uncertainty: posterior draws at the
       protocol weights, weight draws with the posterior at its expectations, and both
       jointly; each legend entry gives the share of rank reversals against the
       reference construct.
    2. Leave-one-component-out: P(best) per construct at the protocol weights and with
       each weighted component left out (the others renormalised), a triangle over the
       construct selected in each case (none when there is no clear winner).
    3. The Dirichlet weight draws per component, one row each (box: quartiles, whiskers:
       5th to 95th percentiles), with the protocol weight marked.
    """
    constructs = [_text(c) for c in sensitivity.constructs]
    colours = _colours(len(constructs))
    figure = Figure(figsize=(14.0, 5.0), layout="constrained", facecolor="white")
    source_panel, loo_panel, weight_panel = figure.subfigures(1, 3, width_ratios=(1.0, 1.5, 0.9))
    reference = _text(sensitivity.reference) if sensitivity.reference is not None else None

    sources = source_panel.subplots()
    analyses = (
        ("posterior, protocol weights", sensitivity.prob_best_posterior, "0.25"),
        ("weights, posterior at its mean", sensitivity.prob_best_weights, "0.6"),
        ("weights and posterior", sensitivity.prob_best_joint, "0.85"),
    )
    width = 0.8 / len(analyses)
    positions = np.arange(len(constructs))
    handles = []
    for j, (name, prob, shade) in enumerate(analyses):
        offset = (j - (len(analyses) - 1) / 2) * width
        sources.bar(
            positions + offset, prob.to_numpy(), width=width, color=shade, edgecolor="black", lw=0.5
        )
        note = ""
        if sensitivity.reference is not None:
            reversal = 1.0 - float(prob.sel(construct=sensitivity.reference))
            note = f": reversals {reversal:.0%}"
        handles.append(Patch(facecolor=shade, edgecolor="black", lw=0.5, label=f"{name}{note}"))
    _construct_ticks(sources, constructs)
    sources.set_ylim(0, 1.05)
    sources.set_ylabel("P(best)")
    _title(sources, "P(best) by source of uncertainty")
    if reference is not None:
        handles.append(Line2D([], [], ls="none", label=f"reversals: the best is not {reference}"))
    _legend(source_panel, handles, ncol=1)

    loo = loo_panel.subplots()
    table = sensitivity.leave_one_out
    groups = ["protocol\nweights", *(f"without\n{_text(c)}" for c in table["component"])]
    base = sensitivity.base_selected
    chosen = [base, *table["selected"]]
    values = np.vstack(
        [
            sensitivity.prob_best_posterior.to_numpy(),
            table[[f"prob_best[{c}]" for c in sensitivity.constructs]].to_numpy(dtype=float),
        ]
    )
    width = 0.8 / len(constructs)
    x = np.arange(len(groups))
    offsets = (np.arange(len(constructs)) - (len(constructs) - 1) / 2) * width
    for i, label in enumerate(constructs):
        loo.bar(
            x + offsets[i],
            values[:, i],
            width=width,
            color=colours[i],
            edgecolor="black",
            lw=0.4,
            label=label,
        )
    picked = [(g, sensitivity.constructs.index(c)) for g, c in enumerate(chosen) if c is not None]
    loo.scatter(
        [x[g] + offsets[i] for g, i in picked],
        [values[g, i] + 0.04 for g, i in picked],
        marker="v",
        s=36,
        color="black",
        zorder=3,
        label="selected (none: no clear winner)",
    )
    loo.set_xticks(x, groups, fontsize=8)
    loo.set_ylim(0, 1.1)
    loo.set_ylabel("P(best), posterior draws")
    _title(loo, "Leave one component out")
    handles, _ = loo.get_legend_handles_labels()
    _legend(loo_panel, handles, ncol=min(4, len(handles)))

    weights = weight_panel.subplots()
    draws = sensitivity.weight_draws.to_numpy()
    components = [_text(str(c)) for c in sensitivity.weight_draws["component"].to_numpy()]
    positions = np.arange(len(components))[::-1]
    weights.boxplot(
        [draws[:, k] for k in range(draws.shape[1])],
        positions=positions,
        orientation="horizontal",
        widths=0.5,
        whis=(5, 95),
        showfliers=False,
        patch_artist=True,
        boxprops={"facecolor": "0.85", "edgecolor": "black", "lw": 0.8},
        medianprops={"color": "black", "lw": 1},
    )
    weights.scatter(
        sensitivity.protocol_weights.to_numpy(),
        positions,
        marker="D",
        s=28,
        color="#d7301f",
        zorder=3,
    )
    weights.set_yticks(positions, components)
    weights.set_xlim(0, max(1e-6, float(draws.max())) * 1.1)
    weights.set_xlabel("weight")
    _title(
        weights,
        f"Weight draws, Dirichlet \u03ba = {sensitivity.kappa:g}",
    )
    _legend(
        weight_panel,
        [
            Patch(
                facecolor="0.85",
                edgecolor="black",
                label=f"{sensitivity.n_weights} draws: quartiles, 5-95%",
            ),
            Line2D([], [], ls="none", marker="D", color="#d7301f", label="protocol weight"),
        ],
        ncol=2,
    )

    outcome = _text(base) if base is not None else "no clear winner"
    figure.suptitle(
        textwrap.fill(
            f"Sensitivity of the selection (base: {outcome}): the selection rule changes its "
            f"choice under {sensitivity.selection_change:.1%} of the weight draws",
            150,
        ),
        fontsize=11,
    )
    return figure
