"""The result of sampling a model: posterior, diagnostics, summary table, plot."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._arviz import InferenceData, posterior_table, rank_figure, trace_figure
from ._diagnostics import Diagnostics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_HDI_PROB", "Fit", "fit_fields"]

DEFAULT_HDI_PROB = 0.95


@dataclass(frozen=True, repr=False, eq=False)
class Fit:
    """A sampled posterior with its diagnostics.

    Attributes
    ----------
    idata : arviz.InferenceData
        Posterior (dims ``chain``, ``draw`` and the model's named dims), sample stats,
        prior and prior predictive; every group's ``attrs`` hold ``dartnk_version``,
        ``protocol_hash``, ``seed``, ``sampler`` and ``model``.
    diagnostics : Diagnostics
        R-hat, bulk and tail ESS, divergences and the verdict of the gates.
    name : str
        The model, e.g. ``"BLRM (EXNEX)"``.
    parameters : tuple of str
        Posterior variables of the default summary.
    seed : int or str
        Root seed of the fit.
    protocol_hash : str or None
        Content hash of the protocol whose settings were used.
    """

    idata: InferenceData
    diagnostics: Diagnostics
    name: str
    parameters: tuple[str, ...]
    seed: int | str
    protocol_hash: str | None

    @property
    def passed(self) -> bool:
        """True when the fit passed every diagnostic gate."""
        return self.diagnostics.passed

    @property
    def posterior(self) -> Any:
        """The posterior group (an ``xarray.Dataset``)."""
        return self.idata["posterior"]

    @property
    def prior(self) -> Any:
        """The prior group (an ``xarray.Dataset``); prior predictive draws are in
        ``idata.prior_predictive``."""
        return self.idata["prior"]

    def summary(
        self, var_names: Sequence[str] | None = None, *, hdi_prob: float = DEFAULT_HDI_PROB
    ) -> pd.DataFrame:
        """``az.summary`` of the posterior, one row per scalar with readable labels
        (``ptox[A, DL2]``): mean, sd, HDI bounds, MCSE, bulk and tail ESS, R-hat.

        Parameters
        ----------
        var_names : sequence of str, optional
            Variables to summarise; the model's main parameters when None.
        hdi_prob : float, default 0.95
            Probability mass of the highest-density interval.
        """
        names = list(var_names) if var_names is not None else list(self.parameters) or None
        return posterior_table(self.idata, names, hdi_prob=hdi_prob)

    def plot(self) -> Any:
        """Trace plot of the main parameters; returns the matplotlib figure."""
        return trace_figure(self.idata, list(self.parameters) or None)

    def plot_rank(self, var_names: Sequence[str] | None = None, *, columns: int = 4) -> Figure:
        """Rank plots of ``var_names``, the model's main parameters by
        default, one small panel per scalar, ``columns`` a row
        (:func:`dartnk.models._arviz.rank_figure`); returns the figure."""
        names = list(var_names) if var_names is not None else list(self.parameters)
        return rank_figure(self.idata, names, columns=columns)

    def plot_diagnostics(self) -> Figure:
        """R-hat and ESS per gated parameter against the gates (:meth:`Diagnostics.plot`)."""
        return self.diagnostics.plot()

    def _headline(self) -> str:
        posterior = self.idata["posterior"]
        verdict = "passed its gates" if self.passed else "FAILED its gates"
        return (
            f"{self.name}: {posterior.sizes['chain']} chains x {posterior.sizes['draw']} "
            f"draws, seed {self.seed}; {verdict}"
        )

    def __repr__(self) -> str:
        lines = [self._headline(), *(f"  - {f}" for f in self.diagnostics.failures)]
        lines.append(self.summary().to_string(float_format=lambda v: f"{v:.4g}"))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        failures = "".join(f"<li>{html.escape(f)}</li>" for f in self.diagnostics.failures)
        table = self.summary().to_html(escape=True, border=0, float_format=lambda v: f"{v:.4g}")
        items = f"<ul>{failures}</ul>" if failures else ""
        return f"<p>{html.escape(self._headline())}</p>{items}\n{table}"


def fit_fields(fit: Fit) -> dict[str, Any]:
    """The base fields of a fit, to build a model-specific result from it."""
    return {f.name: getattr(fit, f.name) for f in fields(Fit)}
