"""Manufacturability: the probability that a product lot of a construct is released.

Data: the lots of the patients enrolled by the cut-off C. A released lot counts once its
release day is <= C. A failed lot carries no date, so its failure counts once a release
could have been known: from its patient's enrolment day plus the shortest turnaround
(release day - enrolment day) among the lots released by C; with no lot released yet,
failures count at once. Lots still in manufacture by that rule, and lots whose outcome is
missing, are left out as awaiting. Counting every failure at once would bias early
estimates downwards: at C = 70 in the example cut, two lots of a patient enrolled on day
69 would count as failed while the lot of a patient enrolled the same day, released on
day 81, would not count at all.

Model, per construct c with s_c released lots of n_c:

    s_c ~ Binomial(n_c, q_c),  q_c ~ Beta(a, b),  a = b = 1 by default
    (the protocol's ``priors.manufacturing_beta``),

whose posterior is Beta(a + s_c, b + n_c - s_c) in closed form (conjugacy); the same model
is also sampled with PyMC so that its draws combine, draw by draw, with the other models'
(e.g. in the construct-selection composite).

References
----------
Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB (2013). Bayesian Data
Analysis, 3rd ed., section 2.4 (the beta-binomial model). Chapman & Hall/CRC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Unpack

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy import stats

from ._fit import Fit, fit_fields
from ._inputs import SamplingOptions, construct_labels, protocol_of, run_options
from ._intervals import draw_summary
from ._sampling import sample

__all__ = ["ManufacturingFit", "beta_binomial_posterior", "fit_manufacturing", "lot_counts"]


def beta_binomial_posterior(
    released: Sequence[int] | np.ndarray,
    lots: Sequence[int] | np.ndarray,
    *,
    prior: Sequence[float] = (1.0, 1.0),
    prob: float = 0.9,
) -> pd.DataFrame:
    """The conjugate posterior of each lot release probability, in closed form.

    Parameters
    ----------
    released, lots : sequence of int
        Released lots s and lots with a known outcome n, one entry per construct.
    prior : pair of float, default (1, 1)
        Beta(a, b) prior.
    prob : float, default 0.9
        Mass of the central credible interval.

    Returns
    -------
    DataFrame
        ``alpha`` = a + s, ``beta`` = b + n - s, ``mean`` = alpha / (alpha + beta),
        ``sd``, ``median``, ``lower``, ``upper`` (Beta quantiles).

    Examples
    --------
    >>> from dartnk.models import beta_binomial_posterior
    >>> beta_binomial_posterior([9], [10])[["alpha", "beta", "mean"]].round(4)
       alpha  beta    mean
    0   10.0   2.0  0.8333
    """
    s = np.asarray(released, dtype=float)
    n = np.asarray(lots, dtype=float)
    a, b = (float(v) for v in prior)
    if not (a > 0 and b > 0):
        raise ValueError(f"Beta prior {tuple(prior)} must have two positive parameters")
    if s.shape != n.shape or np.any(s < 0) or np.any(s > n):
        raise ValueError("released and lots must match and satisfy 0 <= released <= lots")
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob {prob} must lie strictly between 0 and 1")
    alpha, beta = a + s, b + n - s
    dist = stats.beta(alpha, beta)
    tail = (1.0 - prob) / 2.0
    return pd.DataFrame(
        {
            "alpha": alpha,
            "beta": beta,
            "mean": dist.mean(),
            "sd": dist.std(),
            "median": dist.median(),
            "lower": dist.ppf(tail),
            "upper": dist.ppf(1.0 - tail),
        }
    )


def lot_counts(trial: object, labels: Sequence[str]) -> pd.DataFrame:
    """Lots with a known release outcome at the cut-off, per construct (module docstring):
    ``construct``, ``lots`` (known outcome), ``released``, ``awaiting``."""
    enrolled = trial.patients.set_index(trial.patients["patient_id"].astype(str))["enrolled_day"]
    lots = trial.tables["manufacturing"]
    lots = lots[lots["patient_id"].astype(str).isin(enrolled.index)]
    start = lots["patient_id"].astype(str).map(enrolled).astype("float64").to_numpy()
    outcome = lots["released"].astype("boolean")
    passed = outcome.fillna(False).to_numpy(dtype=bool)
    failed = (~outcome).fillna(False).to_numpy(dtype=bool)
    day = lots["release_study_day"].astype("float64").to_numpy()
    released = passed & (day <= trial.cutoff)
    turnaround = float(np.min(day[released] - start[released])) if released.any() else 0.0
    known_failure = failed & (start + turnaround <= trial.cutoff)
    known = released | known_failure
    construct = lots["construct"].astype(str).to_numpy()
    rows = []
    for label in labels:
        mine = construct == label
        rows.append(
            {
                "construct": label,
                "lots": int((mine & known).sum()),
                "released": int((mine & released).sum()),
                "awaiting": int((mine & ~known).sum()),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True, repr=False, eq=False)
class ManufacturingFit(Fit):
    """Posterior lot release probability per construct.

    Attributes
    ----------
    constructs : tuple of str
    counts : DataFrame
        ``construct``, ``lots`` (known outcome), ``released``, ``awaiting``.
    beta_prior : tuple of float
        Beta(a, b).
    """

    constructs: tuple[str, ...]
    counts: pd.DataFrame
    beta_prior: tuple[float, float]

    def release_probability(self) -> xr.DataArray:
        """Posterior draws of the release probability, dims (chain, draw, construct)."""
        return self.posterior["release_prob"]

    def exact(self, *, prob: float = 0.9) -> pd.DataFrame:
        """The closed-form Beta posterior per construct (:func:`beta_binomial_posterior`)."""
        table = beta_binomial_posterior(
            self.counts["released"], self.counts["lots"], prior=self.beta_prior, prob=prob
        )
        return pd.concat([self.counts, table], axis=1)

    def estimates(self, *, prob: float = 0.9) -> pd.DataFrame:
        """Per construct: counts and the posterior mean, median and central ``prob``
        interval from the draws."""
        summary = draw_summary(self.release_probability(), self.counts, prob=prob)
        return pd.concat([self.counts, summary], axis=1)

    def plot(self, *, prob: float = 0.9) -> object:
        """Posterior release probability per construct: the exact Beta density with the
        MCMC draws' histogram over it."""
        from ._plots import manufacturing_figure

        return manufacturing_figure(self, prob=prob)


def fit_manufacturing(
    data: object,
    *,
    prior: Sequence[float] | None = None,
    constructs: Sequence[str] | None = None,
    **sampling: Unpack[SamplingOptions],
) -> ManufacturingFit:
    """Posterior lot release probability per construct of a data cut (module docstring).

    Parameters
    ----------
    data : TrialData
    prior : pair of float, optional
        Beta(a, b); the protocol's ``priors.manufacturing_beta`` (1, 1) by default.
    constructs : sequence of str, optional
    **sampling
        ``draws``, ``tune``, ``chains``, ``target_accept``, ``cores``, ``seed``,
        ``gates``, ``progressbar`` (:class:`~dartnk.models.SamplingOptions`; the
        protocol's settings and gates by default).

    Returns
    -------
    ManufacturingFit
        ``release_probability()`` draws, ``exact()`` (closed form), ``estimates()``,
        ``summary()``, ``plot()``.

    Notes
    -----
    Likelihood: released lots s_c ~ Binomial(n_c, q_c) among lots with a known outcome.
    Prior: q_c ~ Beta(1, 1) (the protocol's default); posterior Beta(1 + s_c, 1 + n_c - s_c).
    """
    protocol = protocol_of(data)
    if protocol is None:
        raise TypeError("fit_manufacturing needs a data cut (TrialData)")
    labels = construct_labels(
        data.tables["manufacturing"]["construct"].astype(str),
        constructs or protocol.construct_ids,
    )
    counts = lot_counts(data, labels)
    a, b = (float(v) for v in (prior or protocol.priors.manufacturing_beta))
    with pm.Model(coords={"construct": list(labels)}) as model:
        q = pm.Beta("release_prob", alpha=a, beta=b, dims="construct")
        pm.Binomial(
            "released", n=counts["lots"].to_numpy(), p=q, observed=counts["released"].to_numpy()
        )
    fit = sample(
        model,
        **run_options(data, sampling),
        gated=["release_prob"],
        name="lot release (beta-binomial)",
    )
    return ManufacturingFit(
        **fit_fields(fit), constructs=tuple(labels), counts=counts, beta_prior=(a, b)
    )
