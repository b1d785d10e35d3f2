"""A precompiled header for the C modules PyTensor compiles in a model-fitting worker.

PyTensor compiles each operation of a model's graph into its own C++ module, and every
module starts with the same headers (``Python.h``, NumPy's array API, ``math.h``, the
C++ ``<algorithm>`` and ``<vector>``). Parsing them is about a third of the compiler's time
per module on this kind of machine, and a fresh compile directory needs some 150 modules
for the interim's models. GCC can load those headers' parsed state from a precompiled
header instead (GCC manual, "Using Precompiled Headers"): it looks for ``Python.h.gch``
in each include directory before ``Python.h``, so a directory holding one, placed first
on the include path, serves every module. GCC checks that the header was made by the
same compiler with compatible options and otherwise ignores it and parses the headers
as usual; the compiled code is the same either way.

GCC does not check that the headers are unchanged since the precompiled header was
made, so it is made again whenever the compiler, its options or any header it read (by
path, size and modification time) differ from those recorded beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["HEADER_NAME", "module_flags", "precompiled_header", "use_precompiled_header"]

HEADER_NAME = "Python.h.gch"
_SOURCE = """\
#include <Python.h>
#include "pytensor_mod_helper.h"
#include <math.h>
#include <numpy/arrayobject.h>
#include <numpy/arrayscalars.h>
#include <numpy/npy_math.h>
#include <algorithm>
#include <vector>
"""
_MANIFEST = "manifest.json"
_FOLDER = "dartnk-pch"


def module_flags() -> list[str]:
    """The options with which PyTensor compiles an operation's C module, before its
    include directories: ``-g``, the optimisation options every C linker adds
    (``CLinker.compile_args``), then the compiler's own (machine and user flags)."""
    from pytensor.configdefaults import config
    from pytensor.link.c.cmodule import GCC_compiler, std_include_dirs

    linker = [
        "-O3",
        "-fno-math-errno",
        "-Wno-unused-label",
        "-Wno-unused-variable",
        "-Wno-write-strings",
    ]
    if config.cmodule__remove_gxx_opt:
        linker = [flag for flag in linker if not flag.startswith("-O")]
    flags = ["-g", *linker, *GCC_compiler.compile_args()]
    return flags + [f"-I{directory}" for directory in std_include_dirs()]


def _dependencies(listing: str) -> list[str]:
    """The prerequisites of a make rule written by ``-MD`` (``target: a b \\`` lines)."""
    body = listing.split(":", 1)[1] if ":" in listing else ""
    return [part for part in body.replace("\\\n", " ").split() if part != "\\"]


def _stamp(path: str) -> list[object]:
    status = os.stat(path)
    return [os.path.realpath(path), status.st_size, status.st_mtime_ns]


def _record(compiler: str, flags: list[str]) -> dict[str, object]:
    resolved = shutil.which(compiler) or compiler
    return {"compiler": _stamp(resolved), "flags": flags, "source": _SOURCE}


def _current(folder: Path, expected: dict[str, object]) -> bool:
    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
        if not (folder / HEADER_NAME).is_file():
            return False
        if any(manifest.get(key) != value for key, value in expected.items()):
            return False
        return all(_stamp(entry[0]) == entry for entry in manifest["headers"])
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return False


def precompiled_header(directory: Path, *, compiler: str | None = None) -> Path | None:
    """Make, or find current, a precompiled header for PyTensor's C modules.

    Parameters
    ----------
    directory : Path
        Where to keep it (a folder ``dartnk-pch`` is made inside): the compile directory.
    compiler : str, optional
        The C++ compiler; PyTensor's ``cxx`` setting when None.

    Returns
    -------
    Path or None
        The folder holding ``Python.h.gch``, to put first on the include path; None when
        PyTensor has no C++ compiler or the header cannot be made (modules then compile as
        usual), in which case no earlier header is left behind.
    """
    from pytensor.configdefaults import config

    compiler = compiler if compiler is not None else config.cxx
    if not compiler:
        return None
    folder = Path(directory) / _FOLDER
    flags = module_flags()
    expected = _record(compiler, flags)
    if _current(folder, expected):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        source = Path(scratch) / "dartnk_pch.h"
        source.write_text(_SOURCE, encoding="utf-8")
        built = Path(scratch) / HEADER_NAME
        listing = Path(scratch) / "dependencies"
        command = [compiler, "-x", "c++-header", *flags, str(source), "-o", str(built)]
        command += ["-MD", "-MF", str(listing)]
        try:
            done = subprocess.run(command, capture_output=True, check=False)
        except OSError:
            done = None
        if done is None or done.returncode != 0 or not built.is_file():
            (folder / HEADER_NAME).unlink(missing_ok=True)
            return None
        try:
            headers = [
                _stamp(path)
                for path in _dependencies(listing.read_text(encoding="utf-8"))
                if Path(path) != source
            ]
        except OSError:
            (folder / HEADER_NAME).unlink(missing_ok=True)
            return None
        os.replace(built, folder / HEADER_NAME)
        staged = Path(scratch) / _MANIFEST
        staged.write_text(json.dumps({**expected, "headers": headers}), encoding="utf-8")
        os.replace(staged, folder / _MANIFEST)
    return folder


def use_precompiled_header() -> Path | None:
    """Make the precompiled header in PyTensor's compile directory and put its folder
    first on the include path of every module this process compiles (PyTensor's
    ``gcc__cxxflags``); the folder, or None when there is none."""
    from pytensor.configdefaults import config

    folder = precompiled_header(Path(config.compiledir))
    if folder is not None:
        config.gcc__cxxflags = f"-I{folder} {config.gcc__cxxflags}".strip()
    return folder
