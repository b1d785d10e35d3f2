"""Building blocks of the models' figures: panels with their own legend, credible bands,
counts as labels, and axis limits that keep points at 0 or 1 off the axis line.

Every panel is a matplotlib ``SubFigure`` holding its axes and a legend placed outside
them (``loc="outside lower center"``), so that constrained layout reserves room for the
legend and it never covers the data nor a neighbouring panel. Counts are written in the
dose labels (``DL2`` over ``1/6``) rather than beside the points, so that no label covers
a curve. Figures are built without ``pyplot``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

__all__ = [
    "PROBABILITY_LIMITS",
    "band",
    "count_label",
    "new_figure",
    "panel_legend",
    "panels",
]

PROBABILITY_LIMITS = (-0.06, 1.04)
"""Axis limits of a probability: 0 and 1 lie strictly inside, so that an observed 0/n or
n/n point is drawn in full and not hidden on the axis line."""

_LEGEND_FONT = 8.0
_TITLE_FONT = 10.0


def new_figure(width: float, height: float) -> Figure:
    """A white figure of ``width`` x ``height`` inches with constrained layout."""
    return Figure(figsize=(width, height), layout="constrained", facecolor="white")


def panels(
    count: int, *, width: float = 3.4, height: float = 3.6, title: str | None = None
) -> tuple[Figure, list[SubFigure]]:
    """A figure of ``count`` side-by-side panels (subfigures), one per construct, each
    ``width`` inches wide or wider, so that the optional figure title above them fits."""
    title_width = 0.58 * _TITLE_FONT * len(title) / 72.0 + 0.4 if title else 0.0
    figure = new_figure(max(width * count, title_width), height + (0.35 if title else 0.0))
    subfigures = np.atleast_1d(figure.subfigures(1, count, squeeze=False)).ravel()
    if title:
        figure.suptitle(title, fontsize=_TITLE_FONT)
    return figure, list(subfigures)


def panel_legend(
    panel: SubFigure | Figure, *axes: Axes, ncol: int = 2, extra: Sequence[Artist] = ()
) -> None:
    """One legend of the labelled artists of ``axes`` and of the ``extra`` legend handles
    (a label once), below the axes in ``panel``; in ``ncol`` columns when they fit the
    panel's width, else in fewer."""
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    for handle in extra:
        entries.setdefault(handle.get_label(), handle)
    if not entries:
        raise ValueError("a panel legend needs labelled artists")
    panel.legend(
        list(entries.values()),
        list(entries),
        loc="outside lower center",
        ncol=_columns(panel, list(entries), ncol),
        fontsize=_LEGEND_FONT,
        frameon=False,
        handlelength=1.6,
        columnspacing=1.0,
    )


def _columns(panel: SubFigure | Figure, labels: list[str], wanted: int) -> int:
    """The most columns, up to ``wanted``, whose estimated width fits the panel: a label
    of k characters takes about 0.58 k font sizes, plus the handle and the spacing."""
    dpi = panel.get_figure(root=True).dpi
    available = panel.bbox.width * 72.0 / dpi
    widest = max(len(label) for label in labels)
    entry = (0.58 * widest + 1.6 + 0.8 + 1.0) * _LEGEND_FONT
    columns = max(1, min(wanted, len(labels), int(available // entry)))
    return columns


def band(values: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower bound, median and upper bound of the central ``prob`` interval over the last
    axis of ``values``."""
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob {prob} must lie strictly between 0 and 1")
    tail = (1.0 - prob) / 2.0
    low, mid, high = np.quantile(values, [tail, 0.5, 1.0 - tail], axis=-1)
    return low, mid, high


def count_label(events: int, total: int, *, pending: int = 0) -> str:
    """``"events/total"``, with ``" +k"`` for k pending patients when there are any."""
    text = f"{events}/{total}"
    return f"{text} +{pending}" if pending else text
