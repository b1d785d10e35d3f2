"""Objective response rate per construct (and dose), partially pooled across constructs.

Data: response-evaluable patients and confirmed responders (CR or PR confirmed at an
assessment >= 28 days later, RECIST 1.1, from the data cut's derivation), per construct
and, with ``by_dose``, per dose level.

Model (logit scale):

    r_c ~ Binomial(n_c, p_c),  logit p_c = a_c,  a_c ~ N(mu, tau),
    mu ~ N(-1.4, 1.5),  tau ~ HalfNormal(1),

with ``by_dose``, logit p_cd = mu + tau z_c + beta log(dose_d / reference_dose) with a
log-dose slope beta ~ N(0, 1) shared by the constructs. The numbers are those of the
inputs' :class:`~dartnk.models.ResponsePrior` (for the trial, the protocol's
``priors.response_*``); mu ~ N(-1.4, 1.5) puts the prior median ORR at 0.20.
The construct levels a_c are sampled as their mean and zero-sum deviations
(:mod:`dartnk.models._hierarchy`), and mu is drawn from its exact conditional.

References
----------
Eisenhauer EA, Therasse P, Bogaerts J, et al. (2009). New response evaluation criteria in
solid tumours: revised RECIST guideline (version 1.1). Eur J Cancer 45:228-247.

Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB (2013). Bayesian Data
Analysis, 3rd ed., chapter 5 (hierarchical models). Chapman & Hall/CRC.
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
from ._hierarchy import draw_population_mean, exchangeable_levels
from ._intervals import draw_summary, flat_draws
from ._sampling import sample
from ._settings import SamplingOptions
from .inputs import ModelInputSource, ResponseInputs, resolve_inputs
from .priors import ResponsePrior

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ResponseFit", "fit_response"]


@dataclass(frozen=True, repr=False, eq=False)
class ResponseFit(Fit):
    """Posterior ORR per construct (and per dose with ``by_dose``).

    Attributes
    ----------
    constructs, dose_labels : tuple of str
    by_dose : bool
    counts : DataFrame
        ``construct`` (and ``dose``), ``n`` (response-evaluable), ``responders``.
    """

    constructs: tuple[str, ...]
    dose_labels: tuple[str, ...]
    by_dose: bool
    counts: pd.DataFrame

    def orr(self) -> xr.DataArray:
        """Posterior draws of the ORR, dims (chain, draw, construct[, dose])."""
        return self.posterior["orr"]

    def estimates(self, *, prob: float = 0.9) -> pd.DataFrame:
        """Per construct (and dose): counts, posterior mean and median ORR and the
        central ``prob`` credible interval (``lower``, ``upper``)."""
        table = self.counts.copy()
        return pd.concat([table, draw_summary(self.orr(), table, prob=prob)], axis=1)

    def prob_exceeds(self, threshold: float) -> pd.DataFrame:
        """P(ORR > ``threshold`` | data) per construct (and dose): column ``prob``."""
        table = self.counts.drop(columns=["n", "responders"]).copy()
        table["prob"] = (flat_draws(self.orr()) > threshold).mean(axis=-1)
        return table

    def plot(self, *, prob: float = 0.9) -> Figure:
        """Posterior ORR per construct (and dose): median and central ``prob`` interval,
        with the observed responders/n beside each row
        (:func:`dartnk.models._plots.response_figure`)."""
        from ._plots import response_figure

        return response_figure(self, prob=prob)


def _with_mu(idata, rng, hierarchy: dict) -> object:
    draw_population_mean(idata, rng, tau="tau", **hierarchy)
    return idata


def fit_response(
    data: ResponseInputs | ModelInputSource,
    *,
    by_dose: bool = False,
    prior: ResponsePrior | None = None,
    phase: int | None = None,
    constructs: Sequence[str] | None = None,
    **sampling: Unpack[SamplingOptions],
) -> ResponseFit:
    """Posterior ORR per construct of a data cut, partially pooled (module docstring).

    Parameters
    ----------
    data : ResponseInputs or ModelInputSource
        The inputs, or a data cut that converts to them
        (:class:`dartnk.analyses.TrialData`: response-evaluable patients and confirmed
        responders at the cut-off, the protocol's prior and sampling plan).
    by_dose : bool, default False
        Add a shared log-dose slope and report the ORR per construct and dose level (the
        prior's ``dose_slope_sd`` is then needed).
    prior : ResponsePrior, optional
        Replaces the prior of the inputs (the protocol's for a data cut).
    phase : int, optional
        Keep one phase's patients of a data cut (both phases by default).
    constructs : sequence of str, optional
        Construct order of a data cut (the protocol's by default).
    **sampling
        ``draws``, ``tune``, ``chains``, ``target_accept``, ``cores``, ``seed``,
        ``gates``, ``progressbar`` (:class:`~dartnk.models.SamplingOptions`; the
        inputs' plan by default: the protocol's settings and gates for a data cut).

    Returns
    -------
    ResponseFit
        ``orr()`` draws, ``estimates()``, ``prob_exceeds()``, ``summary()``, ``plot()``.

    Notes
    -----
    Likelihood: responders r_c ~ Binomial(n_c, p_c) among response-evaluable patients
    (per construct and dose with ``by_dose``). Priors (protocol defaults):
    logit p_c ~ N(mu, tau), mu ~ N(-1.4, 1.5), tau ~ HalfNormal(1); with ``by_dose`` a
    shared log-dose slope beta ~ N(0, 1). ``phase`` and ``constructs`` select patients
    of a data cut; with :class:`~dartnk.models.ResponseInputs` they keep their defaults.
    """
    inputs = resolve_inputs(
        data,
        "response",
        entry="fit_response",
        selection={"phase": phase, "constructs": constructs},
        defaults={"phase": None, "constructs": None},
    )
    if prior is not None:
        inputs = replace(inputs, prior=prior)
    prior = inputs.prior
    if by_dose and prior.dose_slope_sd is None:
        raise ValueError("the ORR model by dose needs prior dose_slope_sd; this prior has none")
    counts = inputs.data
    labels, dose_labels = counts.constructs, counts.dose_labels
    n, y = counts.n, counts.responders
    coords = {"construct": list(labels), "dose": list(dose_labels)}
    if by_dose:
        x = np.log(np.asarray(inputs.doses) / inputs.reference_dose)
        cells = np.argwhere(n > 0)
    else:
        n, y = n.sum(axis=1), y.sum(axis=1)
        cells = np.argwhere(n > 0)
    hierarchy = {
        "name": "logit_orr",
        "mean": prior.logit_mean,
        "cov": prior.logit_sd**2,
        "component": None,
        "constructs": len(labels),
    }
    with pm.Model(coords=coords) as model:
        tau = pm.HalfNormal("tau", prior.tau_scale)
        arm = exchangeable_levels(tau=tau, **hierarchy)
        if by_dose:
            beta = pm.Normal("beta", 0.0, prior.dose_slope_sd)
            eta = arm[:, None] + beta * x[None, :]
            orr = pm.Deterministic("orr", pm.math.sigmoid(eta), dims=("construct", "dose"))
            p_obs = orr[cells[:, 0], cells[:, 1]]
            n_obs, y_obs = n[cells[:, 0], cells[:, 1]], y[cells[:, 0], cells[:, 1]]
        else:
            orr = pm.Deterministic("orr", pm.math.sigmoid(arm), dims="construct")
            p_obs = orr[cells[:, 0]]
            n_obs, y_obs = n[cells[:, 0]], y[cells[:, 0]]
        if cells.size:
            pm.Binomial("responders", n=n_obs, p=pt.as_tensor(p_obs), observed=y_obs)
    gated = ["logit_orr_mean", "tau", "orr", "mu"] + (["beta"] if by_dose else [])
    fit = sample(
        model,
        **inputs.plan.arguments(sampling),
        gated=gated,
        shown=gated,
        name="ORR (hierarchical" + (", log-dose slope)" if by_dose else ")"),
        postprocess=lambda idata, rng: _with_mu(idata, rng, hierarchy),
    )
    return ResponseFit(
        **fit_fields(fit),
        constructs=tuple(labels),
        dose_labels=tuple(dose_labels),
        by_dose=by_dose,
        counts=counts.counts(by_dose=by_dose),
    )
