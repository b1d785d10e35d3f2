"""Running an interim analysis from files, and reproducing a report from its manifest.

What the ``interim``, ``demo`` and ``reproduce`` commands share: the SHA-256 of every input
file, the canonical command a report records (so that a rerun renders the same bytes), and
the comparison of a rerun with the report on disk.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = [
    "Reproduction",
    "file_digests",
    "interim_command",
    "reproduce_report",
    "run_interim",
    "start_fit_workers",
]

DEMO_DATA = "embedded example"


def file_digests(directory: Path) -> dict[str, str]:
    """SHA-256 of every table file (``<table>.csv`` or ``<table>.parquet``) in a folder."""
    from .tables import TABLES

    out = {}
    for table in TABLES:
        for ext in ("csv", "parquet"):
            path = directory / f"{table}.{ext}"
            if path.is_file():
                out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def interim_command(
    directory: str,
    output: str,
    *,
    seed: int,
    cutoff: int | None,
    protocol: str | None,
    demo: bool = False,
) -> tuple[str, ...]:
    """The canonical command line a report records (options in a fixed order)."""
    if demo:
        command = ["dartnk", "demo", "-o", output, "--seed", str(seed)]
    else:
        command = ["dartnk", "interim", directory, "-o", output, "--seed", str(seed)]
    if cutoff is not None:
        command += ["--cutoff", str(cutoff)]
    if protocol is not None:
        command += ["--protocol", protocol]
    return tuple(command)


def start_fit_workers() -> None:
    """Start the model-fitting workers now, so that they load PyMC while this process
    loads its own modules and reads and validates the data
    (:func:`dartnk.analyses._fit_pool.prestart`); starting them again does nothing.

    Raises
    ------
    InputError
        When ``DARTNK_WORKERS`` is not a whole number >= 1.
    """
    from ._fit_pool import INTERIM_MODELS, default_workers, prestart

    try:
        workers = default_workers(len(INTERIM_MODELS))
    except ValueError as error:
        raise InputError(str(error)) from None
    prestart(workers)


def run_interim(
    directory: Path,
    output: Path,
    *,
    protocol: Any,
    seed: int,
    cutoff: int | None,
    command: tuple[str, ...],
    progress: Callable[[str], None],
    load: Callable[..., Any],
) -> Any:
    """Validate the cut in ``directory``, run the interim analysis and write its report to
    ``output`` with the files' digests and ``command`` in the manifest; the analysis."""
    from .interim import interim

    if output.suffix.lower() not in (".html", ".htm", ".md", ".markdown"):
        raise InputError(f"{output}: the report must end in .html or .md")
    if not output.parent.exists():
        raise InputError(f"{output}: folder {output.parent} does not exist")
    start_fit_workers()
    digests = file_digests(directory)
    trial = load(directory, protocol, cutoff)
    progress(f"data cut validated: {len(trial.patients)} patients at study day {trial.cutoff}")
    analysis = interim(trial, seed=seed, progress=progress)
    analysis.render(output, command=command, inputs=digests)
    progress(f"report written: {output}")
    return analysis


@dataclass(frozen=True)
class Reproduction:
    """The outcome of rerunning a report: ``reproduced`` and, when not, what differs."""

    reproduced: bool
    differences: tuple[str, ...]


def reproduce_report(
    report: Path, *, data: Path | None, progress: Callable[[str], None]
) -> Reproduction:
    """Rerun the analysis a report's manifest records and compare the bytes.

    The inputs are the files of ``data`` (default: the folder the report's command names;
    the embedded example for a demo report); a file whose SHA-256 differs from the
    manifest's, or is missing, is named and nothing is rerun. The protocol is the one the
    manifest holds (its hash checked), with the same seed and cut-off; the rerun is
    rendered in the report's format with the report's command and compared byte for byte,
    and the sections that differ are named.

    Raises
    ------
    InputError
        When the report cannot be read or holds no valid manifest.
    """
    from dartnk.reports import diff_sections, read_manifest

    from .example_data import write_example_data
    from .protocol import protocol_from_dict
    from .trial import load_trial

    try:
        text = report.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{report}: no such report") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{report}: cannot read the report ({error})") from None
    try:
        manifest = read_manifest(text)
    except ValueError as error:
        raise InputError(f"{report}: {error}") from None
    command = tuple(manifest.get("command") or ())
    settings: Mapping[str, Any] = manifest.get("settings") or {}
    if len(command) < 2 or command[1] not in ("interim", "demo"):
        raise InputError(f"{report}: the manifest records no interim or demo command")
    protocol = protocol_from_dict(manifest.get("protocol"), source=f"{report} manifest")
    if protocol.content_hash != manifest.get("protocol_hash"):
        return Reproduction(False, ("the protocol in the manifest does not match its hash",))
    seed = int(_option(command, "--seed", "2026"))
    cutoff = settings.get("cutoff")
    with tempfile.TemporaryDirectory(prefix="dartnk-reproduce-") as tmp:
        if data is None and command[1] == "demo":
            folder = Path(tmp) / "example"
            write_example_data(folder)
        elif data is None:
            folder = Path(command[2])
        else:
            folder = data
        if not folder.is_dir():
            raise InputError(f"{folder}: no such data folder (give it with --data DIR)")
        recorded: Mapping[str, str] = manifest.get("inputs") or {}
        now = file_digests(folder)
        changed = [
            f"input {name}: SHA-256 {digest[:12]}... in the report, "
            + (f"{now[name][:12]}... now" if name in now else "the file is missing")
            for name, digest in sorted(recorded.items())
            if now.get(name) != digest
        ]
        changed += [f"input {name}: not in the report" for name in sorted(set(now) - set(recorded))]
        if changed:
            return Reproduction(False, tuple(changed))
        from .interim import interim

        start_fit_workers()
        trial = load_trial(folder, protocol=protocol, cutoff=cutoff)
        progress(f"rerunning the interim analysis at study day {trial.cutoff}, seed {seed}")
        analysis = interim(trial, seed=seed, progress=progress)
        from dartnk.reports import render

        again = render(analysis.document(command=command, inputs=now), report.suffix)
    if again == text:
        return Reproduction(True, ())
    return Reproduction(False, tuple(f"section {s} differs" for s in diff_sections(text, again)))


def _option(command: tuple[str, ...], name: str, default: str) -> str:
    if name in command:
        index = command.index(name)
        if index + 1 < len(command):
            return command[index + 1]
    return default
