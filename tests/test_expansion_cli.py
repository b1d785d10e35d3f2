"""The expansion on the command line and its analyses-side workflow: design comparison from
the protocol, and the decision on a generated Phase 2 data cut."""

import dataclasses

import numpy as np
import pytest
from _reference import PUBLISHED
from pandas.testing import assert_frame_equal
from scipy.stats import beta, betabinom
from typer.testing import CliRunner

from dartnk.adaptive import SingleArmAction
from dartnk.analyses import InputError, default_protocol, load_trial
from dartnk.analyses.cli import app
from dartnk.analyses.expansion import (
    analyse_expansion,
    expansion_designs,
    predictive_design,
    toxicity_monitor,
)

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="session")
def expansion_cut(tmp_path_factory):
    folder = tmp_path_factory.mktemp("expansion") / "cut"
    result = _run("example-data", folder, "--seed", 13, "--phase2")
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="session")
def trial(expansion_cut):
    return load_trial(expansion_cut)


def _phase2(trial):
    return trial.patients[trial.patients["phase"] == 2]


def test_design_takes_every_number_from_the_protocol():
    e = default_protocol().expansion
    design = predictive_design(default_protocol())
    assert (design.p0, design.p1, design.n_max) == (e.p0, e.p1, e.n_max)
    assert design.prior == tuple(e.prior)
    assert (design.theta_t, design.theta_l) == (e.theta_t, e.theta_l)
    assert design.looks == tuple(range(e.first_look, e.n_max + 1, e.look_every))
    monitor = toxicity_monitor(default_protocol())
    assert (monitor.limit, monitor.threshold) == (e.toxicity_limit, e.toxicity_threshold)
    assert monitor.prior == tuple(e.toxicity_prior)


def test_comparison_holds_the_published_simon_designs():
    row = PUBLISHED["simon_two_stage"][0]
    result = expansion_designs(
        default_protocol(), alpha=row["alpha"], beta=row["beta"], p0=row["p0"], p1=row["p1"]
    )
    for kind, design in (("optimal", result.simon_optimal), ("minimax", result.simon_minimax)):
        expected = row[kind]
        assert (design.r1, design.n1, design.r, design.n) == tuple(
            expected[k] for k in ("r1", "n1", "r", "n")
        )
    table = result.operating_characteristics()
    assert set(table["design"]) == {"predictive probability", "Simon optimal", "Simon minimax"}
    assert list(table["label"]) == ["p0", "p1"] * 3


def test_expansion_design_prints_boundaries_and_simon_rules():
    row = PUBLISHED["simon_two_stage"][0]
    result = _run(
        "expansion-design", "--p0", row["p0"], "--p1", row["p1"],
        "--alpha", row["alpha"], "--beta", row["beta"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    optimal, minimax = row["optimal"], row["minimax"]
    rule = "stop if <= {r1}/{n1}; promising if >= {r_plus}/{n}"
    assert rule.format(**optimal, r_plus=optimal["r"] + 1) in result.output
    assert rule.format(**minimax, r_plus=minimax["r"] + 1) in result.output
    for words in ("futility_if_le", "ToxicityMonitor", "stop_if_ge", "prob_promising"):
        assert words in result.output


def test_expansion_design_boundary_matches_direct_pp():
    design = predictive_design(default_protocol())
    a, b = design.prior
    n = design.looks[0]
    m = design.n_max - n
    i = np.arange(m + 1)

    def pp(x):
        success = beta.sf(design.p0, a + x + i, b + design.n_max - x - i) > design.theta_t
        return float(np.sum(betabinom.pmf(i, m, a + x, b + n - x) * success))

    stop_below = max(x for x in range(n + 1) if pp(x) < design.theta_l)
    assert design.boundaries()["futility_if_le"].iloc[0] == stop_below


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--theta-t", "1.5"), "theta_t 1.5 is not a probability"),
        (("--p0", "0.4", "--p1", "0.3"), "must exceed p0"),
        (("--first-look", "30"), "first_look 30 exceeds n_max 20"),
    ],
)
def test_expansion_design_bad_input_exits_2(args, words):
    result = _run("expansion-design", *args)
    assert result.exit_code == 2
    assert words in result.output
    assert "Traceback" not in result.output


def test_expansion_design_search_option():
    result = _run("expansion-design", "--n-max", 30, "--search")
    assert result.exit_code == 0, result.output
    assert "Threshold search" in result.output


def test_analysis_counts_the_phase2_patients(trial):
    phase2 = _phase2(trial)
    evaluable = phase2[phase2["response_evaluable"]]
    n, x = len(evaluable), int(evaluable["responder"].sum())
    result = analyse_expansion(trial)
    assert (result.response_evaluable, result.responders) == (n, x)
    a, b = default_protocol().expansion.prior
    assert result.posterior_mean == pytest.approx((a + x) / (a + b + n))
    low, high = result.interval
    assert low == pytest.approx(beta.ppf(0.05, a + x, b + n - x))
    assert high == pytest.approx(beta.ppf(0.95, a + x, b + n - x))
    complete = phase2["dlt_status"].isin(["DLT", "no DLT"])
    assert result.dlt_evaluable == int(complete.sum())
    assert result.dlts == int((phase2["dlt_status"] == "DLT").sum())


def test_analysis_decision_at_the_final_look(trial):
    result = analyse_expansion(trial)
    design = predictive_design(default_protocol())
    assert result.response_evaluable == design.n_max
    a, b = design.prior
    n, x = result.response_evaluable, result.responders
    promising = beta.sf(design.p0, a + x, b + n - x) > design.theta_t
    expected = SingleArmAction.STOP_EFFICACY if promising else SingleArmAction.STOP_FUTILITY
    assert result.efficacy.action == expected
    assert list(result.looks["n"]) == list(design.looks)


def test_analysis_mid_expansion_reports_pp_and_pending(expansion_cut):
    trial = load_trial(expansion_cut, cutoff=950)
    result = analyse_expansion(trial)
    design = predictive_design(default_protocol())
    a, b = design.prior
    n, x = result.response_evaluable, result.responders
    m = design.n_max - n
    i = np.arange(m + 1)
    success = beta.sf(design.p0, a + x + i, b + design.n_max - x - i) > design.theta_t
    direct = float(np.sum(betabinom.pmf(i, m, a + x, b + n - x) * success))
    assert result.efficacy.probability == pytest.approx(direct)
    assert result.dlt_pending > 0
    assert any(rule == "pending DLT follow-up" for rule, _ in result.reasons)


def test_expansion_command_prints_the_decisions(expansion_cut):
    """The decisions (the survival model's output is tested on its own below)."""
    result = _run("expansion", expansion_cut, "--no-survival-model")
    assert result.exit_code == 0, result.output
    for words in (
        "Phase 2 expansion of construct",
        "ORR",
        "DLT rate",
        "toxicity monitoring",
        "final analysis",
        "Planned looks reached",
    ):
        assert words in result.output


def test_expansion_command_with_cutoff(expansion_cut):
    result = _run("expansion", expansion_cut, "--cutoff", 950, "--no-survival-model")
    assert result.exit_code == 0, result.output
    assert "cut-off study day 950" in result.output
    assert "between looks" in result.output


def test_expansion_command_without_phase2_says_so_and_exits_0(tmp_path):
    folder = tmp_path / "cut"
    assert _run("example-data", folder).exit_code == 0
    result = _run("expansion", folder)
    assert result.exit_code == 0, result.output
    assert "no Phase 2 patient enrolled by cut-off study day 330: the expansion has not " in (
        result.output
    )
    assert "error" not in result.output


def test_analysis_without_phase2_names_the_cut(tmp_path):
    folder = tmp_path / "cut"
    assert _run("example-data", folder).exit_code == 0
    with pytest.raises(InputError, match="no Phase 2 patient enrolled by cut-off study day 330"):
        analyse_expansion(load_trial(folder))


def test_phase2_on_two_dose_levels_is_refused(trial):
    patients = trial.patients.copy()
    first = patients.index[patients["phase"] == 2][0]
    patients.loc[first, "dose_level"] = "DL3"
    with pytest.raises(InputError, match="span several constructs or dose levels"):
        analyse_expansion(dataclasses.replace(trial, patients=patients))


def test_summary_has_one_row_per_rule(trial):
    table = analyse_expansion(trial).summary()
    assert list(table["endpoint"]) == ["ORR", "DLT rate"]
    assert {"posterior_mean", "lower_90%", "upper_90%", "probability", "action"} <= set(table)


def _km_by_hand(trial, endpoint):
    """Kaplan-Meier of the expanded construct at its dose, straight from the tables."""
    from lifelines import KaplanMeierFitter

    p = trial.patients
    phase2 = _phase2(trial).iloc[0]
    chosen = p[(p["construct"] == phase2["construct"]) & (p["dose_level"] == phase2["dose_level"])]
    chosen = chosen[chosen["infused"]]
    table = trial.tables["survival"].set_index("patient_id").loc[chosen["patient_id"]]
    follow = trial.cutoff - chosen["first_infusion_day"].astype(float).to_numpy()
    days = table[f"{endpoint}_days"].to_numpy(dtype=float)
    event = table[f"{endpoint}_event"].to_numpy(dtype=bool) & (days <= follow)
    return KaplanMeierFitter().fit(np.minimum(days, follow), event), len(chosen), event.sum()


@pytest.mark.parametrize("endpoint", ["pfs", "os"])
def test_survival_by_kaplan_meier_matches_lifelines_on_the_raw_tables(trial, endpoint):
    survival = analyse_expansion(trial).survival
    assert survival.fits == ()
    row = survival.kaplan_meier.set_index("endpoint").loc[endpoint]
    kmf, patients, events = _km_by_hand(trial, endpoint)
    assert (row["patients"], row["events"]) == (patients, events)
    assert row["median"] == kmf.median_survival_time_
    six = 6 * 30.4375
    assert row["s6"] == pytest.approx(float(kmf.survival_function_at_times(six).iloc[0]))


@pytest.mark.slow
def test_survival_model_beside_kaplan_meier_is_reproducible(trial):
    first = analyse_expansion(trial, survival_model=True, seed=11).survival
    second = analyse_expansion(trial, survival_model=True, seed=11).survival
    assert_frame_equal(first.summary(), second.summary())
    table = first.summary()
    assert list(table["method"]) == ["Kaplan-Meier", "Weibull (posterior)"] * 2
    assert all(fit.passed for fit in first.fits)
    for endpoint in ("PFS", "OS"):
        km, bayes = table[table["endpoint"] == endpoint].to_dict("records")
        assert bayes["median_lower"] < km["median_days"] < bayes["median_upper"]
        assert bayes["median_lower"] < bayes["median_days"] < bayes["median_upper"]


@pytest.mark.slow
def test_expansion_command_prints_survival_with_the_model(expansion_cut):
    result = _run("expansion", expansion_cut, "--seed", 5)
    assert result.exit_code == 0, result.output
    assert "PFS and OS of construct" in result.output and "seed 5" in result.output
    assert "Kaplan-Meier" in result.output and "Weibull (posterior)" in result.output
    quick = _run("expansion", expansion_cut, "--no-survival-model")
    assert quick.exit_code == 0, quick.output
    assert "Kaplan-Meier" in quick.output and "Weibull" not in quick.output


def test_the_command_says_prominently_when_a_stopping_rule_is_met(tmp_path):
    folder = tmp_path / "stopped"
    assert _run("example-data", folder, "--seed", 1, "--phase2").exit_code == 0
    result = _run("expansion", folder, "--no-survival-model")
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("STOPPING RULE MET: toxicity monitor: stop for toxicity at look 1")
    assert "Toxicity monitor looks reached" in result.output


def test_a_running_expansion_prints_no_stopping_banner(expansion_cut):
    result = _run("expansion", expansion_cut, "--no-survival-model")
    assert result.exit_code == 0, result.output
    assert ("STOPPING RULE MET" in result.output) == bool(
        analyse_expansion(load_trial(expansion_cut)).stopping
    )
