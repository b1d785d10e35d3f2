"""Workflows: the protocol, trial data, analyses and the command line of dartnk."""

from .derive import best_overall_response, default_cutoff, derive_patients, expansion_summary
from .errors import InputError
from .example_data import example_data, write_example_data
from .expansion import (
    ExpansionAnalysis,
    ExpansionDesigns,
    analyse_expansion,
    expansion_designs,
    predictive_design,
    toxicity_monitor,
)
from .expansion_survival import ExpansionSurvival, analyse_expansion_survival
from .generator import generate_trial
from .protocol import Protocol, ProtocolError, default_protocol, load_protocol
from .scenario import Scenario, ScenarioError, default_scenario, load_scenario
from .tables import (
    OPTIONAL_TABLES,
    REQUIRED_TABLES,
    TABLES,
    data_dictionary,
    data_dictionary_markdown,
    table_schema,
    table_schemas,
)
from .trial import EscalationData, TrialData, load_trial
from .validation import DataError, ValidatedTables, validate_tables

__all__ = [
    "OPTIONAL_TABLES",
    "REQUIRED_TABLES",
    "TABLES",
    "DataError",
    "EscalationData",
    "ExpansionAnalysis",
    "ExpansionDesigns",
    "ExpansionSurvival",
    "InputError",
    "Protocol",
    "ProtocolError",
    "Scenario",
    "ScenarioError",
    "TrialData",
    "ValidatedTables",
    "analyse_expansion",
    "analyse_expansion_survival",
    "best_overall_response",
    "data_dictionary",
    "data_dictionary_markdown",
    "default_cutoff",
    "default_protocol",
    "default_scenario",
    "derive_patients",
    "example_data",
    "expansion_designs",
    "expansion_summary",
    "generate_trial",
    "load_protocol",
    "load_scenario",
    "load_trial",
    "predictive_design",
    "table_schema",
    "table_schemas",
    "toxicity_monitor",
    "validate_tables",
    "write_example_data",
]
