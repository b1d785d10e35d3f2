"""Wall time of ``dartnk demo``: the interim analysis of the embedded example cut, every model
sampled at the protocol's settings, and its report.

Run: ``python benchmarks/bench_interim.py [--runs 2]``. Each run is a new process writing
the report to a temporary folder. *Cold* runs use a fresh, empty PyTensor compile directory
(``PYTENSOR_FLAGS=compiledir=...``), so every model is compiled; *warm* runs reuse one
compile directory filled by a first, uncounted run. Prints each run's total, the time of
every step and model fit (from the command's progress lines on stderr), and the goals on
this 2-core machine: at most 60 s cold and 30 s warm. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"cold": 60.0, "warm": 30.0}
_STEP = re.compile(r"^(?P<step>.+?): (?P<seconds>[0-9.]+) s")


def _command() -> list[str]:
    script = shutil.which("dartnk", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "dartnk"]


def _run(compiledir: Path, output: Path) -> tuple[float, list[tuple[str, float]]]:
    env = dict(os.environ, PYTENSOR_FLAGS=f"compiledir={compiledir}")
    start = time.perf_counter()
    done = subprocess.run(
        [*_command(), "demo", "-o", str(output)], capture_output=True, text=True, env=env
    )
    total = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"dartnk demo failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    steps = []
    for line in done.stderr.splitlines():
        match = _STEP.match(line)
        if match:
            steps.append((match["step"], float(match["seconds"])))
    return total, steps


def _show(kind: str, total: float, steps: list[tuple[str, float]]) -> None:
    verdict = "meets" if total <= GOALS[kind] else "misses"
    print(f"{kind:>5}: {total:6.1f} s  (goal <= {GOALS[kind]:.0f} s: {verdict})")
    for step, seconds in steps:
        print(f"        {seconds:6.1f} s  {step}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="Cold and warm runs each.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dartnk-bench-") as tmp:
        root = Path(tmp)
        for k in range(args.runs):
            total, steps = _run(root / f"cold-{k}", root / f"cold-{k}.html")
            _show("cold", total, steps)
        warm = root / "warm"
        _run(warm, root / "fill.html")
        for k in range(args.runs):
            total, steps = _run(warm, root / f"warm-{k}.html")
            _show("warm", total, steps)


if __name__ == "__main__":
    main()
