"""The figure of a construct selection: score distributions, P(best), rank probabilities."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

__all__ = ["selection_figure"]


def _text(label: str) -> str:
    """A label as plain text for matplotlib (no mathtext)."""
    return label.replace("$", r"\$")


def selection_figure(result: Any) -> Any:
    """Three panels drawn from one analysis's selection result; returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    table = result.summary()
    constructs = [_text(c) for c in result.constructs]
    ticks = [
        label if has_dose else f"{label}\n(no admissible dose)"
        for label, has_dose in zip(constructs, result.available.to_numpy(), strict=True)
    ]
    colours = [f"C{i % 10}" for i in range(len(constructs))]
    figure, (scores, best, ranks) = plt.subplots(
        1, 3, figsize=(14, 4.8), layout="constrained", width_ratios=(1.4, 1, 1)
    )

    score = result.score.to_numpy()
    available = table["available"].to_numpy()
    finite = score[available]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    pad = max(0.02, 0.05 * (high - low))
    bins = np.linspace(max(0.0, low - pad), min(1.0, high + pad), 41)
    for i, label in enumerate(constructs):
        if not available[i]:
            scores.plot([], [], " ", label=f"{label}: no admissible dose")
            continue
        scores.hist(
            score[i],
            bins=bins,
            density=True,
            histtype="step",
            lw=1.6,
            color=colours[i],
            label=f"{label} (mean {table['expected_score'][i]:.2f})",
        )
        scores.axvline(table["expected_score"][i], color=colours[i], ls="--", lw=1)
    scores.set_xlabel("composite score (weighted desirability, 0 to 1)")
    scores.set_ylabel("posterior density")
    scores.set_title("Composite score per construct", fontsize=10)
    scores.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.18), ncol=2, frameon=False)

    positions = np.arange(len(constructs))
    prob_best = table["prob_best"].to_numpy()
    passed = table["passed_gates"].to_numpy()
    bars = best.bar(positions, prob_best, color=colours, edgecolor="black", lw=0.6)
    for bar, ok in zip(bars, passed, strict=True):
        if not ok:
            bar.set_hatch("//")
            bar.set_facecolor("white")
    for x, p in zip(positions, prob_best, strict=True):
        best.annotate(
            f"{p:.2f}", (x, p), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8
        )
    best.axhline(result.prob_best_threshold, color="0.3", ls="--", lw=1)
    handles = [
        plt.Line2D(
            [],
            [],
            color="0.3",
            ls="--",
            label=f"selection threshold {result.prob_best_threshold:g}",
        ),
        Patch(
            facecolor="white",
            edgecolor="black",
            hatch="//",
            label="fails a gate or no admissible dose",
        ),
    ]
    best.legend(
        handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.18), frameon=False
    )
    best.set_xticks(positions, ticks)
    best.set_ylim(0, 1.1)
    best.set_ylabel("P(best)")
    best.set_title("Probability of the best score", fontsize=10)

    rank_prob = result.rank_probabilities.to_numpy()
    shades = plt.get_cmap("Blues_r")(np.linspace(0.15, 0.8, rank_prob.shape[1]))
    bottom = np.zeros(len(constructs))
    for r in range(rank_prob.shape[1]):
        name = "rank 1 (best)" if r == 0 else f"rank {r + 1}"
        ranks.bar(
            positions,
            rank_prob[:, r],
            bottom=bottom,
            color=shades[r],
            edgecolor="white",
            lw=0.6,
            label=name,
        )
        bottom += rank_prob[:, r]
    ranks.set_xticks(positions, ticks)
    ranks.set_ylim(0, 1)
    ranks.set_ylabel("probability")
    ranks.set_title("Rank probabilities", fontsize=10)
    ranks.legend(
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(0.0, -0.18),
        ncol=min(3, rank_prob.shape[1]),
        frameon=False,
    )

    if max(len(label) for label in constructs) > 8:
        for axes in (best, ranks):
            axes.tick_params(axis="x", labelrotation=20)
    figure.suptitle(textwrap.fill(_text(result.decision), 120), fontsize=11)
    return figure
