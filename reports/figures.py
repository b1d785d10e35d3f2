"""Matplotlib figures as byte-stable SVG text, and the style report figures are drawn in.

Matplotlib's SVG is made deterministic here, per figure and never through global state:
``svg.hashsalt`` is set to a salt the caller gives (the figure's id in the document), so the
clip-path ids are hashes of the salt and the drawing instead of random UUIDs; the metadata
(date, creator with the Matplotlib version, format, type) is left out; text is drawn as
paths in the bundled DejaVu Sans, so the output does not depend on the fonts installed; and
the resolution is fixed. The result keeps no XML declaration, DOCTYPE or comments, and every
element id starts with the salt, so several figures can be inlined in one HTML page without
clashing ids.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Iterator
from typing import Any

import matplotlib
from matplotlib.figure import Figure as MatplotlibFigure

__all__ = ["REPORT_STYLE", "figure_to_svg", "report_style"]

REPORT_STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 10.0,
    "axes.titlesize": 11.0,
    "axes.labelsize": 10.0,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "legend.fontsize": 9.0,
    "legend.framealpha": 0.9,
    "figure.dpi": 100.0,
    "figure.facecolor": "white",
    "figure.constrained_layout.use": True,
    "savefig.dpi": 100.0,
    "savefig.facecolor": "white",
    "svg.fonttype": "path",
}

_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_SALT = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_LINE_COMMENT = re.compile(r"^[ \t]*<!--.*?-->[ \t]*\n", re.M | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_ID = re.compile(r'(?<=\s)id="([^"]+)"')
_HREF = re.compile(r'(?<=\s)(xlink:href|href)="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
_ANY_ID = re.compile(r'(?<=\s)id="([^"]+)"|(?<=\s)(?:xlink:href|href)="#([^"]+)"|url\(#([^)]+)\)')


@contextlib.contextmanager
def report_style() -> Iterator[None]:
    """Draw figures inside this context to get the report's fonts and sizes.

    The settings (:data:`REPORT_STYLE`) apply only inside the ``with`` block, through
    ``matplotlib.rc_context``; global ``rcParams`` are left as they were.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> with report_style():
    ...     figure = Figure(figsize=(4, 3))
    ...     axes = figure.subplots()
    """
    with matplotlib.rc_context(REPORT_STYLE):
        yield


def figure_to_svg(
    figure: MatplotlibFigure, *, salt: str, dpi: float = 100.0, close: bool = True
) -> str:
    """The figure as SVG text, identical byte for byte every time it is drawn the same way.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure (built with ``pyplot`` or directly).
    salt : str
        Seeds matplotlib's ``svg.hashsalt`` and prefixes every element id; give each figure
        of a document its own (its id), starting with a letter, letters, digits and hyphens.
    dpi : float, default 100
        Resolution of any raster image in the figure (vector parts do not depend on it).
    close : bool, default True
        Close the figure afterwards if ``pyplot`` manages it, so that no figure is left
        open.

    Returns
    -------
    str
        One ``<svg>`` element (with its ``xmlns`` declarations), no XML declaration, no
        comments, no date, no Matplotlib version; element ids renumbered in order of first
        use. A figure with a layout engine (constrained or tight) is saved at its own size,
        one without is cropped to its drawn content (``bbox_inches="tight"``, which draws
        it twice).
    """
    if not isinstance(figure, MatplotlibFigure):
        raise TypeError(f"expected a matplotlib Figure, not {type(figure).__name__}")
    if not isinstance(salt, str) or not _SALT.fullmatch(salt):
        raise ValueError(
            f"figure salt {salt!r} must start with a letter and hold only letters, digits "
            "and hyphens"
        )
    buffer = io.StringIO()
    rc = {"svg.hashsalt": salt, "svg.fonttype": "path", "svg.image_inline": True, "svg.id": None}
    try:
        with matplotlib.rc_context(rc):
            laid_out = figure.get_layout_engine() is not None
            figure.savefig(
                buffer,
                format="svg",
                dpi=dpi,
                metadata=_NO_METADATA,
                bbox_inches=None if laid_out else "tight",
                pad_inches=0.05,
            )
    finally:
        if close:
            pyplot = sys.modules.get("matplotlib.pyplot")
            if pyplot is not None:
                pyplot.close(figure)
    return _clean_svg(buffer.getvalue(), salt)


def _clean_svg(svg: str, prefix: str) -> str:
    start = svg.find("<svg")
    if start < 0:
        raise ValueError("matplotlib wrote no <svg> element")
    svg = _COMMENT.sub("", _LINE_COMMENT.sub("", svg[start:]))
    names: dict[str, str] = {}

    def renamed(name: str) -> str:
        return names.setdefault(name, f"{prefix}_{len(names) + 1}")

    for match in _ANY_ID.finditer(svg):
        renamed(next(group for group in match.groups() if group is not None))
    svg = _ID.sub(lambda m: f'id="{renamed(m.group(1))}"', svg)
    svg = _HREF.sub(lambda m: f'{m.group(1)}="#{renamed(m.group(2))}"', svg)
    svg = _URL.sub(lambda m: f"url(#{renamed(m.group(1))})", svg)
    return svg.strip()
