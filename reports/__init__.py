"""Rendering report documents (self-contained HTML and a Markdown twin) with their manifest.

``analyses`` builds a :class:`Document` from ``summary()`` frames and figures; this package
only renders it, byte for byte the same on every rerun, and reads back what a later run
needs: the embedded manifest (:func:`read_manifest`) and per-section digests to say which
section of two reports differs (:func:`section_digests`, :func:`diff_sections`). It fits
nothing and reads no file.
"""

from ._values import YES_NO, format_value, significant
from .document import (
    EMPHASES,
    Alert,
    Block,
    BulletList,
    Document,
    Figure,
    KeyValues,
    Paragraph,
    Preformatted,
    Section,
    Table,
    slug,
)
from .figures import REPORT_STYLE, figure_to_svg, report_style
from .manifest import MANIFEST_SCHEMA, Manifest, environment_versions, read_manifest
from .render import FORMATS, MANIFEST_SECTION_ID, render, render_html, render_markdown
from .sections import HEADER, diff_sections, section_digests
from .tables import posterior_summary_table, table_from_frame

__all__ = [
    "EMPHASES",
    "FORMATS",
    "HEADER",
    "MANIFEST_SCHEMA",
    "MANIFEST_SECTION_ID",
    "REPORT_STYLE",
    "YES_NO",
    "Alert",
    "Block",
    "BulletList",
    "Document",
    "Figure",
    "KeyValues",
    "Manifest",
    "Paragraph",
    "Preformatted",
    "Section",
    "Table",
    "diff_sections",
    "environment_versions",
    "figure_to_svg",
    "format_value",
    "posterior_summary_table",
    "read_manifest",
    "render",
    "render_html",
    "render_markdown",
    "report_style",
    "section_digests",
    "significant",
    "slug",
    "table_from_frame",
]
