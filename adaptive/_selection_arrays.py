"""Array kernels of the composite construct selection, batch first.

Every function works on arrays whose last two axes are (construct, draw) and whose leading
axes (trials, weight samples) are a batch; nothing loops over trials or draws. A construct
without a candidate dose is marked by ``available`` False and has NaN scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "desirability",
    "selection_rule",
    "tie_shared_best",
    "tie_shared_ranks",
    "weighted_score",
]


def desirability(values: np.ndarray, worst: float, best: float) -> np.ndarray:
    """Linear desirability d = clip((x - worst) / (best - worst), 0, 1) (Derringer and Suich
    1980); ``best`` below ``worst`` makes lower values better."""
    scaled = (values - worst) * (1.0 / (best - worst))
    return np.clip(scaled, 0.0, 1.0, out=scaled)


def weighted_score(
    values: Sequence[np.ndarray],
    weights: Sequence[float],
    ranges: Sequence[tuple[float, float]],
    available: np.ndarray,
) -> np.ndarray:
    """Additive value score sum_k w_k d_k per draw, NaN where ``available`` is False.

    ``values`` are arrays of one shape (..., construct, draw); ``available`` has shape
    (..., construct).
    """
    score = np.zeros(np.shape(values[0]), dtype=float)
    for value, weight, (worst, best) in zip(values, weights, ranges, strict=True):
        if weight == 0.0:
            continue
        part = desirability(value, worst, best)
        part *= weight
        score += part
    score[~available] = np.nan
    return score


def _order(score: np.ndarray, available: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per draw, the number of constructs with a strictly higher score and the number with an
    equal one (itself included); a construct without a candidate dose scores below all."""
    key = np.where(available[..., None], score, -np.inf)
    n_constructs = key.shape[-2]
    higher = np.zeros(key.shape, dtype=np.int16)
    equal = np.ones(key.shape, dtype=np.int16)
    for c in range(n_constructs):
        own = key[..., c, :]
        for other in range(n_constructs):
            if other != c:
                higher[..., c, :] += key[..., other, :] > own
                equal[..., c, :] += key[..., other, :] == own
    return higher, equal


def _tie_share(equal: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer share L / m of each of m tied constructs, with L = lcm(1, ..., constructs), so
    that sums over draws are exact and one division gives each probability."""
    n_constructs = equal.shape[-2]
    common = math.lcm(*range(1, n_constructs + 1))
    dtype = np.int32 if common < 2**31 else np.int64
    table = np.array([0, *(common // m for m in range(1, n_constructs + 1))], dtype=dtype)
    return table[equal], common


def tie_shared_ranks(score: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Rank probabilities, shape (..., construct, rank), rank 1 first.

    In each draw m constructs tied on a score share the m ranks they span, 1/m of each, so
    every row and every column sums to 1. Constructs without a candidate dose share the last
    ranks.
    """
    higher, equal = _order(score, available)
    share, common = _tie_share(equal)
    upper = higher + equal
    n_constructs, n_draws = score.shape[-2:]
    counts = np.stack(
        [
            np.where((higher < rank) & (upper >= rank), share, 0).sum(axis=-1)
            for rank in range(1, n_constructs + 1)
        ],
        axis=-1,
    )
    return counts / (common * n_draws)


def tie_shared_best(score: np.ndarray, available: np.ndarray) -> np.ndarray:
    """P(best), shape (..., construct): constructs tied for the best score in a draw share it
    equally; 0 for a construct without a candidate dose (and for all when none has one)."""
    higher, equal = _order(score, available)
    share, common = _tie_share(equal)
    counts = np.where(higher == 0, share, 0).sum(axis=-1)
    prob = counts / (common * score.shape[-1])
    return np.where(available, prob, 0.0)


def selection_rule(prob_best: np.ndarray, eligible: np.ndarray, threshold: float) -> np.ndarray:
    """0-based index of the selected construct per batch entry, NaN for no selection.

    The construct with the strictly highest P(best) is selected when that P(best) is at least
    ``threshold`` and the construct is ``eligible`` (it has a candidate dose and passes its
    gates); a tie for the highest P(best), or a leader below the threshold or failing a gate,
    selects none.
    """
    top = prob_best.max(axis=-1)
    leader = prob_best.argmax(axis=-1)
    unique = (prob_best == top[..., None]).sum(axis=-1) == 1
    leader_eligible = np.take_along_axis(eligible, leader[..., None], axis=-1)[..., 0]
    chosen = unique & (top >= threshold) & leader_eligible
    return np.where(chosen, leader.astype(float), np.nan)
