"""Decisions per second of every escalation design's batch method, on one core.

Run: ``python benchmarks/bench_designs.py [--trials 100000] [--repeats 3] [--seed N]``.
Prints a table; this is a measurement, not a test. BLAS and OpenMP are limited to one
thread before NumPy loads.

Each design is built from the default protocol (five dose levels, start DL1, cohorts of 3,
at most 18 patients for the model-based designs) and timed on two sets of trial states,
best of ``--repeats`` after a warm-up call:

- random: patients per dose uniform on 0..6, DLTs binomial with a random rate, a random
  current dose, so that nearly every state is distinct (the model-based engines evaluate
  identical states once, which does not help here);
- simulation-like: each trial walked forward from the start dose with the design's own
  decisions, 1 to 6 cohorts of 3 with DLTs from a random increasing dose-toxicity curve,
  stopping where the design stops, so that many states repeat as in a simulation.

TITE designs get one to three patients still inside the DLT window at the current dose,
with continuous weights in (0, 1): random ones on the random states, and the newest
cohort's patients without DLT on the walked states, so that every TITE state is distinct.

The goals are those of issue 4, on the random states: at least 1,000,000 decisions per
second for the 3+3 and BOIN, 200,000 for the CRM and BLRM; none is set for the TITE
variants. The exact operating characteristics of the 3+3 (:meth:`ThreePlusThree.exact_oc`)
are timed too.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from dartnk.adaptive import CRM, EscalationDesign, EscalationState, PendingBatch  # noqa: E402
from dartnk.analyses import default_protocol  # noqa: E402
from dartnk.analyses.designs import build_design  # noqa: E402

NAMES = ("3+3", "BOIN", "CRM", "BLRM", "TITE-BOIN", "TITE-CRM", "TITE-BLRM")
GOALS = {"3+3": 1_000_000, "BOIN": 1_000_000, "CRM": 200_000, "BLRM": 200_000}
COHORT = 3
MAX_COHORTS = 6
MAX_PENDING = 3


class States:
    """A batch of trial states: counts, current dose, pending patients and options."""

    def __init__(self, n, y, current, pending=None, options=None):
        self.n, self.y, self.current = n, y, current
        self.pending = pending
        self.options = options or {}

    def distinct_share(self) -> float:
        key = [self.n, self.y, self.current[:, None]]
        if self.pending is not None:
            key.append(self.pending.weight)
        return np.unique(np.concatenate(key, axis=1), axis=0).shape[0] / self.n.shape[0]


def random_states(trials: int, doses: int, rng: np.random.Generator) -> States:
    """Counts uniform on 0..6 per dose, binomial DLTs, a random current dose."""
    n = rng.integers(0, 7, (trials, doses))
    y = rng.binomial(n, rng.uniform(0.0, 0.6, n.shape))
    return States(n, y, rng.integers(0, doses, trials))


def random_pending(current: np.ndarray, rng: np.random.Generator) -> PendingBatch:
    """One to three pending patients per trial at the current dose, weights in (0, 1)."""
    trials = current.size
    count = rng.integers(1, MAX_PENDING + 1, trials)
    mask = np.arange(MAX_PENDING)[None, :] < count[:, None]
    return PendingBatch(
        level=np.repeat(current[:, None], MAX_PENDING, axis=1),
        weight=np.where(mask, rng.uniform(0.05, 0.95, (trials, MAX_PENDING)), 0.0),
        mask=mask,
    )


def _coherence(design: EscalationDesign, last_dlt: np.ndarray) -> dict[str, np.ndarray]:
    return {"last_cohort_dlt": last_dlt} if isinstance(design, CRM) else {}


def walked_states(design: EscalationDesign, trials: int, rng: np.random.Generator) -> States:
    """States after 1-6 cohorts of 3 walked with the design's decisions (complete follow-up).

    For a TITE design the newest cohort's patients without a DLT are then made pending,
    with random weights, as when a simulation decides before their follow-up ends.
    """
    doses = design.n_doses
    true_logit = rng.normal(-1.5, 1.0, (trials, 1)) + np.cumsum(
        rng.exponential(0.6, (trials, doses)), axis=1
    )
    p_true = 1.0 / (1.0 + np.exp(-true_logit))
    cohorts = rng.integers(1, MAX_COHORTS + 1, trials)
    n = np.zeros((trials, doses), dtype=np.int64)
    y = np.zeros((trials, doses), dtype=np.int64)
    current = np.full(trials, design.start)
    last_dlt = np.zeros(trials, dtype=np.int64)
    rows = np.arange(trials)
    adding = np.ones(trials, dtype=bool)
    for k in range(MAX_COHORTS):
        if k:
            decision = design.decide(
                EscalationState.of(n, y, current, **_coherence(design, last_dlt > 0))
            )
            adding &= ~decision.stop & (cohorts > k)
            current = np.where(adding, decision.next_dose, current).astype(np.int64)
        dlt = rng.binomial(COHORT, p_true[rows, current])
        n[rows[adding], current[adding]] += COHORT
        y[rows[adding], current[adding]] += dlt[adding]
        last_dlt = np.where(adding, dlt, last_dlt)
    states = States(n, y, current, options=_coherence(design, last_dlt > 0))
    if design.window is None:
        return states
    waiting = COHORT - last_dlt
    mask = np.arange(MAX_PENDING)[None, :] < waiting[:, None]
    n = n.copy()
    n[rows, current] -= waiting
    pending = PendingBatch(
        level=np.repeat(current[:, None], MAX_PENDING, axis=1),
        weight=np.where(mask, rng.uniform(0.05, 0.95, (trials, MAX_PENDING)), 0.0),
        mask=mask,
    )
    return States(n, y, current, pending, states.options)


def per_second(design: EscalationDesign, states: States, repeats: int) -> float:
    """Decisions per second: best of ``repeats`` timed calls after one warm-up call."""
    args = (states.n, states.y, states.current)
    design.decide(EscalationState.of(*args, pending=states.pending, **states.options))
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        design.decide(EscalationState.of(*args, pending=states.pending, **states.options))
        best = min(best, time.perf_counter() - start)
    return states.n.shape[0] / best


def exact_oc_seconds(design, true_tox: np.ndarray, repeats: int) -> float:
    design.exact_oc(true_tox)
    best = np.inf
    for _ in range(max(repeats, 10)):
        start = time.perf_counter()
        design.exact_oc(true_tox)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args()
    protocol = default_protocol()
    seeds = np.random.SeedSequence(args.seed).spawn(len(NAMES) + 1)
    shared = random_states(args.trials, len(protocol.dose_labels), np.random.default_rng(seeds[0]))
    print(
        f"{args.trials:,} trial states per set, best of {args.repeats} after a warm-up, "
        f"one thread; decisions per second\n"
    )
    header = (
        f"{'design':10s} {'grid nodes':>10s} {'random':>12s} {'distinct':>8s} "
        f"{'simulation':>12s} {'distinct':>8s} {'goal':>10s}  met"
    )
    print(header)
    print("-" * len(header))
    for name, seed in zip(NAMES, seeds[1:], strict=True):
        design = build_design(protocol, name)
        rng = np.random.default_rng(seed)
        random = shared
        if design.window is not None:
            random = States(shared.n, shared.y, shared.current, random_pending(shared.current, rng))
        walked = walked_states(design, args.trials, rng)
        fast_random = per_second(design, random, args.repeats)
        fast_walked = per_second(design, walked, args.repeats)
        grid = getattr(design, "_grid", None)
        nodes = "-" if grid is None else f"{grid.nodes:,}"
        goal = GOALS.get(name)
        met = "-" if goal is None else ("yes" if fast_random >= goal else "NO")
        print(
            f"{name:10s} {nodes:>10s} {fast_random:12,.0f} {random.distinct_share():8.0%} "
            f"{fast_walked:12,.0f} {walked.distinct_share():8.0%} "
            f"{'-' if goal is None else f'{goal:,}':>10s}  {met}"
        )
    three = build_design(protocol, "3+3")
    true_tox = np.array([0.05, 0.10, 0.20, 0.35, 0.50])
    seconds = exact_oc_seconds(three, true_tox, args.repeats)
    print(
        f"\nThreePlusThree.exact_oc, {three.n_doses} dose levels, true DLT rates "
        f"{true_tox.tolist()}: {seconds * 1e3:.2f} ms per call (best of repeats)"
    )
    print("goal met: judged on the random states, as issue 4 defines the benchmark")


if __name__ == "__main__":
    main()
