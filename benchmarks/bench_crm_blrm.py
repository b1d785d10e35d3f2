"""Decisions per second of the CRM and BLRM batch methods, on one core.

Run: ``python benchmarks/bench_crm_blrm.py [--trials 100000] [--repeats 3]``. Prints one line
per design and scenario; this is a measurement, not a test. BLAS and OpenMP are limited to
one thread before NumPy loads.

Scenarios, each on the protocol's designs (five dose levels, start DL1, at most 18 patients):

- uniform: patients per dose uniform on 0..6 and DLTs binomial with a random rate, so that
  nearly every state is distinct (the engine's evaluation of identical states once does
  not help);
- walk: a random walk of cohorts of 3 from DL1 with DLTs from a random increasing curve,
  as in a simulation, where many states repeat;
- TITE: the walk states with one to three pending patients per trial at the current dose,
  with continuous TITE weights, so that every state is distinct.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from dartnk.adaptive import BLRM, CRM, PendingBatch  # noqa: E402

SKELETON = (0.05, 0.12, 0.20, 0.30, 0.40)
DOSES = (5e7, 1e8, 3e8, 1e9, 2e9)
LABELS = ("DL-1", "DL1", "DL2", "DL3", "DL4")


def uniform_states(trials: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Counts uniform on 0..6 per dose, binomial DLTs, a random current dose."""
    n = rng.integers(0, 7, (trials, len(DOSES)))
    y = rng.binomial(n, rng.uniform(0.0, 0.6, n.shape))
    return n, y, rng.integers(0, len(DOSES), trials)


def walk_states(trials: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """One to six cohorts of 3 on a random walk from DL1, DLTs from a random curve."""
    doses = len(DOSES)
    true_logit = rng.normal(-1.5, 1.0, (trials, 1)) + np.cumsum(
        rng.exponential(0.6, (trials, doses)), axis=1
    )
    p_true = 1.0 / (1.0 + np.exp(-true_logit))
    cohorts = rng.integers(1, 7, trials)
    n = np.zeros((trials, doses), dtype=np.int64)
    y = np.zeros((trials, doses), dtype=np.int64)
    current = np.full(trials, 1)
    rows = np.arange(trials)
    for k in range(6):
        active = cohorts > k
        if k:
            step = rng.integers(-1, 2, trials)
            current = np.where(active, np.clip(current + step, 0, doses - 1), current)
        dlt = rng.binomial(3, p_true[rows, current])
        n[rows[active], current[active]] += 3
        y[rows[active], current[active]] += dlt[active]
    return n, y, current


def random_pending(current: np.ndarray, rng: np.random.Generator) -> PendingBatch:
    """One to three pending patients per trial at the current dose, weights in (0, 1)."""
    trials = current.size
    count = rng.integers(1, 4, trials)
    mask = np.arange(3)[None, :] < count[:, None]
    return PendingBatch(
        level=np.repeat(current[:, None], 3, axis=1),
        weight=np.where(mask, rng.uniform(0.05, 0.95, (trials, 3)), 0.0),
        mask=mask,
    )


def distinct_share(n: np.ndarray, y: np.ndarray, pending: PendingBatch | None) -> float:
    key = [n, y] if pending is None else [n, y, pending.weight]
    return np.unique(np.concatenate(key, axis=1), axis=0).shape[0] / n.shape[0]


def rate(design, n, y, current, pending, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        design.decide(n, y, current, pending=pending)
        best = min(best, time.perf_counter() - start)
    return n.shape[0] / best


def designs(window: float | None) -> dict[str, CRM | BLRM]:
    prefix = "" if window is None else "TITE-"
    return {
        f"{prefix}CRM": CRM(
            SKELETON, 0.30, window=window, start=1, stop_prob=0.9, max_n=18, labels=LABELS
        ),
        f"{prefix}BLRM": BLRM(
            DOSES,
            3e8,
            prior_mean=(-0.85, 0.0),
            prior_sd=(2.0, 1.0),
            window=window,
            start=1,
            max_n=18,
            labels=LABELS,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    walk = walk_states(args.trials, rng)
    scenarios = [
        ("uniform", designs(None), uniform_states(args.trials, rng), None),
        ("walk", designs(None), walk, None),
        ("TITE", designs(28.0), walk, random_pending(walk[2], rng)),
    ]
    print(f"{args.trials:,} random trial states per scenario, best of {args.repeats}, one thread")
    for scenario, chosen, (n, y, current), pending in scenarios:
        share = distinct_share(n, y, pending)
        for name, design in chosen.items():
            per_second = rate(design, n, y, current, pending, args.repeats)
            print(
                f"{scenario:8s} {name:10s} {design._grid.nodes:5d} grid nodes "
                f"{per_second:12,.0f} decisions/s ({share:.0%} distinct states)"
            )


if __name__ == "__main__":
    main()
