"""Comparing two rendered reports section by section.

Both renderers put each section between two marker lines, ``<!-- dartnk:section ID -->``
and ``<!-- dartnk:end ID -->`` (HTML comments, invisible in a browser and in rendered
Markdown). Report text cannot forge a marker: user text is escaped (``<`` never appears
unescaped) and verbatim blocks may not contain ``<!-- dartnk:``.

A section's digest is the SHA-256 of its *own* bytes: its heading and blocks with each
subsection replaced by that subsection's id, so a change inside a subsection is reported
for the subsection alone, while adding, removing or reordering subsections changes the
parent. Bytes outside every section (the head, title, alerts, contents) have the digest
named :data:`HEADER`.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["HEADER", "diff_sections", "section_digests"]

HEADER = "dartnk-header"

_MARKER = re.compile(r"^<!-- dartnk:(section|end) ([a-z][a-z0-9-]*) -->\n", re.M)


def section_start(section_id: str) -> str:
    """The marker line opening a section."""
    return f"<!-- dartnk:section {section_id} -->"


def section_end(section_id: str) -> str:
    """The marker line closing a section."""
    return f"<!-- dartnk:end {section_id} -->"


def section_digests(text: str) -> dict[str, str]:
    """SHA-256 of each section of a rendered report, keyed by section id.

    Parameters
    ----------
    text : str
        A report rendered by :func:`~dartnk.reports.render_html` or
        :func:`~dartnk.reports.render_markdown`.

    Returns
    -------
    dict of str to str
        :data:`HEADER` first, then every section id in the order the sections open
        (depth first), each with the hexadecimal SHA-256 of its own bytes.

    Raises
    ------
    ValueError
        When the markers are unbalanced or an id appears twice.
    """
    chunks: dict[str, list[str]] = {HEADER: []}
    order = [HEADER]
    stack = [HEADER]
    position = 0
    for match in _MARKER.finditer(text):
        chunks[stack[-1]].append(text[position : match.start()])
        position = match.end()
        kind, section_id = match.groups()
        if kind == "section":
            if section_id in chunks:
                raise ValueError(f"section {section_id!r} appears twice in the report")
            chunks[stack[-1]].append(f"\x00{section_id}\x00")
            chunks[section_id] = []
            order.append(section_id)
            stack.append(section_id)
        elif stack[-1] != section_id:
            raise ValueError(
                f"section end {section_id!r} does not close the open section {stack[-1]!r}"
            )
        else:
            stack.pop()
    if len(stack) > 1:
        raise ValueError(f"section {stack[-1]!r} is never closed in the report")
    chunks[HEADER].append(text[position:])
    return {
        section_id: hashlib.sha256("".join(chunks[section_id]).encode("utf-8")).hexdigest()
        for section_id in order
    }


def diff_sections(first: str, second: str) -> list[str]:
    """Ids of the sections that differ between two rendered reports.

    A section differs when its own bytes differ (see :func:`section_digests`) or when it is
    in one report only. Ids come in the order of ``first``, then those only in ``second``;
    an empty list means the two reports match section by section (the same format is
    assumed: an HTML report and its Markdown twin differ everywhere).

    Examples
    --------
    >>> a = "<!-- dartnk:section doses -->\\nDL1\\n<!-- dartnk:end doses -->\\n"
    >>> diff_sections(a, a.replace("DL1", "DL2"))
    ['doses']
    """
    digests_first = section_digests(first)
    digests_second = section_digests(second)
    ids = list(digests_first) + [i for i in digests_second if i not in digests_first]
    return [i for i in ids if digests_first.get(i) != digests_second.get(i)]
