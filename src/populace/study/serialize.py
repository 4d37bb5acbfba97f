"""A compact, JSON-serialisable form of a :class:`Study`.

Fit files store the study they were fitted to as JSON in their attributes,
so counts are written as integers when they are whole and the microdata
codes as one flat list plus a shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from populace.errors import StudyError
from populace.study.spec import Areas, Attribute, Marginal, Microdata, Source, Study

__all__ = ["FORMAT", "VERSION", "study_to_dict", "study_from_dict"]

FORMAT = "populace.study"
VERSION = 1
_LABEL = "<study dict>"


def study_to_dict(study: Study) -> dict[str, Any]:
    """Return a JSON-serialisable description of ``study``.

    Parameters
    ----------
    study
        Any study; ``study.meta`` is included as is and must itself be
        JSON-serialisable.

    Returns
    -------
    dict
        Only ``str``, ``int``, ``float``, ``None``, lists and dicts:
        ``format``, ``version``, ``name``, ``attributes`` (name, type,
        levels, role, and phrases when declared), ``marginals`` (attributes, nested ``counts``,
        source), ``microdata`` (``shape``, flat row-major ``codes``,
        ``weights`` as ``None`` / one number / a list, ``weight_column``,
        source, and ``sources`` (label, attributes, rows, path, weight column of each
        survey) when there are several), ``areas`` (predictor names, values per area, source) when the study has
        an area table, and ``meta`` when the study has any.
    """
    micro = study.microdata
    weights = np.asarray(micro.weights, dtype=np.float64)
    out: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "name": study.name,
        "attributes": [
            {"name": a.name, "type": a.type, "levels": list(a.levels), "role": a.role}
            | ({"phrases": dict(a.phrases)} if a.phrases else {})
            for a in study.attributes
        ],
        "marginals": [
            {
                "attributes": list(m.attributes),
                "counts": _numbers(m.counts).tolist(),
                "source": m.source,
            }
            | ({"se": np.asarray(m.se, dtype=np.float64).tolist()} if m.se is not None else {})
            for m in study.marginals
        ],
        "microdata": {
            "shape": [int(n) for n in micro.codes.shape],
            "codes": np.asarray(micro.codes, dtype=np.int64).ravel().tolist(),
            "weights": _weights(weights),
            "weight_column": micro.weight_column,
            "source": micro.source,
        },
    }
    if micro.sources:
        out["microdata"]["sources"] = [
            {"label": x.label, "attributes": list(x.attributes), "rows": x.rows, "path": x.path, "weight_column": x.weight_column}
            for x in micro.sources
        ]
    if study.areas is not None:
        out["areas"] = {
            "names": list(study.areas.names),
            "values": np.asarray(study.areas.values, dtype=np.float64).tolist(),
            "source": study.areas.source,
        }
    if study.meta:
        out["meta"] = dict(study.meta)
    return out


def _weights(weights: np.ndarray) -> None | float | list[float]:
    """``None`` for unit weights, one number for equal weights (simple random
    samples), else the full list."""
    if weights.size and np.all(weights == weights[0]):
        return None if weights[0] == 1.0 else float(weights[0])
    return weights.tolist() if weights.size else None


def _numbers(counts: np.ndarray) -> np.ndarray:
    """Counts as int64 when every one is whole (shorter JSON), else float64."""
    counts = np.asarray(counts, dtype=np.float64)
    whole = np.isfinite(counts) & (counts == np.round(counts)) & (np.abs(counts) < 2**53)
    if np.all(whole):
        return counts.astype(np.int64)
    return counts


def study_from_dict(d: Mapping[str, Any]) -> Study:
    """Rebuild a study written by :func:`study_to_dict`.

    Parameters
    ----------
    d
        The dict (e.g. parsed back from JSON).

    Returns
    -------
    Study

    Raises
    ------
    StudyError
        If the dict is not a study of a known version or its arrays do not
        fit its attributes.
    """
    try:
        return _from_dict(d)
    except StudyError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise StudyError(
            f"the study description is malformed ({type(exc).__name__}: {exc}).",
            file=_LABEL,
            fix="Pass a dict produced by study_to_dict.",
        ) from None


def _from_dict(d: Mapping[str, Any]) -> Study:
    if d.get("format") != FORMAT or d.get("version") != VERSION:
        raise StudyError(
            "not a populace study description "
            f"(format {d.get('format')!r}, version {d.get('version')!r}).",
            file=_LABEL,
            fix=f"Pass a dict produced by study_to_dict (format {FORMAT!r}, version {VERSION}).",
        )
    attributes = tuple(
        Attribute(
            name=a["name"], type=a["type"], levels=tuple(a["levels"]), role=a.get("role"),
            phrases=dict(a.get("phrases") or {}),
        )
        for a in d["attributes"]
    )
    n_levels = {a.name: a.n_levels for a in attributes}
    marginals = []
    for i, m in enumerate(d["marginals"]):
        names = tuple(m["attributes"])
        counts = np.asarray(m["counts"], dtype=np.float64)
        shape = tuple(n_levels[n] for n in names)
        if counts.shape != shape:
            raise StudyError(
                f"marginal {i} has counts of shape {counts.shape}, "
                f"but its attributes give {shape}.",
                file=_LABEL,
                fix="Pass a dict produced by study_to_dict.",
            )
        se = np.asarray(m["se"], dtype=np.float64) if m.get("se") is not None else None
        if se is not None and se.shape != shape:
            raise StudyError(
                f"marginal {i} has standard errors of shape {se.shape}, but its attributes give {shape}.",
                file=_LABEL,
                fix="Pass a dict produced by study_to_dict.",
            )
        marginals.append(Marginal(attributes=names, counts=counts, source=m.get("source"), se=se))
    md = d["microdata"]
    shape = tuple(int(n) for n in md["shape"])
    codes = np.asarray(md["codes"], dtype=np.int64).reshape(shape)
    if codes.ndim != 2 or codes.shape[1] != len(attributes):
        raise StudyError(
            f"microdata codes have shape {codes.shape}, not (rows, {len(attributes)}).",
            file=_LABEL,
            fix="Pass a dict produced by study_to_dict.",
        )
    limits = np.array([a.n_levels for a in attributes], dtype=np.int64)
    if codes.size and (np.any(codes < -1) or np.any(codes >= limits)):
        raise StudyError(
            "microdata codes fall outside the attributes' levels.",
            file=_LABEL,
            fix="Pass a dict produced by study_to_dict.",
        )
    raw_weights = md.get("weights")
    if raw_weights is None:
        weights = np.ones(shape[0], dtype=np.float64)
    elif isinstance(raw_weights, (int, float)):
        weights = np.full(shape[0], float(raw_weights))
    else:
        weights = np.asarray(raw_weights, dtype=np.float64)
    if weights.shape != (shape[0],):
        raise StudyError(
            f"microdata has {weights.size} weights for {shape[0]} rows.",
            file=_LABEL,
            fix="Pass a dict produced by study_to_dict.",
        )
    sources = tuple(
        Source(x["label"], tuple(x["attributes"]), int(x["rows"]), x.get("path"), x.get("weight_column"))
        for x in md.get("sources") or ()
    )
    microdata = Microdata(
        codes=codes, weights=weights, source=md.get("source"), weight_column=md.get("weight_column"), sources=sources
    )
    areas = None
    if d.get("areas") is not None:
        geo = [a for a in attributes if a.role == "geography"]
        values = np.asarray(d["areas"]["values"], dtype=np.float64)
        names = tuple(d["areas"]["names"])
        if not geo or values.shape != (geo[0].n_levels, len(names)):
            raise StudyError(
                f"the area table has values of shape {values.shape}, not (areas, {len(names)} predictors).",
                file=_LABEL,
                fix="Pass a dict produced by study_to_dict.",
            )
        areas = Areas(values=values, names=names, source=d["areas"].get("source"))
    return Study(
        attributes=attributes,
        marginals=tuple(marginals),
        microdata=microdata,
        name=d["name"],
        meta=dict(d.get("meta") or {}),
        areas=areas,
    )
