"""Per-patient derivations at a data cut-off: DLT status, best response, kinetics, lots.

Everything is computed from what was known on the cut-off *study day* ``C``: a patient
enrolled after ``C`` is not in the trial yet, a first infusion after ``C`` has not happened,
and an event, sample or assessment on day ``d`` from the first infusion is known only when
``first_infusion_day + d <= C``.

Decisions where the contract leaves room
----------------------------------------
- The default cut-off (:func:`default_cutoff`) is the latest study day recorded in any table:
  enrolment, first infusion, lot release, and every given infusion, adverse event onset,
  PK sample, assessment, off-study day and survival time (converted to study days through
  the patient's first infusion).
- A patient enrolled at a dose and awaiting the first infusion (not infused by the cut-off
  and not off study for a manufacturing failure) is DLT-pending with
  follow-up 0 and TITE weight 0: the dose is taken, and the escalation waits for the
  patient's outcome. A patient never infused because manufacturing failed has DLT status
  ``"not evaluable"`` and no TITE weight (NaN), and is replaced.
- A patient's response is known (``response_evaluable``) when infused and a confirmed
  responder, or a non-responder: progressed, off study, or followed for the protocol's
  ``assessments.response_window_days`` (126, three assessments) without a confirmed
  response and with none awaiting confirmation. A patient still on study before then is
  pending and left out of the ORR denominator: a responder's PR may follow SD at the
  first assessment, so counting such a patient as a non-responder would bias the ORR and
  the futility looks down.
- The AUC runs over [0, ``auc_end_day``]. When the first sample used is after day 0 (the
  ``exclude`` policy drops a below-LLOQ day-0 sample) the curve starts at that sample; it
  is NaN when no sample used lies before ``auc_end_day`` or none reaches it.
- ``released`` is missing (not False) for a patient with no lot recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dartnk.models.tite import tite_weight

from .protocol import PK, Assessments, Protocol

__all__ = [
    "DLT_STATUSES",
    "RESPONSE_STATUSES",
    "BestResponse",
    "Expansion",
    "Kinetics",
    "best_overall_response",
    "default_cutoff",
    "derive_patients",
    "expansion_summary",
    "kinetics_summary",
]

DLT_STATUSES: tuple[str, ...] = ("DLT", "no DLT", "pending", "not evaluable")
_RESPONDING = ("CR", "PR")
_DISEASE_CONTROL = ("CR", "PR", "SD")


def _float(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()


def default_cutoff(tables: dict[str, pd.DataFrame]) -> int:
    """The latest study day recorded in any table (0 when there are no patients).

    Days counted from a patient's first infusion are turned into study days by adding the
    patient's ``first_infusion_day``; infusions count only when given.
    """
    patients = tables["patients"]
    first = dict(zip(patients["patient_id"], _float(patients["first_infusion_day"]), strict=True))
    days = [
        _float(patients["enrolled_day"]),
        _float(patients["first_infusion_day"]),
        _float(patients["first_infusion_day"]) + _float(patients["off_study_day"]),
        _float(tables["manufacturing"]["release_study_day"]),
    ]
    relative = [
        ("infusions", "day"),
        ("adverse_events", "onset_day"),
        ("pk", "day"),
        ("responses", "day"),
        ("survival", "os_days"),
        ("survival", "pfs_days"),
    ]
    for table, column in relative:
        frame = tables[table]
        if table == "infusions":
            frame = frame[frame["given"].fillna(False).astype(bool)]
        base = frame["patient_id"].map(first).astype("float64").to_numpy()
        days.append(base + _float(frame[column]))
    values = np.concatenate(days) if days else np.array([])
    values = values[np.isfinite(values)]
    return int(values.max()) if values.size else 0


@dataclass(frozen=True)
class BestResponse:
    """Best overall response of one patient and whether a CR/PR awaits confirmation."""

    best: str
    awaiting_confirmation: bool


def best_overall_response(
    days: np.ndarray | list[int],
    responses: np.ndarray | list[str],
    *,
    confirmation_days: int = Assessments().confirmation_days,
    sd_min_days: int = Assessments().sd_min_days,
    on_study: bool = True,
) -> BestResponse:
    """Best overall response by RECIST 1.1 with confirmation of CR and PR.

    Only assessments before the first PD count towards CR, PR and SD:

    - CR if a CR is followed by a CR at least ``confirmation_days`` later;
    - else PR if a PR or CR is followed by a PR or CR at least ``confirmation_days`` later
      (so CR then PR gives PR);
    - else SD if any SD, PR or CR was recorded on day ``sd_min_days`` or later;
    - else PD if a PD was recorded;
    - else NE.

    Parameters
    ----------
    days, responses : array-like
        The patient's assessments known at the cut-off (days from first infusion; codes
        CR, PR, SD, PD, NE), in any order.
    confirmation_days, sd_min_days : int
        Protocol ``assessments`` settings (defaults 28 and 35).
    on_study : bool
        Whether the patient is still on study at the cut-off.

    Returns
    -------
    BestResponse
        ``best`` and ``awaiting_confirmation``: True when no PD was recorded, the patient
        is on study, and a CR or PR that would raise the best response has no later
        assessment ``confirmation_days`` or more after it yet.

    Notes
    -----
    An unconfirmed PR or CR counts as SD when it was assessed on day ``sd_min_days`` or
    later, as in RECIST 1.1 for non-randomised trials where response is the endpoint.

    References
    ----------
    Eisenhauer EA, Therasse P, Bogaerts J, et al. New response evaluation criteria in solid
    tumours: revised RECIST guideline (version 1.1). Eur J Cancer 2009; 45:228-247.

    Examples
    --------
    >>> from dartnk.analyses import best_overall_response
    >>> best_overall_response([42, 70], ["PR", "PR"])
    BestResponse(best='PR', awaiting_confirmation=False)
    >>> best_overall_response([42, 63], ["PR", "PR"])
    BestResponse(best='SD', awaiting_confirmation=True)
    """
    day = np.asarray(days, dtype=float)
    code = np.asarray(responses, dtype=object)
    order = np.argsort(day, kind="stable")
    day, code = day[order], code[order]
    progressed = code == "PD"
    first_pd = day[progressed].min() if progressed.any() else np.inf
    before = day < first_pd
    d, c = day[before], code[before]
    gap = d[None, :] - d[:, None]

    def confirmed(first: tuple[str, ...], second: tuple[str, ...]) -> bool:
        pairs = np.isin(c, first)[:, None] & np.isin(c, second)[None, :]
        return bool((pairs & (gap >= confirmation_days)).any())

    if confirmed(("CR",), ("CR",)):
        best = "CR"
    elif confirmed(_RESPONDING, _RESPONDING):
        best = "PR"
    elif (np.isin(c, _DISEASE_CONTROL) & (d >= sd_min_days)).any():
        best = "SD"
    elif progressed.any():
        best = "PD"
    else:
        best = "NE"
    upgrade = {"CR": (), "PR": ("CR",)}.get(best, _RESPONDING)
    open_ = ~(gap >= confirmation_days).any(axis=1)
    awaiting = bool(on_study and not progressed.any() and (np.isin(c, upgrade) & open_).any())
    return BestResponse(best=best, awaiting_confirmation=awaiting)


@dataclass(frozen=True)
class Kinetics:
    """CAR-NK cell kinetics (in vivo expansion and persistence) of one patient (NaN where
    undefined)."""

    cmax: float
    tmax: float
    auc: float
    n_blq_used: int
    last_detectable_day: float
    auc_copies_low: float = float("nan")
    auc_copies_high: float = float("nan")
    window_cmax: float = float("nan")


def kinetics_summary(
    days: np.ndarray | list[int],
    copies: np.ndarray | list[float],
    below_lloq: np.ndarray | list[bool],
    *,
    lloq: float = PK().lloq_copies_per_ug,
    auc_end_day: int = PK().auc_end_day,
    blq_policy: str = PK().blq_policy,
) -> Kinetics:
    """Cmax, Tmax, AUC0-``auc_end_day`` of log10 copies, BLQ samples used, last detectable day.

    Parameters
    ----------
    days, copies, below_lloq : array-like
        The patient's samples known at the cut-off: day from first infusion, copies per
        microgram of genomic DNA (NaN allowed when below the LLOQ), below-LLOQ flag.
    lloq : float
        Lower limit of quantification (copies per ug).
    auc_end_day : int
        End of the AUC interval (days from first infusion).
    blq_policy : {"half_lloq", "lloq", "exclude"}
        Below-LLOQ samples enter the AUC at log10(LLOQ / 2), at log10(LLOQ), or not at all.

    Returns
    -------
    Kinetics
        ``cmax``: largest quantified copies (NaN if none); ``tmax``: its first day;
        ``auc``: trapezoid rule on log10 copies over [0, ``auc_end_day``] with linear
        interpolation at ``auc_end_day`` between the samples around it (NaN when the
        samples used do not reach ``auc_end_day``); ``n_blq_used``: below-LLOQ samples
        that entered the AUC (0 when the AUC is NaN); ``last_detectable_day``: last day
        with a quantified sample (NaN if none); ``auc_copies_low`` and
        ``auc_copies_high``: bounds on the AUC0-``auc_end_day`` of copies (linear scale,
        copies x day per ug) by the trapezoid rule over every sample, with each
        below-LLOQ sample at 0 and at the LLOQ: the true AUC lies between them, so a
        model can treat it as interval-censored (left-censored when no sample is
        quantified) instead of substituting a value; NaN where ``auc`` is NaN for lack
        of samples reaching ``auc_end_day``; ``window_cmax``: largest quantified value
        among the samples on [0, ``auc_end_day``] (NaN if none), the Cmax of the AUC
        window, which later samples cannot change.

    Examples
    --------
    >>> import numpy as np
    >>> from dartnk.analyses import kinetics_summary
    >>> e = kinetics_summary([0, 14, 28], [np.nan, 1000.0, 100.0], [True, False, False])
    >>> e.cmax, e.tmax, e.n_blq_used
    (1000.0, 14.0, 1)
    >>> e.auc_copies_low, e.auc_copies_high
    (14700.0, 15050.0)
    """
    day = np.asarray(days, dtype=float)
    value = np.asarray(copies, dtype=float)
    blq = np.asarray(below_lloq, dtype=bool)
    order = np.argsort(day, kind="stable")
    day, value, blq = day[order], value[order], blq[order]
    quantified = ~blq
    if quantified.any():
        peak = int(np.argmax(np.where(quantified, value, -np.inf)))
        cmax, tmax = float(value[peak]), float(day[peak])
        last = float(day[quantified].max())
    else:
        cmax = tmax = last = float("nan")
    levels = {"half_lloq": np.log10(lloq / 2), "lloq": np.log10(lloq)}
    if blq_policy not in (*levels, "exclude"):
        raise ValueError(f"blq_policy {blq_policy!r} is not one of half_lloq, lloq, exclude")
    used = quantified if blq_policy == "exclude" else np.ones_like(blq)
    t = day[used]
    y = np.where(blq, levels.get(blq_policy, np.nan), np.log10(np.where(blq, 1.0, value)))[used]
    low, high = (
        _trapezoid_to(day, np.where(blq, level, value), auc_end_day) for level in (0.0, lloq)
    )
    in_window = quantified & (day <= auc_end_day)
    window_cmax = float(value[in_window].max()) if in_window.any() else float("nan")
    blq_used = blq[used]
    if t.size == 0 or t[0] >= auc_end_day or t[-1] < auc_end_day:
        return Kinetics(cmax, tmax, float("nan"), 0, last, low, high, window_cmax)
    k = int(np.searchsorted(t, auc_end_day, side="left"))
    n_blq = int(blq_used[: k + 1].sum())
    t_seg, y_seg = t[: k + 1].copy(), y[: k + 1].copy()
    if t[k] > auc_end_day:
        y_seg[-1] = np.interp(auc_end_day, t[k - 1 : k + 1], y[k - 1 : k + 1])
        t_seg[-1] = auc_end_day
    auc = float(np.trapezoid(y_seg, t_seg))
    return Kinetics(cmax, tmax, auc, n_blq, last, low, high, window_cmax)


Expansion = Kinetics
expansion_summary = kinetics_summary


def _trapezoid_to(t: np.ndarray, y: np.ndarray, end: float) -> float:
    """Trapezoid rule over [t[0], end], interpolating linearly at ``end``; NaN when the
    samples do not span it."""
    if t.size == 0 or t[0] >= end or t[-1] < end:
        return float("nan")
    k = int(np.searchsorted(t, end, side="left"))
    t_seg, y_seg = t[: k + 1].copy(), y[: k + 1].copy()
    if t[k] > end:
        y_seg[-1] = np.interp(end, t[k - 1 : k + 1], y[k - 1 : k + 1])
        t_seg[-1] = end
    return float(np.trapezoid(y_seg, t_seg))


def _known(frame: pd.DataFrame, patients: pd.DataFrame, column: str = "day") -> pd.DataFrame:
    horizon = frame["patient_id"].map(patients.set_index("patient_id")["horizon"])
    return frame[frame[column].astype("float64") <= horizon.astype("float64")]


def _dlt_columns(patients: pd.DataFrame, events: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    window = protocol.dlt_window
    known = _known(events, patients, "onset_day")
    onset_day = known["onset_day"].astype("float64")
    in_window = known["is_dlt"].fillna(False).astype(bool) & onset_day.between(0, window)
    onset = onset_day[in_window].groupby(known["patient_id"][in_window]).min()
    dlt_day = patients["patient_id"].map(onset).to_numpy(dtype=float)
    followup = patients["followup_days"].to_numpy()
    infused = patients["infused"].to_numpy()
    off = patients["off_study"].to_numpy()
    awaiting = patients["awaiting_infusion"].to_numpy()
    status = np.select(
        [awaiting, ~infused, np.isfinite(dlt_day), followup >= window, off],
        ["pending", "not evaluable", "DLT", "no DLT", "not evaluable"],
        default="pending",
    )
    with np.errstate(invalid="ignore"):
        pending_weight = tite_weight(np.where(status == "pending", followup, 0.0), window)
    weight = np.select(
        [status == "pending", np.isin(status, ("DLT", "no DLT"))],
        [pending_weight, 1.0],
        default=np.nan,
    )
    return pd.DataFrame(
        {"dlt_status": status, "dlt_onset_day": dlt_day, "tite_weight": weight},
        index=patients.index,
    )


RESPONSE_STATUSES: tuple[str, ...] = ("responder", "non-responder", "pending", "not evaluable")


def response_status(
    days: np.ndarray | list[float],
    codes: np.ndarray | list[str],
    *,
    followed: float,
    off_study: bool,
    settings: Assessments,
) -> tuple[str, BestResponse]:
    """A patient's response status from the assessments known so far.

    "responder": a confirmed CR or PR (RECIST 1.1, :func:`best_overall_response`);
    "non-responder": progressed, off study, or ``followed`` (days since the first
    infusion) reaching ``settings.response_window_days`` with no response awaiting
    confirmation; "pending" otherwise. The caller says "not evaluable" for a patient never
    infused.
    """
    codes = np.asarray(codes, dtype=object)
    result = best_overall_response(
        days,
        codes,
        confirmation_days=settings.confirmation_days,
        sd_min_days=settings.sd_min_days,
        on_study=not off_study,
    )
    if result.best in _RESPONDING:
        return "responder", result
    progressed = bool((codes == "PD").any())
    window_over = followed >= settings.response_window_days
    if progressed or off_study or (window_over and not result.awaiting_confirmation):
        return "non-responder", result
    return "pending", result


def response_known_day(
    days: np.ndarray,
    codes: np.ndarray,
    *,
    followed: float,
    off_day: float,
    settings: Assessments,
) -> float:
    """The first day (from the first infusion) on which the response status is decided,
    given every assessment up to ``followed`` days and going off study on ``off_day``
    (NaN while on study); NaN when still pending after ``followed`` days."""
    days = np.asarray(days, dtype=float)
    codes = np.asarray(codes, dtype=object)
    candidates = [*days.tolist(), settings.response_window_days]
    if np.isfinite(off_day):
        candidates.append(off_day)
    for day in sorted(set(c for c in candidates if c <= followed)):
        seen = days <= day
        status, _ = response_status(
            days[seen],
            codes[seen],
            followed=day,
            off_study=bool(np.isfinite(off_day) and off_day <= day),
            settings=settings,
        )
        if status != "pending":
            return float(day)
    return float("nan")


def _response_columns(
    patients: pd.DataFrame, responses: pd.DataFrame, protocol: Protocol
) -> pd.DataFrame:
    settings = protocol.assessments
    known = _known(responses, patients)
    groups = dict(tuple(known.groupby("patient_id")))
    rows = []
    columns = ["patient_id", "infused", "off_study", "followup_days"]
    for pid, infused, off, followed in patients[columns].itertuples(index=False):
        mine = groups.get(pid, known.iloc[:0])
        days = mine["day"].astype("float64").to_numpy()
        codes = mine["response"].to_numpy(dtype=object)
        status, result = response_status(
            days, codes, followed=followed, off_study=bool(off), settings=settings
        )
        if not infused:
            status = "not evaluable"
        decided = status in ("responder", "non-responder")
        rows.append(
            {
                "best_response": result.best,
                "responder": status == "responder",
                "awaiting_confirmation": result.awaiting_confirmation,
                "response_status": status,
                "response_evaluable": decided,
                "response_known_day": response_known_day(
                    days,
                    codes,
                    followed=followed,
                    off_day=followed if off else np.nan,
                    settings=settings,
                )
                if decided
                else np.nan,
            }
        )
    names = [
        "best_response",
        "responder",
        "awaiting_confirmation",
        "response_status",
        "response_evaluable",
        "response_known_day",
    ]
    return pd.DataFrame(rows, index=patients.index, columns=names)


def _kinetics_columns(patients: pd.DataFrame, pk: pd.DataFrame, protocol: Protocol):
    settings = protocol.pk
    known = _known(pk, patients)
    groups = dict(tuple(known.groupby("patient_id")))
    rows = []
    for pid in patients["patient_id"]:
        mine = groups.get(pid, known.iloc[:0])
        e = kinetics_summary(
            mine["day"].astype("float64").to_numpy(),
            mine["copies_per_ug"].astype("float64").to_numpy(),
            mine["below_lloq"].fillna(True).astype(bool).to_numpy(),
            lloq=settings.lloq_copies_per_ug,
            auc_end_day=settings.auc_end_day,
            blq_policy=settings.blq_policy,
        )
        rows.append(
            {
                "cmax": e.cmax,
                "tmax": e.tmax,
                "auc": e.auc,
                "n_blq_used": e.n_blq_used,
                "last_detectable_day": e.last_detectable_day,
                "auc_copies_low": e.auc_copies_low,
                "auc_copies_high": e.auc_copies_high,
                "window_cmax": e.window_cmax,
            }
        )
    columns = [
        "cmax",
        "tmax",
        "auc",
        "n_blq_used",
        "last_detectable_day",
        "auc_copies_low",
        "auc_copies_high",
        "window_cmax",
    ]
    return pd.DataFrame(rows, index=patients.index, columns=columns)


def _manufacturing_columns(patients: pd.DataFrame, lots: pd.DataFrame, cutoff: int):
    released_by = lots["released"].fillna(False).astype(bool) & (
        lots["release_study_day"].astype("float64") <= cutoff
    )
    n_lots = patients["patient_id"].map(lots.groupby("patient_id").size()).fillna(0)
    n_released = patients["patient_id"].map(released_by.groupby(lots["patient_id"]).sum()).fillna(0)
    released = pd.array(n_released.to_numpy() > 0, dtype="boolean")
    released[n_lots.to_numpy() == 0] = pd.NA
    return pd.DataFrame(
        {
            "lots": n_lots.astype("int64"),
            "released_lots": n_released.astype("int64"),
            "released": released,
        },
        index=patients.index,
    )


def _failure_known(source: pd.DataFrame) -> np.ndarray:
    """Per patient: off study for a manufacturing failure (recorded once every lot of the
    patient has failed release)."""
    return (source["off_study_reason"].astype(object) == "manufacturing failure").to_numpy()


def derive_patients(
    tables: dict[str, pd.DataFrame], protocol: Protocol, cutoff: int
) -> pd.DataFrame:
    """One row per patient enrolled by the cut-off, with everything known at that day.

    Parameters
    ----------
    tables : dict of DataFrame
        Validated tables (:func:`~dartnk.analyses.validation.validate_tables`).
    protocol : Protocol
    cutoff : int
        Data cut-off study day.

    Returns
    -------
    DataFrame
        In the order of the patients table: ``patient_id``, ``construct``,
        ``dose_level`` (label), ``dose_index`` (0-based), ``phase``, ``enrolled_day``,
        ``first_infusion_day``, ``infused``, ``off_study`` (off study by the cut-off),
        ``awaiting_infusion`` (enrolled, not infused, no manufacturing failure known),
        ``followup_days`` (u = min(C - first_infusion_day, off_study_day); 0 while
        awaiting the first infusion; NaN after a manufacturing failure), ``dlt_status``
        (one of :data:`DLT_STATUSES`), ``dlt_onset_day``, ``tite_weight`` (1 for DLT and
        no DLT, min(1, u / window) while pending, NaN when not evaluable),
        ``best_response``, ``responder`` (confirmed CR or PR),
        ``awaiting_confirmation``, ``response_status`` (one of
        :data:`RESPONSE_STATUSES`), ``response_evaluable`` (responder or non-responder),
        ``response_known_day`` (day from the first infusion the status was decided),
        ``cmax``, ``tmax``, ``auc``,
        ``n_blq_used``, ``last_detectable_day``, ``auc_copies_low``,
        ``auc_copies_high``, ``window_cmax``, ``lots``, ``released_lots``, ``released``.

    Notes
    -----
    DLT status: "DLT" when a known event with ``is_dlt`` lies in the window; "no DLT" when
    the follow-up reaches the window without one; "pending" while still on study inside
    the window, or awaiting the first infusion, weighted by the time-to-event weight of
    Cheung and Chappell (2000) (0 before the infusion); "not evaluable" when off study
    before the end of the window without a DLT, or never infused after a manufacturing
    failure.

    References
    ----------
    Cheung YK, Chappell R. Sequential designs for phase I clinical trials with late-onset
    toxicities. Biometrics 2000; 56:1177-1182.

    Eisenhauer EA, Therasse P, Bogaerts J, et al. New response evaluation criteria in solid
    tumours: revised RECIST guideline (version 1.1). Eur J Cancer 2009; 45:228-247.
    """
    source = tables["patients"]
    source = source[source["enrolled_day"].astype("float64") <= cutoff]
    first = _float(source["first_infusion_day"])
    infused = np.isfinite(first) & (first <= cutoff)
    horizon = np.where(infused, cutoff - first, np.nan)
    off_day = _float(source["off_study_day"])
    off = infused & (off_day <= horizon)
    awaiting = ~infused & ~_failure_known(source)
    base = pd.DataFrame(
        {
            "patient_id": source["patient_id"].to_numpy(dtype=object),
            "construct": source["construct"].to_numpy(dtype=object),
            "dose_level": source["dose_level"].to_numpy(dtype=object),
            "dose_index": [protocol.dose_index(label) for label in source["dose_level"]],
            "phase": source["phase"].astype("int64").to_numpy(),
            "enrolled_day": source["enrolled_day"].astype("int64").to_numpy(),
            "first_infusion_day": source["first_infusion_day"].to_numpy(),
            "infused": infused,
            "off_study": off,
            "awaiting_infusion": awaiting,
            "followup_days": np.where(
                awaiting, 0.0, np.where(off, np.fmin(horizon, off_day), horizon)
            ),
            "horizon": horizon,
        }
    )
    base["first_infusion_day"] = base["first_infusion_day"].astype("Int64")
    parts = [
        base,
        _dlt_columns(base, tables["adverse_events"], protocol),
        _response_columns(base, tables["responses"], protocol),
        _kinetics_columns(base, tables["pk"], protocol),
        _manufacturing_columns(base, tables["manufacturing"], cutoff),
    ]
    return pd.concat(parts, axis=1).drop(columns="horizon")
