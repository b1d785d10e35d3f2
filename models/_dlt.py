"""The TITE likelihood of DLT data and the dose-toxicity result.

Shared by the BLRM (:mod:`dartnk.models.toxicity`) and the CRM power model
(:mod:`dartnk.models.crm_model`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import xarray as xr

from ._arviz import InferenceData, from_arrays
from ._fit import Fit
from ._gather import group_sums, matrix_cells
from ._intervals import flat_draws
from .data import DLTData

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_INTERVALS", "ToxicityFit", "dlt_loglik", "dlt_prior_predictive"]

DEFAULT_INTERVALS = (0.16, 0.33)


def dlt_loglik(
    log_p: pt.TensorVariable, log_q: pt.TensorVariable, data: DLTData
) -> pt.TensorVariable:
    """Log-likelihood per construct, shape (constructs,), from log p and log(1 - p) per
    construct and dose: y log p + (n - y) log(1 - p) for complete follow-up, and
    log(1 - w p) for each pending patient with TITE weight w."""
    value = (data.dlt * log_p + (data.n - data.dlt) * log_q).sum(axis=1)
    if data.pending_weight.size:
        rate = pt.exp(
            matrix_cells(log_p, data.pending_construct, data.pending_dose, len(data.dose_labels))
        )
        terms = pt.log1p(-data.pending_weight * rate)
        value = value + group_sums(terms, data.pending_construct, len(data.constructs))
    return value


def dlt_prior_predictive(
    data: DLTData,
    then: Callable[[InferenceData, np.random.Generator], InferenceData] | None = None,
) -> Callable[[InferenceData, np.random.Generator], InferenceData]:
    """Prior predictive DLTs among every patient treated at each construct and dose
    (pending ones counted as if followed through the window), drawn from the prior
    draws of p; runs after ``then`` (another post-processing step) when given."""
    treated = data.n + data.pending

    def draw(idata: InferenceData, rng: np.random.Generator) -> InferenceData:
        if then is not None:
            idata = then(idata, rng)
        if "prior" not in idata.groups():
            return idata
        ptox = idata["prior"]["ptox"].transpose("chain", "draw", "construct", "dose").to_numpy()
        dlt = rng.binomial(treated, np.clip(ptox, 0.0, 1.0))
        group = from_arrays(
            "prior_predictive",
            {"dlt": dlt},
            dims={"dlt": ("construct", "dose")},
            coords={"construct": list(data.constructs), "dose": list(data.dose_labels)},
        )
        idata.add_groups({"prior_predictive": group})
        return idata

    return draw


@dataclass(frozen=True, repr=False, eq=False)
class ToxicityFit(Fit):
    """Posterior DLT rates per construct and dose.

    Attributes
    ----------
    constructs, dose_labels : tuple of str
    doses : tuple of float
        Dose amounts by 0-based index.
    intervals : tuple of float
        (low, high): underdosing p < low, target low <= p < high, overdosing p >= high.
    counts : DataFrame
        Patients, DLTs and pending patients per construct and dose.
    hierarchy : str
        ``"independent"``, ``"exchangeable"``, ``"exnex"`` or ``"single arm"``.
    """

    constructs: tuple[str, ...]
    dose_labels: tuple[str, ...]
    doses: tuple[float, ...]
    intervals: tuple[float, float]
    counts: pd.DataFrame
    hierarchy: str

    def ptox(self) -> xr.DataArray:
        """Posterior draws of the DLT rate, dims (chain, draw, construct, dose)."""
        return self.idata["posterior"]["ptox"]

    def interval_probabilities(self, intervals: Sequence[float] | None = None) -> pd.DataFrame:
        """Posterior interval probabilities per construct and dose.

        Columns ``construct``, ``dose`` (label), ``prob_under`` = P(p < low),
        ``prob_target`` = P(low <= p < high), ``prob_over`` = P(p >= high), ``ptox_mean``,
        ``ptox_median``: the per-dose columns of :meth:`dartnk.adaptive.BLRM.fit`.
        """
        low, high = self.intervals if intervals is None else tuple(float(v) for v in intervals)
        if not 0.0 < low < high < 1.0:
            raise ValueError(f"intervals ({low}, {high}) must satisfy 0 < low < high < 1")
        p = flat_draws(self.ptox())
        table = self.counts[["construct", "dose"]].copy()
        under = (p < low).mean(axis=-1)
        over = (p >= high).mean(axis=-1)
        table["prob_under"] = under.ravel()
        table["prob_target"] = (1.0 - under - over).ravel()
        table["prob_over"] = over.ravel()
        table["ptox_mean"] = p.mean(axis=-1).ravel()
        table["ptox_median"] = np.median(p, axis=-1).ravel()
        return table

    def prob_tox_exceeds(self, threshold: float) -> pd.DataFrame:
        """P(DLT rate > ``threshold``) per construct and dose (columns ``construct``,
        ``dose``, ``prob``)."""
        table = self.counts[["construct", "dose"]].copy()
        table["prob"] = (flat_draws(self.ptox()) > threshold).mean(axis=-1)
        return table

    def prob_exchangeable(self) -> pd.Series | None:
        """Posterior probability that each construct belongs to the exchangeable component
        (EXNEX only; None otherwise), averaged over draws of the conditional probability."""
        posterior = self.idata["posterior"]
        if "prob_ex" not in posterior:
            return None
        values = posterior["prob_ex"].mean(dim=("chain", "draw"))
        return pd.Series(
            values.to_numpy(), index=pd.Index(self.constructs, name="construct"), name="prob_ex"
        )

    def plot(self, *, prob: float = 0.9) -> Figure:
        """Dose-toxicity curves, one panel per construct: posterior median DLT rate with a
        central ``prob`` credible band, the target interval shaded, and the observed DLT
        proportions labelled y/n (:func:`dartnk.models._plots.toxicity_figure`)."""
        from ._plots import toxicity_figure

        return toxicity_figure(self, prob=prob)

    def plot_intervals(self, *, ewoc: float = 0.25) -> Figure:
        """Stacked interval probabilities P(overdose), P(target), P(underdose) per dose and
        construct with the EWOC line at ``ewoc`` (the protocol's 0.25 by default;
        :func:`dartnk.models._plots.toxicity_interval_figure`)."""
        from ._plots import toxicity_interval_figure

        return toxicity_interval_figure(self, ewoc=ewoc)
