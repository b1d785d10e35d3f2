"""The time-to-event (TITE) weight of a patient still inside the DLT window.

One function, used by the per-patient derivations of a data cut, the escalation designs
(and their quadrature engines) and the PyMC dose-toxicity models, so that every part of
the package weighs a pending patient the same way.

Reference: Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with
late-onset toxicities. Biometrics 56:1177-1182.
"""

from __future__ import annotations

import numpy as np

__all__ = ["tite_weight"]


def tite_weight(followup: float | np.ndarray, window: float) -> np.ndarray:
    """TITE weight w = min(1, u / window) of a patient followed for u days without a DLT.

    A patient without a DLT after u days of a ``window``-day DLT window contributes
    log(1 - w p) to the likelihood of a DLT rate p (Cheung and Chappell 2000, linear
    weight); w = 0 for a patient enrolled but not yet infused (u = 0), and w = 1 once the
    whole window is complete. NaN follow-up stays NaN.

    Parameters
    ----------
    followup : float or ndarray
        Days of DLT follow-up u >= 0.
    window : float
        DLT window in days, > 0.

    Returns
    -------
    ndarray of float
        The weights, shape of ``followup``.

    Examples
    --------
    >>> from dartnk.models import tite_weight
    >>> tite_weight([0, 7, 28, 40], 28).tolist()
    [0.0, 0.25, 1.0, 1.0]
    """
    if not (np.isfinite(window) and window > 0):
        raise ValueError(f"DLT window {window} must be a positive number of days")
    u = np.asarray(followup, dtype=float)
    if np.any(u[np.isfinite(u)] < 0):
        raise ValueError("follow-up days must be non-negative")
    return np.minimum(1.0, u / float(window))
