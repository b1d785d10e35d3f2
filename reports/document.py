"""The plain document model that ``analyses`` builds and the renderers turn into files.

A :class:`Document` is data only: a title, alerts shown at the top of every output, nested
:class:`Section` objects holding blocks (:class:`Paragraph`, :class:`Table`,
:class:`Figure`, :class:`Alert`, :class:`KeyValues`, :class:`BulletList`,
:class:`Preformatted`) and a :class:`~dartnk.reports.manifest.Manifest`. Every object is a
frozen dataclass validated in its constructor; sequences are stored as tuples. All text is
plain text: the renderers escape it, so a construct named ``<script>`` stays text.

Identifiers (section, table and figure ids) are the HTML anchors and the keys of
:func:`~dartnk.reports.section_digests`; they are lower-case slugs (``"dose-toxicity"``)
and unique within a document. :func:`slug` makes one from a label.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ._values import format_value
from .figures import figure_to_svg
from .manifest import Manifest

__all__ = [
    "EMPHASES",
    "RESERVED_IDS",
    "Alert",
    "Block",
    "BulletList",
    "Document",
    "Figure",
    "KeyValues",
    "Paragraph",
    "Preformatted",
    "Section",
    "Table",
    "slug",
]

AlertLevel = Literal["info", "warning", "error"]
Emphasis = Literal["selected", "eliminated", "flagged"]

ALERT_LEVELS: tuple[str, ...] = ("info", "warning", "error")
EMPHASES: tuple[str, ...] = ("selected", "eliminated", "flagged")
RESERVED_IDS: frozenset[str] = frozenset({"manifest"})
MAX_SECTION_DEPTH = 4
MARKER_PREFIX = "<!-- dartnk:"

_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_INTERNAL = re.compile(r"#|data:image/(?:png|jpeg|gif|webp);base64,")
_FORBIDDEN_SVG_ELEMENTS = frozenset({"script", "foreignObject", "iframe", "object", "embed"})


def slug(text: str) -> str:
    """A lower-case anchor made of the letters and digits of ``text``.

    Examples
    --------
    >>> slug("Dose-toxicity, construct A (DL-1 to DL4)")
    'dose-toxicity-construct-a-dl-1-to-dl4'
    """
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    if not words:
        raise ValueError(f"cannot make an anchor from {text!r}: it has no letters or digits")
    anchor = "-".join(words)
    return anchor if anchor[0].isalpha() else f"s-{anchor}"


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(
            f"{what} id {value!r} is not a lower-case slug such as 'dose-toxicity' "
            "(letters, digits and single hyphens, starting with a letter)"
        )
    if value.startswith("dartnk-"):
        raise ValueError(f"{what} id {value!r}: ids starting with 'dartnk-' are reserved")
    return value


def _check_text(value: object, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be text, not {type(value).__name__}")
    if not empty and not value.strip():
        raise ValueError(f"{what} is empty")
    return value


def _set(instance: object, name: str, value: object) -> None:
    object.__setattr__(instance, name, value)


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text; line breaks are joined into one line by the renderers."""

    text: str
    kind: ClassVar[str] = "paragraph"

    def __post_init__(self) -> None:
        _check_text(self.text, "paragraph text")


@dataclass(frozen=True)
class Alert:
    """A message that must not be missed: ``level`` is ``"info"``, ``"warning"`` or
    ``"error"`` (for instance a fit that failed its diagnostics gate)."""

    level: AlertLevel
    text: str
    kind: ClassVar[str] = "alert"

    def __post_init__(self) -> None:
        if self.level not in ALERT_LEVELS:
            raise ValueError(f"alert level {self.level!r} is not one of {', '.join(ALERT_LEVELS)}")
        _check_text(self.text, "alert text")


@dataclass(frozen=True)
class KeyValues:
    """An ordered list of (label, value) pairs, given as pairs or as a mapping (kept in its
    order); values that are not text are formatted like table cells (4 significant digits,
    booleans as yes/no, missing as blank)."""

    items: tuple[tuple[str, str], ...]
    caption: str | None = None
    kind: ClassVar[str] = "key_values"

    def __post_init__(self) -> None:
        source = self.items.items() if isinstance(self.items, Mapping) else self.items
        pairs = []
        for pair in source:
            if len(pair) != 2:
                raise ValueError(f"key-value item {pair!r} is not a (label, value) pair")
            label, value = pair
            pairs.append((_check_text(label, "key-value label"), format_value(value)))
        _set(self, "items", tuple(pairs))
        if self.caption is not None:
            _check_text(self.caption, "key-value caption")


@dataclass(frozen=True)
class BulletList:
    """An unordered list of plain-text items (for instance the reasons of a decision)."""

    items: tuple[str, ...]
    kind: ClassVar[str] = "bullet_list"

    def __post_init__(self) -> None:
        _set(self, "items", tuple(_check_text(item, "list item") for item in self.items))
        if not self.items:
            raise ValueError("a bullet list needs at least one item")


@dataclass(frozen=True)
class Preformatted:
    """Text shown verbatim in a monospaced block (a protocol file, a decision table)."""

    text: str
    caption: str | None = None
    kind: ClassVar[str] = "preformatted"

    def __post_init__(self) -> None:
        _check_text(self.text, "preformatted text")
        if any(line.startswith(MARKER_PREFIX) for line in self.text.splitlines()):
            raise ValueError(
                f"preformatted text may not have a line starting {MARKER_PREFIX!r}, "
                "which marks report sections"
            )
        if self.caption is not None:
            _check_text(self.caption, "preformatted caption")


@dataclass(frozen=True)
class Table:
    """A table of text cells with its caption, as built by
    :func:`~dartnk.reports.table_from_frame` from a ``summary()`` frame.

    Parameters
    ----------
    caption : str
        What the table shows; rendered as "Table n. caption".
    columns : sequence of str
        Column labels, in order.
    rows : sequence of sequences
        One sequence of cells per row; cells that are not text are formatted like
        :func:`~dartnk.reports.table_from_frame` does by default.
    align : sequence of {"left", "right"}, optional
        Alignment per column; left for every column when omitted.
    row_emphasis : sequence of str or None, optional
        Per row: ``"selected"``, ``"eliminated"``, ``"flagged"`` or None.
    cell_emphasis : sequence of sequences of str or None, optional
        Per cell, the same vocabulary; a cell's emphasis wins over its row's.
    emphasis_labels : mapping of str to str, optional
        What each emphasis means in this table ("eliminated dose"), shown in its legend.
    note : str, optional
        A footnote shown under the table.
    id : str, optional
        Anchor of the table.
    """

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...] | None = None
    row_emphasis: tuple[str | None, ...] | None = None
    cell_emphasis: tuple[tuple[str | None, ...], ...] | None = None
    emphasis_labels: tuple[tuple[str, str], ...] = ()
    note: str | None = None
    id: str | None = None
    kind: ClassVar[str] = "table"

    def __post_init__(self) -> None:
        _check_text(self.caption, "table caption")
        columns = tuple(_check_text(c, "column label", empty=True) for c in self.columns)
        if not columns:
            raise ValueError(f"table {self.caption!r} has no columns")
        width = len(columns)
        rows = []
        for number, row in enumerate(self.rows, start=1):
            cells = tuple(c if isinstance(c, str) else format_value(c) for c in row)
            if len(cells) != width:
                raise ValueError(
                    f"table {self.caption!r}, row {number}: {len(cells)} cells for {width} columns"
                )
            rows.append(cells)
        align = ("left",) * width if self.align is None else tuple(self.align)
        if len(align) != width or any(a not in ("left", "right") for a in align):
            raise ValueError(
                f"table {self.caption!r}: alignment {align!r} must give 'left' or 'right' "
                f"for each of the {width} columns"
            )
        row_emphasis = (
            (None,) * len(rows) if self.row_emphasis is None else tuple(self.row_emphasis)
        )
        if len(row_emphasis) != len(rows):
            raise ValueError(
                f"table {self.caption!r}: {len(row_emphasis)} row emphases for {len(rows)} rows"
            )
        cell_emphasis = (
            tuple((None,) * width for _ in rows)
            if self.cell_emphasis is None
            else tuple(tuple(row) for row in self.cell_emphasis)
        )
        if len(cell_emphasis) != len(rows) or any(len(r) != width for r in cell_emphasis):
            raise ValueError(f"table {self.caption!r}: cell emphases must have the table's shape")
        used = {e for e in row_emphasis if e is not None}
        used |= {e for row in cell_emphasis for e in row if e is not None}
        unknown = sorted(used - set(EMPHASES))
        if unknown:
            raise ValueError(
                f"table {self.caption!r}: emphasis {unknown[0]!r} is not one of "
                f"{', '.join(EMPHASES)}"
            )
        labels = dict(self.emphasis_labels)
        bad_labels = sorted(set(labels) - set(EMPHASES))
        if bad_labels:
            raise ValueError(
                f"table {self.caption!r}: emphasis label for unknown emphasis {bad_labels[0]!r}"
            )
        _set(self, "columns", columns)
        _set(self, "rows", tuple(rows))
        _set(self, "align", align)
        _set(self, "row_emphasis", row_emphasis)
        _set(self, "cell_emphasis", cell_emphasis)
        _set(
            self,
            "emphasis_labels",
            tuple((e, _check_text(labels.get(e, e), "emphasis label")) for e in EMPHASES),
        )
        if self.note is not None:
            _check_text(self.note, "table note")
        if self.id is not None:
            _check_id(self.id, "table")

    @property
    def legend(self) -> tuple[tuple[str, str], ...]:
        """The (emphasis, meaning) pairs used in this table, in the fixed order of
        :data:`EMPHASES`."""
        used = set(self.row_emphasis) | {e for row in self.cell_emphasis for e in row}
        return tuple((e, label) for e, label in self.emphasis_labels if e in used)

    def emphasis(self, row: int, column: int) -> str | None:
        """The emphasis of one cell (0-based positions): its own, else its row's."""
        return self.cell_emphasis[row][column] or self.row_emphasis[row]


@dataclass(frozen=True)
class Figure:
    """A figure as SVG text with its caption and alternative text.

    Build it with :meth:`from_matplotlib`, which makes byte-stable SVG whose element ids all
    start with the figure's id, so that several figures can share one HTML page. SVG given
    directly is checked: it must be one ``<svg>`` element with no script, no foreign
    object, no event handler and no reference outside itself (references to its own
    elements and embedded raster images, ``data:image/png;base64,...``, are allowed).
    """

    id: str
    svg: str
    caption: str
    alt: str
    kind: ClassVar[str] = "figure"

    def __post_init__(self) -> None:
        _check_id(self.id, "figure")
        _check_text(self.caption, "figure caption")
        _check_text(self.alt, "figure alternative text")
        _check_svg(_check_text(self.svg, "figure SVG"), self.id)

    @classmethod
    def from_matplotlib(
        cls, figure: Any, *, id: str, caption: str, alt: str, dpi: float = 100.0
    ) -> Figure:
        """Render a matplotlib figure to deterministic SVG (salted with ``id``) and close it.

        See :func:`~dartnk.reports.figure_to_svg`.
        """
        _check_id(id, "figure")
        return cls(id=id, svg=figure_to_svg(figure, salt=id, dpi=dpi), caption=caption, alt=alt)


def _check_svg(svg: str, figure_id: str) -> None:
    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError as error:
        raise ValueError(
            f"figure {figure_id!r}: the SVG is not well-formed XML ({error})"
        ) from None
    if root.tag != f"{_SVG_NAMESPACE}svg":
        raise ValueError(f"figure {figure_id!r}: the SVG text must be one <svg> element")
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1]
        if name in _FORBIDDEN_SVG_ELEMENTS:
            raise ValueError(f"figure {figure_id!r}: the SVG holds a <{name}> element")
        for attribute, value in element.attrib.items():
            local = attribute.rsplit("}", 1)[-1]
            if local.lower().startswith("on"):
                raise ValueError(f"figure {figure_id!r}: the SVG holds an event handler {local!r}")
            if (attribute == _XLINK_HREF or local == "href") and not _INTERNAL.match(value):
                shown = value if len(value) <= 60 else f"{value[:60]}..."
                raise ValueError(f"figure {figure_id!r}: the SVG refers outside itself ({shown!r})")
            if _external_url(value):
                raise ValueError(f"figure {figure_id!r}: the SVG refers outside itself ({value!r})")
        if name == "style" and (
            _external_url(element.text or "") or "@import" in (element.text or "")
        ):
            raise ValueError(f"figure {figure_id!r}: the SVG style sheet refers to a resource")


def _external_url(text: str) -> bool:
    """True when ``text`` holds a ``url(...)`` that is not a reference inside the SVG
    (``url(#id)``)."""
    targets = re.findall(r"url\(\s*([^)]*?)\s*\)", text.replace("\\", ""))
    return any(not target.strip("'\"").startswith("#") for target in targets)


Block = Paragraph | Table | Figure | Alert | KeyValues | BulletList | Preformatted
_BLOCK_TYPES = (Paragraph, Table, Figure, Alert, KeyValues, BulletList, Preformatted)


@dataclass(frozen=True)
class Section:
    """A titled section with blocks and optional subsections.

    Parameters
    ----------
    title : str
        Heading of the section.
    id : str
        Stable anchor (a slug), also the key naming the section when two rendered reports
        are compared.
    blocks : sequence of blocks
        Paragraphs, tables, figures, alerts, key-value lists, bullet lists, verbatim text,
        in reading order.
    subsections : sequence of Section
        Nested sections, rendered after the blocks; at most four levels in all.
    """

    title: str
    id: str
    blocks: tuple[Block, ...] = ()
    subsections: tuple[Section, ...] = ()

    def __post_init__(self) -> None:
        _check_text(self.title, "section title")
        _check_id(self.id, "section")
        blocks = tuple(self.blocks)
        for block in blocks:
            if not isinstance(block, _BLOCK_TYPES):
                raise TypeError(
                    f"section {self.id!r}: {type(block).__name__} is not a block (expected "
                    "Paragraph, Table, Figure, Alert, KeyValues, BulletList or Preformatted)"
                )
        subsections = tuple(self.subsections)
        for subsection in subsections:
            if not isinstance(subsection, Section):
                raise TypeError(f"section {self.id!r}: subsection {subsection!r} is not a Section")
        _set(self, "blocks", blocks)
        _set(self, "subsections", subsections)

    def walk(self) -> Iterable[Section]:
        """This section, then its subsections depth first."""
        yield self
        for subsection in self.subsections:
            yield from subsection.walk()


@dataclass(frozen=True)
class Document:
    """A whole report: title, alerts at the top, sections, manifest.

    Parameters
    ----------
    title : str
        Title of the report.
    sections : sequence of Section
        The major sections (each starts a new printed page).
    subtitle : str, optional
        A line under the title (trial, data cut).
    alerts : sequence of Alert
        Shown prominently at the top of every output, before the contents.
    manifest : Manifest, optional
        Inputs and their hashes, protocol, seeds, versions, command line; rendered as a last
        section with id ``"manifest"`` and embedded machine-readably
        (:func:`~dartnk.reports.read_manifest`).

    Raises
    ------
    ValueError
        When two sections, tables or figures share an id, when a section uses the reserved
        id ``"manifest"``, or when sections nest deeper than four levels.
    """

    title: str
    sections: tuple[Section, ...] = ()
    subtitle: str | None = None
    alerts: tuple[Alert, ...] = ()
    manifest: Manifest | None = None

    def __post_init__(self) -> None:
        _check_text(self.title, "document title")
        if self.subtitle is not None:
            _check_text(self.subtitle, "document subtitle")
        alerts = tuple(self.alerts)
        for alert in alerts:
            if not isinstance(alert, Alert):
                raise TypeError(f"document alert {alert!r} is not an Alert")
        sections = tuple(self.sections)
        for section in sections:
            if not isinstance(section, Section):
                raise TypeError(f"document section {section!r} is not a Section")
        if self.manifest is not None and not isinstance(self.manifest, Manifest):
            raise TypeError("the document manifest must be a Manifest")
        _set(self, "alerts", alerts)
        _set(self, "sections", sections)
        _check_unique_ids(sections)

    def walk(self) -> Iterable[Section]:
        """Every section, depth first in reading order."""
        for section in self.sections:
            yield from section.walk()

    def tables(self) -> tuple[Table, ...]:
        """Every table, in reading order."""
        return tuple(b for s in self.walk() for b in s.blocks if isinstance(b, Table))

    def figures(self) -> tuple[Figure, ...]:
        """Every figure, in reading order."""
        return tuple(b for s in self.walk() for b in s.blocks if isinstance(b, Figure))


def _check_unique_ids(sections: Sequence[Section]) -> None:
    seen: dict[str, str] = {}

    def claim(identifier: str, what: str) -> None:
        if identifier in RESERVED_IDS:
            raise ValueError(f"{what} id {identifier!r} is reserved for the manifest section")
        if identifier in seen:
            raise ValueError(f"{what} id {identifier!r} is already used by a {seen[identifier]}")
        seen[identifier] = what

    def visit(section: Section, depth: int) -> None:
        if depth > MAX_SECTION_DEPTH:
            raise ValueError(
                f"section {section.id!r} is nested {depth} levels deep; at most "
                f"{MAX_SECTION_DEPTH} are rendered"
            )
        claim(section.id, "section")
        for block in section.blocks:
            if isinstance(block, Figure):
                claim(block.id, "figure")
            elif isinstance(block, Table) and block.id is not None:
                claim(block.id, "table")
        for subsection in section.subsections:
            visit(subsection, depth + 1)

    for section in sections:
        visit(section, 1)
