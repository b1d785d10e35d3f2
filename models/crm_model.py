"""The CRM working model of one arm in PyMC, the twin of :class:`dartnk.adaptive.CRM`.

Empiric (power) model p_d = s_d ^ exp(beta), or one-parameter logistic
logit p_d = a + exp(beta) x_d with x_d = logit(s_d) - a, for a skeleton s and
beta ~ N(0, prior_var) (prior_var = 1.34 by default, Cheung 2011). A DLT contributes
log p, complete follow-up without a DLT log(1 - p), and with a DLT ``window`` a pending
patient with u days of follow-up log(1 - w p), w = min(1, u / window) (Cheung and Chappell
2000): dfcrm's ``crm`` and ``titecrm`` (linear weights).

References
----------
O'Quigley J, Pepe M, Fisher L (1990). Continual reassessment method: a practical design
for phase 1 clinical trials in cancer. Biometrics 46:33-48.

Cheung YK (2011). Dose Finding by the Continual Reassessment Method. Chapman & Hall/CRC.

Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with
late-onset toxicities. Biometrics 56:1177-1182.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Unpack

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from ._dlt import DEFAULT_INTERVALS, ToxicityFit, dlt_loglik, dlt_prior_predictive
from ._fit import fit_fields
from ._sampling import sample
from ._settings import Gates, SamplingOptions, SamplingPlan, SamplingSettings
from .data import DLTData
from .inputs import CRMInputs, ModelInputSource, resolve_inputs

__all__ = ["CRMModelFit", "crm", "fit_crm"]


@dataclass(frozen=True, repr=False, eq=False)
class CRMModelFit(ToxicityFit):
    """Posterior of the CRM working model of one arm.

    Attributes
    ----------
    skeleton : tuple of float
    model : str
        ``"empiric"`` or ``"logistic"``.
    intercept : float
        The logistic model's fixed intercept a.
    """

    skeleton: tuple[float, ...]
    model: str
    intercept: float

    @property
    def beta_mean(self) -> float:
        """Posterior mean of beta (dfcrm's ``estimate``)."""
        return float(self.posterior["beta"].mean())

    @property
    def beta_var(self) -> float:
        """Posterior variance of beta (dfcrm's ``post.var``)."""
        return float(self.posterior["beta"].var())

    def estimates(self) -> pd.DataFrame:
        """Per dose: ``dose`` (label), ``skeleton``, ``ptox_mean`` (posterior mean of the
        DLT rate) and ``ptox_plugin`` (the model at the posterior mean of beta)."""
        beta = self.beta_mean
        s = np.asarray(self.skeleton)
        return pd.DataFrame(
            {
                "dose": list(self.dose_labels),
                "skeleton": s,
                "ptox_mean": self.ptox().mean(dim=("chain", "draw")).to_numpy()[0],
                "ptox_plugin": _rates(np.array([beta]), s, self.model, self.intercept)[0],
            }
        )


def _scaled(skeleton: np.ndarray, model: str, intercept: float) -> np.ndarray:
    if model == "empiric":
        return np.log(skeleton)
    x = np.log(skeleton / (1.0 - skeleton)) - intercept
    if np.any(x >= 0):
        raise ValueError(
            f"intercept {intercept} is too small for the logistic model: logit(skeleton) - "
            f"intercept must be negative at every dose"
        )
    return x


def _rates(beta: np.ndarray, skeleton: np.ndarray, model: str, intercept: float) -> np.ndarray:
    x = _scaled(skeleton, model, intercept)
    slope = np.exp(beta)[..., None]
    if model == "empiric":
        return np.exp(slope * x)
    return 1.0 / (1.0 + np.exp(-(intercept + slope * x)))


def _build(
    data: DLTData, skeleton: np.ndarray, model: str, intercept: float, prior_var: float
) -> pm.Model:
    x = _scaled(skeleton, model, intercept)
    coords = {"construct": list(data.constructs), "dose": list(data.dose_labels)}
    with pm.Model(coords=coords) as m:
        beta = pm.Normal("beta", 0.0, np.sqrt(prior_var))
        slope = pt.exp(beta)
        if model == "empiric":
            log_p = (slope * x)[None, :]
            log_q = pt.log1mexp(log_p)
        else:
            eta = (intercept + slope * x)[None, :]
            log_p, log_q = -pt.softplus(-eta), -pt.softplus(eta)
        pm.Potential("dlt_loglik", dlt_loglik(log_p, log_q, data).sum())
        pm.Deterministic("ptox", pt.exp(log_p), dims=("construct", "dose"))
    return m


def _fit(
    inputs: CRMInputs,
    *,
    settings: SamplingSettings,
    gates: Gates,
    seed: int | np.random.SeedSequence | None,
    progressbar: bool | None,
    protocol_hash: str | None,
) -> CRMModelFit:
    data = inputs.data
    s = np.asarray(inputs.skeleton, dtype=float)
    model, intercept, prior_var = inputs.model, inputs.intercept, inputs.prior_var
    low, high = inputs.intervals
    fit = sample(
        _build(data, s, model, intercept, prior_var),
        settings=settings,
        gates=gates,
        seed=seed,
        progressbar=progressbar,
        gated=["beta", "ptox"],
        shown=["beta", "ptox"],
        name=f"CRM ({model})",
        protocol_hash=protocol_hash,
        postprocess=dlt_prior_predictive(data),
        attrs={"crm_model": model, "intercept": intercept, "prior_var": prior_var},
    )
    return CRMModelFit(
        **fit_fields(fit),
        constructs=data.constructs,
        dose_labels=data.dose_labels,
        doses=inputs.doses if inputs.doses is not None else inputs.skeleton,
        intervals=(low, high),
        counts=data.counts(),
        hierarchy="single arm",
        skeleton=inputs.skeleton,
        model=model,
        intercept=intercept,
    )


def crm(
    level: Sequence[int] | np.ndarray,
    dlt: Sequence[int] | np.ndarray,
    *,
    skeleton: Sequence[float],
    model: str = "empiric",
    intercept: float = 3.0,
    prior_var: float = 1.34,
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
) -> CRMModelFit:
    """The CRM working model of one arm by MCMC, from per-patient arrays.

    The PyMC twin of :meth:`dartnk.adaptive.CRM.fit` (module docstring for the model and
    likelihood). ``level`` holds 0-based doses, ``dlt`` 0/1, ``followup`` days of
    follow-up of patients still inside the DLT window (NaN/None when complete), used only
    when ``window`` is set.

    Returns
    -------
    CRMModelFit
        ``beta_mean``, ``beta_var``, ``estimates()`` (posterior mean and plug-in DLT
        rates), ``interval_probabilities()``, ``prob_tox_exceeds(threshold)``.

    Notes
    -----
    Likelihood: log p_d for a DLT, log(1 - p_d) for complete follow-up without one, and
    log(1 - w p_d) with w = min(1, u / window) for a pending patient (TITE). Model:
    p_d = s_d ^ exp(beta) (empiric) or logit p_d = a + exp(beta) (logit(s_d) - a)
    (logistic, a = 3 by default). Prior: beta ~ N(0, 1.34).

    Examples
    --------
    >>> from dartnk.models import crm
    >>> fit = crm([0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 0], skeleton=[0.05, 0.12, 0.2, 0.3],
    ...           draws=500, tune=500, seed=1)  # doctest: +SKIP
    >>> round(fit.beta_mean, 1)  # doctest: +SKIP
    """
    s = np.asarray(skeleton, dtype=float)
    dose_labels = tuple(labels) if labels is not None else tuple(str(i) for i in range(s.size))
    if len(dose_labels) != s.size:
        raise ValueError(f"{len(dose_labels)} labels given for {s.size} doses")
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
    inputs = CRMInputs(
        data=data,
        skeleton=tuple(s),
        model=model,
        intercept=intercept,
        prior_var=prior_var,
        intervals=tuple(intervals),
        plan=SamplingPlan(
            settings=SamplingSettings(
                chains=chains, draws=draws, tune=tune, target_accept=target_accept, cores=cores
            ),
            gates=gates or Gates(),
        ),
    )
    return _fit(inputs, **inputs.plan.arguments({"seed": seed, "progressbar": progressbar}))


def fit_crm(
    data: CRMInputs | ModelInputSource,
    construct: str | None = None,
    *,
    phase: int | None = 1,
    tite: bool = True,
    **sampling: Unpack[SamplingOptions],
) -> CRMModelFit:
    """The protocol's CRM working model for one arm of a data cut, by MCMC.

    ``data`` is a :class:`~dartnk.models.CRMInputs`, or a data cut
    (:class:`dartnk.analyses.TrialData`) that converts to it for ``construct``: skeleton,
    model, intercept and prior variance from the protocol's ``phase1.crm`` section,
    pending patients with their TITE weights when ``tite`` (the protocol's DLT window),
    Phase 1 patients by default, as the escalation uses. ``construct``, ``phase`` and
    ``tite`` select patients of a data cut; with :class:`~dartnk.models.CRMInputs` they
    keep their defaults. ``**sampling`` takes ``draws``, ``tune``, ``chains``,
    ``target_accept``, ``cores``, ``seed``, ``gates`` and ``progressbar``
    (:class:`~dartnk.models.SamplingOptions`; the inputs' plan by default: the
    protocol's settings and gates for a data cut).
    """
    inputs = resolve_inputs(
        data,
        "crm",
        entry="fit_crm",
        selection={"construct": construct, "phase": phase, "tite": tite},
        defaults={"construct": None, "phase": 1, "tite": True},
    )
    return _fit(inputs, **inputs.plan.arguments(sampling))
