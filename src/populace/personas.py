"""Persona sets: an xarray Dataset with dims ``(draw, persona)`` and its pandas / Parquet views."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from populace.atomic import atomic_path
from populace.errors import PersonasError
from populace.study.spec import Study

__all__ = ["persona_dataset", "to_frame", "to_parquet", "write_parquet_stream", "read_parquet", "read_metadata", "open_personas"]


def persona_dataset(
    codes: Mapping[str, np.ndarray],
    study: Study,
    *,
    attrs: Mapping[str, object] | None = None,
) -> xr.Dataset:
    """Wrap level codes as a persona Dataset.

    Parameters
    ----------
    codes
        One integer array of shape ``(draw, persona)`` per attribute of ``study``,
        holding level indices.
    study
        Gives the attribute order and the level labels.
    attrs
        Extra attributes for the Dataset (method, seed, ...).

    Returns
    -------
    xarray.Dataset
        One integer variable per attribute, dims ``(draw, persona)``; each
        variable's ``levels`` attribute lists the labels (JSON) so codes can be read.
    """
    data_vars = {}
    for a in study.attributes:
        arr = np.asarray(codes[a.name])
        if arr.ndim != 2:
            raise ValueError(f"codes for {a.name!r} must be 2-D (draw, persona), got shape {arr.shape}")
        data_vars[a.name] = xr.Variable(
            ("draw", "persona"),
            arr.astype(np.int16),
            attrs={"levels": json.dumps(list(a.levels)), "type": a.type},
        )
    first = data_vars[study.attributes[0].name]
    n_draw, n_persona = first.shape
    ds = xr.Dataset(
        data_vars,
        coords={"draw": np.arange(n_draw), "persona": np.arange(n_persona)},
        attrs=dict(attrs or {}),
    )
    return ds


def levels_of(ds: xr.Dataset, name: str) -> list[str]:
    """Level labels of attribute ``name`` in a persona Dataset."""
    return json.loads(ds[name].attrs["levels"])


def to_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Long pandas view: one row per persona and draw.

    Columns are ``draw`` (int) and one categorical column per attribute holding
    the level labels (ordered categoricals for ordinal attributes).
    """
    n_persona = ds.sizes["persona"]
    out = {"draw": np.repeat(ds["draw"].values.astype(np.int64), n_persona)}
    for name in ds.data_vars:
        levels = levels_of(ds, name)
        dtype = pd.CategoricalDtype(levels, ordered=ds[name].attrs.get("type") == "ordinal")
        out[name] = pd.Categorical.from_codes(ds[name].values.reshape(-1), dtype=dtype)
    return pd.DataFrame(out)


def to_parquet(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write personas to Parquet atomically (temp file, then rename).

    One column per attribute holding the level labels, plus an integer ``draw``
    column. The Dataset's attributes are kept in the file's metadata.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    table = pa.Table.from_pandas(to_frame(ds), preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"populace"] = json.dumps({k: _jsonable(v) for k, v in ds.attrs.items()}).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def write_parquet_stream(
    chunks: Iterable[tuple[int, Mapping[str, np.ndarray]]],
    study: Study,
    path: str | os.PathLike[str],
    *,
    attrs: Mapping[str, object] | None = None,
    partition_columns: tuple[str, ...] = (),
    extra_fields: Sequence[Any] = (),
    extra_columns: Callable[[int, Mapping[str, np.ndarray]], Sequence[Any]] | None = None,
    closing_attrs: Callable[[], Mapping[str, object]] | None = None,
) -> tuple[Path, int]:
    """Write persona chunks to one Parquet file, one row group per chunk, atomically.

    Parameters
    ----------
    chunks
        ``(draw, codes)`` pairs: ``codes`` maps each attribute to level codes.
    study
        Attribute order and level labels.
    path
        Output file; written to a temp file and renamed only when complete.
    attrs
        Kept as JSON in the file's metadata.
    partition_columns
        Columns (``draw`` and attribute names) left out of the file because a partitioned
        dataset holds them in its folder names (``draw=3/state=OH/part-00000.parquet``).
    extra_fields, extra_columns
        More columns after the attributes (a persona library's ``persona_id`` and ``text``):
        their ``pyarrow`` fields, and a function of ``(draw, codes)`` giving one array per
        field for that chunk.
    closing_attrs
        Called once every chunk is written: more attrs, known only then (what each
        posterior draw recorded), kept in the file's footer under ``populace_closing``
        (:func:`read_metadata` joins both).

    Returns
    -------
    The path and the number of rows written. Columns are as in :func:`to_parquet`:
    ``draw`` (int64) and one dictionary-coded label column per attribute, so memory
    holds one chunk at a time.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    attributes = [a for a in study.attributes if a.name not in partition_columns]
    with_draw = "draw" not in partition_columns
    dicts = {a.name: pa.array(list(a.levels), pa.string()) for a in attributes}
    fields = [pa.field("draw", pa.int64())] * with_draw + [
        pa.field(a.name, pa.dictionary(pa.int16(), pa.string(), ordered=a.type == "ordinal")) for a in attributes
    ] + list(extra_fields)
    schema = pa.schema(fields, metadata={b"populace": json.dumps({k: _jsonable(v) for k, v in (attrs or {}).items()}).encode()})
    rows = 0
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for draw, codes in chunks:
            n = len(next(iter(codes.values())))
            cols = [pa.array(np.full(n, draw, dtype=np.int64))] * with_draw + [
                pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes[a.name], np.int16)), dicts[a.name], ordered=a.type == "ordinal")
                for a in attributes
            ]
            if extra_columns is not None:
                cols += list(extra_columns(draw, codes))
            writer.write_table(pa.Table.from_arrays(cols, schema=schema))
            rows += n
        if closing_attrs is not None:
            writer.add_key_value_metadata({"populace_closing": json.dumps({k: _jsonable(v) for k, v in closing_attrs().items()})})
    return path, rows


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The populace attrs of a persona Parquet file: those written with the schema and those
    written when it closed (per-draw records of a streamed file)."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path)
    out = json.loads((f.schema_arrow.metadata or {}).get(b"populace", b"{}"))
    closing = (f.metadata.metadata or {}).get(b"populace_closing")
    return out | (json.loads(closing) if closing else {})


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a persona Parquet file back as a DataFrame."""
    return pd.read_parquet(path)


def _jsonable(v: object) -> object:
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def open_personas(path: str | os.PathLike[str]) -> Any:
    """A personas Parquet file, or partitioned folder of them (``draw=D/...``), as a pyarrow
    dataset; a :class:`~populace.errors.PersonasError` naming the path and the fix otherwise."""
    import pyarrow.dataset as pads

    path = Path(path)
    fix = "Fix: give personas written by `populace generate` (a Parquet file or folder)."
    if not path.exists():
        raise PersonasError(f"{path}: no such file or folder. {fix}")
    try:
        return pads.dataset(path, format="parquet", partitioning="hive")
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a non-Parquet input
        raise PersonasError(f"{path}: not a readable Parquet file or folder ({exc}). {fix}") from None
