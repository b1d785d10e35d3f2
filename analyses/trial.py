"""The trial data at a cut-off: validated tables, per-patient derivations, arm summaries.

:func:`load_trial` is the one entry point: it validates a folder or a dict of DataFrames
(:func:`~dartnk.analyses.validation.validate_tables`), derives every patient's status at
the cut-off (:func:`~dartnk.analyses.derive.derive_patients`) and counts them per
construct and dose level. :meth:`TrialData.escalation_data` hands one arm's DLT data to
the escalation designs as arrays.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from dartnk.models import tite_weight

from .derive import default_cutoff, derive_patients
from .errors import InputError
from .model_inputs import model_inputs
from .protocol import Protocol, default_protocol, load_protocol
from .validation import validate_tables

__all__ = ["EscalationData", "TrialData", "load_trial"]

_COUNTS = (
    "patients",
    "infused",
    "evaluable",
    "dlt",
    "pending",
    "not_evaluable",
    "responders",
    "response_evaluable",
)


def _readonly(values: np.ndarray) -> np.ndarray:
    values = np.array(values, copy=True)
    values.flags.writeable = False
    return values


@dataclass(frozen=True)
class EscalationData:
    """One arm's DLT-evaluable patients in enrolment order, as the designs consume them.

    Attributes
    ----------
    construct : str
        Arm id.
    dose_labels : tuple of str
        Dose labels by 0-based index.
    patient_ids : tuple of str
    level : ndarray of int
        0-based dose index of each patient.
    dlt : ndarray of int
        1 for a DLT, else 0.
    followup : ndarray of float
        Days of DLT follow-up for pending patients; NaN where follow-up is complete (DLT
        or the whole window without one).
    window : int
        DLT window in days.
    """

    construct: str
    dose_labels: tuple[str, ...]
    patient_ids: tuple[str, ...]
    level: np.ndarray
    dlt: np.ndarray
    followup: np.ndarray
    window: int

    def __len__(self) -> int:
        return len(self.patient_ids)

    @property
    def weight(self) -> np.ndarray:
        """TITE weight of each patient: 1 where complete, min(1, follow-up / window) else
        (Cheung and Chappell 2000, Biometrics 56:1177-1182)."""
        return np.where(np.isnan(self.followup), 1.0, tite_weight(self.followup, self.window))

    def summary(self) -> pd.DataFrame:
        """One row per patient: ``patient_id``, ``dose_level`` (label), ``dose_index``,
        ``dlt``, ``followup_days``, ``weight``."""
        return pd.DataFrame(
            {
                "patient_id": list(self.patient_ids),
                "dose_level": [self.dose_labels[i] for i in self.level],
                "dose_index": self.level,
                "dlt": self.dlt,
                "followup_days": self.followup,
                "weight": self.weight,
            }
        )

    def __repr__(self) -> str:
        head = f"EscalationData(arm {self.construct}: {len(self)} DLT-evaluable patients)"
        return head if not len(self) else f"{head}\n{self.summary().to_string(index=False)}"


def _by_arm_dose(patients: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    status = patients["dlt_status"]
    flags = pd.DataFrame(
        {
            "construct": patients["construct"],
            "dose_level": patients["dose_level"],
            "patients": 1,
            "infused": patients["infused"].astype(int),
            "evaluable": status.isin(("DLT", "no DLT")).astype(int),
            "dlt": (status == "DLT").astype(int),
            "pending": (status == "pending").astype(int),
            "not_evaluable": (status == "not evaluable").astype(int),
            "responders": patients["responder"].astype(int),
            "response_evaluable": patients["response_evaluable"].astype(int),
        }
    )
    grid = pd.MultiIndex.from_product(
        [protocol.construct_ids, protocol.dose_labels], names=["construct", "dose_level"]
    )
    counts = flags.groupby(["construct", "dose_level"])[list(_COUNTS)].sum()
    return counts.reindex(grid, fill_value=0).astype("int64").reset_index()


@dataclass(frozen=True, repr=False)
class TrialData:
    """Validated trial data and everything derived from it at one cut-off.

    Build it with :func:`load_trial`. Immutable: :meth:`at_cutoff` returns a new object.

    Attributes
    ----------
    protocol : Protocol
    cutoff : int
        Data cut-off study day.
    tables : mapping of str to DataFrame
        The seven typed tables (an optional table not supplied is empty).
    patients : DataFrame
        Per-patient derivations (:func:`~dartnk.analyses.derive.derive_patients`).
    by_arm_dose : DataFrame
        One row per construct x dose level, both in protocol order (dose labels):
        ``patients``, ``infused``, ``evaluable`` (DLT or no DLT), ``dlt``, ``pending``,
        ``not_evaluable``, ``responders`` (confirmed CR or PR) and
        ``response_evaluable``, over both phases.
    warnings : tuple of str
        Suspicious but legal findings of validation.

    Examples
    --------
    >>> from dartnk.analyses import load_trial
    >>> trial = load_trial("path/to/data")  # doctest: +SKIP
    >>> trial.summary()  # doctest: +SKIP
    >>> trial.escalation_data("A").level  # doctest: +SKIP
    """

    protocol: Protocol
    cutoff: int
    tables: Mapping[str, pd.DataFrame]
    patients: pd.DataFrame
    by_arm_dose: pd.DataFrame
    warnings: tuple[str, ...] = field(default=())

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle the tables as a plain dict (a read-only mapping view does not pickle),
        so that a data cut can be sent to the worker processes that fit the models."""
        return (
            _restore,
            (
                self.protocol,
                self.cutoff,
                dict(self.tables),
                self.patients,
                self.by_arm_dose,
                self.warnings,
            ),
        )

    def summary(self, *, by_phase: bool = False) -> pd.DataFrame:
        """Counts per construct and dose level (a copy of :attr:`by_arm_dose`).

        Parameters
        ----------
        by_phase : bool, default False
            Count Phase 1 and Phase 2 patients apart, with a leading ``phase`` column: every
            construct x dose level for Phase 1 (the escalation), and the construct x dose
            levels holding Phase 2 patients (the expansion) after them.
        """
        if not by_phase:
            return self.by_arm_dose.copy()
        parts = []
        for phase in (1, 2):
            counts = _by_arm_dose(self.patients[self.patients["phase"] == phase], self.protocol)
            if phase == 2:
                counts = counts[counts["patients"] > 0]
            parts.append(counts.assign(phase=phase))
        frame = pd.concat(parts, ignore_index=True)
        return frame[["phase", *self.by_arm_dose.columns]]

    def _headline(self) -> str:
        n = len(self.patients)
        infused = int(self.patients["infused"].sum())
        return (
            f"TrialData({self.protocol.name}, cut-off study day {self.cutoff}: "
            f"{n} patients, {infused} infused, {len(self.warnings)} warnings)"
        )

    def __repr__(self) -> str:
        return f"{self._headline()}\n{self.summary().to_string(index=False)}"

    def _repr_html_(self) -> str:
        table = self.summary().to_html(index=False, escape=True, border=0)
        return f"<p>{html.escape(self._headline())}</p>\n{table}"

    def at_cutoff(self, cutoff: int) -> TrialData:
        """The same validated tables derived at another cut-off study day."""
        return _build(self.protocol, dict(self.tables), _check_cutoff(cutoff), self.warnings)

    def model_inputs(self, kind: str, /, **options: object) -> Any:
        """The inputs bundle of a model of :mod:`dartnk.models`, converted once from this
        data cut and its protocol (:func:`dartnk.analyses.model_inputs.model_inputs`).

        This makes a data cut a :class:`dartnk.models.ModelInputSource`: every
        ``dartnk.models.fit_*`` entry takes it and calls this method.

        Parameters
        ----------
        kind : {"toxicity", "crm", "response", "kinetics", "manufacturing", "survival"}
        **options
            The adapter's options, e.g. ``phase``, ``tite``, ``constructs`` for
            ``"toxicity"``.

        Returns
        -------
        dartnk.models.ModelInputs
            The bundle of ``kind``: ``ToxicityInputs``, ``CRMInputs``, ``ResponseInputs``,
            ``KineticsInputs``, ``ManufacturingInputs`` or ``SurvivalInputs``.
        """
        return model_inputs(self, kind, **options)

    def escalation_data(self, construct: str, *, phase: int | None = 1) -> EscalationData:
        """DLT data of one arm for the escalation designs.

        Parameters
        ----------
        construct : str
            Arm id (a protocol construct).
        phase : int or None
            Keep patients of this phase only (Phase 1 by default, the escalation);
            None keeps all.

        Returns
        -------
        EscalationData
            DLT-evaluable patients (DLT, no DLT or pending; not-evaluable ones are left
            out) in enrolment order (``enrolled_day``, ties in table order), with 0-based
            dose indices.
        """
        if construct not in self.protocol.construct_ids:
            raise InputError(
                f"construct = {construct!r}: expected one of {list(self.protocol.construct_ids)}"
            )
        p = self.patients
        keep = (p["construct"] == construct) & (p["dlt_status"] != "not evaluable")
        if phase is not None:
            keep &= p["phase"] == phase
        arm = p[keep].sort_values("enrolled_day", kind="stable")
        complete = arm["dlt_status"].isin(("DLT", "no DLT")).to_numpy()
        return EscalationData(
            construct=construct,
            dose_labels=self.protocol.dose_labels,
            patient_ids=tuple(arm["patient_id"]),
            level=_readonly(arm["dose_index"].to_numpy(dtype=np.int64)),
            dlt=_readonly((arm["dlt_status"] == "DLT").to_numpy(dtype=np.int64)),
            followup=_readonly(
                np.where(complete, np.nan, arm["followup_days"].to_numpy(dtype=float))
            ),
            window=self.protocol.dlt_window,
        )


def _restore(
    protocol: Protocol,
    cutoff: int,
    tables: dict[str, pd.DataFrame],
    patients: pd.DataFrame,
    by_arm_dose: pd.DataFrame,
    warnings: tuple[str, ...],
) -> TrialData:
    return TrialData(protocol, cutoff, MappingProxyType(tables), patients, by_arm_dose, warnings)


def _check_cutoff(cutoff: object) -> int:
    if isinstance(cutoff, bool) or not isinstance(cutoff, int | np.integer) or cutoff < 0:
        raise InputError(f"cutoff = {cutoff!r}: expected a study day, an integer >= 0")
    return int(cutoff)


def _build(
    protocol: Protocol, tables: dict[str, pd.DataFrame], cutoff: int, warnings: tuple[str, ...]
) -> TrialData:
    patients = derive_patients(tables, protocol, cutoff)
    return TrialData(
        protocol=protocol,
        cutoff=cutoff,
        tables=MappingProxyType(tables),
        patients=patients,
        by_arm_dose=_by_arm_dose(patients, protocol),
        warnings=warnings,
    )


def load_trial(
    source: str | Path | Mapping[str, pd.DataFrame],
    protocol: Protocol | str | Path | None = None,
    *,
    cutoff: int | None = None,
) -> TrialData:
    """Validate trial data and derive every patient's status at a cut-off.

    Parameters
    ----------
    source : str, Path or mapping of str to DataFrame
        A folder of ``<table>.csv`` / ``<table>.parquet`` files, or DataFrames by table.
    protocol : Protocol, str or Path, optional
        The protocol, or a protocol YAML file; the embedded DART-NK-SCLC protocol when None.
    cutoff : int, optional
        Data cut-off study day; when None, the latest study day recorded in any table
        (:func:`~dartnk.analyses.derive.default_cutoff`).

    Returns
    -------
    TrialData

    Raises
    ------
    DataError
        When the data break the table contract (every problem listed, one line each).
    InputError
        For a cut-off that is not an integer study day >= 0, or a bad protocol file.
    """
    if protocol is None:
        protocol = default_protocol()
    elif not isinstance(protocol, Protocol):
        protocol = load_protocol(protocol)
    validated = validate_tables(source, protocol)
    tables = validated.tables
    chosen = default_cutoff(tables) if cutoff is None else _check_cutoff(cutoff)
    return _build(protocol, tables, chosen, validated.warnings)
