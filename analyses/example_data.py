"""The shipped example data cut: a Phase 1 interim of a synthetic DART-NK-SCLC trial.

The cut is produced by code, :func:`generate_example_data` (the default protocol and
scenario, seed :data:`EXAMPLE_SEED`, cut-off study day :data:`EXAMPLE_CUTOFF`), and ships
as CSV package data; a test holds the shipped files to what the code produces, byte for
byte. :func:`example_data` reads the shipped tables, :func:`write_example_data` writes them
to a folder as CSV or Parquet.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import pandas as pd

from ._export import TABLE_NAMES, column_types, write_csv
from ._files import write_folder_atomic
from .errors import InputError
from .generator import generate_trial
from .protocol import default_protocol
from .scenario import default_scenario

__all__ = [
    "EXAMPLE_CUTOFF",
    "EXAMPLE_SEED",
    "example_data",
    "generate_example_data",
    "write_example_data",
    "write_tables",
]

EXAMPLE_SEED = 2025
EXAMPLE_CUTOFF = 330
_FORMATS = ("csv", "parquet")


def generate_example_data() -> dict[str, pd.DataFrame]:
    """Simulate the example cut: default protocol and scenario, seed :data:`EXAMPLE_SEED`,
    cut-off study day :data:`EXAMPLE_CUTOFF` (Phase 1 only)."""
    return generate_trial(
        default_protocol(), default_scenario(), seed=EXAMPLE_SEED, cutoff=EXAMPLE_CUTOFF
    )


def example_data() -> dict[str, pd.DataFrame]:
    """The shipped example cut as typed tables (the column types of the table contract).

    Examples
    --------
    >>> from dartnk.analyses.example_data import example_data
    >>> tables = example_data()
    >>> list(tables)[:3]
    ['patients', 'infusions', 'adverse_events']
    """
    folder = resources.files("dartnk.analyses").joinpath("data", "example")
    types = column_types(default_protocol())
    tables = {}
    for name in TABLE_NAMES:
        with folder.joinpath(f"{name}.csv").open("r", encoding="utf-8") as handle:
            frame = pd.read_csv(handle, dtype=types[name])
        for column, dtype in types[name].items():
            if dtype == "object":
                frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
        tables[name] = frame
    return tables


def write_tables(
    tables: dict[str, pd.DataFrame],
    directory: str | Path,
    *,
    format: Literal["csv", "parquet"] = "csv",
    overwrite: bool = False,
) -> list[Path]:
    """Write tables as ``<table>.csv`` or ``<table>.parquet`` files, atomically.

    The folder is created if needed (its parent must exist). Existing table files of the
    same names are an error unless ``overwrite``; a table file in the other format is
    then removed too, so that the folder never holds a table twice. The whole set is
    written beside the folder first and moved in only when every file is written and every
    destination can be replaced (:func:`~dartnk.analyses._files.write_folder_atomic`): on
    any failure the folder is left exactly as it was.

    Returns
    -------
    list of Path
        The files written, in table order.
    """
    if format not in _FORMATS:
        raise InputError(f"format {format!r} is not one of {list(_FORMATS)}")
    directory = Path(directory)
    other = _FORMATS[1 - _FORMATS.index(format)]

    def write(folder: Path) -> list[str]:
        names = []
        for name, frame in tables.items():
            path = folder / f"{name}.{format}"
            if format == "csv":
                write_csv(frame, path)
            else:
                frame.to_parquet(path, index=False)
            names.append(path.name)
        return names

    twins = [f"{name}.{other}" for name in tables]
    return write_folder_atomic(directory, write, overwrite=overwrite, remove=twins)


def write_example_data(
    directory: str | Path,
    *,
    format: Literal["csv", "parquet"] = "csv",
    overwrite: bool = False,
) -> list[Path]:
    """Write the shipped example cut into ``directory`` (one file per table).

    Parameters
    ----------
    directory : str or Path
        Target folder; created if missing (its parent must exist).
    format : {"csv", "parquet"}
        File format of the tables.
    overwrite : bool, default False
        Replace table files already in the folder.

    Returns
    -------
    list of Path
        The seven files written.

    Raises
    ------
    InputError
        For an unknown format, table files already in the folder without ``overwrite``, a
        destination that is a folder or cannot be written, or a write that fails; the
        folder is then left exactly as it was.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [p.name for p in write_example_data(tmp)][:2]
    ['patients.csv', 'infusions.csv']
    """
    return write_tables(example_data(), directory, format=format, overwrite=overwrite)
