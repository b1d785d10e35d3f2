"""Workflows: the protocol, trial data, analyses and the command line of dartnk."""

from .errors import InputError
from .protocol import Protocol, ProtocolError, default_protocol, load_protocol

__all__ = [
    "InputError",
    "Protocol",
    "ProtocolError",
    "default_protocol",
    "load_protocol",
]
