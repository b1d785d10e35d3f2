"""The precompiled header of the model-fitting workers: GCC uses it for PyTensor's own
modules, it is made again when anything it was made from changes, and a header that
cannot be made leaves none behind."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dartnk.analyses._compile_header import HEADER_NAME, precompiled_header

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")


def test_pytensor_compiles_its_modules_with_the_header(tmp_path):
    """A compiler wrapper that asks GCC to list the headers it opens (``-H``) shows the
    precompiled header loaded ("!") for a module PyTensor compiles in a fresh directory."""
    listing = tmp_path / "headers.txt"
    wrapper = tmp_path / "bin" / "g++"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("g++")} "$@" -H 2>>"{listing}"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    script = textwrap.dedent(
        """
        import pytensor
        import pytensor.tensor as pt
        from dartnk.analyses._compile_header import use_precompiled_header

        folder = use_precompiled_header()
        x = pt.vector("x")
        f = pytensor.function([x], pt.exp(x) * 2.0 + 1.0)
        print(folder, float(f([0.0])[0]))
        """
    )
    flags = f"compiledir={tmp_path / 'compiled'},cxx={wrapper}"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTENSOR_FLAGS=flags),
        check=True,
    )
    folder, value = done.stdout.split()
    assert float(value) == 3.0
    assert f"! {folder}/{HEADER_NAME}" in listing.read_text().splitlines()


def test_the_header_is_made_again_when_a_header_it_read_changed(tmp_path):
    folder = precompiled_header(tmp_path)
    assert folder is not None and (folder / HEADER_NAME).is_file()
    made = (folder / HEADER_NAME).stat().st_mtime_ns
    assert precompiled_header(tmp_path) == folder
    assert (folder / HEADER_NAME).stat().st_mtime_ns == made
    manifest = json.loads((folder / "manifest.json").read_text())
    assert any(Path(entry[0]).name == "Python.h" for entry in manifest["headers"])
    manifest["headers"][0][2] -= 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert precompiled_header(tmp_path) == folder
    assert (folder / HEADER_NAME).stat().st_mtime_ns != made
    restored = json.loads((folder / "manifest.json").read_text())
    assert restored["headers"][0][2] == manifest["headers"][0][2] + 1


def test_a_header_that_cannot_be_made_leaves_none_behind(tmp_path):
    folder = precompiled_header(tmp_path)
    assert folder is not None
    assert precompiled_header(tmp_path, compiler=shutil.which("false") or "false") is None
    assert not (folder / HEADER_NAME).exists()
    assert precompiled_header(tmp_path, compiler="") is None
