"""Start-up time of the ``dartnk`` command line: wall time of ``dartnk --version`` and
``dartnk --help``, each run as a new process.

Run: ``python benchmarks/bench_startup.py [--runs 15]``. Prints the median and the range
of the wall times beside the goal of 400 ms, and, for scale, the time of the interpreter
alone (``python -c pass``) and of a command's help (``dartnk validate --help``, which also
builds that command's options). This is a measurement, not a test; the first run of each
is a warm-up (disk cache) and is not counted.

The command line imports only typer at start-up; pandas, SciPy, pandera, PyMC and NumPy
load inside the commands that use them (``python -X importtime -m dartnk --help`` shows
what loads).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_MS = 400.0


def _command() -> list[str]:
    """The installed ``dartnk`` script beside this interpreter, else ``python -m dartnk``."""
    script = shutil.which("dartnk", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "dartnk"]


def _wall_times(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    dartnk = _command()
    rows = [
        ("dartnk --version", [*dartnk, "--version"], True),
        ("dartnk --help", [*dartnk, "--help"], True),
        ("dartnk validate --help", [*dartnk, "validate", "--help"], False),
        ("python -c pass", [sys.executable, "-c", "pass"], False),
    ]
    print(f"Start-up of the command line, {args.runs} runs each (new process per run)\n")
    width = max(len(name) for name, *_ in rows) + 2
    print(f"{'':<{width}}{'median':>10}{'min':>10}{'max':>10}{'goal':>12}")
    for name, argv, has_goal in rows:
        times = [1000 * t for t in _wall_times(argv, args.runs)]
        goal = f"< {GOAL_MS:g} ms" if has_goal else ""
        print(
            f"{name:<{width}}{statistics.median(times):>7.0f} ms{min(times):>7.0f} ms"
            f"{max(times):>7.0f} ms{goal:>12}"
        )


if __name__ == "__main__":
    main()
