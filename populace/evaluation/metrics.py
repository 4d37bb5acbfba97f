"""How right a synthetic persona population is, measured against the true population.

Notation: P is the population (N rows), S the microdata sample the generator saw, and the
personas come in D draws (posterior draws, or one draw for point generators). For a table
over attributes ``T`` with cells ``c`` (the full Cartesian product of their levels, empty
cells included), ``p_c`` is the population share and ``q_c`` the synthetic share. By
default the draws are **pooled**: every draw gets equal weight, so
``q_c = (1/D) sum_d q_{d,c}``. With ``per_draw=True`` every point metric is computed on
each draw separately and averaged over draws.

Metrics (``score`` returns all of them)
---------------------------------------
``srmse{k}`` (k = 1, 2, 3)
    Standardised root mean squared error of each k-way table,
    ``SRMSE_T = sqrt(mean_c (q_c - p_c)^2) / mean_c p_c`` (``mean_c p_c = 1 / C_T``),
    averaged over all k-way tables of the attributes.
``tvd_joint``, ``tvd3``
    Total variation distance ``0.5 * sum_c |q_c - p_c|`` on the full joint, and its mean
    over all 3-way tables.
``sz_recall_joint``, ``sz_recall_3way``
    Sampling-zero recall. Let ``Z`` be the cells absent from the sample (no complete row
    of S falls in them). Recall ``= sum_{c in Z, q_c > 0} p_c / sum_{c in Z} p_c``: of the
    population mass in combinations the sample lacks, the share the generator produces
    at all. The 3-way version computes it per 3-way table (rows of S complete on those
    three attributes) and averages over the tables with unseen mass. ``unseen_mass`` is
    ``sum_{c in Z} p_c`` on the joint.
``false_combo``, ``false_3way``
    Synthetic mass on cells that never occur in P: ``sum_{c: p_c = 0} q_c`` on the joint,
    and its mean over 3-way tables.
``cov90``, ``width90``, ``cov_cells``
    Over all cells of all 2-way tables with ``p_c >= min_share`` (0.001), with
    ``[lo_c, hi_c]`` the central ``interval`` (90 %) quantile interval of ``q_{d,c}``
    across draws (numpy's linear quantiles): ``cov90`` = share of cells with
    ``lo_c <= p_c <= hi_c``, ``width90`` = mean ``hi_c - lo_c``, ``cov_cells`` = number of
    cells. NaN with fewer than two draws.
``srmse2_by_table``, ``srmse2_independence``
    SRMSE of every 2-way table, keyed ``"a×b"``, and what the product of P's own 1-D
    margins scores on it, so each table can be compared to the independence yardstick.
``down[...]``
    Downstream outcome-share errors, see :func:`downstream_error`.

Everything works on integer level codes; tables are counted with ``np.bincount`` over
raveled multi-indices, and the joint with ``np.unique`` over raveled keys (sparse), so
scoring a 14,000-row population against 20 draws takes well under a second.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from populace.study.spec import Microdata, Study

__all__ = [
    "Downstream",
    "Personas",
    "score",
    "srmse",
    "tvd",
    "downstream_error",
    "interval_coverage",
    "persona_codes",
    "population_codes",
]

Table = tuple[int, ...]


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


@dataclass(frozen=True, eq=False)
class Personas:
    """Persona codes flattened over draws.

    ``codes[r]`` holds the level codes of row ``r`` (study order) and ``draw[r]`` its
    draw index in ``0 .. n_draws - 1``; ``weight[r] = 1 / (n_draws * size of its draw)``,
    so every draw counts equally and the weights sum to one.
    """

    codes: np.ndarray
    draw: np.ndarray
    n_draws: int

    @property
    def weight(self) -> np.ndarray:
        sizes = np.bincount(self.draw, minlength=self.n_draws).astype(float)
        return 1.0 / (self.n_draws * sizes[self.draw])

    def select(self, d: int) -> Personas:
        """The personas of draw ``d`` alone."""
        keep = self.draw == d
        return Personas(self.codes[keep], np.zeros(int(keep.sum()), dtype=np.int64), 1)


# ------------------------------------------------------------------------------ inputs


def persona_codes(personas: xr.Dataset | pd.DataFrame | Personas, study: Study) -> Personas:
    """Codes of a persona set in study order.

    Parameters
    ----------
    personas
        The persona Dataset (dims ``draw, persona``, integer codes, as made by
        :func:`populace.personas.persona_dataset`), or a DataFrame with a ``draw`` column
        and one column per attribute (labels, categoricals of labels, or integer codes);
        without a ``draw`` column the frame is one draw.
    study
        Gives the attribute order and levels.
    """
    if isinstance(personas, Personas):
        return personas
    if isinstance(personas, xr.Dataset):
        n_draw, n_persona = personas.sizes["draw"], personas.sizes["persona"]
        cols = []
        for a in study.attributes:
            var = personas[a.name]
            stored = var.attrs.get("levels")
            if stored is not None and tuple(json.loads(stored)) != a.levels:
                raise ValueError(f"personas' levels of {a.name!r} differ from the study's")
            cols.append(var.transpose("draw", "persona").values.reshape(-1).astype(np.int64))
        codes = np.column_stack(cols)
        draw = np.repeat(np.arange(n_draw), n_persona)
        return Personas(codes, draw, int(n_draw))
    if isinstance(personas, pd.DataFrame):
        codes = population_codes(personas, study)
        if "draw" in personas.columns:
            _, draw = np.unique(personas["draw"].to_numpy(), return_inverse=True)
            n_draws = int(draw.max()) + 1 if len(draw) else 0
        else:
            draw, n_draws = np.zeros(len(personas), dtype=np.int64), 1
        return Personas(codes, draw.astype(np.int64), n_draws)
    raise TypeError(f"personas must be an xarray Dataset or a DataFrame, got {type(personas).__name__}")


def population_codes(population: pd.DataFrame | np.ndarray | Microdata, study: Study) -> np.ndarray:
    """Level codes ``(rows, attributes)`` in study order; -1 marks a missing cell.

    A DataFrame may hold labels (strings or categoricals) or integer codes per attribute
    column; an array is taken as codes already in study order.
    """
    if isinstance(population, Microdata):
        return np.asarray(population.codes, dtype=np.int64)
    if isinstance(population, np.ndarray):
        arr = np.asarray(population, dtype=np.int64)
        if arr.ndim != 2 or arr.shape[1] != len(study.attributes):
            raise ValueError(f"codes must have shape (rows, {len(study.attributes)}), got {arr.shape}")
        return arr
    cols = []
    for a in study.attributes:
        col = population[a.name]
        if pd.api.types.is_integer_dtype(col.dtype):
            cols.append(col.to_numpy(dtype=np.int64))
        else:
            cat = pd.Categorical(col.astype(object), categories=list(a.levels))
            codes = cat.codes.astype(np.int64)
            unknown = (codes < 0) & col.notna().to_numpy()
            if unknown.any():
                bad = sorted(set(col[unknown].astype(str)))[:5]
                raise ValueError(f"{a.name}: labels not among the study levels: {bad}")
            cols.append(codes)
    return np.column_stack(cols)


# --------------------------------------------------------------------- basic distances


def srmse(q: np.ndarray, p: np.ndarray) -> float:
    """Standardised RMSE ``sqrt(mean_c (q_c - p_c)^2) / mean_c p_c`` of two share vectors."""
    q, p = np.ravel(q), np.ravel(p)
    return float(np.sqrt(np.mean((q - p) ** 2)) / np.mean(p))


def tvd(q: np.ndarray, p: np.ndarray) -> float:
    """Total variation distance ``0.5 * sum_c |q_c - p_c|`` of two share vectors."""
    return float(0.5 * np.abs(np.ravel(q) - np.ravel(p)).sum())


def interval_coverage(
    q_draws: np.ndarray, p: np.ndarray, *, interval: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell coverage and width of central quantile intervals across draws.

    Parameters
    ----------
    q_draws
        Synthetic shares, shape ``(draws, cells)``.
    p
        True shares, shape ``(cells,)``.
    interval
        Central probability of the interval: quantiles ``(1 -/+ interval) / 2``.

    Returns
    -------
    covered, width
        Boolean ``lo <= p <= hi`` and ``hi - lo`` per cell.
    """
    tail = (1.0 - interval) / 2.0
    lo, hi = np.quantile(np.asarray(q_draws, dtype=float), [tail, 1.0 - tail], axis=0)
    return (lo <= p) & (p <= hi), hi - lo


# ------------------------------------------------------------------------------ score


def score(
    personas: xr.Dataset | pd.DataFrame | Personas,
    population: pd.DataFrame | np.ndarray,
    sample: pd.DataFrame | np.ndarray | Microdata | None,
    study: Study,
    *,
    per_draw: bool = False,
    downstream: Iterable[Downstream | tuple[str, str, Sequence[str]]] = (),
    interval: float = 0.9,
    min_share: float = 0.001,
) -> dict[str, Any]:
    """All metrics of the module docstring for one persona set.

    Parameters
    ----------
    personas
        Persona Dataset ``(draw, persona)`` or a DataFrame with a ``draw`` column.
    population
        The true population P (labels or codes).
    sample
        The microdata sample the generator saw (for sampling-zero recall); ``None`` uses
        ``study.microdata``. Rows with missing cells count only in tables where they are
        complete.
    study
        Attribute order and levels.
    per_draw
        Average point metrics over draws instead of pooling the draws.
    downstream
        Outcome-share checks, as :class:`Downstream` or ``(outcome, level, by)`` tuples.
    interval, min_share
        Interval probability and the smallest population share of a 2-way cell that
        enters ``cov90`` / ``width90``.

    Returns
    -------
    dict
        Floats keyed by metric name, plus ``srmse2_by_table`` and
        ``srmse2_independence`` (dicts keyed ``"a×b"``) and ``n_draws``.
    """
    pers = persona_codes(personas, study)
    pop = population_codes(population, study)
    samp = population_codes(study.microdata if sample is None else sample, study)
    shape = tuple(a.n_levels for a in study.attributes)
    ref = _Reference(pop, samp, shape)

    if per_draw:
        per = [_point_metrics(pers.select(d), ref) for d in range(pers.n_draws)]
        keys = [k for k in per[0] if k != "srmse2_by_table"]
        out: dict[str, Any] = {k: float(np.mean([m[k] for m in per])) for k in keys}
        out["srmse2_by_table"] = {
            k: float(np.mean([m["srmse2_by_table"][k] for m in per])) for k in per[0]["srmse2_by_table"]
        }
    else:
        out = _point_metrics(pers, ref)
    names = study.names
    out["srmse2_by_table"] = {_table_key(t, names): v for t, v in out["srmse2_by_table"].items()}
    out["srmse2_independence"] = {_table_key(t, names): v for t, v in ref.independence_srmse2().items()}
    out["unseen_mass"] = ref.unseen_mass
    out.update(_coverage(pers, ref, interval=interval, min_share=min_share))
    out["n_draws"] = pers.n_draws
    for check in downstream:
        check = check if isinstance(check, Downstream) else Downstream(check[0], check[1], tuple(check[2]))
        mae, skipped = _downstream(pers, pop, study, check, per_draw=per_draw)
        out[check.key] = mae
        out[check.key + "_skipped_mass"] = skipped
    return out


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
    return _downstream(pers, pop, study, Downstream(outcome, level, tuple(by)), per_draw=per_draw)[0]


# ---------------------------------------------------------------------------- internals


class _Reference:
    """Population and sample summaries reused for every persona set."""

    def __init__(self, pop: np.ndarray, samp: np.ndarray, shape: tuple[int, ...]) -> None:
        if (pop < 0).any():
            raise ValueError("the population must be complete (no missing codes)")
        self.shape = shape
        k = len(shape)
        self.tables: dict[int, list[Table]] = {
            order: list(itertools.combinations(range(k), order)) for order in (1, 2, 3) if order <= k
        }
        n_pop = len(pop)
        self.p: dict[Table, np.ndarray] = {}
        self.seen: dict[Table, np.ndarray] = {}
        for order, tables in self.tables.items():
            for t in tables:
                self.p[t] = _counts(pop, t, shape) / n_pop
                rows = samp[(samp[:, list(t)] >= 0).all(axis=1)]
                self.seen[t] = _counts(rows, t, shape) > 0
        # the joint, sparse: sorted unique keys of P and their shares
        self.pop_keys, pop_n = np.unique(_keys(pop, shape), return_counts=True)
        self.pop_share = pop_n / n_pop
        complete = samp[(samp >= 0).all(axis=1)]
        self.sample_keys = np.unique(_keys(complete, shape))
        self.unseen = ~np.isin(self.pop_keys, self.sample_keys)
        self.unseen_mass = float(self.pop_share[self.unseen].sum())

    def independence_srmse2(self) -> dict[Table, float]:
        out = {}
        for t in self.tables.get(2, []):
            prod = np.outer(self.p[(t[0],)], self.p[(t[1],)]).ravel()
            out[t] = srmse(prod, self.p[t])
        return out


def _point_metrics(pers: Personas, ref: _Reference) -> dict[str, Any]:
    w = pers.weight
    out: dict[str, Any] = {}
    by_table: dict[Table, float] = {}
    tvd3, rec3, false3 = [], [], []
    for order, tables in ref.tables.items():
        vals = []
        for t in tables:
            q = _counts(pers.codes, t, ref.shape, w)
            p = ref.p[t]
            vals.append(srmse(q, p))
            if order == 2:
                by_table[t] = vals[-1]
            if order == 3:
                tvd3.append(tvd(q, p))
                false3.append(float(q[p == 0].sum()))
                unseen = ~ref.seen[t]
                mass = p[unseen].sum()
                if mass > 0:
                    rec3.append(float(p[unseen & (q > 0)].sum() / mass))
        out[f"srmse{order}"] = float(np.mean(vals))
    out["srmse2_by_table"] = by_table
    out["tvd3"] = float(np.mean(tvd3)) if tvd3 else np.nan
    out["sz_recall_3way"] = float(np.mean(rec3)) if rec3 else np.nan
    out["false_3way"] = float(np.mean(false3)) if false3 else np.nan

    # joint, on the union of the population's and the personas' cells
    q_keys, inv = np.unique(_keys(pers.codes, ref.shape), return_inverse=True)
    q_share = np.bincount(inv, weights=w, minlength=len(q_keys))
    in_pop = np.isin(q_keys, ref.pop_keys)
    q_on_pop = np.zeros(len(ref.pop_keys))
    if len(q_keys):
        pos = np.minimum(np.searchsorted(q_keys, ref.pop_keys), len(q_keys) - 1)
        hit = q_keys[pos] == ref.pop_keys
        q_on_pop[hit] = q_share[pos[hit]]
    out["tvd_joint"] = float(0.5 * (np.abs(q_on_pop - ref.pop_share).sum() + q_share[~in_pop].sum()))
    out["false_combo"] = float(q_share[~in_pop].sum())
    mass = ref.unseen_mass
    out["sz_recall_joint"] = (
        float(ref.pop_share[ref.unseen & (q_on_pop > 0)].sum() / mass) if mass > 0 else np.nan
    )
    return out


def _coverage(pers: Personas, ref: _Reference, *, interval: float, min_share: float) -> dict[str, float]:
    if pers.n_draws < 2:
        return {"cov90": np.nan, "width90": np.nan, "cov_cells": 0}
    sizes = np.bincount(pers.draw, minlength=pers.n_draws).astype(float)
    covered, widths = [], []
    for t in ref.tables.get(2, []):
        cells = int(np.prod([ref.shape[i] for i in t]))
        idx = pers.draw * cells + _cell_index(pers.codes, t, ref.shape)
        q = np.bincount(idx, minlength=pers.n_draws * cells).reshape(pers.n_draws, cells) / sizes[:, None]
        p = ref.p[t]
        keep = p >= min_share
        cov, width = interval_coverage(q[:, keep], p[keep], interval=interval)
        covered.append(cov)
        widths.append(width)
    cov_all, width_all = np.concatenate(covered), np.concatenate(widths)
    return {
        "cov90": float(cov_all.mean()),
        "width90": float(width_all.mean()),
        "cov_cells": int(cov_all.size),
    }


def _downstream(
    pers: Personas, pop: np.ndarray, study: Study, check: Downstream, *, per_draw: bool
) -> tuple[float, float]:
    """(population-weighted MAE, population mass of the groups skipped)."""
    j = study.index(check.outcome)
    levels = [study.attribute(check.outcome).levels.index(lev) for lev in check.levels]
    t = tuple(study.index(b) for b in check.by)
    shape = tuple(a.n_levels for a in study.attributes)
    n_pop_g = _counts(pop, t, shape)
    yes_pop_g = _counts(pop[np.isin(pop[:, j], levels)], t, shape)
    s_pop = np.divide(yes_pop_g, n_pop_g, out=np.zeros(n_pop_g.shape), where=n_pop_g > 0)
    w_pop = n_pop_g / n_pop_g.sum()

    def one(p: Personas) -> tuple[float, float]:
        w = p.weight
        n_g = _counts(p.codes, t, shape, w)
        hit = np.isin(p.codes[:, j], levels)
        yes_g = _counts(p.codes[hit], t, shape, w[hit])
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


def _cell_index(codes: np.ndarray, table: Table, shape: tuple[int, ...]) -> np.ndarray:
    sub = codes[:, list(table)]
    return np.ravel_multi_index(sub.T, tuple(shape[i] for i in table)) if len(sub) else np.zeros(0, np.int64)


def _counts(
    codes: np.ndarray, table: Table, shape: tuple[int, ...], weights: np.ndarray | None = None
) -> np.ndarray:
    """Counts (or summed weights) over the full product of the table's levels, flat."""
    cells = int(np.prod([shape[i] for i in table]))
    return np.bincount(_cell_index(codes, table, shape), weights=weights, minlength=cells).astype(float)


def _keys(codes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Raveled joint cell index of each row (int64; fine up to 2**63 cells)."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.ravel_multi_index(codes.T, shape).astype(np.int64)


def _table_key(t: Table, names: Sequence[str]) -> str:
    return "×".join(names[i] for i in t)
