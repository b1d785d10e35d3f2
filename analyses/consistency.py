"""Checks between rows and between tables of the trial data, and the format of a finding.

A finding names the table, the 1-based data row, the patient, the column, the bad value and
what was expected, e.g. ``adverse_events row 7 (patient A-004): grade = 6: expected an
integer 1 to 5``. Errors make the data unusable; warnings flag what is legal but worth a
data manager's look. The column-by-column checks are in :mod:`.tables`; this module holds
every rule that needs two columns, two rows or two tables. A cell that already failed its
column check is skipped here, so one bad cell gives one message.

Errors
------
- every ``patient_id`` outside ``patients`` is listed there; ``pk``, ``responses`` and
  ``survival`` only for infused patients;
- patients: ``first_infusion_day >= enrolled_day``; ``off_study_day`` only for infused
  patients; ``off_study_reason`` exactly when ``off_study_day``, except "manufacturing
  failure", which needs a patient never infused and no ``off_study_day``;
- infusions: the day lies inside its cycle (cycle c: days (c - 1) x cycle length to
  c x cycle length - 1); no given infusion for a patient never infused; every infused
  patient has a given cycle 1 infusion on day 0;
- adverse events: a DLT needs an infused patient, onset within the DLT window and a
  qualifying grade (``protocol.dlt``);
- manufacturing: the lot's construct is the patient's; ``release_study_day`` exactly for
  released lots and not after the patient's first infusion; when the table is supplied,
  every infused patient has a released lot;
- pk: ``below_lloq`` agrees with ``copies_per_ug`` and the LLOQ;
- survival: ``os_days >= pfs_days``; ``os_event`` implies ``pfs_event``.

Warnings
--------
ECOG above eligibility; an H-score of the construct's antigens below the assignment
threshold; an infusion off the protocol schedule, after off study, or with cells not within
20% of the dose level; a released lot outside the release specification; an assessment
after PD; a grade 5 event without death in ``survival``; off study for death without
``os_event``; an infused patient without a ``survival`` row (when the table is supplied).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .protocol import Protocol
from .tables import TABLES

__all__ = ["INVALID", "MISSING", "Finding", "Findings", "check_consistency", "show_value"]

MISSING = object()
"""Marks a finding about an empty cell (``column is missing``)."""

_NOTHING = object()


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()
"""Stands for a cell that failed its column check; rules involving it are skipped."""


def _empty(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _present(value: Any) -> bool:
    return value is not INVALID and not _empty(value)


def show_value(value: Any) -> str:
    """A cell value as messages show it: text quoted, numbers in short form."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@dataclass(frozen=True)
class Finding:
    """One problem (or warning) found in the trial data."""

    table: str
    expected: str
    row: int | None = None
    patient: str | None = None
    column: str | None = None
    value: Any = _NOTHING
    problem: str | None = None

    def line(self) -> str:
        """The one-line message: table, row, patient, column, value, what was expected.

        ``problem`` replaces the ``column = value`` part for findings about a whole file
        or column (``column 'grade' is missing``).
        """
        where = self.table if self.row is None else f"{self.table} row {self.row}"
        if self.patient:
            where += f" (patient {self.patient})"
        if self.problem is not None:
            subject = self.problem
        elif self.column is None:
            return f"{where}: expected {self.expected}"
        elif self.value is MISSING:
            subject = f"{self.column} is missing"
        elif self.value is _NOTHING:
            subject = self.column
        else:
            subject = f"{self.column} = {show_value(self.value)}"
        return f"{where}: {subject}: expected {self.expected}"

    def sort_key(self) -> tuple[bool, int, int]:
        """Findings about a whole file, table or column first (the root causes), then
        those about rows; each by table, then row."""
        order = TABLES.index(self.table) if self.table in TABLES else -1
        return (self.row is not None, order, 0 if self.row is None else self.row)


@dataclass
class Findings:
    """Errors and warnings collected over one load, reported together."""

    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    def error(self, table: str, expected: str, **where: Any) -> None:
        self.errors.append(Finding(table, expected, **where))

    def warn(self, table: str, expected: str, **where: Any) -> None:
        self.warnings.append(Finding(table, expected, **where))

    @staticmethod
    def _lines(findings: list[Finding]) -> list[str]:
        ordered = sorted(enumerate(findings), key=lambda p: (*p[1].sort_key(), p[0]))
        return [f.line() for _, f in ordered]

    def error_lines(self) -> list[str]:
        """Error messages: those about a whole file, table or column first, then by table,
        row and the order found."""
        return self._lines(self.errors)

    def warning_lines(self) -> list[str]:
        """Warning messages, ordered as :meth:`error_lines`."""
        return self._lines(self.warnings)


def _rows(frame: pd.DataFrame, invalid: set[tuple[int, str]]) -> list[tuple[int, Any, dict]]:
    failed: dict[int, list[str]] = {}
    for index, column in invalid:
        failed.setdefault(index, []).append(column)
    rows = []
    for position, record in enumerate(frame.to_dict("records"), start=1):
        for column in failed.get(position - 1, ()):
            record[column] = INVALID
        pid = record.get("patient_id")
        rows.append((position, pid if _present(pid) else None, record))
    return rows


def _patient_index(patients: list) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for row, pid, record in patients:
        if pid is not None and pid not in index:
            index[pid] = {**record, "_row": row}
    return index


def _infused(patient: dict[str, Any] | None) -> bool:
    return patient is not None and _present(patient["first_infusion_day"])


def _never_infused(patient: dict[str, Any] | None) -> bool:
    return patient is not None and _empty(patient["first_infusion_day"])


def _known_patient(
    table: str, row: int, pid: str | None, known: dict | None, out: Findings
) -> bool:
    """Whether the row's patient is in patients; an unknown one is reported, unless the
    patients table itself failed (``known`` None), when rules needing it are skipped."""
    if pid is None or known is None:
        return False
    if pid not in known:
        out.error(
            table,
            "a patient_id listed in patients",
            row=row,
            patient=pid,
            column="patient_id",
            value=pid,
        )
        return False
    return True


def _check_patients(patients: list, protocol: Protocol, out: Findings) -> None:
    threshold = protocol.assignment.hscore_threshold
    antigens = {c.id: c.antigens for c in protocol.constructs}
    for row, pid, p in patients:
        where = {"row": row, "patient": pid}
        fid, off, reason = p["first_infusion_day"], p["off_study_day"], p["off_study_reason"]
        if _present(fid) and _present(p["enrolled_day"]) and fid < p["enrolled_day"]:
            out.error(
                "patients",
                f"a study day >= enrolled_day ({p['enrolled_day']})",
                column="first_infusion_day",
                value=fid,
                **where,
            )
        if reason == "manufacturing failure":
            if _present(fid):
                out.error(
                    "patients",
                    f"only for a patient never infused (first_infusion_day = {fid})",
                    column="off_study_reason",
                    value=reason,
                    **where,
                )
            if _present(off):
                out.error(
                    "patients",
                    "empty when off_study_reason is 'manufacturing failure'",
                    column="off_study_day",
                    value=off,
                    **where,
                )
        else:
            if _present(off) and _empty(fid):
                out.error(
                    "patients",
                    "empty for a patient never infused (days count from the first infusion)",
                    column="off_study_day",
                    value=off,
                    **where,
                )
            if _present(off) and _empty(reason):
                out.error(
                    "patients",
                    "a reason when off_study_day is given",
                    column="off_study_reason",
                    value=MISSING,
                    **where,
                )
            if _present(reason) and _empty(off):
                out.error(
                    "patients",
                    "only together with an off_study_day",
                    column="off_study_reason",
                    value=reason,
                    **where,
                )
        if _present(p["ecog"]) and p["ecog"] > protocol.eligibility.max_ecog:
            out.warn(
                "patients",
                f"at most {protocol.eligibility.max_ecog} (eligibility)",
                column="ecog",
                value=p["ecog"],
                **where,
            )
        for antigen in antigens.get(p["construct"], ()):
            column = f"{antigen.lower()}_hscore"
            score = p.get(column)
            if _present(score) and score < threshold:
                out.warn(
                    "patients",
                    f">= {threshold} for construct {p['construct']} (assignment by "
                    f"{'/'.join(antigens[p['construct']])})",
                    column=column,
                    value=score,
                    **where,
                )


def _check_infusions(tables, known, failed, protocol: Protocol, out: Findings) -> None:
    schedule = protocol.schedule
    cells = dict(zip(protocol.dose_labels, protocol.doses, strict=True))
    day0 = set()
    for row, pid, r in tables["infusions"]:
        where = {"row": row, "patient": pid}
        cycle, day, given = r["cycle"], r["day"], r["given"]
        if given is True and day == 0 and cycle == 1:
            day0.add(pid)
        if _present(cycle) and _present(day):
            start = (cycle - 1) * schedule.cycle_length_days
            end = start + schedule.cycle_length_days - 1
            planned = [start + d for d in schedule.infusion_days]
            if not start <= day <= end:
                out.error(
                    "infusions",
                    f"a day {start} to {end} for cycle {cycle}",
                    column="day",
                    value=day,
                    **where,
                )
            elif day not in planned:
                out.warn(
                    "infusions",
                    f"a scheduled day of cycle {cycle} ({', '.join(map(str, planned))})",
                    column="day",
                    value=day,
                    **where,
                )
        if not _known_patient("infusions", row, pid, known, out):
            continue
        p = known[pid]
        if given is not True:
            continue
        if not _infused(p):
            if _never_infused(p):
                out.error(
                    "infusions",
                    "False for a patient never infused (first_infusion_day is empty)",
                    column="given",
                    value=given,
                    **where,
                )
            continue
        off = p["off_study_day"]
        if _present(day) and _present(off) and day > off:
            out.warn(
                "infusions",
                f"no infusion after off_study_day ({off})",
                column="day",
                value=day,
                **where,
            )
        dose = cells.get(p["dose_level"])
        if dose is not None and _present(r["cells"]) and abs(r["cells"] - dose) > 0.2 * dose:
            out.warn(
                "infusions",
                f"within 20% of {dose:g} ({p['dose_level']})",
                column="cells",
                value=r["cells"],
                **where,
            )
    if known is None or "infusions" in failed:
        return
    for pid, p in known.items():
        if _infused(p) and pid not in day0:
            out.error(
                "patients",
                "a given cycle 1 infusion on day 0 in infusions",
                row=p["_row"],
                patient=pid,
                column="first_infusion_day",
                value=p["first_infusion_day"],
            )


def _check_adverse_events(tables, present, known, protocol: Protocol, out: Findings) -> None:
    dlt, window = protocol.dlt, protocol.dlt_window
    survival = {pid: r for _, pid, r in tables["survival"]}
    for row, pid, r in tables["adverse_events"]:
        if not _known_patient("adverse_events", row, pid, known, out):
            continue
        where = {"row": row, "patient": pid}
        grade, onset, category = r["grade"], r["onset_day"], r["category"]
        if r["is_dlt"] is True:
            if _never_infused(known[pid]):
                out.error(
                    "adverse_events",
                    "False for a patient never infused",
                    column="is_dlt",
                    value=True,
                    **where,
                )
            if _present(onset) and not 0 <= onset <= window:
                out.error(
                    "adverse_events",
                    f"0 to {window} (the DLT window) for a DLT",
                    column="onset_day",
                    value=onset,
                    **where,
                )
            if (
                _present(grade)
                and _present(category)
                and grade < dlt.min_grade
                and not (category in dlt.grade2_categories and grade >= 2)
            ):
                out.error(
                    "adverse_events",
                    f">= {dlt.min_grade}, or >= 2 in {', '.join(dlt.grade2_categories)}, for a "
                    f"DLT (category {category!r})",
                    column="grade",
                    value=grade,
                    **where,
                )
        if grade == 5 and "survival" in present:
            death = survival.get(pid)
            if death is None or death["os_event"] is not True:
                out.warn(
                    "adverse_events",
                    "os_event True in survival for a fatal (grade 5) event",
                    column="grade",
                    value=grade,
                    **where,
                )


def _check_manufacturing(tables, present, known, protocol: Protocol, out: Findings) -> None:
    spec = protocol.manufacturing
    released_for: set[str] = set()
    for row, pid, lot in tables["manufacturing"]:
        where = {"row": row, "patient": pid}
        day, released = lot["release_study_day"], lot["released"]
        if released is True:
            if pid is not None:
                released_for.add(pid)
            if _empty(day):
                out.error(
                    "manufacturing",
                    "the study day of release for a released lot",
                    column="release_study_day",
                    value=MISSING,
                    **where,
                )
            for column, least in (
                ("viability_pct", spec.min_viability_pct),
                ("car_positive_pct", spec.min_car_positive_pct),
            ):
                if _present(lot[column]) and lot[column] < least:
                    out.warn(
                        "manufacturing",
                        f">= {least:g} for a released lot (release specification)",
                        column=column,
                        value=lot[column],
                        **where,
                    )
        elif released is False and _present(day):
            out.error(
                "manufacturing",
                "empty for a lot not released",
                column="release_study_day",
                value=day,
                **where,
            )
        if not _known_patient("manufacturing", row, pid, known, out):
            continue
        p = known[pid]
        if _present(lot["construct"]) and _present(p["construct"]):
            if lot["construct"] != p["construct"]:
                out.error(
                    "manufacturing",
                    f"{p['construct']!r}, the patient's construct",
                    column="construct",
                    value=lot["construct"],
                    **where,
                )
        if released is True and _present(day) and _infused(p) and day > p["first_infusion_day"]:
            out.error(
                "manufacturing",
                f"<= the patient's first_infusion_day ({p['first_infusion_day']})",
                column="release_study_day",
                value=day,
                **where,
            )
    if known is None or "manufacturing" not in present:
        return
    for pid, p in known.items():
        if _infused(p) and pid not in released_for:
            out.error(
                "patients",
                "a released lot in manufacturing for an infused patient",
                row=p["_row"],
                patient=pid,
                column="first_infusion_day",
                value=p["first_infusion_day"],
            )


def _infused_patient(table: str, row: int, pid, known, out: Findings) -> bool:
    """Whether the row's patient is known and infused; reports an unknown or never infused
    one (see :func:`_known_patient`)."""
    if not _known_patient(table, row, pid, known, out):
        return False
    if _never_infused(known[pid]):  # type: ignore[index]
        out.error(
            table,
            "an infused patient (first_infusion_day is empty in patients)",
            row=row,
            patient=pid,
            column="patient_id",
            value=pid,
        )
    return _infused(known[pid])


def _check_pk(tables, known, protocol: Protocol, out: Findings) -> None:
    lloq = protocol.pk.lloq_copies_per_ug
    for row, pid, s in tables["pk"]:
        _infused_patient("pk", row, pid, known, out)
        where = {"row": row, "patient": pid, "column": "copies_per_ug"}
        copies, blq = s["copies_per_ug"], s["below_lloq"]
        if blq is True and _present(copies) and copies >= lloq:
            out.error(
                "pk",
                f"empty or < {lloq:g} (the LLOQ) when below_lloq is True",
                value=copies,
                **where,
            )
        if blq is False and (_empty(copies) or (_present(copies) and copies < lloq)):
            out.error(
                "pk",
                f">= {lloq:g} (the LLOQ) when below_lloq is False",
                value=MISSING if _empty(copies) else copies,
                **where,
            )


def _check_responses(tables, known, out: Findings) -> None:
    first_pd: dict[str, int] = {}
    frame = tables["responses"]
    for _, pid, r in frame:
        if r["response"] == "PD" and _present(r["day"]):
            first_pd[pid] = min(first_pd.get(pid, r["day"]), r["day"])
    for row, pid, r in frame:
        _infused_patient("responses", row, pid, known, out)
        pd_day = first_pd.get(pid)
        if pd_day is not None and _present(r["day"]) and r["day"] > pd_day:
            out.warn(
                "responses",
                f"no assessment after the PD of day {pd_day}",
                row=row,
                patient=pid,
                column="day",
                value=r["day"],
            )


def _check_survival(tables, present, known, out: Findings) -> None:
    seen = set()
    for row, pid, s in tables["survival"]:
        infused = _infused_patient("survival", row, pid, known, out)
        seen.add(pid)
        where = {"row": row, "patient": pid}
        if _present(s["os_days"]) and _present(s["pfs_days"]) and s["os_days"] < s["pfs_days"]:
            out.error(
                "survival",
                f">= pfs_days ({s['pfs_days']})",
                column="os_days",
                value=s["os_days"],
                **where,
            )
        if s["os_event"] is True and s["pfs_event"] is False:
            out.error(
                "survival",
                "True when os_event is True (death is a PFS event)",
                column="pfs_event",
                value=False,
                **where,
            )
        if infused and known[pid]["off_study_reason"] == "death" and s["os_event"] is False:
            out.warn(
                "survival",
                "True for a patient off study for death",
                column="os_event",
                value=False,
                **where,
            )
    if known is None or "survival" not in present:
        return
    for pid, p in known.items():
        if _infused(p) and pid not in seen:
            out.warn(
                "patients",
                "a row in survival for an infused patient",
                row=p["_row"],
                patient=pid,
                column="patient_id",
                value=pid,
            )


def check_consistency(
    tables: dict[str, pd.DataFrame],
    present: set[str] | frozenset[str],
    protocol: Protocol,
    findings: Findings,
    invalid: dict[str, set[tuple[int, str]]] | None = None,
    *,
    failed: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Run every row-, cross-column and cross-table rule, adding to ``findings``.

    Parameters
    ----------
    tables : dict of DataFrame
        All seven tables with their schema dtypes (absent optional tables empty).
    present : set of str
        Tables that were supplied; a rule that needs an optional table (every infused
        patient has a released lot; a survival row per infused patient; death recorded
        for a grade 5 event) runs only when that table was supplied.
    protocol : Protocol
    findings : Findings
        Collects errors and warnings.
    invalid : dict of str to set of (int, str), optional
        Per table, the (0-based position, column) of cells that already failed their
        column check; a rule needing such a cell is skipped rather than reported again.
    failed : set of str, optional
        Tables whose failure was already reported (unreadable, missing, missing a column,
        or patients without rows while other tables list patients). Every rule that needs
        a failed table is skipped, so one root cause gives one message: with patients
        failed, only the rules within a row of another table run.
    """
    invalid = invalid or {}
    rows = {name: _rows(frame, invalid.get(name, set())) for name, frame in tables.items()}
    known = None if "patients" in failed else _patient_index(rows["patients"])
    _check_patients(rows["patients"], protocol, findings)
    _check_infusions(rows, known, failed, protocol, findings)
    _check_adverse_events(rows, present, known, protocol, findings)
    _check_manufacturing(rows, present, known, protocol, findings)
    _check_pk(rows, known, protocol, findings)
    _check_responses(rows, known, findings)
    _check_survival(rows, present, known, findings)
