"""Posterior summaries of labelled draws: mean, median and central credible intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["draw_summary", "flat_draws"]


def flat_draws(draws: xr.DataArray) -> np.ndarray:
    """Draws as (cells, samples): the non-sample dims flattened in their order (row-major,
    as the fits' count tables list them), chains and draws pooled."""
    other = [d for d in draws.dims if d not in ("chain", "draw")]
    stacked = draws.stack(sample=("chain", "draw")).transpose(*other, "sample")
    return stacked.to_numpy().reshape(-1, stacked.sizes["sample"])


def draw_summary(draws: xr.DataArray, index: pd.DataFrame, *, prob: float) -> pd.DataFrame:
    """``mean``, ``median``, ``lower`` and ``upper`` (central ``prob`` interval) of each
    cell of ``draws``, one row per row of ``index`` (whose index the result takes)."""
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob {prob} must lie strictly between 0 and 1")
    values = flat_draws(draws)
    if values.shape[0] != len(index):
        raise ValueError(f"{values.shape[0]} cells of draws for {len(index)} rows")
    tail = (1.0 - prob) / 2.0
    lower, median, upper = np.quantile(values, [tail, 0.5, 1.0 - tail], axis=1)
    return pd.DataFrame(
        {"mean": values.mean(axis=1), "median": median, "lower": lower, "upper": upper},
        index=index.index,
    )
