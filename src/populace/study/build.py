"""Assemble a validated :class:`Study` from in-memory tables.

:func:`make_study` is the Python entry point; :func:`load_study` reads a TOML
file and its CSVs into the same objects and calls :func:`build_study`, so
both paths run exactly the same checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from populace.errors import StudyError
from populace.study.areas import check_areas
from populace.study.attributes import Locate, attributes_spec, check_attributes
from populace.study.marginals import check_marginal, check_marginals_agree
from populace.study.microdata import check_microdata
from populace.study.spec import Attribute, Microdata, Source, Study

__all__ = ["Survey", "Table", "build_study", "make_study"]


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
    noise_sd
        A census table's noise scale (``noise_sd`` in the study file), or ``None``.
    """

    frame: pd.DataFrame
    label: str
    source: str | None = None
    noise_sd: float | None = None


@dataclass(frozen=True)
class Survey:
    """One microdata source to validate.

    Parameters
    ----------
    table
        Its rows.
    label
        Its name in reports; unique in the study.
    weight
        Its weight column, or ``None`` for equal weights.
    attributes
        The attributes it measured (its table has a column for each, and for no other
        attribute); ``None``: every attribute of the study.
    """

    table: Table
    label: str
    weight: str | None = None
    attributes: Sequence[str] | None = None


def build_study(
    attributes: tuple[Attribute, ...],
    marginals: Sequence[Table],
    microdata: Table | Sequence[Survey],
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
        The census tables and the survey rows: one table (with ``weight``), or several
        :class:`Survey` sources, each with its own weights and attributes.
    areas
        The area table of area-level predictors, or ``None``.
    weight
        Name of the weight column of one microdata table, or ``None``.
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
    if isinstance(microdata, Table):
        _check_weight_name(weight, attributes, config=config, row=where("microdata", "weight"))
    else:
        _check_surveys(microdata, attributes, config=config, where=where)
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
        check_marginal(t.frame, attributes, file=t.label, source=t.source, noise_sd=t.noise_sd) for t in marginals
    )
    built = check_marginals_agree(built, [t.label for t in marginals], attributes, total_tolerance=total_tolerance)
    if isinstance(microdata, Table):
        coded = check_microdata(
            microdata.frame, attributes, weight=weight, file=microdata.label, source=microdata.source
        )
    else:
        coded = _stack_surveys(microdata, attributes)
    area_table = None if areas is None else check_areas(areas.frame, attributes, file=areas.label, source=areas.source)
    return Study(attributes=attributes, marginals=built, microdata=coded, name=name, areas=area_table)


def _check_weight_name(weight: Any, attributes: Sequence[Attribute], *, config: str | None, row: int | None) -> None:
    """A weight setting names a column that is not an attribute."""
    if weight is not None and (not isinstance(weight, str) or not weight):
        raise StudyError(
            f"weight = {weight!r} is not a column name.",
            file=config,
            row=row,
            fix="Name the weight column with a non-empty string, or leave weight out.",
        )
    if weight in [a.name for a in attributes]:
        raise StudyError(
            f"weight column {weight!r} is also a declared attribute.",
            file=config,
            row=row,
            fix="Name the weight column differently from every attribute.",
        )


def _check_surveys(surveys: Sequence[Survey], attributes: Sequence[Attribute], *, config: str | None, where: Locate) -> None:
    """Labels, weight columns and attribute lists of several microdata sources."""
    names = [a.name for a in attributes]
    if not surveys:
        raise StudyError("the study has no microdata.", file=config, fix="Give at least one survey source.")
    seen: set[str] = set()
    for i, survey in enumerate(surveys):
        label = survey.label
        if not isinstance(label, str) or not label.strip():
            raise StudyError(
                f"microdata source {i + 1} has label = {label!r}, not a name.",
                file=config,
                row=where("microdata", i, "label"),
                fix='Give each source a short name, e.g. label = "gss".',
            )
        if label in seen:
            raise StudyError(
                f"two microdata sources are labelled {label!r}.",
                file=config,
                row=where("microdata", i, "label"),
                fix="Give every source its own label.",
            )
        seen.add(label)
        _check_weight_name(survey.weight, attributes, config=config, row=where("microdata", i, "weight"))
        listed = survey.attributes
        if listed is None:
            continue
        row = where("microdata", i, "attributes")
        if not isinstance(listed, (list, tuple)) or not listed or not all(isinstance(n, str) for n in listed):
            raise StudyError(
                f"source {label!r} has attributes = {listed!r}; it must be a non-empty list of attribute names.",
                file=config,
                row=row,
                fix=f'List what the survey measured, e.g. attributes = ["{names[0]}"].',
            )
        for n in listed:
            if n not in names:
                raise StudyError(
                    f"source {label!r} lists attribute {n!r}, which the study does not declare.",
                    file=config,
                    row=row,
                    fix=f"Declare [attributes.{n}] in the study, or correct the name (declared: {', '.join(names)}).",
                )
        if len(set(listed)) < len(listed):
            dup = next(n for n in listed if list(listed).count(n) > 1)
            raise StudyError(
                f"source {label!r} lists attribute {dup!r} twice.",
                file=config,
                row=row,
                fix="List each attribute once.",
            )


def _stack_surveys(surveys: Sequence[Survey], attributes: Sequence[Attribute]) -> Microdata:
    """Validate each source and stack its rows; a source's unmeasured attributes are -1."""
    parts = [
        check_microdata(
            s.table.frame, attributes, weight=s.weight, file=s.table.label, source=s.table.source,
            measured=s.attributes,
        )
        for s in surveys
    ]
    names = [a.name for a in attributes]
    sources = tuple(
        Source(
            label=s.label,
            attributes=tuple(n for n in names if s.attributes is None or n in s.attributes),
            rows=part.n_rows,
            path=s.table.source,
            weight_column=s.weight,
        )
        for s, part in zip(surveys, parts)
    )
    return Microdata(
        codes=np.concatenate([p.codes for p in parts]),
        weights=np.concatenate([p.weights for p in parts]),
        sources=sources,
    )


def make_study(
    attributes: Mapping[str, Mapping[str, Any]] | Sequence[Attribute],
    marginals: Sequence[pd.DataFrame],
    microdata: pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    weight: str | Mapping[str, str | None] | None = None,
    measured: Mapping[str, Sequence[str]] | None = None,
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
        cells are compared with the levels as text. Several surveys: a mapping
        ``{label: frame}``, each frame with the columns of the attributes it measured.
    weight
        Name of the survey-weight column, or ``None`` for equal weights; with several
        surveys, ``{label: column}`` (sources left out have equal weights).
    measured
        With several surveys, ``{label: [attributes]}``: what each measured. A source left
        out measured every attribute.
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
    if isinstance(microdata, Mapping):
        weights = weight if isinstance(weight, Mapping) else {}
        if weight is not None and not isinstance(weight, Mapping):
            raise StudyError(
                "weight is one column name, but the microdata are several surveys.",
                file="weight",
                fix="Pass weight={label: column} for the weighted sources.",
            )
        surveys: Table | list[Survey] = []
        for label, frame in microdata.items():
            _require_frame(frame, f"microdata[{label!r}]")
            surveys.append(
                Survey(Table(frame, f"microdata[{label!r}]"), label, weights.get(label), (measured or {}).get(label))
            )
        for what, given in (("weight", weights), ("measured", measured or {})):
            extra = [k for k in given if k not in microdata]
            if extra:
                raise StudyError(
                    f"{what} names the survey {extra[0]!r}, which is not among the microdata ({', '.join(map(str, microdata))}).",
                    file=what,
                    fix="Use the labels of the microdata mapping.",
                )
        weight = None
    else:
        _require_frame(microdata, "microdata")
        surveys = Table(microdata, "microdata")
    if areas is not None:
        _require_frame(areas, "areas")
    return build_study(
        checked,
        tables,
        surveys,
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
