"""Where the time of a whole-trial simulation goes: CPU seconds per stage, on one core.

Run: ``python benchmarks/bench_simulation_stages.py [--trials 20000] [--draws 256]
[--designs 3+3,BOIN,CRM] [--repeats 3]``. Prints a table; this is a measurement, not a
test. BLAS and OpenMP are limited to one thread before NumPy loads.

Each design is run once to warm up (its count graph is made on first use), then
``--repeats`` times, default scenario; the run of least CPU time is shown. A stage's time is
the CPU time spent in its function, timed by a wrapper put in its callers' namespace for the
run:

- patients: the screened patients and the latent uniforms of every slot (``draw_chunk``);
- Phase 1 walk: the three arms in calendar time (``walk_phase1``);
- interim data: what the interim sees of each arm (``interim_data``);
- selection: the posterior draws and ``select_construct`` (``select``);
- expansion: the Phase 2 expansion and its rules (``simulate_expansion``);
- rest: the metrics and the result.

The last column is the rate the run would reach if the Phase 1 walk cost nothing: an upper
bound for what any speed-up of the walk alone can give.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import functools  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from unittest import mock  # noqa: E402

from dartnk.analyses import default_protocol  # noqa: E402
from dartnk.analyses import simulation as _simulation  # noqa: E402
from dartnk.analyses import simulation_run as _run  # noqa: E402
from dartnk.analyses.simulation import simulate_trials  # noqa: E402

STAGES = {
    "patients": "draw_chunk",
    "Phase 1 walk": "walk_phase1",
    "interim data": "interim_data",
    "selection": "select",
    "expansion": "simulate_expansion",
}
CALLERS = {"draw_chunk": (_simulation, _run)}


def _timed(function: Callable, stage: str, seconds: Counter) -> Callable:
    @functools.wraps(function)
    def timed(*args, **kwargs):
        start = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[stage] += time.process_time() - start

    return timed


@contextlib.contextmanager
def stage_timers(seconds: Counter) -> Iterator[None]:
    """Within the block, every stage's function adds its CPU time to ``seconds``."""
    with contextlib.ExitStack() as stack:
        for stage, name in STAGES.items():
            original = getattr(_run, name)
            wrapper = _timed(original, stage, seconds)
            for module in CALLERS.get(name, (_run,)):
                stack.enter_context(mock.patch.object(module, name, wrapper))
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20_000)
    parser.add_argument("--draws", type=int, default=256)
    parser.add_argument("--designs", default="3+3,BOIN,CRM")
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    if options.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {options.repeats}")
    protocol = default_protocol()
    names = [name.strip() for name in options.designs.split(",") if name.strip()]
    columns = (*STAGES, "rest", "total")
    print(f"CPU seconds per stage, {options.trials:,} trials, {options.draws} draws, one thread")
    print(f"{'design':<8}{''.join(f'{c:>14}' for c in columns)}{'trials/s':>11}{'walk free':>11}")
    for name in names:

        def run(seed: int, design: str = name) -> object:
            return simulate_trials(
                protocol,
                designs=[design],
                scenarios=["default"],
                n_trials=options.trials,
                seed=seed,
                draws=options.draws,
            )

        run(0)
        best: dict[str, float] = {}
        for seed in range(1, options.repeats + 1):
            seconds: Counter = Counter()
            with stage_timers(seconds):
                start = time.process_time()
                run(seed)
                total = time.process_time() - start
            if not best or total < best["total"]:
                best = {stage: seconds[stage] for stage in STAGES}
                best["rest"] = total - sum(best.values())
                best["total"] = total
        cells = "".join(f"{best[c]:>14.3f}" for c in columns)
        rate = options.trials / best["total"]
        free = options.trials / (best["total"] - best["Phase 1 walk"])
        print(f"{name:<8}{cells}{rate:>11,.0f}{free:>11,.0f}")


if __name__ == "__main__":
    main()
