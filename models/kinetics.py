"""CAR-NK cell kinetics: log10 Cmax and log10 AUC0-28 per construct and dose.

Kinetics is the in vivo expansion and persistence of the CAR-NK cells, measured by the
CAR transgene in blood (qPCR, copies per ug of genomic DNA). Data, per infused patient
whose samples reach day 28 at the cut-off (:class:`~dartnk.models.KineticsData`, built
for a data cut by :func:`dartnk.analyses.model_inputs.kinetics_data`):

- Cmax: the largest quantified value on days 0-28 (the AUC window, so that later samples
  do not change it); a patient with no quantified sample there has
  log10 Cmax < log10(LLOQ), the lower limit of quantification: left-censored;
- AUC0-28 of copies by the trapezoid rule, with every below-LLOQ sample between 0 and the
  LLOQ: the AUC lies in [low, high] (:func:`dartnk.analyses.kinetics_summary`),
  interval-censored on the log10 scale, left-censored when no sample is quantified
  (low = 0) and exact when no sample is below the LLOQ.

No below-LLOQ value is ever replaced by zero, the LLOQ or a fraction of it.

Model, for endpoint k (Cmax, AUC) and patient i of construct c at dose d:

    y_ik ~ N(a_kc + b_k log(dose_d / reference_dose), sigma_k), censored as above,
    a_kc ~ N(mu_k, tau_k)  (hierarchical normal across constructs),
    mu_k ~ N(m_k, s_k),  b_k ~ N(0, 1),  tau_k ~ HalfNormal(0.5),  sigma_k ~ HalfNormal(1),

with m = (3.0, 4.5) and s = (1.5, 1.5) (the inputs' :class:`~dartnk.models.KineticsPrior`;
for the trial, the protocol's ``priors.kinetics_*``): a prior median Cmax of 1,000
copies/ug and AUC0-28 of about 30,000 copies x day/ug at the reference dose. The two
endpoints are modelled side by side with independent residuals. The levels a_kc are
sampled as their mean over constructs and zero-sum deviations
(:mod:`dartnk.models._hierarchy`), and mu is drawn from its exact conditional.

References
----------
Beal SL (2001). Ways to fit a PK model with some data below the quantification limit.
Journal of Pharmacokinetics and Pharmacodynamics 28:481-504 (method M3: the likelihood of
a below-LLOQ observation is the probability of being below it).
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

from ._arviz import InferenceData
from ._fit import Fit, fit_fields
from ._gather import matrix_cells
from ._hierarchy import draw_population_mean, exchangeable_levels
from ._intervals import draw_summary
from ._sampling import sample
from ._settings import Gates, SamplingOptions, SamplingSettings
from .data import KineticsData
from .inputs import KineticsInputs, ModelInputSource, resolve_inputs
from .priors import KineticsPrior

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ENDPOINTS", "KineticsFit", "fit_kinetics"]

ENDPOINTS = ("log10_cmax", "log10_auc")


@dataclass(frozen=True, repr=False, eq=False)
class KineticsFit(Fit):
    """Posterior of the kinetics model.

    Attributes
    ----------
    constructs, dose_labels : tuple of str
    counts : DataFrame
        Per construct and dose: ``patients`` modelled, ``cmax_censored`` (no quantified
        sample), ``auc_censored`` (interval- or left-censored AUC).
    data : KineticsData
        The censored endpoints of the patients modelled.
    """

    constructs: tuple[str, ...]
    dose_labels: tuple[str, ...]
    counts: pd.DataFrame
    data: KineticsData

    def mean_log10(self) -> xr.DataArray:
        """Draws of the mean log10 endpoint, dims (chain, draw, endpoint, construct, dose)."""
        return self.posterior["mean_log10"]

    def estimates(self, *, prob: float = 0.9) -> pd.DataFrame:
        """Per endpoint, construct and dose: posterior mean, median and central ``prob``
        interval of the mean log10 endpoint (log10 copies/ug for Cmax, log10 copies x
        day/ug for the AUC), with the patients behind it."""
        e, c, d = np.meshgrid(
            range(len(ENDPOINTS)),
            range(len(self.constructs)),
            range(len(self.dose_labels)),
            indexing="ij",
        )
        index = pd.DataFrame(
            {
                "endpoint": [ENDPOINTS[i] for i in e.ravel()],
                "construct": [self.constructs[i] for i in c.ravel()],
                "dose": [self.dose_labels[i] for i in d.ravel()],
            }
        )
        patients = self.counts.set_index(["construct", "dose"])["patients"]
        index["patients"] = [
            patients[(c, d)] for c, d in zip(index["construct"], index["dose"], strict=True)
        ]
        return pd.concat([index, draw_summary(self.mean_log10(), index, prob=prob)], axis=1)

    def plot(self, *, prob: float = 0.9) -> Figure:
        """Posterior mean log10 Cmax and AUC0-28 by dose, one column per construct, with
        credible bands and each patient's value; below-LLOQ values are drawn as open
        markers at their bound (:func:`dartnk.models._plots.kinetics_figure`)."""
        from ._plots import kinetics_figure

        return kinetics_figure(self, prob=prob)


_KINDS = ("exact", "censored", "interval")


def _censored_normal(
    mean: pt.TensorVariable, sigma: pt.TensorVariable, data: KineticsData, n_doses: int
) -> dict[str, np.ndarray]:
    """The likelihood of both endpoints: exact values by the normal density,
    left-censored ones by the normal CDF at the bound, interval-censored ones by the
    probability of their interval (Beal's M3).

    Each kind is one likelihood term over its (patient, endpoint) cells, with the mean of
    the patient's construct and dose for that endpoint and that endpoint's sigma: the
    same likelihood as one term per endpoint and kind, in fewer graph nodes (85 instead
    of 106 for the embedded example's gradient; each node costs the sampler time at
    every gradient). The prior predictive draws the
    censored values as censored and the interval-censored ones as their latent value.
    Returns the endpoint of each cell of every kind's term, for :func:`_by_endpoint`.
    """
    cells = len(data.constructs) * n_doses
    by_endpoint = mean.reshape((len(ENDPOINTS), cells))
    kinds = [data.kinds(k) for k in range(len(ENDPOINTS))]
    endpoints: dict[str, np.ndarray] = {}
    for j, kind in enumerate(_KINDS):
        patients = np.concatenate([found[j] for found in kinds])
        if not patients.size:
            continue
        endpoint = np.repeat(np.arange(len(ENDPOINTS)), [found[j].size for found in kinds])
        endpoints[kind] = endpoint
        cell = data.construct[patients] * n_doses + data.dose[patients]
        mu = matrix_cells(by_endpoint, endpoint, cell, cells)
        lower, upper = data.lower[patients, endpoint], data.upper[patients, endpoint]
        if kind == "exact":
            pm.Normal(kind, mu, sigma[endpoint], observed=upper)
        elif kind == "censored":
            pm.Censored(
                kind, pm.Normal.dist(mu, sigma[endpoint]), lower=upper, upper=None, observed=upper
            )
        else:
            pm.CustomDist(
                kind,
                mu,
                sigma[endpoint],
                lower,
                upper,
                logp=_interval_logp,
                random=_latent_normal,
                observed=(lower + upper) / 2.0,
            )
    return endpoints


def _by_endpoint(idata: InferenceData, endpoints: dict[str, np.ndarray]) -> None:
    """Split each kind's observed and prior predictive values by endpoint, as
    ``<endpoint>_<kind>`` (for example ``log10_auc_interval``), in place."""
    for group in ("observed_data", "prior_predictive"):
        if group not in idata.groups():
            continue
        data = idata[group]
        for kind, endpoint in endpoints.items():
            values = data[kind]
            dim = values.dims[-1]
            for k, name in enumerate(ENDPOINTS):
                cells = np.flatnonzero(endpoint == k)
                if cells.size:
                    part = values.isel({dim: cells}).drop_vars(dim, errors="ignore")
                    data[f"{name}_{kind}"] = part.rename({dim: f"{name}_{kind}_dim_0"})
            data = data.drop_vars([kind, dim], errors="ignore")
        idata[group] = data


def _interval_logp(value, mu, sigma, lower, upper):
    """log P(lower < Y < upper) for Y ~ N(mu, sigma); the observed midpoint is unused."""
    dist = pm.Normal.dist(mu, sigma)
    return pm.math.logdiffexp(pm.logcdf(dist, upper), pm.logcdf(dist, lower))


def _latent_normal(mu, sigma, lower, upper, rng=None, size=None):
    """Prior predictive draws of the latent value behind an interval-censored one."""
    return rng.normal(mu, sigma, size=size)


def _with_mu(idata, rng, hierarchy: dict, endpoints: dict[str, np.ndarray]) -> object:
    draw_population_mean(idata, rng, tau="tau", **hierarchy)
    _by_endpoint(idata, endpoints)
    return idata


def fit_kinetics(
    data: KineticsInputs | ModelInputSource,
    *,
    prior: KineticsPrior | None = None,
    constructs: Sequence[str] | None = None,
    **sampling: Unpack[SamplingOptions],
) -> KineticsFit:
    """Posterior kinetics (log10 Cmax, log10 AUC0-28) per construct and dose.

    Parameters
    ----------
    data : KineticsInputs or ModelInputSource
        The inputs, or a data cut that converts to them
        (:class:`dartnk.analyses.TrialData`: each patient's window Cmax and AUC bounds,
        the protocol's LLOQ, prior, doses and sampling plan).
    prior : KineticsPrior, optional
        Replaces the prior of the inputs (the protocol's for a data cut).
    constructs : sequence of str, optional
        Construct order of a data cut (the protocol's by default).
    **sampling
        ``draws``, ``tune``, ``chains``, ``target_accept``, ``cores``, ``seed``,
        ``gates``, ``progressbar`` (:class:`~dartnk.models.SamplingOptions`; the
        inputs' plan by default: the protocol's settings and gates for a data cut).

    Returns
    -------
    KineticsFit
        ``mean_log10()``, ``estimates()``, ``summary()``, ``plot()``.

    Notes
    -----
    Likelihood: y ~ N(a_c + b log(dose / 3e8), sigma) for log10 Cmax and log10 AUC0-28,
    with a patient's value below the LLOQ entering as P(y < log10 LLOQ) and an AUC with
    below-LLOQ samples as P(log10 low < y < log10 high). Priors (protocol defaults):
    a_c ~ N(mu, tau), mu ~ N((3.0, 4.5), (1.5, 1.5)), b ~ N(0, 1), tau ~ HalfNormal(0.5),
    sigma ~ HalfNormal(1). ``constructs`` selects the constructs of a data cut; with
    :class:`~dartnk.models.KineticsInputs` it keeps its default.
    """
    inputs = resolve_inputs(
        data,
        "kinetics",
        entry="fit_kinetics",
        selection={"constructs": constructs},
        defaults={"constructs": None},
    )
    if prior is not None:
        inputs = replace(inputs, prior=prior)
    return _fit(
        inputs.data,
        log_dose=np.log(np.asarray(inputs.doses) / inputs.reference_dose),
        prior=inputs.prior,
        **inputs.plan.arguments(sampling),
    )


def _hierarchy(prior: KineticsPrior, constructs: int) -> dict:
    return {
        "name": "level",
        "mean": prior.mean,
        "cov": np.diag(np.square(prior.sd)),
        "component": "endpoint",
        "constructs": constructs,
    }


def _model(
    cut: KineticsData, log_dose: np.ndarray, prior: KineticsPrior
) -> tuple[pm.Model, dict[str, np.ndarray]]:
    """The PyMC model of :func:`fit_kinetics` (its Notes), and the endpoint of each cell
    of every likelihood term (:func:`_censored_normal`)."""
    labels, dose_labels = cut.constructs, cut.dose_labels
    coords = {"endpoint": list(ENDPOINTS), "construct": list(labels), "dose": list(dose_labels)}
    with pm.Model(coords=coords) as model:
        slope = pm.Normal("slope", 0.0, prior.slope_sd, dims="endpoint")
        tau = pm.HalfNormal("tau", prior.tau_scale, dims="endpoint")
        sigma = pm.HalfNormal("sigma", prior.sigma_scale, dims="endpoint")
        level = exchangeable_levels(tau=tau, **_hierarchy(prior, len(labels))).T
        mean = level[:, :, None] + slope[:, None, None] * log_dose[None, None, :]
        pm.Deterministic("mean_log10", mean, dims=("endpoint", "construct", "dose"))
        endpoints = _censored_normal(mean, sigma, cut, len(dose_labels))
    return model, endpoints


def _fit(
    cut: KineticsData,
    *,
    log_dose: np.ndarray,
    prior: KineticsPrior,
    settings: SamplingSettings,
    gates: Gates,
    seed: int | np.random.SeedSequence | None,
    progressbar: bool | None,
    protocol_hash: str | None,
) -> KineticsFit:
    labels, dose_labels = cut.constructs, cut.dose_labels
    hierarchy = _hierarchy(prior, len(labels))
    model, endpoints = _model(cut, log_dose, prior)
    fit = sample(
        model,
        settings=settings,
        gates=gates,
        seed=seed,
        progressbar=progressbar,
        gated=["level_mean", "mu", "slope", "tau", "sigma", "mean_log10"],
        shown=["mu", "slope", "tau", "sigma"],
        name="kinetics (censored hierarchical normal)",
        protocol_hash=protocol_hash,
        postprocess=lambda idata, rng: _with_mu(idata, rng, hierarchy, endpoints),
    )
    n_c, n_d = len(labels), len(dose_labels)
    modelled = np.zeros((n_c, n_d), dtype=np.int64)
    np.add.at(modelled, (cut.construct, cut.dose), 1)
    censored = []
    for k in range(len(ENDPOINTS)):
        _, left, interval = cut.kinds(k)
        grid = np.zeros((n_c, n_d), dtype=np.int64)
        rows = np.concatenate([left, interval])
        np.add.at(grid, (cut.construct[rows], cut.dose[rows]), 1)
        censored.append(grid)
    c, d = np.meshgrid(range(n_c), range(n_d), indexing="ij")
    counts = pd.DataFrame(
        {
            "construct": [labels[i] for i in c.ravel()],
            "dose": [dose_labels[j] for j in d.ravel()],
            "patients": modelled.ravel(),
            "cmax_censored": censored[0].ravel(),
            "auc_censored": censored[1].ravel(),
        }
    )
    return KineticsFit(
        **fit_fields(fit),
        constructs=tuple(labels),
        dose_labels=tuple(dose_labels),
        counts=counts,
        data=cut,
    )
