"""Simon's two-stage designs, optimal and minimax, by exact search (Simon 1989).

Reference: Simon R (1989). Optimal two-stage designs for phase II clinical trials.
Controlled Clinical Trials 10:1-10.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from ._simon_search import SIMON_N_MAX_LIMIT, simon_search
from ._single_arm import (
    SingleArmAction,
    SingleArmOC,
    SingleArmRule,
    boundary_frame,
    check_count,
    check_probability,
    rates_and_labels,
)

__all__ = ["SIMON_N_MAX_LIMIT", "SimonDesign", "simon_two_stage"]

_FUT = SingleArmAction.STOP_FUTILITY
_EFF = SingleArmAction.STOP_EFFICACY
_CONT = SingleArmAction.CONTINUE


@dataclass(frozen=True, repr=False)
class SimonDesign(SingleArmRule):
    """A two-stage single-arm design on a binary response (Simon 1989).

    Stage 1 treats n1 patients and stops for futility when their responses x1 <= r1;
    otherwise n - n1 more are treated and the treatment is declared promising when the
    total responses x > r. Under a true response rate p,

        PET(p) = P(X1 <= r1) = sum_{k=0}^{r1} C(n1, k) p^k (1 - p)^(n1 - k),
        E[N | p] = n1 + (1 - PET(p)) (n - n1),
        P(promising | p) = sum_{k=r1+1}^{n1} b(k; n1, p) P(X2 > r - k),  X2 ~ Bin(n - n1, p).

    Parameters
    ----------
    r1, n1, r, n : int
        Stage-1 futility boundary and size; final boundary and total size
        (0 <= r1 < n1 < n, r1 <= r < n).
    p0, p1 : float
        Response rates of no interest and of interest, for the operating characteristics.
    alpha, beta : float, optional
        The error targets a search met (recorded, not used by the rule).
    criterion : {"optimal", "minimax"}, optional
        Which search chose the design.

    Examples
    --------
    >>> design = simon_two_stage(0.1, 0.3, 0.05, 0.2, design="optimal")
    >>> (design.r1, design.n1, design.r, design.n)
    (1, 10, 5, 29)
    >>> round(design.en_p0, 2), round(design.pet_p0, 4)
    (15.01, 0.7361)

    References
    ----------
    Simon R (1989). Optimal two-stage designs for phase II clinical trials. Controlled
    Clinical Trials 10:1-10.
    """

    r1: int
    n1: int
    r: int
    n: int
    p0: float = field(kw_only=True)
    p1: float = field(kw_only=True)
    alpha: float | None = field(default=None, kw_only=True)
    beta: float | None = field(default=None, kw_only=True)
    criterion: str | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        n = check_count("total sample size n", self.n, minimum=2)
        n1 = check_count("stage-1 size n1", self.n1)
        r1 = check_count("stage-1 boundary r1", self.r1, minimum=0)
        r = check_count("final boundary r", self.r, minimum=0)
        if not n1 < n:
            raise ValueError(f"stage-1 size n1 {n1} must be below the total size n {n}")
        if not r1 < n1:
            raise ValueError(f"r1 {r1} must be below n1 {n1}: stage 1 would always stop")
        if not r1 <= r < n:
            raise ValueError(f"final boundary r {r} must lie in r1..n-1 = {r1}..{n - 1}")
        p0 = check_probability("p0, the response rate of no interest,", self.p0)
        p1 = check_probability("p1, the target response rate,", self.p1)
        if p1 <= p0:
            raise ValueError(f"target response rate p1 {p1} must exceed p0 {p0}")
        if self.criterion not in (None, "optimal", "minimax"):
            raise ValueError(f"criterion {self.criterion!r} is not 'optimal' or 'minimax'")
        for name, value in (("r1", r1), ("n1", n1), ("r", r), ("n", n), ("p0", p0), ("p1", p1)):
            object.__setattr__(self, name, value)

    @property
    def n_max(self) -> int:  # type: ignore[override]
        """The total sample size n."""
        return self.n

    @property
    def looks(self) -> tuple[int, ...]:  # type: ignore[override]
        """(n1, n)."""
        return (self.n1, self.n)

    def __repr__(self) -> str:
        kind = "" if self.criterion is None else f"{self.criterion} "
        return (
            f"Simon {kind}two-stage design: stop if <= {self.r1}/{self.n1}, "
            f"promising if > {self.r}/{self.n} (p0={self.p0:g}, p1={self.p1:g})"
        )

    def _action_table(self) -> np.ndarray:
        x = np.arange(self.n + 1)
        codes = np.full((self.n + 1, self.n + 1), _CONT, dtype=np.int8)
        codes[self.n1] = np.where(x <= self.r1, _FUT, _CONT)
        codes[self.n] = np.where(x > self.r, _EFF, _FUT)
        return codes

    def _statistic(self, n: int, x: int) -> tuple[str, float]:
        return "response rate", x / n if n else float("nan")

    def _explain(self, n: int, x: int, action: SingleArmAction) -> list[tuple[str, str]]:
        data = f"{x} response{'s' if x != 1 else ''} in {n}"
        if n == self.n1:
            if action == _FUT:
                return [("stage 1", f"{data} <= r1 = {self.r1}: stop for futility")]
            return [("stage 1", f"{data} > r1 = {self.r1}: continue to stage 2 (n = {self.n})")]
        if n == self.n:
            if action == _EFF:
                return [("final analysis", f"{data} > r = {self.r}: promising")]
            return [("final analysis", f"{data} <= r = {self.r}: not promising")]
        stage = 1 if n < self.n1 else 2
        return [
            (
                "between looks",
                f"{data} during stage {stage}: continue to {self._next_look(n)}",
            )
        ]

    def boundaries(self) -> pd.DataFrame:
        """Two rows (n1, n): ``futility_if_le`` and ``efficacy_if_ge`` (promising) as in
        :meth:`PredictiveProbabilityDesign.boundaries`."""
        codes = self._codes
        return pd.DataFrame(
            {
                "n": np.array(self.looks, dtype=np.int64),
                "futility_if_le": pd.array(boundary_frame(codes, self.looks, _FUT), dtype="Int64"),
                "efficacy_if_ge": pd.array(boundary_frame(codes, self.looks, _EFF), dtype="Int64"),
                "final": [False, True],
            }
        )

    def summary(self) -> pd.DataFrame:
        """One row: r1, n1, r, n, criterion and the operating characteristics at p0 and p1."""
        return pd.DataFrame(
            {
                "criterion": [self.criterion],
                "r1": [self.r1],
                "n1": [self.n1],
                "r": [self.r],
                "n": [self.n],
                "type_i_error": [self.type_i_error],
                "power": [self.power],
                "pet_p0": [self.pet_p0],
                "en_p0": [self.en_p0],
                "pet_p1": [self.pet_p1],
                "en_p1": [self.en_p1],
            }
        )

    def exact_oc(self, rates: Sequence[float] | None = None) -> SingleArmOC:
        """Exact operating characteristics by enumeration of the responses at each stage;
        default rates (p0, p1)."""
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
        """P(promising | p0)."""
        return float(self._oc.prob_promising[0])

    @property
    def power(self) -> float:
        """P(promising | p1)."""
        return float(self._oc.prob_promising[1])

    @property
    def pet_p0(self) -> float:
        """P(X1 <= r1 | p0), the probability of early termination under p0."""
        return float(self._oc.pet[0])

    @property
    def pet_p1(self) -> float:
        """P(X1 <= r1 | p1)."""
        return float(self._oc.pet[1])

    @property
    def en_p0(self) -> float:
        """E[N | p0] = n1 + (1 - PET(p0)) (n - n1)."""
        return float(self._oc.expected_n[0])

    @property
    def en_p1(self) -> float:
        """E[N | p1]."""
        return float(self._oc.expected_n[1])


def simon_two_stage(
    p0: float,
    p1: float,
    alpha: float,
    beta: float,
    design: Literal["optimal", "minimax"] = "optimal",
    n_max: int = 100,
) -> SimonDesign:
    """Simon's optimal or minimax two-stage design by exact search.

    Over every n <= ``n_max``, n1 < n, r1 < n1 and r1 <= r < n, a design is feasible when
    P(promising | p0) <= alpha and P(promising | p1) >= 1 - beta (formulas in
    :class:`SimonDesign`); for each (n, n1, r1) the smallest r meeting alpha is taken. The
    optimal design minimises E[N | p0]; the minimax design has the smallest n, and among
    those the smallest E[N | p0]. The search skips only designs that bounds prove
    infeasible or no better than one already found (power of the first stage and of one
    stage, the Neyman-Pearson bound, a lower bound of E[N | p0]; see
    :mod:`dartnk.adaptive._simon_search`), so it returns the designs of the exhaustive
    search, in about a millisecond for ``n_max = 100``.

    Parameters
    ----------
    p0 : float
        Response rate of no interest.
    p1 : float
        Response rate of interest, above p0.
    alpha : float
        Largest type I error.
    beta : float
        Largest type II error (power >= 1 - beta).
    design : {"optimal", "minimax"}
    n_max : int, default 100
        Largest total sample size searched, at most :data:`SIMON_N_MAX_LIMIT` (1000, as
        clinfun's ``ph2simon``).

    Returns
    -------
    SimonDesign
        With stop after stage 1 if responses <= r1 of n1, promising if total responses
        > r of n.

    Raises
    ------
    ValueError
        For rates or errors outside (0, 1), p1 <= p0, n_max outside 2 to
        :data:`SIMON_N_MAX_LIMIT`, or when no design with n <= n_max meets both errors.

    References
    ----------
    Simon R (1989). Optimal two-stage designs for phase II clinical trials. Controlled
    Clinical Trials 10:1-10.
    """
    p0 = check_probability("p0, the response rate of no interest,", p0)
    p1 = check_probability("p1, the target response rate,", p1)
    if p1 <= p0:
        raise ValueError(f"target response rate p1 {p1} must exceed p0 {p0}")
    alpha = check_probability("alpha", alpha)
    beta = check_probability("beta", beta)
    n_max = check_count("n_max", n_max, minimum=2)
    if n_max > SIMON_N_MAX_LIMIT:
        raise ValueError(
            f"n_max {n_max} is above {SIMON_N_MAX_LIMIT}, the largest total sample size "
            f"the Simon search accepts"
        )
    if design not in ("optimal", "minimax"):
        raise ValueError(f"design {design!r} is not 'optimal' or 'minimax'")
    found = simon_search(p0, p1, alpha, beta, n_max)
    if found is None:
        raise ValueError(
            f"no two-stage design with n <= {n_max} has type I error <= {alpha:g} and "
            f"power >= {1 - beta:g} for p0 = {p0:g}, p1 = {p1:g}"
        )
    r1, n1, r, n, _ = found[0] if design == "minimax" else found[1]
    return SimonDesign(r1, n1, r, n, p0=p0, p1=p1, alpha=alpha, beta=beta, criterion=design)
