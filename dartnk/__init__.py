"""dartnk: Bayesian adaptive design analysis for the DART-NK-SCLC Phase 1/2 trial.

Subpackages: :mod:`dartnk.adaptive` (design rules), :mod:`dartnk.models` (statistical
models), :mod:`dartnk.analyses` (protocol, trial data, workflows, command line) and
:mod:`dartnk.reports` (rendering).
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed distribution on first use (reading package
    metadata takes tens of milliseconds, which the command line's start-up avoids)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("dartnk")
    except PackageNotFoundError:  # running from a source tree that was never installed
        value = "0+unknown"
    globals()["__version__"] = value
    return value
