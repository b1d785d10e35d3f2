"""Operating characteristics streamed over blocks of trials, with Monte Carlo and paired
standard errors.

Every metric is the mean over trials of a per-trial value (an indicator for a probability, a
count or a duration for a mean). For each block the sums of the values of every design and
the sums of their products between designs are kept, never the trials, so memory does not
grow with the number of trials. Blocks are added in block order, so the sums, and every
number derived from them, are the same however the blocks were spread over chunks and
workers.

For N trials with per-trial values v_d under design d:

- mean m_d = sum v_d / N, SE sqrt(s_d^2 / N) with s_d^2 = (sum v_d^2 - N m_d^2) / (N - 1);
- paired difference m_d - m_e, SE sqrt(s_de^2 / N) with s_de^2 the variance over trials of
  v_d - v_e, from sum v_d^2 + sum v_e^2 - 2 sum v_d v_e: common random numbers make v_d and
  v_e positively correlated, so the paired SE is smaller than the two SEs combined, and a
  design compared with itself differs by exactly 0 with SE 0.

The overestimation of the winner's ORR is a ratio (its mean over trials with a winner), with
the delta-method SE sqrt(sum (x - R s)^2) / sum s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dartnk.adaptive.trial_walk import DLT

from .protocol import Protocol
from .simulation_arm import true_mtd
from .simulation_expansion import EXPANSION_OUTCOMES, GO
from .simulation_latents import DAYS_PER_MONTH, ScenarioArrays
from .simulation_run import TrialOutcomes

__all__ = ["METRICS", "BlockSums", "Metric", "Truths", "trial_values", "truths"]


@dataclass(frozen=True)
class Metric:
    """A metric: its Dataset name, the dims of one trial's value, and what it says."""

    name: str
    dims: tuple[str, ...]
    description: str


METRICS: tuple[Metric, ...] = (
    Metric("prob_select_dose", ("construct", "dose"), "P(the arm declares each dose its MTD)"),
    Metric("prob_no_mtd", ("construct",), "P(the arm stops with no MTD)"),
    Metric(
        "prob_true_mtd",
        ("construct",),
        "P(the arm's MTD is the true MTD; no MTD when every dose is above the target)",
    ),
    Metric("mean_patients", ("construct", "dose"), "mean patients enrolled per dose"),
    Metric("mean_dlts", ("construct", "dose"), "mean DLTs per dose"),
    Metric(
        "mean_patients_above_mtd",
        ("construct",),
        "mean patients enrolled at doses above the true MTD",
    ),
    Metric("mean_phase1_patients", ("construct",), "mean patients enrolled in the arm"),
    Metric("prob_stop_rule", ("construct", "stop_rule"), "P(each rule stopped the arm)"),
    Metric(
        "prob_select_construct",
        ("selection",),
        "P(the interim selects each construct; none: no construct selected)",
    ),
    Metric(
        "prob_correct_selection",
        (),
        "P(the selected construct is the true best; no selection when no construct has a true MTD)",
    ),
    Metric(
        "prob_no_clear_winner",
        (),
        "P(constructs have an MTD but none is selected: refer to the committee)",
    ),
    Metric("prob_no_candidate", (), "P(no construct has an MTD at the interim)"),
    Metric(
        "prob_expansion_outcome",
        ("expansion_outcome",),
        "P(each end of the Phase 2 expansion)",
    ),
    Metric("prob_phase2_go", (), "P(the expansion ends promising: go)"),
    Metric("mean_total_n", (), "mean patients in the trial (Phase 1 and the expansion)"),
    Metric("mean_phase2_n", (), "mean patients in the expansion"),
    Metric("mean_duration_months", (), "mean months from the first screening to the end"),
)
RATIO = Metric(
    "orr_overestimate",
    (),
    "mean over trials with a selection of the winner's posterior mean ORR at the interim "
    "minus its true ORR (the winner's curse)",
)


@dataclass(frozen=True, eq=False)
class Truths:
    """The scenario's truths the metrics compare with: per construct the true MTD (-1 for
    none), the true composite score there and the true best constructs."""

    mtd: np.ndarray
    score: np.ndarray
    best: np.ndarray


def truths(protocol: Protocol, truth: ScenarioArrays) -> Truths:
    """True MTD per construct (the highest dose with a true DLT rate at most the target)
    and the composite score of the true values there (protocol weights and desirability
    ranges); the true best constructs have the highest score (ties all best)."""
    target = protocol.toxicity.target
    mtd = np.array([-1 if (m := true_mtd(row, target)) is None else m for row in truth.dlt])
    s = protocol.selection
    values = {
        "safety": truth.dlt,
        "efficacy": truth.response,
        "kinetics": truth.log10_cmax,
        "manufacturability": np.repeat(truth.release[:, None], truth.dlt.shape[1], axis=1),
    }
    score = np.full(mtd.size, np.nan)
    for a, m in enumerate(mtd):
        if m < 0:
            continue
        total = 0.0
        for name, weight in s.weights.items():
            worst, best = s.desirability[name].worst, s.desirability[name].best
            d = np.clip((values[name][a, m] - worst) / (best - worst), 0.0, 1.0)
            total += weight * d
        score[a] = total
    best = np.zeros(mtd.size, dtype=bool)
    if np.isfinite(score).any():
        best = np.isclose(score, np.nanmax(score), rtol=0, atol=1e-12) & np.isfinite(score)
    return Truths(mtd=mtd, score=score, best=best)


def trial_values(
    outcomes: TrialOutcomes,
    truth: Truths,
    rule_index: np.ndarray,
    rule_count: int,
    doses: int,
) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Per-trial values of every metric, shape (trials, width), and of the ratio metric
    (numerator, denominator).

    ``rule_index`` maps the design's rule indices to positions of the run's ``stop_rule``
    coordinate.
    """
    phase1 = outcomes.phase1
    trials, arms = phase1.mtd.shape
    mtd = phase1.mtd
    has = ~np.isnan(mtd)
    code = np.where(has, mtd, doses).astype(np.int64)
    one_hot = code[..., None] == np.arange(doses)
    place = np.flatnonzero(phase1.level.reshape(-1) >= 0)
    cell = place // phase1.level.shape[2] * doses + phase1.level.reshape(-1)[place]
    cells = trials * arms * doses
    patients = np.bincount(cell, minlength=cells).reshape(trials, arms, doses)
    dlt = phase1.outcome.reshape(-1)[place] == DLT
    dlts = np.bincount(cell[dlt], minlength=cells).reshape(trials, arms, doses)
    above = np.arange(doses)[None, :] > truth.mtd[:, None]
    true_code = np.where(truth.mtd >= 0, truth.mtd, doses)
    stop = rule_index[np.maximum(phase1.stop_rule, 0)]
    stop_hot = stop[..., None] == np.arange(rule_count)
    selected = outcomes.selected
    selection = np.where(selected >= 0, selected, arms)
    candidates = has.any(axis=1)
    if truth.best.any():
        correct = (selected >= 0) & truth.best[np.maximum(selected, 0)]
    else:
        correct = selected < 0
    outcome = outcomes.expansion.outcome
    values = {
        "prob_select_dose": one_hot.reshape(trials, -1),
        "prob_no_mtd": ~has,
        "prob_true_mtd": code == true_code[None, :],
        "mean_patients": patients.reshape(trials, -1),
        "mean_dlts": dlts.reshape(trials, -1),
        "mean_patients_above_mtd": (patients * above[None]).sum(axis=2),
        "mean_phase1_patients": phase1.enrolled,
        "prob_stop_rule": stop_hot.reshape(trials, -1),
        "prob_select_construct": selection[:, None] == np.arange(arms + 1),
        "prob_correct_selection": correct[:, None],
        "prob_no_clear_winner": (candidates & (selected < 0))[:, None],
        "prob_no_candidate": (~candidates)[:, None],
        "prob_expansion_outcome": outcome[:, None] == np.arange(len(EXPANSION_OUTCOMES)),
        "prob_phase2_go": (outcome == GO)[:, None],
        "mean_total_n": outcomes.total_n[:, None],
        "mean_phase2_n": outcomes.expansion.enrolled[:, None],
        "mean_duration_months": (outcomes.duration_days / DAYS_PER_MONTH)[:, None],
    }
    values = {k: np.asarray(v, dtype=float).reshape(trials, -1) for k, v in values.items()}
    winner = outcomes.selected >= 0
    numerator = np.where(winner, outcomes.orr_estimate - outcomes.orr_true, 0.0)
    return values, (numerator, winner.astype(float))


@dataclass(frozen=True, eq=False)
class BlockSums:
    """Sums over the trials of one block, for every design of the run.

    ``first[name]`` has shape (designs, width); ``cross[name]`` (designs, designs, width),
    the sums of products of two designs' values; ``ratio`` holds the sums of the ratio
    metric's numerator, its square and the denominator per design.
    """

    index: int
    trials: int
    first: dict[str, np.ndarray]
    cross: dict[str, np.ndarray]
    ratio: np.ndarray

    @classmethod
    def of(
        cls,
        index: int,
        per_design: list[tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]],
        rows: slice,
    ) -> BlockSums:
        first, cross = {}, {}
        for metric in METRICS:
            stacked = np.stack([values[metric.name][rows] for values, _ in per_design])
            first[metric.name] = stacked.sum(axis=1)
            cross[metric.name] = np.einsum("dtw,etw->dew", stacked, stacked)
        ratio = np.array(
            [
                [num[rows].sum(), (num[rows] ** 2).sum(), den[rows].sum()]
                for _, (num, den) in per_design
            ]
        )
        trials = rows.stop - rows.start
        return cls(index=index, trials=trials, first=first, cross=cross, ratio=ratio)

    def __add__(self, other: BlockSums) -> BlockSums:
        return BlockSums(
            index=other.index,
            trials=self.trials + other.trials,
            first={k: v + other.first[k] for k, v in self.first.items()},
            cross={k: v + other.cross[k] for k, v in self.cross.items()},
            ratio=self.ratio + other.ratio,
        )
