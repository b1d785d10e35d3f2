"""Figures of the model fits, drawn on :class:`matplotlib.figure.Figure` objects.

Figures are built without ``pyplot``, so that fitting and plotting in a loop or in a
report leaves no global figure state behind; a notebook displays the returned figure.
Bands are central credible intervals of the posterior draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from ._intervals import flat_draws

if TYPE_CHECKING:
    from ._dlt import ToxicityFit
    from .kinetics import KineticsFit
    from .manufacturing import ManufacturingFit
    from .response import ResponseFit
    from .survival import SurvivalFit

__all__ = [
    "kinetics_figure",
    "manufacturing_figure",
    "response_figure",
    "survival_figure",
    "toxicity_figure",
]


def _band(values: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tail = (1.0 - prob) / 2.0
    low, mid, high = np.quantile(values, [tail, 0.5, 1.0 - tail], axis=-1)
    return low, mid, high


def _panels(count: int, *, width: float = 3.6, height: float = 3.2) -> tuple[Figure, list]:
    figure = Figure(figsize=(width * count, height), layout="constrained")
    axes = figure.subplots(1, count, sharey=True, squeeze=False)[0]
    return figure, list(axes)


def toxicity_figure(fit: ToxicityFit, *, prob: float = 0.9) -> Figure:
    """Posterior median DLT rate by dose per construct with its ``prob`` band, the target
    interval shaded and the observed DLT proportions (marker area grows with n)."""
    draws = flat_draws(fit.ptox()).reshape(len(fit.constructs), len(fit.dose_labels), -1)
    low, mid, high = _band(draws, prob)
    lower, upper = fit.intervals
    counts = fit.counts
    figure, axes = _panels(len(fit.constructs))
    x = np.arange(len(fit.dose_labels))
    for c, (ax, construct) in enumerate(zip(axes, fit.constructs, strict=True)):
        ax.axhspan(lower, upper, color="tab:green", alpha=0.15, label="target interval")
        ax.fill_between(x, low[c], high[c], color="tab:blue", alpha=0.25, label=f"{prob:.0%}")
        ax.plot(x, mid[c], color="tab:blue", marker="o", label="posterior median")
        mine = counts[counts["construct"] == construct]
        n = mine["n"].to_numpy()
        seen = n > 0
        rate = np.divide(mine["dlt"].to_numpy(), n, out=np.zeros(n.shape), where=seen)
        ax.scatter(x[seen], rate[seen], s=20 * n[seen], color="black", marker="x", label="DLT/n")
        ax.set_xticks(x, fit.dose_labels)
        ax.set_ylim(0.0, 1.0)
        ax.set_title(f"{construct} ({fit.hierarchy})")
        ax.set_xlabel("dose level")
    axes[0].set_ylabel("DLT rate")
    axes[0].legend(loc="upper left", fontsize="small")
    return figure


def response_figure(fit: ResponseFit, *, prob: float = 0.9) -> Figure:
    """Posterior median ORR with its ``prob`` interval per construct (and dose), and the
    observed proportions of responders."""
    draws = flat_draws(fit.orr())
    low, mid, high = _band(draws, prob)
    counts = fit.counts
    names = (
        [f"{c} {d}" for c, d in zip(counts["construct"], counts["dose"], strict=True)]
        if fit.by_dose
        else list(counts["construct"])
    )
    figure = Figure(figsize=(6.0, 0.35 * len(names) + 1.5), layout="constrained")
    ax = figure.subplots()
    y = np.arange(len(names))[::-1]
    ax.hlines(y, low, high, color="tab:blue", label=f"{prob:.0%} interval")
    ax.plot(mid, y, "o", color="tab:blue", label="posterior median")
    n = counts["n"].to_numpy()
    seen = n > 0
    observed = np.divide(counts["responders"].to_numpy(), n, out=np.zeros(n.shape), where=seen)
    ax.plot(observed[seen], y[seen], "x", color="black", label="responders/n")
    ax.set_yticks(y, names)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("objective response rate")
    ax.legend(loc="lower right", fontsize="small")
    return figure


_ENDPOINT_TITLES = {"log10_cmax": "log10 Cmax (copies/ug)", "log10_auc": "log10 AUC0-28"}


def kinetics_figure(fit: KineticsFit, *, prob: float = 0.9) -> Figure:
    """Mean log10 Cmax and AUC0-28 by dose per construct with ``prob`` bands, and each
    patient's value (filled), or upper bound when censored (open)."""
    from .kinetics import ENDPOINTS

    n_e, n_c, n_d = len(ENDPOINTS), len(fit.constructs), len(fit.dose_labels)
    draws = flat_draws(fit.mean_log10()).reshape(n_e, n_c, n_d, -1)
    low, mid, high = _band(draws, prob)
    figure = Figure(figsize=(7.2, 3.2), layout="constrained")
    axes = figure.subplots(1, n_e, squeeze=False)[0]
    x = np.arange(n_d)
    data = fit.data
    offsets = np.linspace(-0.15, 0.15, n_c)
    for k, (ax, endpoint) in enumerate(zip(axes, ENDPOINTS, strict=True)):
        _, left, interval = data.kinds(k)
        censored = np.zeros(data.construct.size, dtype=bool)
        censored[np.concatenate([left, interval])] = True
        for c, construct in enumerate(fit.constructs):
            line = ax.plot(x, mid[k, c], marker="o", label=construct)[0]
            colour = line.get_color()
            ax.fill_between(x, low[k, c], high[k, c], color=colour, alpha=0.15)
            mine = data.construct == c
            for flag, face in ((False, colour), (True, "none")):
                rows = mine & (censored == flag)
                ax.scatter(data.dose[rows] + offsets[c], data.upper[rows, k], s=14,
                           facecolors=face, edgecolors=colour, linewidths=0.8)  # fmt: skip
        ax.set_xticks(x, fit.dose_labels)
        ax.set_title(_ENDPOINT_TITLES[endpoint])
        ax.set_xlabel("dose level")
    axes[0].set_ylabel("posterior mean (log10)")
    axes[0].legend(fontsize="small")
    return figure


def manufacturing_figure(fit: ManufacturingFit, *, prob: float = 0.9) -> Figure:
    """Exact Beta posterior density of each construct's release probability over the
    histogram of its MCMC draws, with the central ``prob`` interval marked."""
    from scipy import stats

    exact = fit.exact(prob=prob)
    draws = flat_draws(fit.release_probability())
    figure, axes = _panels(len(fit.constructs))
    grid = np.linspace(0.0, 1.0, 401)
    for c, (ax, row) in enumerate(zip(axes, exact.itertuples(index=False), strict=True)):
        ax.hist(draws[c], bins=40, range=(0, 1), density=True, color="tab:blue", alpha=0.35)
        ax.plot(grid, stats.beta(row.alpha, row.beta).pdf(grid), color="black")
        ax.axvspan(row.lower, row.upper, color="tab:green", alpha=0.1)
        ax.set_title(f"{row.construct}: {row.released}/{row.lots} released")
        ax.set_xlabel("release probability")
    axes[0].set_ylabel("posterior density")
    return figure


def survival_figure(fit: SurvivalFit, *, prob: float = 0.9) -> Figure:
    """Kaplan-Meier curve of each construct (or pooled) with the posterior survival curve
    of the fitted model and its ``prob`` band."""
    from lifelines import KaplanMeierFitter

    data = fit.data
    horizon = float(max(data.time.max(), 1.0)) * 1.05
    t = np.linspace(0.0, horizon, 120)
    curves = fit.survival(t)
    figure, axes = _panels(len(fit.constructs))
    for c, (ax, construct) in enumerate(zip(axes, fit.constructs, strict=True)):
        mask = (
            data.construct == fit.labels.index(construct)
            if fit.by_construct
            else np.ones(data.time.size, dtype=bool)
        )
        values = curves.isel(construct=c).stack(sample=("chain", "draw")).to_numpy()
        low, mid, high = _band(values, prob)
        ax.fill_between(t, low, high, color="tab:blue", alpha=0.2, label=f"{prob:.0%} band")
        ax.plot(t, mid, color="tab:blue", label=f"{fit.distribution.capitalize()} (median)")
        if mask.any():
            kmf = KaplanMeierFitter().fit(data.time[mask], data.event[mask])
            km = kmf.survival_function_
            ax.step(km.index, km.iloc[:, 0], where="post", color="black", label="Kaplan-Meier")
        ax.set_ylim(0.0, 1.02)
        ax.set_title(f"{construct}: {fit.endpoint.upper()}")
        ax.set_xlabel("days from first infusion")
    axes[0].set_ylabel("survival probability")
    axes[0].legend(fontsize="small")
    return figure
