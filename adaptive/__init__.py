"""Design rules: escalation decisions from data and posteriors, on arrays of many trials.

Every design shares one batch method, ``decide``, on one escalation state
(:class:`EscalationState`); ``recommend`` on one trial's patients is a state of one. Dose
indices are 0-based; labels appear only in tables. The Phase 2 rules (predictive
probability, Simon two-stage, toxicity monitoring) decide on arrays of patients and events
in the same way, and ``decision`` is their batch of one. The interim construct selection
(``select_construct``) compares constructs on posterior draws of a weighted composite, for
one analysis or many simulated trials at once.
"""

from ._base import COMMON_RULES, BatchDecision, Decision, EscalationDesign
from ._calibration import calibrate_skeleton
from ._selection_sensitivity import SelectionSensitivity
from ._single_arm import (
    SingleArmAction,
    SingleArmDecision,
    SingleArmOC,
    SingleArmRule,
    ToxicityOC,
)
from ._state import EscalationState, PendingBatch
from .blrm import BLRM, BLRMBatchDecision, BLRMFit
from .boin import BOIN
from .crm import CRM, CRMBatchDecision, CRMFit
from .predictive import PredictiveProbabilityDesign, PredictiveSearch, search_predictive_design
from .selection import ConstructSelection, ExceedanceGate, safety_gate, select_construct
from .simon import SimonDesign, simon_two_stage
from .three_plus_three import ExactOC, ThreePlusThree
from .toxicity_monitor import ToxicityMonitor

__all__ = [
    "BLRM",
    "BOIN",
    "COMMON_RULES",
    "CRM",
    "BLRMBatchDecision",
    "BLRMFit",
    "BatchDecision",
    "CRMBatchDecision",
    "CRMFit",
    "ConstructSelection",
    "Decision",
    "EscalationDesign",
    "EscalationState",
    "ExactOC",
    "ExceedanceGate",
    "PendingBatch",
    "PredictiveProbabilityDesign",
    "PredictiveSearch",
    "SelectionSensitivity",
    "SimonDesign",
    "SingleArmAction",
    "SingleArmDecision",
    "SingleArmOC",
    "SingleArmRule",
    "ThreePlusThree",
    "ToxicityMonitor",
    "ToxicityOC",
    "calibrate_skeleton",
    "safety_gate",
    "search_predictive_design",
    "select_construct",
    "simon_two_stage",
]
