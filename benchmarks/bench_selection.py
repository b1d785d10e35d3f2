"""Throughput of the composite construct selection on a batch of simulated trials, on one core.

Run: ``python benchmarks/bench_selection.py [--trials 10000] [--draws 1000] [--repeats 3]``.
Prints a table; this is a measurement, not a test. BLAS and OpenMP are limited to one thread.

The components are the protocol's four (safety, efficacy, kinetics, manufacturability) for
three constructs, drawn per trial from Beta and normal posteriors with random centres, with
one construct in twenty without a candidate dose (NaN safety draws). Timed, best of
``--repeats`` after a warm-up call:

- ``select_construct`` on the whole batch (validation, scores, P(best), rank probabilities,
  gates, the selection), reported as selections (trials) per second;
- the same batch with its ``summary()`` (credible intervals, gate messages);
- one analysis (a batch of one trial) and its sensitivity analysis (kappa 50, 1000 weight
  draws, leave-one-component-out).

No goal is set.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from dartnk.adaptive import select_construct  # noqa: E402

WEIGHTS = {"safety": 0.35, "efficacy": 0.30, "kinetics": 0.20, "manufacturability": 0.15}
DESIRABILITY = {
    "safety": (0.40, 0.10),
    "efficacy": (0.10, 0.40),
    "kinetics": (2.0, 5.0),
    "manufacturability": (0.70, 0.95),
}
CONSTRUCTS = ("A", "B", "C")


def _beta(rng: np.random.Generator, mean: np.ndarray, size: float, draws: int) -> np.ndarray:
    return rng.beta(mean[..., None] * size, (1 - mean[..., None]) * size, (*mean.shape, draws))


def components(trials: int, draws: int, seed: int) -> xr.Dataset:
    """Simulated posterior draws of the four components, shape (trial, construct, draw)."""
    rng = np.random.default_rng(seed)
    shape = (trials, len(CONSTRUCTS))
    safety = _beta(rng, rng.uniform(0.08, 0.40, shape), 20.0, draws)
    safety[rng.random(shape) < 0.05] = np.nan
    efficacy = _beta(rng, rng.uniform(0.10, 0.45, shape), 25.0, draws)
    kinetics = rng.normal(rng.uniform(2.5, 4.5, shape)[..., None], 0.4, (*shape, draws))
    release = _beta(rng, rng.uniform(0.75, 0.97, shape), 30.0, draws)
    dims = ("trial", "construct", "draw")
    coords = {"construct": list(CONSTRUCTS)}
    return xr.Dataset(
        {
            name: xr.DataArray(values, dims=dims, coords=coords)
            for name, values in (
                ("safety", safety),
                ("efficacy", efficacy),
                ("kinetics", kinetics),
                ("manufacturability", release),
            )
        }
    )


def best_time(run: Callable[[], object], repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    options = parser.parse_args()

    batch = components(options.trials, options.draws, options.seed)

    def select(data: xr.Dataset):
        return select_construct(data, weights=WEIGHTS, desirability=DESIRABILITY)

    rows = []
    seconds = best_time(lambda: select(batch), options.repeats)
    rows.append(("select_construct, batch", options.trials, seconds))
    seconds = best_time(lambda: select(batch).summary(), options.repeats)
    rows.append(("select_construct + summary(), batch", options.trials, seconds))
    single = batch.isel(trial=0)
    seconds = best_time(lambda: select(single), options.repeats)
    rows.append(("select_construct, one analysis", 1, seconds))
    result = select(single)
    seconds = best_time(lambda: result.sensitivity(seed=options.seed), options.repeats)
    rows.append(("sensitivity (kappa 50, 1000 weight draws)", 1, seconds))

    selected = select(batch).selected.to_series().value_counts(dropna=False)
    print(
        f"{options.trials} trials x {len(CONSTRUCTS)} constructs x {options.draws} draws, "
        f"best of {options.repeats}, one thread"
    )
    print(f"{'step':<45} {'trials':>8} {'seconds':>10} {'selections/s':>14}")
    for name, trials, seconds in rows:
        print(f"{name:<45} {trials:>8} {seconds:>10.4f} {trials / seconds:>14,.0f}")
    shares = ", ".join(
        f"{'none' if label is None else label} {count / options.trials:.1%}"
        for label, count in selected.items()
    )
    print(f"selections in the simulated batch: {shares}")


if __name__ == "__main__":
    main()
