"""The document model: cell formats, tables from frames, validation of blocks and ids.

Expected cells are written out by hand from the format rules (4 significant digits by
default, blanks for missing values, yes/no for booleans).
"""

from __future__ import annotations

import doctest
import importlib
import math
import re

import numpy as np
import pandas as pd
import pytest
from _sample_report import posterior_frame

from dartnk.reports import (
    Alert,
    Document,
    Figure,
    KeyValues,
    Preformatted,
    Section,
    Table,
    format_value,
    posterior_summary_table,
    render_html,
    render_markdown,
    significant,
    slug,
    table_from_frame,
)

SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">{}</svg>'


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (0.123456, 4, "0.1235"),
        (12345.6, 4, "12346"),
        (9999.6, 4, "10000"),
        (3.0, 4, "3"),
        (0.30000000000000004, 4, "0.3"),
        (2e-7, 4, "2e-07"),
        (1.5e16, 4, "1.5e+16"),
        (-0.000012345, 3, "-1.23e-05"),
        (0.0, 4, "0"),
        (-0.0, 4, "0"),
        (math.inf, 4, "inf"),
        (0.05, 2, "0.05"),
    ],
)
def test_significant_digits(value, digits, text):
    assert significant(value, digits) == text


@pytest.mark.parametrize(
    ("value", "spec", "text"),
    [
        (None, None, ""),
        (float("nan"), ".3f", ""),
        (pd.NA, None, ""),
        (pd.NaT, None, ""),
        (np.float64("nan"), None, ""),
        (True, None, "yes"),
        (np.bool_(False), None, "no"),
        (7, None, "7"),
        (np.int64(12345678), None, "12345678"),
        (3, ".2f", "3.00"),
        (1234567, ",d", "1,234,567"),
        (-0.0004, ".3f", "0.000"),
        (-0.0004, ".1%", "0.0%"),
        (0.25, ".0%", "25%"),
        (0.123456, 2, "0.12"),
        ("DL-1", ".3f", "DL-1"),
        (0.5, lambda v: f"{v:.1f} (half)", "0.5 (half)"),
    ],
)
def test_format_value(value, spec, text):
    assert format_value(value, spec) == text


def test_format_value_check_marks():
    assert [format_value(v, booleans=("✓", "")) for v in (True, False)] == ["✓", ""]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "construct": ["B", "A", "A"],
            "dose": ["DL2", "DL2", "DL1"],
            "n": [3, 6, 3],
            "p": [0.5, None, 0.012345],
            "open": [True, False, True],
        }
    )


def test_table_from_frame_formats_and_aligns():
    table = table_from_frame(
        _frame(), caption="doses", labels={"p": "P(DLT)"}, formats={"p": ".2f"}
    )
    assert table.columns == ("construct", "dose", "n", "P(DLT)", "open")
    assert table.rows == (
        ("B", "DL2", "3", "0.50", "yes"),
        ("A", "DL2", "6", "", "no"),
        ("A", "DL1", "3", "0.01", "yes"),
    )
    assert table.align == ("left", "left", "right", "right", "left")


def test_table_from_frame_sorts_stably_and_keeps_highlights_with_their_rows():
    frame = _frame()
    table = table_from_frame(
        frame,
        caption="doses",
        columns=["construct", "dose"],
        sort_by=["construct"],
        highlight_rows={"eliminated": ~frame["open"]},
        highlight_cells={"flagged": {"dose": frame["dose"] == "DL1"}},
    )
    assert table.rows == (("A", "DL2"), ("A", "DL1"), ("B", "DL2"))
    assert table.row_emphasis == ("eliminated", None, None)
    assert table.cell_emphasis == ((None, None), (None, "flagged"), (None, None))
    assert table.legend == (("eliminated", "eliminated"), ("flagged", "flagged"))


def test_table_from_frame_does_not_change_the_frame():
    frame = _frame()
    before = frame.copy()
    table_from_frame(frame, caption="doses", sort_by=["construct"])
    pd.testing.assert_frame_equal(frame, before)


def test_table_from_frame_shows_a_named_index():
    frame = _frame().set_index(["construct", "dose"])
    table = table_from_frame(frame, caption="doses", columns=["n"])
    assert table.columns == ("construct", "dose", "n")
    assert table.rows[0] == ("B", "DL2", "3")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"columns": ["nope"]}, "column 'nope' is not in the frame", id="column"),
        pytest.param({"formats": {"nope": ".2f"}}, "'nope'", id="format-column"),
        pytest.param(
            {"highlight_rows": {"selected": [True]}}, "1 values for 3 rows", id="mask-length"
        ),
        pytest.param(
            {"highlight_rows": {"bold": [True, False, True]}}, "'bold' is not one of", id="kind"
        ),
        pytest.param(
            {"highlight_rows": {"selected": "open", "eliminated": "open"}},
            "row 1: marked both selected and eliminated",
            id="both",
        ),
        pytest.param(
            {"columns": ["dose"], "highlight_cells": {"flagged": {"n": [True] * 3}}},
            "not shown",
            id="hidden-cell",
        ),
        pytest.param({"highlight_rows": {"selected": "dose"}}, "true/false", id="not-boolean"),
    ],
)
def test_table_from_frame_names_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        table_from_frame(_frame(), caption="doses", **arguments)


def test_posterior_summary_table_flags_failed_diagnostics():
    table = posterior_summary_table(posterior_frame(), caption="BLRM", rhat_max=1.01, ess_min=400)
    assert table.columns[0] == "parameter"
    assert table.columns[-3:] == ("ESS bulk", "ESS tail", "R-hat")
    last = table.rows[-1]
    assert last[0] == "tau"
    assert last[-3:] == ("211", "180", "1.031")
    flagged = [(r, c) for r in range(len(table.rows)) for c in range(3) if table.emphasis(r, 7 + c)]
    assert flagged == [(4, 0), (4, 1), (4, 2)]
    assert table.legend == (("flagged", "R-hat above 1.01 or ESS below 400"),)


def test_table_rejects_a_ragged_row():
    with pytest.raises(ValueError, match="row 2: 1 cells for 2 columns"):
        Table(caption="t", columns=("a", "b"), rows=(("1", "2"), ("3",)))


@pytest.mark.parametrize(
    ("text", "anchor"),
    [("Dose-toxicity, construct A", "dose-toxicity-construct-a"), ("1 Selection", "s-1-selection")],
)
def test_slug(text, anchor):
    assert slug(text) == anchor


def _nested(levels: int) -> Section:
    section = Section(f"level {levels}", id=f"level-{levels}")
    for level in range(levels - 1, 0, -1):
        section = Section(f"level {level}", id=f"level-{level}", subsections=(section,))
    return section


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: Document("T", sections=(Section("a", id="x"), Section("b", id="x"))),
            "already used",
            id="duplicate-section",
        ),
        pytest.param(
            lambda: Document("T", sections=(Section("Manifest", id="manifest"),)),
            "reserved",
            id="manifest-id",
        ),
        pytest.param(lambda: Section("a", id="Selection"), "slug", id="upper-case-id"),
        pytest.param(lambda: Section("a", id="dartnk-header"), "reserved", id="dartnk-prefix"),
        pytest.param(lambda: Alert("fatal", "x"), "not one of", id="alert-level"),
        pytest.param(lambda: KeyValues((("a", 1, 2),)), "pair", id="key-value-triple"),
        pytest.param(
            lambda: Preformatted("x\n<!-- dartnk:end s -->"), "marks report", id="forged-marker"
        ),
        pytest.param(
            lambda: Document("T", sections=(_nested(5),)),
            "nested 5 levels",
            id="too-deep",
        ),
    ],
)
def test_document_validation(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    ("inner", "message"),
    [
        pytest.param("<script>alert(1)</script>", "<script>", id="script"),
        pytest.param('<rect onload="alert(1)"/>', "event handler", id="handler"),
        pytest.param('<image href="https://example.org/x.png"/>', "outside", id="href"),
        pytest.param('<image href="data:image/svg+xml;base64,PHN2Zz4="/>', "outside", id="svg-uri"),
        pytest.param('<a href="https://example.org"><rect/></a>', "outside", id="link"),
        pytest.param('<rect fill="url(https://example.org/p)"/>', "outside", id="url"),
        pytest.param("<style>@import 'x.css';</style>", "style sheet", id="import"),
        pytest.param("<foreignObject><p>x</p></foreignObject>", "foreignObject", id="foreign"),
        pytest.param("<rect>", "well-formed", id="broken"),
    ],
)
def test_figure_refuses_unsafe_svg(inner, message):
    with pytest.raises(ValueError, match=message):
        Figure(id="f", svg=SVG.format(inner), caption="c", alt="a")


@pytest.mark.parametrize(
    "inner",
    [
        pytest.param(
            '<defs><clipPath id="f_c"><rect/></clipPath></defs><rect clip-path="url(#f_c)"/>',
            id="clip-path",
        ),
        pytest.param('<image href="data:image/png;base64,iVBORw0KGgo="/>', id="embedded-png"),
    ],
)
def test_figure_accepts_references_to_itself(inner):
    assert Figure(id="f", svg=SVG.format(inner), caption="c", alt="a").id == "f"


def test_figure_refuses_text_that_is_not_svg():
    with pytest.raises(ValueError, match="one <svg> element"):
        Figure(id="f", svg="<html></html>", caption="c", alt="a")


def test_four_levels_of_sections_render_as_headings_two_to_five():
    document = Document("T", sections=(_nested(4),))
    markdown = render_markdown(document)
    assert re.findall(r"^(#+) ", markdown, re.M) == ["#", "##", "##", "###", "####", "#####"]
    assert '<h5><span class="number">1.1.1.1</span> level 4</h5>' in render_html(document)


@pytest.mark.parametrize(
    "module",
    ["_values", "document", "figures", "sections", "tables"],
)
def test_docstring_examples_run(module):
    imported = importlib.import_module(f"dartnk.reports.{module}")
    failures, _ = doctest.testmod(imported, optionflags=doctest.ELLIPSIS)
    assert failures == 0
