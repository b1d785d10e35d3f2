"""The Phase 2 expansion: its monitoring rules from the protocol, their operating
characteristics beside Simon's two-stage designs, and the decision on a data cut.

The efficacy rule is the predictive-probability design of Lee and Liu (2008) on the
objective response rate; the safety rule stops accrual when the posterior probability that
the DLT rate exceeds the protocol's limit is high. Both come from the protocol's
``expansion`` section; the same objects decide in simulations of the whole trial.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from scipy.stats import beta as beta_dist

from dartnk.adaptive import (
    PredictiveProbabilityDesign,
    PredictiveSearch,
    SimonDesign,
    SingleArmDecision,
    ToxicityMonitor,
    search_predictive_design,
    simon_two_stage,
)

from .errors import InputError
from .expansion_survival import ExpansionSurvival, analyse_expansion_survival
from .protocol import Protocol
from .trial import TrialData

__all__ = [
    "ExpansionAnalysis",
    "ExpansionDesigns",
    "analyse_expansion",
    "expansion_designs",
    "expansion_not_started",
    "phase2_patients",
    "predictive_design",
    "toxicity_monitor",
]

T = TypeVar("T")


_DEFAULT_TOXICITY_RATES = (0.10, 0.20, 0.30, 0.40, 0.50)


def _input(build: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return build(*args, **kwargs)
    except ValueError as error:
        raise InputError(str(error)) from None


def predictive_design(
    protocol: Protocol,
    *,
    p0: float | None = None,
    p1: float | None = None,
    n_max: int | None = None,
    prior: tuple[float, float] | None = None,
    theta_t: float | None = None,
    theta_l: float | None = None,
    theta_u: float | None = None,
    first_look: int | None = None,
    look_every: int | None = None,
) -> PredictiveProbabilityDesign:
    """The protocol's predictive-probability design; any argument given replaces the
    protocol's value (``theta_u`` is not in the protocol: no efficacy stop by default)."""
    e = protocol.expansion
    return _input(
        PredictiveProbabilityDesign.every,
        e.p0 if p0 is None else p0,
        e.p1 if p1 is None else p1,
        e.n_max if n_max is None else n_max,
        first_look=e.first_look if first_look is None else first_look,
        look_every=e.look_every if look_every is None else look_every,
        prior=tuple(e.prior) if prior is None else prior,
        theta_t=e.theta_t if theta_t is None else theta_t,
        theta_l=e.theta_l if theta_l is None else theta_l,
        theta_u=theta_u,
    )


def toxicity_monitor(
    protocol: Protocol,
    *,
    limit: float | None = None,
    threshold: float | None = None,
    prior: tuple[float, float] | None = None,
    n_max: int | None = None,
    min_n: int | None = None,
) -> ToxicityMonitor:
    """The protocol's toxicity monitor, applied after every DLT-evaluable patient from
    ``min_n`` on; any argument given replaces the protocol's value."""
    e = protocol.expansion
    return _input(
        ToxicityMonitor,
        e.toxicity_limit if limit is None else limit,
        e.toxicity_threshold if threshold is None else threshold,
        prior=tuple(e.toxicity_prior) if prior is None else prior,
        n_max=e.n_max if n_max is None else n_max,
        min_n=e.toxicity_min_n if min_n is None else min_n,
    )


def _rule_text(design: PredictiveProbabilityDesign | SimonDesign) -> str:
    bounds = design.boundaries()
    parts = [
        f"<= {int(row.futility_if_le)}/{int(row.n)}"
        for row in bounds.itertuples(index=False)
        if not row.final and not pd.isna(row.futility_if_le)
    ]
    final = bounds.iloc[-1]
    stop = f"stop if {', '.join(parts)}; " if parts else ""
    return f"{stop}promising if >= {int(final['efficacy_if_ge'])}/{int(final['n'])}"


@dataclass(frozen=True)
class ExpansionDesigns:
    """The expansion's monitoring rules and the Simon designs to compare with.

    Attributes
    ----------
    predictive : PredictiveProbabilityDesign
    simon_optimal, simon_minimax : SimonDesign or None
        None when no two-stage design within ``simon_n_max`` meets alpha and beta.
    toxicity : ToxicityMonitor
    alpha, beta : float
        Error targets of the Simon search (and of ``search``).
    toxicity_rates : tuple of float
        True DLT rates of the toxicity operating characteristics.
    search : PredictiveSearch or None
        Threshold search of the predictive design, when asked for.
    notes : tuple of str
    """

    predictive: PredictiveProbabilityDesign
    simon_optimal: SimonDesign | None
    simon_minimax: SimonDesign | None
    toxicity: ToxicityMonitor
    alpha: float
    beta: float
    toxicity_rates: tuple[float, ...]
    search: PredictiveSearch | None = None
    notes: tuple[str, ...] = field(default=())

    def operating_characteristics(self) -> pd.DataFrame:
        """One row per design and true response rate (p0, p1): the rule, maximum n,
        P(promising) (type I error at p0, power at p1), PET and E[N]."""
        designs = [("predictive probability", self.predictive)]
        designs += [
            (f"Simon {name}", d)
            for name, d in (("optimal", self.simon_optimal), ("minimax", self.simon_minimax))
            if d is not None
        ]
        rows = []
        for name, design in designs:
            oc = design.exact_oc().summary()
            for row in oc.itertuples(index=False):
                rows.append(
                    {
                        "design": name,
                        "rule": _rule_text(design),
                        "n_max": design.n_max,
                        "label": row.label,
                        "rate": row.rate,
                        "prob_promising": row.prob_promising,
                        "pet": row.pet,
                        "expected_n": row.expected_n,
                    }
                )
        return pd.DataFrame(rows)

    def toxicity_oc(self) -> pd.DataFrame:
        """Exact operating characteristics of the toxicity monitor at ``toxicity_rates``."""
        return self.toxicity.exact_oc(self.toxicity_rates).summary().drop(columns="design")

    def summary(self) -> pd.DataFrame:
        """The efficacy comparison (:meth:`operating_characteristics`)."""
        return self.operating_characteristics()

    def __repr__(self) -> str:
        return (
            f"{self.predictive!r}\n{self.predictive.boundaries().to_string(index=False)}\n"
            f"{self.summary().to_string(index=False)}\n{self.toxicity!r}\n"
            f"{self.toxicity_oc().to_string(index=False)}"
        )

    def _repr_html_(self) -> str:
        return (
            f"<p>{html.escape(repr(self.predictive))}</p>"
            f"{self.predictive.boundaries().to_html(index=False)}"
            f"{self.summary().to_html(index=False, escape=True)}"
            f"<p>{html.escape(repr(self.toxicity))}</p>"
            f"{self.toxicity_oc().to_html(index=False)}"
        )


def expansion_designs(
    protocol: Protocol,
    *,
    alpha: float | None = None,
    beta: float | None = None,
    simon_n_max: int = 100,
    toxicity_min_n: int | None = None,
    toxicity_rates: Sequence[float] | None = None,
    search: bool = False,
    **overrides: object,
) -> ExpansionDesigns:
    """The protocol's expansion rules beside Simon's optimal and minimax designs.

    Parameters
    ----------
    protocol : Protocol
    alpha, beta : float, optional
        Type I and type II error targets of the Simon designs (and of the threshold
        search), default the protocol's; the predictive design keeps its thresholds and
        reports what it attains.
    simon_n_max : int
        Largest total sample size of the Simon search.
    toxicity_min_n : int, optional
        First number of DLT-evaluable patients the toxicity rule is applied at (default
        the protocol's ``expansion.toxicity_min_n``).
    toxicity_rates : sequence of float, optional
        True DLT rates for the toxicity operating characteristics; default 0.1-0.5 and
        the limit.
    search : bool
        Also search theta_t and theta_l for the smallest E[N | p0] meeting alpha and
        power (:func:`~dartnk.adaptive.search_predictive_design`).
    **overrides
        Arguments of :func:`predictive_design` replacing the protocol's values.
    """
    design = predictive_design(protocol, **overrides)  # type: ignore[arg-type]
    monitor = toxicity_monitor(protocol, n_max=design.n_max, min_n=toxicity_min_n)
    alpha = protocol.expansion.alpha if alpha is None else alpha
    beta = protocol.expansion.beta if beta is None else beta
    simon: dict[str, SimonDesign | None] = {}
    notes = []
    for kind in ("optimal", "minimax"):
        try:
            simon[kind] = simon_two_stage(
                design.p0, design.p1, alpha, beta, design=kind, n_max=simon_n_max
            )
        except ValueError as error:
            if "no two-stage design" not in str(error):
                raise InputError(str(error)) from None
            simon[kind] = None
            notes.append(f"Simon {kind}: {error}")
    rates = (
        sorted({*_DEFAULT_TOXICITY_RATES, monitor.limit})
        if toxicity_rates is None
        else list(toxicity_rates)
    )
    found = None
    if search:
        found = _input(
            search_predictive_design,
            design.p0,
            design.p1,
            design.n_max,
            alpha=alpha,
            beta=beta,
            prior=design.prior,
            looks=design.looks,
            theta_u=design.theta_u,
        )
    return ExpansionDesigns(
        predictive=design,
        simon_optimal=simon["optimal"],
        simon_minimax=simon["minimax"],
        toxicity=monitor,
        alpha=alpha,
        beta=beta,
        toxicity_rates=tuple(float(r) for r in rates),
        search=found,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class ExpansionAnalysis:
    """The expansion at a data cut: posterior of the ORR and the two monitoring decisions.

    Attributes
    ----------
    cutoff : int
    construct, dose_level : str
        The expanded construct and its dose level (label).
    protocol_hash : str
    enrolled : int
        Phase 2 patients enrolled by the cut-off.
    response_evaluable, responders : int
        Patients whose best overall response is decided, and confirmed CR or PR among them.
    prior, posterior : (a, b)
        Beta prior and posterior of the ORR.
    ci_prob : float
        Probability of the equal-tailed posterior interval.
    efficacy : SingleArmDecision
        The predictive-probability rule at (response_evaluable, responders).
    looks : DataFrame
        The planned looks already reached: responders among the first n patients whose
        response became known (in the order it did), the probability the rule used and
        its action.
    toxicity_looks : DataFrame
        The toxicity monitor's looks already reached: DLTs among the first n patients whose
        DLT outcome became known, the probability and the action.
    dlt_evaluable, dlts, dlt_pending : int
        Patients with complete DLT follow-up, DLTs among them, patients still inside the
        window without a DLT.
    toxicity_prior : (a, b)
        Beta prior of the DLT rate.
    toxicity : SingleArmDecision
        The toxicity rule on the completed patients.
    toxicity_if_pending_dlt : SingleArmDecision or None
        The rule if every pending patient had a DLT (None without pending patients).
    survival : ExpansionSurvival
        PFS and OS of the construct at the expansion dose (both phases): Kaplan-Meier,
        and the Weibull model when asked for.
    """

    cutoff: int
    construct: str
    dose_level: str
    protocol_hash: str
    enrolled: int
    response_evaluable: int
    responders: int
    prior: tuple[float, float]
    posterior: tuple[float, float]
    ci_prob: float
    efficacy: SingleArmDecision
    looks: pd.DataFrame
    toxicity_looks: pd.DataFrame
    dlt_evaluable: int
    dlts: int
    dlt_pending: int
    toxicity_prior: tuple[float, float]
    toxicity: SingleArmDecision
    toxicity_if_pending_dlt: SingleArmDecision | None
    survival: ExpansionSurvival

    @property
    def posterior_mean(self) -> float:
        """(a + x) / (a + b + n)."""
        a, b = self.posterior
        return a / (a + b)

    @property
    def interval(self) -> tuple[float, float]:
        """Equal-tailed posterior interval of the ORR with probability ``ci_prob``."""
        a, b = self.posterior
        tail = (1.0 - self.ci_prob) / 2.0
        low, high = beta_dist.ppf([tail, 1.0 - tail], a, b)
        return float(low), float(high)

    def summary(self) -> pd.DataFrame:
        """Two rows, ORR (predictive-probability rule) and DLT rate (toxicity monitor): n,
        events, observed rate, Beta prior, posterior mean and interval, the probability
        that decided and the action."""
        low, high = self.interval
        a, b = self.prior
        ta = self.toxicity_prior[0] + self.dlts
        tb = self.toxicity_prior[1] + self.dlt_evaluable - self.dlts
        tail = (1.0 - self.ci_prob) / 2.0
        tox_low, tox_high = beta_dist.ppf([tail, 1.0 - tail], ta, tb)
        level = f"{round(100 * self.ci_prob):d}%"
        return pd.DataFrame(
            {
                "endpoint": ["ORR", "DLT rate"],
                "n": [self.response_evaluable, self.dlt_evaluable],
                "events": [self.responders, self.dlts],
                "rate": [
                    self.responders / self.response_evaluable if self.response_evaluable else None,
                    self.dlts / self.dlt_evaluable if self.dlt_evaluable else None,
                ],
                "prior": [f"Beta({a:g}, {b:g})", "Beta({:g}, {:g})".format(*self.toxicity_prior)],
                "posterior_mean": [self.posterior_mean, ta / (ta + tb)],
                f"lower_{level}": [low, float(tox_low)],
                f"upper_{level}": [high, float(tox_high)],
                "statistic": [self.efficacy.statistic, self.toxicity.statistic],
                "probability": [self.efficacy.probability, self.toxicity.probability],
                "action": [self.efficacy.action_text, self.toxicity.action_text],
            }
        )

    @property
    def reasons(self) -> tuple[tuple[str, str], ...]:
        """Every (rule, message) behind the two decisions, pending patients included."""
        out = [*self.efficacy.reasons, *self.toxicity.reasons]
        pending = self.toxicity_if_pending_dlt
        if pending is not None:
            verb = "would also" if pending.action == self.toxicity.action else "would"
            out.append(
                (
                    "pending DLT follow-up",
                    f"{self.dlt_pending} patient(s) still inside the DLT window; if all had "
                    f"a DLT the rule {verb} {pending.action_text} "
                    f"({pending.statistic} = {pending.probability:.3f})",
                )
            )
        return tuple(out)

    @property
    def stopping(self) -> tuple[str, ...]:
        """One line per monitoring rule met at a planned look, naming the look: the
        predictive-probability rule before its final analysis (futility or efficacy), the
        toxicity monitor at any look; empty while every rule says continue. Enrolment
        stops at the first such look."""
        out = []
        for rule, table, events, final in (
            ("predictive-probability rule", self.looks, "responders", False),
            ("toxicity monitor", self.toxicity_looks, "DLTs", True),
        ):
            met = (table["action"] != "continue") & (final | (table["n"] < table.attrs["n_max"]))
            if met.any():
                look = int(np.argmax(met.to_numpy()))
                first = table.iloc[look]
                out.append(
                    f"{rule}: {first['action']} at look {look + 1} (n = {int(first['n'])}, "
                    f"{int(first[events])} {events}, {first['statistic']} = "
                    f"{first['probability']:.3f}); stop enrolment"
                )
        return tuple(out)

    @property
    def headline(self) -> str:
        """One line: construct, dose level, cut-off and patient counts."""
        return (
            f"Phase 2 expansion of construct {self.construct} at {self.dose_level}, cut-off "
            f"study day {self.cutoff}: {self.enrolled} enrolled, {self.response_evaluable} "
            f"response-evaluable, {self.dlt_evaluable} DLT-evaluable"
        )

    def __repr__(self) -> str:
        reasons = "\n".join(f"  - {rule}: {text}" for rule, text in self.reasons)
        return (
            f"{self.headline}\n{self.summary().to_string(index=False)}\n{reasons}\n"
            f"{self.survival!r}"
        )

    def _repr_html_(self) -> str:
        items = "".join(
            f"<li><b>{html.escape(rule)}</b>: {html.escape(text)}</li>"
            for rule, text in self.reasons
        )
        return (
            f"<p>{html.escape(self.headline)}</p>"
            f"{self.summary().to_html(index=False, escape=True)}<ul>{items}</ul>"
            f"{self.survival._repr_html_()}"
        )


def phase2_patients(trial: TrialData) -> pd.DataFrame:
    """The Phase 2 patients enrolled by the cut-off (rows of ``trial.patients``), in order
    of enrolment; empty before the expansion starts."""
    patients = trial.patients
    return patients[patients["phase"] == 2].sort_values("enrolled_day", kind="stable")


def expansion_not_started(trial: TrialData) -> str:
    """The one line that says a cut holds no Phase 2 patient yet (valid data: the expansion
    has not started)."""
    return (
        f"no Phase 2 patient enrolled by cut-off study day {trial.cutoff}: "
        f"the expansion has not started"
    )


def analyse_expansion(
    trial: TrialData,
    *,
    design: PredictiveProbabilityDesign | None = None,
    monitor: ToxicityMonitor | None = None,
    ci_prob: float = 0.90,
    survival_model: bool = False,
    seed: int | None = None,
) -> ExpansionAnalysis:
    """The expansion's current decisions on a data cut.

    Phase 2 patients enrolled by the cut-off are the expansion; they must share one
    construct and dose level. The ORR counts confirmed CR or PR among patients whose best
    overall response is decided (``response_evaluable``); patients awaiting confirmation
    or assessment wait. The toxicity rule counts patients with complete DLT follow-up
    (DLT or the whole window without one); pending patients are shown both ways.

    Parameters
    ----------
    trial : TrialData
        A validated data cut (:func:`~dartnk.analyses.load_trial`).
    design : PredictiveProbabilityDesign, optional
        Default: the protocol's (:func:`predictive_design`).
    monitor : ToxicityMonitor, optional
        Default: the protocol's (:func:`toxicity_monitor`).
    ci_prob : float, default 0.90
        Probability of the posterior intervals (and of the survival intervals).
    survival_model : bool, default False
        Fit the Bayesian Weibull model of PFS and OS beside Kaplan-Meier (MCMC).
    seed : int, optional
        Root seed of the survival fits.

    Raises
    ------
    InputError
        When no Phase 2 patient is enrolled (check :func:`phase2_patients` first: the
        command line reports this valid cut without an error), when they span several
        constructs or dose levels, or when more are evaluable than the design's n_max.

    References
    ----------
    Lee JJ, Liu DD (2008). A predictive probability design for phase II cancer clinical
    trials. Clinical Trials 5:93-106.
    """
    protocol = trial.protocol
    design = predictive_design(protocol) if design is None else design
    monitor = toxicity_monitor(protocol) if monitor is None else monitor
    if not 0 < ci_prob < 1:
        raise InputError(f"ci_prob {ci_prob} is not a probability strictly between 0 and 1")
    phase2 = phase2_patients(trial)
    if phase2.empty:
        raise InputError(expansion_not_started(trial))
    arms = sorted(set(zip(phase2["construct"], phase2["dose_level"], strict=True)))
    if len(arms) > 1:
        listed = ", ".join(f"{c} at {d}" for c, d in arms)
        raise InputError(f"Phase 2 patients span several constructs or dose levels: {listed}")
    construct, dose_level = arms[0]
    evaluable = _in_order_known(phase2[phase2["response_evaluable"].astype(bool)], "response")
    response = evaluable["responder"].astype(bool).to_numpy()
    n, x = int(response.size), int(response.sum())
    status = phase2["dlt_status"]
    complete = status.isin(("DLT", "no DLT"))
    n_tox, y_tox = int(complete.sum()), int((status == "DLT").sum())
    pending = int((status == "pending").sum())
    for what, count, rule in (
        ("response-evaluable", n, design),
        ("DLT-evaluable", n_tox + pending, monitor),
    ):
        if count > rule.n_max:
            raise InputError(
                f"{count} {what} Phase 2 patients exceed the expansion's n_max = {rule.n_max}"
            )
    a, b = design.prior
    return ExpansionAnalysis(
        cutoff=int(trial.cutoff),
        construct=str(construct),
        dose_level=str(dose_level),
        protocol_hash=protocol.content_hash,
        enrolled=len(phase2),
        response_evaluable=n,
        responders=x,
        prior=(a, b),
        posterior=(a + x, b + n - x),
        ci_prob=float(ci_prob),
        efficacy=design.decision(n, x),
        looks=_look_history(design, response),
        toxicity_looks=_look_history(
            monitor, _dlts_in_order(phase2, protocol.dlt_window), events="DLTs"
        ),
        dlt_evaluable=n_tox,
        dlts=y_tox,
        dlt_pending=pending,
        toxicity_prior=monitor.prior,
        toxicity=monitor.decision(n_tox, y_tox),
        toxicity_if_pending_dlt=(
            monitor.decision(n_tox + pending, y_tox + pending) if pending else None
        ),
        survival=analyse_expansion_survival(
            trial,
            str(construct),
            str(dose_level),
            model=survival_model,
            seed=seed,
            ci_prob=ci_prob,
        ),
    )


def _in_order_known(patients: pd.DataFrame, outcome: str, window: int = 0) -> pd.DataFrame:
    """Patients in the order their ``outcome`` ("response" or "dlt") became known (study
    day; ties in enrolment order): a look of a monitoring rule is taken when its n-th
    outcome is known, on the first n known."""
    first = patients["first_infusion_day"].astype("float64")
    if outcome == "response":
        known = first + patients["response_known_day"].astype("float64")
    else:
        onset = patients["dlt_onset_day"].astype("float64")
        known = first + onset.where(patients["dlt_status"] == "DLT", float(window))
    order = np.lexsort((patients["enrolled_day"].to_numpy(), known.to_numpy()))
    return patients.iloc[order]


def _dlts_in_order(phase2: pd.DataFrame, window: int) -> np.ndarray:
    """DLT 0/1 of the Phase 2 patients with complete DLT follow-up, in the order their
    outcome became known."""
    complete = phase2[phase2["dlt_status"].isin(("DLT", "no DLT"))]
    ordered = _in_order_known(complete, "dlt", window)
    return (ordered["dlt_status"] == "DLT").to_numpy(dtype=np.int64)


def _look_history(
    rule: PredictiveProbabilityDesign | ToxicityMonitor,
    outcomes: np.ndarray,
    *,
    events: str = "responders",
) -> pd.DataFrame:
    """The rule at each of its looks reached by ``outcomes`` (0/1 in enrolment order)."""
    reached = np.array([look for look in rule.looks if look <= outcomes.size], dtype=np.int64)
    counts = np.cumsum(outcomes)[reached - 1] if reached.size else reached
    rows = [rule.decision(int(n), int(x)) for n, x in zip(reached, counts, strict=True)]
    table = pd.DataFrame(
        {
            "n": reached,
            events: np.asarray(counts, dtype=np.int64),
            "statistic": [d.statistic for d in rows],
            "probability": [d.probability for d in rows],
            "action": [d.action_text for d in rows],
        }
    )
    table.attrs["n_max"] = int(rule.n_max)
    return table
