"""Method qualification: rerun every reference case on this machine and compare.

:func:`qualify` runs each case of the case file (:mod:`dartnk.analyses.qualification_cases`)
through dartnk's public API (:mod:`dartnk.analyses.qualification_checks`), compares what it
obtains with the expected values within the case's tolerance, and returns a
:class:`Qualification`: one row per case in :meth:`Qualification.summary`, one per method in
:meth:`Qualification.method_summary`, with the machine's environment and the SHA-256 of the
case file. :func:`qualification_document` (:mod:`dartnk.analyses.qualification_report`)
turns it into a report. Nothing here reads a clock: the same case file on the same machine
gives the same result, byte for byte.

References
----------
The references of each case are in the case file: the papers (Storer 1989; Liu and Yuan
2015; Yuan et al. 2018; Simon 1989; Lee and Liu 2008; Neuenschwander, Branson and Gsponer
2008; Eisenhauer et al. 2009), the R packages BOIN, dfcrm and clinfun with their versions,
and independent computations (exact enumeration, adaptive quadrature, direct summation).
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from .qualification_cases import CaseFile, ReferenceCase, load_cases

__all__ = [
    "ENVIRONMENT_PACKAGES",
    "CaseResult",
    "Qualification",
    "compare",
    "environment",
    "qualify",
]

ENVIRONMENT_PACKAGES: tuple[str, ...] = ("dartnk", "numpy", "scipy", "pymc", "pytensor", "arviz")
RESULT_SCHEMA = "dartnk-qualification-results/1"
PASSED, FAILED, NOT_RUN = "pass", "FAIL", "not run"


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case.

    ``status`` is ``pass``, ``FAIL`` or ``not run`` (an MCMC case in a quick run);
    ``obtained`` and ``mcse`` hold the values computed for the expected quantities (None
    when the case did not run or raised); ``deviation`` is the largest |obtained -
    expected| over its numbers (None without numbers); ``message`` says what differed.
    """

    case: ReferenceCase
    status: str
    obtained: Mapping[str, Any] | None
    mcse: Mapping[str, Any] | None
    deviation: float | None
    message: str

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass(frozen=True)
class Qualification:
    """Every case's outcome, with the case file, the environment and the run's mode."""

    cases: CaseFile
    results: tuple[CaseResult, ...]
    environment: Mapping[str, str]
    quick: bool

    @property
    def failures(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if r.status == FAILED)

    @property
    def passed(self) -> bool:
        """True when no case that ran failed."""
        return not self.failures

    @property
    def counts(self) -> dict[str, int]:
        """Cases in the file, run, passed, failed and not run."""
        statuses = [r.status for r in self.results]
        return {
            "cases": len(statuses),
            "run": len(statuses) - statuses.count(NOT_RUN),
            "passed": statuses.count(PASSED),
            "failed": statuses.count(FAILED),
            "not_run": statuses.count(NOT_RUN),
        }

    def summary(self) -> pd.DataFrame:
        """One row per case: ``case``, ``method``, ``reference``, ``status``,
        ``deviation``, ``message``."""
        return pd.DataFrame(
            {
                "case": [r.case.id for r in self.results],
                "method": [r.case.method for r in self.results],
                "reference": [r.case.reference for r in self.results],
                "status": [r.status for r in self.results],
                "deviation": [r.deviation for r in self.results],
                "message": [r.message for r in self.results],
            }
        )

    def method_summary(self) -> pd.DataFrame:
        """One row per method, in the case file's order: ``method``, ``cases``, ``passed``,
        ``failed``, ``not_run``, ``references`` (their ids) and ``largest_deviation``."""
        rows = []
        for method in self.cases.methods():
            group = [r for r in self.results if r.case.method == method]
            deviations = [r.deviation for r in group if r.deviation is not None]
            rows.append(
                {
                    "method": method,
                    "cases": len(group),
                    "passed": sum(r.status == PASSED for r in group),
                    "failed": sum(r.status == FAILED for r in group),
                    "not_run": sum(r.status == NOT_RUN for r in group),
                    "references": ", ".join(dict.fromkeys(r.case.reference for r in group)),
                    "largest_deviation": max(deviations) if deviations else None,
                }
            )
        return pd.DataFrame(rows)

    def to_json(self) -> str:
        """Every case with its inputs, expected and obtained values, MCSE, tolerance and
        status, the counts, the environment and the case file's SHA-256, as JSON text with
        sorted keys (byte-stable)."""
        cases = []
        for r in self.results:
            case = r.case
            cases.append(
                {
                    "id": case.id,
                    "method": case.method,
                    "check": case.check,
                    "reference": case.reference,
                    "inputs": dict(case.inputs),
                    "expected": dict(case.expected),
                    "obtained": None if r.obtained is None else dict(r.obtained),
                    "mcse": None if r.mcse is None else dict(r.mcse),
                    "tolerance": case.tolerance.describe(),
                    "status": r.status,
                    "deviation": r.deviation,
                    "message": r.message,
                }
            )
        document = {
            "schema": RESULT_SCHEMA,
            "quick": self.quick,
            "case_file": {"name": self.cases.name, "sha256": self.cases.sha256},
            "counts": self.counts,
            "environment": dict(self.environment),
            "cases": cases,
        }
        return json.dumps(document, indent=1, sort_keys=True, allow_nan=False) + "\n"

    def __repr__(self) -> str:
        c = self.counts
        mode = "quick run" if self.quick else "full run"
        return (
            f"Qualification ({mode}): {c['passed']} of {c['run']} cases pass, {c['failed']} "
            f"fail, {c['not_run']} not run\n{self.method_summary().to_string(index=False)}"
        )


def environment() -> dict[str, str]:
    """Python and package versions, the platform and the CPU of this machine (no clock,
    no host name)."""
    values = {"python": platform.python_version()}
    for name in ENVIRONMENT_PACKAGES:
        try:
            values[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            values[name] = "not installed"
    values["platform"] = platform.platform()
    values["machine"] = platform.machine()
    values["cpu"] = _cpu_name()
    values["cpu_count"] = str(os.cpu_count())
    return values


def _cpu_name() -> str:
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def qualify(
    cases: CaseFile | str | Path | None = None,
    *,
    quick: bool = False,
    only: Sequence[str] | None = None,
    progress: Callable[[ReferenceCase, CaseResult], None] | None = None,
) -> Qualification:
    """Run the reference cases and compare them with their expected values.

    Parameters
    ----------
    cases : CaseFile, path or None
        The cases (:func:`~dartnk.analyses.qualification_cases.load_cases`); the shipped
        case file when None.
    quick : bool, default False
        Leave out the MCMC cases (they are reported as not run).
    only : sequence of str, optional
        Run only the cases with these ids (the others are not run).
    progress : callable, optional
        Called with each case and its result as it completes.

    Returns
    -------
    Qualification
        A check that raises an error fails its case, with the error as its message.

    Examples
    --------
    >>> from dartnk.analyses import qualify
    >>> result = qualify(quick=True, only=["recist-confirmed-pr"])
    >>> result.counts["passed"]
    1
    """
    case_file = cases if isinstance(cases, CaseFile) else load_cases(cases)
    from .qualification_checks import CHECKS

    wanted = None if only is None else set(only)
    results = []
    for case in case_file.cases:
        if (quick and case.mcmc) or (wanted is not None and case.id not in wanted):
            reason = "MCMC case, left out of the quick run" if case.mcmc and quick else "not run"
            result = CaseResult(case, NOT_RUN, None, None, None, reason)
        else:
            result = _run_case(case, CHECKS[case.check].run)
        results.append(result)
        if progress is not None:
            progress(case, result)
    return Qualification(
        cases=case_file, results=tuple(results), environment=environment(), quick=quick
    )


def _run_case(case: ReferenceCase, run: Callable[[Mapping[str, Any]], Any]) -> CaseResult:
    try:
        obtained = run(case.inputs)
    except Exception as error:
        return CaseResult(case, FAILED, None, None, None, f"{type(error).__name__}: {error}")
    values = {key: obtained.values.get(key) for key in case.expected}
    missing = [key for key in case.expected if key not in obtained.values]
    if missing:
        return CaseResult(
            case, FAILED, values, None, None, f"the check gave no value for {', '.join(missing)}"
        )
    mcse = None
    if obtained.mcse is not None:
        mcse = {key: obtained.mcse.get(key) for key in case.expected}
    problems: list[str] = []
    deviation = compare(case.expected, values, case.tolerance, mcse, problems)
    status = FAILED if problems else PASSED
    message = "; ".join(problems[:3]) + (
        f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
    )
    return CaseResult(case, status, values, mcse, deviation, message)


def compare(
    expected: Any,
    obtained: Any,
    tolerance: Any,
    mcse: Any = None,
    problems: list[str] | None = None,
    where: str = "",
) -> float | None:
    """Compare ``obtained`` with ``expected`` (nested mappings and lists of numbers, text,
    true/false and None), appending one line per difference to ``problems``.

    Numbers agree when |obtained - expected| <= ``tolerance.bound(expected, mcse)``; every
    other value must be equal (None matches None or NaN). Returns the largest absolute
    deviation over the numbers compared (None when there were none).
    """
    problems = [] if problems is None else problems
    if isinstance(expected, Mapping):
        if not isinstance(obtained, Mapping):
            problems.append(f"{where or 'value'}: expected a set of values, got {obtained!r}")
            return None
        worst = None
        for key, value in expected.items():
            error = None if not isinstance(mcse, Mapping) else mcse.get(key)
            label = f"{where}.{key}" if where else str(key)
            found = compare(value, obtained.get(key), tolerance, error, problems, label)
            worst = _larger(worst, found)
        return worst
    if isinstance(expected, list):
        if not isinstance(obtained, list | tuple) or len(obtained) != len(expected):
            size = len(obtained) if isinstance(obtained, list | tuple) else "no"
            problems.append(f"{where}: expected {len(expected)} values, got {size}")
            return None
        worst = None
        errors = mcse if isinstance(mcse, list | tuple) else [None] * len(expected)
        for i, (value, found) in enumerate(zip(expected, obtained, strict=True)):
            worst = _larger(
                worst, compare(value, found, tolerance, errors[i], problems, f"{where}[{i}]")
            )
        return worst
    if expected is None:
        if not (obtained is None or (isinstance(obtained, float) and math.isnan(obtained))):
            problems.append(f"{where}: expected none, got {obtained!r}")
        return None
    if isinstance(expected, bool) or isinstance(expected, str):
        if obtained != expected or type(obtained) is not type(expected):
            problems.append(f"{where}: expected {expected!r}, got {obtained!r}")
        return None
    if isinstance(expected, int | float):
        if isinstance(obtained, bool) or not isinstance(obtained, int | float):
            problems.append(f"{where}: expected {expected!r}, got {obtained!r}")
            return None
        deviation = abs(float(obtained) - float(expected))
        if math.isnan(deviation) or deviation > tolerance.bound(float(expected), mcse):
            problems.append(
                f"{where}: expected {expected:.8g}, got {obtained:.8g} (deviation "
                f"{deviation:.2g} > {tolerance.bound(float(expected), mcse):.2g})"
            )
        return deviation
    problems.append(f"{where}: cannot compare expected value {expected!r}")
    return None


def _larger(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
