"""Figures of decision tables and dose-transition pathways (Yap et al. 2017).

Both are drawn on :class:`matplotlib.figure.Figure` objects without ``pyplot`` and change
no global ``rcParams``. The pathway tree is laid out in inches from the measured width of
its labels: each cohort is a column as wide as its longest label, edges leave a node's
label at its end and run as elbows through the gaps between columns, so that no line
crosses a label; one pathway per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.textpath import TextToPath

if TYPE_CHECKING:
    from .pathways import Pathways

__all__ = [
    "ACTION_COLOURS",
    "action_kind",
    "decision_table_figure",
    "eliminates",
    "pathways_figure",
]

ACTION_COLOURS = {
    "escalate": "#4daf4a",
    "stay": "#ffd92f",
    "de-escalate": "#fc8d62",
    "stop": "#b3b3b3",
    "wait": "#9ecae1",
    "start": "white",
}
_LETTERS = {
    "escalate": "E",
    "stay": "S",
    "de-escalate": "D",
    "stop": "X",
    "wait": "W",
    "start": "-",
}
_ELIMINATED_EDGE = "#7f0000"
_INCH = 72.0


def action_kind(decision: str) -> str:
    """The kind of a decision in words: ``escalate``, ``stay``, ``de-escalate``, ``stop``,
    ``wait`` or ``start`` (the first word of :func:`dartnk.adaptive.pathways.decision_table`'s
    ``decision``)."""
    return decision.split(" ")[0].rstrip(",")


def eliminates(rule: str) -> bool:
    """True when the rule behind a decision rules the dose itself out for the arm: BOIN's
    elimination (``de-escalate: dose eliminated``, ``stop: lowest dose too toxic``; Liu
    and Yuan 2015) and the 3+3's ``too toxic`` rules (Storer 1989). A rule about another
    dose (BOIN's ``stay: next dose eliminated``) does not."""
    return rule.endswith(": dose eliminated") or "too toxic" in rule


def decision_table_figure(
    table: pd.DataFrame, *, title: str | None = None, ax: Any = None
) -> Figure:
    """A decision table as a grid: patients treated at the dose (columns) by DLTs (rows),
    each cell coloured and lettered by the action, the cells where the dose is eliminated
    hatched and bounded by a thick line (the elimination boundary: at or above it the dose
    is ruled out); the legend sits to the right of the grid. Draws on ``ax`` when given,
    else on a figure of its own sized to the grid; returns the figure."""
    max_n = int(table["n"].max())
    cell = 0.36
    if ax is None:
        figure = Figure(
            figsize=(max_n * cell + 3.4, (max_n + 1) * cell + 1.1),
            layout="constrained",
            facecolor="white",
        )
        ax = figure.subplots()
    kinds = [action_kind(d) for d in table["decision"]]
    eliminated = np.array(
        [eliminates(str(r)) for r in table["rule"]] if "rule" in table else [False] * len(table)
    )
    for n, dlt, kind, out in zip(table["n"], table["dlt"], kinds, eliminated, strict=True):
        ax.add_patch(
            Rectangle(
                (n - 0.5, dlt - 0.5),
                1,
                1,
                facecolor=ACTION_COLOURS.get(kind, "white"),
                edgecolor=_ELIMINATED_EDGE if out else "white",
                hatch="////" if out else None,
                lw=0.5 if out else 1.0,
            )
        )
        ax.text(
            n,
            dlt,
            _LETTERS.get(kind, "?"),
            ha="center",
            va="center",
            fontsize=8,
            fontweight="bold" if out else "normal",
        )
    handles: list[Any] = [
        Patch(facecolor=ACTION_COLOURS[k], label=f"{_LETTERS[k]}: {k}")
        for k in ACTION_COLOURS
        if k in kinds
    ]
    if eliminated.any():
        boundary = _elimination_boundary(table["n"].to_numpy(), table["dlt"].to_numpy(), eliminated)
        ax.plot(
            boundary[:, 0],
            boundary[:, 1],
            color=_ELIMINATED_EDGE,
            lw=2.6,
            solid_capstyle="butt",
            label="elimination boundary",
        )
        handles += [
            Patch(
                facecolor="white",
                edgecolor=_ELIMINATED_EDGE,
                hatch="////",
                label="dose eliminated (too toxic)",
            ),
            Line2D([], [], color=_ELIMINATED_EDGE, lw=2.6, label="elimination boundary"),
        ]
    ax.set_xlim(0.5, max_n + 0.5)
    ax.set_ylim(-0.5, max_n + 0.5)
    ax.set_xlabel("patients treated at the dose")
    ax.set_ylabel("patients with a DLT")
    ax.set_xticks(range(1, max_n + 1))
    ax.set_yticks(range(0, max_n + 1))
    ax.set_aspect("equal")
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.03, 1.0), fontsize=8, frameon=False
    )
    if title:
        ax.set_title(title, fontsize=10)
    return ax.get_figure(root=True)


def _elimination_boundary(n: np.ndarray, dlt: np.ndarray, eliminated: np.ndarray) -> np.ndarray:
    """The polyline along the lower edge of the eliminated cells, with NaN breaks where a
    column has none: at each n the lowest eliminated DLT count."""
    points: list[tuple[float, float]] = []
    previous: float | None = None
    for value in range(int(n.min()), int(n.max()) + 1):
        column = dlt[(n == value) & eliminated]
        if column.size == 0:
            if previous is not None:
                points.append((np.nan, np.nan))
            previous = None
            continue
        edge = float(column.min()) - 0.5
        if previous is not None and previous != edge:
            points.append((value - 0.5, edge))
        elif previous is None:
            points.append((value - 0.5, edge))
        points.append((value + 0.5, edge))
        previous = edge
    return np.array(points, dtype=float)


def _resolves_pending(path: str) -> bool:
    """True for a node of the level that resolves the pending patients (its path is one
    step, ``pending DL2 0/2``)."""
    return path.startswith("pending") and " > " not in path


def _label(node: Any) -> str:
    if node.cohort == 0:
        return f"now: {node.decision}"
    if _resolves_pending(str(node.path)):
        return f"pending {node.dlt}: {node.decision}"
    return f"{node.dose} {node.dlt}: {node.decision}"


def _header(nodes: pd.DataFrame, cohort: int) -> str:
    if cohort == 0:
        return "now"
    paths = nodes.loc[nodes["cohort"] == cohort, "path"].astype(str)
    if paths.map(_resolves_pending).all():
        return "pending resolved"
    offset = int(nodes["path"].astype(str).map(_resolves_pending).any())
    return f"cohort {cohort - offset}"


def _rows(nodes: pd.DataFrame) -> dict[int, float]:
    """Row of every node: leaves one per row in depth-first order, a parent midway
    between its first and last child, so that no two edges cross."""
    children: dict[int, list[int]] = {}
    for node, parent in zip(nodes["node"], nodes["parent"], strict=True):
        if parent is not None and not pd.isna(parent):
            children.setdefault(int(parent), []).append(int(node))
    root = int(nodes.loc[nodes["parent"].isna(), "node"].iloc[0])
    rows: dict[int, float] = {}
    counter = [0]

    def place(node: int) -> float:
        kids = children.get(node, [])
        if not kids:
            rows[node] = float(counter[0])
            counter[0] += 1
        else:
            placed = [place(kid) for kid in kids]
            rows[node] = (placed[0] + placed[-1]) / 2.0
        return rows[node]

    place(root)
    return rows


def _width(text: str, font: FontProperties) -> float:
    """The width of ``text`` in inches."""
    width, _, _ = TextToPath().get_text_width_height_descent(text, font, ismath=False)
    return width / _INCH


def _wrap(text: str, width: float, font: FontProperties) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` inches (a word wider
    than that keeps a line of its own)."""
    lines: list[str] = []
    for word in text.split(" "):
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and _width(candidate, font) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def pathways_figure(pathways: Pathways, *, fontsize: float = 8.0) -> Figure:
    """The dose-transition pathways as a tree: the current decision at the left, each
    later cohort a column to its right, one pathway per row; each node a dot coloured by
    its action with its outcome and decision beside it (``DL2 1/3: stay at DL2``). Edges
    leave a label at its end and run through the gaps between columns, so that labels are
    never crossed."""
    nodes = pathways.nodes
    font = FontProperties(size=fontsize)
    rows = _rows(nodes)
    labels = {int(node.node): _label(node) for node in nodes.itertuples()}
    widths = {node: _width(text, font) for node, text in labels.items()}
    cohorts = sorted(int(c) for c in nodes["cohort"].unique())
    column_width = {
        c: max(widths[int(n)] for n in nodes.loc[nodes["cohort"] == c, "node"]) for c in cohorts
    }
    dot, gap, margin = 0.09, 0.5, 0.15
    left = {}
    x = margin
    for c in cohorts:
        left[c] = x
        x += dot + column_width[c] + gap
    width = x - gap + margin
    row_height = fontsize / _INCH * 2.0
    n_rows = int(max(rows.values())) + 1
    heading = f"Dose-transition pathways: {pathways.design}"
    wrapped = _wrap(heading, width - 2 * margin, FontProperties(size=10.0))
    top = 0.2 + 0.2 * len(wrapped) + 0.3
    bottom = 0.5
    height = top + n_rows * row_height + bottom
    figure = Figure(figsize=(width, height), facecolor="white", layout="none")
    ax = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0.0, width)
    ax.set_ylim(0.0, height)
    ax.set_axis_off()

    def y_of(node: int) -> float:
        return height - top - (rows[node] + 0.5) * row_height

    cohort_of = {int(n): int(c) for n, c in zip(nodes["node"], nodes["cohort"], strict=True)}
    segments: list[Sequence[tuple[float, float]]] = []
    for parent, group in nodes.dropna(subset=["parent"]).groupby("parent", sort=True):
        parent = int(parent)
        c = cohort_of[parent]
        kids = [int(k) for k in group["node"]]
        spine = left[c] + dot + column_width[c] + gap / 2.0
        start = left[c] + dot + widths[parent] + 0.07
        y_parent = y_of(parent)
        ys = [y_of(k) for k in kids]
        segments.append([(start, y_parent), (spine, y_parent)])
        span = [*ys, y_parent]
        segments.append([(spine, min(span)), (spine, max(span))])
        for kid, y_kid in zip(kids, ys, strict=True):
            segments.append([(spine, y_kid), (left[cohort_of[kid]] - 0.04, y_kid)])
    edges = LineCollection(segments, colors="0.55", linewidths=0.8, gid="edges")
    ax.add_collection(edges)

    kinds = []
    for node in nodes.itertuples():
        number = int(node.node)
        kind = action_kind(str(node.decision))
        kinds.append(kind)
        x_node, y_node = left[cohort_of[number]], y_of(number)
        ax.plot(
            x_node, y_node, "o", ms=5, color=ACTION_COLOURS.get(kind, "white"), mec="0.3", mew=0.5
        )
        ax.text(
            x_node + dot,
            y_node,
            labels[number],
            ha="left",
            va="center",
            fontproperties=font,
            gid="node label",
        )
    for c in cohorts:
        ax.text(
            left[c],
            height - top + 0.12,
            _header(nodes, c),
            ha="left",
            va="bottom",
            fontsize=fontsize + 0.5,
            fontweight="bold",
            gid="column header",
        )
    ax.text(
        margin, height - 0.15, "\n".join(wrapped), ha="left", va="top", fontsize=10, gid="title"
    )
    handles = [
        Line2D(
            [],
            [],
            ls="none",
            marker="o",
            ms=5,
            color=ACTION_COLOURS[k],
            mec="0.3",
            mew=0.5,
            label=k,
        )
        for k in ACTION_COLOURS
        if k in kinds
    ]
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(margin / width, 0.02),
        ncol=len(handles),
        fontsize=fontsize,
        frameon=False,
        handletextpad=0.3,
        borderaxespad=0.0,
    )
    return figure
