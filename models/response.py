"""Objective response rate per construct (and dose), partially pooled across constructs.

Data: response-evaluable patients and confirmed responders (CR or PR confirmed at an
assessment >= 28 days later, RECIST 1.1, from the data cut's derivation), per construct
and, with ``by_dose``, per dose level.

Model (logit scale):

    r_c ~ Binomial(n_c, p_c),  logit p_c = a_c,  a_c ~ N(mu, tau),
    mu ~ N(-1.4, 1.5),  tau ~ HalfNormal(1),

with ``by_dose``, logit p_cd = mu + tau z_c + beta log(dose_d / reference_dose) with a
log-dose slope beta ~ N(0, 1) shared by the constructs. The numbers are the protocol's
``priors.response_*`` defaults; mu ~ N(-1.4, 1.5) puts the prior median ORR at 0.20.
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
from dataclasses import dataclass
from typing import Unpack

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from ._fit import Fit, fit_fields
from ._hierarchy import draw_population_mean, exchangeable_levels
from ._inputs import SamplingOptions, as_index, construct_labels, protocol_of, run_options
from ._intervals import draw_summary, flat_draws
from ._sampling import sample

__all__ = ["ResponseFit", "ResponsePrior", "fit_response"]


@dataclass(frozen=True)
class ResponsePrior:
    """Prior of the hierarchical ORR model (module docstring)."""

    logit_mean: float = -1.4
    logit_sd: float = 1.5
    tau_scale: float = 1.0
    dose_slope_sd: float = 1.0

    def __post_init__(self) -> None:
        if not np.isfinite(self.logit_mean):
            raise ValueError(f"logit_mean {self.logit_mean} must be a finite number")
        for name in ("logit_sd", "tau_scale", "dose_slope_sd"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} {getattr(self, name)} must be positive")

    @classmethod
    def from_protocol(cls, protocol: object | None) -> ResponsePrior:
        """The protocol's ``priors.response_*``, else the defaults."""
        priors = getattr(protocol, "priors", None)
        if priors is None:
            return cls()
        return cls(
            logit_mean=priors.response_logit_mean,
            logit_sd=priors.response_logit_sd,
            tau_scale=priors.response_tau_scale,
            dose_slope_sd=priors.response_dose_slope_sd,
        )


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

    def plot(self, *, prob: float = 0.9) -> object:
        """Posterior ORR per construct: median and central ``prob`` interval, with the
        observed proportions."""
        from ._plots import response_figure

        return response_figure(self, prob=prob)


def _response_counts(
    trial: object, labels: Sequence[str], n_doses: int, phase: int | None
) -> tuple[np.ndarray, np.ndarray]:
    patients = trial.patients
    keep = patients["response_evaluable"].astype(bool).to_numpy()
    if phase is not None:
        keep &= (patients["phase"].astype("int64") == phase).to_numpy()
    chosen = patients[keep]
    c = as_index(chosen["construct"].astype(str).to_numpy(), labels)
    d = chosen["dose_index"].astype("int64").to_numpy()
    r = chosen["responder"].astype(bool).to_numpy().astype(np.int64)
    n = np.zeros((len(labels), n_doses), dtype=np.int64)
    y = np.zeros_like(n)
    np.add.at(n, (c, d), 1)
    np.add.at(y, (c, d), r)
    return n, y


def _with_mu(idata, rng, hierarchy: dict) -> object:
    draw_population_mean(idata, rng, tau="tau", **hierarchy)
    return idata


def fit_response(
    data: object,
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
    data : TrialData
        Response-evaluable patients and confirmed responders at the cut-off.
    by_dose : bool, default False
        Add a shared log-dose slope and report the ORR per construct and dose level.
    prior : ResponsePrior, optional
        The protocol's priors by default.
    phase : int, optional
        Keep one phase's patients (both phases by default).
    constructs : sequence of str, optional
        Construct order (the protocol's by default).
    **sampling
        ``draws``, ``tune``, ``chains``, ``target_accept``, ``cores``, ``seed``,
        ``gates``, ``progressbar`` (:class:`~dartnk.models.SamplingOptions`; the
        protocol's settings and gates by default).

    Returns
    -------
    ResponseFit
        ``orr()`` draws, ``estimates()``, ``prob_exceeds()``, ``summary()``, ``plot()``.

    Notes
    -----
    Likelihood: responders r_c ~ Binomial(n_c, p_c) among response-evaluable patients
    (per construct and dose with ``by_dose``). Priors (protocol defaults):
    logit p_c ~ N(mu, tau), mu ~ N(-1.4, 1.5), tau ~ HalfNormal(1); with ``by_dose`` a
    shared log-dose slope beta ~ N(0, 1).
    """
    protocol = protocol_of(data)
    if protocol is None:
        raise TypeError("fit_response needs a data cut (TrialData)")
    labels = construct_labels(
        data.patients["construct"].astype(str), constructs or protocol.construct_ids
    )
    n_doses = len(protocol.dose_labels)
    n, y = _response_counts(data, labels, n_doses, phase)
    prior = prior or ResponsePrior.from_protocol(protocol)
    coords = {"construct": list(labels), "dose": list(protocol.dose_labels)}
    if by_dose:
        x = np.log(np.asarray(protocol.doses) / protocol.priors.reference_dose)
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
        **run_options(data, sampling),
        gated=gated,
        shown=gated,
        name="ORR (hierarchical" + (", log-dose slope)" if by_dose else ")"),
        postprocess=lambda idata, rng: _with_mu(idata, rng, hierarchy),
    )
    if by_dose:
        grid_c, grid_d = np.meshgrid(range(len(labels)), range(n_doses), indexing="ij")
        counts = pd.DataFrame(
            {
                "construct": [labels[i] for i in grid_c.ravel()],
                "dose": [protocol.dose_labels[j] for j in grid_d.ravel()],
                "n": n.ravel(),
                "responders": y.ravel(),
            }
        )
    else:
        counts = pd.DataFrame({"construct": list(labels), "n": n, "responders": y})
    return ResponseFit(
        **fit_fields(fit),
        constructs=tuple(labels),
        dose_labels=tuple(protocol.dose_labels),
        by_dose=by_dose,
        counts=counts,
    )
