"""The simulated patients of a block of trials: latent draws, and what they mean under a
scenario.

Every random number of a trial comes from its block's seed
(:func:`~dartnk.analyses.simulation_blocks.block_seed`), drawn in a fixed order and a fixed
amount whatever the scenario or the design: one stream of screened patients per trial
(arrival gaps and one uniform for the eligibility pattern each) and one set of latent
variables per patient slot of each arm and of the expansion. Designs and scenarios of one
run therefore share their patients (common random numbers): slot j of arm A is the same
patient under the 3+3 and under the CRM, and has a DLT at dose d when the same uniform is
below the scenario's DLT rate at d.

A uniform is reused by conditioning where a draw needs two: given u < p, u / p is again
uniform on (0, 1) and independent of the event, and given u >= p so is (u - p) / (1 - p).
The integer day counts of manufacturing (two lot turnarounds and the release-to-infusion
gap) come from one uniform by successive digits: k = floor(u m) and the remainder u m - k,
again uniform, for the next count.

Eligibility: a screened patient may join an arm when both antigens of its construct have an
H-score at or above the protocol threshold and the ECOG is at most the protocol limit. The
H-score of an antigen is 0 with probability ``zero_fraction`` and else 300 x Beta(a, b),
rounded, so it reaches the threshold h with probability
q = (1 - zero_fraction) P(Beta(a, b) >= (h - 0.5) / 300). Antigens are positive together as
a Gaussian copula with the scenario's correlations says (independent by default); the 2^m
patterns of m antigens and the ECOG are one categorical draw per patient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product

import numpy as np
from scipy.integrate import quad
from scipy.special import ndtri
from scipy.stats import beta as beta_dist
from scipy.stats import norm

from dartnk.adaptive.trial_walk import ArmSlots

from .protocol import Protocol
from .scenario import Scenario, correlation_matrix
from .simulation_blocks import Block, block_seed
from .simulation_draws import uniforms

__all__ = [
    "DAYS_PER_MONTH",
    "PAGE",
    "BlockPatients",
    "ScenarioArrays",
    "SlotCourses",
    "draw_blocks",
    "kinetics_deviate",
    "scenario_arrays",
    "stream",
]

DAYS_PER_MONTH = 365.25 / 12
_PATIENTS, _SELECTION, _EXPANSION, _FIRST_PAGE = 0, 1, 2, 3
PAGE = 128
"""Screened patients per page of a trial's arrival stream."""
_SLOT_LATENTS = ("dlt", "onset", "dropout", "lot", "days", "response", "off", "kinetics")


def stream(seed: int | np.random.SeedSequence, block: int, which: int) -> np.random.Generator:
    """The generator of one stream of a block: 0 for the patient slots of the arms, 1 for
    the posterior draws of the interim selection, 2 for the expansion's patient slots,
    3 + p for page p of the screened patients."""
    parent = block_seed(seed, block)
    child = np.random.SeedSequence(
        parent.entropy, spawn_key=(*parent.spawn_key, which), pool_size=parent.pool_size
    )
    return np.random.default_rng(child)


@dataclass(frozen=True, eq=False)
class ScenarioArrays:
    """A scenario laid out on the protocol's constructs (arms) and 0-based doses.

    Attributes
    ----------
    name : str
    dlt, response, log10_cmax : ndarray, shape (arms, doses)
        True DLT rate, true probability of a confirmed response and mean log10 Cmax.
    release : ndarray, shape (arms,)
        Lot release probability.
    kinetics_sd : float
        Standard deviation of a patient's observed log10 Cmax around its mean (between
        patients and between samples together).
    pattern_probability : ndarray, shape (patterns,)
        Probability of each eligibility pattern of a screened patient.
    pattern_arms : ndarray of uint8, shape (patterns,)
        Arms (bit mask) a patient of each pattern may join.
    screened_per_day : float
    """

    name: str
    dlt: np.ndarray
    response: np.ndarray
    log10_cmax: np.ndarray
    release: np.ndarray
    kinetics_sd: float
    kinetics_clip: float
    pattern_probability: np.ndarray
    pattern_arms: np.ndarray
    screened_per_day: float
    max_wait: float
    dropout: float
    offstudy_after_dlt: float
    late_fraction: float
    late_from_day: float
    early_median_day: float
    early_sd_log: float
    turnaround: tuple[int, int]
    release_to_infusion: tuple[int, int]
    first_assessment_fraction: float
    selection_delay: float

    @property
    def arms(self) -> int:
        return int(self.dlt.shape[0])

    def eligible_share(self) -> np.ndarray:
        """P(a screened patient may join each arm)."""
        bits = (self.pattern_arms[:, None] >> np.arange(self.arms)) & 1
        return self.pattern_probability @ bits


def _antigen_positive(scenario: Scenario, protocol: Protocol) -> np.ndarray:
    threshold = protocol.assignment.hscore_threshold
    out = []
    for antigen in protocol.antigens:
        dist = scenario.antigens[antigen]
        if threshold <= 0:
            out.append(1.0)
            continue
        cut = (threshold - 0.5) / 300.0
        out.append((1.0 - dist.zero_fraction) * float(beta_dist.sf(cut, *dist.beta)))
    return np.array(out)


def _pattern_probabilities(positive: np.ndarray, correlation: np.ndarray) -> np.ndarray:
    """P(each positive/negative pattern of the antigens), pattern bits in antigen order,
    under a Gaussian copula with ``correlation``."""
    m = positive.size
    patterns = np.array(list(product((0, 1), repeat=m)))[:, ::-1]
    if np.allclose(correlation, np.eye(m)):
        p = np.where(patterns == 1, positive, 1.0 - positive)
        return p.prod(axis=1)
    clipped = np.clip(positive, 1e-15, 1 - 1e-15)
    cut = norm.isf(clipped)
    out = np.zeros(len(patterns))
    for row, pattern in enumerate(patterns):
        negative = [i for i in range(m) if pattern[i] == 0]
        positive_set = [i for i in range(m) if pattern[i] == 1]
        total = 0.0
        for size in range(len(positive_set) + 1):
            for chosen in _subsets(positive_set, size):
                below = sorted(negative + list(chosen))
                total += (-1) ** size * _lower_orthant(
                    cut[below], correlation[np.ix_(below, below)]
                )
        out[row] = total
    out = np.clip(out, 0.0, 1.0)
    return out / out.sum()


def _subsets(items: list[int], size: int) -> list[tuple[int, ...]]:
    from itertools import combinations

    return list(combinations(items, size))


def _lower_orthant(cut: np.ndarray, correlation: np.ndarray) -> float:
    """P(Z <= cut) for a standard normal vector with ``correlation``, by conditioning on
    the first coordinate and one-dimensional adaptive quadrature (to 1e-12) at each level:
    given Z1 = x, the others are normal with means r x and covariance R - r r'."""
    if cut.size == 0:
        return 1.0
    if cut.size == 1:
        return float(norm.cdf(cut[0]))
    r = correlation[1:, 0]
    scale = np.sqrt(np.maximum(1.0 - r**2, 1e-300))
    conditional = (correlation[1:, 1:] - np.outer(r, r)) / np.outer(scale, scale)

    def integrand(x: float) -> float:
        return float(norm.pdf(x)) * _lower_orthant((cut[1:] - r * x) / scale, conditional)

    value, _ = quad(integrand, -np.inf, float(cut[0]), epsabs=1e-12, epsrel=1e-10, limit=200)
    return float(value)


def scenario_arrays(protocol: Protocol, scenario: Scenario) -> ScenarioArrays:
    """Check ``scenario`` against ``protocol`` and lay it out as arrays."""
    scenario.check(protocol)
    ids, labels = protocol.construct_ids, protocol.dose_labels

    def grid(mapping: dict[str, dict[str, float]]) -> np.ndarray:
        return np.array([[mapping[c][d] for d in labels] for c in ids], dtype=float)

    antigens = list(protocol.antigens)
    correlation = correlation_matrix(dict(scenario.antigen_correlation), antigens)
    antigen_pattern = _pattern_probabilities(_antigen_positive(scenario, protocol), correlation)
    ecog = np.asarray(scenario.accrual.ecog_probabilities, dtype=float)
    ecog_ok = float(ecog[: protocol.eligibility.max_ecog + 1].sum() / ecog.sum())
    m = len(antigens)
    bits = (np.arange(2**m)[:, None] >> np.arange(m)) & 1
    arm_bits = np.zeros(2**m, dtype=np.uint8)
    for a, construct in enumerate(protocol.constructs):
        need = [antigens.index(x) for x in construct.antigens]
        arm_bits |= (bits[:, need].all(axis=1).astype(np.uint8) << a).astype(np.uint8)
    kinetics = scenario.kinetics
    return ScenarioArrays(
        name=scenario.name,
        dlt=grid(scenario.toxicity.dlt_probability),
        response=grid(scenario.response.probability),
        log10_cmax=grid(kinetics.log10_cmax),
        release=np.array([scenario.manufacturing.release_probability[c] for c in ids]),
        kinetics_sd=math.hypot(kinetics.between_patient_sd, kinetics.sample_sd),
        kinetics_clip=2.5,
        pattern_probability=np.concatenate(
            [antigen_pattern * ecog_ok, antigen_pattern * (1.0 - ecog_ok)]
        ),
        pattern_arms=np.concatenate([arm_bits, np.zeros_like(arm_bits)]),
        screened_per_day=scenario.accrual.screened_per_month / DAYS_PER_MONTH,
        max_wait=float(scenario.accrual.max_wait_days),
        dropout=scenario.follow_up.dropout_probability,
        offstudy_after_dlt=scenario.toxicity.offstudy_after_dlt,
        late_fraction=scenario.toxicity.onset.late_fraction,
        late_from_day=float(scenario.toxicity.onset.late_from_day),
        early_median_day=scenario.toxicity.onset.early_median_day,
        early_sd_log=scenario.toxicity.onset.early_sd_log,
        turnaround=tuple(scenario.manufacturing.turnaround_days),
        release_to_infusion=tuple(scenario.manufacturing.release_to_infusion_days),
        first_assessment_fraction=scenario.response.first_assessment_fraction,
        selection_delay=float(scenario.phase2.selection_delay_days),
    )


@dataclass(frozen=True, eq=False)
class SlotCourses:
    """The course of the patient of each slot, for a dose and construct still to come.

    Arrays of one shape (trials, arms, slots): the DLT-related parts (:class:`ArmSlots`)
    plus the lots (study days after enrolment of the release results, the second lot only
    after a failed first), the latent uniform and assessment of response, the days from a
    DLT to going off study, and the latent uniform of the standardised kinetics deviate
    (:func:`kinetics_deviate`, taken only for the patients a walk enrols).
    """

    walk: ArmSlots
    lot1_day: np.ndarray
    lot1_released: np.ndarray
    lot2_day: np.ndarray
    lot2_released: np.ndarray
    response_uniform: np.ndarray
    off_delay: np.ndarray
    kinetics_uniform: np.ndarray


@dataclass(frozen=True, eq=False)
class BlockPatients:
    """The screened patients and patient slots of a block of trials, under one scenario.

    ``arrival`` and ``eligible`` have shape (trials, K); ``arms`` courses shape (trials,
    arms, slots) with each arm's release probability; ``expansion`` courses shape (trials,
    arms, expansion slots), row a being the expansion's patients if construct a is
    selected.
    """

    arrival: np.ndarray
    eligible: np.ndarray
    arms: SlotCourses
    expansion: SlotCourses


def _courses(raw: dict[str, np.ndarray], truth: ScenarioArrays, window: float) -> SlotCourses:
    release = truth.release[:, None]
    lo, hi = truth.turnaround
    gap_lo, gap_hi = truth.release_to_infusion
    width, gap_width = hi - lo + 1, gap_hi - gap_lo + 1
    scaled = raw["days"] * width
    first_turn = np.floor(scaled)
    rest = (scaled - first_turn) * width
    second_turn = np.floor(rest)
    gap = np.floor((rest - second_turn) * gap_width) + gap_lo
    first_turn += lo
    second_turn += lo
    u = raw["lot"]
    first_ok = u < release
    with np.errstate(divide="ignore", invalid="ignore"):
        second_u = (u - release) / (1.0 - release)
    second_ok = ~first_ok & (second_u < release)
    infusion = np.where(
        first_ok, first_turn + gap, np.where(second_ok, first_turn + second_turn + gap, np.inf)
    )
    onset_u = raw["onset"]
    late = onset_u < truth.late_fraction
    late_u = onset_u / truth.late_fraction
    early_u = (onset_u - truth.late_fraction) / (1.0 - truth.late_fraction)
    late_day = truth.late_from_day + late_u * (window - truth.late_from_day)
    early_day = np.exp(
        math.log(truth.early_median_day)
        + truth.early_sd_log * ndtri(np.clip(early_u, 1e-12, 1 - 1e-12))
    )
    onset = np.where(late, late_day, np.clip(early_day, 0.0, truth.late_from_day))
    drop_u = raw["dropout"]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dropout = np.where(drop_u < truth.dropout, drop_u / truth.dropout * window, np.inf)
    off_u = raw["off"]
    off = off_u < truth.offstudy_after_dlt
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        off_delay = np.where(off, 1.0 + np.floor(off_u / truth.offstudy_after_dlt * 7.0), np.inf)
    return SlotCourses(
        walk=ArmSlots(
            infusion_delay=infusion,
            failure_delay=first_turn + second_turn,
            dlt_uniform=raw["dlt"],
            onset_day=onset,
            dropout_day=dropout,
        ),
        lot1_day=first_turn,
        lot1_released=first_ok,
        lot2_day=np.where(first_ok, np.inf, first_turn + second_turn),
        lot2_released=second_ok,
        response_uniform=raw["response"],
        off_delay=off_delay,
        kinetics_uniform=raw["kinetics"],
    )


def kinetics_deviate(uniform: np.ndarray, clip: float) -> np.ndarray:
    """The standardised kinetics deviate of latent uniforms: the normal quantile, kept
    within +-``clip`` (single precision, as the uniforms)."""
    z = ndtri(np.clip(uniform, 1e-7, 1 - 1e-7)).astype(np.float32)
    return np.clip(z, -clip, clip)


def _raw_into(rng: np.random.Generator, out: dict[str, np.ndarray], rows: slice) -> None:
    """Draw the latent uniforms of the trials ``rows`` of ``out`` (arrays of shape (trials,
    arms, slots), one per latent), slot by slot so that more slots begin with the same
    patients. Uniforms are single precision (a grid of 2^-24, far finer than any
    probability the scenarios give)."""
    first = next(iter(out.values()))
    trials = rows.stop - rows.start
    uniform = uniforms(rng, (first.shape[2], len(_SLOT_LATENTS), trials, first.shape[1]))
    for k, name in enumerate(_SLOT_LATENTS):
        out[name][rows] = np.moveaxis(uniform[:, k], 0, -1)


def draw_blocks(
    seed: int,
    blocks: list[Block],
    truth: ScenarioArrays,
    *,
    pages: int,
    slots: int,
    expansion_slots: int,
    window: float,
) -> BlockPatients:
    """The patients of consecutive blocks under a scenario, their trials in block order
    (see the module docstring); each block draws from its own streams, so a block's
    patients do not depend on the blocks drawn with it.

    Parameters
    ----------
    seed : int
        The run's root seed.
    blocks : list of Block
    truth : ScenarioArrays
    pages : int
        Pages of :data:`PAGE` screened patients drawn per trial; each page has its own
        stream, so a longer stream starts with the same patients.
    slots : int
        Patient slots per arm (the largest any design of the run can use).
    expansion_slots : int
        Patient slots of the expansion.
    window : float
        DLT window in days.
    """
    trials = sum(block.size for block in blocks)
    gaps = np.empty((trials, pages * PAGE), dtype=np.float32)
    pattern_u = np.empty_like(gaps)

    def latents(count: int, arms: int) -> dict[str, np.ndarray]:
        return {name: np.empty((trials, arms, count), dtype=np.float32) for name in _SLOT_LATENTS}

    arm_raw = latents(slots, truth.arms)
    expansion_raw = latents(expansion_slots, 1)
    offset = 0
    for block in blocks:
        rows = slice(offset, offset + block.size)
        offset += block.size
        for page in range(pages):
            rng = stream(seed, block.index, _FIRST_PAGE + page)
            columns = slice(page * PAGE, (page + 1) * PAGE)
            gaps[rows, columns] = rng.standard_exponential((block.size, PAGE), dtype=np.float32)
            pattern_u[rows, columns] = rng.random((block.size, PAGE), dtype=np.float32)
        _raw_into(stream(seed, block.index, _PATIENTS), arm_raw, rows)
        _raw_into(stream(seed, block.index, _EXPANSION), expansion_raw, rows)
    cumulative = np.cumsum(truth.pattern_probability)[:-1].astype(np.float32)
    pattern = np.zeros(pattern_u.shape, dtype=np.uint8)
    for cut in cumulative:
        pattern += (pattern_u >= cut).view(np.uint8)
    arrival = np.cumsum(gaps, axis=1, dtype=np.float64)
    arrival /= truth.screened_per_day
    return BlockPatients(
        arrival=arrival,
        eligible=truth.pattern_arms[pattern],
        arms=_courses(arm_raw, truth, window),
        expansion=_broadcast(_courses(expansion_raw, truth, window), truth.arms),
    )


def _broadcast(courses: SlotCourses, arms: int) -> SlotCourses:
    """Courses of slots shared by every arm (the expansion's), as views with an arm axis."""

    def wide(values: np.ndarray) -> np.ndarray:
        return np.broadcast_to(values, (values.shape[0], arms, values.shape[2]))

    walk = courses.walk
    return SlotCourses(
        walk=ArmSlots(**{f: wide(getattr(walk, f)) for f in ArmSlots.__dataclass_fields__}),
        **{f: wide(getattr(courses, f)) for f in SlotCourses.__dataclass_fields__ if f != "walk"},
    )
