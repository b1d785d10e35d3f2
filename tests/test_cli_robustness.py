"""The command line on odd input and failures: nothing half-written, exit 2 with one line
per problem, short error lists, --debug, valid data that is not an error, a light start."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dartnk.analyses.cli import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder``: file bytes, None for a folder."""
    return {
        str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes()
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture()
def example(tmp_path):
    folder = tmp_path / "cut"
    assert _run("example-data", folder).exit_code == 0
    return folder


def test_overwrite_onto_a_folder_named_like_a_table_changes_nothing(tmp_path):
    folder = tmp_path / "cut"
    assert _run("example-data", folder, "--seed", 5).exit_code == 0
    (folder / "pk.csv").unlink()
    (folder / "pk.csv").mkdir()
    (folder / "pk.csv" / "keep.txt").write_text("mine")
    before = _snapshot(folder)
    result = _run("example-data", folder, "--overwrite")
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"error: {folder / 'pk.csv'}: is a folder; expected a table file or nothing"
    )
    assert _snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut"]


def test_a_move_failing_midway_is_rolled_back(tmp_path, monkeypatch):
    import dartnk.analyses._files as files

    folder = tmp_path / "cut"
    assert _run("example-data", folder, "--seed", 5).exit_code == 0
    before = _snapshot(folder)
    real = os.replace
    moves = []

    def failing(source, target):
        source, target = Path(source), Path(target)
        if target.parent == folder and source.parent != folder:
            moves.append(target.name)
            if len(moves) == 4 and ".replaced" not in source.parts:
                raise OSError(28, "No space left on device", str(target))
        real(source, target)

    monkeypatch.setattr(files.os, "replace", failing)
    result = _run("example-data", folder, "--overwrite")
    assert result.exit_code == 2, result.output
    assert "the folder is left as it was" in result.output
    assert _snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut"]


def test_a_new_folder_is_removed_again_when_a_move_fails(tmp_path, monkeypatch):
    import dartnk.analyses._files as files

    real = os.replace

    def failing(source, target):
        if Path(target).name == "pk.csv":
            raise OSError(5, "Input/output error", str(target))
        real(source, target)

    monkeypatch.setattr(files.os, "replace", failing)
    assert _run("example-data", tmp_path / "new").exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_switching_format_removes_the_other_tables_in_the_same_step(tmp_path):
    folder = tmp_path / "cut"
    assert _run("example-data", folder, "--format", "parquet").exit_code == 0
    assert _run("example-data", folder, "--overwrite").exit_code == 0
    assert sorted(p.suffix for p in folder.iterdir()) == [".csv"] * 7


def _set(path: Path, row: int, column: str, value: str) -> None:
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    rows[row - 1][column] = value
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize(
    ("table", "column", "value", "expected"),
    [
        ("patients", "first_infusion_day", "100000000000000000000000", "an integer >= 0"),
        ("adverse_events", "grade", "1e308", "an integer 1 to 5"),
    ],
)
def test_integer_too_large_exits_2_naming_the_cell(example, table, column, value, expected):
    _set(example / f"{table}.csv", 2, column, value)
    result = _run("validate", example)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {table} row 2 (patient ")
    assert f"{column} = '{value}': expected {expected}" in lines[0]
    assert lines[0].endswith("this one is too large (at most 9223372036854775807)")


BINARY = bytes(range(256)) * 4


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (BINARY, "is a binary file, not text"),
        ("name: caf\xe9\n".encode("latin-1"), "is not UTF-8 text (byte 0xe9 at position 9)"),
        (b"name: [x\n", "not valid YAML (expected ',' or ']'"),
    ],
    ids=["binary", "latin-1", "broken-yaml"],
)
@pytest.mark.parametrize("kind", ["protocol", "scenario"])
def test_protocol_or_scenario_file_unreadable_exits_2_in_one_line(tmp_path, content, words, kind):
    path = tmp_path / f"{kind}.yaml"
    path.write_bytes(content)
    if kind == "protocol":
        result = _run("protocol", "--protocol", path)
    else:
        result = _run("example-data", tmp_path / "cut", "--scenario", path)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"error: {path}: {words}")
    assert result.output.rstrip().endswith(f"expected a {kind} YAML file (UTF-8 text)")
    assert not (tmp_path / "cut").exists()


@pytest.mark.parametrize(
    ("args", "limit"),
    [
        (("expansion-design", "--simon-n-max", 100_000), 1000),
        (("expansion-design", "--n-max", 100_000), 500),
        (("expansion-design", "--first-look", 100_000), 500),
        (("expansion-design", "--look-every", 100_000), 500),
        (("expansion-design", "--toxicity-min-n", 100_000), 500),
        (("expansion", ".", "--toxicity-min-n", 100_000), 500),
        (("decision-table", "--max-n", 100_000), 30),
        (("pathways", "--cohorts", 100_000), 4),
    ],
)
def test_size_arguments_beyond_their_bound_are_refused_at_once(args, limit):
    result = _run(*args)
    assert result.exit_code == 2
    assert f"Invalid value for '{args[-2]}'" in result.output
    assert str(limit) in result.output.splitlines()[-1]


def test_cli_bound_of_the_simon_search_is_the_library_bound():
    from dartnk.adaptive.simon import SIMON_N_MAX_LIMIT
    from dartnk.analyses import cli

    assert cli.SIMON_N_MAX_LIMIT == SIMON_N_MAX_LIMIT


def test_simon_search_at_its_bound_runs():
    result = _run("expansion-design", "--simon-n-max", 1000)
    assert result.exit_code == 0, result.output
    assert "Simon optimal" in result.output


@pytest.mark.parametrize(
    ("content", "first"),
    [
        (b"", "patients.csv is empty"),
        (None, "the table has no data rows, only a header"),
        (BINARY, "patients.csv is a binary file, not text"),
        (";", "patients.csv has no comma in its header but 11 semicolons"),
        ("\t", "patients.csv has no comma in its header but 11 tabs"),
    ],
    ids=["empty", "header-only", "binary", "semicolon", "tab"],
)
def test_one_bad_patients_file_gives_one_line(example, content, first):
    path = example / "patients.csv"
    text = path.read_text()
    if content is None:
        path.write_text(text.splitlines()[0] + "\n")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(text.replace(",", content))
    result = _run("validate", example)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: patients: {first}")


def _many_bad_grades(folder: Path, count: int) -> None:
    path = folder / "adverse_events.csv"
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows[:count]:
        row["grade"] = "9"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_more_than_20_problems_show_20_and_the_count_of_the_rest(example):
    _many_bad_grades(example, 30)
    result = _run("validate", example)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 21
    assert all(": grade = 9: expected an integer 1 to 5" in line for line in lines[:20])
    assert lines[20] == "error: ... and 10 more problems (rerun with --all-errors to see every one)"


@pytest.mark.parametrize("command", ["validate", "recommend", "pathways", "expansion"])
def test_all_errors_shows_every_problem(example, command):
    _many_bad_grades(example, 30)
    result = _run(command, example, "--all-errors")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 30
    assert all(": grade = 9: expected an integer 1 to 5" in line for line in lines)


def _broken(*args, **kwargs):
    raise RuntimeError("boom")


def test_debug_prints_the_traceback_of_an_internal_error(example, monkeypatch):
    import dartnk.analyses.trial as trial

    monkeypatch.setattr(trial, "load_trial", _broken)
    result = _run("--debug", "validate", example)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.output
    assert 'raise RuntimeError("boom")' in result.output
    assert result.output.rstrip().endswith("RuntimeError: boom")
    assert "rerun with --debug" not in result.output


def test_without_debug_the_next_run_is_one_line_again(example, monkeypatch):
    import dartnk.analyses.trial as trial

    monkeypatch.setattr(trial, "load_trial", _broken)
    assert _run("--debug", "validate", example).exit_code == 1
    result = _run("validate", example)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_debug_in_a_real_process_prints_the_traceback(example):
    code = (
        "import sys, dartnk.analyses.trial as t\n"
        "def broken(*a, **k): raise RuntimeError('boom')\n"
        "t.load_trial = broken\n"
        "from dartnk.cli import main\n"
        f"sys.argv = ['dartnk', '--debug', 'validate', {str(example)!r}]\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.rstrip().endswith("RuntimeError: boom")


def test_cutoff_after_the_last_recorded_day_warns_naming_both_days(example):
    result = _run("validate", example, "--cutoff", 5000)
    assert result.exit_code == 0, result.output
    assert (
        "warning: cut-off study day 5000 is after the last study day recorded in the data "
        "(330): every patient counts as followed up to day 5000 without further events"
    ) in result.output
    assert "is after the last study day" not in _run("validate", example, "--cutoff", 330).output


def test_recommend_warns_too(example):
    result = _run("recommend", example, "--cutoff", 400, "--brief", "--design", "3+3")
    assert result.exit_code == 0, result.output
    assert "cut-off study day 400 is after the last study day recorded in the data (330)" in (
        result.output
    )


def test_validate_shows_the_phases_apart(tmp_path):
    folder = tmp_path / "cut"
    assert _run("example-data", folder, "--seed", 3, "--phase2").exit_code == 0
    result = _run("validate", folder)
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "construct" in line)
    assert header.split()[1] == "phase"
    rows = [line.split() for line in result.output.splitlines() if line.startswith("│")]
    phases = [row[1] for row in rows if row[1] in ("1", "2")]
    assert phases.count("1") == 15 and phases.count("2") >= 1
    assert phases == sorted(phases)


def _modules_after(argv: list[str]) -> set[str]:
    code = (
        "import atexit, sys\n"
        "from dartnk.cli import main\n"
        f"sys.argv = {argv!r}\n"
        "atexit.register(lambda: sys.stderr.write("
        "'modules: ' + ' '.join(m for m in sys.modules if '.' not in m)))\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Usage: dartnk" in done.stdout or done.stdout.startswith("dartnk ")
    assert done.stderr.startswith("modules: ")
    modules = set(done.stderr.removeprefix("modules: ").split())
    assert {"sys", "typer", "dartnk"} <= modules
    return modules


def test_the_console_script_ends_with_the_command_status_after_its_exit_handlers(tmp_path):
    code = (
        "import atexit, sys\n"
        "from dartnk.cli import main\n"
        f"sys.argv = ['dartnk', 'validate', {str(tmp_path / 'none')!r}]\n"
        "atexit.register(lambda: print('exit handler ran', file=sys.stderr))\n"
        "sys.stdout.write('buffered, no newline')\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stdout.startswith("buffered, no newline")
    assert "none" in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.rstrip().endswith("exit handler ran")


@pytest.mark.parametrize(
    "argv", [["dartnk", "--version"], ["dartnk", "--help"], ["dartnk", "validate", "--help"]]
)
def test_start_up_imports_none_of_the_heavy_libraries(argv):
    """pydantic is not in the list: typer builds a command's options with it."""
    heavy = {"numpy", "pandas", "scipy", "pandera", "pymc", "pytensor", "arviz", "yaml"}
    assert not _modules_after(argv) & heavy
