"""Validation of the area table: area-level predictors of the area effects (MRP's state-level
predictors, such as a past vote share or urbanicity)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from populace.errors import StudyError
from populace.study._cells import (
    column_names,
    first,
    fmt_number,
    line_of,
    more,
    number_cells,
    show_levels,
    text_cells,
    unique_header,
)
from populace.study.spec import Areas, Attribute

__all__ = ["check_areas"]


def check_areas(frame: pd.DataFrame, attributes: Sequence[Attribute], *, file: str, source: str | None = None) -> Areas:
    """Validate an area table: one row per area of the geography, one numeric column per
    predictor.

    Parameters
    ----------
    frame
        A column named as the geography attribute (each of its levels once), then one or
        more predictor columns of finite numbers that are not the same in every area.
    attributes
        The study's (already validated) attributes; one must have ``role = "geography"``.
    file
        Name of the table for messages.
    source
        Stored as :attr:`Areas.source`.

    Raises
    ------
    StudyError
        On the first problem found.
    """
    geo = next((a for a in attributes if a.role == "geography"), None)
    if geo is None:
        raise StudyError(
            "the study has an area table but no geography attribute.",
            file=file,
            fix='Mark the area attribute with role = "geography", or remove the [areas] table.',
        )
    header = column_names(frame)
    unique_header(header, file=file)
    if geo.name not in header:
        raise StudyError(
            f"the area table has no column {geo.name!r} (the geography).",
            file=file,
            row=1,
            fix=f"Add a column {geo.name!r} naming each area, one row per area.",
        )
    predictors = [h for h in header if h != geo.name]
    if not predictors:
        raise StudyError(
            "the area table has no predictor column.",
            file=file,
            row=1,
            fix="Add one numeric column per area-level predictor (a past vote share, a share urban, ...).",
        )
    values, missing = text_cells(frame.iloc[:, header.index(geo.name)])
    codes = pd.Index(geo.levels).get_indexer(values)
    for mask, what, fix in (
        (missing, "the area is empty", "Name the area of every row."),
        ((codes < 0) & ~missing, "{value!r} is not a level of " + geo.name, f"Use one of {show_levels(geo.levels)}."),
    ):
        pos = first(mask)
        if pos is not None:
            raise StudyError(
                what.format(value=str(values[pos])) + f"{more(mask)}.",
                file=file,
                row=line_of(pos),
                column=geo.name,
                fix=fix,
            )
    seen = np.zeros(geo.n_levels, dtype=np.int64)
    for pos, c in enumerate(codes):
        if seen[c]:
            raise StudyError(
                f"area {geo.levels[c]!r} appears twice (lines {line_of(int(seen[c]) - 1)} and {line_of(pos)}).",
                file=file,
                row=line_of(pos),
                column=geo.name,
                fix="Keep one row per area.",
            )
        seen[c] = pos + 1
    absent = [lev for lev, s in zip(geo.levels, seen, strict=True) if not s]
    if absent:
        raise StudyError(
            f"{len(absent)} area(s) have no row: {show_levels(absent)}.",
            file=file,
            column=geo.name,
            fix="Give every area of the geography one row (every predictor is needed in every area).",
        )
    out = np.empty((geo.n_levels, len(predictors)))
    for k, name in enumerate(predictors):
        x, empty, bad = number_cells(frame.iloc[:, header.index(name)])
        for mask, what in (
            (empty, "the value is empty"),
            (bad, "the value is not a number"),
            (~empty & ~bad & ~np.isfinite(x), "the value {value} is not finite"),
        ):
            pos = first(mask)
            if pos is not None:
                raise StudyError(
                    what.format(value=fmt_number(x[pos])) + f"{more(mask)}.",
                    file=file,
                    row=line_of(pos),
                    column=name,
                    fix="Give every area a finite number (impute a missing one, or drop the predictor).",
                )
        if np.ptp(x) == 0:
            raise StudyError(
                f"predictor {name!r} is {fmt_number(x[0])} in every area: it cannot tell areas apart.",
                file=file,
                column=name,
                fix=f"Drop the column {name!r}.",
            )
        out[codes, k] = x
    return Areas(values=out, names=tuple(predictors), source=source)
