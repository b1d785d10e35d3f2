"""Progression-free and overall survival: a Bayesian Weibull model beside Kaplan-Meier.

Data (:class:`~dartnk.models.SurvivalData`; for a data cut,
:func:`dartnk.analyses.model_inputs.survival_data`): per infused patient, days from first
infusion to the event or to censoring, known at the cut-off: a time beyond the cut-off is
censored at the patient's follow-up; an event after the cut-off is not yet known.

Model (days), with right censoring in the likelihood (log S(t) for a censored time):

    T_i ~ Weibull(shape k, scale lambda_c[i]),  S(t) = exp(-(t / lambda)^k),
    log lambda_c ~ N(5.2, 1.5),  log k ~ N(0, 0.5),

per construct (one scale per construct, a shared shape) or pooled (one scale); the
exponential model fixes k = 1. The priors are the inputs'
:class:`~dartnk.models.SurvivalPrior` (for the trial, the protocol's ``priors.survival_*``;
exp(5.2) = 181 days). Derived draw by draw: the median lambda (ln 2)^(1/k) and the
survival at 6 and 12 months (a month is 30.4375 days). Kaplan-Meier estimates come from
lifelines, with Greenwood (exponential) confidence intervals.

References
----------
Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations. Journal
of the American Statistical Association 53:457-481.

Ibrahim JG, Chen M-H, Sinha D (2001). Bayesian Survival Analysis, chapter 2. Springer.

Davidson-Pilon C (2019). lifelines: survival analysis in Python. Journal of Open Source
Software 4:1317.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Unpack

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from ._fit import Fit, fit_fields
from ._intervals import draw_summary
from ._sampling import sample
from ._settings import Gates, SamplingOptions, SamplingSettings
from .data import SurvivalData
from .inputs import ModelInputSource, SurvivalInputs, resolve_inputs
from .priors import SurvivalPrior

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DISTRIBUTIONS", "MONTH_DAYS", "SurvivalFit", "fit_survival", "kaplan_meier"]

MONTH_DAYS = 30.4375
DISTRIBUTIONS = ("weibull", "exponential")
_LANDMARK_MONTHS = (6, 12)


def kaplan_meier(
    data: SurvivalData, labels: Sequence[str] | None = None, *, prob: float = 0.95
) -> pd.DataFrame:
    """Kaplan-Meier (lifelines) per construct and pooled: ``construct`` ("all" pooled),
    ``patients``, ``events``, ``median`` with ``median_lower``/``median_upper`` (inf
    where not reached) and the survival at 6 and 12 months with its ``prob`` confidence
    interval (exponential Greenwood); NaN where follow-up ends before the time without
    the curve having reached 0. ``labels`` name the construct positions
    (``data.constructs`` by default)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    if labels is None:
        if data.constructs is None:
            raise ValueError("kaplan_meier needs labels: the SurvivalData has no constructs")
        labels = data.constructs

    rows = []
    groups = [(label, data.construct == i) for i, label in enumerate(labels)]
    groups.append(("all", np.ones(data.time.size, dtype=bool)))
    for label, mask in groups:
        row: dict[str, object] = {
            "construct": label,
            "patients": int(mask.sum()),
            "events": int(data.event[mask].sum()),
        }
        if mask.any():
            kmf = KaplanMeierFitter(alpha=1.0 - prob)
            kmf.fit(data.time[mask], data.event[mask])
            interval = median_survival_times(kmf.confidence_interval_).to_numpy().ravel()
            row |= {
                "median": float(kmf.median_survival_time_),
                "median_lower": float(interval[0]),
                "median_upper": float(interval[1]),
            }
            for months in _LANDMARK_MONTHS:
                t = months * MONTH_DAYS
                reached = t <= data.time[mask].max() or kmf.survival_function_.iloc[-1, 0] == 0
                ci = kmf.confidence_interval_survival_function_
                position = ci.index.searchsorted(t, side="right") - 1
                row[f"s{months}"] = (
                    float(kmf.survival_function_at_times(t).iloc[0]) if reached else np.nan
                )
                row[f"s{months}_lower"] = float(ci.iloc[position, 0]) if reached else np.nan
                row[f"s{months}_upper"] = float(ci.iloc[position, 1]) if reached else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True, repr=False, eq=False)
class SurvivalFit(Fit):
    """Posterior of the Weibull (or exponential) survival model of one endpoint.

    Attributes
    ----------
    endpoint : str
        ``"pfs"`` or ``"os"``.
    distribution : str
    by_construct : bool
    constructs : tuple of str
        The constructs with a scale each, or ``("all",)`` pooled.
    data : SurvivalData
    labels : tuple of str
        The constructs of the data (for Kaplan-Meier).
    """

    endpoint: str
    distribution: str
    by_construct: bool
    constructs: tuple[str, ...]
    data: SurvivalData
    labels: tuple[str, ...]

    def _headline(self) -> str:
        missing = self.data.missing
        note = (
            f"; {len(missing)} infused patient(s) without a survival record left out"
            if missing
            else ""
        )
        return super()._headline() + note

    def median(self) -> xr.DataArray:
        """Posterior draws of the median survival in days, dims (chain, draw, construct)."""
        return self.posterior["median"]

    def survival(self, days: float | Sequence[float]) -> xr.DataArray:
        """Posterior draws of S(t) at ``days``, dims (chain, draw, construct, time)."""
        t = np.atleast_1d(np.asarray(days, dtype=float))
        scale = self.posterior["scale"]
        shape = self.posterior["shape"]
        times = xr.DataArray(t, dims="time", coords={"time": t})
        values = np.exp(-((times / scale) ** shape))
        return values.transpose("chain", "draw", "construct", "time")

    def estimates(self, *, prob: float = 0.9) -> pd.DataFrame:
        """Per construct: the posterior median survival (days) and S(6 months),
        S(12 months), each with mean, median and central ``prob`` interval."""
        index = pd.DataFrame({"construct": list(self.constructs)})
        parts = []
        for name, draws in (
            ("median_days", self.median()),
            *(
                (f"s{m}", self.survival(m * MONTH_DAYS).isel(time=0, drop=True))
                for m in _LANDMARK_MONTHS
            ),
        ):
            summary = draw_summary(draws, index, prob=prob)
            parts.append(summary.add_prefix(f"{name}_"))
        return pd.concat([index, *parts], axis=1)

    def kaplan_meier(self, *, prob: float = 0.95) -> pd.DataFrame:
        """Kaplan-Meier estimates of the same data (:func:`kaplan_meier`)."""
        return kaplan_meier(self.data, self.labels, prob=prob)

    def plot(self, *, prob: float = 0.9) -> Figure:
        """Kaplan-Meier curve per construct with censoring ticks and the number at risk,
        overlaid with the posterior median survival curve and its central ``prob`` band
        (:func:`dartnk.models._survival_plot.survival_figure`); returns the figure."""
        from ._survival_plot import survival_figure

        return survival_figure(self, prob=prob)


def fit_survival(
    data: SurvivalInputs | ModelInputSource,
    endpoint: str = "pfs",
    *,
    distribution: str = "weibull",
    by_construct: bool = True,
    prior: SurvivalPrior | None = None,
    phase: int | None = None,
    constructs: Sequence[str] | None = None,
    **sampling: Unpack[SamplingOptions],
) -> SurvivalFit:
    """Posterior PFS or OS of a data cut under a Weibull model (module docstring).

    Parameters
    ----------
    data : SurvivalInputs or ModelInputSource
        The inputs, or a data cut that converts to them
        (:class:`dartnk.analyses.TrialData`: times known at the cut-off, the protocol's
        prior and sampling plan).
    endpoint : {"pfs", "os"}
        The endpoint of a data cut (a :class:`~dartnk.models.SurvivalInputs` holds its own).
    distribution : {"weibull", "exponential"}
    by_construct : bool, default True
        One scale per construct with a shared shape; False pools the constructs.
    prior : SurvivalPrior, optional
        Replaces the prior of the inputs (the protocol's for a data cut).
    phase : int, optional
        Keep one phase's patients of a data cut (both by default).
    constructs : sequence of str, optional
        Construct order of a data cut (the protocol's by default).
    **sampling
        ``draws``, ``tune``, ``chains``, ``target_accept``, ``cores``, ``seed``,
        ``gates``, ``progressbar`` (:class:`~dartnk.models.SamplingOptions`; the
        inputs' plan by default: the protocol's settings and gates for a data cut).

    Returns
    -------
    SurvivalFit
        ``median()``, ``survival(days)``, ``estimates()``, ``kaplan_meier()``,
        ``summary()``, ``plot()``.

    Notes
    -----
    Likelihood: log f(t) for an event at t and log S(t) for a time censored at t, with
    f and S of the Weibull(k, lambda_c), S(t) = exp(-(t / lambda_c)^k). Priors (protocol
    defaults): log lambda_c ~ N(5.2, 1.5), log k ~ N(0, 0.5) (k = 1 for the exponential).
    ``endpoint``, ``phase`` and ``constructs`` select patients of a data cut; with
    :class:`~dartnk.models.SurvivalInputs` they keep their defaults.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution = {distribution!r}: expected one of {list(DISTRIBUTIONS)}")
    inputs = resolve_inputs(
        data,
        "survival",
        entry="fit_survival",
        selection={"endpoint": endpoint, "phase": phase, "constructs": constructs},
        defaults={"endpoint": "pfs", "phase": None, "constructs": None},
    )
    if prior is not None:
        inputs = replace(inputs, prior=prior)
    if distribution == "weibull" and inputs.prior.log_shape is None:
        raise ValueError("the Weibull model needs prior log_shape; this SurvivalPrior has none")
    if inputs.data.time.size == 0:
        raise ValueError(
            f"no patient with a known {inputs.endpoint.upper()} time in the data: nothing to fit"
        )
    return _fit(
        inputs.data,
        endpoint=inputs.endpoint,
        distribution=distribution,
        by_construct=by_construct,
        prior=inputs.prior,
        **inputs.plan.arguments(sampling),
    )


def _fit(
    times: SurvivalData,
    *,
    endpoint: str,
    distribution: str,
    by_construct: bool,
    prior: SurvivalPrior,
    settings: SamplingSettings,
    gates: Gates,
    seed: int | np.random.SeedSequence | None,
    progressbar: bool | None,
    protocol_hash: str | None,
) -> SurvivalFit:
    labels = times.constructs
    groups = tuple(labels) if by_construct else ("all",)
    index = times.construct if by_construct else np.zeros(times.time.size, dtype=np.int64)
    upper = np.where(times.event, np.inf, times.time)
    with pm.Model(coords={"construct": list(groups)}) as model:
        log_scale = pm.Normal("log_scale", *prior.log_scale, dims="construct")
        scale = pm.Deterministic("scale", pt.exp(log_scale), dims="construct")
        if distribution == "weibull":
            log_shape = pm.Normal("log_shape", *prior.log_shape)
            shape = pm.Deterministic("shape", pt.exp(log_shape))
        else:
            shape = pm.Deterministic("shape", pt.as_tensor(1.0))
        pm.Censored(
            "time",
            pm.Weibull.dist(alpha=shape, beta=scale[index]),
            lower=None,
            upper=upper,
            observed=times.time,
        )
        pm.Deterministic("median", scale * np.log(2.0) ** (1.0 / shape), dims="construct")
    gated = ["scale", "median"] + (["shape"] if distribution == "weibull" else [])
    fit = sample(
        model,
        settings=settings,
        gates=gates,
        seed=seed,
        progressbar=progressbar,
        gated=gated,
        shown=gated,
        name=f"{endpoint.upper()} ({distribution}{', per construct' if by_construct else ''})",
        protocol_hash=protocol_hash,
    )
    return SurvivalFit(
        **fit_fields(fit),
        endpoint=endpoint,
        distribution=distribution,
        by_construct=by_construct,
        constructs=groups,
        data=times,
        labels=tuple(labels),
    )
