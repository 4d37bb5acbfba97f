"""What the model needs from a study, as index arrays: margins, patterns, census cells.

Internal axis order: geography first (size 1 when the study has none), then the
other attributes in study order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from populace.study.reconcile import reconcile
from populace.study.shares import census_margin, effective_weights
from populace.study.spec import Study

__all__ = ["ModelStructure", "build_structure"]


@dataclass(frozen=True, eq=False)
class Patterns:
    """Distinct response patterns with their (weighted) counts."""

    geo: np.ndarray  # (R,) geography index, -1 = not given (sum over geographies)
    codes: np.ndarray  # (R, J) level codes, -1 = not observed
    counts: np.ndarray  # (R,)


@dataclass(frozen=True, eq=False)
class CensusTable:
    """A census table in internal axes: ``axes`` index the joint (0 = geography)."""

    axes: tuple[int, ...]
    counts: np.ndarray
    source: str | None


@dataclass(frozen=True, eq=False)
class ModelStructure:
    names: tuple[str, ...]  # non-geography attributes
    n_levels: tuple[int, ...]
    link: tuple[str, ...]  # "threshold" or "softmax" per attribute
    geo_name: str | None
    n_geo: int
    # Per attribute: (G, L) area shares where a census table crosses it with the
    # geography (None otherwise), and (L,) national shares (None = learned).
    margins: tuple[np.ndarray | None, ...]
    national: tuple[np.ndarray | None, ...]
    geo_shares: np.ndarray | None  # (G,), None = learned
    complete: Patterns  # fully observed microdata patterns
    incomplete: Patterns  # microdata patterns with missing cells
    crosstabs: tuple[Patterns, ...]  # census tables crossing 2+ attributes, as patterns
    census_crosstabs: tuple[CensusTable, ...]  # the same tables
    census: tuple[CensusTable, ...]  # every census table, for raking
    n_eff: float  # Kish effective sample size of the microdata
    # Area-level predictors of the area effects (G, P), standardised (population-weighted
    # mean 0, sd 1), and their names; None / () without an area table.
    area_predictors: np.ndarray | None = None
    area_predictor_names: tuple[str, ...] = ()

    @property
    def joint_shape(self) -> tuple[int, ...]:
        return (self.n_geo, *self.n_levels)

    def column(self, name: str) -> int:
        """Internal column of attribute ``name``: 0 the geography, then ``names`` in order."""
        return 0 if name == self.geo_name else 1 + self.names.index(name)

    @property
    def area(self) -> tuple[bool, ...]:
        """Per attribute: are its margins pinned per area (the MRP "demographics")?"""
        return tuple(m is not None for m in self.margins)


def build_structure(study: Study) -> ModelStructure:
    """Derive the model's index arrays from a validated study."""
    # Census tables with stated error enter as their posterior mean (generation draws them).
    study = replace(study, marginals=reconcile(study.marginals))
    geo = study.geography
    names = tuple(a.name for a in study.attributes if a.role != "geography")
    attrs = [study.attribute(n) for n in names]
    n_levels = tuple(a.n_levels for a in attrs)
    link = tuple("softmax" if a.type == "nominal" and a.n_levels > 2 else "threshold" for a in attrs)
    n_geo = geo.n_levels if geo is not None else 1
    axis_of = {n: i + 1 for i, n in enumerate(names)}
    if geo is not None:
        axis_of[geo.name] = 0

    census = tuple(
        CensusTable(tuple(axis_of[a] for a in m.attributes), np.asarray(m.counts, float), m.source)
        for m in study.marginals
    )
    margins = tuple(_area_margin(census, axis_of[n]) if geo is not None else None for n in names)
    national = tuple(census_margin(study, n) for n in names)
    geo_shares = census_margin(study, geo.name) if geo is not None else np.ones(1)

    # Microdata: each survey at its Kish effective size, so that unequal weights count as
    # less information; a survey's rows miss the attributes it did not measure.
    md = study.microdata
    w = effective_weights(md)
    n_eff = float(w.sum())
    col = {n: study.index(n) for n in study.names}
    codes = md.codes[:, [col[n] for n in names]] if names else np.zeros((md.n_rows, 0), int)
    geo_codes = md.codes[:, col[geo.name]] if geo is not None else np.zeros(md.n_rows, int)
    full = (codes >= 0).all(axis=1) & (geo_codes >= 0)
    complete = _collapse(geo_codes[full], codes[full], w[full])
    incomplete = _collapse(geo_codes[~full], codes[~full], w[~full])

    predictors = None
    if study.areas is not None and geo is not None:
        # Standardised with the areas' population weights (equal where the census gives none).
        w = geo_shares if geo_shares is not None else np.full(n_geo, 1.0 / n_geo)
        x = np.asarray(study.areas.values, float)
        mean = w @ x
        sd = np.sqrt(w @ (x - mean) ** 2)
        predictors = (x - mean) / np.where(sd > 0, sd, 1.0)
    census_crosstabs = tuple(t for t in census if len([a for a in t.axes if a > 0]) >= 2)
    crosstabs = tuple(_table_patterns(t, len(names)) for t in census_crosstabs)
    return ModelStructure(
        names=names,
        n_levels=n_levels,
        link=link,
        geo_name=geo.name if geo is not None else None,
        n_geo=n_geo,
        margins=margins,
        national=national,
        geo_shares=geo_shares,
        complete=complete,
        incomplete=incomplete,
        crosstabs=crosstabs,
        census_crosstabs=census_crosstabs,
        census=census,
        n_eff=n_eff,
        area_predictors=predictors,
        area_predictor_names=study.areas.names if predictors is not None else (),
    )


def _area_margin(census: tuple[CensusTable, ...], axis: int) -> np.ndarray | None:
    """(G, L) shares of one attribute per area, from a table crossing it with the geography.

    None when no table does: the attribute's area margins then follow from the model
    (MRP-style, see ``models.copula``), not from copies of the national margin.
    """
    with_geo = [t for t in census if axis in t.axes and 0 in t.axes]
    if not with_geo:
        return None
    t = with_geo[0]
    other = tuple(i for i, a in enumerate(t.axes) if a not in (0, axis))
    c = t.counts.sum(axis=other) if other else t.counts
    if t.axes.index(0) > t.axes.index(axis):
        c = c.T
    tot = c.sum(axis=1, keepdims=True)
    national = c.sum(axis=0) / c.sum()
    return np.where(tot > 0, c / np.where(tot > 0, tot, 1), national)


def _collapse(geo: np.ndarray, codes: np.ndarray, w: np.ndarray) -> Patterns:
    """Identical rows become one pattern with summed weight."""
    if len(w) == 0:
        return Patterns(np.zeros(0, int), np.zeros((0, codes.shape[1]), int), np.zeros(0))
    keys = np.column_stack([geo, codes])
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    counts = np.bincount(inv.reshape(-1), weights=w, minlength=len(uniq))
    return Patterns(uniq[:, 0].astype(int), uniq[:, 1:].astype(int), counts)


def _table_patterns(t: CensusTable, n_attr: int) -> Patterns:
    """Each cell of a census table as a pattern (attributes outside it unobserved)."""
    idx = np.indices(t.counts.shape).reshape(len(t.axes), -1).T
    codes = -np.ones((len(idx), n_attr), int)
    geo = -np.ones(len(idx), int)
    for k, a in enumerate(t.axes):
        if a == 0:
            geo = idx[:, k]
        else:
            codes[:, a - 1] = idx[:, k]
    return Patterns(geo, codes, t.counts.reshape(-1).astype(float))
