"""Dose-toxicity models in PyMC against the exact quadrature engines of dartnk.adaptive,
and the laws of the hierarchical models (shrinkage, EXNEX)."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from _mcmc import PROTOCOL, QUICK, agrees, dlt_patients, fake_trial
from scipy import special

from dartnk.adaptive import BLRM, CRM
from dartnk.analyses import blrm_prior, example_data, load_trial
from dartnk.models import blrm, crm, fit_crm, fit_toxicity

pytestmark = pytest.mark.slow

DOSES = PROTOCOL.doses
LABELS = PROTOCOL.dose_labels
TRIAL_PRIOR = dict(reference_dose=3e8, prior_mean=(-0.85, 0.0), prior_sd=(2.0, 1.0))
OTHER = dict(
    doses=(1.0, 2.0, 4.0, 8.0, 12.0, 16.0),
    reference_dose=1.0,
    prior_mean=(-1.4, 0.5),
    prior_sd=(1.0, 0.7),
    prior_corr=-0.3,
)
NAN = np.nan

BLRM_CASES = {
    "complete": (dict(doses=DOSES, **TRIAL_PRIOR), [1] * 3 + [2] * 3 + [3] * 3,
                 [0, 0, 0, 0, 1, 0, 1, 1, 0], None, None),
    "tite": (dict(doses=DOSES, **TRIAL_PRIOR), [1] * 3 + [2] * 3 + [3] * 3,
             [0, 0, 0, 0, 0, 1, 0, 0, 0], [NAN] * 6 + [5.0, 14.0, 27.0], 28.0),
    "correlated-prior": (OTHER, [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3,
                         [0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0], None, None),
}  # fmt: skip


def _exact_blrm(options, level, dlt, followup, window):
    design = BLRM(
        options["doses"],
        options["reference_dose"],
        prior_mean=options["prior_mean"],
        prior_sd=options["prior_sd"],
        prior_corr=options.get("prior_corr", 0.0),
        window=window,
    )
    return design.fit(level, dlt, followup)


def _draws(fit, construct=0):
    """ptox draws (chain, draw, dose) of one construct."""
    return fit.ptox().isel(construct=construct).transpose("chain", "draw", "dose").to_numpy()


@pytest.fixture(scope="module", params=list(BLRM_CASES), ids=list(BLRM_CASES))
def blrm_pair(request):
    options, level, dlt, followup, window = BLRM_CASES[request.param]
    fit = blrm(level, dlt, followup=followup, window=window, seed=11, **options, **QUICK)
    return fit, _exact_blrm(options, level, dlt, followup, window)


@pytest.mark.parametrize("column", ["prob_under", "prob_target", "prob_over", "ptox_mean"])
def test_blrm_agrees_with_the_quadrature_engine(blrm_pair, column):
    fit, exact = blrm_pair
    assert fit.passed, fit.diagnostics
    low, high = fit.intervals
    draws = _draws(fit)
    functionals = {
        "prob_under": draws < low,
        "prob_target": (draws >= low) & (draws < high),
        "prob_over": draws >= high,
        "ptox_mean": draws,
    }
    values = functionals[column]
    table = fit.interval_probabilities()
    for d in range(draws.shape[-1]):
        assert table[column].iloc[d] == pytest.approx(values[..., d].mean())
        assert agrees(values[..., d], getattr(exact, column)[d]), (column, d)


def test_blrm_median_agrees_with_the_quadrature_engine(blrm_pair):
    fit, exact = blrm_pair
    table = fit.interval_probabilities()
    draws = _draws(fit)
    for d in range(draws.shape[-1]):
        spread = np.quantile(draws[..., d], [0.4, 0.6])
        assert spread[0] <= exact.ptox_median[d] <= spread[1]
        assert table["ptox_median"].iloc[d] == pytest.approx(np.median(draws[..., d]))


def test_blrm_probability_of_exceeding_any_rate_agrees_with_the_quadrature_engine(blrm_pair):
    fit, exact = blrm_pair
    draws = _draws(fit)
    for threshold in (0.1, 0.25, 0.5):
        table = fit.prob_tox_exceeds(threshold)
        expected = exact.prob_exceeds(threshold)
        for d in range(draws.shape[-1]):
            assert agrees(draws[..., d] > threshold, expected[d]), (threshold, d)
            assert table["prob"].iloc[d] == pytest.approx((draws[..., d] > threshold).mean())


def test_blrm_interval_probabilities_have_the_columns_of_the_design_fit(blrm_pair):
    fit, exact = blrm_pair
    table = fit.interval_probabilities()
    design_columns = set(exact.summary().columns)
    for column in ("prob_under", "prob_target", "prob_over", "ptox_mean", "ptox_median"):
        assert column in table.columns and column in design_columns
    assert list(table["dose"]) == list(fit.dose_labels)


CRM_CASES = {
    "empiric": (dict(model="empiric"), [0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 0, 1, 1, 0],
                None, None),
    "logistic": (dict(model="logistic", intercept=3.0), [0, 0, 0, 1, 1, 1, 2, 2, 2],
                 [0, 0, 0, 0, 0, 1, 1, 0, 0], None, None),
    "tite-empiric": (dict(model="empiric"), [0, 0, 0, 1, 1, 1, 2, 2, 2],
                     [0, 0, 0, 0, 0, 1, 0, 0, 0], [NAN] * 6 + [3.0, 12.0, 20.0], 28.0),
}  # fmt: skip
SKELETON = (0.05, 0.12, 0.20, 0.30, 0.40)


@pytest.fixture(scope="module", params=list(CRM_CASES), ids=list(CRM_CASES))
def crm_pair(request):
    options, level, dlt, followup, window = CRM_CASES[request.param]
    fit = crm(level, dlt, skeleton=SKELETON, followup=followup, window=window, seed=5,
              **options, **QUICK)  # fmt: skip
    design = CRM(SKELETON, 0.3, window=window, **options)
    return fit, design.fit(level, dlt, followup)


def test_crm_agrees_with_the_quadrature_engine(crm_pair):
    fit, exact = crm_pair
    assert fit.passed, fit.diagnostics
    beta = fit.posterior["beta"].to_numpy()
    assert agrees(beta, exact.beta_mean)
    assert agrees((beta - exact.beta_mean) ** 2, exact.beta_var, floor=5e-3)
    draws = _draws(fit)
    for d in range(draws.shape[-1]):
        assert agrees(draws[..., d], exact.ptox_mean[d])
    estimates = fit.estimates()
    assert fit.beta_mean == pytest.approx(beta.mean())
    working = CRM(SKELETON, 0.3, model=fit.model, intercept=fit.intercept)
    np.testing.assert_allclose(estimates["ptox_plugin"], working.ptox(beta.mean()))


# --- hierarchical models: shrinkage and EXNEX ------------------------------------------------

RICH = {
    "A": [("DL1", 6, 0), ("DL2", 6, 0), ("DL3", 6, 1)],
    "B": [("DL1", 6, 1), ("DL2", 6, 3), ("DL3", 3, 2)],
    "C": [("DL1", 6, 0), ("DL2", 6, 1), ("DL3", 6, 2)],
}


def _protocol_blrm(**options):
    priors = PROTOCOL.priors
    return BLRM(DOSES, priors.reference_dose, prior_mean=priors.blrm_mean,
                prior_sd=priors.blrm_sd, prior_corr=priors.blrm_corr, **options)  # fmt: skip


def _arm_arrays(cells):
    level = [PROTOCOL.dose_index(label) for label, n, _ in cells for _ in range(n)]
    dlt = [int(i < y) for _, n, y in cells for i in range(n)]
    return level, dlt


@pytest.fixture(scope="session")
def rich_trial():
    return fake_trial(dlt_patients(RICH))


def _prior(**changes):
    """The protocol's BLRM prior with some settings changed."""
    return replace(blrm_prior(PROTOCOL), **changes)


def _hierarchical(trial, kind, **prior):
    return fit_toxicity(trial, kind, prior=_prior(**prior), seed=3, **QUICK)


TAU_SCALES = ((1e-3, 1e-3), (0.25, 0.125), (2.0, 0.5))


@pytest.fixture(scope="session")
def by_tau_scale(rich_trial):
    return {
        scale: _hierarchical(rich_trial, "exchangeable", tau_scale=scale) for scale in TAU_SCALES
    }


def test_exchangeable_model_with_no_spread_is_the_pooled_fit(by_tau_scale):
    fit = by_tau_scale[TAU_SCALES[0]]
    assert fit.passed, fit.diagnostics
    pooled = [cell for cells in RICH.values() for cell in cells]
    exact = _protocol_blrm().fit(*_arm_arrays(pooled))
    for c in range(3):
        draws = _draws(fit, c)
        for d in range(len(LABELS)):
            assert agrees(draws[..., d], exact.ptox_mean[d], floor=5e-3), (c, d)
            assert agrees(draws[..., d] >= 0.33, exact.prob_over[d], floor=5e-3), (c, d)


def test_exchangeable_model_moves_from_pooled_to_independent_as_tau_grows(by_tau_scale):
    independent = np.array(
        [_protocol_blrm().fit(*_arm_arrays(cells)).ptox_mean for cells in RICH.values()]
    )
    distance, spread = [], []
    for scale in TAU_SCALES:
        fit = by_tau_scale[scale]
        assert fit.passed, (scale, fit.diagnostics)
        means = fit.ptox().mean(dim=("chain", "draw")).to_numpy()
        distance.append(np.abs(means - independent)[:, 1:4].max())
        spread.append(np.ptp(means[:, 3]))
    assert distance[0] > distance[1] > distance[2]
    assert spread[0] < 0.01 < spread[1] < spread[2]
    assert distance[2] < distance[0] / 4


@pytest.fixture(scope="session")
def exnex_rare(rich_trial):
    return _hierarchical(rich_trial, "exnex", weight=0.01)


def test_exnex_with_a_small_prior_weight_is_the_independent_fit(exnex_rare):
    fit = exnex_rare
    assert fit.passed, fit.diagnostics
    assert (fit.prob_exchangeable() < 0.1).all()
    table = fit.interval_probabilities()
    for c, cells in enumerate(RICH.values()):
        exact = _protocol_blrm().fit(*_arm_arrays(cells))
        draws = _draws(fit, c)
        rows = table[table["construct"] == fit.constructs[c]]
        for d in range(len(LABELS)):
            assert agrees(draws[..., d], exact.ptox_mean[d], floor=0.01), (c, d)
            assert rows["prob_over"].iloc[d] == pytest.approx((draws[..., d] >= 0.33).mean())


def test_exnex_gives_the_conflicting_construct_the_lowest_probability_of_exchangeability():
    conflict = {
        "A": [("DL1", 6, 0), ("DL2", 6, 1), ("DL3", 6, 1)],
        "B": [("DL1", 6, 3), ("DL2", 3, 2)],
        "C": [("DL1", 6, 0), ("DL2", 6, 1), ("DL3", 6, 2)],
    }
    fit = fit_toxicity(fake_trial(dlt_patients(conflict)), "exnex", seed=4, **QUICK)
    assert fit.passed, fit.diagnostics
    prob = fit.prob_exchangeable()
    assert prob["B"] < min(prob["A"], prob["C"])
    labels = fit.posterior["exchangeable"].mean(dim=("chain", "draw")).to_pandas()
    for construct in "ABC":
        assert labels[construct] == pytest.approx(prob[construct], abs=0.03)


def _exnex_one_construct_by_quadrature(cells, weight):
    """P(p_d >= 0.33) and E p_d for one construct under the EXNEX prior
    w BVN-mixture(m, S + diag(tau^2)), tau_k ~ HalfNormal(scale_k), + (1 - w) BVN(m, S),
    on a (log_alpha, log_beta) grid, the tau mixture by Gauss-Legendre on [0, 6 scale]."""
    from scipy import stats

    priors = PROTOCOL.priors
    m, sd, scale = np.array(priors.blrm_mean), np.array(priors.blrm_sd), priors.exnex_tau_scale
    a = np.linspace(m[0] - 9 * sd[0], m[0] + 9 * sd[0], 721)
    b = np.linspace(m[1] - 7 * sd[1], m[1] + 7 * sd[1], 561)
    ga, gb = np.meshgrid(a, b, indexing="ij")
    nodes, weights = np.polynomial.legendre.leggauss(40)

    def mixed(k, v):
        t = 3 * scale[k] * (nodes + 1)
        w = 3 * scale[k] * weights * stats.halfnorm.pdf(t, scale=scale[k])
        var = sd[k] ** 2 + t**2
        return (w * stats.norm.pdf(v[..., None], m[k], np.sqrt(var))).sum(axis=-1)

    ex = mixed(0, ga) * mixed(1, gb)
    nex = stats.norm.pdf(ga, m[0], sd[0]) * stats.norm.pdf(gb, m[1], sd[1])
    prior = weight * ex + (1 - weight) * nex
    x = np.log(np.asarray(DOSES) / priors.reference_dose)
    eta = ga[..., None] + np.exp(gb)[..., None] * x
    p = special.expit(eta)
    level, dlt = _arm_arrays(cells)
    log_lik = np.zeros(ga.shape)
    for d, y in zip(level, dlt, strict=True):
        e = eta[..., d]
        log_lik -= np.logaddexp(0.0, -e) if y == 1 else np.logaddexp(0.0, e)
    post = prior * np.exp(log_lik - log_lik.max())
    post /= post.sum()
    return (post[..., None] * p).sum(axis=(0, 1)), (post[..., None] * (p >= 0.33)).sum(axis=(0, 1))


def test_exnex_of_one_construct_agrees_with_quadrature_of_its_mixture_prior():
    cells = [("DL1", 3, 0), ("DL2", 6, 1), ("DL3", 6, 3)]
    fit = fit_toxicity(
        fake_trial(dlt_patients({"A": cells})), "exnex", constructs=("A",),
        prior=_prior(weight=0.5), seed=6, **QUICK,
    )  # fmt: skip
    assert fit.passed, fit.diagnostics
    mean, over = _exnex_one_construct_by_quadrature(cells, 0.5)
    draws = _draws(fit)
    for d in range(len(LABELS)):
        assert agrees(draws[..., d], mean[d], floor=4e-3), d
        assert agrees(draws[..., d] >= 0.33, over[d], floor=4e-3), d


def test_exnex_weight_of_zero_or_one_names_the_model_to_use(rich_trial):
    with pytest.raises(ValueError, match="hierarchical='independent'"):
        fit_toxicity(rich_trial, "exnex", prior=_prior(weight=0.0), draws=10, tune=10)
    with pytest.raises(ValueError, match="hierarchical='exchangeable'"):
        fit_toxicity(rich_trial, "exnex", prior=_prior(weight=1.0), draws=10, tune=10)


# --- the example data cut ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def example_fit():
    return fit_toxicity(load_trial(example_data()), "exnex", seed=2024, cores=2)


def test_exnex_fit_of_the_example_cut_passes_its_gates_with_labelled_dims(example_fit):
    fit = example_fit
    assert fit.passed, fit.diagnostics
    ptox = fit.ptox()
    assert ptox.dims == ("chain", "draw", "construct", "dose")
    assert list(ptox["construct"].values) == ["A", "B", "C"]
    assert list(ptox["dose"].values) == list(LABELS)
    assert ptox.sizes["chain"] == PROTOCOL.sampling.chains
    assert ptox.sizes["draw"] == PROTOCOL.sampling.draws
    for group in fit.idata.groups():
        attrs = fit.idata[group].attrs
        assert attrs["protocol_hash"] == PROTOCOL.content_hash
        assert attrs["seed"] == 2024 and attrs["model"] == "BLRM (exnex)"
    assert "prior_predictive" in fit.idata.groups()
    assert "ptox[A, DL2]" not in fit.summary().index
    assert "theta[A, log_alpha]" in fit.summary().index


def test_example_fit_uses_pending_patients_with_their_weights(example_fit):
    counts = example_fit.counts
    trial = load_trial(example_data())
    pending = (trial.patients["dlt_status"] == "pending").sum()
    assert counts["pending"].sum() == pending > 0


def test_prior_predictive_dlts_follow_the_prior_rates(example_fit):
    predictive = example_fit.idata["prior_predictive"]["dlt"]
    treated = example_fit.counts["n"] + example_fit.counts["pending"]
    treated = treated.to_numpy().reshape(3, 5)
    dlt = predictive.transpose("chain", "draw", "construct", "dose").to_numpy()
    assert (dlt <= treated).all() and (dlt >= 0).all()
    prior_rate = example_fit.prior["ptox"].mean(dim=("chain", "draw")).to_numpy()
    seen = treated > 0
    draws = dlt.shape[0] * dlt.shape[1]
    se = np.sqrt(treated * prior_rate * (1 - prior_rate) + treated**2 * 0.05) / np.sqrt(draws)
    expected = treated * prior_rate
    assert (np.abs(dlt.mean(axis=(0, 1)) - expected)[seen] < 5 * se[seen]).all()


def test_plot_has_a_panel_per_construct(example_fit):
    figure = example_fit.plot()
    assert len(figure.axes) == 3
    assert [ax.get_title() for ax in figure.axes] == ["A", "B", "C"]
    assert "BLRM (EXNEX)" in figure.get_suptitle()
    assert len(example_fit.plot_intervals().axes) == 3


def test_fit_crm_of_one_arm_matches_the_design_on_the_same_patients():
    trial = load_trial(example_data())
    fit = fit_crm(trial, "B", seed=8, cores=2)
    assert fit.passed, fit.diagnostics
    arm = trial.escalation_data("B")
    settings = PROTOCOL.phase1.crm
    design = CRM(settings.skeleton, PROTOCOL.toxicity.target, prior_var=settings.prior_var,
                 window=PROTOCOL.dlt_window)  # fmt: skip
    exact = design.fit(arm.level, arm.dlt, arm.followup)
    assert agrees(fit.posterior["beta"].to_numpy(), exact.beta_mean)
    assert pd.Series(fit.counts["pending"]).sum() == np.isfinite(arm.followup).sum()
