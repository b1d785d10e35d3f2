"""The MCMC checks of the qualification: the PyMC models against the quadrature engines'
values within Monte Carlo error.

Each check samples the model with the case's small plan (e.g. 2 chains of 1000 draws after
1000 tuning steps) and its seed, and reports each posterior estimate with its Monte Carlo
standard error (the MCSE of a mean, from the effective sample size of the draws), so that
the case passes when |estimate - exact| <= absolute + k MCSE.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .qualification_checks import Obtained

__all__ = ["mcmc_blrm", "mcmc_crm", "mcmc_manufacturing", "monte_carlo_error"]


def monte_carlo_error(draws: np.ndarray) -> float:
    """MCSE of the mean of draws shaped (chain, draw), by ArviZ's ``mcse`` (Vehtari et al.
    2021); 0 for constant draws (an indicator never or always true)."""
    values = np.asarray(draws, dtype=float)
    if float(values.std()) == 0.0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az

        return float(np.asarray(az.mcse(values, method="mean")).reshape(-1)[0])


def _plan(inputs: Mapping[str, Any]) -> dict[str, Any]:
    plan = inputs["sampling"]
    return {
        "chains": int(plan["chains"]),
        "draws": int(plan["draws"]),
        "tune": int(plan["tune"]),
        "seed": int(plan["seed"]),
        "cores": 1,
        "progressbar": False,
    }


def _per_dose(draws: np.ndarray) -> tuple[list[float], list[float]]:
    """Means and MCSEs per dose of draws shaped (chain, draw, dose)."""
    means = [float(draws[..., d].mean()) for d in range(draws.shape[-1])]
    errors = [monte_carlo_error(draws[..., d]) for d in range(draws.shape[-1])]
    return means, errors


def mcmc_blrm(inputs: Mapping[str, Any]) -> Obtained:
    """``dartnk.models.blrm`` on one arm: posterior mean DLT rate and interval
    probabilities per dose."""
    from dartnk.models import blrm

    low, high = inputs.get("intervals", (0.16, 0.33))
    fit = blrm(
        inputs["level"],
        inputs["dlt"],
        doses=inputs["doses"],
        reference_dose=inputs["reference_dose"],
        prior_mean=inputs["prior_mean"],
        prior_sd=inputs["prior_sd"],
        prior_corr=inputs.get("prior_corr", 0.0),
        followup=inputs.get("followup"),
        window=inputs.get("window"),
        intervals=(low, high),
        **_plan(inputs),
    )
    p = fit.ptox().to_numpy()[:, :, 0, :]
    values, errors = {}, {}
    for name, draws in (
        ("ptox_mean", p),
        ("prob_under", (p < low).astype(float)),
        ("prob_target", ((p >= low) & (p < high)).astype(float)),
        ("prob_over", (p >= high).astype(float)),
    ):
        values[name], errors[name] = _per_dose(draws)
    return Obtained(values, errors)


def mcmc_crm(inputs: Mapping[str, Any]) -> Obtained:
    """``dartnk.models.crm`` on one arm: posterior mean of beta and of each dose's DLT
    rate."""
    from dartnk.models import crm

    fit = crm(
        inputs["level"],
        inputs["dlt"],
        skeleton=inputs["skeleton"],
        model=inputs.get("model", "empiric"),
        intercept=inputs.get("intercept", 3.0),
        prior_var=inputs.get("prior_var", 1.34),
        followup=inputs.get("followup"),
        window=inputs.get("window"),
        **_plan(inputs),
    )
    beta = fit.posterior["beta"].to_numpy()
    beta = beta.reshape(beta.shape[0], beta.shape[1])
    means, errors = _per_dose(fit.ptox().to_numpy()[:, :, 0, :])
    return Obtained(
        {"beta_mean": float(beta.mean()), "ptox_mean": means},
        {"beta_mean": monte_carlo_error(beta), "ptox_mean": errors},
    )


def mcmc_manufacturing(inputs: Mapping[str, Any]) -> Obtained:
    """``dartnk.models.fit_manufacturing``: posterior mean lot release probability per
    construct, against the conjugate Beta posterior."""
    from dartnk.models import BetaPrior, LotData, ManufacturingInputs, fit_manufacturing

    lots = inputs["lots"]
    data = LotData(
        constructs=tuple(inputs["constructs"]),
        lots=np.asarray(lots),
        released=np.asarray(inputs["released"]),
        awaiting=np.zeros(len(lots), dtype=np.int64),
    )
    plan = _plan(inputs)
    fit = fit_manufacturing(
        ManufacturingInputs(data=data, prior=BetaPrior(*inputs["prior"])), **plan
    )
    means, errors = _per_dose(fit.release_probability().to_numpy())
    return Obtained({"mean": means}, {"mean": errors})
