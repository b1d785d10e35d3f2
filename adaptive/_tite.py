"""TITE-BOIN's estimate with pending outcomes imputed, and its one-trial recommendation.

Reference: Yuan Y, Lin R, Li D, Nie L, Warren KE (2018). Time-to-event Bayesian optimal
interval design to accelerate phase I trials. Clinical Cancer Research 24:4921-4930.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import beta

from ._base import Decision, PatientData
from ._boin_text import describe

if TYPE_CHECKING:
    from .boin import BOIN

__all__: list[str] = []


def imputed_rate(
    target: float, n: np.ndarray, y: np.ndarray, m: np.ndarray, stft: np.ndarray
) -> np.ndarray:
    """(y + (m - STFT) p / (1 - p)) / n with p = (y + target / 2) / (n - m + 1).

    n patients treated, y DLTs, m pending with standardized total follow-up STFT. Each
    pending outcome is replaced by its expectation under a uniform time to DLT, and p is
    the posterior mean from the n - m completed patients under Beta(target/2,
    1 - target/2), a prior of effective sample size 1 (Yuan et al. 2018).
    """
    p_post = (y + target / 2) / (n - m + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (y + p_post / (1 - p_post) * (m - stft)) / n


def recommend_tite(
    design: BOIN,
    level: Sequence[int] | np.ndarray,
    dlt: Sequence[int] | np.ndarray,
    followup: Sequence[float | None] | np.ndarray | None,
) -> Decision:
    """One trial's TITE-BOIN decision: pending patients weighted min(1, follow-up/window).

    The summary adds ``imputed_rate``, and its ``prob_over_target`` counts pending patients
    as treated without DLT, as the elimination rule does.
    """
    data = PatientData.coerce(level, dlt, followup, design.n_doses)
    if data.level.size == 0:
        raise ValueError("no patients yet: the first cohort goes to the start dose")
    cur = int(data.level[-1])
    n_done, y_done, n_pending = data.counts(design.n_doses)
    pending = data.pending_batch(design.window)
    weight = pending.weight[0]
    level_pending = pending.level[0]
    batch = design.decide(n_done[None], y_done[None], np.array([cur]), pending=pending)
    stft = np.bincount(level_pending, weights=weight, minlength=design.n_doses)
    wait = int(batch.rule[0]) in design.wait_rules
    estimates = design._estimates(n_done, y_done)
    total = n_done + n_pending
    estimates["imputed_rate"] = np.where(
        total > 0, imputed_rate(design.target, total, y_done, n_pending, stft), np.nan
    )
    estimates["prob_over_target"] = np.where(
        total > 0, beta.sf(design.target, y_done + 1, total - y_done + 1), np.nan
    )
    next_dose, mtd = batch.next_dose[0], batch.mtd[0]
    return Decision(
        design=repr(design),
        next_dose=None if (wait or np.isnan(next_dose)) else int(next_dose),
        mtd=None if np.isnan(mtd) else int(mtd),
        stop=bool(batch.stop[0]) and not wait,
        wait=wait,
        reasons=tuple(describe(design, batch, n_done, y_done, n_pending, stft, cur)),
        labels=design.labels,
        n_at_dose=n_done,
        dlt_at_dose=y_done,
        pending_at_dose=n_pending,
        admissible=batch.admissible[0],
        estimates=estimates,
    )
