"""Probabilistic composite construct selection at the interim analysis.

Each component of the composite (safety, efficacy, kinetics, manufacturability) is mapped to
a desirability on its posterior draws, the desirabilities are weighted and summed draw by
draw, and the constructs are compared on the resulting score distribution: P(best), rank
probabilities, expected score with a credible interval, P(score > threshold). Gates (by
default escalation with overdose control at the candidate dose) exclude a construct whatever
its score. The selection runs on one analysis or, with a leading ``trial`` dim, on many
simulated trials at once.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ._selection_arrays import (
    best_from_ranks,
    desirability,
    selection_rule,
    tie_shared_ranks,
    weighted_score,
)
from ._selection_inputs import (
    CONSTRUCT,
    DRAW,
    TRIAL,
    ComponentDraws,
    Preferences,
    check_preferences,
)
from ._selection_inputs import read_components as _read_components
from ._selection_sensitivity import SelectionSensitivity, analyse_sensitivity

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_EWOC",
    "DEFAULT_OVERDOSE_FROM",
    "ConstructSelection",
    "ExceedanceGate",
    "safety_gate",
    "select_construct",
]

DEFAULT_OVERDOSE_FROM = 0.33
"""Protocol default: a DLT rate at or above 0.33 is an overdose."""
DEFAULT_EWOC = 0.25
"""Protocol default: the largest admissible P(overdose) (escalation with overdose control)."""
NO_DOSE = "no admissible dose: out of the selection"
REFER = "no clear winner: refer to the safety monitoring committee"


@dataclass(frozen=True)
class ExceedanceGate:
    """A gate on one component: a construct passes when P(component beyond ``threshold``)
    is below ``max_probability``.

    With ``direction="above"`` the probability is P(x >= threshold) (e.g. a DLT rate at or
    above the overdose limit); with ``"below"`` it is P(x <= threshold) (e.g. an ORR at or
    below an uninteresting rate). The probability is the share of posterior draws; the gate
    passes when it is strictly below ``max_probability``, as EWOC admits a dose when
    P(overdose) < 0.25 (Babb et al. 1998; Neuenschwander et al. 2008).

    Parameters
    ----------
    component : str
        Name of the component variable the gate reads (it need not be weighted).
    threshold : float
    max_probability : float
        In (0, 1].
    direction : {"above", "below"}, default "above"
    label : str, optional
        Words for the quantity in messages (default the component name).

    Examples
    --------
    >>> gate = ExceedanceGate("efficacy", 0.10, 0.5, direction="below", label="ORR")
    >>> gate.name
    'P(ORR <= 0.1) < 0.5'

    References
    ----------
    Babb J, Rogatko A, Zacks S (1998). Cancer phase I clinical trials: efficient dose
    escalation with overdose control. Statistics in Medicine 17:1103-1120.

    Neuenschwander B, Branson M, Gsponer T (2008). Critical aspects of the Bayesian
    approach to phase I cancer trials. Statistics in Medicine 27:2420-2439.
    """

    component: str
    threshold: float
    max_probability: float
    direction: Literal["above", "below"] = "above"
    label: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.component, str) or not self.component:
            raise ValueError(f"gate component must be a variable name, got {self.component!r}")
        if not math.isfinite(float(self.threshold)):
            raise ValueError(f"gate threshold {self.threshold!r} is not a finite number")
        if not 0.0 < float(self.max_probability) <= 1.0:
            raise ValueError(f"gate max_probability {self.max_probability!r} must be in (0, 1]")
        if self.direction not in ("above", "below"):
            raise ValueError(f"gate direction {self.direction!r}: expected 'above' or 'below'")
        object.__setattr__(self, "threshold", float(self.threshold))
        object.__setattr__(self, "max_probability", float(self.max_probability))

    @property
    def event(self) -> str:
        """The exceedance in words, e.g. ``P(DLT rate >= 0.33)``."""
        sign = ">=" if self.direction == "above" else "<="
        return f"P({self.label or self.component} {sign} {self.threshold:g})"

    @property
    def name(self) -> str:
        """The gate in words, e.g. ``P(DLT rate >= 0.33) < 0.25``."""
        return f"{self.event} < {self.max_probability:g}"

    def probability(self, values: np.ndarray) -> np.ndarray:
        """Share of draws (last axis) beyond the threshold."""
        beyond = values >= self.threshold if self.direction == "above" else values <= self.threshold
        return np.count_nonzero(beyond, axis=-1) / values.shape[-1]


def safety_gate(
    *,
    overdose_from: float = DEFAULT_OVERDOSE_FROM,
    ewoc: float = DEFAULT_EWOC,
    component: str = "safety",
) -> ExceedanceGate:
    """The default gate: P(DLT rate at the candidate dose >= ``overdose_from``) < ``ewoc``.

    The protocol's defaults are ``overdose_from`` 0.33 (the lower end of the BLRM overdose
    interval) and ``ewoc`` 0.25 (Neuenschwander et al. 2008).

    Examples
    --------
    >>> safety_gate().name
    'P(DLT rate >= 0.33) < 0.25'
    """
    return ExceedanceGate(component, overdose_from, ewoc, "above", label="DLT rate")


def _gates(gates: ExceedanceGate | Sequence[ExceedanceGate] | None) -> tuple[ExceedanceGate, ...]:
    if gates is None:
        return (safety_gate(),)
    rules = (gates,) if isinstance(gates, ExceedanceGate) else tuple(gates)
    for rule in rules:
        if not isinstance(rule, ExceedanceGate):
            raise ValueError(f"gates must be ExceedanceGate objects, got {rule!r}")
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"gates are repeated: {names}")
    return rules


@dataclass(frozen=True, eq=False, repr=False)
class ConstructSelection:
    """The composite construct selection of one analysis, or of many trials at once.

    Arrays are ``xarray.DataArray`` with dims ``construct``, ``draw``, ``rank`` and ``gate``,
    and a leading ``trial`` dim when the components had one. Construct labels are strings.

    Attributes
    ----------
    score : DataArray ([trial,] construct, draw)
        sum_k w_k d_k per draw; NaN for a construct without a candidate dose.
    expected_score : DataArray ([trial,] construct)
        Posterior mean score (NaN without a candidate dose).
    prob_best : DataArray ([trial,] construct)
        P(best score); m constructs tied for the best score in a draw get 1/m each. A
        construct without a candidate dose cannot be best (0).
    rank_probabilities : DataArray ([trial,] construct, rank)
        P(rank r), rank 1 = best; m tied constructs share the m ranks they span, 1/m each,
        and constructs without a candidate dose share the last ranks, so that every row and
        every column sums to 1.
    available : DataArray ([trial,] construct) of bool
        The construct has a candidate dose (its draws are not NaN).
    gate_probability, gate_passed : DataArray ([trial,] construct, gate)
        Each gate's probability and verdict (NaN and False without a candidate dose).
    eligible : DataArray ([trial,] construct) of bool
        A candidate dose and every gate passed.
    selected_index : DataArray ([trial]) of float
        0-based index of the selected construct, NaN for none.
    weights, desirability : mapping
        The protocol numbers used: weight and (worst, best) per weighted component.
    prob_best_threshold : float
    gate_rules : tuple of ExceedanceGate
    """

    score: xr.DataArray
    expected_score: xr.DataArray
    prob_best: xr.DataArray
    rank_probabilities: xr.DataArray
    available: xr.DataArray
    gate_probability: xr.DataArray
    gate_passed: xr.DataArray
    eligible: xr.DataArray
    selected_index: xr.DataArray
    weights: Mapping[str, float]
    desirability: Mapping[str, tuple[float, float]]
    prob_best_threshold: float
    gate_rules: tuple[ExceedanceGate, ...]
    _draws: ComponentDraws = field(repr=False)

    @property
    def batch(self) -> bool:
        """True when the selection holds a ``trial`` dim."""
        return self._draws.batch

    @property
    def constructs(self) -> tuple[str, ...]:
        return self._draws.constructs

    @property
    def selected(self) -> str | xr.DataArray | None:
        """The selected construct's label, or None: no clear winner, refer to the safety
        monitoring committee. With a ``trial`` dim: an object DataArray over trials holding
        a label or None."""
        index = self.selected_index.to_numpy()
        if not self.batch:
            return None if np.isnan(index) else self.constructs[int(index)]
        labels = np.array([*self.constructs, None], dtype=object)
        chosen = labels[np.where(np.isnan(index), len(self.constructs), index).astype(int)]
        return xr.DataArray(chosen, dims=(TRIAL,), coords={TRIAL: self._draws.trial_coord})

    def prob_above(self, threshold: float) -> xr.DataArray:
        """P(score > ``threshold``) per construct (NaN without a candidate dose)."""
        score = self.score.to_numpy()
        prob = np.count_nonzero(score > threshold, axis=-1) / score.shape[-1]
        return self.expected_score.copy(data=np.where(self.available.to_numpy(), prob, np.nan))

    def credible_interval(self, prob: float = 0.95) -> xr.DataArray:
        """Equal-tailed ``prob`` credible interval of the score per construct, with a
        ``bound`` dim (lower, upper)."""
        if not 0.0 < prob < 1.0:
            raise ValueError(f"credible interval probability {prob!r} must be in (0, 1)")
        tails = [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0]
        bounds = np.moveaxis(np.quantile(self.score.to_numpy(), tails, axis=-1), 0, -1)
        dims = (*self.expected_score.dims, "bound")
        coords = {**self.expected_score.coords, "bound": ["lower", "upper"]}
        return xr.DataArray(bounds, dims=dims, coords=coords)

    def contributions(self) -> pd.DataFrame:
        """Expected weighted desirability per construct and component.

        One row per ([trial,] construct, component): the weight, the posterior mean of the
        component, the expected desirability E[d_k] and the contribution w_k E[d_k]. The
        contributions of a construct sum to its expected score (NaN without a candidate
        dose).
        """
        names = list(self.weights)
        weights = np.array([self.weights[n] for n in names])
        values = [self._draws.values[n] for n in names]
        mean = np.stack([v.mean(axis=-1) for v in values], axis=-1)
        expected = np.stack(
            [
                desirability(v, *self.desirability[n]).mean(axis=-1)
                for n, v in zip(names, values, strict=True)
            ],
            axis=-1,
        )
        if not self.batch:
            mean, expected = mean[0], expected[0]
        table = self._long(len(names))
        table["component"] = np.tile(names, len(table) // max(1, len(names)))
        table["weight"] = np.tile(weights, len(table) // max(1, len(names)))
        table["mean"] = _flat(mean)
        table["expected_desirability"] = _flat(expected)
        table["contribution"] = _flat(expected * weights)
        return table

    @property
    def gates(self) -> pd.DataFrame:
        """One row per ([trial,] construct, gate): the gate, its probability and limit, the
        verdict and a message with the numbers, e.g.
        ``P(DLT rate >= 0.33) = 0.120 < 0.25: pass``."""
        rules = self.gate_rules
        table = self._long(len(rules))
        repeats = len(table) // max(1, len(rules))
        probability = _flat(self.gate_probability.to_numpy())
        passed = _flat(self.gate_passed.to_numpy())
        available = np.repeat(_flat(self.available.to_numpy()), len(rules))
        table["gate"] = np.tile([rule.name for rule in rules], repeats)
        table["component"] = np.tile([rule.component for rule in rules], repeats)
        table["probability"] = probability
        table["limit"] = np.tile([rule.max_probability for rule in rules], repeats)
        table["passed"] = passed
        table["message"] = _gate_messages(rules, probability, passed, available)
        return table

    def summary(self, *, ci_prob: float = 0.95) -> pd.DataFrame:
        """One row per ([trial,] construct): candidate dose available, expected score and its
        equal-tailed ``ci_prob`` interval (``eti_<q>%`` columns, as ArviZ names them),
        P(best), P(rank 1..K), the gates' messages and verdict, and whether it is selected."""
        interval = self.credible_interval(ci_prob).to_numpy()
        low, high = (1.0 - ci_prob) / 2.0 * 100.0, (1.0 + ci_prob) / 2.0 * 100.0
        table = self._frame()
        table["available"] = _flat(self.available.to_numpy())
        table["expected_score"] = _flat(self.expected_score.to_numpy())
        table[f"eti_{low:g}%"] = _flat(interval[..., 0])
        table[f"eti_{high:g}%"] = _flat(interval[..., 1])
        table["prob_best"] = _flat(self.prob_best.to_numpy())
        ranks = self.rank_probabilities.to_numpy()
        for r in range(ranks.shape[-1]):
            table[f"prob_rank_{r + 1}"] = _flat(ranks[..., r])
        table["gates"] = self._gate_column()
        table["passed_gates"] = _flat(self.eligible.to_numpy())
        index = self.selected_index.to_numpy()
        chosen = np.arange(len(self.constructs)) == np.asarray(index)[..., None]
        table["selected"] = _flat(np.broadcast_to(chosen, self.available.shape))
        return table

    @property
    def decision(self) -> str:
        """The decision in words with the numbers behind it (one analysis only)."""
        self._require_single("decision")
        prob = self.prob_best.to_numpy()
        labels = self.constructs
        threshold = self.prob_best_threshold
        if not self.available.to_numpy().any():
            return f"{REFER} (no construct has an admissible dose)"
        selected = self.selected
        if selected is not None:
            i = labels.index(selected)
            return (
                f"{selected} selected: P(best) {prob[i]:.3f} >= {threshold:g}, the highest, "
                f"gates passed"
            )
        top = prob.max()
        leaders = [labels[i] for i in np.flatnonzero(prob == top)]
        if len(leaders) > 1:
            reason = f"{' and '.join(leaders)} tie for the highest P(best) {top:.3f}"
        elif top < threshold:
            reason = f"the highest P(best), {leaders[0]}'s, is {top:.3f} < {threshold:g}"
        else:
            reason = f"{leaders[0]} has the highest P(best) {top:.3f} but fails its gates"
        return f"{REFER} ({reason})"

    def sensitivity(
        self,
        *,
        seed: int | np.random.SeedSequence | np.random.Generator,
        kappa: float = 50.0,
        n_weights: int = 1000,
    ) -> SelectionSensitivity:
        """Sensitivity of the selection to the weights and to posterior uncertainty.

        For one analysis (no ``trial`` dim), in the spirit of SMAA (Tervonen et al. 2011):

        1. weights drawn from a Dirichlet centred on the protocol weights w0,
           w ~ Dirichlet(kappa w0) (E w = w0, Var w_k = w0_k (1 - w0_k) / (kappa + 1));
           components of zero weight stay at zero;
        2. leave-one-component-out: drop component k, renormalise the other weights;
        3. rank reversals split by their cause: weights only (posterior fixed at its
           expectations E[d_k]), posterior only (protocol weights) and joint, as the share
           of evaluations whose best construct differs from the reference (the base
           selection, or when there is none the construct with the highest P(best)); and how
           often the full selection rule, rerun under each weight draw, changes the
           selection. Gates do not depend on the weights and stay as they are.

        Parameters
        ----------
        seed : int, SeedSequence or Generator
            Source of the weight draws; the same seed gives the same numbers.
        kappa : float, default 50
            Dirichlet concentration (``inf``: the weights stay at the protocol's).
        n_weights : int, default 1000
            Number of weight draws.

        Returns
        -------
        SelectionSensitivity

        References
        ----------
        Tervonen T, van Valkenhoef G, Buskens E, Hillege HL, Postmus D (2011). A stochastic
        multicriteria model for evidence-based decision making in drug benefit-risk
        analysis. Statistics in Medicine 30:1419-1428.
        """
        self._require_single("sensitivity")
        names = tuple(self.weights)
        draws = np.stack(
            [desirability(self._draws.values[n][0], *self.desirability[n]) for n in names]
        )
        return analyse_sensitivity(
            desirability=draws,
            protocol_weights=np.array([self.weights[n] for n in names]),
            components=names,
            constructs=self.constructs,
            available=self.available.to_numpy(),
            eligible=self.eligible.to_numpy(),
            base_prob_best=self.prob_best.to_numpy(),
            base_index=float(self.selected_index),
            threshold=self.prob_best_threshold,
            kappa=kappa,
            n_weights=n_weights,
            seed=seed,
        )

    def plot(self) -> Figure:
        """Score distributions per construct, P(best) against the threshold, and rank
        probabilities (one analysis only); returns the matplotlib figure. The sensitivity
        analysis has its own: ``result.sensitivity(seed=...).plot()``."""
        from ._selection_plot import selection_figure

        self._require_single("plot")
        return selection_figure(self)

    def _headline(self) -> str:
        weights = ", ".join(f"{name} {w:g}" for name, w in self.weights.items())
        gates = "; ".join(rule.name for rule in self.gate_rules) or "none"
        if self.batch:
            index = self.selected_index.to_numpy()
            n_constructs = len(self.constructs)
            code = np.where(np.isnan(index), n_constructs, index).astype(int)
            share = np.bincount(code, minlength=n_constructs + 1) / index.size
            shares = ", ".join(
                f"{label} {value:.1%}"
                for label, value in zip([*self.constructs, "none"], share, strict=True)
            )
            head = (
                f"Construct selection over {self.score.sizes[TRIAL]} trials: {shares} "
                f"(the first 3 trials below)"
            )
        else:
            head = f"Construct selection: {self.decision}"
        return f"{head}\nweights: {weights}; gates: {gates}"

    def __repr__(self) -> str:
        table = self.summary()
        if self.batch:
            table = table.head(3 * len(self.constructs))
        body = table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
        return f"{self._headline()}\n{body}"

    def _repr_html_(self) -> str:
        lines = "<br>".join(html.escape(line) for line in self._headline().splitlines())
        table = self.summary()
        if self.batch:
            table = table.head(3 * len(self.constructs))
        body = table.to_html(index=False, escape=True, float_format=lambda v: f"{v:.3f}")
        return f"<p>{lines}</p>\n{body}"

    def _require_single(self, what: str) -> None:
        if self.batch:
            raise ValueError(
                f"{what} is for one analysis; select on one trial: "
                f"select_construct(components.isel(trial=i), ...)"
            )

    def _long(self, inner: int) -> pd.DataFrame:
        """Key columns of one row per ([trial,] construct, item), ``inner`` items each."""
        frame = self._frame()
        return frame.loc[frame.index.repeat(inner)].reset_index(drop=True)

    def _frame(self) -> pd.DataFrame:
        n_trials = len(self._draws.trial_coord)
        constructs = np.tile(np.array(self.constructs, dtype=object), n_trials)
        if not self.batch:
            return pd.DataFrame({CONSTRUCT: constructs})
        trials = np.repeat(self._draws.trial_coord, len(self.constructs))
        return pd.DataFrame({TRIAL: trials, CONSTRUCT: constructs})

    def _gate_column(self) -> list[str]:
        if not self.gate_rules:
            return ["no gates" if a else NO_DOSE for a in _flat(self.available.to_numpy())]
        messages = self.gates["message"].to_numpy().reshape(-1, len(self.gate_rules))
        available = _flat(self.available.to_numpy())
        return [
            "; ".join(row) if has_dose else NO_DOSE
            for row, has_dose in zip(messages, available, strict=True)
        ]


def _flat(array: np.ndarray) -> np.ndarray:
    return np.asarray(array).reshape(-1)


def _gate_messages(
    rules: tuple[ExceedanceGate, ...],
    prob: np.ndarray,
    passed: np.ndarray,
    available: np.ndarray,
) -> list[str]:
    """Messages of gate results in (construct, gate) order, the gate cycling fastest."""
    messages = []
    for i, (p, ok, has_dose) in enumerate(zip(prob, passed, available, strict=True)):
        rule = rules[i % len(rules)]
        if not has_dose:
            messages.append(NO_DOSE)
        elif ok:
            messages.append(f"{rule.event} = {p:.3f} < {rule.max_probability:g}: pass")
        else:
            messages.append(f"{rule.event} = {p:.3f} >= {rule.max_probability:g}: fail")
    return messages


def select_construct(
    components: xr.Dataset,
    *,
    weights: Mapping[str, float],
    desirability: Mapping[str, tuple[float, float]],
    prob_best_threshold: float = 0.5,
    gates: ExceedanceGate | Sequence[ExceedanceGate] | None = None,
) -> ConstructSelection:
    """Select one construct from posterior draws of the composite's components.

    Each component k (e.g. ``safety`` = DLT rate at the candidate dose, ``efficacy`` = ORR,
    ``kinetics`` = log10 AUC0-28 or Cmax, ``manufacturability`` = lot release rate) is
    mapped draw by draw to the linear desirability of Derringer and Suich (1980)

        d_k = clip((x_k - worst_k) / (best_k - worst_k), 0, 1),

    which is 0 at or beyond ``worst`` and 1 at or beyond ``best``; ``best < worst`` makes
    lower values better (safety: worst 0.40, best 0.10). The composite score of a draw is
    the additive value model

        S = sum_k w_k d_k,   w_k >= 0,   sum_k w_k = 1,

    so a weight is the value of moving its component from worst to best (a swing weight),
    and S lies in [0, 1]. Unlike Derringer and Suich's geometric mean, one component at
    zero desirability does not veto a construct; vetoes are the gates' job. Computing S on
    each posterior draw propagates uncertainty into P(best), rank probabilities and
    intervals, as a desirability summarises the efficacy-toxicity trade-off of a dose in
    Thall and Cook (2004).

    A construct is **selected** when (1) it has a candidate dose and passes every gate,
    (2) its P(best) >= ``prob_best_threshold`` and (3) its P(best) is strictly the highest
    of all constructs (gate-failing ones included). Otherwise there is no selection (None):
    no clear winner, refer to the safety monitoring committee.

    Parameters
    ----------
    components : xarray.Dataset
        One variable per component, each with dims (``construct``, ``draw``), optionally
        with a leading ``trial`` dim for many simulated trials at once (stack chains into
        one draw dim first). Every variable must be weighted or read by a gate. A construct
        **without a candidate dose** (no admissible dose) carries NaN in every draw of a
        variable (normally ``safety``): it is out of the selection (score NaN, P(best) 0,
        the last ranks, gates failed with "no admissible dose"). Any other value must be
        finite.
    weights : mapping of str to float
        Weight per component, non-negative, summing to 1 (tolerance 1e-9).
    desirability : mapping of str to (worst, best)
        One range per weighted component (a pair, or an object with ``worst`` and ``best``).
    prob_best_threshold : float, default 0.5
    gates : ExceedanceGate or sequence of them, optional
        Default: :func:`safety_gate`, P(safety >= 0.33) < 0.25 (the protocol's
        ``overdose_from`` and ``ewoc``). An empty sequence applies no gate.

    Returns
    -------
    ConstructSelection
        With ``selected`` a label or None (with a ``trial`` dim: an object DataArray of
        labels and None, and ``selected_index`` a float DataArray, NaN for none).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(1)
    >>> draws = lambda mean: xr.DataArray(
    ...     rng.normal(mean, 0.02, (1000, 3)).T, dims=("construct", "draw"),
    ...     coords={"construct": ["A", "B", "C"]})
    >>> components = xr.Dataset({"safety": draws([0.12, 0.20, 0.25]),
    ...                          "efficacy": draws([0.35, 0.25, 0.20])})
    >>> result = select_construct(
    ...     components, weights={"safety": 0.5, "efficacy": 0.5},
    ...     desirability={"safety": (0.40, 0.10), "efficacy": (0.10, 0.40)})
    >>> result.selected
    'A'
    >>> float(result.prob_best.sel(construct="A"))
    1.0

    References
    ----------
    Derringer G, Suich R (1980). Simultaneous optimization of several response variables.
    Journal of Quality Technology 12:214-219.

    Thall PF, Cook JD (2004). Dose-finding based on efficacy-toxicity trade-offs.
    Biometrics 60:684-693.

    Tervonen T, van Valkenhoef G, Buskens E, Hillege HL, Postmus D (2011). A stochastic
    multicriteria model for evidence-based decision making in drug benefit-risk analysis.
    Statistics in Medicine 30:1419-1428.
    """
    preferences = check_preferences(weights, desirability, prob_best_threshold)
    rules = _gates(gates)
    used = list(preferences.names)
    for rule in rules:
        if rule.component not in used:
            if rule.component not in components.data_vars:
                hint = "; pass gates=() to select without gates" if gates is None else ""
                raise ValueError(
                    f"gate {rule.name} reads {rule.component!r}, which is not a variable of "
                    f"components ({[str(v) for v in components.data_vars]}){hint}"
                )
            used.append(rule.component)
    draws = _read_components(components, used)
    available = draws.available
    score = weighted_score(
        [draws.values[n] for n in preferences.names],
        preferences.weights,
        preferences.ranges,
        available,
    )
    ranks = tie_shared_ranks(score, available)
    prob_best = best_from_ranks(ranks, available)
    if rules:
        gate_probability = np.stack(
            [
                np.where(available, rule.probability(draws.values[rule.component]), np.nan)
                for rule in rules
            ],
            axis=-1,
        )
        limits = np.array([rule.max_probability for rule in rules])
        gate_passed = available[..., None] & (gate_probability < limits)
    else:
        gate_probability = np.zeros((*available.shape, 0))
        gate_passed = np.zeros((*available.shape, 0), dtype=bool)
    eligible = available & gate_passed.all(axis=-1)
    index = selection_rule(prob_best, eligible, preferences.threshold)
    return _result(
        draws,
        preferences,
        rules,
        preferences.threshold,
        score,
        prob_best,
        ranks,
        gate_probability,
        gate_passed,
        eligible,
        index,
    )


def _result(
    draws: ComponentDraws,
    preferences: Preferences,
    rules: tuple[ExceedanceGate, ...],
    threshold: float,
    score: np.ndarray,
    prob_best: np.ndarray,
    ranks: np.ndarray,
    gate_probability: np.ndarray,
    gate_passed: np.ndarray,
    eligible: np.ndarray,
    index: np.ndarray,
) -> ConstructSelection:
    """Label the arrays (dropping the trial axis of a single analysis), all in one Dataset so
    that the coordinates' indexes are built once."""
    lead = (TRIAL,) if draws.batch else ()
    n_constructs = len(draws.constructs)
    gate_names = [rule.name for rule in rules]
    coords: dict[str, Any] = {
        CONSTRUCT: list(draws.constructs),
        DRAW: draws.draw_coord,
        "rank": np.arange(1, n_constructs + 1),
        "gate": gate_names,
    }
    if draws.batch:
        coords[TRIAL] = draws.trial_coord
    arrays = {
        "score": (score, (CONSTRUCT, DRAW)),
        "expected_score": (score.mean(axis=-1), (CONSTRUCT,)),
        "prob_best": (prob_best, (CONSTRUCT,)),
        "rank_probabilities": (ranks, (CONSTRUCT, "rank")),
        "available": (draws.available, (CONSTRUCT,)),
        "gate_probability": (gate_probability, (CONSTRUCT, "gate")),
        "gate_passed": (gate_passed, (CONSTRUCT, "gate")),
        "eligible": (eligible, (CONSTRUCT,)),
        "selected_index": (index, ()),
    }
    labelled = xr.Dataset(
        {
            name: ((*lead, *dims), array if draws.batch else array[0])
            for name, (array, dims) in arrays.items()
        },
        coords=coords,
    )
    return ConstructSelection(
        **{name: labelled[name].rename(None) for name in arrays},
        weights=MappingProxyType(dict(zip(preferences.names, preferences.weights, strict=True))),
        desirability=MappingProxyType(
            dict(zip(preferences.names, preferences.ranges, strict=True))
        ),
        prob_best_threshold=threshold,
        gate_rules=rules,
        _draws=draws,
    )
