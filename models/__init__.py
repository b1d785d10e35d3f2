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

from ._diagnostics import Diagnostics, Gates
from ._dlt import DLTData, ToxicityFit
from ._fit import Fit
from ._inputs import SamplingOptions
from ._sampling import SamplingSettings, SeedPlan, sample, seed_plan
from .crm_model import CRMModelFit, crm, fit_crm
from .kinetics import ExpansionData, ExpansionFit, ExpansionPrior, fit_expansion
from .manufacturing import (
    ManufacturingFit,
    beta_binomial_posterior,
    fit_manufacturing,
    lot_counts,
)
from .response import ResponseFit, ResponsePrior, fit_response
from .survival import (
    MONTH_DAYS,
    SurvivalData,
    SurvivalFit,
    SurvivalPrior,
    fit_survival,
    kaplan_meier,
)
from .toxicity import HIERARCHIES, BLRMPrior, blrm, fit_toxicity

__all__ = [
    "HIERARCHIES",
    "MONTH_DAYS",
    "BLRMPrior",
    "CRMModelFit",
    "DLTData",
    "Diagnostics",
    "ExpansionData",
    "ExpansionFit",
    "ExpansionPrior",
    "Fit",
    "Gates",
    "ManufacturingFit",
    "ResponseFit",
    "ResponsePrior",
    "SamplingOptions",
    "SamplingSettings",
    "SeedPlan",
    "SurvivalData",
    "SurvivalFit",
    "SurvivalPrior",
    "ToxicityFit",
    "beta_binomial_posterior",
    "blrm",
    "crm",
    "fit_crm",
    "fit_expansion",
    "fit_manufacturing",
    "fit_response",
    "fit_survival",
    "fit_toxicity",
    "kaplan_meier",
    "lot_counts",
    "sample",
    "seed_plan",
]
