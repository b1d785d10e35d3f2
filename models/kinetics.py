"""CAR-NK expansion and persistence: log10 Cmax and log10 AUC0-28 per construct and dose.

Data, per infused patient whose CAR transgene samples (qPCR, copies per ug of genomic
DNA) reach day 28 at the cut-off:

- Cmax: the largest quantified value on days 0-28 (the AUC window, so that later samples
  do not change it); a patient with no quantified sample there has
  log10 Cmax < log10(LLOQ), the lower limit of quantification: left-censored;
- AUC0-28 of copies by the trapezoid rule, with every below-LLOQ sample between 0 and the
  LLOQ: the AUC lies in [low, high] (:func:`dartnk.analyses.expansion_summary`),
  interval-censored on the log10 scale, left-censored when no sample is quantified
  (low = 0) and exact when no sample is below the LLOQ.

No below-LLOQ value is ever replaced by zero, the LLOQ or a fraction of it.

Model, for endpoint k (Cmax, AUC) and patient i of construct c at dose d:

    y_ik ~ N(a_kc + b_k log(dose_d / reference_dose), sigma_k), censored as above,
    a_kc ~ N(mu_k, tau_k)  (hierarchical normal across constructs),
    mu_k ~ N(m_k, s_k),  b_k ~ N(0, 1),  tau_k ~ HalfNormal(0.5),  sigma_k ~ HalfNormal(1),

with m = (3.0, 4.5) and s = (1.5, 1.5) (the protocol's ``priors.expansion_*``): a prior
median Cmax of 1,000 copies/ug and AUC0-28 of about 30,000 copies x day/ug at the
reference dose. The two endpoints are modelled side by side with independent residuals.
The levels a_kc are sampled as their mean over constructs and zero-sum deviations
(:mod:`dartnk.models._hierarchy`), and mu is drawn from its exact conditional.

References
----------
Beal SL (2001). Ways to fit a PK model with some data below the quantification limit.
Journal of Pharmacokinetics and Pharmacodynamics 28:481-504 (method M3: the likelihood of
a below-LLOQ observation is the probability of being below it).
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

from ._diagnostics import Gates
from ._fit import Fit, fit_fields
from ._hierarchy import draw_population_mean, exchangeable_levels
from ._inputs import SamplingOptions, as_index, construct_labels, protocol_of, run_options
from ._intervals import draw_summary
from ._sampling import sample

__all__ = ["ENDPOINTS", "ExpansionData", "ExpansionFit", "ExpansionPrior", "fit_expansion"]

ENDPOINTS = ("log10_cmax", "log10_auc")
_EXACT_RELATIVE_WIDTH = 1e-9


@dataclass(frozen=True)
class ExpansionPrior:
    """Prior of the expansion model (module docstring); pairs are (Cmax, AUC)."""

    mean: tuple[float, float] = (3.0, 4.5)
    sd: tuple[float, float] = (1.5, 1.5)
    slope_sd: float = 1.0
    tau_scale: float = 0.5
    sigma_scale: float = 1.0

    def __post_init__(self) -> None:
        if len(self.mean) != 2 or not np.all(np.isfinite(self.mean)):
            raise ValueError(f"mean {self.mean} must be two finite numbers (Cmax, AUC)")
        if len(self.sd) != 2 or not all(v > 0 for v in self.sd):
            raise ValueError(f"sd {self.sd} must be two positive numbers (Cmax, AUC)")
        for name in ("slope_sd", "tau_scale", "sigma_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} {getattr(self, name)} must be positive")

    @classmethod
    def from_protocol(cls, protocol: object | None) -> ExpansionPrior:
        """The protocol's ``priors.expansion_*``, else the defaults."""
        priors = getattr(protocol, "priors", None)
        if priors is None:
            return cls()
        return cls(
            mean=tuple(priors.expansion_mean),
            sd=tuple(priors.expansion_sd),
            slope_sd=priors.expansion_slope_sd,
            tau_scale=priors.expansion_tau_scale,
            sigma_scale=priors.expansion_sigma_scale,
        )


@dataclass(frozen=True)
class ExpansionData:
    """Censored log10 endpoints per patient.

    Attributes
    ----------
    construct, dose : ndarray of int, shape (patients,)
        0-based construct and dose positions.
    lower, upper : ndarray, shape (patients, 2)
        Bounds of (log10 Cmax, log10 AUC): equal when observed exactly, ``lower`` = -inf
        when left-censored.
    patient_ids : tuple of str
    """

    construct: np.ndarray
    dose: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    patient_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        k = self.construct.size
        if self.dose.shape != (k,):
            raise ValueError("dose must have one entry per patient")
        if self.lower.shape != (k, 2) or self.upper.shape != (k, 2):
            raise ValueError("lower and upper must have shape (patients, 2)")
        if np.any(~np.isfinite(self.upper)):
            raise ValueError("every upper bound must be finite")
        if np.any(self.lower > self.upper):
            raise ValueError("a lower bound lies above its upper bound")

    @classmethod
    def from_patients(
        cls, patients: pd.DataFrame, labels: Sequence[str], *, lloq: float
    ) -> ExpansionData:
        """From a data cut's per-patient derivations (``window_cmax``,
        ``auc_copies_low``, ``auc_copies_high``): infused patients whose samples reach
        day 28 (the others' window Cmax and AUC are not known yet)."""
        infused = patients["infused"].astype(bool).to_numpy()
        high = patients["auc_copies_high"].astype("float64").to_numpy()
        keep = infused & np.isfinite(high)
        chosen = patients[keep]
        cmax = chosen["window_cmax"].astype("float64").to_numpy()
        low = chosen["auc_copies_low"].astype("float64").to_numpy()
        high = high[keep]
        detected = np.isfinite(cmax)
        log_lloq = np.log10(lloq)
        cmax_upper = np.where(detected, np.log10(np.where(detected, cmax, 1.0)), log_lloq)
        cmax_lower = np.where(detected, cmax_upper, -np.inf)
        with np.errstate(divide="ignore"):
            auc_lower = np.log10(low)
        auc_upper = np.log10(high)
        return cls(
            construct=as_index(chosen["construct"].astype(str).to_numpy(), labels),
            dose=chosen["dose_index"].astype("int64").to_numpy(),
            lower=np.column_stack([cmax_lower, auc_lower]),
            upper=np.column_stack([cmax_upper, auc_upper]),
            patient_ids=tuple(chosen["patient_id"].astype(str)),
        )

    def kinds(self, endpoint: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices of exact, left-censored and interval-censored patients."""
        lower, upper = self.lower[:, endpoint], self.upper[:, endpoint]
        left = ~np.isfinite(lower)
        exact = ~left & (upper - lower <= _EXACT_RELATIVE_WIDTH * np.maximum(1.0, abs(upper)))
        interval = ~left & ~exact
        return np.flatnonzero(exact), np.flatnonzero(left), np.flatnonzero(interval)


@dataclass(frozen=True, repr=False, eq=False)
class ExpansionFit(Fit):
    """Posterior of the expansion model.

    Attributes
    ----------
    constructs, dose_labels : tuple of str
    counts : DataFrame
        Per construct and dose: ``patients`` modelled, ``cmax_censored`` (no quantified
        sample), ``auc_censored`` (interval- or left-censored AUC).
    data : ExpansionData
        The censored endpoints of the patients modelled.
    """

    constructs: tuple[str, ...]
    dose_labels: tuple[str, ...]
    counts: pd.DataFrame
    data: ExpansionData

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

    def plot(self, *, prob: float = 0.9) -> object:
        """Mean log10 Cmax and AUC0-28 by dose per construct with credible bands and the
        patients' values (censored ones drawn at their upper bound, open markers)."""
        from ._plots import expansion_figure

        return expansion_figure(self, prob=prob)


def _censored_normal(
    name: str, mu: pt.TensorVariable, sigma: pt.TensorVariable, data: ExpansionData, k: int
) -> None:
    """The likelihood of endpoint ``k``: exact values by the normal density, left-censored
    ones by the normal CDF at the bound, interval-censored ones by the probability of
    their interval (Beal's M3). The prior predictive draws the censored values as
    censored and the interval-censored ones as their latent value."""
    exact, left, interval = data.kinds(k)
    if exact.size:
        pm.Normal(f"{name}_exact", mu[exact], sigma, observed=data.upper[exact, k])
    if left.size:
        bound = data.upper[left, k]
        pm.Censored(
            f"{name}_censored",
            pm.Normal.dist(mu[left], sigma),
            lower=bound,
            upper=None,
            observed=bound,
        )
    if interval.size:
        lower, upper = data.lower[interval, k], data.upper[interval, k]
        pm.CustomDist(
            f"{name}_interval",
            mu[interval],
            sigma,
            lower,
            upper,
            logp=_interval_logp,
            random=_latent_normal,
            observed=(lower + upper) / 2.0,
        )


def _interval_logp(value, mu, sigma, lower, upper):
    """log P(lower < Y < upper) for Y ~ N(mu, sigma); the observed midpoint is unused."""
    dist = pm.Normal.dist(mu, sigma)
    return pm.math.logdiffexp(pm.logcdf(dist, upper), pm.logcdf(dist, lower))


def _latent_normal(mu, sigma, lower, upper, rng=None, size=None):
    """Prior predictive draws of the latent value behind an interval-censored one."""
    return rng.normal(mu, sigma, size=size)


def _with_mu(idata, rng, hierarchy: dict) -> object:
    draw_population_mean(idata, rng, tau="tau", **hierarchy)
    return idata


def fit_expansion(
    data: object,
    *,
    prior: ExpansionPrior | None = None,
    constructs: Sequence[str] | None = None,
    **sampling: Unpack[SamplingOptions],
) -> ExpansionFit:
    """Posterior expansion (log10 Cmax, log10 AUC0-28) per construct and dose.

    Parameters
    ----------
    data : TrialData
        A data cut: per-patient ``window_cmax``, ``auc_copies_low`` and
        ``auc_copies_high``.
    prior : ExpansionPrior, optional
    constructs : sequence of str, optional
    **sampling
        ``draws``, ``tune``, ``chains``, ``target_accept``, ``cores``, ``seed``,
        ``gates``, ``progressbar`` (:class:`~dartnk.models.SamplingOptions`; the
        protocol's settings and gates by default).

    Returns
    -------
    ExpansionFit
        ``mean_log10()``, ``estimates()``, ``summary()``, ``plot()``.

    Notes
    -----
    Likelihood: y ~ N(a_c + b log(dose / 3e8), sigma) for log10 Cmax and log10 AUC0-28,
    with a patient's value below the LLOQ entering as P(y < log10 LLOQ) and an AUC with
    below-LLOQ samples as P(log10 low < y < log10 high). Priors (protocol defaults):
    a_c ~ N(mu, tau), mu ~ N((3.0, 4.5), (1.5, 1.5)), b ~ N(0, 1), tau ~ HalfNormal(0.5),
    sigma ~ HalfNormal(1).
    """
    protocol = protocol_of(data)
    if protocol is None:
        raise TypeError("fit_expansion needs a data cut (TrialData)")
    labels = construct_labels(
        data.patients["construct"].astype(str), constructs or protocol.construct_ids
    )
    cut = ExpansionData.from_patients(data.patients, labels, lloq=protocol.pk.lloq_copies_per_ug)
    x = np.log(np.asarray(protocol.doses) / protocol.priors.reference_dose)
    return _fit(
        cut,
        labels=labels,
        dose_labels=protocol.dose_labels,
        log_dose=x,
        prior=prior or ExpansionPrior.from_protocol(protocol),
        **run_options(data, sampling),
    )


def _fit(
    cut: ExpansionData,
    *,
    labels: Sequence[str],
    dose_labels: Sequence[str],
    log_dose: np.ndarray,
    prior: ExpansionPrior,
    settings,
    gates: Gates,
    seed,
    progressbar: bool | None,
    protocol_hash: str | None,
) -> ExpansionFit:
    coords = {"endpoint": list(ENDPOINTS), "construct": list(labels), "dose": list(dose_labels)}
    hierarchy = {
        "name": "level",
        "mean": prior.mean,
        "cov": np.diag(np.square(prior.sd)),
        "component": "endpoint",
        "constructs": len(labels),
    }
    with pm.Model(coords=coords) as model:
        slope = pm.Normal("slope", 0.0, prior.slope_sd, dims="endpoint")
        tau = pm.HalfNormal("tau", prior.tau_scale, dims="endpoint")
        sigma = pm.HalfNormal("sigma", prior.sigma_scale, dims="endpoint")
        level = exchangeable_levels(tau=tau, **hierarchy).T
        mean = level[:, :, None] + slope[:, None, None] * log_dose[None, None, :]
        pm.Deterministic("mean_log10", mean, dims=("endpoint", "construct", "dose"))
        for k, name in enumerate(ENDPOINTS):
            _censored_normal(name, mean[k, cut.construct, cut.dose], sigma[k], cut, k)
    fit = sample(
        model,
        settings=settings,
        gates=gates,
        seed=seed,
        progressbar=progressbar,
        gated=["level_mean", "mu", "slope", "tau", "sigma", "mean_log10"],
        shown=["mu", "slope", "tau", "sigma"],
        name="expansion (censored hierarchical normal)",
        protocol_hash=protocol_hash,
        postprocess=lambda idata, rng: _with_mu(idata, rng, hierarchy),
    )
    n_c, n_d = len(labels), len(dose_labels)
    patients = np.zeros((n_c, n_d), dtype=np.int64)
    np.add.at(patients, (cut.construct, cut.dose), 1)
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
            "patients": patients.ravel(),
            "cmax_censored": censored[0].ravel(),
            "auc_censored": censored[1].ravel(),
        }
    )
    return ExpansionFit(
        **fit_fields(fit),
        constructs=tuple(labels),
        dose_labels=tuple(dose_labels),
        counts=counts,
        data=cut,
    )
