"""Bayesian predictive-probability monitoring of a response rate (Lee and Liu 2008).

Reference: Lee JJ, Liu DD (2008). A predictive probability design for phase II cancer
clinical trials. Clinical Trials 5:93-106.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd
from scipy.special import betaln, gammaln
from scipy.stats import beta as beta_dist

from ._single_arm import (
    SingleArmAction,
    SingleArmOC,
    SingleArmRule,
    boundary_frame,
    check_count,
    check_looks,
    check_prior,
    check_probability,
    rates_and_labels,
    scalar_or_array,
)

__all__ = ["PredictiveProbabilityDesign", "PredictiveSearch", "search_predictive_design"]

_FUT = SingleArmAction.STOP_FUTILITY
_EFF = SingleArmAction.STOP_EFFICACY
_CONT = SingleArmAction.CONTINUE

DEFAULT_THETA_T = tuple(round(0.80 + 0.01 * i, 2) for i in range(20))
DEFAULT_THETA_L = (0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.10, 0.15, 0.20)


@lru_cache(maxsize=256)
def _final_responses(p0: float, a: float, b: float, n_max: int, theta_t: float) -> int | None:
    """Smallest s with P(p > p0 | s responses in n_max) > theta_t, or None."""
    s = np.arange(n_max + 1)
    posterior = beta_dist.sf(p0, a + s, b + n_max - s)
    above = np.flatnonzero(posterior > theta_t)
    return int(above[0]) if above.size else None


@lru_cache(maxsize=256)
def _pp_table(p0: float, a: float, b: float, n_max: int, theta_t: float) -> np.ndarray:
    """PP[n, x] for 0 <= x <= n <= n_max (zero above the diagonal), read-only."""
    s_star = _final_responses(p0, a, b, n_max, theta_t)
    table = np.zeros((n_max + 1, n_max + 1))
    if s_star is None:
        table.flags.writeable = False
        return table
    for n in range(n_max + 1):
        m = n_max - n
        x = np.arange(n + 1)[:, None]
        i = np.arange(m + 1)[None, :]
        log_pmf = (
            gammaln(m + 1)
            - gammaln(i + 1)
            - gammaln(m - i + 1)
            + betaln(a + x + i, b + n - x + m - i)
            - betaln(a + x, b + n - x)
        )
        table[n, : n + 1] = np.sum(np.exp(log_pmf) * (x + i >= s_star), axis=1)
    np.clip(table, 0.0, 1.0, out=table)
    table.flags.writeable = False
    return table


@dataclass(frozen=True, repr=False)
class PredictiveProbabilityDesign(SingleArmRule):
    """Predictive-probability design for a single-arm trial on a binary response.

    With prior p ~ Beta(a, b) and x responses in the first n patients, the posterior is
    Beta(a + x, b + n - x) and the number Y of responses among the m = n_max - n patients
    still to come is beta-binomial:

        P(Y = i | x) = C(m, i) B(a + x + i, b + n - x + m - i) / B(a + x, b + n - x).

    The trial would declare the treatment promising at n_max when
    B_i = P(p > p0 | x + i responses in n_max) > theta_t. The predictive probability of
    that success is

        PP(n, x) = sum_{i=0}^{m} P(Y = i | x) 1{B_i > theta_t}.

    At each look n_k < n_max: stop for futility when PP < theta_l; stop for efficacy
    when ``theta_u`` is set and PP > theta_u; continue otherwise. At n_max, PP is 1 or 0:
    the treatment is promising exactly when x >= s*, the smallest number of responses with
    P(p > p0 | s*, n_max) > theta_t (:attr:`final_responses`). PP never decreases in x, so
    each look has one futility boundary (stop if x <= r_k) and one efficacy boundary
    (stop if x >= e_k).

    Parameters
    ----------
    p0 : float
        Response rate of no interest (the null hypothesis).
    p1 : float
        Target response rate (the alternative), above p0; used for the operating
        characteristics only.
    n_max : int
        Maximum number of response-evaluable patients.
    prior : (a, b), default (0.5, 0.5)
        Beta prior of the response rate.
    theta_t : float
        Posterior probability P(p > p0 | data) above which the final analysis declares the
        treatment promising.
    theta_l : float
        Futility threshold of the predictive probability.
    theta_u : float, optional
        Efficacy threshold of the predictive probability, above theta_l; None (default)
        never stops early for efficacy.
    looks : sequence of int, optional
        Numbers of evaluable patients at which the rule is applied; n_max is added when
        absent. Default: after every patient (continuous monitoring, as in the paper).

    Examples
    --------
    >>> design = PredictiveProbabilityDesign(
    ...     0.6, 0.8, 40, prior=(0.6, 0.4), theta_t=0.9, theta_l=0.05
    ... )
    >>> round(design.predictive_probability(23, 16), 4)
    0.5656
    >>> design.final_responses
    28
    >>> design.decision(23, 16).action_text
    'continue'

    References
    ----------
    Lee JJ, Liu DD (2008). A predictive probability design for phase II cancer clinical
    trials. Clinical Trials 5:93-106.
    """

    p0: float
    p1: float
    n_max: int
    prior: tuple[float, float] = field(default=(0.5, 0.5), kw_only=True)
    theta_t: float = field(kw_only=True)
    theta_l: float = field(kw_only=True)
    theta_u: float | None = field(default=None, kw_only=True)
    looks: tuple[int, ...] | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        p0 = check_probability("p0, the response rate of no interest,", self.p0)
        p1 = check_probability("p1, the target response rate,", self.p1)
        if p1 <= p0:
            raise ValueError(f"target response rate p1 {p1} must exceed p0 {p0}")
        n_max = check_count("n_max, the maximum number of patients,", self.n_max)
        theta_t = check_probability("theta_t", self.theta_t)
        theta_l = check_probability("theta_l", self.theta_l)
        theta_u = None if self.theta_u is None else check_probability("theta_u", self.theta_u)
        if theta_u is not None and theta_u <= theta_l:
            raise ValueError(f"theta_u {theta_u} must exceed theta_l {theta_l}")
        for name, value in (
            ("p0", p0),
            ("p1", p1),
            ("n_max", n_max),
            ("prior", check_prior("prior", self.prior)),
            ("theta_t", theta_t),
            ("theta_l", theta_l),
            ("theta_u", theta_u),
            ("looks", check_looks(self.looks, n_max)),
        ):
            object.__setattr__(self, name, value)
        if self.final_responses is None:
            raise ValueError(
                f"with n_max = {n_max}, even {n_max} responses do not give "
                f"P(p > {p0} | data) > theta_t {theta_t}: the trial could never succeed"
            )

    @classmethod
    def every(
        cls,
        p0: float,
        p1: float,
        n_max: int,
        *,
        first_look: int,
        look_every: int,
        **options: object,
    ) -> PredictiveProbabilityDesign:
        """The design with looks at first_look, first_look + look_every, ..., and n_max."""
        first = check_count("first_look", first_look)
        step = check_count("look_every", look_every)
        if first > n_max:
            raise ValueError(f"first_look {first} exceeds n_max {n_max}")
        return cls(p0, p1, n_max, looks=tuple(range(first, n_max + 1, step)), **options)

    def __repr__(self) -> str:
        a, b = self.prior
        upper = "" if self.theta_u is None else f", theta_u={self.theta_u:g}"
        looks = _looks_text(self.looks)
        return (
            f"PredictiveProbabilityDesign(p0={self.p0:g}, p1={self.p1:g}, "
            f"n_max={self.n_max}, prior=Beta({a:g}, {b:g}), theta_t={self.theta_t:g}, "
            f"theta_l={self.theta_l:g}{upper}, looks={looks})"
        )

    @property
    def final_responses(self) -> int | None:
        """s*: the fewest responses in n_max with P(p > p0 | s*, n_max) > theta_t."""
        a, b = self.prior
        return _final_responses(self.p0, a, b, self.n_max, self.theta_t)

    @cached_property
    def _pp(self) -> np.ndarray:
        a, b = self.prior
        return _pp_table(self.p0, a, b, self.n_max, self.theta_t)

    def posterior_probability(self, n: int | np.ndarray, x: int | np.ndarray) -> float | np.ndarray:
        """P(p > p0 | x responses in n) under the Beta prior: 1 - I_{p0}(a + x, b + n - x);
        a float for single numbers, an array for arrays."""
        n_arr, x_arr = self._counts(n, x)
        a, b = self.prior
        return scalar_or_array(beta_dist.sf(self.p0, a + x_arr, b + n_arr - x_arr))

    def predictive_probability(
        self, n: int | np.ndarray, x: int | np.ndarray
    ) -> float | np.ndarray:
        """PP(n, x) for patients n and responses x (see the class notes); a float for
        single numbers, an array for arrays."""
        n_arr, x_arr = self._counts(n, x)
        return scalar_or_array(self._pp[n_arr, x_arr])

    def _action_table(self) -> np.ndarray:
        pp = self._pp
        codes = np.full(pp.shape, _CONT, dtype=np.int8)
        for n in self.looks:
            row = pp[n, : n + 1]
            codes[n, : n + 1] = np.where(row < self.theta_l, _FUT, _CONT)
            if n == self.n_max:
                codes[n, : n + 1] = np.where(row < self.theta_l, _FUT, _EFF)
            elif self.theta_u is not None:
                codes[n, : n + 1] = np.where(row > self.theta_u, _EFF, codes[n, : n + 1])
        return codes

    def _statistic(self, n: int, x: int) -> tuple[str, float]:
        if n == self.n_max:
            return f"P(p > {self.p0:g})", float(self.posterior_probability(n, x))
        return "PP", float(self._pp[n, x])

    def _explain(self, n: int, x: int, action: SingleArmAction) -> list[tuple[str, str]]:
        data = f"{x} response{'s' if x != 1 else ''} in {n}"
        if n == self.n_max:
            post = float(self.posterior_probability(n, x))
            if action == _EFF:
                return [
                    (
                        "final analysis",
                        f"P(p > {self.p0:g} | {data}) = {post:.3f} > theta_t {self.theta_t:g}: "
                        f"promising",
                    )
                ]
            return [
                (
                    "final analysis",
                    f"P(p > {self.p0:g} | {data}) = {post:.3f} <= theta_t {self.theta_t:g}: "
                    f"not promising",
                )
            ]
        pp = float(self._pp[n, x])
        nxt = self._next_look(n)
        if n not in self.looks:
            return [
                (
                    "between looks",
                    f"PP = {pp:.3f} with {data}; {n} is not a planned look "
                    f"(looks at {_looks_text(self.looks)}): continue to {nxt}",
                )
            ]
        if action == _FUT:
            return [("futility", f"PP = {pp:.3f} < theta_l {self.theta_l:g} with {data}: stop")]
        if action == _EFF:
            return [("efficacy", f"PP = {pp:.3f} > theta_u {self.theta_u:g} with {data}: stop")]
        upper = "" if self.theta_u is None else f" and <= theta_u {self.theta_u:g}"
        return [
            (
                "continue",
                f"PP = {pp:.3f} >= theta_l {self.theta_l:g}{upper} with {data}: continue to {nxt}",
            )
        ]

    def boundaries(self) -> pd.DataFrame:
        """One row per look: ``n``; ``futility_if_le`` (stop, or at n_max not promising, if
        responses <= it); ``efficacy_if_ge`` (stop, or at n_max promising, if responses >=
        it); ``final``. Missing where no count of responses triggers the action."""
        codes = self._codes
        return pd.DataFrame(
            {
                "n": np.array(self.looks, dtype=np.int64),
                "futility_if_le": pd.array(boundary_frame(codes, self.looks, _FUT), dtype="Int64"),
                "efficacy_if_ge": pd.array(boundary_frame(codes, self.looks, _EFF), dtype="Int64"),
                "final": np.array(self.looks) == self.n_max,
            }
        )

    def summary(self) -> pd.DataFrame:
        """The boundary table (:meth:`boundaries`)."""
        return self.boundaries()

    def exact_oc(self, rates: Sequence[float] | None = None) -> SingleArmOC:
        """Exact operating characteristics by forward recursion over the responses at each
        look (no simulation); default rates (p0, p1).

        The type I error is ``prob_promising`` at p0 and the power is ``prob_promising``
        at p1.
        """
        p, labels = rates_and_labels(rates, {"p0": self.p0, "p1": self.p1})
        return SingleArmOC(
            design=repr(self),
            true_rate=p,
            labels=labels,
            looks=np.array(self.looks, dtype=np.int64),
            end_probability=self._end_probability(p),
        )

    @cached_property
    def _oc(self) -> SingleArmOC:
        return self.exact_oc()

    @property
    def type_i_error(self) -> float:
        """P(declared promising | p0)."""
        return float(self._oc.prob_promising[0])

    @property
    def power(self) -> float:
        """P(declared promising | p1)."""
        return float(self._oc.prob_promising[1])

    @property
    def pet_p0(self) -> float:
        """Probability of early termination under p0."""
        return float(self._oc.pet[0])

    @property
    def en_p0(self) -> float:
        """Expected number of patients under p0."""
        return float(self._oc.expected_n[0])

    @property
    def en_p1(self) -> float:
        """Expected number of patients under p1."""
        return float(self._oc.expected_n[1])


def _looks_text(looks: Sequence[int]) -> str:
    values = list(looks)
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return ", ".join(str(v) for v in values)


@dataclass(frozen=True)
class PredictiveSearch:
    """Result of :func:`search_predictive_design`.

    Attributes
    ----------
    design : PredictiveProbabilityDesign or None
        The design with the smallest E[N | p0] meeting both targets; None when no
        candidate does.
    candidates : DataFrame
        One row per (theta_t, theta_l): ``final_responses``, ``type_i_error``, ``power``,
        ``pet_p0``, ``en_p0``, ``en_p1``, ``feasible``; feasible rows first, by E[N | p0],
        then those meeting alpha, by power.
    alpha, beta : float
        The targets: type I error <= alpha, power >= 1 - beta.
    """

    design: PredictiveProbabilityDesign | None
    candidates: pd.DataFrame
    alpha: float
    beta: float

    def summary(self) -> pd.DataFrame:
        """The feasible candidates (every candidate when none is feasible)."""
        feasible = self.candidates[self.candidates["feasible"]]
        return (feasible if len(feasible) else self.candidates).reset_index(drop=True)

    def __repr__(self) -> str:
        head = (
            f"no thresholds meet type I error <= {self.alpha:g} and power >= {1 - self.beta:g}"
            if self.design is None
            else f"best: {self.design!r}"
        )
        return f"{head}\n{self.summary().head(10).to_string(index=False)}"


def search_predictive_design(
    p0: float,
    p1: float,
    n_max: int,
    *,
    alpha: float,
    beta: float,
    prior: tuple[float, float] = (0.5, 0.5),
    looks: Sequence[int] | None = None,
    theta_t: Sequence[float] = DEFAULT_THETA_T,
    theta_l: Sequence[float] = DEFAULT_THETA_L,
    theta_u: float | None = None,
) -> PredictiveSearch:
    """Thresholds of a predictive-probability design meeting alpha and power at the
    smallest expected sample size under p0.

    Every pair (theta_t, theta_l) of the grids is built as a
    :class:`PredictiveProbabilityDesign` and its exact operating characteristics are
    computed. A pair is feasible when P(promising | p0) <= alpha and P(promising | p1) >=
    1 - beta; the chosen design minimises E[N | p0] among feasible pairs, ties broken by
    higher power, then smaller theta_t and theta_l. Lee and Liu (2008) search n_max as
    well (minimax); here n_max is fixed by the protocol.

    Parameters
    ----------
    p0, p1, n_max, prior, looks, theta_u
        As in :class:`PredictiveProbabilityDesign`.
    alpha : float
        Largest acceptable type I error.
    beta : float
        Largest acceptable type II error (power >= 1 - beta).
    theta_t, theta_l : sequence of float
        Grids of the thresholds.

    Returns
    -------
    PredictiveSearch

    References
    ----------
    Lee JJ, Liu DD (2008). A predictive probability design for phase II cancer clinical
    trials. Clinical Trials 5:93-106.
    """
    alpha = check_probability("alpha", alpha)
    beta = check_probability("beta", beta)
    rows = []
    designs = {}
    for t in theta_t:
        for lower in theta_l:
            if theta_u is not None and theta_u <= lower:
                continue
            try:
                design = PredictiveProbabilityDesign(
                    p0,
                    p1,
                    n_max,
                    prior=prior,
                    theta_t=t,
                    theta_l=lower,
                    theta_u=theta_u,
                    looks=looks,
                )
            except ValueError as error:
                if "could never succeed" not in str(error):
                    raise
                continue
            designs[(float(t), float(lower))] = design
            rows.append(
                {
                    "theta_t": float(t),
                    "theta_l": float(lower),
                    "final_responses": design.final_responses,
                    "type_i_error": design.type_i_error,
                    "power": design.power,
                    "pet_p0": design.pet_p0,
                    "en_p0": design.en_p0,
                    "en_p1": design.en_p1,
                    "feasible": design.type_i_error <= alpha and design.power >= 1 - beta,
                }
            )
    if not rows:
        raise ValueError(f"no theta_t in the grid lets a trial of n_max = {n_max} patients succeed")
    frame = pd.DataFrame(rows)
    frame["meets_alpha"] = frame["type_i_error"] <= alpha
    order = pd.DataFrame(
        {
            "infeasible": ~frame["feasible"],
            "alpha_missed": ~frame["meets_alpha"],
            "key": np.where(frame["feasible"], frame["en_p0"], -frame["power"]),
            "power": -frame["power"],
            "theta_t": frame["theta_t"],
            "theta_l": frame["theta_l"],
        }
    )
    ranked = order.sort_values(list(order.columns), kind="stable").index
    frame = frame.loc[ranked].drop(columns="meets_alpha").reset_index(drop=True)
    best = None
    if len(frame) and bool(frame["feasible"].iloc[0]):
        top = frame.iloc[0]
        best = designs[(float(top["theta_t"]), float(top["theta_l"]))]
    return PredictiveSearch(design=best, candidates=frame, alpha=alpha, beta=beta)
