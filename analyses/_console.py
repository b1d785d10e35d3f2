"""Terminal rendering of summary tables with rich (the CLI's only printer)."""

from __future__ import annotations

import math
import sys

import pandas as pd
from rich.console import Console
from rich.table import Table

__all__ = ["err_console", "out_console", "print_frame"]


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 160
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def out_console() -> Console:
    """Console on standard output (fixed width when not a terminal, for stable output)."""
    return _console(stderr=False)


def err_console() -> Console:
    """Console on standard error."""
    return _console(stderr=True)


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_frame(frame: pd.DataFrame, *, title: str | None = None, console: Console | None = None):
    """Print a DataFrame as a rich table: one column per field, numbers right-aligned."""
    console = console or out_console()
    if title:
        console.print(title, markup=False, soft_wrap=True)
    table = Table(show_lines=False)
    for name in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(
            frame[name]
        )
        table.add_column(str(name), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
