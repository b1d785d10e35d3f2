"""What every single-arm monitoring rule on a binary outcome shares.

A rule is fixed by its looks n_1 < ... < n_K (patients with a known outcome) and its action
at each look for every count of events x = 0..n: a table ``codes[n, x]`` of
:class:`SingleArmAction`. :meth:`SingleArmRule.decide` reads that table for arrays of
trials, so the exact operating characteristics (forward recursion over x with binomial
transitions), a simulation and a one-trial :meth:`SingleArmRule.decision` all run the same
rule.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy.stats import binom

__all__ = [
    "SingleArmAction",
    "SingleArmDecision",
    "SingleArmOC",
    "SingleArmRule",
    "ToxicityOC",
    "end_probabilities",
]


class SingleArmAction(IntEnum):
    """Action of a single-arm rule at a look; at the final look a rule on response ends in
    STOP_FUTILITY (not promising) or STOP_EFFICACY (promising)."""

    CONTINUE = 0
    STOP_FUTILITY = 1
    STOP_EFFICACY = 2
    STOP_TOXICITY = 3


_ACTION_TEXT = {
    SingleArmAction.CONTINUE: "continue",
    SingleArmAction.STOP_FUTILITY: "stop for futility",
    SingleArmAction.STOP_EFFICACY: "stop for efficacy",
    SingleArmAction.STOP_TOXICITY: "stop for toxicity",
}
_FINAL_TEXT = {
    SingleArmAction.CONTINUE: "complete the expansion",
    SingleArmAction.STOP_FUTILITY: "final analysis: not promising",
    SingleArmAction.STOP_EFFICACY: "final analysis: promising",
    SingleArmAction.STOP_TOXICITY: "stop for toxicity",
}
_N_ACTIONS = len(SingleArmAction)


def end_probabilities(
    looks: Sequence[int] | np.ndarray,
    decide: Callable[[np.ndarray, np.ndarray], np.ndarray],
    rates: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """Probability that a trial ends at each look with each action, by exact enumeration.

    With f_k(x) the probability of being still on study with x events among the first
    n_k patients, f_k(x) = sum_j f_{k-1}(x - j) C(m, j) p^j (1 - p)^(m - j),
    m = n_k - n_{k-1}, before the rule at look k removes the states it stops. Mass still
    on study after the last look is recorded as CONTINUE there (the trial completes).

    Parameters
    ----------
    looks : sequence of int
        Increasing numbers of patients at which the rule decides.
    decide : callable
        ``decide(n, x)`` on arrays, returning :class:`SingleArmAction` codes.
    rates : sequence of float
        True event probabilities.

    Returns
    -------
    ndarray, shape (rates, looks, actions)
    """
    p = np.asarray(rates, dtype=float).reshape(-1)
    looks = np.asarray(looks, dtype=np.int64)
    out = np.zeros((p.size, looks.size, _N_ACTIONS))
    on_study = np.ones((p.size, 1))
    before = 0
    for k, n in enumerate(looks):
        m = int(n - before)
        step = binom.pmf(np.arange(m + 1)[None, :], m, p[:, None])
        reached = np.zeros((p.size, n + 1))
        for j in range(m + 1):
            reached[:, j : j + before + 1] += on_study * step[:, j : j + 1]
        codes = np.asarray(decide(np.full(n + 1, n), np.arange(n + 1)))
        for action in SingleArmAction:
            out[:, k, action] = reached[:, codes == action].sum(axis=1)
        on_study = np.where(codes == SingleArmAction.CONTINUE, reached, 0.0)
        before = int(n)
    out[:, :-1, SingleArmAction.CONTINUE] = 0.0
    return out


@dataclass(frozen=True)
class _EndDistribution:
    design: str
    true_rate: np.ndarray
    labels: tuple[str, ...]
    looks: np.ndarray
    end_probability: np.ndarray

    @property
    def expected_n(self) -> np.ndarray:
        """E[N] = sum_k n_k P(the trial ends at look k), per true rate."""
        return self.end_probability.sum(axis=2) @ self.looks

    @property
    def pet(self) -> np.ndarray:
        """Probability of early termination: a stop at a look before the last."""
        return self.end_probability[:, :-1, 1:].sum(axis=(1, 2))

    def by_look(self) -> pd.DataFrame:
        """One row per true rate and look: probability of each ending at that look, and of
        reaching it."""
        rates, looks, _ = self.end_probability.shape
        ends = self.end_probability
        reach = 1.0 - np.concatenate(
            [np.zeros((rates, 1)), np.cumsum(ends.sum(axis=2), axis=1)[:, :-1]], axis=1
        )
        frame = pd.DataFrame(
            {
                "rate": np.repeat(self.true_rate, looks),
                "label": np.repeat(np.array(self.labels, dtype=object), looks),
                "n": np.tile(self.looks, rates),
                "reach": reach.ravel(),
            }
        )
        for action in SingleArmAction:
            if action != SingleArmAction.CONTINUE and ends[:, :, action].any():
                frame[action.name.lower()] = ends[:, :, action].ravel()
        return frame


@dataclass(frozen=True, repr=False)
class SingleArmOC(_EndDistribution):
    """Exact operating characteristics of a single-arm design on response.

    Attributes
    ----------
    design : str
    true_rate : ndarray, shape (rates,)
        True response probabilities.
    labels : tuple of str
        A name per rate (``p0``, ``p1``, or empty).
    looks : ndarray of int, shape (looks,)
    end_probability : ndarray, shape (rates, looks, actions)
        P(the trial ends at look k with action a), indexed by :class:`SingleArmAction`.
    """

    @property
    def prob_promising(self) -> np.ndarray:
        """P(the treatment is declared promising): type I error at p0, power at p1."""
        return self.end_probability[:, :, SingleArmAction.STOP_EFFICACY].sum(axis=1)

    @property
    def early_futility(self) -> np.ndarray:
        """P(stop for futility before the final look)."""
        return self.end_probability[:, :-1, SingleArmAction.STOP_FUTILITY].sum(axis=1)

    @property
    def early_efficacy(self) -> np.ndarray:
        """P(stop for efficacy before the final look)."""
        return self.end_probability[:, :-1, SingleArmAction.STOP_EFFICACY].sum(axis=1)

    def summary(self) -> pd.DataFrame:
        """One row per true rate: ``prob_promising``, ``pet``, ``early_futility``,
        ``early_efficacy`` and ``expected_n``."""
        return pd.DataFrame(
            {
                "design": self.design,
                "label": list(self.labels),
                "rate": self.true_rate,
                "prob_promising": self.prob_promising,
                "pet": self.pet,
                "early_futility": self.early_futility,
                "early_efficacy": self.early_efficacy,
                "expected_n": self.expected_n,
            }
        )

    def __repr__(self) -> str:
        return _oc_text(self.design, self.summary())

    def _repr_html_(self) -> str:
        return _oc_html(self.design, self.summary())


@dataclass(frozen=True, repr=False)
class ToxicityOC(_EndDistribution):
    """Exact operating characteristics of a toxicity monitor.

    Attributes as :class:`SingleArmOC`, with true DLT probabilities.
    """

    @property
    def prob_stop(self) -> np.ndarray:
        """P(the boundary is crossed at any look, the last included)."""
        return self.end_probability[:, :, SingleArmAction.STOP_TOXICITY].sum(axis=1)

    def summary(self) -> pd.DataFrame:
        """One row per true DLT rate: ``prob_stop``, ``pet`` (stopped before the last
        look) and ``expected_n``."""
        return pd.DataFrame(
            {
                "design": self.design,
                "label": list(self.labels),
                "rate": self.true_rate,
                "prob_stop": self.prob_stop,
                "pet": self.pet,
                "expected_n": self.expected_n,
            }
        )

    def __repr__(self) -> str:
        return _oc_text(self.design, self.summary())

    def _repr_html_(self) -> str:
        return _oc_html(self.design, self.summary())


def _oc_text(design: str, table: pd.DataFrame) -> str:
    body = table.drop(columns="design").to_string(index=False)
    return f"Exact operating characteristics of {design}\n{body}"


def _oc_html(design: str, table: pd.DataFrame) -> str:
    import html

    return (
        f"<p>Exact operating characteristics of {html.escape(design)}</p>"
        f"{table.drop(columns='design').to_html(index=False, escape=True)}"
    )


@dataclass(frozen=True)
class SingleArmDecision:
    """The decision of a single-arm rule for one trial, with its reasons.

    Attributes
    ----------
    design : str
    n : int
        Patients with a known outcome.
    events : int
        Responses (efficacy rules) or DLTs (toxicity rules) among them.
    action : SingleArmAction
    final : bool
        True at the rule's last look.
    statistic : str
        Name of the probability that decided (e.g. ``PP``).
    probability : float
        Its value at (n, events).
    reasons : tuple of (rule, message)
    """

    design: str
    n: int
    events: int
    action: SingleArmAction
    final: bool
    statistic: str
    probability: float
    reasons: tuple[tuple[str, str], ...]

    @property
    def stop(self) -> bool:
        """True when the rule ends the trial (or the final analysis is reached)."""
        return self.action != SingleArmAction.CONTINUE

    @property
    def action_text(self) -> str:
        """The action in plain words."""
        return (_FINAL_TEXT if self.final else _ACTION_TEXT)[self.action]

    def summary(self) -> pd.DataFrame:
        """One row: ``n``, ``events``, the statistic, ``action`` and ``reasons``."""
        return pd.DataFrame(
            {
                "n": [self.n],
                "events": [self.events],
                "statistic": [self.statistic],
                "probability": [self.probability],
                "action": [self.action_text],
                "reasons": ["; ".join(f"{rule}: {text}" for rule, text in self.reasons)],
            }
        )

    def __repr__(self) -> str:
        reasons = "\n".join(f"  - {rule}: {text}" for rule, text in self.reasons)
        return f"{self.design}: {self.action_text}\n{reasons}"

    def _repr_html_(self) -> str:
        import html

        items = "".join(
            f"<li><b>{html.escape(rule)}</b>: {html.escape(text)}</li>"
            for rule, text in self.reasons
        )
        return (
            f"<p><b>{html.escape(self.design)}</b>: {html.escape(self.action_text)}</p>"
            f"<ul>{items}</ul>"
        )


class SingleArmRule(ABC):
    """Base of the single-arm rules: a table of actions, read for arrays of trials.

    Subclasses are frozen dataclasses that define ``n_max``, ``looks`` (increasing, ending
    at ``n_max``), :meth:`_action_table` and :meth:`_explain`.
    """

    n_max: int
    looks: tuple[int, ...]
    _endpoint = "responses"

    @abstractmethod
    def _action_table(self) -> np.ndarray:
        """Action codes, shape (n_max + 1, n_max + 1), for n patients and x events
        (entries with x > n are never read)."""

    @abstractmethod
    def _statistic(self, n: int, x: int) -> tuple[str, float]:
        """Name and value of the probability the rule compares with its threshold."""

    @abstractmethod
    def _explain(self, n: int, x: int, action: SingleArmAction) -> list[tuple[str, str]]:
        """The (rule, message) pairs behind the action at (n, x)."""

    @cached_property
    def _codes(self) -> np.ndarray:
        table = np.asarray(self._action_table(), dtype=np.int8)
        table.flags.writeable = False
        return table

    def _counts(self, n: object, x: object) -> tuple[np.ndarray, np.ndarray]:
        n_arr, x_arr = np.broadcast_arrays(np.asarray(n), np.asarray(x))
        for name, values in (("n", n_arr), (self._endpoint, x_arr)):
            if values.size and not np.all(np.mod(values, 1) == 0):
                raise ValueError(f"{name} must be whole numbers of patients, got {values}")
        n_arr = n_arr.astype(np.int64)
        x_arr = x_arr.astype(np.int64)
        if np.any(n_arr < 0) or np.any(n_arr > self.n_max):
            raise ValueError(f"n must be between 0 and n_max = {self.n_max} patients, got {n_arr}")
        if np.any(x_arr < 0) or np.any(x_arr > n_arr):
            raise ValueError(
                f"{self._endpoint} must be between 0 and the number of patients n, "
                f"got {x_arr} of {n_arr}"
            )
        return n_arr, x_arr

    def decide(self, n: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Actions for a batch of trials.

        Parameters
        ----------
        n : ndarray of int
            Patients with a known outcome per trial (0..n_max).
        x : ndarray of int
            Events among them (responses or DLTs), broadcast against ``n``.

        Returns
        -------
        ndarray of int8
            :class:`SingleArmAction` codes; CONTINUE wherever n is not a look.
        """
        n_arr, x_arr = self._counts(n, x)
        return self._codes[n_arr, x_arr]

    def decision(self, n: int, x: int) -> SingleArmDecision:
        """The decision for one trial with n patients and x events, as a batch of one."""
        n_arr, x_arr = self._counts(n, x)
        if n_arr.ndim:
            raise ValueError("decision takes one trial: n and x must be single numbers")
        action = SingleArmAction(int(self.decide(n_arr[None], x_arr[None])[0]))
        n_i, x_i = int(n_arr), int(x_arr)
        statistic, probability = self._statistic(n_i, x_i)
        return SingleArmDecision(
            design=repr(self),
            n=n_i,
            events=x_i,
            action=action,
            final=n_i == self.n_max,
            statistic=statistic,
            probability=float(probability),
            reasons=tuple(self._explain(n_i, x_i, action)),
        )

    def _end_probability(self, rates: Sequence[float] | np.ndarray) -> np.ndarray:
        p = np.asarray(rates, dtype=float).reshape(-1)
        if p.size == 0 or np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
            raise ValueError(f"true rates must be probabilities in [0, 1], got {p}")
        return end_probabilities(self.looks, self.decide, p)

    def _next_look(self, n: int) -> int | None:
        later = [look for look in self.looks if look > n]
        return later[0] if later else None


def scalar_or_array(values: np.ndarray) -> float | np.ndarray:
    """A 0-d result as a Python float, any other as the array."""
    return float(values) if np.ndim(values) == 0 else values


def check_probability(name: str, value: float, *, what: str = "a probability") -> float:
    """``value`` as a float strictly between 0 and 1, or a ValueError naming it."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not {what}") from None
    if not 0.0 < number < 1.0:
        raise ValueError(f"{name} {value} is not {what} strictly between 0 and 1")
    return number


def check_prior(name: str, prior: Sequence[float]) -> tuple[float, float]:
    """A Beta(a, b) prior as a pair of positive floats."""
    values = tuple(float(v) for v in prior)
    if len(values) != 2 or not all(v > 0 and np.isfinite(v) for v in values):
        raise ValueError(f"{name} {tuple(prior)} must be a Beta(a, b) prior with a, b > 0")
    return values  # type: ignore[return-value]


def check_looks(looks: Sequence[int] | None, n_max: int, *, first: int = 1) -> tuple[int, ...]:
    """Increasing whole numbers of patients in 1..n_max, ending at n_max (added when absent);
    None means every patient from ``first`` on."""
    if looks is None:
        return tuple(range(first, n_max + 1))
    values = [int(v) for v in looks]
    if any(v != w for v, w in zip(values, looks, strict=True)):
        raise ValueError(f"looks {list(looks)} must be whole numbers of patients")
    if any(b <= a for a, b in pairwise(values)):
        raise ValueError(f"looks {values} must be strictly increasing")
    if values and (values[0] < 1 or values[-1] > n_max):
        raise ValueError(f"looks {values} must lie between 1 and n_max = {n_max}")
    if not values or values[-1] != n_max:
        values.append(n_max)
    return tuple(values)


def check_count(name: str, value: int, *, minimum: int = 1) -> int:
    """A whole number >= ``minimum``."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} {value!r} must be a whole number >= {minimum}")
    return int(value)


def rates_and_labels(
    rates: Sequence[float] | None, named: dict[str, float]
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The rates asked for (default: the named ones), with their names where they match."""
    if rates is None:
        return np.array(list(named.values()), dtype=float), tuple(named)
    p = np.asarray(rates, dtype=float).reshape(-1)
    names = {round(v, 12): k for k, v in reversed(named.items())}
    return p, tuple(names.get(round(float(v), 12), "") for v in p)


def boundary_frame(codes: np.ndarray, looks: Sequence[int], action: SingleArmAction) -> np.ndarray:
    """Per look, the largest x (futility: stop if x <= it) or the smallest x (efficacy and
    toxicity: stop if x >= it) with the given action, as a float array with NaN for none."""
    out = np.full(len(looks), np.nan)
    for k, n in enumerate(looks):
        hits = np.flatnonzero(codes[n, : n + 1] == action)
        if hits.size:
            out[k] = hits.max() if action == SingleArmAction.STOP_FUTILITY else hits.min()
    return out
