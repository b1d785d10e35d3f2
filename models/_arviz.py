"""The one adapter between dartnk and ArviZ.

Every ArviZ call of the package goes through here, with ``hdi_prob`` passed explicitly and
never through global ``rcParams``, so that a change of ArviZ's API touches one module.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

__all__ = ["InferenceData", "from_arrays", "posterior_table", "stamp", "trace_figure"]

InferenceData = az.InferenceData

_UNSTABLE_ATTRS = ("created_at", "sampling_time", "tuning_steps")


def posterior_table(
    idata: az.InferenceData,
    var_names: Sequence[str] | None,
    *,
    hdi_prob: float,
    group: str = "posterior",
) -> pd.DataFrame:
    """``az.summary``: mean, sd, HDI, MCSE, bulk and tail ESS and R-hat, unrounded, one row
    per scalar with readable labels such as ``ptox[A, DL2]``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        return az.summary(
            idata,
            var_names=list(var_names) if var_names is not None else None,
            group=group,
            hdi_prob=hdi_prob,
            round_to="none",
        )


def stamp(idata: az.InferenceData, attrs: Mapping[str, object]) -> az.InferenceData:
    """Put ``attrs`` on every group and drop ArviZ's wall-clock attributes (creation date,
    sampling time), so that the same inputs and seed give byte-identical results."""
    for name in idata.groups():
        group = idata[name]
        for key in _UNSTABLE_ATTRS:
            group.attrs.pop(key, None)
        group.attrs.update(attrs)
    return idata


def from_arrays(
    group: str,
    values: Mapping[str, np.ndarray],
    *,
    dims: Mapping[str, Sequence[str]],
    coords: Mapping[str, Sequence[object]],
) -> xr.Dataset:
    """A labelled dataset of ``(chain, draw, ...)`` arrays, as ArviZ builds its groups."""
    data = az.convert_to_dataset(
        dict(values), group=group, dims={k: list(v) for k, v in dims.items()}, coords=coords
    )
    for key in _UNSTABLE_ATTRS:
        data.attrs.pop(key, None)
    return data


def trace_figure(idata: az.InferenceData, var_names: Sequence[str] | None) -> object:
    """``az.plot_trace`` of the posterior; returns the matplotlib figure."""
    axes = az.plot_trace(
        idata, var_names=list(var_names) if var_names is not None else None, compact=True
    )
    return np.asarray(axes).ravel()[0].figure
