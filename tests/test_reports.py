"""Rendered reports: byte-stable, escaped, self-contained, twins of each other, traceable.

The sample document (tests/_sample_report.py) has three constructs, one named
``<script>alert(1)</script>``, two figures, nested sections and a manifest whose settings
hold ``</script>``. Markdown is checked by parsing it with markdown-it (CommonMark with
GitHub's tables and strikethrough), HTML with the standard library's parser and, last, in
headless Chromium.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import html
import json
import os
import re
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import pytest
from _browser import open_in_browser, require_chromium
from _sample_report import (
    HOSTILE,
    sample_document,
    sample_manifest,
    score_figure,
    selection_frame,
)
from markdown_it import MarkdownIt

from dartnk.reports import (
    HEADER,
    Alert,
    BulletList,
    Document,
    Figure,
    KeyValues,
    Manifest,
    Paragraph,
    Section,
    diff_sections,
    figure_to_svg,
    read_manifest,
    render,
    render_html,
    render_markdown,
    section_digests,
    table_from_frame,
)

TESTS = Path(__file__).parent
RENDERERS = {"html": render_html, "md": render_markdown}


@pytest.fixture(scope="session")
def document() -> Document:
    return sample_document()


@pytest.fixture(scope="session")
def page(document: Document) -> str:
    return render_html(document)


@pytest.fixture(scope="session")
def markdown(document: Document) -> str:
    return render_markdown(document)


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text of each element by tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.text: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "br", "path", "use", "rect", "stop"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        if self.stack:
            self.text.setdefault(self.stack[-1], []).append(data)


def _elements(text: str) -> _Elements:
    parser = _Elements()
    parser.feed(text)
    return parser


def _markdown_html(text: str) -> str:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)


# Byte-for-byte reproducibility


def test_two_builds_render_identical_bytes(page, markdown):
    again = sample_document()
    assert render_html(again).encode("utf-8") == page.encode("utf-8")
    assert render_markdown(again).encode("utf-8") == markdown.encode("utf-8")


_RENDER_IN_A_PROCESS = """
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from _sample_report import sample_document
from dartnk.reports import render_html, render_markdown
document = sample_document()
for text in (render_html(document), render_markdown(document)):
    print(hashlib.sha256(text.encode("utf-8")).hexdigest())
"""


def test_another_process_renders_identical_bytes(page, markdown):
    environment = {**os.environ, "PYTHONHASHSEED": "4242", "MPLBACKEND": "Agg"}
    finished = subprocess.run(
        [sys.executable, "-c", _RENDER_IN_A_PROCESS, str(TESTS)],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    here = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in (page, markdown)]
    assert finished.stdout.split() == here


def test_figure_svg_has_no_date_creator_or_comment():
    svg = figure_to_svg(score_figure(), salt="scores")
    assert svg.startswith("<svg ")
    for volatile in ("<dc:date", "Matplotlib v", matplotlib.__version__, "<!--", "<metadata"):
        assert volatile not in svg


def test_figure_ids_carry_the_salt_and_every_reference_resolves():
    svg = figure_to_svg(score_figure(), salt="scores")
    ids = re.findall(r'\sid="([^"]+)"', svg)
    references = re.findall(r'href="#([^"]+)"', svg) + re.findall(r"url\(#([^)]+)\)", svg)
    assert ids and references
    assert all(i.startswith("scores_") for i in ids)
    assert len(ids) == len(set(ids))
    assert set(references) <= set(ids)


def test_figures_of_one_page_share_no_element_id(page):
    ids = [attrs["id"] for _, attrs in _elements(page).tags if attrs.get("id")]
    assert len(ids) == len(set(ids))


def test_rendering_a_figure_leaves_global_rc_params_and_pyplot_alone():
    import matplotlib.pyplot as pyplot

    before = dict(matplotlib.rcParams)
    figure = pyplot.figure()
    figure.subplots().plot([0, 1], [1, 0])
    figure_to_svg(figure, salt="pyplot-made")
    assert not pyplot.fignum_exists(figure.number)
    assert dict(matplotlib.rcParams) == before


# Escaping


@functools.cache
def _figure() -> Figure:
    return Figure.from_matplotlib(score_figure(), id="scores", caption="scores", alt="scores")


def _everywhere(text: str) -> Document:
    """A document carrying ``text`` in every place a user's text can go."""
    frame = selection_frame().assign(construct=[text, "B", "C"])
    table = table_from_frame(
        frame,
        caption=text,
        labels={"construct": text},
        highlight_rows={"selected": [True, False, False]},
        note=text,
    )
    return Document(
        title=text,
        subtitle=text,
        alerts=(Alert("warning", text),),
        sections=(
            Section(
                title=text,
                id="everything",
                blocks=(
                    Paragraph(text),
                    KeyValues(((text, text),), caption=text),
                    BulletList((text,)),
                    dataclasses.replace(_figure(), caption=text, alt=text),
                    table,
                ),
            ),
        ),
        manifest=Manifest(command=("dartnk", text), settings={text: text}),
    )


HOSTILE_TEXTS = [
    pytest.param(HOSTILE, id="script-element"),
    pytest.param('" onmouseover="alert(1)', id="attribute-break-out"),
    pytest.param("</script><img src=x onerror=alert(1)>", id="script-end"),
    pytest.param("<!-- dartnk:end everything -->", id="section-marker"),
]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_html_keeps_user_text_as_text(text):
    page = render_html(_everywhere(text))
    elements = _elements(page)
    scripts = [attrs for tag, attrs in elements.tags if tag == "script"]
    assert scripts == [{"type": "application/json", "id": "dartnk-manifest"}]
    assert not [tag for tag, _ in elements.tags if tag in ("img", "iframe", "object")]
    handlers = [a for _, attrs in elements.tags for a in attrs if a.startswith("on")]
    assert handlers == []
    assert page.count(text) == render_html(_everywhere("plain")).count(text)
    assert "".join(elements.text["h1"]) == text
    assert "".join(elements.text["figcaption"]).endswith(text)
    assert read_manifest(page)["settings"] == {text: text}
    assert list(section_digests(page)) == [HEADER, "everything", "manifest"]


@pytest.mark.parametrize(
    "text", [*HOSTILE_TEXTS, pytest.param("a | b `c` *d* _e_ [f](g)", id="md")]
)
def test_markdown_keeps_user_text_as_text(text):
    markdown = render_markdown(_everywhere(text))
    rendered = _markdown_html(markdown)
    assert "<script" not in rendered
    assert "<img src=x" not in rendered
    assert "<code>" not in rendered and "<em>d</em>" not in rendered
    assert '<a href="g"' not in rendered
    tables = re.findall(r"<table>(.*?)</table>", rendered, re.S)
    assert len(tables) == 2
    assert len(re.findall(r"<th[\s>]", tables[0])) == 4
    assert len(re.findall(r"<td[^>]*>", tables[0])) == 3 * 4
    as_text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert as_text.replace('"', "&quot;") in rendered
    assert read_manifest(markdown)["settings"] == {text: text}
    assert list(section_digests(markdown)) == [HEADER, "everything", "manifest"]


def test_hostile_construct_name_is_escaped_in_the_sample(page, markdown):
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\\<script\\>alert(1)\\</script\\>" in markdown


# The Markdown twin


def _section_titles(document: Document) -> list[str]:
    return [s.title for s in document.walk()] + ["Manifest"]


def test_markdown_has_every_section_in_order(document, markdown):
    headings = re.findall(r"^#{2,5} (\d+(?:\.\d+)*) (.+)$", markdown, re.M)
    assert [title for _, title in headings] == _section_titles(document)
    assert [n for n, _ in headings] == ["1", "1.1", "2", "2.1", "3"]


def test_html_has_every_section_in_order(document, page):
    ids = [attrs["id"] for tag, attrs in _elements(page).tags if tag == "section"]
    assert ids == [s.id for s in document.walk()] + ["manifest"]


def _cells_of(rendered: str) -> list[list[list[str]]]:
    tables = re.findall(r"<table>(.*?)</table>", rendered, re.S)
    result = []
    for table in tables:
        body = table.split("<tbody>")[1] if "<tbody>" in table else ""
        rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
        cells = [
            [
                html.unescape(re.sub(r"<[^>]+>", "", c))
                for c in re.findall(r"<td[^>]*>(.*?)</td>", r)
            ]
            for r in rows
        ]
        result.append(cells)
    return result


def test_markdown_tables_hold_the_same_cells_as_the_document(document, markdown):
    parsed = _cells_of(_markdown_html(markdown))
    tables = document.tables()
    assert len(parsed) == len(tables) + 4
    for table, cells in zip(tables, parsed, strict=False):
        expected = [
            [
                f"{cell} ⚠" if cell and table.emphasis(r, c) == "flagged" else cell
                for c, cell in enumerate(row)
            ]
            for r, row in enumerate(table.rows)
        ]
        assert cells == expected


def test_both_formats_hold_every_figure(document, page, markdown):
    figure_ids = [f.id for f in document.figures()]
    svgs = [a for tag, a in _elements(page).tags if tag == "svg"]
    assert len(svgs) == len(figure_ids) == 2
    assert [a["id"] for tag, a in _elements(page).tags if tag == "figure"] == figure_ids
    images = re.findall(r"!\[[^\]]*\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert [base64.b64decode(i).decode() for i in images] == [f.svg for f in document.figures()]


def test_alerts_come_first_in_both_formats(document, page, markdown):
    for text, alert in zip(("Kinetics", "no kinetics"), document.alerts, strict=True):
        assert text.lower() in alert.text.lower()
    first_section_html = page.index('<section id="selection"')
    assert page.index("alert-error") < page.index('id="dartnk-contents"') < first_section_html
    assert markdown.index("> **Error:**") < markdown.index("## Contents")


# Self-contained HTML


def test_html_references_nothing_outside_itself(page):
    assert "http://" not in page and "https://" not in page
    assert "@import" not in page and "url(" not in page.replace("url(#", "")
    policy = [
        a["content"]
        for tag, a in _elements(page).tags
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert policy == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]


def test_a_link_in_text_stays_text():
    document = Document(
        title="Links",
        sections=(Section("About", id="about", blocks=(Paragraph("See https://example.org/x"),)),),
    )
    page = render_html(document)
    attributes = [v for _, attrs in _elements(page).tags for v in attrs.values() if v]
    assert not [v for v in attributes if "://" in v]
    assert "See https://example.org/x" in page


# Manifest


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_manifest_round_trips(document, fmt):
    text = RENDERERS[fmt](document)
    read = read_manifest(text)
    assert read == document.manifest.to_dict()
    assert Manifest.from_dict(read) == document.manifest
    assert read["settings"]["note"] == "</script><script>alert(2)</script>"


def test_manifest_json_cannot_close_its_script_element(page):
    start = page.index('<script type="application/json" id="dartnk-manifest">')
    end = page.index("</script>", start)
    assert json.loads(page[start:end].split(">", 1)[1]) == sample_manifest().to_dict()


def test_manifest_does_not_depend_on_dictionary_order():
    manifest = sample_manifest()
    shuffled = Manifest(
        inputs=dict(reversed(list(manifest.inputs.items()))),
        protocol={"toxicity": {"target": 0.3, "ewoc": 0.25}, **manifest.to_dict()["protocol"]},
        protocol_hash=manifest.protocol_hash,
        seeds=manifest.seeds,
        versions=dict(reversed(list(manifest.versions.items()))),
        command=manifest.command,
        settings=dict(reversed(list(manifest.settings.items()))),
    )
    assert shuffled.to_json() == manifest.to_json()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"inputs": {"patients.csv": "abc"}}, "patients.csv", id="bad-digest"),
        pytest.param({"protocol": {"target": float("nan")}}, "not JSON", id="nan"),
        pytest.param({"seeds": {"root": 1.5}}, "root", id="float-seed"),
        pytest.param({"command": "dartnk interim"}, "sequence", id="command-string"),
    ],
)
def test_manifest_rejects_bad_entries(change, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Manifest(**change)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("<!DOCTYPE html><html><body></body></html>", id="html-without"),
        pytest.param("# A report\n", id="markdown-without"),
    ],
)
def test_read_manifest_says_when_there_is_none(text):
    with pytest.raises(ValueError, match="no dartnk manifest"):
        read_manifest(text)


# Section digests


def _changed(document: Document, where: str) -> Document:
    selection, escalation = document.sections
    if where == "gates":
        gates = dataclasses.replace(selection.subsections[0], blocks=(Paragraph("changed"),))
        selection = dataclasses.replace(selection, subsections=(gates,))
    elif where == "escalation":
        table = dataclasses.replace(escalation.blocks[0], note="changed")
        escalation = dataclasses.replace(escalation, blocks=(table, *escalation.blocks[1:]))
    elif where == HEADER:
        return dataclasses.replace(document, alerts=document.alerts[:1])
    elif where == "manifest":
        inputs = {**document.manifest.inputs, "patients.csv": "b" * 64}
        return dataclasses.replace(
            document, manifest=dataclasses.replace(document.manifest, inputs=inputs)
        )
    return dataclasses.replace(document, sections=(selection, escalation))


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
@pytest.mark.parametrize("where", ["gates", "escalation", HEADER, "manifest"])
def test_section_digests_name_the_changed_section(document, fmt, where):
    render_as = RENDERERS[fmt]
    assert diff_sections(render_as(document), render_as(_changed(document, where))) == [where]


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_identical_reports_have_no_differing_section(document, fmt):
    text = RENDERERS[fmt](document)
    digests = section_digests(text)
    assert list(digests) == [
        HEADER,
        "selection",
        "gates",
        "escalation",
        "toxicity-posterior",
        "manifest",
    ]
    assert diff_sections(text, text) == []


def test_reordered_subsections_change_the_parent(document):
    selection, escalation = document.sections
    moved = dataclasses.replace(
        escalation, subsections=(*escalation.subsections, Section("Extra", id="extra"))
    )
    other = dataclasses.replace(document, sections=(selection, moved))
    assert diff_sections(render_html(document), render_html(other)) == [
        HEADER,
        "escalation",
        "extra",
    ]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("<!-- dartnk:section a -->\n", id="never-closed"),
        pytest.param("<!-- dartnk:section a -->\n<!-- dartnk:end b -->\n", id="wrong-end"),
    ],
)
def test_section_digests_refuse_unbalanced_markers(text):
    with pytest.raises(ValueError, match="section"):
        section_digests(text)


# Format choice


@pytest.mark.parametrize(
    ("fmt", "start"),
    [
        ("html", "<!DOCTYPE html>"),
        ("report.html", "<!DOCTYPE html>"),
        (Path("out/report.HTML"), "<!DOCTYPE html>"),
        ("md", "# "),
        ("markdown", "# "),
        (".md", "# "),
        ("report.md", "# "),
    ],
)
def test_render_chooses_by_name_or_suffix(fmt, start):
    document = Document(title="T", sections=(Section("S", id="s"),))
    assert render(document, fmt).startswith(start)


@pytest.mark.parametrize("fmt", ["report.pdf", "report", "txt"])
def test_render_refuses_other_formats(fmt):
    with pytest.raises(ValueError, match=r"expected \.html or \.md"):
        render(Document(title="T"), fmt)


# In a browser


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_chromium_shows_every_section_and_figure_and_loads_nothing(document, page, tmp_path):
    require_chromium()
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    screenshot = tmp_path / "report.png"
    run = open_in_browser(report, workdir=tmp_path, screenshot=screenshot)
    dom = _elements(run.dom)
    sections = [a["id"] for tag, a in dom.tags if tag == "section"]
    assert sections == [s.id for s in document.walk()] + ["manifest"]
    figures = [a["id"] for tag, a in dom.tags if tag == "figure"]
    assert figures == [f.id for f in document.figures()]
    assert len([tag for tag, _ in dom.tags if tag == "svg"]) == len(figures)
    assert [tag for tag, _ in dom.tags].count("script") == 1
    assert read_manifest(run.dom) == document.manifest.to_dict()
    assert run.requested_urls == ()
    assert _png_size(screenshot) == (1280, 2000)


def test_chromium_network_log_sees_a_page_request(tmp_path):
    require_chromium()
    probe = tmp_path / "probe.html"
    probe.write_text(
        '<!DOCTYPE html><html><body><img src="http://probe.example.invalid/x.png"></body></html>',
        encoding="utf-8",
    )
    run = open_in_browser(probe, workdir=tmp_path)
    assert run.requested_urls == ("http://probe.example.invalid/x.png",)


def test_a_figure_clipped_by_a_patch_gives_the_same_svg_twice():
    """matplotlib names a clip path after the clip object's memory address; the ids are
    renumbered in order of first use, so two renders of one figure agree byte for byte."""
    from matplotlib.figure import Figure as MatplotlibFigure
    from matplotlib.patches import Circle

    from dartnk.reports import figure_to_svg

    def drawn() -> str:
        figure = MatplotlibFigure(figsize=(2, 2))
        ax = figure.subplots()
        bars = ax.bar([0, 1], [1, 2], hatch="//")
        circle = Circle((0.5, 1.0), 0.8, transform=ax.transData)
        for bar in bars:
            bar.set_clip_path(circle)
        return figure_to_svg(figure, salt="clipped")

    first, second = drawn(), drawn()
    assert first == second
    assert 'id="clipped_1"' in first
