"""BOIN's boundaries: the closed forms of Liu and Yuan (2015) and the integer tables of
BOIN::get.boundary, indexed by the number of patients at a dose."""

from __future__ import annotations

from functools import lru_cache
from math import log

import numpy as np
import pandas as pd
from scipy.stats import beta

__all__: list[str] = []

MIN_ELIMINATE = 3


def interval_boundary(low: float, high: float) -> float:
    """The BOIN boundary between DLT rates ``low`` and ``high``.

    log((1 - low) / (1 - high)) / log(high (1 - low) / (low (1 - high))): the observed rate
    at which the likelihoods of p = low and p = high are equal (Liu and Yuan 2015,
    JRSS-C 64:507-523), giving lambda_e for (p_saf, target) and lambda_d for
    (target, p_tox).
    """
    return log((1 - low) / (1 - high)) / log(high * (1 - low) / (low * (1 - high)))


@lru_cache(maxsize=64)
def decision_tables(
    target: float, lambda_e: float, lambda_d: float, cutoff: float, stop_cutoff: float, size: int
) -> tuple[np.ndarray, ...]:
    """Integer boundaries indexed by patients n = 0..size, as BOIN::get.boundary.

    Returns escalate-if-le (floor(lambda_e n)), de-escalate-if-ge (ceiling(lambda_d n), or
    lambda_d n + 1 when that is a whole number, capped at elimination), eliminate-if-ge
    (the smallest y with P(p > target | y, n) > cutoff under Beta(1, 1), n >= 3) and the
    same for ``stop_cutoff`` (the extra-safe rule). Where no count qualifies the entry is
    n + 1, which no count reaches.
    """
    n = np.arange(size + 1)
    escalate = np.floor(lambda_e * n).astype(np.int64)
    scaled = lambda_d * n
    whole = np.abs(np.rint(scaled) - scaled) < 1e-12
    deescalate = np.where(whole, np.rint(scaled) + 1, np.ceil(scaled)).astype(np.int64)
    count = np.arange(size + 1)[:, None]
    valid = (count >= 1) & (count <= n) & (n >= MIN_ELIMINATE)
    tail = np.where(valid, beta.sf(target, count + 1, np.maximum(n - count, 0) + 1), 0.0)
    eliminate = _first_above(tail, cutoff, n)
    stop = _first_above(tail, stop_cutoff, n)
    return escalate, np.minimum(deescalate, eliminate), eliminate, stop


def _first_above(tail: np.ndarray, cutoff: float, n: np.ndarray) -> np.ndarray:
    above = tail > cutoff
    return np.where(above.any(axis=0), np.argmax(above, axis=0), n + 1)


def boundary_frame(tables: tuple[np.ndarray, ...], max_n: int, extra_safe: bool) -> pd.DataFrame:
    """The tables for n = 1..max_n as nullable-integer columns, missing where impossible."""
    escalate, deescalate, eliminate, stop = (t[1 : max_n + 1] for t in tables)
    n = np.arange(1, max_n + 1)
    frame = pd.DataFrame(
        {
            "n": pd.array(n, dtype="Int64"),
            "escalate_if_le": pd.array(escalate, dtype="Int64"),
            "deescalate_if_ge": pd.array(deescalate, dtype="Int64"),
            "eliminate_if_ge": pd.array(np.where(eliminate > n, None, eliminate), "Int64"),
        }
    )
    if extra_safe:
        frame["stop_if_ge"] = pd.array(np.where(stop > n, None, stop), dtype="Int64")
    return frame
