"""Response, expansion, manufacturing and survival models against exact computations
(quadrature, closed forms, maximum likelihood, Kaplan-Meier by hand) and their laws."""

import numpy as np
import pandas as pd
import pytest
from _mcmc import PROTOCOL, QUICK, agrees, fake_trial
from scipy import integrate, special, stats

from dartnk.analyses import example_data, load_trial
from dartnk.models import (
    SurvivalData,
    beta_binomial_posterior,
    fit_expansion,
    fit_manufacturing,
    fit_response,
    fit_survival,
    kaplan_meier,
    lot_counts,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trial():
    return load_trial(example_data())


# --- response ----------------------------------------------------------------------------


def _orr_by_quadrature(n, r, *, mean, sd, tau_scale):
    """Posterior mean ORR per construct of the hierarchical logit model, by a (mu, tau)
    grid and Gauss-Hermite rules for each construct's logit given (mu, tau)."""
    x, w = np.polynomial.hermite.hermgauss(80)
    mu = np.linspace(mean - 7 * sd, mean + 7 * sd, 701)
    tau = np.linspace(0.0, 6 * tau_scale, 601)
    grid_mu, grid_tau = np.meshgrid(mu, tau, indexing="ij")
    a = grid_mu[..., None] + np.sqrt(2.0) * grid_tau[..., None] * x
    p = special.expit(a)
    log_post = stats.norm.logpdf(grid_mu, mean, sd) + stats.halfnorm.logpdf(grid_tau, 0, tau_scale)
    likelihood, numerator = [], []
    for n_c, r_c in zip(n, r, strict=True):
        binom = stats.binom.pmf(r_c, n_c, p)
        likelihood.append((binom * w).sum(axis=-1) / np.sqrt(np.pi))
        numerator.append((p * binom * w).sum(axis=-1) / np.sqrt(np.pi))
    log_post = log_post + np.sum(np.log(likelihood), axis=0)
    weight = np.exp(log_post - log_post.max())
    weight /= integrate.trapezoid(integrate.trapezoid(weight, tau, axis=1), mu)
    return [
        integrate.trapezoid(integrate.trapezoid(weight * num / lik, tau, axis=1), mu)
        for num, lik in zip(numerator, likelihood, strict=True)
    ]


@pytest.fixture(scope="module")
def response_fit(trial):
    return fit_response(trial, seed=21, **QUICK)


def test_response_agrees_with_quadrature(response_fit):
    fit = response_fit
    assert fit.passed, fit.diagnostics
    priors = PROTOCOL.priors
    exact = _orr_by_quadrature(
        fit.counts["n"], fit.counts["responders"], mean=priors.response_logit_mean,
        sd=priors.response_logit_sd, tau_scale=priors.response_tau_scale,
    )  # fmt: skip
    orr = fit.orr().transpose("chain", "draw", "construct").to_numpy()
    for c in range(3):
        assert agrees(orr[..., c], exact[c]), (c, orr[..., c].mean(), exact[c])


def test_response_counts_are_the_confirmed_responders(response_fit, trial):
    p = trial.patients[trial.patients["response_evaluable"]]
    expected = p.groupby("construct")["responder"].agg(["size", "sum"])
    counts = response_fit.counts.set_index("construct")
    assert (counts["n"] == expected["size"]).all()
    assert (counts["responders"] == expected["sum"]).all()


def test_response_shrinks_the_extremes_towards_each_other(response_fit):
    estimates = response_fit.estimates().set_index("construct")
    observed = estimates["responders"] / estimates["n"]
    assert estimates.loc["C", "mean"] > observed["C"] == 0.0
    top = observed.idxmax()
    assert estimates.loc[top, "mean"] < observed[top]
    assert (estimates["lower"] < estimates["median"]).all()
    assert (estimates["median"] < estimates["upper"]).all()


def test_response_by_dose_follows_the_sign_of_its_slope():
    rows = []
    for construct in "ABC":
        for label, n, r in (("DL1", 6, 0), ("DL2", 6, 1), ("DL3", 6, 3), ("DL4", 6, 4)):
            for i in range(n):
                rows.append(
                    {
                        "patient_id": f"{construct}{label}{i}",
                        "construct": construct,
                        "dose_index": PROTOCOL.dose_index(label),
                        "phase": 1,
                        "response_evaluable": True,
                        "responder": i < r,
                    }
                )
    fit = fit_response(fake_trial(pd.DataFrame(rows)), by_dose=True, seed=3, **QUICK)
    assert fit.passed, fit.diagnostics
    assert (fit.posterior["beta"] > 0).mean() > 0.99
    orr = fit.orr().transpose("chain", "draw", "construct", "dose").to_numpy()
    beta = fit.posterior["beta"].to_numpy()
    rising = np.diff(orr, axis=-1) > 0
    assert np.array_equal(rising.all(axis=(-2, -1)), beta > 0)
    table = fit.prob_exceeds(0.35)
    assert list(table.columns) == ["construct", "dose", "prob"]


# --- expansion: censoring below the LLOQ ------------------------------------------------------

TRUE_MEAN, TRUE_SD = 1.8, 0.6


def _latent_log10_cmax() -> np.ndarray:
    return np.random.default_rng(7).normal(TRUE_MEAN, TRUE_SD, 45)


def _pk_patients(substitute: bool) -> pd.DataFrame:
    """Simulated log10 Cmax N(1.8, 0.6) at DL2 for 3 x 15 patients, AUC = 15.8 x Cmax;
    with LLOQ 50 about half of the patients have no quantified sample."""
    latent = iter(_latent_log10_cmax())
    lloq = PROTOCOL.pk.lloq_copies_per_ug
    rows = []
    for construct in "ABC":
        for i in range(15):
            cmax = 10 ** next(latent)
            detected = cmax >= lloq
            auc = 15.8 * cmax
            if detected:
                low, high, value = 0.999 * auc, 1.001 * auc, cmax
            elif substitute:
                low = high = 15.8 * lloq
                value = lloq
            else:
                low, high, value = 0.0, 28 * lloq, np.nan
            rows.append(
                {
                    "patient_id": f"{construct}-{i}",
                    "construct": construct,
                    "dose_index": PROTOCOL.dose_index("DL2"),
                    "infused": True,
                    "cmax": value,
                    "auc_copies_low": low,
                    "auc_copies_high": high,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def expansion_pair():
    censored = fit_expansion(fake_trial(_pk_patients(False)), seed=9, **QUICK)
    substituted = fit_expansion(fake_trial(_pk_patients(True)), seed=9, **QUICK)
    return censored, substituted


def test_left_censoring_lowers_the_estimate_below_substitution(expansion_pair):
    censored, substituted = expansion_pair
    assert censored.passed, censored.diagnostics
    assert censored.counts["cmax_censored"].sum() > 10
    assert substituted.counts["cmax_censored"].sum() == 0

    def population_mean(fit):
        return fit.posterior["mu"].sel(endpoint="log10_cmax").to_numpy()

    latent = _latent_log10_cmax()
    mu_censored, mu_substituted = population_mean(censored), population_mean(substituted)
    assert mu_censored.mean() < mu_substituted.mean() - 0.1
    assert np.quantile(mu_censored, 0.025) < latent.mean() < np.quantile(mu_censored, 0.975)
    assert abs(mu_censored.mean() - latent.mean()) < abs(mu_substituted.mean() - latent.mean())
    sigma_censored = float(censored.posterior["sigma"].sel(endpoint="log10_cmax").mean())
    sigma_substituted = float(substituted.posterior["sigma"].sel(endpoint="log10_cmax").mean())
    assert sigma_substituted < sigma_censored
    assert abs(sigma_censored - latent.std()) < abs(sigma_substituted - latent.std())


def test_expansion_fit_of_the_example_cut(trial):
    fit = fit_expansion(trial, seed=13, cores=2)
    assert fit.passed, fit.diagnostics
    mean = fit.mean_log10()
    assert mean.dims == ("chain", "draw", "endpoint", "construct", "dose")
    assert list(mean["endpoint"].values) == ["log10_cmax", "log10_auc"]
    modelled = np.isfinite(trial.patients["auc_copies_high"]) & trial.patients["infused"]
    assert fit.counts["patients"].sum() == modelled.sum()
    estimates = fit.estimates()
    assert len(estimates) == 2 * 3 * 5
    assert (estimates["lower"] < estimates["upper"]).all()
    assert len(fit.plot().axes) == 2


# --- manufacturing ------------------------------------------------------------------------


def test_beta_binomial_posterior_is_the_normalised_likelihood_times_prior():
    s, n, a, b = 7, 11, 1.5, 0.8
    table = beta_binomial_posterior([s], [n], prior=(a, b))

    def density(q):
        return q ** (a + s - 1) * (1 - q) ** (b + n - s - 1)

    total = integrate.quad(density, 0, 1)[0]
    mean = integrate.quad(lambda q: q * density(q), 0, 1)[0] / total
    lower = table["lower"].iloc[0]
    assert table["mean"].iloc[0] == pytest.approx(mean, rel=1e-8)
    assert integrate.quad(density, 0, lower)[0] / total == pytest.approx(0.05, abs=1e-8)


@pytest.fixture(scope="module")
def manufacturing_fit(trial):
    return fit_manufacturing(trial, seed=17, **QUICK)


def test_manufacturing_mcmc_agrees_with_the_closed_form(manufacturing_fit):
    fit = manufacturing_fit
    assert fit.passed, fit.diagnostics
    exact = fit.exact()
    draws = fit.release_probability().transpose("chain", "draw", "construct").to_numpy()
    for c, row in enumerate(exact.itertuples(index=False)):
        assert agrees(draws[..., c], row.mean)
        assert agrees(draws[..., c] < row.median, 0.5, floor=5e-3)
        assert agrees(draws[..., c] < row.lower, 0.05, floor=5e-3)


def test_lot_counts_by_hand(trial):
    lots = trial.tables["manufacturing"]
    counts = lot_counts(trial, ("A", "B", "C")).set_index("construct")
    for construct in "ABC":
        mine = lots[lots["construct"] == construct]
        assert counts.loc[construct, "lots"] == len(mine)
        assert counts.loc[construct, "released"] == mine["released"].sum()
    early = trial.at_cutoff(60)
    counts = lot_counts(early, ("A", "B", "C"))
    enrolled = set(early.patients["patient_id"])
    mine = lots[lots["patient_id"].isin(enrolled)]
    later = (mine["released"] & (mine["release_study_day"] > 60)).sum()
    assert counts["awaiting"].sum() == later
    assert counts["lots"].sum() == len(mine) - later


# --- survival -----------------------------------------------------------------------------


def _survival_trial(time, event, construct=None, *, first_infusion=0, cutoff=10_000):
    k = len(time)
    construct = construct if construct is not None else ["A"] * k
    ids = [f"P{i:04d}" for i in range(k)]
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "construct": construct,
            "phase": 1,
            "infused": True,
            "first_infusion_day": first_infusion,
        }
    )
    survival = pd.DataFrame(
        {
            "patient_id": ids,
            "pfs_days": time,
            "pfs_event": event,
            "os_days": time,
            "os_event": event,
        }
    )
    return fake_trial(patients, tables={"survival": survival}, cutoff=cutoff)


@pytest.fixture(scope="module")
def weibull_sample():
    rng = np.random.default_rng(31)
    latent = 200.0 * rng.weibull(1.5, 400)
    censor = rng.uniform(0, 600, 400)
    return np.minimum(latent, censor).round(1) + 0.1, latent <= censor


def test_weibull_recovers_known_parameters_and_the_maximum_likelihood(weibull_sample):
    from lifelines import WeibullFitter

    time, event = weibull_sample
    fit = fit_survival(_survival_trial(time, event), "pfs", by_construct=False, seed=5, **QUICK)
    assert fit.passed, fit.diagnostics
    shape = fit.posterior["shape"].to_numpy()
    scale = fit.posterior["scale"].to_numpy()[..., 0]
    for draws, truth in ((shape, 1.5), (scale, 200.0)):
        assert np.quantile(draws, 0.005) < truth < np.quantile(draws, 0.995)
    mle = WeibullFitter().fit(time, event)
    assert abs(shape.mean() - mle.rho_) < 0.3 * shape.std()
    assert abs(scale.mean() - mle.lambda_) < 0.3 * scale.std()
    median = fit.median().to_numpy()[..., 0]
    np.testing.assert_allclose(median, scale * np.log(2) ** (1 / shape))


def test_exponential_median_agrees_with_quadrature(weibull_sample):
    time, event = weibull_sample
    time, event = time[:40], event[:40]
    fit = fit_survival(
        _survival_trial(time, event), "os", distribution="exponential", by_construct=False,
        seed=6, **QUICK,
    )  # fmt: skip
    assert fit.passed, fit.diagnostics
    m, s = PROTOCOL.priors.survival_log_scale
    d, total = event.sum(), time.sum()

    def log_post(u):
        return stats.norm.logpdf(u, m, s) - d * u - total * np.exp(-u)

    top = integrate.quad(lambda u: np.exp(log_post(u)), 0, 12, points=[np.log(total / d)])[0]
    mean_scale = (
        integrate.quad(lambda u: np.exp(u + log_post(u)), 0, 12, points=[np.log(total / d)])[0]
        / top
    )
    median = fit.median().to_numpy()[..., 0]
    assert agrees(median, mean_scale * np.log(2), floor=0.5)


def test_kaplan_meier_by_hand():
    data = SurvivalData(
        construct=np.zeros(5, dtype=np.int64),
        time=np.array([2.0, 3.0, 3.0, 5.0, 8.0]),
        event=np.array([True, True, False, True, False]),
        patient_ids=("a", "b", "c", "d", "e"),
    )
    table = kaplan_meier(data, ("A",)).set_index("construct")
    # S(2) = 4/5, S(3) = 4/5 x 3/4 = 0.6, S(5) = 0.6 x 1/2 = 0.3: the median is 5
    assert table.loc["A", "median"] == 5.0
    assert table.loc["all", "events"] == 3
    assert np.isnan(table.loc["A", "s6"])


def test_survival_is_censored_at_the_cut_off():
    trial = _survival_trial([300.0, 50.0, 80.0], [True, True, False], first_infusion=20, cutoff=120)
    data = SurvivalData.from_trial(trial, "pfs", ("A",), phase=None)
    np.testing.assert_array_equal(data.time, [100.0, 50.0, 80.0])
    np.testing.assert_array_equal(data.event, [False, True, False])


def test_survival_fit_of_the_example_cut_beside_kaplan_meier(trial):
    fit = fit_survival(trial, "os", seed=19, cores=2)
    assert fit.passed, fit.diagnostics
    estimates = fit.estimates().set_index("construct")
    km = fit.kaplan_meier().set_index("construct")
    assert list(estimates.index) == ["A", "B", "C"]
    assert list(km.index) == ["A", "B", "C", "all"]
    assert km.loc["all", "patients"] == len(fit.data.time)
    for construct in "ABC":
        assert estimates.loc[construct, "median_days_lower"] < km.loc[construct, "median"]
        assert km.loc[construct, "median"] < estimates.loc[construct, "median_days_upper"]
    assert len(fit.plot().axes) == 3
