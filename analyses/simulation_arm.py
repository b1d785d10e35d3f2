"""Operating characteristics of one escalation arm: ``simulate_arm``.

Each simulated trial treats cohorts at the design's start dose and then at the doses the
design's own ``decide`` gives, until the design stops or the arm reaches its patient limit
(:func:`dartnk.adaptive.walk.walk_arm`). Patient j of a trial has a DLT when its latent
uniform u_j < p_d at its dose, so two designs simulated with one seed see the same patients.

Monte Carlo standard errors: a probability P estimated from N trials has SE
sqrt(P (1 - P) / N); a mean has SE s / sqrt(N), s the standard deviation over trials.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dartnk.adaptive import EscalationDesign
from dartnk.adaptive.walk import patient_limit, walk_blocks

from .simulation_blocks import block_seed, blocks, chunks

__all__ = ["ArmSimulation", "simulate_arm", "true_mtd"]

_CHUNK_TRIALS = 64_000


def true_mtd(true_tox: Sequence[float] | np.ndarray, target: float) -> int | None:
    """The true MTD: the highest 0-based dose whose true DLT rate is at most ``target``
    (None when even the lowest dose is above it)."""
    p = np.asarray(true_tox, dtype=float)
    acceptable = np.flatnonzero(p <= target + 1e-12)
    return int(acceptable.max()) if acceptable.size else None


def _mean_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over trials (axis 0) and its Monte Carlo SE s / sqrt(N)."""
    count = values.shape[0]
    mean = values.mean(axis=0)
    spread = values.std(axis=0, ddof=1) if count > 1 else np.zeros_like(mean)
    return mean, spread / np.sqrt(count)


def _proportion_se(share: np.ndarray | float, count: int) -> np.ndarray:
    share = np.asarray(share, dtype=float)
    return np.sqrt(share * (1.0 - share) / count)


@dataclass(frozen=True, eq=False)
class ArmSimulation:
    """Simulated operating characteristics of one escalation arm.

    Doses are 0-based in the arrays and labelled in :meth:`summary`.

    Attributes
    ----------
    design : str
        The design as printed (``repr``).
    labels : tuple of str
    true_tox : ndarray, shape (doses,)
    target : float
        DLT rate defining the true MTD (the highest dose with a true rate at most it).
    n_trials, seed : int
    n, y : ndarray of int, shape (trials, doses)
        Per-trial patients and DLTs per dose.
    mtd : ndarray of float, shape (trials,)
        Per-trial 0-based MTD, NaN for none.
    rule : ndarray of int, shape (trials,)
        Per-trial index into ``rules`` of the rule that ended the trial.
    rules : tuple of (str, str)
    """

    design: str
    labels: tuple[str, ...]
    true_tox: np.ndarray
    target: float
    n_trials: int
    seed: int
    n: np.ndarray
    y: np.ndarray
    mtd: np.ndarray
    rule: np.ndarray
    rules: tuple[tuple[str, str], ...]

    @property
    def true_mtd(self) -> int | None:
        """0-based true MTD (None: every dose is above the target)."""
        return true_mtd(self.true_tox, self.target)

    @property
    def prob_mtd(self) -> np.ndarray:
        """P(each dose is declared the MTD)."""
        doses = len(self.labels)
        code = np.where(np.isnan(self.mtd), doses, self.mtd).astype(np.int64)
        return np.bincount(code, minlength=doses + 1)[:doses] / self.n_trials

    @property
    def prob_mtd_se(self) -> np.ndarray:
        return _proportion_se(self.prob_mtd, self.n_trials)

    @property
    def prob_no_mtd(self) -> float:
        """P(the trial stops with no MTD)."""
        return float(np.isnan(self.mtd).mean())

    @property
    def prob_no_mtd_se(self) -> float:
        return float(_proportion_se(self.prob_no_mtd, self.n_trials))

    @property
    def prob_correct(self) -> float:
        """P(the declared MTD is the true MTD; no MTD when there is none)."""
        truth = self.true_mtd
        if truth is None:
            return self.prob_no_mtd
        return float(self.prob_mtd[truth])

    @property
    def prob_correct_se(self) -> float:
        return float(_proportion_se(self.prob_correct, self.n_trials))

    @property
    def mean_patients(self) -> np.ndarray:
        """Mean patients per dose."""
        return _mean_se(self.n)[0]

    @property
    def mean_patients_se(self) -> np.ndarray:
        return _mean_se(self.n)[1]

    @property
    def mean_dlts(self) -> np.ndarray:
        """Mean DLTs per dose."""
        return _mean_se(self.y)[0]

    @property
    def mean_dlts_se(self) -> np.ndarray:
        return _mean_se(self.y)[1]

    @property
    def mean_total(self) -> float:
        """Mean patients per trial."""
        return float(self.n.sum(axis=1).mean())

    @property
    def mean_total_se(self) -> float:
        return float(_mean_se(self.n.sum(axis=1).astype(float))[1])

    def _above(self) -> np.ndarray:
        truth = self.true_mtd
        first = 0 if truth is None else truth + 1
        return self.n[:, first:].sum(axis=1)

    @property
    def mean_patients_above_mtd(self) -> float:
        """Mean patients treated at doses above the true MTD."""
        return float(self._above().mean())

    @property
    def mean_patients_above_mtd_se(self) -> float:
        return float(_mean_se(self._above().astype(float))[1])

    @property
    def share_above_mtd(self) -> float:
        """Mean over trials of the share of patients treated above the true MTD."""
        total = self.n.sum(axis=1)
        share = np.divide(self._above(), total, out=np.zeros(total.shape), where=total > 0)
        return float(share.mean())

    @property
    def share_above_mtd_se(self) -> float:
        total = self.n.sum(axis=1)
        share = np.divide(self._above(), total, out=np.zeros(total.shape), where=total > 0)
        return float(_mean_se(share)[1])

    def stop_reasons(self) -> pd.DataFrame:
        """One row per rule that ended a trial: ``rule``, ``trials`` and ``share`` (with its
        SE), in the design's order of rules."""
        counts = np.bincount(self.rule, minlength=len(self.rules))
        names = [name for name, _ in self.rules]
        table = pd.DataFrame({"rule": names, "trials": counts})
        table = table.groupby("rule", sort=False, as_index=False)["trials"].sum()
        table = table[table["trials"] > 0].reset_index(drop=True)
        table["share"] = table["trials"] / self.n_trials
        table["share_se"] = _proportion_se(table["share"].to_numpy(), self.n_trials)
        return table

    def summary(self) -> pd.DataFrame:
        """One row per dose: label, true DLT rate, whether it is the true MTD, P(MTD) and
        mean patients and DLTs, each with its Monte Carlo SE."""
        truth = self.true_mtd
        return pd.DataFrame(
            {
                "dose": self.labels,
                "true_tox": self.true_tox,
                "true_mtd": [i == truth for i in range(len(self.labels))],
                "prob_mtd": self.prob_mtd,
                "prob_mtd_se": self.prob_mtd_se,
                "mean_patients": self.mean_patients,
                "mean_patients_se": self.mean_patients_se,
                "mean_dlts": self.mean_dlts,
                "mean_dlts_se": self.mean_dlts_se,
            }
        )

    def trials(self) -> pd.DataFrame:
        """Per-trial outcomes: ``trial``, patients and DLTs per dose (``n_<label>``,
        ``dlt_<label>``), the MTD label (None for none) and the rule that ended it."""
        frame = pd.DataFrame({"trial": np.arange(self.n_trials)})
        for d, label in enumerate(self.labels):
            frame[f"n_{label}"] = self.n[:, d]
        for d, label in enumerate(self.labels):
            frame[f"dlt_{label}"] = self.y[:, d]
        names = np.array([*self.labels, None], dtype=object)
        code = np.where(np.isnan(self.mtd), len(self.labels), self.mtd).astype(np.int64)
        frame["mtd"] = names[code]
        frame["rule"] = np.array([name for name, _ in self.rules], dtype=object)[self.rule]
        return frame

    def _headline(self) -> str:
        truth = "none" if self.true_mtd is None else self.labels[self.true_mtd]
        return (
            f"{self.design}: {self.n_trials} simulated trials (seed {self.seed}); true MTD "
            f"{truth} (target {self.target:g}); P(correct) {self.prob_correct:.3f} "
            f"(SE {self.prob_correct_se:.3f}); P(no MTD) {self.prob_no_mtd:.3f}; mean N "
            f"{self.mean_total:.2f}; share above the true MTD {self.share_above_mtd:.3f}"
        )

    def __repr__(self) -> str:
        body = self.summary().to_string(index=False, float_format=lambda v: f"{v:.4f}")
        reasons = self.stop_reasons().to_string(index=False, float_format=lambda v: f"{v:.4f}")
        return f"{self._headline()}\n{body}\nstop reasons:\n{reasons}"

    def _repr_html_(self) -> str:
        table = self.summary().to_html(index=False, escape=True, float_format=lambda v: f"{v:.4f}")
        return f"<p>{html.escape(self._headline())}</p>\n{table}"

    def plot(self) -> Any:
        """P(MTD) and mean patients per dose with 95% Monte Carlo intervals, the true MTD
        marked; returns the matplotlib figure."""
        from matplotlib.figure import Figure

        x = np.arange(len(self.labels))
        figure = Figure(figsize=(8.0, 3.2), layout="constrained")
        left, right = figure.subplots(1, 2)
        left.bar(x, self.prob_mtd, yerr=1.96 * self.prob_mtd_se, color="tab:blue", capsize=3)
        left.set_ylabel("P(declared MTD)")
        right.bar(
            x, self.mean_patients, yerr=1.96 * self.mean_patients_se, color="tab:grey", capsize=3
        )
        right.set_ylabel("mean patients")
        for axes in (left, right):
            axes.set_xticks(x, self.labels)
            axes.set_xlabel("dose level")
            if self.true_mtd is not None:
                axes.axvline(self.true_mtd, color="tab:green", linestyle="--", label="true MTD")
        left.set_ylim(0, 1)
        if self.true_mtd is not None:
            left.legend(loc="upper left")
        figure.suptitle(self.design[:90])
        return figure


def simulate_arm(
    design: EscalationDesign,
    true_tox: Sequence[float] | np.ndarray,
    *,
    n_trials: int,
    seed: int,
    target: float | None = None,
) -> ArmSimulation:
    """Simulate one escalation arm under ``design`` and true DLT rates ``true_tox``.

    Parameters
    ----------
    design : EscalationDesign
        Any escalation design (3+3, BOIN, CRM, BLRM, their TITE versions walked on complete
        cohorts); its ``start``, ``cohort_size``, ``decide`` and ``max_n`` drive the arm.
    true_tox : sequence of float, shape (doses,)
        True DLT probability per 0-based dose.
    n_trials : int
        Number of simulated trials.
    seed : int
        Root seed: trials are cut into blocks of 1,000, each drawing its patients from its
        own child of ``numpy.random.SeedSequence(seed)``, so a trial's numbers do not depend
        on ``n_trials`` or on how the run is chunked.
    target : float, optional
        DLT rate defining the true MTD, the highest dose whose true rate is at most it;
        default the design's ``target``, or for a design without one (the 3+3, the BLRM)
        the embedded protocol's target DLT rate (0.30).

    Returns
    -------
    ArmSimulation
        P(MTD) per dose, P(no MTD), mean patients and DLTs per dose, the share treated
        above the true MTD and the stop reasons, each with its Monte Carlo SE; per-trial
        outcomes in ``n``, ``y``, ``mtd`` and ``rule`` (:meth:`ArmSimulation.trials`).

    Examples
    --------
    >>> from dartnk.adaptive import BOIN
    >>> design = BOIN(0.3, n_doses=5, cohort_size=3, start=0, max_n=30)
    >>> result = simulate_arm(design, [0.05, 0.15, 0.30, 0.45, 0.60], n_trials=2000, seed=6)
    >>> bool(result.prob_mtd.argmax() == 2)
    True

    References
    ----------
    Liu S, Yuan Y (2015). Bayesian optimal interval designs for phase I clinical trials.
    Journal of the Royal Statistical Society: Series C 64:507-523 (``BOIN::get.oc``).

    Cheung YK (2011). Dose Finding by the Continual Reassessment Method. Chapman &
    Hall/CRC (``dfcrm::crmsim``).
    """
    if not isinstance(design, EscalationDesign):
        raise TypeError(f"design must be an escalation design, got {type(design).__name__}")
    p = np.asarray(true_tox, dtype=float)
    if p.shape != (design.n_doses,) or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(
            f"true_tox must hold {design.n_doses} probabilities in [0, 1] (one per dose of "
            f"{design!r}), got {np.asarray(true_tox).tolist()}"
        )
    if target is None:
        target = getattr(design, "target", None)
    if target is None:
        from .protocol import default_protocol

        target = default_protocol().toxicity.target
    if not 0.0 < float(target) < 1.0:
        raise ValueError(f"target {target} is not a probability strictly between 0 and 1")
    limit = patient_limit(design)
    walks = []
    for group in chunks(blocks(n_trials), _CHUNK_TRIALS):
        sizes = {block.size for block in group}
        parts = []
        for size in sorted(sizes, reverse=True):
            same = [block for block in group if block.size == size]
            uniforms = np.empty((len(same), limit, size))
            for i, block in enumerate(same):
                np.random.default_rng(block_seed(seed, block.index)).random(out=uniforms[i])
            parts.append(walk_blocks(design, p, uniforms))
        walks.extend(parts)
    return ArmSimulation(
        design=repr(design),
        labels=design.labels,
        true_tox=p,
        target=float(target),
        n_trials=int(n_trials),
        seed=int(seed),
        n=np.concatenate([w.n for w in walks]),
        y=np.concatenate([w.y for w in walks]),
        mtd=np.concatenate([w.mtd for w in walks]),
        rule=np.concatenate([w.rule for w in walks]),
        rules=walks[0].rules,
    )
