"""The survival figure: Kaplan-Meier curves with censoring ticks and the number at risk,
overlaid with the posterior survival curve of the Bayesian parametric fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._plot_parts import PROBABILITY_LIMITS, band, panel_legend, panels

if TYPE_CHECKING:
    from .survival import SurvivalFit

__all__ = ["at_risk", "survival_figure"]

_BLUE = "tab:blue"


def at_risk(time: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Patients at risk at each of ``days``: those whose event or censoring time is at or
    after the day (the convention of Kaplan and Meier 1958 and of lifelines)."""
    return (np.asarray(time)[None, :] >= np.asarray(days)[:, None]).sum(axis=1)


def survival_figure(fit: SurvivalFit, *, prob: float = 0.9) -> Figure:
    """Kaplan-Meier curve per construct (one panel each, or one pooled panel) with
    censoring ticks, the posterior median survival curve of the fitted Weibull (or
    exponential) model and its central ``prob`` band, and the number at risk under the
    axis at each tick.

    The Kaplan-Meier estimate (lifelines; Kaplan and Meier 1958) is the step function of
    the patients in the panel; a tick marks each censored time on the curve. The
    posterior curve is S(t) = exp(-(t / lambda)^k) draw by draw.
    """
    from lifelines import KaplanMeierFitter

    data = fit.data
    horizon = float(max(data.time.max(), 1.0)) * 1.05
    t = np.linspace(0.0, horizon, 160)
    curves = fit.survival(t)
    days = MaxNLocator(nbins=5, steps=[1, 2, 3, 5, 6, 10]).tick_values(0.0, horizon)
    days = days[(days >= 0.0) & (days <= horizon)]
    endpoint = fit.endpoint.upper()
    model = fit.distribution.capitalize()
    title = f"{endpoint}: Kaplan-Meier and the {model} fit (posterior median, {prob:.0%} band)"
    figure, subfigures = panels(len(fit.constructs), height=4.3, title=title)
    for c, (panel, construct) in enumerate(zip(subfigures, fit.constructs, strict=True)):
        mask = (
            data.construct == fit.labels.index(construct)
            if fit.by_construct
            else np.ones(data.time.size, dtype=bool)
        )
        ax, table = panel.subplots(2, 1, sharex=True, height_ratios=(5, 0.7))
        values = curves.isel(construct=c).stack(sample=("chain", "draw")).to_numpy()
        low, mid, _high = band(values, prob)
        ax.fill_between(t, low, _high, color=_BLUE, alpha=0.2, lw=0, label=f"{prob:.0%} band")
        ax.plot(t, mid, color=_BLUE, lw=1.5, label=f"{model} median")
        time, event = data.time[mask], data.event[mask].astype(bool)
        if mask.any():
            kmf = KaplanMeierFitter().fit(time, event)
            km = kmf.survival_function_
            steps = np.append(km.index.to_numpy(), horizon)
            levels = np.append(km.iloc[:, 0].to_numpy(), km.iloc[-1, 0])
            ax.step(
                steps[:-1],
                levels[:-1],
                where="post",
                color="black",
                lw=1.3,
                label="Kaplan-Meier",
            )
            censored = np.sort(time[~event])
            if censored.size:
                ax.plot(
                    censored,
                    kmf.survival_function_at_times(censored).to_numpy(),
                    "|",
                    color="black",
                    ms=9,
                    mew=1.3,
                    label="censored",
                )
        ax.set_ylim(*PROBABILITY_LIMITS)
        ax.set_xlim(0.0, horizon)
        ax.set_xticks(days)
        ax.tick_params(labelbottom=True)
        name = construct if fit.by_construct else "all constructs"
        ax.set_title(
            f"{name}: {endpoint}, {int(data.event[mask].sum())} events in {int(mask.sum())}"
        )
        ax.set_ylabel("survival probability")
        table.set_xlabel("days from first infusion")
        _risk_table(table, days, at_risk(time, days))
        panel_legend(panel, ax)
    return figure


def _risk_table(ax, days: np.ndarray, counts: np.ndarray) -> None:
    ax.set_ylim(0.0, 1.0)
    for day, count in zip(days, counts, strict=True):
        ax.text(day, 0.5, str(int(count)), ha="center", va="center", fontsize=8)
    ax.set_yticks([0.5], ["at risk"])
    ax.tick_params(axis="both", length=0, labelbottom=False, labelsize=8)
    ax.tick_params(axis="y", pad=12)
    for spine in ax.spines.values():
        spine.set_visible(False)
