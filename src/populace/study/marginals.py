"""Validation of census tables (marginals), one by one and against each other."""

from __future__ import annotations

from collections.abc import Sequence

import warnings

import numpy as np
import pandas as pd

from populace.errors import StudyError, StudyWarning
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
from populace.study.reconcile import disagreement
from populace.study.spec import Attribute, Marginal

__all__ = ["COUNT", "ERROR_COLUMNS", "is_noise_sd", "MOE_Z", "NOISE_Z", "TOTAL_RTOL", "SHARE_ATOL", "check_marginal", "check_marginals_agree"]

#: Name of the count column of every census table.
COUNT = "count"
#: Relative tolerance on the grand totals of two tables.
TOTAL_RTOL = 1e-3
#: Absolute tolerance on the level shares two tables imply for one attribute.
SHARE_ATOL = 1e-3
#: Optional per-cell error columns: a standard error, or an ACS-style 90 % margin of error.
ERROR_COLUMNS = ("se", "moe")
#: A 90 % margin of error is this many standard errors (ACS: MOE = 1.645 SE).
MOE_Z = 1.645
#: Tables with stated error may disagree on a shared margin by this many standard errors
#: before the study is refused (a 1-in-15,000 event per margin under the stated error).
NOISE_Z = 4.0


def check_marginal(
    frame: pd.DataFrame,
    attributes: Sequence[Attribute],
    *,
    file: str,
    source: str | None = None,
    noise_sd: float | None = None,
) -> Marginal:
    """Validate one census table and turn it into a :class:`Marginal`.

    Parameters
    ----------
    frame
        One column per attribute the table crosses plus ``count``; one row
        per cell of their Cartesian product.
    attributes
        The study's (already validated) attributes.
    file
        Name of the table for messages (file name, or ``marginals[i]``).
    source
        Stored as :attr:`Marginal.source`.
    noise_sd
        The standard deviation of the noise added to every count (a disclosure-avoidance
        mechanism of known scale), or ``None``. A table may instead carry a per-cell ``se``
        (standard error) or ``moe`` (90 % margin of error, ``se = moe / 1.645``) column. A
        table with error may hold negative or fractional counts (raw noisy measurements).

    Returns
    -------
    Marginal
        ``counts`` has one axis per table column, in the table's order; ``se`` the
        standard errors when the table states them.

    Raises
    ------
    StudyError
        On the first problem found.
    """
    by_name = {a.name: a for a in attributes}
    names = _check_columns(frame, by_name, file=file)
    table = [by_name[n] for n in names]

    header = column_names(frame)
    columns = {n: text_cells(frame.iloc[:, i]) for i, n in enumerate(header)}
    count_values, count_missing, count_bad = number_cells(frame.iloc[:, header.index(COUNT)])
    _check_blank_rows(columns, file=file)

    codes = np.empty((len(frame), len(table)), dtype=np.int64)
    for j, attribute in enumerate(table):
        codes[:, j] = _level_codes(attribute, *columns[attribute.name], file=file)
    errors = _check_errors(frame, header, noise_sd, file=file, attributes=by_name)
    counts = _check_counts(count_values, count_missing, count_bad, file=file, noisy=errors is not None)

    shape = tuple(a.n_levels for a in table)
    flat = np.ravel_multi_index(tuple(codes.T), shape)
    _check_duplicates(flat, table, codes, file=file)
    array = np.zeros(int(np.prod(shape)), dtype=np.float64)
    array[flat] = counts
    present = np.zeros(array.size, dtype=bool)
    present[flat] = True
    _check_complete(present, table, shape, file=file)
    if array.sum() <= 0:
        raise StudyError(
            "every count is 0, so the table says nothing about the population.",
            file=file,
            column=COUNT,
            fix="Fill in the counts, or drop the table from the study.",
        )
    se = None
    if errors is not None:
        se = np.zeros(array.size)
        se[flat] = errors
        se = se.reshape(shape)
    return Marginal(attributes=tuple(names), counts=array.reshape(shape), source=source, se=se)


def is_noise_sd(value: object) -> bool:
    """Whether ``value`` is a valid ``noise_sd``: a finite positive number."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value)) and value > 0


def _check_errors(
    frame: pd.DataFrame, header: list[str], noise_sd: float | None, *, file: str, attributes: dict[str, Attribute]
) -> np.ndarray | None:
    """Per-row standard errors from an ``se`` / ``moe`` column or ``noise_sd``; ``None`` if exact."""
    given = [c for c in ERROR_COLUMNS if c in header and c not in attributes]
    if len(given) > 1 or (given and noise_sd is not None):
        raise StudyError(
            "the table states its error twice (" + ", ".join([*given, *(["noise_sd in the study file"] if noise_sd is not None else [])]) + ").",
            file=file,
            row=1,
            fix="Keep one: an se column, a moe column, or noise_sd for the whole table.",
        )
    if noise_sd is not None:
        if not is_noise_sd(noise_sd):
            raise StudyError(
                f"noise_sd = {noise_sd!r} is not a positive number.",
                file=file,
                fix="Give the standard deviation of the noise added to each count, e.g. noise_sd = 5.0.",
            )
        return np.full(len(frame), float(noise_sd))
    if not given:
        return None
    name = given[0]
    values, missing, bad = number_cells(frame.iloc[:, header.index(name)])
    what = "standard error" if name == "se" else "90 % margin of error"
    for mask, text in (
        (missing, f"the {what} is empty"),
        (bad, f"the {what} is not a number"),
        (~missing & ~bad & ~np.isfinite(values), f"the {what} is not finite"),
        (np.isfinite(values) & (values < 0), f"the {what} {{value}} is negative"),
    ):
        pos = first(mask)
        if pos is not None:
            raise StudyError(
                text.format(value=fmt_number(values[pos])) + f"{more(mask)}.",
                file=file,
                row=line_of(pos),
                column=name,
                fix=f"Give every cell a {what} of 0 or more (0: the count is exact).",
            )
    return values / MOE_Z if name == "moe" else values


def _check_columns(frame: pd.DataFrame, by_name: dict[str, Attribute], *, file: str) -> list[str]:
    """Check the header; return the attribute columns in table order."""
    header = column_names(frame)
    if not header:
        raise StudyError(
            "the table is empty (no header).",
            file=file,
            fix=f"Write a header with one column per attribute plus {COUNT!r}, "
            "then one row per cell.",
        )
    seen = unique_header(header, file=file)
    for name in header:
        if name != COUNT and name not in ERROR_COLUMNS and name not in by_name:  # an attribute may be named se
            raise StudyError(
                f"undeclared column {name!r}: it is neither a study attribute nor {COUNT!r}.",
                file=file,
                row=1,
                column=name,
                fix=(
                    f"Declare it as an attribute of the study, or remove the column. "
                    f"Declared attributes: {show_levels(list(by_name))}."
                ),
            )
    if COUNT not in header:
        raise StudyError(
            f"the table has no {COUNT!r} column.",
            file=file,
            row=1,
            fix=f"Add a column named {COUNT!r} giving the number of people in each cell.",
        )
    names = [n for n in header if n in by_name]
    if not names:
        raise StudyError(
            "the table has only a count column and crosses no attribute.",
            file=file,
            row=1,
            fix="Add a column for each attribute the table counts over.",
        )
    if len(frame) == 0:
        raise StudyError(
            "the table has a header but no rows.",
            file=file,
            fix="Add one row per combination of levels, with its count.",
        )
    return names


def _check_blank_rows(columns: dict[str, tuple[np.ndarray, np.ndarray]], *, file: str) -> None:
    """Reject rows where every cell, count included, is empty."""
    blank = np.logical_and.reduce([missing for _, missing in columns.values()])
    pos = first(blank)
    if pos is not None:
        raise StudyError(
            f"the row is empty{more(blank)}.",
            file=file,
            row=line_of(pos),
            fix="Delete the empty line, or fill in its levels and count.",
        )


def _level_codes(
    attribute: Attribute, values: np.ndarray, missing: np.ndarray, *, file: str
) -> np.ndarray:
    """Code one attribute column of a table as level indices."""
    pos = first(missing)
    if pos is not None:
        raise StudyError(
            f"the cell for attribute {attribute.name!r} is empty; every row of a census "
            f"table must name a level{more(missing)}.",
            file=file,
            row=line_of(pos),
            column=attribute.name,
            fix=f"Fill in one of {show_levels(attribute.levels)}.",
        )
    return level_codes(values, missing, attribute.levels, attribute.name, file=file)


def _check_counts(
    values: np.ndarray, missing: np.ndarray, bad: np.ndarray, *, file: str, noisy: bool = False
) -> np.ndarray:
    """Check that counts are present, finite, non-negative whole numbers (any finite number
    in a table with stated error: noisy measurements)."""
    problems = (
        (missing, "the count is empty", "Write the count; use 0 for an empty cell."),
        (bad, "the count is not a number", "Write the count as a whole number, e.g. 1234."),
        (
            ~missing & ~bad & ~np.isfinite(values),
            "the count is not finite",
            "Write the count as a whole number, e.g. 1234.",
        ),
    )
    for mask, what, fix in problems:
        pos = first(mask)
        if pos is not None:
            raise StudyError(
                f"{what}{more(mask)}.", file=file, row=line_of(pos), column=COUNT, fix=fix
            )
    if noisy:
        return values
    negative = values < 0
    pos = first(negative)
    if pos is not None:
        raise StudyError(
            f"the count {fmt_number(values[pos])} is negative{more(negative)}.",
            file=file,
            row=line_of(pos),
            column=COUNT,
            fix="Counts are numbers of people: use 0 or more.",
        )
    # "12.0" is fine; 12.5 people is not.
    fractional = values != np.round(values)
    pos = first(fractional)
    if pos is not None:
        raise StudyError(
            f"the count {fmt_number(values[pos])} is not a whole number{more(fractional)}.",
            file=file,
            row=line_of(pos),
            column=COUNT,
            fix="Round the counts to whole numbers of people.",
        )
    return values


def _cell_text(table: Sequence[Attribute], code: Sequence[int]) -> str:
    """Format one cell as ``age='18-29', sex='Male'``."""
    return ", ".join(f"{a.name}={a.levels[int(c)]!r}" for a, c in zip(table, code))


def _check_duplicates(
    flat: np.ndarray, table: Sequence[Attribute], codes: np.ndarray, *, file: str
) -> None:
    """Reject a combination of levels that appears on two rows."""
    seen: dict[int, int] = {}
    for pos, key in enumerate(flat.tolist()):
        if key in seen:
            earlier = seen[key]
            raise StudyError(
                f"duplicate cell {_cell_text(table, codes[pos])}: it is also on line "
                f"{line_of(earlier)}.",
                file=file,
                row=line_of(pos),
                fix=f"Keep one row for this cell (lines {line_of(earlier)} and {line_of(pos)}), "
                "adding the counts if both are real.",
            )
        seen[key] = pos


def _check_complete(
    present: np.ndarray, table: Sequence[Attribute], shape: tuple[int, ...], *, file: str
) -> None:
    """Reject a table that leaves cells of the Cartesian product out."""
    absent = ~present
    pos = first(absent)
    if pos is None:
        return
    code = np.unravel_index(pos, shape)
    n = int(absent.sum())
    others = ""
    if n > 1:
        others = f" ({n - 1} other combination{'s are' if n > 2 else ' is'} missing too)"
    row = ",".join([*(a.levels[int(c)] for a, c in zip(table, code)), "0"])
    raise StudyError(
        f"the table has no row for {_cell_text(table, code)}{others}; a census table "
        "must list every combination of its attributes' levels.",
        file=file,
        fix=f"Add the row {row!r} (count 0) if nobody is in that cell, or its true count.",
    )


def check_marginals_agree(
    marginals: Sequence[Marginal],
    labels: Sequence[str],
    attributes: Sequence[Attribute],
    *,
    total_tolerance: float | None = None,
) -> tuple[Marginal, ...]:
    """Check that census tables describe the same population; reconcile rounded totals.

    Grand totals must agree within a relative tolerance of
    :data:`TOTAL_RTOL`, or of ``total_tolerance`` when it is given: then
    each table whose total differs from the first table's (by rounding, as
    ACS tables do) is rescaled to that total, with a
    :class:`~populace.errors.StudyWarning` naming it. The share of each level
    of an attribute that several tables cross must agree within
    :data:`SHARE_ATOL`.

    Parameters
    ----------
    marginals
        Validated tables.
    labels
        Their names for messages, in the same order.
    attributes
        The study's attributes, for level names.

    Returns
    -------
    tuple of Marginal
        The tables, rescaled where ``total_tolerance`` reconciled them.

    Raises
    ------
    StudyError
        Naming both tables and what they disagree on.
    """
    if not marginals:
        return ()
    levels = {a.name: a.levels for a in attributes}
    # The first exact table sets the total; tables with stated error are checked below.
    first_exact = next((i for i, m in enumerate(marginals) if m.se is None), 0)
    ref, ref_label = marginals[first_exact], labels[first_exact]
    rtol = TOTAL_RTOL if total_tolerance is None else float(total_tolerance)
    out, rescaled = [], []
    for i, (m, label) in enumerate(zip(marginals, labels)):
        a, b = ref.total, m.total
        if i == first_exact or ref.se is not None or m.se is not None:
            out.append(m)
            continue
        if abs(a - b) > rtol * max(abs(a), abs(b)):
            raise StudyError(
                f"the tables disagree on the population size: {ref_label} totals "
                f"{fmt_number(a)} but {label} totals {fmt_number(b)} "
                f"({abs(a - b) / max(abs(a), abs(b)):.2%} apart, more than the tolerance {rtol:g}).",
                file=label,
                column=COUNT,
                fix="Use tables for the same population (same year and universe); if they differ only "
                "by rounding, set total_tolerance (e.g. total_tolerance = 0.01 at the top of the study "
                "file) to rescale them to one total.",
            )
        if total_tolerance is not None and a != b:
            m = Marginal(m.attributes, m.counts * (a / b), m.source)
            rescaled.append(f"{label} ({fmt_number(b)} -> {fmt_number(a)})")
        out.append(m)
    if rescaled:
        warnings.warn(
            f"total_tolerance: rescaled {len(rescaled)} census table(s) to the total of {ref_label}: "
            + "; ".join(rescaled),
            StudyWarning,
            stacklevel=4,
        )
    marginals = out
    _check_within_error(marginals, labels, levels)
    first_with: dict[str, tuple[np.ndarray, str, float]] = {}
    for m, label in zip(marginals, labels):
        if m.se is not None:
            continue
        for axis, name in enumerate(m.attributes):
            other = tuple(i for i in range(m.counts.ndim) if i != axis)
            margin = m.counts.sum(axis=other)
            shares = margin / m.total
            if name not in first_with:
                first_with[name] = (shares, label, m.total)
                continue
            ref_shares, ref_label, ref_total = first_with[name]
            gap = np.abs(shares - ref_shares)
            worst = int(np.argmax(gap))
            if gap[worst] > SHARE_ATOL:
                raise StudyError(
                    f"the tables disagree on attribute {name!r}: "
                    f"level {levels[name][worst]!r} has share "
                    f"{ref_shares[worst]:.4f} in {ref_label} "
                    f"({fmt_number(ref_shares[worst] * ref_total)} of {fmt_number(ref_total)}) "
                    f"but {shares[worst]:.4f} in {label} "
                    f"({fmt_number(margin[worst])} of {fmt_number(m.total)}).",
                    file=label,
                    column=name,
                    fix="Use tables for the same population (same year and universe), "
                    "so that summing each over its other attributes gives the same counts.",
                )
    return tuple(marginals)


def _check_within_error(marginals: Sequence[Marginal], labels: Sequence[str], levels: dict[str, tuple[str, ...]]) -> None:
    """Tables with stated error may disagree on what they share, within that error: warn with
    the size of the largest disagreement (the model reconciles them), refuse beyond
    :data:`NOISE_Z` standard errors, naming both tables."""
    noisy = [i for i, m in enumerate(marginals) if m.se is not None]
    if not noisy:
        return
    worst = (0.0, None)
    for i, a in enumerate(marginals):
        for j in range(i + 1, len(marginals)):
            b = marginals[j]
            if a.se is None and b.se is None:
                continue
            shared = [x for x in a.attributes if x in b.attributes]
            z, k = disagreement([a, b])
            if z > NOISE_Z:
                where = "the population total"
                if shared:
                    shape = [len(levels[x]) for x in shared]
                    cell = np.unravel_index(k, shape)
                    where = " x ".join(f"{x}={levels[x][c]}" for x, c in zip(shared, cell))
                raise StudyError(
                    f"{labels[i]} and {labels[j]} disagree on {where} by {z:.1f} standard errors, more than "
                    f"their stated error allows ({NOISE_Z:g}).",
                    file=labels[j],
                    column=COUNT,
                    fix=f"Check that {labels[i]} and {labels[j]} describe the same population (year, universe) "
                    "and that the se / moe / noise_sd columns are standard errors of the counts.",
                )
            if z > worst[0]:
                worst = (z, (labels[i], labels[j]))
    if worst[1] is not None and worst[0] > 1e-6:
        warnings.warn(
            f"census tables with stated error disagree by up to {worst[0]:.2f} standard errors "
            f"({worst[1][0]} and {worst[1][1]}); the model reconciles them within their error.",
            StudyWarning,
            stacklevel=4,
        )
