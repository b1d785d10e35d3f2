"""Exchangeable construct-level parameters, parameterised so that NUTS samples them well.

A hierarchical normal theta_c ~ N(mu, T) for constructs c = 1..C, with mu ~ N(m, S) and a
diagonal T = diag(tau^2), is sampled here in an exactly equivalent form: the mean
theta_bar = mean_c theta_c and the deviations d_c = theta_c - theta_bar are independent
given tau, with

    theta_bar ~ N(m, S + T / C)      (mu integrated out),
    d = tau * z,  z ~ ZeroSumNormal(1) over the constructs,

because the deviations of C independent N(mu, tau^2) draws from their mean have the
zero-sum normal law with covariance tau^2 (I - J / C), whatever mu is. The data fix
theta_bar well and the deviations are non-centred, which removes both the funnel of the
centred form (small tau) and the ridge between mu and z of the usual non-centred form
(informative constructs). mu itself is drawn after sampling from its exact conditional
N(P^-1 (S^-1 m + C T^-1 theta_bar), P^-1), P = S^-1 + C T^-1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ._arviz import InferenceData

__all__ = ["draw_population_mean", "exchangeable_levels"]


def exchangeable_levels(
    name: str,
    *,
    mean: float | Sequence[float],
    cov: float | np.ndarray,
    tau: pt.TensorVariable,
    component: str | None,
    constructs: int,
) -> pt.TensorVariable:
    """Construct-level parameters of the hierarchical normal.

    ``mean`` and ``cov`` are m and S (a scalar and a variance when ``component`` is None,
    else a (k,) vector and a (k, k) matrix over the model dim ``component``); ``tau``
    holds the between-construct standard deviations. Returns a tensor of shape
    (constructs,) or (constructs, k), and registers ``{name}_mean`` (theta_bar) and
    ``z_{name}``.
    """
    m = np.atleast_1d(np.asarray(mean, dtype=float))
    s = np.atleast_2d(np.asarray(cov, dtype=float))
    tau_vector = pt.atleast_1d(tau)
    if component is None:
        sd = pt.sqrt(s[0, 0] + tau**2 / constructs)
        centre = pm.Normal(f"{name}_mean", m[0], sd)
    elif np.allclose(s, np.diag(np.diag(s))):
        sd = pt.sqrt(np.diag(s) + tau_vector**2 / constructs)
        centre = pm.Normal(f"{name}_mean", m, sd, dims=component)
    else:
        total = pt.as_tensor(s) + pt.diag(tau_vector**2) / constructs
        centre = pm.MvNormal(f"{name}_mean", m, cov=total, dims=component)
    if constructs == 1:
        return centre[None] if component is None else centre[None, :]
    if component is None:
        z = pm.ZeroSumNormal(f"z_{name}", sigma=1.0, dims="construct")
        return centre + tau * z
    z = pm.ZeroSumNormal(f"z_{name}", sigma=1.0, dims=(component, "construct"))
    return (centre[:, None] + tau_vector[:, None] * z).T


def draw_population_mean(
    idata: InferenceData,
    rng: np.random.Generator,
    *,
    name: str,
    mean: float | Sequence[float],
    cov: float | np.ndarray,
    tau: str,
    component: str | None,
    constructs: int,
    target: str = "mu",
) -> None:
    """Add ``target`` (mu) to the posterior and prior groups: one exact conditional draw
    of the population mean per draw of (theta_bar, tau), in the generator's order."""
    m = np.atleast_1d(np.asarray(mean, dtype=float))
    s_inv = np.linalg.inv(np.atleast_2d(np.asarray(cov, dtype=float)))
    for group in ("posterior", "prior"):
        if group not in idata.groups():
            continue
        data = idata[group]
        order = ("chain", "draw") if component is None else ("chain", "draw", component)
        centre = (
            data[f"{name}_mean"]
            .transpose(*order)
            .to_numpy()
            .reshape(*data[f"{name}_mean"].shape[:2], m.size)
        )
        scale = data[tau].transpose(*order).to_numpy().reshape(centre.shape)
        t_inv = constructs / np.maximum(scale, 1e-150) ** 2
        precision = s_inv + t_inv[..., :, None] * np.eye(m.size)
        covariance = np.linalg.inv(precision)
        location = np.einsum("...ij,...j->...i", covariance, s_inv @ m + t_inv * centre)
        chol = np.linalg.cholesky(covariance)
        mu = location + np.einsum("...ij,...j->...i", chol, rng.standard_normal(location.shape))
        if component is None:
            data[target] = (("chain", "draw"), mu[..., 0])
        else:
            data[target] = (("chain", "draw", component), mu)
