"""Turning one cell value into text, the same way in every table and key-value list."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_DIGITS", "YES_NO", "CellFormat", "format_value", "is_missing", "significant"]

DEFAULT_DIGITS = 4
YES_NO: tuple[str, str] = ("yes", "no")

CellFormat = str | int | Callable[[Any], str]

_NEGATIVE_ZERO = re.compile(r"-(?=[0.,]*(?:%|e[+-]?0*)?$)")


def is_missing(value: object) -> bool:
    """True for None, NaN, NaT and ``pd.NA``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    if isinstance(value, np.datetime64 | np.timedelta64):
        return bool(np.isnat(value))
    return False


def significant(value: float, digits: int = DEFAULT_DIGITS) -> str:
    """``value`` with ``digits`` significant digits, trailing zeros dropped.

    Plain notation from 1e-4 up to 1e15 (large values are rounded to whole numbers rather
    than written as ``1.235e+04``), scientific notation outside; ``-0`` is written ``0``.

    Examples
    --------
    >>> significant(0.123456), significant(12345.6), significant(3.0), significant(2e-7)
    ('0.1235', '12346', '3', '2e-07')
    """
    if digits < 1:
        raise ValueError(f"significant digits {digits} must be at least 1")
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0.0:
        return "0"
    exponent = int(f"{value:.{digits - 1}e}".split("e")[1])
    if digits <= exponent < 15:
        text = f"{value:.0f}"
    else:
        text = f"{value:.{digits}g}"
    return _NEGATIVE_ZERO.sub("", text)


def format_value(
    value: object,
    spec: CellFormat | None = None,
    *,
    booleans: tuple[str, str] = YES_NO,
) -> str:
    """One cell as text.

    Parameters
    ----------
    value : object
        The cell. None, NaN, NaT and ``pd.NA`` give an empty string; booleans give
        ``booleans[0]`` or ``booleans[1]``; integers their digits; other numbers go through
        ``spec``; anything else ``str(value)``.
    spec : str, int or callable, optional
        For numbers: a format specification (``".3f"``, ``".1%"``, ``",d"``), an integer
        (that many significant digits, see :func:`significant`) or a function returning the
        text. Four significant digits when None; integers are written whole when None.
    booleans : (str, str), default ("yes", "no")
        Text for true and false, for instance ``("✓", "")``.
    """
    if is_missing(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return booleans[0] if value else booleans[1]
    if callable(spec):
        text = spec(value)
        if not isinstance(text, str):
            raise TypeError(f"cell format {spec!r} returned {type(text).__name__}, not text")
        return text
    if isinstance(value, numbers.Integral) and not isinstance(spec, str):
        return str(int(value))
    if isinstance(value, numbers.Real):
        if spec is None:
            return significant(float(value))
        if isinstance(spec, int):
            return significant(float(value), spec)
        number = int(value) if isinstance(value, numbers.Integral) else float(value)
        try:
            text = format(number, spec)
        except ValueError as error:
            raise ValueError(f"format {spec!r} cannot write {value!r}: {error}") from None
        return _NEGATIVE_ZERO.sub("", text)
    return str(value)
