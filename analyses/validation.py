"""Reading and validating the trial tables, with every problem reported at once.

:func:`validate_tables` reads a folder of CSV or Parquet files (or takes a dict of
DataFrames), converts each column to its schema type, runs the pandera schemas of
:mod:`.tables` with ``lazy=True`` and then the row and cross-table rules of
:mod:`.consistency`. All problems of one load are gathered into one :class:`DataError`,
one line per problem naming table, row, patient, column, value and what was expected::

    adverse_events row 7 (patient A-004): grade = 6: expected an integer 1 to 5

Rows are numbered from 1 for the first data row (line 2 of a CSV file, after the header;
position 0 of a DataFrame is row 1).

Decisions where the contract leaves room
----------------------------------------
- A column not in the contract is a warning, not an error, and is dropped, so that site
  exports with extra columns (comments, audit fields) still load; a misspelt required
  column is caught as a missing column.
- A file in the folder (or a key in the dict) that is not one of the seven tables is a
  warning and is ignored.
- Empty cells, cells holding only spaces and the texts ``NA``, ``NaN``, ``nan``, ``null``,
  ``NULL`` and ``None`` are missing, in files and in DataFrames alike. True/false cells
  accept booleans, the numbers 0 and 1, and the texts ``true``, ``false``, ``1`` and ``0``
  in any letter case.
- Text is taken as written (no trimming), so ``' CRS'`` is reported, not silently fixed.
- Integers written as ``3.0`` are accepted; ``2.5`` or ``three`` in an integer column is an
  error, and so is an integer beyond the 64-bit range (``1e308`` as a grade).
- CSV files are read as UTF-8 text (a byte order mark is dropped). An empty file, a binary
  file, a file that is not UTF-8, and a header with no comma but semicolons, tabs or
  vertical bars are each one message, the root cause, and the table is not checked
  further.
- A table that failed as a whole (unreadable, missing, missing a column, or patients
  without rows while other tables list patients) is reported once, and the rules that
  need it are skipped (:func:`~dartnk.analyses.consistency.check_consistency`), so one
  bad file does not give a message per row of every other table. Findings about a whole
  file, table or column come first.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .consistency import MISSING, Findings, check_consistency, show_value
from .errors import InputError
from .protocol import Protocol, default_protocol
from .tables import REQUIRED_TABLES, TABLES, allowed_values, column_kind, table_schemas

__all__ = ["DataError", "ValidatedTables", "validate_tables"]

_NA_TEXT = ["", "NA", "NaN", "nan", "null", "NULL", "None"]
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class DataError(InputError):
    """Trial data that break the table contract; ``problems`` has one line per problem."""


@dataclass(frozen=True)
class ValidatedTables:
    """Typed tables that passed validation.

    Attributes
    ----------
    tables : dict of str to DataFrame
        All seven tables in :data:`~dartnk.analyses.tables.TABLES` order, columns in
        contract order with their schema dtypes; an optional table that was not supplied
        is an empty frame with the right columns.
    present : tuple of str
        The tables that were supplied.
    warnings : tuple of str
        Suspicious but legal findings, one line each.
    """

    tables: dict[str, pd.DataFrame]
    present: tuple[str, ...]
    warnings: tuple[str, ...]


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):
        return not value.strip() or value in _NA_TEXT
    return isinstance(value, float | np.floating) and math.isnan(value)


def _as_string(value: Any) -> str | None:
    if _missing(value):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    return str(value)


class _TooLarge(ValueError):
    """An integer outside the 64-bit range the integer columns hold."""


_INT64 = np.iinfo(np.int64)


def _as_integer(value: Any) -> int | None:
    if _missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        raise ValueError
    if isinstance(value, int | np.integer):
        number = int(value)
    else:
        real = float(str(value).strip()) if isinstance(value, str) else float(value)
        if not real.is_integer():
            raise ValueError
        number = int(real)
    if not _INT64.min <= number <= _INT64.max:
        raise _TooLarge
    return number


def _as_number(value: Any) -> float | None:
    if _missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        raise ValueError
    number = float(value.strip()) if isinstance(value, str) else float(value)
    if not math.isfinite(number):
        raise ValueError
    return number


def _as_boolean(value: Any) -> bool | None:
    if _missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.number):
        if value in (0, 1):
            return bool(value)
        raise ValueError
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError


_CONVERT = {
    "string": (_as_string, object),
    "integer": (_as_integer, "Int64"),
    "number": (_as_number, "float64"),
    "boolean": (_as_boolean, "boolean"),
}


def _convert(values: list[Any], kind: str) -> tuple[pd.Series, list[tuple[int, str]]]:
    """The values as the column's dtype, and the (position, note) of those that are not
    of its kind (note: why, when the allowed values alone do not say it)."""
    convert, dtype = _CONVERT[kind]
    out: list[Any] = []
    bad: list[tuple[int, str]] = []
    for position, value in enumerate(values):
        try:
            out.append(convert(value))
        except _TooLarge:
            out.append(None)
            bad.append((position, f"this one is too large (at most {_INT64.max})"))
        except OverflowError:
            out.append(None)
            bad.append((position, "this one is too large"))
        except (TypeError, ValueError):
            out.append(None)
            bad.append((position, ""))
    if dtype == "float64":
        out = [np.nan if v is None else v for v in out]
    return pd.Series(out, dtype=dtype), bad


def _expected(column: pa.Column) -> str:
    text = allowed_values(column)
    if column.nullable:
        text += " or empty"
    hint = column.metadata.get("hint")
    return f"{text} ({hint})" if hint else text


def _patient_labels(typed: pd.DataFrame) -> list[str | None]:
    if "patient_id" not in typed:
        return [None] * len(typed)
    return [v if isinstance(v, str) else None for v in typed["patient_id"].tolist()]


def _schema_failures(
    table: str,
    typed: pd.DataFrame,
    schema: pa.DataFrameSchema,
    skip: set[tuple[int, str]],
    out: Findings,
    missing: set[str],
) -> set[tuple[int, str]]:
    """Report the pandera failures not already reported (``skip``); a key with a missing
    column is not checked for duplicates."""
    try:
        schema.validate(typed, lazy=True)
        return set()
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    patients = _patient_labels(typed)
    duplicate_rows: dict[tuple[str, ...], set[int]] = {}
    failed: set[tuple[int, str]] = set()
    for case in cases.to_dict("records"):
        column, check, index = case["column"], str(case["check"]), case["index"]
        if index is None or _missing(index):
            out.error(table, "the table contract", problem=f"column {column!r} failed {check}")
            continue
        index = int(index)
        if (index, column) in skip:
            continue
        if check == "field_uniqueness":
            duplicate_rows.setdefault((column,), set()).add(index)
        elif check == "multiple_fields_uniqueness":
            if missing & set(schema.unique or ()):
                continue
            duplicate_rows.setdefault(tuple(schema.unique), set()).add(index)
        else:
            failed.add((index, column))
            out.error(
                table,
                _expected(schema.columns[column]),
                row=index + 1,
                patient=patients[index],
                column=column,
                value=MISSING if check == "not_nullable" else typed.at[index, column],
            )
    for key, indices in duplicate_rows.items():
        _duplicates(table, typed, list(key), sorted(indices), patients, out)
    return failed


def _duplicates(
    table: str,
    typed: pd.DataFrame,
    key: list[str],
    indices: list[int],
    patients: list[str | None],
    out: Findings,
) -> None:
    groups: dict[tuple, list[int]] = {}
    for index in indices:
        groups.setdefault(tuple(typed.loc[index, key].tolist()), []).append(index)
    single = len(key) == 1
    label = key[0] if single else "(" + ", ".join(key) + ")"
    what = "a unique value" if single else f"a unique {label}"
    for values, members in groups.items():
        shown = show_value(values[0]) if single else "(" + ", ".join(map(show_value, values)) + ")"
        for index in members:
            others = ", ".join(str(i + 1) for i in members if i != index)
            out.error(
                table,
                f"{what}; the same is in row {others}",
                row=index + 1,
                patient=patients[index],
                problem=f"{label} = {shown}",
            )


def _unique_names(table: str, frame: pd.DataFrame, out: Findings) -> pd.DataFrame:
    names = [str(c) for c in frame.columns]
    keep = [i for i, name in enumerate(names) if name not in names[:i]]
    for name in sorted({n for i, n in enumerate(names) if n in names[:i]}):
        out.error(table, "each column once", problem=f"column {name!r} appears more than once")
    frame = frame.iloc[:, keep]
    frame.columns = [names[i] for i in keep]
    return frame


def _conform(
    table: str, frame: pd.DataFrame, schema: pa.DataFrameSchema, out: Findings
) -> tuple[pd.DataFrame, set[tuple[int, str]]]:
    """Type the columns, report bad cells and run the schema.

    Returns the typed table and the cells that failed a column check (0-based position,
    column), which the cross-table rules then skip instead of reporting them again.
    """
    frame = _unique_names(table, frame.reset_index(drop=True), out)
    for name in frame.columns:
        if name not in schema.columns:
            out.warn(
                table,
                "only the columns of the table contract; it is ignored",
                problem=f"column {name!r} is unknown",
            )
    typed: dict[str, pd.Series] = {}
    bad_cells: list[tuple[int, str, Any]] = []
    for name, column in schema.columns.items():
        if name not in frame:
            out.error(
                table,
                f"a required column ({_expected(column)})",
                problem=f"column {name!r} is missing",
            )
            typed[name], _ = _convert([None] * len(frame), column_kind(column))
            continue
        raw = frame[name].tolist()
        typed[name], bad = _convert(raw, column_kind(column))
        bad_cells += [(index, name, raw[index], note) for index, note in bad]
    result = pd.DataFrame(typed, index=pd.RangeIndex(len(frame)))
    patients = _patient_labels(result)
    for index, name, value, note in bad_cells:
        expected = _expected(schema.columns[name])
        out.error(
            table,
            f"{expected}; {note}" if note else expected,
            row=index + 1,
            patient=patients[index],
            column=name,
            value=value,
        )
    skip = {(index, name) for index, name, _, _ in bad_cells}
    missing = {name for name in schema.columns if name not in frame}
    skip |= {(i, name) for name in missing for i in range(len(frame))}
    return result, skip | _schema_failures(table, result, schema, skip, out, missing)


_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _csv_text(table: str, path: Path, out: Findings) -> str | None:
    """The text of a CSV file, or None with the reason when it is not readable text."""
    data = path.read_bytes()
    kind = "a CSV file (UTF-8 text, comma-separated, with a header row)"
    if not data.strip():
        out.error(table, kind, problem=f"{path.name} is empty")
        return None
    if b"\x00" in data[:65536]:
        what = "a Parquet file" if data.startswith(b"PAR1") else "a binary file, not text"
        out.error(table, kind, problem=f"{path.name} is {what}")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        out.error(
            table,
            kind,
            problem=f"{path.name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at "
            f"position {exc.start}; save it as UTF-8)",
        )
        return None


def _delimiter_hint(table: str, path: Path, frame: pd.DataFrame, out: Findings) -> bool:
    """Report a header that holds no comma but another delimiter; True if reported."""
    if frame.shape[1] != 1:
        return False
    header = str(frame.columns[0])
    for mark, name in _DELIMITERS.items():
        if header.count(mark):
            shown = header if len(header) <= 60 else header[:57] + "..."
            out.error(
                table,
                "comma-separated values (save the file with commas as delimiter)",
                problem=f"{path.name} has no comma in its header but {header.count(mark)} "
                f"{name} ({shown!r})",
            )
            return True
    return False


def _read_file(table: str, path: Path, out: Findings) -> pd.DataFrame | None:
    """The table as read from its file, or None when the file itself is the problem (the
    one root-cause message is then in ``out``)."""
    try:
        if path.suffix == ".csv":
            text = _csv_text(table, path, out)
            if text is None:
                return None
            frame = pd.read_csv(
                io.StringIO(text), dtype=str, keep_default_na=False, na_values=_NA_TEXT
            )
            return None if _delimiter_hint(table, path, frame, out) else frame
        return pd.read_parquet(path)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        kind = "a CSV file with a header row" if path.suffix == ".csv" else "a Parquet file"
        out.error(table, kind, problem=f"cannot read {path.name} ({reason})")
        return None


def _read_folder(folder: Path, out: Findings) -> tuple[dict[str, pd.DataFrame], set[str]]:
    frames: dict[str, pd.DataFrame] = {}
    supplied: set[str] = set()
    for table in TABLES:
        found = [folder / f"{table}.{ext}" for ext in ("csv", "parquet")]
        found = [path for path in found if path.is_file()]
        if found:
            supplied.add(table)
        if len(found) == 2:
            out.error(
                table,
                "one file per table",
                problem=f"both {found[0].name} and {found[1].name} exist",
            )
        elif found:
            frame = _read_file(table, found[0], out)
            if frame is not None:
                frames[table] = frame
    expected = {f"{t}.{ext}" for t in TABLES for ext in ("csv", "parquet")}
    for path in sorted(folder.iterdir()):
        if path.suffix in (".csv", ".parquet") and path.name not in expected:
            out.warn(
                "folder",
                f"only the tables {', '.join(TABLES)}; the file is ignored",
                problem=f"{path.name} is not a trial table",
            )
    return frames, supplied


def _read_source(source: Any, out: Findings) -> tuple[dict[str, pd.DataFrame], set[str]]:
    if isinstance(source, str | Path):
        folder = Path(source)
        if not folder.is_dir():
            raise DataError(f"{folder}: expected a folder of trial tables; there is no such folder")
        return _read_folder(folder, out)
    if not isinstance(source, Mapping):
        raise DataError(
            f"trial data: expected a folder path or a dict of DataFrames, "
            f"got {type(source).__name__}"
        )
    frames: dict[str, pd.DataFrame] = {}
    for name, frame in source.items():
        if name not in TABLES:
            out.warn(
                "tables",
                f"only the tables {', '.join(TABLES)}; it is ignored",
                problem=f"{name!r} is not a trial table",
            )
        elif not isinstance(frame, pd.DataFrame):
            out.error(name, "a pandas DataFrame", problem=f"got {type(frame).__name__}")
        else:
            frames[name] = frame
    return frames, set(source) & set(TABLES)


def _absent(table: str, source: Any) -> str:
    if isinstance(source, Mapping):
        return f"no {table!r} table"
    return f"no {table}.csv or {table}.parquet"


def _no_patients(tables: dict[str, pd.DataFrame], source: Any, out: Findings) -> set[str]:
    """An empty patients table while other tables hold patients is the root cause of every
    unknown patient_id: report it once. Returns {"patients"} then, else nothing."""
    listed = {
        name: frame["patient_id"].dropna().nunique()
        for name, frame in tables.items()
        if name != "patients" and "patient_id" in frame and frame["patient_id"].notna().any()
    }
    if not listed:
        return set()
    what = "no rows" if isinstance(source, Mapping) else "no data rows, only a header"
    others = ", ".join(f"{name} ({count})" for name, count in listed.items())
    out.error(
        "patients",
        f"one row per enrolled patient; patients are listed in {others}",
        problem=f"the table has {what}",
    )
    return {"patients"}


def validate_tables(
    source: str | Path | Mapping[str, pd.DataFrame], protocol: Protocol | None = None
) -> ValidatedTables:
    """Read, type and check the trial tables against the contract and the protocol.

    Parameters
    ----------
    source : str, Path or mapping of str to DataFrame
        A folder holding ``<table>.csv`` or ``<table>.parquet`` files, or DataFrames keyed
        by table name.
    protocol : Protocol, optional
        The protocol the data must follow (constructs, dose levels, schedule, DLT
        definition, LLOQ, release specification, eligibility); the embedded DART-NK-SCLC
        protocol by default.

    Returns
    -------
    ValidatedTables
        The typed tables, which tables were supplied, and the warnings.

    Raises
    ------
    DataError
        Listing every problem of the load, one line each: a missing required table or
        column, an unreadable file, a table given both as CSV and Parquet, a cell of the
        wrong type or outside its allowed values, a duplicate key, and every broken
        row or cross-table rule of :func:`~dartnk.analyses.consistency.check_consistency`.

    Examples
    --------
    >>> from dartnk.analyses import DataError, validate_tables
    >>> try:
    ...     validate_tables({})
    ... except DataError as error:
    ...     print(error.problems[0])
    patients: no 'patients' table: expected a required table
    """
    protocol = protocol or default_protocol()
    findings = Findings()
    frames, supplied = _read_source(source, findings)
    tables: dict[str, pd.DataFrame] = {}
    invalid: dict[str, set[tuple[int, str]]] = {}
    failed = set(supplied) - set(frames)
    for table, schema in table_schemas(protocol).items():
        if table in frames:
            tables[table], invalid[table] = _conform(table, frames[table], schema, findings)
            if any(name not in frames[table] for name in schema.columns):
                failed.add(table)
            continue
        if table in REQUIRED_TABLES and table not in supplied:
            findings.error(table, "a required table", problem=_absent(table, source))
            failed.add(table)
        empty = pd.DataFrame({name: pd.Series([], dtype=object) for name in schema.columns})
        tables[table], _ = _conform(table, empty, schema, Findings())
    if "patients" in frames and "patients" not in failed and tables["patients"].empty:
        failed |= _no_patients(tables, source, findings)
    check_consistency(tables, set(frames) - failed, protocol, findings, invalid, failed=failed)
    if findings.errors:
        lines = findings.error_lines()
        raise DataError("\n".join(lines), lines)
    return ValidatedTables(
        tables=tables,
        present=tuple(t for t in TABLES if t in frames),
        warnings=tuple(findings.warning_lines()),
    )
