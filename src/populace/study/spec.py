"""The study: attributes, census tables and microdata, as plain Python objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["Areas", "Attribute", "Marginal", "Microdata", "Study"]

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
    level ``j`` of ``attributes[1]``, and so on.
    """

    attributes: tuple[str, ...]
    counts: np.ndarray
    source: str | None = None

    @property
    def total(self) -> float:
        return float(self.counts.sum())


@dataclass(frozen=True, eq=False)
class Microdata:
    """Survey rows coded as level indices, in study attribute order.

    ``codes[r, j]`` is the level index of attribute ``j`` in row ``r``, or
    ``-1`` where the cell is missing. ``weights`` are the survey weights
    (ones when the study names no weight column).
    """

    codes: np.ndarray
    weights: np.ndarray
    source: str | None = None
    weight_column: str | None = None

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])


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
    def geography(self) -> Attribute | None:
        for a in self.attributes:
            if a.role == "geography":
                return a
        return None
