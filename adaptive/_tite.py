"""TITE-BOIN's estimate of the DLT rate with pending outcomes imputed.

Reference: Yuan Y, Lin R, Li D, Nie L, Warren KE (2018). Time-to-event Bayesian optimal
interval design to accelerate phase I trials. Clinical Cancer Research 24:4921-4930.
"""

from __future__ import annotations

import numpy as np

__all__: list[str] = []


def imputed_rate(
    target: float, n: np.ndarray, y: np.ndarray, m: np.ndarray, stft: np.ndarray
) -> np.ndarray:
    """(y + (m - STFT) p / (1 - p)) / n with p = (y + target / 2) / (n - m + 1).

    n patients treated, y DLTs, m pending with standardized total follow-up STFT. Each
    pending outcome is replaced by its expectation under a uniform time to DLT, and p is
    the posterior mean from the n - m completed patients under Beta(target/2,
    1 - target/2), a prior of effective sample size 1 (Yuan et al. 2018).
    """
    p_post = (y + target / 2) / (n - m + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (y + p_post / (1 - p_post) * (m - stft)) / n
