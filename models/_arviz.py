"""The one adapter between dartnk and ArviZ.

Every ArviZ call of the package goes through here, with ``hdi_prob`` passed explicitly and
never through global ``rcParams``, so that a change of ArviZ's API touches one module.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

__all__ = [
    "InferenceData",
    "from_arrays",
    "posterior_table",
    "rank_figure",
    "scalar_count",
    "stamp",
    "trace_figure",
]

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
    per scalar with readable labels such as ``ptox[A, DL2]``.

    The statistics are computed with NumPy, never with ArviZ's numba kernels (which it
    uses whenever numba is installed, and which round differently in the last digits),
    so that they are the same numbers in every process, with or without numba; ArviZ's
    setting is restored afterwards.
    """
    enabled = az.Numba.numba_flag
    az.Numba.disable_numba()
    try:
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
    finally:
        az.Numba.numba_flag = enabled


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


def scalar_count(idata: az.InferenceData, var_names: Sequence[str]) -> int:
    """The number of scalar parameters of ``var_names`` in the posterior (one panel each
    in a rank or trace plot)."""
    posterior = idata["posterior"]
    return sum(
        int(
            np.prod(
                [
                    size
                    for dim, size in posterior[name].sizes.items()
                    if dim not in ("chain", "draw")
                ]
            )
        )
        for name in var_names
    )


def rank_figure(
    idata: az.InferenceData,
    var_names: Sequence[str],
    *,
    columns: int = 4,
    bins: int = 20,
    max_panels: int = 24,
) -> Figure:
    """Rank plots of the posterior on a figure of its own: one small panel per scalar
    parameter (``columns`` a row), with each chain's histogram of ranks stacked.

    The draws of all chains are ranked together (average ranks of ties); each chain's
    ranks are counted in ``bins`` equal bins of [0, chains x draws] and drawn relative to
    the count of a uniform histogram (draws / bins; rank r counted at r - 1/2, so that the
    pooled ranks 1..N fill the bins evenly), as one filled step outline per chain
    above a dashed line at 1. Chains that mix well give flat, alike histograms (Vehtari,
    Gelman, Simpson, Carpenter and Buerkner 2021, Bayesian Analysis 16:667-718, section
    4.1), as ``az.plot_rank`` shows them.

    At most ``max_panels`` panels: a larger selection raises a ``ValueError`` asking for
    fewer ``var_names``. The panels share their axes: only the left column labels the
    chains and only the bottom row the ranks (ticks and axis titles).
    """
    from scipy.stats import rankdata

    names = list(var_names)
    count = scalar_count(idata, names)
    if count == 0:
        raise ValueError(f"no posterior scalar among {names} to draw a rank plot of")
    if count > max_panels:
        raise ValueError(
            f"{count} scalar parameters in {names}: more than {max_panels} rank panels; "
            "pass fewer var_names"
        )
    columns = min(columns, count)
    rows = -(-count // columns)
    figure = Figure(figsize=(2.4 * columns, 1.75 * rows + 0.4), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    axes = grid.ravel()[:count]
    for spare in grid.ravel()[count:]:
        spare.remove()
    colors = [style["color"] for style in matplotlib.rcParams["axes.prop_cycle"]]
    for i, (ax, (title, draws)) in enumerate(zip(axes, _scalars(idata, names), strict=True)):
        chains, n = draws.shape
        ranks = rankdata(draws, axis=None).reshape(chains, n)
        edges = np.linspace(0.0, chains * n, bins + 1)
        gap = 2.0
        for c in range(chains):
            counts = np.histogram(ranks[c] - 0.5, bins=edges)[0] / (n / bins)
            ax.stairs(
                counts + gap * c,
                edges,
                baseline=gap * c,
                fill=True,
                color=colors[c % len(colors)],
                alpha=0.85,
            )
            ax.axhline(gap * c + 1.0, color="0.2", linestyle="--", linewidth=0.8)
        ax.set_yticks(gap * np.arange(chains))
        ax.set_yticklabels([str(c) for c in range(chains)])
        ax.set_xlim(0.0, chains * n)
        ax.set_title(title, fontsize=8)
        left, bottom = i % columns == 0, i + columns >= count
        ax.tick_params(labelsize=7, labelleft=left, labelbottom=bottom)
        ax.set_ylabel("Chain" if left else "", fontsize=8)
        ax.set_xlabel("Rank (all chains)" if bottom else "", fontsize=8)
    figure.suptitle("Rank plots of the posterior draws per chain", fontsize=10)
    return figure


def _scalars(idata: az.InferenceData, names: Sequence[str]) -> Iterator[tuple[str, np.ndarray]]:
    """Each scalar of ``names`` as (label, (chain, draw) draws), labelled ``name`` or
    ``name[coord, ...]``, in the order of the variables and of their coordinates."""
    posterior = idata["posterior"]
    for name in names:
        values = posterior[name].transpose("chain", "draw", ...)
        dims = values.dims[2:]
        array = values.to_numpy()
        if not dims:
            yield name, array
            continue
        labels = [values[dim].to_numpy() for dim in dims]
        for index in np.ndindex(*array.shape[2:]):
            coords = ", ".join(str(labels[k][j]) for k, j in enumerate(index))
            yield f"{name}[{coords}]", array[(slice(None), slice(None), *index)]
