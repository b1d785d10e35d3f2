"""The ``dartnk`` command line.

Bad input anywhere (files, protocol, arguments) exits with code 2 and one line per problem
on standard error, no traceback and nothing written; a command that validates trial data
shows the first 20 problems and the count of the rest (``--all-errors`` shows every one).
An unexpected internal error exits with code 1 and one line, with a hint to rerun with
``dartnk --debug`` for the traceback. Size arguments are bounded, and a value beyond its
bound is refused at once, naming the bound.

The module imports only typer at its top: pandas, SciPy, pandera, pydantic and PyMC load
inside the commands that use them, so that ``dartnk --version`` and ``--help`` start fast.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import os
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from .errors import InputError

if TYPE_CHECKING:
    from .protocol import Protocol
    from .trial import TrialData

__all__ = ["app", "main"]

MAX_PROBLEMS_SHOWN = 20
SIMON_N_MAX_LIMIT = 1000
"""Largest ``--simon-n-max``: :data:`dartnk.adaptive.simon.SIMON_N_MAX_LIMIT`."""
EXPANSION_N_LIMIT = 500
"""Largest expansion size (``--n-max``, ``--first-look``, ``--look-every``,
``--toxicity-min-n``): the exact tables of the predictive-probability design grow as its
square, and 500 patients take a few seconds."""

app = typer.Typer(
    name="dartnk",
    help="Bayesian adaptive design analysis for the DART-NK-SCLC Phase 1/2 trial.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

F = TypeVar("F", bound=Callable[..., Any])

ProtocolOption = Annotated[
    Path | None,
    typer.Option(
        "--protocol",
        help="Protocol YAML file (default: the embedded DART-NK-SCLC protocol).",
        dir_okay=False,
    ),
]
CutoffOption = Annotated[
    int | None,
    typer.Option(
        "--cutoff",
        help="Data cut-off study day (default: the latest day recorded in the data).",
        min=0,
    ),
]
AllErrorsOption = Annotated[
    bool,
    typer.Option(
        "--all-errors",
        help=f"Show every problem of the data, not only the first {MAX_PROBLEMS_SHOWN}.",
    ),
]


class TableFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def _report(problems: list[str], *, all_errors: bool | None) -> None:
    """Write the problems on stderr; with ``all_errors`` False only the first
    :data:`MAX_PROBLEMS_SHOWN` and the count of the rest (None: every one)."""
    shown = problems
    if all_errors is False and len(problems) > MAX_PROBLEMS_SHOWN:
        shown = problems[:MAX_PROBLEMS_SHOWN]
    sys.stderr.write("".join(f"error: {line}\n" for line in shown))
    if len(shown) < len(problems):
        sys.stderr.write(
            f"error: ... and {len(problems) - len(shown)} more problems "
            f"(rerun with --all-errors to see every one)\n"
        )


def _guarded(*, validates_data: bool = False) -> Callable[[F], F]:
    """Turn input errors into exit 2 and internal errors into exit 1, without tracebacks
    unless the root option ``--debug`` was given.

    The command gains a typer context (for ``--debug``) and, with ``validates_data``, the
    ``--all-errors`` option, both handled here and not passed on to it.
    """

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        extra = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)]
        if validates_data:
            extra.append(
                inspect.Parameter(
                    "all_errors",
                    inspect.Parameter.KEYWORD_ONLY,
                    default=False,
                    annotation=AllErrorsOption,
                )
            )

        @functools.wraps(command)
        def wrapper(*args: Any, ctx: typer.Context, all_errors: bool = False, **kwargs: Any):
            try:
                return command(*args, **kwargs)
            except InputError as error:
                _report(error.problems, all_errors=all_errors if validates_data else None)
                raise typer.Exit(2) from None
            except (typer.Exit, typer.Abort, typer.BadParameter):
                raise
            except Exception as error:
                if (ctx.find_root().obj or {}).get("debug"):
                    traceback.print_exc(file=sys.stderr)
                else:
                    sys.stderr.write(
                        f"internal error: {type(error).__name__}: {error} "
                        f"(rerun with --debug for the traceback)\n"
                    )
                raise typer.Exit(1) from None

        parameters = [*signature.parameters.values(), *extra]
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper  # type: ignore[return-value]

    return decorate


def _version(value: bool) -> None:
    if value:
        from dartnk import __version__

        typer.echo(f"dartnk {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of internal errors.")
    ] = False,
) -> None:
    """Bayesian adaptive design analysis for the DART-NK-SCLC Phase 1/2 trial."""
    ctx.obj = {"debug": debug}


def _protocol(path: Path | None) -> Protocol:
    from .protocol import load_protocol

    return load_protocol(path)


def _warn(lines: list[str] | tuple[str, ...]) -> None:
    sys.stderr.write("".join(f"warning: {line}\n" for line in lines))


def _load_trial(directory: Path, protocol: Protocol, cutoff: int | None) -> TrialData:
    """Validate and derive the cut; warn when ``cutoff`` lies beyond the last study day
    recorded in the data (every patient then counts as followed up to it without events)."""
    from .derive import default_cutoff
    from .trial import load_trial

    trial = load_trial(directory, protocol=protocol, cutoff=cutoff)
    if cutoff is not None:
        last = default_cutoff(dict(trial.tables))
        if cutoff > last:
            _warn(
                [
                    f"cut-off study day {cutoff} is after the last study day recorded in the "
                    f"data ({last}): every patient counts as followed up to day {cutoff} "
                    f"without further events"
                ]
            )
    return trial


@app.command("protocol")
@_guarded()
def protocol_command(
    protocol: ProtocolOption = None,
    as_table: Annotated[
        bool, typer.Option("--table", help="One row per setting instead of YAML.")
    ] = False,
) -> None:
    """Print the protocol in force (every setting, defaults included) and its hash."""
    from ._console import print_frame

    p = _protocol(protocol)
    if as_table:
        print_frame(p.summary(), title=f"{p.name} protocol")
    else:
        sys.stdout.write(p.to_yaml())
    sys.stdout.write(f"# content hash: {p.content_hash}\n")


@app.command("example-data")
@_guarded()
def example_data_command(
    directory: Annotated[Path, typer.Argument(help="Folder to write the example tables into.")],
    table_format: Annotated[
        TableFormat, typer.Option("--format", help="File format of the tables.")
    ] = TableFormat.csv,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace table files already in the folder.")
    ] = False,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            min=0,
            help="Simulate a new trial with this seed instead of writing the shipped cut.",
        ),
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", dir_okay=False, help="Scenario YAML for a simulated trial."),
    ] = None,
    cutoff: CutoffOption = None,
    phase2: Annotated[
        bool, typer.Option("--phase2", help="Simulate the Phase 2 expansion as well.")
    ] = False,
    protocol: ProtocolOption = None,
) -> None:
    """Write the embedded example data cut (a Phase 1 interim), one file per table.

    With --seed (or --scenario, --cutoff, --phase2, --protocol) a new trial is simulated
    under the protocol's 3+3 instead.
    """
    from ._console import out_console
    from .example_data import write_example_data, write_tables

    simulate = any(v is not None for v in (seed, scenario, cutoff, protocol)) or phase2
    if simulate:
        from .generator import generate_trial
        from .scenario import load_scenario

        tables = generate_trial(
            _protocol(protocol),
            load_scenario(scenario),
            seed=0 if seed is None else seed,
            cutoff=cutoff,
            include_phase2=phase2,
        )
        written = write_tables(tables, directory, format=table_format.value, overwrite=overwrite)
    else:
        written = write_example_data(directory, format=table_format.value, overwrite=overwrite)
    out_console().print(f"wrote {len(written)} tables to {directory}", markup=False)


def _print_trial(trial: TrialData) -> None:
    from ._console import print_frame

    print_frame(
        trial.summary(by_phase=True),
        title=f"{trial.protocol.name} at cut-off study day {trial.cutoff}: "
        f"patients, DLTs, pending and responses per phase, arm and dose",
    )
    _warn(trial.warnings)


@app.command("validate")
@_guarded(validates_data=True)
def validate_command(
    directory: Annotated[Path, typer.Argument(help="Folder of trial tables (CSV or Parquet).")],
    cutoff: CutoffOption = None,
    protocol: ProtocolOption = None,
) -> None:
    """Validate a data cut and print patients, DLTs, pending and responses per phase, arm
    and dose (Phase 1 at every dose, Phase 2 where it enrolled)."""
    _print_trial(_load_trial(directory, _protocol(protocol), cutoff))


DesignOption = Annotated[
    list[str] | None,
    typer.Option(
        "--design",
        help="Design to apply (repeatable): 3+3, CRM, TITE-CRM, BOIN, TITE-BOIN, BLRM, "
        "TITE-BLRM. Default: all but TITE-BLRM.",
    ),
]


@app.command("recommend")
@_guarded(validates_data=True)
def recommend_command(
    directory: Annotated[Path, typer.Argument(help="Folder of trial tables (CSV or Parquet).")],
    design: DesignOption = None,
    cutoff: CutoffOption = None,
    arm: Annotated[
        list[str] | None, typer.Option("--arm", help="Arm (construct id), repeatable.")
    ] = None,
    brief: Annotated[
        bool, typer.Option("--brief", help="Only the decisions, without per-dose tables.")
    ] = False,
    protocol: ProtocolOption = None,
) -> None:
    """Next dose per arm under the protocol's 3+3 and each model-based alternative."""
    from ._console import out_console, print_frame
    from .recommendation import recommend

    trial = _load_trial(directory, _protocol(protocol), cutoff)
    result = recommend(trial, design, arms=arm)
    console = out_console()
    summary = result.summary()
    for arm_id, rows in summary.groupby("arm", sort=False):
        product = trial.protocol.construct(str(arm_id)).product
        print_frame(
            rows.drop(columns=["arm", "reasons"]),
            title=f"Arm {arm_id} ({product}) at cut-off study day {result.cutoff}",
            console=console,
        )
        if brief:
            continue
        for _, name, decision in (d for d in result.decisions if d[0] == arm_id):
            console.print(f"{name}: {decision.action}", markup=False)
            for rule, text in decision.reasons:
                console.print(f"  - {rule}: {text}", markup=False)
            print_frame(decision.summary(), console=console)


@app.command("pathways")
@_guarded(validates_data=True)
def pathways_command(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Folder of trial tables; omit to start from an empty arm."),
    ] = None,
    design: Annotated[str, typer.Option("--design", help="Design name, e.g. 3+3 or BOIN.")] = "3+3",
    cohorts: Annotated[
        int, typer.Option("--cohorts", min=1, max=4, help="Number of next cohorts.")
    ] = 2,
    arm: Annotated[str | None, typer.Option("--arm", help="Arm (construct id).")] = None,
    cutoff: CutoffOption = None,
    protocol: ProtocolOption = None,
) -> None:
    """Dose-transition pathways: every outcome of the next cohorts and the decision after
    each (Yap et al. 2017)."""
    import numpy as np

    from dartnk.adaptive.pathways import dose_transition_pathways

    from ._console import print_frame
    from .designs import build_design

    p = _protocol(protocol)
    chosen = build_design(p, design)
    level: list[int] = []
    dlt: list[int] = []
    followup: list[float] | None = None
    origin = "an arm with no patients"
    if directory is not None:
        trial = _load_trial(directory, p, cutoff)
        arm_id = arm or p.construct_ids[0]
        if arm_id not in p.construct_ids:
            raise InputError(f"arm {arm_id!r} is not a construct of the protocol")
        data = trial.escalation_data(arm_id)
        level = data.level.tolist()
        dlt = data.dlt.tolist()
        followup = data.followup.tolist()
        pending = int(np.isfinite(data.followup).sum())
        origin = f"arm {arm_id} at cut-off study day {trial.cutoff}"
        if pending:
            origin += f" ({pending} patient(s) inside the DLT window, resolved first)"
    pathways = dose_transition_pathways(
        chosen, level, dlt, followup, cohorts=cohorts, cohort_size=p.phase1.cohort_size
    )
    print_frame(
        pathways.summary()[["cohort", "path", "decision"]],
        title=f"Dose-transition pathways of {design} from {origin}",
    )


@app.command("decision-table")
@_guarded()
def decision_table_command(
    design: Annotated[str, typer.Option("--design", help="Design name, e.g. 3+3 or BOIN.")] = "3+3",
    dose: Annotated[
        str | None, typer.Option("--dose", help="Dose label (default: the start dose).")
    ] = None,
    max_n: Annotated[
        int | None,
        typer.Option(
            "--max-n", min=1, max=30, help="Largest n (default 12, or the design's limit)."
        ),
    ] = None,
    protocol: ProtocolOption = None,
) -> None:
    """The design's decision for every number of patients and DLTs at one dose."""
    from dartnk.adaptive.pathways import decision_table

    from ._console import print_frame
    from .designs import build_design

    p = _protocol(protocol)
    chosen = build_design(p, design)
    index = p.start_index if dose is None else _dose_index(p, dose)
    limit = chosen.max_per_dose
    if max_n is not None and limit is not None and max_n > limit:
        raise InputError(f"--max-n {max_n}: {design} treats at most {limit} patients at a dose")
    table = decision_table(chosen, dose=index, max_n=max_n)
    print_frame(
        table[["n", "dlt", "decision", "rule"]],
        title=f"Decision table of {design} at {p.dose_labels[index]} (no other dose tried)",
    )


def _dose_index(p: Protocol, label: str) -> int:
    try:
        return p.dose_index(label)
    except KeyError as error:
        raise InputError(str(error.args[0])) from None


def _missing_blank(frame: Any) -> Any:
    """Nullable integer columns as floats, so that a missing boundary prints blank."""
    return frame.astype({c: float for c in frame.columns if str(frame[c].dtype) == "Int64"})


@app.command("expansion-design")
@_guarded()
def expansion_design_command(
    p0: Annotated[float | None, typer.Option("--p0", help="Response rate of no interest.")] = None,
    p1: Annotated[float | None, typer.Option("--p1", help="Target response rate.")] = None,
    n_max: Annotated[
        int | None,
        typer.Option("--n-max", min=1, max=EXPANSION_N_LIMIT, help="Maximum expansion patients."),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option("--alpha", help="Type I error target (default: the protocol's)."),
    ] = None,
    beta: Annotated[
        float | None,
        typer.Option("--beta", help="Type II error target (default: the protocol's)."),
    ] = None,
    theta_t: Annotated[
        float | None, typer.Option("--theta-t", help="Final posterior threshold.")
    ] = None,
    theta_l: Annotated[
        float | None, typer.Option("--theta-l", help="Futility threshold of the PP.")
    ] = None,
    theta_u: Annotated[
        float | None,
        typer.Option("--theta-u", help="Efficacy threshold of the PP (default: none)."),
    ] = None,
    first_look: Annotated[
        int | None,
        typer.Option(
            "--first-look", min=1, max=EXPANSION_N_LIMIT, help="Evaluable patients at look 1."
        ),
    ] = None,
    look_every: Annotated[
        int | None,
        typer.Option("--look-every", min=1, max=EXPANSION_N_LIMIT, help="Patients between looks."),
    ] = None,
    prior_a: Annotated[
        float | None, typer.Option("--prior-a", help="Beta prior a of the response rate.")
    ] = None,
    prior_b: Annotated[
        float | None, typer.Option("--prior-b", help="Beta prior b of the response rate.")
    ] = None,
    toxicity_min_n: Annotated[
        int | None,
        typer.Option(
            "--toxicity-min-n",
            min=1,
            max=EXPANSION_N_LIMIT,
            help="Patients before toxicity monitoring (default: the protocol's).",
        ),
    ] = None,
    simon_n_max: Annotated[
        int,
        typer.Option(
            "--simon-n-max", min=2, max=SIMON_N_MAX_LIMIT, help="Largest n of the Simon search."
        ),
    ] = 100,
    search: Annotated[
        bool, typer.Option("--search", help="Also search theta_t and theta_l (alpha, power).")
    ] = False,
    protocol: ProtocolOption = None,
) -> None:
    """Boundaries and exact operating characteristics of the expansion's predictive-
    probability design (Lee and Liu 2008) beside Simon's optimal and minimax two-stage
    designs (Simon 1989), and of the toxicity monitor."""
    from ._console import out_console, print_frame
    from .expansion import expansion_designs

    p = _protocol(protocol)
    prior = None
    if prior_a is not None or prior_b is not None:
        a, b = p.expansion.prior
        prior = (a if prior_a is None else prior_a, b if prior_b is None else prior_b)
    result = expansion_designs(
        p,
        alpha=alpha,
        beta=beta,
        simon_n_max=simon_n_max,
        toxicity_min_n=toxicity_min_n,
        search=search,
        p0=p0,
        p1=p1,
        n_max=n_max,
        prior=prior,
        theta_t=theta_t,
        theta_l=theta_l,
        theta_u=theta_u,
        first_look=first_look,
        look_every=look_every,
    )
    console = out_console()
    design = result.predictive
    print_frame(
        _missing_blank(design.boundaries()),
        title=f"{design!r}\nstop for futility at a look if responses <= futility_if_le; "
        f"promising at n = {design.n_max} if responses >= {design.final_responses}",
        console=console,
    )
    print_frame(
        result.operating_characteristics(),
        title=f"Exact operating characteristics (Simon designs for alpha = {result.alpha:g}, "
        f"beta = {result.beta:g})",
        console=console,
    )
    for note in result.notes:
        console.print(note, markup=False)
    monitor = result.toxicity
    print_frame(
        _missing_blank(monitor.boundaries()), title=f"{monitor!r}: stop if DLTs >= stop_if_ge"
    )
    print_frame(result.toxicity_oc(), title="Exact operating characteristics of the monitor")
    if result.search is not None:
        found = result.search
        head = (
            f"best thresholds: theta_t = {found.design.theta_t:g}, "
            f"theta_l = {found.design.theta_l:g}"
            if found.design is not None
            else f"no thresholds meet type I error <= {result.alpha:g} "
            f"and power >= {1 - result.beta:g}"
        )
        print_frame(found.summary().head(10), title=f"Threshold search: {head}", console=console)


@app.command("expansion")
@_guarded(validates_data=True)
def expansion_command(
    directory: Annotated[Path, typer.Argument(help="Folder of trial tables (CSV or Parquet).")],
    cutoff: CutoffOption = None,
    toxicity_min_n: Annotated[
        int | None,
        typer.Option(
            "--toxicity-min-n",
            min=1,
            max=EXPANSION_N_LIMIT,
            help="Patients before toxicity monitoring (default: the protocol's).",
        ),
    ] = None,
    survival_model: Annotated[
        bool,
        typer.Option(
            "--survival-model/--no-survival-model",
            help="Fit the Bayesian Weibull model of PFS and OS beside Kaplan-Meier.",
        ),
    ] = True,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Root seed of the survival model.")
    ] = 2026,
    protocol: ProtocolOption = None,
) -> None:
    """Current decision on a Phase 2 expansion data cut: posterior of the ORR, the
    predictive probability and its decision, the toxicity monitor, and PFS and OS at the
    expansion dose by Kaplan-Meier and a Bayesian Weibull model."""
    from ._console import out_console, print_frame
    from .expansion import (
        analyse_expansion,
        expansion_not_started,
        phase2_patients,
        toxicity_monitor,
    )

    p = _protocol(protocol)
    trial = _load_trial(directory, p, cutoff)
    if phase2_patients(trial).empty:
        out_console().print(expansion_not_started(trial), markup=False)
        _warn(trial.warnings)
        return
    result = analyse_expansion(
        trial,
        monitor=toxicity_monitor(p, min_n=toxicity_min_n),
        survival_model=survival_model,
        seed=seed,
    )
    console = out_console()
    for line in result.stopping:
        console.print(f"STOPPING RULE MET: {line}", markup=False, soft_wrap=True)
    print_frame(result.summary(), title=result.headline, console=console)
    for rule, text in result.reasons:
        console.print(f"  - {rule}: {text}", markup=False)
    if len(result.looks):
        print_frame(
            result.looks,
            title="Planned looks reached (evaluable patients in order of enrolment)",
            console=console,
        )
    if len(result.toxicity_looks):
        print_frame(
            result.toxicity_looks,
            title="Toxicity monitor looks reached (patients with complete DLT follow-up)",
            console=console,
        )
    print_frame(result.survival.summary(), title=result.survival.headline, console=console)
    for fit in result.survival.fits:
        if not fit.passed:
            console.print(f"  - {fit.endpoint.upper()}: {fit.diagnostics!r}", markup=False)
    _warn(trial.warnings)


@app.command("qualify")
@_guarded()
def qualify_command(
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            dir_okay=False,
            help="Write the report here: .html (self-contained) or .md (its Markdown twin).",
        ),
    ] = None,
    json_file: Annotated[
        Path | None,
        typer.Option(
            "--json",
            dir_okay=False,
            help="Write every case with its expected and obtained values as JSON.",
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Leave out the MCMC cases (under a minute).")
    ] = False,
    cases: Annotated[
        Path | None,
        typer.Option(
            "--cases", dir_okay=False, help="Case file to run instead of the shipped one."
        ),
    ] = None,
) -> None:
    """Rerun every reference case (published values, the R packages BOIN, dfcrm and
    clinfun, independent computations) through dartnk on this machine and report, per case
    and per method, expected against obtained. Exit 0 when every case passes, 1 when one
    fails (named on stderr)."""
    import time

    from dartnk.reports import FORMATS, render

    from ._console import print_frame
    from ._files import write_atomic
    from .qualification import qualify
    from .qualification_cases import load_cases
    from .qualification_report import qualification_document

    if output is not None and output.suffix.lower() not in FORMATS:
        raise InputError(
            f"{output}: the report must end .html or .md (got {output.suffix or 'no suffix'!r})"
        )
    for target in (output, json_file):
        if target is not None and not target.parent.exists():
            raise InputError(f"{target}: folder {target.parent} does not exist")
    case_file = load_cases(cases)
    started = time.perf_counter()
    result = qualify(case_file, quick=quick)
    elapsed = time.perf_counter() - started
    print_frame(
        result.method_summary(),
        title=f"Qualification of dartnk on this machine ({'quick' if quick else 'full'} run): "
        f"{result.counts['passed']} of {result.counts['run']} cases pass",
    )
    command = ("dartnk", "qualify", *(("--quick",) if quick else ()))
    if cases is not None:
        command = (*command, "--cases", case_file.name)
    if output is not None:
        document = qualification_document(result, command=command)
        write_atomic(output, render(document, output))
    if json_file is not None:
        write_atomic(json_file, result.to_json())
    sys.stderr.write(f"ran {result.counts['run']} cases in {elapsed:.1f} s\n")
    if result.failures:
        sys.stderr.write(
            f"qualification failed: {len(result.failures)} case(s) do not reproduce their "
            f"reference values:\n"
        )
        for failure in result.failures:
            sys.stderr.write(f"  {failure.case.id}: {failure.message}\n")
        raise typer.Exit(1)


@app.command("data-dictionary")
@_guarded()
def data_dictionary_command(protocol: ProtocolOption = None) -> None:
    """Print the data dictionary of the seven trial tables (Markdown)."""
    from .tables import data_dictionary_markdown

    sys.stdout.write(data_dictionary_markdown(_protocol(protocol)))


SeedOption = Annotated[
    int, typer.Option("--seed", min=0, help="Root seed of the analysis (SeedSequence).")
]


def _progress(message: str) -> None:
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


def _print_interim(analysis: Any, output: Path) -> None:
    from ._console import out_console, print_frame

    console = out_console()
    for level, text in analysis.flags:
        console.print(f"{level.upper()}: {text}", markup=False, soft_wrap=True)
    console.print(f"Construct selection: {analysis.decision}", markup=False, soft_wrap=True)
    table = analysis.summary()[
        ["construct", "candidate_dose", "source", "expected_score", "prob_best", "passes_gates"]
    ]
    print_frame(table, title="Candidate dose, composite score and gates", console=console)
    advice = analysis.recommendation.summary()
    print_frame(
        advice[["arm", "design", "action", "pending"]],
        title=f"Next dose per arm at cut-off study day {analysis.cutoff}",
        console=console,
    )
    console.print(f"report: {output}", markup=False, soft_wrap=True)


@app.command("interim")
@_guarded(validates_data=True)
def interim_command(
    directory: Annotated[Path, typer.Argument(help="Folder of trial tables (CSV or Parquet).")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Report file: report.html or report.md.")
    ],
    cutoff: CutoffOption = None,
    seed: SeedOption = 2026,
    protocol: ProtocolOption = None,
) -> None:
    """Interim analysis of a data cut: next dose per arm, every model, the candidate dose
    and the composite construct selection, written as a reproducible report."""
    from .interim_run import interim_command as canonical
    from .interim_run import run_interim, start_fit_workers

    start_fit_workers()
    command = canonical(
        str(directory),
        str(output),
        seed=seed,
        cutoff=cutoff,
        protocol=None if protocol is None else str(protocol),
    )
    analysis = run_interim(
        directory,
        output,
        protocol=_protocol(protocol),
        seed=seed,
        cutoff=cutoff,
        command=command,
        progress=_progress,
        load=_load_trial,
    )
    _print_interim(analysis, output)


@app.command("demo")
@_guarded()
def demo_command(
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Report file (.html or .md)."),
    ] = Path("dartnk-demo-report.html"),
    seed: SeedOption = 2026,
    protocol: ProtocolOption = None,
) -> None:
    """Run the interim analysis on the embedded example data cut and write its report
    (dartnk-demo-report.html in the working directory unless -o is given)."""
    from .interim_run import interim_command as canonical
    from .interim_run import run_interim, start_fit_workers

    start_fit_workers()
    from .example_data import write_example_data

    command = canonical(
        "",
        str(output),
        seed=seed,
        cutoff=None,
        protocol=None if protocol is None else str(protocol),
        demo=True,
    )
    with tempfile.TemporaryDirectory(prefix="dartnk-demo-") as tmp:
        folder = Path(tmp) / "example"
        write_example_data(folder)
        _progress("example data cut written to a temporary folder")
        analysis = run_interim(
            folder,
            output,
            protocol=_protocol(protocol),
            seed=seed,
            cutoff=None,
            command=command,
            progress=_progress,
            load=_load_trial,
        )
    _print_interim(analysis, output)


@app.command("reproduce")
@_guarded()
def reproduce_command(
    report: Annotated[Path, typer.Argument(help="A report written by interim or demo.")],
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Folder of the data cut (default: the one the report names)."),
    ] = None,
) -> None:
    """Rerun a report from its manifest and compare bytes: exit 0 when it reproduces,
    1 when it does not (naming what differs), 2 on bad input."""
    from ._console import out_console
    from .interim_run import reproduce_report

    outcome = reproduce_report(report, data=data, progress=_progress)
    console = out_console()
    if outcome.reproduced:
        console.print(f"{report}: reproduced byte for byte", markup=False, soft_wrap=True)
        return
    for line in outcome.differences:
        sys.stderr.write(f"does not reproduce: {line}\n")
    raise typer.Exit(1)


SIMULATION_TRIALS_LIMIT = 10_000_000
"""Largest ``--trials`` of ``dartnk simulate``."""


def _names(values: list[str] | None) -> list[str] | None:
    """Comma-separated or repeated option values as one list (None when none given)."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@app.command("simulate")
@_guarded(validates_data=True)
def simulate_command(
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Results file (netCDF, *.nc).", dir_okay=False),
    ] = None,
    designs: Annotated[
        str,
        typer.Option(
            "--designs", help="Designs, comma-separated: 3+3, BOIN, CRM, BLRM, TITE-BOIN, ..."
        ),
    ] = "3+3,BOIN,CRM",
    scenarios: Annotated[
        list[str] | None,
        typer.Option(
            "--scenarios",
            help="Scenario names of the library or YAML files, comma-separated or repeated "
            "(default: the whole library).",
        ),
    ] = None,
    trials: Annotated[
        int,
        typer.Option(
            "--trials", min=1, max=SIMULATION_TRIALS_LIMIT, help="Trials per design and scenario."
        ),
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Root seed.")] = 2026,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=256, help="Local Dask worker processes."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help=(
                "Address of a Dask scheduler to run on (start its workers with "
                "--no-nanny: the nanny's MALLOC_TRIM_THRESHOLD_ makes chunks ~1.7x slower)."
            ),
        ),
    ] = None,
    draws: Annotated[
        int,
        typer.Option(
            "--draws", min=16, max=20_000, help="Posterior draws per component at the interim."
        ),
    ] = 256,
    chunk: Annotated[
        int,
        typer.Option(
            "--chunk", min=1000, max=1_000_000, help="Trials per task (whole blocks of 1,000)."
        ),
    ] = 5000,
    keep_trials: Annotated[
        bool, typer.Option("--keep-trials", help="Keep per-trial outcomes in the results.")
    ] = False,
    start: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Simulate onward from the data cut in this folder (the 'if we continue' "
            "question): P(each construct selected), remaining N and duration.",
            file_okay=False,
        ),
    ] = None,
    cutoff: CutoffOption = None,
    protocol: ProtocolOption = None,
) -> None:
    """Simulate the whole Phase 1/2 (three arms, interim selection, expansion) under each
    design and scenario, and write the operating characteristics with their Monte Carlo
    standard errors to a netCDF file; with --from, simulate onward from a data cut."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ._console import err_console, out_console, print_frame
    from .simulation_io import write_results

    if workers is not None and scheduler is not None:
        raise InputError("give either --workers (local processes) or --scheduler (an address)")
    if output is not None:
        if output.suffix.lower() not in (".nc", ".nc4", ".netcdf"):
            raise InputError(f"{output}: results are written as netCDF; name the file *.nc")
        if not output.parent.exists():
            raise InputError(f"{output}: folder {output.parent} does not exist")
    elif start is None:
        raise InputError("give -o FILE.nc for the results")
    p = _protocol(protocol)
    names = _names([designs]) or []
    progress = Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} trials"),
        TimeRemainingColumn(),
        console=err_console(),
        transient=False,
    )
    options = {
        "scenarios": _names(scenarios),
        "n_trials": trials,
        "seed": seed,
        "workers": workers,
        "scheduler": scheduler,
        "draws": draws,
        "chunk_trials": chunk,
    }
    bars: list = []

    def report(done: int, total: int) -> None:
        if not bars:
            bars.append(progress.add_task("simulate", total=total))
        progress.update(bars[0], completed=done, total=total)

    with progress:
        if start is not None:
            from .simulation_forward import simulate_forward

            trial = _load_trial(start, p, cutoff)
            if len(names) != 1:
                raise InputError("--from simulates one design: give --designs NAME")
            result = simulate_forward(trial, design=names[0], progress=report, **options)
        else:
            from .simulation import simulate_trials

            result = simulate_trials(
                p, designs=names, keep_trials=keep_trials, progress=report, **options
            )
    if start is not None:
        print_frame(result.summary(), title=result.headline, console=out_console())
        _warn(trial.warnings)
        if output is not None:
            write_results(result.dataset, output)
        return
    write_results(result, output)
    out_console().print(
        f"{output.name}: {len(result['design'])} design(s) x {len(result['scenario'])} "
        f"scenario(s) x {trials:,} trials (content hash {result.attrs['content_hash'][:12]})",
        markup=False,
    )


@app.command("compare")
@_guarded()
def compare_command(
    results: Annotated[
        Path, typer.Argument(help="Results file of dartnk simulate (*.nc).", dir_okay=False)
    ],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Report file: *.html or *.md.", dir_okay=False),
    ],
) -> None:
    """Render the comparison report of a results file (sections in ADEMP order, Morris,
    White and Crowther 2019): selection, dose selection and overdosing per arm, expansion,
    sample size and duration, paired differences between designs, Monte Carlo error."""
    from dartnk.reports import render

    from ._files import write_atomic
    from .simulation_io import read_results
    from .simulation_report import comparison_document

    if output.suffix.lower() not in (".html", ".htm", ".md", ".markdown"):
        raise InputError(f"{output}: the report is written as *.html or *.md")
    if not output.parent.exists():
        raise InputError(f"{output}: folder {output.parent} does not exist")
    import hashlib

    dataset = read_results(results)
    digest = hashlib.sha256(results.read_bytes()).hexdigest()
    command = ("dartnk", "compare", results.name, "-o", output.name)
    document = comparison_document(
        dataset, command=command, source=results.name, source_sha256=digest
    )
    write_atomic(output, render(document, output.name))
    from ._console import out_console

    out_console().print(f"{output.name}: comparison report of {results.name}", markup=False)


def main() -> None:
    """Entry point of the ``dartnk`` console script.

    When the command is done, its output is flushed and the exit handlers run (workers
    stopped, temporary folders removed), and the process then ends at once (see
    :func:`_end`) rather than through the interpreter's teardown, which after an interim
    analysis takes more than a second to free the fits' compiled functions.
    """
    try:
        app()
    except SystemExit as stop:
        _end(stop.code)
    _end(0)


def _end(code: object) -> None:
    """End the process with exit status ``code`` (``None`` is 0; text is printed to
    standard error and is 1, as ``sys.exit`` does). Without the interpreter's teardown
    only when no other thread is running; otherwise through ``sys.exit``."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    if threading.active_count() > 1:
        sys.exit(status)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
