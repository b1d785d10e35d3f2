"""Fits run one after another in the test processes, which pytest-xdist already spreads
over the cores; tests of the worker processes ask for them explicitly."""

from __future__ import annotations

import os

os.environ.setdefault("DARTNK_WORKERS", "1")
