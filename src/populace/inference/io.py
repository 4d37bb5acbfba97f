"""Save and load fits as netCDF (an ``xarray.DataTree``), atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import xarray as xr

from populace.atomic import atomic_path
from populace.errors import FitError

__all__ = ["save_fit", "load_fit", "FIT_FORMAT"]

FIT_FORMAT = "populace.fit/1"


def save_fit(fit: xr.DataTree, path: str | os.PathLike[str]) -> Path:
    """Write ``fit`` to ``path`` (netCDF via h5netcdf); a temp file is renamed into place."""
    path = Path(path)
    with atomic_path(path, suffix=".nc") as tmp:
        fit.to_netcdf(tmp, engine="h5netcdf")
    return path


def load_fit(path: str | os.PathLike[str]) -> xr.DataTree:
    """Read a fit written by :func:`save_fit` (fully into memory, file closed)."""
    path = Path(path)
    if not path.is_file():
        raise FitError(f"{path}: no such fit file. Fix: run `populace fit STUDY.toml --out {path}` first.")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            fit = tree.load()
    except Exception as exc:  # h5py/netCDF errors are not actionable as is
        raise FitError(f"{path}: not a readable netCDF fit file ({type(exc).__name__}: {exc}).") from None
    if fit.attrs.get("populace_format") != FIT_FORMAT:
        raise FitError(f"{path}: not a populace fit (attribute populace_format missing or unknown).")
    return fit


def fit_attr(fit: xr.DataTree, key: str) -> Any:
    """Decode one JSON attribute of a fit."""
    return json.loads(fit.attrs[key])
