"""dartnk: Bayesian adaptive design analysis for the DART-NK-SCLC Phase 1/2 trial.

Subpackages: :mod:`dartnk.adaptive` (design rules), :mod:`dartnk.models` (statistical
models), :mod:`dartnk.analyses` (protocol, trial data, workflows, command line) and
:mod:`dartnk.reports` (rendering).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dartnk")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
