"""Cell-level helpers shared by the table validators.

Every table reaches the validators as a :class:`pandas.DataFrame`, either read
from a CSV file (all columns as strings, only truly empty cells missing) or
handed over from Python (any dtypes, ``NaN``/``None`` for missing). These
helpers turn a column of either kind into plain numpy arrays and find the
first offending row, so each validator can report one precise error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from populace.errors import StudyError

__all__ = [
    "line_of",
    "text_cells",
    "number_cells",
    "first",
    "more",
    "show_levels",
    "level_hint",
    "column_names",
    "fmt_number",
]


def line_of(position: int) -> int:
    """Return the CSV line number of the data row at ``position``.

    The header is line 1, so row 0 is line 2. For a DataFrame handed over from
    Python this is the line the row would have once written as CSV.
    """
    return int(position) + 2


def column_names(frame: pd.DataFrame) -> list[str]:
    """Return the frame's column labels as strings."""
    return [str(c) for c in frame.columns]


def text_cells(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return a column as strings plus its missing-cell mask.

    Parameters
    ----------
    column
        One column of a table.

    Returns
    -------
    values : numpy.ndarray
        Object array of ``str``; missing cells are ``""``.
    missing : numpy.ndarray
        Boolean mask of cells that are ``NaN``/``None`` or empty strings.
    """
    raw = column.to_numpy(dtype=object)
    missing = np.asarray(pd.isna(raw), dtype=bool)
    # Non-string cells from Python (ints, categories) are compared by their text.
    values = np.array(
        ["" if m else (v if isinstance(v, str) else str(v)) for v, m in zip(raw, missing)],
        dtype=object,
    )
    missing |= values == ""
    return values, missing


def number_cells(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse a column of numbers.

    Returns
    -------
    values : numpy.ndarray
        float64, ``NaN`` where missing or not a number.
    missing : numpy.ndarray
        Cells that are empty (or ``NaN``/``None`` from Python).
    bad : numpy.ndarray
        Cells that are present but do not parse as a number.
    """
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        return values, missing, np.zeros_like(missing)
    text, missing = text_cells(column)
    stripped = pd.Series([s.strip() for s in text], dtype=object)
    missing |= (stripped == "").to_numpy()
    values = pd.to_numeric(stripped.where(~missing, None), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    bad = ~missing & np.isnan(values)
    return values, missing, bad


def first(mask: np.ndarray) -> int | None:
    """Return the position of the first ``True`` in ``mask``, or ``None``."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def more(mask: np.ndarray) -> str:
    """Return ``" (and N more rows)"`` when ``mask`` flags several rows."""
    n = int(np.count_nonzero(mask)) - 1
    if n <= 0:
        return ""
    return f" (and {n} more row{'s' if n > 1 else ''} like it)"


def show_levels(levels: Sequence[str], limit: int = 12) -> str:
    """Format declared levels for a message, eliding long lists."""
    shown = ", ".join(repr(v) for v in levels[:limit])
    if len(levels) > limit:
        shown += f", ... ({len(levels)} in all)"
    return shown


def level_hint(value: str, levels: Sequence[str]) -> str:
    """Suggest a declared level that differs only in spaces or case."""
    key = value.strip().casefold()
    for level in levels:
        if level.strip().casefold() == key:
            return f" (did you mean {level!r}?)"
    return ""


def fmt_number(x: float) -> str:
    """Format a count compactly: integers without a decimal point."""
    if np.isfinite(x) and float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.6g}"


def unique_header(header: list[str], *, file: str) -> set[str]:
    """The header's names as a set; a name that appears twice is an error."""
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise StudyError(
                f"column {name!r} appears twice in the header.",
                file=file,
                row=1,
                column=name,
                fix="Keep one column per attribute.",
            )
        seen.add(name)
    return seen


def level_codes(
    values: np.ndarray, missing: np.ndarray, levels: Sequence[str], name: str, *, file: str, empty_fix: str = ""
) -> np.ndarray:
    """Level indices of a column, ``-1`` where missing; an undeclared level is an error.

    ``empty_fix`` is inserted into the fix text where empty cells are allowed.
    """
    codes = pd.Index(levels).get_indexer(values)
    unknown = (codes < 0) & ~missing
    pos = first(unknown)
    if pos is not None:
        value = str(values[pos])
        raise StudyError(
            f"undeclared level {value!r} for attribute {name!r}{level_hint(value, levels)}{more(unknown)}.",
            file=file,
            row=line_of(pos),
            column=name,
            fix=f"Use one of {show_levels(levels)}, {empty_fix}or add {value!r} to the levels of {name!r}.",
        )
    codes[missing] = -1
    return codes.astype(np.int64)
