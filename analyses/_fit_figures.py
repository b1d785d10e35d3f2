"""The report figures of one model fit, drawn as SVG by one rule wherever the fit is.

A fit made in a worker process (:mod:`dartnk.analyses._fit_pool`) has its report figures
drawn there, right after sampling, while the other worker still samples; the report then
takes the SVG text instead of drawing the figures one after another at the end. The
figures are the same bytes wherever they are drawn: :func:`draw_figure` is the one rule,
the SVG is made deterministic by :func:`dartnk.reports.figure_to_svg` (salted with the
figure's id), and the worker draws with the ``rcParams`` of the process that asked for
the fits (:func:`current_style`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["FigureTask", "current_style", "draw_figure", "draw_figures", "fit_figures"]


@dataclass(frozen=True)
class FigureTask:
    """One report figure of a fit: ``fit.<method>(**options)`` drawn as SVG salted with
    ``id``. With ``optional``, a ``ValueError`` from the method means the fit has no such
    figure (for example no parameter to show in a rank plot), drawn as ``None``."""

    id: str
    method: str
    options: tuple[tuple[str, Any], ...] = ()
    optional: bool = False


def fit_figures(name: str, *, ewoc: float) -> tuple[FigureTask, ...]:
    """The figures of model ``name``'s fit in the interim report, by their ids there: the
    model's own figure, the BLRM's interval probabilities (toxicity, with the EWOC limit),
    the diagnostic gates and the rank plots."""
    main = "dose-toxicity" if name == "toxicity" else f"{name}-figure"
    tasks = [FigureTask(main, "plot")]
    if name == "toxicity":
        tasks.append(FigureTask("interval-figure", "plot_intervals", (("ewoc", float(ewoc)),)))
    tasks += [
        FigureTask(f"{name}-gates-figure", "plot_diagnostics"),
        FigureTask(f"{name}-rank", "plot_rank", optional=True),
    ]
    return tuple(tasks)


def current_style() -> dict[str, Any]:
    """This process's matplotlib ``rcParams`` (all but the backend), for a worker to draw
    with, so that its figures are those this process would draw."""
    import matplotlib

    return {key: value for key, value in matplotlib.rcParams.items() if key != "backend"}


def draw_figure(fit: Any, task: FigureTask) -> str | None:
    """The SVG text of one figure of ``fit`` (:class:`FigureTask`); ``None`` when the
    figure is optional and the fit has none."""
    from dartnk.reports import figure_to_svg

    try:
        figure = getattr(fit, task.method)(**dict(task.options))
    except ValueError:
        if task.optional:
            return None
        raise
    return figure_to_svg(figure, salt=task.id)


def draw_figures(
    fit: Any, tasks: Sequence[FigureTask], *, style: Mapping[str, Any] | None = None
) -> tuple[dict[str, str | None], float]:
    """Every figure of ``tasks`` drawn with ``style`` (``rcParams``, default: as they are),
    by id, and the seconds it took. A figure that fails is left out, so that the report
    draws it again and raises there."""
    if not tasks:
        return {}, 0.0
    import matplotlib

    started = time.perf_counter()
    drawn: dict[str, str | None] = {}
    context = matplotlib.rc_context(dict(style)) if style else contextlib.nullcontext()
    with context:
        for task in tasks:
            try:
                drawn[task.id] = draw_figure(fit, task)
            except Exception:
                continue
    return drawn, time.perf_counter() - started
