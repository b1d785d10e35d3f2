"""Summary frames of simulation results: the tables every rendering of a comparison reads.

Each function takes the results Dataset of :func:`~dartnk.analyses.simulate_trials` and
returns a tidy ``DataFrame`` of numbers (means and their Monte Carlo SEs in separate
columns, doses and constructs by label).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "difference_frame",
    "dose_frame",
    "scenario_frame",
    "selection_frame",
    "trial_frame",
]


def _value(ds: xr.Dataset, name: str, **where: object) -> tuple[float, float]:
    return float(ds[name].sel(**where)), float(ds[f"{name}_se"].sel(**where))


def scenario_frame(ds: xr.Dataset) -> pd.DataFrame:
    """One row per scenario and construct: the true MTD (label, blank for none), the true
    DLT rate, ORR, log10 Cmax and lot release there, the true composite score and whether
    the construct is the true best."""
    rows = []
    doses = [str(d) for d in ds["dose"].to_numpy()]
    for scenario in ds["scenario"].to_numpy():
        for construct in ds["construct"].to_numpy():
            at = {"scenario": scenario, "construct": construct}
            mtd = float(ds["true_mtd"].sel(**at))
            has = not np.isnan(mtd)
            dose = doses[int(mtd)] if has else None
            pick = {"dose": dose} if has else None
            rows.append(
                {
                    "scenario": str(scenario),
                    "construct": str(construct),
                    "true_mtd": dose,
                    "dlt_at_mtd": float(ds["true_dlt"].sel(**at, **pick)) if has else np.nan,
                    "orr_at_mtd": float(ds["true_orr"].sel(**at, **pick)) if has else np.nan,
                    "log10_cmax_at_mtd": float(ds["true_log10_cmax"].sel(**at, **pick))
                    if has
                    else np.nan,
                    "release": float(ds["true_release"].sel(**at)),
                    "true_score": float(ds["true_score"].sel(**at)),
                    "true_best": bool(ds["true_best"].sel(**at)),
                }
            )
    return pd.DataFrame(rows)


def selection_frame(ds: xr.Dataset) -> pd.DataFrame:
    """One row per scenario and design: P(select each construct and none), P(correct
    selection), P(no clear winner), P(no construct with an MTD), each with its SE."""
    rows = []
    for scenario in ds["scenario"].to_numpy():
        for design in ds["design"].to_numpy():
            at = {"scenario": scenario, "design": design}
            row: dict[str, object] = {"scenario": str(scenario), "design": str(design)}
            for choice in ds["selection"].to_numpy():
                mean, se = _value(ds, "prob_select_construct", selection=choice, **at)
                row[f"select_{choice}"], row[f"select_{choice}_se"] = mean, se
            for name in ("prob_correct_selection", "prob_no_clear_winner", "prob_no_candidate"):
                row[name], row[f"{name}_se"] = _value(ds, name, **at)
            rows.append(row)
    return pd.DataFrame(rows)


def dose_frame(ds: xr.Dataset, scenario: str) -> pd.DataFrame:
    """One row per design and construct of a scenario: P(each dose is the arm's MTD), P(no
    MTD), P(the true MTD), mean patients per dose and above the true MTD, mean DLTs."""
    rows = []
    for design in ds["design"].to_numpy():
        for construct in ds["construct"].to_numpy():
            at = {"scenario": scenario, "design": design, "construct": construct}
            row: dict[str, object] = {"design": str(design), "construct": str(construct)}
            for dose in ds["dose"].to_numpy():
                row[f"mtd_{dose}"] = float(ds["prob_select_dose"].sel(**at, dose=dose))
            row["no_mtd"] = float(ds["prob_no_mtd"].sel(**at))
            row["true_mtd"], row["true_mtd_se"] = _value(ds, "prob_true_mtd", **at)
            for dose in ds["dose"].to_numpy():
                row[f"n_{dose}"] = float(ds["mean_patients"].sel(**at, dose=dose))
            row["patients"], row["patients_se"] = _value(ds, "mean_phase1_patients", **at)
            row["above_mtd"], row["above_mtd_se"] = _value(ds, "mean_patients_above_mtd", **at)
            row["dlts"] = float(ds["mean_dlts"].sel(**at).sum())
            rows.append(row)
    return pd.DataFrame(rows)


def trial_frame(ds: xr.Dataset) -> pd.DataFrame:
    """One row per scenario and design: mean total N, expansion N and duration in months,
    P(expansion started), P(go), P(stopped for futility or toxicity), the overestimation of
    the winner's ORR, each with its SE."""
    rows = []
    outcomes = {
        "phase2_not_started": "not started",
        "phase2_futility": "stopped for futility",
        "phase2_toxicity": "stopped for toxicity",
    }
    for scenario in ds["scenario"].to_numpy():
        for design in ds["design"].to_numpy():
            at = {"scenario": scenario, "design": design}
            row: dict[str, object] = {"scenario": str(scenario), "design": str(design)}
            for name in ("mean_total_n", "mean_phase2_n", "mean_duration_months", "prob_phase2_go"):
                row[name], row[f"{name}_se"] = _value(ds, name, **at)
            for column, outcome in outcomes.items():
                row[column], row[f"{column}_se"] = _value(
                    ds, "prob_expansion_outcome", expansion_outcome=outcome, **at
                )
            row["orr_overestimate"], row["orr_overestimate_se"] = _value(
                ds, "orr_overestimate", **at
            )
            rows.append(row)
    return pd.DataFrame(rows)


DIFFERENCE_METRICS: dict[str, tuple[str, dict[str, str]]] = {
    "P(correct selection)": ("prob_correct_selection", {}),
    "P(no clear winner)": ("prob_no_clear_winner", {}),
    "P(Phase 2 go)": ("prob_phase2_go", {}),
    "mean total N": ("mean_total_n", {}),
    "mean duration (months)": ("mean_duration_months", {}),
}


def difference_frame(ds: xr.Dataset, reference: str) -> pd.DataFrame:
    """One row per scenario, other design and metric: the paired difference (design minus
    ``reference``) with its paired SE and, for comparison, the SE the two designs' own SEs
    would give if their trials were independent."""
    rows = []
    for scenario in ds["scenario"].to_numpy():
        for design in ds["design"].to_numpy():
            if design == reference:
                continue
            for label, (name, where) in DIFFERENCE_METRICS.items():
                pair = {"scenario": scenario, "design": design, "versus": reference, **where}
                own = np.hypot(
                    float(ds[f"{name}_se"].sel(scenario=scenario, design=design, **where)),
                    float(ds[f"{name}_se"].sel(scenario=scenario, design=reference, **where)),
                )
                rows.append(
                    {
                        "scenario": str(scenario),
                        "design": str(design),
                        "metric": label,
                        "difference": float(ds[f"{name}_diff"].sel(**pair)),
                        "paired_se": float(ds[f"{name}_diff_se"].sel(**pair)),
                        "unpaired_se": own,
                    }
                )
    return pd.DataFrame(rows)
