"""A small valid trial data set written by hand, and helpers to corrupt it in tests.

Seven patients: arm A at DL1 (A-001 confirmed PR, A-002 a grade 3 CRS DLT on day 2, A-003
off study on day 10), arm B at DL1 and DL2, arm C at DL1 (C-001 never infused after a
manufacturing failure, C-002 an unconfirmed PR). Study days: the latest recorded is 107
(A-001: first infusion on study day 7, survival follow-up 100 days).
"""

from __future__ import annotations

import copy

import pandas as pd

NA = None


def handmade() -> dict[str, pd.DataFrame]:
    """A fresh copy of the valid data set, one DataFrame per table."""
    patients = pd.DataFrame(
        {
            "patient_id": ["A-001", "A-002", "A-003", "B-001", "B-002", "C-001", "C-002"],
            "construct": ["A", "A", "A", "B", "B", "C", "C"],
            "dose_level": ["DL1", "DL1", "DL1", "DL1", "DL2", "DL1", "DL1"],
            "phase": [1, 1, 1, 1, 1, 1, 1],
            "enrolled_day": [0, 2, 4, 6, 50, 10, 20],
            "first_infusion_day": [7, 9, 11, 14, 57, NA, 28],
            "off_study_day": [NA, NA, 10, 60, NA, NA, NA],
            "off_study_reason": [
                NA,
                NA,
                "withdrawal",
                "progression",
                NA,
                "manufacturing failure",
                NA,
            ],
            "dll3_hscore": [200, 180, 210, 160, 150, 30, 10],
            "cd56_hscore": [150, 120, 140, 20, 40, 170, 200],
            "gd2_hscore": [30, 10, 0, 190, 220, 180, 150],
            "ecog": [0, 1, 0, 1, 0, 0, 1],
        }
    )
    infusion_rows = [
        ("A-001", 1, 0, 1e8, True),
        ("A-001", 1, 7, 1e8, True),
        ("A-001", 1, 14, 1e8, True),
        ("A-001", 2, 28, 1e8, True),
        ("A-002", 1, 0, 1e8, True),
        ("A-002", 1, 7, 1e8, True),
        ("A-002", 1, 14, 1e8, True),
        ("A-003", 1, 0, 1e8, True),
        ("A-003", 1, 7, 1e8, True),
        ("A-003", 1, 14, 1e8, False),
        ("B-001", 1, 0, 1e8, True),
        ("B-001", 1, 7, 1e8, True),
        ("B-001", 1, 14, 1e8, True),
        ("B-002", 1, 0, 3e8, True),
        ("B-002", 1, 7, 3e8, True),
        ("B-002", 1, 14, 3e8, True),
        ("C-002", 1, 0, 1e8, True),
        ("C-002", 1, 7, 1e8, True),
        ("C-002", 1, 14, 1e8, True),
    ]
    infusions = pd.DataFrame(
        infusion_rows, columns=["patient_id", "cycle", "day", "cells", "given"]
    )
    adverse_events = pd.DataFrame(
        [
            ("A-001", "Cytokine release syndrome", "CRS", 1, 1, False),
            ("A-002", "Cytokine release syndrome", "CRS", 3, 2, True),
            ("A-002", "Neutropenia", "cytopenia", 4, -2, False),
            ("B-001", "Febrile neutropenia", "infection", 3, 9, False),
            ("B-002", "Nausea", "other", 1, -4, False),
            ("C-002", "Fatigue", "other", 2, 5, False),
        ],
        columns=["patient_id", "term", "category", "grade", "onset_day", "is_dlt"],
    )
    manufacturing = pd.DataFrame(
        [
            ("L-A001", "A", "A-001", True, 85.0, 42.0, 5),
            ("L-A002", "A", "A-002", True, 80.0, 35.0, 8),
            ("L-A003", "A", "A-003", True, 78.0, 30.0, 10),
            ("L-B001", "B", "B-001", True, 90.0, 45.0, 12),
            ("L-B002", "B", "B-002", True, 88.0, 38.0, 55),
            ("L-C001", "C", "C-001", False, 55.0, 12.0, NA),
            ("L-C002", "C", "C-002", True, 82.0, 33.0, 26),
        ],
        columns=[
            "lot_id",
            "construct",
            "patient_id",
            "released",
            "viability_pct",
            "car_positive_pct",
            "release_study_day",
        ],
    )
    pk = pd.DataFrame(
        [
            ("A-001", 0, NA, True),
            ("A-001", 7, 5000.0, False),
            ("A-001", 14, 2000.0, False),
            ("A-001", 28, 300.0, False),
            ("A-001", 56, 20.0, True),
            ("A-002", 0, NA, True),
            ("A-002", 7, 800.0, False),
            ("A-002", 28, NA, True),
            ("B-001", 0, NA, True),
            ("B-001", 7, 1500.0, False),
        ],
        columns=["patient_id", "day", "copies_per_ug", "below_lloq"],
    )
    responses = pd.DataFrame(
        [
            ("A-001", 42, "PR"),
            ("A-001", 84, "PR"),
            ("A-002", 42, "SD"),
            ("B-001", 42, "SD"),
            ("B-001", 56, "PD"),
            ("C-002", 42, "PR"),
        ],
        columns=["patient_id", "day", "response"],
    )
    survival = pd.DataFrame(
        [
            ("A-001", 100, False, 100, False),
            ("A-002", 90, False, 90, False),
            ("A-003", 10, False, 10, False),
            ("B-001", 56, True, 80, False),
            ("B-002", 20, False, 20, False),
            ("C-002", 60, False, 60, False),
        ],
        columns=["patient_id", "pfs_days", "pfs_event", "os_days", "os_event"],
    )
    return {
        "patients": patients,
        "infusions": infusions,
        "adverse_events": adverse_events,
        "manufacturing": manufacturing,
        "pk": pk,
        "responses": responses,
        "survival": survival,
    }


def set_cell(data: dict[str, pd.DataFrame], table: str, row: int, column: str, value) -> None:
    """Put ``value`` in the 1-based data ``row`` of ``table`` (the column becomes object)."""
    frame = data[table]
    frame[column] = frame[column].astype(object)
    frame.at[row - 1, column] = value


def add_row(data: dict[str, pd.DataFrame], table: str, values: dict) -> None:
    """Append a row (missing columns empty)."""
    frame = data[table]
    row = pd.DataFrame([{c: values.get(c) for c in frame.columns}], dtype=object)
    data[table] = pd.concat([frame.astype(object), row], ignore_index=True)


def drop_rows(data: dict[str, pd.DataFrame], table: str, *rows: int) -> None:
    """Remove 1-based data rows."""
    frame = data[table]
    data[table] = frame.drop(index=[r - 1 for r in rows]).reset_index(drop=True)


def with_changes(*changes) -> dict[str, pd.DataFrame]:
    """The hand-made data set with each ``(function, args...)`` change applied."""
    data = copy.deepcopy(handmade())
    for function, *args in changes:
        function(data, *args)
    return data
