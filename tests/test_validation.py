"""Validation of the trial tables: every malformed input is reported with table, row,
patient, column, value and what was expected, all problems of a load together."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _handmade import NA, add_row, drop_rows, handmade, set_cell, with_changes

from dartnk.analyses import (
    TABLES,
    DataError,
    InputError,
    data_dictionary,
    data_dictionary_markdown,
    load_trial,
    validate_tables,
)


def _problems(data) -> list[str]:
    with pytest.raises(DataError) as caught:
        validate_tables(data)
    return caught.value.problems


def test_handmade_data_set_is_valid_and_clean():
    result = validate_tables(handmade())
    assert result.warnings == ()
    assert result.present == TABLES
    assert [len(result.tables[t]) for t in TABLES] == [7, 19, 6, 7, 10, 6, 6]


def _drop_column(data, table, column):
    data[table] = data[table].drop(columns=column)


def _drop_table(data, table):
    del data[table]


MALFORMED = [
    # column types, allowed values and ranges (pandera schemas)
    pytest.param(
        [(set_cell, "adverse_events", 2, "grade", 6)],
        "adverse_events row 2 (patient A-002): grade = 6: expected an integer 1 to 5",
        id="grade-out-of-range",
    ),
    pytest.param(
        [(set_cell, "adverse_events", 4, "grade", "three")],
        "adverse_events row 4 (patient B-001): grade = 'three': expected an integer 1 to 5",
        id="grade-not-a-number",
    ),
    pytest.param(
        [(set_cell, "adverse_events", 1, "grade", 2.5)],
        "adverse_events row 1 (patient A-001): grade = 2.5: expected an integer 1 to 5",
        id="grade-not-an-integer",
    ),
    pytest.param(
        [(set_cell, "adverse_events", 6, "category", "cardiac")],
        "adverse_events row 6 (patient C-002): category = 'cardiac': expected one of 'CRS', "
        "'ICANS', 'infusion reaction', 'cytopenia', 'infection', 'other'",
        id="ae-category-unknown",
    ),
    pytest.param(
        [(set_cell, "adverse_events", 5, "onset_day", -9)],
        "adverse_events row 5 (patient B-002): onset_day = -9: expected an integer >= -5",
        id="ae-onset-before-lymphodepletion",
    ),
    pytest.param(
        [(set_cell, "adverse_events", 3, "term", "   ")],
        "adverse_events row 3 (patient A-002): term is missing: expected non-empty text",
        id="ae-term-blank",
    ),
    pytest.param(
        [(set_cell, "adverse_events", 1, "is_dlt", "maybe")],
        "adverse_events row 1 (patient A-001): is_dlt = 'maybe': expected true or false",
        id="ae-is-dlt-not-boolean",
    ),
    pytest.param(
        [(set_cell, "patients", 2, "patient_id", "A-001")],
        "patients row 2 (patient A-001): patient_id = 'A-001': expected a unique value; the "
        "same is in row 1",
        id="patient-id-duplicated",
    ),
    pytest.param(
        [(set_cell, "patients", 4, "construct", "D")],
        "patients row 4 (patient B-001): construct = 'D': expected one of 'A', 'B', 'C'",
        id="construct-not-in-protocol",
    ),
    pytest.param(
        [(set_cell, "patients", 5, "dose_level", "DL9")],
        "patients row 5 (patient B-002): dose_level = 'DL9': expected one of 'DL-1', 'DL1', "
        "'DL2', 'DL3', 'DL4'",
        id="dose-level-not-in-protocol",
    ),
    pytest.param(
        [(set_cell, "patients", 1, "phase", 3)],
        "patients row 1 (patient A-001): phase = 3: expected one of 1, 2",
        id="phase-not-1-or-2",
    ),
    pytest.param(
        [(set_cell, "patients", 3, "enrolled_day", -1)],
        "patients row 3 (patient A-003): enrolled_day = -1: expected an integer >= 0",
        id="enrolled-day-negative",
    ),
    pytest.param(
        [(set_cell, "patients", 7, "ecog", 5)],
        "patients row 7 (patient C-002): ecog = 5: expected an integer 0 to 4",
        id="ecog-out-of-range",
    ),
    pytest.param(
        [(set_cell, "patients", 1, "dll3_hscore", 301)],
        "patients row 1 (patient A-001): dll3_hscore = 301: expected an integer 0 to 300",
        id="hscore-above-300",
    ),
    pytest.param(
        [(set_cell, "patients", 3, "off_study_reason", "lost")],
        "patients row 3 (patient A-003): off_study_reason = 'lost': expected one of "
        "'progression', 'death', 'adverse event', 'withdrawal', 'investigator decision', "
        "'manufacturing failure', 'completed' or empty",
        id="off-study-reason-unknown",
    ),
    pytest.param(
        [(set_cell, "patients", 2, "enrolled_day", NA)],
        "patients row 2 (patient A-002): enrolled_day is missing: expected an integer >= 0",
        id="enrolled-day-missing",
    ),
    pytest.param(
        [(set_cell, "infusions", 4, "cycle", 3)],
        "infusions row 4 (patient A-001): cycle = 3: expected an integer 1 to 2",
        id="cycle-above-max-cycles",
    ),
    pytest.param(
        [(set_cell, "infusions", 2, "day", -2)],
        "infusions row 2 (patient A-001): day = -2: expected an integer >= 0",
        id="infusion-day-negative",
    ),
    pytest.param(
        [(set_cell, "infusions", 5, "cells", 0)],
        "infusions row 5 (patient A-002): cells = 0: expected a number > 0",
        id="cells-zero",
    ),
    pytest.param(
        [(set_cell, "infusions", 6, "cells", "1e8 cells")],
        "infusions row 6 (patient A-002): cells = '1e8 cells': expected a number > 0",
        id="cells-with-unit-text",
    ),
    pytest.param(
        [(set_cell, "infusions", 3, "day", 7)],
        "infusions row 3 (patient A-001): (patient_id, cycle, day) = ('A-001', 1, 7): expected "
        "a unique (patient_id, cycle, day); the same is in row 2",
        id="infusion-duplicated",
    ),
    pytest.param(
        [(set_cell, "manufacturing", 2, "lot_id", "L-A001")],
        "manufacturing row 2 (patient A-002): lot_id = 'L-A001': expected a unique value; the "
        "same is in row 1",
        id="lot-id-duplicated",
    ),
    pytest.param(
        [(set_cell, "manufacturing", 4, "viability_pct", 120.0)],
        "manufacturing row 4 (patient B-001): viability_pct = 120: expected a number 0 to 100",
        id="viability-above-100",
    ),
    pytest.param(
        [(set_cell, "manufacturing", 5, "car_positive_pct", -5.0)],
        "manufacturing row 5 (patient B-002): car_positive_pct = -5: expected a number 0 to 100",
        id="car-positive-negative",
    ),
    pytest.param(
        [(set_cell, "pk", 2, "copies_per_ug", 2.5e6)],
        "pk row 2 (patient A-001): copies_per_ug = 2.5e+06: expected a number 0 to 1e+06 or "
        "empty (copies per microgram of genomic DNA: 1 ug holds about 1.5e5 diploid genomes, "
        "so a larger value is in another unit)",
        id="pk-copies-wrong-unit",
    ),
    pytest.param(
        [(set_cell, "pk", 7, "day", 0)],
        "pk row 7 (patient A-002): (patient_id, day) = ('A-002', 0): expected a unique "
        "(patient_id, day); the same is in row 6",
        id="pk-sample-duplicated",
    ),
    pytest.param(
        [(set_cell, "responses", 3, "response", "VGPR")],
        "responses row 3 (patient A-002): response = 'VGPR': expected one of 'CR', 'PR', "
        "'SD', 'PD', 'NE'",
        id="response-code-unknown",
    ),
    pytest.param(
        [(set_cell, "responses", 1, "day", 0)],
        "responses row 1 (patient A-001): day = 0: expected an integer >= 1",
        id="response-day-zero",
    ),
    pytest.param(
        [(set_cell, "survival", 2, "pfs_days", -3)],
        "survival row 2 (patient A-002): pfs_days = -3: expected an integer >= 0",
        id="pfs-days-negative",
    ),
    pytest.param(
        [(set_cell, "survival", 3, "pfs_event", "x")],
        "survival row 3 (patient A-003): pfs_event = 'x': expected true or false",
        id="pfs-event-not-boolean",
    ),
    pytest.param(
        [
            (
                add_row,
                "survival",
                {
                    "patient_id": "A-001",
                    "pfs_days": 1,
                    "pfs_event": False,
                    "os_days": 1,
                    "os_event": False,
                },
            )
        ],
        "survival row 7 (patient A-001): patient_id = 'A-001': expected a unique value; the "
        "same is in row 1",
        id="survival-patient-duplicated",
    ),
    # references between tables
    pytest.param(
        [(set_cell, "infusions", 1, "patient_id", "Z-999")],
        "infusions row 1 (patient Z-999): patient_id = 'Z-999': expected a patient_id listed "
        "in patients",
        id="infusion-unknown-patient",
    ),
    pytest.param(
        [(set_cell, "adverse_events", 6, "patient_id", "C-003")],
        "adverse_events row 6 (patient C-003): patient_id = 'C-003': expected a patient_id "
        "listed in patients",
        id="ae-unknown-patient",
    ),
    pytest.param(
        [(set_cell, "manufacturing", 1, "patient_id", "A-009")],
        "manufacturing row 1 (patient A-009): patient_id = 'A-009': expected a patient_id "
        "listed in patients",
        id="lot-unknown-patient",
    ),
    pytest.param(
        [(add_row, "responses", {"patient_id": "C-001", "day": 42, "response": "SD"})],
        "responses row 7 (patient C-001): patient_id = 'C-001': expected an infused patient "
        "(first_infusion_day is empty in patients)",
        id="response-never-infused",
    ),
    pytest.param(
        [
            (
                add_row,
                "pk",
                {"patient_id": "C-001", "day": 7, "copies_per_ug": 100.0, "below_lloq": False},
            )
        ],
        "pk row 11 (patient C-001): patient_id = 'C-001': expected an infused patient "
        "(first_infusion_day is empty in patients)",
        id="pk-never-infused",
    ),
    pytest.param(
        [
            (
                add_row,
                "survival",
                {
                    "patient_id": "C-001",
                    "pfs_days": 5,
                    "pfs_event": False,
                    "os_days": 5,
                    "os_event": False,
                },
            )
        ],
        "survival row 7 (patient C-001): patient_id = 'C-001': expected an infused patient "
        "(first_infusion_day is empty in patients)",
        id="survival-never-infused",
    ),
    # rules within a row or between tables
    pytest.param(
        [(set_cell, "patients", 7, "first_infusion_day", 15)],
        "patients row 7 (patient C-002): first_infusion_day = 15: expected a study day >= "
        "enrolled_day (20)",
        id="infusion-before-enrolment",
    ),
    pytest.param(
        [(set_cell, "patients", 1, "off_study_day", 30)],
        "patients row 1 (patient A-001): off_study_reason is missing: expected a reason when "
        "off_study_day is given",
        id="off-study-without-reason",
    ),
    pytest.param(
        [(set_cell, "patients", 2, "off_study_reason", "withdrawal")],
        "patients row 2 (patient A-002): off_study_reason = 'withdrawal': expected only "
        "together with an off_study_day",
        id="reason-without-off-study-day",
    ),
    pytest.param(
        [(set_cell, "patients", 6, "off_study_day", 3)],
        "patients row 6 (patient C-001): off_study_day = 3: expected empty when "
        "off_study_reason is 'manufacturing failure'",
        id="manufacturing-failure-with-off-study-day",
    ),
    pytest.param(
        [(set_cell, "patients", 3, "off_study_reason", "manufacturing failure")],
        "patients row 3 (patient A-003): off_study_reason = 'manufacturing failure': expected "
        "only for a patient never infused (first_infusion_day = 11)",
        id="manufacturing-failure-but-infused",
    ),
    pytest.param(
        [(set_cell, "infusions", 5, "given", False)],
        "patients row 2 (patient A-002): first_infusion_day = 9: expected a given cycle 1 "
        "infusion on day 0 in infusions",
        id="infused-without-day-0-infusion",
    ),
    pytest.param(
        [
            (
                add_row,
                "infusions",
                {"patient_id": "C-001", "cycle": 1, "day": 0, "cells": 1e8, "given": True},
            )
        ],
        "infusions row 20 (patient C-001): given = True: expected False for a patient never "
        "infused (first_infusion_day is empty)",
        id="never-infused-with-given-infusion",
    ),
    pytest.param(
        [(set_cell, "infusions", 3, "day", 30)],
        "infusions row 3 (patient A-001): day = 30: expected a day 0 to 27 for cycle 1",
        id="infusion-day-outside-its-cycle",
    ),
    pytest.param(
        [(set_cell, "adverse_events", 6, "is_dlt", True)],
        "adverse_events row 6 (patient C-002): grade = 2: expected >= 3, or >= 2 in CRS, "
        "ICANS, for a DLT (category 'other')",
        id="dlt-grade-too-low",
    ),
    pytest.param(
        [(set_cell, "adverse_events", 2, "onset_day", 30)],
        "adverse_events row 2 (patient A-002): onset_day = 30: expected 0 to 28 (the DLT "
        "window) for a DLT",
        id="dlt-outside-window",
    ),
    pytest.param(
        [
            (
                add_row,
                "adverse_events",
                {
                    "patient_id": "C-001",
                    "term": "Neutropenia",
                    "category": "cytopenia",
                    "grade": 4,
                    "onset_day": -3,
                    "is_dlt": True,
                },
            )
        ],
        "adverse_events row 7 (patient C-001): is_dlt = True: expected False for a patient "
        "never infused",
        id="dlt-never-infused",
    ),
    pytest.param(
        [(set_cell, "manufacturing", 3, "construct", "B")],
        "manufacturing row 3 (patient A-003): construct = 'B': expected 'A', the patient's "
        "construct",
        id="lot-construct-differs",
    ),
    pytest.param(
        [(set_cell, "manufacturing", 7, "release_study_day", 30)],
        "manufacturing row 7 (patient C-002): release_study_day = 30: expected <= the "
        "patient's first_infusion_day (28)",
        id="lot-released-after-infusion",
    ),
    pytest.param(
        [(set_cell, "manufacturing", 1, "release_study_day", NA)],
        "manufacturing row 1 (patient A-001): release_study_day is missing: expected the "
        "study day of release for a released lot",
        id="released-without-release-day",
    ),
    pytest.param(
        [(set_cell, "manufacturing", 6, "release_study_day", 12)],
        "manufacturing row 6 (patient C-001): release_study_day = 12: expected empty for a "
        "lot not released",
        id="release-day-without-release",
    ),
    pytest.param(
        [
            (set_cell, "manufacturing", 4, "released", False),
            (set_cell, "manufacturing", 4, "release_study_day", NA),
        ],
        "patients row 4 (patient B-001): first_infusion_day = 14: expected a released lot in "
        "manufacturing for an infused patient",
        id="infused-without-released-lot",
    ),
    pytest.param(
        [(set_cell, "pk", 1, "copies_per_ug", 500.0)],
        "pk row 1 (patient A-001): copies_per_ug = 500: expected empty or < 50 (the LLOQ) "
        "when below_lloq is True",
        id="pk-blq-but-quantified",
    ),
    pytest.param(
        [(set_cell, "pk", 4, "copies_per_ug", NA)],
        "pk row 4 (patient A-001): copies_per_ug is missing: expected >= 50 (the LLOQ) when "
        "below_lloq is False",
        id="pk-quantified-without-value",
    ),
    pytest.param(
        [(set_cell, "pk", 10, "copies_per_ug", 20.0)],
        "pk row 10 (patient B-001): copies_per_ug = 20: expected >= 50 (the LLOQ) when "
        "below_lloq is False",
        id="pk-quantified-below-lloq",
    ),
    pytest.param(
        [(set_cell, "responses", 2, "day", 42)],
        "responses row 2 (patient A-001): (patient_id, day) = ('A-001', 42): expected a "
        "unique (patient_id, day); the same is in row 1",
        id="response-day-duplicated",
    ),
    pytest.param(
        [(set_cell, "survival", 4, "os_days", 50)],
        "survival row 4 (patient B-001): os_days = 50: expected >= pfs_days (56)",
        id="os-before-pfs",
    ),
    pytest.param(
        [(set_cell, "survival", 1, "os_event", True)],
        "survival row 1 (patient A-001): pfs_event = False: expected True when os_event is "
        "True (death is a PFS event)",
        id="death-without-pfs-event",
    ),
    # missing tables and columns
    pytest.param(
        [(_drop_table, "adverse_events")],
        "adverse_events: no 'adverse_events' table: expected a required table",
        id="required-table-missing",
    ),
    pytest.param(
        [(_drop_column, "adverse_events", "grade")],
        "adverse_events: column 'grade' is missing: expected a required column (an integer 1 to 5)",
        id="required-column-missing",
    ),
    pytest.param(
        [(_drop_column, "pk", "below_lloq")],
        "pk: column 'below_lloq' is missing: expected a required column (true or false)",
        id="optional-table-column-missing",
    ),
]


@pytest.mark.parametrize(("changes", "line"), MALFORMED)
def test_malformed_input_names_table_row_patient_column_value(changes, line):
    problems = _problems(with_changes(*changes))
    assert line in problems, "\n".join(problems)


def test_a_wrong_cell_is_reported_once():
    problems = _problems(with_changes((set_cell, "adverse_events", 4, "grade", "three")))
    assert problems == [
        "adverse_events row 4 (patient B-001): grade = 'three': expected an integer 1 to 5"
    ]


def test_all_problems_of_a_load_are_collected_in_table_then_row_order():
    data = with_changes(
        (set_cell, "survival", 1, "os_event", True),
        (set_cell, "adverse_events", 2, "grade", 6),
        (set_cell, "patients", 4, "construct", "D"),
        (set_cell, "adverse_events", 1, "category", "cardiac"),
    )
    with pytest.raises(DataError) as caught:
        validate_tables(data)
    error = caught.value
    assert isinstance(error, InputError)
    assert [line.split(":")[0] for line in error.problems] == [
        "patients row 4 (patient B-001)",
        "adverse_events row 1 (patient A-001)",
        "adverse_events row 2 (patient A-002)",
        "survival row 1 (patient A-001)",
    ]
    assert str(error).splitlines() == error.problems


def test_a_missing_column_reports_its_rows_only_once():
    problems = _problems(with_changes((_drop_column, "patients", "ecog")))
    assert problems == [
        "patients: column 'ecog' is missing: expected a required column (an integer 0 to 4)"
    ]


def _write(data, folder: Path, fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in data.items():
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def test_csv_and_parquet_folders_load_the_same_tables(tmp_path):
    from_csv = validate_tables(_write(handmade(), tmp_path / "csv", "csv"))
    from_parquet = validate_tables(_write(handmade(), tmp_path / "parquet", "parquet"))
    from_frames = validate_tables(handmade())
    for table in TABLES:
        pd.testing.assert_frame_equal(from_csv.tables[table], from_parquet.tables[table])
        pd.testing.assert_frame_equal(from_csv.tables[table], from_frames.tables[table])


def test_csv_rows_are_numbered_from_the_first_data_line(tmp_path):
    data = with_changes((set_cell, "responses", 5, "response", "progression"))
    problems = _problems(_write(data, tmp_path, "csv"))
    assert problems == [
        "responses row 5 (patient B-001): response = 'progression': expected one of 'CR', "
        "'PR', 'SD', 'PD', 'NE'"
    ]
    line = (tmp_path / "responses.csv").read_text().splitlines()[5]
    assert line == "B-001,56,progression"


def test_optional_tables_may_be_absent_and_required_ones_may_be_empty():
    data = handmade()
    for table in ("manufacturing", "pk", "responses", "survival"):
        del data[table]
    data["adverse_events"] = data["adverse_events"].iloc[:0]
    result = validate_tables(data)
    assert result.present == ("patients", "infusions", "adverse_events")
    assert list(result.tables["pk"].columns) == ["patient_id", "day", "copies_per_ug", "below_lloq"]
    assert result.tables["pk"].empty


def test_folder_with_csv_and_parquet_of_one_table_is_an_error(tmp_path):
    folder = _write(handmade(), tmp_path, "csv")
    handmade()["patients"].to_parquet(folder / "patients.parquet", index=False)
    assert (
        "patients: both patients.csv and patients.parquet exist: expected one file per table"
        in (_problems(folder))
    )


def test_folder_missing_a_required_file(tmp_path):
    folder = _write(handmade(), tmp_path, "csv")
    (folder / "infusions.csv").unlink()
    problems = _problems(folder)
    assert "infusions: no infusions.csv or infusions.parquet: expected a required table" in problems


CSV_KIND = "expected a CSV file (UTF-8 text, comma-separated, with a header row)"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("pk.parquet", b"not a parquet file", "pk: cannot read pk.parquet ("),
        ("patients.csv", b"", f"patients: patients.csv is empty: {CSV_KIND}"),
        ("patients.csv", b" \n\n", f"patients: patients.csv is empty: {CSV_KIND}"),
        (
            "patients.csv",
            bytes(range(256)) * 8,
            f"patients: patients.csv is a binary file, not text: {CSV_KIND}",
        ),
        (
            "pk.csv",
            b"PAR1\x15\x04\x00\x00",
            f"pk: pk.csv is a Parquet file: {CSV_KIND}",
        ),
        (
            "patients.csv",
            "patient_id,construct\nA-001,Ä\n".encode("latin-1"),
            "patients: patients.csv is not UTF-8 text (byte 0xc4 at position 27; save it as "
            f"UTF-8): {CSV_KIND}",
        ),
    ],
    ids=["garbage-parquet", "empty-csv", "blank-csv", "binary-csv", "parquet-as-csv", "latin-1"],
)
def test_unreadable_file_is_reported_once_as_the_root_cause(tmp_path, name, content, expected):
    folder = _write(handmade(), tmp_path, "csv")
    (folder / name.replace(".parquet", ".csv")).unlink()
    (folder / name).write_bytes(content)
    problems = _problems(folder)
    assert problems[0].startswith(expected), problems
    assert sum(p.startswith(name.split(".")[0] + ":") for p in problems) == 1, problems


def test_not_a_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        validate_tables(tmp_path / "nowhere")


def test_unknown_column_and_file_are_warnings_and_are_dropped(tmp_path):
    data = handmade()
    data["patients"]["comment"] = "ok"
    folder = _write(data, tmp_path, "csv")
    (folder / "notes.csv").write_text("a,b\n1,2\n")
    result = validate_tables(folder)
    assert "comment" not in result.tables["patients"]
    assert result.warnings == (
        "folder: notes.csv is not a trial table: expected only the tables patients, infusions, "
        "adverse_events, manufacturing, pk, responses, survival; the file is ignored",
        "patients: column 'comment' is unknown: expected only the columns of the table "
        "contract; it is ignored",
    )


WARNINGS = [
    pytest.param(
        [(set_cell, "patients", 3, "ecog", 2)],
        "patients row 3 (patient A-003): ecog = 2: expected at most 1 (eligibility)",
        id="ecog-above-eligibility",
    ),
    pytest.param(
        [(set_cell, "patients", 2, "cd56_hscore", 60)],
        "patients row 2 (patient A-002): cd56_hscore = 60: expected >= 100 for construct A "
        "(assignment by DLL3/CD56)",
        id="hscore-below-assignment-threshold",
    ),
    pytest.param(
        [(set_cell, "infusions", 14, "cells", 4e8)],
        "infusions row 14 (patient B-002): cells = 4e+08: expected within 20% of 3e+08 (DL2)",
        id="cells-off-dose",
    ),
    pytest.param(
        [(set_cell, "infusions", 12, "day", 9)],
        "infusions row 12 (patient B-001): day = 9: expected a scheduled day of cycle 1 (0, 7, 14)",
        id="infusion-off-schedule",
    ),
    pytest.param(
        [(set_cell, "manufacturing", 2, "viability_pct", 60.0)],
        "manufacturing row 2 (patient A-002): viability_pct = 60: expected >= 70 for a "
        "released lot (release specification)",
        id="released-lot-outside-specification",
    ),
    pytest.param(
        [(add_row, "responses", {"patient_id": "B-001", "day": 70, "response": "SD"})],
        "responses row 7 (patient B-001): day = 70: expected no assessment after the PD of day 56",
        id="assessment-after-progression",
    ),
    pytest.param(
        [(set_cell, "adverse_events", 4, "grade", 5)],
        "adverse_events row 4 (patient B-001): grade = 5: expected os_event True in survival "
        "for a fatal (grade 5) event",
        id="grade-5-without-death",
    ),
    pytest.param(
        [(set_cell, "patients", 4, "off_study_reason", "death")],
        "survival row 4 (patient B-001): os_event = False: expected True for a patient off "
        "study for death",
        id="off-study-for-death-without-os-event",
    ),
    pytest.param(
        [(drop_rows, "survival", 5)],
        "patients row 5 (patient B-002): patient_id = 'B-002': expected a row in survival for "
        "an infused patient",
        id="infused-patient-without-survival-row",
    ),
    pytest.param(
        [
            (
                add_row,
                "infusions",
                {"patient_id": "A-003", "cycle": 1, "day": 21, "cells": 1e8, "given": True},
            )
        ],
        "infusions row 20 (patient A-003): day = 21: expected no infusion after off_study_day (10)",
        id="infusion-after-off-study",
    ),
]


@pytest.mark.parametrize(("changes", "line"), WARNINGS)
def test_suspicious_but_legal_data_give_warnings(changes, line):
    result = validate_tables(with_changes(*changes))
    assert line in result.warnings, "\n".join(result.warnings)


def test_warnings_reach_the_trial_object():
    trial = load_trial(with_changes((set_cell, "patients", 3, "ecog", 2)))
    assert trial.warnings == (
        "patients row 3 (patient A-003): ecog = 2: expected at most 1 (eligibility)",
    )


def test_source_of_the_wrong_kind_is_a_data_error():
    with pytest.raises(DataError, match="expected a folder path or a dict of DataFrames"):
        validate_tables(42)


def test_data_dictionary_covers_every_schema_column():
    dictionary = data_dictionary()
    assert list(dictionary.table.unique()) == list(TABLES)
    assert len(dictionary) == 42
    grade = dictionary[(dictionary.table == "adverse_events") & (dictionary.column == "grade")]
    assert grade.squeeze().to_dict() | {"description": ""} == {
        "table": "adverse_events",
        "required": True,
        "rows": "one row per adverse event",
        "column": "grade",
        "type": "integer",
        "nullable": False,
        "allowed": "an integer 1 to 5",
        "unique": "",
        "description": "",
    }
    markdown = data_dictionary_markdown()
    assert "## survival (optional; one row per infused patient)" in markdown
    assert "| `grade` | integer | no | an integer 1 to 5 |  |" in markdown


def test_tables_given_as_text_load_like_typed_ones():
    as_text = {name: frame.astype(str) for name, frame in handmade().items()}
    typed = validate_tables(handmade())
    for table, frame in validate_tables(as_text).tables.items():
        pd.testing.assert_frame_equal(frame, typed.tables[table])


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("TRUE", True),
        ("false", True),
        (1, True),
        ("0", True),
        (0.0, True),
        (0.5, False),
        ("yes", False),
        ("", True),
    ],
)
def test_true_false_spellings(value, accepted):
    data = with_changes((set_cell, "infusions", 2, "given", value))
    if not accepted:
        problems = _problems(data)
        assert problems == [
            f"infusions row 2 (patient A-001): given = {value!r}: expected true or false"
        ]
    elif value == "":
        assert _problems(data) == [
            "infusions row 2 (patient A-001): given is missing: expected true or false"
        ]
    else:
        validate_tables(data)


@pytest.mark.parametrize(("value", "accepted"), [("3.0", True), (3.0, True), ("3.5", False)])
def test_integers_written_with_a_decimal_point(value, accepted):
    data = with_changes((set_cell, "adverse_events", 1, "grade", value))
    if accepted:
        assert validate_tables(data).tables["adverse_events"].at[0, "grade"] == 3
    else:
        assert _problems(data) == [
            f"adverse_events row 1 (patient A-001): grade = {value!r}: expected an integer 1 to 5"
        ]


TOO_LARGE = "this one is too large (at most 9223372036854775807)"


@pytest.mark.parametrize(
    ("table", "row", "column", "value", "line"),
    [
        (
            "patients",
            2,
            "first_infusion_day",
            10**23,
            "patients row 2 (patient A-002): first_infusion_day = 100000000000000000000000: "
            f"expected an integer >= 0 or empty; {TOO_LARGE}",
        ),
        (
            "patients",
            2,
            "first_infusion_day",
            "100000000000000000000000",
            "patients row 2 (patient A-002): first_infusion_day = '100000000000000000000000': "
            f"expected an integer >= 0 or empty; {TOO_LARGE}",
        ),
        (
            "adverse_events",
            3,
            "grade",
            1e308,
            f"adverse_events row 3 (patient A-002): grade = 1e+308: expected an integer 1 to 5; "
            f"{TOO_LARGE}",
        ),
        (
            "survival",
            1,
            "os_days",
            "-1e19",
            f"survival row 1 (patient A-001): os_days = '-1e19': expected an integer >= 0; "
            f"{TOO_LARGE}",
        ),
        (
            "infusions",
            1,
            "cells",
            10**400,
            "infusions row 1 (patient A-001): cells = " + "1" + "0" * 400 + ": expected a "
            "number > 0; this one is too large",
        ),
    ],
    ids=["int-day", "text-day", "float-grade", "negative", "huge-number"],
)
def test_value_too_large_for_its_column_is_a_bad_cell(table, row, column, value, line):
    problems = _problems(with_changes((set_cell, table, row, column, value)))
    assert problems == [line]


def test_int64_bounds_themselves_fit():
    data = with_changes((set_cell, "survival", 1, "os_days", 2**63 - 1))
    assert validate_tables(data).tables["survival"]["os_days"].iloc[0] == 2**63 - 1


def test_patients_without_rows_while_other_tables_list_patients_is_one_root_cause():
    data = handmade()
    data["patients"] = data["patients"].iloc[:0]
    listed = ", ".join(f"{t} ({data[t]['patient_id'].nunique()})" for t in TABLES[1:])
    assert _problems(data) == [
        "patients: the table has no rows: expected one row per enrolled patient; patients "
        f"are listed in {listed}"
    ]


def test_all_tables_without_rows_is_a_valid_empty_cut():
    data = {name: frame.iloc[:0] for name, frame in handmade().items()}
    assert all(frame.empty for frame in validate_tables(data).tables.values())


def test_a_failed_table_skips_the_rules_that_need_it():
    """Without its day column, infusions cannot tell which patient had a day 0 infusion:
    one message for the column, none per patient."""
    problems = _problems(with_changes((_drop_column, "infusions", "day")))
    assert problems == [
        "infusions: column 'day' is missing: expected a required column (an integer >= 0)"
    ]


def test_rules_within_a_row_still_run_when_patients_failed(tmp_path):
    data = with_changes((set_cell, "survival", 2, "os_days", 1))
    folder = _write(data, tmp_path, "csv")
    (folder / "patients.csv").write_text("")
    problems = _problems(folder)
    assert problems[0].startswith("patients: patients.csv is empty")
    assert problems[1:] == [
        "survival row 2 (patient A-002): os_days = 1: expected >= pfs_days (90)"
    ]


@pytest.mark.parametrize(
    ("delimiter", "name"), [(";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")]
)
def test_a_file_with_another_delimiter_gets_a_hint(tmp_path, delimiter, name):
    folder = _write(handmade(), tmp_path, "csv")
    path = folder / "patients.csv"
    path.write_text(path.read_text().replace(",", delimiter))
    problems = _problems(folder)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"patients: patients.csv has no comma in its header but 11 {name} ('patient_id"
    )
    assert problems[0].endswith(
        "expected comma-separated values (save the file with commas as delimiter)"
    )


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    folder = _write(handmade(), tmp_path, "csv")
    path = folder / "patients.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(validate_tables(folder).tables["patients"]) == 7


def test_root_causes_come_before_row_problems():
    data = with_changes(
        (set_cell, "adverse_events", 2, "grade", 6), (_drop_column, "responses", "response")
    )
    problems = _problems(data)
    assert problems[0].startswith("responses: column 'response' is missing")
    assert problems[1].startswith("adverse_events row 2 (patient A-002): grade = 6")


def test_summary_by_phase_adds_up_to_the_summary_and_keeps_the_default():
    from dartnk.analyses import example_data

    tables = example_data()
    patients = tables["patients"].copy()
    patients.loc[patients.index[-3:], "phase"] = 2
    trial = load_trial({**tables, "patients": patients})
    assert trial.summary().equals(trial.by_arm_dose)
    split = trial.summary(by_phase=True)
    assert list(split.columns) == ["phase", *trial.by_arm_dose.columns]
    assert set(split["phase"]) == {1, 2}
    assert len(split[split["phase"] == 1]) == len(trial.by_arm_dose)
    counts = [c for c in trial.by_arm_dose.columns if c not in ("construct", "dose_level")]
    added = split.groupby(["construct", "dose_level"], sort=False)[counts].sum()
    expected = trial.by_arm_dose.set_index(["construct", "dose_level"])[counts]
    pd.testing.assert_frame_equal(added.loc[expected.index], expected)
    assert split.loc[split["phase"] == 2, "patients"].sum() == 3
