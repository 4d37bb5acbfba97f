"""Validation of survey microdata."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from populace.errors import StudyError
from populace.study._cells import (
    level_codes,
    unique_header,
    column_names,
    first,
    fmt_number,
    line_of,
    more,
    number_cells,
    show_levels,
    text_cells,
)
from populace.study.spec import Attribute, Microdata

__all__ = ["check_microdata"]


def check_microdata(
    frame: pd.DataFrame,
    attributes: Sequence[Attribute],
    *,
    weight: str | None = None,
    file: str,
    source: str | None = None,
    measured: Sequence[str] | None = None,
) -> Microdata:
    """Validate survey rows and code them as level indices.

    Parameters
    ----------
    frame
        One column per study attribute (empty cells are missing), plus the
        weight column if ``weight`` is given. Column order does not matter.
    attributes
        The study's (already validated) attributes.
    weight
        Name of the survey-weight column, or ``None`` for equal weights.
    file
        Name of the microdata for messages (file name, or ``microdata``).
    source
        Stored as :attr:`Microdata.source`.
    measured
        The attributes this survey measured (already checked to be declared); the frame
        has a column for each of them and for no other attribute, and the codes of the
        others are ``-1``. ``None``: every attribute.

    Returns
    -------
    Microdata
        ``codes`` is ``(n_rows, n_attributes)`` in study attribute order with
        ``-1`` for missing cells; ``weights`` are float64.

    Raises
    ------
    StudyError
        On the first problem found.
    """
    chosen = [a for a in attributes if measured is None or a.name in measured]
    header = _check_header(frame, chosen, weight=weight, file=file, others=[a.name for a in attributes if a not in chosen])
    codes = np.full((len(frame), len(attributes)), -1, dtype=np.int64)
    for j, attribute in enumerate(attributes):
        if attribute in chosen:
            column = frame.iloc[:, header.index(attribute.name)]
            codes[:, j] = _level_codes(column, attribute, file=file)
    # After the levels, so that a mistyped level is reported as such, not as a blank row.
    blank = np.all(codes < 0, axis=1)
    pos = first(blank)
    if pos is not None:
        raise StudyError(
            f"every attribute is missing on this row{more(blank)}; it tells the model nothing.",
            file=file,
            row=line_of(pos),
            fix="Delete the row, or fill in the attributes that were observed.",
        )
    if weight is None:
        weights = np.ones(len(frame), dtype=np.float64)
    else:
        weights = _check_weights(frame.iloc[:, header.index(weight)], weight, file=file)
    return Microdata(codes=codes, weights=weights, source=source, weight_column=weight)


def _check_header(
    frame: pd.DataFrame, attributes: Sequence[Attribute], *, weight: str | None, file: str, others: Sequence[str] = ()
) -> list[str]:
    """Check the columns (``others``: declared attributes the survey did not measure);
    return the header as strings."""
    header = column_names(frame)
    names = [a.name for a in attributes]
    if not header:
        raise StudyError(
            "the microdata is empty (no header).",
            file=file,
            fix=f"Write a header with the columns {show_levels(names)}, "
            "then one row per respondent.",
        )
    seen = unique_header(header, file=file)
    for name in names:
        if name not in seen:
            raise StudyError(
                f"the microdata has no column for attribute {name!r}; every attribute the survey measured needs one.",
                file=file,
                row=1,
                fix=f"Add a column {name!r} and leave its cells empty where it was not observed; "
                "if the survey did not ask it, list what it did ask with attributes = [...] in its [[microdata]] entry.",
            )
    if weight is not None and weight not in seen:
        raise StudyError(
            f"the weight column {weight!r} named in the study is not in the microdata.",
            file=file,
            row=1,
            fix=f"Add a column {weight!r} with the survey weights, or remove the weight setting.",
        )
    for name in header:
        if name in others:
            raise StudyError(
                f"column {name!r} is a study attribute that this survey's attributes list leaves out.",
                file=file,
                row=1,
                column=name,
                fix=f"Add {name!r} to the survey's attributes = [...], or remove the column.",
            )
        if name not in names and name != weight:
            raise StudyError(
                f"undeclared column {name!r}: it is neither a study attribute "
                "nor the weight column.",
                file=file,
                row=1,
                column=name,
                fix=(
                    "Declare it as an attribute of the study, name it as the weight column, "
                    "or remove the column."
                ),
            )
    if len(frame) == 0:
        raise StudyError(
            "the microdata has a header but no rows.",
            file=file,
            fix="Add one row per survey respondent.",
        )
    return header


def _level_codes(column: pd.Series, attribute: Attribute, *, file: str) -> np.ndarray:
    """Code one attribute column, ``-1`` for missing cells."""
    values, missing = text_cells(column)
    return level_codes(
        values, missing, attribute.levels, attribute.name, file=file,
        empty_fix="leave the cell empty if it is unknown, ",
    )


def _check_weights(column: pd.Series, name: str, *, file: str) -> np.ndarray:
    """Check that every weight is a finite positive number."""
    values, missing, bad = number_cells(column)
    problems = (
        (missing, "the weight is empty"),
        (bad, "the weight is not a number"),
        (~missing & ~bad & ~np.isfinite(values), "the weight is not finite"),
        (np.isfinite(values) & (values <= 0), "the weight {value} is not positive"),
    )
    for mask, what in problems:
        pos = first(mask)
        if pos is not None:
            raise StudyError(
                what.format(value=fmt_number(values[pos])) + f"{more(mask)}.",
                file=file,
                row=line_of(pos),
                column=name,
                fix="Give every row a positive survey weight, or drop rows without one.",
            )
    return values
