"""The exact search of Simon's (1989) optimal and minimax two-stage designs, pruned.

Every design (r1, n1, r, n) with 1 <= n1 < n, 0 <= r1 < n1 and r1 <= r < n is a candidate;
for each (n, n1, r1) the final boundary is the smallest r with P(promising | p0) <= alpha,
and the design is feasible when P(promising | p1) >= 1 - beta there. The minimax design is
the feasible design of smallest n with the smallest E[N | p0] at that n; the optimal design
has the smallest E[N | p0]. Values of E[N | p0] within 1e-9 are ties, which go to the
smaller n, then the smaller n1, then the smaller r1.

Four bounds, each a necessary condition of feasibility, skip candidates that cannot be
feasible or cannot beat the best design found, so the result is that of the exhaustive
search:

- power of the first stage: P(promising | p1) <= P(X1 > r1 | p1), so r1 <= r1_max(n1), the
  largest r1 with P(X1 <= r1 | p1) <= beta;
- power of one stage: P(promising | p1) <= P(X > r | p1) with X ~ Bin(n, p1), so
  r <= r_max(n), the largest r with P(X > r | p1) >= 1 - beta;
- Neyman-Pearson: no test of n responses of size <= alpha has more power than the
  randomised one-stage test on X, so n below the smallest n where that test reaches
  1 - beta is skipped (and the search ends at once when no n <= n_max reaches it);
- expected size: E[N | p0] >= n1 + (1 - P(X1 <= r1_max(n1) | p0)) (n - n1), whose minimum
  over n1 never decreases in n; once it exceeds the best E[N | p0] found, no larger n can
  do better, and within an n only (n1, r1) with E[N | p0] below the best are evaluated.

For one (n, n1) the probabilities of promising at every (r1, r) are reverse cumulative
sums over the stage-1 responses, evaluated for many (n, n1) at once as arrays
(in the way of clinfun's ``ph2simon``, which loops over n, n1, r1 and r in Fortran).

References
----------
Simon R (1989). Optimal two-stage designs for phase II clinical trials. Controlled
Clinical Trials 10:1-10.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["SIMON_N_MAX_LIMIT", "simon_search"]

SIMON_N_MAX_LIMIT = 1000
"""Largest total sample size the Simon search accepts (as clinfun's ``ph2simon``)."""

_SLACK = 1e-9
_TIE = 1e-9
_BLOCK = 8
_CHUNK_ELEMENTS = 1 << 20

Design = tuple[int, int, int, int, float]
"""(r1, n1, r, n, E[N | p0])."""


@dataclass(frozen=True)
class _Binomial:
    """pmf[m, k] = b(k; m, p), cdf[m, k] = P(Bin(m, p) <= k), sf[m, k] = P(Bin(m, p) > k),
    for 0 <= k, m <= n_max (pmf zero for k > m)."""

    pmf: np.ndarray
    cdf: np.ndarray
    sf: np.ndarray


def _binomial(p: float, n_max: int) -> _Binomial:
    m = np.arange(n_max + 1)
    log_factorial = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n_max + 1)))))
    inside = m[None, :] <= m[:, None]
    rest = np.where(inside, m[:, None] - m[None, :], 0)
    log_pmf = (
        log_factorial[m][:, None]
        - log_factorial[m][None, :]
        - log_factorial[rest]
        + m[None, :] * np.log(p)
        + rest * np.log1p(-p)
    )
    pmf = np.where(inside, np.exp(log_pmf), 0.0)
    above = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]
    sf = np.zeros_like(pmf)
    sf[:, :-1] = above[:, 1:]
    return _Binomial(pmf=pmf, cdf=np.cumsum(pmf, axis=1), sf=sf)


def _largest(allowed: np.ndarray) -> np.ndarray:
    """Per row, the largest column index where ``allowed`` (a prefix of each row), or -1."""
    return np.where(allowed.any(axis=1), allowed.shape[1] - 1 - np.argmax(allowed[:, ::-1], 1), -1)


@dataclass(frozen=True)
class _Space:
    """The tables and bounds of one search."""

    null: _Binomial
    alternative: _Binomial
    alpha: float
    beta: float
    r1_max: np.ndarray
    r_max: np.ndarray
    en_bound: np.ndarray

    def candidates(self, ns: np.ndarray, best: float) -> tuple[np.ndarray, ...]:
        """(n, n1, r1) of the totals ``ns`` that may be feasible with E[N | p0] < best,
        sorted by n, n1, r1."""
        n, n1 = np.meshgrid(ns, np.arange(1, int(ns.max())), indexing="ij")
        keep = (n1 < n) & (self.r1_max[n1] >= 0) & (self.r_max[n] >= 0)
        n, n1 = n[keep], n1[keep]
        top = np.minimum(self.r1_max[n1], self.r_max[n])
        r1 = np.arange(int(top.max()) + 1 if top.size else 0)
        inside = r1[None, :] <= top[:, None]
        n = np.broadcast_to(n[:, None], inside.shape)[inside]
        n1 = np.broadcast_to(n1[:, None], inside.shape)[inside]
        r1 = np.broadcast_to(r1[None, :], inside.shape)[inside]
        if np.isfinite(best):
            keep = self.expected_n(n, n1, r1) < best
            n, n1, r1 = n[keep], n1[keep], r1[keep]
        return n, n1, r1

    def expected_n(self, n: np.ndarray, n1: np.ndarray, r1: np.ndarray) -> np.ndarray:
        """E[N | p0] = n1 + (1 - PET(p0)) (n - n1)."""
        return n1 + (1.0 - self.null.cdf[n1, r1]) * (n - n1)

    def evaluate(self, n: np.ndarray, n1: np.ndarray, r1: np.ndarray) -> tuple[np.ndarray, ...]:
        """The smallest r meeting alpha (r1 <= r <= r_max(n)) and whether the design is
        feasible there, for candidates sorted by (n, n1)."""
        pair = n * (int(n.max()) + 1) + n1
        starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        bounds = np.r_[starts, n.size]
        low = np.minimum.reduceat(r1, starts)
        width = int((self.r_max[n[starts]] - low).max()) + 1
        per_chunk = max(1, _CHUNK_ELEMENTS // (width * width))
        r = np.empty(n.size, dtype=np.int64)
        feasible = np.empty(n.size, dtype=bool)
        for first in range(0, starts.size, per_chunk):
            last = min(first + per_chunk, starts.size)
            rows = slice(bounds[first], bounds[last])
            r[rows], feasible[rows] = self._evaluate_pairs(
                n[rows], n1[rows], r1[rows], starts[first:last] - bounds[first], width
            )
        return r, feasible

    def _evaluate_pairs(
        self, n: np.ndarray, n1: np.ndarray, r1: np.ndarray, starts: np.ndarray, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        null = self.null
        mark = np.zeros(n.size, dtype=np.int64)
        mark[starts] = 1
        group = np.cumsum(mark) - 1
        pair_n, pair_n1 = n[starts], n1[starts]
        low = np.minimum.reduceat(r1, starts)
        j = np.arange(width)
        below = j[:, None] < j[None, :]
        lag = np.where(below, j[None, :] - j[:, None] - 1, 0)
        k = low[:, None] + 1 + j[None, :]
        edge = null.pmf.shape[1] - 1
        first_stage = np.where(
            k <= pair_n1[:, None], null.pmf[pair_n1[:, None], np.minimum(k, edge)], 0
        )
        joint = first_stage[:, :, None] * null.sf[(pair_n - pair_n1)[:, None, None], lag] * below
        after = np.cumsum(joint[:, ::-1, :], axis=1)[:, ::-1, :]
        stop_after = null.sf[pair_n1[:, None], np.minimum(low[:, None] + j[None, :], edge)]
        offset = r1 - low[group]
        size = after[group, offset, :] + stop_after[group]
        top = (self.r_max[pair_n] - low)[group]
        meets = (j >= offset[:, None]) & (j <= top[:, None]) & (size <= self.alpha)
        r = low[group] + np.argmax(meets, axis=1)
        return r, meets.any(axis=1) & (self._power(n, n1, r1, r, width) >= 1.0 - self.beta)

    def _power(
        self, n: np.ndarray, n1: np.ndarray, r1: np.ndarray, r: np.ndarray, width: int
    ) -> np.ndarray:
        """P(X1 > r1, X1 + X2 > r | p1) = sum_{k > r1} b(k; n1, p1) P(X2 > r - k)."""
        alt = self.alternative
        i = np.arange(width)[None, :]
        k = r1[:, None] + 1 + i
        lag = (r - r1 - 1)[:, None] - i
        inside = (lag >= 0) & (k <= n1[:, None])
        edge = alt.pmf.shape[1] - 1
        terms = (
            alt.pmf[n1[:, None], np.minimum(k, edge)]
            * alt.sf[(n - n1)[:, None], np.maximum(lag, 0)]
        )
        return np.where(inside, terms, 0.0).sum(axis=1) + alt.sf[n1, r]


def _space(p0: float, p1: float, alpha: float, beta: float, n_max: int) -> tuple[_Space, int]:
    """The search space and the smallest n the Neyman-Pearson bound allows (0: none)."""
    null, alternative = _binomial(p0, n_max), _binomial(p1, n_max)
    m = np.arange(n_max + 1)
    below_m = m[None, :] < m[:, None]
    r1_max = _largest(below_m & (alternative.cdf <= beta + _SLACK))
    r_max = _largest(below_m & (alternative.sf >= 1.0 - beta - _SLACK))
    critical = np.argmax(null.sf <= alpha, axis=1)
    at = null.pmf[m, critical]
    randomised = np.where(at > 0, (alpha - null.sf[m, critical]) / np.where(at > 0, at, 1.0), 0.0)
    best_power = alternative.sf[m, critical] + randomised * alternative.pmf[m, critical]
    reachable = (best_power >= 1.0 - beta - _SLACK) & (m >= 2)
    pet = np.where(r1_max >= 0, null.cdf[m, np.maximum(r1_max, 0)], 0.0)
    n1 = m[1:]
    bound = n1[None, :] + (1.0 - pet[n1])[None, :] * (m[:, None] - n1[None, :])
    usable = (n1[None, :] < m[:, None]) & (r1_max[n1] >= 0)[None, :]
    en_bound = np.where(usable, bound, np.inf).min(axis=1)
    space = _Space(null, alternative, alpha, beta, r1_max, r_max, en_bound)
    return space, int(np.argmax(reachable)) if reachable.any() else 0


def _first_least(values: np.ndarray) -> int:
    """Index of the first value within :data:`_TIE` of the least (candidates are in order of
    n, n1, r1, so exact ties, which p0 = 0.5 makes common, go to the smaller n, n1, r1)."""
    return int(np.argmax(values <= values.min() + _TIE))


def _design(r1, n1, r, n, i: int, expected: float) -> Design:
    return int(r1[i]), int(n1[i]), int(r[i]), int(n[i]), expected


@lru_cache(maxsize=64)
def simon_search(
    p0: float, p1: float, alpha: float, beta: float, n_max: int
) -> tuple[Design, Design] | None:
    """The (minimax, optimal) designs with n <= ``n_max`` as (r1, n1, r, n, E[N | p0]),
    or None when no design meets both errors. Arguments are not checked here."""
    space, n = _space(p0, p1, alpha, beta, n_max)
    if not n:
        return None
    minimax: Design | None = None
    optimal: Design | None = None
    best = np.inf
    block = _BLOCK
    while n <= n_max:
        ns = np.arange(n, min(n + block, n_max + 1))
        if minimax is not None:
            ns = ns[space.en_bound[ns] <= best]
            if not ns.size:
                break
        n = int(ns[-1]) + 1
        total, n1, r1 = space.candidates(ns, best)
        if not total.size:
            continue
        r, feasible = space.evaluate(total, n1, r1)
        if not feasible.any():
            continue
        found = np.flatnonzero(feasible)
        expected = space.expected_n(total[found], n1[found], r1[found])
        if minimax is None:
            first = int(np.count_nonzero(total[found] == total[found[0]]))
            i = _first_least(expected[:first])
            minimax = _design(r1, n1, r, total, found[i], float(expected[i]))
            block *= 4
        i = _first_least(expected)
        if expected[i] < best - _TIE:
            best = float(expected[i])
            optimal = _design(r1, n1, r, total, found[i], best)
    if minimax is None or optimal is None:
        return None
    return minimax, optimal
