"""The seven trial tables as pandera schemas, and the data dictionary generated from them.

Each table is a :class:`pandera.pandas.DataFrameSchema` whose columns carry their type,
nullability, allowed values, ranges, uniqueness and a plain-language ``description``. The
allowed values that come from the protocol (construct ids, dose labels, the number of
cycles, the first lymphodepletion day) are filled in from a :class:`Protocol`, so the
schemas, the validation messages and the data dictionary always agree with the protocol in
force. :func:`data_dictionary` and :func:`data_dictionary_markdown` read the schemas
themselves, so the documentation cannot drift from the checks.

Conventions
-----------
*Study days* count from the trial's start (day 0 = first enrolment calendar day) and are
used for enrolment, first infusion, lot release and the data cut-off. Every other ``day``
column counts from the patient's first infusion (day 0).

Column types once loaded: text columns hold Python ``str`` (``object`` dtype), integer
columns pandas ``Int64``, number columns ``float64`` and true/false columns pandas
``boolean``, whether the column is nullable or not, so that every table has one dtype per
column whatever its source (CSV, Parquet or a DataFrame).
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from .protocol import AE_CATEGORIES, Protocol, default_protocol

__all__ = [
    "OFF_STUDY_REASONS",
    "OPTIONAL_TABLES",
    "PK_MAX_COPIES_PER_UG",
    "REQUIRED_TABLES",
    "RESPONSE_CODES",
    "TABLES",
    "allowed_values",
    "column_kind",
    "data_dictionary",
    "data_dictionary_markdown",
    "table_schema",
    "table_schemas",
]

REQUIRED_TABLES: tuple[str, ...] = ("patients", "infusions", "adverse_events")
OPTIONAL_TABLES: tuple[str, ...] = ("manufacturing", "pk", "responses", "survival")
TABLES: tuple[str, ...] = REQUIRED_TABLES + OPTIONAL_TABLES

OFF_STUDY_REASONS: tuple[str, ...] = (
    "progression",
    "death",
    "adverse event",
    "withdrawal",
    "investigator decision",
    "manufacturing failure",
    "completed",
)
RESPONSE_CODES: tuple[str, ...] = ("CR", "PR", "SD", "PD", "NE")
PK_MAX_COPIES_PER_UG = 1e6

_DTYPES = {"string": object, "integer": "Int64", "number": "float64", "boolean": "boolean"}
_NOUNS = {
    "string": "text",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}


def _column(
    kind: str,
    description: str,
    *,
    nullable: bool = False,
    unique: bool = False,
    isin: tuple[object, ...] | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    hint: str | None = None,
) -> pa.Column:
    checks: list[pa.Check] = []
    if kind == "string" and isin is None:
        checks.append(pa.Check.str_length(min_value=1))
    if isin is not None:
        checks.append(pa.Check.isin(list(isin)))
    if ge is not None and le is not None:
        checks.append(pa.Check.in_range(ge, le))
    elif ge is not None:
        checks.append(pa.Check.ge(ge))
    if gt is not None:
        checks.append(pa.Check.gt(gt))
    if le is not None and ge is None:
        checks.append(pa.Check.le(le))
    return pa.Column(
        _DTYPES[kind],
        checks=checks,
        nullable=nullable,
        unique=unique,
        description=description,
        metadata={"kind": kind, "hint": hint} if hint else {"kind": kind},
    )


def _patients(protocol: Protocol) -> pa.DataFrameSchema:
    hscores = {
        f"{antigen.lower()}_hscore": _column(
            "integer",
            f"IHC H-score of {antigen} in the tumour (assignment needs both antigens of the "
            f"construct >= {protocol.assignment.hscore_threshold}).",
            ge=0,
            le=300,
        )
        for antigen in ("DLL3", "CD56", "GD2")
    }
    columns = {
        "patient_id": _column("string", "Patient identifier.", unique=True),
        "construct": _column(
            "string", "Arm: the CAR-NK construct assigned.", isin=protocol.construct_ids
        ),
        "dose_level": _column(
            "string", "Dose level label assigned (cells per infusion).", isin=protocol.dose_labels
        ),
        "phase": _column("integer", "Trial phase the patient was enrolled in.", isin=(1, 2)),
        "enrolled_day": _column("integer", "Study day of enrolment.", ge=0),
        "first_infusion_day": _column(
            "integer",
            "Study day of the first CAR-NK infusion, >= enrolled_day; empty if never infused.",
            nullable=True,
            ge=0,
        ),
        "off_study_day": _column(
            "integer",
            "Day (from first infusion) the patient went off study; empty while on study. "
            "Only for infused patients.",
            nullable=True,
            ge=0,
        ),
        "off_study_reason": _column(
            "string",
            "Why the patient went off study; given exactly when off_study_day is, except "
            "'manufacturing failure' (never infused, no off_study_day).",
            nullable=True,
            isin=OFF_STUDY_REASONS,
        ),
        **hscores,
        "ecog": _column(
            "integer",
            f"ECOG performance status at enrolment (eligibility: at most "
            f"{protocol.eligibility.max_ecog}).",
            ge=0,
            le=4,
        ),
    }
    return pa.DataFrameSchema(
        columns,
        name="patients",
        title="one row per patient",
        description="Enrolled patients: arm, dose level, phase, timing and baseline data.",
    )


def _infusions(protocol: Protocol) -> pa.DataFrameSchema:
    schedule = protocol.schedule
    days = ", ".join(str(d) for d in schedule.infusion_days)
    columns = {
        "patient_id": _column("string", "Patient identifier (in patients)."),
        "cycle": _column(
            "integer", "Treatment cycle of the infusion.", ge=1, le=schedule.max_cycles
        ),
        "day": _column(
            "integer",
            f"Day from first infusion; cycle c is scheduled on days "
            f"(c - 1) x {schedule.cycle_length_days} + ({days}).",
            ge=0,
        ),
        "cells": _column(
            "number", "CAR-NK cells infused (expected within 20% of the dose level).", gt=0
        ),
        "given": _column("boolean", "Whether the planned infusion was given."),
    }
    return pa.DataFrameSchema(
        columns,
        name="infusions",
        unique=["patient_id", "cycle", "day"],
        title="one row per planned infusion",
        description="Planned and given CAR-NK infusions; an infused patient has a given "
        "infusion on day 0.",
    )


def _adverse_events(protocol: Protocol) -> pa.DataFrameSchema:
    dlt = protocol.dlt
    columns = {
        "patient_id": _column("string", "Patient identifier (in patients)."),
        "term": _column("string", "Adverse event term as reported."),
        "category": _column("string", "Adverse event category.", isin=AE_CATEGORIES),
        "grade": _column("integer", "CTCAE grade (ASTCT grade for CRS and ICANS).", ge=1, le=5),
        "onset_day": _column(
            "integer",
            "Day of onset from first infusion (lymphodepletion days are negative).",
            ge=min(protocol.schedule.lymphodepletion_days),
        ),
        "is_dlt": _column(
            "boolean",
            f"Dose-limiting toxicity as adjudicated; needs onset on days 0 to "
            f"{protocol.dlt_window} and grade >= {dlt.min_grade} (grade >= 2 for "
            f"{', '.join(dlt.grade2_categories)}).",
        ),
    }
    return pa.DataFrameSchema(
        columns,
        name="adverse_events",
        title="one row per adverse event",
        description="Adverse events with grade, onset and DLT adjudication.",
    )


def _manufacturing(protocol: Protocol) -> pa.DataFrameSchema:
    spec = protocol.manufacturing
    columns = {
        "lot_id": _column("string", "Product lot identifier.", unique=True),
        "construct": _column(
            "string", "Construct of the lot (the patient's construct).", isin=protocol.construct_ids
        ),
        "patient_id": _column("string", "Patient the lot was made for (in patients)."),
        "released": _column("boolean", "Whether the lot passed release testing."),
        "viability_pct": _column(
            "number",
            f"Viable cells, percent (release: >= {spec.min_viability_pct:g}).",
            ge=0,
            le=100,
        ),
        "car_positive_pct": _column(
            "number",
            f"CAR-positive cells, percent (release: >= {spec.min_car_positive_pct:g}).",
            ge=0,
            le=100,
        ),
        "release_study_day": _column(
            "integer",
            "Study day of release; given exactly when released, and not after the patient's "
            "first infusion.",
            nullable=True,
            ge=0,
        ),
    }
    return pa.DataFrameSchema(
        columns,
        name="manufacturing",
        title="one row per product lot",
        description="Product lots and their release testing.",
    )


def _pk(protocol: Protocol) -> pa.DataFrameSchema:
    lloq = protocol.pk.lloq_copies_per_ug
    columns = {
        "patient_id": _column("string", "Patient identifier (in patients, infused)."),
        "day": _column("integer", "Sampling day from first infusion.", ge=0),
        "copies_per_ug": _column(
            "number",
            f"CAR transgene copies per microgram of genomic DNA (qPCR); may be empty when "
            f"below the LLOQ ({lloq:g}).",
            nullable=True,
            ge=0,
            le=PK_MAX_COPIES_PER_UG,
            hint="copies per microgram of genomic DNA: 1 ug holds about 1.5e5 diploid "
            "genomes, so a larger value is in another unit",
        ),
        "below_lloq": _column(
            "boolean",
            f"Sample below the lower limit of quantification ({lloq:g} copies per ug).",
        ),
    }
    return pa.DataFrameSchema(
        columns,
        name="pk",
        unique=["patient_id", "day"],
        title="one row per blood sample",
        description="CAR-NK kinetics, in vivo expansion and persistence, by CAR transgene qPCR.",
    )


def _responses(protocol: Protocol) -> pa.DataFrameSchema:
    columns = {
        "patient_id": _column("string", "Patient identifier (in patients, infused)."),
        "day": _column("integer", "Assessment day from first infusion.", ge=1),
        "response": _column(
            "string", "RECIST 1.1 overall response at this assessment.", isin=RESPONSE_CODES
        ),
    }
    return pa.DataFrameSchema(
        columns,
        name="responses",
        unique=["patient_id", "day"],
        title="one row per tumour assessment",
        description="RECIST 1.1 time-point responses (Eisenhauer et al. 2009).",
    )


def _survival(protocol: Protocol) -> pa.DataFrameSchema:
    columns = {
        "patient_id": _column("string", "Patient identifier (in patients, infused).", unique=True),
        "pfs_days": _column(
            "integer", "Days from first infusion to progression, death or censoring.", ge=0
        ),
        "pfs_event": _column("boolean", "Progression or death observed (else censored)."),
        "os_days": _column(
            "integer", "Days from first infusion to death or censoring, >= pfs_days.", ge=0
        ),
        "os_event": _column("boolean", "Death observed (else censored); implies pfs_event."),
    }
    return pa.DataFrameSchema(
        columns,
        name="survival",
        title="one row per infused patient",
        description="Progression-free and overall survival.",
    )


_BUILDERS = {
    "patients": _patients,
    "infusions": _infusions,
    "adverse_events": _adverse_events,
    "manufacturing": _manufacturing,
    "pk": _pk,
    "responses": _responses,
    "survival": _survival,
}


def table_schema(table: str, protocol: Protocol | None = None) -> pa.DataFrameSchema:
    """The pandera schema of one table under a protocol (the embedded one by default).

    Parameters
    ----------
    table : str
        One of :data:`TABLES`.
    protocol : Protocol, optional
        Supplies the construct ids, dose labels, number of cycles and the first
        lymphodepletion day that some columns allow.

    Examples
    --------
    >>> from dartnk.analyses.tables import table_schema
    >>> list(table_schema("responses").columns)
    ['patient_id', 'day', 'response']
    """
    if table not in _BUILDERS:
        raise KeyError(f"unknown table {table!r}; the tables are {list(TABLES)}")
    return _BUILDERS[table](protocol or default_protocol())


def table_schemas(protocol: Protocol | None = None) -> dict[str, pa.DataFrameSchema]:
    """Schemas of all seven tables, in :data:`TABLES` order."""
    protocol = protocol or default_protocol()
    return {name: _BUILDERS[name](protocol) for name in TABLES}


def column_kind(column: pa.Column) -> str:
    """``"string"``, ``"integer"``, ``"number"`` or ``"boolean"``."""
    return column.metadata["kind"]


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def allowed_values(column: pa.Column) -> str:
    """What a column accepts, in words, read from its pandera checks.

    The same phrase ends every validation message about the column and fills the
    ``allowed`` column of the data dictionary, e.g. ``"an integer 1 to 5"`` or
    ``"one of 'CR', 'PR', 'SD', 'PD', 'NE'"``.
    """
    kind = column_kind(column)
    parts: list[str] = []
    for check in column.checks:
        stats = check.statistics
        if check.name == "isin":
            parts.append("one of " + ", ".join(repr(v) for v in stats["allowed_values"]))
        elif check.name == "str_length":
            parts.append("non-empty text")
        elif check.name == "in_range":
            noun = _NOUNS[kind]
            parts.append(f"{noun} {_number(stats['min_value'])} to {_number(stats['max_value'])}")
        elif check.name == "greater_than_or_equal_to":
            parts.append(f"{_NOUNS[kind]} >= {_number(stats['min_value'])}")
        elif check.name == "greater_than":
            parts.append(f"{_NOUNS[kind]} > {_number(stats['min_value'])}")
        elif check.name == "less_than_or_equal_to":
            parts.append(f"{_NOUNS[kind]} <= {_number(stats['max_value'])}")
    return " and ".join(parts) if parts else _NOUNS[kind]


def _unique_note(schema: pa.DataFrameSchema, name: str) -> str:
    column = schema.columns[name]
    if column.unique:
        return "unique"
    key = list(schema.unique or [])
    if name in key:
        return "unique together: (" + ", ".join(key) + ")"
    return ""


def data_dictionary(protocol: Protocol | None = None) -> pd.DataFrame:
    """Every table and column with its type, allowed values and meaning.

    Generated from :func:`table_schemas`, so it documents exactly what validation checks.

    Returns
    -------
    DataFrame
        Columns ``table``, ``required``, ``rows`` (what one row is), ``column``, ``type``,
        ``nullable``, ``allowed``, ``unique`` and ``description``; tables in
        :data:`TABLES` order, columns in file order.

    Examples
    --------
    >>> from dartnk.analyses import data_dictionary
    >>> d = data_dictionary()
    >>> d.loc[(d.table == "adverse_events") & (d.column == "grade"), "allowed"].item()
    'an integer 1 to 5'
    """
    rows = []
    for table, schema in table_schemas(protocol).items():
        for name, column in schema.columns.items():
            rows.append(
                {
                    "table": table,
                    "required": table in REQUIRED_TABLES,
                    "rows": schema.title,
                    "column": name,
                    "type": column_kind(column),
                    "nullable": bool(column.nullable),
                    "allowed": allowed_values(column),
                    "unique": _unique_note(schema, name),
                    "description": column.description,
                }
            )
    return pd.DataFrame(rows)


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def data_dictionary_markdown(protocol: Protocol | None = None) -> str:
    """The data dictionary as Markdown: one section and one table per trial table.

    Examples
    --------
    >>> from dartnk.analyses import data_dictionary_markdown
    >>> data_dictionary_markdown().splitlines()[0]
    '# Trial data dictionary'
    """
    frame = data_dictionary(protocol)
    schemas = table_schemas(protocol)
    lines = [
        "# Trial data dictionary",
        "",
        "One file per table in one folder: `<table>.csv` or `<table>.parquet` (not both). "
        "Study days count from the trial's start; every other day counts from the "
        "patient's first infusion (day 0).",
    ]
    header = ["column", "type", "nullable", "allowed", "unique", "description"]
    for table in TABLES:
        schema = schemas[table]
        status = "required" if table in REQUIRED_TABLES else "optional"
        lines += ["", f"## {table} ({status}; {schema.title})", "", schema.description, ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for row in frame[frame.table == table].itertuples(index=False):
            cells = [
                f"`{row.column}`",
                row.type,
                "yes" if row.nullable else "no",
                row.allowed,
                row.unique,
                row.description,
            ]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
