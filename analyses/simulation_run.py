"""One chunk of simulated trials under one design and one scenario: Phase 1 in calendar
time, the interim selection and the expansion, as per-trial outcome arrays.

The chunk's patients (:class:`~dartnk.analyses.simulation_latents.BlockPatients` of its
blocks, concatenated) are the same for every design of a run; the design decides the arms
(:func:`dartnk.adaptive.trial_walk.walk_phase1`), the interim selection reads the exact
posteriors of every construct with an MTD
(:mod:`dartnk.analyses.simulation_interim`), and the selected construct is expanded at its
MTD (:mod:`dartnk.analyses.simulation_expansion`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from dartnk.adaptive import EscalationDesign
from dartnk.adaptive.trial_walk import (
    ArmSlots,
    Phase1Walk,
    StartState,
    next_eligible,
    walk_phase1,
)
from dartnk.adaptive.walk import patient_limit

from .protocol import Protocol
from .simulation_blocks import Block
from .simulation_expansion import ExpansionOutcomes, simulate_expansion
from .simulation_interim import ObservedSlots, ResponseTiming, interim_data, select
from .simulation_latents import BlockPatients, ScenarioArrays, draw_blocks

__all__ = [
    "ChunkPatients",
    "RunSettings",
    "TrialOutcomes",
    "draw_chunk",
    "longer",
    "run_chunk",
    "slots_for",
    "widened",
]

EXPANSION_SPARE = 10


@dataclass(frozen=True)
class RunSettings:
    """Settings of a simulation run that are not protocol numbers.

    Attributes
    ----------
    draws : int
        Posterior draws per component and construct at the interim selection.
    """

    draws: int = 256


def slots_for(limit: int) -> int:
    """Patient slots of an arm whose design treats at most ``limit`` evaluable patients:
    room for half as many again who are not evaluable and are replaced."""
    return limit + math.ceil(limit / 2) + 4


@dataclass(frozen=True, eq=False)
class ChunkPatients:
    """The patients of a chunk's blocks under one scenario, concatenated, with the first
    eligible patient at or after each index per arm (:func:`next_eligible`)."""

    blocks: tuple[Block, ...]
    patients: BlockPatients
    truth: ScenarioArrays
    pages: int
    eligible_table: np.ndarray
    slots: int = 0
    """Slots per arm each design uses at least (raised when an arm ran out)."""


def draw_chunk(
    protocol: Protocol,
    truth: ScenarioArrays,
    blocks: list[Block],
    seed: int,
    slots: int,
    pages: int = 3,
) -> ChunkPatients:
    """Draw the blocks of a chunk (each from its own seed), their trials in block order."""
    patients = draw_blocks(
        seed,
        blocks,
        truth,
        pages=pages,
        slots=slots,
        expansion_slots=protocol.expansion.n_max + EXPANSION_SPARE,
        window=protocol.dlt_window,
    )
    return ChunkPatients(
        blocks=tuple(blocks),
        patients=patients,
        truth=truth,
        pages=pages,
        eligible_table=next_eligible(patients.eligible, truth.arms),
    )


def widened(protocol: Protocol, chunk: ChunkPatients, seed: int) -> ChunkPatients:
    """The chunk with twice as many patient slots per arm, every design using them all."""
    drawn = longer(protocol, chunk, seed, slots=True)
    return dataclasses.replace(drawn, slots=drawn.patients.arms.walk.infusion_delay.shape[2])


def longer(
    protocol: Protocol, chunk: ChunkPatients, seed: int, *, slots: bool = False
) -> ChunkPatients:
    """The chunk redrawn with twice as many screened patients per trial, or (``slots``)
    twice as many patient slots per arm; the same patients come first, so that a trial
    that did not run out is unchanged."""
    count = chunk.patients.arms.walk.infusion_delay.shape[2]
    pages = chunk.pages
    if slots:
        count *= 2
    else:
        pages *= 2
    return draw_chunk(protocol, chunk.truth, list(chunk.blocks), seed, count, pages)


@dataclass(frozen=True, eq=False)
class TrialOutcomes:
    """Per-trial outcomes of a chunk under one design.

    Attributes
    ----------
    phase1 : Phase1Walk
    interim_day : ndarray, shape (trials,)
    selected : ndarray of int, shape (trials,)
        0-based selected construct, -1 for none.
    prob_best : ndarray, shape (trials, arms)
    orr_estimate : ndarray, shape (trials,)
        Posterior mean ORR of the selected construct at its dose (NaN for none).
    orr_true : ndarray, shape (trials,)
        Its true ORR there (NaN for none).
    expansion : ExpansionOutcomes
    total_n : ndarray of int, shape (trials,)
        Patients enrolled in Phase 1 and the expansion.
    duration_days : ndarray, shape (trials,)
        Study days to the end of the trial: the end of the expansion, or the interim
        when there is none.
    """

    phase1: Phase1Walk
    interim_day: np.ndarray
    selected: np.ndarray
    prob_best: np.ndarray
    orr_estimate: np.ndarray
    orr_true: np.ndarray
    expansion: ExpansionOutcomes
    total_n: np.ndarray
    duration_days: np.ndarray


def _crop_slots(slots: ArmSlots, count: int) -> ArmSlots:
    return ArmSlots(**{f: getattr(slots, f)[:, :, :count] for f in ArmSlots.__dataclass_fields__})


def run_chunk(
    protocol: Protocol,
    design: EscalationDesign,
    chunk: ChunkPatients,
    seed: int,
    settings: RunSettings,
    *,
    tmax: float,
    start: StartState | None = None,
    observed: ObservedSlots | None = None,
) -> TrialOutcomes:
    """Simulate the trials of a chunk under ``design`` (see the module docstring); from a
    data cut, ``start`` holds its patients and ``observed`` what it shows of them."""
    truth = chunk.truth
    patients = chunk.patients
    count = max(slots_for(patient_limit(design)), chunk.slots)
    phase1 = walk_phase1(
        design,
        truth.dlt,
        patients.arrival,
        patients.eligible,
        _crop_slots(patients.arms.walk, count),
        max_wait=truth.max_wait,
        window=protocol.dlt_window,
        start=start,
        eligible_table=chunk.eligible_table,
    )
    interim_day = phase1.end_day + truth.selection_delay
    timing = ResponseTiming.of(protocol, truth, tmax)
    data = interim_data(protocol, truth, phase1, patients.arms, interim_day, timing, observed)
    selected, prob_best = select(
        protocol,
        data,
        list(chunk.blocks),
        seed,
        draws=settings.draws,
        constructs=protocol.construct_ids,
    )
    trials = selected.shape[0]
    has = selected >= 0
    arm = np.maximum(selected, 0)
    dose = np.where(has, phase1.mtd[np.arange(trials), arm], 0).astype(np.int64)
    orr_estimate = np.where(has, data.orr_mean[np.arange(trials), arm], np.nan)
    orr_true = np.where(has, truth.response[arm, dose], np.nan)
    arrival = np.concatenate([patients.arrival, np.full((trials, 1), np.inf)], axis=1)
    expansion = simulate_expansion(
        protocol,
        truth,
        patients.expansion,
        arrival,
        chunk.eligible_table,
        selected,
        dose,
        interim_day,
        timing,
        float(protocol.dlt_window),
    )
    total = phase1.enrolled.sum(axis=1) + expansion.enrolled
    duration = np.where(has, expansion.end_day, interim_day)
    return TrialOutcomes(
        phase1=phase1,
        interim_day=interim_day,
        selected=selected,
        prob_best=prob_best,
        orr_estimate=orr_estimate,
        orr_true=orr_true,
        expansion=expansion,
        total_n=total,
        duration_days=duration,
    )
