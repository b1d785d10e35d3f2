"""Statistical models: posteriors of a data cut in PyMC, summarised with ArviZ.

Every model is sampled by one entry point, :func:`sample` (NUTS, seeds spawned per chain
from one :class:`numpy.random.SeedSequence`, diagnostics against the protocol's gates),
and returns a result with ``summary()``, ``plot()``, ``diagnostics`` and ``passed``, whose
``idata`` is an ArviZ ``InferenceData`` with named dims (``construct``, ``dose``,
``chain``, ``draw``) and provenance in every group's ``attrs``.

- dose-toxicity: :func:`fit_toxicity` (BLRM per construct, exchangeable or EXNEX, with
  pending patients through the TITE likelihood), :func:`blrm` on arrays, and the CRM
  working model :func:`fit_crm` / :func:`crm`;
- response: :func:`fit_response` (ORR per construct, partially pooled);
- expansion and persistence: :func:`fit_expansion` (log10 Cmax and AUC0-28, censored
  below the LLOQ);
- manufacturability: :func:`fit_manufacturing` (beta-binomial, closed form and MCMC);
- survival: :func:`fit_survival` (Weibull or exponential, PFS or OS) and
  :func:`kaplan_meier`.

The quadrature engines of :mod:`dartnk.adaptive` compute the BLRM and CRM posteriors
exactly; the tests hold these models to them within Monte Carlo error.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "beta_binomial_posterior": ".manufacturing",
    "blrm": ".toxicity",
    "BLRMPrior": ".toxicity",
    "crm": ".crm_model",
    "CRMModelFit": ".crm_model",
    "Diagnostics": "._diagnostics",
    "DLTData": "._dlt",
    "ExpansionData": ".kinetics",
    "ExpansionFit": ".kinetics",
    "ExpansionPrior": ".kinetics",
    "Fit": "._fit",
    "fit_crm": ".crm_model",
    "fit_expansion": ".kinetics",
    "fit_manufacturing": ".manufacturing",
    "fit_response": ".response",
    "fit_survival": ".survival",
    "fit_toxicity": ".toxicity",
    "Gates": "._diagnostics",
    "HIERARCHIES": ".toxicity",
    "kaplan_meier": ".survival",
    "lot_counts": ".manufacturing",
    "ManufacturingFit": ".manufacturing",
    "MONTH_DAYS": ".survival",
    "ResponseFit": ".response",
    "ResponsePrior": ".response",
    "sample": "._sampling",
    "SamplingOptions": "._inputs",
    "SamplingSettings": "._sampling",
    "seed_plan": "._sampling",
    "SeedPlan": "._sampling",
    "SurvivalData": ".survival",
    "SurvivalFit": ".survival",
    "SurvivalPrior": ".survival",
    "tite_weight": ".tite",
    "ToxicityFit": "._dlt",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import a public name on first use: PyMC loads only when a model is fitted, so the
    designs and the command line start without it."""
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
