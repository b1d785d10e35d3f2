"""Figures of the model fits, drawn on :class:`matplotlib.figure.Figure` objects.

Figures are built without ``pyplot`` and change no global ``rcParams``, so that fitting
and plotting in a loop or in a report leaves no global figure state behind; a notebook
displays the returned figure. Bands are central credible intervals of the posterior draws.
Every figure has one panel per construct with the construct as its title and its own
legend below it; observed proportions are drawn with their counts written beside them
(``1/6``), and probability axes run from slightly below 0 to slightly above 1, so that a
0/n point is never hidden on the axis line. Doses carry their labels (DL-1, DL1, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ._intervals import flat_draws
from ._plot_parts import PROBABILITY_LIMITS, band, count_label, new_figure, panel_legend, panels

if TYPE_CHECKING:
    from ._dlt import ToxicityFit
    from .kinetics import KineticsFit
    from .manufacturing import ManufacturingFit
    from .response import ResponseFit

__all__ = [
    "kinetics_figure",
    "manufacturing_figure",
    "response_figure",
    "toxicity_figure",
    "toxicity_interval_figure",
]

HIERARCHY_NAMES = {
    "exnex": "EXNEX",
    "exchangeable": "exchangeable",
    "independent": "independent",
    "single arm": "one arm",
}
_BLUE = "tab:blue"
_OBSERVED = {
    "facecolors": "none",
    "edgecolors": "black",
    "linewidths": 1.3,
    "marker": "D",
    "s": 30,
    "zorder": 4,
    "clip_on": False,
}
_INTERVAL_COLOURS = {"over": "#d7301f", "target": "#41ab5d", "under": "#9ecae1"}


def _model_name(fit: ToxicityFit) -> str:
    if fit.hierarchy == "single arm":
        return fit.name
    return f"BLRM ({HIERARCHY_NAMES.get(fit.hierarchy, fit.hierarchy)})"


def toxicity_figure(fit: ToxicityFit, *, prob: float = 0.9) -> Figure:
    """Dose-toxicity curves, one panel per construct.

    Each panel shows the posterior median DLT rate by dose with its central ``prob``
    credible band, the target interval [low, high) of the fit shaded, and the observed
    DLT proportions y/n as open black diamonds (the median shows through where they
    coincide); y/n (and ``+k`` for k pending patients) is written under each dose label,
    and a dose without patients has no diamond. The y axis runs from just below 0 to just
    above 1, so that 0/n diamonds show in full.
    """
    draws = flat_draws(fit.ptox()).reshape(len(fit.constructs), len(fit.dose_labels), -1)
    low, mid, high = band(draws, prob)
    lower, upper = fit.intervals
    counts = fit.counts
    title = f"Dose-toxicity: {_model_name(fit)}, posterior median with {prob:.0%} credible band"
    figure, subfigures = panels(len(fit.constructs), title=title, height=3.7)
    x = np.arange(len(fit.dose_labels))
    any_pending = "pending" in counts and bool(counts["pending"].to_numpy().any())
    axis_label = "dose level: DLTs/patients" + (" (+ pending)" if any_pending else "")
    for c, (panel, construct) in enumerate(zip(subfigures, fit.constructs, strict=True)):
        ax = panel.subplots()
        ax.axhspan(
            lower,
            upper,
            color="tab:green",
            alpha=0.15,
            lw=0,
            label=f"target [{lower:g}, {upper:g})",
        )
        ax.fill_between(x, low[c], high[c], color=_BLUE, alpha=0.25, lw=0, label=f"{prob:.0%} band")
        ax.plot(x, mid[c], color=_BLUE, marker="o", ms=4, label="posterior median")
        mine = counts[counts["construct"] == construct]
        n = mine["n"].to_numpy()
        dlt = mine["dlt"].to_numpy()
        pending = mine["pending"].to_numpy() if "pending" in mine else np.zeros_like(n)
        seen = n > 0
        rate = np.divide(dlt, n, out=np.zeros(n.shape), where=seen)
        ax.scatter(x[seen], rate[seen], label="observed DLTs/n", **_OBSERVED)
        ticks = [
            f"{label}\n{count_label(d, k, pending=p)}"
            for label, d, k, p in zip(fit.dose_labels, dlt, n, pending, strict=True)
        ]
        ax.set_xticks(x, ticks)
        ax.set_ylim(*PROBABILITY_LIMITS)
        ax.set_xlim(-0.5, len(x) - 0.5)
        ax.set_title(construct)
        ax.set_xlabel(axis_label)
        ax.set_ylabel("DLT rate")
        panel_legend(panel, ax)
    return figure


def toxicity_interval_figure(fit: ToxicityFit, *, ewoc: float = 0.25) -> Figure:
    """BLRM interval probabilities, one panel per construct: stacked bars of P(overdose),
    P(target) and P(underdose) per dose, overdosing at the bottom so that its height reads
    against the EWOC line at ``ewoc``; the overdose part of a dose with
    P(overdose) >= ``ewoc`` (not admissible under EWOC, Babb, Rogatko and Zacks 1998;
    Neuenschwander, Branson and Gsponer 2008) is hatched. The patients treated at each
    dose are under its label."""
    if not 0.0 < ewoc < 1.0:
        raise ValueError(f"ewoc {ewoc} must lie strictly between 0 and 1")
    table = fit.interval_probabilities()
    lower, upper = fit.intervals
    title = f"Interval probabilities of the DLT rate: {_model_name(fit)}"
    figure, subfigures = panels(len(fit.constructs), title=title, height=3.9)
    x = np.arange(len(fit.dose_labels))
    parts = (
        ("over", "prob_over", f"overdose: p \u2265 {upper:g}"),
        ("target", "prob_target", f"target: {lower:g} \u2264 p < {upper:g}"),
        ("under", "prob_under", f"underdose: p < {lower:g}"),
    )
    for panel, construct in zip(subfigures, fit.constructs, strict=True):
        ax = panel.subplots()
        mine = table[table["construct"] == construct]
        bottom = np.zeros(len(x))
        for key, column, label in parts:
            values = mine[column].to_numpy()
            bars = ax.bar(
                x,
                values,
                bottom=bottom,
                width=0.7,
                color=_INTERVAL_COLOURS[key],
                edgecolor="white",
                lw=0.6,
                label=label,
            )
            if key == "over":
                for bar, value in zip(bars, values, strict=True):
                    if value >= ewoc:
                        bar.set_hatch("///")
                        bar.set_edgecolor("black")
            bottom = bottom + values
        ax.axhline(ewoc, color="black", ls="--", lw=1.2, label=f"EWOC limit {ewoc:g}")
        n = fit.counts.loc[fit.counts["construct"] == construct, "n"].to_numpy()
        ax.set_xticks(x, [f"{d}\nn={k}" for d, k in zip(fit.dose_labels, n, strict=True)])
        ax.set_ylim(0.0, 1.0)
        ax.set_xlim(-0.6, len(x) - 0.4)
        ax.set_title(construct)
        ax.set_ylabel("posterior probability")
        inadmissible = Patch(
            facecolor=_INTERVAL_COLOURS["over"],
            edgecolor="black",
            hatch="///",
            label=f"P(overdose) \u2265 {ewoc:g}: not admissible",
        )
        panel_legend(panel, ax, extra=[inadmissible])
    return figure


def response_figure(fit: ResponseFit, *, prob: float = 0.9) -> Figure:
    """Posterior ORR per construct (and dose): median with its central ``prob`` credible
    interval, and the observed proportion of responders as an open black diamond; each row's
    label gives responders/n. The x axis runs from just below 0 to just above 1, so that a
    0/n diamond shows in full."""
    draws = flat_draws(fit.orr())
    low, mid, high = band(draws, prob)
    counts = fit.counts
    n = counts["n"].to_numpy()
    responders = counts["responders"].to_numpy()
    names = (
        [f"{c} {d}" for c, d in zip(counts["construct"], counts["dose"], strict=True)]
        if fit.by_dose
        else [str(c) for c in counts["construct"]]
    )
    rows = [
        f"{name}: {count_label(r, k)}" if k else f"{name}: no patient"
        for name, r, k in zip(names, responders, n, strict=True)
    ]
    figure = new_figure(6.4, 0.3 * len(rows) + 1.9)
    ax = figure.subplots()
    y = np.arange(len(rows))[::-1]
    ax.hlines(y, low, high, color=_BLUE, lw=2, label=f"{prob:.0%} credible interval")
    ax.plot(mid, y, "o", color=_BLUE, ms=5, label="posterior median")
    seen = n > 0
    observed = np.divide(responders, n, out=np.zeros(n.shape), where=seen)
    ax.scatter(observed[seen], y[seen], label="observed responders/n", **_OBSERVED)
    ax.set_xlim(*PROBABILITY_LIMITS)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_yticks(y, rows)
    ax.set_ylabel(("construct and dose" if fit.by_dose else "construct") + ": responders/n")
    ax.set_xlabel("objective response rate (confirmed CR or PR)")
    ax.set_title(f"Objective response rate: {fit.name}")
    ax.grid(axis="x", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    panel_legend(figure, ax, ncol=3)
    return figure


_ENDPOINT_NAMES = {
    "log10_cmax": "log10 Cmax (copies/ug)",
    "log10_auc": "log10 AUC0-28 (copies x day/ug)",
}


def kinetics_figure(fit: KineticsFit, *, prob: float = 0.9) -> Figure:
    """Kinetics per construct (one column each): log10 Cmax above, log10 AUC0-28 below.

    Each panel shows the posterior mean of the mean log10 endpoint by dose with its
    central ``prob`` credible band, and each patient's value: filled circles when
    quantified, an open downward triangle at the bound when below the LLOQ (left-censored,
    the value lies below the triangle) and an open circle on a vertical bar spanning the
    interval when an AUC holds below-LLOQ samples (interval-censored); the LLOQ is a
    dotted line on the Cmax panels when the below-LLOQ Cmax values share one bound.
    Patients at one dose are spread slightly sideways; n per dose is under each dose
    label.
    """
    from .kinetics import ENDPOINTS

    n_e, n_c, n_d = len(ENDPOINTS), len(fit.constructs), len(fit.dose_labels)
    draws = flat_draws(fit.mean_log10()).reshape(n_e, n_c, n_d, -1)
    mean = draws.mean(axis=-1)
    low, _, high = band(draws, prob)
    data = fit.data
    title = f"Kinetics: posterior mean by dose with {prob:.0%} credible band, and each patient"
    figure, subfigures = panels(n_c, height=5.6, title=title)
    x = np.arange(n_d)
    spread = _spread(data.construct, data.dose)
    bounds = np.unique(data.upper[data.kinds(0)[1], 0])
    lloq = float(bounds[0]) if bounds.size == 1 else None
    limits = [_limits(low[k], high[k], data.lower[:, k], data.upper[:, k]) for k in range(n_e)]
    for c, (panel, construct) in enumerate(zip(subfigures, fit.constructs, strict=True)):
        axes = panel.subplots(n_e, 1, sharex=True)
        mine = data.construct == c
        for k, (ax, endpoint) in enumerate(zip(axes, ENDPOINTS, strict=True)):
            ax.fill_between(
                x, low[k, c], high[k, c], color=_BLUE, alpha=0.2, lw=0, label=f"{prob:.0%} band"
            )
            ax.plot(x, mean[k, c], color=_BLUE, marker="o", ms=4, label="posterior mean")
            _patients(ax, data, k, mine, data.dose + spread)
            if endpoint == "log10_cmax" and lloq is not None:
                ax.axhline(lloq, color="0.4", ls=":", lw=1, label="LLOQ")
            ax.set_ylim(*limits[k])
            ax.set_xlim(-0.5, n_d - 0.5)
            ax.set_ylabel(_ENDPOINT_NAMES[endpoint], fontsize=8.5)
        patients = np.bincount(data.dose[mine], minlength=n_d)
        axes[-1].set_xticks(
            x, [f"{d}\nn={k}" for d, k in zip(fit.dose_labels, patients, strict=True)]
        )
        axes[-1].set_xlabel("dose level")
        axes[0].set_title(construct)
        panel_legend(panel, *axes)
    return figure


def _spread(construct: np.ndarray, dose: np.ndarray, *, width: float = 0.3) -> np.ndarray:
    """Sideways offsets that spread the patients of one construct and dose over
    ``width``, in patient order."""
    offsets = np.zeros(construct.size)
    for key in sorted(set(zip(construct.tolist(), dose.tolist(), strict=True))):
        rows = np.flatnonzero((construct == key[0]) & (dose == key[1]))
        if rows.size > 1:
            offsets[rows] = np.linspace(-width / 2, width / 2, rows.size)
    return offsets


def _limits(*arrays: np.ndarray) -> tuple[float, float]:
    values = np.concatenate([np.ravel(a) for a in arrays])
    values = values[np.isfinite(values)]
    low, high = float(values.min()), float(values.max())
    pad = max(0.1, 0.06 * (high - low))
    return low - pad, high + pad


def _patients(ax, data, k: int, mine: np.ndarray, x: np.ndarray) -> None:
    """Each patient's value of endpoint ``k``; a kind of value (quantified, below the
    LLOQ, a range) is labelled whenever some patient of any construct has it, so that
    every panel's legend lists the same entries."""
    colour = "black"
    exact, left, interval = data.kinds(k)
    if exact.size:
        rows = exact[mine[exact]]
        ax.scatter(x[rows], data.upper[rows, k], s=16, color=colour, zorder=3, label="quantified")
    if left.size:
        rows = left[mine[left]]
        ax.scatter(
            x[rows],
            data.upper[rows, k],
            s=26,
            marker="v",
            facecolors="none",
            edgecolors=colour,
            zorder=3,
            label="below LLOQ (at most)",
        )
    if interval.size:
        rows = interval[mine[interval]]
        ax.vlines(x[rows], data.lower[rows, k], data.upper[rows, k], color=colour, lw=0.8)
        ax.scatter(
            x[rows],
            (data.lower[rows, k] + data.upper[rows, k]) / 2.0,
            s=16,
            facecolors="white",
            edgecolors=colour,
            zorder=3,
            label="range (some < LLOQ)",
        )


def manufacturing_figure(fit: ManufacturingFit, *, prob: float = 0.9) -> Figure:
    """Posterior lot release probability, one panel per construct: the exact Beta
    posterior density over the histogram of the MCMC draws, its central ``prob`` interval
    shaded and the observed share of released lots as a dashed line; the title gives
    released/lots (and lots awaiting release). The x axis runs from just below 0 to just
    above 1, so that an observed 0/n or n/n line is not hidden on the frame."""
    from scipy import stats

    exact = fit.exact(prob=prob)
    draws = flat_draws(fit.release_probability())
    title = f"Lot release probability: exact Beta posterior, MCMC draws, {prob:.0%} interval"
    figure, subfigures = panels(len(fit.constructs), title=title, height=3.3)
    grid = np.linspace(0.0025, 0.9975, 399)
    for c, (panel, row) in enumerate(zip(subfigures, exact.itertuples(index=False), strict=True)):
        ax = panel.subplots()
        ax.hist(
            draws[c],
            bins=40,
            range=(0, 1),
            density=True,
            color=_BLUE,
            alpha=0.35,
            label="MCMC draws",
        )
        ax.plot(
            grid,
            stats.beta(row.alpha, row.beta).pdf(grid),
            color="black",
            lw=1.2,
            label=f"Beta({row.alpha:g}, {row.beta:g})",
        )
        ax.axvspan(
            row.lower, row.upper, color="tab:green", alpha=0.12, lw=0, label=f"{prob:.0%} interval"
        )
        if row.lots > 0:
            ax.axvline(
                row.released / row.lots,
                color="black",
                ls="--",
                lw=1,
                label=f"observed {row.released}/{row.lots}",
            )
        ax.set_xlim(*PROBABILITY_LIMITS)
        ax.set_ylim(bottom=0.0)
        awaiting = f", {row.awaiting} awaiting" if getattr(row, "awaiting", 0) else ""
        ax.set_title(f"{row.construct}: {row.released}/{row.lots} lots released{awaiting}")
        ax.set_xlabel("release probability")
        ax.set_ylabel("posterior density")
        panel_legend(panel, ax)
    return figure
