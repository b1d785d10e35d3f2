"""One-trial recommendations per second: ``CRM.recommend`` on dfcrm's documented example.

Run: ``python benchmarks/bench_recommend.py [--seconds 3]``. Prints recommendations per
second (best of five timed rounds, one thread) of the CRM (empiric model, skeleton and data
of dfcrm's ``crm`` example), of ``recommend`` followed by the per-dose summary table, and of
the protocol's designs on arm C of the example cut, beside R's figure: ``dfcrm::crm`` on
the same example, 1,638 fits per second on this machine (dfcrm 0.2-2.1, R 4.2), and the
goal of at least twice that, 3,300 per second. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from dartnk.adaptive import CRM
from dartnk.analyses import build_design, default_protocol, example_data, load_trial

DFCRM_FITS_PER_SECOND = 1638.0
GOAL = 2 * DFCRM_FITS_PER_SECOND
REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "reference" / "published.json"


def per_second(call, seconds: float) -> float:
    """Best of five rounds of ``call`` repeated for about ``seconds`` / 5 each."""
    call()
    start = time.perf_counter()
    count = 0
    while time.perf_counter() - start < 0.2:
        call()
        count += 1
    per_round = max(1, int(count * seconds / 5 / 0.2))
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(per_round):
            call()
        best = max(best, per_round / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    example = json.loads(REFERENCE.read_text(encoding="utf-8"))["dfcrm_crm_doc_example"]
    crm = CRM(example["skeleton"], example["target"])
    level = np.array(example["level_1based"]) - 1
    dlt = example["dlt"]
    rate = per_second(lambda: crm.recommend(level, dlt), args.seconds)
    with_table = per_second(lambda: crm.recommend(level, dlt).summary(), args.seconds)
    print(f"{'path':<44} {'per second':>12} {'dfcrm::crm':>11} {'goal':>8}")
    verdict = "meets" if rate >= GOAL else "misses"
    print(
        f"{'CRM.recommend (dfcrm doc example)':<44} {rate:12,.0f} "
        f"{DFCRM_FITS_PER_SECOND:11,.0f} {GOAL:8,.0f}  {verdict} the goal "
        f"({rate / DFCRM_FITS_PER_SECOND:.1f}x dfcrm)"
    )
    print(f"{'CRM.recommend + summary()':<44} {with_table:12,.0f}")
    protocol = default_protocol()
    arm = load_trial(example_data(), protocol).escalation_data("C")
    for name in ("3+3", "CRM", "TITE-CRM", "BOIN", "TITE-BOIN", "BLRM", "TITE-BLRM"):
        design = build_design(protocol, name)
        speed = per_second(
            lambda design=design: design.recommend(arm.level, arm.dlt, arm.followup),
            args.seconds / 3,
        )
        print(f"{f'{name}.recommend (example arm C, pending)':<44} {speed:12,.0f}")


if __name__ == "__main__":
    main()
