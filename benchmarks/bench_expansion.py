"""Time of the Phase 2 rules' exact computations and batch decisions, on one core.

Run: ``python benchmarks/bench_expansion.py [--repeats 5] [--trials 1000000]``. Prints a
table; this is a measurement, not a test. BLAS and OpenMP are limited to one thread.

- Simon's optimal and minimax searches (n up to 100) for four (p0, p1, alpha, beta) rows
  of Simon's (1989) tables, for the protocol's expansion and for clinfun's example: cold
  (the search's cache cleared before each call) and warm (the cached result), beside R's
  clinfun ``ph2simon(0.15, 0.35, 0.05, 0.2, nmax = 100)``, 9.9 ms on this machine, and
  the goal of at most 10 ms cold (no slower than clinfun; clinfun returns both designs in
  one call, the search here too, and each row times one of them from a cleared cache);
- exact operating characteristics of the protocol's predictive-probability design and
  toxicity monitor at 21 response rates;
- the threshold search of the predictive-probability design (the default grids);
- batch decisions of the predictive-probability rule on random (n, responses) states.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from dartnk.adaptive import search_predictive_design, simon_two_stage  # noqa: E402
from dartnk.adaptive._simon_search import simon_search  # noqa: E402
from dartnk.adaptive.predictive import _final_responses, _pp_table  # noqa: E402
from dartnk.analyses import default_protocol, predictive_design, toxicity_monitor  # noqa: E402

SIMON_CASES = (
    (0.05, 0.25, 0.10, 0.10),
    (0.10, 0.30, 0.05, 0.20),
    (0.20, 0.40, 0.10, 0.10),
    (0.30, 0.50, 0.05, 0.20),
    (0.15, 0.35, 0.10, 0.20),
    (0.15, 0.35, 0.05, 0.20),
)
CLINFUN_MS = {(0.15, 0.35, 0.05, 0.20): 9.9}
GOAL_MS = 10.0


def _best(call: Callable[[], object], repeats: int, before: Callable[[], None] | None = None):
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def _clear() -> None:
    simon_search.cache_clear()
    _pp_table.cache_clear()
    _final_responses.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--trials", type=int, default=1_000_000)
    args = parser.parse_args()
    protocol = default_protocol()
    design = predictive_design(protocol)
    monitor = toxicity_monitor(protocol)
    rates = np.linspace(0.0, 0.6, 21)
    simon_rows = []
    for p0, p1, alpha, beta in SIMON_CASES:
        for kind in ("optimal", "minimax"):

            def call(p0=p0, p1=p1, a=alpha, b=beta, k=kind):
                simon_two_stage(p0, p1, a, b, design=k)

            cold = _best(call, args.repeats, _clear)
            warm = _best(call, args.repeats)
            name = f"Simon {kind} p0={p0:g} p1={p1:g} a={alpha:g} b={beta:g}"
            simon_rows.append((name, cold, warm, CLINFUN_MS.get((p0, p1, alpha, beta))))
    rows: list[tuple[str, float]] = []
    rows.append(("PP design exact OC, 21 rates", _best(lambda: design.exact_oc(rates), 3, _clear)))
    rows.append(("toxicity monitor exact OC, 21 rates", _best(lambda: monitor.exact_oc(rates), 3)))
    e = protocol.expansion
    rows.append(
        (
            "PP threshold search (default grids)",
            _best(
                lambda: search_predictive_design(
                    e.p0, e.p1, e.n_max, alpha=e.alpha, beta=e.beta, looks=design.looks
                ),
                1,
                _clear,
            ),
        )
    )
    rng = np.random.default_rng(1)
    n = rng.choice(np.asarray(design.looks), args.trials)
    x = rng.binomial(n, 0.25)
    design.decide(n[:10], x[:10])
    decide = _best(lambda: design.decide(n, x), 3)
    print("Simon two-stage search, n <= 100, one thread, best of repeats\n")
    width = max(len(name) for name, *_ in simon_rows) + 2
    print(f"{'':<{width}}{'cold':>10}{'warm':>10}{'clinfun':>10}{'goal':>10}")
    for name, cold, warm, clinfun in simon_rows:
        r_time = "" if clinfun is None else f"{clinfun:.1f} ms"
        print(
            f"{name:<{width}}{1000 * cold:>7.2f} ms{1000 * warm:>7.3f} ms{r_time:>10}"
            f"{'<= ' + format(GOAL_MS, 'g') + ' ms':>10}"
        )
    print("\nPhase 2 rules, one thread, best of repeats (cold caches for the searches)\n")
    width = max(len(name) for name, _ in rows) + 2
    for name, seconds in rows:
        print(f"{name:<{width}}{1000 * seconds:>10.2f} ms")
    print(f"\nPP batch decisions: {args.trials / decide:,.0f} per second ({args.trials:,} states)")


if __name__ == "__main__":
    main()
