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
    "best_from_ranks",
    "desirability",
    "selection_rule",
    "tie_shared_best",
    "tie_shared_ranks",
    "weighted_score",
]


def desirability(
    values: np.ndarray, worst: float, best: float, *, out: np.ndarray | None = None
) -> np.ndarray:
    """Linear desirability d = clip((x - worst) / (best - worst), 0, 1) (Derringer and Suich
    1980); ``best`` below ``worst`` makes lower values better."""
    scaled = np.subtract(values, worst, out=out)
    scaled *= 1.0 / (best - worst)
    return np.clip(scaled, 0.0, 1.0, out=scaled)


def weighted_score(
    values: Sequence[np.ndarray],
    weights: Sequence[float],
    ranges: Sequence[tuple[float, float]],
    available: np.ndarray,
) -> np.ndarray:
    """Additive value score sum_k w_k d_k per draw, NaN where ``available`` is False.

    ``values`` are arrays of one shape (..., construct, draw); ``available`` has shape
    (..., construct). The score is in single precision when every value array is, else in
    double precision.
    """
    single = all(np.asarray(v).dtype == np.float32 for v in values)
    dtype = np.float32 if single else np.float64
    score = np.zeros(np.shape(values[0]), dtype=dtype)
    part = None
    first = True
    for value, weight, (worst, best) in zip(values, weights, ranges, strict=True):
        if weight == 0.0:
            continue
        if first:
            desirability(value, worst, best, out=score)
            score *= weight
            first = False
            continue
        part = desirability(value, worst, best, out=part)
        part *= weight
        score += part
    score[~available] = np.nan
    return score


def _tie_patterns(n_constructs: int) -> tuple[list[tuple[int, int]], np.ndarray, int]:
    """Every (h, m) a construct can meet in a draw: h constructs strictly above it and m
    tied with it (itself included); and the integer share L / m each pattern gives to each
    rank it spans, L = lcm(1, ..., constructs), so that sums over draws stay exact."""
    common = math.lcm(*range(1, n_constructs + 1))
    patterns = [(h, m) for h in range(n_constructs) for m in range(1, n_constructs - h + 1)]
    share = np.zeros((len(patterns), n_constructs), dtype=np.int64)
    for p, (h, m) in enumerate(patterns):
        share[p, h : h + m] = common // m
    return patterns, share, common


def tie_shared_ranks(score: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Rank probabilities, shape (..., construct, rank), rank 1 first.

    ``score`` has shape (..., construct, draw) and is NaN for a construct without a
    candidate dose (``available`` False, shape (..., construct)). In each draw m constructs
    tied on a score share the m ranks they span, 1/m of each, so every row and every column
    sums to 1; constructs without a candidate dose share the last ranks. Per construct, the
    draws are counted by their pattern (constructs above, constructs tied) and each pattern
    spreads its count over its ranks, so no (construct, draw) array of ranks is built.
    """
    n_constructs, n_draws = score.shape[-2:]
    patterns, share, common = _tie_patterns(n_constructs)
    width = n_constructs + 1
    dtype = np.uint8 if n_constructs * width < 256 else np.uint16
    counts = np.zeros((*score.shape[:-1], len(patterns)), dtype=np.int64)
    for c in range(n_constructs):
        own = score[..., c, :]
        above = np.zeros(own.shape, dtype=dtype)
        code = np.ones(own.shape, dtype=dtype)
        for other in range(n_constructs):
            if other != c:
                rival = score[..., other, :]
                above += np.greater(rival, own)
                code += np.equal(rival, own)
        above *= dtype(width)
        code += above
        for p, (h, m) in enumerate(patterns):
            match = np.equal(code, h * width + m)
            counts[..., c, p] = match.view(np.uint8).sum(axis=-1, dtype=np.int64)
    n_available = np.count_nonzero(available, axis=-1)[..., None]
    missing = ~available
    if missing.any():
        below = np.zeros(counts.shape, dtype=np.int64)
        for p, (h, m) in enumerate(patterns):
            below[..., p] = np.where(
                (h == n_available) & (m == n_constructs - n_available), n_draws, 0
            )
        counts = np.where(missing[..., None], below, counts)
    return (counts @ share) / (common * n_draws)


def best_from_ranks(ranks: np.ndarray, available: np.ndarray) -> np.ndarray:
    """P(best) from rank probabilities: P(rank 1), and 0 for a construct without a
    candidate dose (which ranks first only when no construct has one)."""
    return np.where(available, ranks[..., 0], 0.0)


def tie_shared_best(score: np.ndarray, available: np.ndarray) -> np.ndarray:
    """P(best), shape (..., construct): constructs tied for the best score in a draw share it
    equally; 0 for a construct without a candidate dose (and for all when none has one)."""
    return best_from_ranks(tie_shared_ranks(score, available), available)


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
