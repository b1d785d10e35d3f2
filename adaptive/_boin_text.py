"""BOIN's rules and the reasons a safety committee reads, with the numbers that decided."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import beta

from . import _isotonic
from ._base import BatchDecision
from ._boin_tables import MIN_ELIMINATE

if TYPE_CHECKING:
    from .boin import BOIN

__all__: list[str] = []

(
    START,
    ESCALATE,
    STAY,
    DEESCALATE,
    STAY_TOP,
    STAY_BLOCKED,
    STAY_LOWEST,
    ELIMINATE,
    STOP_LOWEST,
    STOP_SAFE,
    STOP_MAX,
    STOP_EARLY,
    SUSPEND,
) = range(13)

RULES: tuple[tuple[str, str], ...] = (
    ("start", "no patient yet at {cur}; treat a cohort there"),
    ("escalate", "{y}/{n} with DLT at {cur}, at or below the escalation boundary; escalate"),
    ("stay", "{y}/{n} with DLT at {cur}, between the boundaries; stay at {cur}"),
    ("de-escalate", "{y}/{n} with DLT at {cur}, at or above the de-escalation boundary"),
    ("stay: highest dose", "{y}/{n} with DLT at {cur} would escalate; {cur} is the highest"),
    ("stay: next dose eliminated", "{y}/{n} with DLT at {cur} would escalate; {up} is eliminated"),
    ("stay: lowest dose", "{y}/{n} with DLT at {cur} would de-escalate; {cur} is the lowest"),
    ("de-escalate: dose eliminated", "{cur} is eliminated; go to the highest admissible dose"),
    ("stop: lowest dose too toxic", "the lowest dose is eliminated; stop with no MTD"),
    ("stop: extra safety", "the lowest dose fails the extra-safe rule; stop with no MTD"),
    ("stop: sample size reached", "the maximum number of patients is treated; select the MTD"),
    ("stop: enough patients at the dose", "n_earlystop patients at {cur}; select the MTD"),
    ("suspend accrual", "too many patients pending at {cur}; wait for follow-up"),
)


def describe(
    design: BOIN,
    batch: BatchDecision,
    n: np.ndarray,
    y: np.ndarray,
    pending: np.ndarray,
    stft: np.ndarray,
    cur: int,
) -> list[tuple[str, str]]:
    """The (rule, message) pairs behind one trial's decision, with the numbers used.

    ``n`` counts patients with a known outcome and ``pending`` those still inside the
    DLT window (TITE-BOIN), per dose; ``stft`` is their standardized follow-up.
    """
    labels = design.labels
    rule = int(batch.rule[0])
    total = n + pending
    target = f"{design.target:g}"
    prob = beta.sf(design.target, y + 1, np.maximum(total - y, 0) + 1)
    over = (total >= MIN_ELIMINATE) & (prob > design.cutoff_eliminate)
    reasons: list[tuple[str, str]] = []

    def posterior(dose: int) -> str:
        return (
            f"P(DLT rate at {labels[dose]} > {target} | {y[dose]}/{total[dose]}) = {prob[dose]:.3f}"
        )

    if over.any() and rule not in (STOP_LOWEST, STOP_SAFE):
        first = int(np.argmax(over))
        higher = "" if first == design.n_doses - 1 else " and every higher dose"
        reasons.append(
            (
                "eliminate",
                f"{posterior(first)} > {design.cutoff_eliminate:g}: "
                f"{labels[first]}{higher} eliminated",
            )
        )
    if rule == STOP_LOWEST:
        return [
            (
                RULES[rule][0],
                f"{posterior(0)} > {design.cutoff_eliminate:g}: the lowest dose is "
                f"eliminated; stop the trial with no MTD",
            )
        ]
    if rule == STOP_SAFE:
        cutoff = design.cutoff_eliminate - design.offset
        return [
            (
                RULES[rule][0],
                f"{posterior(0)} > cutoff_eliminate - offset = {cutoff:g}: stop the trial "
                f"with no MTD",
            )
        ]
    if rule in (STOP_MAX, STOP_EARLY):
        return [*reasons, _stopping(design, batch, n, y, pending, total, cur)]
    if rule == ELIMINATE:
        down = labels[int(batch.next_dose[0])]
        return [
            *reasons,
            (
                RULES[rule][0],
                f"{labels[cur]} is eliminated: de-escalate to {down}, the highest admissible dose",
            ),
        ]
    if rule == START:
        return [
            (
                RULES[rule][0],
                f"no patient yet at {labels[cur]}: treat a cohort of {design.cohort_size} there",
            )
        ]
    nc, yc, mc = int(total[cur]), int(y[cur]), int(pending[cur])
    if rule == SUSPEND:
        return [
            *reasons,
            (
                RULES[rule][0],
                f"{mc} of {nc} patients at {labels[cur]} are pending, more than "
                f"{design.suspend_pending:.0%}, and {yc}/{nc} = {yc / nc:.2f} is below "
                f"lambda_d {design.lambda_d:.3f}: suspend accrual until more follow-up accrues",
            ),
        ]
    if mc > 0:
        p_post = (yc + design.target / 2) / (nc - mc + 1)
        odds = p_post / (1 - p_post)
        estimate = (yc + odds * (mc - stft[cur])) / nc
        reasons.append(
            (
                "pending outcomes imputed",
                f"{mc} of {nc} patients at {labels[cur]} pending with standardized total "
                f"follow-up {stft[cur]:.2f}; p = ({yc} + {design.target / 2:g}) / "
                f"({nc - mc} + 1) = {p_post:.3f}",
            )
        )
        stat = (
            f"imputed DLT rate at {labels[cur]} ({yc} + {odds:.3f} x ({mc} - "
            f"{stft[cur]:.2f})) / {nc} = {estimate:.3f}"
        )
    else:
        estimate = yc / nc
        stat = f"observed DLT rate {yc}/{nc} = {estimate:.2f} at {labels[cur]}"
    lambda_e = f"lambda_e {design.lambda_e:.3f}"
    lambda_d = f"lambda_d {design.lambda_d:.3f}"
    up_rule = down_rule = ""
    if mc == 0:
        escalate_le, deescalate_ge, _, _ = design._tables(nc)
        up_rule = f" (escalate with at most {escalate_le[nc]} DLT in {nc})"
        down_rule = f" (de-escalate with at least {deescalate_ge[nc]} DLT in {nc})"
    low = f"{stat} <= {lambda_e}{up_rule}"
    high = f"{stat} >= {lambda_d}{down_rule}"
    here = labels[cur]
    up = labels[min(cur + 1, design.n_doses - 1)]
    message = {
        ESCALATE: f"{low}: escalate to {up}",
        STAY_TOP: f"{low}, but {here} is the highest dose: stay",
        STAY_BLOCKED: f"{low}, but {up} is eliminated: stay at {here}",
        DEESCALATE: f"{high}: de-escalate to {labels[max(cur - 1, 0)]}",
        STAY_LOWEST: f"{high}, but {here} is the lowest dose: stay",
    }.get(rule)
    if message is None and mc > 0 and estimate >= design.lambda_d:
        message = (
            f"{stat} >= {lambda_d}, but the observed rate {yc}/{nc} is below the target "
            f"{target}: pending outcomes alone do not de-escalate; stay at {here}"
        )
    if message is None:
        message = f"{stat} is between {lambda_e} and {lambda_d}: stay at {here}"
    return [*reasons, (RULES[rule][0], message)]


def _stopping(
    design: BOIN,
    batch: BatchDecision,
    n: np.ndarray,
    y: np.ndarray,
    pending: np.ndarray,
    total: np.ndarray,
    cur: int,
) -> tuple[str, str]:
    labels = design.labels
    rule = int(batch.rule[0])
    if design.max_n is not None and total.sum() >= design.max_n:
        why = f"{int(total.sum())} patients treated, the maximum of {design.max_n}"
    else:
        why = (
            f"{int(total[cur])} patients at {labels[cur]} reach n_earlystop "
            f"{design.n_earlystop} and the decision is to stay"
        )
    mtd = batch.mtd[0]
    if np.isnan(mtd):
        return RULES[rule][0], f"{why}: stop; no dose qualifies as the MTD"
    keep = batch.admissible[0] & (n > 0)
    rate, weight = _isotonic.smoothed_rate(n, y)
    fit = _isotonic.isotonic_one(rate, weight, keep)
    dose = int(mtd)
    return (
        RULES[rule][0],
        f"{why}: stop; MTD {labels[dose]}, whose isotonic DLT rate estimate "
        f"{fit[dose]:.3f} is the closest to the target {design.target:g}",
    )
