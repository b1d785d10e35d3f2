"""Design rules: escalation decisions from data and posteriors, on arrays of many trials.

Every design shares one batch method, ``decide``; ``recommend`` on one trial's data is a
batch of one. Dose indices are 0-based; labels appear only in tables.
"""

from ._base import BatchDecision, Decision, EscalationDesign, PatientData, PendingBatch
from ._calibration import calibrate_skeleton
from .blrm import BLRM, BLRMBatchDecision, BLRMFit
from .boin import BOIN
from .crm import CRM, CRMBatchDecision, CRMFit
from .three_plus_three import ExactOC, ThreePlusThree

__all__ = [
    "BLRM",
    "BOIN",
    "CRM",
    "BLRMBatchDecision",
    "BLRMFit",
    "BatchDecision",
    "CRMBatchDecision",
    "CRMFit",
    "Decision",
    "EscalationDesign",
    "ExactOC",
    "PatientData",
    "PendingBatch",
    "ThreePlusThree",
    "calibrate_skeleton",
]
