"""Next-dose advice per arm under the protocol's 3+3 and each model-based alternative.

Every design sees the same data of an arm (Phase 1 patients in enrolment order, DLT 0/1,
follow-up days of pending patients) through its own ``recommend``, which is the batch
decision the simulator runs, on a batch of one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dartnk.adaptive import Decision, EscalationDesign

from .designs import build_designs
from .errors import InputError
from .trial import TrialData

__all__ = ["Recommendation", "recommend"]


@dataclass(frozen=True)
class Recommendation:
    """Decisions per arm and design at a data cut-off.

    Attributes
    ----------
    cutoff : int
        Study day of the data cut-off.
    protocol_hash : str
        Content hash of the protocol the designs were built from.
    decisions : tuple of (arm, design name, Decision)
    """

    cutoff: int
    protocol_hash: str
    decisions: tuple[tuple[str, str, Decision], ...]

    def decision(self, arm: str, design: str) -> Decision:
        """The decision of one design for one arm."""
        for a, d, decision in self.decisions:
            if a == arm and d == design:
                return decision
        raise KeyError(f"no decision for arm {arm!r} under design {design!r}")

    def summary(self) -> pd.DataFrame:
        """One row per arm and design: action, next dose and MTD (labels), stop, wait,
        patients and pending patients, and the reasons."""
        rows = []
        for arm, name, d in self.decisions:
            rows.append(
                {
                    "arm": arm,
                    "design": name,
                    "action": d.action,
                    "next_dose": None if d.next_dose is None else d.labels[d.next_dose],
                    "mtd": None if d.mtd is None else d.labels[d.mtd],
                    "stop": d.stop,
                    "wait": d.wait,
                    "patients": int(d.n_at_dose.sum() + d.pending_at_dose.sum()),
                    "pending": int(d.pending_at_dose.sum()),
                    "reasons": "; ".join(f"{rule}: {text}" for rule, text in d.reasons),
                }
            )
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        table = self.summary().drop(columns="reasons")
        return f"Recommendation at cut-off study day {self.cutoff}\n{table.to_string(index=False)}"

    def _repr_html_(self) -> str:
        return (
            f"<p>Recommendation at cut-off study day {self.cutoff}</p>"
            f"{self.summary().to_html(index=False, escape=True)}"
        )


def _not_started(design: EscalationDesign) -> Decision:
    zeros = np.zeros(design.n_doses, dtype=np.int64)
    start = int(getattr(design, "start", 0))
    return Decision(
        design=repr(design),
        next_dose=start,
        mtd=None,
        stop=False,
        wait=False,
        reasons=(
            ("start", f"no patient treated yet; the first cohort goes to {design.labels[start]}"),
        ),
        labels=design.labels,
        n_at_dose=zeros,
        dlt_at_dose=zeros,
        pending_at_dose=zeros,
        admissible=np.ones(design.n_doses, dtype=bool),
    )


def recommend(
    trial: TrialData,
    designs: Iterable[str] | dict[str, EscalationDesign] | None = None,
    *,
    arms: Iterable[str] | None = None,
) -> Recommendation:
    """Next dose for each arm under each design, at the trial's cut-off.

    Parameters
    ----------
    trial : TrialData
        A validated data cut (:func:`~dartnk.analyses.load_trial`).
    designs : names or {name: design}, optional
        Default: the protocol's 3+3, CRM, TITE-CRM, BOIN, TITE-BOIN and BLRM, built from
        the protocol (:func:`~dartnk.analyses.designs.build_designs`).
    arms : construct ids, optional
        Default: every arm of the protocol.
    """
    protocol = trial.protocol
    if designs is None or not isinstance(designs, dict):
        designs = build_designs(protocol, designs)
    arm_ids = list(protocol.construct_ids if arms is None else arms)
    unknown = [a for a in arm_ids if a not in protocol.construct_ids]
    if unknown:
        raise InputError(
            f"arm {unknown[0]!r} is not a construct of the protocol "
            f"({', '.join(protocol.construct_ids)})"
        )
    decisions = []
    for arm in arm_ids:
        data = trial.escalation_data(arm)
        for name, design in designs.items():
            if len(data) == 0:
                decision = _not_started(design)
            else:
                decision = design.recommend(data.level, data.dlt, data.followup)
            decisions.append((arm, name, decision))
    return Recommendation(
        cutoff=int(trial.cutoff),
        protocol_hash=protocol.content_hash,
        decisions=tuple(decisions),
    )
