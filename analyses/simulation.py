"""Operating characteristics of the whole DART-NK-SCLC Phase 1/2: ``simulate_trials``.

A simulated trial runs in calendar time: screened patients arrive at the scenario's rate
and join an arm their antigens allow; three arms escalate in parallel under the chosen
design, each taking patients only while fewer than a cohort's worth are inside their DLT
follow-up; at the interim the construct selection reads exact conjugate posteriors of
safety, efficacy, kinetics and manufacturability; the selected construct is expanded at its
MTD under the protocol's futility and toxicity monitoring
(:mod:`dartnk.analyses.simulation_run`).

Every design and every scenario of a run sees the same patients (common random numbers),
so differences between designs come with paired standard errors. Trials are cut into
blocks of 1,000, each with its own seed; chunks of whole blocks run in this process or on
Dask workers (local worker processes, or an existing cluster by its scheduler address), and
the results are the same whatever the number of workers or the chunk size. Only sums per
block are kept, so memory does not grow with the number of trials unless per-trial
outcomes are asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dartnk.adaptive import EscalationDesign
from dartnk.adaptive.trial_walk import OutOfPatients, OutOfSlots
from dartnk.adaptive.walk import patient_limit

from .designs import build_design
from .errors import InputError
from .protocol import Protocol
from .scenario import Scenario
from .simulation_blocks import BLOCK_TRIALS, Block, blocks, chunks
from .simulation_latents import scenario_arrays
from .simulation_metrics import BlockSums, trial_values, truths
from .simulation_results import MANIFEST_SCHEMA, results_dataset
from .simulation_run import RunSettings, draw_chunk, longer, run_chunk, slots_for, widened
from .simulation_scenarios import resolve_scenarios

__all__ = ["DEFAULT_CHUNK_TRIALS", "MAX_TRIALS", "local_cluster", "simulate_trials"]

DEFAULT_CHUNK_TRIALS = 5000
"""Trials per task (whole blocks)."""
MAX_TRIALS = 10_000_000
_MAX_PAGES = 256
_MAX_SLOTS = 4096


@dataclass(frozen=True)
class _Task:
    """One scenario's trials of a chunk of blocks, for every design."""

    scenario: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, eq=False)
class _TaskResult:
    scenario: str
    sums: list[BlockSums]
    trials: dict[str, np.ndarray] | None


def _designs(
    protocol: Protocol, designs: Sequence[str] | Mapping[str, EscalationDesign] | str
) -> dict[str, EscalationDesign]:
    if isinstance(designs, str):
        designs = [designs]
    if isinstance(designs, Mapping):
        out = {}
        for name, design in designs.items():
            if not isinstance(design, EscalationDesign):
                raise InputError(f"design {name!r} is a {type(design).__name__}, not a design")
            out[str(name)] = design
    else:
        out = {}
        for name in designs:
            if not isinstance(name, str):
                raise InputError(
                    "designs are names (3+3, BOIN, CRM, ...) or a mapping of names to designs"
                )
            if name in out:
                raise InputError(f"design {name!r} is given twice")
            out[name] = build_design(protocol, name)
    if not out:
        raise InputError("no design to simulate")
    for name, design in out.items():
        if design.n_doses != len(protocol.dose_labels):
            raise InputError(
                f"design {name!r} has {design.n_doses} doses, the protocol "
                f"{len(protocol.dose_labels)}"
            )
        patient_limit(design)
    return out


def _rule_names(designs: Mapping[str, EscalationDesign]) -> list[str]:
    names: list[str] = []
    for design in designs.values():
        for rule, _ in design.rules:
            if rule not in names:
                names.append(rule)
    return names


def run_task(
    protocol: Protocol,
    designs: Mapping[str, EscalationDesign],
    scenario: Scenario,
    task: _Task,
    seed: int,
    settings: RunSettings,
    keep_trials: bool,
) -> _TaskResult:
    """Simulate one task: every design on the chunk's patients under one scenario."""
    truth = scenario_arrays(protocol, scenario)
    facts = truths(protocol, truth)
    rules = _rule_names(designs)
    slots = max(slots_for(patient_limit(d)) for d in designs.values())
    chunk = draw_chunk(protocol, truth, list(task.blocks), seed, slots)
    tmax = scenario.kinetics.tmax_days
    per_design = []
    kept: dict[str, list[np.ndarray]] = {}
    for design in designs.values():
        while True:
            try:
                outcome = run_chunk(protocol, design, chunk, seed, settings, tmax=tmax)
                break
            except OutOfPatients:
                if chunk.pages >= _MAX_PAGES:
                    raise InputError(
                        f"scenario {scenario.name!r}: the trial did not end with "
                        f"{chunk.pages * 128} screened patients; accrual or eligibility is "
                        f"too low for an arm to finish"
                    ) from None
                chunk = longer(protocol, chunk, seed)
            except OutOfSlots:
                if chunk.slots >= _MAX_SLOTS:
                    raise InputError(
                        f"scenario {scenario.name!r}: an arm enrolled more than "
                        f"{chunk.slots} patients; too many patients are not evaluable"
                    ) from None
                chunk = widened(protocol, chunk, seed)
        index = np.array([rules.index(r) for r, _ in design.rules], dtype=np.int64)
        per_design.append(
            trial_values(outcome, facts, index, len(rules), len(protocol.dose_labels))
        )
        if keep_trials:
            for name, values in _trial_arrays(outcome).items():
                kept.setdefault(name, []).append(values)
    sums = []
    offset = 0
    for block in task.blocks:
        sums.append(BlockSums.of(block.index, per_design, slice(offset, offset + block.size)))
        offset += block.size
    trials = {k: np.stack(v) for k, v in kept.items()} if keep_trials else None
    return _TaskResult(scenario=task.scenario, sums=sums, trials=trials)


def _trial_arrays(outcome: Any) -> dict[str, np.ndarray]:
    from .simulation_latents import DAYS_PER_MONTH

    return {
        "mtd": outcome.phase1.mtd,
        "phase1_patients": outcome.phase1.enrolled,
        "selected": outcome.selected,
        "expansion_outcome": outcome.expansion.outcome,
        "total_n": outcome.total_n,
        "duration_months": outcome.duration_days / DAYS_PER_MONTH,
    }


class _Reducer:
    """Adds block sums in block order per scenario, whatever order tasks finish in."""

    def __init__(self, scenarios: Iterable[str]) -> None:
        self.total: dict[str, BlockSums | None] = {s: None for s in scenarios}
        self.next: dict[str, int] = {s: 0 for s in self.total}
        self.waiting: dict[str, dict[int, BlockSums]] = {s: {} for s in self.total}

    def add(self, scenario: str, sums: list[BlockSums]) -> None:
        waiting = self.waiting[scenario]
        for item in sums:
            waiting[item.index] = item
        while self.next[scenario] in waiting:
            item = waiting.pop(self.next[scenario])
            current = self.total[scenario]
            self.total[scenario] = item if current is None else current + item
            self.next[scenario] += 1


def simulate_trials(
    protocol: Protocol,
    *,
    designs: Sequence[str] | Mapping[str, EscalationDesign] | str,
    scenarios: Iterable[str | Path | Scenario] | Mapping[str, Scenario] | None,
    n_trials: int,
    seed: int,
    workers: int | None = None,
    scheduler: str | None = None,
    draws: int = 256,
    chunk_trials: int = DEFAULT_CHUNK_TRIALS,
    keep_trials: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Simulate the whole Phase 1/2 under each design and scenario.

    Parameters
    ----------
    protocol : Protocol
        Constructs, doses, DLT window, cohort size, selection weights and ranges,
        expansion rules, priors of the interim posteriors.
    designs : sequence of str, or mapping of str to EscalationDesign
        Design names (:data:`dartnk.analyses.DESIGN_NAMES`: ``3+3``, ``CRM``, ``TITE-CRM``,
        ``BOIN``, ``TITE-BOIN``, ``BLRM``, ``TITE-BLRM``) built from the protocol, or designs
        by name.
    scenarios : iterable of names, YAML paths or Scenario objects, or None
        Scenarios of the library (:func:`dartnk.analyses.simulation_scenarios.scenario_library`),
        files, or objects; None for the whole library.
    n_trials : int
        Trials per design and scenario.
    seed : int
        Root seed; block b of 1,000 trials draws from the b-th child of
        ``numpy.random.SeedSequence(seed)``.
    workers : int, optional
        Run the chunks on this many local Dask worker processes (one thread each).
    scheduler : str, optional
        Address of an existing Dask scheduler (dask-jobqueue, Kubernetes, ...) to run on.
        Start its workers without Dask's ``MALLOC_TRIM_THRESHOLD_`` (for example
        ``dask worker --no-nanny``, or a nanny whose ``distributed.nanny.pre-spawn-environ``
        leaves it out): with the nanny's default of 64 KiB, glibc returns freed memory at
        once and the simulation's large temporary arrays fault their pages in again, which
        makes it about 1.7 times slower.
    draws : int, default 256
        Posterior draws per component and construct at the interim selection: the Monte
        Carlo SE of a P(best) near the threshold 0.5 is 0.5 / sqrt(draws), about 0.03.
    chunk_trials : int, default 5000
        Trials per task (rounded down to whole blocks, at least one).
    keep_trials : bool, default False
        Keep per-trial outcomes (``trial_*`` variables with a ``trial`` dim).
    progress : callable, optional
        Called as ``progress(done, total)`` with the trials simulated so far (all designs
        and scenarios counted once per trial).

    Returns
    -------
    xarray.Dataset
        Per design and scenario, every metric with its Monte Carlo SE and the paired
        differences between designs with their SEs, the scenarios' truths, the manifest
        (``attrs["manifest"]``) and a content hash (``attrs["content_hash"]``); see
        :mod:`dartnk.analyses.simulation_results`.

    Notes
    -----
    The calendar, eligibility, product and outcome model is that of
    :func:`~dartnk.analyses.generate_trial`, vectorised
    (:mod:`dartnk.adaptive.trial_walk`); the arms decide through the designs' own
    ``decide``. A trial without a clear winner at the interim has no expansion. The true
    MTD of an arm is the highest dose whose true DLT rate is at most the protocol's
    target, and the true best construct the one with the highest composite score of the
    true values there (protocol weights and desirability ranges).

    References
    ----------
    Morris TP, White IR, Crowther MJ (2019). Using simulation studies to evaluate
    statistical methods. Statistics in Medicine 38:2074-2102.

    FDA (2019). Adaptive Designs for Clinical Trials of Drugs and Biologics: Guidance for
    Industry, section on simulations.

    Examples
    --------
    >>> from dartnk.analyses import default_protocol
    >>> results = simulate_trials(
    ...     default_protocol(), designs=["3+3"], scenarios=["mtd-at-dl2"], n_trials=200, seed=1
    ... )
    >>> float(results["prob_select_dose"].sel(design="3+3", construct="A").sum()) <= 1.0
    True
    """
    _check_run(n_trials, draws, seed, workers, scheduler)
    chosen = _designs(protocol, designs)
    named = resolve_scenarios(scenarios, protocol)
    settings = RunSettings(draws=int(draws))
    all_blocks = blocks(int(n_trials))
    tasks = [
        _Task(scenario=name, blocks=tuple(group))
        for name in named
        for group in chunks(all_blocks, chunk_trials)
    ]
    reducer = _Reducer(named)
    kept: dict[str, dict[int, dict[str, np.ndarray]]] = {s: {} for s in named}

    def arguments(task: _Task) -> tuple:
        scenario = named[task.scenario]
        return (protocol, chosen, scenario, task, int(seed), settings, keep_trials)

    def collect(task: _Task, result: _TaskResult) -> None:
        reducer.add(result.scenario, result.sums)
        if result.trials is not None:
            kept[result.scenario][task.blocks[0].index] = result.trials

    sizes = [sum(b.size for b in task.blocks) for task in tasks]
    _run_tasks(tasks, run_task, arguments, collect, workers, scheduler, progress, sizes=sizes)
    truth = {name: (scenario_arrays(protocol, s), None) for name, s in named.items()}
    truth = {name: (arrays, truths(protocol, arrays)) for name, (arrays, _) in truth.items()}
    trials = None
    if keep_trials:
        trials = {
            s: {
                k: np.concatenate([kept[s][i][k] for i in sorted(kept[s])], axis=1)
                for k in next(iter(kept[s].values()))
            }
            for s in named
        }
    manifest = _manifest(protocol, chosen, named, int(n_trials), int(seed), settings)
    return results_dataset(
        designs=list(chosen),
        scenarios=list(named),
        constructs=protocol.construct_ids,
        doses=protocol.dose_labels,
        stop_rules=_rule_names(chosen),
        sums={s: reducer.total[s] for s in named},
        truth=truth,
        manifest=manifest,
        trials=trials,
    )


def _check_run(
    n_trials: int, draws: int, seed: int, workers: int | None, scheduler: str | None
) -> None:
    """Refuse bad run settings, naming the value and what was expected."""
    if isinstance(n_trials, bool) or int(n_trials) != n_trials or not 1 <= n_trials <= MAX_TRIALS:
        raise InputError(f"n_trials {n_trials!r} must be a whole number from 1 to {MAX_TRIALS:,}")
    if isinstance(draws, bool) or int(draws) != draws or not 16 <= draws <= 20_000:
        raise InputError(f"draws {draws!r} must be a whole number from 16 to 20,000")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise InputError(f"seed {seed!r} must be a non-negative whole number")
    if workers is not None and scheduler is not None:
        raise InputError("give either workers (local processes) or scheduler (an address)")
    if workers is not None and (int(workers) != workers or workers < 1):
        raise InputError(f"workers {workers!r} must be a positive whole number")


def _run_tasks(
    tasks: list,
    function: Callable,
    arguments: Callable,
    collect: Callable,
    workers: int | None,
    scheduler: str | None,
    progress: Callable[[int, int], None] | None,
    *,
    sizes: list[int],
) -> None:
    """Run ``function(*arguments(task))`` for every task, in this process or on Dask
    workers, handing each result to ``collect(task, result)`` as it finishes."""
    total = sum(sizes)
    done = 0

    def finished(position: int, result: object) -> None:
        nonlocal done
        collect(tasks[position], result)
        done += sizes[position]
        if progress is not None:
            progress(done, total)

    if workers is None and scheduler is None:
        for position, task in enumerate(tasks):
            finished(position, function(*arguments(task)))
        return
    from dask.distributed import Client, as_completed

    cluster = None
    if scheduler is None:
        cluster = local_cluster(int(workers))
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as error:
            raise InputError(
                f"cannot connect to the Dask scheduler at {scheduler}: {error}"
            ) from None
    try:
        futures = {
            client.submit(function, *arguments(task), pure=False): position
            for position, task in enumerate(tasks)
        }
        for future in as_completed(futures):
            finished(futures[future], future.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def local_cluster(workers: int) -> Any:
    """A local Dask cluster of ``workers`` worker processes of one thread each, for
    simulation chunks.

    The workers get the nanny's environment (one BLAS and OpenMP thread) except its
    ``MALLOC_TRIM_THRESHOLD_``: at Dask's 64 KiB, glibc gives freed memory back to the
    system at once, so every large temporary array of a chunk faults its pages in again,
    and a chunk runs about 1.7 times slower. Unset, glibc's own dynamic thresholds apply.
    The caller closes the cluster.
    """
    import dask
    from dask.distributed import LocalCluster

    key = "distributed.nanny.pre-spawn-environ"
    environ = {k: v for k, v in dask.config.get(key, {}).items() if k != "MALLOC_TRIM_THRESHOLD_"}
    with dask.config.set({key: environ}):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,
        )


def _manifest(
    protocol: Protocol,
    designs: Mapping[str, EscalationDesign],
    scenarios: Mapping[str, Scenario],
    n_trials: int,
    seed: int,
    settings: RunSettings,
) -> dict[str, object]:
    from dartnk.reports import environment_versions

    return {
        "schema": MANIFEST_SCHEMA,
        "seed": seed,
        "n_trials": n_trials,
        "block_trials": BLOCK_TRIALS,
        "draws": settings.draws,
        "designs": {name: repr(design) for name, design in designs.items()},
        "scenarios": {name: s.to_dict() for name, s in scenarios.items()},
        "scenario_hashes": {name: s.content_hash for name, s in scenarios.items()},
        "protocol": protocol.to_dict(),
        "protocol_hash": protocol.content_hash,
        "versions": environment_versions(("dartnk", "numpy", "scipy", "xarray", "dask")),
        "blocks": math.ceil(n_trials / BLOCK_TRIALS),
    }
