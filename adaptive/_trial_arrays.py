"""The arrays of the calendar walk (:mod:`dartnk.adaptive.trial_walk`): patient slots,
a data cut's start, the walk's result, and the first eligible patient at or after each
index.

Conventions: days are floats; doses 0-based; a slot's status is one of :data:`EMPTY`,
:data:`PENDING`, :data:`NO_DLT`, :data:`DLT`, :data:`NOT_EVALUABLE`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DLT",
    "EMPTY",
    "NOT_EVALUABLE",
    "NO_DLT",
    "PENDING",
    "ArmSlots",
    "OutOfPatients",
    "OutOfSlots",
    "Phase1Walk",
    "StartState",
    "next_eligible",
]

EMPTY, PENDING, NO_DLT, DLT, NOT_EVALUABLE = range(5)
"""Status codes of a patient slot."""


@dataclass(frozen=True, eq=False)
class ArmSlots:
    """What happens to the patient enrolled in each slot of each arm, whatever the dose.

    Arrays have shape (trials, arms, slots); slot j of an arm is its j-th enrolled patient.

    Attributes
    ----------
    infusion_delay : ndarray of float
        Days from enrolment to the first infusion; ``inf`` when no product is released.
    failure_delay : ndarray of float
        Days from enrolment to the failed release of the last lot (read when no product).
    dlt_uniform : ndarray of float
        Latent uniform: a DLT when it is below the true DLT rate at the dose given.
    onset_day : ndarray of float
        Day of the DLT after the first infusion, inside the window.
    dropout_day : ndarray of float
        Day of withdrawal after the first infusion (``inf``: no withdrawal).
    """

    infusion_delay: np.ndarray
    failure_delay: np.ndarray
    dlt_uniform: np.ndarray
    onset_day: np.ndarray
    dropout_day: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.infusion_delay.shape  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class StartState:
    """Patients already in the arms when the walk starts (a data cut).

    Arrays of shape (trials, arms, slots) as :class:`Phase1Walk`'s; ``day`` is the study day
    the walk starts on; ``stopped`` marks arms whose escalation has ended, with their
    ``mtd`` (NaN for none).
    """

    day: float
    level: np.ndarray
    status: np.ndarray
    enrol: np.ndarray
    infusion: np.ndarray
    resolve: np.ndarray
    outcome: np.ndarray
    stopped: np.ndarray
    mtd: np.ndarray


@dataclass(frozen=True, eq=False)
class Phase1Walk:
    """Phase 1 of a batch of trials.

    Attributes
    ----------
    level : ndarray of int8, shape (trials, arms, slots)
        0-based dose of each enrolled patient, -1 for an empty slot.
    enrol, infusion, resolve : ndarray of float, shape (trials, arms, slots)
        Study days of enrolment, first infusion (``inf`` without product) and of the DLT
        outcome becoming known (``inf`` for an empty slot).
    outcome : ndarray of int8, shape (trials, arms, slots)
        :data:`NO_DLT`, :data:`DLT` or :data:`NOT_EVALUABLE` (-1 for an empty slot).
    enrolled : ndarray of int, shape (trials, arms)
    n, y : ndarray of int, shape (trials, arms, doses)
        DLT-evaluable patients and DLTs per dose at the end of the arm.
    mtd : ndarray of float, shape (trials, arms)
        0-based MTD per arm, NaN for none.
    stop_day : ndarray of float, shape (trials, arms)
    stop_rule : ndarray of int, shape (trials, arms)
        Index into ``rules`` of the rule that stopped the arm.
    end_day : ndarray of float, shape (trials,)
        Study day the last arm stopped.
    rules : tuple of (str, str)
    """

    level: np.ndarray
    enrol: np.ndarray
    infusion: np.ndarray
    resolve: np.ndarray
    outcome: np.ndarray
    enrolled: np.ndarray
    n: np.ndarray
    y: np.ndarray
    mtd: np.ndarray
    stop_day: np.ndarray
    stop_rule: np.ndarray
    end_day: np.ndarray
    rules: tuple[tuple[str, str], ...] = field(repr=False)


class OutOfPatients(RuntimeError):
    """A simulated trial needed more screened patients than were drawn for it."""


class OutOfSlots(RuntimeError):
    """An arm of a simulated trial enrolled more patients than it had slots."""


def next_eligible(eligible: np.ndarray, arms: int) -> np.ndarray:
    """For each arm, the index of the first patient at or after k eligible for it
    (``K`` for none), shape (trials, arms, K + 1).

    Per arm this is the suffix minimum of ``k`` where eligible and ``K`` elsewhere, taken by
    doubling: after the pass with shift s, entry k holds the minimum over [k, k + 2s), so
    ceil(log2 K) elementwise minimums give it (faster than a running minimum along rows).
    """
    trials, count = eligible.shape
    dtype = np.int16 if count < np.iinfo(np.int16).max else np.int32
    index = np.arange(count, dtype=dtype)
    gap = np.subtract(count, index, dtype=dtype)
    out = np.empty((trials, arms, count + 1), dtype=dtype)
    out[:, :, count] = count
    for a in range(arms):
        missing = ((eligible >> a) & 1) == 0
        candidate = np.add(index, np.multiply(gap, missing, dtype=dtype), dtype=dtype)
        shift = 1
        while shift < count:
            np.minimum(candidate[:, :-shift], candidate[:, shift:], out=candidate[:, :-shift])
            shift *= 2
        out[:, a, :count] = candidate
    return out
