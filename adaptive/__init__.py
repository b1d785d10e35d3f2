"""Design rules: escalation decisions from data and posteriors, on arrays of many trials.

Every design shares one batch method, ``decide``; ``recommend`` on one trial's data is a
batch of one. Dose indices are 0-based; labels appear only in tables.
"""

from ._base import BatchDecision, Decision, EscalationDesign, PatientData, PendingBatch
from .three_plus_three import ExactOC, ThreePlusThree

__all__ = [
    "BatchDecision",
    "Decision",
    "EscalationDesign",
    "ExactOC",
    "PatientData",
    "PendingBatch",
    "ThreePlusThree",
]
