"""Checks a reader's eye makes on a drawn figure, as bounding-box geometry: titles and
legends apart, points inside their axes, labels not crossed by lines."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure


def drawn(figure: Figure):
    """Draw ``figure`` on an Agg canvas and return its renderer."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


def legend_of(ax):
    """The legend that explains ``ax``: its own, or its panel's (the subfigure holding it)."""
    if ax.get_legend() is not None:
        return ax.get_legend()
    panel = ax.get_figure(root=False)
    return panel.legends[0] if panel.legends else None


def titles(figure: Figure) -> list:
    """Every non-empty axes title and figure or panel title of ``figure``."""
    texts = [ax.title for ax in figure.axes if ax.get_title()]
    stack = [figure]
    while stack:
        panel = stack.pop()
        if panel._suptitle is not None and panel._suptitle.get_text():
            texts.append(panel._suptitle)
        stack.extend(panel.subfigs)
    return texts


def overlapping(boxes: list) -> list[tuple[int, int]]:
    """Pairs of boxes (display coordinates) that overlap by more than one pixel."""
    pairs = []
    for (i, a), (j, b) in combinations(enumerate(boxes), 2):
        width = min(a.x1, b.x1) - max(a.x0, b.x0)
        height = min(a.y1, b.y1) - max(a.y0, b.y0)
        if width > 1.0 and height > 1.0:
            pairs.append((i, j))
    return pairs


def scatter_points(ax) -> np.ndarray:
    """Data coordinates of every scatter marker of ``ax`` (rows x, y)."""
    arrays = [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)]
    arrays = [np.asarray(a) for a in arrays if len(a)]
    return np.vstack(arrays) if arrays else np.zeros((0, 2))


def strictly_inside(values: np.ndarray, limits: tuple[float, float]) -> bool:
    low, high = sorted(limits)
    return bool(np.all((values > low) & (values < high)))


def crosses(segment: np.ndarray, box, *, steps: int = 200, margin: float = 0.5) -> bool:
    """True when a display-coordinate segment passes through ``box`` (shrunk by
    ``margin`` pixels), sampled at ``steps`` points."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    points = segment[0] + t * (segment[1] - segment[0])
    inside = (
        (points[:, 0] > box.x0 + margin)
        & (points[:, 0] < box.x1 - margin)
        & (points[:, 1] > box.y0 + margin)
        & (points[:, 1] < box.y1 - margin)
    )
    return bool(inside.any())


def on_page(box, figure: Figure, *, tolerance: float = 1.0) -> bool:
    """True when a display-coordinate box lies on the figure (within ``tolerance`` px)."""
    page = figure.bbox
    return (
        page.x0 - tolerance <= box.x0
        and box.x1 <= page.x1 + tolerance
        and page.y0 - tolerance <= box.y0
        and box.y1 <= page.y1 + tolerance
    )
