"""dartnk simulate and compare as a user meets them: files, exit codes, the report in a
browser, the forward simulation from a data cut."""

import json

import numpy as np
import pytest
from _browser import open_in_browser, require_chromium
from typer.testing import CliRunner

from dartnk.analyses import example_data, load_trial
from dartnk.analyses.cli import app
from dartnk.analyses.simulation_forward import simulate_forward
from dartnk.analyses.simulation_io import read_results
from dartnk.reports import read_manifest, section_digests

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sim")
    path = folder / "results.nc"
    outcome = _run(
        "simulate",
        "--designs",
        "3+3,boin",
        "--scenarios",
        "mtd-at-dl2",
        "--scenarios",
        "all-too-toxic",
        "--trials",
        "400",
        "--seed",
        "7",
        "-o",
        path,
    )
    assert outcome.exit_code == 0, outcome.output
    return path


def test_simulate_writes_results_with_the_designs_and_scenarios_asked_for(results):
    ds = read_results(results)
    assert list(ds["design"].to_numpy()) == ["3+3", "boin"]
    assert list(ds["scenario"].to_numpy()) == ["mtd-at-dl2", "all-too-toxic"]
    assert json.loads(ds.attrs["manifest"])["seed"] == 7
    assert int(ds["n_trials"].min()) == 400


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["html", "md"])
def test_compare_renders_the_same_bytes_twice(results, tmp_path, suffix):
    first = tmp_path / f"oc.{suffix}"
    assert _run("compare", results, "-o", first).exit_code == 0
    text = first.read_text(encoding="utf-8")
    assert _run("compare", results, "-o", first).exit_code == 0
    assert first.read_text(encoding="utf-8") == text
    ids = set(section_digests(text))
    for section in ("aims", "data-generating-mechanisms", "estimands", "methods", "performance"):
        assert section in ids
    assert "Morris" in text


@pytest.mark.slow
def test_compare_sections_follow_ademp_in_a_browser_and_load_nothing(results, tmp_path):
    require_chromium()
    page = tmp_path / "oc.html"
    assert _run("compare", results, "-o", page).exit_code == 0
    run = open_in_browser(page, workdir=tmp_path, screenshot=tmp_path / "oc.png")
    order = [
        run.dom.index(f'id="{anchor}"')
        for anchor in (
            "aims",
            "data-generating-mechanisms",
            "estimands",
            "methods",
            "performance",
            "manifest",
        )
    ]
    assert order == sorted(order)
    assert run.requested_urls == ()
    manifest = read_manifest(run.dom)
    assert manifest["seeds"] == {"root": 7}
    import hashlib

    assert manifest["inputs"] == {"results.nc": hashlib.sha256(results.read_bytes()).hexdigest()}
    content = read_results(results).attrs["content_hash"]
    assert manifest["settings"]["results_content_hash"] == content


def test_compare_writes_a_markdown_report(results, tmp_path):
    page = tmp_path / "oc.md"
    outcome = _run("compare", results, "-o", page)
    assert outcome.exit_code == 0, outcome.output
    assert "## 1 Aims" in page.read_text(encoding="utf-8") or "Aims" in page.read_text("utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("simulate", "--trials", "10", "-o", "out.txt"), "netCDF"),
        (("simulate", "--trials", "10"), "-o FILE.nc"),
        (("simulate", "--scenarios", "nope", "--trials", "5", "-o", "x.nc"), "library"),
        (("simulate", "--designs", "magic", "--trials", "5", "-o", "x.nc"), "not one of"),
        (
            ("simulate", "--workers", "2", "--scheduler", "tcp://h:1", "-o", "x.nc"),
            "either --workers",
        ),
        (("compare", "missing.nc", "-o", "oc.html"), "cannot read"),
        (("compare", "missing.nc", "-o", "oc.pdf"), "html or *.md"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    outcome = _run(*args)
    assert outcome.exit_code == 2, outcome.output
    assert message in outcome.output
    assert "Traceback" not in outcome.output
    assert not list(tmp_path.glob("*.nc"))


def test_compare_refuses_a_file_that_is_not_results(tmp_path):
    fake = tmp_path / "fake.nc"
    fake.write_text("not netcdf")
    outcome = _run("compare", fake, "-o", tmp_path / "oc.html")
    assert outcome.exit_code == 2 and "not a netCDF file" in outcome.output
    assert not (tmp_path / "oc.html").exists()


def test_simulate_from_a_data_cut_prints_the_if_we_continue_table(tmp_path):
    folder = tmp_path / "cut"
    assert _run("example-data", folder).exit_code == 0
    outcome = _run(
        "simulate",
        "--from",
        folder,
        "--designs",
        "3+3",
        "--scenarios",
        "default",
        "--trials",
        "200",
    )
    assert outcome.exit_code == 0, outcome.output
    assert "If the trial continues from study day" in outcome.output
    assert "remaining N" in outcome.output


@pytest.fixture(scope="session")
def forward():
    trial = load_trial(example_data())
    return trial, simulate_forward(
        trial, design="3+3", scenarios=["default", "mtd-at-dl3"], n_trials=300, seed=5
    )


def test_forward_selection_probabilities_sum_to_one_and_remaining_n_is_positive(forward):
    _, result = forward
    ds = result.dataset
    np.testing.assert_allclose(ds["prob_select_construct"].sum("selection"), 1.0)
    assert float(ds["mean_remaining_n"].min()) > 0
    assert float(ds["mean_remaining_months"].min()) > 0
    assert list(result.summary()["scenario"]) == ["default", "mtd-at-dl3"]


def test_forward_simulation_is_reproducible(forward):
    trial, result = forward
    again = simulate_forward(
        trial, design="3+3", scenarios=["default", "mtd-at-dl3"], n_trials=300, seed=5
    )
    np.testing.assert_array_equal(
        again.dataset["prob_select_construct"].to_numpy(),
        result.dataset["prob_select_construct"].to_numpy(),
    )


def test_forward_simulation_keeps_the_patients_of_the_cut(forward):
    # Arm A's 3+3 sits at DL4 with 1 DLT of 3 known and pending patients: continuing can
    # only add patients, and an arm that already stopped adds none.
    trial, result = forward
    known = len(trial.patients)
    assert known == 39
    assert float(result.dataset["mean_remaining_n"].sel(scenario="default")) < 80


def test_the_forward_interim_counts_the_lots_the_cut_shows(monkeypatch):
    """A cut patient's lot results enter the manufacturability posterior as the cut shows
    them, in place of simulated ones; a patient without one keeps simulated lots."""
    import dataclasses

    from dartnk.analyses import simulation_run

    captured = {}
    real = simulation_run.interim_data

    def spy(*args):
        captured.setdefault("args", args)
        return real(*args)

    monkeypatch.setattr(simulation_run, "interim_data", spy)
    simulate_forward(
        load_trial(example_data()), design="3+3", scenarios=["default"], n_trials=20, seed=2
    )
    *head, observed = captured["args"]
    patient = observed.lots >= 0
    shown = dataclasses.replace(observed, lots=np.where(patient, 2, -1))
    released = real(*head, dataclasses.replace(shown, released=np.where(patient, 2, 0)))
    failed = real(*head, dataclasses.replace(shown, released=np.zeros_like(observed.released)))
    a_released, b_released = released.manufacturability
    a_failed, b_failed = failed.manufacturability
    per_arm = 2 * patient.sum(axis=1)
    np.testing.assert_array_equal(a_released - a_failed, np.broadcast_to(per_arm, a_failed.shape))
    np.testing.assert_array_equal(a_released + b_released, a_failed + b_failed)
    untested = dataclasses.replace(observed, lots=np.where(patient, 0, -1))
    for kept, plain in zip(
        real(*head, untested).manufacturability, real(*head, None).manufacturability, strict=True
    ):
        np.testing.assert_array_equal(kept, plain)


def test_forward_simulation_refuses_a_cut_with_phase_2_patients():
    from dartnk.analyses import default_protocol, default_scenario, generate_trial

    tables = generate_trial(default_protocol(), default_scenario(), seed=3, include_phase2=True)
    trial = load_trial(tables)
    if (trial.patients["phase"] == 2).any():
        from dartnk.analyses.errors import InputError

        with pytest.raises(InputError, match="Phase 2"):
            simulate_forward(trial, design="3+3", scenarios=["default"], n_trials=10, seed=1)


@pytest.mark.slow
def test_the_readme_simulation_example_runs(capsys):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    exec(compile(next(b for b in blocks if "simulate_trials" in b), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "mean_patients_se" in printed and "none" in printed
