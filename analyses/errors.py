"""Errors raised for bad user input (files, tables, protocol, arguments).

The command line turns an :class:`InputError` into exit code 2 and its message on stderr,
with no traceback; anything else is an internal error (exit code 1).
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input from a user. ``problems`` holds one line per problem found."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems) if problems else message.splitlines()
        super().__init__(message)
