"""The library of DART-NK-SCLC simulation scenarios, and scenarios named on the command line.

The library is a folder of scenario YAML files shipped with the package
(``analyses/data/scenarios``), in the format of :class:`~dartnk.analyses.Scenario`, one
scenario per file named after its ``name``. A user's scenario is a file of the same format;
either is validated, and checked against the protocol, with errors naming the file, the key,
the value and what was expected.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

import yaml

from .errors import InputError
from .protocol import Protocol
from .scenario import Scenario, ScenarioError, load_scenario, scenario_from_dict

__all__ = ["LIBRARY_FOLDER", "library_names", "resolve_scenarios", "scenario_library"]

LIBRARY_FOLDER = "scenarios"


def _library_files() -> list:
    folder = resources.files("dartnk.analyses").joinpath("data", LIBRARY_FOLDER)
    return sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)


def scenario_library() -> dict[str, Scenario]:
    """Every scenario of the embedded library, by name, in file-name order."""
    return dict(_library())


@functools.cache
def _library() -> tuple[tuple[str, Scenario], ...]:
    out = []
    for item in _library_files():
        scenario = scenario_from_dict(
            yaml.safe_load(item.read_text("utf-8")), source=f"embedded {LIBRARY_FOLDER}/{item.name}"
        )
        out.append((scenario.name, scenario))
    return tuple(out)


def library_names() -> tuple[str, ...]:
    """Names of the embedded scenarios."""
    return tuple(scenario_library())


def resolve_scenarios(
    scenarios: Iterable[str | Path | Scenario] | Mapping[str, Scenario] | None,
    protocol: Protocol,
) -> dict[str, Scenario]:
    """Scenarios by name from library names, YAML files or Scenario objects (default: the
    whole library), each checked against ``protocol``.

    Raises
    ------
    InputError
        For an unknown name, a bad file, a scenario that does not fit the protocol, or two
        scenarios of one name.
    """
    library = scenario_library()
    if scenarios is None:
        items: list[tuple[str, Scenario]] = list(library.items())
    elif isinstance(scenarios, Mapping):
        items = [(str(k), v) for k, v in scenarios.items()]
    else:
        items = []
        for entry in scenarios:
            if isinstance(entry, Scenario):
                items.append((entry.name, entry))
                continue
            text = str(entry)
            if text in library:
                items.append((text, library[text]))
                continue
            path = Path(text)
            if path.suffix.lower() in (".yaml", ".yml") or path.exists():
                scenario = load_scenario(path)
                try:
                    scenario.check(protocol)
                except ScenarioError as error:
                    raise ScenarioError(
                        f"{path}: {error}", [f"{path}: {p}" for p in error.problems]
                    ) from None
                items.append((scenario.name, scenario))
                continue
            raise InputError(
                f"scenario {text!r} is neither a scenario of the library ({', '.join(library)}) "
                f"nor a YAML file"
            )
    out: dict[str, Scenario] = {}
    for name, scenario in items:
        if not isinstance(scenario, Scenario):
            raise InputError(f"scenario {name!r} is a {type(scenario).__name__}, not a Scenario")
        if name in out:
            raise InputError(f"two scenarios are named {name!r}; scenario names must differ")
        scenario.check(protocol)
        out[name] = scenario
    if not out:
        raise InputError("no scenario to simulate")
    return out
