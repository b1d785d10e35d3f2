"""PFS and OS of the expanded construct at its expansion dose: Kaplan-Meier and Weibull.

The population is every infused patient of the construct at the expansion dose level,
Phase 1 and Phase 2, with times known at the data cut-off
(:func:`~dartnk.analyses.model_inputs.survival_inputs`).
Kaplan-Meier estimates come from lifelines (Greenwood intervals); the Bayesian estimates
from the Weibull model of :func:`dartnk.models.fit_survival` (one scale, pooled), sampled
with an explicit seed and checked against the protocol's diagnostic gates.

References
----------
Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations. Journal
of the American Statistical Association 53:457-481.
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .trial import TrialData

if TYPE_CHECKING:
    from dartnk.models import SurvivalFit

__all__ = ["ExpansionSurvival", "analyse_expansion_survival"]

_ENDPOINTS = ("pfs", "os")
_COLUMNS = (
    "endpoint",
    "method",
    "patients",
    "events",
    "median_days",
    "median_lower",
    "median_upper",
    "s6",
    "s12",
    "gates",
)


@dataclass(frozen=True, repr=False)
class ExpansionSurvival:
    """PFS and OS of one construct at one dose level at a data cut.

    Attributes
    ----------
    construct, dose_level : str
    cutoff : int
    ci_prob : float
        Probability of every interval (Kaplan-Meier confidence, Bayesian credible).
    kaplan_meier : DataFrame
        One row per endpoint: patients, events, median with its interval, S(6 months)
        and S(12 months) with intervals (NaN where the curve does not reach them).
    fits : tuple of SurvivalFit
        The Weibull fits of PFS and OS (empty without the Bayesian model).
    seed : int
        Root seed of the fits.
    """

    construct: str
    dose_level: str
    cutoff: int
    ci_prob: float
    kaplan_meier: pd.DataFrame
    fits: tuple[SurvivalFit, ...]
    seed: int

    def summary(self) -> pd.DataFrame:
        """Rows per endpoint and method (Kaplan-Meier, Weibull posterior median and
        interval): patients, events, median days with interval, S(6 and 12 months), and
        whether the Bayesian fit passed its gates."""
        rows = []
        for km in self.kaplan_meier.itertuples(index=False):
            rows.append(
                {
                    "endpoint": km.endpoint.upper(),
                    "method": "Kaplan-Meier",
                    "patients": km.patients,
                    "events": km.events,
                    "median_days": km.median,
                    "median_lower": km.median_lower,
                    "median_upper": km.median_upper,
                    "s6": km.s6,
                    "s12": km.s12,
                    "gates": "",
                }
            )
        for fit in self.fits:
            e = fit.estimates(prob=self.ci_prob).iloc[0]
            rows.append(
                {
                    "endpoint": fit.endpoint.upper(),
                    "method": f"{fit.distribution.capitalize()} (posterior)",
                    "patients": int(fit.data.time.size),
                    "events": int(fit.data.event.sum()),
                    "median_days": e["median_days_median"],
                    "median_lower": e["median_days_lower"],
                    "median_upper": e["median_days_upper"],
                    "s6": e["s6_median"],
                    "s12": e["s12_median"],
                    "gates": "passed" if fit.passed else "FAILED",
                }
            )
        table = pd.DataFrame(rows, columns=list(_COLUMNS))
        order = {e.upper(): i for i, e in enumerate(_ENDPOINTS)}
        return table.sort_values("endpoint", key=lambda s: s.map(order), kind="stable").reset_index(
            drop=True
        )

    @property
    def headline(self) -> str:
        from dartnk.models import MONTH_DAYS

        level = f"{round(100 * self.ci_prob):d}%"
        seed = f", seed {self.seed}" if self.fits else ""
        return (
            f"PFS and OS of construct {self.construct} at {self.dose_level} (both phases), "
            f"cut-off study day {self.cutoff}: medians in days with {level} intervals, "
            f"survival at 6 and 12 months ({MONTH_DAYS:g} days a month){seed}"
        )

    def __repr__(self) -> str:
        return f"{self.headline}\n{self.summary().to_string(index=False)}"

    def _repr_html_(self) -> str:
        table = self.summary().to_html(index=False, escape=True, border=0)
        return f"<p>{html.escape(self.headline)}</p>\n{table}"


def analyse_expansion_survival(
    trial: TrialData,
    construct: str,
    dose_level: str,
    *,
    model: bool = True,
    seed: int | None = None,
    ci_prob: float = 0.90,
    progressbar: bool | None = None,
) -> ExpansionSurvival:
    """PFS and OS of ``construct`` at ``dose_level`` by Kaplan-Meier and, with ``model``,
    by the Weibull model (module docstring).

    Parameters
    ----------
    trial : TrialData
    construct : str
    dose_level : str
        Dose label.
    model : bool, default True
        Also fit the Bayesian Weibull model (MCMC, a few seconds per endpoint) to each
        endpoint with at least one patient.
    seed : int, optional
        Root seed of the fits (PFS with child 0, OS with child 1 of it); a fresh one,
        recorded in the result, when None.
    ci_prob : float, default 0.90
    progressbar : bool, optional
    """
    from dartnk.models import fit_survival, kaplan_meier

    from .model_inputs import survival_inputs

    patients = trial.patients
    chosen = patients[(patients["construct"] == construct) & (patients["dose_level"] == dose_level)]
    subset = dataclasses.replace(trial, patients=chosen)
    labels = (construct,)
    rows, fits = [], []
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(2, np.uint32).view(np.uint64)[0] >> 1)
    roots = np.random.SeedSequence(seed).spawn(len(_ENDPOINTS))
    for i, endpoint in enumerate(_ENDPOINTS):
        inputs = survival_inputs(subset, endpoint, constructs=labels)
        km = kaplan_meier(inputs.data, labels, prob=ci_prob).iloc[0]
        rows.append({"endpoint": endpoint, **km.drop("construct").to_dict()})
        if model and inputs.data.time.size:
            fit = fit_survival(inputs, by_construct=False, seed=roots[i], progressbar=progressbar)
            fits.append(fit)
    return ExpansionSurvival(
        construct=construct,
        dose_level=dose_level,
        cutoff=int(trial.cutoff),
        ci_prob=float(ci_prob),
        kaplan_meier=pd.DataFrame(rows),
        fits=tuple(fits),
        seed=seed,
    )
