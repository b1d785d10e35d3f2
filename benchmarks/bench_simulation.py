"""Trials per second of the simulations, on one core, and the speed-up with two workers.

Run: ``python benchmarks/bench_simulation.py [--scale 1.0] [--repeats 3] [--skip-workers]``.
Prints a table; this is a measurement, not a test. BLAS and OpenMP are limited to one
thread before NumPy loads.

Each line is the best of ``--repeats`` timed runs after one warm-up run of the same kind
(a design's count graph is made and explored on first use, and grows as walks meet new
states; a long run reuses it as these repeats do). Lines and their goals:

- single-arm BOIN, 5 doses, 10 cohorts of 3 (``BOIN::get.oc``'s setting): >= 1,000,000;
- single-arm CRM, 6 doses, 24 patients one at a time (``dfcrm::crmsim``'s): >= 250,000;
- single-arm BLRM, the protocol's (5 doses, 18 patients): >= 20,000;
- the whole Phase 1/2 (three arms in calendar time, interim selection on 256 posterior
  draws per component, expansion) under the 3+3: >= 20,000; under BOIN or CRM: >= 5,000;
  under the BLRM: >= 1,000 (the default scenario).

The whole-trial lines are also run with 64 posterior draws, to show the share of the
interim selection. The last lines time the same whole-trial run in this process and on a
local Dask cluster of two worker processes (each chunk of 5,000 trials a task; the cluster
of ``dartnk simulate --workers``), each warmed up first, and print the speed-up; it is
bounded by the cores free on the machine.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

from dartnk.adaptive import BOIN, CRM  # noqa: E402
from dartnk.analyses import build_design, default_protocol, simulate_arm  # noqa: E402
from dartnk.analyses.simulation import local_cluster, simulate_trials  # noqa: E402

GOALS = {
    "single-arm BOIN": 1_000_000,
    "single-arm CRM": 250_000,
    "single-arm BLRM": 20_000,
    "Phase 1/2 3+3": 20_000,
    "Phase 1/2 BOIN": 5_000,
    "Phase 1/2 CRM": 5_000,
    "Phase 1/2 BLRM": 1_000,
}


def best(run: Callable[[int], object], repeats: int) -> float:
    """Best wall time of ``repeats`` runs (seeds 1, 2, ...) after one warm-up (seed 0)."""
    run(0)
    times = []
    for seed in range(1, repeats + 1):
        start = time.perf_counter()
        run(seed)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="Multiply every trial count.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-workers", action="store_true")
    options = parser.parse_args()
    scale = options.scale
    protocol = default_protocol()
    rows: list[tuple[str, int, float, int | None]] = []

    def arm(label: str, design, p, trials: int) -> None:
        n = max(1000, int(trials * scale))
        seconds = best(lambda seed: simulate_arm(design, p, n_trials=n, seed=seed), options.repeats)
        rows.append((label, n, seconds, GOALS.get(label)))

    arm(
        "single-arm BOIN",
        BOIN(0.3, n_doses=5, cohort_size=3, max_n=30),
        [0.05, 0.15, 0.30, 0.45, 0.60],
        1_000_000,
    )
    skeleton = [0.05, 0.10, 0.20, 0.35, 0.50, 0.70]
    arm("single-arm CRM", CRM(skeleton, 0.2, start=2, max_n=24, cohort_size=1), skeleton, 500_000)
    arm(
        "single-arm CRM, cohorts of 3",
        CRM(skeleton, 0.2, start=2, max_n=24, cohort_size=3),
        skeleton,
        500_000,
    )
    arm(
        "single-arm BLRM",
        build_design(protocol, "BLRM"),
        [0.04, 0.08, 0.15, 0.30, 0.45],
        100_000,
    )

    def whole(label: str, name: str, trials: int, draws: int = 256, scheduler=None) -> float:
        n = max(1000, int(trials * scale))

        def run(seed: int) -> object:
            return simulate_trials(
                protocol,
                designs=[name],
                scenarios=["default"],
                n_trials=n,
                seed=seed,
                draws=draws,
                scheduler=scheduler,
            )

        seconds = best(run, options.repeats)
        rows.append((label, n, seconds, GOALS.get(label)))
        return seconds

    for name, trials in (("3+3", 20_000), ("BOIN", 20_000), ("CRM", 20_000), ("BLRM", 10_000)):
        whole(f"Phase 1/2 {name}", name, trials)
    for name in ("3+3", "BOIN"):
        whole(f"Phase 1/2 {name}, 64 draws", name, 20_000, draws=64)
    speedup = None
    if not options.skip_workers:
        one = whole("Phase 1/2 BOIN, this process", "BOIN", 40_000)
        with local_cluster(2) as cluster:
            two = whole(
                "Phase 1/2 BOIN, 2 Dask workers",
                "BOIN",
                40_000,
                scheduler=cluster.scheduler_address,
            )
        speedup = one / two

    print("simulation throughput, one thread per process")
    print(f"{'simulation':<34}{'trials':>10}{'seconds':>10}{'trials/s':>12}{'goal':>12}  met")
    for label, n, seconds, goal in rows:
        rate = n / seconds
        shown = f"{goal:>12,}" if goal else f"{'':>12}"
        met = "" if goal is None else ("yes" if rate >= goal else "no")
        print(f"{label:<34}{n:>10,}{seconds:>10.3f}{rate:>12,.0f}{shown}  {met}")
    if speedup is not None:
        print(f"speed-up with 2 workers: {speedup:.2f}x (on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
