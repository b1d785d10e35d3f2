"""Simulation results files: netCDF written atomically, read back with its content hash
checked."""

from __future__ import annotations

import io
from pathlib import Path

import xarray as xr

from ._files import write_atomic
from .errors import InputError
from .simulation_results import content_hash, manifest_of

__all__ = ["read_results", "write_results"]

_NETCDF_MAGIC = (b"\x89HDF\r\n\x1a\n", b"CDF\x01", b"CDF\x02")


def write_results(dataset: xr.Dataset, path: str | Path) -> Path:
    """Write a results Dataset as netCDF (HDF5) to ``path``, all or nothing."""
    path = Path(path)
    if path.suffix.lower() not in (".nc", ".nc4", ".netcdf"):
        raise InputError(f"{path}: results are written as netCDF; name the file *.nc")
    data = bytes(dataset.to_netcdf(engine="h5netcdf"))
    return write_atomic(path, data)


def read_results(path: str | Path) -> xr.Dataset:
    """Read a results file written by :func:`write_results`.

    Raises
    ------
    InputError
        When the file is missing, not netCDF, not simulation results, or its data no longer
        match the content hash stored when it was written.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read the results file ({error.strerror})") from None
    if not data.startswith(_NETCDF_MAGIC):
        raise InputError(f"{path}: is not a netCDF file; expected the output of dartnk simulate")
    try:
        dataset = xr.load_dataset(io.BytesIO(data), engine="h5netcdf")
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot read it as netCDF ({error})") from None
    try:
        manifest_of(dataset)
    except ValueError as error:
        raise InputError(f"{path}: {error}; expected the output of dartnk simulate") from None
    stored = dataset.attrs.get("content_hash")
    if stored != content_hash(dataset):
        raise InputError(
            f"{path}: its data do not match the content hash stored when it was written "
            f"({str(stored)[:12]}...); the file was changed"
        )
    return dataset
