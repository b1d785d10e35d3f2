"""Statistical models: posteriors of a data cut in PyMC, summarised with ArviZ.

Every model fits the data and prior objects it is given: a frozen inputs bundle per model
(:class:`ToxicityInputs`, :class:`CRMInputs`, :class:`ResponseInputs`,
:class:`KineticsInputs`, :class:`ManufacturingInputs`, :class:`SurvivalInputs`) holding
its data (:class:`DLTData`, :class:`ResponseData`, :class:`KineticsData`, :class:`LotData`,
:class:`SurvivalData`), its prior (:class:`BLRMPrior`, :class:`ResponsePrior`,
:class:`KineticsPrior`, :class:`BetaPrior`, :class:`SurvivalPrior`), its constants and
its :class:`SamplingPlan`. A ``fit_*`` entry also takes a data cut
(:class:`dartnk.analyses.TrialData`), which converts itself once through its
``model_inputs`` method (:class:`ModelInputSource`); no model reads a table or a protocol.

Every model is sampled by one entry point, :func:`sample` (NUTS, seeds spawned per chain
from one :class:`numpy.random.SeedSequence`, diagnostics against the plan's gates), and
returns a result with ``summary()``, ``plot()``, ``diagnostics`` and ``passed``, whose
``idata`` is an ArviZ ``InferenceData`` with named dims (``construct``, ``dose``,
``chain``, ``draw``) and provenance in every group's ``attrs``.

- dose-toxicity: :func:`fit_toxicity` (BLRM per construct, exchangeable or EXNEX, with
  pending patients through the TITE likelihood, :func:`tite_weight`), :func:`blrm` on
  arrays, and the CRM working model :func:`fit_crm` / :func:`crm`;
- response: :func:`fit_response` (ORR per construct, partially pooled);
- kinetics (in vivo expansion and persistence of the CAR-NK cells): :func:`fit_kinetics`
  (log10 Cmax and AUC0-28, censored below the LLOQ; ``fit_expansion`` is its former name);
- manufacturability: :func:`fit_manufacturing` (beta-binomial, closed form and MCMC);
- survival: :func:`fit_survival` (Weibull or exponential, PFS or OS) and
  :func:`kaplan_meier`.

The quadrature engines of :mod:`dartnk.adaptive` compute the BLRM and CRM posteriors
exactly; the tests hold these models to them within Monte Carlo error. Names load on first
use: the priors, data types, inputs and :func:`tite_weight` import without PyMC.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "beta_binomial_posterior": ".manufacturing",
    "BetaPrior": ".priors",
    "blrm": ".toxicity",
    "BLRMPrior": ".priors",
    "crm": ".crm_model",
    "CRMInputs": ".inputs",
    "CRMModelFit": ".crm_model",
    "Diagnostics": "._diagnostics",
    "DLTData": ".data",
    "Fit": "._fit",
    "fit_crm": ".crm_model",
    "fit_kinetics": ".kinetics",
    "fit_manufacturing": ".manufacturing",
    "fit_response": ".response",
    "fit_survival": ".survival",
    "fit_toxicity": ".toxicity",
    "Gates": "._settings",
    "HIERARCHIES": ".toxicity",
    "kaplan_meier": ".survival",
    "KineticsData": ".data",
    "KineticsFit": ".kinetics",
    "KineticsInputs": ".inputs",
    "KineticsPrior": ".priors",
    "LotData": ".data",
    "ManufacturingFit": ".manufacturing",
    "ManufacturingInputs": ".inputs",
    "MODEL_KINDS": ".inputs",
    "ModelInputs": ".inputs",
    "ModelInputSource": ".inputs",
    "MONTH_DAYS": ".survival",
    "ResponseData": ".data",
    "ResponseFit": ".response",
    "ResponseInputs": ".inputs",
    "ResponsePrior": ".priors",
    "sample": "._sampling",
    "SamplingOptions": "._settings",
    "SamplingPlan": "._settings",
    "SamplingSettings": "._settings",
    "seed_plan": "._sampling",
    "SeedPlan": "._sampling",
    "SurvivalData": ".data",
    "SurvivalFit": ".survival",
    "SurvivalInputs": ".inputs",
    "SurvivalPrior": ".priors",
    "tite_weight": ".tite",
    "ToxicityFit": "._dlt",
    "ToxicityInputs": ".inputs",
}

_FORMER_NAMES: dict[str, str] = {
    "ExpansionData": "KineticsData",
    "ExpansionFit": "KineticsFit",
    "ExpansionPrior": "KineticsPrior",
    "fit_expansion": "fit_kinetics",
}

__all__ = sorted([*_EXPORTS, *_FORMER_NAMES])


def __getattr__(name: str) -> Any:
    """Import a public name on first use: PyMC loads only when a model is fitted, so the
    designs and the command line start without it."""
    current = _FORMER_NAMES.get(name, name)
    try:
        module = _EXPORTS[current]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), current)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
