"""Prior specifications of the models: frozen, validated, free of PyMC.

Each prior holds numbers only and checks them in its constructor; the numbers of a trial
come from its protocol (:mod:`dartnk.analyses.model_inputs` turns the protocol's
``priors`` section into these objects), so no default of the protocol is copied here.
The quadrature engines of :mod:`dartnk.adaptive` and the PyMC models read the same
objects. A setting only some fits need (the hierarchy of the BLRM, the log-dose slope of
the response model, the Weibull shape) may be left None; a fit that needs it says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["BLRMPrior", "BetaPrior", "KineticsPrior", "ResponsePrior", "SurvivalPrior"]


def _pair(name: str, value: Sequence[float], *, positive: bool) -> tuple[float, float]:
    values = tuple(float(v) for v in value)
    if len(values) != 2 or not all(np.isfinite(values)):
        raise ValueError(f"{name} {tuple(value)} must be two finite numbers")
    if positive and not all(v > 0 for v in values):
        raise ValueError(f"{name} {tuple(value)} must be two positive numbers")
    return values


def _positive(name: str, value: float) -> float:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} {value} must be a positive number")
    return float(value)


def _normal(name: str, value: Sequence[float]) -> tuple[float, float]:
    mean, sd = _pair(name, value, positive=False)
    if not sd > 0:
        raise ValueError(f"{name} ({mean}, {sd}) must be a mean and a positive sd")
    return mean, sd


@dataclass(frozen=True)
class BLRMPrior:
    """Bivariate normal prior of the BLRM, and its hierarchy across constructs.

    The BLRM of Neuenschwander, Branson and Gsponer (2008),
    logit p_d = log_alpha + exp(log_beta) log(dose_d / reference_dose), with
    (log_alpha, log_beta) ~ BVN(m, S), S = diag(sd) R diag(sd), R with off-diagonal
    ``corr``. A single arm needs m, sd and corr only. Across constructs the same BVN(m, S)
    is the prior of each independent construct, of the non-exchangeable component and of
    the exchangeable mean mu; the exchangeable and EXNEX fits also need ``tau_scale`` and
    EXNEX ``weight`` (Neuenschwander, Wandel, Roychoudhury and Bailey 2016).

    Parameters
    ----------
    mean : pair of float
        m = prior means of (log_alpha, log_beta).
    sd : pair of float
        Prior standard deviations of (log_alpha, log_beta), > 0.
    corr : float, default 0
        Prior correlation of log_alpha and log_beta, in (-1, 1).
    tau_scale : pair of float, optional
        Half-normal scales of the between-construct standard deviations tau of
        (log_alpha, log_beta) (exchangeable and EXNEX fits).
    weight : float, optional
        EXNEX prior probability that a construct is exchangeable.

    Examples
    --------
    >>> from dartnk.models import BLRMPrior
    >>> prior = BLRMPrior(mean=(-0.85, 0.0), sd=(2.0, 1.0))
    >>> prior.covariance.tolist()
    [[4.0, 0.0], [0.0, 1.0]]

    References
    ----------
    Neuenschwander B, Branson M, Gsponer T (2008). Critical aspects of the Bayesian
    approach to phase I cancer trials. Statistics in Medicine 27:2420-2439.

    Neuenschwander B, Wandel S, Roychoudhury S, Bailey S (2016). Robust exchangeability
    designs for early phase clinical trials with multiple strata. Pharmaceutical
    Statistics 15:123-134.
    """

    mean: tuple[float, float]
    sd: tuple[float, float]
    corr: float = 0.0
    tau_scale: tuple[float, float] | None = None
    weight: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _pair("prior mean", self.mean, positive=False))
        object.__setattr__(self, "sd", _pair("prior sd", self.sd, positive=True))
        if not -1.0 < self.corr < 1.0:
            raise ValueError(f"prior correlation {self.corr} must lie strictly in (-1, 1)")
        object.__setattr__(self, "corr", float(self.corr))
        if self.tau_scale is not None:
            scale = _pair("tau_scale", self.tau_scale, positive=True)
            object.__setattr__(self, "tau_scale", scale)
        if self.weight is not None:
            if not 0.0 <= self.weight <= 1.0:
                raise ValueError(f"EXNEX weight {self.weight} is not a probability")
            object.__setattr__(self, "weight", float(self.weight))

    @property
    def cholesky(self) -> np.ndarray:
        """Lower Cholesky factor of the prior covariance S."""
        (sa, sb), r = self.sd, self.corr
        return np.array([[sa, 0.0], [r * sb, sb * np.sqrt(1.0 - r * r)]])

    @property
    def covariance(self) -> np.ndarray:
        """The prior covariance S of (log_alpha, log_beta)."""
        chol = self.cholesky
        return chol @ chol.T

    def require(self, hierarchy: str) -> None:
        """Check that the prior holds what the ``hierarchy`` fit needs: ``tau_scale`` for
        ``"exchangeable"``, ``tau_scale`` and ``weight`` for ``"exnex"``."""
        needed = {"exchangeable": ("tau_scale",), "exnex": ("tau_scale", "weight")}
        missing = [name for name in needed.get(hierarchy, ()) if getattr(self, name) is None]
        if missing:
            raise ValueError(
                f"the {hierarchy} BLRM needs prior {' and '.join(missing)}; this BLRMPrior has none"
            )


@dataclass(frozen=True)
class ResponsePrior:
    """Prior of the hierarchical ORR model of :func:`dartnk.models.fit_response`.

    logit p_c ~ N(mu, tau), mu ~ N(``logit_mean``, ``logit_sd``),
    tau ~ HalfNormal(``tau_scale``); by dose a shared log-dose slope
    beta ~ N(0, ``dose_slope_sd``) (needed by that fit only).
    """

    logit_mean: float
    logit_sd: float
    tau_scale: float
    dose_slope_sd: float | None = None

    def __post_init__(self) -> None:
        if not np.isfinite(self.logit_mean):
            raise ValueError(f"logit_mean {self.logit_mean} must be a finite number")
        object.__setattr__(self, "logit_mean", float(self.logit_mean))
        for name in ("logit_sd", "tau_scale"):
            object.__setattr__(self, name, _positive(name, getattr(self, name)))
        if self.dose_slope_sd is not None:
            object.__setattr__(
                self, "dose_slope_sd", _positive("dose_slope_sd", self.dose_slope_sd)
            )


@dataclass(frozen=True)
class KineticsPrior:
    """Prior of the kinetics model of :func:`dartnk.models.fit_kinetics`; pairs are
    (log10 Cmax, log10 AUC0-28).

    Construct levels at the reference dose a_kc ~ N(mu_k, tau_k), mu_k ~ N(``mean_k``,
    ``sd_k``), log-dose slope b_k ~ N(0, ``slope_sd``), tau_k ~ HalfNormal(``tau_scale``),
    residual sd sigma_k ~ HalfNormal(``sigma_scale``).
    """

    mean: tuple[float, float]
    sd: tuple[float, float]
    slope_sd: float
    tau_scale: float
    sigma_scale: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _pair("mean (Cmax, AUC)", self.mean, positive=False))
        object.__setattr__(self, "sd", _pair("sd (Cmax, AUC)", self.sd, positive=True))
        for name in ("slope_sd", "tau_scale", "sigma_scale"):
            object.__setattr__(self, name, _positive(name, getattr(self, name)))


@dataclass(frozen=True)
class SurvivalPrior:
    """Normal priors, as (mean, sd), of the Weibull model of
    :func:`dartnk.models.fit_survival`: log scale (days) and log shape (the Weibull fit
    only; the exponential fixes the shape at 1)."""

    log_scale: tuple[float, float]
    log_shape: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "log_scale", _normal("log_scale", self.log_scale))
        if self.log_shape is not None:
            object.__setattr__(self, "log_shape", _normal("log_shape", self.log_shape))


@dataclass(frozen=True)
class BetaPrior:
    """Beta(a, b) prior of a probability, e.g. a construct's lot release probability in
    :func:`dartnk.models.fit_manufacturing` (Gelman et al. 2013, section 2.4)."""

    a: float
    b: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.a) and np.isfinite(self.b) and self.a > 0 and self.b > 0):
            raise ValueError(f"Beta prior ({self.a}, {self.b}) must have two positive parameters")
        object.__setattr__(self, "a", float(self.a))
        object.__setattr__(self, "b", float(self.b))

    @property
    def pair(self) -> tuple[float, float]:
        """(a, b)."""
        return (self.a, self.b)
