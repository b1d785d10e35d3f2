"""CRM skeleton calibration by indifference intervals (Lee and Cheung 2009).

References
----------
Cheung YK, Chappell R (2002). A simple technique to evaluate model sensitivity in the
continual reassessment method. Biometrics 58:671-674.

Lee SM, Cheung YK (2009). Model calibration in the continual reassessment method.
Clinical Trials 6:227-238.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

__all__ = ["calibrate_skeleton"]


def calibrate_skeleton(
    target: float,
    n_doses: int,
    *,
    halfwidth: float,
    prior_mtd: int,
    model: str = "empiric",
    intercept: float = 3.0,
) -> np.ndarray:
    """The CRM skeleton whose indifference intervals all have half-width ``halfwidth``.

    Under the CRM the model recommends dose k for the values of beta at which its
    DLT rate p_k(beta) lies in the indifference interval [target - halfwidth, target +
    halfwidth]. The calibrated skeleton places the prior MTD at the target,
    p_k(0) = target for k = ``prior_mtd``, and makes neighbouring intervals meet: at
    the beta where dose k reaches target + halfwidth, dose k - 1 is at target -
    halfwidth. This gives a closed form. With r = log(target - halfwidth) /
    log(target + halfwidth) for the empiric model p = skeleton^exp(beta),

        skeleton_k = target ^ (r ^ (prior_mtd - k)),

    and with rho = (logit(target - halfwidth) - a) / (logit(target + halfwidth) - a) for
    the one-parameter logistic model logit p = a + exp(beta) x_k (``a`` the intercept),

        x_k = (logit(target) - a) rho ^ (prior_mtd - k),  skeleton_k = expit(a + x_k).

    This is the skeleton of ``getprior`` in the R package dfcrm (Cheung 2011).

    Parameters
    ----------
    target : float
        Target DLT rate.
    n_doses : int
        Number of dose levels.
    halfwidth : float
        Half-width of the indifference intervals, 0 < halfwidth < min(target, 1 - target).
    prior_mtd : int
        0-based dose believed a priori to be the MTD (dfcrm's ``nu`` minus one).
    model : {"empiric", "logistic"}
    intercept : float
        Intercept ``a`` of the logistic model; must exceed logit(target + halfwidth).

    Returns
    -------
    ndarray, shape (n_doses,)
        Increasing prior DLT rates, ``skeleton[prior_mtd] == target``.

    Examples
    --------
    >>> skeleton = calibrate_skeleton(0.25, 5, halfwidth=0.05, prior_mtd=2)
    >>> round(float(skeleton[2]), 2)
    0.25

    References
    ----------
    Cheung YK, Chappell R (2002). A simple technique to evaluate model sensitivity in the
    continual reassessment method. Biometrics 58:671-674.

    Lee SM, Cheung YK (2009). Model calibration in the continual reassessment method.
    Clinical Trials 6:227-238.

    Cheung YK (2011). Dose Finding by the Continual Reassessment Method. Boca Raton:
    Chapman & Hall/CRC.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target {target} is not a probability strictly between 0 and 1")
    if int(n_doses) != n_doses or n_doses < 1:
        raise ValueError(f"n_doses {n_doses} must be a positive whole number")
    if not 0.0 < halfwidth < min(target, 1.0 - target):
        raise ValueError(
            f"halfwidth {halfwidth} must be positive and leave target +/- halfwidth inside "
            f"(0, 1); target is {target}"
        )
    if int(prior_mtd) != prior_mtd or not 0 <= prior_mtd < n_doses:
        raise ValueError(f"prior_mtd {prior_mtd} is outside 0..{n_doses - 1} (0-based)")
    steps = prior_mtd - np.arange(int(n_doses))
    low, high = target - halfwidth, target + halfwidth
    if model == "empiric":
        ratio = np.log(low) / np.log(high)
        return np.exp(np.log(target) * ratio**steps)
    if model == "logistic":
        if logit(high) >= intercept:
            raise ValueError(
                f"intercept {intercept} is too small for the logistic model: it must exceed "
                f"logit(target + halfwidth) = {logit(high):.3f}"
            )
        ratio = (logit(low) - intercept) / (logit(high) - intercept)
        return expit(intercept + (logit(target) - intercept) * ratio**steps)
    raise ValueError(f"model {model!r} is not one of 'empiric', 'logistic'")
