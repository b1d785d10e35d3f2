"""Entry point of the ``dartnk`` console script; the commands live in
:mod:`dartnk.analyses.cli`."""

from __future__ import annotations


def main() -> None:
    """Run the ``dartnk`` command line."""
    from dartnk.analyses.cli import main as _main

    _main()
