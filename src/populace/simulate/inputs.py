"""Read and check the two inputs of :func:`populace.simulate.rectify`: personas and humans.

The personas are reduced to counts by (draw, group, answer level) as they are read, so a
Parquet file of any size is read in bounded memory (one batch at a time). Labels are compared
as text, so ``1`` in a Parquet file and ``1`` in a CSV file are the same level.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from populace.errors import InputError

__all__ = ["PersonaCounts", "count_personas", "read_persona_counts", "check_humans", "read_humans_csv"]

ALL = "(all)"  # the group label of the overall rows


@dataclass(frozen=True)
class PersonaCounts:
    """Personas counted by draw, group and LLM answer level.

    Attributes
    ----------
    counts
        Array ``(draws, groups, levels)`` of persona counts.
    draws, groups, levels
        Their labels (``groups == [ALL]`` when no group column is used).
    """

    counts: np.ndarray
    draws: list[int]
    groups: list[str]
    levels: list[str]


def count_personas(
    frame: pd.DataFrame, *, answer: str, draw: str = "draw", by: str | None = None, label: str = "personas"
) -> PersonaCounts:
    """Check a persona table and count it (see :class:`PersonaCounts`)."""
    _require_columns(frame.columns, [draw, answer, *([by] if by else [])], label=label)
    if frame.empty:
        raise InputError("has no rows.", file=label, fix="Give personas with an LLM answer column.")
    return _finish(_count_batch(frame, answer=answer, draw=draw, by=by, label=label, offset=0))


def read_persona_counts(
    path: str | os.PathLike[str], *, answer: str, draw: str = "draw", by: str | None = None, batch_rows: int = 1 << 20
) -> PersonaCounts:
    """Stream a persona Parquet file (or dataset folder) into :class:`PersonaCounts`."""
    import pyarrow.dataset as ds

    label = str(path)
    try:
        dataset = ds.dataset(path, format="parquet", partitioning="hive")
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot be read as Parquet ({exc}).", file=label, fix="Give a file written by `populace generate`."
        ) from None
    columns = [draw, answer, *([by] if by else [])]
    _require_columns(dataset.schema.names, columns, label=label)
    parts: list[_Batch] = []
    offset = 0
    for batch in dataset.to_batches(columns=columns, batch_size=batch_rows):
        frame = batch.to_pandas()
        if len(frame):
            parts.append(_count_batch(frame, answer=answer, draw=draw, by=by, label=label, offset=offset))
        offset += len(frame)
    if not parts:
        raise InputError("has no rows.", file=label, fix="Give personas with an LLM answer column.")
    return _finish(_merge(parts))


def read_humans_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the human sample as text cells (empty cell = missing), naming the file on failure."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError("no such file.", file=str(path)) from None
    except pd.errors.EmptyDataError:
        raise InputError("is empty.", file=str(path), fix="Give a header line and one line per human.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"is not valid CSV ({exc}).", file=str(path)) from None


def check_humans(
    frame: pd.DataFrame,
    *,
    answer: str,
    truth: str,
    levels: list[str],
    by: str | None = None,
    groups: list[str] | None = None,
    weight: str | None = None,
    label: str = "humans",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Check the human sample; return level codes of ``answer`` and ``truth``, weights, group codes."""
    _require_columns(frame.columns, [answer, truth, *([by] if by else []), *([weight] if weight else [])], label=label)
    if frame.empty:
        raise InputError("has no rows.", file=label, fix="Give one line per human.")
    f = _codes(frame[answer], levels, label=label, column=answer, what="LLM answer levels of the personas")
    y = _codes(frame[truth], levels, label=label, column=truth, what="LLM answer levels of the personas")
    g = None
    if by:
        g = _codes(frame[by], groups or [], label=label, column=by, what=f"values of {by!r} among the personas")
    w = None
    if weight:
        w = pd.to_numeric(frame[weight], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~(np.isfinite(w) & (w > 0)))
        if len(bad):
            raise InputError(
                f"weight '{frame[weight].iloc[bad[0]]}' is not a positive number.",
                file=label, row=int(bad[0]) + 2, column=weight, fix="Give every human a positive weight.",
            )
    return f, y, w, g


@dataclass(frozen=True)
class _Batch:
    counts: pd.Series  # (draw, group, level) -> count
    categories: list[str]


def _count_batch(frame: pd.DataFrame, *, answer: str, draw: str, by: str | None, label: str, offset: int) -> _Batch:
    draws = _draw_column(frame[draw], label=label, column=draw, offset=offset)
    values = _text(frame[answer], label=label, column=answer, offset=offset)
    groups = _text(frame[by], label=label, column=by, offset=offset) if by else pd.Series(ALL, index=frame.index)
    # factorised codes and one bincount: far faster than a groupby on text keys
    codes, uniques = zip(*(pd.factorize(c, sort=True) for c in (draws, groups, values)), strict=True)
    shape = tuple(len(u) for u in uniques)
    flat = np.bincount(np.ravel_multi_index(codes, shape), minlength=int(np.prod(shape)))
    index = pd.MultiIndex.from_product([list(u) for u in uniques], names=["d", "g", "k"])
    counts = pd.Series(flat, index=index)
    counts = counts[counts > 0]
    col = frame[answer]
    categories = [str(c) for c in col.cat.categories] if isinstance(col.dtype, pd.CategoricalDtype) else []
    return _Batch(counts=counts, categories=categories)


def _merge(parts: Iterable[_Batch]) -> _Batch:
    parts = list(parts)
    counts = pd.concat([p.counts for p in parts]).groupby(level=[0, 1, 2]).sum()
    categories = list(dict.fromkeys(c for p in parts for c in p.categories))
    return _Batch(counts=counts, categories=categories)


def _finish(batch: _Batch) -> PersonaCounts:
    counts = batch.counts
    seen = sorted(set(counts.index.get_level_values("k")))
    levels = batch.categories + [k for k in seen if k not in batch.categories]
    draws = sorted(set(counts.index.get_level_values("d")))
    groups = sorted(set(counts.index.get_level_values("g")))
    full = pd.MultiIndex.from_product([draws, groups, levels], names=["d", "g", "k"])
    array = counts.reindex(full, fill_value=0).to_numpy().reshape(len(draws), len(groups), len(levels))
    return PersonaCounts(counts=array.astype(float), draws=[int(d) for d in draws], groups=groups, levels=levels)


def _draw_column(col: pd.Series, *, label: str, column: str, offset: int) -> np.ndarray:
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
    if len(bad):
        raise InputError(
            f"row {offset + int(bad[0]) + 1}: draw {col.iloc[bad[0]]} is not an integer.", file=label, column=column,
            fix="Give the integer posterior draw of each persona, as `populace generate` writes it.",
        )
    return values.astype(np.int64)


def _text(col: pd.Series, *, label: str, column: str, offset: int, csv: bool = False) -> pd.Series:
    missing = col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy()
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        # a CSV line number counts the header; a table row number does not
        where = {"row": offset + i + 2} if csv else {}
        raise InputError(
            "is empty." if csv else f"row {offset + i + 1} is empty.", file=label, column=column, **where,
            fix="Fill in every row or drop the rows without an answer.",
        )
    return col.astype(str).str.strip()


def _codes(col: pd.Series, levels: list[str], *, label: str, column: str, what: str) -> np.ndarray:
    text = _text(col, label=label, column=column, offset=0, csv=True)
    index = {level: i for i, level in enumerate(levels)}
    codes = text.map(index)
    unknown = codes.isna().to_numpy()
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        shown = ", ".join(map(repr, levels[:12])) + (", ..." if len(levels) > 12 else "")
        raise InputError(
            f"{text.iloc[i]!r} is not among the {what} ({shown}).", file=label, row=i + 2, column=column,
            fix="Use the same labels in both files (check spelling and case).",
        )
    return codes.to_numpy(dtype=np.int64)


def _require_columns(present: Iterable[str], needed: list[str], *, label: str) -> None:
    have = list(present)
    for name in needed:
        if name not in have:
            shown = ", ".join(map(repr, have[:20]))
            raise InputError(
                f"has no column {name!r} (columns: {shown}).", file=label, column=name, fix="Name an existing column."
            )
