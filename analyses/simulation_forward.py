"""Forward simulation from a data cut: "if we continue, what happens?"

The trial's Phase 1 patients at the cut-off fill the first slots of their arms as they are:
known DLT outcomes stay, and so do observed responses, Cmax values and lot results. What
the cut does not show is simulated from each scenario, consistently with what it shows:

- a patient inside the DLT window without a DLT after u days has a DLT later with
  probability p S(u) / (1 - p F(u)) (p the scenario's DLT rate at the dose, F the
  scenario's onset distribution, S = 1 - F), at an onset drawn from F given onset > u;
  a withdrawal later than u stays possible;
- a patient awaiting the product is infused (or fails) after the scenario's manufacturing
  delays from enrolment, not before the cut-off;
- responses not yet known, kinetics not yet measured and lots not yet tested come from the
  scenario.

New patients arrive from the cut-off on, and the trial runs to its end as in
:func:`~dartnk.analyses.simulate_trials` under one design: the rest of Phase 1, the interim
selection and the expansion. The result gives, per scenario, the probability that each
construct is selected at the interim and the expected remaining patients and months, with
their Monte Carlo SEs: the safety committee's "if we continue" question.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import norm

from dartnk.adaptive import EscalationDesign
from dartnk.adaptive.trial_walk import (
    DLT,
    NO_DLT,
    NOT_EVALUABLE,
    PENDING,
    OutOfPatients,
    OutOfSlots,
    StartState,
)
from dartnk.adaptive.walk import patient_limit

from .designs import build_design
from .errors import InputError
from .protocol import Protocol
from .scenario import Scenario
from .simulation_blocks import Block, blocks, chunks
from .simulation_expansion import GO
from .simulation_interim import ObservedSlots
from .simulation_latents import DAYS_PER_MONTH, ScenarioArrays, scenario_arrays
from .simulation_run import (
    ChunkPatients,
    RunSettings,
    draw_chunk,
    longer,
    run_chunk,
    slots_for,
    widened,
)
from .simulation_scenarios import resolve_scenarios
from .trial import TrialData

__all__ = ["ForwardSimulation", "simulate_forward"]

_GRID = 2001


@dataclass(frozen=True)
class _Cut:
    """The Phase 1 patients of a data cut, by arm and slot (arrays of shape (arms, slots))."""

    day: float
    level: np.ndarray
    enrol: np.ndarray
    infusion: np.ndarray
    status: np.ndarray
    onset: np.ndarray
    followup: np.ndarray
    awaiting: np.ndarray
    observed: ObservedSlots


def _cut(trial: TrialData) -> _Cut:
    patients = trial.patients
    if (patients["phase"] != 1).any():
        raise InputError(
            "the data cut has Phase 2 patients; forward simulation starts from Phase 1 "
            "(the interim selection is still to come)"
        )
    protocol = trial.protocol
    ids = list(protocol.construct_ids)
    groups = [patients[patients["construct"] == c] for c in ids]
    slots = max(1, max(len(g) for g in groups))
    shape = (len(ids), slots)
    level = np.full(shape, -1, dtype=np.int8)
    enrol, infusion, onset, followup = (np.full(shape, np.nan) for _ in range(4))
    status = np.zeros(shape, dtype=np.int8)
    awaiting = np.zeros(shape, dtype=bool)
    responder, response_day, cmax = (np.full(shape, np.nan) for _ in range(3))
    lots = np.full(shape, -1, dtype=np.int64)
    released = np.zeros(shape, dtype=np.int64)
    codes = {"DLT": DLT, "no DLT": NO_DLT, "not evaluable": NOT_EVALUABLE, "pending": PENDING}
    for a, group in enumerate(groups):
        group = group.sort_values("enrolled_day", kind="mergesort")
        n = len(group)
        level[a, :n] = group["dose_index"].to_numpy()
        enrol[a, :n] = group["enrolled_day"].to_numpy(dtype=float)
        first = pd.to_numeric(group["first_infusion_day"], errors="coerce").to_numpy(dtype=float)
        infusion[a, :n] = first
        status[a, :n] = [codes[s] for s in group["dlt_status"]]
        onset[a, :n] = pd.to_numeric(group["dlt_onset_day"], errors="coerce").to_numpy(float)
        followup[a, :n] = pd.to_numeric(group["followup_days"], errors="coerce").to_numpy(float)
        awaiting[a, :n] = group["awaiting_infusion"].astype(bool).to_numpy()
        state = group["response_status"].to_numpy()
        known = np.isin(state, ("responder", "non-responder"))
        day = pd.to_numeric(group["response_known_day"], errors="coerce").to_numpy(float)
        responder[a, :n] = np.where(known, state == "responder", np.nan)
        response_day[a, :n] = np.where(known, first + day, np.nan)
        value = pd.to_numeric(group["cmax"], errors="coerce").to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            cmax[a, :n] = np.where(value > 0, np.log10(value), np.nan)
        lots[a, :n] = pd.to_numeric(group["lots"], errors="coerce").fillna(0).to_numpy(np.int64)
        released[a, :n] = (
            pd.to_numeric(group["released_lots"], errors="coerce").fillna(0).to_numpy(np.int64)
        )
    return _Cut(
        day=float(trial.cutoff),
        level=level,
        enrol=enrol,
        infusion=infusion,
        status=status,
        onset=onset,
        followup=followup,
        awaiting=awaiting,
        observed=ObservedSlots(
            responder=responder,
            response_day=response_day,
            log10_cmax=cmax,
            lots=np.where(level >= 0, lots, -1),
            released=released,
        ),
    )


def _onset_cdf(truth: ScenarioArrays, window: float) -> tuple[np.ndarray, np.ndarray]:
    """The scenario's onset distribution on a grid of days: (days, F(days))."""
    days = np.linspace(0.0, window, _GRID)
    late = np.clip((days - truth.late_from_day) / (window - truth.late_from_day), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        early = norm.cdf((np.log(days) - np.log(truth.early_median_day)) / truth.early_sd_log)
    early = np.where(days >= truth.late_from_day, 1.0, early)
    return days, truth.late_fraction * late + (1.0 - truth.late_fraction) * early


def _start(cut: _Cut, chunk: ChunkPatients, window: float) -> tuple[StartState, ChunkPatients]:
    """The walk's start state for every trial of a chunk, and the chunk with its arrivals
    moved after the cut-off."""
    truth = chunk.truth
    courses = chunk.patients.arms
    trials = chunk.patients.arrival.shape[0]
    arms, slots = cut.level.shape
    shape = (trials, arms, slots)
    level = np.broadcast_to(cut.level, shape).copy()
    filled = level >= 0
    dose = np.where(filled, level, 0).astype(np.int64)
    p = truth.dlt[np.arange(arms)[None, :, None], dose]
    walk = courses.walk
    delay = walk.infusion_delay[:, :, :slots]
    enrol = np.broadcast_to(cut.enrol, shape)
    infusion = np.broadcast_to(cut.infusion, shape).copy()
    waiting = np.broadcast_to(cut.awaiting, shape)
    planned = np.maximum(enrol + delay, cut.day)
    infusion = np.where(waiting, planned, infusion)
    failed_later = waiting & ~np.isfinite(delay)
    failure = np.maximum(enrol + walk.failure_delay[:, :, :slots], cut.day)
    status = np.broadcast_to(cut.status, shape).copy()
    pending = status == PENDING
    followup = np.where(waiting, 0.0, np.nan_to_num(np.broadcast_to(cut.followup, shape)))
    days, cdf = _onset_cdf(truth, window)
    f_u = np.interp(followup, days, cdf)
    later = p * (1.0 - f_u) / np.maximum(1.0 - p * f_u, 1e-12)
    u = walk.dlt_uniform[:, :, :slots]
    has_dlt = pending & (u < later)
    share = np.where(has_dlt, u / np.maximum(later, 1e-300), 0.0)
    onset = np.interp(f_u + share * (1.0 - f_u), cdf, days)
    dropout = walk.dropout_day[:, :, :slots]
    dropout = np.where(dropout > followup, dropout, np.inf)
    seen = has_dlt & (onset <= dropout)
    withdrawn = pending & ~seen & (dropout < window)
    after = np.where(seen, onset, np.where(withdrawn, dropout, window))
    future = np.where(seen, DLT, np.where(withdrawn, NOT_EVALUABLE, NO_DLT))
    outcome = np.where(pending, future, status)
    outcome = np.where(failed_later, NOT_EVALUABLE, outcome)
    resolve = np.where(pending, infusion + after, cut.day)
    resolve = np.where(failed_later, failure, resolve)
    infusion = np.where(failed_later, np.inf, infusion)
    infusion = np.where(filled & np.isnan(infusion), np.inf, infusion)
    status = np.where(filled, status, 0).astype(np.int8)
    outcome = np.where(filled, outcome, -1).astype(np.int8)
    start = StartState(
        day=cut.day,
        level=level,
        status=status,
        enrol=np.where(filled, enrol, np.inf),
        infusion=np.where(filled, infusion, np.inf),
        resolve=np.where(filled, resolve, np.inf),
        outcome=outcome,
        stopped=np.zeros((trials, arms), dtype=bool),
        mtd=np.full((trials, arms), np.nan),
    )
    moved = dataclasses.replace(chunk.patients, arrival=chunk.patients.arrival + cut.day)
    return start, dataclasses.replace(chunk, patients=moved)


@dataclass(frozen=True, eq=False)
class ForwardSimulation:
    """Forward simulation of a data cut under one design and several scenarios.

    Attributes
    ----------
    cutoff : int
        Study day of the data cut.
    design : str
    dataset : xarray.Dataset
        Per scenario: ``prob_select_construct`` (dim ``selection``: constructs and none),
        ``prob_no_clear_winner``, ``prob_phase2_go``, ``mean_remaining_n`` and
        ``mean_remaining_months`` (from the cut-off to the end of the trial), each with
        ``_se``, and ``n_trials``.
    """

    cutoff: int
    design: str
    dataset: xr.Dataset

    @property
    def headline(self) -> str:
        trials = int(self.dataset["n_trials"].min())
        return (
            f"If the trial continues from study day {self.cutoff} under {self.design}: "
            f"{trials:,} simulated continuations per scenario"
        )

    def summary(self) -> pd.DataFrame:
        """One row per scenario: P(each construct selected, none), P(no clear winner),
        P(go), remaining patients and months, with their SEs."""
        ds = self.dataset
        rows = []
        for scenario in ds["scenario"].to_numpy():
            row: dict[str, object] = {"scenario": str(scenario)}
            for choice in ds["selection"].to_numpy():
                at = {"scenario": scenario, "selection": choice}
                row[f"P({choice})"] = float(ds["prob_select_construct"].sel(**at))
            for name, label in (
                ("prob_no_clear_winner", "P(no clear winner)"),
                ("prob_phase2_go", "P(go)"),
                ("mean_remaining_n", "remaining N"),
                ("mean_remaining_months", "remaining months"),
            ):
                row[label] = float(ds[name].sel(scenario=scenario))
                row[f"{label} SE"] = float(ds[f"{name}_se"].sel(scenario=scenario))
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        body = self.summary().to_string(index=False, float_format=lambda v: f"{v:.3f}")
        return f"{self.headline}\n{body}"

    def _repr_html_(self) -> str:
        table = self.summary().to_html(index=False, float_format=lambda v: f"{v:.3f}")
        return f"<p>{html.escape(self.headline)}</p>\n{table}"


def _forward_task(
    protocol: Protocol,
    design: EscalationDesign,
    scenario: Scenario,
    cut: _Cut,
    group: tuple[Block, ...],
    seed: int,
    settings: RunSettings,
) -> dict[str, np.ndarray]:
    truth = scenario_arrays(protocol, scenario)
    slots = max(slots_for(patient_limit(design)), cut.level.shape[1] + 8)
    chunk = draw_chunk(protocol, truth, list(group), seed, slots)
    while True:
        start, moved = _start(cut, chunk, float(protocol.dlt_window))
        try:
            outcome = run_chunk(
                protocol,
                design,
                moved,
                seed,
                settings,
                tmax=scenario.kinetics.tmax_days,
                start=start,
                observed=cut.observed,
            )
            break
        except OutOfSlots:
            chunk = widened(protocol, chunk, seed)
        except OutOfPatients:
            if chunk.pages >= 256:
                raise InputError(
                    f"scenario {scenario.name!r}: the trial did not end with the screened "
                    f"patients drawn"
                ) from None
            chunk = longer(protocol, chunk, seed)
    existing = int((cut.level >= 0).sum())
    return {
        "selected": outcome.selected,
        "no_clear_winner": (~np.isnan(outcome.phase1.mtd)).any(axis=1) & (outcome.selected < 0),
        "go": outcome.expansion.outcome == GO,
        "remaining_n": outcome.total_n - existing,
        "remaining_months": (outcome.duration_days - cut.day) / DAYS_PER_MONTH,
    }


def simulate_forward(
    trial: TrialData,
    *,
    design: str | EscalationDesign,
    scenarios: Iterable[str | Path | Scenario] | None,
    n_trials: int,
    seed: int,
    workers: int | None = None,
    scheduler: str | None = None,
    draws: int = 256,
    chunk_trials: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> ForwardSimulation:
    """Simulate the trial onward from its data cut under each scenario (module docstring).

    Parameters
    ----------
    trial : TrialData
        A Phase 1 data cut (:func:`~dartnk.analyses.load_trial`); its protocol is used.
    design : str or EscalationDesign
        The escalation design the arms continue under (a name built from the protocol).
    scenarios : iterable of names, YAML paths or Scenario objects, or None
        The truths to continue under (None: the whole library).
    n_trials, seed, workers, scheduler, draws, chunk_trials, progress
        As in :func:`~dartnk.analyses.simulate_trials`.

    Returns
    -------
    ForwardSimulation
    """
    from .simulation import _check_run, _run_tasks

    protocol = trial.protocol
    _check_run(n_trials, draws, seed, workers, scheduler)
    chosen = build_design(protocol, design) if isinstance(design, str) else design
    name = design if isinstance(design, str) else repr(design)
    named = resolve_scenarios(scenarios, protocol)
    cut = _cut(trial)
    settings = RunSettings(draws=int(draws))
    tasks = [
        (scenario, tuple(group))
        for scenario in named
        for group in chunks(blocks(int(n_trials)), chunk_trials)
    ]
    results: dict[str, dict[int, dict[str, np.ndarray]]] = {s: {} for s in named}

    def arguments(task):
        scenario, group = task
        return (protocol, chosen, named[scenario], cut, group, int(seed), settings)

    def collect(task, value):
        results[task[0]][task[1][0].index] = value

    _run_tasks(
        tasks,
        _forward_task,
        arguments,
        collect,
        workers,
        scheduler,
        progress,
        sizes=[sum(b.size for b in group) for _, group in tasks],
    )
    return ForwardSimulation(
        cutoff=int(trial.cutoff),
        design=name,
        dataset=_forward_dataset(protocol, named, results),
    )


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    count = values.size
    spread = values.std(ddof=1) if count > 1 else 0.0
    return float(values.mean()), float(spread / np.sqrt(count))


def _forward_dataset(protocol: Protocol, named: dict[str, Scenario], results: dict) -> xr.Dataset:
    constructs = list(protocol.construct_ids)
    choices = [*constructs, "none"]
    data: dict[str, list] = {}
    for scenario in named:
        parts = results[scenario]
        joined = {
            k: np.concatenate([parts[i][k] for i in sorted(parts)]) for k in parts[min(parts)]
        }
        selection = np.where(joined["selected"] >= 0, joined["selected"], len(constructs))
        hot = selection[:, None] == np.arange(len(choices))
        means = hot.mean(axis=0)
        data.setdefault("prob_select_construct", []).append(means)
        data.setdefault("prob_select_construct_se", []).append(
            np.sqrt(means * (1 - means) / hot.shape[0])
        )
        for key, name in (
            ("no_clear_winner", "prob_no_clear_winner"),
            ("go", "prob_phase2_go"),
            ("remaining_n", "mean_remaining_n"),
            ("remaining_months", "mean_remaining_months"),
        ):
            mean, se = _mean_se(joined[key])
            data.setdefault(name, []).append(mean)
            data.setdefault(f"{name}_se", []).append(se)
        data.setdefault("n_trials", []).append(hot.shape[0])
    variables = {}
    for name, values in data.items():
        if name.startswith("prob_select_construct"):
            variables[name] = (("scenario", "selection"), np.array(values))
        else:
            variables[name] = (("scenario",), np.array(values))
    return xr.Dataset(variables, coords={"scenario": list(named), "selection": choices})
