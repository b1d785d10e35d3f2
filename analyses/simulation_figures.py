"""Figures of a simulation comparison, drawn from the summary frames in the report style."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dartnk.reports import report_style

__all__ = ["dose_figure", "selection_figure", "size_figure", "truth_figure"]

_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
_STYLES = (("o", "-"), ("s", "--"), ("^", ":"), ("D", "-."))


def _colour(i: int) -> str:
    return _COLOURS[i % len(_COLOURS)]


def selection_figure(frame: pd.DataFrame, constructs: list[str]) -> Figure:
    """Stacked bars of P(select each construct, none) per scenario (rows) and design."""
    scenarios = list(dict.fromkeys(frame["scenario"]))
    designs = list(dict.fromkeys(frame["design"]))
    choices = [*constructs, "none"]
    with report_style():
        height = 0.9 + 0.32 * len(scenarios) * len(designs)
        figure = Figure(figsize=(9.0, height))
        axes = figure.subplots()
        labels, y = [], []
        for i, scenario in enumerate(scenarios):
            for j, design in enumerate(designs):
                y.append(i * (len(designs) + 1) + j)
                labels.append(f"{scenario} | {design}")
        left = np.zeros(len(y))
        for k, choice in enumerate(choices):
            values = [
                float(
                    frame.loc[
                        (frame["scenario"] == s) & (frame["design"] == d), f"select_{choice}"
                    ].iloc[0]
                )
                for s in scenarios
                for d in designs
            ]
            colour = "#bbbbbb" if choice == "none" else _colour(k)
            axes.barh(y, values, left=left, color=colour, label=choice, height=0.8)
            left += np.asarray(values)
        axes.set_yticks(y, labels)
        axes.set_ylim(max(y) + 0.7, -0.7)
        axes.set_xlim(0, 1)
        axes.set_xlabel("probability of selection at the interim")
        axes.legend(
            ncols=len(choices), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False
        )
    return figure


def dose_figure(frame: pd.DataFrame, doses: list[str], true_mtd: dict[str, str | None]) -> Figure:
    """P(each dose is the arm's MTD) per construct (panels) and design (bars), the true
    MTD marked."""
    constructs = list(dict.fromkeys(frame["construct"]))
    designs = list(dict.fromkeys(frame["design"]))
    width = 0.8 / len(designs)
    x = np.arange(len(doses) + 1)
    with report_style():
        figure = Figure(figsize=(9.0, 2.6))
        axes = figure.subplots(1, len(constructs), sharey=True)
        for panel, construct in zip(np.atleast_1d(axes), constructs, strict=True):
            for j, design in enumerate(designs):
                row = frame[(frame["construct"] == construct) & (frame["design"] == design)]
                values = [float(row[f"mtd_{d}"].iloc[0]) for d in doses]
                values.append(float(row["no_mtd"].iloc[0]))
                panel.bar(
                    x + (j - (len(designs) - 1) / 2) * width,
                    values,
                    width,
                    color=_colour(j),
                    label=design,
                )
            truth = true_mtd.get(construct)
            marker = doses.index(truth) if truth is not None else len(doses)
            panel.axvline(marker, color="black", linestyle=":", linewidth=1.0)
            panel.set_xticks(x, [*doses, "none"])
            panel.set_title(f"construct {construct}")
            panel.set_ylim(0, 1)
        first = np.atleast_1d(axes)[0]
        first.set_ylabel("P(declared MTD)")
        first.legend(loc="upper left", fontsize="small")
    return figure


def size_figure(frame: pd.DataFrame) -> Figure:
    """Mean total N and mean duration (months) per scenario and design, with 95% Monte
    Carlo intervals."""
    scenarios = list(dict.fromkeys(frame["scenario"]))
    designs = list(dict.fromkeys(frame["design"]))
    with report_style():
        figure = Figure(figsize=(9.0, 1.6 + 0.32 * len(scenarios) * max(1, len(designs) / 2)))
        left, right = figure.subplots(1, 2, sharey=True)
        y = np.arange(len(scenarios))
        step = 0.7 / max(len(designs), 1)
        for j, design in enumerate(designs):
            rows = frame[frame["design"] == design].set_index("scenario").loc[scenarios]
            offset = y + (j - (len(designs) - 1) / 2) * step
            for axes, name in ((left, "mean_total_n"), (right, "mean_duration_months")):
                axes.errorbar(
                    rows[name],
                    offset,
                    xerr=1.96 * rows[f"{name}_se"],
                    fmt="o",
                    color=_colour(j),
                    label=design,
                    markersize=4,
                )
        left.set_yticks(y, scenarios)
        left.invert_yaxis()
        left.set_xlabel("mean patients (Phase 1 and 2)")
        right.set_xlabel("mean duration (months)")
        figure.legend(
            *left.get_legend_handles_labels(),
            loc="outside upper center",
            ncols=len(designs),
            frameon=False,
        )
    return figure


def truth_figure(ds: object, target: float) -> Figure:
    """True DLT rate by dose per construct, one panel per scenario, the target marked."""
    scenarios = [str(s) for s in ds["scenario"].to_numpy()]
    doses = [str(d) for d in ds["dose"].to_numpy()]
    constructs = [str(c) for c in ds["construct"].to_numpy()]
    columns = min(4, len(scenarios))
    rows = int(np.ceil(len(scenarios) / columns))
    with report_style():
        figure = Figure(figsize=(9.0, 2.0 * rows + 0.4))
        axes = np.atleast_1d(figure.subplots(rows, columns, sharex=True, sharey=True)).ravel()
        for panel, scenario in zip(axes, scenarios, strict=False):
            for k, construct in enumerate(constructs):
                values = ds["true_dlt"].sel(scenario=scenario, construct=construct).to_numpy()
                marker, line = _STYLES[k % len(_STYLES)]
                panel.plot(
                    np.arange(len(doses)),
                    values,
                    marker=marker,
                    linestyle=line,
                    color=_colour(k),
                    label=construct,
                    markersize=3,
                )
            panel.axhline(target, color="black", linestyle=":", linewidth=1.0)
            panel.set_title(scenario, fontsize=9)
            panel.set_ylim(0, 1)
            panel.set_xticks(np.arange(len(doses)), doses, fontsize=7)
        for panel in axes[len(scenarios) :]:
            panel.set_visible(False)
        axes[0].legend(fontsize="x-small", loc="upper left")
        axes[0].set_ylabel("true DLT rate")
    return figure
