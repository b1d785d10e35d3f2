"""The trial protocol as one validated, hashable configuration.

Every number a decision or an analysis uses comes from a :class:`Protocol`: constructs,
dose levels, schedule, DLT definition, cohort sizes, targets and intervals, escalation
designs, priors, selection weights, the expansion rule, the antigen-assignment threshold and
the sampling settings. The DART-NK-SCLC defaults ship with the package
(``dart_nk_sclc.yaml``); a user's YAML file replaces them with ``--protocol FILE``.

Conventions: dose levels are listed in increasing order of cells per infusion; in the array
API a dose is its 0-based position in that list, in tables it is its label (``DL-1``,
``DL1``, ...).
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import cached_property
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import InputError

__all__ = [
    "Protocol",
    "ProtocolError",
    "default_protocol",
    "load_protocol",
]

Probability = Annotated[float, Field(gt=0.0, lt=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
PositiveInt = Annotated[int, Field(gt=0)]


class ProtocolError(InputError):
    """A protocol file or object that is not a valid trial protocol."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Construct(_Section):
    """One CAR-NK construct: its arm id, product name and the two antigens it targets."""

    id: str = Field(min_length=1)
    product: str = Field(min_length=1)
    antigens: tuple[str, str]

    @field_validator("antigens")
    @classmethod
    def _two_distinct(cls, value: tuple[str, str]) -> tuple[str, str]:
        if value[0] == value[1]:
            raise ValueError(f"a dual-target construct needs two different antigens, got {value}")
        return value


class DoseLevel(_Section):
    """A dose level: label, flat CAR-NK cells per infusion, de-escalation-only flag."""

    label: str = Field(min_length=1)
    cells_per_infusion: Positive
    deescalation_only: bool = False


class Schedule(_Section):
    """Lymphodepletion and infusion days (relative to the first infusion) and DLT window."""

    lymphodepletion_days: tuple[int, ...] = (-5, -4, -3)
    infusion_days: tuple[int, ...] = (0, 7, 14)
    max_cycles: PositiveInt = 2
    cycle_length_days: PositiveInt = 28
    dlt_window_days: PositiveInt = 28

    @model_validator(mode="after")
    def _ordered(self) -> Schedule:
        days = self.infusion_days
        if not days or days[0] != 0 or any(b <= a for a, b in pairwise(days)):
            raise ValueError(f"infusion_days must start at 0 and increase, got {list(days)}")
        if any(d >= 0 for d in self.lymphodepletion_days):
            raise ValueError(
                f"lymphodepletion_days must precede the first infusion (day 0), "
                f"got {list(self.lymphodepletion_days)}"
            )
        return self


class DLTDefinition(_Section):
    """Which adverse events may count as dose-limiting: grade >= ``min_grade`` in any
    category, or grade >= 2 in ``grade2_categories`` (CRS and ICANS by default)."""

    min_grade: Annotated[int, Field(ge=1, le=5)] = 3
    grade2_categories: tuple[str, ...] = ("CRS", "ICANS")

    @field_validator("grade2_categories")
    @classmethod
    def _known_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in AE_CATEGORIES]
        if unknown:
            raise ValueError(f"unknown AE categories {unknown}; expected some of {AE_CATEGORIES}")
        return value


AE_CATEGORIES: tuple[str, ...] = (
    "CRS",
    "ICANS",
    "infusion reaction",
    "cytopenia",
    "infection",
    "other",
)


class CRMSettings(_Section):
    """CRM alternative (O'Quigley, Pepe and Fisher 1990): model, skeleton per dose level,
    prior variance of beta, logistic intercept, and the safety stop on P(p_lowest > target)."""

    model: Literal["empiric", "logistic"] = "empiric"
    skeleton: tuple[Probability, ...]
    prior_var: Positive = 1.34
    intercept: float = 3.0
    stop_prob: Probability = 0.90

    @field_validator("skeleton")
    @classmethod
    def _increasing(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(b <= a for a, b in pairwise(value)):
            raise ValueError(f"skeleton must increase strictly, got {list(value)}")
        return value


class BOINSettings(_Section):
    """BOIN alternative (Liu and Yuan 2015); ``None`` means 0.6 x and 1.4 x the target."""

    p_saf: Probability | None = None
    p_tox: Probability | None = None
    cutoff_eliminate: Probability = 0.95


class BLRMSettings(_Section):
    """BLRM alternative (Neuenschwander, Branson and Gsponer 2008): largest escalation step
    above the highest dose tried."""

    max_step: PositiveInt = 1


class Phase1(_Section):
    """Phase 1 escalation: cohort size, caps, the protocol design and the alternatives.

    ``tite_escalate_after_complete``: a TITE design escalates above the current dose only
    once this many patients there have complete DLT follow-up (None: no restriction)."""

    cohort_size: PositiveInt = 3
    max_per_dose: PositiveInt = 6
    max_per_arm_model_based: PositiveInt = 18
    tite_escalate_after_complete: PositiveInt | None = 3
    design: Literal["three_plus_three"] = "three_plus_three"
    crm: CRMSettings
    boin: BOINSettings = BOINSettings()
    blrm: BLRMSettings = BLRMSettings()


class Phase2(_Section):
    """Phase 2 expansion size."""

    n_patients: PositiveInt = 20


class ToxicityTargets(_Section):
    """Target DLT rate and the BLRM intervals: underdose p < ``underdose_below`` <= target
    interval < ``overdose_from`` <= overdose; EWOC: P(overdose) < ``ewoc``."""

    target: Probability = 0.30
    underdose_below: Probability = 0.16
    overdose_from: Probability = 0.33
    ewoc: Probability = 0.25

    @model_validator(mode="after")
    def _ordered(self) -> ToxicityTargets:
        if not self.underdose_below <= self.target < self.overdose_from:
            raise ValueError(
                f"need underdose_below <= target < overdose_from, got "
                f"{self.underdose_below} <= {self.target} < {self.overdose_from}"
            )
        return self


class Priors(_Section):
    """Priors of the models of :mod:`dartnk.models`.

    Dose-toxicity: BLRM bivariate normal on (log_alpha, log_beta) with the reference dose
    (``blrm_*``); between-construct standard deviations of the exchangeable component
    tau ~ HalfNormal(``exnex_tau_scale``) and the prior probability of exchangeability
    ``exnex_weight``. Response: Beta prior of one construct's ORR (``response_beta``);
    hierarchical logit ORR mu ~ N(``response_logit_mean``, ``response_logit_sd``),
    tau ~ HalfNormal(``response_tau_scale``), log-dose slope ~ N(0,
    ``response_dose_slope_sd``). Kinetics, the CAR-NK cells' in vivo expansion and
    persistence (log10 Cmax and log10 AUC0-28 of copies): intercepts at the reference dose
    ~ N(``kinetics_mean``, ``kinetics_sd``), log-dose slope ~ N(0, ``kinetics_slope_sd``),
    tau ~ HalfNormal(``kinetics_tau_scale``), residual sd ~
    HalfNormal(``kinetics_sigma_scale``). Lot release: Beta
    (``manufacturing_beta``). Survival (Weibull, days): log scale ~
    N(``survival_log_scale``), log shape ~ N(``survival_log_shape``).
    """

    reference_dose: Positive
    blrm_mean: tuple[float, float] = (-0.85, 0.0)
    blrm_sd: tuple[Positive, Positive] = (2.0, 1.0)
    blrm_corr: Annotated[float, Field(gt=-1.0, lt=1.0)] = 0.0
    exnex_weight: Annotated[float, Field(ge=0.0, le=1.0)] = 0.8
    exnex_tau_scale: tuple[Positive, Positive] = (0.5, 0.25)
    response_beta: tuple[Positive, Positive] = (0.5, 0.5)
    response_logit_mean: float = -1.4
    response_logit_sd: Positive = 1.5
    response_tau_scale: Positive = 1.0
    response_dose_slope_sd: Positive = 1.0
    kinetics_mean: tuple[float, float] = (3.0, 4.5)
    kinetics_sd: tuple[Positive, Positive] = (1.5, 1.5)
    kinetics_slope_sd: Positive = 1.0
    kinetics_tau_scale: Positive = 0.5
    kinetics_sigma_scale: Positive = 1.0
    manufacturing_beta: tuple[Positive, Positive] = (1.0, 1.0)
    survival_log_scale: tuple[float, Positive] = (5.2, 1.5)
    survival_log_shape: tuple[float, Positive] = (0.0, 0.5)

    @model_validator(mode="before")
    @classmethod
    def _former_names(cls, values: Any) -> Any:
        former = (
            sorted(k for k in values if str(k).startswith("expansion_"))
            if isinstance(values, dict)
            else []
        )
        if former:
            renamed = [f"kinetics_{k.removeprefix('expansion_')}" for k in former]
            raise ValueError(f"{former} are now named {renamed} (the CAR-NK kinetics priors)")
        return values


class Desirability(_Section):
    """Linear desirability: 0 at ``worst``, 1 at ``best``, clipped between."""

    worst: float
    best: float

    @model_validator(mode="after")
    def _distinct(self) -> Desirability:
        if self.worst == self.best:
            raise ValueError(f"worst and best must differ, both are {self.worst}")
        return self


SELECTION_COMPONENTS = ("safety", "efficacy", "kinetics", "manufacturability")


class Selection(_Section):
    """Interim construct selection: component weights (sum to 1) and desirability ranges."""

    weights: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]]
    desirability: dict[str, Desirability]
    prob_best_threshold: Probability = 0.5

    @field_validator("weights", "desirability")
    @classmethod
    def _canonical_order(cls, mapping: dict[str, Any]) -> dict[str, Any]:
        """The components in :data:`SELECTION_COMPONENTS` order, whatever the file's order
        (the weight draws of the sensitivity analysis depend on it, the content hash not)."""
        known = {name: mapping[name] for name in SELECTION_COMPONENTS if name in mapping}
        return known | {name: value for name, value in mapping.items() if name not in known}

    @model_validator(mode="after")
    def _components(self) -> Selection:
        for name, mapping in (("weights", self.weights), ("desirability", self.desirability)):
            if set(mapping) != set(SELECTION_COMPONENTS):
                raise ValueError(
                    f"{name} must name exactly {list(SELECTION_COMPONENTS)}, got {sorted(mapping)}"
                )
        total = sum(self.weights.values())
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"selection weights must sum to 1, they sum to {total:g}")
        return self


class Expansion(_Section):
    """Phase 2 rule: predictive-probability monitoring of ORR (Lee and Liu 2008) with
    p0, p1, Beta prior, thresholds and looks; the type I and II error targets its
    operating characteristics and the Simon comparison are judged against; and Bayesian
    toxicity monitoring from ``toxicity_min_n`` DLT-evaluable patients on."""

    n_max: PositiveInt = 20
    p0: Probability = 0.15
    p1: Probability = 0.35
    prior: tuple[Positive, Positive] = (0.5, 0.5)
    theta_t: Probability = 0.90
    theta_l: Probability = 0.05
    first_look: PositiveInt = 10
    look_every: PositiveInt = 5
    alpha: Probability = 0.10
    beta: Probability = 0.20
    toxicity_min_n: PositiveInt = 3
    toxicity_limit: Probability = 0.33
    toxicity_threshold: Probability = 0.80
    toxicity_prior: tuple[Positive, Positive] = (1.0, 1.0)

    @model_validator(mode="after")
    def _consistent(self) -> Expansion:
        if self.p1 <= self.p0:
            raise ValueError(f"p1 must exceed p0, got p0 = {self.p0}, p1 = {self.p1}")
        if self.first_look > self.n_max:
            raise ValueError(f"first_look {self.first_look} exceeds n_max {self.n_max}")
        return self


class Assignment(_Section):
    """Antigen-guided assignment: both antigens of a construct need IHC H-score >= this."""

    hscore_threshold: Annotated[int, Field(ge=0, le=300)] = 100


class Eligibility(_Section):
    """Eligibility limits checked (as warnings) in the data."""

    max_ecog: Annotated[int, Field(ge=0, le=4)] = 1


class Assessments(_Section):
    """RECIST 1.1 tumour assessments: schedule, confirmation interval for CR/PR, the
    minimum time from first infusion for a best response of SD, and the response window:
    a patient on study without a confirmed response or progression counts as a
    non-responder only once followed this long (three assessments by default); before,
    the response is pending."""

    interval_days: PositiveInt = 42
    confirmation_days: PositiveInt = 28
    sd_min_days: PositiveInt = 35
    response_window_days: PositiveInt = 126


class PK(_Section):
    """CAR transgene qPCR: LLOQ (copies per microgram of genomic DNA), the AUC horizon and
    how below-LLOQ samples enter the descriptive AUC (``half_lloq``: at LLOQ/2;
    ``lloq``: at the LLOQ; ``exclude``: dropped)."""

    lloq_copies_per_ug: Positive = 50.0
    auc_end_day: PositiveInt = 28
    blq_policy: Literal["half_lloq", "lloq", "exclude"] = "half_lloq"


class ManufacturingSpec(_Section):
    """Release specification of a product lot."""

    min_viability_pct: Annotated[float, Field(ge=0.0, le=100.0)] = 70.0
    min_car_positive_pct: Annotated[float, Field(ge=0.0, le=100.0)] = 20.0


class Sampling(_Section):
    """MCMC settings and the diagnostic gates a fit must pass; a run with more divergent
    transitions than allowed is repeated at each higher ``retry_target_accept``."""

    chains: PositiveInt = 4
    draws: PositiveInt = 1000
    tune: PositiveInt = 1000
    target_accept: Probability = 0.9
    retry_target_accept: tuple[Probability, ...] = (0.95, 0.99)
    max_rhat: Annotated[float, Field(gt=1.0)] = 1.01
    min_ess_bulk: PositiveInt = 400
    max_divergences: Annotated[int, Field(ge=0)] = 0


class Protocol(_Section):
    """A complete, validated trial protocol.

    Build one from YAML with :func:`load_protocol`, or take the embedded DART-NK-SCLC
    protocol with :func:`default_protocol`. It is immutable; :attr:`content_hash` is a
    SHA-256 over its canonical JSON form, so two protocols with the same content have the
    same hash whatever their key order or YAML formatting.

    Examples
    --------
    >>> from dartnk.analyses import default_protocol
    >>> p = default_protocol()
    >>> p.dose_labels
    ('DL-1', 'DL1', 'DL2', 'DL3', 'DL4')
    >>> p.dose_index("DL1")
    1
    """

    name: str = Field(min_length=1)
    registry_id: str | None = None
    antigens: tuple[str, ...] = ("DLL3", "CD56", "GD2")
    constructs: tuple[Construct, ...] = Field(min_length=1)
    dose_levels: tuple[DoseLevel, ...] = Field(min_length=1)
    start_dose: str
    schedule: Schedule = Schedule()
    dlt: DLTDefinition = DLTDefinition()
    phase1: Phase1
    phase2: Phase2 = Phase2()
    toxicity: ToxicityTargets = ToxicityTargets()
    priors: Priors
    selection: Selection
    expansion: Expansion = Expansion()
    assignment: Assignment = Assignment()
    eligibility: Eligibility = Eligibility()
    assessments: Assessments = Assessments()
    pk: PK = PK()
    manufacturing: ManufacturingSpec = ManufacturingSpec()
    sampling: Sampling = Sampling()

    @model_validator(mode="after")
    def _cross_checks(self) -> Protocol:
        problems: list[str] = []
        ids = [c.id for c in self.constructs]
        if len(set(ids)) != len(ids):
            problems.append(f"constructs: duplicate construct id in {ids}")
        for i, construct in enumerate(self.constructs):
            unknown = [a for a in construct.antigens if a not in self.antigens]
            if unknown:
                problems.append(
                    f"constructs.{i}.antigens: {unknown} not among the declared antigens "
                    f"{list(self.antigens)}"
                )
        labels = [d.label for d in self.dose_levels]
        if len(set(labels)) != len(labels):
            problems.append(f"dose_levels: duplicate label in {labels}")
        cells = [d.cells_per_infusion for d in self.dose_levels]
        for i in range(1, len(cells)):
            if cells[i] <= cells[i - 1]:
                problems.append(
                    f"dose_levels.{i}.cells_per_infusion: {cells[i]:g} is not above "
                    f"{cells[i - 1]:g} of {labels[i - 1]}; dose levels must be in increasing order"
                )
        if self.start_dose not in labels:
            problems.append(f"start_dose: {self.start_dose!r} is not a dose level of {labels}")
        else:
            start = labels.index(self.start_dose)
            if self.dose_levels[start].deescalation_only:
                problems.append(f"start_dose: {self.start_dose!r} is de-escalation only")
            late = [d.label for d in self.dose_levels[start:] if d.deescalation_only]
            if late:
                problems.append(
                    f"dose_levels: {late} are de-escalation only but not below the start dose"
                )
        if len(self.phase1.crm.skeleton) != len(labels):
            problems.append(
                f"phase1.crm.skeleton: {len(self.phase1.crm.skeleton)} values for "
                f"{len(labels)} dose levels"
            )
        if self.phase1.max_per_dose < self.phase1.cohort_size:
            problems.append(
                f"phase1.max_per_dose: {self.phase1.max_per_dose} is below the cohort size "
                f"{self.phase1.cohort_size}"
            )
        boin = self.phase1.boin
        target = self.toxicity.target
        if boin.p_saf is not None and not boin.p_saf < target:
            problems.append(f"phase1.boin.p_saf: {boin.p_saf} must be below the target {target}")
        if boin.p_tox is not None and not boin.p_tox > target:
            problems.append(f"phase1.boin.p_tox: {boin.p_tox} must be above the target {target}")
        if self.expansion.n_max != self.phase2.n_patients:
            problems.append(
                f"expansion.n_max: {self.expansion.n_max} differs from phase2.n_patients "
                f"{self.phase2.n_patients}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def construct_ids(self) -> tuple[str, ...]:
        """Arm identifiers in protocol order."""
        return tuple(c.id for c in self.constructs)

    @property
    def dose_labels(self) -> tuple[str, ...]:
        """Dose labels in increasing order (position = 0-based dose index)."""
        return tuple(d.label for d in self.dose_levels)

    @property
    def doses(self) -> tuple[float, ...]:
        """Cells per infusion of each dose level, by 0-based index."""
        return tuple(d.cells_per_infusion for d in self.dose_levels)

    @property
    def start_index(self) -> int:
        """0-based index of the start dose."""
        return self.dose_labels.index(self.start_dose)

    @property
    def dlt_window(self) -> int:
        """DLT observation window in days from the first infusion."""
        return self.schedule.dlt_window_days

    def dose_index(self, label: str) -> int:
        """0-based index of a dose label; ``KeyError`` naming the labels if unknown."""
        try:
            return self.dose_labels.index(label)
        except ValueError:
            raise KeyError(f"dose level {label!r} is not one of {list(self.dose_labels)}") from None

    def construct(self, construct_id: str) -> Construct:
        """The construct with this arm id."""
        for c in self.constructs:
            if c.id == construct_id:
                return c
        raise KeyError(f"construct {construct_id!r} is not one of {list(self.construct_ids)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary of every setting (defaults included)."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        """The protocol as YAML, every setting spelled out, in a stable key order."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=100)

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON (sorted keys, no whitespace) of every setting."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def summary(self) -> Any:
        """One row per setting (``key``, ``value``), the table reports print."""
        import pandas as pd

        rows = [{"key": k, "value": v} for k, v in _flatten(self.to_dict())]
        return pd.DataFrame(rows, columns=["key", "value"])

    def __repr__(self) -> str:
        arms = ", ".join(f"{c.id} {c.product} ({'/'.join(c.antigens)})" for c in self.constructs)
        return (
            f"Protocol({self.name}: arms {arms}; doses {', '.join(self.dose_labels)} "
            f"from {self.start_dose}; target {self.toxicity.target}; "
            f"hash {self.content_hash[:12]})"
        )

    __str__ = __repr__


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, list) and value and isinstance(value[0], dict):
        out = []
        for i, v in enumerate(value):
            out += _flatten(v, f"{prefix}.{i}")
        return out
    return [(prefix, json.dumps(value))]


def _format_validation_error(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            lines.append(f"{source}: {path}: unknown key (value {item['input']!r})")
        elif item["type"] == "missing":
            lines.append(f"{source}: {path}: required key is missing")
        else:
            shown = item.get("input")
            if isinstance(shown, dict):
                lines.append(f"{source}: {path}: {message}")
            else:
                lines.append(f"{source}: {path} = {shown!r}: {message}")
    return "\n".join(lines)


def protocol_from_dict(data: Any, *, source: str = "protocol") -> Protocol:
    """Validate a mapping into a :class:`Protocol`; :class:`ProtocolError` lists every
    problem with its key path and value."""
    if not isinstance(data, dict):
        raise ProtocolError(f"{source}: expected a mapping of protocol settings, got {data!r}")
    try:
        return Protocol.model_validate(data)
    except ValidationError as error:
        raise ProtocolError(_format_validation_error(error, source)) from None


def load_protocol(path: str | Path | None = None) -> Protocol:
    """Read and validate a protocol YAML file (the embedded default when ``path`` is None).

    Raises
    ------
    ProtocolError
        If the file is missing, binary, not UTF-8 text, not YAML, or fails validation;
        the message names the file, every bad key path and its value.
    """
    if path is None:
        return default_protocol()
    path = Path(path)
    return protocol_from_dict(_read_yaml(path, "protocol", ProtocolError), source=str(path))


def _read_yaml(path: Path, what: str, error: type[InputError]) -> Any:
    """The content of a YAML file, or ``error`` with one line naming the file and why it
    cannot be read: missing or unreadable, binary, not UTF-8, or not valid YAML (with the
    line and column)."""
    expected = f"expected a {what} YAML file (UTF-8 text)"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read {what} file ({exc.strerror})") from None
    if b"\x00" in data[:65536]:
        raise error(f"{path}: is a binary file, not text: {expected}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: is not UTF-8 text (byte 0x{data[exc.start]:02x} at position "
            f"{exc.start}): {expected}"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{path}: not valid YAML ({problem}{where}): {expected}") from None


_DEFAULT_NAME = "dart_nk_sclc.yaml"


def default_protocol() -> Protocol:
    """The embedded DART-NK-SCLC protocol (DESIGN.md defaults)."""
    text = resources.files("dartnk.analyses").joinpath("data", _DEFAULT_NAME).read_text("utf-8")
    return protocol_from_dict(yaml.safe_load(text), source=f"embedded {_DEFAULT_NAME}")
