"""Bayesian monitoring of the DLT rate during an expansion cohort.

The rule stops accrual when the posterior probability that the DLT rate exceeds a limit is
high, as in the Bayesian monitoring rules of Thall, Simon and Estey (1995).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import beta as beta_dist

from ._single_arm import (
    SingleArmAction,
    SingleArmRule,
    ToxicityOC,
    boundary_frame,
    check_count,
    check_looks,
    check_prior,
    check_probability,
    rates_and_labels,
    scalar_or_array,
)

__all__ = ["ToxicityMonitor"]

_STOP = SingleArmAction.STOP_TOXICITY
_CONT = SingleArmAction.CONTINUE


@dataclass(frozen=True, repr=False)
class ToxicityMonitor(SingleArmRule):
    """Stop when P(DLT rate > limit | data) > threshold under a Beta prior.

    With prior p ~ Beta(a, b) and y DLTs in n patients, the posterior is
    Beta(a + y, b + n - y) and the rule stops at a look n when

        P(p > limit | y, n) = 1 - I_limit(a + y, b + n - y) > threshold,

    where I is the regularised incomplete beta function. The probability increases with y
    for fixed n, so each look has one boundary k_n: stop when y >= k_n (:meth:`boundaries`).
    More DLTs never turn a stop into a go.

    Parameters
    ----------
    limit : float
        DLT rate deemed unacceptable.
    threshold : float
        Posterior probability above which accrual stops.
    prior : (a, b), default (1, 1)
        Beta prior of the DLT rate.
    n_max : int
        Patients in the expansion.
    min_n : int, default 1
        First number of DLT-evaluable patients at which the rule is applied, so that one
        early DLT alone cannot stop the expansion.
    looks : sequence of int, optional
        Numbers of patients at which the rule is applied (n_max is added when absent);
        default every patient from ``min_n`` on.

    Examples
    --------
    >>> monitor = ToxicityMonitor(0.33, 0.8, n_max=20, min_n=3)
    >>> monitor.decision(6, 4).action_text
    'stop for toxicity'
    >>> monitor.decision(6, 2).action_text
    'continue'

    References
    ----------
    Thall PF, Simon RM, Estey EH (1995). Bayesian sequential monitoring designs for
    single-arm clinical trials with multiple outcomes. Statistics in Medicine 14:357-379.
    """

    limit: float
    threshold: float
    prior: tuple[float, float] = field(default=(1.0, 1.0), kw_only=True)
    n_max: int = field(kw_only=True)
    min_n: int = field(default=1, kw_only=True)
    looks: tuple[int, ...] | None = field(default=None, kw_only=True)

    _endpoint = "DLTs"

    def __post_init__(self) -> None:
        limit = check_probability("DLT rate limit", self.limit)
        threshold = check_probability("toxicity threshold", self.threshold)
        n_max = check_count("n_max, the number of patients,", self.n_max)
        min_n = check_count("min_n", self.min_n)
        if min_n > n_max:
            raise ValueError(f"min_n {min_n} exceeds n_max {n_max}")
        looks = check_looks(self.looks, n_max, first=min_n)
        if looks[0] < min_n:
            raise ValueError(f"looks {list(looks)} start before min_n {min_n}")
        for name, value in (
            ("limit", limit),
            ("threshold", threshold),
            ("prior", check_prior("toxicity prior", self.prior)),
            ("n_max", n_max),
            ("min_n", min_n),
            ("looks", looks),
        ):
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        a, b = self.prior
        return (
            f"ToxicityMonitor(stop if P(DLT rate > {self.limit:g}) > {self.threshold:g}, "
            f"prior=Beta({a:g}, {b:g}), n_max={self.n_max}, from n={self.looks[0]})"
        )

    def posterior_probability(self, n: int | np.ndarray, y: int | np.ndarray) -> float | np.ndarray:
        """P(p > limit | y DLTs in n) = 1 - I_limit(a + y, b + n - y); a float for single
        numbers, an array for arrays."""
        n_arr, y_arr = self._counts(n, y)
        a, b = self.prior
        return scalar_or_array(beta_dist.sf(self.limit, a + y_arr, b + n_arr - y_arr))

    def _action_table(self) -> np.ndarray:
        n = np.arange(self.n_max + 1)[:, None]
        y = np.arange(self.n_max + 1)[None, :]
        a, b = self.prior
        exceeds = beta_dist.sf(self.limit, a + y, b + np.maximum(n - y, 0)) > self.threshold
        is_look = np.isin(np.arange(self.n_max + 1), self.looks)[:, None]
        return np.where(is_look & (y <= n) & exceeds, _STOP, _CONT).astype(np.int8)

    def _statistic(self, n: int, x: int) -> tuple[str, float]:
        return f"P(DLT rate > {self.limit:g})", float(self.posterior_probability(n, x))

    def _explain(self, n: int, x: int, action: SingleArmAction) -> list[tuple[str, str]]:
        post = float(self.posterior_probability(n, x))
        data = f"P(DLT rate > {self.limit:g} | {x} DLT{'s' if x != 1 else ''} in {n}) = {post:.3f}"
        if n not in self.looks:
            return [
                (
                    "toxicity monitoring",
                    f"{data}; monitoring starts at {self.looks[0]} evaluable patients: continue",
                )
            ]
        if action == _STOP:
            return [("toxicity monitoring", f"{data} > {self.threshold:g}: stop accrual")]
        return [("toxicity monitoring", f"{data} <= {self.threshold:g}: continue")]

    def boundaries(self) -> pd.DataFrame:
        """One row per look: ``n``, ``stop_if_ge`` (stop when DLTs >= it; missing when no
        count stops) and the posterior probability at that count."""
        bound = boundary_frame(self._codes, self.looks, _STOP)
        looks = np.array(self.looks, dtype=np.int64)
        at = np.where(np.isnan(bound), 0, bound).astype(np.int64)
        post = np.where(np.isnan(bound), np.nan, self.posterior_probability(looks, at))
        return pd.DataFrame(
            {
                "n": looks,
                "stop_if_ge": pd.array(bound, dtype="Int64"),
                "prob_at_boundary": post,
            }
        )

    def summary(self) -> pd.DataFrame:
        """The boundary table (:meth:`boundaries`)."""
        return self.boundaries()

    def exact_oc(self, rates: Sequence[float] | None = None) -> ToxicityOC:
        """Exact operating characteristics under true DLT rates (default: the limit), by
        forward recursion over the DLTs at each look."""
        p, labels = rates_and_labels(rates, {"limit": self.limit})
        return ToxicityOC(
            design=repr(self),
            true_rate=p,
            labels=labels,
            looks=np.array(self.looks, dtype=np.int64),
            end_probability=self._end_probability(p),
        )
