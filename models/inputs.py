"""The inputs of each model: data, prior, model constants and sampling plan in one object.

Every ``fit_*`` entry fits the inputs it is given: its own frozen bundle
(:class:`ToxicityInputs`, :class:`CRMInputs`, :class:`ResponseInputs`,
:class:`KineticsInputs`, :class:`ManufacturingInputs`, :class:`SurvivalInputs`), or any
object with a ``model_inputs(kind, **options)`` method that returns that bundle
(:class:`ModelInputSource`). A data cut, :class:`dartnk.analyses.TrialData`, is such a
source: it converts its derived patients, tables and protocol once, at the edge, with the
adapters of :mod:`dartnk.analyses.model_inputs`, so that no model reads a table column or a
protocol field. The same bundles are built by hand on arrays.

The kinds, their bundles and the options a source takes for each:

- ``"toxicity"``: :class:`ToxicityInputs`; ``phase``, ``tite``, ``constructs``;
- ``"crm"``: :class:`CRMInputs`; ``construct``, ``phase``, ``tite``;
- ``"response"``: :class:`ResponseInputs`; ``phase``, ``constructs``;
- ``"kinetics"``: :class:`KineticsInputs`; ``constructs``;
- ``"manufacturing"``: :class:`ManufacturingInputs`; ``constructs``;
- ``"survival"``: :class:`SurvivalInputs`; ``endpoint``, ``phase``, ``constructs``.

Positions in the data are 0-based; tables and results carry the labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ._settings import SamplingPlan
from .data import DLTData, KineticsData, LotData, ResponseData, SurvivalData
from .priors import BetaPrior, BLRMPrior, KineticsPrior, ResponsePrior, SurvivalPrior

__all__ = [
    "CRM_MODELS",
    "MODEL_KINDS",
    "CRMInputs",
    "KineticsInputs",
    "ManufacturingInputs",
    "ModelInputSource",
    "ModelInputs",
    "ResponseInputs",
    "SurvivalInputs",
    "ToxicityInputs",
    "resolve_inputs",
]

CRM_MODELS = ("empiric", "logistic")


def _doses(doses: Sequence[float], labels: Sequence[str]) -> tuple[float, ...]:
    amounts = np.asarray(doses, dtype=float)
    if amounts.shape != (len(labels),):
        raise ValueError(f"{amounts.size} doses given for {len(labels)} dose labels")
    if np.any(amounts <= 0) or np.any(np.diff(amounts) <= 0):
        raise ValueError(f"doses must be positive and increasing, got {amounts.tolist()}")
    return tuple(float(v) for v in amounts)


def _reference(reference_dose: float) -> float:
    if not reference_dose > 0:
        raise ValueError(f"reference_dose {reference_dose} must be a positive amount")
    return float(reference_dose)


def _intervals(intervals: Sequence[float]) -> tuple[float, float]:
    low, high = (float(v) for v in intervals)
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"intervals ({low}, {high}) must satisfy 0 < low < high < 1")
    return low, high


def _set(instance: object, **values: object) -> None:
    for name, value in values.items():
        object.__setattr__(instance, name, value)


@dataclass(frozen=True)
class ToxicityInputs:
    """Inputs of the BLRM across constructs (:func:`dartnk.models.fit_toxicity`).

    Attributes
    ----------
    data : DLTData
        DLTs per construct and dose, pending patients with their TITE weights.
    prior : BLRMPrior
    doses : tuple of float
        Dose amounts by 0-based index, increasing, in the unit of ``reference_dose``.
    reference_dose : float
        logit p_d = log_alpha + exp(log_beta) log(dose_d / reference_dose).
    intervals : pair of float
        (low, high): underdosing p < low, target low <= p < high, overdosing p >= high.
    plan : SamplingPlan
    """

    data: DLTData
    prior: BLRMPrior
    doses: tuple[float, ...]
    reference_dose: float
    intervals: tuple[float, float]
    plan: SamplingPlan = field(default_factory=SamplingPlan)

    def __post_init__(self) -> None:
        _set(
            self,
            doses=_doses(self.doses, self.data.dose_labels),
            reference_dose=_reference(self.reference_dose),
            intervals=_intervals(self.intervals),
        )


@dataclass(frozen=True)
class CRMInputs:
    """Inputs of the CRM working model of one arm (:func:`dartnk.models.fit_crm`).

    Attributes
    ----------
    data : DLTData
        One construct's DLTs per dose and pending patients.
    skeleton : tuple of float
        Prior guesses of the DLT rate by 0-based dose, increasing inside (0, 1).
    model : {"empiric", "logistic"}
    intercept : float
        The logistic model's fixed intercept a.
    prior_var : float
        beta ~ N(0, prior_var).
    intervals : pair of float
    doses : tuple of float, optional
        Dose amounts, recorded in the result (the skeleton when None).
    plan : SamplingPlan
    """

    data: DLTData
    skeleton: tuple[float, ...]
    model: str
    intercept: float
    prior_var: float
    intervals: tuple[float, float]
    doses: tuple[float, ...] | None = None
    plan: SamplingPlan = field(default_factory=SamplingPlan)

    def __post_init__(self) -> None:
        s = np.asarray(self.skeleton, dtype=float)
        if s.shape != (len(self.data.dose_labels),):
            raise ValueError(f"skeleton has {s.size} values for {len(self.data.dose_labels)} doses")
        if np.any((s <= 0) | (s >= 1)) or np.any(np.diff(s) <= 0):
            raise ValueError(f"skeleton {s.tolist()} must increase strictly inside (0, 1)")
        if self.model not in CRM_MODELS:
            raise ValueError(f"model = {self.model!r}: expected 'empiric' or 'logistic'")
        if not self.prior_var > 0:
            raise ValueError(f"prior_var {self.prior_var} must be positive")
        _set(
            self,
            skeleton=tuple(float(v) for v in s),
            intercept=float(self.intercept),
            prior_var=float(self.prior_var),
            intervals=_intervals(self.intervals),
            doses=None if self.doses is None else _doses(self.doses, self.data.dose_labels),
        )


@dataclass(frozen=True)
class ResponseInputs:
    """Inputs of the hierarchical ORR model (:func:`dartnk.models.fit_response`).

    Attributes
    ----------
    data : ResponseData
    prior : ResponsePrior
    doses : tuple of float
        Dose amounts by 0-based index (for the log-dose slope).
    reference_dose : float
    plan : SamplingPlan
    """

    data: ResponseData
    prior: ResponsePrior
    doses: tuple[float, ...]
    reference_dose: float
    plan: SamplingPlan = field(default_factory=SamplingPlan)

    def __post_init__(self) -> None:
        _set(
            self,
            doses=_doses(self.doses, self.data.dose_labels),
            reference_dose=_reference(self.reference_dose),
        )


@dataclass(frozen=True)
class KineticsInputs:
    """Inputs of the kinetics model (:func:`dartnk.models.fit_kinetics`).

    Attributes
    ----------
    data : KineticsData
        Censored log10 Cmax and AUC0-28 per patient.
    prior : KineticsPrior
    doses : tuple of float
    reference_dose : float
    plan : SamplingPlan
    """

    data: KineticsData
    prior: KineticsPrior
    doses: tuple[float, ...]
    reference_dose: float
    plan: SamplingPlan = field(default_factory=SamplingPlan)

    def __post_init__(self) -> None:
        _set(
            self,
            doses=_doses(self.doses, self.data.dose_labels),
            reference_dose=_reference(self.reference_dose),
        )


@dataclass(frozen=True)
class ManufacturingInputs:
    """Inputs of the lot release model (:func:`dartnk.models.fit_manufacturing`).

    Attributes
    ----------
    data : LotData
    prior : BetaPrior
    plan : SamplingPlan
    """

    data: LotData
    prior: BetaPrior
    plan: SamplingPlan = field(default_factory=SamplingPlan)


@dataclass(frozen=True)
class SurvivalInputs:
    """Inputs of the survival model of one endpoint (:func:`dartnk.models.fit_survival`).

    Attributes
    ----------
    data : SurvivalData
        Right-censored times, with their construct labels (``data.constructs``).
    prior : SurvivalPrior
    endpoint : str
        The endpoint's name, e.g. ``"pfs"`` or ``"os"``.
    plan : SamplingPlan
    """

    data: SurvivalData
    prior: SurvivalPrior
    endpoint: str
    plan: SamplingPlan = field(default_factory=SamplingPlan)

    def __post_init__(self) -> None:
        if self.data.constructs is None:
            raise ValueError("SurvivalInputs needs data.constructs, the labels of the constructs")
        if not self.endpoint:
            raise ValueError("endpoint must name the endpoint, e.g. 'pfs' or 'os'")


ModelInputs = (
    ToxicityInputs
    | CRMInputs
    | ResponseInputs
    | KineticsInputs
    | ManufacturingInputs
    | SurvivalInputs
)

MODEL_KINDS: Mapping[str, type] = {
    "toxicity": ToxicityInputs,
    "crm": CRMInputs,
    "response": ResponseInputs,
    "kinetics": KineticsInputs,
    "manufacturing": ManufacturingInputs,
    "survival": SurvivalInputs,
}


@runtime_checkable
class ModelInputSource(Protocol):
    """Anything that hands each model its inputs, such as a data cut
    (:class:`dartnk.analyses.TrialData`).

    ``model_inputs(kind, **options)`` returns the bundle of :data:`MODEL_KINDS` for
    ``kind`` (module docstring for the options of each kind), with the source's prior,
    model constants and sampling plan.
    """

    def model_inputs(self, kind: str, /, **options: Any) -> ModelInputs:
        """The inputs of the model ``kind``."""
        ...


def resolve_inputs(
    data: object,
    kind: str,
    *,
    entry: str,
    selection: Mapping[str, Any],
    defaults: Mapping[str, Any],
) -> Any:
    """The bundle of ``kind`` from ``data``: the bundle itself, or the conversion of a
    :class:`ModelInputSource` with the ``selection`` options. Selection options pick
    patients of a source; with a bundle they must keep their ``defaults``."""
    expected = MODEL_KINDS[kind]
    if isinstance(data, expected):
        chosen = sorted(
            name
            for name, value in selection.items()
            if (value is not None if defaults[name] is None else value != defaults[name])
        )
        if chosen:
            raise TypeError(
                f"{entry}: {', '.join(chosen)} select the patients of a data cut; the "
                f"{expected.__name__} given holds its data already"
            )
        return data
    convert = getattr(data, "model_inputs", None)
    if not callable(convert):
        raise TypeError(
            f"{entry} takes {expected.__name__} or a data cut with a model_inputs(kind, "
            f"**options) method (such as dartnk.analyses.TrialData), not "
            f"{type(data).__name__}"
        )
    inputs = convert(kind, **selection)
    if not isinstance(inputs, expected):
        raise TypeError(
            f"model_inputs({kind!r}) of {type(data).__name__} returned "
            f"{type(inputs).__name__}, expected {expected.__name__}"
        )
    return inputs
