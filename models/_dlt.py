"""DLT data per construct and dose, the TITE likelihood, and the dose-toxicity result.

Shared by the BLRM (:mod:`dartnk.models.toxicity`) and the CRM power model
(:mod:`dartnk.models.crm_model`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import xarray as xr

from ._arviz import InferenceData, from_arrays
from ._fit import Fit
from ._intervals import flat_draws

__all__ = [
    "DEFAULT_INTERVALS",
    "DLTData",
    "ToxicityFit",
    "dlt_loglik",
    "dlt_prior_predictive",
    "dlt_table",
]

DEFAULT_INTERVALS = (0.16, 0.33)
_EVALUABLE = ("DLT", "no DLT", "pending")


@dataclass(frozen=True)
class DLTData:
    """DLT outcomes per construct and 0-based dose, and pending patients with TITE weights.

    Attributes
    ----------
    constructs, dose_labels : tuple of str
    n, dlt : ndarray of int, shape (constructs, doses)
        Patients with complete follow-up (a DLT, or the whole window without one) and DLTs.
    pending : ndarray of int, shape (constructs, doses)
        Pending patients weighed by the likelihood (none without a DLT window).
    pending_construct, pending_dose : ndarray of int, shape (pending,)
    pending_weight : ndarray of float, shape (pending,)
        w = min(1, follow-up / window) (Cheung and Chappell 2000).
    """

    constructs: tuple[str, ...]
    dose_labels: tuple[str, ...]
    n: np.ndarray
    dlt: np.ndarray
    pending: np.ndarray
    pending_construct: np.ndarray
    pending_dose: np.ndarray
    pending_weight: np.ndarray

    @classmethod
    def from_patients(
        cls,
        construct: np.ndarray,
        level: np.ndarray,
        dlt: np.ndarray,
        followup: np.ndarray | None,
        *,
        window: float | None,
        constructs: Sequence[str],
        dose_labels: Sequence[str],
    ) -> DLTData:
        """Counts from per-patient arrays.

        ``construct`` holds 0-based construct positions, ``level`` 0-based doses, ``dlt``
        0/1 and ``followup`` days of follow-up of patients still inside the DLT window
        (NaN when complete). Without ``window`` pending patients are left out.
        """
        n_c, n_d = len(constructs), len(dose_labels)
        construct = np.asarray(construct, dtype=np.int64)
        level_values = np.asarray(level)
        if level_values.size and not np.all(np.mod(level_values, 1) == 0):
            raise ValueError(f"dose levels must be whole 0-based indices, got {level_values}")
        level = level_values.astype(np.int64)
        dlt = np.asarray(dlt)
        if level.shape != dlt.shape or level.ndim != 1 or construct.shape != level.shape:
            raise ValueError("level, dlt and construct must be 1-D arrays of one length")
        bad = (level < 0) | (level >= n_d)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"patient {i}: dose index {level[i]} is outside 0..{n_d - 1} (0-based)"
            )
        if not np.all(np.isin(dlt, (0, 1))):
            raise ValueError(f"dlt must hold 0 or 1 per patient, got {dlt}")
        dlt = dlt.astype(np.int64)
        follow = (
            np.full(level.shape, np.nan)
            if followup is None
            else pd.array(list(followup), dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
        )
        if follow.shape != level.shape:
            raise ValueError(f"followup has shape {follow.shape}, expected {level.shape}")
        if np.any(follow[np.isfinite(follow)] < 0):
            raise ValueError("followup days must be non-negative")
        if window is not None and not (np.isfinite(window) and window > 0):
            raise ValueError(f"window {window} must be a positive number of days")
        pending = (dlt == 0) & np.isfinite(follow)
        complete = ~pending
        n = np.zeros((n_c, n_d), dtype=np.int64)
        y = np.zeros((n_c, n_d), dtype=np.int64)
        np.add.at(n, (construct[complete], level[complete]), 1)
        np.add.at(y, (construct[complete], level[complete]), dlt[complete])
        count = np.zeros((n_c, n_d), dtype=np.int64)
        if window is None:
            pending = np.zeros_like(pending)
        np.add.at(count, (construct[pending], level[pending]), 1)
        weight = np.minimum(1.0, follow[pending] / window) if window is not None else np.zeros(0)
        return cls(
            constructs=tuple(constructs),
            dose_labels=tuple(dose_labels),
            n=n,
            dlt=y,
            pending=count,
            pending_construct=construct[pending],
            pending_dose=level[pending],
            pending_weight=weight.astype(float),
        )

    def counts(self) -> pd.DataFrame:
        """One row per construct and dose: ``construct``, ``dose``, ``n``, ``dlt``, ``pending``."""
        c, d = np.meshgrid(range(len(self.constructs)), range(len(self.dose_labels)), indexing="ij")
        return pd.DataFrame(
            {
                "construct": [self.constructs[i] for i in c.ravel()],
                "dose": [self.dose_labels[j] for j in d.ravel()],
                "n": self.n.ravel(),
                "dlt": self.dlt.ravel(),
                "pending": self.pending.ravel(),
            }
        )


def dlt_loglik(
    log_p: pt.TensorVariable, log_q: pt.TensorVariable, data: DLTData
) -> pt.TensorVariable:
    """Log-likelihood per construct, shape (constructs,), from log p and log(1 - p) per
    construct and dose: y log p + (n - y) log(1 - p) for complete follow-up, and
    log(1 - w p) for each pending patient with TITE weight w."""
    value = (data.dlt * log_p + (data.n - data.dlt) * log_q).sum(axis=1)
    if data.pending_weight.size:
        rate = pt.exp(log_p[data.pending_construct, data.pending_dose])
        terms = pt.log1p(-data.pending_weight * rate)
        membership = (
            data.pending_construct[None, :] == np.arange(len(data.constructs))[:, None]
        ).astype(float)
        value = value + pt.dot(membership, terms)
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


def dlt_table(trial: object, *, phase: int | None, tite: bool) -> pd.DataFrame:
    """Per-patient DLT data of a trial data object: ``construct``, ``dose_index``, ``dlt``,
    ``followup`` (days while pending, NaN when complete); DLT-evaluable patients only
    (DLT, no DLT, or pending; pending ones only when ``tite``)."""
    patients = trial.patients
    status = patients["dlt_status"].astype(str)
    keep = status.isin(_EVALUABLE if tite else _EVALUABLE[:2]).to_numpy()
    if phase is not None:
        keep &= (patients["phase"].astype("int64") == phase).to_numpy()
    chosen = patients[keep]
    pending = (status[keep] == "pending").to_numpy()
    return pd.DataFrame(
        {
            "construct": chosen["construct"].astype(str).to_numpy(),
            "dose_index": chosen["dose_index"].astype("int64").to_numpy(),
            "dlt": (status[keep] == "DLT").astype("int64").to_numpy(),
            "followup": np.where(pending, chosen["followup_days"].astype("float64"), np.nan),
        }
    )


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

    def plot(self, *, prob: float = 0.9) -> object:
        """Dose-toxicity curves per construct: posterior median DLT rate with a central
        ``prob`` credible band, the target interval shaded, observed DLT proportions."""
        from ._plots import toxicity_figure

        return toxicity_figure(self, prob=prob)
