"""Fit results built by hand from seeded draws of known distributions (no MCMC; built once
and shared, as results are immutable), and the checks a reader's eye makes on a figure,
as bounding-box geometry."""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd

from dartnk.models import (
    Gates,
    KineticsData,
    KineticsFit,
    ManufacturingFit,
    ResponseFit,
    SurvivalData,
    SurvivalFit,
    ToxicityFit,
)
from dartnk.models._diagnostics import diagnose

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

CONSTRUCTS = ("A", "B", "C")
DOSES = ("DL-1", "DL1", "DL2", "DL3", "DL4")
CHAINS, DRAWS = 2, 500


def _idata(values: dict[str, np.ndarray], dims: dict[str, list[str]], coords: dict) -> object:
    return az.from_dict(posterior=values, dims=dims, coords=coords)


def _fit_fields(idata, parameters: tuple[str, ...], name: str) -> dict[str, object]:
    return {
        "idata": idata,
        "diagnostics": diagnose(idata, list(parameters), Gates()),
        "name": name,
        "parameters": parameters,
        "seed": 1,
        "protocol_hash": None,
    }


TOXICITY_COUNTS = {
    # construct: per dose (patients with complete follow-up, DLTs, pending)
    "A": [(0, 0, 0), (3, 0, 0), (3, 0, 0), (6, 1, 0), (0, 0, 0)],
    "B": [(0, 0, 0), (3, 0, 0), (4, 1, 2), (3, 2, 0), (0, 0, 0)],
    "C": [(0, 0, 0), (3, 0, 0), (1, 0, 2), (0, 0, 0), (0, 0, 0)],
}


@cache
def toxicity_fit(seed: int = 1) -> ToxicityFit:
    """DLT rates per construct and dose drawn from Beta(1 + y, 1 + n - y) of the counts
    above, sorted along the doses in each draw (monotone curves)."""
    rng = np.random.default_rng(seed)
    n = np.array([[c[0] for c in TOXICITY_COUNTS[k]] for k in CONSTRUCTS])
    y = np.array([[c[1] for c in TOXICITY_COUNTS[k]] for k in CONSTRUCTS])
    pending = np.array([[c[2] for c in TOXICITY_COUNTS[k]] for k in CONSTRUCTS])
    ptox = np.sort(rng.beta(1 + y, 1 + n - y + 3, size=(CHAINS, DRAWS, *n.shape)), axis=-1)
    theta = rng.normal(size=(CHAINS, DRAWS, len(CONSTRUCTS), 2))
    idata = _idata(
        {"ptox": ptox, "theta": theta},
        {"ptox": ["construct", "dose"], "theta": ["construct", "parameter"]},
        {"construct": list(CONSTRUCTS), "dose": list(DOSES),
         "parameter": ["log_alpha", "log_beta"]},
    )  # fmt: skip
    construct, dose = np.meshgrid(CONSTRUCTS, DOSES, indexing="ij")
    counts = pd.DataFrame(
        {
            "construct": construct.ravel(),
            "dose": dose.ravel(),
            "n": n.ravel(),
            "dlt": y.ravel(),
            "pending": pending.ravel(),
        }
    )
    return ToxicityFit(
        **_fit_fields(idata, ("theta",), "BLRM (exnex)"),
        constructs=CONSTRUCTS,
        dose_labels=DOSES,
        doses=(5e7, 1e8, 3e8, 1e9, 2e9),
        intervals=(0.16, 0.33),
        counts=counts,
        hierarchy="exnex",
    )


RESPONSE_COUNTS = {"A": (5, 0), "B": (7, 3), "C": (4, 4)}


@cache
def response_fit(seed: int = 2) -> ResponseFit:
    """ORR per construct from Beta(1 + r, 1 + n - r): A 0/5, B 3/7, C 4/4."""
    rng = np.random.default_rng(seed)
    n = np.array([RESPONSE_COUNTS[c][0] for c in CONSTRUCTS])
    r = np.array([RESPONSE_COUNTS[c][1] for c in CONSTRUCTS])
    orr = rng.beta(1 + r, 1 + n - r, size=(CHAINS, DRAWS, len(CONSTRUCTS)))
    idata = _idata({"orr": orr}, {"orr": ["construct"]}, {"construct": list(CONSTRUCTS)})
    counts = pd.DataFrame({"construct": list(CONSTRUCTS), "n": n, "responders": r})
    return ResponseFit(
        **_fit_fields(idata, ("orr",), "ORR (hierarchical)"),
        constructs=CONSTRUCTS,
        dose_labels=DOSES,
        by_dose=False,
        counts=counts,
    )


LLOQ = 2.0


def kinetics_data() -> KineticsData:
    """Nine patients: exact values, a Cmax below the LLOQ (left-censored at log10 LLOQ)
    with an AUC left-censored too, and AUCs with below-LLOQ samples (interval-censored)."""
    construct = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2])
    dose = np.array([1, 1, 1, 2, 1, 2, 2, 1, 1])
    cmax = np.array([3.1, 2.8, LLOQ, 3.4, 3.0, 3.6, 3.2, LLOQ, 2.9])
    cmax_low = np.where(cmax == LLOQ, -np.inf, cmax)
    auc_high = np.array([4.6, 4.2, 3.1, 4.9, 4.4, 5.0, 4.7, 3.0, 4.3])
    auc_low = np.array([4.6, 4.0, -np.inf, 4.9, 4.4, 4.8, 4.7, -np.inf, 4.3])
    return KineticsData(
        constructs=CONSTRUCTS,
        dose_labels=DOSES,
        construct=construct,
        dose=dose,
        lower=np.column_stack([cmax_low, auc_low]),
        upper=np.column_stack([cmax, auc_high]),
        patient_ids=tuple(f"P{i}" for i in range(construct.size)),
    )


@cache
def kinetics_fit(seed: int = 3) -> KineticsFit:
    rng = np.random.default_rng(seed)
    data = kinetics_data()
    level = np.array([3.0, 4.5])[:, None, None] + 0.3 * np.arange(len(DOSES))[None, None, :]
    mean = level[None, None] + rng.normal(0, 0.2, size=(CHAINS, DRAWS, 2, len(CONSTRUCTS), 1))
    sigma = np.abs(rng.normal(0.5, 0.05, size=(CHAINS, DRAWS, 2)))
    idata = _idata(
        {"mean_log10": mean, "sigma": sigma},
        {"mean_log10": ["endpoint", "construct", "dose"], "sigma": ["endpoint"]},
        {"endpoint": ["log10_cmax", "log10_auc"], "construct": list(CONSTRUCTS),
         "dose": list(DOSES)},
    )  # fmt: skip
    patients = np.zeros((len(CONSTRUCTS), len(DOSES)), dtype=int)
    np.add.at(patients, (data.construct, data.dose), 1)
    construct, dose = np.meshgrid(CONSTRUCTS, DOSES, indexing="ij")
    counts = pd.DataFrame(
        {"construct": construct.ravel(), "dose": dose.ravel(), "patients": patients.ravel()}
    )
    return KineticsFit(
        **_fit_fields(idata, ("sigma",), "kinetics"),
        constructs=CONSTRUCTS,
        dose_labels=DOSES,
        counts=counts,
        data=data,
    )


LOTS = {"A": (10, 9, 1), "B": (8, 8, 0), "C": (4, 0, 2)}


@cache
def manufacturing_fit(seed: int = 4) -> ManufacturingFit:
    """Release probabilities from Beta(1 + s, 1 + n - s): A 9/10, B 8/8, C 0/4."""
    rng = np.random.default_rng(seed)
    lots = np.array([LOTS[c][0] for c in CONSTRUCTS])
    released = np.array([LOTS[c][1] for c in CONSTRUCTS])
    draws = rng.beta(1 + released, 1 + lots - released, size=(CHAINS, DRAWS, len(CONSTRUCTS)))
    idata = _idata(
        {"release_prob": draws}, {"release_prob": ["construct"]}, {"construct": list(CONSTRUCTS)}
    )
    counts = pd.DataFrame(
        {
            "construct": list(CONSTRUCTS),
            "lots": lots,
            "released": released,
            "awaiting": [LOTS[c][2] for c in CONSTRUCTS],
        }
    )
    return ManufacturingFit(
        **_fit_fields(idata, ("release_prob",), "lot release"),
        constructs=CONSTRUCTS,
        counts=counts,
        beta_prior=(1.0, 1.0),
    )


SURVIVAL = {
    # construct: (days, event)
    0: ([30, 45, 60, 90, 120, 150, 200], [1, 0, 1, 1, 0, 1, 0]),
    1: ([20, 80, 100, 240], [1, 1, 0, 0]),
    2: ([15, 25, 35, 70, 180], [1, 1, 1, 0, 1]),
}


def survival_data() -> SurvivalData:
    construct = np.concatenate([[c] * len(SURVIVAL[c][0]) for c in SURVIVAL])
    time = np.concatenate([SURVIVAL[c][0] for c in SURVIVAL]).astype(float)
    event = np.concatenate([SURVIVAL[c][1] for c in SURVIVAL]).astype(bool)
    return SurvivalData(
        construct=construct,
        time=time,
        event=event,
        patient_ids=tuple(f"P{i}" for i in range(time.size)),
        constructs=CONSTRUCTS,
    )


@cache
def survival_fit(seed: int = 5, *, by_construct: bool = True) -> SurvivalFit:
    """A Weibull posterior: log scale ~ N(log 150, 0.2) per construct, log shape ~
    N(log 1.3, 0.1)."""
    rng = np.random.default_rng(seed)
    groups = CONSTRUCTS if by_construct else ("all",)
    scale = np.exp(rng.normal(np.log(150.0), 0.2, size=(CHAINS, DRAWS, len(groups))))
    shape = np.exp(rng.normal(np.log(1.3), 0.1, size=(CHAINS, DRAWS)))
    median = scale * np.log(2.0) ** (1.0 / shape[..., None])
    idata = _idata(
        {"scale": scale, "shape": shape, "median": median},
        {"scale": ["construct"], "median": ["construct"]},
        {"construct": list(groups)},
    )
    return SurvivalFit(
        **_fit_fields(idata, ("scale", "shape"), "PFS (weibull)"),
        endpoint="pfs",
        distribution="weibull",
        by_construct=by_construct,
        constructs=groups,
        data=survival_data(),
        labels=CONSTRUCTS,
    )
