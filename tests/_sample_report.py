"""A small report document with every kind of block, for the report tests.

Three constructs, one of them named ``<script>alert(1)</script>`` to test escaping; two
figures; an eliminated dose and a selected construct in the tables; one flagged R-hat.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MatplotlibFigure

from dartnk.reports import (
    Alert,
    BulletList,
    Document,
    Figure,
    KeyValues,
    Manifest,
    Paragraph,
    Preformatted,
    Section,
    posterior_summary_table,
    report_style,
    table_from_frame,
)

HOSTILE = "<script>alert(1)</script>"
CONSTRUCTS = ("A", "B", HOSTILE)
DOSES = ("DL-1", "DL1", "DL2", "DL3", "DL4")
SHA_PATIENTS = "a" * 64
SHA_EVENTS = "0123456789abcdef" * 4


def dose_toxicity_figure() -> MatplotlibFigure:
    """Three panels of a dose-toxicity curve with a band, as the interim report draws."""
    x = np.arange(len(DOSES))
    with report_style():
        figure = MatplotlibFigure(figsize=(10.5, 3.4))
        axes = figure.subplots(1, len(CONSTRUCTS), sharey=True)
        for shift, (ax, construct) in enumerate(zip(axes, CONSTRUCTS, strict=True)):
            middle = 1.0 / (1.0 + np.exp(-(x - 2.5 + 0.4 * shift)))
            ax.axhspan(0.16, 0.33, color="tab:green", alpha=0.15, label="target interval")
            ax.fill_between(x, middle * 0.6, np.minimum(middle * 1.4, 1.0), alpha=0.25)
            ax.plot(x, middle, marker="o", label="posterior median")
            ax.set_xticks(x, DOSES)
            ax.set_ylim(-0.03, 1.0)
            ax.set_title(f"construct {construct}")
            ax.set_xlabel("dose level")
            ax.legend(loc="upper left", fontsize="small")
        axes[0].set_ylabel("DLT rate")
    return figure


def score_figure() -> MatplotlibFigure:
    """Histograms of composite scores per construct, beside a heat map of rank
    probabilities (drawn with ``imshow``, so the SVG embeds a raster image)."""
    generator = np.random.default_rng(np.random.SeedSequence(20260))
    ranks = np.array([[0.62, 0.28, 0.10], [0.30, 0.50, 0.20], [0.08, 0.22, 0.70]])
    with report_style():
        figure = MatplotlibFigure(figsize=(9.0, 3.2))
        scores, heat = figure.subplots(1, 2, width_ratios=(1.6, 1.0))
        for shift, construct in enumerate(CONSTRUCTS):
            draws = generator.beta(4 + 2 * shift, 6, size=400)
            scores.hist(draws, bins=30, range=(0, 1), alpha=0.5, label=construct)
        scores.set_xlabel("composite score")
        scores.set_ylabel("posterior draws")
        scores.set_title("Composite score")
        scores.legend()
        image = heat.imshow(ranks, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
        heat.set_xticks(range(3), ["1", "2", "3"])
        heat.set_yticks(range(3), ["A", "B", "C"])
        heat.set_xlabel("rank")
        heat.set_title("Rank probabilities")
        figure.colorbar(image, ax=heat, label="probability")
    return figure


def selection_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "construct": list(CONSTRUCTS),
            "expected_score": [0.61234, 0.48, np.nan],
            "prob_best": [0.8125, 0.1875, 0.0],
            "passes_gates": [True, True, False],
        }
    )


def dose_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "construct": ["A"] * 5,
            "dose": list(DOSES),
            "n": [0, 3, 6, 3, 0],
            "dlt": [0, 0, 1, 2, 0],
            "p_overdose": [None, 0.01234, 0.1587, 0.6021, None],
            "eliminated": [False, False, False, True, True],
        }
    )


def posterior_frame() -> pd.DataFrame:
    index = pd.Index([f"ptox[A, {d}]" for d in DOSES[1:]] + ["tau"])
    return pd.DataFrame(
        {
            "mean": [0.05123, 0.1234, 0.3012, 0.5321, 0.4],
            "sd": [0.031, 0.052, 0.081, 0.12, 0.33],
            "hdi_2.5%": [0.002, 0.03, 0.15, 0.30, 0.0001],
            "hdi_97.5%": [0.11, 0.23, 0.46, 0.76, 1.1],
            "mcse_mean": [0.0004, 0.0006, 0.001, 0.0013, 0.02],
            "mcse_sd": [0.0003, 0.0004, 0.0007, 0.0009, 0.015],
            "ess_bulk": [3012.4, 2950.0, 2811.7, 2433.2, 210.9],
            "ess_tail": [2801.0, 2700.2, 2601.5, 2300.0, 180.3],
            "r_hat": [1.0, 1.001, 1.0, 1.002, 1.031],
        },
        index=index,
    )


def sample_manifest() -> Manifest:
    return Manifest(
        inputs={"patients.csv": SHA_PATIENTS, "adverse_events.csv": SHA_EVENTS},
        protocol={
            "constructs": {"A": "EB-DART-NK01", "B": "EB-DART-NK02", "C": HOSTILE},
            "toxicity": {"target": 0.3, "ewoc": 0.25},
        },
        protocol_hash="f" * 64,
        seeds={"root": 2026},
        versions={"python": "3.11.7", "dartnk": "0.1.0"},
        command=("dartnk", "interim", "data/", "-o", "report.html"),
        settings={"cutoff": 120, "note": "</script><script>alert(2)</script>"},
    )


def sample_document() -> Document:
    """Every block kind, two figures, nested sections and a manifest."""
    selection = selection_frame()
    doses = dose_frame()
    return Document(
        title="DART-NK-SCLC interim analysis",
        subtitle=f"Data cut at day 120; constructs A, B and {HOSTILE}",
        alerts=(
            Alert("error", "The kinetics fit failed its diagnostics gate; selection withheld."),
            Alert("warning", f"Construct {HOSTILE} has no kinetics samples yet."),
        ),
        sections=(
            Section(
                title="Construct selection",
                id="selection",
                blocks=(
                    Paragraph(
                        f"No construct is selected: P(best) of A is 0.8125 but {HOSTILE} "
                        "failed its safety gate."
                    ),
                    table_from_frame(
                        selection,
                        caption=f"Selection summary, including {HOSTILE}",
                        labels={
                            "expected_score": "E[score]",
                            "prob_best": "P(best)",
                            "passes_gates": "gates",
                        },
                        formats={"prob_best": ".3f"},
                        highlight_rows={"selected": selection["construct"] == "A"},
                        highlight_cells={"flagged": {"passes_gates": ~selection["passes_gates"]}},
                        emphasis_labels={"selected": "leading construct", "flagged": "gate failed"},
                    ),
                    KeyValues(
                        (("Selected", "none (refer to the SMC)"), ("P(best) threshold", 0.5)),
                        caption="Decision",
                    ),
                    BulletList(("safety gate: P(DLT ≥ 0.33) < 0.25", f"{HOSTILE} | `pipe`")),
                    Figure.from_matplotlib(
                        score_figure(),
                        id="score-distribution",
                        caption="Posterior distribution of the composite score by construct",
                        alt="Overlapping histograms of the composite score of three constructs",
                    ),
                ),
                subsections=(
                    Section(
                        title="Gates",
                        id="gates",
                        blocks=(Alert("info", "Gates use the candidate dose of each construct."),),
                    ),
                ),
            ),
            Section(
                title="Dose escalation",
                id="escalation",
                blocks=(
                    table_from_frame(
                        doses,
                        caption="Construct A: patients, DLTs and overdose probability by dose",
                        columns=["dose", "n", "dlt", "p_overdose"],
                        labels={"p_overdose": "P(overdose)"},
                        formats={"p_overdose": ".3f"},
                        highlight_rows={"eliminated": "eliminated"},
                        emphasis_labels={"eliminated": "eliminated dose"},
                        note="DL-1 is used only by de-escalation.",
                        id="doses-a",
                    ),
                    Figure.from_matplotlib(
                        dose_toxicity_figure(),
                        id="dose-toxicity",
                        caption="Dose-toxicity curves with 90% credible bands",
                        alt="Posterior median DLT rate by dose level for three constructs",
                    ),
                ),
                subsections=(
                    Section(
                        title="Posterior of the toxicity model",
                        id="toxicity-posterior",
                        blocks=(
                            posterior_summary_table(
                                posterior_frame(),
                                caption="BLRM (EXNEX) posterior",
                                rhat_max=1.01,
                                ess_min=400,
                            ),
                            Preformatted("model: BLRM\n  prior: | `x` |\n<b>not bold</b>"),
                        ),
                    ),
                ),
            ),
        ),
        manifest=sample_manifest(),
    )
