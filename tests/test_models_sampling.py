"""The one sampling entry: seeds spawned per chain, identical draws, provenance, the gates
and the retry of a run that diverged."""

import numpy as np
import pymc as pm
import pytest
from _mcmc import QUICK

from dartnk import __version__
from dartnk.analyses import example_data, load_trial
from dartnk.models import Gates, SamplingSettings, blrm, fit_manufacturing, sample, seed_plan

pytestmark = pytest.mark.slow

LEVEL, DLT = [1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 0]
SHORT = dict(draws=300, tune=300)


def _arm(**options):
    return blrm(LEVEL, DLT, doses=[5e7, 1e8, 3e8, 1e9, 2e9], reference_dose=3e8,
                prior_mean=(-0.85, 0.0), prior_sd=(2.0, 1.0), **options)  # fmt: skip


def _theta(fit):
    return fit.posterior["theta"].transpose("chain", "draw", "construct", "param").to_numpy()


def test_the_same_seed_gives_identical_draws_and_groups():
    first, second = _arm(seed=123, chains=2, **SHORT), _arm(seed=123, chains=2, **SHORT)
    np.testing.assert_array_equal(_theta(first), _theta(second))
    for group in ("prior", "prior_predictive"):
        for name, values in first.idata[group].data_vars.items():
            np.testing.assert_array_equal(values.to_numpy(), second.idata[group][name].to_numpy())
    assert not np.array_equal(_theta(first), _theta(_arm(seed=124, chains=2, **SHORT)))


def test_a_chain_does_not_depend_on_how_many_chains_run_nor_on_the_processes():
    two = _arm(seed=7, chains=2, cores=1, **SHORT)
    four = _arm(seed=7, chains=4, cores=2, **SHORT)
    np.testing.assert_array_equal(_theta(two), _theta(four)[:2])


def test_seed_plan_is_the_spawn_tree_of_the_root_seed():
    plan = seed_plan(2024)
    assert plan.entropy == 2024
    chains, other = np.random.SeedSequence(2024).spawn(2)
    prior, extra = other.spawn(2)
    assert (plan.chains.entropy, plan.chains.spawn_key) == (2024, chains.spawn_key) == (2024, (0,))
    assert plan.prior == int(prior.generate_state(1, np.uint32)[0])
    assert plan.extra.spawn_key == extra.spawn_key == (1, 1)
    generated = plan.chain_generator().spawn(4)[3].integers(2**30)
    assert generated == np.random.default_rng(chains.spawn(4)[3]).integers(2**30)
    fresh = seed_plan(None)
    assert isinstance(fresh.entropy, int) and fresh.entropy >= 0
    with pytest.raises(ValueError, match="expected a whole number"):
        seed_plan(-1)


def test_every_group_is_stamped_without_wall_clock_attributes():
    trial = load_trial(example_data())
    fit = fit_manufacturing(trial, seed=99, **SHORT, chains=2)
    for group in fit.idata.groups():
        attrs = fit.idata[group].attrs
        assert attrs["dartnk_version"] == __version__
        assert attrs["protocol_hash"] == trial.protocol.content_hash
        assert attrs["seed"] == 99
        assert attrs["sampler"] == "pymc NUTS"
        assert "created_at" not in attrs and "sampling_time" not in attrs
    assert {"posterior", "sample_stats", "prior", "prior_predictive"} <= set(fit.idata.groups())


def test_a_non_identified_model_fails_the_gates_and_names_its_parameters():
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 100.0)
        b = pm.Normal("b", 0.0, 100.0)
        pm.Normal("y", a + b, 1.0, observed=[0.5, 1.0, 1.5])
    fit = sample(model, settings=SamplingSettings(draws=100, tune=100, chains=2), seed=1,
                 gated=["a", "b"], prior_predictive=False)  # fmt: skip
    assert not fit.passed
    text = "\n".join(fit.diagnostics.failures)
    assert "a: " in text and "b: " in text
    assert "bulk ESS" in text
    assert "FAILED its gates" in repr(fit)
    summary = fit.diagnostics.summary().set_index("parameter")
    assert not summary.loc["a", "passed"]


def test_a_funnel_diverges_then_is_rerun_and_still_fails_its_gates():
    with pm.Model() as model:
        v = pm.Normal("v", 0.0, 3.0)
        pm.Normal("x", 0.0, pm.math.exp(v / 2.0), shape=9)
    base = dict(draws=300, tune=300, chains=2)
    once = sample(model, settings=SamplingSettings(**base, retry_target_accept=()), seed=2,
                  gated=["v"], prior_predictive=False)  # fmt: skip
    assert once.diagnostics.divergences > 0 and once.diagnostics.attempts == ()
    assert any("divergent transitions" in f for f in once.diagnostics.failures)
    retried = sample(model, settings=SamplingSettings(**base, retry_target_accept=(0.95,)),
                     seed=2, gated=["v"], prior_predictive=False)  # fmt: skip
    assert retried.diagnostics.attempts == ((0.9, once.diagnostics.divergences),)
    assert retried.idata["posterior"].attrs["target_accept"] == 0.95
    assert "rerun after" in repr(retried.diagnostics)
    assert not retried.passed


def test_single_chain_r_hat_is_undefined_and_fails():
    fit = _arm(seed=3, chains=1, **SHORT)
    assert not fit.passed
    assert any("only 1 chain" in f for f in fit.diagnostics.failures)


def test_gates_are_configurable_and_checked():
    lenient = _arm(seed=4, gates=Gates(max_rhat=1.1, min_ess_bulk=10), chains=2, **SHORT)
    assert lenient.passed
    with pytest.raises(ValueError, match="max_rhat"):
        Gates(max_rhat=0.9)
    with pytest.raises(ValueError, match="target_accept"):
        SamplingSettings(target_accept=1.2)


def test_no_progress_bar_under_tests():
    from dartnk.models._sampling import auto_progressbar

    assert auto_progressbar() is False


def test_summary_repr_and_html_come_from_one_table():
    fit = _arm(seed=5, **QUICK)
    table = fit.summary()
    assert list(table.index[:2]) == ["theta[arm, log_alpha]", "theta[arm, log_beta]"]
    assert {"mean", "sd", "ess_bulk", "ess_tail", "r_hat"} <= set(table.columns)
    assert "theta[arm, log_alpha]" in repr(fit)
    html = fit._repr_html_()
    assert "<table" in html and "theta[arm, log_alpha]" in html


def test_an_unknown_sampling_keyword_is_an_error():
    trial = load_trial(example_data())
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['draw'\]"):
        fit_manufacturing(trial, draw=100)
