"""Simulation results as an ``xarray.Dataset``: means, Monte Carlo SEs, paired differences,
the scenarios' truths, the manifest and a content hash.

Dims: ``design``, ``versus`` (the other design of a paired difference), ``scenario``,
``construct``, ``dose`` (labels), ``stop_rule``, ``selection`` (constructs and ``none``),
``expansion_outcome`` and, when per-trial outcomes are kept, ``trial``. Each metric ``m``
(:data:`~dartnk.analyses.simulation_metrics.METRICS`) has ``m``, ``m_se``, ``m_diff`` and
``m_diff_se``. The manifest (seed, versions, the protocol and scenarios as run, the designs)
is JSON in ``attrs["manifest"]``; ``attrs["content_hash"]`` is the SHA-256 of the data
variables and coordinates, since netCDF bytes are not stable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from .simulation_expansion import EXPANSION_OUTCOMES
from .simulation_metrics import METRICS, RATIO, BlockSums, Truths

__all__ = ["MANIFEST_SCHEMA", "content_hash", "manifest_of", "results_dataset"]

MANIFEST_SCHEMA = "dartnk-simulation/1"


def _moments(
    first: np.ndarray, cross: np.ndarray, trials: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Means, SEs, paired differences and their SEs from the sums of one metric."""
    mean = first / trials
    square = np.einsum("ddw->dw", cross)
    scale = trials / max(trials - 1, 1)
    variance = np.maximum(square / trials - mean**2, 0.0) * scale
    se = np.sqrt(variance / trials)
    diff = mean[:, None, :] - mean[None, :, :]
    spread = square[:, None, :] + square[None, :, :] - cross - np.swapaxes(cross, 0, 1)
    diff_variance = np.maximum(spread / trials - diff**2, 0.0) * scale
    diff_se = np.sqrt(diff_variance / trials)
    exact = np.eye(mean.shape[0], dtype=bool)[:, :, None]
    return mean, se, np.where(exact, 0.0, diff), np.where(exact, 0.0, diff_se)


def results_dataset(
    *,
    designs: Sequence[str],
    scenarios: Sequence[str],
    constructs: Sequence[str],
    doses: Sequence[str],
    stop_rules: Sequence[str],
    sums: Mapping[str, BlockSums],
    truth: Mapping[str, tuple[object, Truths]],
    manifest: Mapping[str, object],
    trials: Mapping[str, dict[str, np.ndarray]] | None = None,
) -> xr.Dataset:
    """The Dataset of a run from the block sums of each scenario (module docstring)."""
    coords = {
        "design": list(designs),
        "versus": list(designs),
        "scenario": list(scenarios),
        "construct": list(constructs),
        "dose": list(doses),
        "stop_rule": list(stop_rules),
        "selection": [*constructs, "none"],
        "expansion_outcome": list(EXPANSION_OUTCOMES),
    }
    variables: dict[str, tuple[tuple[str, ...], np.ndarray, dict[str, str]]] = {}
    for metric in METRICS:
        inner = tuple(len(coords[d]) for d in metric.dims)
        parts = [
            _moments(sums[s].first[metric.name], sums[s].cross[metric.name], sums[s].trials)
            for s in scenarios
        ]
        mean = np.stack([p[0] for p in parts], axis=1).reshape(len(designs), len(scenarios), *inner)
        se = np.stack([p[1] for p in parts], axis=1).reshape(mean.shape)
        diff = np.stack([p[2] for p in parts], axis=2).reshape(
            len(designs), len(designs), len(scenarios), *inner
        )
        diff_se = np.stack([p[3] for p in parts], axis=2).reshape(diff.shape)
        dims = ("design", "scenario", *metric.dims)
        pair = ("design", "versus", "scenario", *metric.dims)
        about = {"description": metric.description}
        variables[metric.name] = (dims, mean, about)
        variables[f"{metric.name}_se"] = (dims, se, {"description": "Monte Carlo SE"})
        variables[f"{metric.name}_diff"] = (pair, diff, {"description": "design minus versus"})
        variables[f"{metric.name}_diff_se"] = (pair, diff_se, {"description": "paired SE"})
    ratio = np.stack([sums[s].ratio for s in scenarios], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = ratio[..., 0] / ratio[..., 2]
        se = np.sqrt(np.maximum(ratio[..., 1] - value**2 * ratio[..., 2], 0.0)) / ratio[..., 2]
    variables[RATIO.name] = (("design", "scenario"), value, {"description": RATIO.description})
    variables[f"{RATIO.name}_se"] = (("design", "scenario"), se, {"description": "delta-method SE"})
    variables["n_trials"] = (
        ("scenario",),
        np.array([sums[s].trials for s in scenarios], dtype=np.int64),
        {"description": "simulated trials per design"},
    )
    arrays = [truth[s][0] for s in scenarios]
    facts = [truth[s][1] for s in scenarios]
    for name, field in (
        ("true_dlt", "dlt"),
        ("true_orr", "response"),
        ("true_log10_cmax", "log10_cmax"),
    ):
        variables[name] = (
            ("scenario", "construct", "dose"),
            np.stack([getattr(a, field) for a in arrays]),
            {"description": f"scenario's true {field}"},
        )
    variables["true_release"] = (
        ("scenario", "construct"),
        np.stack([a.release for a in arrays]),
        {"description": "scenario's lot release probability"},
    )
    variables["true_mtd"] = (
        ("scenario", "construct"),
        np.stack([np.where(f.mtd >= 0, f.mtd, np.nan) for f in facts]).astype(float),
        {"description": "0-based true MTD (highest dose with a true DLT rate <= target)"},
    )
    variables["true_score"] = (
        ("scenario", "construct"),
        np.stack([f.score for f in facts]),
        {"description": "composite score of the true values at the true MTD"},
    )
    variables["true_best"] = (
        ("scenario", "construct"),
        np.stack([f.best for f in facts]),
        {"description": "construct with the highest true composite score"},
    )
    if trials is not None:
        for name, (dims, _) in _TRIAL_DIMS.items():
            values = np.stack([trials[s][name] for s in scenarios], axis=1)
            variables[f"trial_{name}"] = (("design", "scenario", "trial", *dims), values, {})
        coords["trial"] = np.arange(next(iter(trials.values()))["selected"].shape[1])
    dataset = xr.Dataset(
        {
            name: xr.Variable(dims, values, attrs)
            for name, (dims, values, attrs) in variables.items()
        },
        coords=coords,
    )
    dataset.attrs["title"] = "DART-NK-SCLC operating characteristics"
    dataset.attrs["manifest"] = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    dataset.attrs["content_hash"] = content_hash(dataset)
    return dataset


_TRIAL_DIMS: dict[str, tuple[tuple[str, ...], str]] = {
    "mtd": (("construct",), "0-based MTD of each arm (NaN: none)"),
    "phase1_patients": (("construct",), "patients enrolled in each arm"),
    "selected": ((), "0-based selected construct (-1: none)"),
    "expansion_outcome": ((), "index into expansion_outcome"),
    "total_n": ((), "patients in the trial"),
    "duration_months": ((), "months to the end of the trial"),
}


def _canonical(values: np.ndarray) -> bytes:
    array = np.asarray(values)
    if array.dtype.kind == "b":
        array = array.astype(np.uint8)
    elif array.dtype.kind in "iu":
        array = array.astype(np.int64)
    elif array.dtype.kind == "f":
        array = array.astype(np.float64)
    elif array.dtype.kind in "OUS":
        return json.dumps([str(v) for v in array.ravel()]).encode("utf-8")
    return np.ascontiguousarray(array).tobytes()


def content_hash(dataset: xr.Dataset) -> str:
    """SHA-256 of the data variables and coordinates: names, dims, shapes and values in a
    canonical type (booleans as bytes, integers as int64, floats as float64, labels as
    JSON), in sorted name order; the same before writing and after reading netCDF."""
    digest = hashlib.sha256()
    for kind, names in (("coord", dataset.coords), ("var", dataset.data_vars)):
        for name in sorted(str(n) for n in names):
            item = dataset[name]
            digest.update(f"{kind}:{name}:{item.dims}:{item.shape}\n".encode())
            digest.update(_canonical(item.to_numpy()))
    return digest.hexdigest()


def manifest_of(dataset: xr.Dataset) -> dict[str, object]:
    """The run's manifest stored in a results Dataset."""
    text = dataset.attrs.get("manifest")
    if not isinstance(text, str):
        raise ValueError("the Dataset has no simulation manifest (attrs['manifest'])")
    manifest = json.loads(text)
    if manifest.get("schema") != MANIFEST_SCHEMA:
        raise ValueError(
            f"the manifest schema is {manifest.get('schema')!r}, expected {MANIFEST_SCHEMA!r}"
        )
    return manifest
