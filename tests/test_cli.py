"""The command line as a user meets it: exit codes, messages, nothing half-written."""

import csv

import pytest
from typer.testing import CliRunner

from dartnk import __version__
from dartnk.analyses import TABLES
from dartnk.analyses.cli import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture()
def example(tmp_path):
    folder = tmp_path / "cut"
    result = _run("example-data", folder)
    assert result.exit_code == 0, result.output
    return folder


def test_version():
    result = _run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"dartnk {__version__}"


def test_protocol_prints_yaml_and_hash():
    result = _run("protocol")
    assert result.exit_code == 0
    assert "target: 0.3" in result.output
    assert "# content hash: " in result.output


def test_bad_protocol_file_exits_2_naming_key_and_value(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: X\ntoxicity: {target: 1.5}\n")
    result = _run("protocol", "--protocol", bad)
    assert result.exit_code == 2
    assert f"{bad}: toxicity.target = 1.5" in result.output
    assert "Traceback" not in result.output


def test_example_data_writes_every_table(example):
    assert sorted(p.name for p in example.iterdir()) == sorted(f"{t}.csv" for t in TABLES)


def test_example_data_parquet(tmp_path):
    result = _run("example-data", tmp_path / "pq", "--format", "parquet")
    assert result.exit_code == 0
    assert sorted(p.suffix for p in (tmp_path / "pq").iterdir()) == [".parquet"] * len(TABLES)


def test_example_data_refuses_to_overwrite_and_writes_nothing(tmp_path):
    folder = tmp_path / "cut"
    folder.mkdir()
    (folder / "pk.csv").write_text("keep me")
    result = _run("example-data", folder)
    assert result.exit_code == 2
    assert "already holds pk.csv" in result.output
    assert [p.name for p in folder.iterdir()] == ["pk.csv"]
    assert (folder / "pk.csv").read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_example_data_overwrite(tmp_path):
    folder = tmp_path / "cut"
    folder.mkdir()
    (folder / "pk.csv").write_text("old")
    assert _run("example-data", folder, "--overwrite").exit_code == 0
    assert (folder / "pk.csv").read_text().startswith("patient_id")


def test_validate_prints_the_arm_dose_table(example):
    result = _run("validate", example)
    assert result.exit_code == 0, result.output
    for word in ("construct", "dose_level", "dlt", "pending", "responders", "DL4"):
        assert word in result.output


def _corrupt(path, row, column, value):
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    rows[row - 1][column] = value
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows[row - 1]["patient_id"]


def test_corrupted_folder_gives_one_line_per_problem(example):
    pid_grade = _corrupt(example / "adverse_events.csv", 2, "grade", "7")
    pid_construct = _corrupt(example / "patients.csv", 3, "construct", "Q")
    result = _run("validate", example)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert f"error: adverse_events row 2 (patient {pid_grade}): grade = 7" in result.output
    assert f"error: patients row 3 (patient {pid_construct}): construct = 'Q'" in result.output
    assert all(line.startswith("error: ") for line in lines)
    assert "Traceback" not in result.output


def test_missing_folder_exits_2(tmp_path):
    result = _run("validate", tmp_path / "absent")
    assert result.exit_code == 2
    assert "no such folder" in result.output


def test_bad_argument_exits_2(example):
    assert _run("validate", example, "--cutoff", "soon").exit_code == 2


def test_internal_error_exits_1_with_hint(example, monkeypatch):
    import dartnk.analyses.trial as trial

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(trial, "load_trial", broken)
    result = _run("validate", example)
    assert result.exit_code == 1
    assert "internal error: RuntimeError: boom (rerun with --debug" in result.output
    assert "Traceback" not in result.output


def test_demo_runs(tmp_path):
    """The demo on the example cut, with short chains (CI runs it at the protocol's
    settings from the wheel, and reproduces its report)."""
    import yaml
    from _mcmc import short_protocol_settings

    settings = short_protocol_settings()
    protocol = tmp_path / "short.yaml"
    protocol.write_text(yaml.safe_dump(settings), encoding="utf-8")
    report = tmp_path / "demo.html"
    result = _run("demo", "-o", str(report), "--protocol", str(protocol))
    assert result.exit_code == 0, result.output
    assert "Construct selection:" in result.output and "cut-off study day" in result.output
    assert report.is_file() and f"report: {report}" in result.output


def test_data_dictionary_in_docs_is_generated_from_the_schemas():
    from pathlib import Path

    from dartnk.analyses import data_dictionary_markdown

    docs = Path(__file__).resolve().parents[1] / "docs" / "data_dictionary.md"
    assert docs.read_text(encoding="utf-8") == data_dictionary_markdown()
