"""The manifest of a report: what went in, so that the report can be traced and rerun.

A :class:`Manifest` holds the SHA-256 of every input file, the protocol as run and its
hash, the seeds, the package versions, the command line and any other setting of the run.
It is rendered twice in every report: as a human-readable section and machine-readably,

- in HTML as ``<script type="application/json" id="dartnk-manifest">`` whose JSON has
  ``<``, ``>`` and ``&`` written as ``\\u003c``, ``\\u003e``, ``\\u0026``, so that no value
  (not even ``</script>``) can end the element early;
- in Markdown as a fenced ``json`` block on the line after ``<!-- dartnk:manifest -->``.

:func:`read_manifest` reads either back into the dictionary of :meth:`Manifest.to_dict`.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import MappingProxyType
from typing import Any

__all__ = [
    "DEFAULT_PACKAGES",
    "MANIFEST_SCHEMA",
    "Manifest",
    "environment_versions",
    "read_manifest",
]

MANIFEST_SCHEMA = "dartnk-manifest/1"
DEFAULT_PACKAGES: tuple[str, ...] = ("dartnk", "numpy", "pymc", "pytensor", "arviz", "pandas")

HTML_OPEN = '<script type="application/json" id="dartnk-manifest">'
HTML_CLOSE = "</script>"
MARKDOWN_MARKER = "<!-- dartnk:manifest -->"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_HTML_PATTERN = re.compile(re.escape(HTML_OPEN) + r"\n?(.*?)" + re.escape(HTML_CLOSE), re.S)
_MARKDOWN_PATTERN = re.compile(
    r"^" + re.escape(MARKDOWN_MARKER) + r"\n(`{3,})json\n(.*?)\n\1$", re.S | re.M
)
_HTML_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def _canonical(value: Any, what: str) -> Any:
    """A private copy of ``value`` in JSON types with every mapping's keys sorted."""
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"manifest {what} is not JSON-serialisable: {error}") from None
    return json.loads(text)


def _sorted_mapping(value: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"manifest {what} must be a mapping, not {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"manifest {what}: key {key!r} is not text")
    return MappingProxyType(_canonical(dict(value), what))


@dataclass(frozen=True)
class Manifest:
    """Everything needed to trace a report to its inputs and rerun it.

    Parameters
    ----------
    inputs : mapping of str to str
        Input file name (as the run named it, for instance ``"patients.csv"``) to the
        lower-case hexadecimal SHA-256 of its bytes.
    protocol : mapping, optional
        The protocol as run, every setting included, as JSON-compatible data.
    protocol_hash : str, optional
        The protocol's content hash.
    seeds : mapping of str to int or str
        Root seed and any named seeds of the run.
    versions : mapping of str to str
        Python and package versions (:func:`environment_versions`).
    command : sequence of str
        The command line as run, one argument per item.
    settings : mapping, optional
        Any other input of the run (cut-off day, output format), JSON-compatible.

    Notes
    -----
    Every mapping is stored with its keys sorted (recursively for the protocol and the
    settings), so the same run gives the same manifest bytes whatever order the caller
    built its dictionaries in. NaN and infinity are refused, since JSON has neither.
    """

    inputs: Mapping[str, str] = field(default_factory=dict)
    protocol: Mapping[str, Any] | None = None
    protocol_hash: str | None = None
    seeds: Mapping[str, int | str] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        inputs = _sorted_mapping(self.inputs, "inputs")
        for name, digest in inputs.items():
            if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                raise ValueError(
                    f"manifest input {name!r}: {digest!r} is not a SHA-256 digest "
                    "(64 lower-case hexadecimal digits)"
                )
        seeds = _sorted_mapping(self.seeds, "seeds")
        for name, seed in seeds.items():
            if isinstance(seed, bool) or not isinstance(seed, int | str):
                raise TypeError(f"manifest seed {name!r}: {seed!r} is not an integer or text")
        versions = _sorted_mapping(self.versions, "versions")
        for name, version in versions.items():
            if not isinstance(version, str):
                raise TypeError(f"manifest version of {name!r}: {version!r} is not text")
        if isinstance(self.command, str):
            raise TypeError("manifest command must be a sequence of arguments, not one string")
        command = tuple(self.command)
        for argument in command:
            if not isinstance(argument, str):
                raise TypeError(f"manifest command argument {argument!r} is not text")
        if self.protocol is not None and not isinstance(self.protocol, Mapping):
            raise TypeError("manifest protocol must be a mapping of its settings")
        if self.protocol_hash is not None and not isinstance(self.protocol_hash, str):
            raise TypeError("manifest protocol hash must be text")
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "seeds", seeds)
        object.__setattr__(self, "versions", versions)
        object.__setattr__(self, "command", command)
        object.__setattr__(self, "settings", _sorted_mapping(self.settings, "settings"))
        if self.protocol is not None:
            object.__setattr__(self, "protocol", _sorted_mapping(self.protocol, "protocol"))

    def to_dict(self) -> dict[str, Any]:
        """The manifest as JSON-compatible data, keys in a fixed order: ``schema``,
        ``command``, ``inputs``, ``protocol_hash``, ``protocol``, ``seeds``, ``settings``,
        ``versions``."""
        return {
            "schema": MANIFEST_SCHEMA,
            "command": list(self.command),
            "inputs": dict(self.inputs),
            "protocol_hash": self.protocol_hash,
            "protocol": None
            if self.protocol is None
            else _canonical(dict(self.protocol), "protocol"),
            "seeds": dict(self.seeds),
            "settings": _canonical(dict(self.settings), "settings"),
            "versions": dict(self.versions),
        }

    def to_json(self) -> str:
        """The manifest as indented JSON text (UTF-8, no trailing newline)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)

    @property
    def digest(self) -> str:
        """SHA-256 of :meth:`to_json`, to name this manifest in one word."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Rebuild a manifest from :meth:`to_dict` (or from :func:`read_manifest`)."""
        if data.get("schema") != MANIFEST_SCHEMA:
            raise ValueError(f"manifest schema {data.get('schema')!r} is not {MANIFEST_SCHEMA!r}")
        unknown = sorted(set(data) - set(cls().to_dict()))
        if unknown:
            raise ValueError(f"manifest has unknown entries: {', '.join(unknown)}")
        return cls(
            inputs=data.get("inputs") or {},
            protocol=data.get("protocol"),
            protocol_hash=data.get("protocol_hash"),
            seeds=data.get("seeds") or {},
            versions=data.get("versions") or {},
            command=tuple(data.get("command") or ()),
            settings=data.get("settings") or {},
        )


def environment_versions(packages: Sequence[str] = DEFAULT_PACKAGES) -> dict[str, str]:
    """The Python version and the installed version of each distribution in ``packages``.

    Versions are read from the installed distributions' metadata, so nothing is imported
    (asking for PyMC's version does not load PyMC). A distribution that is not installed is
    reported as ``"not installed"``.
    """
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def manifest_json_for_html(manifest: Manifest) -> str:
    """The manifest's JSON with ``<``, ``>`` and ``&`` escaped, safe inside ``<script>``."""
    text = manifest.to_json()
    for character, escape in _HTML_UNSAFE.items():
        text = text.replace(character, escape)
    return text


def markdown_fence(text: str) -> str:
    """A backtick fence longer than any run of backticks at the start of a line of ``text``."""
    runs = [len(m.group(1)) for m in re.finditer(r"^ {0,3}(`+)", text, re.M)]
    return "`" * max(3, max(runs, default=0) + 1)


def read_manifest(text: str) -> dict[str, Any]:
    """Read the manifest embedded in a rendered HTML or Markdown report.

    Parameters
    ----------
    text : str
        The whole report as rendered by :func:`~dartnk.reports.render_html` or
        :func:`~dartnk.reports.render_markdown`.

    Returns
    -------
    dict
        The manifest as :meth:`Manifest.to_dict` wrote it; ``Manifest.from_dict`` turns it
        back into a :class:`Manifest`.

    Raises
    ------
    ValueError
        When the text holds no manifest, more than one, or one that is not valid JSON of a
        dartnk manifest.
    """
    if text.lstrip().lower().startswith("<!doctype html"):
        found = [m.group(1) for m in _HTML_PATTERN.finditer(text)]
        where = f"a {HTML_OPEN} element"
    else:
        found = [m.group(2) for m in _MARKDOWN_PATTERN.finditer(text)]
        where = f"a json block after {MARKDOWN_MARKER}"
    if not found:
        raise ValueError(f"the report holds no dartnk manifest (expected {where})")
    if len(found) > 1:
        raise ValueError(f"the report holds {len(found)} manifests; expected one")
    try:
        data = json.loads(found[0])
    except json.JSONDecodeError as error:
        raise ValueError(f"the report's manifest is not valid JSON: {error}") from None
    if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA:
        raise ValueError(f"the report's manifest is not a {MANIFEST_SCHEMA} manifest")
    return data
