"""Writing files so that nothing is ever half-written: write beside, then rename.

One file (:func:`write_atomic`) goes through a temporary file in its folder. A set of files
(:func:`write_folder_atomic`) is written whole into a temporary folder beside the target;
every destination is checked before anything moves; the files then replace their
destinations one by one, the replaced files kept aside, and a move that fails puts every
file back, so the target folder ends either with the whole new set or exactly as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import InputError

__all__ = ["write_atomic", "write_folder_atomic"]


_FILE_MODE = 0o666


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"{path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; expected a file name to write")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise InputError(f"{path}: cannot write in {path.parent} ({error.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, _FILE_MODE & ~_umask())
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write ({error.strerror}); nothing written") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _parent(directory: Path) -> Path:
    parent = directory.parent if str(directory.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{directory}: parent folder {parent} does not exist")
    return parent


def _check_destinations(
    directory: Path, names: list[str], remove: list[str], *, overwrite: bool
) -> None:
    """Every problem a move could meet, as one InputError, before anything moves."""
    problems = []
    folder_ok = directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)
    if directory.exists() and not folder_ok:
        problems.append(f"{directory}: cannot write in this folder (permission denied)")
    clashes = []
    for name in [*names, *remove]:
        target = directory / name
        if target.is_dir() and not target.is_symlink():
            problems.append(f"{target}: is a folder; expected a table file or nothing")
        elif target.exists() or target.is_symlink():
            clashes.append(name)
    if clashes and not overwrite:
        problems.append(
            f"{directory}: already holds {', '.join(clashes)}; "
            f"choose an empty folder or pass --overwrite"
        )
    if problems:
        raise InputError("\n".join(problems), problems)


def _move_into_place(directory: Path, staging: Path, names: list[str], remove: list[str]) -> None:
    """Replace the destinations by the staged files; on a failed move put everything back."""
    backup = staging / ".replaced"
    backup.mkdir()
    created = not directory.exists()
    kept: list[str] = []
    placed: list[str] = []
    try:
        if created:
            directory.mkdir()
        for name in [*remove, *names]:
            if (directory / name).exists() or (directory / name).is_symlink():
                os.replace(directory / name, backup / name)
                kept.append(name)
        for name in names:
            os.replace(staging / name, directory / name)
            placed.append(name)
    except OSError as error:
        _roll_back(directory, backup, placed, kept, created=created)
        raise InputError(
            f"{directory}: cannot move {error.filename or 'a file'} into place "
            f"({error.strerror}); the folder is left as it was"
        ) from None


def _roll_back(
    directory: Path, backup: Path, placed: Iterable[str], kept: Iterable[str], *, created: bool
) -> None:
    for name in placed:
        (directory / name).unlink(missing_ok=True)
    for name in kept:
        os.replace(backup / name, directory / name)
    if created and directory.is_dir():
        directory.rmdir()


def write_folder_atomic(
    directory: str | Path,
    write: Callable[[Path], list[str]],
    *,
    overwrite: bool = False,
    remove: Iterable[str] = (),
) -> list[Path]:
    """Let ``write`` fill a temporary folder, then move the whole set into ``directory``.

    Parameters
    ----------
    directory : str or Path
        Target folder; created if missing (its parent must exist).
    write : callable
        Receives the temporary folder (beside ``directory``, on the same file system) and
        returns the names of the files it wrote there.
    overwrite : bool, default False
        Replace files of the same names; without it an existing one is an error.
    remove : iterable of str
        Other files of ``directory`` to delete with the same all-or-nothing guarantee
        (e.g. a table in the other format); an existing one needs ``overwrite``.

    Returns
    -------
    list of Path
        The files written, in the order ``write`` named them.

    Raises
    ------
    InputError
        When ``directory`` is not a folder, its parent does not exist, a file cannot be
        written, a destination is a folder or cannot be written, a file exists without
        ``overwrite``, or a move fails (the files already moved are then put back). The
        folder is then exactly as it was.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: exists and is not a folder")
    parent = _parent(directory)
    remove = [name for name in remove if (directory / name).exists()]
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=parent))
    except OSError as error:
        raise InputError(f"{directory}: cannot write in {parent} ({error.strerror})") from None
    try:
        try:
            names = write(staging)
        except OSError as error:
            raise InputError(
                f"{directory}: cannot write {Path(error.filename or '').name or 'a file'} "
                f"({error.strerror}); the folder is left as it was"
            ) from None
        _check_destinations(directory, names, remove, overwrite=overwrite)
        _move_into_place(directory, staging, names, remove)
        return [directory / name for name in names]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
