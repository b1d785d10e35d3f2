"""Agreement of MCMC draws with exact values within Monte Carlo error, and small fakes of a
data cut for the model tests."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dartnk.analyses import Protocol, default_protocol
from dartnk.analyses.model_inputs import model_inputs

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

PROTOCOL = default_protocol()
QUICK = dict(draws=600, tune=600, chains=4, cores=2)


def short_protocol_settings() -> dict[str, Any]:
    """The embedded protocol as a mapping, with chains short enough for a smoke run of the
    whole interim analysis and gates that fit them."""
    settings = PROTOCOL.to_dict()
    settings["sampling"].update(draws=60, tune=60, chains=2, min_ess_bulk=10, max_rhat=2.0)
    return settings


def mc_error(draws: np.ndarray) -> float:
    """Monte Carlo standard error of the mean of (chain, draw) draws, by bulk ESS."""
    draws = np.asarray(draws, dtype=float)
    sd = float(draws.std())
    if sd == 0.0:
        return 0.0
    return sd / np.sqrt(float(az.ess(draws[None] if draws.ndim == 1 else draws)))


def agrees(draws: np.ndarray, exact: float, *, k: float = 4.0, floor: float = 2e-3) -> bool:
    """|mean(draws) - exact| <= k MCSE + floor (the floor holds the exact engine's own
    error and the discreteness of indicators near 0 or 1)."""
    return abs(float(np.mean(draws)) - exact) <= k * mc_error(draws) + floor


@dataclass(frozen=True)
class FakeCut:
    """A stand-in for TrialData: the attributes the adapters of
    dartnk.analyses.model_inputs read, and the conversion the models call."""

    patients: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    protocol: Protocol = PROTOCOL
    cutoff: int = 1000

    def model_inputs(self, kind: str, /, **options: Any) -> Any:
        return model_inputs(self, kind, **options)


def fake_trial(patients: pd.DataFrame, *, tables=None, cutoff: int = 1000, protocol=PROTOCOL):
    """A data cut of just the given derived patients and tables."""
    return FakeCut(patients=patients, tables=tables or {}, protocol=protocol, cutoff=cutoff)


def dlt_patients(arms: dict[str, list[tuple[str, int, int]]]) -> pd.DataFrame:
    """Phase 1 patients with complete DLT follow-up from (dose label, patients, DLTs) per
    construct."""
    rows = []
    for construct, cells in arms.items():
        for label, n, y in cells:
            for i in range(n):
                rows.append(
                    {
                        "patient_id": f"{construct}-{label}-{i}",
                        "construct": construct,
                        "dose_index": PROTOCOL.dose_index(label),
                        "phase": 1,
                        "dlt_status": "DLT" if i < y else "no DLT",
                        "followup_days": 28.0,
                    }
                )
    return pd.DataFrame(rows)
