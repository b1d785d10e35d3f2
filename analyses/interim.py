"""The interim analysis of a data cut: next-dose advice, every model fit, the candidate dose
of each construct and the probabilistic composite construct selection.

:func:`interim` runs, in this order:

1. the next-dose advice of every arm under the protocol's 3+3 and each model-based design
   (:func:`~dartnk.analyses.recommend`, pending patients included);
2. the models of the data cut (:mod:`dartnk.models`), each with its own child of the root
   seed: dose-toxicity (BLRM, EXNEX across constructs, pending patients by the TITE
   likelihood), response (ORR per construct, partially pooled), kinetics (log10 Cmax and
   AUC0-28, censored below the LLOQ), manufacturing (lot release) and, where the cut has
   survival records, PFS and OS;
3. the candidate dose of each construct: one the user gives; else the MTD the protocol's
   3+3 declared; else the dose the BLRM would select now, the tried dose with
   P(overdose) < EWOC and the highest P(target interval) (Neuenschwander, Branson and
   Gsponer 2008); none when no tried dose is admissible (the construct is out);
4. the component draws, combined draw by draw across the independent models (the product
   of their posteriors): safety = DLT rate at the candidate dose, efficacy = ORR,
   kinetics = mean log10 AUC0-28 at the candidate dose, manufacturability = lot release
   probability. A construct without data for a component takes that model's prior draws
   for it, resampled with the analysis's seed, and is flagged;
5. the selection (:func:`dartnk.adaptive.select_construct`) with the protocol's weights,
   desirability ranges, P(best) threshold and safety gate P(DLT rate >= overdose_from) <
   EWOC, and its sensitivity analysis (Dirichlet weights with concentration 50,
   leave-one-component-out, rank reversals by cause).

A model that fails its diagnostic gates is flagged at the top of every output, and the
decisions that depend on it are withheld: the selection depends on the four selection
models, the candidate doses estimated by the BLRM on the toxicity model. The next-dose
advice comes from the designs' exact engines and never depends on a sampled fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from dartnk.adaptive import ConstructSelection, SelectionSensitivity, safety_gate, select_construct

from ._fit_figures import current_style, fit_figures
from ._fit_pool import INTERIM_MODELS, FitTask, run_fits
from .errors import InputError
from .protocol import Protocol
from .recommendation import Recommendation, recommend
from .trial import TrialData, load_trial

__all__ = ["COMPONENTS", "MODELS", "InterimAnalysis", "interim"]

MODELS: tuple[str, ...] = INTERIM_MODELS
COMPONENTS: Mapping[str, str] = MappingProxyType(
    {
        "safety": "toxicity",
        "efficacy": "response",
        "kinetics": "kinetics",
        "manufacturability": "manufacturing",
    }
)
_KINETICS_ENDPOINT = "log10_auc"
_KAPPA = 50.0
_WEIGHT_DRAWS = 1000
_SEED_NAMES = (*MODELS, "prior draws", "sensitivity")


@dataclass(frozen=True)
class Candidate:
    """The candidate dose of one construct for the selection.

    Attributes
    ----------
    construct : str
    dose : int or None
        0-based candidate dose; None when the construct has no admissible tried dose.
    source : str
        ``"given"``, ``"3+3 MTD"``, ``"BLRM estimate"`` or ``"no admissible dose"``.
    prob_target, prob_over : float
        P(target interval) and P(overdose) of the DLT rate there (EXNEX posterior; NaN
        without a candidate).
    """

    construct: str
    dose: int | None
    source: str
    prob_target: float
    prob_over: float


@dataclass(frozen=True, repr=False)
class InterimAnalysis:
    """Everything an interim analysis found at one data cut.

    Attributes
    ----------
    trial : TrialData
        The validated data cut (its ``warnings`` are the validation findings).
    seed : int
        Root seed; each model and the sensitivity analysis have their own child.
    recommendation : Recommendation
        Next-dose advice per arm and design.
    fits : mapping of str to Fit
        The models fitted, by name (:data:`MODELS`; survival only where data exist).
    candidates : tuple of Candidate
        The candidate dose of each construct.
    components : xarray.Dataset
        Component draws, dims (construct, draw).
    prior_components : tuple of (component, construct)
        Components that took the model's prior draws for lack of data.
    selection : ConstructSelection
    sensitivity : SelectionSensitivity
    failed_models : tuple of str
        Models that failed their diagnostic gates.
    not_fitted : mapping of str to str
        Models not fitted, with the reason (e.g. no survival records yet).
    drawn_figures : mapping of str to str or None
        SVG text of the report's fit figures already drawn where the fits ran (worker
        processes), by figure id; the report draws the others itself, by the same rule
        (:mod:`dartnk.analyses._fit_figures`).
    """

    trial: TrialData
    seed: int
    recommendation: Recommendation
    fits: Mapping[str, Any]
    candidates: tuple[Candidate, ...]
    components: xr.Dataset
    prior_components: tuple[tuple[str, str], ...]
    selection: ConstructSelection
    sensitivity: SelectionSensitivity
    failed_models: tuple[str, ...]
    not_fitted: Mapping[str, str] = field(default_factory=dict)
    drawn_figures: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def protocol(self) -> Protocol:
        return self.trial.protocol

    @property
    def cutoff(self) -> int:
        return int(self.trial.cutoff)

    @property
    def selection_withheld(self) -> bool:
        """True when a model the selection depends on failed its gates (or was not fitted)."""
        needed = set(COMPONENTS.values())
        return bool(needed & (set(self.failed_models) | set(self.not_fitted)))

    @property
    def selected(self) -> str | None:
        """The selected construct; None for no clear winner or a withheld selection."""
        return None if self.selection_withheld else self.selection.selected

    @property
    def decision(self) -> str:
        """The selection in words."""
        if self.selection_withheld:
            failed = sorted(set(COMPONENTS.values()) & set(self.failed_models))
            missing = sorted(set(COMPONENTS.values()) & set(self.not_fitted))
            why = "; ".join(
                [*(f"the {m} model failed its diagnostic gates" for m in failed)]
                + [f"the {m} model was not fitted" for m in missing]
            )
            return f"selection withheld: {why}; refer to the safety monitoring committee"
        return self.selection.decision

    @property
    def flags(self) -> tuple[tuple[str, str], ...]:
        """(level, message) pairs shown at the top of every output: failed gates and the
        decisions withheld, models not fitted, prior draws standing in for data, and the
        validation warnings."""
        out: list[tuple[str, str]] = []
        for name in self.failed_models:
            fit = self.fits[name]
            d = fit.diagnostics
            out.append(
                (
                    "error",
                    f"The {name} model ({fit.name}) failed its diagnostic gates "
                    f"({len(d.failures)} problems): max R-hat {d.max_rhat:.4f} (gate < "
                    f"{d.gates.max_rhat:g}), min bulk ESS {d.min_ess_bulk:.0f} (gate > "
                    f"{d.gates.min_ess_bulk:g}), {d.divergences} divergences; every problem is "
                    f"listed under Diagnostics.",
                )
            )
        if self.selection_withheld:
            out.append(("error", f"Construct {self.decision}."))
        if "toxicity" in self.failed_models:
            out.append(
                (
                    "error",
                    "Candidate doses estimated by the BLRM are withheld: the toxicity model "
                    "failed its gates.",
                )
            )
        for name, reason in self.not_fitted.items():
            out.append(("warning", f"The {name} model was not fitted: {reason}."))
        for component, construct in self.prior_components:
            model = COMPONENTS[component]
            out.append(
                (
                    "warning",
                    f"Construct {construct} has no {model} data yet: its {component} "
                    f"component uses the model's prior draws.",
                )
            )
        out += [("warning", f"Validation: {text}") for text in self.trial.warnings]
        return tuple(out)

    def candidate_table(self) -> pd.DataFrame:
        """One row per construct: candidate dose (label), its source, P(target), P(over)."""
        labels = self.protocol.dose_labels
        return pd.DataFrame(
            {
                "construct": [c.construct for c in self.candidates],
                "candidate_dose": [
                    None if c.dose is None else labels[c.dose] for c in self.candidates
                ],
                "source": [c.source for c in self.candidates],
                "prob_target": [c.prob_target for c in self.candidates],
                "prob_over": [c.prob_over for c in self.candidates],
            }
        )

    def summary(self) -> pd.DataFrame:
        """One row per construct: product, candidate dose and its source, the posterior
        mean of each component, expected score, P(best), gate verdict and whether it is
        selected (False everywhere when the selection is withheld)."""
        protocol = self.protocol
        table = self.candidate_table()
        table.insert(1, "product", [protocol.construct(c).product for c in table["construct"]])
        for name in self.components.data_vars:
            values = self.components[name].mean(dim="draw", skipna=False).to_numpy()
            table[f"{name}_mean"] = values
        selection = self.selection.summary().set_index("construct")
        table["expected_score"] = selection.loc[table["construct"], "expected_score"].to_numpy()
        table["prob_best"] = selection.loc[table["construct"], "prob_best"].to_numpy()
        gates = self.selection.gates.groupby("construct", sort=False)["passed"].all()
        table["passes_gates"] = gates.loc[table["construct"]].to_numpy()
        table["selected"] = [c == self.selected for c in table["construct"]]
        return table

    def __repr__(self) -> str:
        head = (
            f"Interim analysis of {self.protocol.name} at cut-off study day {self.cutoff} "
            f"(seed {self.seed}): {self.decision}"
        )
        flags = "".join(f"\n  [{level}] {text}" for level, text in self.flags)
        return f"{head}{flags}\n{self.summary().to_string(index=False)}"

    def _repr_html_(self) -> str:
        import html

        flags = "".join(
            f"<li><b>{html.escape(level)}</b>: {html.escape(text)}</li>"
            for level, text in self.flags
        )
        return (
            f"<p>{html.escape(self.__repr__().splitlines()[0])}</p><ul>{flags}</ul>"
            f"{self.summary().to_html(index=False, escape=True)}"
        )

    def document(
        self, *, command: Sequence[str] = (), inputs: Mapping[str, str] | None = None
    ) -> Any:
        """The report as a :class:`dartnk.reports.Document` (decisions first, manifest
        last); ``command`` and ``inputs`` (file name -> SHA-256) go into the manifest
        (default inputs: the digest of each table's canonical CSV)."""
        from .interim_report import interim_document

        return interim_document(self, command=tuple(command), inputs=inputs)

    def render(
        self,
        path: str | Path,
        *,
        command: Sequence[str] = (),
        inputs: Mapping[str, str] | None = None,
    ) -> Path:
        """Write the report to ``path`` (HTML or Markdown by its suffix), atomically;
        the same analysis gives the same bytes."""
        from dartnk.reports import render

        from ._files import write_atomic

        path = Path(path)
        try:
            text = render(self.document(command=command, inputs=inputs), path.suffix)
        except ValueError as error:
            raise InputError(str(error)) from None
        return write_atomic(path, text)


Progress = Callable[[str], None]


def interim(
    trial: TrialData,
    protocol: Protocol | None = None,
    *,
    cutoff: int | None = None,
    seed: int = 2026,
    candidate_doses: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> InterimAnalysis:
    """Run the interim analysis of a data cut (module docstring).

    Parameters
    ----------
    trial : TrialData
        A validated data cut (:func:`~dartnk.analyses.load_trial`).
    protocol : Protocol, optional
        Analyse the cut's tables under this protocol instead of the trial's own.
    cutoff : int, optional
        Analyse at this cut-off study day instead of the trial's.
    seed : int, default 2026
        Root seed (numpy SeedSequence); each model, the prior draws and the sensitivity
        analysis get their own child, so the same inputs and seed give the same numbers.
    candidate_doses : mapping of construct id to dose label, optional
        Candidate doses the user gives, overriding the MTD or BLRM estimate.
    progress : callable, optional
        Called with one line per step and per model fit, with its time.
    workers : int, optional
        Processes that fit the models side by side: by default the environment variable
        ``DARTNK_WORKERS``, else one per core; 1 fits them here, one after another. The
        draws do not depend on it.

    Returns
    -------
    InterimAnalysis

    Examples
    --------
    >>> from dartnk.analyses import example_data, interim, load_trial
    >>> result = interim(load_trial(example_data()), seed=2026)  # doctest: +SKIP
    >>> result.decision  # doctest: +SKIP
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed {seed!r} must be a whole number >= 0")
    say = progress or (lambda _: None)
    if protocol is not None:
        trial = load_trial(dict(trial.tables), protocol, cutoff=cutoff or trial.cutoff)
    elif cutoff is not None:
        trial = trial.at_cutoff(cutoff)
    protocol = trial.protocol
    given = _given_candidates(protocol, candidate_doses)
    seeds = dict(
        zip(_SEED_NAMES, np.random.SeedSequence(int(seed)).spawn(len(_SEED_NAMES)), strict=True)
    )

    started = time.perf_counter()
    advice = recommend(trial)
    say(f"next-dose advice of {len(protocol.construct_ids)} arms: {_elapsed(started)}")

    fits, not_fitted, drawn = _fit_models(trial, seeds, say, workers)
    failed = tuple(name for name, fit in fits.items() if not fit.passed)
    candidates = _candidates(trial, advice, fits.get("toxicity"), given, "toxicity" in failed)
    started = time.perf_counter()
    components, from_prior = _components(trial, fits, candidates, seeds["prior draws"])
    selection_settings = protocol.selection
    selection = select_construct(
        components,
        weights=dict(selection_settings.weights),
        desirability={
            name: (d.worst, d.best) for name, d in selection_settings.desirability.items()
        },
        prob_best_threshold=selection_settings.prob_best_threshold,
        gates=safety_gate(
            overdose_from=protocol.toxicity.overdose_from, ewoc=protocol.toxicity.ewoc
        ),
    )
    sensitivity = selection.sensitivity(
        seed=seeds["sensitivity"], kappa=_KAPPA, n_weights=_WEIGHT_DRAWS
    )
    say(f"construct selection and its sensitivity: {_elapsed(started)}")
    return InterimAnalysis(
        trial=trial,
        seed=int(seed),
        recommendation=advice,
        fits=MappingProxyType(fits),
        candidates=candidates,
        components=components,
        prior_components=from_prior,
        selection=selection,
        sensitivity=sensitivity,
        failed_models=failed,
        not_fitted=MappingProxyType(not_fitted),
        drawn_figures=MappingProxyType(drawn),
    )


def _elapsed(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"


def _given_candidates(protocol: Protocol, given: Mapping[str, str] | None) -> dict[str, int]:
    out = {}
    for construct, label in (given or {}).items():
        if construct not in protocol.construct_ids:
            raise InputError(
                f"candidate dose for construct {construct!r}: expected one of "
                f"{list(protocol.construct_ids)}"
            )
        try:
            out[construct] = protocol.dose_index(label)
        except KeyError as error:
            raise InputError(f"candidate dose of {construct}: {error.args[0]}") from None
    return out


def _survival_patients(trial: TrialData) -> int:
    records = trial.tables["survival"]
    known = set(trial.patients.loc[trial.patients["infused"], "patient_id"])
    return int(records["patient_id"].isin(known).sum())


def _fit_models(
    trial: TrialData,
    seeds: Mapping[str, np.random.SeedSequence],
    say: Progress,
    workers: int | None,
) -> tuple[dict[str, Any], dict[str, str], dict[str, str | None]]:
    """Fit every model of the interim set, each with its own seed, side by side in
    ``workers`` processes (:mod:`dartnk.analyses._fit_pool`), which also draw each fit's
    report figures; reported in a fixed order. The fits, the models not fitted with the
    reason, and the figures drawn by id."""
    ewoc = trial.protocol.toxicity.ewoc
    style = current_style()
    specs = [
        ("toxicity", "fit_toxicity", (trial, "exnex")),
        ("response", "fit_response", (trial,)),
        ("kinetics", "fit_kinetics", (trial,)),
        ("manufacturing", "fit_manufacturing", (trial,)),
    ]
    not_fitted: dict[str, str] = {}
    if _survival_patients(trial):
        specs += [(name, "fit_survival", (trial, name)) for name in ("pfs", "os")]
    else:
        for name in ("pfs", "os"):
            not_fitted[name] = f"no survival record by cut-off study day {trial.cutoff}"
    tasks = [
        FitTask(name, entry, args, seeds[name], fit_figures(name, ewoc=ewoc), style)
        for name, entry, args in specs
    ]
    fits: dict[str, Any] = {}
    drawn: dict[str, str | None] = {}
    for outcome in run_fits(tasks, workers=workers):
        fit = outcome.fit
        fits[outcome.name] = fit
        drawn.update(outcome.figures)
        verdict = "passed its gates" if fit.passed else "FAILED its gates"
        figures = (
            f"; {len(outcome.figures)} figures drawn in {outcome.figure_seconds:.1f} s"
            if outcome.figures
            else ""
        )
        say(f"{outcome.name} model, {fit.name}: {outcome.seconds:.1f} s, {verdict}{figures}")
    return fits, not_fitted, drawn


def _candidate(
    construct: str, dose: int | None, source: str, probs: pd.DataFrame, labels: Sequence[str]
) -> Candidate:
    if dose is None:
        return Candidate(construct, None, source, float("nan"), float("nan"))
    row = probs.loc[labels[dose]]
    return Candidate(construct, dose, source, float(row["prob_target"]), float(row["prob_over"]))


def _candidates(
    trial: TrialData,
    advice: Recommendation,
    toxicity: Any,
    given: Mapping[str, int],
    toxicity_failed: bool,
) -> tuple[Candidate, ...]:
    protocol = trial.protocol
    labels = protocol.dose_labels
    table = toxicity.interval_probabilities().set_index(["construct", "dose"])
    out = []
    for construct in protocol.construct_ids:
        probs = table.loc[construct].reindex(list(labels))
        standard = advice.decision(construct, "3+3")
        if construct in given:
            dose, source = given[construct], "given"
        elif standard.stop and standard.mtd is not None:
            dose, source = standard.mtd, "3+3 MTD"
        elif toxicity_failed:
            dose, source = None, "withheld: the toxicity model failed its gates"
        else:
            data = trial.escalation_data(construct)
            tried = np.bincount(data.level, minlength=len(labels)) > 0
            eligible = tried & (probs["prob_over"].to_numpy() < protocol.toxicity.ewoc)
            if eligible.any():
                target = np.where(eligible, probs["prob_target"].to_numpy(), -1.0)
                dose, source = int(np.argmax(target)), "BLRM estimate"
            else:
                dose, source = None, "no admissible dose"
        out.append(_candidate(construct, dose, source, probs, labels))
    return tuple(out)


def _flat(values: xr.DataArray) -> np.ndarray:
    """Draws of a (chain, draw, ...) array as (..., draw), chains stacked."""
    stacked = values.stack(sample=("chain", "draw"))
    return stacked.transpose(..., "sample").to_numpy()


def _components(
    trial: TrialData,
    fits: Mapping[str, Any],
    candidates: Sequence[Candidate],
    seed: np.random.SeedSequence,
) -> tuple[xr.Dataset, tuple[tuple[str, str], ...]]:
    """Component draws per construct, combined draw by draw; prior draws for a construct
    without data for a model."""
    protocol = trial.protocol
    constructs = protocol.construct_ids
    rng = np.random.default_rng(seed)
    toxicity = fits["toxicity"]
    n_draws = _flat(toxicity.ptox()).shape[-1]
    has_data = _data_per_construct(fits)
    from_prior: list[tuple[str, str]] = []
    values: dict[str, np.ndarray] = {}
    for component, model in COMPONENTS.items():
        fit = fits[model]
        out = np.empty((len(constructs), n_draws))
        for c, construct in enumerate(constructs):
            candidate = candidates[c]
            use_prior = not has_data[model][construct]
            group = fit.prior if use_prior else fit.posterior
            draws = _component_draws(component, group, construct, candidate, protocol)
            if draws is None:
                out[c] = np.nan
                continue
            if use_prior:
                from_prior.append((component, construct))
                draws = draws[rng.integers(0, draws.size, size=n_draws)]
            elif draws.size != n_draws:
                raise ValueError(
                    f"the {model} model has {draws.size} draws, the toxicity model {n_draws}"
                )
            out[c] = draws
        values[component] = out
    coords = {"construct": list(constructs), "draw": np.arange(n_draws)}
    dataset = xr.Dataset(
        {name: (("construct", "draw"), array) for name, array in values.items()}, coords=coords
    )
    return dataset, tuple(from_prior)


def _component_draws(
    component: str,
    group: xr.Dataset,
    construct: str,
    candidate: Candidate,
    protocol: Protocol,
) -> np.ndarray | None:
    """Flat draws of one component of one construct (None: no candidate dose)."""
    if component in ("safety", "kinetics") and candidate.dose is None:
        return None
    label = None if candidate.dose is None else protocol.dose_labels[candidate.dose]
    if component == "safety":
        return _flat(group["ptox"].sel(construct=construct, dose=label))
    if component == "efficacy":
        return _flat(group["orr"].sel(construct=construct))
    if component == "kinetics":
        mean = group["mean_log10"].sel(endpoint=_KINETICS_ENDPOINT, construct=construct, dose=label)
        return _flat(mean)
    return _flat(group["release_prob"].sel(construct=construct))


def _data_per_construct(fits: Mapping[str, Any]) -> dict[str, dict[str, bool]]:
    """Whether each selection model saw data of each construct."""
    out: dict[str, dict[str, bool]] = {}
    counts = {
        "toxicity": ("n", "pending"),
        "response": ("n",),
        "kinetics": ("patients",),
        "manufacturing": ("lots",),
    }
    for model, columns in counts.items():
        table = fits[model].counts
        total = table[list(columns)].sum(axis=1).groupby(table["construct"]).sum()
        out[model] = {str(c): bool(total.get(c, 0) > 0) for c in fits[model].constructs}
    return out
