"""The whole Phase 1/2 simulated: the calendar walk against exact enumeration, common random
numbers, results independent of chunks and workers, laws of selection, TITE and the
expansion, results files, the scenario library."""

import numpy as np
import pytest
import xarray as xr

from dartnk.adaptive import ThreePlusThree
from dartnk.analyses import build_design, default_protocol, default_scenario, simulate_trials
from dartnk.analyses.errors import InputError
from dartnk.analyses.scenario import ScenarioError, scenario_from_dict
from dartnk.analyses.simulation_io import read_results, write_results
from dartnk.analyses.simulation_metrics import METRICS
from dartnk.analyses.simulation_scenarios import resolve_scenarios, scenario_library

PROTOCOL = default_protocol()
LABELS = PROTOCOL.dose_labels
CURVES = {
    "A": [0.05, 0.10, 0.20, 0.35, 0.50],
    "B": [0.02, 0.05, 0.08, 0.12, 0.15],
    "C": [0.30, 0.45, 0.60, 0.70, 0.80],
}


def _row(values):
    return dict(zip(LABELS, values, strict=True))


def _scenario(name, edit):
    data = default_scenario().to_dict()
    data["name"] = name
    edit(data)
    return scenario_from_dict(data)


def _no_losses(data):
    data["follow_up"]["dropout_probability"] = 0.0
    data["manufacturing"]["release_probability"] = {c: 1.0 for c in "ABC"}
    data["toxicity"]["dlt_probability"] = {c: _row(v) for c, v in CURVES.items()}


@pytest.fixture(scope="session")
def exact_run():
    trials = 4000
    scenario = _scenario("no-losses", _no_losses)
    return trials, simulate_trials(
        PROTOCOL, designs=["3+3"], scenarios=[scenario], n_trials=trials, seed=5
    )


@pytest.mark.parametrize("construct", list(CURVES))
@pytest.mark.parametrize("dose", range(5))
def test_calendar_three_plus_three_agrees_with_exact_oc_within_4_se(exact_run, construct, dose):
    # Every patient evaluable: the DLT outcomes of an arm are independent Bernoulli draws,
    # whatever the calendar, so each arm's MTD has the 3+3's exact distribution.
    trials, ds = exact_run
    exact = ThreePlusThree(5, start=1).exact_oc(CURVES[construct])
    simulated = float(ds["prob_select_dose"].sel(construct=construct, dose=LABELS[dose]).item())
    se = np.sqrt(exact.prob_mtd[dose] * (1 - exact.prob_mtd[dose]) / trials)
    assert abs(simulated - exact.prob_mtd[dose]) <= 4 * se + 1e-12


@pytest.mark.parametrize("construct", list(CURVES))
def test_calendar_three_plus_three_no_mtd_within_4_se(exact_run, construct):
    trials, ds = exact_run
    exact = ThreePlusThree(5, start=1).exact_oc(CURVES[construct])
    simulated = float(ds["prob_no_mtd"].sel(construct=construct).item())
    se = np.sqrt(exact.prob_no_mtd * (1 - exact.prob_no_mtd) / trials)
    assert abs(simulated - exact.prob_no_mtd) <= 4 * se + 1e-12


def test_a_design_compared_with_itself_differs_by_exactly_zero():
    designs = {"3+3": build_design(PROTOCOL, "3+3"), "twin": ThreePlusThree(5, start=1)}
    ds = simulate_trials(PROTOCOL, designs=designs, scenarios=["mtd-at-dl2"], n_trials=1200, seed=9)
    for metric in METRICS:
        pair = {"design": "twin", "versus": "3+3"}
        assert np.all(ds[f"{metric.name}_diff"].sel(**pair).to_numpy() == 0.0), metric.name
        assert np.all(ds[f"{metric.name}_diff_se"].sel(**pair).to_numpy() == 0.0), metric.name
        np.testing.assert_array_equal(
            ds[metric.name].sel(design="twin").to_numpy(),
            ds[metric.name].sel(design="3+3").to_numpy(),
        )


def test_paired_se_is_smaller_than_unpaired_for_related_designs():
    ds = simulate_trials(
        PROTOCOL, designs=["BOIN", "CRM"], scenarios=["mtd-at-dl3"], n_trials=1000, seed=4
    )
    paired = float(ds["mean_total_n_diff_se"].sel(design="CRM", versus="BOIN").item())
    unpaired = float(np.hypot(*ds["mean_total_n_se"].sel(scenario="mtd-at-dl3").to_numpy()))
    assert 0 < paired < unpaired


def _data_vars(ds):
    return {name: ds[name].to_numpy() for name in ds.data_vars}


@pytest.fixture(scope="session")
def reference_run():
    return simulate_trials(
        PROTOCOL, designs=["3+3", "BOIN"], scenarios=["default"], n_trials=2500, seed=21
    )


def test_results_identical_for_chunks_of_1000_and_2000(reference_run):
    other = simulate_trials(
        PROTOCOL,
        designs=["3+3", "BOIN"],
        scenarios=["default"],
        n_trials=2500,
        seed=21,
        chunk_trials=1000,
    )
    assert other.attrs["content_hash"] == reference_run.attrs["content_hash"]


@pytest.mark.slow
def test_results_identical_for_chunks_of_1000_and_7000():
    runs = [
        simulate_trials(
            PROTOCOL,
            designs=["3+3"],
            scenarios=["mtd-at-dl2"],
            n_trials=7500,
            seed=3,
            chunk_trials=size,
        )
        for size in (1000, 7000)
    ]
    assert runs[0].attrs["content_hash"] == runs[1].attrs["content_hash"]


@pytest.mark.slow
def test_results_identical_for_one_and_two_workers(reference_run):
    runs = [
        simulate_trials(
            PROTOCOL,
            designs=["3+3", "BOIN"],
            scenarios=["default"],
            n_trials=2500,
            seed=21,
            chunk_trials=1000,
            workers=workers,
        )
        for workers in (1, 2)
    ]
    assert runs[0].attrs["content_hash"] == runs[1].attrs["content_hash"]
    assert runs[0].attrs["content_hash"] == reference_run.attrs["content_hash"]


def _worker_environment() -> tuple[str | None, str | None]:
    import os

    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")


@pytest.mark.slow
def test_local_workers_run_with_one_thread_and_glibcs_own_trim_threshold():
    from dask.distributed import Client

    from dartnk.analyses.simulation import local_cluster

    with local_cluster(1) as cluster, Client(cluster) as client:
        environments = list(client.run(_worker_environment).values())
    assert environments == [(None, "1")]


def test_trials_do_not_depend_on_the_number_of_trials():
    kept = [
        simulate_trials(
            PROTOCOL,
            designs=["3+3"],
            scenarios=["default"],
            n_trials=n,
            seed=8,
            keep_trials=True,
        )
        for n in (1000, 1400)
    ]
    for name in ("trial_selected", "trial_total_n", "trial_duration_months"):
        np.testing.assert_array_equal(
            kept[0][name].to_numpy(), kept[1][name].isel(trial=slice(0, 1000)).to_numpy()
        )


def _advantage(delta):
    def edit(data):
        for construct in "ABC":
            data["toxicity"]["dlt_probability"][construct] = _row([0.02, 0.05, 0.12, 0.30, 0.45])
            data["response"]["probability"][construct] = _row([0.05, 0.10, 0.15, 0.20, 0.25])
            data["kinetics"]["log10_cmax"][construct] = _row([2.7, 3.0, 3.4, 3.8, 4.0])
            data["manufacturing"]["release_probability"][construct] = 0.9
        data["response"]["probability"]["A"] = _row(
            [0.05 + delta, 0.10 + delta, 0.15 + delta, 0.20 + delta, 0.25 + delta]
        )
        data["kinetics"]["log10_cmax"]["A"] = _row(
            [v + 2 * delta for v in (2.7, 3.0, 3.4, 3.8, 4.0)]
        )

    return _scenario(f"advantage-{round(100 * delta)}", edit)


def test_the_true_best_construct_is_selected_more_often_as_its_advantage_grows():
    scenarios = [_advantage(delta) for delta in (0.0, 0.1, 0.2, 0.3)]
    ds = simulate_trials(PROTOCOL, designs=["3+3"], scenarios=scenarios, n_trials=1000, seed=12)
    chosen = ds["prob_select_construct"].sel(design="3+3", selection="A").to_numpy()
    se = ds["prob_select_construct_se"].sel(design="3+3", selection="A").to_numpy()
    assert np.all(np.diff(chosen) > 0), chosen
    assert chosen[-1] - chosen[0] > 4 * np.hypot(se[-1], se[0])
    correct = ds["prob_correct_selection"].sel(design="3+3").to_numpy()
    np.testing.assert_allclose(correct[1:], chosen[1:])


def test_a_tite_design_shortens_the_trial_when_accrual_is_faster_than_the_window():
    ds = simulate_trials(
        PROTOCOL,
        designs=["BOIN", "TITE-BOIN"],
        scenarios=["fast-accrual"],
        n_trials=400,
        seed=6,
    )
    pair = {"design": "TITE-BOIN", "versus": "BOIN", "scenario": "fast-accrual"}
    shorter = float(ds["mean_duration_months_diff"].sel(**pair))
    se = float(ds["mean_duration_months_diff_se"].sel(**pair))
    assert shorter < -4 * se < 0


def _expansion_truth(orr):
    def edit(data):
        for construct in "ABC":
            data["response"]["probability"][construct] = dict.fromkeys(LABELS, orr)

    return _scenario(f"orr-{round(100 * orr)}", edit)


def test_the_expansion_goes_when_the_response_rate_is_high_and_stops_for_futility_when_low():
    ds = simulate_trials(
        PROTOCOL,
        designs=["3+3"],
        scenarios=[_expansion_truth(0.02), _expansion_truth(0.6)],
        n_trials=600,
        seed=2,
    )
    outcome = ds["prob_expansion_outcome"].sel(design="3+3")
    started = 1 - outcome.sel(expansion_outcome="not started")
    low = outcome.sel(scenario="orr-2")
    high = outcome.sel(scenario="orr-60")
    assert float(low.sel(expansion_outcome="go")) == 0.0
    futility = float(low.sel(expansion_outcome="stopped for futility"))
    assert futility > 0.7 * float(started.sel(scenario="orr-2"))
    assert float(high.sel(expansion_outcome="stopped for futility")) < 0.05
    assert float(high.sel(expansion_outcome="go")) > 0.7 * float(started.sel(scenario="orr-60"))
    n2 = ds["mean_phase2_n"].sel(design="3+3")
    assert float(n2.sel(scenario="orr-2")) < float(n2.sel(scenario="orr-60"))


def test_probabilities_are_coherent(reference_run):
    ds = reference_run
    np.testing.assert_allclose(ds["prob_select_construct"].sum("selection"), 1.0)
    np.testing.assert_allclose(ds["prob_expansion_outcome"].sum("expansion_outcome"), 1.0)
    total = ds["prob_select_dose"].sum("dose") + ds["prob_no_mtd"]
    np.testing.assert_allclose(total, 1.0)
    np.testing.assert_allclose(ds["prob_stop_rule"].sum("stop_rule"), 1.0)
    none = ds["prob_select_construct"].sel(selection="none")
    np.testing.assert_allclose(none, ds["prob_no_clear_winner"] + ds["prob_no_candidate"])
    go = ds["prob_expansion_outcome"].sel(expansion_outcome="go")
    np.testing.assert_allclose(go, ds["prob_phase2_go"])


def test_results_round_trip_through_netcdf_and_tampering_is_detected(reference_run, tmp_path):
    path = write_results(reference_run, tmp_path / "results.nc")
    back = read_results(path)
    assert back.attrs["content_hash"] == reference_run.attrs["content_hash"]
    xr.testing.assert_identical(back["mean_total_n"], reference_run["mean_total_n"])
    changed = back.copy(deep=True)
    changed["mean_total_n"][0, 0] += 1.0
    changed.to_netcdf(tmp_path / "changed.nc", engine="h5netcdf")
    with pytest.raises(InputError, match="content hash"):
        read_results(tmp_path / "changed.nc")


def test_the_manifest_holds_seed_versions_scenarios_and_protocol(reference_run):
    import json

    manifest = json.loads(reference_run.attrs["manifest"])
    assert manifest["seed"] == 21 and manifest["n_trials"] == 2500
    assert manifest["protocol_hash"] == PROTOCOL.content_hash
    assert set(manifest["scenarios"]) == {"default"}
    assert "numpy" in manifest["versions"]
    assert manifest["designs"]["3+3"].startswith("ThreePlusThree")


def test_kept_trials_agree_with_the_streamed_means():
    ds = simulate_trials(
        PROTOCOL, designs=["BOIN"], scenarios=["default"], n_trials=600, seed=3, keep_trials=True
    )
    np.testing.assert_allclose(ds["trial_total_n"].mean("trial"), ds["mean_total_n"], rtol=1e-12)
    selected = ds["trial_selected"].sel(design="BOIN", scenario="default").to_numpy()
    share = np.mean(selected == 0)
    assert share == pytest.approx(
        float(ds["prob_select_construct"].sel(design="BOIN", selection="A").item())
    )


def test_the_library_has_at_least_eight_scenarios_that_fit_the_protocol():
    library = scenario_library()
    assert len(library) >= 8
    for name in (
        "mtd-at-dl1",
        "mtd-at-dl4",
        "all-safe",
        "all-too-toxic",
        "equal-toxicity-different-efficacy",
        "one-clearly-best",
        "constructs-alike",
        "late-onset",
        "fast-accrual",
    ):
        assert name in library
        library[name].check(PROTOCOL)


def test_a_bad_scenario_file_names_file_key_value_and_expectation(tmp_path):
    text = tmp_path / "bad.yaml"
    source = (
        scenario_library()["default"]
        .to_yaml()
        .replace("screened_per_month: 4.5", "screened_per_month: -2")
    )
    text.write_text(source)
    with pytest.raises(ScenarioError) as error:
        resolve_scenarios([str(text)], PROTOCOL)
    message = str(error.value)
    assert "bad.yaml" in message and "accrual.screened_per_month = -2" in message
    assert "greater than 0" in message


def test_an_unknown_scenario_name_lists_the_library():
    with pytest.raises(InputError, match="neither a scenario of the library"):
        resolve_scenarios(["no-such-scenario"], PROTOCOL)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_trials": 0}, "n_trials"),
        ({"draws": 3}, "draws"),
        ({"seed": -1}, "seed"),
        ({"workers": 2, "scheduler": "tcp://x:1"}, "either workers"),
        ({"designs": ["3+3", "3+3"]}, "twice"),
        ({"designs": ["nonsense"]}, "not one of"),
    ],
)
def test_bad_run_settings_are_refused(kwargs, message):
    arguments = {"designs": ["3+3"], "scenarios": ["default"], "n_trials": 10, "seed": 1}
    with pytest.raises(InputError, match=message):
        simulate_trials(PROTOCOL, **{**arguments, **kwargs})


def test_an_antigen_correlation_that_is_not_a_correlation_matrix_is_named():
    data = default_scenario().to_dict()
    data["antigen_correlation"] = {"DLL3/CD56": 0.95, "DLL3/GD2": 0.95, "CD56/GD2": -0.95}
    with pytest.raises(ScenarioError, match="positive definite"):
        scenario_from_dict(data).check(PROTOCOL)
    data["antigen_correlation"] = {"DLL3/HER2": 0.3}
    with pytest.raises(ScenarioError, match=r"antigen_correlation\.DLL3/HER2"):
        scenario_from_dict(data).check(PROTOCOL)
