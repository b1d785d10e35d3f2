"""Isotonic estimates of DLT rates and BOIN's selection of the MTD, one trial or a batch.

BOIN selects the MTD from isotonic (pool-adjacent-violators) estimates of the DLT rate at
the doses tried and not eliminated (Liu and Yuan 2015; BOIN::select.mtd). The one-trial
path calls :func:`scipy.optimize.isotonic_regression`; the batch path uses the max-min
formula of isotonic regression on arrays, so no Python loop runs over trials.

Dose indices are 0-based.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import isotonic_regression

__all__: list[str] = []

_PSEUDO = 0.05
_TIE_STEP = 1e-10


def smoothed_rate(n: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BOIN's smoothed DLT rate and its precision, the inputs of the isotonic fit.

    The rate is the posterior mean under a Beta(0.05, 0.05) prior,
    (y + 0.05) / (n + 0.1), and the weight is the inverse of its posterior variance,
    (n + 0.1)^2 (n + 1.1) / ((y + 0.05)(n - y + 0.05)), as in BOIN::select.mtd.
    """
    a = np.add(y, _PSEUDO, dtype=float)
    total = np.add(n, 2 * _PSEUDO, dtype=float)
    b = total - a
    rate = a / total
    weight = total * total * (total + 1) / (a * b)
    return rate, weight


def isotonic_batch(values: np.ndarray, weights: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Weighted non-decreasing isotonic regression of each row over its kept entries.

    Uses the max-min formula: the fit at a kept entry i is
    max over j <= i of min over k >= i of the weighted mean of the kept entries in j..k
    (Barlow, Bartholomew, Bremner and Brunk 1972), which equals the pool-adjacent-violators
    solution. Entries not kept get weight 0, so a range j..k means the same as the range
    of its kept entries; they come back NaN. The loops run over doses, never over trials.

    Parameters
    ----------
    values, weights : ndarray of float, shape (trials, doses)
    keep : ndarray of bool, shape (trials, doses)

    Returns
    -------
    ndarray of float, shape (trials, doses)
    """
    doses = values.shape[1]
    w = np.where(keep, weights, 0.0)
    zero = np.zeros((values.shape[0], 1))
    cw = np.concatenate([zero, np.cumsum(w, axis=1)], axis=1)
    cwx = np.concatenate([zero, np.cumsum(w * values, axis=1)], axis=1)
    fit = np.full(values.shape, -np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(doses):
            inner = (cwx[:, doses] - cwx[:, j]) / (cw[:, doses] - cw[:, j])
            for i in range(doses - 1, j - 1, -1):
                mean = (cwx[:, i + 1] - cwx[:, j]) / (cw[:, i + 1] - cw[:, j])
                inner = np.fmin(inner, mean)
                fit[:, i] = np.fmax(fit[:, i], inner)
    return np.where(keep, fit, np.nan)


def isotonic_one(values: np.ndarray, weights: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """One trial's weighted isotonic fit over its kept entries (NaN elsewhere)."""
    fit = np.full(values.shape, np.nan)
    if keep.any():
        fit[keep] = isotonic_regression(values[keep], weights=weights[keep]).x
    return fit


def closest_to_target(fit: np.ndarray, keep: np.ndarray, target: float) -> np.ndarray:
    """Index of the kept dose whose isotonic estimate is closest to the target, per row.

    Before comparing, BOIN adds k x 1e-10 to the estimate of the k-th kept dose
    (k = 1, 2, ...). Among doses pooled to one estimate, the highest is then closest when
    the estimate is below the target and the lowest when it is above; on an exact tie in
    distance, the dose below the target wins. Rows with no kept dose give NaN.
    """
    position = np.cumsum(keep, axis=1)
    distance = np.where(keep, np.abs(fit + position * _TIE_STEP - target), np.inf)
    best = np.argmin(distance, axis=1).astype(float)
    return np.where(keep.any(axis=1), best, np.nan)


def select_batch(n: np.ndarray, y: np.ndarray, admissible: np.ndarray, target: float) -> np.ndarray:
    """BOIN's MTD per row over the admissible doses tried: float index, NaN for none."""
    keep = admissible & (n > 0)
    rate, weight = smoothed_rate(n, y)
    return closest_to_target(isotonic_batch(rate, weight, keep), keep, target)


def select_one(n: np.ndarray, y: np.ndarray, admissible: np.ndarray, target: float) -> int | None:
    """BOIN's MTD of one trial with scipy's isotonic regression: 0-based index or None."""
    if not admissible[0]:
        return None
    keep = admissible & (n > 0)
    rate, weight = smoothed_rate(n, y)
    best = closest_to_target(isotonic_one(rate, weight, keep)[None], keep[None], target)[0]
    return None if np.isnan(best) else int(best)
