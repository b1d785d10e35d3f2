"""The seven trial tables of simulated patient courses, as a database export at a cut-off.

Column names, order, types and day conventions follow the table contract shared with
validation and derivations: study days for enrolment, first infusion and lot release;
days from the first infusion for everything else. An event after the cut-off is not in
the export; a patient enrolled after it is absent; survival is censored at it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from operator import itemgetter
from pathlib import Path

import pandas as pd

from ._course import Course
from .protocol import Protocol

__all__ = ["TABLE_NAMES", "column_types", "tables_at_cutoff", "write_csv"]

TABLE_NAMES: tuple[str, ...] = (
    "patients",
    "infusions",
    "adverse_events",
    "manufacturing",
    "pk",
    "responses",
    "survival",
)

_FIXED_TYPES: dict[str, dict[str, str]] = {
    "patients": {
        "patient_id": "object",
        "construct": "object",
        "dose_level": "object",
        "phase": "Int64",
        "enrolled_day": "Int64",
        "first_infusion_day": "Int64",
        "off_study_day": "Int64",
        "off_study_reason": "object",
    },
    "infusions": {
        "patient_id": "object",
        "cycle": "Int64",
        "day": "Int64",
        "cells": "float64",
        "given": "boolean",
    },
    "adverse_events": {
        "patient_id": "object",
        "term": "object",
        "category": "object",
        "grade": "Int64",
        "onset_day": "Int64",
        "is_dlt": "boolean",
    },
    "manufacturing": {
        "lot_id": "object",
        "construct": "object",
        "patient_id": "object",
        "released": "boolean",
        "viability_pct": "float64",
        "car_positive_pct": "float64",
        "release_study_day": "Int64",
    },
    "pk": {
        "patient_id": "object",
        "day": "Int64",
        "copies_per_ug": "float64",
        "below_lloq": "boolean",
    },
    "responses": {"patient_id": "object", "day": "Int64", "response": "object"},
    "survival": {
        "patient_id": "object",
        "pfs_days": "Int64",
        "pfs_event": "boolean",
        "os_days": "Int64",
        "os_event": "boolean",
    },
}


_SORT_KEYS: dict[str, tuple[int, ...]] = {
    "infusions": (0, 1, 2),
    "adverse_events": (0, 4, 1, 3),
    "manufacturing": (0,),
    "pk": (0, 1),
    "responses": (0, 1),
}


def column_types(protocol: Protocol) -> dict[str, dict[str, str]]:
    """Columns of each table in export order with their pandas dtypes (the loaded types of
    the table contract: text ``object``, integers ``Int64``, numbers ``float64``, true/false
    ``boolean``); the patients table has one ``<antigen>_hscore`` column per protocol
    antigen, then ``ecog``."""
    types = {name: dict(columns) for name, columns in _FIXED_TYPES.items()}
    for antigen in protocol.antigens:
        types["patients"][f"{antigen.lower()}_hscore"] = "Int64"
    types["patients"]["ecog"] = "Int64"
    return types


def _frame(rows: list[tuple], types: dict[str, str]) -> pd.DataFrame:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(types)
    return pd.DataFrame(
        {
            name: pd.array(list(values), dtype=dtype)
            if dtype != "object"
            else pd.Series(list(values), dtype=object)
            for (name, dtype), values in zip(types.items(), columns, strict=True)
        }
    )


def _lot_ids(protocol: Protocol, courses: Iterable[Course], cut: int) -> None:
    order = []
    for position, course in enumerate(courses):
        for number, lot in enumerate(course.lots):
            if lot.test_day <= cut:
                order.append((lot.test_day, position, number, course, lot))
    counters = dict.fromkeys(protocol.construct_ids, 0)
    for _, _, _, course, lot in sorted(order, key=lambda item: item[:3]):
        construct = protocol.construct_ids[course.arm]
        counters[construct] += 1
        lot.lot_id = f"{construct}-L{counters[construct]:03d}"


def tables_at_cutoff(
    protocol: Protocol, courses: list[Course], cut: int
) -> dict[str, pd.DataFrame]:
    """The seven tables of ``courses`` (in enrolment order) as known on study day ``cut``."""
    courses = [c for c in courses if c.enrolled_day <= cut]
    _lot_ids(protocol, courses, cut)
    rows: dict[str, list[tuple]] = {name: [] for name in TABLE_NAMES}
    for course in courses:
        _rows(protocol, course, cut, rows)
    types = column_types(protocol)
    for name, key in _SORT_KEYS.items():
        rows[name].sort(key=itemgetter(*key))
    return {name: _frame(rows[name], types[name]) for name in TABLE_NAMES}


def _rows(protocol: Protocol, course: Course, cut: int, rows: dict[str, list[tuple]]) -> None:
    pid = course.patient_id
    construct = protocol.construct_ids[course.arm]
    first = course.first_infusion_day
    infused = first is not None and first <= cut
    off_day = off_reason = None
    if course.failure_day is not None and course.failure_day <= cut:
        off_reason = "manufacturing failure"
    elif infused and first + course.off_day <= cut:
        off_day, off_reason = course.off_day, course.off_reason
    rows["patients"].append(
        (
            pid,
            construct,
            protocol.dose_labels[course.dose],
            course.phase,
            course.enrolled_day,
            first if infused else None,
            off_day,
            off_reason,
            *course.screening.hscores,
            course.screening.ecog,
        )
    )
    for lot in course.lots:
        if lot.test_day <= cut:
            rows["manufacturing"].append(
                (
                    lot.lot_id,
                    construct,
                    pid,
                    lot.released,
                    lot.viability_pct,
                    lot.car_positive_pct,
                    lot.test_day if lot.released else None,
                )
            )
    if not infused:
        return
    known = cut - first
    rows["infusions"] += [(pid, *row) for row in course.infusions if row[1] <= known]
    rows["adverse_events"] += [(pid, *row) for row in course.events if row[3] <= known]
    rows["pk"] += [(pid, day, value, math.isnan(value)) for day, value in course.pk if day <= known]
    rows["responses"] += [(pid, day, r) for day, r in course.assessments if day <= known]
    rows["survival"].append((pid, *_survival(course, known)))


def _survival(course: Course, known: int) -> tuple[int, bool, int, bool]:
    pfs_end = min(known, course.pfs_follow_end)
    os_end = min(known, course.os_follow_end)
    pfs_event = course.pfs_time <= pfs_end
    pfs_days = course.pfs_time if pfs_event else pfs_end
    os_event = course.os_time <= os_end
    os_days = course.os_time if os_event else os_end
    if os_event and not pfs_event:
        pfs_days, pfs_event = os_days, True
    return int(pfs_days), bool(pfs_event), int(os_days), bool(os_event)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write one table as CSV, byte-stable: no index, ``\\n`` line ends, shortest
    round-trip float representation, empty fields for missing values."""
    frame.to_csv(path, index=False, lineterminator="\n")
