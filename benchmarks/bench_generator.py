"""Synthetic trials per second of the generator (all seven tables, Phase 1 and 2).

Run: ``python benchmarks/bench_generator.py [--trials 50]``. Prints one line; this is a
measurement, not a test.
"""

from __future__ import annotations

import argparse
import time

from dartnk.analyses import default_protocol, default_scenario, generate_trial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    args = parser.parse_args()
    protocol, scenario = default_protocol(), default_scenario()
    generate_trial(protocol, scenario, seed=0, include_phase2=True)
    start = time.perf_counter()
    patients = 0
    for seed in range(1, args.trials + 1):
        tables = generate_trial(protocol, scenario, seed=seed, include_phase2=True)
        patients += len(tables["patients"])
    seconds = time.perf_counter() - start
    print(
        f"generate_trial with Phase 2: {args.trials / seconds:.1f} trials per second, "
        f"{1000 * seconds / args.trials:.1f} ms per trial, {patients / args.trials:.1f} "
        f"patients per trial ({args.trials} trials)"
    )


if __name__ == "__main__":
    main()
