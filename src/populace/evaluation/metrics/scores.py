""":func:`score`: every metric of :mod:`populace.evaluation.metrics` for one persona set."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from populace.evaluation.metrics.cells import Table, counts, joint_keys
from populace.evaluation.metrics.codes import Personas, persona_codes, population_codes
from populace.evaluation.metrics.coverage import coverage_metrics
from populace.evaluation.metrics.distances import srmse, tvd
from populace.evaluation.metrics.downstream import Downstream, downstream_check
from populace.evaluation.metrics.intervals import group_checks, interval_metrics
from populace.evaluation.metrics.reference import Reference
from populace.study.spec import Microdata, Study


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
    """All metrics of the :mod:`populace.evaluation.metrics` docstring for one persona set.

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
        ``srmse2_independence`` (dicts keyed ``"a×b"``), ``cov90_by_table`` (covered cells,
        cells; keyed ``"a×b"``), ``n_draws`` and, with two draws or more, the coverage
        where the census does not pin the answer
        (:mod:`populace.evaluation.metrics.intervals`: ``cov90_free2``, ``area_cov90``,
        ``group_cov90`` for the downstream checks not grouped by the geography, and their
        per-table, per-attribute, per-area and per-group detail).
    """
    pers = persona_codes(personas, study)
    pop = population_codes(population, study)
    samp = population_codes(study.microdata if sample is None else sample, study)
    shape = tuple(a.n_levels for a in study.attributes)
    ref = Reference(pop, samp, shape)

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
    out.update(coverage_metrics(pers, ref, interval=interval, min_share=min_share))
    by_table = out["cov90_by_table"]
    out["cov90_by_table"] = {_table_key(t, names): v for t, v in by_table.items()}
    out["n_draws"] = pers.n_draws
    checks = tuple(c if isinstance(c, Downstream) else Downstream(c[0], c[1], tuple(c[2])) for c in downstream)
    out.update(
        interval_metrics(
            pers, pop, study, groups=group_checks(checks, study), interval=interval, min_share=min_share, by_table=by_table
        )
    )
    for check in checks:
        mae, skipped = downstream_check(pers, pop, study, check, per_draw=per_draw)
        out[check.key] = mae
        out[check.key + "_skipped_mass"] = skipped
    return out


def _point_metrics(pers: Personas, ref: Reference) -> dict[str, Any]:
    w = pers.weight
    out: dict[str, Any] = {}
    by_table: dict[Table, float] = {}
    tvd3, rec3, false3 = [], [], []
    for order, tables in ref.tables.items():
        vals = []
        for t in tables:
            q = counts(pers.codes, t, ref.shape, w)
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
    q_keys, inv = np.unique(joint_keys(pers.codes, ref.shape), return_inverse=True)
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


def _table_key(t: Table, names: Sequence[str]) -> str:
    return "×".join(names[i] for i in t)
