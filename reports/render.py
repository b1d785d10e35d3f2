"""Rendering a :class:`~dartnk.reports.Document` to self-contained HTML or Markdown.

Both formats come from the Jinja2 templates in ``templates/`` and share one numbering of
sections (1, 1.1, ...), tables and figures. The output depends on the document only: no
date, no clock, no environment, identical bytes on every rerun.

HTML is one file that requests nothing: inline CSS (with print rules), figures as inline
SVG, the manifest as inline JSON, and a Content-Security-Policy (``default-src 'none'``,
inline styles and ``data:`` images only) that keeps a browser from loading anything even if a
value somehow named a resource. All
text goes through Jinja2's autoescaping.

Markdown is GitHub-flavoured: pipe tables, ``~~`` for eliminated rows, fenced verbatim
blocks; figures are embedded as ``data:image/svg+xml;base64`` images (rendered by most
Markdown viewers and by pandoc; GitHub's web view shows the alternative text instead), so the
file stays self-contained.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import PurePath

import jinja2

from ._markdown import markdown_block, markdown_inline
from .document import Block, Document, Figure, KeyValues, Paragraph, Preformatted, Section, Table
from .manifest import (
    HTML_CLOSE,
    HTML_OPEN,
    MARKDOWN_MARKER,
    Manifest,
    manifest_json_for_html,
    markdown_fence,
)
from .sections import section_end, section_start

__all__ = ["FORMATS", "MANIFEST_SECTION_ID", "render", "render_html", "render_markdown"]

MANIFEST_SECTION_ID = "manifest"
FORMATS: dict[str, str] = {
    "html": "html",
    ".html": "html",
    ".htm": "html",
    "markdown": "markdown",
    "md": "markdown",
    ".md": "markdown",
    ".markdown": "markdown",
}

_MARKDOWN_EMPHASIS = {
    "selected": ("**", "**"),
    "eliminated": ("~~", "~~"),
    "flagged": ("", " ⚠"),
}
_MARKDOWN_LEGEND = {"selected": "**bold**", "eliminated": "~~struck through~~", "flagged": "⚠"}
_HTML_LEGEND = {"selected": "bold", "eliminated": "struck through", "flagged": "flagged"}
_ALERT_NAMES = {"info": "Note", "warning": "Warning", "error": "Error"}


@dataclass(frozen=True)
class _BlockView:
    block: Block
    number: int | None
    kind: str


@dataclass(frozen=True)
class _SectionView:
    section: Section
    number: str
    depth: int
    blocks: tuple[_BlockView, ...]
    subsections: tuple[_SectionView, ...]
    start: str
    end: str
    manifest: Manifest | None = None


class _Numbering:
    def __init__(self) -> None:
        self.tables = 0
        self.figures = 0

    def block(self, block: Block) -> _BlockView:
        if isinstance(block, Table):
            self.tables += 1
            return _BlockView(block, self.tables, block.kind)
        if isinstance(block, Figure):
            self.figures += 1
            return _BlockView(block, self.figures, block.kind)
        return _BlockView(block, None, block.kind)

    def section(
        self, section: Section, number: str, depth: int, manifest: Manifest | None = None
    ) -> _SectionView:
        blocks = tuple(self.block(b) for b in section.blocks)
        subsections = tuple(
            self.section(s, f"{number}.{i}", depth + 1)
            for i, s in enumerate(section.subsections, start=1)
        )
        return _SectionView(
            section=section,
            number=number,
            depth=depth,
            blocks=blocks,
            subsections=subsections,
            start=section_start(section.id),
            end=section_end(section.id),
            manifest=manifest,
        )


def manifest_section(manifest: Manifest, *, show_protocol: bool) -> Section:
    """The human-readable manifest: command, protocol hash, input files with their SHA-256,
    seeds, settings and versions (and the protocol as run when ``show_protocol``)."""
    command = shlex.join(manifest.command) if manifest.command else "not recorded"
    blocks: list[Block] = [
        Paragraph(
            "Everything this report was computed from. The same inputs, protocol, seeds and "
            "versions give the same report byte for byte."
        ),
        KeyValues(
            (
                ("Command", command),
                ("Protocol hash (SHA-256)", manifest.protocol_hash or "none"),
            )
        ),
    ]
    listings = (
        ("Input files and their SHA-256", ("file", "SHA-256"), manifest.inputs),
        ("Seeds", ("seed", "value"), manifest.seeds),
        (
            "Settings of the run",
            ("setting", "value"),
            {k: json.dumps(v, ensure_ascii=False) for k, v in manifest.settings.items()},
        ),
        ("Versions", ("software", "version"), manifest.versions),
    )
    for caption, header, mapping in listings:
        if mapping:
            blocks.append(Table(caption=caption, columns=header, rows=tuple(mapping.items())))
    if manifest.protocol is not None:
        if show_protocol:
            text = json.dumps(manifest.to_dict()["protocol"], indent=2, ensure_ascii=False)
            blocks.append(Preformatted(text, caption="Protocol as run (JSON)"))
        else:
            blocks.append(
                Paragraph("The protocol as run is in the machine-readable manifest below.")
            )
    return Section(title="Manifest", id=MANIFEST_SECTION_ID, blocks=tuple(blocks))


def _views(document: Document, *, show_protocol: bool) -> tuple[_SectionView, ...]:
    numbering = _Numbering()
    views = [numbering.section(s, str(i), 1) for i, s in enumerate(document.sections, start=1)]
    if document.manifest is not None:
        section = manifest_section(document.manifest, show_protocol=show_protocol)
        views.append(numbering.section(section, str(len(views) + 1), 1, manifest=document.manifest))
    return tuple(views)


def _markdown_cell(text: str, emphasis: str | None) -> str:
    escaped = markdown_inline(text)
    if not escaped or emphasis is None:
        return escaped
    before, after = _MARKDOWN_EMPHASIS[emphasis]
    return f"{before}{escaped}{after}"


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _inline_svg(svg: str) -> str:
    """The SVG without its namespace declarations, which HTML implies for inline SVG."""
    head, _, body = svg.partition(">")
    for declaration in (
        ' xmlns="http://www.w3.org/2000/svg"',
        ' xmlns:xlink="http://www.w3.org/1999/xlink"',
    ):
        head = head.replace(declaration, "")
    return f"{head}>{body}"


@functools.cache
def _environment(markup: str) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("dartnk.reports", "templates"),
        autoescape=markup == "html",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        md=markdown_inline,
        md_block=markdown_block,
        md_cell=_markdown_cell,
        base64=_base64,
        inline_svg=_inline_svg,
        fence=markdown_fence,
    )
    environment.globals.update(
        alert_names=_ALERT_NAMES,
        markdown_legend=_MARKDOWN_LEGEND,
        html_legend=_HTML_LEGEND,
        manifest_open=HTML_OPEN,
        manifest_close=HTML_CLOSE,
        manifest_marker=MARKDOWN_MARKER,
        manifest_json_for_html=manifest_json_for_html,
    )
    return environment


def _check_document(document: Document) -> None:
    if not isinstance(document, Document):
        raise TypeError(f"expected a Document, not {type(document).__name__}")


def render_html(document: Document) -> str:
    """The document as one self-contained HTML page.

    The page holds its CSS (screen and print: each major section starts a new page, table
    rows are not split and headers repeat, figures scale to the page width), the figures as
    inline SVG, a table of contents linking each section's anchor, the document's alerts at
    the top, and the manifest twice: as the last section and as JSON in
    ``<script type="application/json" id="dartnk-manifest">`` (see
    :func:`~dartnk.reports.read_manifest`). Nothing is loaded from anywhere.
    """
    _check_document(document)
    template = _environment("html").get_template("report.html.j2")
    return template.render(document=document, sections=_views(document, show_protocol=True))


def render_markdown(document: Document) -> str:
    """The document as GitHub-flavoured Markdown, the twin of :func:`render_html`.

    Same sections, numbering, tables and figures (as embedded SVG data URIs); the manifest
    is the last section, with its JSON in a fenced ``json`` block on the line after
    ``<!-- dartnk:manifest -->``. All text is escaped, so names with ``|``, backticks or
    HTML tags stay text.
    """
    _check_document(document)
    template = _environment("markdown").get_template("report.md.j2")
    return template.render(document=document, sections=_views(document, show_protocol=False))


def render(document: Document, fmt: str | os.PathLike[str]) -> str:
    """Render to the format named by ``fmt``: ``"html"``, ``"markdown"`` / ``"md"``, or a
    file name or suffix ending ``.html``, ``.htm``, ``.md`` or ``.markdown``.

    Raises
    ------
    ValueError
        For any other format or suffix, naming the ones understood.
    """
    name = os.fspath(fmt)
    key = name.lower()
    if key not in FORMATS:
        key = PurePath(name).suffix.lower()
    chosen = FORMATS.get(key)
    if chosen is None:
        shown = key or "no suffix"
        raise ValueError(
            f"{name}: cannot render a report as {shown!r}; "
            "expected .html or .md (format names: html, markdown, md)"
        )
    return render_html(document) if chosen == "html" else render_markdown(document)
