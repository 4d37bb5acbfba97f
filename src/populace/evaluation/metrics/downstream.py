"""Downstream checks: the error of an outcome's share within groups (e.g. support by party
and sex), population-weighted over the groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from populace.evaluation.metrics.cells import counts
from populace.evaluation.metrics.codes import Personas, persona_codes, population_codes
from populace.study.spec import Study


@dataclass(frozen=True)
class Downstream:
    """One downstream check: share of ``outcome == level`` within groups ``by``.

    ``level`` may be a tuple of levels: the share of ``outcome`` in any of them (e.g. the
    Republican identifiers among seven party-ID levels).
    """

    outcome: str
    level: str | tuple[str, ...]
    by: tuple[str, ...]

    @property
    def levels(self) -> tuple[str, ...]:
        return (self.level,) if isinstance(self.level, str) else tuple(self.level)

    @property
    def key(self) -> str:
        return f"down[{self.outcome}={'/'.join(self.levels)}|{','.join(self.by)}]"


def downstream_error(
    personas: xr.Dataset | pd.DataFrame | Personas,
    population: pd.DataFrame | np.ndarray,
    study: Study,
    *,
    outcome: str,
    level: str | tuple[str, ...],
    by: Sequence[str],
    per_draw: bool = False,
) -> float:
    """Population-weighted mean absolute error of an outcome share across groups.

    For each group ``g`` (a cell of the attributes ``by``) with ``N_g > 0`` population
    members, ``s_g = #(outcome == level in g) / N_g`` in P and ``ŝ_g`` the same share among
    the personas. The error is ``sum_g w_g |ŝ_g - s_g| / sum_g w_g`` with ``w_g = N_g / N``,
    the sums running over the groups the personas reach.

    Groups with no personas cannot be scored and are skipped, with the weights
    renormalised over the remaining groups. By default the draws are pooled (each draw
    weighted equally), so a group is skipped only if no draw has it. With
    ``per_draw=True`` the error is computed on each draw, skipping the groups that draw
    lacks, and averaged over draws.
    """
    pers = persona_codes(personas, study)
    pop = population_codes(population, study)
    return downstream_check(pers, pop, study, Downstream(outcome, level, tuple(by)), per_draw=per_draw)[0]


def downstream_check(
    pers: Personas, pop: np.ndarray, study: Study, check: Downstream, *, per_draw: bool
) -> tuple[float, float]:
    """(population-weighted MAE, population mass of the groups skipped)."""
    j = study.index(check.outcome)
    levels = [study.attribute(check.outcome).levels.index(lev) for lev in check.levels]
    t = tuple(study.index(b) for b in check.by)
    shape = tuple(a.n_levels for a in study.attributes)
    n_pop_g = counts(pop, t, shape)
    yes_pop_g = counts(pop[np.isin(pop[:, j], levels)], t, shape)
    s_pop = np.divide(yes_pop_g, n_pop_g, out=np.zeros(n_pop_g.shape), where=n_pop_g > 0)
    w_pop = n_pop_g / n_pop_g.sum()

    def one(p: Personas) -> tuple[float, float]:
        w = p.weight
        n_g = counts(p.codes, t, shape, w)
        hit = np.isin(p.codes[:, j], levels)
        yes_g = counts(p.codes[hit], t, shape, w[hit])
        ok = (n_g > 0) & (n_pop_g > 0)
        s_syn = np.divide(yes_g, n_g, out=np.zeros(n_g.shape), where=ok)
        skipped = float(w_pop[(n_pop_g > 0) & ~ok].sum())
        if not ok.any():
            return np.nan, skipped
        return float((w_pop[ok] * np.abs(s_syn[ok] - s_pop[ok])).sum() / w_pop[ok].sum()), skipped

    if per_draw:
        res = [one(pers.select(d)) for d in range(pers.n_draws)]
        return float(np.nanmean([r[0] for r in res])), float(np.mean([r[1] for r in res]))
    return one(pers)
