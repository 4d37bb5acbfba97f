"""Assemble a validated :class:`Study` from in-memory tables.

:func:`make_study` is the Python entry point; :func:`load_study` reads a TOML
file and its CSVs into the same objects and calls :func:`build_study`, so
both paths run exactly the same checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from populace.errors import StudyError
from populace.study.areas import check_areas
from populace.study.attributes import Locate, attributes_spec, check_attributes
from populace.study.marginals import check_marginal, check_marginals_agree
from populace.study.microdata import check_microdata
from populace.study.spec import Attribute, Study

__all__ = ["Table", "build_study", "make_study"]


@dataclass(frozen=True)
class Table:
    """A table to validate, with the names used for it.

    Parameters
    ----------
    frame
        The table's cells.
    label
        How messages name it (a file path, or ``marginals[0]``).
    source
        What the built object records as its source (``None`` for frames).
    """

    frame: pd.DataFrame
    label: str
    source: str | None = None


def build_study(
    attributes: tuple[Attribute, ...],
    marginals: Sequence[Table],
    microdata: Table,
    *,
    weight: str | None,
    name: str,
    total_tolerance: float | None = None,
    config: str | None = None,
    locate: Locate | None = None,
    areas: Table | None = None,
) -> Study:
    """Validate tables against validated attributes and build the study.

    Parameters
    ----------
    attributes
        Output of :func:`check_attributes`.
    marginals, microdata
        The census tables and the survey rows.
    areas
        The area table of area-level predictors, or ``None``.
    weight
        Name of the weight column of the microdata, or ``None``.
    name
        Study name.
    total_tolerance
        Relative tolerance within which census tables' totals are reconciled
        by rescaling (see :func:`check_marginals_agree`); ``None`` = refuse
        totals more than 0.1 % apart and leave the tables as they are.
    config
        Name of the file holding the settings (the TOML file), for messages.
    locate
        Finds the line of a key path in ``config``, for messages.

    Returns
    -------
    Study
    """
    where = locate or (lambda *keys: None)
    if not isinstance(name, str) or not name.strip():
        raise StudyError(
            f"the study name {name!r} is not a non-empty string.",
            file=config,
            row=where("name"),
            fix='Give the study a name, e.g. name = "gss".',
        )
    names = [a.name for a in attributes]
    if weight is not None and (not isinstance(weight, str) or not weight):
        raise StudyError(
            f"weight = {weight!r} is not a column name.",
            file=config,
            row=where("microdata", "weight"),
            fix="Name the weight column with a non-empty string, or leave weight out.",
        )
    if weight in names:
        raise StudyError(
            f"weight column {weight!r} is also a declared attribute.",
            file=config,
            row=where("microdata", "weight"),
            fix="Name the weight column differently from every attribute.",
        )
    if total_tolerance is not None and (
        isinstance(total_tolerance, bool)
        or not isinstance(total_tolerance, (int, float))
        or not 0 <= total_tolerance <= 0.1
    ):
        raise StudyError(
            f"total_tolerance = {total_tolerance!r} is not a number between 0 and 0.1.",
            file=config,
            row=where("total_tolerance"),
            fix="Give a relative tolerance such as total_tolerance = 0.01 (1 %), or leave it out.",
        )
    built = tuple(
        check_marginal(t.frame, attributes, file=t.label, source=t.source) for t in marginals
    )
    built = check_marginals_agree(built, [t.label for t in marginals], attributes, total_tolerance=total_tolerance)
    coded = check_microdata(
        microdata.frame, attributes, weight=weight, file=microdata.label, source=microdata.source
    )
    area_table = None if areas is None else check_areas(areas.frame, attributes, file=areas.label, source=areas.source)
    return Study(attributes=attributes, marginals=built, microdata=coded, name=name, areas=area_table)


def make_study(
    attributes: Mapping[str, Mapping[str, Any]] | Sequence[Attribute],
    marginals: Sequence[pd.DataFrame],
    microdata: pd.DataFrame,
    *,
    weight: str | None = None,
    name: str = "study",
    total_tolerance: float | None = None,
    areas: pd.DataFrame | None = None,
) -> Study:
    """Build a validated study from Python objects.

    Runs the same checks as :func:`populace.study.load_study`; messages
    name the tables ``marginals[i]`` and ``microdata`` and give the line
    each row would have in a CSV file (header = line 1, first row = line 2).

    Parameters
    ----------
    attributes
        ``{name: {"type": "ordinal" | "nominal", "levels": [...],
        "role": "geography", "phrases": {level: text}}}`` (``role`` and
        ``phrases`` optional), or :class:`Attribute`
        objects. Order sets the study's attribute order.
    marginals
        Census tables: one column per attribute crossed plus ``count``, one
        row per cell of the Cartesian product of their levels.
    microdata
        Survey rows: one column per attribute (``NaN``/``None``/``""`` for
        missing), plus the weight column if ``weight`` is given. Non-string
        cells are compared with the levels as text.
    weight
        Name of the survey-weight column, or ``None`` for equal weights.
    name
        Study name.
    total_tolerance
        Reconcile census totals that differ by less than this relative amount
        (rounding) by rescaling, with a warning; see :func:`build_study`.
    areas
        Area-level predictors of the area effects: a column named as the geography
        (each area once) and one numeric column per predictor; ``None`` for none.

    Returns
    -------
    Study

    Raises
    ------
    StudyError
        On the first problem found.
    """
    if isinstance(attributes, Mapping):
        spec: Any = attributes
    elif isinstance(attributes, Sequence) and not isinstance(attributes, str):
        spec = attributes_spec(attributes)
    else:
        raise StudyError(
            f"attributes is a {type(attributes).__name__}.",
            file="attributes",
            fix="Pass a mapping {name: {'type': ..., 'levels': [...]}} or a list of Attribute.",
        )
    checked = check_attributes(spec, file="attributes")
    if isinstance(marginals, pd.DataFrame):
        raise StudyError(
            "marginals is a single DataFrame.",
            file="marginals",
            fix="Pass a list of DataFrames, e.g. marginals=[table].",
        )
    tables = []
    for i, frame in enumerate(marginals):
        _require_frame(frame, f"marginals[{i}]")
        tables.append(Table(frame, f"marginals[{i}]"))
    _require_frame(microdata, "microdata")
    if areas is not None:
        _require_frame(areas, "areas")
    return build_study(
        checked,
        tables,
        Table(microdata, "microdata"),
        weight=weight,
        name=name,
        total_tolerance=total_tolerance,
        areas=None if areas is None else Table(areas, "areas"),
    )


def _require_frame(frame: Any, label: str) -> None:
    """Reject anything but a DataFrame, before pandas fails deep inside."""
    if not isinstance(frame, pd.DataFrame):
        raise StudyError(
            f"{label} is a {type(frame).__name__}, not a pandas DataFrame.",
            file=label,
            fix="Pass a pandas DataFrame.",
        )
