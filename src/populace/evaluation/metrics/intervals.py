"""Interval coverage where the census does not pin the answer.

Raking makes every census cell exact in every draw, so those cells "cover" by construction
and a coverage pooled over all 2-way cells says little. The questions users ask sit
elsewhere; each is scored across the draws' central ``interval`` (90 %) quantile interval
(numpy's linear quantiles) against the finite population's own value, and reported per
table, per attribute, per area and per group, never only pooled:

``cov90_free2``
    The cells with ``p >= min_share`` of every 2-way table that no census table holds
    (``free2_by_table``: covered cells and cells per table; ``free2_tables_under_half``:
    tables covering under half their cells). ``cov90_census2`` is the same over the census
    tables' cells, a sanity check only.
``area_cov90``
    For each attribute that no census table crosses with the geography and each of its
    levels, the level's share inside each area with at least ``min_group`` people: the
    share of (area, level) pairs covered; per attribute (``area_cov90_by_attr``), with the
    point error of the pooled draws (``area_mae_by_attr``) beside that of the national
    share (``national_area_mae_by_attr``), and per area (``area_cov90_by_area``).
``group_cov90``
    Outcome shares (a :class:`~populace.evaluation.metrics.Downstream` check) inside each
    group of ``by`` with at least ``min_group`` people that every draw reaches: per check,
    ``(coverage, groups scored)``.

With ``D`` draws a calibrated generator covers about ``(D - 1) * 0.9 / (D + 1)``
(:func:`~populace.evaluation.metrics.coverage.calibrated_coverage`); 200 draws put the
interval's ends within 1-2 points of coverage. Same definitions as the shared reference
scorer ``../shared/benchmarks/intervals.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from populace.evaluation.metrics.cells import Table, cell_index, counts
from populace.evaluation.metrics.codes import Personas
from populace.evaluation.metrics.coverage import draw_shares, interval_coverage, table_coverage
from populace.evaluation.metrics.downstream import Downstream
from populace.study.spec import Study

__all__ = ["interval_metrics", "MIN_GROUP"]

#: Smallest area or group (people in the population) whose share is scored.
MIN_GROUP = 30


def interval_metrics(
    pers: Personas,
    pop: np.ndarray,
    study: Study,
    *,
    groups: Iterable[Downstream] = (),
    interval: float = 0.9,
    min_share: float = 0.001,
    min_group: int = MIN_GROUP,
    by_table: Mapping[Table, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """The three coverage figures of the module docstring (empty with fewer than two draws).

    Parameters
    ----------
    pers
        Persona codes over draws.
    pop
        The population's codes (study order).
    study
        The study whose census tables define what is free.
    groups
        Outcome-share checks for ``group_cov90``.
    interval, min_share, min_group
        Interval probability, the smallest 2-way cell share scored, the smallest area or
        group scored.
    by_table
        (covered cells, cells) of every 2-way table ``(a, b)``, ``a < b``, when the caller
        has them already (:func:`~populace.evaluation.metrics.coverage.coverage_metrics`
        with the same ``interval`` and ``min_share``); computed here otherwise.
    """
    if pers.n_draws < 2:
        return {}
    shape = tuple(a.n_levels for a in study.attributes)
    out = _pair_coverage(pers, pop, study, shape, interval=interval, min_share=min_share, by_table=by_table)
    out.update(_area_coverage(pers, pop, study, shape, interval=interval, min_group=min_group))
    out["group_cov90"] = {
        g.key: _group_coverage(pers, pop, study, shape, g, interval=interval, min_group=min_group) for g in groups
    }
    return out


def census_tables(study: Study) -> list[frozenset[int]]:
    """Each census table's attributes, as study indices."""
    return [frozenset(study.index(a) for a in m.attributes) for m in study.marginals]


def _pair_coverage(
    pers: Personas,
    pop: np.ndarray,
    study: Study,
    shape: tuple[int, ...],
    *,
    interval: float,
    min_share: float,
    by_table: Mapping[Table, tuple[int, int]] | None,
) -> dict[str, Any]:
    held = census_tables(study)
    names = study.names
    free: dict[str, tuple[int, int]] = {}
    census: dict[str, tuple[int, int]] = {}
    for t in itertools.combinations(range(len(shape)), 2):
        if by_table is not None:
            covered, cells = by_table[t]
        else:
            cov, _ = table_coverage(pers, t, counts(pop, t, shape) / len(pop), shape, interval=interval, min_share=min_share)
            covered, cells = int(cov.sum()), int(cov.size)
        into = census if any(set(t) <= h for h in held) else free
        into[f"{names[t[0]]}×{names[t[1]]}"] = (covered, cells)
    share = {k: c / n for k, (c, n) in free.items() if n}
    return {
        "cov90_free2": _pooled(free),
        "free2_by_table": free,
        "free2_tables_under_half": sum(v < 0.5 for v in share.values()),
        "free2_worst": dict(sorted(share.items(), key=lambda kv: kv[1])[:5]),
        "cov90_census2": _pooled(census),
    }


def _area_coverage(
    pers: Personas, pop: np.ndarray, study: Study, shape: tuple[int, ...], *, interval: float, min_group: int
) -> dict[str, Any]:
    geo = study.geography
    if geo is None:
        return {}
    g = study.index(geo.name)
    pinned = {i for h in census_tables(study) if g in h for i in h}
    n_area = np.bincount(pop[:, g], minlength=shape[g])
    big = n_area >= min_group
    if not big.any():
        return {"areas_scored": 0}
    by_attr: dict[str, float] = {}
    mae: dict[str, float] = {}
    national_mae: dict[str, float] = {}
    covered_by_area = np.zeros(shape[g])
    scored_by_area = np.zeros(shape[g])
    pooled = []
    for y in range(len(shape)):
        if y in pinned or y == g:
            continue
        t = (g, y)
        p = (counts(pop, t, shape).reshape(shape[g], shape[y]) / np.maximum(n_area, 1)[:, None])[big]
        q = draw_shares(pers, t, shape).reshape(pers.n_draws, shape[g], shape[y])
        q = q / np.maximum(q.sum(axis=2, keepdims=True), 1e-300)
        cov, _ = interval_coverage(q[:, big].reshape(pers.n_draws, -1), p.ravel(), interval=interval)
        cov = cov.reshape(p.shape)
        nat = counts(pop, (y,), shape) / len(pop)
        name = study.names[y]
        by_attr[name] = float(cov.mean())
        mae[name] = float(np.abs(q[:, big].mean(axis=0) - p).mean())
        national_mae[name] = float(np.abs(nat[None, :] - p).mean())
        covered_by_area[big] += cov.sum(axis=1)
        scored_by_area[big] += cov.shape[1]
        pooled.append(cov.ravel())
    if not pooled:
        return {}
    levels = geo.levels
    return {
        "area_cov90": float(np.concatenate(pooled).mean()),
        "area_cov90_by_attr": by_attr,
        "area_mae_by_attr": mae,
        "national_area_mae_by_attr": national_mae,
        "area_cov90_by_area": {levels[k]: float(covered_by_area[k] / scored_by_area[k]) for k in np.flatnonzero(big)},
        "areas_scored": int(big.sum()),
    }


def _group_coverage(
    pers: Personas, pop: np.ndarray, study: Study, shape: tuple[int, ...], check: Downstream, *, interval: float, min_group: int
) -> tuple[float, int]:
    y = study.index(check.outcome)
    levels = [study.attribute(check.outcome).levels.index(v) for v in check.levels]
    by = tuple(study.index(b) for b in check.by)
    n_groups = int(np.prod([shape[i] for i in by]))
    g_pop = cell_index(pop, by, shape)
    n_pop = np.bincount(g_pop, minlength=n_groups)
    truth = np.bincount(g_pop, weights=np.isin(pop[:, y], levels), minlength=n_groups) / np.maximum(n_pop, 1)
    g_syn = pers.draw * n_groups + cell_index(pers.codes, by, shape)
    yes = np.bincount(g_syn, weights=np.isin(pers.codes[:, y], levels), minlength=pers.n_draws * n_groups)
    size = np.bincount(g_syn, minlength=pers.n_draws * n_groups)
    yes, size = yes.reshape(pers.n_draws, n_groups), size.reshape(pers.n_draws, n_groups)
    keep = (n_pop >= min_group) & (size.min(axis=0) > 0)
    if not keep.any():
        return float("nan"), 0
    cov, _ = interval_coverage(yes[:, keep] / size[:, keep], truth[keep], interval=interval)
    return float(cov.mean()), int(keep.sum())


def _pooled(tables: dict[str, tuple[int, int]]) -> float:
    cells = sum(n for _, n in tables.values())
    return sum(c for c, _ in tables.values()) / cells if cells else float("nan")


def group_checks(checks: Sequence[Downstream], study: Study) -> tuple[Downstream, ...]:
    """The checks whose groups are demographic (no geography among ``by``): the area
    shares are scored by ``area_cov90``."""
    geo = study.geography
    return tuple(c for c in checks if geo is None or geo.name not in c.by)
