"""Report tables from ``summary()`` frames: fixed formats, blank missing values, emphasis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._values import YES_NO, CellFormat, format_value
from .document import EMPHASES, Table

__all__ = ["POSTERIOR_FORMATS", "POSTERIOR_LABELS", "posterior_summary_table", "table_from_frame"]

POSTERIOR_FORMATS: dict[str, CellFormat] = {
    "mean": 4,
    "sd": 3,
    "mcse_mean": 2,
    "mcse_sd": 2,
    "ess_bulk": ".0f",
    "ess_tail": ".0f",
    "r_hat": ".3f",
}
POSTERIOR_LABELS: dict[str, str] = {
    "mean": "mean",
    "sd": "sd",
    "mcse_mean": "MCSE mean",
    "mcse_sd": "MCSE sd",
    "ess_bulk": "ESS bulk",
    "ess_tail": "ESS tail",
    "r_hat": "R-hat",
}


def _mask(selector: Any, frame: pd.DataFrame, what: str) -> np.ndarray:
    if isinstance(selector, str):
        if selector not in frame.columns:
            raise ValueError(f"{what}: column {selector!r} is not in the table")
        selector = frame[selector]
    values = selector.to_numpy() if isinstance(selector, pd.Series) else np.asarray(selector)
    if values.shape != (len(frame),):
        raise ValueError(
            f"{what}: {values.shape[0] if values.ndim else 0} values for {len(frame)} rows"
        )
    if values.dtype == object and all(
        isinstance(v, bool | np.bool_) or v is None or v is pd.NA for v in values
    ):
        values = np.array([bool(v) if isinstance(v, bool | np.bool_) else False for v in values])
    if values.dtype != bool:
        raise ValueError(f"{what}: expected true/false per row, got {values.dtype} values")
    return values


def _check_emphasis(emphasis: str, what: str) -> None:
    if emphasis not in EMPHASES:
        raise ValueError(f"{what}: emphasis {emphasis!r} is not one of {', '.join(EMPHASES)}")


def _label(column: object) -> str:
    if isinstance(column, tuple):
        return " ".join(str(part) for part in column if str(part))
    return str(column)


def table_from_frame(
    frame: pd.DataFrame,
    *,
    caption: str,
    columns: Sequence[Any] | None = None,
    labels: Mapping[Any, str] | None = None,
    formats: Mapping[Any, CellFormat] | None = None,
    default_format: CellFormat | None = None,
    booleans: tuple[str, str] = YES_NO,
    index: bool | None = None,
    sort_by: Sequence[Any] | None = None,
    highlight_rows: Mapping[str, Any] | None = None,
    highlight_cells: Mapping[str, Mapping[Any, Any]] | None = None,
    emphasis_labels: Mapping[str, str] | None = None,
    note: str | None = None,
    id: str | None = None,
) -> Table:
    """A report :class:`~dartnk.reports.Table` from a data frame (usually a ``summary()``).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; it is not modified.
    caption : str
        What the table shows.
    columns : sequence, optional
        Columns to show, in this order; every column when None.
    labels : mapping, optional
        Display label per column name; the column name itself otherwise.
    formats : mapping, optional
        Format per column name: a format specification (``".3f"``, ``".1%"``), a number of
        significant digits, or a function of the value.
    default_format : str, int or callable, optional
        Format of numeric columns without their own; 4 significant digits when None
        (integers are written whole).
    booleans : (str, str), default ("yes", "no")
        Text for true and false; ``("✓", "")`` gives check marks.
    index : bool, optional
        Show the index as leading column(s); when None, shown unless it is the default
        0, 1, 2, ... range (so ``az.summary`` keeps its parameter names).
    sort_by : sequence, optional
        Columns to sort by (a stable sort); the frame's own row order otherwise.
    highlight_rows : mapping, optional
        Emphasis (``"selected"``, ``"eliminated"``, ``"flagged"``) to the rows it marks: a
        boolean column name of ``frame`` (it need not be shown) or one boolean per row.
    highlight_cells : mapping, optional
        Emphasis to ``{column name: rows}``, rows given as for ``highlight_rows``.
    emphasis_labels : mapping, optional
        What each emphasis means here ("eliminated dose"), shown in the table's legend.
    note : str, optional
        Footnote under the table.
    id : str, optional
        Anchor of the table.

    Returns
    -------
    Table
        Cells as text: missing values blank, booleans as ``booleans``, numbers in their
        column's fixed format; numeric columns right-aligned.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"dose": ["DL1", "DL2"], "p_dlt": [0.1234, None],
    ...                       "open": [True, False]})
    >>> table = table_from_frame(frame, caption="DLT", formats={"p_dlt": ".2f"},
    ...                          highlight_rows={"eliminated": ~frame["open"]})
    >>> table.rows
    (('DL1', '0.12', 'yes'), ('DL2', '', 'no'))
    >>> table.row_emphasis
    (None, 'eliminated')
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"table {caption!r}: expected a DataFrame, not {type(frame).__name__}")
    if not frame.columns.is_unique:
        duplicated = frame.columns[frame.columns.duplicated()].tolist()
        raise ValueError(f"table {caption!r}: column {duplicated[0]!r} appears twice")
    labels = dict(labels or {})
    formats = dict(formats or {})
    shown = list(frame.columns) if columns is None else list(columns)
    missing = [c for c in [*shown, *formats, *labels, *(sort_by or ())] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"table {caption!r}: column {missing[0]!r} is not in the frame "
            f"(columns: {', '.join(map(str, frame.columns))})"
        )

    row_masks: dict[str, np.ndarray] = {}
    for emphasis, selector in (highlight_rows or {}).items():
        _check_emphasis(emphasis, f"table {caption!r}")
        row_masks[emphasis] = _mask(selector, frame, f"table {caption!r}, {emphasis} rows")
    cell_masks: dict[tuple[str, Any], np.ndarray] = {}
    for emphasis, by_column in (highlight_cells or {}).items():
        _check_emphasis(emphasis, f"table {caption!r}")
        for column, selector in by_column.items():
            if column not in shown:
                raise ValueError(
                    f"table {caption!r}: {emphasis} cells in column {column!r}, which is not shown"
                )
            cell_masks[(emphasis, column)] = _mask(
                selector, frame, f"table {caption!r}, {emphasis} cells of {column!r}"
            )

    order = np.arange(len(frame))
    if sort_by:
        order = (
            frame.reset_index(drop=True)
            .sort_values(list(sort_by), kind="mergesort")
            .index.to_numpy()
        )

    show_index = index if index is not None else not _is_default_index(frame.index)
    index_frame = frame.index.to_frame(index=False) if show_index else pd.DataFrame()
    index_labels = [
        "" if name is None else str(name) for name in (frame.index.names if show_index else ())
    ]
    header = [*index_labels, *(labels.get(c, _label(c)) for c in shown)]
    numeric = [pd.api.types.is_numeric_dtype(index_frame[c]) for c in index_frame.columns]
    numeric += [
        pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        for c in shown
    ]

    index_values = [index_frame[c].tolist() for c in index_frame.columns]
    values = [(frame[c].tolist(), formats.get(c, default_format)) for c in shown]
    rows: list[tuple[str, ...]] = []
    row_emphasis: list[str | None] = []
    cell_emphasis: list[tuple[str | None, ...]] = []
    for position in order:
        index_cells = [format_value(v[position], booleans=booleans) for v in index_values]
        cells = [format_value(v[position], spec, booleans=booleans) for v, spec in values]
        rows.append((*index_cells, *cells))
        marks = [e for e, mask in row_masks.items() if mask[position]]
        if len(marks) > 1:
            raise ValueError(
                f"table {caption!r}, row {position + 1}: marked both {marks[0]} and {marks[1]}"
            )
        row_emphasis.append(marks[0] if marks else None)
        emphasised = [None] * len(index_cells)
        for column in shown:
            marks = [e for (e, c), mask in cell_masks.items() if c == column and mask[position]]
            if len(marks) > 1:
                raise ValueError(
                    f"table {caption!r}, row {position + 1}, column {column!r}: marked both "
                    f"{marks[0]} and {marks[1]}"
                )
            emphasised.append(marks[0] if marks else None)
        cell_emphasis.append(tuple(emphasised))

    return Table(
        caption=caption,
        columns=tuple(header),
        rows=tuple(rows),
        align=tuple("right" if n else "left" for n in numeric),
        row_emphasis=tuple(row_emphasis),
        cell_emphasis=tuple(cell_emphasis),
        emphasis_labels=tuple((emphasis_labels or {}).items()),
        note=note,
        id=id,
    )


def _is_default_index(index: pd.Index) -> bool:
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def posterior_summary_table(
    summary: pd.DataFrame,
    *,
    caption: str,
    rhat_max: float | None = None,
    ess_min: float | None = None,
    digits: int = 4,
    note: str | None = None,
    id: str | None = None,
) -> Table:
    """A table of an ``az.summary`` frame with fixed formats, readable labels and the
    diagnostics that fail their gate flagged.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``az.summary(..., round_to="none")``: one row per parameter (the index), columns
        ``mean``, ``sd``, ``hdi_*%``, ``mcse_*``, ``ess_bulk``, ``ess_tail``, ``r_hat``.
    caption : str
        What the table shows.
    rhat_max : float, optional
        Cells with R-hat above it are flagged.
    ess_min : float, optional
        Cells with bulk or tail ESS below it are flagged.
    digits : int, default 4
        Significant digits of the mean and the interval bounds; sd gets one fewer, MCSE two.
    note, id : str, optional
        As in :func:`table_from_frame`.

    Notes
    -----
    R-hat is written with three decimals and ESS as whole numbers, the convention of
    Vehtari et al. (2021), Bayesian Analysis 16:667, whose rank-normalised R-hat and ESS
    ``az.summary`` reports.
    """
    summary = summary.rename_axis(summary.index.name or "parameter")
    formats = {c: f for c, f in POSTERIOR_FORMATS.items() if c in summary.columns}
    formats["mean"] = digits
    formats["sd"] = max(1, digits - 1)
    labels = {c: POSTERIOR_LABELS[c] for c in summary.columns if c in POSTERIOR_LABELS}
    for column in summary.columns:
        name = str(column)
        if name.startswith(("hdi_", "eti_")):
            formats[column] = digits
            labels[column] = f"{name[:3].upper()} {name[4:]}"
    flagged: dict[str, Any] = {}
    if rhat_max is not None and "r_hat" in summary.columns:
        flagged["r_hat"] = (summary["r_hat"] > rhat_max).to_numpy()
    if ess_min is not None:
        for column in ("ess_bulk", "ess_tail"):
            if column in summary.columns:
                flagged[column] = (summary[column] < ess_min).to_numpy()
    gates = []
    if rhat_max is not None:
        gates.append(f"R-hat above {format_value(rhat_max)}")
    if ess_min is not None:
        gates.append(f"ESS below {format_value(ess_min)}")
    return table_from_frame(
        summary,
        caption=caption,
        labels=labels,
        formats={c: f for c, f in formats.items() if c in summary.columns},
        index=True,
        highlight_cells={"flagged": flagged} if flagged else None,
        emphasis_labels={"flagged": " or ".join(gates)} if gates else None,
        note=note,
        id=id,
    )
