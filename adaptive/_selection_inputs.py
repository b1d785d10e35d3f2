"""Validation of the construct selection's inputs: weights, desirability ranges, and the
component draws as arrays of shape (trial, construct, draw)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["ComponentDraws", "Preferences", "check_preferences", "read_components"]

TRIAL, CONSTRUCT, DRAW = "trial", "construct", "draw"
WEIGHT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Preferences:
    """Validated weights and desirability ranges, in the order of ``weights``, and the
    P(best) threshold."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    ranges: tuple[tuple[float, float], ...]
    threshold: float


@dataclass(frozen=True, eq=False)
class ComponentDraws:
    """Component draws as float arrays of shape (trial, construct, draw); one trial when the
    input had no ``trial`` dim (``batch`` False). ``available`` is False for a construct
    whose draws of some variable are all NaN (no candidate dose)."""

    values: Mapping[str, np.ndarray]
    available: np.ndarray
    missing: Mapping[str, np.ndarray]
    constructs: tuple[str, ...]
    trial_coord: np.ndarray
    draw_coord: np.ndarray
    batch: bool


def _number(text: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{text} is {value!r}, not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{text} is {number}, not a finite number")
    return number


def _pair(name: str, value: Any) -> tuple[float, float]:
    if hasattr(value, "worst") and hasattr(value, "best"):
        worst, best = value.worst, value.best
    else:
        try:
            worst, best = value
        except (TypeError, ValueError):
            raise ValueError(
                f"desirability[{name!r}] is {value!r}; expected a pair (worst, best)"
            ) from None
    worst = _number(f"desirability[{name!r}] worst", worst)
    best = _number(f"desirability[{name!r}] best", best)
    if worst == best:
        raise ValueError(
            f"desirability[{name!r}] = ({worst:g}, {best:g}): worst and best must differ"
        )
    return worst, best


def check_preferences(
    weights: Mapping[str, float], desirability: Mapping[str, Any], threshold: float
) -> Preferences:
    """Validate weights (non-negative, summing to 1 within 1e-9), one desirability range
    (worst, best) per weighted component, and the P(best) threshold."""
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError(f"weights must map each component to its weight, got {weights!r}")
    if not isinstance(desirability, Mapping):
        raise ValueError(
            f"desirability must map each component to (worst, best), got {desirability!r}"
        )
    names = tuple(str(name) for name in weights)
    values = []
    for name, value in zip(names, weights.values(), strict=True):
        weight = _number(f"weight of {name!r}", value)
        if weight < 0.0:
            raise ValueError(f"weight of {name!r} is {weight:g}; weights must be non-negative")
        values.append(weight)
    total = math.fsum(values)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        listed = ", ".join(f"{n} {w:g}" for n, w in zip(names, values, strict=True))
        raise ValueError(
            f"weights sum to {total:.12g}, expected 1 (tolerance {WEIGHT_TOLERANCE:g}): {listed}"
        )
    keys = {str(key) for key in desirability}
    missing = [name for name in names if name not in keys]
    extra = sorted(keys - set(names))
    if missing:
        raise ValueError(f"desirability has no (worst, best) range for {missing}")
    if extra:
        raise ValueError(f"desirability names {extra}, which have no weight")
    ranges = {str(key): _pair(str(key), value) for key, value in desirability.items()}
    threshold = _number("prob_best_threshold", threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"prob_best_threshold {threshold:g} is not a probability")
    return Preferences(names, tuple(values), tuple(ranges[name] for name in names), threshold)


def read_components(components: xr.Dataset, used: Sequence[str]) -> ComponentDraws:
    """Check the Dataset (every used variable present and no other, dims (construct, draw)
    with an optional leading trial, finite draws or all-NaN ones) and read it as arrays
    (single-precision draws stay single precision; any other type becomes double)."""
    if not isinstance(components, xr.Dataset):
        raise TypeError(
            f"components must be an xarray.Dataset with one variable per component, "
            f"got {type(components).__name__}"
        )
    present = [str(name) for name in components.data_vars]
    absent = [name for name in used if name not in present]
    if absent:
        raise ValueError(
            f"components has no variable {absent} (it has {present}); every weighted or "
            f"gated component needs draws"
        )
    unused = [name for name in present if name not in used]
    if unused:
        raise ValueError(f"components variable(s) {unused} have no weight and no gate")
    first = components[used[0]]
    batch = TRIAL in first.dims
    order = (TRIAL, CONSTRUCT, DRAW) if batch else (CONSTRUCT, DRAW)
    values: dict[str, np.ndarray] = {}
    for name in used:
        variable = components[name]
        if set(variable.dims) != set(order):
            raise ValueError(
                f"components[{name!r}] has dims {variable.dims}; expected {order} for every "
                f"component (stack chains first: .stack(sample=('chain', 'draw')))"
            )
        array = variable.transpose(*order).to_numpy()
        if array.dtype not in (np.float32, np.float64):
            array = array.astype(float)
        values[name] = array if batch else array[None]
    n_constructs, n_draws = values[used[0]].shape[1:]
    if n_constructs == 0 or n_draws == 0:
        raise ValueError(f"components has {n_constructs} constructs and {n_draws} draws")
    if CONSTRUCT in components.coords:
        constructs = tuple(str(label) for label in components[CONSTRUCT].to_numpy())
    else:
        constructs = tuple(str(c) for c in range(n_constructs))
    if len(set(constructs)) != n_constructs:
        raise ValueError(f"construct labels must be unique, got {list(constructs)}")
    trial_coord = components[TRIAL].to_numpy() if batch else np.arange(1)
    draw_coord = components[DRAW].to_numpy()
    missing = {
        name: _missing(name, array, constructs, batch, trial_coord)
        for name, array in values.items()
    }
    available = ~np.any(np.stack(list(missing.values())), axis=0)
    return ComponentDraws(values, available, missing, constructs, trial_coord, draw_coord, batch)


def _missing(
    name: str, array: np.ndarray, constructs: tuple[str, ...], batch: bool, trial_coord: np.ndarray
) -> np.ndarray:
    """True where a construct has NaN in every draw; raise on infinite values and on a
    construct with some NaN draws and some finite ones."""
    if np.isfinite(array.sum(axis=-1)).all():
        return np.zeros(array.shape[:-1], dtype=bool)
    finite = np.count_nonzero(np.isfinite(array), axis=-1)
    n_draws = array.shape[-1]
    infinite = np.isinf(array).any(axis=-1)
    partial = (finite > 0) & (finite < n_draws)
    for bad, problem in ((infinite, "infinite draws"), (partial, "NaN in some draws only")):
        if bad.any():
            trial, construct = (int(i[0]) for i in np.nonzero(bad))
            place = f"construct {constructs[construct]!r}"
            if batch:
                place += f", trial {trial_coord[trial]!r}"
            raise ValueError(
                f"components[{name!r}], {place}: {problem} ({n_draws - finite[trial, construct]} "
                f"of {n_draws} not finite); draws must be finite, or NaN in every draw for a "
                f"construct without a candidate dose"
            )
    return finite == 0
