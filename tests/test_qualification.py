"""Method qualification: the case file and its schema, the comparison, exit codes, the quick
run, the report's byte stability and its rendering in Chromium."""

import copy
import json
import struct
from pathlib import Path

import pytest
from _browser import open_in_browser, require_chromium
from typer.testing import CliRunner

from dartnk.analyses import InputError, load_cases, qualify
from dartnk.analyses.cli import app
from dartnk.analyses.qualification import compare
from dartnk.analyses.qualification_cases import Tolerance, default_case_path

runner = CliRunner()
README_METHODS = (
    "Modified 3+3",
    "CRM",
    "TITE-CRM",
    "CRM skeleton calibration",
    "BOIN",
    "TITE-BOIN",
    "BLRM",
    "Pending patients",
    "Decision tables",
    "Dose-transition pathways",
    "Predictive probability",
    "Simon two-stage",
    "Toxicity monitor",
    "Composite selection",
    "RECIST 1.1 best overall response",
    "Kaplan-Meier",
    "Beta-binomial lot release",
    "BLRM in PyMC",
    "CRM in PyMC",
    "Beta-binomial lot release in PyMC",
)


def _document():
    return json.loads(default_case_path().read_text(encoding="utf-8"))


def _write(tmp_path, document, name="cases.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _subset(document, ids):
    chosen = copy.deepcopy(document)
    chosen["cases"] = [c for c in chosen["cases"] if c["id"] in ids]
    return chosen


FAST_IDS = (
    "three-plus-three-exact-oc-scenario-1",
    "boin-published-boundaries-target-0.3",
    "predictive-published-lee-liu-example",
    "simon-published-optimal-p0-0.1-p1-0.3",
    "recist-confirmed-pr",
)


# ------------------------------------------------------------------ the case file


def test_the_shipped_case_file_loads_with_every_method():
    cases = load_cases()
    assert len(cases) >= 150
    assert cases.methods() == README_METHODS
    assert len(cases.sha256) == 64
    kinds = {cases.references[c.reference].kind for c in cases.cases}
    assert kinds == {"paper", "R package", "independent computation"}


def test_every_r_case_records_its_call_and_versions():
    cases = load_cases()
    from_r = [c for c in cases.cases if cases.references[c.reference].kind == "R package"]
    assert len(from_r) >= 50
    packages = {c.r_package.split()[0] for c in from_r}
    assert packages == {"BOIN", "dfcrm", "clinfun"}
    assert all(c.r_call and c.r_version for c in from_r)


def test_mcmc_cases_are_marked_and_carry_a_seed():
    cases = [c for c in load_cases().cases if c.mcmc]
    assert cases and all(c.check.startswith("mcmc_") for c in cases)
    assert all(isinstance(c.inputs["sampling"]["seed"], int) for c in cases)
    assert all(c.tolerance.mcse_multiple > 0 for c in cases)


def _break(document, change):
    broken = copy.deepcopy(document)
    change(broken["cases"][0])
    return broken


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("expected"), "field 'expected' is missing"),
        (lambda c: c.update(check="nothing"), "field 'check' is 'nothing', not one of"),
        (lambda c: c.update(reference="nobody-2020"), "field 'reference' is 'nobody-2020'"),
        (lambda c: c["inputs"].pop("true_tox"), "field 'inputs' lacks 'true_tox'"),
        (lambda c: c["expected"].update(ptox=1.0), "names 'ptox', which check"),
        (lambda c: c.update(tolerance={"absolute": -1}), "absolute is -1; expected a number"),
        (lambda c: c.update(tolerance={"abs": 1}), "unknown key(s) 'abs'"),
        (lambda c: c.update(colour="red"), "unknown field(s) 'colour'"),
        (lambda c: c.update(mcmc="yes"), "field 'mcmc' must be true or false"),
    ],
)
def test_a_bad_case_is_named_with_its_field(tmp_path, change, message):
    document = _break(_document(), change)
    first = document["cases"][0]["id"]
    with pytest.raises(InputError) as raised:
        load_cases(_write(tmp_path, document))
    text = str(raised.value)
    assert f"case {first!r}" in text
    assert message in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON at line 1"),
        ('{"schema": "other"}', "schema 'other' is not"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_an_unreadable_case_file_is_an_input_error(tmp_path, content, message):
    path = tmp_path / "cases.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError, match=message):
        load_cases(path)


def test_duplicate_ids_are_refused(tmp_path):
    document = _document()
    document["cases"].append(copy.deepcopy(document["cases"][0]))
    with pytest.raises(InputError, match="the id is used by an earlier case"):
        load_cases(_write(tmp_path, document))


# ------------------------------------------------------------------ the comparison


@pytest.mark.parametrize(
    ("expected", "obtained", "tolerance", "mcse", "agrees"),
    [
        (0.5, 0.5000001, Tolerance(absolute=1e-6), None, True),
        (0.5, 0.501, Tolerance(absolute=1e-6), None, False),
        (100.0, 100.5, Tolerance(relative=0.01), None, True),
        (0.2, 0.23, Tolerance(absolute=0.002, mcse_multiple=4), 0.01, True),
        (0.2, 0.25, Tolerance(absolute=0.002, mcse_multiple=4), 0.01, False),
        (3, 3, Tolerance(), None, True),
        (3, 4, Tolerance(), None, False),
        (None, float("nan"), Tolerance(), None, True),
        (None, 0, Tolerance(), None, False),
        ("escalate to DL2", "escalate to DL2", Tolerance(), None, True),
        ([1, None, 2], [1, None, 2], Tolerance(), None, True),
        ([1, 2], [1, 2, 3], Tolerance(absolute=1.0), None, False),
        (True, 1, Tolerance(), None, False),
        ({"a": [0.1, 0.2]}, {"a": [0.1, 0.2000001]}, Tolerance(absolute=1e-6), None, True),
    ],
)
def test_compare(expected, obtained, tolerance, mcse, agrees):
    problems = []
    compare(expected, obtained, tolerance, mcse, problems)
    assert (not problems) == agrees, problems


def test_compare_returns_the_largest_deviation():
    deviation = compare({"a": [0.1, 0.2], "b": 1.0}, {"a": [0.1, 0.25], "b": 1.01}, Tolerance(1))
    assert deviation == pytest.approx(0.05)


def test_a_subset_passes_through_the_api():
    result = qualify(only=FAST_IDS)
    assert result.counts["passed"] == len(FAST_IDS)
    assert result.passed
    summary = result.method_summary()
    assert summary["cases"].sum() == result.counts["cases"]
    assert summary["not_run"].sum() == result.counts["cases"] - len(FAST_IDS)


# ------------------------------------------------------------------ the command line


def test_a_wrong_expected_value_exits_1_and_names_the_case(tmp_path):
    document = _subset(_document(), FAST_IDS)
    case = next(c for c in document["cases"] if c["id"] == FAST_IDS[2])
    case["expected"]["predictive_probability"] = 0.6
    result = runner.invoke(app, ["qualify", "--quick", "--cases", str(_write(tmp_path, document))])
    assert result.exit_code == 1, result.output
    assert FAST_IDS[2] in result.stderr
    assert "predictive_probability: expected 0.6, got 0.5655589" in result.stderr
    assert "Traceback" not in result.output


def test_a_check_that_raises_fails_its_case(tmp_path):
    document = _subset(_document(), FAST_IDS[:1])
    document["cases"][0]["inputs"]["true_tox"] = [0.1, 1.5]
    result = runner.invoke(app, ["qualify", "--cases", str(_write(tmp_path, document))])
    assert result.exit_code == 1
    assert "three-plus-three-exact-oc-scenario-1: ValueError: true_tox" in result.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-o", "report.pdf"], "the report must end .html or .md"),
        (["-o", "missing-folder/report.html"], "does not exist"),
        (["--cases", "no-such-file.json"], "cannot read the case file"),
    ],
)
def test_bad_input_exits_2_with_one_message(tmp_path, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["qualify", "--quick", *arguments])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quick")
    outputs = {"html": folder / "q.html", "md": folder / "q.md", "json": folder / "q.json"}
    result = runner.invoke(
        app, ["qualify", "--quick", "-o", str(outputs["html"]), "--json", str(outputs["json"])]
    )
    assert result.exit_code == 0, result.output
    markdown = runner.invoke(app, ["qualify", "--quick", "-o", str(outputs["md"])])
    assert markdown.exit_code == 0, markdown.output
    return result, markdown, outputs


def test_the_quick_run_passes_and_leaves_out_mcmc(quick_run):
    result, _, outputs = quick_run
    data = json.loads(outputs["json"].read_text(encoding="utf-8"))
    assert data["counts"]["failed"] == 0
    assert data["counts"]["not_run"] == sum(c.mcmc for c in load_cases().cases)
    assert {c["status"] for c in data["cases"]} == {"pass", "not run"}
    assert data["case_file"]["sha256"] == load_cases().sha256
    assert "cases pass" in result.stdout


def test_the_report_names_cases_references_environment_and_hash(quick_run):
    _, _, outputs = quick_run
    html = outputs["html"].read_text(encoding="utf-8")
    markdown = outputs["md"].read_text(encoding="utf-8")
    for text in (html, markdown):
        assert load_cases().sha256 in text
        assert "get.boundary(target = 0.3, ncohort = 10, cohortsize = 3)" in text
        assert "tite-boin-yuan-2018-target-0p2-row-9-1-1-3-3-ES-0p77" in text
        for word in ("NumPy", "SciPy", "PyMC", "Platform", "CPU", "BOIN 2.7.2"):
            assert word in text


def test_the_report_is_byte_identical_on_rerun(quick_run, tmp_path):
    _, _, outputs = quick_run
    again = tmp_path / "again.html"
    result = runner.invoke(app, ["qualify", "--quick", "-o", str(again)])
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == outputs["html"].read_bytes()


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_chromium_renders_the_report_and_loads_nothing(quick_run, tmp_path):
    require_chromium()
    _, _, outputs = quick_run
    screenshot = tmp_path / "qualification.png"
    run = open_in_browser(outputs["html"], workdir=tmp_path, screenshot=screenshot)
    assert "Method qualification of dartnk" in run.dom
    assert 'id="method-tite-boin"' in run.dom
    assert run.requested_urls == ()
    assert "dartnk-manifest" in run.dom
    assert _png_size(screenshot) == (1280, 2000)


@pytest.mark.slow
def test_an_mcmc_case_agrees_within_monte_carlo_error():
    result = qualify(only=["mcmc-crm-empiric"])
    (case,) = [r for r in result.results if r.case.id == "mcmc-crm-empiric"]
    assert case.passed, case.message
    assert case.mcse["beta_mean"] > 0
