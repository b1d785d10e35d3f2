"""The comparison report of a simulation run, as a :class:`dartnk.reports.Document`.

Sections follow ADEMP, the structure of simulation studies of Morris, White and Crowther
(2019): aims, data-generating mechanisms, estimands, methods, and performance measures with
their Monte Carlo standard errors (MCSE) and why the number of trials suffices. Every table
comes from a summary frame of :mod:`dartnk.analyses.simulation_tables`; the report holds no
date and is the same byte for byte for the same results file.

Reference: Morris TP, White IR, Crowther MJ (2019). Using simulation studies to evaluate
statistical methods. Statistics in Medicine 38:2074-2102.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from dartnk.reports import (
    Alert,
    BulletList,
    Document,
    Figure,
    KeyValues,
    Manifest,
    Paragraph,
    Section,
    Table,
    slug,
)

from .simulation_figures import dose_figure, selection_figure, size_figure, truth_figure
from .simulation_metrics import METRICS, RATIO
from .simulation_results import manifest_of
from .simulation_tables import (
    difference_frame,
    dose_frame,
    scenario_frame,
    selection_frame,
    trial_frame,
)

__all__ = ["comparison_document"]

REFERENCE = (
    "Morris TP, White IR, Crowther MJ (2019). Using simulation studies to evaluate "
    "statistical methods. Statistics in Medicine 38:2074-2102."
)


def _estimate(mean: float, se: float, digits: int = 3) -> str:
    if np.isnan(mean):
        return ""
    return f"{mean:.{digits}f} ({se:.{digits}f})"


def _table(
    frame: pd.DataFrame,
    *,
    caption: str,
    text: Sequence[str],
    estimates: dict[str, tuple[str, str, int]],
    id: str,
    note: str | None = None,
    emphasis: Sequence[str | None] | None = None,
    emphasis_labels: dict[str, str] | None = None,
) -> Table:
    """A table of label columns ``text`` and "mean (SE)" columns, right-aligned."""
    columns = [*text, *estimates]
    rows = []
    for record in frame.to_dict("records"):
        cells = [("" if record[c] is None else str(record[c])) for c in text]
        for _, (mean, se, digits) in estimates.items():
            value = record[mean]
            spread = record[se] if se else 0.0
            if se:
                cells.append(_estimate(value, spread, digits))
            else:
                cells.append("" if pd.isna(value) else f"{value:.{digits}f}")
        rows.append(tuple(cells))
    return Table(
        caption=caption,
        columns=tuple(columns),
        rows=tuple(rows),
        align=tuple(["left"] * len(text) + ["right"] * len(estimates)),
        row_emphasis=None if emphasis is None else tuple(emphasis),
        emphasis_labels=tuple((emphasis_labels or {}).items()),
        note=note,
        id=id,
    )


def _aims(ds: xr.Dataset, designs: list[str], scenarios: list[str]) -> Section:
    return Section(
        title="Aims",
        id="aims",
        blocks=(
            Paragraph(
                f"To compare the operating characteristics of the whole DART-NK-SCLC Phase 1/2 "
                f"(three parallel escalation arms, the interim construct selection and the "
                f"Phase 2 expansion) under {len(designs)} escalation design(s) "
                f"({', '.join(designs)}) across {len(scenarios)} scenario(s) of the truth."
            ),
            BulletList(
                (
                    "How often does each arm declare the true MTD, and how many patients are "
                    "treated above it?",
                    "How often does the interim select the truly best construct, and how often "
                    "is there no clear winner?",
                    "How often does the expansion end promising (go), and how large and long "
                    "is the trial?",
                    "How do the designs differ, with paired standard errors from common "
                    "random numbers?",
                )
            ),
        ),
    )


def _mechanisms(ds: xr.Dataset, manifest: dict, target: float) -> Section:
    frame = scenario_frame(ds)
    descriptions = [
        f"{name}: {manifest['scenarios'][name].get('description') or 'no description'}"
        for name in (str(s) for s in ds["scenario"].to_numpy())
    ]
    table = _table(
        frame,
        caption="True values per scenario and construct at the true MTD (the highest dose "
        f"with a true DLT rate at most {target:g})",
        text=("scenario", "construct", "true_mtd"),
        estimates={
            "DLT rate": ("dlt_at_mtd", "", 2),
            "ORR": ("orr_at_mtd", "", 2),
            "log10 Cmax": ("log10_cmax_at_mtd", "", 2),
            "lot release": ("release", "", 2),
            "true score": ("true_score", "", 3),
        },
        id="scenario-truths",
        emphasis=["selected" if best else None for best in frame["true_best"]],
        emphasis_labels={"selected": "true best construct (highest true composite score)"},
    )
    figure = Figure.from_matplotlib(
        truth_figure(ds, target),
        id="true-dlt-curves",
        caption=f"True DLT rate by dose per construct; dotted line: target {target:g}",
        alt="Small multiples of the true dose-toxicity curves of the three constructs, one "
        "panel per scenario.",
    )
    return Section(
        title="Data-generating mechanisms",
        id="data-generating-mechanisms",
        blocks=(
            Paragraph(
                "Each simulated trial runs in calendar time: screened patients arrive as a "
                "Poisson process at the scenario's rate; a patient may join an arm when both "
                "antigens of its construct reach the protocol's H-score threshold (antigens "
                "joined by the scenario's Gaussian copula) and the ECOG is within the limit; "
                "an arm takes a patient while its design calls for one and fewer than a "
                "cohort are inside their DLT follow-up, and a patient eligible only for full "
                "arms waits up to the scenario's maximum wait. Products are released after "
                "one or two lots (or fail, and the patient is replaced); DLTs occur at the "
                "scenario's onset days, withdrawals make a patient not evaluable. The three "
                "arms stop, the interim follows after the selection delay, and the selected "
                "construct is expanded at its MTD."
            ),
            BulletList(tuple(descriptions)),
            table,
            figure,
        ),
    )


def _estimands() -> Section:
    rows = [(m.name, " x ".join(m.dims) or "trial", m.description) for m in (*METRICS, RATIO)]
    return Section(
        title="Estimands",
        id="estimands",
        blocks=(
            Paragraph(
                "Each estimand is an expectation over trials under a design and a scenario, "
                "estimated by the mean over the simulated trials."
            ),
            Table(
                caption="Estimands (performance measures of the designs)",
                columns=("name", "per", "definition"),
                rows=tuple(rows),
                id="estimand-list",
            ),
        ),
    )


def _methods(manifest: dict) -> Section:
    protocol = manifest["protocol"]
    selection = protocol["selection"]
    expansion = protocol["expansion"]
    designs = Table(
        caption="Designs compared (all three arms use the same design)",
        columns=("design", "as run"),
        rows=tuple((name, text) for name, text in manifest["designs"].items()),
        id="design-list",
    )
    weights = ", ".join(f"{k} {v:g}" for k, v in selection["weights"].items())
    return Section(
        title="Methods",
        id="methods",
        blocks=(
            designs,
            Paragraph(
                "Interim selection: dartnk.adaptive.select_construct on exact conjugate "
                "posteriors at each construct's MTD: Beta-binomial DLT rate and ORR, "
                "normal-normal mean log10 Cmax, Beta-binomial lot release; "
                f"{manifest['draws']} posterior draws per component from each block's seed; "
                f"weights {weights}; a construct is selected when its P(best) is at least "
                f"{selection['prob_best_threshold']:g}, strictly the highest, and "
                f"P(DLT rate >= {protocol['toxicity']['overdose_from']:g}) < "
                f"{protocol['toxicity']['ewoc']:g}; otherwise there is no clear winner and no "
                "expansion."
            ),
            Paragraph(
                f"Expansion: up to {expansion['n_max']} patients at the MTD; predictive-"
                f"probability futility monitoring (p0 {expansion['p0']:g}, p1 "
                f"{expansion['p1']:g}, theta_T {expansion['theta_t']:g}, theta_L "
                f"{expansion['theta_l']:g}, looks from {expansion['first_look']} every "
                f"{expansion['look_every']}) and Bayesian toxicity monitoring (stop when "
                f"P(DLT rate > {expansion['toxicity_limit']:g}) > "
                f"{expansion['toxicity_threshold']:g}, from {expansion['toxicity_min_n']} "
                "patients), acting on enrolment."
            ),
            KeyValues(
                (
                    ("root seed", manifest["seed"]),
                    ("trials per design and scenario", manifest["n_trials"]),
                    ("trials per seed block", manifest["block_trials"]),
                    ("posterior draws at the interim", manifest["draws"]),
                    ("protocol hash", manifest["protocol_hash"][:16]),
                ),
                caption="Randomness: one SeedSequence child per block of trials; every design "
                "and scenario sees the same patients (common random numbers)",
            ),
        ),
    )


def _selection_section(ds: xr.Dataset, constructs: list[str]) -> Section:
    frame = selection_frame(ds)
    estimates = {f"P({c})": (f"select_{c}", f"select_{c}_se", 3) for c in [*constructs, "none"]}
    estimates["P(correct)"] = ("prob_correct_selection", "prob_correct_selection_se", 3)
    estimates["P(no clear winner)"] = ("prob_no_clear_winner", "prob_no_clear_winner_se", 3)
    return Section(
        title="Construct selection",
        id="construct-selection",
        blocks=(
            _table(
                frame,
                caption="Interim selection: P(each construct, none), P(correct selection), "
                "P(no clear winner), mean (MCSE)",
                text=("scenario", "design"),
                estimates=estimates,
                id="selection-table",
            ),
            Figure.from_matplotlib(
                selection_figure(frame, constructs),
                id="selection-figure",
                caption="Probability of selecting each construct (grey: none) per scenario "
                "and design",
                alt="Stacked horizontal bars of the selection probabilities of constructs "
                "and of no selection, for each scenario and design.",
            ),
        ),
    )


def _dose_section(ds: xr.Dataset, doses: list[str]) -> Section:
    subsections = []
    truths = scenario_frame(ds)
    for scenario in [str(s) for s in ds["scenario"].to_numpy()]:
        frame = dose_frame(ds, scenario)
        truth = truths[truths["scenario"] == scenario]
        true_mtd = dict(zip(truth["construct"], truth["true_mtd"], strict=True))
        estimates = {f"P({d})": (f"mtd_{d}", "", 3) for d in doses}
        estimates["P(none)"] = ("no_mtd", "", 3)
        estimates["P(true MTD)"] = ("true_mtd", "true_mtd_se", 3)
        patients = {f"n {d}": (f"n_{d}", "", 2) for d in doses}
        patients["patients"] = ("patients", "patients_se", 2)
        patients["above true MTD"] = ("above_mtd", "above_mtd_se", 2)
        patients["DLTs"] = ("dlts", "", 2)
        anchor = slug(f"doses {scenario}")
        subsections.append(
            Section(
                title=f"Scenario {scenario}",
                id=anchor,
                blocks=(
                    _table(
                        frame,
                        caption=f"{scenario}: P(each dose is the arm's MTD), mean (MCSE) "
                        "for the true MTD",
                        text=("design", "construct"),
                        estimates=estimates,
                        id=f"{anchor}-selection",
                    ),
                    _table(
                        frame,
                        caption=f"{scenario}: mean patients per dose, in the arm and above "
                        "the true MTD (overdosing), mean DLTs",
                        text=("design", "construct"),
                        estimates=patients,
                        id=f"{anchor}-patients",
                    ),
                    Figure.from_matplotlib(
                        dose_figure(frame, doses, true_mtd),
                        id=f"{anchor}-figure",
                        caption=f"{scenario}: P(declared MTD) per dose; dotted line: true MTD",
                        alt=f"Grouped bars of the probability that each dose is declared the "
                        f"MTD, per construct and design, in scenario {scenario}.",
                    ),
                ),
            )
        )
    return Section(
        title="Dose selection, patients and overdosing per arm",
        id="dose-selection",
        subsections=tuple(subsections),
    )


def _trial_section(ds: xr.Dataset) -> Section:
    frame = trial_frame(ds)
    return Section(
        title="Expansion, sample size and duration",
        id="expansion-size-duration",
        blocks=(
            _table(
                frame,
                caption="Expansion outcomes and the winner's ORR overestimation, mean (MCSE)",
                text=("scenario", "design"),
                estimates={
                    "P(go)": ("prob_phase2_go", "prob_phase2_go_se", 3),
                    "P(no expansion)": ("phase2_not_started", "phase2_not_started_se", 3),
                    "P(futility stop)": ("phase2_futility", "phase2_futility_se", 3),
                    "P(toxicity stop)": ("phase2_toxicity", "phase2_toxicity_se", 3),
                    "ORR overestimate": ("orr_overestimate", "orr_overestimate_se", 3),
                },
                id="expansion-table",
            ),
            _table(
                frame,
                caption="Total patients, expansion patients and duration, mean (MCSE)",
                text=("scenario", "design"),
                estimates={
                    "total N": ("mean_total_n", "mean_total_n_se", 2),
                    "expansion N": ("mean_phase2_n", "mean_phase2_n_se", 2),
                    "months": ("mean_duration_months", "mean_duration_months_se", 2),
                },
                id="size-table",
            ),
            Figure.from_matplotlib(
                size_figure(frame),
                id="size-figure",
                caption="Mean total patients and duration with 95% Monte Carlo intervals",
                alt="Dot plots of mean trial size and duration in months per scenario, one "
                "colour per design, with error bars.",
            ),
        ),
    )


def _difference_section(ds: xr.Dataset, designs: list[str]) -> Section:
    if len(designs) < 2:
        return Section(
            title="Paired differences between designs",
            id="differences",
            blocks=(Paragraph("One design was simulated: there is no difference to report."),),
        )
    reference = "3+3" if "3+3" in designs else designs[0]
    frame = difference_frame(ds, reference)
    return Section(
        title="Paired differences between designs",
        id="differences",
        blocks=(
            Paragraph(
                f"Differences of each design minus {reference}, on the same simulated patients. "
                "The paired SE uses the trial-by-trial differences; the unpaired SE is what "
                "two independent runs would give."
            ),
            _table(
                frame,
                caption=f"Paired differences versus {reference}",
                text=("scenario", "design", "metric"),
                estimates={
                    "difference": ("difference", "", 3),
                    "paired SE": ("paired_se", "", 4),
                    "unpaired SE": ("unpaired_se", "", 4),
                },
                id="difference-table",
            ),
        ),
    )


def _mcse_section(ds: xr.Dataset) -> Section:
    trials = int(ds["n_trials"].min())
    worst = 0.5 / math.sqrt(trials)
    names = [m.name for m in METRICS if m.name.startswith("prob_")]
    largest = max(float(ds[f"{name}_se"].max()) for name in names)
    needed = {target: math.ceil(0.25 / target**2) for target in (0.01, 0.005)}
    return Section(
        title="Monte Carlo error and the number of trials",
        id="monte-carlo-error",
        blocks=(
            Paragraph(
                f"With {trials:,} trials per design and scenario the Monte Carlo SE of a "
                f"probability is at most sqrt(0.25 / {trials:,}) = {worst:.4f} (at 0.5); the "
                f"largest SE of a probability in this run is {largest:.4f}. An SE of 0.01 "
                f"needs at most {needed[0.01]:,} trials and an SE of 0.005 at most "
                f"{needed[0.005]:,} (n = p (1 - p) / SE^2, Morris et al. 2019, section 5.3)."
            ),
            Paragraph(
                "Differences between designs are estimated on common random numbers: their "
                "paired SEs (previous section) use the trial-by-trial differences, and are "
                "smaller than the two designs' SEs combined wherever the designs' outcomes on "
                "the same patients are positively correlated (designs that decide alike); for "
                "designs that treat the same patients very differently they are about equal."
            ),
            Paragraph(f"Reference: {REFERENCE}"),
        ),
    )


def comparison_document(
    dataset: xr.Dataset,
    *,
    command: Sequence[str] = (),
    source: str | None = None,
    source_sha256: str | None = None,
) -> Document:
    """The comparison report of a results Dataset of :func:`dartnk.analyses.simulate_trials`.

    Parameters
    ----------
    dataset : xarray.Dataset
    command : sequence of str
        The command line, for the manifest.
    source : str, optional
        Name of the results file, for the manifest.
    source_sha256 : str, optional
        SHA-256 of the file's bytes (recorded with ``source``); the content hash of its
        data is recorded in the settings either way.
    """
    manifest = manifest_of(dataset)
    designs = [str(d) for d in dataset["design"].to_numpy()]
    scenarios = [str(s) for s in dataset["scenario"].to_numpy()]
    constructs = [str(c) for c in dataset["construct"].to_numpy()]
    doses = [str(d) for d in dataset["dose"].to_numpy()]
    target = float(manifest["protocol"]["toxicity"]["target"])
    alerts = []
    trials = int(dataset["n_trials"].min())
    if trials < 1000:
        alerts.append(
            Alert(
                "warning",
                f"Only {trials} trials per design and scenario: Monte Carlo SEs of "
                f"probabilities reach {0.5 / math.sqrt(trials):.3f}.",
            )
        )
    performance = Section(
        title="Performance measures",
        id="performance",
        blocks=(Paragraph("Every estimate is followed by its Monte Carlo SE in brackets."),),
        subsections=(
            _selection_section(dataset, constructs),
            _dose_section(dataset, doses),
            _trial_section(dataset),
            _difference_section(dataset, designs),
            _mcse_section(dataset),
        ),
    )
    return Document(
        title="Operating characteristics of the DART-NK-SCLC Phase 1/2",
        subtitle=f"{', '.join(designs)} on {len(scenarios)} scenario(s), {trials:,} trials "
        f"each, seed {manifest['seed']}",
        alerts=tuple(alerts),
        sections=(
            _aims(dataset, designs, scenarios),
            _mechanisms(dataset, manifest, target),
            _estimands(),
            _methods(manifest),
            performance,
        ),
        manifest=Manifest(
            inputs={} if source is None or source_sha256 is None else {source: source_sha256},
            protocol=manifest["protocol"],
            protocol_hash=manifest["protocol_hash"],
            seeds={"root": int(manifest["seed"])},
            versions=manifest["versions"],
            command=tuple(command),
            settings={
                "n_trials": manifest["n_trials"],
                "draws": manifest["draws"],
                "block_trials": manifest["block_trials"],
                "designs": manifest["designs"],
                "scenario_hashes": manifest["scenario_hashes"],
                "results_content_hash": dataset.attrs["content_hash"],
            },
        ),
    )
