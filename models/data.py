"""The data types of the models: counts, censored values and times, with their labels.

Each type holds arrays with 0-based construct and dose positions and the labels they
stand for; none reads a data cut's tables. :mod:`dartnk.analyses.model_inputs` builds them
from a trial's derived patients and tables; on arrays they are built directly (or, for
DLTs, with :meth:`DLTData.from_patients`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .tite import tite_weight

__all__ = ["DLTData", "KineticsData", "LotData", "ResponseData", "SurvivalData"]

_EXACT_RELATIVE_WIDTH = 1e-9


def _grid(constructs: Sequence[str], dose_labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """Construct and dose labels of every cell of a (constructs, doses) grid, row-major."""
    c, d = np.meshgrid(range(len(constructs)), range(len(dose_labels)), indexing="ij")
    return [constructs[i] for i in c.ravel()], [dose_labels[j] for j in d.ravel()]


def _positions(name: str, values: np.ndarray, size: int, what: str) -> None:
    if values.size and (values.min() < 0 or values.max() >= size):
        raise ValueError(f"{name} holds positions outside 0..{size - 1} of the {what}")


@dataclass(frozen=True)
class DLTData:
    """DLT outcomes per construct and 0-based dose, and pending patients with TITE weights.

    Attributes
    ----------
    constructs, dose_labels : tuple of str
    n, dlt : ndarray of int, shape (constructs, doses)
        Patients with complete follow-up (a DLT, or the whole window without one) and DLTs.
    pending : ndarray of int, shape (constructs, doses)
        Pending patients weighed by the likelihood (none without a DLT window).
    pending_construct, pending_dose : ndarray of int, shape (pending,)
    pending_weight : ndarray of float, shape (pending,)
        w = min(1, follow-up / window) (Cheung and Chappell 2000).
    """

    constructs: tuple[str, ...]
    dose_labels: tuple[str, ...]
    n: np.ndarray
    dlt: np.ndarray
    pending: np.ndarray
    pending_construct: np.ndarray
    pending_dose: np.ndarray
    pending_weight: np.ndarray

    @classmethod
    def from_patients(
        cls,
        construct: np.ndarray,
        level: np.ndarray,
        dlt: np.ndarray,
        followup: np.ndarray | None,
        *,
        window: float | None,
        constructs: Sequence[str],
        dose_labels: Sequence[str],
    ) -> DLTData:
        """Counts from per-patient arrays.

        ``construct`` holds 0-based construct positions, ``level`` 0-based doses, ``dlt``
        0/1 and ``followup`` days of follow-up of patients still inside the DLT window
        (NaN when complete). Without ``window`` pending patients are left out.
        """
        n_c, n_d = len(constructs), len(dose_labels)
        construct = np.asarray(construct, dtype=np.int64)
        level_values = np.asarray(level)
        if level_values.size and not np.all(np.mod(level_values, 1) == 0):
            raise ValueError(f"dose levels must be whole 0-based indices, got {level_values}")
        level = level_values.astype(np.int64)
        dlt = np.asarray(dlt)
        if level.shape != dlt.shape or level.ndim != 1 or construct.shape != level.shape:
            raise ValueError("level, dlt and construct must be 1-D arrays of one length")
        _positions("construct", construct, n_c, "constructs")
        bad = (level < 0) | (level >= n_d)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"patient {i}: dose index {level[i]} is outside 0..{n_d - 1} (0-based)"
            )
        if not np.all(np.isin(dlt, (0, 1))):
            raise ValueError(f"dlt must hold 0 or 1 per patient, got {dlt}")
        dlt = dlt.astype(np.int64)
        follow = (
            np.full(level.shape, np.nan)
            if followup is None
            else pd.array(list(followup), dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
        )
        if follow.shape != level.shape:
            raise ValueError(f"followup has shape {follow.shape}, expected {level.shape}")
        if np.any(follow[np.isfinite(follow)] < 0):
            raise ValueError("followup days must be non-negative")
        if window is not None and not (np.isfinite(window) and window > 0):
            raise ValueError(f"window {window} must be a positive number of days")
        pending = (dlt == 0) & np.isfinite(follow)
        complete = ~pending
        n = np.zeros((n_c, n_d), dtype=np.int64)
        y = np.zeros((n_c, n_d), dtype=np.int64)
        np.add.at(n, (construct[complete], level[complete]), 1)
        np.add.at(y, (construct[complete], level[complete]), dlt[complete])
        count = np.zeros((n_c, n_d), dtype=np.int64)
        if window is None:
            pending = np.zeros_like(pending)
        np.add.at(count, (construct[pending], level[pending]), 1)
        weight = tite_weight(follow[pending], window) if window is not None else np.zeros(0)
        return cls(
            constructs=tuple(constructs),
            dose_labels=tuple(dose_labels),
            n=n,
            dlt=y,
            pending=count,
            pending_construct=construct[pending],
            pending_dose=level[pending],
            pending_weight=weight.astype(float),
        )

    def counts(self) -> pd.DataFrame:
        """One row per construct and dose: ``construct``, ``dose``, ``n``, ``dlt``, ``pending``."""
        constructs, doses = _grid(self.constructs, self.dose_labels)
        return pd.DataFrame(
            {
                "construct": constructs,
                "dose": doses,
                "n": self.n.ravel(),
                "dlt": self.dlt.ravel(),
                "pending": self.pending.ravel(),
            }
        )


@dataclass(frozen=True)
class ResponseData:
    """Response-evaluable patients and confirmed responders per construct and 0-based dose.

    Attributes
    ----------
    constructs, dose_labels : tuple of str
    n, responders : ndarray of int, shape (constructs, doses)
        Response-evaluable patients and confirmed responders (CR or PR confirmed at an
        assessment >= 28 days later, RECIST 1.1).
    """

    constructs: tuple[str, ...]
    dose_labels: tuple[str, ...]
    n: np.ndarray
    responders: np.ndarray

    def __post_init__(self) -> None:
        shape = (len(self.constructs), len(self.dose_labels))
        n = np.asarray(self.n, dtype=np.int64)
        r = np.asarray(self.responders, dtype=np.int64)
        if n.shape != shape or r.shape != shape:
            raise ValueError(f"n and responders must have shape {shape} (constructs, doses)")
        if np.any(r < 0) or np.any(r > n):
            raise ValueError("responders must satisfy 0 <= responders <= n in every cell")
        object.__setattr__(self, "constructs", tuple(self.constructs))
        object.__setattr__(self, "dose_labels", tuple(self.dose_labels))
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "responders", r)

    def counts(self, *, by_dose: bool = True) -> pd.DataFrame:
        """``construct`` (and ``dose``), ``n``, ``responders``: one row per construct and
        dose, or per construct when not ``by_dose``."""
        if not by_dose:
            return pd.DataFrame(
                {
                    "construct": list(self.constructs),
                    "n": self.n.sum(axis=1),
                    "responders": self.responders.sum(axis=1),
                }
            )
        constructs, doses = _grid(self.constructs, self.dose_labels)
        return pd.DataFrame(
            {
                "construct": constructs,
                "dose": doses,
                "n": self.n.ravel(),
                "responders": self.responders.ravel(),
            }
        )


@dataclass(frozen=True)
class KineticsData:
    """Censored log10 kinetics endpoints (Cmax, AUC0-28) per patient.

    Attributes
    ----------
    constructs, dose_labels : tuple of str
    construct, dose : ndarray of int, shape (patients,)
        0-based construct and dose positions.
    lower, upper : ndarray, shape (patients, 2)
        Bounds of (log10 Cmax, log10 AUC): equal when observed exactly, ``lower`` = -inf
        when left-censored.
    patient_ids : tuple of str
    """

    constructs: tuple[str, ...]
    dose_labels: tuple[str, ...]
    construct: np.ndarray
    dose: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    patient_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        k = self.construct.size
        if self.dose.shape != (k,) or len(self.patient_ids) != k:
            raise ValueError("construct, dose and patient_ids must have one entry per patient")
        if self.lower.shape != (k, 2) or self.upper.shape != (k, 2):
            raise ValueError("lower and upper must have shape (patients, 2)")
        if np.any(~np.isfinite(self.upper)):
            raise ValueError("every upper bound must be finite")
        if np.any(self.lower > self.upper):
            raise ValueError("a lower bound lies above its upper bound")
        _positions("construct", self.construct, len(self.constructs), "constructs")
        _positions("dose", self.dose, len(self.dose_labels), "dose labels")

    def kinds(self, endpoint: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices of exact, left-censored and interval-censored patients."""
        lower, upper = self.lower[:, endpoint], self.upper[:, endpoint]
        left = ~np.isfinite(lower)
        exact = ~left & (upper - lower <= _EXACT_RELATIVE_WIDTH * np.maximum(1.0, abs(upper)))
        interval = ~left & ~exact
        return np.flatnonzero(exact), np.flatnonzero(left), np.flatnonzero(interval)


@dataclass(frozen=True)
class LotData:
    """Product lots per construct: with a known release outcome, released, awaiting.

    Attributes
    ----------
    constructs : tuple of str
    lots, released, awaiting : ndarray of int, shape (constructs,)
        Lots with a known outcome, released lots among them, and lots whose outcome is
        not known yet (left out of the likelihood).
    """

    constructs: tuple[str, ...]
    lots: np.ndarray
    released: np.ndarray
    awaiting: np.ndarray

    def __post_init__(self) -> None:
        shape = (len(self.constructs),)
        values = {}
        for name in ("lots", "released", "awaiting"):
            value = np.asarray(getattr(self, name), dtype=np.int64)
            if value.shape != shape or np.any(value < 0):
                raise ValueError(f"{name} must hold one count >= 0 per construct")
            values[name] = value
        if np.any(values["released"] > values["lots"]):
            raise ValueError("released lots cannot exceed the lots with a known outcome")
        object.__setattr__(self, "constructs", tuple(self.constructs))
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def counts(self) -> pd.DataFrame:
        """One row per construct: ``construct``, ``lots``, ``released``, ``awaiting``."""
        return pd.DataFrame(
            {
                "construct": list(self.constructs),
                "lots": self.lots,
                "released": self.released,
                "awaiting": self.awaiting,
            }
        )


@dataclass(frozen=True)
class SurvivalData:
    """Right-censored times of one endpoint.

    Attributes
    ----------
    construct : ndarray of int, shape (patients,)
        0-based construct positions.
    time : ndarray of float
        Days from first infusion to the event or to censoring (> 0).
    event : ndarray of bool
    patient_ids : tuple of str
    missing : tuple of str
        Patients without a survival record, left out.
    constructs : tuple of str, optional
        The labels of the construct positions.
    """

    construct: np.ndarray
    time: np.ndarray
    event: np.ndarray
    patient_ids: tuple[str, ...]
    missing: tuple[str, ...] = ()
    constructs: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        k = self.construct.shape
        if self.time.shape != k or self.event.shape != k or len(self.patient_ids) != k[0]:
            raise ValueError("construct, time, event and patient_ids must have one length")
        if np.any(~np.isfinite(self.time)) or np.any(self.time <= 0):
            raise ValueError("survival times must be positive numbers of days")
        if self.constructs is not None:
            object.__setattr__(self, "constructs", tuple(self.constructs))
            _positions("construct", self.construct, len(self.constructs), "constructs")
