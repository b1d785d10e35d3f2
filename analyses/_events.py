"""What a patient's course shows in the tables besides lots and assessments: infusions,
adverse events (a DLT from the scenario's category mix, and background events from a
catalogue of CAR-NK and lymphodepletion toxicities) and CAR transgene kinetics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .protocol import Protocol
from .scenario import _NORMAL_CLIP, Scenario, _dlt_grades

if TYPE_CHECKING:
    from ._course import Course, Truth

__all__ = ["EventCatalogue", "add_adverse_events", "add_infusions", "add_kinetics"]

_DLT_TERMS: dict[str, tuple[str, ...]] = {
    "CRS": ("Cytokine release syndrome",),
    "ICANS": ("Immune effector cell-associated neurotoxicity syndrome",),
    "infusion reaction": ("Infusion related reaction",),
    "cytopenia": ("Neutrophil count decreased", "Febrile neutropenia", "Platelet count decreased"),
    "infection": ("Pneumonia", "Sepsis", "Lung infection"),
    "other": ("Hypotension", "Alanine aminotransferase increased", "Hypoxia"),
}
_DLT_GRADE_WEIGHT = {1: 0.3, 2: 0.55, 3: 0.35, 4: 0.10}

_BACKGROUND: tuple[tuple[str, str, float, int, int], ...] = (
    ("other", "Nausea", 3.0, -5, 3),
    ("other", "Fatigue", 4.0, -5, 60),
    ("other", "Pyrexia", 2.0, 0, 21),
    ("other", "Headache", 1.5, 0, 28),
    ("other", "Decreased appetite", 1.5, -3, 45),
    ("other", "Hypokalemia", 1.0, 0, 60),
    ("other", "Alanine aminotransferase increased", 1.0, 0, 60),
    ("CRS", "Cytokine release syndrome", 2.5, 0, 10),
    ("ICANS", "Immune effector cell-associated neurotoxicity syndrome", 0.5, 1, 14),
    ("infusion reaction", "Infusion related reaction", 1.5, 0, 0),
    ("cytopenia", "Anemia", 2.0, 0, 42),
    ("cytopenia", "Neutrophil count decreased", 2.0, 0, 21),
    ("cytopenia", "Platelet count decreased", 1.5, 0, 28),
    ("cytopenia", "Lymphocyte count decreased", 2.5, -2, 14),
    ("infection", "Upper respiratory infection", 1.5, 7, 90),
    ("infection", "Urinary tract infection", 1.0, 7, 90),
)
_EXPECTED_SEVERE = "Lymphocyte count decreased"
_MAX_BACKGROUND = 40


@dataclass(frozen=True)
class EventCatalogue:
    """DLT categories with their probabilities and the grades that meet the protocol's DLT
    definition, and the background catalogue's shares and grade caps."""

    dlt_categories: tuple[str, ...]
    dlt_category_probs: np.ndarray
    dlt_grades: dict[str, tuple[np.ndarray, np.ndarray]]
    background_grade_cap: dict[str, int]
    background_probs: np.ndarray

    @classmethod
    def build(cls, protocol: Protocol, scenario: Scenario) -> EventCatalogue:
        """Lay out the scenario's DLT mix under the protocol's DLT definition."""
        categories = tuple(scenario.toxicity.dlt_categories)
        grades = {}
        for category in categories:
            allowed = np.array(_dlt_grades(protocol, category), dtype=np.int64)
            weights = np.array([_DLT_GRADE_WEIGHT[g] for g in allowed])
            grades[category] = (allowed, weights / weights.sum())
        cap = {
            category: max(1, min(_dlt_grades(protocol, category), default=5) - 1)
            for category in _DLT_TERMS
        }
        background = np.array([row[2] for row in _BACKGROUND])
        return cls(
            dlt_categories=categories,
            dlt_category_probs=np.array([scenario.toxicity.dlt_categories[c] for c in categories]),
            dlt_grades=grades,
            background_grade_cap=cap,
            background_probs=background / background.sum(),
        )


def _sig3(value: float) -> float:
    return float(f"{value:.3g}")


def add_infusions(
    protocol: Protocol, course: Course, factors: np.ndarray, dlt_onset: int | None
) -> None:
    """Cycle 1 (held after a DLT) and, for responders without DLT, cycle 2."""
    schedule = protocol.schedule
    nominal = protocol.doses[course.dose]
    second = (
        schedule.max_cycles >= 2
        and course.responder
        and not course.dlt
        and course.off_day > schedule.cycle_length_days
    )
    cycles = (1, 2) if second else (1,)
    i = 0
    for cycle in cycles:
        for offset in schedule.infusion_days:
            day = (cycle - 1) * schedule.cycle_length_days + offset
            if day > course.off_day:
                continue
            given = dlt_onset is None or day <= dlt_onset
            course.infusions.append((cycle, day, _sig3(nominal * factors[i]), given))
            i += 1


def add_adverse_events(
    protocol: Protocol,
    scenario: Scenario,
    catalogue: EventCatalogue,
    rng: np.random.Generator,
    course: Course,
    dlt_onset: int | None,
) -> None:
    """The DLT event (if any) and background adverse events up to going off study;
    background events stay below the DLT grades of their category, except the expected
    lymphopenia of lymphodepletion."""
    index = rng.choice(len(catalogue.dlt_categories), p=catalogue.dlt_category_probs)
    category = catalogue.dlt_categories[index]
    grades, weights = catalogue.dlt_grades[category]
    grade = int(rng.choice(grades, p=weights))
    terms = _DLT_TERMS[category]
    term = terms[int(rng.integers(len(terms)))]
    if dlt_onset is not None:
        course.events.append((term, category, grade, dlt_onset, True))
    count = min(int(rng.poisson(scenario.toxicity.background_ae_per_patient)), _MAX_BACKGROUND)
    rows = rng.choice(len(_BACKGROUND), size=_MAX_BACKGROUND, p=catalogue.background_probs)
    position = rng.random(_MAX_BACKGROUND)
    high = rng.random(_MAX_BACKGROUND) < 0.3
    first_day = min(protocol.schedule.lymphodepletion_days)
    infusion_days = [day for _, day, _, given in course.infusions if given]
    for i in range(count):
        category, term, _, lo, hi = _BACKGROUND[rows[i]]
        if category == "infusion reaction":
            onset = infusion_days[int(position[i] * len(infusion_days))]
        else:
            onset = max(first_day, lo + int(position[i] * (hi - lo + 1)))
        if onset > course.off_day:
            continue
        if term == _EXPECTED_SEVERE:
            grade = 4 if high[i] else 3
        else:
            grade = min(2 if high[i] else 1, catalogue.background_grade_cap[category])
        course.events.append((term, category, grade, onset, False))


def add_kinetics(
    protocol: Protocol,
    scenario: Scenario,
    truth: Truth,
    rng: np.random.Generator,
    course: Course,
) -> None:
    """CAR transgene samples on the kinetics curve (rise, then contraction), NaN below the
    LLOQ."""
    kinetics = scenario.kinetics
    z_cmax, z_half = np.clip(rng.standard_normal(2), -_NORMAL_CLIP, _NORMAL_CLIP)
    noise = np.clip(rng.standard_normal(len(kinetics.sample_days)), -_NORMAL_CLIP, _NORMAL_CLIP)
    peak = truth.log10_cmax[course.arm, course.dose] + kinetics.between_patient_sd * z_cmax
    half_life = truth.half_life[course.arm] * math.exp(kinetics.half_life_sd_log * z_half)
    decline = math.log10(2) / half_life
    lloq = protocol.pk.lloq_copies_per_ug
    for i, day in enumerate(kinetics.sample_days):
        if day > course.off_day:
            break
        if day == 0:
            course.pk.append((0, math.nan))
            continue
        if day < kinetics.tmax_days:
            level = peak - kinetics.rise_log10_per_day * (kinetics.tmax_days - day)
        else:
            level = peak - decline * (day - kinetics.tmax_days)
        value = _sig3(10 ** (level + kinetics.sample_sd * noise[i]))
        course.pk.append((day, value if value >= lloq else math.nan))
