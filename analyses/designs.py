"""The escalation designs a protocol names: the protocol's 3+3 and its model-based
alternatives, built from the protocol's numbers only."""

from __future__ import annotations

from collections.abc import Iterable

from dartnk.adaptive import BLRM, BOIN, CRM, EscalationDesign, ThreePlusThree

from .errors import InputError
from .model_inputs import blrm_prior
from .protocol import Protocol

__all__ = ["DESIGN_NAMES", "build_design", "build_designs"]

DESIGN_NAMES: tuple[str, ...] = ("3+3", "CRM", "TITE-CRM", "BOIN", "TITE-BOIN", "BLRM")


def build_design(protocol: Protocol, name: str) -> EscalationDesign:
    """One design by name (see :data:`DESIGN_NAMES`), with every number from the protocol.

    The 3+3 starts at the protocol's start dose with DL-1 for de-escalation only; the
    model-based designs start there too, cap an arm at ``phase1.max_per_arm_model_based``
    patients, and take the target, intervals, EWOC, skeleton, priors and boundaries
    from the protocol. TITE variants use the DLT window and escalate only once
    ``phase1.tite_escalate_after_complete`` patients at the current dose have complete
    follow-up.
    """
    labels = protocol.dose_labels
    start = protocol.start_index
    phase1 = protocol.phase1
    cap = phase1.max_per_arm_model_based
    target = protocol.toxicity.target
    window = protocol.dlt_window
    key = name.upper()
    tite = key.startswith("TITE-")
    restriction = {
        "window": window if tite else None,
        "escalate_after_complete": phase1.tite_escalate_after_complete if tite else None,
    }
    if key == "3+3":
        return ThreePlusThree(len(labels), start=start, labels=labels)
    if key in ("CRM", "TITE-CRM"):
        crm = phase1.crm
        return CRM(
            crm.skeleton,
            target,
            model=crm.model,
            intercept=crm.intercept,
            prior_var=crm.prior_var,
            start=start,
            stop_prob=crm.stop_prob,
            max_n=cap,
            cohort_size=phase1.cohort_size,
            labels=labels,
            **restriction,
        )
    if key in ("BOIN", "TITE-BOIN"):
        boin = phase1.boin
        return BOIN(
            target,
            n_doses=len(labels),
            cohort_size=phase1.cohort_size,
            p_saf=boin.p_saf,
            p_tox=boin.p_tox,
            cutoff_eliminate=boin.cutoff_eliminate,
            start=start,
            max_n=cap,
            labels=labels,
            **restriction,
        )
    if key in ("BLRM", "TITE-BLRM"):
        priors = protocol.priors
        tox = protocol.toxicity
        return BLRM(
            protocol.doses,
            priors.reference_dose,
            prior=blrm_prior(protocol),
            intervals=(tox.underdose_below, tox.overdose_from),
            ewoc=tox.ewoc,
            max_step=phase1.blrm.max_step,
            start=start,
            max_n=cap,
            labels=labels,
            cohort_size=phase1.cohort_size,
            **restriction,
        )
    raise InputError(f"design {name!r} is not one of {', '.join(DESIGN_NAMES)} (or TITE-BLRM)")


def build_designs(
    protocol: Protocol, names: Iterable[str] | None = None
) -> dict[str, EscalationDesign]:
    """Designs by name, in the order given (default: :data:`DESIGN_NAMES`)."""
    chosen = list(DESIGN_NAMES if names is None else names)
    return {name: build_design(protocol, name) for name in chosen}
