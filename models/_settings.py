"""Sampling settings, diagnostic gates and the sampling plan of a fit, free of PyMC.

A :class:`SamplingPlan` is what a data cut hands a model besides its data and prior: the
MCMC settings, the gates the fit must pass and the content hash of the protocol they came
from (recorded in the results). The ``fit_*`` entries take the plan of their inputs and
apply the caller's keyword arguments (:class:`SamplingOptions`) over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

import numpy as np

__all__ = ["Gates", "SamplingOptions", "SamplingPlan", "SamplingSettings"]


@dataclass(frozen=True)
class SamplingSettings:
    """MCMC settings (a trial's protocol sets them in its ``sampling`` section).

    Parameters
    ----------
    chains : int, default 4
    draws : int, default 1000
        Draws kept per chain, after tuning.
    tune : int, default 1000
        Tuning (warm-up) steps per chain, discarded.
    target_accept : float, default 0.9
        Target acceptance rate of NUTS step-size adaptation.
    cores : int, default 1
        Processes running chains; chains are seeded one by one, so the draws do not
        depend on it.
    prior_draws : int, default 500
        Draws of the prior and prior predictive distributions.
    retry_target_accept : tuple of float, default (0.95, 0.99)
        When a run has more divergent transitions than the gates allow, it is run again
        (same seeds) with each higher target acceptance in turn, a smaller step size that
        explores the regions where the integrator diverged (Betancourt 2017); the first
        run within the divergence gate is kept, else the last. Empty: no retry.

    References
    ----------
    Betancourt M (2017). A conceptual introduction to Hamiltonian Monte Carlo.
    arXiv:1701.02434.
    """

    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    target_accept: float = 0.9
    cores: int = 1
    prior_draws: int = 500
    retry_target_accept: tuple[float, ...] = (0.95, 0.99)

    def __post_init__(self) -> None:
        for name in ("chains", "draws", "cores", "prior_draws"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} = {value}: expected a whole number >= 1")
        if int(self.tune) != self.tune or self.tune < 0:
            raise ValueError(f"tune = {self.tune}: expected a whole number >= 0")
        if not 0.0 < self.target_accept < 1.0:
            raise ValueError(f"target_accept = {self.target_accept}: expected 0 < value < 1")
        for value in self.retry_target_accept:
            if not 0.0 < value < 1.0:
                raise ValueError(f"retry_target_accept {value}: expected 0 < value < 1")


@dataclass(frozen=True)
class Gates:
    """Diagnostic gates of a fit (a trial's protocol sets them in its ``sampling`` section).

    A fit passes when every gated parameter has R-hat below ``max_rhat`` and bulk
    effective sample size above ``min_ess_bulk``, and the sampler reported at most
    ``max_divergences`` divergent transitions after tuning.

    Parameters
    ----------
    max_rhat : float, default 1.01
        Rank-normalised split R-hat (Vehtari et al. 2021) must be below this.
    min_ess_bulk : float, default 400
        Bulk effective sample size must exceed this.
    max_divergences : int, default 0
        Divergent transitions allowed.

    References
    ----------
    Vehtari A, Gelman A, Simpson D, Carpenter B, Bürkner P-C (2021). Rank-normalization,
    folding, and localization: an improved R-hat for assessing convergence of MCMC.
    Bayesian Analysis 16:667-718.
    """

    max_rhat: float = 1.01
    min_ess_bulk: float = 400.0
    max_divergences: int = 0

    def __post_init__(self) -> None:
        if not self.max_rhat > 1.0:
            raise ValueError(f"max_rhat {self.max_rhat} must exceed 1")
        if not self.min_ess_bulk > 0:
            raise ValueError(f"min_ess_bulk {self.min_ess_bulk} must be positive")
        if int(self.max_divergences) != self.max_divergences or self.max_divergences < 0:
            raise ValueError(f"max_divergences {self.max_divergences} must be a count >= 0")


class SamplingOptions(TypedDict, total=False):
    """Keyword arguments every ``fit_*`` entry takes: NUTS settings (``draws``, ``tune``,
    ``chains``, ``target_accept``, ``cores``: those of the inputs' plan by default), the
    root ``seed`` (spawned per chain), diagnostic ``gates`` (the plan's by default) and
    ``progressbar`` (shown in an interactive terminal only by default)."""

    draws: int
    tune: int
    chains: int
    target_accept: float
    cores: int
    seed: int | np.random.SeedSequence | None
    gates: Gates | None
    progressbar: bool | None


_SETTINGS = ("draws", "tune", "chains", "target_accept", "cores")


@dataclass(frozen=True)
class SamplingPlan:
    """How a fit is sampled: MCMC settings, diagnostic gates, protocol hash.

    Attributes
    ----------
    settings : SamplingSettings
        4 chains of 1000 draws after 1000 tuning steps, target acceptance 0.9 by default.
    gates : Gates
        R-hat < 1.01, bulk ESS > 400, no divergences by default.
    protocol_hash : str or None
        Content hash of the protocol the settings came from, stamped on the results.
    """

    settings: SamplingSettings = field(default_factory=SamplingSettings)
    gates: Gates = field(default_factory=Gates)
    protocol_hash: str | None = None

    def arguments(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments of :func:`~dartnk.models.sample`: this plan with ``fit_*``
        keyword arguments (:class:`SamplingOptions`) applied over it; an unknown keyword
        is an error."""
        known = SamplingOptions.__annotations__
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise TypeError(
                f"unexpected keyword argument(s) {unknown}; expected some of {list(known)}"
            )
        given = {name: options[name] for name in _SETTINGS if options.get(name) is not None}
        gates = options.get("gates")
        return {
            "settings": replace(self.settings, **given) if given else self.settings,
            "gates": gates if gates is not None else self.gates,
            "seed": options.get("seed"),
            "progressbar": options.get("progressbar"),
            "protocol_hash": self.protocol_hash,
        }
