"""Dose-toxicity in PyMC: the BLRM per construct, exchangeable and EXNEX across constructs.

The model of every construct c is the BLRM of :class:`dartnk.adaptive.BLRM`,

    logit p_cd = log_alpha_c + exp(log_beta_c) log(dose_d / reference_dose),

with a DLT likelihood y log p + (n - y) log(1 - p) for patients with complete follow-up
and log(1 - w p) for a pending patient with TITE weight w = min(1, u / window) (Cheung
and Chappell 2000), the same likelihood as the quadrature engines of
:mod:`dartnk.adaptive`. Four hierarchies of theta_c = (log_alpha_c, log_beta_c):

- ``"single arm"`` and ``"independent"``: theta_c ~ BVN(m, S) for each construct;
- ``"exchangeable"``: theta_c ~ BVN(mu, diag(tau^2)) with mu ~ BVN(m, S) and
  tau_k ~ HalfNormal(tau_scale_k), sampled as the constructs' mean and zero-sum
  deviations with mu drawn from its exact conditional (:mod:`dartnk.models._hierarchy`);
- ``"exnex"`` (Neuenschwander, Wandel, Roychoudhury and Bailey 2016): with prior
  probability ``weight`` theta_c is the exchangeable theta_ex_c = mu + tau z_c
  (mu ~ BVN(m, S), z_c ~ N(0, I), non-centred), and otherwise the non-exchangeable
  theta_nex_c ~ BVN(m, S) of its own. Both are sampled for every construct and the
  likelihood is the mixture
  log(w L(y_c | theta_ex_c) + (1 - w) L(y_c | theta_nex_c)), which marginalises the
  component label; after sampling, each draw's label is drawn from its conditional
  probability ``prob_ex`` (seeded), which gives draws of theta_c and p_cd from the EXNEX
  posterior.

m, S, tau_scale and weight: the :class:`~dartnk.models.BLRMPrior` of the inputs (for the
trial, the protocol's: means (-0.85, 0), standard deviations (2, 1), correlation 0,
tau_scale (0.5, 0.25), weight 0.8).

A construct in strong conflict with the others (say 5 DLTs in 6 patients at a dose the
others tolerate) makes the EXNEX posterior bimodal in that construct's theta_ex_c (near
its prior when it is not exchangeable, far out when it is); NUTS then mixes slowly between
the modes and the diagnostic gates report it (R-hat, bulk ESS of theta_ex and mu): run
longer chains, or read the independent and exchangeable fits beside it.

References
----------
Neuenschwander B, Branson M, Gsponer T (2008). Critical aspects of the Bayesian approach
to phase I cancer trials. Statistics in Medicine 27:2420-2439.

Neuenschwander B, Wandel S, Roychoudhury S, Bailey S (2016). Robust exchangeability
designs for early phase clinical trials with multiple strata. Pharmaceutical Statistics
15:123-134.

Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with
late-onset toxicities. Biometrics 56:1177-1182.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Unpack

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from ._arviz import InferenceData
from ._dlt import DEFAULT_INTERVALS, ToxicityFit, dlt_loglik, dlt_prior_predictive
from ._fit import fit_fields
from ._gather import affine
from ._hierarchy import draw_population_mean, exchangeable_levels
from ._sampling import sample
from ._settings import Gates, SamplingOptions, SamplingPlan, SamplingSettings
from .data import DLTData
from .inputs import ModelInputSource, ToxicityInputs, resolve_inputs
from .priors import BLRMPrior

__all__ = ["HIERARCHIES", "blrm", "fit_toxicity"]

HIERARCHIES = ("independent", "exchangeable", "exnex")
_PARAMS = ("log_alpha", "log_beta")


def _bivariate(name: str, prior: BLRMPrior, dims: tuple[str, ...]) -> pt.TensorVariable:
    """theta = m + L z with z ~ N(0, I): BVN(m, S), non-centred; last dim ``param``."""
    z = pm.Normal(f"z_{name}", 0.0, 1.0, dims=dims)
    return pm.Deterministic(name, affine(prior.mean, prior.cholesky, z), dims=dims)


def _log_rates(
    theta: pt.TensorVariable, log_dose: np.ndarray
) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    eta = theta[:, 0, None] + pt.exp(theta[:, 1, None]) * log_dose
    return -pt.softplus(-eta), -pt.softplus(eta)


def _ptox(theta: np.ndarray, log_dose: np.ndarray) -> np.ndarray:
    eta = theta[..., 0, None] + np.exp(theta[..., 1, None]) * log_dose
    return 1.0 / (1.0 + np.exp(-eta))


def _hierarchy(prior: BLRMPrior, name: str, constructs: int) -> dict:
    return {
        "name": name,
        "mean": prior.mean,
        "cov": prior.covariance,
        "component": "param",
        "constructs": constructs,
    }


def _build(data: DLTData, log_dose: np.ndarray, prior: BLRMPrior, hierarchy: str) -> pm.Model:
    coords = {"construct": list(data.constructs), "dose": list(data.dose_labels), "param": _PARAMS}
    cp = ("construct", "param")
    constructs = len(data.constructs)
    with pm.Model(coords=coords) as model:
        if hierarchy in ("independent", "single arm"):
            theta = _bivariate("theta", prior, cp)
        elif hierarchy == "exchangeable":
            tau = pm.HalfNormal("tau", sigma=np.asarray(prior.tau_scale), dims="param")
            levels = exchangeable_levels(tau=tau, **_hierarchy(prior, "theta", constructs))
            theta = pm.Deterministic("theta", levels, dims=cp)
        else:
            mu = _bivariate("mu", prior, ("param",))
            tau = pm.HalfNormal("tau", sigma=np.asarray(prior.tau_scale), dims="param")
            z = pm.Normal("z_ex", 0.0, 1.0, dims=cp)
            theta = pm.Deterministic("theta_ex", mu + tau * z, dims=cp)
        if hierarchy != "exnex":
            log_p, log_q = _log_rates(theta, log_dose)
            pm.Potential("dlt_loglik", dlt_loglik(log_p, log_q, data).sum())
            pm.Deterministic("ptox", pt.exp(log_p), dims=("construct", "dose"))
            return model
        theta_nex = _bivariate("theta_nex", prior, cp)
        ll_ex = dlt_loglik(*_log_rates(theta, log_dose), data)
        ll_nex = dlt_loglik(*_log_rates(theta_nex, log_dose), data)
        w = prior.weight
        log_ex, log_nex = np.log(w) + ll_ex, np.log1p(-w) + ll_nex
        pm.Potential("dlt_loglik", pt.logaddexp(log_ex, log_nex).sum())
        pm.Deterministic("prob_ex", pt.sigmoid(log_ex - log_nex), dims="construct")
    return model


def _postprocess(data: DLTData, log_dose: np.ndarray, prior: BLRMPrior, hierarchy: str):
    """After sampling: mu (hierarchical models), EXNEX labels, the prior predictive."""
    exnex = _exnex_draws(log_dose, prior.weight, data.dose_labels) if hierarchy == "exnex" else None

    def hierarchical(idata: InferenceData, rng: np.random.Generator) -> InferenceData:
        if hierarchy == "exchangeable":
            spec = _hierarchy(prior, "theta", len(data.constructs))
            draw_population_mean(idata, rng, tau="tau", **spec)
        return exnex(idata, rng) if exnex is not None else idata

    return dlt_prior_predictive(data, hierarchical)


def _exnex_draws(log_dose: np.ndarray, weight: float, dose_labels: Sequence[str]):
    """Post-processing of an EXNEX fit: each draw's component label, theta and p. In the
    prior group ``prob_ex`` is the prior weight (the model's deterministic formula holds
    the likelihood, which has no meaning there)."""

    def draw(idata: InferenceData, rng: np.random.Generator) -> InferenceData:
        for group in ("posterior", "prior"):
            if group not in idata.groups():
                continue
            data = idata[group]
            theta_ex = data["theta_ex"].transpose("chain", "draw", "construct", "param")
            theta_nex = data["theta_nex"].transpose("chain", "draw", "construct", "param")
            shape = theta_ex.shape[:3]
            if group == "posterior":
                prob = data["prob_ex"].transpose("chain", "draw", "construct").to_numpy()
            else:
                prob = np.full(shape, weight)
                data["prob_ex"] = (("chain", "draw", "construct"), prob)
            label = rng.random(shape) < prob
            theta = np.where(label[..., None], theta_ex.to_numpy(), theta_nex.to_numpy())
            dims4 = ("chain", "draw", "construct", "param")
            data["theta"] = (dims4, theta)
            data["ptox"] = xr.DataArray(
                _ptox(theta, log_dose),
                dims=("chain", "draw", "construct", "dose"),
                coords={"dose": list(dose_labels)},
            )
            data["exchangeable"] = (("chain", "draw", "construct"), label.astype(np.int8))
        return idata

    return draw


def _fit_model(
    inputs: ToxicityInputs,
    *,
    hierarchy: str,
    settings: SamplingSettings,
    gates: Gates,
    seed: int | np.random.SeedSequence | None,
    progressbar: bool | None,
    protocol_hash: str | None,
) -> ToxicityFit:
    data, prior = inputs.data, inputs.prior
    prior.require(hierarchy)
    low, high = inputs.intervals
    log_dose = np.log(np.asarray(inputs.doses) / inputs.reference_dose)
    if hierarchy == "exnex" and prior.weight in (0.0, 1.0):
        raise ValueError(
            f"EXNEX weight {prior.weight} leaves one component only: use hierarchical="
            f"{'exchangeable' if prior.weight == 1.0 else 'independent'!r}"
        )
    model = _build(data, log_dose, prior, hierarchy)
    gated = ["theta", "ptox"]
    shown = ["theta"]
    if hierarchy in ("exchangeable", "exnex"):
        gated += ["mu", "tau"]
        shown += ["mu", "tau"]
    if hierarchy == "exnex":
        gated += ["theta_ex", "theta_nex"]
        shown += ["prob_ex"]
    name = f"BLRM ({hierarchy})"
    fit = sample(
        model,
        settings=settings,
        gates=gates,
        seed=seed,
        progressbar=progressbar,
        gated=gated,
        shown=shown,
        name=name,
        protocol_hash=protocol_hash,
        postprocess=_postprocess(data, log_dose, prior, hierarchy),
        attrs={"hierarchy": hierarchy, "intervals": f"[{low:g}, {high:g})"},
    )
    return ToxicityFit(
        **fit_fields(fit),
        constructs=data.constructs,
        dose_labels=data.dose_labels,
        doses=inputs.doses,
        intervals=(low, high),
        counts=data.counts(),
        hierarchy=hierarchy,
    )


def blrm(
    level: Sequence[int] | np.ndarray,
    dlt: Sequence[int] | np.ndarray,
    *,
    doses: Sequence[float],
    reference_dose: float,
    prior_mean: Sequence[float],
    prior_sd: Sequence[float],
    prior_corr: float = 0.0,
    followup: Sequence[float | None] | np.ndarray | None = None,
    window: float | None = None,
    intervals: Sequence[float] = DEFAULT_INTERVALS,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    target_accept: float = 0.9,
    cores: int = 1,
    seed: int | np.random.SeedSequence | None = None,
    gates: Gates | None = None,
    progressbar: bool | None = None,
    labels: Sequence[str] | None = None,
) -> ToxicityFit:
    """The BLRM of one arm by MCMC, from per-patient arrays (no data cut needed).

    The PyMC twin of :meth:`dartnk.adaptive.BLRM.fit`: logit p_d = log_alpha +
    exp(log_beta) log(dose_d / reference_dose), (log_alpha, log_beta) ~ BVN(prior_mean,
    diag(prior_sd) R diag(prior_sd)) with correlation ``prior_corr``; a DLT contributes
    log p, a patient with complete follow-up and no DLT log(1 - p), and, when ``window``
    is set, a pending patient with u days of follow-up log(1 - w p) with
    w = min(1, u / window) (Cheung and Chappell 2000).

    Parameters
    ----------
    level : sequence of int
        0-based dose index per patient.
    dlt : sequence of int
        1 for a DLT, else 0.
    doses : sequence of float
        Dose amounts by 0-based index, increasing, in the unit of ``reference_dose``.
    reference_dose : float
    prior_mean, prior_sd : pair of float
    prior_corr : float, default 0
    followup : sequence of float, optional
        Days of follow-up of patients still inside the DLT window (NaN/None when
        complete); without ``window`` such patients are left out.
    window : float, optional
        DLT window in days (TITE).
    intervals : pair of float, default (0.16, 0.33)
        Underdosing below the first, overdosing from the second.
    draws, tune, chains, target_accept, cores
        NUTS settings (4 chains of 1000 draws after 1000 tuning steps by default).
    seed : int or SeedSequence, optional
    gates : Gates, optional
        R-hat < 1.01, bulk ESS > 400, no divergences by default.
    progressbar : bool, optional
    labels : sequence of str, optional
        Dose labels (``"0"``, ``"1"``, ... by default).

    Returns
    -------
    ToxicityFit
        ``interval_probabilities()`` has the per-dose columns of
        :meth:`dartnk.adaptive.BLRM.fit`: ``prob_under``, ``prob_target``,
        ``prob_over``, ``ptox_mean``, ``ptox_median``; the one construct is ``"arm"``.

    Examples
    --------
    >>> from dartnk.models import blrm
    >>> fit = blrm([1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 0], doses=[5e7, 1e8, 3e8, 1e9, 2e9],
    ...            reference_dose=3e8, prior_mean=(-0.85, 0.0), prior_sd=(2.0, 1.0),
    ...            draws=500, tune=500, seed=1)  # doctest: +SKIP
    >>> fit.interval_probabilities()  # doctest: +SKIP

    References
    ----------
    Neuenschwander B, Branson M, Gsponer T (2008). Statistics in Medicine 27:2420-2439.
    """
    n_doses = len(doses)
    dose_labels = tuple(labels) if labels is not None else tuple(str(i) for i in range(n_doses))
    if len(dose_labels) != n_doses:
        raise ValueError(f"{len(dose_labels)} labels given for {n_doses} doses")
    level_array = np.asarray(level)
    data = DLTData.from_patients(
        np.zeros(level_array.shape, dtype=np.int64),
        level_array,
        np.asarray(dlt),
        followup,
        window=window,
        constructs=("arm",),
        dose_labels=dose_labels,
    )
    inputs = ToxicityInputs(
        data=data,
        prior=BLRMPrior(mean=tuple(prior_mean), sd=tuple(prior_sd), corr=float(prior_corr)),
        doses=tuple(doses),
        reference_dose=reference_dose,
        intervals=tuple(intervals),
        plan=SamplingPlan(
            settings=SamplingSettings(
                chains=chains, draws=draws, tune=tune, target_accept=target_accept, cores=cores
            ),
            gates=gates or Gates(),
        ),
    )
    return _fit_model(
        inputs,
        hierarchy="single arm",
        **inputs.plan.arguments({"seed": seed, "progressbar": progressbar}),
    )


def fit_toxicity(
    data: ToxicityInputs | ModelInputSource,
    hierarchical: str = "exnex",
    *,
    prior: BLRMPrior | None = None,
    phase: int | None = None,
    tite: bool = True,
    constructs: Sequence[str] | None = None,
    intervals: Sequence[float] | None = None,
    **sampling: Unpack[SamplingOptions],
) -> ToxicityFit:
    """Posterior DLT rates of every construct and dose of a data cut by MCMC.

    Parameters
    ----------
    data : ToxicityInputs or ModelInputSource
        The inputs, or a data cut that converts to them (:class:`dartnk.analyses.TrialData`
        from :func:`dartnk.analyses.load_trial`: DLT-evaluable patients with their DLT
        status, pending ones with their follow-up, the protocol's prior, doses, intervals
        and sampling plan).
    hierarchical : {"exnex", "exchangeable", "independent"}, default "exnex"
        How the constructs share information (module docstring).
    prior : BLRMPrior, optional
        Replaces the prior of the inputs (the protocol's for a data cut).
    phase : int, optional
        Keep one phase's patients of a data cut (all DLT-evaluable patients by default).
    tite : bool, default True
        Weigh a data cut's pending patients by min(1, follow-up / window) (the protocol's
        DLT window); False leaves them out.
    constructs : sequence of str, optional
        Construct order of a data cut (the protocol's by default).
    intervals : pair of float, optional
        Replaces the intervals of the inputs (the protocol's BLRM intervals (0.16, 0.33)
        for a data cut).
    **sampling
        ``draws``, ``tune``, ``chains``, ``target_accept``, ``cores``, ``seed``,
        ``gates``, ``progressbar`` (:class:`~dartnk.models.SamplingOptions`; the
        inputs' plan by default: the protocol's settings and gates for a data cut).

    Returns
    -------
    ToxicityFit
        Posterior with dims (chain, draw, construct, dose); ``summary()``,
        ``interval_probabilities()``, ``prob_tox_exceeds()``, ``prob_exchangeable()``
        (EXNEX), ``plot()``, ``diagnostics``, ``passed``.

    Notes
    -----
    Likelihood, per construct c and dose d: y log p + (n - y) log(1 - p) for patients with
    complete follow-up, and log(1 - w p) for each pending patient with TITE weight
    w = min(1, u / 28) (the protocol's DLT window), where
    logit p_cd = log_alpha_c + exp(log_beta_c) log(dose_d / 3e8 cells).
    Priors (protocol defaults): (log_alpha, log_beta) ~ BVN((-0.85, 0), diag(2, 1)^2) for
    an independent construct, the non-exchangeable component and the exchangeable mean
    mu; tau ~ HalfNormal((0.5, 0.25)); prior probability of exchangeability 0.8.
    ``phase``, ``tite`` and ``constructs`` select patients of a data cut; with
    :class:`ToxicityInputs` they keep their defaults. :func:`blrm` fits one arm's arrays.

    Examples
    --------
    >>> from dartnk.analyses import example_data, load_trial
    >>> from dartnk.models import fit_toxicity
    >>> trial = load_trial(example_data())
    >>> fit = fit_toxicity(trial, hierarchical="exnex", seed=1)  # doctest: +SKIP
    >>> fit.interval_probabilities()  # doctest: +SKIP
    """
    if hierarchical not in HIERARCHIES:
        raise ValueError(f"hierarchical = {hierarchical!r}: expected one of {list(HIERARCHIES)}")
    inputs = resolve_inputs(
        data,
        "toxicity",
        entry="fit_toxicity",
        selection={"phase": phase, "tite": tite, "constructs": constructs},
        defaults={"phase": None, "tite": True, "constructs": None},
    )
    if prior is not None:
        inputs = replace(inputs, prior=prior)
    if intervals is not None:
        inputs = replace(inputs, intervals=tuple(intervals))
    return _fit_model(inputs, hierarchy=hierarchical, **inputs.plan.arguments(sampling))
