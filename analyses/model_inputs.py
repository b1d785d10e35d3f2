"""The edge between a data cut and the models: trial data and protocol to model inputs.

:mod:`dartnk.models` fits data and prior objects only and never reads a table column or a
protocol field. This module is the one place that does: it turns a data cut's derived
patients and tables (:class:`~dartnk.analyses.TrialData`) into the models' data types,
the protocol's ``priors`` into their prior types, the protocol's ``sampling`` section into
a sampling plan, and puts them together as the inputs bundle of each model.
:meth:`TrialData.model_inputs <dartnk.analyses.TrialData.model_inputs>` calls
:func:`model_inputs`, so ``dartnk.models.fit_toxicity(trial)`` converts the trial once,
here, and fits the bundle.

Every adapter takes a trial data object (``patients``, ``tables``, ``protocol``,
``cutoff``) or a protocol; construct order is the protocol's unless ``constructs`` is
given, and it must cover the constructs in the data. Dose positions are 0-based; the
bundles carry the protocol's dose labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dartnk.models import (
    BetaPrior,
    BLRMPrior,
    CRMInputs,
    DLTData,
    Gates,
    KineticsData,
    KineticsInputs,
    KineticsPrior,
    LotData,
    ManufacturingInputs,
    ResponseData,
    ResponseInputs,
    ResponsePrior,
    SamplingPlan,
    SamplingSettings,
    SurvivalData,
    SurvivalInputs,
    SurvivalPrior,
    ToxicityInputs,
)

from .errors import InputError

if TYPE_CHECKING:
    from .protocol import Protocol
    from .trial import TrialData

__all__ = [
    "SURVIVAL_ENDPOINTS",
    "blrm_prior",
    "crm_inputs",
    "diagnostic_gates",
    "dlt_data",
    "kinetics_data",
    "kinetics_inputs",
    "kinetics_prior",
    "lot_data",
    "manufacturing_inputs",
    "manufacturing_prior",
    "model_inputs",
    "response_data",
    "response_inputs",
    "response_prior",
    "sampling_plan",
    "sampling_settings",
    "survival_data",
    "survival_inputs",
    "survival_prior",
    "toxicity_inputs",
]

SURVIVAL_ENDPOINTS = ("pfs", "os")
_EVALUABLE = ("DLT", "no DLT", "pending")


# --- the protocol: priors and sampling -------------------------------------------------------


def blrm_prior(protocol: Protocol) -> BLRMPrior:
    """The protocol's BLRM prior: ``priors.blrm_mean``, ``blrm_sd``, ``blrm_corr``, with
    the hierarchy across constructs ``exnex_tau_scale`` and ``exnex_weight``.

    The one place the protocol becomes a :class:`~dartnk.models.BLRMPrior`, for the PyMC
    models and the quadrature designs alike (Neuenschwander, Branson and Gsponer 2008,
    Statistics in Medicine 27:2420-2439).

    Examples
    --------
    >>> from dartnk.analyses import default_protocol
    >>> from dartnk.analyses.model_inputs import blrm_prior
    >>> blrm_prior(default_protocol())
    BLRMPrior(mean=(-0.85, 0.0), sd=(2.0, 1.0), corr=0.0, tau_scale=(0.5, 0.25), weight=0.8)
    """
    priors = protocol.priors
    return BLRMPrior(
        mean=tuple(priors.blrm_mean),
        sd=tuple(priors.blrm_sd),
        corr=float(priors.blrm_corr),
        tau_scale=tuple(priors.exnex_tau_scale),
        weight=float(priors.exnex_weight),
    )


def response_prior(protocol: Protocol) -> ResponsePrior:
    """The protocol's ``priors.response_logit_mean``, ``response_logit_sd``,
    ``response_tau_scale`` and ``response_dose_slope_sd``."""
    priors = protocol.priors
    return ResponsePrior(
        logit_mean=priors.response_logit_mean,
        logit_sd=priors.response_logit_sd,
        tau_scale=priors.response_tau_scale,
        dose_slope_sd=priors.response_dose_slope_sd,
    )


def kinetics_prior(protocol: Protocol) -> KineticsPrior:
    """The protocol's ``priors.kinetics_mean``, ``kinetics_sd``, ``kinetics_slope_sd``,
    ``kinetics_tau_scale`` and ``kinetics_sigma_scale``."""
    priors = protocol.priors
    return KineticsPrior(
        mean=tuple(priors.kinetics_mean),
        sd=tuple(priors.kinetics_sd),
        slope_sd=priors.kinetics_slope_sd,
        tau_scale=priors.kinetics_tau_scale,
        sigma_scale=priors.kinetics_sigma_scale,
    )


def manufacturing_prior(protocol: Protocol) -> BetaPrior:
    """The protocol's Beta prior of a lot release probability, ``priors.manufacturing_beta``."""
    a, b = protocol.priors.manufacturing_beta
    return BetaPrior(a, b)


def survival_prior(protocol: Protocol) -> SurvivalPrior:
    """The protocol's ``priors.survival_log_scale`` and ``survival_log_shape``."""
    priors = protocol.priors
    return SurvivalPrior(
        log_scale=tuple(priors.survival_log_scale), log_shape=tuple(priors.survival_log_shape)
    )


def sampling_settings(protocol: Protocol) -> SamplingSettings:
    """The protocol's MCMC settings (``sampling.chains``, ``draws``, ``tune``,
    ``target_accept``, ``retry_target_accept``), one process."""
    sampling = protocol.sampling
    return SamplingSettings(
        chains=sampling.chains,
        draws=sampling.draws,
        tune=sampling.tune,
        target_accept=sampling.target_accept,
        retry_target_accept=tuple(sampling.retry_target_accept),
    )


def diagnostic_gates(protocol: Protocol) -> Gates:
    """The protocol's diagnostic gates (``sampling.max_rhat``, ``min_ess_bulk``,
    ``max_divergences``)."""
    sampling = protocol.sampling
    return Gates(
        max_rhat=sampling.max_rhat,
        min_ess_bulk=sampling.min_ess_bulk,
        max_divergences=sampling.max_divergences,
    )


def sampling_plan(protocol: Protocol) -> SamplingPlan:
    """The protocol's sampling settings and gates, with its content hash for provenance."""
    return SamplingPlan(
        settings=sampling_settings(protocol),
        gates=diagnostic_gates(protocol),
        protocol_hash=protocol.content_hash,
    )


# --- the data cut: model data -----------------------------------------------------------------


def _labels(values: pd.Series, given: Sequence[str] | None, protocol: Protocol) -> tuple[str, ...]:
    """Construct labels: ``given`` (or the protocol's), checked to cover the data."""
    seen = tuple(dict.fromkeys(str(v) for v in values))
    labels = tuple(str(v) for v in (given or protocol.construct_ids))
    missing = sorted(set(seen) - set(labels))
    if missing:
        raise InputError(f"constructs {missing} in the data are not among {list(labels)}")
    return labels


def _positions(values: Sequence[object], labels: Sequence[str]) -> np.ndarray:
    lookup = {label: i for i, label in enumerate(labels)}
    return np.array([lookup[str(v)] for v in values], dtype=np.int64)


def _phase(patients: pd.DataFrame, phase: int | None) -> np.ndarray:
    if phase is None:
        return np.ones(len(patients), dtype=bool)
    return (patients["phase"].astype("int64") == phase).to_numpy()


def _dlt_table(trial: TrialData, *, phase: int | None, tite: bool) -> pd.DataFrame:
    """DLT-evaluable patients (DLT, no DLT, or pending ones when ``tite``): ``construct``,
    ``dose_index``, ``dlt`` and ``followup`` (days while pending, NaN when complete)."""
    patients = trial.patients
    status = patients["dlt_status"].astype(str)
    keep = status.isin(_EVALUABLE if tite else _EVALUABLE[:2]).to_numpy() & _phase(patients, phase)
    chosen = patients[keep]
    pending = (status[keep] == "pending").to_numpy()
    return pd.DataFrame(
        {
            "construct": chosen["construct"].astype(str).to_numpy(),
            "dose_index": chosen["dose_index"].astype("int64").to_numpy(),
            "dlt": (status[keep] == "DLT").astype("int64").to_numpy(),
            "followup": np.where(pending, chosen["followup_days"].astype("float64"), np.nan),
        }
    )


def dlt_data(
    trial: TrialData,
    *,
    phase: int | None = None,
    tite: bool = True,
    constructs: Sequence[str] | None = None,
) -> DLTData:
    """DLT data per construct and dose of a data cut.

    DLT-evaluable patients (``dlt_status`` DLT or no DLT; pending ones too when ``tite``,
    weighed by the TITE weight min(1, ``followup_days`` / DLT window), Cheung and
    Chappell 2000, Biometrics 56:1177-1182); of one ``phase`` when given.
    """
    table = _dlt_table(trial, phase=phase, tite=tite)
    protocol = trial.protocol
    labels = _labels(table["construct"], constructs, protocol)
    return DLTData.from_patients(
        _positions(table["construct"], labels),
        table["dose_index"].to_numpy(),
        table["dlt"].to_numpy(),
        table["followup"].to_numpy() if tite else None,
        window=float(protocol.dlt_window) if tite else None,
        constructs=labels,
        dose_labels=protocol.dose_labels,
    )


def response_data(
    trial: TrialData, *, phase: int | None = None, constructs: Sequence[str] | None = None
) -> ResponseData:
    """Response-evaluable patients (``response_evaluable``) and confirmed responders
    (``responder``: CR or PR confirmed >= 28 days later, RECIST 1.1) per construct and
    dose of a data cut; of one ``phase`` when given."""
    patients = trial.patients
    protocol = trial.protocol
    labels = _labels(patients["construct"].astype(str), constructs, protocol)
    keep = patients["response_evaluable"].astype(bool).to_numpy() & _phase(patients, phase)
    chosen = patients[keep]
    c = _positions(chosen["construct"].astype(str).to_numpy(), labels)
    d = chosen["dose_index"].astype("int64").to_numpy()
    r = chosen["responder"].astype(bool).to_numpy().astype(np.int64)
    n = np.zeros((len(labels), len(protocol.dose_labels)), dtype=np.int64)
    y = np.zeros_like(n)
    np.add.at(n, (c, d), 1)
    np.add.at(y, (c, d), r)
    return ResponseData(constructs=labels, dose_labels=protocol.dose_labels, n=n, responders=y)


def kinetics_data(trial: TrialData, *, constructs: Sequence[str] | None = None) -> KineticsData:
    """Censored log10 Cmax and AUC0-28 of a data cut's infused patients whose samples
    reach the end of the AUC window (the others' are not known yet).

    From the derivations of :func:`~dartnk.analyses.kinetics_summary`: log10 of
    ``window_cmax``, left-censored at log10 of the protocol's LLOQ when no sample is
    quantified; log10 AUC in [log10 ``auc_copies_low``, log10 ``auc_copies_high``]
    (every below-LLOQ sample between 0 and the LLOQ; lower bound -inf when none is
    quantified). No below-LLOQ value is replaced (Beal 2001, J Pharmacokinet
    Pharmacodyn 28:481-504, method M3).
    """
    patients = trial.patients
    protocol = trial.protocol
    labels = _labels(patients["construct"].astype(str), constructs, protocol)
    infused = patients["infused"].astype(bool).to_numpy()
    high = patients["auc_copies_high"].astype("float64").to_numpy()
    keep = infused & np.isfinite(high)
    chosen = patients[keep]
    cmax = chosen["window_cmax"].astype("float64").to_numpy()
    low = chosen["auc_copies_low"].astype("float64").to_numpy()
    high = high[keep]
    detected = np.isfinite(cmax)
    log_lloq = np.log10(protocol.pk.lloq_copies_per_ug)
    cmax_upper = np.where(detected, np.log10(np.where(detected, cmax, 1.0)), log_lloq)
    cmax_lower = np.where(detected, cmax_upper, -np.inf)
    with np.errstate(divide="ignore"):
        auc_lower = np.log10(low)
    auc_upper = np.log10(high)
    return KineticsData(
        constructs=labels,
        dose_labels=protocol.dose_labels,
        construct=_positions(chosen["construct"].astype(str).to_numpy(), labels),
        dose=chosen["dose_index"].astype("int64").to_numpy(),
        lower=np.column_stack([cmax_lower, auc_lower]),
        upper=np.column_stack([cmax_upper, auc_upper]),
        patient_ids=tuple(chosen["patient_id"].astype(str)),
    )


def lot_data(trial: TrialData, *, constructs: Sequence[str] | None = None) -> LotData:
    """Product lots with a known release outcome at the cut-off C, per construct.

    The lots of the patients enrolled by C. A released lot counts once its release day
    is <= C. A failed lot carries no date, so its failure counts once a release could
    have been known: from its patient's enrolment day plus the shortest turnaround
    (release day - enrolment day) among the lots released by C; with no lot released yet,
    failures count at once. Lots still in manufacture by that rule, and lots whose
    outcome is missing, are awaiting. Counting every failure at once would bias early
    estimates downwards: at C = 70 in the example cut, two lots of a patient enrolled on
    day 69 would count as failed while the lot of a patient enrolled the same day,
    released on day 81, would not count at all.
    """
    lots = trial.tables["manufacturing"]
    labels = _labels(lots["construct"].astype(str), constructs, trial.protocol)
    enrolled = trial.patients.set_index(trial.patients["patient_id"].astype(str))["enrolled_day"]
    lots = lots[lots["patient_id"].astype(str).isin(enrolled.index)]
    start = lots["patient_id"].astype(str).map(enrolled).astype("float64").to_numpy()
    outcome = lots["released"].astype("boolean")
    passed = outcome.fillna(False).to_numpy(dtype=bool)
    failed = (~outcome).fillna(False).to_numpy(dtype=bool)
    day = lots["release_study_day"].astype("float64").to_numpy()
    released = passed & (day <= trial.cutoff)
    turnaround = float(np.min(day[released] - start[released])) if released.any() else 0.0
    known = released | (failed & (start + turnaround <= trial.cutoff))
    mine = lots["construct"].astype(str).to_numpy()[None, :] == np.array(labels)[:, None]
    return LotData(
        constructs=labels,
        lots=(mine & known).sum(axis=1),
        released=(mine & released).sum(axis=1),
        awaiting=(mine & ~known).sum(axis=1),
    )


def survival_data(
    trial: TrialData,
    endpoint: str,
    *,
    phase: int | None = None,
    constructs: Sequence[str] | None = None,
) -> SurvivalData:
    """Times of ``endpoint`` ("pfs" or "os") of a data cut's infused patients, known at
    the cut-off.

    A time beyond the cut-off is censored at the patient's follow-up (cut-off study day
    - ``first_infusion_day``); an event after the cut-off is not yet known. A patient
    censored on day 0 is left out (no follow-up); an event on day 0 is placed at half a
    day. Infused patients without a survival record are listed in ``missing``.
    """
    if endpoint not in SURVIVAL_ENDPOINTS:
        raise InputError(f"endpoint = {endpoint!r}: expected one of {list(SURVIVAL_ENDPOINTS)}")
    patients = trial.patients
    labels = _labels(patients["construct"].astype(str), constructs, trial.protocol)
    keep = patients["infused"].astype(bool).to_numpy() & _phase(patients, phase)
    chosen = patients[keep]
    table = trial.tables["survival"].set_index("patient_id")
    ids = chosen["patient_id"].astype(str).to_numpy()
    present = np.isin(ids, table.index.astype(str))
    missing = tuple(ids[~present])
    chosen, ids = chosen[present], ids[present]
    rows = table.loc[ids]
    days = rows[f"{endpoint}_days"].astype("float64").to_numpy()
    event = rows[f"{endpoint}_event"].fillna(False).astype(bool).to_numpy()
    follow = trial.cutoff - chosen["first_infusion_day"].astype("float64").to_numpy()
    known = event & (days <= follow)
    time = np.where(known, days, np.minimum(days, follow))
    time = np.where(known & (time <= 0), 0.5, time)
    usable = np.isfinite(time) & (time > 0)
    return SurvivalData(
        construct=_positions(chosen["construct"].astype(str).to_numpy()[usable], labels),
        time=time[usable],
        event=known[usable],
        patient_ids=tuple(ids[usable]),
        missing=missing,
        constructs=labels,
    )


# --- the inputs of each model -------------------------------------------------------------------


def _intervals(protocol: Protocol) -> tuple[float, float]:
    return (protocol.toxicity.underdose_below, protocol.toxicity.overdose_from)


def toxicity_inputs(
    trial: TrialData,
    *,
    phase: int | None = None,
    tite: bool = True,
    constructs: Sequence[str] | None = None,
) -> ToxicityInputs:
    """Inputs of :func:`dartnk.models.fit_toxicity`: :func:`dlt_data`,
    :func:`blrm_prior`, the protocol's doses, reference dose, BLRM intervals and
    :func:`sampling_plan`."""
    protocol = trial.protocol
    return ToxicityInputs(
        data=dlt_data(trial, phase=phase, tite=tite, constructs=constructs),
        prior=blrm_prior(protocol),
        doses=protocol.doses,
        reference_dose=protocol.priors.reference_dose,
        intervals=_intervals(protocol),
        plan=sampling_plan(protocol),
    )


def crm_inputs(
    trial: TrialData, construct: str, *, phase: int | None = 1, tite: bool = True
) -> CRMInputs:
    """Inputs of :func:`dartnk.models.fit_crm` for one arm: its DLT data (Phase 1 by
    default, as the escalation uses), the protocol's ``phase1.crm`` skeleton, model,
    intercept and prior variance, BLRM intervals, doses and :func:`sampling_plan`."""
    protocol = trial.protocol
    if construct not in protocol.construct_ids:
        raise InputError(f"construct = {construct!r}: expected one of {protocol.construct_ids}")
    table = _dlt_table(trial, phase=phase, tite=tite)
    table = table[table["construct"] == construct]
    settings = protocol.phase1.crm
    arm = DLTData.from_patients(
        np.zeros(len(table), dtype=np.int64),
        table["dose_index"].to_numpy(),
        table["dlt"].to_numpy(),
        table["followup"].to_numpy() if tite else None,
        window=float(protocol.dlt_window) if tite else None,
        constructs=(construct,),
        dose_labels=protocol.dose_labels,
    )
    return CRMInputs(
        data=arm,
        skeleton=tuple(settings.skeleton),
        model=settings.model,
        intercept=settings.intercept,
        prior_var=settings.prior_var,
        intervals=_intervals(protocol),
        doses=protocol.doses,
        plan=sampling_plan(protocol),
    )


def response_inputs(
    trial: TrialData, *, phase: int | None = None, constructs: Sequence[str] | None = None
) -> ResponseInputs:
    """Inputs of :func:`dartnk.models.fit_response`: :func:`response_data`,
    :func:`response_prior`, the protocol's doses and reference dose, :func:`sampling_plan`."""
    protocol = trial.protocol
    return ResponseInputs(
        data=response_data(trial, phase=phase, constructs=constructs),
        prior=response_prior(protocol),
        doses=protocol.doses,
        reference_dose=protocol.priors.reference_dose,
        plan=sampling_plan(protocol),
    )


def kinetics_inputs(trial: TrialData, *, constructs: Sequence[str] | None = None) -> KineticsInputs:
    """Inputs of :func:`dartnk.models.fit_kinetics`: :func:`kinetics_data`,
    :func:`kinetics_prior`, the protocol's doses and reference dose, :func:`sampling_plan`."""
    protocol = trial.protocol
    return KineticsInputs(
        data=kinetics_data(trial, constructs=constructs),
        prior=kinetics_prior(protocol),
        doses=protocol.doses,
        reference_dose=protocol.priors.reference_dose,
        plan=sampling_plan(protocol),
    )


def manufacturing_inputs(
    trial: TrialData, *, constructs: Sequence[str] | None = None
) -> ManufacturingInputs:
    """Inputs of :func:`dartnk.models.fit_manufacturing`: :func:`lot_data`,
    :func:`manufacturing_prior` and :func:`sampling_plan`."""
    protocol = trial.protocol
    return ManufacturingInputs(
        data=lot_data(trial, constructs=constructs),
        prior=manufacturing_prior(protocol),
        plan=sampling_plan(protocol),
    )


def survival_inputs(
    trial: TrialData,
    endpoint: str = "pfs",
    *,
    phase: int | None = None,
    constructs: Sequence[str] | None = None,
) -> SurvivalInputs:
    """Inputs of :func:`dartnk.models.fit_survival`: :func:`survival_data`,
    :func:`survival_prior` and :func:`sampling_plan`."""
    protocol = trial.protocol
    return SurvivalInputs(
        data=survival_data(trial, endpoint, phase=phase, constructs=constructs),
        prior=survival_prior(protocol),
        endpoint=endpoint,
        plan=sampling_plan(protocol),
    )


_ADAPTERS: dict[str, Callable[..., Any]] = {
    "toxicity": toxicity_inputs,
    "crm": crm_inputs,
    "response": response_inputs,
    "kinetics": kinetics_inputs,
    "manufacturing": manufacturing_inputs,
    "survival": survival_inputs,
}


def model_inputs(trial: TrialData, kind: str, /, **options: Any) -> Any:
    """The inputs bundle of the model ``kind`` from a data cut: the conversion behind
    :meth:`TrialData.model_inputs <dartnk.analyses.TrialData.model_inputs>`.

    Parameters
    ----------
    trial : TrialData
    kind : {"toxicity", "crm", "response", "kinetics", "manufacturing", "survival"}
    **options
        The options of the kind's adapter (:func:`toxicity_inputs`, :func:`crm_inputs`,
        :func:`response_inputs`, :func:`kinetics_inputs`, :func:`manufacturing_inputs`,
        :func:`survival_inputs`).

    Examples
    --------
    >>> from dartnk.analyses import example_data, load_trial
    >>> from dartnk.analyses.model_inputs import model_inputs
    >>> inputs = model_inputs(load_trial(example_data()), "toxicity", phase=1)
    >>> inputs.data.constructs, inputs.reference_dose
    (('A', 'B', 'C'), 300000000.0)
    """
    try:
        adapter = _ADAPTERS[kind]
    except KeyError:
        raise ValueError(f"kind = {kind!r}: expected one of {list(_ADAPTERS)}") from None
    return adapter(trial, **options)
