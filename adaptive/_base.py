"""The decision protocol every escalation design shares.

A design decides on an :class:`~dartnk.adaptive.EscalationState` of many trials at once
(:meth:`EscalationDesign.decide`); :meth:`EscalationDesign.recommend` turns one trial's
patients into a state of one and calls the same method, so a simulated design and a live
recommendation run one code path.

What every design does with patients still inside the DLT window is decided here, once:

1. A design with a DLT ``window`` (TITE) weighs them in its own rule. Any other design
   decides on every combination of their outcomes: when all agree it takes that decision
   now; when they differ it waits, except that the next patient completes an unfinished
   cohort at the current dose when the decision with no pending DLT is to stay there.
2. A TITE design with ``escalate_after_complete = k`` does not escalate above the current
   dose until k patients there have complete follow-up (a DLT, or the whole window).
3. No design stops or declares an MTD while any patient is pending: it waits, and decides
   again when their follow-up is complete.

Conventions: dose indices are 0-based; ``NaN`` in a float array means "none" (no next dose
when the trial stops or waits, no MTD); labels are used only in tables.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ._state import EscalationState

__all__ = ["COMMON_RULES", "BatchDecision", "Decision", "EscalationDesign"]

COMMON_RULES: tuple[tuple[str, str], ...] = (
    (
        "pending",
        "patients inside the DLT window could change the decision; wait for their follow-up",
    ),
    (
        "await follow-up",
        "the design would stop while patients are inside the DLT window; enrol no one and "
        "decide again once their follow-up is complete",
    ),
    (
        "complete the cohort",
        "the cohort at {cur} is incomplete and, without a DLT among the pending patients, the "
        "design stays at {cur}; the next patient completes the cohort there",
    ),
    (
        "escalation restricted",
        "too few patients at {cur} have complete follow-up; no escalation above {cur}",
    ),
)
_PENDING, _AWAIT, _COMPLETE, _RESTRICTED = range(len(COMMON_RULES))


@dataclass(frozen=True)
class BatchDecision:
    """Decisions for a batch of trials.

    Attributes
    ----------
    next_dose : ndarray of float, shape (trials,)
        0-based dose for the next patient or cohort; NaN where the trial stops or waits.
    stop : ndarray of bool, shape (trials,)
    mtd : ndarray of float, shape (trials,)
        0-based MTD where a stop declares one, else NaN.
    admissible : ndarray of bool, shape (trials, doses)
        Doses the design may still give (not eliminated as too toxic).
    rule : ndarray of int, shape (trials,)
        Index into the design's ``rules`` of the rule that decided.
    wait : ndarray of bool, shape (trials,)
        Enrol no one for now: pending outcomes could change the decision, a stopping rule
        awaits their follow-up, or the design suspends accrual.
    """

    next_dose: np.ndarray
    stop: np.ndarray
    mtd: np.ndarray
    admissible: np.ndarray
    rule: np.ndarray
    wait: np.ndarray

    def __len__(self) -> int:
        return int(self.stop.shape[0])

    def take(self, index: np.ndarray) -> BatchDecision:
        """The decisions of a subset of trials, with every per-trial array of the design."""
        values = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            values[item.name] = None if value is None else _take(value, index)
        return type(self)(**values)


def _take(value: object, index: np.ndarray) -> object:
    if isinstance(value, np.ndarray):
        return value[index]
    return type(value)(**{f.name: getattr(value, f.name)[index] for f in dataclasses.fields(value)})


@dataclass(frozen=True)
class Decision:
    """The decision for one trial, with the reasons a safety committee reads.

    ``next_dose`` and ``mtd`` are 0-based indices or None; ``wait`` is True when no
    patient is to be enrolled for now (pending outcomes could change the decision, a
    stopping rule awaits their follow-up, or accrual is suspended). ``n_at_dose`` counts
    patients with a known outcome, ``pending_at_dose`` those still inside the window.
    ``estimates`` (the design's per-dose posterior numbers) are computed when first read.
    """

    design: str
    next_dose: int | None
    mtd: int | None
    stop: bool
    wait: bool
    reasons: tuple[tuple[str, str], ...]
    labels: tuple[str, ...]
    n_at_dose: np.ndarray
    dlt_at_dose: np.ndarray
    pending_at_dose: np.ndarray
    admissible: np.ndarray
    estimator: Callable[[], pd.DataFrame | None] | None = field(
        default=None, repr=False, compare=False
    )

    @cached_property
    def estimates(self) -> pd.DataFrame | None:
        """Per-dose estimates of the design (None for a design without a posterior)."""
        return None if self.estimator is None else self.estimator()

    def summary(self) -> pd.DataFrame:
        """Per-dose table: label, n, DLTs, pending, admissible, and the design's estimates."""
        table = pd.DataFrame(
            {
                "dose": self.labels,
                "n": self.n_at_dose,
                "dlt": self.dlt_at_dose,
                "pending": self.pending_at_dose,
                "admissible": self.admissible,
            }
        )
        if self.estimates is not None:
            table = pd.concat([table, self.estimates.reset_index(drop=True)], axis=1)
        return table

    @property
    def action(self) -> str:
        """Plain words: ``wait``, ``stop``, or ``treat next cohort at <label>``."""
        if self.wait:
            return "wait"
        if self.stop:
            mtd = "no MTD" if self.mtd is None else f"MTD {self.labels[self.mtd]}"
            return f"stop ({mtd})"
        return f"treat next cohort at {self.labels[self.next_dose]}"  # type: ignore[index]

    def __repr__(self) -> str:
        reasons = "\n".join(f"  - {rule}: {message}" for rule, message in self.reasons)
        return (
            f"{self.design} decision: {self.action}\n{reasons}\n"
            f"{self.summary().to_string(index=False)}"
        )

    def _repr_html_(self) -> str:
        import html

        items = "".join(
            f"<li><b>{html.escape(rule)}</b>: {html.escape(message)}</li>"
            for rule, message in self.reasons
        )
        return (
            f"<p><b>{html.escape(self.design)}</b>: {html.escape(self.action)}</p>"
            f"<ul>{items}</ul>{self.summary().to_html(index=False)}"
        )


class EscalationDesign(ABC):
    """Base of every escalation design: one batch method on the escalation state, and
    ``recommend`` on one trial's patients on top of it.

    A subclass defines ``design_rules`` (its own (name, message) pairs) and implements
    :meth:`_decide`, its rule on a state: with the pending patients' TITE weights when it
    has a DLT ``window``, on complete data otherwise. :attr:`rules` is ``design_rules``
    followed by :data:`COMMON_RULES`, the rules of the pending patients that
    :meth:`decide` applies to every design (module docstring), in this order of
    precedence: pending outcomes first, then the escalation restriction, then no stop
    while patients are pending.
    """

    n_doses: int
    labels: tuple[str, ...]
    start: int
    cohort_size: int = 3
    window: float | None = None
    escalate_after_complete: int | None = None
    design_rules: tuple[tuple[str, str], ...] = ()
    rules: tuple[tuple[str, str], ...] = COMMON_RULES
    design_wait_rules: frozenset[int] = frozenset()
    wait_rules: frozenset[int] = frozenset()
    """Rules whose decision is to wait: the design's own (e.g. TITE-BOIN's accrual
    suspension) and the common "pending" and "await follow-up"."""
    max_per_dose: int | None = None
    """Most patients the design treats at one dose (None: no limit of its own)."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("design_rules")
        if own is not None:
            cls.rules = tuple(own) + COMMON_RULES
            base = len(own)
            cls.wait_rules = frozenset(cls.design_wait_rules) | {base + _PENDING, base + _AWAIT}

    def __setattr__(self, name: str, value: object) -> None:
        if name in self.__dict__:
            raise AttributeError(f"{type(self).__name__} is immutable; build a new design")
        object.__setattr__(self, name, value)

    @abstractmethod
    def _key(self) -> tuple[object, ...]:
        """Every protocol number of the design, for equality and hashing."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def _description(self) -> str:
        """``repr(self)``, computed once (the design is immutable)."""
        text = self.__dict__.get("_repr_text")
        if text is None:
            text = repr(self)
            self.__dict__["_repr_text"] = text
        return text

    def _common_rule(self, index: int) -> int:
        return len(self.design_rules) + index

    def _set_restriction(self, escalate_after_complete: int | None) -> None:
        """Validate and store ``escalate_after_complete`` (TITE designs only)."""
        k = escalate_after_complete
        if k is not None:
            if isinstance(k, bool) or int(k) != k or k < 1:
                raise ValueError(
                    f"escalate_after_complete {k!r} must be a positive whole number of patients"
                )
            if self.window is None:
                raise ValueError(
                    "escalate_after_complete restricts TITE designs; set window (designs "
                    "without one wait for complete follow-up anyway)"
                )
            k = int(k)
        self.escalate_after_complete = k

    # --- the one batch decision -----------------------------------------------------------

    @abstractmethod
    def _decide(self, state: EscalationState) -> BatchDecision:
        """The design's own rule on a state (pending patients only for TITE designs)."""

    def decide(self, state: EscalationState) -> BatchDecision:
        """Decide for a batch of trials.

        Parameters
        ----------
        state : EscalationState
            Patients with known outcomes and their DLTs per dose, the current dose, the
            pending patients with their TITE weights and the most recent cohort's DLTs,
            for every trial (:meth:`EscalationState.of`,
            :meth:`EscalationState.from_patients`).

        Returns
        -------
        BatchDecision
            The design's own rule, with the pending patients handled as the module
            docstring says; ``rule`` indexes :attr:`rules`.
        """
        return self._hold_stops(state, self._decide_unheld(state))

    def _decide_unheld(self, state: EscalationState) -> BatchDecision:
        if not isinstance(state, EscalationState):
            raise TypeError(
                f"decide takes an EscalationState, got {type(state).__name__}; build one with "
                f"EscalationState.of(n, y, current, pending=...)"
            )
        if state.n_doses != self.n_doses:
            raise ValueError(f"the state has {state.n_doses} doses, the design {self.n_doses}")
        if self.window is not None:
            decision = self._decide(state)
        else:
            decision = self._weigh_outcomes(state)
        return self._restrict_escalation(state, decision)

    def _weigh_outcomes(self, state: EscalationState) -> BatchDecision:
        """A design without a window on every combination of the pending outcomes."""
        known = self._decide(state.complete())
        has = np.flatnonzero(state.any_pending)
        if has.size == 0:
            return known
        sub = state.take(has)
        resolved, k = sub.outcomes()
        every = self._decide(resolved)
        m = has.size
        nxt = every.next_dose.reshape(m, k)
        stop = every.stop.reshape(m, k)
        mtd = every.mtd.reshape(m, k)
        agree = (
            np.all(stop == stop[:, :1], axis=1)
            & np.all((nxt == nxt[:, :1]) | (np.isnan(nxt) & np.isnan(nxt[:, :1])), axis=1)
            & np.all((mtd == mtd[:, :1]) | (np.isnan(mtd) & np.isnan(mtd[:, :1])), axis=1)
        )
        rows = np.arange(m)
        cur = sub.current
        unfinished = sub.treated[rows, cur] % self.cohort_size != 0
        completes = ~agree & unfinished & ~stop[:, 0] & (nxt[:, 0] == cur)
        first = every.take(np.arange(m) * k)
        rule = np.where(
            agree,
            first.rule,
            np.where(completes, self._common_rule(_COMPLETE), self._common_rule(_PENDING)),
        )
        values = {
            "next_dose": np.where(agree, nxt[:, 0], np.where(completes, cur, np.nan)),
            "stop": agree & stop[:, 0],
            "mtd": np.where(agree, mtd[:, 0], np.nan),
            "admissible": every.admissible.reshape(m, k, -1).all(axis=1),
            "rule": rule,
            "wait": np.where(agree, first.wait, ~completes),
        }
        return _scatter(known, has, values)

    def _restrict_escalation(
        self, state: EscalationState, decision: BatchDecision
    ) -> BatchDecision:
        k = self.escalate_after_complete
        if k is None:
            return decision
        up = ~decision.stop & ~decision.wait & (decision.next_dose > state.current)
        blocked = up & (state.complete_at_current < k)
        if not blocked.any():
            return decision
        return dataclasses.replace(
            decision,
            next_dose=np.where(blocked, state.current, decision.next_dose),
            rule=np.where(blocked, self._common_rule(_RESTRICTED), decision.rule),
        )

    def _hold_stops(self, state: EscalationState, decision: BatchDecision) -> BatchDecision:
        held = decision.stop & state.any_pending
        if not held.any():
            return decision
        return dataclasses.replace(
            decision,
            next_dose=np.where(held, np.nan, decision.next_dose),
            stop=decision.stop & ~held,
            mtd=np.where(held, np.nan, decision.mtd),
            rule=np.where(held, self._common_rule(_AWAIT), decision.rule),
            wait=decision.wait | held,
        )

    # --- one trial ------------------------------------------------------------------------

    def _labels_or_default(self, labels: Sequence[str] | None) -> tuple[str, ...]:
        if labels is None:
            return tuple(str(i) for i in range(self.n_doses))
        if len(labels) != self.n_doses:
            raise ValueError(f"{len(labels)} labels given for {self.n_doses} doses")
        return tuple(str(label) for label in labels)

    def _estimates(self, state: EscalationState) -> pd.DataFrame | None:
        """Per-dose estimates of a state of one trial for the decision's summary (the
        design's posterior given the data its rule weighs); None by default."""
        return None

    def _explain(
        self, batch: BatchDecision, state: EscalationState, known: EscalationState | None = None
    ) -> list[tuple[str, str]]:
        """The (rule, message) pairs behind the design's own decision ``batch`` of a state of
        one trial; designs with posteriors override this to add the probabilities that
        decided. ``known`` is the trial's actual state when ``state`` resolves its pending
        patients (their outcomes assumed), so that messages say which counts are assumed."""
        return [self._reason(int(batch.rule[0]), state, known)]

    def _reason(
        self, rule: int, state: EscalationState, known: EscalationState | None = None
    ) -> tuple[str, str]:
        name, template = self.rules[rule]
        labels = self.labels
        cur = int(state.current[0])
        message = template.format(
            cur=labels[cur],
            n=int(state.n[0, cur]),
            y=int(state.y[0, cur]),
            up=labels[min(cur + 1, self.n_doses - 1)],
            down=labels[max(cur - 1, 0)],
        )
        return name, message + _assumed(state, known)

    def _state_of(
        self,
        level: Sequence[int] | np.ndarray,
        dlt: Sequence[int] | np.ndarray,
        followup: Sequence[float | None] | np.ndarray | None,
    ) -> EscalationState:
        return EscalationState.from_patients(
            level,
            dlt,
            followup,
            n_doses=self.n_doses,
            window=self.window,
            cohort_size=self.cohort_size,
        )

    def recommend(
        self,
        level: Sequence[int] | np.ndarray,
        dlt: Sequence[int] | np.ndarray,
        followup: Sequence[float | None] | np.ndarray | None = None,
    ) -> Decision:
        """Next dose for one trial from its patients in enrolment order.

        ``level`` holds 0-based doses, ``dlt`` 0/1, and ``followup`` the days of DLT
        follow-up of patients still inside the window without a DLT (0 for a patient
        awaiting the first infusion; None or NaN where the outcome is known). A TITE design
        weighs them by w = min(1, follow-up / window); every design treats them as
        :meth:`decide` does (the module docstring): the same state, the same rule.
        """
        return self.recommend_state(self._state_of(level, dlt, followup))

    def recommend_state(self, state: EscalationState) -> Decision:
        """The decision for a state of one trial, with its reasons and per-dose table."""
        if len(state) != 1:
            raise ValueError(f"recommend_state takes the state of one trial, got {len(state)}")
        unheld = self._decide_unheld(state)
        batch = self._hold_stops(state, unheld)
        reasons = self._reasons(batch, state, unheld)
        next_dose, mtd = batch.next_dose[0], batch.mtd[0]
        wait = bool(batch.wait[0])
        return Decision(
            design=self._description(),
            next_dose=None if (wait or np.isnan(next_dose)) else int(next_dose),
            mtd=None if np.isnan(mtd) else int(mtd),
            stop=bool(batch.stop[0]),
            wait=wait,
            reasons=tuple(reasons),
            labels=self.labels,
            n_at_dose=state.n[0].copy(),
            dlt_at_dose=state.y[0].copy(),
            pending_at_dose=state.n_pending[0],
            admissible=batch.admissible[0].copy(),
            estimator=lambda: self._estimates(state),
        )

    def _reasons(
        self, batch: BatchDecision, state: EscalationState, unheld: BatchDecision
    ) -> list[tuple[str, str]]:
        rule = int(batch.rule[0]) - len(self.design_rules)
        tite = self.window is not None
        if rule == _PENDING:
            best = state.resolved(0)
            worst = state.resolved(1)
            return [
                (
                    "pending",
                    f"{_pending_text(self, state)} could change the decision; wait for their "
                    f"follow-up",
                ),
                *[
                    ("if no pending patient has a DLT", f"{r}: {m}")
                    for r, m in self._explain(self._decide(best), best)
                ],
                *[
                    ("if every pending patient has a DLT", f"{r}: {m}")
                    for r, m in self._explain(self._decide(worst), worst)
                ],
            ]
        if rule == _AWAIT:
            if tite:
                explained = self._explain(self._decide(state), state)
            else:
                best = state.resolved(0)
                explained = self._explain(self._decide(best), best, state)
            return [
                (
                    "await follow-up",
                    f"the design would stop, but there are {_pending_text(self, state)}: "
                    f"enrol no one and decide once their follow-up is complete",
                ),
                *explained,
            ]
        if rule == _COMPLETE:
            cur = self.labels[int(state.current[0])]
            best = state.resolved(0)
            return [
                (
                    "complete the cohort",
                    f"{_pending_text(self, state)}; the cohort at {cur} is incomplete and with "
                    f"no DLT among them the design stays at {cur}: the next patient completes "
                    f"the cohort there",
                ),
                *self._explain(self._decide(best), best, state),
            ]
        if rule == _RESTRICTED:
            cur = int(state.current[0])
            inner = self._decide(state)
            return [
                *self._explain(inner, state),
                (
                    "escalation restricted",
                    f"{int(state.n[0, cur])} patient(s) at {self.labels[cur]} have complete "
                    f"follow-up, fewer than the {self.escalate_after_complete} required before "
                    f"escalating: treat at {self.labels[cur]}",
                ),
            ]
        if tite or not state.any_pending[0]:
            return self._explain(unheld, state)
        best = state.resolved(0)
        return [
            (
                "pending",
                f"{_pending_text(self, state)}; no outcome of theirs changes this decision",
            ),
            *self._explain(self._decide(best), best, state),
        ]


def _pending_text(design: EscalationDesign, state: EscalationState) -> str:
    """'2 patients inside the DLT window (at DL3 followed for 12 days; at DL3 with no
    follow-up yet)' for a state of one trial."""
    pending = state.pending
    mask = pending.mask[0]
    level = pending.level[0][mask]
    days = state.pending_days[0][mask]
    parts = []
    for d, u in zip(level, days, strict=True):
        where = design.labels[int(d)]
        if np.isnan(u):
            parts.append(f"at {where}")
        elif u == 0:
            parts.append(f"at {where} with no follow-up yet")
        else:
            parts.append(f"at {where} followed for {u:g} days")
    count = int(mask.sum())
    noun = "patient" if count == 1 else "patients"
    return f"{count} {noun} inside the DLT window ({'; '.join(parts)})"


def _assumed(state: EscalationState, known: EscalationState | None) -> str:
    """' (1 of them pending, counted without a DLT)' when ``state`` assumes the outcomes of
    pending patients at the current dose of ``known``."""
    if known is None:
        return ""
    cur = int(known.current[0])
    pending = int(known.n_pending[0, cur])
    if pending == 0:
        return ""
    return f" ({pending} of them pending, counted without a DLT)"


def _scatter(base: BatchDecision, rows: np.ndarray, values: dict[str, np.ndarray]) -> BatchDecision:
    """``base`` with the decision fields of ``rows`` replaced by ``values``."""
    out = {}
    for name, value in values.items():
        full = np.array(getattr(base, name), copy=True)
        if full.dtype != np.asarray(value).dtype and name in ("next_dose", "mtd"):
            full = full.astype(float)
        full[rows] = value
        out[name] = full
    return dataclasses.replace(base, **out)
