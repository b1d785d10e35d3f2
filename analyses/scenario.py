"""Scenarios: the true state of nature a synthetic trial is drawn from.

A :class:`Scenario` holds every number the trial generator needs that the protocol does not
fix: the true DLT probability per construct and dose, when DLTs occur inside the window, the
true response probability, the CAR-NK kinetics, the lot release probability, the antigen
H-score distributions of screened patients, accrual, dropout and survival. Like the
protocol it is a validated, frozen, hashable configuration read from YAML; it names
constructs and dose labels, so :meth:`Scenario.check` verifies it against a protocol
before a trial is simulated.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InputError
from .protocol import AE_CATEGORIES, Protocol, _format_validation_error, _read_yaml

__all__ = [
    "Scenario",
    "ScenarioError",
    "correlation_matrix",
    "default_scenario",
    "load_scenario",
    "scenario_from_dict",
]

Chance = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
DayRange = tuple[NonNegativeInt, NonNegativeInt]

_MAX_COPIES_LOG10 = 6.0
_NORMAL_CLIP = 2.5


class ScenarioError(InputError):
    """A scenario file or object that is not a valid scenario for the protocol."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_range(name: str, value: tuple[int, int]) -> None:
    if value[0] > value[1]:
        raise ValueError(f"{name} must be (shortest, longest), got {list(value)}")


class DLTOnset(_Section):
    """Onset day of a DLT (days from first infusion) inside the window: a mixture of an
    early log-normal part (median ``early_median_day``, log-scale sd ``early_sd_log``,
    truncated before ``late_from_day``) and, with probability ``late_fraction``, a late part
    uniform on ``late_from_day`` to the end of the window, so that late-onset DLTs exist."""

    late_fraction: Chance = 0.3
    late_from_day: PositiveInt = 15
    early_median_day: Positive = 5.0
    early_sd_log: Positive = 0.6


class Toxicity(_Section):
    """True DLT probability (construct -> dose label -> probability), DLT onset, the
    category mix of DLT events, the mean number of background (non-DLT) adverse events per
    patient, and the chance a patient with a DLT goes off study for the adverse event."""

    dlt_probability: dict[str, dict[str, Chance]]
    onset: DLTOnset = DLTOnset()
    dlt_categories: dict[str, Chance]
    background_ae_per_patient: NonNegative = 4.0
    offstudy_after_dlt: Chance = 0.4

    @model_validator(mode="after")
    def _categories(self) -> Toxicity:
        unknown = [c for c in self.dlt_categories if c not in AE_CATEGORIES]
        if unknown:
            raise ValueError(f"dlt_categories: unknown {unknown}; expected some of {AE_CATEGORIES}")
        total = sum(self.dlt_categories.values())
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"dlt_categories must sum to 1, they sum to {total:g}")
        return self


class Response(_Section):
    """True probability of a confirmed objective response (construct -> dose label ->
    probability) and how responses show on RECIST assessments: the fraction of responders
    reaching CR, responding at the first assessment (else at the second), the fraction of
    non-responders with one unconfirmed PR, and the chance an assessment is not evaluable."""

    probability: dict[str, dict[str, Chance]]
    complete_fraction: Chance = 0.25
    first_assessment_fraction: Chance = 0.75
    unconfirmed_fraction: Chance = 0.08
    not_evaluable: Chance = 0.03


class Kinetics(_Section):
    """CAR transgene kinetics, a rise then contraction (the piecewise log-linear shape of
    cellular kinetic models, Stein et al. 2019, CPT Pharmacometrics Syst Pharmacol 8:285-295):
    log10 copies per microgram of genomic DNA rise by ``rise_log10_per_day`` up to Cmax at
    ``tmax_days``, then fall with the construct's half-life. log10 Cmax is set by construct
    and dose with a between-patient sd; the half-life varies between patients on the log
    scale (``half_life_sd_log``); samples carry log10 noise ``sample_sd`` and are taken on
    ``sample_days``. Normal deviates are truncated at 2.5 sd so no value reaches 1e6."""

    log10_cmax: dict[str, dict[str, float]]
    between_patient_sd: NonNegative = 0.35
    sample_sd: NonNegative = 0.12
    tmax_days: Positive = 7.0
    rise_log10_per_day: Positive = 0.35
    half_life_days: dict[str, Positive]
    half_life_sd_log: NonNegative = 0.25
    sample_days: tuple[NonNegativeInt, ...] = (0, 1, 3, 7, 10, 14, 21, 28, 42, 56, 90)

    @model_validator(mode="after")
    def _plausible(self) -> Kinetics:
        days = self.sample_days
        if not days or days[0] != 0 or any(b <= a for a, b in itertools.pairwise(days)):
            raise ValueError(f"sample_days must start at 0 (pre-dose) and increase, got {days}")
        spread = _NORMAL_CLIP * (self.between_patient_sd + self.sample_sd)
        for construct, by_dose in self.log10_cmax.items():
            for dose, value in by_dose.items():
                if value + spread >= _MAX_COPIES_LOG10:
                    raise ValueError(
                        f"log10_cmax {construct} {dose} = {value} allows values of 1e6 copies/ug "
                        f"or more (with {spread:.2f} for variability); check the unit"
                    )
        return self


class Manufacturing(_Section):
    """Lot release probability per construct, days from enrolment (or a failed lot) to the
    release test result, days from release to the first infusion (lymphodepletion runs in
    between), and the largest relative deviation of cells infused from the nominal dose."""

    release_probability: dict[str, Chance]
    turnaround_days: DayRange = (10, 16)
    release_to_infusion_days: DayRange = (5, 9)
    cell_dose_deviation: Annotated[float, Field(ge=0.0, lt=0.2)] = 0.08

    @model_validator(mode="after")
    def _ranges(self) -> Manufacturing:
        _check_range("turnaround_days", self.turnaround_days)
        _check_range("release_to_infusion_days", self.release_to_infusion_days)
        return self


class AntigenDistribution(_Section):
    """IHC H-score of one antigen in screened patients: 0 with probability
    ``zero_fraction``, otherwise 300 x Beta(``beta``), rounded."""

    zero_fraction: Chance
    beta: tuple[Positive, Positive]


class Accrual(_Section):
    """Screening: patients screened per month (Poisson), the ECOG distribution (P(0),
    P(1), ...), and how long a patient eligible only for full arms waits before
    screen-failing."""

    screened_per_month: Positive = 4.5
    ecog_probabilities: tuple[Chance, ...] = (0.40, 0.52, 0.08)
    max_wait_days: NonNegativeInt = 28

    @model_validator(mode="after")
    def _ecog(self) -> Accrual:
        probs = self.ecog_probabilities
        if not 1 <= len(probs) <= 5:
            raise ValueError(f"ecog_probabilities needs 1 to 5 values (ECOG 0-4), got {probs}")
        if not math.isclose(sum(probs), 1.0, abs_tol=1e-9):
            raise ValueError(f"ecog_probabilities must sum to 1, they sum to {sum(probs):g}")
        return self


class FollowUp(_Section):
    """Withdrawal inside the DLT window, the protocol follow-up after which a patient
    without progression completes the study, and, for a trial generated without a
    cut-off, how long after the last first infusion the data are cut."""

    dropout_probability: Chance = 0.10
    max_follow_up_days: PositiveInt = 365
    final_follow_up_days: PositiveInt = 180


class Survival(_Section):
    """Weibull time to progression (non-responders: median ``progression_median_days``;
    responders: after confirmation, median ``response_duration_median_days``), exponential
    death without progression (after the DLT window) and after progression."""

    weibull_shape: Positive = 1.2
    progression_median_days: Positive = 50.0
    response_duration_median_days: Positive = 180.0
    death_without_progression_median_days: Positive = 1000.0
    post_progression_median_days: Positive = 110.0


class Phase2Choice(_Section):
    """Phase 2: a fixed construct id, or ``None`` for the best observed ORR among arms with
    an MTD at the interim, ``selection_delay_days`` after the last arm stops."""

    construct_id: str | None = None
    selection_delay_days: NonNegativeInt = 30


class Scenario(_Section):
    """The truth a synthetic DART-NK-SCLC trial is drawn from.

    ``antigen_correlation`` maps antigen pairs ``A/B`` to the correlation of their
    positivity on the normal scale (a Gaussian copula of the H-scores, so that each H-score
    keeps its own distribution); pairs not given are independent.

    Per-arm numbers are mappings keyed by construct id and dose label, so a scenario reads
    like the protocol and :meth:`check` can name any mismatch. Build one from YAML with
    :func:`load_scenario`, or take the embedded default with :func:`default_scenario`.

    Examples
    --------
    >>> from dartnk.analyses import default_protocol
    >>> from dartnk.analyses.scenario import default_scenario
    >>> scenario = default_scenario()
    >>> scenario.check(default_protocol())
    >>> dlt = scenario.toxicity.dlt_probability
    >>> dlt["B"]["DL4"] > dlt["A"]["DL4"]
    True
    """

    name: str = Field(min_length=1)
    description: str = ""
    toxicity: Toxicity
    response: Response
    kinetics: Kinetics
    manufacturing: Manufacturing
    antigens: dict[str, AntigenDistribution]
    antigen_correlation: dict[str, Annotated[float, Field(gt=-1.0, lt=1.0)]] = {}
    accrual: Accrual = Accrual()
    follow_up: FollowUp = FollowUp()
    survival: Survival = Survival()
    phase2: Phase2Choice = Phase2Choice()

    def check(self, protocol: Protocol) -> None:
        """Verify the scenario names exactly the protocol's constructs, dose labels and
        antigens, fits its DLT window, and allows a DLT of grade 4 or less.

        Raises
        ------
        ScenarioError
            Listing every mismatch with its key path.
        """
        problems: list[str] = []
        ids = list(protocol.construct_ids)
        labels = list(protocol.dose_labels)
        per_dose = {
            "toxicity.dlt_probability": self.toxicity.dlt_probability,
            "response.probability": self.response.probability,
            "kinetics.log10_cmax": self.kinetics.log10_cmax,
        }
        for path, mapping in per_dose.items():
            problems += _key_problems(path, mapping, ids, "constructs")
            for construct, by_dose in mapping.items():
                problems += _key_problems(f"{path}.{construct}", by_dose, labels, "dose labels")
        for path, mapping in {
            "kinetics.half_life_days": self.kinetics.half_life_days,
            "manufacturing.release_probability": self.manufacturing.release_probability,
        }.items():
            problems += _key_problems(path, mapping, ids, "constructs")
        problems += _key_problems("antigens", self.antigens, list(protocol.antigens), "antigens")
        problems += _correlation_problems(self.antigen_correlation, list(protocol.antigens))
        fixed = self.phase2.construct_id
        if fixed is not None and fixed not in ids:
            problems.append(f"phase2.construct_id: {fixed!r} is not one of {ids}")
        window = protocol.dlt_window
        if self.toxicity.onset.late_from_day > window:
            problems.append(
                f"toxicity.onset.late_from_day: {self.toxicity.onset.late_from_day} is after "
                f"the {window}-day DLT window"
            )
        impossible = [
            c
            for c, share in self.toxicity.dlt_categories.items()
            if share > 0 and not _dlt_grades(protocol, c)
        ]
        if impossible:
            problems.append(
                f"toxicity.dlt_categories: {impossible} cannot give a DLT of grade 4 or less "
                f"under the protocol's DLT definition"
            )
        if sum(self.accrual.ecog_probabilities[: protocol.eligibility.max_ecog + 1]) == 0:
            problems.append(
                f"accrual.ecog_probabilities: no screened patient has ECOG <= "
                f"{protocol.eligibility.max_ecog}, so none would be eligible"
            )
        if problems:
            raise ScenarioError(
                f"scenario {self.name!r} does not fit protocol {protocol.name!r}:\n"
                + "\n".join(problems),
                problems,
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary of every setting (defaults included)."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        """The scenario as YAML, every setting spelled out, in a stable key order."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=100)

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON (sorted keys, no whitespace) of every setting."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def summary(self) -> pd.DataFrame:
        """One row per construct x dose: true DLT and response probabilities, log10 Cmax,
        half-life and lot release probability."""
        rows = []
        for construct, by_dose in self.toxicity.dlt_probability.items():
            for dose, p_dlt in by_dose.items():
                rows.append(
                    {
                        "construct": construct,
                        "dose": dose,
                        "dlt_probability": p_dlt,
                        "response_probability": self.response.probability[construct][dose],
                        "log10_cmax": self.kinetics.log10_cmax[construct][dose],
                        "half_life_days": self.kinetics.half_life_days[construct],
                        "release_probability": self.manufacturing.release_probability[construct],
                    }
                )
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        arms = ", ".join(sorted(self.toxicity.dlt_probability))
        return (
            f"Scenario({self.name}: arms {arms}; "
            f"{self.accrual.screened_per_month:g} screened/month; "
            f"hash {self.content_hash[:12]})"
        )

    __str__ = __repr__


def _dlt_grades(protocol: Protocol, category: str) -> tuple[int, ...]:
    """CTCAE grades 1-4 at which an event of ``category`` meets the protocol's DLT
    definition (grade >= ``dlt.min_grade``, or >= 2 in ``dlt.grade2_categories``)."""
    low = 2 if category in protocol.dlt.grade2_categories else protocol.dlt.min_grade
    low = min(low, protocol.dlt.min_grade)
    return tuple(range(max(low, 1), 5))


def correlation_matrix(correlation: dict[str, float], antigens: list[str]) -> np.ndarray:
    """The antigens' correlation matrix of the Gaussian copula from ``A/B: rho`` pairs
    (pairs not given are independent)."""
    matrix = np.eye(len(antigens))
    for pair, value in correlation.items():
        first, second = (antigens.index(name) for name in pair.split("/"))
        matrix[first, second] = matrix[second, first] = value
    return matrix


def _correlation_problems(correlation: dict[str, float], antigens: list[str]) -> list[str]:
    """Keys ``A/B`` naming two different protocol antigens, each pair once, and a positive
    definite correlation matrix."""
    problems = []
    seen: set[frozenset[str]] = set()
    for pair in correlation:
        names = pair.split("/")
        if len(names) != 2 or names[0] == names[1] or any(n not in antigens for n in names):
            problems.append(
                f"antigen_correlation.{pair}: expected a key 'A/B' naming two different "
                f"antigens of {antigens}"
            )
            continue
        key = frozenset(names)
        if key in seen:
            problems.append(f"antigen_correlation.{pair}: this pair of antigens is given twice")
        seen.add(key)
    if not problems and correlation:
        matrix = correlation_matrix(correlation, antigens)
        if np.linalg.eigvalsh(matrix).min() <= 1e-9:
            problems.append(
                f"antigen_correlation: {dict(correlation)} is not a valid correlation matrix "
                f"(it must be positive definite)"
            )
    return problems


def _key_problems(path: str, mapping: dict[str, Any], expected: list[str], what: str) -> list[str]:
    missing = [k for k in expected if k not in mapping]
    extra = [k for k in mapping if k not in expected]
    problems = []
    if missing:
        problems.append(f"{path}: missing {what} {missing}")
    if extra:
        problems.append(f"{path}: {extra} are not among the protocol's {what} {expected}")
    return problems


def scenario_from_dict(data: Any, *, source: str = "scenario") -> Scenario:
    """Validate a mapping into a :class:`Scenario`; :class:`ScenarioError` lists every
    problem with its key path and value."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: expected a mapping of scenario settings, got {data!r}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(_format_validation_error(error, source)) from None


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read and validate a scenario YAML file (the embedded default when ``path`` is None).

    Raises
    ------
    ScenarioError
        If the file is missing, binary, not UTF-8 text, not YAML, or fails validation.
    """
    if path is None:
        return default_scenario()
    path = Path(path)
    return scenario_from_dict(_read_yaml(path, "scenario", ScenarioError), source=str(path))


_DEFAULT_NAME = "scenario_default.yaml"


def default_scenario() -> Scenario:
    """The embedded plausible CAR-NK scenario for the DART-NK-SCLC protocol: low DLT rates
    rising with dose (construct B more toxic at DL3 and DL4), ORR 10-40%, 40-65% of
    screened patients eligible per arm, about 3.5 enrolments a month, 10% withdrawal in the
    DLT window and lot release of 86-92%."""
    text = resources.files("dartnk.analyses").joinpath("data", _DEFAULT_NAME).read_text("utf-8")
    return scenario_from_dict(yaml.safe_load(text), source=f"embedded {_DEFAULT_NAME}")
