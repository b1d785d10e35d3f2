"""Wall time of every model of dartnk.models on the example data cut, cold and warm.

Run: ``python benchmarks/bench_models.py [--cores 2] [--seed N]``. Prints a table; this is
a measurement, not a test.

Each pass runs in a fresh Python process with its own PyTensor compile directory:

- cold: the compile directory starts empty, so every model's C code is compiled;
- warm: a second process on the same, now filled, directory (a user's second run).

Per model: wall time (building, compiling, NUTS with the protocol's 4 chains x 1000 draws
after 1000 tuning steps, prior predictive, diagnostics), whether it passed its gates, the
smallest bulk ESS over its gated parameters and that ESS per second of wall time. The goal
of issue 5: all models under 60 s warm on the 2-core machine, every gate passed. Two totals
are printed: the interim set, each model once as an interim analysis fits it (EXNEX
dose-toxicity, the CRM of each arm, response, kinetics, manufacturing, PFS, OS), which
the goal is judged on, and the same with the two alternative hierarchies of the
dose-toxicity model (exchangeable, independent) as well.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ALTERNATIVES = ("toxicity (exchangeable)", "toxicity (independent)")
MODELS = (
    "toxicity (EXNEX)",
    "toxicity (exchangeable)",
    "toxicity (independent)",
    "CRM arm A",
    "CRM arm B",
    "CRM arm C",
    "response",
    "kinetics",
    "manufacturing",
    "PFS (Weibull)",
    "OS (Weibull)",
)


def _fit(name: str, trial, *, seed: int, cores: int):
    from dartnk import models

    options = {"seed": seed, "cores": cores}
    if name.startswith("toxicity"):
        kind = name[name.index("(") + 1 : -1].lower()
        return models.fit_toxicity(trial, kind, **options)
    if name.startswith("CRM"):
        return models.fit_crm(trial, name[-1], **options)
    if name == "response":
        return models.fit_response(trial, **options)
    if name == "kinetics":
        return models.fit_kinetics(trial, **options)
    if name == "manufacturing":
        return models.fit_manufacturing(trial, **options)
    endpoint = name.split()[0].lower()
    return models.fit_survival(trial, endpoint, **options)


def _child(seed: int, cores: int) -> None:
    start = time.perf_counter()
    from dartnk.analyses import example_data, load_trial

    trial = load_trial(example_data())
    print(json.dumps({"name": "import and load", "seconds": time.perf_counter() - start}))
    for name in MODELS:
        start = time.perf_counter()
        fit = _fit(name, trial, seed=seed, cores=cores)
        seconds = time.perf_counter() - start
        record = {
            "name": name,
            "seconds": seconds,
            "passed": fit.passed,
            "ess": fit.diagnostics.min_ess_bulk,
            "retries": len(fit.diagnostics.attempts),
        }
        print(json.dumps(record), flush=True)


def _run(compiledir: str, seed: int, cores: int) -> list[dict]:
    env = dict(os.environ, PYTENSOR_FLAGS=f"compiledir={compiledir}", CI="1")
    command = [sys.executable, __file__, "--child", "--seed", str(seed), "--cores", str(cores)]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    total = time.perf_counter() - start
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    records.append({"name": "process total", "seconds": total})
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.seed, args.cores)
        return
    with tempfile.TemporaryDirectory() as compiledir:
        cold = _run(compiledir, args.seed, args.cores)
        warm = _run(compiledir, args.seed, args.cores)
    print(
        f"dartnk.models on the example data cut: 4 chains x 1000 draws (1000 tuning), "
        f"{args.cores} cores, seed {args.seed}\n"
    )
    header = (
        f"{'model':<25}{'cold s':>8}{'warm s':>8}  {'gates':<7}{'min ESS':>9}{'ESS/s warm':>12}"
    )
    print(header)
    print("-" * len(header))
    warm_by_name = {r["name"]: r for r in warm}
    fitted = interim = 0.0
    every_gate = True
    for record in cold:
        other = warm_by_name[record["name"]]
        line = f"{record['name']:<25}{record['seconds']:>8.1f}{other['seconds']:>8.1f}"
        if "passed" in other:
            fitted += other["seconds"]
            interim += 0.0 if record["name"] in ALTERNATIVES else other["seconds"]
            every_gate &= other["passed"] and record["passed"]
            verdict = "passed" if other["passed"] else "FAILED"
            if other["retries"]:
                verdict += f" ({other['retries']} rerun)"
            line += f"  {verdict:<7}{other['ess']:>9.0f}{other['ess'] / other['seconds']:>12.0f}"
        print(line)
    print(f"\ninterim set, warm: {interim:.1f} s (goal < 60 s)")
    print(f"with the alternative hierarchies, warm: {fitted:.1f} s")
    print(f"every gate passed: {every_gate}")


if __name__ == "__main__":
    main()
