"""The qualification report: a document of every case's outcome, built from summary frames.

:func:`qualification_document` turns a :class:`~dartnk.analyses.qualification.Qualification`
into a :class:`~dartnk.reports.Document`: the verdict, one summary line per method, the
environment and the case file's SHA-256, the references, and per method a table of its cases
(reference, inputs, expected, obtained, tolerance, deviation, result). Values are written
with fixed formats (7 significant digits, lists of more than 12 items shortened, the full
values being in the case file and in ``--json``), so the same result renders to the same
bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from dartnk.reports import (
    Alert,
    Document,
    KeyValues,
    Manifest,
    Paragraph,
    Section,
    environment_versions,
    slug,
    table_from_frame,
)

from .qualification import ENVIRONMENT_PACKAGES, FAILED, NOT_RUN, CaseResult, Qualification

__all__ = ["format_value", "qualification_document"]

LIST_LIMIT = 12
INPUT_CHARACTERS = 160
_ENVIRONMENT_LABELS = {
    "python": "Python",
    "dartnk": "dartnk",
    "numpy": "NumPy",
    "scipy": "SciPy",
    "pymc": "PyMC",
    "pytensor": "PyTensor",
    "arviz": "ArviZ",
    "platform": "Platform",
    "machine": "Machine",
    "cpu": "CPU",
    "cpu_count": "CPU count",
}


def format_value(value: Any, *, limit: int | None = LIST_LIMIT, digits: int = 7) -> str:
    """A value as report text: numbers to ``digits`` significant digits, None as ``none``,
    lists in brackets (shortened to ``limit`` items with the count of the rest), mappings
    as ``key=value`` pairs."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "none"
        if value == int(value) and abs(value) < 1e6:
            return f"{value:.1f}"
        return f"{value:.{digits}g}"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return (
            "{" + ", ".join(f"{k}={format_value(v, limit=limit)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list | tuple):
        items = list(value)
        shown = items if limit is None or len(items) <= limit else items[:limit]
        text = ", ".join(format_value(v, limit=limit, digits=digits) for v in shown)
        if len(shown) < len(items):
            text += f", … ({len(items)} in all)"
        return f"[{text}]"
    return str(value)


def _values(
    values: Mapping[str, Any] | None, *, digits: int = 7, characters: int | None = None
) -> str:
    """``name = value`` pairs; with ``characters``, each value's text is cut to that many
    characters (the case file holds it whole)."""
    if values is None:
        return ""
    parts = []
    for key, value in values.items():
        text = format_value(value, digits=digits)
        if characters is not None and len(text) > characters:
            text = f"{text[:characters].rstrip(', ')} … (shortened)"
        parts.append(f"{key} = {text}")
    return "; ".join(parts)


def _obtained(result: CaseResult) -> str:
    if result.obtained is None:
        return ""
    text = _values(result.obtained)
    if result.mcse:
        text += "; MCSE: " + _values(result.mcse, digits=2)
    return text


def _reference_text(result: CaseResult, qualification: Qualification) -> str:
    case = result.case
    reference = qualification.cases.references[case.reference]
    if case.r_call:
        return f"{case.r_package} (R {case.r_version}): {case.r_call}"
    return reference.citation


def _case_frame(results: list[CaseResult], qualification: Qualification) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case": [r.case.id for r in results],
            "reference": [_reference_text(r, qualification) for r in results],
            "inputs": [_values(r.case.inputs, characters=INPUT_CHARACTERS) for r in results],
            "expected": [_values(r.case.expected) for r in results],
            "obtained": [_obtained(r) for r in results],
            "tolerance": [r.case.tolerance.describe() for r in results],
            "deviation": ["" if r.deviation is None else f"{r.deviation:.2g}" for r in results],
            "result": [
                r.status if not r.message or r.passed else f"{r.status}: {r.message}"
                for r in results
            ],
            "failed": [r.status == FAILED for r in results],
            "not_run": [r.status == NOT_RUN for r in results],
        }
    )


def _method_section(method: str, qualification: Qualification, number: int) -> Section:
    results = [r for r in qualification.results if r.case.method == method]
    frame = _case_frame(results, qualification)
    passed = sum(r.passed for r in results)
    ran = sum(r.status != NOT_RUN for r in results)
    notes = sorted({r.case.note for r in results if r.case.note})
    blocks: list[Any] = [
        Paragraph(f"{passed} of {ran} cases run pass ({len(results)} in the case file)."),
        table_from_frame(
            frame,
            caption=f"Cases of {method}",
            columns=[
                "case",
                "reference",
                "inputs",
                "expected",
                "obtained",
                "tolerance",
                "deviation",
                "result",
            ],
            highlight_rows={"flagged": "failed", "eliminated": "not_run"},
            emphasis_labels={"flagged": "failed", "eliminated": "not run"},
            note="Deviation: the largest |obtained - expected| over the case's numbers. "
            + " ".join(f"Note: {n}." for n in notes[:6]),
            id=f"cases-{number}",
        ),
    ]
    return Section(title=method, id=f"method-{slug(method)}", blocks=tuple(blocks))


def qualification_document(
    qualification: Qualification, *, command: tuple[str, ...] = ("dartnk", "qualify")
) -> Document:
    """The report of a qualification run (see the module docstring).

    Parameters
    ----------
    qualification : Qualification
    command : tuple of str
        The command line to record in the manifest (without output file names, which do
        not change the report).
    """
    counts = qualification.counts
    mode = "quick run, MCMC cases left out" if qualification.quick else "full run"
    alerts = []
    if qualification.failures:
        names = ", ".join(r.case.id for r in qualification.failures[:10])
        more = len(qualification.failures) - 10
        alerts.append(
            Alert(
                "error",
                f"{counts['failed']} of {counts['run']} cases fail on this machine: {names}"
                + (f" and {more} more" if more > 0 else ""),
            )
        )
    else:
        left_out = f"; {counts['not_run']} cases were not run" if counts["not_run"] else ""
        alerts.append(
            Alert("info", f"All {counts['run']} cases run pass on this machine ({mode}{left_out}).")
        )
    methods = qualification.method_summary()
    methods["largest_deviation"] = [
        "" if v is None or pd.isna(v) else f"{v:.2g}" for v in methods["largest_deviation"]
    ]
    summary = Section(
        title="Summary",
        id="summary",
        blocks=(
            Paragraph(
                "Every reference case was rerun on this machine through dartnk's public API and "
                "compared with its expected value: published values (papers), values computed "
                "by the R reference packages (BOIN, dfcrm, clinfun) with their versions "
                "recorded, and independent computations (exact enumeration, adaptive "
                "quadrature, direct summation, brute-force loops). A case passes when every "
                "number lies within its tolerance and every other value is equal."
            ),
            KeyValues(
                (
                    ("Run", mode),
                    ("Cases in the case file", counts["cases"]),
                    ("Cases run", counts["run"]),
                    ("Passed", counts["passed"]),
                    ("Failed", counts["failed"]),
                    ("Not run", counts["not_run"]),
                    ("Case file", qualification.cases.name),
                    ("Case file SHA-256", qualification.cases.sha256),
                )
            ),
            table_from_frame(
                methods,
                caption="Cases per method",
                labels={
                    "not_run": "not run",
                    "largest_deviation": "largest deviation",
                },
                highlight_rows={"flagged": methods["failed"] > 0},
                emphasis_labels={"flagged": "a case fails"},
                id="methods",
            ),
        ),
    )
    env = qualification.environment
    environment = Section(
        title="Environment",
        id="environment",
        blocks=(
            Paragraph("The machine and software the cases ran on."),
            KeyValues(tuple((_ENVIRONMENT_LABELS.get(k, k), v) for k, v in env.items())),
        ),
    )
    references = pd.DataFrame(
        [
            {"reference": r.id, "kind": r.kind, "source": r.citation}
            for r in qualification.cases.references.values()
        ]
    )
    reference_section = Section(
        title="References",
        id="references",
        blocks=(
            Paragraph(qualification.cases.about),
            table_from_frame(references, caption="Sources of the expected values", id="sources"),
        ),
    )
    case_sections = Section(
        title="Cases by method",
        id="cases",
        blocks=(
            Paragraph(
                "Inputs use 0-based dose indices. Lists longer than "
                f"{LIST_LIMIT} items and inputs longer than {INPUT_CHARACTERS} characters are "
                "shortened here; the case file and the JSON output (--json) hold every value."
            ),
        ),
        subsections=tuple(
            _method_section(method, qualification, i)
            for i, method in enumerate(qualification.cases.methods(), start=1)
        ),
    )
    seeds = {
        r.case.id: int(r.case.inputs["sampling"]["seed"])
        for r in qualification.results
        if r.status != NOT_RUN and "sampling" in r.case.inputs
    }
    manifest = Manifest(
        inputs={qualification.cases.name: qualification.cases.sha256},
        seeds=seeds,
        versions=environment_versions((*ENVIRONMENT_PACKAGES, "pandas", "xarray")),
        command=command,
        settings={"quick": qualification.quick, "cases": counts["cases"]},
    )
    verdict = "pass" if qualification.passed else "FAIL"
    return Document(
        title="Method qualification of dartnk",
        subtitle=f"{counts['passed']} of {counts['run']} reference cases pass ({verdict}; {mode})",
        alerts=tuple(alerts),
        sections=(summary, environment, reference_section, case_sections),
        manifest=manifest,
    )
