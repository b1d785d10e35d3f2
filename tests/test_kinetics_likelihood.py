"""The kinetics model's likelihood against SciPy: exact values by the normal density,
left-censored ones by the normal CDF at the bound and interval-censored ones by the
probability of their interval, for both endpoints and every kind mixed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dartnk.models.data import KineticsData
from dartnk.models.kinetics import ENDPOINTS, _model
from dartnk.models.priors import KineticsPrior

INF = np.inf


def _cut() -> KineticsData:
    lower = np.array(
        [
            [3.1, 4.2],
            [-INF, 4.0],
            [2.7, -INF],
            [3.4, 4.6],
            [-INF, -INF],
            [2.9, 3.8],
        ]
    )
    upper = np.array(
        [
            [3.1, 4.9],
            [2.5, 4.0],
            [3.2, 3.6],
            [3.4, 4.6],
            [2.5, 3.6],
            [2.9, 4.3],
        ]
    )
    return KineticsData(
        constructs=("A", "B"),
        dose_labels=("DL1", "DL2"),
        construct=np.array([0, 0, 1, 1, 0, 1]),
        dose=np.array([0, 1, 0, 1, 1, 0]),
        lower=lower,
        upper=upper,
        patient_ids=tuple(f"P{i}" for i in range(6)),
    )


def _expected(cut: KineticsData, mean: np.ndarray, sigma: np.ndarray) -> float:
    total = 0.0
    for i in range(cut.construct.size):
        for k in range(len(ENDPOINTS)):
            mu, sd = mean[k, cut.construct[i], cut.dose[i]], sigma[k]
            low, high = cut.lower[i, k], cut.upper[i, k]
            if low == high:
                total += stats.norm.logpdf(high, mu, sd)
            elif not np.isfinite(low):
                total += stats.norm.logcdf(high, mu, sd)
            else:
                total += np.log(stats.norm.cdf(high, mu, sd) - stats.norm.cdf(low, mu, sd))
    return total


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_likelihood_is_each_cell_by_its_kind(seed):
    cut = _cut()
    prior = KineticsPrior(
        mean=(3.0, 4.5), sd=(1.5, 1.5), slope_sd=1.0, tau_scale=0.5, sigma_scale=1.0
    )
    model, endpoints = _model(cut, np.log(np.array([1.0, 3.0])), prior)
    assert {kind: list(e) for kind, e in endpoints.items()} == {
        "exact": [0, 0, 0, 1, 1],
        "censored": [0, 0, 1, 1],
        "interval": [0, 1, 1],
    }
    rng = np.random.default_rng(seed)
    point = {
        name: value + rng.normal(0.0, 0.4, np.shape(value))
        for name, value in model.initial_point().items()
    }
    mean, sigma = model.compile_fn(
        model.replace_rvs_by_values([model["mean_log10"], model["sigma"]]),
        inputs=model.value_vars,
        point_fn=True,
        on_unused_input="ignore",
    )(point)
    likelihood = model.compile_logp(vars=model.observed_RVs)(point)
    assert likelihood == pytest.approx(_expected(cut, mean, sigma), rel=1e-9)
