"""Workflows: the protocol, trial data, analyses and the command line of dartnk.

Public names load their module on first use, so that the command line starts without
pandas, SciPy, pandera or PyMC and each command imports only what it needs.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_EXPORTS: dict[str, str] = {
    "analyse_expansion": ".expansion",
    "ArmSimulation": ".simulation_arm",
    "analyse_expansion_survival": ".expansion_survival",
    "best_overall_response": ".derive",
    "blrm_prior": ".model_inputs",
    "build_design": ".designs",
    "build_designs": ".designs",
    "comparison_document": ".simulation_report",
    "crm_inputs": ".model_inputs",
    "data_dictionary": ".tables",
    "data_dictionary_markdown": ".tables",
    "DataError": ".validation",
    "default_cutoff": ".derive",
    "default_protocol": ".protocol",
    "default_scenario": ".scenario",
    "derive_patients": ".derive",
    "DESIGN_NAMES": ".designs",
    "diagnostic_gates": ".model_inputs",
    "dlt_data": ".model_inputs",
    "EscalationData": ".trial",
    "example_data": ".example_data",
    "expansion_designs": ".expansion",
    "expansion_summary": ".derive",
    "ExpansionAnalysis": ".expansion",
    "ExpansionDesigns": ".expansion",
    "ExpansionSurvival": ".expansion_survival",
    "ForwardSimulation": ".simulation_forward",
    "generate_trial": ".generator",
    "InputError": ".errors",
    "interim": ".interim",
    "InterimAnalysis": ".interim",
    "kinetics_data": ".model_inputs",
    "kinetics_inputs": ".model_inputs",
    "kinetics_prior": ".model_inputs",
    "kinetics_summary": ".derive",
    "load_protocol": ".protocol",
    "load_scenario": ".scenario",
    "load_trial": ".trial",
    "lot_data": ".model_inputs",
    "manufacturing_inputs": ".model_inputs",
    "manufacturing_prior": ".model_inputs",
    "OPTIONAL_TABLES": ".tables",
    "predictive_design": ".expansion",
    "qualification_document": ".qualification_report",
    "Qualification": ".qualification",
    "qualify": ".qualification",
    "load_cases": ".qualification_cases",
    "CaseFile": ".qualification_cases",
    "Protocol": ".protocol",
    "ProtocolError": ".protocol",
    "read_results": ".simulation_io",
    "recommend": ".recommendation",
    "Recommendation": ".recommendation",
    "REQUIRED_TABLES": ".tables",
    "response_data": ".model_inputs",
    "response_inputs": ".model_inputs",
    "response_prior": ".model_inputs",
    "sampling_plan": ".model_inputs",
    "sampling_settings": ".model_inputs",
    "Scenario": ".scenario",
    "simulate_arm": ".simulation_arm",
    "simulate_forward": ".simulation_forward",
    "simulate_trials": ".simulation",
    "scenario_library": ".simulation_scenarios",
    "ScenarioError": ".scenario",
    "survival_data": ".model_inputs",
    "survival_inputs": ".model_inputs",
    "survival_prior": ".model_inputs",
    "table_schema": ".tables",
    "table_schemas": ".tables",
    "TABLES": ".tables",
    "toxicity_inputs": ".model_inputs",
    "toxicity_monitor": ".expansion",
    "TrialData": ".trial",
    "validate_tables": ".validation",
    "ValidatedTables": ".validation",
    "write_example_data": ".example_data",
    "write_results": ".simulation_io",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """The package module: a public name that is also the name of its submodule
    (``example_data``) stays the function when the import system binds the submodule."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}":
            value = getattr(value, name, value) if name in _EXPORTS else value
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
