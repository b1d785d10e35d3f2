"""Convergence diagnostics of a posterior sample and the gates a fit must pass."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._arviz import InferenceData, posterior_table
from ._settings import Gates

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Diagnostics", "diagnose"]

_COLUMNS = ("parameter", "r_hat", "ess_bulk", "ess_tail", "mcse_mean", "sd")


@dataclass(frozen=True, repr=False)
class Diagnostics:
    """R-hat, bulk and tail ESS per parameter, divergences, and the verdict of the gates.

    Attributes
    ----------
    table : DataFrame
        One row per gated scalar parameter: ``parameter`` (label such as ``tau[log_beta]``),
        ``r_hat``, ``ess_bulk``, ``ess_tail``, ``mcse_mean``, ``sd``.
    divergences : int
        Divergent transitions after tuning, all chains.
    chains, draws : int
        Chains and draws per chain.
    gates : Gates
    failures : tuple of str
        One sentence per failed gate, naming the parameter and by how much it failed;
        empty when the fit passed.
    attempts : tuple of (float, int)
        Target acceptance rate and divergences of each earlier run, repeated because it
        diverged too often (empty when the first run was kept).
    """

    table: pd.DataFrame
    divergences: int
    chains: int
    draws: int
    gates: Gates
    failures: tuple[str, ...]
    attempts: tuple[tuple[float, int], ...] = ()

    @property
    def passed(self) -> bool:
        """True when every gate passed."""
        return not self.failures

    @property
    def max_rhat(self) -> float:
        """Largest R-hat over the gated parameters (NaN when undefined)."""
        values = self.table["r_hat"].to_numpy(dtype=float)
        return float(np.nanmax(values)) if np.isfinite(values).any() else float("nan")

    @property
    def min_ess_bulk(self) -> float:
        """Smallest bulk ESS over the gated parameters."""
        values = self.table["ess_bulk"].to_numpy(dtype=float)
        return float(np.nanmin(values)) if np.isfinite(values).any() else float("nan")

    def summary(self) -> pd.DataFrame:
        """The per-parameter table with a ``passed`` column for each parameter's gates."""
        out = self.table.copy()
        ok = (out["r_hat"] < self.gates.max_rhat) & (out["ess_bulk"] > self.gates.min_ess_bulk)
        out["passed"] = ok | (out["sd"] == 0)
        return out

    def plot(self) -> Figure:
        """R-hat and bulk and tail ESS per parameter against the gates
        (:func:`dartnk.models._diagnostic_plots.diagnostics_figure`); returns the figure."""
        from ._diagnostic_plots import diagnostics_figure

        return diagnostics_figure(self)

    def _headline(self) -> str:
        verdict = "passed" if self.passed else f"FAILED ({len(self.failures)} problems)"
        retried = "".join(
            f"; rerun after {n} divergences at target_accept {t:g}" for t, n in self.attempts
        )
        return (
            f"Diagnostics: {verdict}; {self.chains} chains x {self.draws} draws; "
            f"max R-hat {self.max_rhat:.4f} (gate < {self.gates.max_rhat:g}), "
            f"min bulk ESS {self.min_ess_bulk:.0f} (gate > {self.gates.min_ess_bulk:g}), "
            f"{self.divergences} divergences (gate <= {self.gates.max_divergences}){retried}"
        )

    def __repr__(self) -> str:
        return "\n".join([self._headline(), *(f"  - {f}" for f in self.failures)])

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(f)}</li>" for f in self.failures)
        return f"<p>{html.escape(self._headline())}</p>" + (f"<ul>{items}</ul>" if items else "")


def diagnose(
    idata: InferenceData,
    var_names: Sequence[str] | None,
    gates: Gates,
    *,
    attempts: tuple[tuple[float, int], ...] = (),
) -> Diagnostics:
    """Diagnostics of the posterior group of ``idata`` for ``var_names`` under ``gates``.

    A parameter whose draws are all equal (a constant) is not gated. With a single chain
    R-hat is undefined, which fails the R-hat gate.
    """
    posterior = idata["posterior"]
    chains, draws = int(posterior.sizes["chain"]), int(posterior.sizes["draw"])
    summary = posterior_table(idata, var_names, hdi_prob=0.9)
    table = pd.DataFrame(
        {
            "parameter": summary.index.astype(str),
            "r_hat": summary["r_hat"].to_numpy(dtype=float),
            "ess_bulk": summary["ess_bulk"].to_numpy(dtype=float),
            "ess_tail": summary["ess_tail"].to_numpy(dtype=float),
            "mcse_mean": summary["mcse_mean"].to_numpy(dtype=float),
            "sd": summary["sd"].to_numpy(dtype=float),
        },
        columns=list(_COLUMNS),
    )
    divergences = 0
    if "sample_stats" in idata.groups() and "diverging" in idata["sample_stats"]:
        divergences = int(idata["sample_stats"]["diverging"].sum())
    failures = _failures(table, divergences, chains, gates)
    return Diagnostics(
        table=table,
        divergences=divergences,
        chains=chains,
        draws=draws,
        gates=gates,
        failures=failures,
        attempts=attempts,
    )


def _failures(table: pd.DataFrame, divergences: int, chains: int, gates: Gates) -> tuple[str, ...]:
    out: list[str] = []
    varying = table[~(table["sd"] == 0)]
    for row in varying.itertuples(index=False):
        if not np.isfinite(row.r_hat):
            reason = "only 1 chain" if chains < 2 else "the draws are not finite"
            out.append(f"{row.parameter}: R-hat is undefined ({reason}); gate < {gates.max_rhat:g}")
        elif row.r_hat >= gates.max_rhat:
            out.append(
                f"{row.parameter}: R-hat {row.r_hat:.4f} is not below {gates.max_rhat:g} "
                f"(over by {row.r_hat - gates.max_rhat:.4f})"
            )
        if not np.isfinite(row.ess_bulk):
            out.append(f"{row.parameter}: bulk ESS is undefined; gate > {gates.min_ess_bulk:g}")
        elif row.ess_bulk <= gates.min_ess_bulk:
            out.append(
                f"{row.parameter}: bulk ESS {row.ess_bulk:.0f} is not above "
                f"{gates.min_ess_bulk:g} (short by {gates.min_ess_bulk - row.ess_bulk:.0f})"
            )
    if divergences > gates.max_divergences:
        out.append(
            f"{divergences} divergent transitions after tuning; at most "
            f"{gates.max_divergences} allowed (over by {divergences - gates.max_divergences})"
        )
    return tuple(out)
