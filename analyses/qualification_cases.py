"""The reference cases of the method qualification: loading and validating the case file.

The case file (JSON, shipped as ``dartnk/analyses/data/qualification/cases.json``) holds
the references (papers, R packages with their versions, independent computations) and one
record per case: ``id``, ``method``, ``check`` (the computation that reruns it through the
public API, :data:`dartnk.analyses.qualification_checks.CHECKS`), ``reference``,
``inputs``, ``expected``, ``tolerance`` and optionally ``mcmc`` (left out of a quick run),
``note`` and, for values from R, ``r_call``, ``r_package`` and ``r_version``. Dose indices in
the inputs are 0-based. A bad file is reported naming the case and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import InputError

__all__ = [
    "CASE_SCHEMA",
    "CaseFile",
    "Reference",
    "ReferenceCase",
    "Tolerance",
    "default_case_path",
    "load_cases",
]

CASE_SCHEMA = "dartnk-qualification-cases/1"
_CASE_FIELDS = frozenset(
    {
        "id",
        "method",
        "check",
        "reference",
        "inputs",
        "expected",
        "tolerance",
        "mcmc",
        "note",
        "r_call",
        "r_package",
        "r_version",
    }
)
_REQUIRED = ("id", "method", "check", "reference", "inputs", "expected")
_TOLERANCE_FIELDS = frozenset({"absolute", "relative", "mcse_multiple"})
_REFERENCE_KINDS = frozenset({"paper", "R package", "independent computation"})


@dataclass(frozen=True)
class Tolerance:
    """|obtained - expected| <= absolute + relative |expected| + mcse_multiple x MCSE for
    numbers; every other value (integers with a zero tolerance, text, true/false, none) must
    be equal."""

    absolute: float = 0.0
    relative: float = 0.0
    mcse_multiple: float = 0.0

    def bound(self, expected: float, mcse: float | None = None) -> float:
        """The largest deviation allowed from ``expected``."""
        spread = 0.0 if mcse is None else self.mcse_multiple * mcse
        return self.absolute + self.relative * abs(expected) + spread

    @property
    def exact(self) -> bool:
        return self.absolute == 0.0 and self.relative == 0.0 and self.mcse_multiple == 0.0

    def describe(self) -> str:
        """The tolerance in words for the report: ``exact``, ``±1e-07``, ``±(0.002 + 4 MCSE)``."""
        if self.exact:
            return "exact"
        parts = []
        if self.absolute:
            parts.append(f"{self.absolute:g}")
        if self.relative:
            parts.append(f"{self.relative:g} × |expected|")
        if self.mcse_multiple:
            parts.append(f"{self.mcse_multiple:g} MCSE")
        return f"±{parts[0]}" if len(parts) == 1 else f"±({' + '.join(parts)})"


@dataclass(frozen=True)
class Reference:
    """Where expected values come from: ``kind`` is ``paper``, ``R package`` or
    ``independent computation``; ``citation`` the paper, the package and its version, or
    how the values were computed."""

    id: str
    kind: str
    citation: str


@dataclass(frozen=True)
class ReferenceCase:
    """One reference case: a check of one method on fixed inputs against expected values."""

    id: str
    method: str
    check: str
    reference: str
    inputs: Mapping[str, Any]
    expected: Mapping[str, Any]
    tolerance: Tolerance
    mcmc: bool = False
    note: str | None = None
    r_call: str | None = None
    r_package: str | None = None
    r_version: str | None = None


@dataclass(frozen=True)
class CaseFile:
    """The validated case file: its name, SHA-256, references and cases in file order."""

    name: str
    sha256: str
    about: str
    references: Mapping[str, Reference]
    cases: tuple[ReferenceCase, ...]

    def __len__(self) -> int:
        return len(self.cases)

    def methods(self) -> tuple[str, ...]:
        """The methods, in the order of their first case."""
        return tuple(dict.fromkeys(case.method for case in self.cases))


def default_case_path() -> Path:
    """The shipped case file."""
    return Path(str(resources.files("dartnk.analyses") / "data" / "qualification" / "cases.json"))


def load_cases(path: str | Path | None = None) -> CaseFile:
    """Read and validate a case file (the shipped one by default).

    Raises
    ------
    InputError
        Naming the file and, for a bad case, its id (or position) and the field, with the
        value found and what was expected.
    """
    from .qualification_checks import CHECKS

    file = default_case_path() if path is None else Path(path)
    try:
        data = file.read_bytes()
    except OSError as error:
        raise InputError(f"{file}: cannot read the case file ({error.strerror})") from None
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{file}: the case file is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise InputError(
            f"{file}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    if not isinstance(document, dict):
        raise InputError(f"{file}: expected a JSON object with 'schema', 'references', 'cases'")
    if document.get("schema") != CASE_SCHEMA:
        raise InputError(f"{file}: schema {document.get('schema')!r} is not {CASE_SCHEMA!r}")
    problems: list[str] = []
    references = _references(file, document.get("references"), problems)
    raw_cases = document.get("cases")
    if not isinstance(raw_cases, list) or not raw_cases:
        raise InputError(f"{file}: 'cases' must be a non-empty list of case records")
    cases = []
    seen: set[str] = set()
    for position, record in enumerate(raw_cases, start=1):
        case = _case(file, position, record, references, CHECKS, problems)
        if case is None:
            continue
        if case.id in seen:
            problems.append(f"{file}: case {case.id!r}: the id is used by an earlier case")
            continue
        seen.add(case.id)
        cases.append(case)
    if problems:
        raise InputError("\n".join(problems), problems)
    return CaseFile(
        name=file.name,
        sha256=hashlib.sha256(data).hexdigest(),
        about=str(document.get("about", "")),
        references=MappingProxyType(references),
        cases=tuple(cases),
    )


def _references(file: Path, raw: Any, problems: list[str]) -> dict[str, Reference]:
    if not isinstance(raw, dict) or not raw:
        raise InputError(f"{file}: 'references' must map reference ids to their source")
    references = {}
    for key, value in raw.items():
        where = f"{file}: reference {key!r}"
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object with 'kind' and 'citation'")
            continue
        kind, citation = value.get("kind"), value.get("citation")
        if kind not in _REFERENCE_KINDS:
            problems.append(
                f"{where}: kind {kind!r} is not one of {', '.join(sorted(_REFERENCE_KINDS))}"
            )
            continue
        if not isinstance(citation, str) or not citation.strip():
            problems.append(f"{where}: 'citation' must be non-empty text")
            continue
        references[key] = Reference(id=key, kind=kind, citation=citation)
    return references


def _case(
    file: Path,
    position: int,
    record: Any,
    references: Mapping[str, Reference],
    checks: Mapping[str, Any],
    problems: list[str],
) -> ReferenceCase | None:
    if not isinstance(record, dict):
        problems.append(f"{file}: case {position}: expected an object, got {type(record).__name__}")
        return None
    name = record.get("id")
    where = (
        f"{file}: case {name!r}" if isinstance(name, str) and name else f"{file}: case {position}"
    )
    count = len(problems)
    for field in _REQUIRED:
        if field not in record:
            problems.append(f"{where}: field {field!r} is missing")
    unknown = sorted(set(record) - _CASE_FIELDS)
    if unknown:
        problems.append(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; expected "
            f"{', '.join(sorted(_CASE_FIELDS))}"
        )
    if len(problems) > count:
        return None
    for field in ("id", "method", "check", "reference"):
        if not isinstance(record[field], str) or not record[field].strip():
            problems.append(
                f"{where}: field {field!r} must be non-empty text, got {record[field]!r}"
            )
    if len(problems) > count:
        return None
    check = checks.get(record["check"])
    if check is None:
        problems.append(
            f"{where}: field 'check' is {record['check']!r}, not one of {', '.join(sorted(checks))}"
        )
    if record["reference"] not in references:
        problems.append(
            f"{where}: field 'reference' is {record['reference']!r}, which the file's "
            f"'references' do not define"
        )
    for field in ("inputs", "expected"):
        if not isinstance(record[field], dict) or (field == "expected" and not record[field]):
            problems.append(f"{where}: field {field!r} must be a non-empty object")
    if len(problems) > count:
        return None
    missing = [key for key in check.inputs if key not in record["inputs"]]
    if missing:
        problems.append(f"{where}: field 'inputs' lacks {', '.join(map(repr, missing))}")
    outputs = [key for key in record["expected"] if key not in check.outputs]
    if outputs:
        problems.append(
            f"{where}: field 'expected' names {', '.join(map(repr, outputs))}, which check "
            f"{record['check']!r} does not compute (it gives {', '.join(check.outputs)})"
        )
    bad_value = _first_bad_number(record["expected"])
    if bad_value is not None:
        problems.append(f"{where}: field 'expected' holds {bad_value!r}; expected finite numbers")
    tolerance = _tolerance(where, record.get("tolerance", {}), problems)
    for field in ("note", "r_call", "r_package", "r_version"):
        if field in record and not isinstance(record[field], str):
            problems.append(f"{where}: field {field!r} must be text")
    if "mcmc" in record and not isinstance(record["mcmc"], bool):
        problems.append(f"{where}: field 'mcmc' must be true or false, got {record['mcmc']!r}")
    if len(problems) > count or tolerance is None:
        return None
    return ReferenceCase(
        id=record["id"],
        method=record["method"],
        check=record["check"],
        reference=record["reference"],
        inputs=MappingProxyType(record["inputs"]),
        expected=MappingProxyType(record["expected"]),
        tolerance=tolerance,
        mcmc=bool(record.get("mcmc", False)),
        note=record.get("note"),
        r_call=record.get("r_call"),
        r_package=record.get("r_package"),
        r_version=record.get("r_version"),
    )


def _tolerance(where: str, raw: Any, problems: list[str]) -> Tolerance | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: field 'tolerance' must be an object, got {raw!r}")
        return None
    unknown = sorted(set(raw) - _TOLERANCE_FIELDS)
    if unknown:
        problems.append(
            f"{where}: field 'tolerance' has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"expected {', '.join(sorted(_TOLERANCE_FIELDS))}"
        )
        return None
    values = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            problems.append(
                f"{where}: field 'tolerance' {key} is {value!r}; expected a number >= 0"
            )
            return None
        values[key] = float(value)
    return Tolerance(**values)


def _first_bad_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            bad = _first_bad_number(item)
            if bad is not None:
                return bad
    return None
