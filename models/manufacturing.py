"""Manufacturability: the probability that a product lot of a construct is released.

Data (:class:`~dartnk.models.LotData`): per construct, the product lots whose release
outcome is known at the cut-off, and the released ones among them; lots still in
manufacture are left out as awaiting. For a data cut
:func:`dartnk.analyses.model_inputs.lot_data` counts them, with a failed lot counting only
once a release could have been known, so that early estimates are not biased downwards.

Model, per construct c with s_c released lots of n_c:

    s_c ~ Binomial(n_c, q_c),  q_c ~ Beta(a, b)

(the inputs' :class:`~dartnk.models.BetaPrior`; for the trial, the protocol's
``priors.manufacturing_beta``, a = b = 1),

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
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Unpack

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy import stats

from ._fit import Fit, fit_fields
from ._intervals import draw_summary
from ._sampling import sample
from ._settings import SamplingOptions
from .inputs import ManufacturingInputs, ModelInputSource, resolve_inputs
from .priors import BetaPrior

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ManufacturingFit", "beta_binomial_posterior", "fit_manufacturing"]


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

    def plot(self, *, prob: float = 0.9) -> Figure:
        """Posterior release probability per construct: the exact Beta density over the
        MCMC draws' histogram, with the observed released/lots
        (:func:`dartnk.models._plots.manufacturing_figure`)."""
        from ._plots import manufacturing_figure

        return manufacturing_figure(self, prob=prob)


def fit_manufacturing(
    data: ManufacturingInputs | ModelInputSource,
    *,
    prior: BetaPrior | Sequence[float] | None = None,
    constructs: Sequence[str] | None = None,
    **sampling: Unpack[SamplingOptions],
) -> ManufacturingFit:
    """Posterior lot release probability per construct of a data cut (module docstring).

    Parameters
    ----------
    data : ManufacturingInputs or ModelInputSource
        The inputs, or a data cut that converts to them
        (:class:`dartnk.analyses.TrialData`: lots with a known outcome at the cut-off,
        the protocol's prior and sampling plan).
    prior : BetaPrior or pair of float, optional
        Replaces the Beta(a, b) prior of the inputs (the protocol's
        ``priors.manufacturing_beta``, (1, 1), for a data cut).
    constructs : sequence of str, optional
        Construct order of a data cut (the protocol's by default).
    **sampling
        ``draws``, ``tune``, ``chains``, ``target_accept``, ``cores``, ``seed``,
        ``gates``, ``progressbar`` (:class:`~dartnk.models.SamplingOptions`; the
        inputs' plan by default: the protocol's settings and gates for a data cut).

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
    inputs = resolve_inputs(
        data,
        "manufacturing",
        entry="fit_manufacturing",
        selection={"constructs": constructs},
        defaults={"constructs": None},
    )
    if prior is not None:
        chosen = prior if isinstance(prior, BetaPrior) else BetaPrior(*prior)
        inputs = replace(inputs, prior=chosen)
    lots = inputs.data
    a, b = inputs.prior.pair
    with pm.Model(coords={"construct": list(lots.constructs)}) as model:
        q = pm.Beta("release_prob", alpha=a, beta=b, dims="construct")
        pm.Binomial("released", n=lots.lots, p=q, observed=lots.released)
    fit = sample(
        model,
        **inputs.plan.arguments(sampling),
        gated=["release_prob"],
        name="lot release (beta-binomial)",
    )
    return ManufacturingFit(
        **fit_fields(fit),
        constructs=lots.constructs,
        counts=lots.counts(),
        beta_prior=(a, b),
    )
