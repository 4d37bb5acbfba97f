"""Validation of attribute declarations (the ``[attributes.*]`` tables)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from populace.errors import StudyError
from populace.study.spec import Attribute

__all__ = [
    "ATTRIBUTE_KEYS",
    "RESERVED_NAMES",
    "Locate",
    "check_attributes",
    "check_phrases",
    "attributes_spec",
]

#: Keys an attribute declaration may have.
ATTRIBUTE_KEYS = ("type", "levels", "role", "phrases")
TYPES = ("ordinal", "nominal")
ROLES = ("geography",)
#: Names an attribute may not take because tables use them for other columns.
RESERVED_NAMES = ("count",)

#: Maps a key path in the study file, e.g. ``("attributes", "age", "levels")``,
#: to the 1-based line that declares it (``None`` when unknown).
Locate = Callable[..., int | None]


def _no_line(*keys: str | int) -> int | None:
    return None


def attributes_spec(attributes: Sequence[Attribute]) -> dict[str, dict[str, Any]]:
    """Turn :class:`Attribute` objects back into declarations to validate.

    Parameters
    ----------
    attributes
        Attributes built in Python.

    Returns
    -------
    dict
        ``{name: {"type": ..., "levels": [...], "role": ...}}`` in the same
        order, ready for :func:`check_attributes`.
    """
    spec: dict[str, dict[str, Any]] = {}
    for i, a in enumerate(attributes):
        if not isinstance(a, Attribute):
            raise StudyError(
                f"attributes[{i}] is a {type(a).__name__}, not an Attribute.",
                file="attributes",
                fix="Pass Attribute objects, or a mapping {name: {'type': ..., 'levels': [...]}}.",
            )
        if a.name in spec:
            raise StudyError(
                f"attribute {a.name!r} is declared twice.",
                file="attributes",
                fix="Give each attribute a unique name.",
            )
        spec[a.name] = {"type": a.type, "levels": list(a.levels)}
        if a.role is not None:
            spec[a.name]["role"] = a.role
        if a.phrases:
            spec[a.name]["phrases"] = dict(a.phrases)
    return spec


def check_attributes(
    spec: Any,
    *,
    file: str | None = None,
    locate: Locate | None = None,
) -> tuple[Attribute, ...]:
    """Validate attribute declarations and build :class:`Attribute` objects.

    Parameters
    ----------
    spec
        ``{name: {"type": "ordinal" | "nominal", "levels": [...],
        "role": "geography", "phrases": {level: text}}}``; ``role`` and
        ``phrases`` are optional. Order is kept.
    file
        Name of the file the declarations come from, for messages.
    locate
        Finds the line of a key path in that file, for messages.

    Returns
    -------
    tuple of Attribute

    Raises
    ------
    StudyError
        On the first problem found.
    """
    where = locate or _no_line
    if spec is not None and not isinstance(spec, Mapping):
        raise StudyError(
            f"attributes is a {type(spec).__name__}; it must map each attribute name "
            "to its declaration.",
            file=file,
            row=where("attributes"),
            fix="Write one [attributes.<name>] table per attribute (not [[attributes]]).",
        )
    if not spec:
        raise StudyError(
            "the study declares no attributes.",
            file=file,
            row=where("attributes"),
            fix="Declare at least one, e.g. [attributes.age] with "
            'type = "ordinal" and levels = [...].',
        )
    attributes = [
        _check_one(name, entry, file=file, where=where) for name, entry in spec.items()
    ]
    geo = [a.name for a in attributes if a.role == "geography"]
    if len(geo) > 1:
        raise StudyError(
            f"{len(geo)} attributes have role = \"geography\" ({', '.join(map(repr, geo))}); "
            "a study has at most one.",
            file=file,
            row=where("attributes", geo[1], "role"),
            fix='Keep role = "geography" on the attribute that indexes areas '
            "and remove it from the others.",
        )
    return tuple(attributes)


def _check_one(name: Any, entry: Any, *, file: str | None, where: Locate) -> Attribute:
    """Validate one attribute declaration."""
    if not isinstance(name, str) or not name:
        raise StudyError(
            f"attribute name {name!r} is not a non-empty string.",
            file=file,
            fix="Name every attribute with a non-empty string.",
        )
    label = f"attribute {name!r}"
    if name in RESERVED_NAMES:
        raise StudyError(
            f"{label} uses a reserved name: census tables use {name!r} for their cell counts.",
            file=file,
            row=where("attributes", name),
            fix=f"Rename the attribute (e.g. {name + '_'!r}) here and in every table.",
        )
    if not isinstance(entry, Mapping):
        raise StudyError(
            f"{label} must be a table of keys, not a {type(entry).__name__}.",
            file=file,
            row=where("attributes", name),
            fix=f'Write it as [attributes.{name}] with type = "..." and levels = [...].',
        )
    unknown = [k for k in entry if k not in ATTRIBUTE_KEYS]
    if unknown:
        raise StudyError(
            f"{label} has unknown key {unknown[0]!r}; allowed keys are "
            f"{', '.join(ATTRIBUTE_KEYS)}.",
            file=file,
            row=where("attributes", name, unknown[0]),
            fix=f"Remove {unknown[0]!r} or correct its spelling.",
        )
    for key in ("type", "levels"):
        if key not in entry:
            raise StudyError(
                f"{label} has no {key!r}.",
                file=file,
                row=where("attributes", name),
                fix=(
                    'Add type = "ordinal" (ordered levels) or type = "nominal".'
                    if key == "type"
                    else 'Add levels = ["...", "..."] listing every level.'
                ),
            )
    kind = entry["type"]
    if kind not in TYPES:
        raise StudyError(
            f"{label} has type = {kind!r}; it must be \"ordinal\" or \"nominal\".",
            file=file,
            row=where("attributes", name, "type"),
            fix='Use type = "ordinal" for ordered levels, type = "nominal" otherwise.',
        )
    role = entry.get("role")
    if role is not None and role not in ROLES:
        raise StudyError(
            f"{label} has role = {role!r}; the only role is \"geography\".",
            file=file,
            row=where("attributes", name, "role"),
            fix='Use role = "geography" for the attribute that indexes areas, or remove role.',
        )
    levels = _check_levels(label, name, entry["levels"], file=file, where=where)
    phrases = check_phrases(label, levels, entry.get("phrases"), file=file, row=where("attributes", name, "phrases"))
    return Attribute(name=name, type=kind, levels=levels, role=role, phrases=phrases)


def check_phrases(
    label: str, levels: Sequence[str], phrases: Any, *, file: str | None, row: int | None
) -> dict[str, str]:
    """Validate readable level phrases (``{level: text}``) of one attribute.

    Parameters
    ----------
    label
        How messages name the attribute (``attribute 'age'``).
    levels
        The attribute's levels; every key must be one of them.
    phrases
        The declared phrases, or ``None``.
    file, row
        Where they are declared, for messages.

    Returns
    -------
    dict
        ``{level: phrase}``, empty when none are declared.
    """
    if phrases is None:
        return {}
    example = f'phrases = {{ "{levels[0]}" = "..." }}'
    if not isinstance(phrases, Mapping):
        raise StudyError(
            f"{label} has phrases = {phrases!r}; it must map levels to readable text.",
            file=file,
            row=row,
            fix=f"Write {example}.",
        )
    for level, text in phrases.items():
        if level not in levels:
            raise StudyError(
                f"{label} has a phrase for {level!r}, which is not one of its levels "
                f"({', '.join(map(repr, levels))}).",
                file=file,
                row=row,
                fix=f"Spell the level exactly as in levels, or remove the phrase for {level!r}.",
            )
        if not isinstance(text, str) or not text.strip():
            raise StudyError(
                f"{label} has phrase {text!r} for level {level!r}; a phrase must be non-empty text.",
                file=file,
                row=row,
                fix=f'Quote it, e.g. "{level}" = "...".',
            )
    return dict(phrases)


def _check_levels(
    label: str, name: str, levels: Any, *, file: str | None, where: Locate
) -> tuple[str, ...]:
    """Validate the ``levels`` of one attribute."""
    row = where("attributes", name, "levels")
    if isinstance(levels, str) or not isinstance(levels, Sequence):
        raise StudyError(
            f"{label} has levels = {levels!r}; it must be a list of strings.",
            file=file,
            row=row,
            fix='Write levels = ["...", "..."].',
        )
    for value in levels:
        if not isinstance(value, str):
            raise StudyError(
                f"{label} has level {value!r}, which is not a string.",
                file=file,
                row=row,
                fix=f'Quote every level, e.g. "{value}": tables are matched as text.',
            )
        if value == "":
            raise StudyError(
                f"{label} has an empty level; empty cells mean 'missing'.",
                file=file,
                row=row,
                fix="Remove the empty level or give it a name.",
            )
    seen: set[str] = set()
    for value in levels:
        if value in seen:
            raise StudyError(
                f"{label} lists level {value!r} twice.",
                file=file,
                row=row,
                fix="List every level exactly once.",
            )
        seen.add(value)
    if len(levels) < 2:
        raise StudyError(
            f"{label} has {len(levels)} level{'' if len(levels) == 1 else 's'}; "
            "an attribute needs at least 2.",
            file=file,
            row=row,
            fix="List every level, or drop an attribute that never varies.",
        )
    return tuple(levels)
