"""Response, kinetics, manufacturing and survival models against exact computations
(quadrature, closed forms, maximum likelihood, Kaplan-Meier by hand) and their laws."""

import numpy as np
import pandas as pd
import pytest
from _mcmc import PROTOCOL, QUICK, agrees, fake_trial
from scipy import integrate, special, stats

from dartnk.analyses import example_data, load_trial, lot_data, survival_data
from dartnk.models import (
    SurvivalData,
    beta_binomial_posterior,
    fit_kinetics,
    fit_manufacturing,
    fit_response,
    fit_survival,
    kaplan_meier,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
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
    observed = {"DL2": 1 / 6, "DL3": 3 / 6}
    mean = fit.orr().mean(dim=("chain", "draw", "construct"))
    for label, rate in observed.items():
        assert abs(float(mean.sel(dose=label)) - rate) < 0.1, label
    estimates = fit.estimates().set_index(["construct", "dose"])
    cell = fit.orr().sel(construct="B", dose="DL3")
    assert estimates.loc[("B", "DL3"), "mean"] == pytest.approx(float(cell.mean()))
    assert estimates.loc[("B", "DL3"), "n"] == 6
    table = fit.prob_exceeds(0.35).set_index(["construct", "dose"])
    assert table.loc[("C", "DL1"), "prob"] == pytest.approx(
        float((fit.orr().sel(construct="C", dose="DL1") > 0.35).mean())
    )


# --- kinetics: censoring below the LLOQ ------------------------------------------------------

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
                low, high, value = auc, auc, cmax
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
                    "window_cmax": value,
                    "auc_copies_low": low,
                    "auc_copies_high": high,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def kinetics_pair():
    short = QUICK | dict(draws=500, tune=500)
    censored = fit_kinetics(fake_trial(_pk_patients(False)), seed=9, **short)
    substituted = fit_kinetics(fake_trial(_pk_patients(True)), seed=9, **short)
    return censored, substituted


def test_left_censoring_lowers_the_estimate_below_substitution(kinetics_pair):
    censored, substituted = kinetics_pair
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


def test_kinetics_fit_of_the_example_cut(trial):
    fit = fit_kinetics(trial, seed=13, cores=2)
    assert fit.passed, fit.diagnostics
    mean = fit.mean_log10()
    assert mean.dims == ("chain", "draw", "endpoint", "construct", "dose")
    assert list(mean["endpoint"].values) == ["log10_cmax", "log10_auc"]
    modelled = np.isfinite(trial.patients["auc_copies_high"]) & trial.patients["infused"]
    assert fit.counts["patients"].sum() == modelled.sum()
    estimates = fit.estimates()
    assert len(estimates) == 2 * 3 * 5
    assert (estimates["lower"] < estimates["upper"]).all()
    row = estimates.set_index(["endpoint", "construct", "dose"]).loc[("log10_auc", "B", "DL3")]
    cell = mean.sel(endpoint="log10_auc", construct="B", dose="DL3")
    assert row["mean"] == pytest.approx(float(cell.mean()))
    assert "log10_auc_interval" in fit.idata["prior_predictive"]
    assert len(fit.plot().axes) == 2 * 3


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


@pytest.fixture(scope="session")
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


def _lots_trial(cutoff):
    patients = pd.DataFrame(
        {"patient_id": ["P1", "P2", "P3", "P4"], "enrolled_day": [0, 20, 25, 30]}
    )
    lots = pd.DataFrame(
        {
            "lot_id": ["L1", "L2", "L3", "L4"],
            "construct": ["A", "A", "A", "A"],
            "patient_id": ["P1", "P2", "P3", "P4"],
            "released": pd.array([True, False, True, pd.NA], dtype="boolean"),
            "release_study_day": [12.0, np.nan, 40.0, np.nan],
        }
    )
    enrolled = patients[patients["enrolled_day"] <= cutoff]
    return fake_trial(enrolled, tables={"manufacturing": lots}, cutoff=cutoff)


@pytest.mark.parametrize(
    ("cutoff", "lots", "released", "awaiting"),
    [
        # day 11: only P1 enrolled, its lot released on day 12
        (11, 0, 0, 1),
        # day 31: L1 released after 12 days; P2's failure is known from day 20 + 12 = 32
        (31, 1, 1, 3),
        (32, 2, 1, 2),
        # day 45: L3 released (15 days); L4 has no outcome recorded and stays awaiting
        (45, 3, 2, 1),
    ],
)
def test_lot_counts_by_hand(cutoff, lots, released, awaiting):
    counts = lot_data(_lots_trial(cutoff), constructs=("A",)).counts().iloc[0]
    assert (counts["lots"], counts["released"], counts["awaiting"]) == (lots, released, awaiting)


def test_a_failure_before_any_release_counts_at_once():
    trial = _lots_trial(40)
    only_failure = trial.tables["manufacturing"].iloc[[1]]
    trial = fake_trial(trial.patients, tables={"manufacturing": only_failure}, cutoff=21)
    assert lot_data(trial, constructs=("A",)).counts().iloc[0].to_dict() == {
        "construct": "A", "lots": 1, "released": 0, "awaiting": 0,
    }  # fmt: skip


def test_lot_counts_of_the_example_cut_leave_out_lots_still_in_manufacture(trial):
    early = lot_data(trial.at_cutoff(70)).counts().set_index("construct")
    # B-004 (two failed lots) and B-005 (released on day 81) were enrolled on day 69
    assert early.loc["B"].to_dict() == {"lots": 3, "released": 3, "awaiting": 3}
    final = lot_data(trial).counts().set_index("construct")
    assert final["awaiting"].sum() == 0
    assert final["lots"].sum() == len(trial.tables["manufacturing"])


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


@pytest.fixture(scope="session")
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
    assert abs(np.median(median) - mle.median_survival_time_) < 0.3 * median.std()
    six = fit.survival(6 * 30.4375).to_numpy().ravel()
    mle_six = float(mle.survival_function_at_times(6 * 30.4375).iloc[0])
    assert abs(six.mean() - mle_six) < 0.3 * six.std()


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


def test_kaplan_meier_landmark_and_its_greenwood_interval_by_hand():
    # events at 100 (5 at risk) and 150 (4 at risk, one censored at 150): S(182.6) = 0.6;
    # Greenwood: sum d / (n (n - d)) = 1/20 + 1/12; exponential ("log-log") interval
    data = SurvivalData(
        construct=np.zeros(5, dtype=np.int64),
        time=np.array([100.0, 150.0, 150.0, 200.0, 400.0]),
        event=np.array([True, True, False, True, False]),
        patient_ids=tuple("abcde"),
    )
    row = kaplan_meier(data, ("A",), prob=0.95).iloc[0]
    s, variance = 0.6, (1 / 20 + 1 / 12) / np.log(0.6) ** 2
    z = stats.norm.ppf(0.975)
    lower = np.exp(-np.exp(np.log(-np.log(s)) + z * np.sqrt(variance)))
    upper = np.exp(-np.exp(np.log(-np.log(s)) - z * np.sqrt(variance)))
    assert row["s6"] == pytest.approx(0.6)
    assert (row["s6_lower"], row["s6_upper"]) == (pytest.approx(lower), pytest.approx(upper))
    assert row["s12"] == pytest.approx(0.3)  # the event at 200 with 2 at risk
    assert row["median"] == 200.0


def test_kaplan_meier_is_zero_after_the_curve_reaches_zero():
    data = SurvivalData(
        construct=np.zeros(3, dtype=np.int64),
        time=np.array([30.0, 60.0, 90.0]),
        event=np.array([True, True, True]),
        patient_ids=("a", "b", "c"),
    )
    row = kaplan_meier(data, ("A",)).iloc[0]
    assert row["s6"] == 0.0 and row["s12"] == 0.0


def test_patients_without_a_survival_record_are_named():
    trial = _survival_trial([50.0, 80.0], [True, False])
    trial.patients.loc[len(trial.patients)] = ["P9999", "A", 1, True, 0]
    data = survival_data(trial, "os", constructs=("A",))
    assert data.missing == ("P9999",) and data.time.size == 2


def test_survival_is_censored_at_the_cut_off():
    trial = _survival_trial([300.0, 50.0, 80.0], [True, True, False], first_infusion=20, cutoff=120)
    data = survival_data(trial, "pfs", constructs=("A",))
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
    assert len(fit.plot().axes) == 2 * 3
