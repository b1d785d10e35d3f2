"""The computations a qualification case reruns, each through dartnk's public API only.

:data:`CHECKS` maps a check name (a case's ``check``) to a :class:`Check`: the inputs it
reads, the quantities it gives and the function that computes them from a case's inputs
(JSON values; 0-based dose indices). A check returns :class:`Obtained`: plain numbers,
lists, text, true/false or None (NaN and "no dose" become None), and for MCMC checks the
Monte Carlo standard error of each estimate. The MCMC checks live in
:mod:`dartnk.analyses.qualification_mcmc` and load PyMC only when run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CHECKS", "Check", "Obtained", "build_design"]


@dataclass(frozen=True)
class Obtained:
    """What a check computed: ``values`` by quantity name, and ``mcse`` (same names and
    shapes) for Monte Carlo estimates."""

    values: Mapping[str, Any]
    mcse: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Check:
    """A named computation: required ``inputs``, the ``outputs`` it gives, and ``run``."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    run: Callable[[Mapping[str, Any]], Obtained] = field(repr=False)


def _plain(value: Any) -> Any:
    """JSON-like values from numpy and pandas ones; NaN and pandas NA become None."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    return value


def _index(value: float | int | None) -> int | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else int(value)


def _column(frame: Any, name: str) -> list[Any]:
    return [_plain(v) for v in frame[name].astype(object).tolist()]


# ------------------------------------------------------------------ designs


def build_design(spec: Mapping[str, Any]) -> Any:
    """An escalation design from a case's ``design`` object: ``kind`` (``3+3``, ``BOIN``,
    ``CRM``, ``BLRM``) and the design's keyword arguments."""
    from dartnk.adaptive import BLRM, BOIN, CRM, ThreePlusThree

    options = {k: v for k, v in spec.items() if k != "kind"}
    kind = spec.get("kind")
    if kind == "3+3":
        return ThreePlusThree(options.pop("n_doses"), **options)
    if kind == "BOIN":
        return BOIN(options.pop("target"), **options)
    if kind == "CRM":
        return CRM(options.pop("skeleton"), options.pop("target"), **options)
    if kind == "BLRM":
        return BLRM(options.pop("doses"), options.pop("reference_dose"), **options)
    raise ValueError(f"design kind {kind!r} is not one of 3+3, BOIN, CRM, BLRM")


def _followup(inputs: Mapping[str, Any]) -> list[float | None] | None:
    return inputs.get("followup")


# ------------------------------------------------------------------ escalation


def _boin_boundaries(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.adaptive import BOIN

    options = {
        k: inputs[k]
        for k in ("cohort_size", "p_saf", "p_tox", "cutoff_eliminate", "extra_safe", "offset")
        if k in inputs
    }
    design = BOIN(inputs["target"], n_doses=5, **options)
    table = design.boundaries(inputs["max_n"])
    values = {
        "lambda_e": design.lambda_e,
        "lambda_d": design.lambda_d,
        "escalate_if_le": _column(table, "escalate_if_le"),
        "deescalate_if_ge": _column(table, "deescalate_if_ge"),
        "eliminate_if_ge": _column(table, "eliminate_if_ge"),
    }
    if "stop_if_ge" in table.columns:
        values["stop_if_ge"] = _column(table, "stop_if_ge")
    return Obtained(values)


def _boin_select_mtd(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.adaptive import BOIN

    n = inputs["n"]
    design = BOIN(inputs["target"], n_doses=len(n), extra_safe=inputs.get("extra_safe", False))
    return Obtained({"mtd": _index(design.select_mtd(n, inputs["y"]))})


_TITE_CODES = {1: "E", 0: "S", -1: "D"}


def _tite_boin_decisions(inputs: Mapping[str, Any]) -> Obtained:
    """Decisions at dose 2 of 5 (doses 0 and 1 with 3 complete patients each): n patients
    there, of whom y DLTs and m pending with standardized total follow-up STFT (each
    pending patient weighs STFT / m); codes E, S, D, DE (de-escalate and eliminate), SUS
    (suspend accrual)."""
    from dartnk.adaptive import BOIN, EscalationState, PendingBatch

    design = BOIN(inputs["target"], n_doses=5, window=inputs["window"])
    n = int(inputs["n"])
    states = inputs["states"]
    trials = len(states)
    counts = np.tile([3, 3, 0, 0, 0], (trials, 1))
    dlts = np.zeros((trials, 5), dtype=np.int64)
    weight = np.zeros((trials, n))
    mask = np.zeros((trials, n), dtype=bool)
    for t, (y, m, stft) in enumerate(states):
        counts[t, 2] = n - m
        dlts[t, 2] = y
        mask[t, :m] = True
        weight[t, :m] = stft / m if m else 0.0
    pending = PendingBatch(np.full((trials, n), 2), weight, mask)
    batch = design.decide(EscalationState.of(counts, dlts, np.full(trials, 2), pending=pending))
    codes = []
    for t in range(trials):
        if batch.wait[t]:
            codes.append("SUS")
        elif batch.stop[t]:
            codes.append("stop")
        else:
            step = int(batch.next_dose[t]) - 2
            code = _TITE_CODES.get(step, f"move {step}")
            codes.append("DE" if code == "D" and not batch.admissible[t, 2] else code)
    return Obtained({"decisions": codes})


def _crm_fit(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.adaptive import CRM

    options = {k: inputs[k] for k in ("model", "intercept", "prior_var", "window") if k in inputs}
    design = CRM(inputs["skeleton"], inputs["target"], **options)
    fit = design.fit(inputs["level"], inputs["dlt"], _followup(inputs))
    return Obtained(
        _plain(
            {
                "beta_mean": fit.beta_mean,
                "beta_var": fit.beta_var,
                "ptox_plugin": fit.ptox_plugin,
                "ptox_lower": fit.ptox_lower,
                "ptox_upper": fit.ptox_upper,
                "ptox_mean": fit.ptox_mean,
                "prob_over_target": fit.prob_exceeds(design.target),
                "mtd": fit.mtd,
            }
        )
    )


def _calibrate_skeleton(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.adaptive import calibrate_skeleton

    skeleton = calibrate_skeleton(
        inputs["target"],
        inputs["n_doses"],
        halfwidth=inputs["halfwidth"],
        prior_mtd=inputs["prior_mtd"],
        model=inputs.get("model", "empiric"),
        intercept=inputs.get("intercept", 3.0),
    )
    return Obtained({"skeleton": _plain(skeleton)})


def _blrm_fit(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.adaptive import BLRM

    options = {k: inputs[k] for k in ("prior_corr", "intervals", "window", "max_n") if k in inputs}
    design = BLRM(
        inputs["doses"],
        inputs["reference_dose"],
        prior_mean=inputs["prior_mean"],
        prior_sd=inputs["prior_sd"],
        **options,
    )
    fit = design.fit(inputs["level"], inputs["dlt"], _followup(inputs))
    return Obtained(
        _plain(
            {
                "prob_under": fit.prob_under,
                "prob_target": fit.prob_target,
                "prob_over": fit.prob_over,
                "ptox_mean": fit.ptox_mean,
                "log_alpha_mean": fit.log_alpha_mean,
                "log_beta_mean": fit.log_beta_mean,
                "admissible": fit.admissible,
            }
        )
    )


def _escalation_decision(inputs: Mapping[str, Any]) -> Obtained:
    design = build_design(inputs["design"])
    decision = design.recommend(inputs["level"], inputs["dlt"], _followup(inputs))
    return Obtained(
        {
            "next_dose": decision.next_dose,
            "stop": decision.stop,
            "mtd": decision.mtd,
            "wait": decision.wait,
        }
    )


def _decision_table(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.adaptive.pathways import decision_table

    table = decision_table(
        build_design(inputs["design"]), dose=inputs["dose"], max_n=inputs["max_n"]
    )
    return Obtained(
        {
            "decisions": [
                f"n={row.n} y={row.dlt}: {row.decision}" for row in table.itertuples(index=False)
            ]
        }
    )


def _pathways(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.adaptive.pathways import dose_transition_pathways

    result = dose_transition_pathways(
        build_design(inputs["design"]),
        inputs["level"],
        inputs["dlt"],
        _followup(inputs),
        cohorts=inputs["cohorts"],
    )
    nodes = result.summary()
    nodes = nodes[nodes["cohort"] >= 1]
    return Obtained(
        {"paths": [f"{row.path}: {row.decision}" for row in nodes.itertuples(index=False)]}
    )


def _three_plus_three_oc(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.adaptive import ThreePlusThree

    tox = inputs["true_tox"]
    oc = ThreePlusThree(len(tox), start=inputs["start"]).exact_oc(tox)
    return Obtained(
        _plain(
            {
                "prob_mtd": oc.prob_mtd,
                "prob_no_mtd": oc.prob_no_mtd,
                "expected_patients": oc.expected_patients,
                "expected_dlts": oc.expected_dlts,
                "expected_total": oc.expected_total,
            }
        )
    )


# ------------------------------------------------------------------ Phase 2


def _simon_values(design: Any) -> dict[str, Any]:
    return _plain(
        {
            "r1": design.r1,
            "n1": design.n1,
            "r": design.r,
            "n": design.n,
            "en_p0": design.en_p0,
            "pet_p0": design.pet_p0,
            "type_i_error": design.type_i_error,
            "power": design.power,
        }
    )


def _simon_design(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.adaptive import simon_two_stage

    design = simon_two_stage(
        inputs["p0"], inputs["p1"], inputs["alpha"], inputs["beta"], design=inputs["criterion"]
    )
    return Obtained(_simon_values(design))


def _simon_oc(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.adaptive import SimonDesign

    design = SimonDesign(
        inputs["r1"], inputs["n1"], inputs["r"], inputs["n"], p0=inputs["p0"], p1=inputs["p1"]
    )
    return Obtained(_simon_values(design))


def _predictive_design(spec: Mapping[str, Any]) -> Any:
    from dartnk.adaptive import PredictiveProbabilityDesign

    options = dict(spec)
    options["prior"] = tuple(options.get("prior", (0.5, 0.5)))
    if options.get("looks") is not None:
        options["looks"] = tuple(options["looks"])
    return PredictiveProbabilityDesign(
        options.pop("p0"), options.pop("p1"), options.pop("n_max"), **options
    )


def _predictive_probability(inputs: Mapping[str, Any]) -> Obtained:
    design = _predictive_design(inputs["design"])
    n, x = inputs["n"], inputs["x"]
    return Obtained(
        _plain(
            {
                "predictive_probability": design.predictive_probability(n, x),
                "posterior_probability": design.posterior_probability(n, x),
            }
        )
    )


def _predictive_boundaries(inputs: Mapping[str, Any]) -> Obtained:
    table = _predictive_design(inputs["design"]).boundaries()
    return Obtained(
        {
            "n": _column(table, "n"),
            "futility_if_le": _column(table, "futility_if_le"),
            "efficacy_if_ge": _column(table, "efficacy_if_ge"),
        }
    )


def _predictive_oc(inputs: Mapping[str, Any]) -> Obtained:
    oc = _predictive_design(inputs["design"]).exact_oc(inputs["rates"])
    return Obtained(
        _plain({"prob_promising": oc.prob_promising, "pet": oc.pet, "expected_n": oc.expected_n})
    )


def _monitor(inputs: Mapping[str, Any]) -> Any:
    from dartnk.adaptive import ToxicityMonitor

    looks = inputs.get("looks")
    return ToxicityMonitor(
        inputs["limit"],
        inputs["threshold"],
        prior=tuple(inputs.get("prior", (1.0, 1.0))),
        n_max=inputs["n_max"],
        min_n=inputs.get("min_n", 1),
        looks=None if looks is None else tuple(looks),
    )


def _toxicity_boundaries(inputs: Mapping[str, Any]) -> Obtained:
    table = _monitor(inputs).boundaries()
    return Obtained({"n": _column(table, "n"), "stop_if_ge": _column(table, "stop_if_ge")})


def _toxicity_oc(inputs: Mapping[str, Any]) -> Obtained:
    oc = _monitor(inputs).exact_oc(inputs["rates"])
    return Obtained(_plain({"prob_stop": oc.prob_stop, "expected_n": oc.expected_n}))


# ------------------------------------------------------------------ selection, survival, lots


def _select_construct(inputs: Mapping[str, Any]) -> Obtained:
    import xarray as xr

    from dartnk.adaptive import ExceedanceGate, select_construct

    constructs = list(inputs["constructs"])
    variables = {}
    for name, rows in inputs["components"].items():
        array = np.array([[np.nan if v is None else v for v in row] for row in rows], float)
        variables[name] = xr.DataArray(
            array, dims=("construct", "draw"), coords={"construct": constructs}
        )
    gate = inputs.get("gate")
    gates: Sequence[Any] = () if gate is None else (ExceedanceGate(gate[0], gate[1], gate[2]),)
    result = select_construct(
        xr.Dataset(variables),
        weights=inputs["weights"],
        desirability={k: tuple(v) for k, v in inputs["desirability"].items()},
        prob_best_threshold=inputs["prob_best_threshold"],
        gates=gates,
    )
    return Obtained(
        _plain(
            {
                "expected_score": result.expected_score.to_numpy(),
                "prob_best": result.prob_best.to_numpy(),
                "rank_probabilities": result.rank_probabilities.to_numpy(),
                "eligible": result.eligible.to_numpy(),
                "selected": _index(result.selected_index.to_numpy()),
            }
        )
    )


def _kaplan_meier(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.models import SurvivalData, kaplan_meier

    time = np.asarray(inputs["time"], dtype=float)
    data = SurvivalData(
        construct=np.zeros(time.size, dtype=np.int64),
        time=time,
        event=np.asarray(inputs["event"], dtype=bool),
        patient_ids=tuple(f"P{i}" for i in range(time.size)),
        constructs=("arm",),
    )
    row = kaplan_meier(data).iloc[0]
    median = float(row["median"])
    return Obtained(
        _plain(
            {
                "median": "not reached" if math.isinf(median) else median,
                "s6": row["s6"],
                "s12": row["s12"],
            }
        )
    )


def _beta_binomial(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.models import beta_binomial_posterior

    table = beta_binomial_posterior(
        inputs["released"], inputs["lots"], prior=inputs["prior"], prob=inputs["prob"]
    )
    return Obtained({k: _column(table, k) for k in ("mean", "sd", "median", "lower", "upper")})


def _best_overall_response(inputs: Mapping[str, Any]) -> Obtained:
    from dartnk.analyses import best_overall_response

    result = best_overall_response(
        inputs["days"], inputs["responses"], on_study=inputs.get("on_study", True)
    )
    return Obtained({"best": result.best, "awaiting_confirmation": result.awaiting_confirmation})


def _mcmc(name: str) -> Callable[[Mapping[str, Any]], Obtained]:
    def run(inputs: Mapping[str, Any]) -> Obtained:
        from . import qualification_mcmc

        return getattr(qualification_mcmc, name)(inputs)

    return run


_DESIGN = ("design",)
CHECKS: Mapping[str, Check] = {
    check.name: check
    for check in (
        Check(
            "boin_boundaries",
            ("target", "max_n"),
            (
                "lambda_e",
                "lambda_d",
                "escalate_if_le",
                "deescalate_if_ge",
                "eliminate_if_ge",
                "stop_if_ge",
            ),
            _boin_boundaries,
        ),
        Check("boin_select_mtd", ("target", "n", "y"), ("mtd",), _boin_select_mtd),
        Check(
            "tite_boin_decisions",
            ("target", "window", "n", "states"),
            ("decisions",),
            _tite_boin_decisions,
        ),
        Check(
            "crm_fit",
            ("skeleton", "target", "level", "dlt"),
            (
                "beta_mean",
                "beta_var",
                "ptox_plugin",
                "ptox_lower",
                "ptox_upper",
                "ptox_mean",
                "prob_over_target",
                "mtd",
            ),
            _crm_fit,
        ),
        Check(
            "calibrate_skeleton",
            ("target", "n_doses", "halfwidth", "prior_mtd"),
            ("skeleton",),
            _calibrate_skeleton,
        ),
        Check(
            "blrm_fit",
            ("doses", "reference_dose", "prior_mean", "prior_sd", "level", "dlt"),
            (
                "prob_under",
                "prob_target",
                "prob_over",
                "ptox_mean",
                "log_alpha_mean",
                "log_beta_mean",
                "admissible",
            ),
            _blrm_fit,
        ),
        Check(
            "escalation_decision",
            ("design", "level", "dlt"),
            ("next_dose", "stop", "mtd", "wait"),
            _escalation_decision,
        ),
        Check("decision_table", ("design", "dose", "max_n"), ("decisions",), _decision_table),
        Check("pathways", ("design", "level", "dlt", "cohorts"), ("paths",), _pathways),
        Check(
            "three_plus_three_oc",
            ("true_tox", "start"),
            ("prob_mtd", "prob_no_mtd", "expected_patients", "expected_dlts", "expected_total"),
            _three_plus_three_oc,
        ),
        Check(
            "simon_design",
            ("p0", "p1", "alpha", "beta", "criterion"),
            ("r1", "n1", "r", "n", "en_p0", "pet_p0", "type_i_error", "power"),
            _simon_design,
        ),
        Check(
            "simon_oc",
            ("r1", "n1", "r", "n", "p0", "p1"),
            ("r1", "n1", "r", "n", "en_p0", "pet_p0", "type_i_error", "power"),
            _simon_oc,
        ),
        Check(
            "predictive_probability",
            ("design", "n", "x"),
            ("predictive_probability", "posterior_probability"),
            _predictive_probability,
        ),
        Check(
            "predictive_boundaries",
            _DESIGN,
            ("n", "futility_if_le", "efficacy_if_ge"),
            _predictive_boundaries,
        ),
        Check(
            "predictive_oc",
            ("design", "rates"),
            ("prob_promising", "pet", "expected_n"),
            _predictive_oc,
        ),
        Check(
            "toxicity_boundaries",
            ("limit", "threshold", "n_max"),
            ("n", "stop_if_ge"),
            _toxicity_boundaries,
        ),
        Check(
            "toxicity_oc",
            ("limit", "threshold", "n_max", "rates"),
            ("prob_stop", "expected_n"),
            _toxicity_oc,
        ),
        Check(
            "select_construct",
            ("constructs", "components", "weights", "desirability", "prob_best_threshold"),
            ("expected_score", "prob_best", "rank_probabilities", "eligible", "selected"),
            _select_construct,
        ),
        Check("kaplan_meier", ("time", "event"), ("median", "s6", "s12"), _kaplan_meier),
        Check(
            "beta_binomial",
            ("released", "lots", "prior", "prob"),
            ("mean", "sd", "median", "lower", "upper"),
            _beta_binomial,
        ),
        Check(
            "best_overall_response",
            ("days", "responses"),
            ("best", "awaiting_confirmation"),
            _best_overall_response,
        ),
        Check(
            "mcmc_blrm",
            ("doses", "reference_dose", "prior_mean", "prior_sd", "level", "dlt", "sampling"),
            ("ptox_mean", "prob_over", "prob_under", "prob_target"),
            _mcmc("mcmc_blrm"),
        ),
        Check(
            "mcmc_crm",
            ("skeleton", "level", "dlt", "sampling"),
            ("beta_mean", "ptox_mean"),
            _mcmc("mcmc_crm"),
        ),
        Check(
            "mcmc_manufacturing",
            ("constructs", "lots", "released", "prior", "sampling"),
            ("mean",),
            _mcmc("mcmc_manufacturing"),
        ),
    )
}
