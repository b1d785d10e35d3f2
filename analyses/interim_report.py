"""The interim report as a document: decisions first, then the data, the models, the
selection and the diagnostics, with the manifest a regulator reruns it from.

Built here from the analysis's ``summary()`` frames, ArviZ summaries and figures; rendered
by :mod:`dartnk.reports`, which fits nothing.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from dartnk.reports import (
    Alert,
    BulletList,
    Document,
    Figure,
    KeyValues,
    Manifest,
    Paragraph,
    Section,
    environment_versions,
    posterior_summary_table,
    table_from_frame,
)

from ._fit_figures import draw_figure, fit_figures

if TYPE_CHECKING:
    from .interim import InterimAnalysis

__all__ = ["interim_document", "table_digests"]

_VERSIONED = ("dartnk", "numpy", "scipy", "pymc", "pytensor", "arviz", "pandas", "xarray")
_MODEL_TITLES = {
    "toxicity": "Dose-toxicity",
    "response": "Response",
    "kinetics": "Kinetics",
    "manufacturing": "Manufacturing",
    "pfs": "Progression-free survival",
    "os": "Overall survival",
}


def table_digests(tables: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """SHA-256 of each table's canonical CSV (columns in contract order, rows as given,
    ``\\n`` line ends), for a data cut given as frames rather than files."""
    out = {}
    for name in sorted(tables):
        text = tables[name].to_csv(index=False, lineterminator="\n")
        out[f"{name} (table)"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return out


def interim_document(
    analysis: InterimAnalysis,
    *,
    command: Sequence[str] = (),
    inputs: Mapping[str, str] | None = None,
) -> Document:
    """The report document of an interim analysis (module docstring)."""
    protocol = analysis.protocol
    sections = [
        _decisions(analysis),
        _enrolment(analysis),
        _dlt_listing(analysis),
        _pathways(analysis),
        _toxicity(analysis),
        _selection(analysis),
        *(_outcome(analysis, name) for name in ("response", "kinetics", "manufacturing")),
        _survival(analysis),
        _diagnostics(analysis),
    ]
    return Document(
        title=f"{protocol.name} interim analysis at cut-off study day {analysis.cutoff}",
        subtitle=(
            f"{len(analysis.trial.patients)} patients enrolled; constructs "
            + ", ".join(f"{c.id} {c.product} ({'/'.join(c.antigens)})" for c in protocol.constructs)
            + f"; protocol {protocol.content_hash[:12]}; seed {analysis.seed}"
        ),
        alerts=tuple(Alert(level, text) for level, text in analysis.flags),
        sections=tuple(s for s in sections if s is not None),
        manifest=_manifest(analysis, command, inputs),
    )


# --- decisions ------------------------------------------------------------------------------


def _decisions(analysis: InterimAnalysis) -> Section:
    protocol = analysis.protocol
    selection = analysis.selection
    summary = analysis.summary()
    chosen = summary["selected"].to_numpy(dtype=bool)
    candidate = table_from_frame(
        summary,
        caption="Construct selection: candidate dose, component means, composite score",
        columns=[
            "construct",
            "product",
            "candidate_dose",
            "source",
            *(f"{name}_mean" for name in analysis.components.data_vars),
            "expected_score",
            "prob_best",
            "passes_gates",
            "selected",
        ],
        labels={
            "candidate_dose": "candidate dose",
            "safety_mean": "DLT rate",
            "efficacy_mean": "ORR",
            "kinetics_mean": "log10 AUC0-28",
            "manufacturability_mean": "release rate",
            "expected_score": "E[score]",
            "prob_best": "P(best)",
            "passes_gates": "gates",
        },
        formats={"prob_best": ".3f", "expected_score": ".3f"},
        highlight_rows={"selected": chosen},
        highlight_cells={"flagged": {"passes_gates": ~summary["passes_gates"].to_numpy(bool)}},
        emphasis_labels={"selected": "selected construct", "flagged": "gate failed"},
        id="selection-summary",
    )
    gates = table_from_frame(
        selection.gates,
        caption="Gates of each construct, with the numbers",
        id="gates",
    )
    settings = protocol.selection
    weights = ", ".join(f"{k} {v:g}" for k, v in settings.weights.items())
    decision_items = [
        ("Selection", analysis.decision),
        ("Selected construct", analysis.selected or "none"),
        ("P(best) threshold", f"{settings.prob_best_threshold:g}"),
        ("Weights", weights),
        (
            "Safety gate",
            f"P(DLT rate >= {protocol.toxicity.overdose_from:g}) < {protocol.toxicity.ewoc:g} "
            f"at the candidate dose",
        ),
    ]
    advice = analysis.recommendation.summary()
    next_dose = table_from_frame(
        advice.drop(columns=["reasons"]),
        caption="Next dose per arm under the protocol's 3+3 and each model-based design "
        "(pending patients included)",
        highlight_rows={"flagged": advice["wait"].to_numpy(bool)},
        emphasis_labels={"flagged": "waiting for follow-up"},
        id="next-dose",
    )
    reasons = [
        f"Arm {arm}, {name}: {decision.action} — "
        + "; ".join(f"{rule}: {text}" for rule, text in decision.reasons)
        for arm, name, decision in analysis.recommendation.decisions
        if name == "3+3"
    ]
    withheld = [text for level, text in analysis.flags if level == "error" and ("withheld" in text)]
    blocks: list[Any] = [
        KeyValues(tuple(decision_items), caption="Decision"),
        candidate,
        gates,
        next_dose,
        Paragraph("Reasons of the protocol's 3+3, arm by arm:"),
        BulletList(tuple(reasons)),
    ]
    if withheld:
        blocks.insert(0, Alert("error", "Withheld: " + " ".join(withheld)))
    return Section(title="Decisions", id="decisions", blocks=tuple(blocks))


# --- data -----------------------------------------------------------------------------------


def _enrolment(analysis: InterimAnalysis) -> Section:
    counts = analysis.trial.summary(by_phase=True)
    shown = counts[counts["patients"] > 0] if (counts["patients"] > 0).any() else counts
    shown = shown.reset_index(drop=True)
    return Section(
        title="Enrolment",
        id="enrolment",
        blocks=(
            table_from_frame(
                shown,
                caption="Patients, DLTs, pending patients and responses by arm, dose level and "
                "phase (dose levels without patients left out)",
                id="enrolment-table",
            ),
        ),
    )


def _dlt_listing(analysis: InterimAnalysis) -> Section:
    trial = analysis.trial
    events = trial.tables["adverse_events"]
    patients = trial.patients.set_index("patient_id")
    dlts = events[events["is_dlt"].fillna(False).astype(bool)].copy()
    known = dlts["patient_id"].isin(patients.index)
    dlts = dlts[known]
    horizon = trial.cutoff - patients.loc[dlts["patient_id"], "first_infusion_day"].astype(float)
    dlts = dlts[dlts["onset_day"].astype(float).to_numpy() <= horizon.to_numpy()]
    listing = pd.DataFrame(
        {
            "patient_id": dlts["patient_id"].to_numpy(),
            "construct": patients.loc[dlts["patient_id"], "construct"].to_numpy(),
            "dose_level": patients.loc[dlts["patient_id"], "dose_level"].to_numpy(),
            "phase": patients.loc[dlts["patient_id"], "phase"].to_numpy(),
            "term": dlts["term"].to_numpy(),
            "category": dlts["category"].to_numpy(),
            "grade": dlts["grade"].to_numpy(),
            "onset_day": dlts["onset_day"].to_numpy(),
        }
    ).sort_values(["construct", "dose_level", "patient_id", "onset_day"], kind="stable")
    listing = listing.reset_index(drop=True)
    blocks: list[Any] = []
    if listing.empty:
        blocks.append(Paragraph("No dose-limiting toxicity recorded by the cut-off."))
    else:
        blocks.append(
            table_from_frame(
                listing,
                caption="Dose-limiting toxicities known at the cut-off (onset day from the "
                "first infusion)",
                labels={"onset_day": "onset day"},
                id="dlt-table",
            )
        )
    pending = trial.patients[trial.patients["dlt_status"] == "pending"]
    if len(pending):
        blocks.append(
            table_from_frame(
                pending[
                    ["patient_id", "construct", "dose_level", "followup_days", "tite_weight"]
                ].reset_index(drop=True),
                caption="Patients still inside the DLT window (follow-up 0: awaiting the first "
                "infusion)",
                labels={"followup_days": "follow-up (days)", "tite_weight": "TITE weight"},
                formats={"tite_weight": ".3f"},
                id="pending-table",
            )
        )
    return Section(title="DLT listing", id="dlt-listing", blocks=tuple(blocks))


def _pathways(analysis: InterimAnalysis) -> Section:
    """Dose-transition pathways of the protocol's 3+3 from each arm's current state (its
    pending patients resolved first), and BOIN's decision table at the start dose."""
    from dartnk.adaptive.pathways import (
        decision_table,
        dose_transition_pathways,
        plot_decision_table,
    )

    from .designs import build_design

    protocol = analysis.protocol
    standard = build_design(protocol, "3+3")
    blocks: list[Any] = []
    for arm in protocol.construct_ids:
        data = analysis.trial.escalation_data(arm)
        tree = dose_transition_pathways(
            standard,
            data.level,
            data.dlt,
            data.followup,
            cohorts=1,
            cohort_size=protocol.phase1.cohort_size,
        )
        blocks.append(
            Figure.from_matplotlib(
                tree.plot(),
                id=f"pathways-{arm.lower()}",
                caption=f"Arm {arm}: the protocol's 3+3 after every outcome of the pending "
                f"patients and of the next cohort",
                alt=f"Tree of the next decisions of arm {arm}",
            )
        )
    boin = build_design(protocol, "BOIN")
    table = decision_table(boin)
    figure = plot_decision_table(table, title="BOIN at the start dose")
    blocks.append(
        Figure.from_matplotlib(
            figure,
            id="boin-decision-table",
            caption="BOIN's decision for every number of patients and DLTs at one dose "
            "(eliminated: the dose and every higher dose are never given again)",
            alt="Grid of BOIN decisions by patients and DLTs",
        )
    )
    return Section(title="Dose-transition pathways", id="pathways", blocks=tuple(blocks))


# --- models ---------------------------------------------------------------------------------


def _fit_figure(
    analysis: InterimAnalysis, name: str, figure_id: str, caption: str, alt: str
) -> Figure | None:
    """Figure ``figure_id`` of model ``name``'s fit: the SVG drawn where the fit was made,
    or drawn here by the same rule (:mod:`dartnk.analyses._fit_figures`); ``None`` for an
    optional figure the fit has none of."""
    tasks = fit_figures(name, ewoc=analysis.protocol.toxicity.ewoc)
    task = next(t for t in tasks if t.id == figure_id)
    if figure_id in analysis.drawn_figures:
        svg = analysis.drawn_figures[figure_id]
    else:
        svg = draw_figure(analysis.fits[name], task)
    if svg is None:
        return None
    return Figure(id=figure_id, svg=svg, caption=caption, alt=alt)


def _posterior(fit: Any, caption: str, id: str) -> Any:
    gates = fit.diagnostics.gates
    return posterior_summary_table(
        fit.summary(), caption=caption, rhat_max=gates.max_rhat, ess_min=gates.min_ess_bulk, id=id
    )


def _toxicity(analysis: InterimAnalysis) -> Section:
    fit = analysis.fits["toxicity"]
    intervals = fit.interval_probabilities()
    over = intervals["prob_over"].to_numpy() >= analysis.protocol.toxicity.ewoc
    counts = fit.counts[["n", "dlt", "pending"]].reset_index(drop=True)
    table = pd.concat([intervals[["construct", "dose"]], counts, intervals.iloc[:, 2:]], axis=1)
    low, high = fit.intervals
    blocks = [
        _fit_figure(
            analysis,
            "toxicity",
            "dose-toxicity",
            caption=f"Dose-toxicity per construct ({fit.name}): posterior median DLT rate with "
            f"a 90% credible band, the target interval [{low:g}, {high:g}) shaded, observed "
            f"DLTs/patients",
            alt="Posterior DLT rate by dose level, one panel per construct",
        ),
        table_from_frame(
            table,
            caption=f"Interval probabilities: P(DLT rate < {low:g}), P({low:g} <= rate < "
            f"{high:g}), P(rate >= {high:g}); doses with P(overdose) >= EWOC "
            f"{analysis.protocol.toxicity.ewoc:g} marked",
            labels={
                "prob_under": "P(under)",
                "prob_target": "P(target)",
                "prob_over": "P(over)",
                "ptox_mean": "mean",
                "ptox_median": "median",
            },
            formats={c: ".3f" for c in ("prob_under", "prob_target", "prob_over")},
            highlight_rows={"eliminated": over},
            emphasis_labels={"eliminated": "not admissible (EWOC)"},
            id="interval-probabilities",
        ),
        _fit_figure(
            analysis,
            "toxicity",
            "interval-figure",
            caption=f"BLRM interval probabilities per dose: P(overdose) at the bottom, the "
            f"EWOC limit {analysis.protocol.toxicity.ewoc:g} dashed, doses not admissible "
            f"hatched",
            alt="Stacked bars of the probabilities of underdose, target and overdose",
        ),
        _posterior(fit, f"Posterior of the {fit.name} (az.summary)", "toxicity-posterior"),
    ]
    exchangeable = fit.prob_exchangeable()
    if exchangeable is not None:
        blocks.append(
            table_from_frame(
                exchangeable.reset_index(),
                caption="Posterior probability that each construct is exchangeable (EXNEX)",
                formats={"prob_ex": ".3f"},
                id="exchangeability",
            )
        )
    return Section(title="Dose-toxicity", id="dose-toxicity-model", blocks=tuple(blocks))


def _selection(analysis: InterimAnalysis) -> Section:
    selection = analysis.selection
    sensitivity = analysis.sensitivity
    blocks: list[Any] = [
        Paragraph(
            f"{analysis.decision}. Each component is mapped draw by draw to a linear "
            "desirability between its worst and best value, and the composite score is the "
            "weighted sum (additive value model; Derringer and Suich 1980). P(best) shares "
            "ties equally; a construct is selected only if it passes its gates, its P(best) "
            "reaches the threshold and is strictly the highest."
        ),
        Figure.from_matplotlib(
            selection.plot(),
            id="selection-figure",
            caption="Composite score distributions, P(best) against the threshold and rank "
            "probabilities",
            alt="Histograms of the composite score and bars of P(best) and rank probabilities",
        ),
        table_from_frame(
            selection.summary().drop(columns=["available", "gates"], errors="ignore"),
            caption="Composite score with its 95% interval, P(best) and rank probabilities per "
            "construct",
            default_format=".3f",
            id="selection-table",
        ),
        table_from_frame(
            selection.contributions(),
            caption="Contribution of each component: weight x expected desirability",
            default_format=".3f",
            id="contributions",
        ),
        Figure.from_matplotlib(
            sensitivity.plot(),
            id="sensitivity-figure",
            caption="Sensitivity: P(best) under posterior, weight and joint uncertainty, "
            "leave-one-component-out, and the Dirichlet weight draws",
            alt="Bars of P(best) by source of uncertainty and without each component",
        ),
        table_from_frame(
            sensitivity.summary(),
            caption=f"Sensitivity of the selection: weights from a Dirichlet with concentration "
            f"kappa = {sensitivity.kappa:g} centred on the protocol weights, "
            f"leave-one-component-out, rank reversals by cause (SMAA; Tervonen et al. 2011)",
            default_format=".3f",
            id="sensitivity",
        ),
    ]
    return Section(title="Construct selection", id="construct-selection", blocks=tuple(blocks))


_OUTCOME_TEXT = {
    "response": (
        "Objective response rate per construct (confirmed CR or PR among patients whose "
        "response is known), partially pooled",
        "Posterior ORR per construct with the observed proportions",
    ),
    "kinetics": (
        "CAR-NK kinetics: log10 Cmax and AUC0-28 per construct and dose, censored below the LLOQ",
        "Posterior mean log10 Cmax and AUC0-28 with the observed values",
    ),
    "manufacturing": (
        "Lot release probability per construct (beta-binomial)",
        "Posterior lot release probability per construct with the observed lots",
    ),
}


def _outcome(analysis: InterimAnalysis, name: str) -> Section:
    fit = analysis.fits[name]
    caption, alt = _OUTCOME_TEXT[name]
    blocks = [
        _fit_figure(analysis, name, f"{name}-figure", caption=caption, alt=alt),
        table_from_frame(
            fit.estimates(),
            caption=f"{_MODEL_TITLES[name]} estimates with 90% credible intervals",
            default_format=".4g",
            id=f"{name}-estimates",
        ),
        _posterior(fit, f"Posterior of the {fit.name} (az.summary)", f"{name}-posterior"),
    ]
    return Section(title=_MODEL_TITLES[name], id=f"{name}-model", blocks=tuple(blocks))


def _survival(analysis: InterimAnalysis) -> Section:
    blocks: list[Any] = []
    for name in ("pfs", "os"):
        fit = analysis.fits.get(name)
        if fit is None:
            blocks.append(Paragraph(f"{_MODEL_TITLES[name]}: {analysis.not_fitted[name]}."))
            continue
        blocks += [
            _fit_figure(
                analysis,
                name,
                f"{name}-figure",
                caption=f"{_MODEL_TITLES[name]}: Kaplan-Meier per construct with censoring "
                f"ticks and the Bayesian {fit.name} fit",
                alt=f"Kaplan-Meier curves of {_MODEL_TITLES[name].lower()} per construct",
            ),
            table_from_frame(
                fit.kaplan_meier(),
                caption=f"{_MODEL_TITLES[name]}: Kaplan-Meier medians (days) and survival at 6 "
                f"and 12 months with 95% intervals",
                default_format=".4g",
                id=f"{name}-km",
            ),
            table_from_frame(
                _means_and_intervals(fit.estimates()),
                caption=f"{_MODEL_TITLES[name]}: posterior median survival (days) and S(6 and "
                f"12 months) under the {fit.name}: mean and 90% interval",
                default_format=".4g",
                id=f"{name}-estimates",
            ),
        ]
    return Section(title="Survival", id="survival", blocks=tuple(blocks))


def _means_and_intervals(table: pd.DataFrame) -> pd.DataFrame:
    """The identifying columns and each quantity's mean and interval bounds (no median)."""
    return table[[c for c in table.columns if not c.endswith("_median")]]


def _diagnostics(analysis: InterimAnalysis) -> Section:
    rows = []
    for name, fit in analysis.fits.items():
        d = fit.diagnostics
        rows.append(
            {
                "model": name,
                "fit": fit.name,
                "passed": d.passed,
                "chains": d.chains,
                "draws": d.draws,
                "max_rhat": d.max_rhat,
                "min_ess_bulk": d.min_ess_bulk,
                "divergences": d.divergences,
                "retries": len(d.attempts),
                "failures": "; ".join(d.failures),
            }
        )
    table = pd.DataFrame(rows)
    gates = next(iter(analysis.fits.values())).diagnostics.gates
    blocks: list[Any] = [
        table_from_frame(
            table,
            caption=f"Diagnostic gates of every fit: R-hat < {gates.max_rhat:g}, bulk ESS > "
            f"{gates.min_ess_bulk:g}, divergences <= {gates.max_divergences}",
            labels={
                "max_rhat": "max R-hat",
                "min_ess_bulk": "min bulk ESS",
            },
            formats={"max_rhat": ".4f", "min_ess_bulk": ".0f"},
            highlight_rows={"flagged": ~table["passed"].to_numpy(bool)},
            emphasis_labels={"flagged": "failed its gates"},
            id="diagnostics-table",
        )
    ]
    subsections = []
    for name, fit in analysis.fits.items():
        parts: list[Any] = [
            table_from_frame(
                fit.diagnostics.summary(),
                caption=f"{fit.name}: R-hat and ESS of every gated parameter",
                formats={"r_hat": ".4f", "ess_bulk": ".0f", "ess_tail": ".0f"},
                highlight_rows={"flagged": ~fit.diagnostics.summary()["passed"].to_numpy(bool)},
                emphasis_labels={"flagged": "fails a gate"},
                id=f"{name}-gated",
            )
        ]
        rank = _fit_figure(
            analysis,
            name,
            f"{name}-rank",
            caption=f"{fit.name}: rank plots of the main parameters (uniform when chains mix)",
            alt=f"Rank histograms per chain of the {name} model's parameters",
        )
        if rank is not None:
            parts.insert(0, rank)
        parts.insert(
            0,
            _fit_figure(
                analysis,
                name,
                f"{name}-gates-figure",
                caption=f"{fit.name}: R-hat and bulk/tail ESS of every gated parameter against "
                f"the gates",
                alt=f"R-hat and ESS bars of the {name} model's parameters",
            ),
        )
        subsections.append(
            Section(
                title=f"{_MODEL_TITLES[name]} fit", id=f"{name}-diagnostics", blocks=tuple(parts)
            )
        )
    return Section(
        title="Diagnostics", id="diagnostics", blocks=tuple(blocks), subsections=tuple(subsections)
    )


# --- manifest -------------------------------------------------------------------------------


def _manifest(
    analysis: InterimAnalysis, command: Sequence[str], inputs: Mapping[str, str] | None
) -> Manifest:
    protocol = analysis.protocol
    versions = {"python": sys.version.split()[0], **environment_versions(_VERSIONED)}
    seeds: dict[str, int | str] = {"root": analysis.seed}
    for name, fit in analysis.fits.items():
        seeds[f"{name} fit"] = str(fit.seed)
    return Manifest(
        inputs=dict(inputs) if inputs is not None else table_digests(analysis.trial.tables),
        protocol=protocol.to_dict(),
        protocol_hash=protocol.content_hash,
        seeds=seeds,
        versions=versions,
        command=tuple(command),
        settings={
            "cutoff": analysis.cutoff,
            "candidate_doses": {
                c.construct: (None if c.dose is None else protocol.dose_labels[c.dose])
                for c in analysis.candidates
            },
            "candidate_sources": {c.construct: c.source for c in analysis.candidates},
            "kappa": float(analysis.sensitivity.kappa),
            "weight_draws": int(analysis.sensitivity.n_weights),
            "component_draws": int(analysis.components.sizes["draw"]),
            "sampling": {
                k: (list(v) if isinstance(v, tuple) else v)
                for k, v in protocol.sampling.model_dump().items()
            },
        },
    )
