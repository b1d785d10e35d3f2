"""Reading a data cut without importing it: duck-typed trial data and protocol settings.

A model entry accepts a trial data object (anything with ``.patients``, ``.tables`` and
``.protocol``, such as :class:`dartnk.analyses.TrialData`) or plain DataFrames. Settings
resolve in this order: the argument, then the trial's protocol, then the default (equal
to the embedded protocol's value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np

from ._diagnostics import Gates
from ._sampling import SamplingSettings

__all__ = [
    "SamplingOptions",
    "as_index",
    "construct_labels",
    "is_trial",
    "protocol_of",
    "run_gates",
    "run_hash",
    "run_options",
    "run_settings",
]


class SamplingOptions(TypedDict, total=False):
    """Keyword arguments every ``fit_*`` entry takes: NUTS settings (``draws``, ``tune``,
    ``chains``, ``target_accept``: the protocol's by default; ``cores``: 1), the root
    ``seed`` (spawned per chain), diagnostic ``gates`` (the protocol's by default) and
    ``progressbar`` (shown in an interactive terminal only by default)."""

    draws: int
    tune: int
    chains: int
    target_accept: float
    cores: int
    seed: int | np.random.SeedSequence | None
    gates: Gates | None
    progressbar: bool | None


def run_options(data: object, options: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of :func:`~dartnk.models.sample` for a data cut and ``fit_*``
    keyword arguments (:class:`SamplingOptions`); an unknown keyword is an error."""
    known = SamplingOptions.__annotations__
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {unknown}; expected some of {list(known)}")
    return {
        "settings": run_settings(
            data,
            draws=options.get("draws"),
            tune=options.get("tune"),
            chains=options.get("chains"),
            target_accept=options.get("target_accept"),
            cores=options.get("cores"),
        ),
        "gates": run_gates(data, options.get("gates")),
        "seed": options.get("seed"),
        "progressbar": options.get("progressbar"),
        "protocol_hash": run_hash(data, None),
    }


def is_trial(data: object) -> bool:
    """True for a trial data object: it has ``patients``, ``tables`` and ``protocol``."""
    return all(hasattr(data, name) for name in ("patients", "tables", "protocol"))


def protocol_of(data: object) -> Any | None:
    """The protocol of a trial data object, else None."""
    return getattr(data, "protocol", None) if is_trial(data) else None


def run_settings(
    data: object,
    *,
    draws: int | None,
    tune: int | None,
    chains: int | None,
    target_accept: float | None,
    cores: int | None,
) -> SamplingSettings:
    """Sampling settings from the arguments, the trial's protocol, or the defaults."""
    protocol = protocol_of(data)
    base = SamplingSettings()
    sampling = getattr(protocol, "sampling", None)

    def pick(value: Any, name: str) -> Any:
        if value is not None:
            return value
        if sampling is not None and hasattr(sampling, name):
            return getattr(sampling, name)
        return getattr(base, name)

    return SamplingSettings(
        chains=pick(chains, "chains"),
        draws=pick(draws, "draws"),
        tune=pick(tune, "tune"),
        target_accept=pick(target_accept, "target_accept"),
        cores=cores if cores is not None else base.cores,
        retry_target_accept=tuple(pick(None, "retry_target_accept")),
    )


def run_gates(data: object, gates: Gates | None) -> Gates:
    """The gates given, else the trial protocol's, else the defaults."""
    if gates is not None:
        return gates
    sampling = getattr(protocol_of(data), "sampling", None)
    if sampling is None:
        return Gates()
    return Gates(
        max_rhat=sampling.max_rhat,
        min_ess_bulk=sampling.min_ess_bulk,
        max_divergences=sampling.max_divergences,
    )


def run_hash(data: object, protocol_hash: str | None) -> str | None:
    """The protocol hash given, else the trial protocol's content hash."""
    if protocol_hash is not None:
        return protocol_hash
    return getattr(protocol_of(data), "content_hash", None)


def construct_labels(values: Sequence[object], given: Sequence[str] | None) -> tuple[str, ...]:
    """Construct labels: ``given`` (checked to cover the data) or the order of appearance."""
    seen = tuple(dict.fromkeys(str(v) for v in values))
    if given is None:
        return seen
    labels = tuple(str(v) for v in given)
    missing = sorted(set(seen) - set(labels))
    if missing:
        raise ValueError(f"constructs {missing} in the data are not among {list(labels)}")
    return labels


def as_index(values: Sequence[object], labels: Sequence[str]) -> np.ndarray:
    """Positions of ``values`` in ``labels``."""
    lookup = {label: i for i, label in enumerate(labels)}
    return np.array([lookup[str(v)] for v in values], dtype=np.int64)
