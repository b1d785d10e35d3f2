"""Workflows: the protocol, trial data, analyses and the command line of dartnk."""

from .derive import best_overall_response, default_cutoff, derive_patients, expansion_summary
from .errors import InputError
from .protocol import Protocol, ProtocolError, default_protocol, load_protocol
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
    "InputError",
    "Protocol",
    "ProtocolError",
    "TrialData",
    "ValidatedTables",
    "best_overall_response",
    "data_dictionary",
    "data_dictionary_markdown",
    "default_cutoff",
    "default_protocol",
    "derive_patients",
    "expansion_summary",
    "load_protocol",
    "load_trial",
    "table_schema",
    "table_schemas",
    "validate_tables",
]
