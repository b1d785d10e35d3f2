"""Sensitivity of the construct selection to its weights and to posterior uncertainty, in
the spirit of SMAA (Tervonen et al. 2011), for one analysis."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from ._selection_arrays import selection_rule, tie_shared_best

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SelectionSensitivity", "analyse_sensitivity"]

CHUNK_ELEMENTS = 1 << 22
REFER = "no clear winner"
NOT_APPLICABLE = "n/a"


@dataclass(frozen=True, eq=False, repr=False)
class SelectionSensitivity:
    """How the construct selection moves with the weights and with posterior uncertainty.

    Attributes
    ----------
    kappa : float
        Concentration of the Dirichlet weight draws, w ~ Dirichlet(kappa w0).
    n_weights : int
    n_draws : int
        Posterior draws per construct.
    seed : str
        The seed the weight draws came from, as given.
    protocol_weights : DataArray (component)
    weight_draws : DataArray (sample, component)
    reference : str or None
        The construct reversals are counted against: the base selection, or when there is
        none the construct with the highest P(best) (the first in construct order on a tie);
        None when no construct has a candidate dose.
    base_selected : str or None
    prob_best_posterior : DataArray (construct)
        P(best) at the protocol weights over the posterior draws (posterior uncertainty).
    prob_best_weights : DataArray (construct)
        Share of weight draws under which the construct has the best expected score, the
        posterior fixed at its expectations E[d_k] (weight uncertainty).
    prob_best_joint : DataArray (construct)
        Share of (weight draw, posterior draw) pairs in which the construct scores best.
    selected_under_weights : DataArray (sample) of object
        The full selection rule (P(best) over the posterior, gates, threshold) under each
        weight draw: a label or None.
    central_weights : DataArray (construct, component)
        SMAA central weight vector: the expected weights given that the construct is best
        (joint analysis); NaN for a construct never best.
    confidence : DataArray (construct)
        SMAA confidence factor: P(best) over the posterior at the construct's central
        weights.
    leave_one_out : DataFrame
        One row per weighted component left out (the others renormalised): weights,
        P(best) per construct, expected scores, the selection and whether it changed.

    Notes
    -----
    Tervonen et al. (2011) propagate the uncertainty of the criteria (here the posterior
    draws of each component's desirability) and of the weights (here Dirichlet draws around
    the protocol's weights) through a linear value model, and report rank acceptabilities,
    central weight vectors and confidence factors. Splitting the reversals into a weights-
    only analysis (posterior at its expectations), a posterior-only analysis (protocol
    weights) and the joint analysis shows which uncertainty could overturn the choice.

    References
    ----------
    Tervonen T, van Valkenhoef G, Buskens E, Hillege HL, Postmus D (2011). A stochastic
    multicriteria model for evidence-based decision making in drug benefit-risk analysis.
    Statistics in Medicine 30:1419-1428.

    Lahdelma R, Salminen P (2001). SMAA-2: stochastic multicriteria acceptability analysis
    for group decision making. Operations Research 49:444-454.
    """

    kappa: float
    n_weights: int
    n_draws: int
    seed: str
    protocol_weights: xr.DataArray
    weight_draws: xr.DataArray
    reference: str | None
    base_selected: str | None
    prob_best_posterior: xr.DataArray
    prob_best_weights: xr.DataArray
    prob_best_joint: xr.DataArray
    selected_under_weights: xr.DataArray
    central_weights: xr.DataArray
    confidence: xr.DataArray
    leave_one_out: pd.DataFrame

    @property
    def constructs(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.prob_best_joint["construct"].to_numpy())

    def _reversal(self, prob_best: xr.DataArray) -> float:
        if self.reference is None:
            return math.nan
        return float(1.0 - prob_best.sel(construct=self.reference))

    @property
    def selection_change(self) -> float:
        """Share of weight draws under which the selection rule selects differently from the
        base selection (no selection counts as an outcome)."""
        chosen = self.selected_under_weights.to_numpy()
        return float(np.mean([c != self.base_selected for c in chosen]))

    def reversals(self) -> pd.DataFrame:
        """Rank reversals by cause: the share of evaluations whose best construct differs
        from the reference (a tie counts its share), and the share of weight draws changing
        the selection."""
        n_draws = self.n_draws
        rows = [
            (
                "weights (posterior at its expectations)",
                self._reversal(self.prob_best_weights),
                self.n_weights,
            ),
            ("posterior (protocol weights)", self._reversal(self.prob_best_posterior), n_draws),
            (
                "weights and posterior (joint)",
                self._reversal(self.prob_best_joint),
                self.n_weights * n_draws,
            ),
        ]
        table = pd.DataFrame(rows, columns=["uncertainty", "share", "evaluations"])
        table["measure"] = f"best construct differs from {self.reference}"
        change = pd.DataFrame(
            {
                "uncertainty": ["weights (selection rule on the full posterior)"],
                "share": [self.selection_change],
                "evaluations": [self.n_weights],
                "measure": [f"selection differs from {self.base_selected or 'none'}"],
            }
        )
        return pd.concat([table, change], ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """One row per analysis: protocol weights, Dirichlet weight draws (posterior at its
        expectations, and joint), and each leave-one-component-out; the weights, P(best) per
        construct, the selection, the reversal share against the reference, and the share of
        weight draws (or the one case) changing the selection."""
        weights = _weights_text(self.protocol_weights)
        draws = f"Dirichlet({self.kappa:g} x protocol weights), {self.n_weights} draws"
        base = self.base_selected or REFER
        rows = [
            _row(
                "protocol weights",
                "posterior",
                weights,
                self.prob_best_posterior,
                base,
                self._reversal(self.prob_best_posterior),
                0.0,
            ),
            _row(
                "weight draws, posterior at its expectations",
                "weights",
                draws,
                self.prob_best_weights,
                NOT_APPLICABLE,
                self._reversal(self.prob_best_weights),
                math.nan,
            ),
            _row(
                "weight draws and posterior (joint)",
                "weights and posterior",
                draws,
                self.prob_best_joint,
                NOT_APPLICABLE,
                self._reversal(self.prob_best_joint),
                self.selection_change,
            ),
        ]
        for _, row in self.leave_one_out.iterrows():
            prob = self.prob_best_posterior.copy(
                data=[row[f"prob_best[{c}]"] for c in self.constructs]
            )
            rows.append(
                _row(
                    f"leave out {row['component']}",
                    "posterior",
                    row["weights"],
                    prob,
                    row["selected"] or REFER,
                    self._reversal(prob),
                    float(row["changed"]),
                )
            )
        return pd.DataFrame(rows)

    def central_weight_table(self) -> pd.DataFrame:
        """Central weight vector and confidence factor per construct."""
        table = self.central_weights.to_pandas()
        table.columns = [f"weight_{c}" for c in table.columns]
        table["confidence"] = self.confidence.to_numpy()
        return table.reset_index()

    def plot(self) -> Figure:
        """P(best) per construct by source of uncertainty (posterior, weights, joint) with
        the reversal shares, leave-one-component-out with the selection under each, and the
        Dirichlet weight draws against the protocol weights; returns the figure."""
        from ._selection_plot import sensitivity_figure

        return sensitivity_figure(self)

    def _headline(self) -> str:
        return (
            f"Sensitivity of the construct selection (base: {self.base_selected or REFER}; "
            f"reversals against {self.reference}): kappa {self.kappa:g}, {self.n_weights} "
            f"weight draws, seed {self.seed}"
        )

    def __repr__(self) -> str:
        body = self.summary().to_string(index=False, float_format=lambda v: f"{v:.3f}")
        return f"{self._headline()}\n{body}"

    def _repr_html_(self) -> str:
        body = self.summary().to_html(index=False, escape=True, float_format=lambda v: f"{v:.3f}")
        return f"<p>{html.escape(self._headline())}</p>\n{body}"


def _weights_text(weights: xr.DataArray) -> str:
    return ", ".join(
        f"{name} {float(w):.3f}"
        for name, w in zip(weights["component"].to_numpy(), weights.to_numpy(), strict=True)
    )


def _row(
    analysis: str,
    uncertainty: str,
    weights: str,
    prob_best: xr.DataArray,
    selection: str | None,
    reversal: float,
    change: float,
) -> dict[str, object]:
    row: dict[str, object] = {"analysis": analysis, "uncertainty": uncertainty, "weights": weights}
    for construct, prob in zip(
        prob_best["construct"].to_numpy(), prob_best.to_numpy(), strict=True
    ):
        row[f"prob_best[{construct}]"] = float(prob)
    row["selection"] = selection
    row["reversal"] = reversal
    row["selection_change"] = change
    return row


def _seed_text(seed: int | np.random.SeedSequence | np.random.Generator) -> str:
    if isinstance(seed, np.random.SeedSequence):
        key = f", spawn_key={seed.spawn_key}" if seed.spawn_key else ""
        return f"SeedSequence(entropy={seed.entropy}{key})"
    if isinstance(seed, np.random.Generator):
        return "a numpy Generator passed in"
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return str(int(seed))
    raise ValueError(f"seed must be an int, a SeedSequence or a Generator, got {seed!r}")


def _combine(desirability: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Scores sum_k w_k d_k, shape (..., construct, draw), for weights of shape (..., k), in
    the same order of operations as the base score."""
    shape = (*weights.shape[:-1], *desirability.shape[1:])
    score = np.zeros(shape)
    for k in range(desirability.shape[0]):
        score += weights[..., k, None, None] * desirability[k]
    return score


def _dirichlet(
    rng: np.random.Generator, protocol: np.ndarray, kappa: float, n_weights: int
) -> np.ndarray:
    draws = np.tile(protocol, (n_weights, 1))
    if math.isinf(kappa):
        return draws
    positive = protocol > 0
    if positive.sum() > 1:
        draws[:, positive] = rng.dirichlet(kappa * protocol[positive], size=n_weights)
    return draws


def analyse_sensitivity(
    *,
    desirability: np.ndarray,
    protocol_weights: np.ndarray,
    components: tuple[str, ...],
    constructs: tuple[str, ...],
    available: np.ndarray,
    eligible: np.ndarray,
    base_prob_best: np.ndarray,
    base_index: float,
    threshold: float,
    kappa: float,
    n_weights: int,
    seed: int | np.random.SeedSequence | np.random.Generator,
) -> SelectionSensitivity:
    """Dirichlet weight draws, leave-one-component-out and the split of rank reversals.

    ``desirability`` has shape (component, construct, draw); NaN for a construct without a
    candidate dose (``available`` False).
    """
    kappa = float(kappa)
    if not kappa > 0.0:
        raise ValueError(f"kappa {kappa!r} must be positive (inf keeps the protocol weights)")
    if isinstance(n_weights, bool) or int(n_weights) != n_weights or n_weights < 1:
        raise ValueError(f"n_weights {n_weights!r} must be a positive whole number")
    n_weights = int(n_weights)
    seed_text = _seed_text(seed)
    rng = np.random.default_rng(seed)
    weights = _dirichlet(rng, protocol_weights, kappa, n_weights)
    n_constructs, n_draws = desirability.shape[1:]

    expected = desirability.mean(axis=-1)[..., None]
    at_expectation = _combine(expected, weights)
    weights_best = tie_shared_best(
        at_expectation, np.broadcast_to(available, weights.shape[:1] + available.shape)
    )

    chunk = max(1, CHUNK_ELEMENTS // (n_constructs * n_draws))
    per_weight = np.concatenate(
        [
            tie_shared_best(
                _combine(desirability, weights[start : start + chunk]),
                np.broadcast_to(available, (len(weights[start : start + chunk]), n_constructs)),
            )
            for start in range(0, n_weights, chunk)
        ]
    )
    chosen = selection_rule(per_weight, np.broadcast_to(eligible, per_weight.shape), threshold)
    labels = np.array([*constructs, None], dtype=object)
    selected_under = labels[np.where(np.isnan(chosen), n_constructs, chosen).astype(int)]

    totals = per_weight.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        central = (per_weight.T @ weights) / totals[:, None]
    central[totals == 0] = np.nan
    at_central = _combine(desirability, np.nan_to_num(central))
    confidence = np.diagonal(
        tie_shared_best(at_central, np.broadcast_to(available, (n_constructs, n_constructs)))
    ).copy()
    confidence[totals == 0] = np.nan

    base_selected = None if math.isnan(base_index) else constructs[int(base_index)]
    if base_selected is not None:
        reference = base_selected
    elif available.any():
        reference = constructs[int(np.argmax(base_prob_best))]
    else:
        reference = None

    construct_coord = {"construct": list(constructs)}
    component_coord = {"component": list(components)}
    return SelectionSensitivity(
        kappa=kappa,
        n_weights=n_weights,
        n_draws=n_draws,
        seed=seed_text,
        protocol_weights=xr.DataArray(protocol_weights, dims="component", coords=component_coord),
        weight_draws=xr.DataArray(weights, dims=("sample", "component"), coords=component_coord),
        reference=reference,
        base_selected=base_selected,
        prob_best_posterior=xr.DataArray(base_prob_best, dims="construct", coords=construct_coord),
        prob_best_weights=xr.DataArray(
            weights_best.mean(axis=0), dims="construct", coords=construct_coord
        ),
        prob_best_joint=xr.DataArray(
            per_weight.mean(axis=0), dims="construct", coords=construct_coord
        ),
        selected_under_weights=xr.DataArray(selected_under, dims="sample"),
        central_weights=xr.DataArray(
            central, dims=("construct", "component"), coords={**construct_coord, **component_coord}
        ),
        confidence=xr.DataArray(confidence, dims="construct", coords=construct_coord),
        leave_one_out=_leave_one_out(
            desirability,
            protocol_weights,
            components,
            constructs,
            available,
            eligible,
            threshold,
            base_selected,
        ),
    )


def _leave_one_out(
    desirability: np.ndarray,
    protocol_weights: np.ndarray,
    components: tuple[str, ...],
    constructs: tuple[str, ...],
    available: np.ndarray,
    eligible: np.ndarray,
    threshold: float,
    base_selected: str | None,
) -> pd.DataFrame:
    rows = []
    for k, name in enumerate(components):
        weights = protocol_weights.copy()
        weights[k] = 0.0
        rest = math.fsum(weights)
        row: dict[str, object] = {"component": name}
        if rest <= 0.0:
            row["weights"] = "no weight left"
            prob = np.full(len(constructs), np.nan)
            expected = np.full(len(constructs), np.nan)
            selected = None
        else:
            weights = weights / rest
            score = _combine(desirability, weights)
            prob = tie_shared_best(score, available)
            expected = np.where(available, score.mean(axis=-1), np.nan)
            index = selection_rule(prob, eligible, threshold)
            selected = None if np.isnan(index) else constructs[int(index)]
            row["weights"] = ", ".join(
                f"{c} {w:.3f}" for c, w in zip(components, weights, strict=True) if c != name
            )
        for construct, value in zip(constructs, prob, strict=True):
            row[f"prob_best[{construct}]"] = float(value)
        for construct, value in zip(constructs, expected, strict=True):
            row[f"expected_score[{construct}]"] = float(value)
        row["selected"] = selected
        row["changed"] = selected != base_selected
        rows.append(row)
    return pd.DataFrame(rows)
