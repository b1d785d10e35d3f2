"""Writing files so that nothing is ever half-written: write beside, then rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import InputError

__all__ = ["write_atomic", "write_folder_atomic"]


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"{path}: folder {path.parent} does not exist")
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_folder_atomic(
    directory: str | Path,
    write: Callable[[Path], list[str]],
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Let ``write`` fill a temporary folder, then move its files into ``directory``.

    ``write`` receives the temporary folder and returns the file names it wrote. Existing
    files of the same names are an error unless ``overwrite``; on any failure the target
    folder is left as it was.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: exists and is not a folder")
    parent = directory.parent if directory.parent != Path("") else Path(".")
    if not parent.exists():
        raise InputError(f"{directory}: parent folder {parent} does not exist")
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=parent))
    try:
        names = write(staging)
        clashes = [name for name in names if (directory / name).exists()]
        if clashes and not overwrite:
            raise InputError(
                f"{directory}: already holds {', '.join(clashes)}; "
                f"choose an empty folder or pass --overwrite"
            )
        directory.mkdir(exist_ok=True)
        for name in names:
            os.replace(staging / name, directory / name)
        return [directory / name for name in names]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
