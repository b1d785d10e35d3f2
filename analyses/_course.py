"""One synthetic patient: screening characteristics and the whole course after enrolment.

Every draw for a patient comes from that patient's own child of each random stream (keyed
by the screening index), and each stream draws a fixed number of variates in a fixed order
whatever the outcome. So a patient's latent DLT, response, kinetics, lots and survival do
not move when another part of the scenario changes: the scenarios of a comparison share
common random numbers patient by patient.

A course is complete and uncensored (study days for enrolment, lots and the first
infusion; days from the first infusion for everything else); the export cuts it at a
data cut-off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._events import EventCatalogue, add_adverse_events, add_infusions, add_kinetics
from .protocol import Protocol
from .scenario import Scenario

__all__ = ["STREAMS", "Course", "Lot", "Screening", "Streams", "Truth", "draw_course", "screen"]

STREAMS: tuple[str, ...] = (
    "accrual",
    "antigens",
    "manufacturing",
    "toxicity",
    "response",
    "pk",
    "survival",
    "follow_up",
)


class Streams:
    """Independent random streams of one trial, from one seed.

    The seed's SeedSequence has one child per name in :data:`STREAMS` (the children
    ``spawn`` would give, built without changing a SeedSequence passed in);
    ``patient(name, k)`` is the generator of stream ``name`` for the patient screened k-th
    (a grandchild, so it can be built in any order).
    """

    def __init__(self, seed: int | np.random.SeedSequence) -> None:
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.root = root
        self._children = {name: _child(root, i) for i, name in enumerate(STREAMS)}

    def stream(self, name: str) -> np.random.Generator:
        """The generator of a whole stream (used for accrual)."""
        return np.random.default_rng(self._children[name])

    def patient(self, name: str, k: int) -> np.random.Generator:
        """The generator of stream ``name`` for the k-th screened patient."""
        return np.random.default_rng(_child(self._children[name], k))


def _child(parent: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """The ``index``-th child ``parent.spawn`` would give, without changing ``parent``."""
    return np.random.SeedSequence(
        parent.entropy, spawn_key=(*parent.spawn_key, index), pool_size=parent.pool_size
    )


@dataclass(frozen=True)
class Truth:
    """The scenario as arrays aligned to the protocol (construct x 0-based dose)."""

    dlt: np.ndarray
    response: np.ndarray
    log10_cmax: np.ndarray
    half_life: np.ndarray
    release: np.ndarray
    construct_antigens: np.ndarray
    events: EventCatalogue

    @classmethod
    def build(cls, protocol: Protocol, scenario: Scenario) -> Truth:
        """Check the scenario against the protocol and lay it out as arrays."""
        scenario.check(protocol)
        ids, labels = protocol.construct_ids, protocol.dose_labels

        def grid(mapping: dict[str, dict[str, float]]) -> np.ndarray:
            return np.array([[mapping[c][d] for d in labels] for c in ids], dtype=float)

        return cls(
            dlt=grid(scenario.toxicity.dlt_probability),
            response=grid(scenario.response.probability),
            log10_cmax=grid(scenario.kinetics.log10_cmax),
            half_life=np.array([scenario.kinetics.half_life_days[c] for c in ids]),
            release=np.array([scenario.manufacturing.release_probability[c] for c in ids]),
            construct_antigens=np.array(
                [[protocol.antigens.index(a) for a in c.antigens] for c in protocol.constructs]
            ),
            events=EventCatalogue.build(protocol, scenario),
        )


@dataclass(frozen=True)
class Screening:
    """A screened patient: arrival study day, H-score per protocol antigen, ECOG."""

    index: int
    day: int
    hscores: tuple[int, ...]
    ecog: int


def screen(streams: Streams, scenario: Scenario, protocol: Protocol, k: int, day: int) -> Screening:
    """Draw the k-th screened patient's antigen H-scores and ECOG performance status.

    With ``antigen_correlation`` the H-scores are joined by a Gaussian copula: correlated
    normals z give u = Phi(z), an H-score of 0 when u < zero_fraction and otherwise
    300 x the Beta quantile of (u - zero_fraction) / (1 - zero_fraction), so that each
    H-score keeps its own distribution."""
    rng = streams.patient("antigens", k)
    scores = []
    if scenario.antigen_correlation:
        scores = _correlated_scores(rng, scenario, protocol)
    for antigen in protocol.antigens if not scores else ():
        dist = scenario.antigens[antigen]
        zero = rng.random() < dist.zero_fraction
        value = rng.beta(*dist.beta)
        scores.append(0 if zero else int(np.rint(300 * value)))
    probs = np.asarray(scenario.accrual.ecog_probabilities)
    ecog = int(rng.choice(probs.size, p=probs / probs.sum()))
    return Screening(index=k, day=day, hscores=tuple(scores), ecog=ecog)


def _correlated_scores(
    rng: np.random.Generator, scenario: Scenario, protocol: Protocol
) -> list[int]:
    from scipy.stats import beta, norm

    from .scenario import correlation_matrix

    antigens = list(protocol.antigens)
    factor = np.linalg.cholesky(correlation_matrix(dict(scenario.antigen_correlation), antigens))
    u = norm.cdf(factor @ rng.standard_normal(len(antigens)))
    scores = []
    for antigen, value in zip(antigens, u, strict=True):
        dist = scenario.antigens[antigen]
        if value < dist.zero_fraction:
            scores.append(0)
            continue
        share = (value - dist.zero_fraction) / (1.0 - dist.zero_fraction)
        scores.append(int(np.rint(300 * beta.ppf(share, *dist.beta))))
    return scores


@dataclass
class Lot:
    """A product lot: release decision, quality attributes and study day of the result."""

    released: bool
    viability_pct: float
    car_positive_pct: float
    test_day: int
    lot_id: str = ""


@dataclass
class Course:
    """The whole course of one enrolled patient (see the module docstring for days)."""

    patient_id: str
    arm: int
    dose: int
    phase: int
    screening: Screening
    enrolled_day: int
    lots: list[Lot]
    first_infusion_day: int | None
    failure_day: int | None
    resolution_day: int
    dlt_evaluable: bool
    dlt: bool
    responder: bool = False
    off_day: int | None = None
    off_reason: str | None = None
    confirmed_day: int | None = None
    infusions: list[tuple[int, int, float, bool]] = field(default_factory=list)
    events: list[tuple[str, str, int, int, bool]] = field(default_factory=list)
    assessments: list[tuple[int, str]] = field(default_factory=list)
    pk: list[tuple[int, float]] = field(default_factory=list)
    pfs_time: int = 0
    os_time: int = 0
    pfs_follow_end: float = math.inf
    os_follow_end: float = math.inf


def _lots(
    rng: np.random.Generator, p_release: float, protocol: Protocol, scenario: Scenario
) -> tuple[list[tuple[bool, int, float, float]], int, np.ndarray]:
    """Two candidate lots (release, turnaround, viability, CAR+), the release-to-infusion
    gap and the cell-count factors of up to two cycles of infusions."""
    spec = protocol.manufacturing
    lo, hi = scenario.manufacturing.turnaround_days
    draws = []
    for _ in range(2):
        passed = rng.random() < p_release
        turnaround = int(rng.integers(lo, hi + 1))
        cause = rng.choice(3, p=[0.4, 0.4, 0.2])
        u_viability, u_car = rng.uniform(0.1, 0.9, size=2)
        f_viability, f_car = rng.uniform(0.55, 0.97, size=2)
        viability = spec.min_viability_pct + (100 - spec.min_viability_pct) * u_viability
        car = spec.min_car_positive_pct + (100 - spec.min_car_positive_pct) * 0.6 * u_car
        if not passed and cause == 0 and spec.min_viability_pct > 0:
            viability = spec.min_viability_pct * f_viability
        elif not passed and cause == 1 and spec.min_car_positive_pct > 0:
            car = spec.min_car_positive_pct * f_car
        draws.append((passed, turnaround, round(viability, 1), round(car, 1)))
    gap_lo, gap_hi = scenario.manufacturing.release_to_infusion_days
    gap = int(rng.integers(gap_lo, gap_hi + 1))
    deviation = scenario.manufacturing.cell_dose_deviation
    factors = rng.uniform(
        1 - deviation, 1 + deviation, size=2 * len(protocol.schedule.infusion_days)
    )
    return draws, gap, factors


def _onset(rng: np.random.Generator, scenario: Scenario, window: int) -> int:
    onset = scenario.toxicity.onset
    late = rng.random() < onset.late_fraction
    late_day = int(rng.integers(onset.late_from_day, window + 1))
    early_day = rng.lognormal(math.log(onset.early_median_day), onset.early_sd_log)
    early_day = int(min(max(round(early_day), 0), onset.late_from_day - 1))
    return late_day if late else early_day


def draw_course(
    protocol: Protocol,
    scenario: Scenario,
    truth: Truth,
    streams: Streams,
    screening: Screening,
    *,
    patient_id: str,
    arm: int,
    dose: int,
    phase: int,
    enrolled_day: int,
) -> Course:
    """Simulate everything that happens to a patient enrolled on ``arm`` at 0-based
    ``dose`` on study day ``enrolled_day``."""
    k = screening.index
    window = protocol.dlt_window
    draws, gap, factors = _lots(
        streams.patient("manufacturing", k), truth.release[arm], protocol, scenario
    )
    lots, day = [], enrolled_day
    first_infusion = failure = None
    for passed, turnaround, viability, car in draws:
        day += turnaround
        lots.append(Lot(passed, viability, car, day))
        if passed:
            first_infusion = day + gap
            break
    else:
        failure = day
    enrolment = {
        "patient_id": patient_id,
        "arm": arm,
        "dose": dose,
        "phase": phase,
        "screening": screening,
        "enrolled_day": enrolled_day,
        "lots": lots,
    }
    if first_infusion is None:
        return Course(
            **enrolment,
            first_infusion_day=None,
            failure_day=failure,
            resolution_day=failure,
            dlt_evaluable=False,
            dlt=False,
        )
    tox = streams.patient("toxicity", k)
    has_dlt = tox.random() < truth.dlt[arm, dose]
    onset = _onset(tox, scenario, window)
    follow = streams.patient("follow_up", k)
    withdraws = follow.random() < scenario.follow_up.dropout_probability
    withdrawal_day = int(follow.integers(1, window + 1))
    off_after_dlt = follow.random() < scenario.toxicity.offstudy_after_dlt
    ae_delay = int(follow.integers(1, 8))
    dlt = bool(has_dlt and (not withdraws or onset <= withdrawal_day))
    course = Course(
        **enrolment,
        first_infusion_day=first_infusion,
        failure_day=None,
        resolution_day=0,
        dlt_evaluable=False,
        dlt=dlt,
    )
    candidates = []
    if withdraws:
        candidates.append((withdrawal_day, 3, "withdrawal"))
    if dlt and off_after_dlt:
        candidates.append((onset + ae_delay, 2, "adverse event"))
    _response_and_survival(protocol, scenario, truth, streams, course, candidates)
    course.resolution_day = first_infusion + min(onset if dlt else window, course.off_day) + 1
    course.dlt_evaluable = dlt or course.off_day >= window
    add_infusions(protocol, course, factors, onset if dlt else None)
    add_adverse_events(protocol, scenario, truth.events, tox, course, onset if dlt else None)
    add_kinetics(protocol, scenario, truth, streams.patient("pk", k), course)
    return course


def _response_and_survival(
    protocol: Protocol,
    scenario: Scenario,
    truth: Truth,
    streams: Streams,
    course: Course,
    candidates: list[tuple[int, int, str]],
) -> None:
    """Latent response, progression and death; going off study at the earliest of the
    ``candidates`` (day, precedence, reason); the RECIST assessments up to then."""
    k, arm, dose = course.screening.index, course.arm, course.dose
    window = protocol.dlt_window
    interval = protocol.assessments.interval_days
    max_follow = scenario.follow_up.max_follow_up_days
    resp = streams.patient("response", k)
    responder = bool(resp.random() < truth.response[arm, dose])
    course.responder = responder
    first = 1 if resp.random() < scenario.response.first_assessment_fraction else 2
    complete = resp.random() < scenario.response.complete_fraction
    transient = resp.random() < scenario.response.unconfirmed_fraction
    not_evaluable = resp.random(max_follow // interval + 2) < scenario.response.not_evaluable
    surv = streams.patient("survival", k)
    sv = scenario.survival
    weibull = surv.weibull(sv.weibull_shape) / math.log(2) ** (1 / sv.weibull_shape)
    death_draw = surv.exponential(1.0 / math.log(2))
    post_draw = surv.exponential(1.0 / math.log(2))
    confirm = first + math.ceil(protocol.assessments.confirmation_days / interval)
    if responder:
        start = confirm * interval
        progression = start + sv.response_duration_median_days * weibull
        death = start + sv.death_without_progression_median_days * death_draw
    else:
        progression = sv.progression_median_days * weibull
        death = window + sv.death_without_progression_median_days * death_draw
    pd_day = max(1, math.ceil(progression / interval)) * interval
    death_day = max(window + 1, math.ceil(death))
    if death_day <= pd_day:
        candidates.append((death_day, 0, "death"))
        event, os_time = death_day, death_day
    else:
        candidates.append((pd_day, 1, "progression"))
        event = pd_day
        os_time = pd_day + max(1, math.ceil(sv.post_progression_median_days * post_draw))
    candidates.append((max_follow, 4, "completed"))
    off_day, _, reason = min(candidates)
    course.off_day, course.off_reason = off_day, reason
    course.pfs_time, course.os_time = event, os_time
    if reason in ("withdrawal", "adverse event", "completed"):
        course.pfs_follow_end = off_day
    if reason == "withdrawal":
        course.os_follow_end = off_day
    progressed = reason == "progression"
    m = 1
    while m * interval <= off_day:
        day = m * interval
        if progressed and day == pd_day:
            response = "PD"
        elif responder and m >= first:
            response = "CR" if complete and m > first else "PR"
        elif transient and progressed and day + interval == pd_day:
            response = "PR"
        else:
            response = "SD"
        if response != "PD" and not (responder and first <= m <= confirm) and not_evaluable[m]:
            response = "NE"
        course.assessments.append((day, response))
        m += 1
    if responder and confirm * interval <= off_day:
        course.confirmed_day = confirm * interval
