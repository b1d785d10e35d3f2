"""The interim construct selection of simulated trials, on exact conjugate posteriors.

At the interim (``phase2.selection_delay_days`` after the last arm stops), each construct
with an MTD (its candidate dose) is described by four posteriors from the data known that
day, each conjugate and exact:

- safety, the DLT rate at the candidate dose: Beta(a + y, b + n - y) with the protocol's
  Beta prior of a DLT rate (``expansion.toxicity_prior``), y DLTs in n evaluable patients;
- efficacy, the ORR at the candidate dose: Beta(a + x, b + m - x) with ``priors.response_beta``,
  x confirmed responses in the m infused patients whose response is known;
- kinetics, mean log10 Cmax at the candidate dose: normal-normal, prior
  N(``priors.kinetics_mean[0]``, ``priors.kinetics_sd[0]``^2), k values with known spread
  sigma, posterior variance 1 / (1 / s0^2 + k / sigma^2); sigma is the pooled within-dose
  standard deviation of the arm's values (the prior scale ``priors.kinetics_sigma_scale``
  with fewer than two degrees of freedom);
- manufacturability, the lot release rate: Beta(a + released, b + failed) with
  ``priors.manufacturing_beta`` over the arm's lots with a result that day.

Posterior draws, D per component and construct (``draws``, 256 by default), come from the
block's own selection stream, so they are common to all designs of a run and do not depend
on chunking. Beta draws are inverse-CDF draws from quantile tables
(:func:`~dartnk.analyses.simulation_draws.beta_draws`), kinetics draws are normal, both in
single precision. The draws go to
:func:`dartnk.adaptive.select_construct` with its ``trial`` dim and the protocol's weights,
desirability ranges, P(best) threshold and safety gate (P(DLT rate >= overdose_from) < EWOC).

References: Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB (2013). Bayesian
Data Analysis, 3rd ed., ch. 2 (conjugate Beta-binomial and normal-normal posteriors).

Response timing (RECIST, every ``assessments.interval_days``): a responder's response shows
at the first or second assessment and is confirmed one confirmation interval later; a
patient without a confirmed response is a known non-responder after
``assessments.response_window_days``; going off study (withdrawal, or after a DLT) before
confirmation makes a known non-responder that day. Kinetics (Cmax) is known
``kinetics.tmax_days`` after the first infusion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from dartnk.adaptive import safety_gate, select_construct
from dartnk.adaptive.trial_walk import DLT, ArmSlots, Phase1Walk

from .protocol import Protocol
from .simulation_blocks import Block
from .simulation_draws import beta_draws, normal_draws
from .simulation_latents import ScenarioArrays, SlotCourses, kinetics_deviate, stream

__all__ = [
    "InterimData",
    "ObservedSlots",
    "ResponseTiming",
    "interim_data",
    "response_times",
    "select",
]

_SELECTION = 1


@dataclass(frozen=True)
class ResponseTiming:
    """Protocol numbers of response assessment and kinetics sampling, in days."""

    interval: float
    confirmation_steps: int
    window: float
    tmax: float
    first_fraction: float

    @classmethod
    def of(cls, protocol: Protocol, truth: ScenarioArrays, tmax: float) -> ResponseTiming:
        a = protocol.assessments
        return cls(
            interval=float(a.interval_days),
            confirmation_steps=math.ceil(a.confirmation_days / a.interval_days),
            window=float(a.response_window_days),
            tmax=float(tmax),
            first_fraction=truth.first_assessment_fraction,
        )


def response_times(
    courses: SlotCourses,
    infusion: np.ndarray,
    outcome: np.ndarray,
    response: np.ndarray,
    timing: ResponseTiming,
) -> tuple[np.ndarray, np.ndarray]:
    """Per slot: whether the patient is a confirmed responder, and the study day the
    response status becomes known (``inf`` without infusion).

    ``courses`` holds the slots' latent response uniform, onset, withdrawal and off-study
    delays (arrays of the shape of ``infusion``); ``response`` is the true response
    probability at each slot's construct and dose; ``outcome`` the DLT outcome code.
    """
    u = courses.response_uniform
    latent = u < response
    first = np.where(u < response * timing.first_fraction, 1, 2)
    confirm = infusion + timing.interval * (first + timing.confirmation_steps)
    off_after_dlt = np.where(
        outcome == DLT, infusion + courses.walk.onset_day + courses.off_delay, np.inf
    )
    off = np.minimum(infusion + courses.walk.dropout_day, off_after_dlt)
    responder = latent & (confirm <= off)
    known = np.where(responder, confirm, np.minimum(off, infusion + timing.window))
    return responder, np.where(np.isfinite(infusion), known, np.inf)


@dataclass(frozen=True, eq=False)
class ObservedSlots:
    """What a data cut already shows of its patients, who fill the first slots of each arm.

    Arrays of shape (arms, slots at the cut); NaN (or -1 for counts) where not known yet.

    Attributes
    ----------
    responder : ndarray of float
        1 for a confirmed responder, 0 for a known non-responder.
    response_day : ndarray of float
        Study day the response status became known.
    log10_cmax : ndarray of float
        Observed log10 Cmax.
    lots, released : ndarray of int
        Lots with a release result by the cut, and how many were released.
    """

    responder: np.ndarray
    response_day: np.ndarray
    log10_cmax: np.ndarray
    lots: np.ndarray
    released: np.ndarray

    @property
    def slots(self) -> int:
        return int(self.responder.shape[1])


@dataclass(frozen=True, eq=False)
class InterimData:
    """Posterior parameters of the four components per (trial, construct) at the interim.

    ``available`` is False for a construct without an MTD; ``orr_mean`` is the posterior
    mean ORR at the candidate dose.
    """

    available: np.ndarray
    safety: tuple[np.ndarray, np.ndarray]
    efficacy: tuple[np.ndarray, np.ndarray]
    kinetics: tuple[np.ndarray, np.ndarray]
    manufacturability: tuple[np.ndarray, np.ndarray]

    @property
    def orr_mean(self) -> np.ndarray:
        a, b = self.efficacy
        return a / (a + b)


def interim_data(
    protocol: Protocol,
    truth: ScenarioArrays,
    phase1: Phase1Walk,
    courses: SlotCourses,
    interim_day: np.ndarray,
    timing: ResponseTiming,
    observed: ObservedSlots | None = None,
) -> InterimData:
    """The exact posteriors' parameters of every construct of every trial at its interim.

    ``observed`` replaces, for the patients of a data cut in the first slots, the simulated
    response, kinetics and lots by what the cut shows where it shows them (a patient with
    lot results at the cut counts those lots and no simulated ones). The work is done on
    the filled slots only (in their C order): counts per (trial, arm) are bincounts over
    them, and the kinetics total is summed over a dense (trial, arm, slot) array, in the
    order of the slots."""
    trials, arms, slots = phase1.level.shape
    pairs = trials * arms
    mtd = phase1.mtd
    available = ~np.isnan(mtd)
    dose = np.where(available, mtd, 0).astype(np.int64)
    rows = np.arange(trials)[:, None]
    cols = np.arange(arms)[None, :]
    n = phase1.n[rows, cols, dose]
    y = phase1.y[rows, cols, dose]
    tox_a, tox_b = protocol.expansion.toxicity_prior
    place = np.flatnonzero(phase1.level.reshape(-1) >= 0)
    pair, slot = np.divmod(place, slots)
    arm = pair % arms
    level = phase1.level.reshape(-1)[place].astype(np.int64)
    infusion = phase1.infusion.reshape(-1)[place]
    cut = interim_day[pair // arms]
    at_dose = level == dose.reshape(-1)[pair]
    taken = _taken(courses, pair * courses.walk.onset_day.shape[2] + slot)
    responder, known_day = response_times(
        taken,
        infusion,
        phase1.outcome.reshape(-1)[place],
        truth.response[arm, level],
        timing,
    )
    head = 0 if observed is None else observed.slots
    early = np.flatnonzero(slot < head)
    where = (arm[early], slot[early])
    if early.size:
        seen = ~np.isnan(observed.response_day[where])
        responder[early] = np.where(seen, observed.responder[where] == 1, responder[early])
        known_day[early] = np.where(seen, observed.response_day[where], known_day[early])
    known = at_dose & (known_day <= cut)
    x = _per_pair(pair[known & responder], pairs, trials)
    m = _per_pair(pair[known], pairs, trials)
    resp_a, resp_b = protocol.priors.response_beta
    kinetic_known = np.isfinite(infusion) & (infusion + timing.tmax <= cut)
    z = kinetics_deviate(taken.kinetics_uniform, truth.kinetics_clip)
    value = truth.log10_cmax[arm, level] + truth.kinetics_sd * z
    if early.size:
        measured = ~np.isnan(observed.log10_cmax[where])
        value[early] = np.where(measured, observed.log10_cmax[where], value[early])
        kinetic_known[early] |= measured
    mean0, sd0 = protocol.priors.kinetics_mean[0], protocol.priors.kinetics_sd[0]
    doses = truth.dlt.shape[1]
    cell = (pair * doses + level)[kinetic_known]
    sigma = _pooled_sd_of_cells(cell, value[kinetic_known], trials, arms, doses)
    sigma = np.where(np.isnan(sigma), protocol.priors.kinetics_sigma_scale, sigma)
    at_known = kinetic_known & at_dose
    k = _per_pair(pair[at_known], pairs, trials)
    dense = np.zeros(pairs * slots)
    dense[place[at_known]] = value[at_known]
    total = dense.reshape(trials, arms, slots).sum(axis=2)
    precision = 1.0 / sd0**2 + k / sigma**2
    post_var = 1.0 / precision
    post_mean = post_var * (mean0 / sd0**2 + total / sigma**2)
    enrol = phase1.enrol.reshape(-1)[place]
    lot1 = enrol + taken.lot1_day <= cut
    lot2 = enrol + taken.lot2_day <= cut
    lots = lot1.astype(np.int64) + lot2
    released = (lot1 & taken.lot1_released).astype(np.int64) + (lot2 & taken.lot2_released)
    if early.size:
        tested = observed.lots[where] > 0
        lots[early] = np.where(tested, observed.lots[where], lots[early])
        released[early] = np.where(tested, observed.released[where], released[early])
    released = _per_pair(pair, pairs, trials, released)
    lots = _per_pair(pair, pairs, trials, lots)
    man_a, man_b = protocol.priors.manufacturing_beta
    return InterimData(
        available=available,
        safety=(tox_a + y, tox_b + n - y),
        efficacy=(resp_a + x, resp_b + m - x),
        kinetics=(post_mean, np.sqrt(post_var)),
        manufacturability=(man_a + released, man_b + lots - released),
    )


def _per_pair(
    pair: np.ndarray, pairs: int, trials: int, counts: np.ndarray | None = None
) -> np.ndarray:
    """Entries per (trial, arm), or the sum of their whole-number ``counts``, shape
    (trials, arms)."""
    total = np.bincount(pair, weights=counts, minlength=pairs)
    return total.astype(np.int64).reshape(trials, -1)


def _taken(courses: SlotCourses, index: np.ndarray) -> SlotCourses:
    """The courses of the slots at flat positions ``index`` of the (trials, arms, slots)
    arrays, as 1-D arrays."""
    walk = courses.walk
    return SlotCourses(
        walk=ArmSlots(**{f: np.ravel(getattr(walk, f))[index] for f in walk.__dataclass_fields__}),
        **{
            f: np.ravel(getattr(courses, f))[index]
            for f in courses.__dataclass_fields__
            if f != "walk"
        },
    )


def _pooled_sd_of_cells(
    cell: np.ndarray, values: np.ndarray, trials: int, arms: int, doses: int
) -> np.ndarray:
    """Pooled within-dose standard deviation per (trial, arm) of ``values`` in cells
    ``(trial * arms + arm) * doses + dose``; NaN below 2 degrees of freedom. Sums per cell
    are bincounts."""
    groups = trials * arms * doses
    count = np.bincount(cell, minlength=groups).reshape(trials, arms, doses)
    total = np.bincount(cell, weights=values, minlength=groups).reshape(trials, arms, doses)
    square = np.bincount(cell, weights=values * values, minlength=groups).reshape(
        trials, arms, doses
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        within = square - np.where(count > 0, total**2 / np.maximum(count, 1), 0.0)
        freedom = count.sum(axis=2) - (count > 0).sum(axis=2)
        variance = np.maximum(within.sum(axis=2), 0.0) / freedom
    return np.where(freedom >= 2, np.sqrt(variance), np.nan)


_BETA_COMPONENTS = ("safety", "efficacy", "manufacturability")
_COMPONENTS = ("safety", "efficacy", "kinetics", "manufacturability")


def _block_draws(
    data: InterimData,
    trials: np.ndarray,
    rng: np.random.Generator,
    draws: int,
    out: dict[str, np.ndarray],
) -> None:
    """Posterior draws of every construct of one block's trials ``trials`` (those with some
    construct with an MTD), written to ``out`` (one row per trial, in order); the components
    in a fixed order, each as one batch. Constructs without an MTD get draws too, from their
    (unused) dose-0 posteriors, and NaN safety draws after."""
    for name in _BETA_COMPONENTS:
        a, b = (values[trials] for values in getattr(data, name))
        beta_draws(rng, a, b, draws, out=out[name])
    mean, sd = (values[trials] for values in data.kinetics)
    kinetics = out["kinetics"]
    normal_draws(rng, out=kinetics)
    kinetics *= sd[..., None].astype(np.float32)
    kinetics += mean[..., None].astype(np.float32)
    out["safety"][~data.available[trials]] = np.nan


def select(
    protocol: Protocol,
    data: InterimData,
    blocks: list[Block],
    seed: int,
    *,
    draws: int,
    constructs: tuple[str, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """The selected construct per trial (0-based, -1 for none) and P(best) per construct.

    Draws come block by block from each block's selection stream, for every construct of
    the trials with some construct with an MTD (the constructs without one carry NaN safety
    draws, out of the selection); trials without any construct with an MTD are not
    selected.
    """
    trials = data.available.shape[0]
    selected = np.full(trials, -1, dtype=np.int64)
    prob_best = np.zeros(data.available.shape)
    some = np.flatnonzero(data.available.any(axis=1))
    if some.size == 0:
        return selected, prob_best
    s = protocol.selection
    gates = safety_gate(overdose_from=protocol.toxicity.overdose_from, ewoc=protocol.toxicity.ewoc)
    dims = ("trial", "construct", "draw")
    coords = {"construct": list(constructs)}
    offset = 0
    for block in blocks:
        inside = some[(some >= offset) & (some < offset + block.size)]
        offset += block.size
        if inside.size == 0:
            continue
        rng = stream(seed, block.index, _SELECTION)
        shape = (inside.size, data.available.shape[1], draws)
        parts = {name: np.empty(shape, dtype=np.float32) for name in _COMPONENTS}
        _block_draws(data, inside, rng, draws, parts)
        components = xr.Dataset(
            {name: (dims, values) for name, values in parts.items()}, coords=coords
        )
        result = select_construct(
            components,
            weights=dict(s.weights),
            desirability={k: (v.worst, v.best) for k, v in s.desirability.items()},
            prob_best_threshold=s.prob_best_threshold,
            gates=gates,
        )
        index = result.selected_index.to_numpy()
        selected[inside] = np.where(np.isnan(index), -1, index).astype(np.int64)
        prob_best[inside] = result.prob_best.to_numpy()
    return selected, prob_best
