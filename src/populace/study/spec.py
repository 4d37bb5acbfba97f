"""The study: attributes, census tables and microdata, as plain Python objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = ["Areas", "Attribute", "Marginal", "Microdata", "Source", "Study"]

AttributeType = Literal["ordinal", "nominal"]


@dataclass(frozen=True)
class Attribute:
    """One categorical attribute of a persona.

    Parameters
    ----------
    name
        Column name used in every table and in the microdata.
    type
        ``"ordinal"`` (levels are ordered) or ``"nominal"``.
    levels
        The level labels, in order for ordinal attributes.
    role
        ``"geography"`` for the attribute that indexes areas, else ``None``.
    phrases
        Optional readable wording of some levels for persona cards
        (``{"18-29": "in their twenties"}``), stored as ``(level, phrase)`` pairs in
        level order; a mapping is accepted. Levels without one read as their label.
    """

    name: str
    type: AttributeType
    levels: tuple[str, ...]
    role: Literal["geography"] | None = None
    phrases: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Pairs, not a dict, so that the frozen dataclass stays hashable.
        if isinstance(self.phrases, Mapping):
            order = {v: i for i, v in enumerate(self.levels)}
            pairs = sorted(self.phrases.items(), key=lambda kv: order.get(kv[0], len(order)))
            object.__setattr__(self, "phrases", tuple(pairs))

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    def phrase(self, level: str) -> str:
        """Readable wording of ``level``: its declared phrase, else the label itself."""
        return dict(self.phrases).get(level, level)


@dataclass(frozen=True, eq=False)
class Marginal:
    """A census table: counts over the full Cartesian product of some attributes.

    ``counts[i, j, ...]`` is the count of level ``i`` of ``attributes[0]``,
    level ``j`` of ``attributes[1]``, and so on. ``se`` (same shape) is each published
    count's standard error when the table is a noisy measurement of the population's
    (an ACS estimate with its margin of error, a count with disclosure-avoidance noise);
    ``None`` for an exact table.
    """

    attributes: tuple[str, ...]
    counts: np.ndarray
    source: str | None = None
    se: np.ndarray | None = None

    @property
    def total(self) -> float:
        return float(self.counts.sum())


@dataclass(frozen=True)
class Source:
    """One survey of the study's microdata: a block of consecutive rows.

    Parameters
    ----------
    label
        How reports name it (``"anes"``, ``"gss"``).
    attributes
        The attributes it measured, in study order. Its rows are missing the others by
        design, not at random.
    rows
        Its number of rows; sources follow one another in :attr:`Microdata.codes`.
    path
        Its file as written in the study, or ``None``.
    weight_column
        Its survey-weight column, or ``None`` for equal weights.
    """

    label: str
    attributes: tuple[str, ...]
    rows: int
    path: str | None = None
    weight_column: str | None = None


@dataclass(frozen=True, eq=False)
class Microdata:
    """Survey rows coded as level indices, in study attribute order.

    ``codes[r, j]`` is the level index of attribute ``j`` in row ``r``, or
    ``-1`` where the cell is missing. ``weights`` are the survey weights
    (ones when the study names no weight column). ``sources`` splits the rows into the
    surveys they came from (:class:`Source`, in row order); empty for one survey, whose
    file and weight column are ``source`` and ``weight_column``.
    """

    codes: np.ndarray
    weights: np.ndarray
    source: str | None = None
    weight_column: str | None = None
    sources: tuple[Source, ...] = ()

    def __post_init__(self) -> None:
        rows = sum(s.rows for s in self.sources)
        if self.sources and rows != self.n_rows:
            raise ValueError(f"the sources hold {rows} rows, the microdata {self.n_rows}")

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])

    def row_source(self) -> np.ndarray:
        """The index (into ``sources``) of each row's survey; zeros for one survey."""
        if not self.sources:
            return np.zeros(self.n_rows, dtype=np.int64)
        return np.repeat(np.arange(len(self.sources)), [s.rows for s in self.sources])


@dataclass(frozen=True, eq=False)
class Areas:
    """Area-level predictors of the area effects: ``values[g, k]`` is predictor
    ``names[k]`` in level ``g`` of the geography (raw; the model standardises them)."""

    values: np.ndarray
    names: tuple[str, ...]
    source: str | None = None


@dataclass(frozen=True, eq=False)
class Study:
    """Census tables plus microdata over a fixed set of attributes, and optionally an area
    table of area-level predictors."""

    attributes: tuple[Attribute, ...]
    marginals: tuple[Marginal, ...]
    microdata: Microdata
    name: str = "study"
    meta: dict[str, Any] = field(default_factory=dict)
    areas: Areas | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    def attribute(self, name: str) -> Attribute:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(name)

    def index(self, name: str) -> int:
        return self.names.index(name)

    @property
    def sources(self) -> tuple[Source, ...]:
        """The surveys of the microdata; one covering every attribute when it names none."""
        md = self.microdata
        if md.sources:
            return md.sources
        label = Path(md.source).stem if md.source else "microdata"
        return (Source(label, self.names, md.n_rows, md.source, md.weight_column),)

    @property
    def geography(self) -> Attribute | None:
        for a in self.attributes:
            if a.role == "geography":
                return a
        return None
