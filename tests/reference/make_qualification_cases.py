"""Build the reference cases of ``dartnk qualify`` (analyses/data/qualification/cases.json).

Independent of dartnk: nothing here imports it. Three kinds of expected values go into the
case file, each with its source:

- published values (papers), typed in below from the paper or its reference software;
- values from the R reference packages (BOIN, dfcrm, clinfun), read from the JSON that an R
  session wrote (``--r-values``; the R call, the package and R versions are recorded in each
  case); without ``--r-values`` the R cases of the existing case file are kept;
- independent computations: exact enumeration of the 3+3 by recursion over its rules,
  adaptive quadrature (``scipy.integrate.quad``) of the CRM and BLRM posteriors, direct
  summation of the predictive probability and of the monitors' operating characteristics,
  brute-force loops over draws for the composite selection, the product-limit estimate.

Run ``python tests/reference/make_qualification_cases.py [--r-values FILE]`` from the
repository root. ``dartnk qualify`` never runs this script: it reads the numbers from the
case file and recomputes them only through dartnk's public API.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
from pathlib import Path

import numpy as np
from scipy import integrate, special, stats

ROOT = Path(__file__).resolve().parents[2]
CASE_FILE = ROOT / "analyses" / "data" / "qualification" / "cases.json"
PUBLISHED = json.loads((ROOT / "tests" / "reference" / "published.json").read_text("utf-8"))
SCHEMA = "dartnk-qualification-cases/1"
LABELS5 = ["DL-1", "DL1", "DL2", "DL3", "DL4"]
PROTOCOL_SKELETON = [0.05, 0.12, 0.20, 0.30, 0.40]
PROTOCOL_DOSES = [5e7, 1e8, 3e8, 1e9, 2e9]
SCRIPT = "tests/reference/make_qualification_cases.py"

REFERENCES = {
    "storer-1989": {
        "kind": "paper",
        "citation": "Storer BE (1989). Design and analysis of phase I clinical trials. "
        "Biometrics 45:925-937",
    },
    "liu-yuan-2015": {
        "kind": "paper",
        "citation": "Liu S, Yuan Y (2015). Bayesian optimal interval designs for phase I "
        "clinical trials. JRSS-C 64:507-523 (boundaries as tabulated by BOIN 2.7.2)",
    },
    "yuan-2018": {
        "kind": "paper",
        "citation": "Yuan Y, Lin R, Li D, Nie L, Warren KE (2018). Time-to-event Bayesian "
        "optimal interval design to accelerate phase I trials. Clin Cancer Res "
        "24:4921-4930, Table 1 (target 0.2) and Table S1 (target 0.3)",
    },
    "simon-1989": {
        "kind": "paper",
        "citation": "Simon R (1989). Optimal two-stage designs for phase II clinical "
        "trials. Controlled Clinical Trials 10:1-10, Table 1",
    },
    "lee-liu-2008": {
        "kind": "paper",
        "citation": "Lee JJ, Liu DD (2008). A predictive probability design for phase II "
        "cancer clinical trials. Clinical Trials 5:93-106, worked example",
    },
    "neuenschwander-2008": {
        "kind": "paper",
        "citation": "Neuenschwander B, Branson M, Gsponer T (2008). Critical aspects of the "
        "Bayesian approach to phase I cancer trials. Stat Med 27:2420-2439, Figure 1 "
        "(posterior means read off the plot to two decimals)",
    },
    "eisenhauer-2009": {
        "kind": "paper",
        "citation": "Eisenhauer EA et al. (2009). New response evaluation criteria in solid "
        "tumours: revised RECIST guideline (version 1.1). Eur J Cancer 45:228-247, "
        "section 4.4 (confirmation at least 28 days later; SD at least 35 days)",
    },
    "enumeration": {
        "kind": "independent computation",
        "citation": "exact enumeration by recursion over the design's rules (case generator)",
    },
    "quadrature": {
        "kind": "independent computation",
        "citation": "adaptive quadrature of the posterior, scipy.integrate.quad (case generator)",
    },
    "summation": {
        "kind": "independent computation",
        "citation": "direct summation of beta-binomial and binomial terms (case generator)",
    },
    "brute-force": {
        "kind": "independent computation",
        "citation": "loops over posterior draws and weights (case generator)",
    },
    "product-limit": {
        "kind": "independent computation",
        "citation": "product-limit estimate by hand, Kaplan and Meier 1958 (case generator)",
    },
    "closed-form": {
        "kind": "independent computation",
        "citation": "conjugate Beta posterior in closed form, scipy.stats.beta (case generator)",
    },
}


def _case(case_id, method, check, reference, inputs, expected, tolerance=None, **extra):
    record = {
        "id": case_id,
        "method": method,
        "check": check,
        "reference": reference,
        "inputs": inputs,
        "expected": expected,
        "tolerance": tolerance or {},
    }
    record.update(extra)
    return record


def _na(values):
    return [None if v in ("NA", None) else int(v) for v in values]


# ------------------------------------------------------------------ published values


def published_cases():
    cases = []
    for table in PUBLISHED["boin_boundaries"]:
        target = table["target"]
        cases.append(
            _case(
                f"boin-published-boundaries-target-{target:g}",
                "BOIN",
                "boin_boundaries",
                "liu-yuan-2015",
                {"target": target, "cohort_size": table["cohortsize"], "max_n": 30},
                {
                    "lambda_e": table["lambda_e"],
                    "lambda_d": table["lambda_d"],
                    "escalate_if_le": table["escalate_if_le"],
                    "deescalate_if_ge": table["deescalate_if_ge"],
                    "eliminate_if_ge": table["eliminate_if_ge"],
                },
                {"absolute": 5e-8},
            )
        )
    for row in PUBLISHED["simon_two_stage"]:
        for criterion in ("optimal", "minimax"):
            design = row[criterion]
            cases.append(
                _case(
                    f"simon-published-{criterion}-p0-{row['p0']:g}-p1-{row['p1']:g}",
                    "Simon two-stage",
                    "simon_design",
                    "simon-1989",
                    {
                        "p0": row["p0"],
                        "p1": row["p1"],
                        "alpha": row["alpha"],
                        "beta": row["beta"],
                        "criterion": criterion,
                    },
                    {k: design[k] for k in ("r1", "n1", "r", "n", "en_p0", "pet_p0")},
                    {"absolute": 0.005},
                    note="EN(p0) printed to 2 decimals, PET(p0) to 4",
                )
            )
    example = PUBLISHED["lee_liu_2008_example"]
    cases.append(
        _case(
            "predictive-published-lee-liu-example",
            "Predictive probability",
            "predictive_probability",
            "lee-liu-2008",
            {
                "design": {
                    "p0": example["p0"],
                    "p1": 0.8,
                    "n_max": example["n_max"],
                    "prior": [example["a"], example["b"]],
                    "theta_t": example["theta_t"],
                    "theta_l": 0.05,
                },
                "n": example["n"],
                "x": example["x"],
            },
            {"predictive_probability": example["pp_published"]},
            {"absolute": 5e-5},
            note="PP printed to 4 decimals",
        )
    )
    cases.append(
        _case(
            "blrm-published-neuenschwander-2008-figure-1",
            "BLRM",
            "blrm_fit",
            "neuenschwander-2008",
            NBG_EXAMPLE,
            {
                "ptox_mean": [
                    0.01,
                    0.02,
                    0.05,
                    0.13,
                    0.19,
                    0.25,
                    0.30,
                    0.35,
                    0.47,
                    0.53,
                    0.68,
                    0.74,
                    0.85,
                    0.89,
                    0.92,
                ]
            },
            {"absolute": 0.04},
            note="values read off a figure; bcrm and trialr agree with them within 0.04",
        )
    )
    cases += tite_boin_cases()
    cases += recist_cases()
    return cases


NBG_EXAMPLE = {
    "doses": [1, 2.5, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 250],
    "reference_dose": 250,
    "prior_mean": [2.15, 0.52],
    "prior_sd": [0.84, 0.80],
    "prior_corr": 0.134 / (0.84 * 0.80),
    "intervals": [0.16, 0.33],
    "level": [0] * 3 + [1] * 4 + [2] * 5 + [3] * 4 + [6] * 2,
    "dlt": [0] * 16 + [1] * 2,
}

_YUAN_2018 = {
    0.2: """
    3 0 0 0 1 E; 3 0 0 2 + SUS; 3 1 1 0 2 D; 3 2 + 0 1 DE;
    6 0 0 0 3 E; 6 0 0 4 + SUS; 6 1 1 0 3 S; 6 1 1 4 + SUS; 6 2 2 0 4 D; 6 3 + 0 3 DE;
    9 0 0 0 4 E; 9 0 0 5 + SUS; 9 1 1 0 2 E; 9 1 1 3 3 ES 0.77; 9 1 1 4 4 ES 2.15;
    9 1 1 5 + SUS; 9 2 2 0 0 S; 9 2 2 1 1 SD 0.52; 9 2 2 2 2 SD 1.59; 9 2 2 3 3 SD 2.66;
    9 2 2 4 4 SD 3.73; 9 2 2 5 + SUS; 9 3 3 0 6 D; 9 4 + 0 5 DE;
    12 0 0 0 6 E; 12 0 0 7 + SUS; 12 1 1 0 5 E; 12 1 1 6 6 ES 1.24; 12 1 1 7 + SUS;
    12 2 2 0 6 S; 12 2 2 7 + SUS; 12 3 4 0 9 D; 12 5 + 0 7 DE;
    15 0 0 0 7 E; 15 0 0 8 + SUS; 15 1 1 0 7 E; 15 1 1 8 + SUS; 15 2 2 0 2 E;
    15 2 2 3 3 ES 1.14; 15 2 2 4 4 ES 2.31; 15 2 2 5 5 ES 3.48; 15 2 2 6 6 ES 4.65;
    15 2 2 7 7 ES 5.82; 15 2 2 8 + SUS; 15 3 3 0 2 S; 15 3 3 3 3 SD 1.16; 15 3 3 4 4 SD 2.34;
    15 3 3 5 5 SD 3.53; 15 3 3 6 6 SD 4.72; 15 3 3 7 7 SD 5.90; 15 3 3 8 + SUS;
    15 4 5 0 11 D; 15 6 + 0 9 DE
    """,
    0.3: """
    3 0 0 0 1 E; 3 0 0 2 + SUS; 3 1 1 0 0 S; 3 1 1 1 1 SD 0.88; 3 1 1 2 + SUS; 3 2 2 0 1 D;
    3 3 3 0 0 DE;
    6 0 0 0 3 E; 6 0 0 4 + SUS; 6 1 1 0 1 E; 6 1 1 2 2 ES 0.60; 6 1 1 3 3 ES 1.96;
    6 1 1 4 + SUS; 6 2 2 0 0 S; 6 2 2 1 1 SD 0.73; 6 2 2 2 2 SD 1.80; 6 2 2 3 3 SD 2.87;
    6 2 2 4 + SUS; 6 3 3 0 3 D; 6 4 + 0 2 DE;
    9 0 0 0 4 E; 9 0 0 5 + SUS; 9 1 1 0 4 E; 9 1 1 5 + SUS; 9 2 2 0 0 E; 9 2 2 1 1 ES 0.59;
    9 2 2 2 2 ES 1.65; 9 2 2 3 3 ES 2.71; 9 2 2 4 4 ES 3.77; 9 2 2 5 + SUS; 9 3 3 0 0 S;
    9 3 3 1 1 SD 0.58; 9 3 3 2 2 SD 1.65; 9 3 3 3 3 SD 2.72; 9 3 3 4 4 SD 3.79;
    9 3 3 5 + SUS; 9 4 4 0 5 D; 9 5 + 0 4 DE;
    12 0 0 0 6 E; 12 0 0 7 + SUS; 12 1 1 0 6 E; 12 1 1 7 + SUS; 12 2 2 0 3 E;
    12 2 2 4 4 ES 1.33; 12 2 2 5 5 ES 2.72; 12 2 2 6 6 ES 4.11; 12 2 2 7 + SUS;
    12 3 3 0 6 S; 12 3 3 7 + SUS; 12 4 4 0 0 S; 12 4 4 1 1 SD 0.43; 12 4 4 2 2 SD 1.50;
    12 4 4 3 3 SD 2.57; 12 4 4 4 4 SD 3.65; 12 4 4 5 5 SD 4.72; 12 4 4 6 6 SD 5.79;
    12 4 4 7 + SUS; 12 5 6 0 7 D; 12 7 + 0 5 DE;
    15 0 0 0 7 E; 15 0 0 8 + SUS; 15 1 1 0 7 E; 15 1 1 8 + SUS; 15 2 2 0 5 E;
    15 2 2 6 6 ES 0.35; 15 2 2 7 7 ES 2.07; 15 2 2 8 + SUS; 15 3 3 0 1 E;
    15 3 3 2 2 ES 0.11; 15 3 3 3 3 ES 1.29; 15 3 3 4 4 ES 2.46; 15 3 3 5 5 ES 3.64;
    15 3 3 6 6 ES 4.81; 15 3 3 7 7 ES 5.98; 15 3 3 8 + SUS; 15 4 4 0 7 S; 15 4 4 8 + SUS;
    15 5 5 0 0 S; 15 5 5 1 1 SD 0.28; 15 5 5 2 2 SD 1.35; 15 5 5 3 3 SD 2.42;
    15 5 5 4 4 SD 3.50; 15 5 5 5 5 SD 4.57; 15 5 5 6 6 SD 5.64; 15 5 5 7 7 SD 6.72;
    15 5 5 8 + SUS; 15 6 7 0 9 D; 15 8 + 0 7 DE
    """,
}


def tite_boin_cases():
    """One case per published row: every (DLTs y, pending m) state the row covers, at
    follow-up just above and below its STFT boundary (or at several follow-ups when the
    decision does not depend on it); decisions E, S, D, DE (eliminate) and SUS (suspend)."""
    cases = []
    for target, text in _YUAN_2018.items():
        for item in text.split(";"):
            fields = item.split()
            n, y_lo, y_hi, m_lo, m_hi, decision = fields[:6]
            bound = float(fields[6]) if len(fields) == 7 else None
            n, y_lo, m_lo = int(n), int(y_lo), int(m_lo)
            top = n if y_hi == "+" else int(y_hi)
            states, expected = [], []
            for y in range(y_lo, top + 1):
                last = n - y if m_hi == "+" else min(int(m_hi), n - y)
                for m in range(m_lo, last + 1):
                    if bound is None:
                        follow = [0.0] if m == 0 else [0.0, m / 2, m - 1e-6]
                        pairs = [(s, decision) for s in follow]
                    elif decision == "ES":
                        pairs = [(bound + 0.01, "E"), (bound - 0.01, "S")]
                    else:
                        pairs = [(bound - 0.01, "D"), (bound + 0.01, "S")]
                    for stft, code in pairs:
                        states.append([y, m, round(stft, 6)])
                        expected.append(code)
            row = "-".join(fields)
            cases.append(
                _case(
                    f"tite-boin-yuan-2018-target-{target:g}-row-{row}".replace(".", "p"),
                    "TITE-BOIN",
                    "tite_boin_decisions",
                    "yuan-2018",
                    {"target": target, "window": 90, "n": n, "states": states},
                    {"decisions": expected},
                    note=f"published row: n={n}, DLTs {y_lo}-{y_hi}, pending {m_lo}-{m_hi}, "
                    f"{decision}" + ("" if bound is None else f", STFT boundary {bound}"),
                )
            )
    return cases


def recist_cases():
    """Best overall response by the RECIST 1.1 rules with confirmation (CR or PR confirmed
    by a CR or PR at least 28 days later; SD counted from day 35), worked by hand."""
    rows = [
        ("confirmed-pr", [42, 84], ["PR", "PR"], True, "PR", False),
        ("confirmed-cr", [42, 84], ["CR", "CR"], True, "CR", False),
        ("cr-then-pr", [42, 84], ["CR", "PR"], True, "PR", False),
        ("sd-then-pd", [42, 84], ["SD", "PD"], True, "SD", False),
        ("early-sd-then-pd", [28, 56], ["SD", "PD"], True, "PD", False),
        ("pd-first", [42], ["PD"], True, "PD", False),
        ("not-evaluable", [42], ["NE"], False, "NE", False),
        ("pr-too-soon-then-pd", [42, 63, 98], ["PR", "PR", "PD"], True, "SD", False),
        ("pr-after-pd-ignored", [42, 84, 126], ["SD", "PD", "PR"], True, "SD", False),
    ]
    return [
        _case(
            f"recist-{name}",
            "RECIST 1.1 best overall response",
            "best_overall_response",
            "eisenhauer-2009",
            {"days": days, "responses": responses, "on_study": on_study},
            {"best": best, "awaiting_confirmation": awaiting},
        )
        for name, days, responses, on_study, best, awaiting in rows
    ]


# ------------------------------------------------------------------ R reference packages


def _r(record, versions):
    return {
        "r_call": record["call"],
        "r_package": f"{record['package']} {record['version']}",
        "r_version": versions["R"],
    }


def r_cases(r_values):
    versions = r_values["versions"]
    cases = []
    boin_tables = {}
    for record in r_values["records"]:
        kind, inputs, values = record["kind"], record["inputs"], record["values"]
        source = _r(record, versions)
        if kind == "boin_boundary":
            options = {
                "target": inputs["target"],
                "cohort_size": inputs["cohortsize"],
                "max_n": inputs["ncohort"] * inputs["cohortsize"],
            }
            for r_name, name in (
                ("p.saf", "p_saf"),
                ("p.tox", "p_tox"),
                ("cutoff.eli", "cutoff_eliminate"),
                ("extrasafe", "extra_safe"),
                ("offset", "offset"),
            ):
                if r_name in inputs:
                    options[name] = inputs[r_name]
            expected = {
                "lambda_e": values["lambda_e"],
                "lambda_d": values["lambda_d"],
                "escalate_if_le": _na(values["escalate_if_le"]),
                "deescalate_if_ge": _na(values["deescalate_if_ge"]),
                "eliminate_if_ge": _na(values["eliminate_if_ge"]),
            }
            if "stop_if_ge" in values:
                expected["stop_if_ge"] = _na(values["stop_if_ge"])
            name = "-".join(
                f"{k}-{v:g}" if not isinstance(v, bool) else k for k, v in options.items()
            )
            cases.append(
                _case(
                    f"boin-boundaries-{name}",
                    "BOIN",
                    "boin_boundaries",
                    "boin-r",
                    options,
                    expected,
                    {"absolute": 1e-10},
                    **source,
                )
            )
            boin_tables[name] = (options, expected, source)
        elif kind == "boin_select_mtd":
            mtd = values["mtd_1based"]
            options = {"target": inputs["target"], "n": inputs["npts"], "y": inputs["ntox"]}
            if inputs.get("extrasafe"):
                options["extra_safe"] = True
            cases.append(
                _case(
                    "boin-select-mtd-target-{:g}-n-{}-y-{}".format(
                        inputs["target"],
                        "-".join(str(v) for v in inputs["npts"]),
                        "-".join(str(v) for v in inputs["ntox"]),
                    )
                    + ("-extra-safe" if inputs.get("extrasafe") else ""),
                    "BOIN",
                    "boin_select_mtd",
                    "boin-r",
                    options,
                    {"mtd": None if mtd is None else mtd - 1},
                    **source,
                )
            )
        elif kind in ("dfcrm_crm", "dfcrm_titecrm"):
            tite = kind == "dfcrm_titecrm"
            options = {
                "skeleton": inputs["prior"],
                "target": inputs["target"],
                "model": inputs["model"],
                "level": [v - 1 for v in inputs["level"]],
                "dlt": inputs["tox"],
            }
            expected = {
                "beta_mean": values["beta_mean"],
                "beta_var": values["beta_var"],
                "ptox_plugin": values["ptox_plugin"],
                "mtd": values["mtd_1based"] - 1,
            }
            if tite:
                window = inputs["obswin"]
                options["window"] = window
                options["followup"] = [
                    None if (t == 1 or f >= window) else f
                    for t, f in zip(inputs["tox"], inputs["followup"], strict=True)
                ]
            else:
                expected["ptox_lower"] = values["ptox_lower"]
                expected["ptox_upper"] = values["ptox_upper"]
            method = "TITE-CRM" if tite else "CRM"
            cases.append(
                _case(
                    f"{method.lower()}-dfcrm-{kind}-{len(cases)}-{inputs['model']}".replace(
                        "_", "-"
                    ),
                    method,
                    "crm_fit",
                    "dfcrm-r",
                    options,
                    expected,
                    {"absolute": 1e-7},
                    **source,
                )
            )
        elif kind == "dfcrm_getprior":
            options = {
                "target": inputs["target"],
                "halfwidth": inputs["halfwidth"],
                "prior_mtd": inputs["nu"] - 1,
                "n_doses": inputs["nlevel"],
                "model": inputs.get("model", "empiric"),
            }
            if "intcpt" in inputs:
                options["intercept"] = inputs["intcpt"]
            cases.append(
                _case(
                    f"crm-skeleton-getprior-{len(cases)}",
                    "CRM skeleton calibration",
                    "calibrate_skeleton",
                    "dfcrm-r",
                    options,
                    {"skeleton": values["skeleton"]},
                    {"relative": 1e-10},
                    **source,
                )
            )
        elif kind == "dfcrm_crm_table":
            cases.append(crm_table_case(inputs, values, source))
        elif kind == "clinfun_ph2simon":
            for criterion in ("optimal", "minimax"):
                design = values[criterion]
                cases.append(
                    _case(
                        f"simon-clinfun-{criterion}-p0-{inputs['pu']:g}-p1-{inputs['pa']:g}-"
                        f"alpha-{inputs['ep1']:g}-beta-{inputs['ep2']:g}",
                        "Simon two-stage",
                        "simon_design",
                        "clinfun-r",
                        {
                            "p0": inputs["pu"],
                            "p1": inputs["pa"],
                            "alpha": inputs["ep1"],
                            "beta": inputs["ep2"],
                            "criterion": criterion,
                        },
                        design,
                        {"absolute": 1e-9},
                        **source,
                    )
                )
        elif kind == "clinfun_oc_twostage":
            cases.append(
                _case(
                    f"simon-clinfun-oc-{inputs['r1']}-{inputs['n1']}-{inputs['r']}-{inputs['n']}",
                    "Simon two-stage",
                    "simon_oc",
                    "clinfun-r",
                    {
                        "r1": inputs["r1"],
                        "n1": inputs["n1"],
                        "r": inputs["r"],
                        "n": inputs["n"],
                        "p0": inputs["pu"],
                        "p1": inputs["pa"],
                    },
                    {
                        "type_i_error": values["reject_p0"],
                        "power": values["reject_p1"],
                        "pet_p0": values["pet_p0"],
                        "en_p0": values["en_p0"],
                    },
                    {"absolute": 1e-10},
                    **source,
                )
            )
    for options, expected, source in boin_tables.values():
        if (
            options.get("cohort_size") == 3
            and options["target"] in (0.25, 0.3)
            and len(options) == 3
        ):
            cases.append(boin_table_case(options, expected, source))
            cases.append(boin_pathway_case(options, expected, source))
    references = {
        "boin-r": {"kind": "R package", "citation": f"BOIN {versions['BOIN']} (R {versions['R']})"},
        "dfcrm-r": {
            "kind": "R package",
            "citation": f"dfcrm {versions['dfcrm']} (R {versions['R']})",
        },
        "clinfun-r": {
            "kind": "R package",
            "citation": f"clinfun {versions['clinfun']} (R {versions['R']})",
        },
    }
    return cases, references


def _words(current, next_dose, stop, mtd, labels):
    if stop:
        return "stop, no MTD" if mtd is None else f"stop, MTD {labels[mtd]}"
    if next_dose > current:
        return f"escalate to {labels[next_dose]}"
    if next_dose < current:
        return f"de-escalate to {labels[next_dose]}"
    return f"stay at {labels[next_dose]}"


def crm_table_case(inputs, values, source):
    """The CRM's decision at one dose with no other dose tried: dfcrm's model dose, at most
    one level above the dose tried (no skipping), and no escalation after a DLT there
    (coherence)."""
    dose = inputs["dose"] - 1
    decisions = []
    for cell in values["cells"]:
        model = cell["mtd_1based"] - 1
        chosen = min(model, dose + 1)
        if cell["y"] > 0:
            chosen = min(chosen, dose)
        decisions.append(
            f"n={cell['n']} y={cell['y']}: {_words(dose, chosen, False, None, LABELS5)}"
        )
    design = {
        "kind": "CRM",
        "skeleton": inputs["prior"],
        "target": inputs["target"],
        "model": inputs["model"],
        "start": dose,
        "labels": LABELS5,
    }
    return _case(
        f"decision-table-crm-{inputs['model']}",
        "Decision tables",
        "decision_table",
        "dfcrm-r",
        {"design": design, "dose": dose, "max_n": inputs["max_n"]},
        {"decisions": decisions},
        **source,
        note="dfcrm's model dose per (n, DLTs), then no skipping and coherence",
    )


def _boin_rule(expected, n, y, top, current, low_eliminated=False):
    esc = expected["escalate_if_le"][n - 1]
    dee = expected["deescalate_if_ge"][n - 1]
    eli = expected["eliminate_if_ge"][n - 1]
    if eli is not None and y >= eli:
        if current == 0:
            return None, True
        return current - 1, False
    if y <= esc:
        return (current + 1 if current < top else current), False
    if y >= dee:
        return (current - 1 if current > 0 else current), False
    return current, False


def boin_table_case(options, expected, source):
    """BOIN's decision at dose DL2 (0-based 2 of 5) with no other dose tried, from
    get.boundary's table: eliminate (de-escalate) at or above the elimination boundary,
    escalate at or below lambda_e n, de-escalate at or above the de-escalation boundary."""
    dose, max_n = 2, 12
    decisions = []
    for n in range(1, max_n + 1):
        for y in range(n + 1):
            nxt, stop = _boin_rule(expected, n, y, 4, dose)
            decisions.append(f"n={n} y={y}: {_words(dose, nxt, stop, None, LABELS5)}")
    design = {
        "kind": "BOIN",
        "target": options["target"],
        "n_doses": 5,
        "start": dose,
        "labels": LABELS5,
    }
    return _case(
        f"decision-table-boin-target-{options['target']:g}",
        "Decision tables",
        "decision_table",
        "boin-r",
        {"design": design, "dose": dose, "max_n": max_n},
        {"decisions": decisions},
        **source,
        note="decisions from get.boundary's boundaries at a dose with no other dose tried",
    )


def boin_pathway_case(options, expected, source):
    """Two cohorts of 3 from an empty arm starting at DL1: each path and the decision after
    it, from get.boundary's boundaries (elimination of the current dose and those above)."""
    start, top = 1, 4
    paths = []
    frontier = [("", [0] * 5, [0] * 5, start)]
    for _ in range(2):
        children = []
        for path, n, y, dose in frontier:
            if dose is None:
                continue
            for k in range(4):
                n2, y2 = list(n), list(y)
                n2[dose] += 3
                y2[dose] += k
                step = f"{LABELS5[dose]} {k}/3"
                full = f"{path} > {step}" if path else step
                nxt, stop = _boin_step(expected, n2, y2, dose, top)
                paths.append(f"{full}: {_words(dose, nxt, stop, None, LABELS5)}")
                children.append((full, n2, y2, None if stop else nxt))
        frontier = children
    design = {
        "kind": "BOIN",
        "target": options["target"],
        "n_doses": 5,
        "start": start,
        "labels": LABELS5,
    }
    return _case(
        f"pathways-boin-target-{options['target']:g}",
        "Dose-transition pathways",
        "pathways",
        "boin-r",
        {"design": design, "level": [], "dlt": [], "cohorts": 2},
        {"paths": paths},
        **source,
        note="decisions from get.boundary's boundaries, eliminated doses never given again",
    )


def _boin_step(expected, n, y, current, top):
    """BOIN decision with elimination of every dose at or above an eliminated one."""
    first = top + 1
    for d in range(top + 1):
        eli = expected["eliminate_if_ge"][n[d] - 1] if n[d] else None
        if eli is not None and y[d] >= eli:
            first = d
            break
    if first == 0:
        return None, True
    if current >= first:
        return first - 1, False
    nxt, _ = _boin_rule(expected, n[current], y[current], top, current)
    if nxt > current and nxt >= first:
        nxt = current
    return nxt, False


# ------------------------------------------------------------------ the modified 3+3


def three_plus_three_rule(n, y, current, top):
    """(next dose or None, MTD or None) of the protocol's modified 3+3 after a cohort."""
    nd, yd = n[current], y[current]
    if yd >= 2:
        if current == 0:
            return None, None
        below = current - 1
        if n[below] >= 6:
            return None, below
        return below, None
    if nd not in (3, 6):
        return current, None
    can_escalate = current < top and y[current + 1] < 2
    if nd == 3 and yd == 1:
        return current, None
    if can_escalate:
        return current + 1, None
    if nd == 3:
        return current, None
    return None, current


def three_plus_three_oc(true_tox, start):
    top = len(true_tox) - 1
    doses = len(true_tox)
    cohort = [[math.comb(3, k) * p**k * (1 - p) ** (3 - k) for k in range(4)] for p in true_tox]

    @functools.cache
    def walk(n, y, current):
        """(P(MTD = d) for each d, E[patients per dose], E[DLTs per dose]) from this state,
        before the cohort at ``current``."""
        mtd = np.zeros(doses)
        pts = np.zeros(doses)
        dlts = np.zeros(doses)
        for k in range(4):
            weight = cohort[current][k]
            if weight == 0.0:
                continue
            n2 = list(n)
            y2 = list(y)
            n2[current] += 3
            y2[current] += k
            nxt, chosen = three_plus_three_rule(n2, y2, current, top)
            if nxt is None:
                if chosen is not None:
                    mtd[chosen] += weight
                pts += weight * np.array(n2)
                dlts += weight * np.array(y2)
                continue
            m, p, d = walk(tuple(n2), tuple(y2), nxt)
            mtd += weight * m
            pts += weight * p
            dlts += weight * d
        return mtd, pts, dlts

    mtd, pts, dlts = walk((0,) * doses, (0,) * doses, start)
    return {
        "prob_mtd": mtd.tolist(),
        "prob_no_mtd": float(1.0 - mtd.sum()),
        "expected_patients": pts.tolist(),
        "expected_dlts": dlts.tolist(),
        "expected_total": float(pts.sum()),
    }


def three_plus_three_cases():
    scenarios = [
        ([0.05, 0.10, 0.20, 0.35, 0.50], 1),
        ([0.02, 0.05, 0.08, 0.12, 0.15], 1),
        ([0.30, 0.45, 0.60, 0.70, 0.80], 1),
        ([0.05, 0.08, 0.15, 0.30, 0.45], 1),
        ([0.10, 0.25, 0.40, 0.55, 0.70], 1),
        ([0.01, 0.03, 0.33, 0.50, 0.66], 1),
        ([0.10, 0.20, 0.30, 0.40, 0.50, 0.60], 0),
        ([0.15, 0.35, 0.55], 0),
        ([0.25], 0),
        ([0.0, 0.0, 0.0, 1.0], 0),
    ]
    cases = []
    for index, (tox, start) in enumerate(scenarios, start=1):
        cases.append(
            _case(
                f"three-plus-three-exact-oc-scenario-{index}",
                "Modified 3+3",
                "three_plus_three_oc",
                "enumeration",
                {"true_tox": tox, "start": start},
                three_plus_three_oc(tox, start),
                {"absolute": 1e-12},
            )
        )
    # the decision table at DL1 (0-based 1 of 5), patients n = 3 or 6 and every DLT count
    decisions = []
    for n in range(1, 7):
        for y in range(n + 1):
            counts = [0, n, 0, 0, 0]
            dlts = [0, y, 0, 0, 0]
            nxt, mtd = three_plus_three_rule(counts, dlts, 1, 4)
            decisions.append(f"n={n} y={y}: {_words(1, nxt, nxt is None, mtd, LABELS5)}")
    design = {"kind": "3+3", "n_doses": 5, "start": 1, "labels": LABELS5}
    cases.append(
        _case(
            "decision-table-three-plus-three-dl1",
            "Decision tables",
            "decision_table",
            "storer-1989",
            {"design": design, "dose": 1, "max_n": 6},
            {"decisions": decisions},
            note="the protocol's rules applied by hand (two DLTs decide before the cohort ends)",
        )
    )
    cases.append(
        _case(
            "pathways-three-plus-three-two-cohorts",
            "Dose-transition pathways",
            "pathways",
            "enumeration",
            {"design": design, "level": [], "dlt": [], "cohorts": 2},
            {"paths": three_plus_three_paths(design["start"], 4, 2)},
        )
    )
    cases.append(
        _case(
            "pathways-three-plus-three-from-dl2-1-of-3",
            "Dose-transition pathways",
            "pathways",
            "enumeration",
            {
                "design": design,
                "level": [1, 1, 1, 2, 2, 2],
                "dlt": [0, 0, 0, 1, 0, 0],
                "cohorts": 2,
            },
            {"paths": three_plus_three_paths(2, 4, 2, n=[0, 3, 3, 0, 0], y=[0, 0, 1, 0, 0])},
        )
    )
    cases += three_plus_three_pending_cases(design)
    return cases


def three_plus_three_paths(current, top, cohorts, n=None, y=None):
    """Every outcome of the next cohorts of 3 and the decision after each, from the counts
    ``n``, ``y`` at the current dose (an empty arm starts at ``current``)."""
    n = [0] * (top + 1) if n is None else list(n)
    y = [0] * (top + 1) if y is None else list(y)
    first = three_plus_three_rule(n, y, current, top)[0] if any(n) else current
    frontier = [("", n, y, first)]
    lines = []
    for _ in range(cohorts):
        children = []
        for path, cn, cy, dose in frontier:
            if dose is None:
                continue
            for k in range(4):
                n2, y2 = list(cn), list(cy)
                n2[dose] += 3
                y2[dose] += k
                step = f"{LABELS5[dose]} {k}/3"
                full = f"{path} > {step}" if path else step
                nxt, mtd = three_plus_three_rule(n2, y2, dose, top)
                lines.append(f"{full}: {_words(dose, nxt, nxt is None, mtd, LABELS5)}")
                children.append((full, n2, y2, nxt))
        frontier = children
    return lines


def three_plus_three_pending_cases(design):
    """Patients inside the DLT window: the decision every outcome of theirs agrees on, or
    wait (the common rule of every design without a window)."""
    rows = [
        ("could-change", [1, 1, 1, 2, 2, 2], [0, 0, 0, 1, 0, 0], [None] * 4 + [10, 12]),
        ("cannot-change", [1, 1, 1, 2, 2, 2], [0, 0, 0, 1, 1, 0], [None] * 5 + [12]),
        (
            "escalate-or-stay-waits",
            [1, 1, 1, 1, 1, 1, 2, 2, 2],
            [0, 1, 0, 0, 0, 0, 0, 0, 0],
            [None] * 8 + [20],
        ),
        (
            "stop-waits",
            [1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3],
            [0] * 4 + [1] + [0] * 4 + [1, 1, 0],
            [None] * 11 + [5],
        ),
    ]
    cases = []
    for name, level, dlt, followup in rows:
        cases.append(
            _case(
                f"three-plus-three-pending-{name}",
                "Pending patients",
                "escalation_decision",
                "enumeration",
                {"design": design, "level": level, "dlt": dlt, "followup": followup},
                _pending_decision(level, dlt, followup),
                note="every combination of the pending outcomes decided by the 3+3 rules",
            )
        )
    return cases


def _pending_decision(level, dlt, followup):
    top = 4
    known = [f is None for f in followup]
    pending = [i for i, k in enumerate(known) if not k]
    current = level[-1]
    outcomes = []
    for combo in itertools.product((0, 1), repeat=len(pending)):
        n = [0] * 5
        y = [0] * 5
        for i, d in enumerate(level):
            if known[i]:
                n[d] += 1
                y[d] += dlt[i]
        for i, outcome in zip(pending, combo, strict=True):
            n[level[i]] += 1
            y[level[i]] += outcome
        outcomes.append(three_plus_three_rule(n, y, current, top))
    if all(o == outcomes[0] for o in outcomes):
        nxt = outcomes[0][0]
        if nxt is None:
            return {"next_dose": None, "stop": False, "mtd": None, "wait": True}
        return {"next_dose": nxt, "stop": False, "mtd": None, "wait": False}
    return {"next_dose": None, "stop": False, "mtd": None, "wait": True}


# ------------------------------------------------------------------ CRM by quadrature


def _crm_log_rates(beta, scaled, model, intercept):
    """log p and log(1 - p) of the working model, stable in the tails."""
    if model == "empiric":
        log_p = np.exp(beta) * scaled
        return log_p, np.log(-np.expm1(log_p))
    theta = intercept + np.exp(beta) * scaled
    return -np.logaddexp(0.0, -theta), -np.logaddexp(0.0, theta)


def crm_posterior(skeleton, model, level, dlt, prior_var=1.34, intercept=3.0, pending=()):
    s = np.asarray(skeleton, dtype=float)
    scaled = np.log(s) if model == "empiric" else special.logit(s) - intercept
    n = np.bincount(level, minlength=s.size).astype(float)
    y = np.bincount(level, weights=dlt, minlength=s.size)

    def rates(beta):
        return np.exp(_crm_log_rates(beta, scaled, model, intercept)[0])

    def log_post(beta):
        log_p, log_q = _crm_log_rates(beta, scaled, model, intercept)
        value = -0.5 * beta**2 / prior_var + float(np.sum(y * log_p + (n - y) * log_q))
        for d, w in pending:
            value += math.log1p(-w * math.exp(log_p[d]))
        return value

    mode = max(np.linspace(-6, 6, 241), key=log_post)
    shift = log_post(mode)

    def expect(function, upper=12.0):
        return integrate.quad(
            lambda b: function(b) * math.exp(log_post(b) - shift),
            -12,
            upper,
            points=[mode] if mode < upper else None,
            limit=400,
            epsabs=1e-13,
            epsrel=1e-12,
        )[0]

    z = expect(lambda b: 1.0)
    return rates, expect, z


def crm_tail(skeleton, model, level, dlt, dose, target, intercept=3.0):
    """P(p_dose > target | data): the rates decrease in beta, so the event is beta < beta*,
    integrated up to beta* exactly."""
    s = skeleton[dose]
    if model == "empiric":
        cut = math.log(math.log(target) / math.log(s))
    else:
        cut = math.log((special.logit(target) - intercept) / (special.logit(s) - intercept))
    _, expect, z = crm_posterior(skeleton, model, level, dlt, intercept=intercept)
    return expect(lambda b: 1.0, upper=cut) / z


def crm_quadrature_cases():
    data = [
        ("empiric", [1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 0], 0.30),
        ("logistic", [1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 0], 0.30),
        ("empiric", [1, 1, 1, 2, 2, 2, 3, 3, 3], [0, 0, 0, 0, 0, 1, 1, 1, 0], 0.30),
        ("empiric", [1, 1, 1], [1, 1, 1], 0.30),
        ("logistic", [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4], [0] * 12 + [1, 1, 1], 0.25),
    ]
    cases = []
    for index, (model, level, dlt, target) in enumerate(data, start=1):
        rates, expect, z = crm_posterior(PROTOCOL_SKELETON, model, level, dlt)
        mean = [expect(lambda b, d=d, rates=rates: rates(b)[d]) / z for d in range(5)]
        over = [crm_tail(PROTOCOL_SKELETON, model, level, dlt, d, target) for d in range(5)]
        beta_mean = expect(lambda b: b) / z
        cases.append(
            _case(
                f"crm-quadrature-{index}-{model}",
                "CRM",
                "crm_fit",
                "quadrature",
                {
                    "skeleton": PROTOCOL_SKELETON,
                    "target": target,
                    "model": model,
                    "level": level,
                    "dlt": dlt,
                },
                {"beta_mean": beta_mean, "ptox_mean": mean, "prob_over_target": over},
                {"absolute": 1e-6},
            )
        )
    return cases


# ------------------------------------------------------------------ BLRM by quadrature


def blrm_posterior(spec):
    x = np.log(np.asarray(spec["doses"], float) / spec["reference_dose"])
    mu = np.asarray(spec["prior_mean"], float)
    sd = np.asarray(spec["prior_sd"], float)
    rho = float(spec.get("prior_corr", 0.0))
    level = np.asarray(spec["level"], int)
    dlt = np.asarray(spec["dlt"], float)
    followup = spec.get("followup")
    window = spec.get("window")
    weights = np.ones(level.size)
    if followup is not None and window is not None:
        for i, f in enumerate(followup):
            if f is not None and dlt[i] == 0 and f < window:
                weights[i] = f / window
    elif followup is not None:
        keep = np.array([f is None for f in followup])
        level, dlt, weights = level[keep], dlt[keep], weights[keep]

    def log_post(a, b):
        za, zb = (a - mu[0]) / sd[0], (b - mu[1]) / sd[1]
        prior = -0.5 * (za**2 - 2 * rho * za * zb + zb**2) / (1 - rho**2)
        theta = a + math.exp(b) * x[level]
        log_p = -np.logaddexp(0.0, -theta)
        p = np.exp(log_p)
        like = np.where(dlt == 1, log_p, np.log1p(-weights * p))
        return prior + float(like.sum())

    from scipy.optimize import minimize

    best = minimize(
        lambda v: -log_post(v[0], v[1]),
        mu,
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
    )
    shift = -best.fun
    a_lo, a_hi = mu[0] - 9 * sd[0], mu[0] + 9 * sd[0]
    b_lo, b_hi = mu[1] - 9 * sd[1], mu[1] + 9 * sd[1]

    def density(a, b):
        return math.exp(log_post(a, b) - shift)

    def integral(inner):
        return integrate.quad(
            lambda b: inner(b), b_lo, b_hi, points=[best.x[1]], limit=200, epsabs=1e-10, epsrel=1e-9
        )[0]

    def over_a(function, b, low=a_lo):
        low = min(max(low, a_lo), a_hi)
        points = [best.x[0]] if low < best.x[0] < a_hi else None
        return integrate.quad(
            lambda a: function(a, b) * density(a, b),
            low,
            a_hi,
            points=points,
            limit=200,
            epsabs=1e-10,
            epsrel=1e-9,
        )[0]

    z = integral(lambda b: over_a(lambda a, b: 1.0, b))

    def prob_at_least(d, c):
        cut = float(special.logit(c))
        return integral(lambda b: over_a(lambda a, b: 1.0, b, low=cut - math.exp(b) * x[d])) / z

    def mean_rate(d):
        return integral(lambda b: over_a(lambda a, b: special.expit(a + math.exp(b) * x[d]), b)) / z

    def mean_parameter(index):
        return integral(lambda b: over_a(lambda a, b: (a, b)[index], b)) / z

    return prob_at_least, mean_rate, mean_parameter, x.size


_BLRM_CACHE: dict[str, dict] = {}
_POSTERIOR_KEYS = (
    "doses",
    "reference_dose",
    "prior_mean",
    "prior_sd",
    "prior_corr",
    "intervals",
    "level",
    "dlt",
    "followup",
    "window",
)


def blrm_expected(spec):
    key = json.dumps({k: spec.get(k) for k in _POSTERIOR_KEYS})
    if key not in _BLRM_CACHE:
        _BLRM_CACHE[key] = _blrm_expected(spec)
    return _BLRM_CACHE[key]


def _blrm_expected(spec):
    prob_at_least, mean_rate, mean_parameter, doses = blrm_posterior(spec)
    low, high = spec.get("intervals", [0.16, 0.33])
    above_low = [prob_at_least(d, low) for d in range(doses)]
    over = [prob_at_least(d, high) for d in range(doses)]
    return {
        "prob_under": [1 - v for v in above_low],
        "prob_target": [a - o for a, o in zip(above_low, over, strict=True)],
        "prob_over": over,
        "ptox_mean": [mean_rate(d) for d in range(doses)],
        "log_alpha_mean": mean_parameter(0),
        "log_beta_mean": mean_parameter(1),
    }


BLRM_PROTOCOL = {
    "doses": PROTOCOL_DOSES,
    "reference_dose": 3e8,
    "prior_mean": [-0.85, 0.0],
    "prior_sd": [2.0, 1.0],
    "prior_corr": 0.0,
    "intervals": [0.16, 0.33],
    "max_n": 18,
}
BLRM_DATA = [
    ("dl-1-0-of-3", [0, 0, 0], [0, 0, 0]),
    ("dl1-0-of-3", [1, 1, 1], [0, 0, 0]),
    ("dl1-2-of-3", [1, 1, 1], [1, 1, 0]),
    ("dl1-dl2-1-of-6", [1, 1, 1, 2, 2, 2, 2, 2, 2], [0, 0, 0, 0, 1, 0, 0, 0, 0]),
    ("to-dl3", [1, 1, 1, 2, 2, 2, 3, 3, 3], [0, 0, 0, 0, 0, 0, 1, 1, 0]),
    (
        "eighteen",
        [1] * 3 + [2] * 6 + [3] * 6 + [4] * 3,
        [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0],
    ),
]


def blrm_cases():
    cases = []
    for name, level, dlt in BLRM_DATA:
        spec = dict(BLRM_PROTOCOL, level=level, dlt=dlt)
        cases.append(
            _case(
                f"blrm-quadrature-{name}",
                "BLRM",
                "blrm_fit",
                "quadrature",
                spec,
                blrm_expected(spec),
                {"absolute": 2e-3},
                note="dartnk's fixed grid is documented to agree with adaptive integration to 1e-3",
            )
        )
    correlated = dict(
        BLRM_PROTOCOL, prior_corr=-0.5, level=[1, 1, 1, 2, 2, 2], dlt=[0, 0, 0, 1, 0, 0]
    )
    cases.append(
        _case(
            "blrm-quadrature-correlated-prior",
            "BLRM",
            "blrm_fit",
            "quadrature",
            correlated,
            blrm_expected(correlated),
            {"absolute": 2e-3},
        )
    )
    tite = dict(
        BLRM_PROTOCOL,
        level=[1, 1, 1, 2, 2, 2, 3, 3],
        dlt=[0, 0, 0, 0, 1, 0, 0, 0],
        followup=[None] * 5 + [20.0, 5.0, 14.0],
        window=28.0,
    )
    cases.append(
        _case(
            "tite-blrm-quadrature-pending",
            "BLRM",
            "blrm_fit",
            "quadrature",
            tite,
            blrm_expected(tite),
            {"absolute": 2e-3},
            note="pending patients weighed by min(1, follow-up / 28) (Cheung and Chappell 2000)",
        )
    )
    nbg = dict(NBG_EXAMPLE)
    cases.append(
        _case(
            "blrm-quadrature-neuenschwander-2008-example",
            "BLRM",
            "blrm_fit",
            "quadrature",
            nbg,
            blrm_expected(nbg),
            {"absolute": 2e-3},
            note="the published example's data and prior",
        )
    )
    for name, level, dlt in BLRM_DATA[1:5]:
        spec = dict(BLRM_PROTOCOL, level=level, dlt=dlt)
        expected = blrm_expected(spec)
        cases.append(
            _case(
                f"blrm-ewoc-decision-{name}",
                "BLRM",
                "escalation_decision",
                "quadrature",
                {
                    "design": dict(BLRM_PROTOCOL, kind="BLRM", start=1, labels=LABELS5),
                    "level": level,
                    "dlt": dlt,
                },
                _blrm_decision(expected, level, start=1),
                note="EWOC P(overdose) < 0.25, highest P(target) within one level of the "
                "highest dose tried, from the quadrature probabilities",
            )
        )
    return cases


def _blrm_decision(expected, level, start):
    over = expected["prob_over"]
    target = expected["prob_target"]
    admissible = [o < 0.25 for o in over]
    highest = max(level) if level else -1
    ceiling = max(highest + 1, start)
    allowed = [d for d in range(len(over)) if admissible[d] and d <= ceiling]
    if not allowed:
        return {"next_dose": None, "stop": True, "mtd": None, "wait": False}
    best = max(allowed, key=lambda d: (target[d], -d))
    return {"next_dose": best, "stop": False, "mtd": None, "wait": False}


# ------------------------------------------------------------------ Phase 2 rules


def _beta_tail(p0, a, b):
    return 1.0 - special.betainc(a, b, p0)


def _betabinom_pmf(i, m, a, b):
    log = (
        special.gammaln(m + 1)
        - special.gammaln(i + 1)
        - special.gammaln(m - i + 1)
        + special.betaln(a + i, b + m - i)
        - special.betaln(a, b)
    )
    return math.exp(log)


def predictive_probability(design, n, x):
    a, b = design["prior"]
    m = design["n_max"] - n
    total = 0.0
    for i in range(m + 1):
        final = _beta_tail(design["p0"], a + x + i, b + design["n_max"] - x - i)
        if final > design["theta_t"]:
            total += _betabinom_pmf(i, m, a + x, b + n - x)
    return total


def _looks(design):
    looks = design.get("looks")
    looks = list(range(1, design["n_max"] + 1)) if looks is None else sorted(set(looks))
    if design["n_max"] not in looks:
        looks.append(design["n_max"])
    return looks


def predictive_action(design, n, x):
    """'futility', 'efficacy' or 'continue' at look n with x responses."""
    if n == design["n_max"]:
        a, b = design["prior"]
        final = _beta_tail(design["p0"], a + x, b + n - x)
        return "efficacy" if final > design["theta_t"] else "futility"
    pp = predictive_probability(design, n, x)
    if pp < design["theta_l"]:
        return "futility"
    if design.get("theta_u") is not None and pp > design["theta_u"]:
        return "efficacy"
    return "continue"


def single_arm_oc(looks, action, rate, n_max):
    """Forward over patients one at a time: P(on study with x responses), stopping at the
    looks where ``action`` says so. Returns P(efficacy), P(stop before the last look), E[N]."""
    states = {0: 1.0}
    promising = early = expected_n = 0.0
    for n in range(1, n_max + 1):
        nxt = {}
        for x, prob in states.items():
            nxt[x + 1] = nxt.get(x + 1, 0.0) + prob * rate
            nxt[x] = nxt.get(x, 0.0) + prob * (1 - rate)
        states = nxt
        if n in looks:
            kept = {}
            for x, prob in states.items():
                verdict = action(n, x)
                if verdict == "continue" and n < n_max:
                    kept[x] = prob
                    continue
                expected_n += n * prob
                if verdict in ("efficacy", "toxicity"):
                    promising += prob
                if n < n_max and verdict != "continue":
                    early += prob
            states = kept
    return promising, early, expected_n


PP_DESIGNS = {
    "lee-liu": {
        "p0": 0.6,
        "p1": 0.8,
        "n_max": 40,
        "prior": [0.6, 0.4],
        "theta_t": 0.9,
        "theta_l": 0.05,
    },
    "protocol": {
        "p0": 0.15,
        "p1": 0.35,
        "n_max": 20,
        "prior": [0.5, 0.5],
        "theta_t": 0.9,
        "theta_l": 0.05,
        "looks": [10, 15],
    },
    "uniform": {
        "p0": 0.2,
        "p1": 0.4,
        "n_max": 30,
        "prior": [1, 1],
        "theta_t": 0.95,
        "theta_l": 0.1,
    },
    "efficacy-stop": {
        "p0": 0.2,
        "p1": 0.4,
        "n_max": 25,
        "prior": [0.2, 0.8],
        "theta_t": 0.85,
        "theta_l": 0.02,
        "theta_u": 0.95,
    },
}


def predictive_cases():
    cases = []
    points = {
        "lee-liu": [(10, 5), (23, 16), (23, 14), (30, 20), (39, 27)],
        "protocol": [(10, 1), (10, 3), (15, 3), (15, 5)],
        "uniform": [(5, 0), (12, 3), (25, 7)],
        "efficacy-stop": [(8, 4), (15, 2), (20, 8)],
    }
    for name, design in PP_DESIGNS.items():
        for n, x in points[name]:
            a, b = design["prior"]
            cases.append(
                _case(
                    f"predictive-summation-{name}-n-{n}-x-{x}",
                    "Predictive probability",
                    "predictive_probability",
                    "summation",
                    {"design": design, "n": n, "x": x},
                    {
                        "predictive_probability": predictive_probability(design, n, x),
                        "posterior_probability": _beta_tail(design["p0"], a + x, b + n - x),
                    },
                    {"absolute": 1e-10},
                )
            )
        looks = _looks(design)
        futility, efficacy = [], []
        for n in looks:
            actions = [predictive_action(design, n, x) for x in range(n + 1)]
            fut = [x for x, v in enumerate(actions) if v == "futility"]
            eff = [x for x, v in enumerate(actions) if v == "efficacy"]
            futility.append(max(fut) if fut else None)
            efficacy.append(min(eff) if eff else None)
        cases.append(
            _case(
                f"predictive-boundaries-{name}",
                "Predictive probability",
                "predictive_boundaries",
                "summation",
                {"design": design},
                {"n": looks, "futility_if_le": futility, "efficacy_if_ge": efficacy},
            )
        )
        rates = [design["p0"], design["p1"]]
        oc = [
            single_arm_oc(
                set(looks), lambda n, x, d=design: predictive_action(d, n, x), r, design["n_max"]
            )
            for r in rates
        ]
        cases.append(
            _case(
                f"predictive-exact-oc-{name}",
                "Predictive probability",
                "predictive_oc",
                "summation",
                {"design": design, "rates": rates},
                {
                    "prob_promising": [o[0] for o in oc],
                    "pet": [o[1] for o in oc],
                    "expected_n": [o[2] for o in oc],
                },
                {"absolute": 1e-10},
            )
        )
    return cases


MONITORS = {
    "protocol": {"limit": 0.33, "threshold": 0.8, "prior": [1, 1], "n_max": 20, "min_n": 3},
    "strict": {"limit": 0.25, "threshold": 0.9, "prior": [0.5, 0.5], "n_max": 30, "min_n": 5},
    "looks": {
        "limit": 0.3,
        "threshold": 0.85,
        "prior": [1, 2],
        "n_max": 24,
        "min_n": 6,
        "looks": [6, 12, 18, 24],
    },
}


def toxicity_cases():
    cases = []
    for name, monitor in MONITORS.items():
        a, b = monitor["prior"]
        looks = monitor.get("looks") or list(range(monitor["min_n"], monitor["n_max"] + 1))

        def stops(n, y, monitor=monitor, a=a, b=b):
            return _beta_tail(monitor["limit"], a + y, b + n - y) > monitor["threshold"]

        bounds = []
        for n in looks:
            hits = [y for y in range(n + 1) if stops(n, y)]
            bounds.append(min(hits) if hits else None)
        cases.append(
            _case(
                f"toxicity-monitor-boundaries-{name}",
                "Toxicity monitor",
                "toxicity_boundaries",
                "summation",
                monitor,
                {"n": looks, "stop_if_ge": bounds},
            )
        )
        rates = [0.1, 0.2, monitor["limit"], 0.5]

        def action(n, y, stops=stops):
            return "toxicity" if stops(n, y) else "continue"

        oc = [single_arm_oc(set(looks), action, r, monitor["n_max"]) for r in rates]
        cases.append(
            _case(
                f"toxicity-monitor-exact-oc-{name}",
                "Toxicity monitor",
                "toxicity_oc",
                "summation",
                dict(monitor, rates=rates),
                {"prob_stop": [o[0] for o in oc], "expected_n": [o[2] for o in oc]},
                {"absolute": 1e-10},
            )
        )
    return cases


# ------------------------------------------------------------------ composite selection

WEIGHTS = {"safety": 0.35, "efficacy": 0.30, "kinetics": 0.20, "manufacturability": 0.15}
RANGES = {
    "safety": [0.40, 0.10],
    "efficacy": [0.10, 0.40],
    "kinetics": [2.0, 5.0],
    "manufacturability": [0.70, 0.95],
}
SPREAD = {
    "safety": (0.02, 0.45),
    "efficacy": (0.05, 0.50),
    "kinetics": (1.5, 5.5),
    "manufacturability": (0.60, 1.00),
}


def selection_brute_force(values, weights, ranges, threshold, gate):
    constructs = len(next(iter(values.values())))
    draws = len(next(iter(values.values()))[0])
    available = [all(not math.isnan(values[k][c][0]) for k in values) for c in range(constructs)]
    score = [[math.nan] * draws for _ in range(constructs)]
    for c in range(constructs):
        if not available[c]:
            continue
        for s in range(draws):
            total = 0.0
            for name, weight in weights.items():
                worst, best = ranges[name]
                total += weight * min(1.0, max(0.0, (values[name][c][s] - worst) / (best - worst)))
            score[c][s] = total
    prob_best = [0.0] * constructs
    ranks = [[0.0] * constructs for _ in range(constructs)]
    for s in range(draws):
        column = {c: score[c][s] for c in range(constructs) if available[c]}
        position = 0
        for value in sorted(set(column.values()), reverse=True):
            group = [c for c in column if column[c] == value]
            for c in group:
                for r in range(position, position + len(group)):
                    ranks[c][r] += 1.0 / len(group) / draws
                if position == 0:
                    prob_best[c] += 1.0 / len(group) / draws
            position += len(group)
        missing = [c for c in range(constructs) if not available[c]]
        for c in missing:
            for r in range(position, constructs):
                ranks[c][r] += 1.0 / len(missing) / draws
    passed = []
    for c in range(constructs):
        if not available[c]:
            passed.append(False)
            continue
        if gate is None:
            passed.append(True)
            continue
        share = sum(v >= gate[1] for v in values[gate[0]][c]) / draws
        passed.append(share < gate[2])
    best = max(prob_best)
    leaders = [c for c in range(constructs) if prob_best[c] == best]
    selected = None
    if len(leaders) == 1 and passed[leaders[0]] and best >= threshold:
        selected = leaders[0]
    mean = [sum(row) / draws if available[c] else None for c, row in enumerate(score)]
    return {
        "expected_score": mean,
        "prob_best": prob_best,
        "rank_probabilities": ranks,
        "eligible": passed,
        "selected": selected,
    }


def selection_cases():
    cases = []
    rng = np.random.default_rng(np.random.SeedSequence(20261201))
    settings = [
        ("clear-leader", {"shift": [0.15, 0.0, -0.1]}, None, 0.5),
        ("close-race", {"shift": [0.02, 0.0, 0.01]}, None, 0.5),
        ("ties-copied", {"copy": True}, None, 0.4),
        ("no-dose-for-c", {"missing": 2}, None, 0.5),
        ("safety-gate", {"shift": [0.15, 0.0, -0.1], "toxic": 0}, ["safety", 0.33, 0.25], 0.5),
        ("two-components", {"components": ["safety", "efficacy"]}, None, 0.3),
    ]
    for name, options, gate, threshold in settings:
        names = options.get("components", list(WEIGHTS))
        weights = (
            {k: WEIGHTS[k] for k in names} if len(names) == 4 else {"safety": 0.5, "efficacy": 0.5}
        )
        values = {}
        for k in names:
            low, high = SPREAD[k]
            array = rng.uniform(low, high, (3, 10))
            shift = options.get("shift")
            if shift is not None:
                sign = -1 if RANGES[k][1] < RANGES[k][0] else 1
                array = array + sign * np.array(shift)[:, None] * (high - low)
            values[k] = np.round(array, 4)
        if options.get("copy"):
            for k in names:
                values[k][2, :5] = values[k][0, :5]
        if "missing" in options:
            values["safety"][options["missing"]] = np.nan
        if "toxic" in options:
            values["safety"][options["toxic"], :4] = 0.36
        listed = {
            k: [[None if math.isnan(v) else float(v) for v in row] for row in values[k]]
            for k in names
        }
        expected = selection_brute_force(
            {k: values[k].tolist() for k in names}, weights, RANGES, threshold, gate
        )
        inputs = {
            "constructs": ["A", "B", "C"],
            "components": listed,
            "weights": weights,
            "desirability": {k: RANGES[k] for k in weights},
            "prob_best_threshold": threshold,
            "gate": gate,
        }
        cases.append(
            _case(
                f"selection-brute-force-{name}",
                "Composite selection",
                "select_construct",
                "brute-force",
                inputs,
                expected,
                {"absolute": 1e-12},
            )
        )
    return cases


# ------------------------------------------------------------------ survival and lots


def product_limit(time, event, months=30.4375):
    order = sorted(range(len(time)), key=lambda i: time[i])
    survival, curve = 1.0, []
    times = sorted(set(time))
    for t in times:
        at_risk = sum(1 for u in time if u >= t)
        deaths = sum(1 for u, e in zip(time, event, strict=True) if u == t and e)
        if deaths:
            survival *= 1.0 - deaths / at_risk
        curve.append((t, survival))
    del order
    median = next((t for t, s in curve if s <= 0.5), math.inf)

    def at(t):
        value = 1.0
        for u, s in curve:
            if u <= t:
                value = s
        return value if t <= max(time) or value == 0 else None

    return {"median": median, "s6": at(6 * months), "s12": at(12 * months)}


def survival_cases():
    rows = [
        ("small", [30, 60, 90, 120, 150, 200, 250, 300, 365, 400], [1, 1, 0, 1, 1, 0, 1, 1, 0, 0]),
        (
            "ties",
            [45, 45, 90, 90, 90, 180, 180, 270, 300, 420, 450, 500],
            [1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 0],
        ),
        ("not-reached", [100, 150, 200, 250, 400, 410, 420, 430], [1, 0, 0, 0, 0, 0, 0, 0]),
    ]
    cases = []
    for name, time, event in rows:
        expected = product_limit(time, event)
        if math.isinf(expected["median"]):
            expected["median"] = "not reached"
        cases.append(
            _case(
                f"kaplan-meier-{name}",
                "Kaplan-Meier",
                "kaplan_meier",
                "product-limit",
                {"time": time, "event": event},
                expected,
                {"absolute": 1e-12},
            )
        )
    for name, released, lots, prior in (
        ("three", [9, 7, 4], [10, 10, 6], [1, 1]),
        ("jeffreys", [12, 0], [12, 3], [0.5, 0.5]),
    ):
        a, b = prior
        rows_ = []
        for s, n in zip(released, lots, strict=True):
            dist = stats.beta(a + s, b + n - s)
            rows_.append([dist.mean(), dist.std(), dist.median(), dist.ppf(0.05), dist.ppf(0.95)])
        cases.append(
            _case(
                f"lot-release-beta-binomial-{name}",
                "Beta-binomial lot release",
                "beta_binomial",
                "closed-form",
                {"released": released, "lots": lots, "prior": prior, "prob": 0.9},
                {
                    k: [r[i] for r in rows_]
                    for i, k in enumerate(("mean", "sd", "median", "lower", "upper"))
                },
                {"absolute": 1e-12},
            )
        )
    return cases


# ------------------------------------------------------------------ MCMC against quadrature


def mcmc_cases():
    cases = []
    plan = {"chains": 2, "draws": 1000, "tune": 1000}
    for name, level, dlt, seed in (
        ("dl1-dl2-1-of-6", [1, 1, 1, 2, 2, 2, 2, 2, 2], [0, 0, 0, 0, 1, 0, 0, 0, 0], 20261),
        ("to-dl3", [1, 1, 1, 2, 2, 2, 3, 3, 3], [0, 0, 0, 0, 0, 0, 1, 1, 0], 20262),
    ):
        spec = dict(BLRM_PROTOCOL, level=level, dlt=dlt)
        spec.pop("max_n")
        expected = blrm_expected(spec)
        cases.append(
            _case(
                f"mcmc-blrm-{name}",
                "BLRM in PyMC",
                "mcmc_blrm",
                "quadrature",
                dict(spec, sampling=dict(plan, seed=seed)),
                {"ptox_mean": expected["ptox_mean"], "prob_over": expected["prob_over"]},
                {"absolute": 2e-3, "mcse_multiple": 4},
                mcmc=True,
            )
        )
    tite = dict(
        BLRM_PROTOCOL,
        level=[1, 1, 1, 2, 2, 2, 3, 3],
        dlt=[0, 0, 0, 0, 1, 0, 0, 0],
        followup=[None] * 5 + [20.0, 5.0, 14.0],
        window=28.0,
    )
    tite.pop("max_n")
    expected = blrm_expected(tite)
    cases.append(
        _case(
            "mcmc-tite-blrm-pending",
            "BLRM in PyMC",
            "mcmc_blrm",
            "quadrature",
            dict(tite, sampling=dict(plan, seed=20263)),
            {"ptox_mean": expected["ptox_mean"], "prob_over": expected["prob_over"]},
            {"absolute": 2e-3, "mcse_multiple": 4},
            mcmc=True,
        )
    )
    level, dlt = [1, 1, 1, 2, 2, 2, 3, 3, 3], [0, 0, 0, 0, 0, 1, 1, 1, 0]
    rates, expect, z = crm_posterior(PROTOCOL_SKELETON, "empiric", level, dlt)
    cases.append(
        _case(
            "mcmc-crm-empiric",
            "CRM in PyMC",
            "mcmc_crm",
            "quadrature",
            {
                "skeleton": PROTOCOL_SKELETON,
                "model": "empiric",
                "level": level,
                "dlt": dlt,
                "sampling": dict(plan, seed=20264),
            },
            {
                "beta_mean": expect(lambda b: b) / z,
                "ptox_mean": [expect(lambda b, d=d: rates(b)[d]) / z for d in range(5)],
            },
            {"absolute": 1e-3, "mcse_multiple": 4},
            mcmc=True,
        )
    )
    released, lots, prior = [9, 7, 4], [10, 10, 6], [1, 1]
    cases.append(
        _case(
            "mcmc-lot-release",
            "Beta-binomial lot release in PyMC",
            "mcmc_manufacturing",
            "closed-form",
            {
                "constructs": ["A", "B", "C"],
                "lots": lots,
                "released": released,
                "prior": prior,
                "sampling": dict(plan, seed=20265),
            },
            {
                "mean": [
                    (prior[0] + s) / (prior[0] + prior[1] + n)
                    for s, n in zip(released, lots, strict=True)
                ]
            },
            {"absolute": 1e-3, "mcse_multiple": 4},
            mcmc=True,
        )
    )
    return cases


# ------------------------------------------------------------------ assembly


METHOD_ORDER = (
    "Modified 3+3",
    "CRM",
    "TITE-CRM",
    "CRM skeleton calibration",
    "BOIN",
    "TITE-BOIN",
    "BLRM",
    "Pending patients",
    "Decision tables",
    "Dose-transition pathways",
    "Predictive probability",
    "Simon two-stage",
    "Toxicity monitor",
    "Composite selection",
    "RECIST 1.1 best overall response",
    "Kaplan-Meier",
    "Beta-binomial lot release",
    "BLRM in PyMC",
    "CRM in PyMC",
    "Beta-binomial lot release in PyMC",
)


def _check_finite(cases):
    def walk(value, where):
        if isinstance(value, float) and not math.isfinite(value):
            raise SystemExit(f"{where}: {value}")
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        if isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    for case in cases:
        walk(case, case["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--r-values", type=Path, help="JSON written by the R session")
    parser.add_argument("--output", type=Path, default=CASE_FILE)
    arguments = parser.parse_args()
    references = dict(REFERENCES)
    if arguments.r_values is not None:
        r_values = json.loads(arguments.r_values.read_text("utf-8"))
        from_r, r_references = r_cases(r_values)
    else:
        existing = json.loads(arguments.output.read_text("utf-8"))
        from_r = [c for c in existing["cases"] if "r_call" in c]
        r_references = {k: v for k, v in existing["references"].items() if k.endswith("-r")}
    references.update(r_references)
    cases = (
        published_cases()
        + from_r
        + three_plus_three_cases()
        + crm_quadrature_cases()
        + blrm_cases()
        + predictive_cases()
        + toxicity_cases()
        + selection_cases()
        + survival_cases()
        + mcmc_cases()
    )
    order = {method: i for i, method in enumerate(METHOD_ORDER)}
    cases.sort(key=lambda c: order[c["method"]])
    ids = [c["id"] for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SystemExit(f"duplicate case ids: {duplicates}")
    document = {
        "schema": SCHEMA,
        "about": (
            "Reference cases of dartnk qualify: each case names the method, the check that "
            "recomputes it through dartnk's public API, its reference, its inputs (0-based dose "
            "indices), the expected values and the tolerance (|obtained - expected| <= absolute "
            "+ relative x |expected| + mcse_multiple x MCSE; other values must be equal). Built "
            f"by the case generator {SCRIPT}, which does not import dartnk; R values were "
            "computed offline by the R packages named in each case."
        ),
        "references": references,
        "cases": cases,
    }
    _check_finite(cases)
    text = json.dumps(document, indent=1, sort_keys=False, allow_nan=False) + "\n"
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(text, encoding="utf-8")
    print(f"wrote {len(cases)} cases to {arguments.output}")


if __name__ == "__main__":
    main()
