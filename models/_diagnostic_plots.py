"""The figure of a fit's convergence diagnostics: R-hat and effective sample sizes per
parameter against the gates."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ._plot_parts import new_figure, panel_legend

if TYPE_CHECKING:
    from ._diagnostics import Diagnostics

__all__ = ["diagnostics_figure"]

_FAIL = "#d7301f"
_PASS = "tab:blue"


def diagnostics_figure(diagnostics: Diagnostics) -> Figure:
    """R-hat (left) and bulk and tail ESS (right, log scale) of every gated parameter, one
    row each, with the gates as dashed lines and the parameters failing a gate in red; the
    title gives the chains, draws and divergences against their gate.

    R-hat is the rank-normalised split R-hat and the ESS the bulk and tail effective
    sample sizes of Vehtari, Gelman, Simpson, Carpenter and Buerkner (2021), Bayesian
    Analysis 16:667-718, as ArviZ computes them.
    """
    table = diagnostics.summary()
    gates = diagnostics.gates
    rows = len(table)
    figure = new_figure(8.4, 0.17 * rows + 2.1)
    left, right_panel = figure.subfigures(1, 2, width_ratios=(1.25, 1.0))
    rhat_ax = left.add_subplot()
    ess_ax = right_panel.add_subplot(sharey=rhat_ax)
    y = np.arange(rows)[::-1]
    failed = ~table["passed"].to_numpy(dtype=bool)
    colours = np.where(failed, _FAIL, _PASS)
    rhat = table["r_hat"].to_numpy(dtype=float)
    rhat_ax.scatter(rhat, y, s=14, c=colours, zorder=3)
    rhat_ax.scatter([], [], s=14, color=_PASS, label="R-hat")
    rhat_ax.scatter([], [], s=14, color=_FAIL, label="fails a gate")
    rhat_ax.axvline(
        gates.max_rhat, color="black", ls="--", lw=1, label=f"gate < {gates.max_rhat:g}"
    )
    finite = rhat[np.isfinite(rhat)]
    right = max(gates.max_rhat, float(finite.max()) if finite.size else 1.0)
    rhat_ax.set_xlim(
        min(0.995, float(finite.min()) - 0.002 if finite.size else 0.995),
        right + 0.25 * (right - 0.995) + 0.002,
    )
    rhat_ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    rhat_ax.set_xlabel("R-hat (rank-normalised split)")
    rhat_ax.set_title("R-hat")
    bulk = table["ess_bulk"].to_numpy(dtype=float)
    tail = table["ess_tail"].to_numpy(dtype=float)
    ess_ax.scatter(bulk, y, s=14, c=colours, zorder=3, label="bulk ESS")
    ess_ax.scatter(tail, y, s=16, facecolors="none", edgecolors=colours, zorder=3, label="tail ESS")
    ess_ax.axvline(
        gates.min_ess_bulk,
        color="black",
        ls="--",
        lw=1,
        label=f"gate > {gates.min_ess_bulk:g} (bulk)",
    )
    ess_ax.set_xscale("log")
    ess_ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ess_ax.xaxis.set_minor_formatter(FuncFormatter(_minor_label))
    ess_ax.tick_params(axis="x", which="minor", labelsize=7)
    ess_ax.set_xlabel("effective sample size (log scale)")
    ess_ax.set_title("Effective sample size")
    rhat_ax.set_yticks(y, table["parameter"].astype(str).tolist(), fontsize=7)
    ess_ax.tick_params(labelleft=False)
    for panel, ax in ((left, rhat_ax), (right_panel, ess_ax)):
        ax.set_ylim(-0.7, rows - 0.3)
        ax.grid(axis="y", color="0.92", lw=0.6)
        ax.set_axisbelow(True)
        panel_legend(panel, ax, ncol=3)
    verdict = "passed" if diagnostics.passed else f"FAILED ({len(diagnostics.failures)} problems)"
    figure.suptitle(
        f"Diagnostics {verdict}: {diagnostics.chains} chains x {diagnostics.draws} draws, "
        f"{diagnostics.divergences} divergences (gate <= {gates.max_divergences})",
        fontsize=10,
    )
    return figure


def _minor_label(value: float, _position: object) -> str:
    """Minor ticks of a log axis labelled at 2 and 5 times a power of ten only."""
    leading = value / 10.0 ** np.floor(np.log10(value))
    return f"{value:g}" if np.isclose(leading, 2.0) or np.isclose(leading, 5.0) else ""
