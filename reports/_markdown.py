"""Making plain text safe in GitHub-flavoured Markdown.

Text is put on one line and every character that Markdown or GitHub could read as markup is
backslash-escaped (CommonMark lets any ASCII punctuation be escaped): emphasis and code
(``*``, ``_``, `````), links and images (``[``, ``]``), raw HTML (``<``, ``>``), entities
(``&``), table cells (``|``), strikethrough (``~``), headings (``#``) and math (``$``).
At the start of a block, list and heading markers are escaped as well.
"""

from __future__ import annotations

import re

__all__ = ["markdown_block", "markdown_inline"]

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#&$])")
_WHITESPACE = re.compile(r"\s+")
_ORDERED_MARKER = re.compile(r"^(\d{1,9})([.)])")


def markdown_inline(text: object) -> str:
    """``text`` on one line with Markdown's special characters escaped (for table cells,
    headings, captions, list items)."""
    return _SPECIAL.sub(r"\\\1", _WHITESPACE.sub(" ", str(text)).strip())


def markdown_block(text: object) -> str:
    """``text`` as a paragraph: :func:`markdown_inline`, and a leading ``-``, ``+``, ``=``
    or ``1.`` escaped so that it does not start a list or an underline heading."""
    escaped = markdown_inline(text)
    if escaped[:1] in ("-", "+", "="):
        return "\\" + escaped
    return _ORDERED_MARKER.sub(r"\1\\\2", escaped)
