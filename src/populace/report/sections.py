"""The report's sections, each as numbers (DataFrames) and figures: diagnostics, census fit,
dependence, shares by area and group, persona cards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from populace.plot.inputs import level_codes
from populace.study.spec import Study

__all__ = ["Section", "census_fit", "correlation_table", "default_groups", "default_targets", "persona_cards"]


@dataclass
class Section:
    """One section of the page: an anchor id, a title, paragraphs, tables and figures
    (matplotlib Figures, turned into inline images by the page)."""

    id: str
    title: str
    text: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, Any]] = field(default_factory=list)


def census_fit(frame: pd.DataFrame, study: Study, *, ci_prob: float = 0.9) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every census table's cells against the personas' shares over the draws.

    Parameters
    ----------
    frame
        Long personas (a ``draw`` column and one label column per attribute).
    study
        The study: its census tables (:attr:`Study.marginals`) and levels.
    ci_prob
        Probability of the central interval across draws.

    Returns
    -------
    cells, tables
        ``cells``: one row per census cell, ``table``, ``cell``, ``census`` (the published
        share), ``mean``, ``lo``, ``hi``, ``covered``. ``tables``: per table, ``cells``,
        ``covered`` (share of its cells inside their interval) and ``max_abs_error`` of the
        mean. Raking pins exact tables in every draw, so they agree by construction up to
        the personas' sampling noise; tables with stated error are raked to a draw of them.
    """
    draws = frame["draw"].to_numpy()
    uniq, d_idx = np.unique(draws, return_inverse=True)
    tail = (1.0 - ci_prob) / 2.0
    rows = []
    for m in study.marginals:
        attrs = list(m.attributes)
        levels = [study.attribute(a).levels for a in attrs]
        flat = np.zeros(len(frame), dtype=np.int64)
        for a, lev in zip(attrs, levels, strict=True):
            flat = flat * len(lev) + level_codes(frame, a, lev)
        size = int(np.prod([len(lev) for lev in levels]))
        counts = np.zeros((len(uniq), size))
        ok = flat >= 0
        np.add.at(counts, (d_idx[ok], flat[ok]), 1.0)
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
        lo, hi = np.quantile(shares, [tail, 1.0 - tail], axis=0)
        census = m.counts.reshape(-1) / m.total
        name = m.source or " x ".join(attrs)
        labels = [" / ".join(c) for c in np.array(np.meshgrid(*levels, indexing="ij")).reshape(len(attrs), -1).T]
        for j in range(size):
            rows.append(
                {
                    "table": name,
                    "cell": labels[j],
                    "census": census[j],
                    "mean": shares[:, j].mean(),
                    "lo": lo[j],
                    "hi": hi[j],
                    "covered": bool(lo[j] - 1e-12 <= census[j] <= hi[j] + 1e-12),
                }
            )
    cells = pd.DataFrame(rows)
    if cells.empty:
        return cells, pd.DataFrame(columns=["table", "cells", "covered", "max_abs_error"])
    tables = (
        cells.assign(err=(cells["mean"] - cells["census"]).abs())
        .groupby("table", sort=False)
        .agg(cells=("cell", "size"), covered=("covered", "mean"), max_abs_error=("err", "max"))
        .reset_index()
    )
    return cells, tables


def default_groups(study: Study) -> list[str]:
    """Group attributes for the shares section: the geography, if any, and the first
    non-geographic attribute of the first census cross-tab (else of the first census table)."""
    geo = study.geography.name if study.geography is not None else None
    out = [geo] if geo else []
    for m in sorted(study.marginals, key=lambda m: -len(m.attributes)):
        for a in m.attributes:
            if a != geo:
                return [*out, a]
    return out


def default_targets(study: Study, *, limit: int = 3) -> list[str]:
    """Attributes the report shows by group: those that no census table crosses with
    another attribute (where the census does not pin the answer), at most ``limit``."""
    geo = study.geography.name if study.geography is not None else None
    crossed = {a for m in study.marginals if len(m.attributes) > 1 for a in m.attributes}
    return [n for n in study.names if n not in crossed and n != geo][:limit]


def persona_cards(frame: pd.DataFrame, study: Study, *, n: int, seed: int) -> list[str]:
    """The default card text of ``n`` personas of the first draw, picked at random."""
    from populace.library.templates import load_template

    first = frame[frame["draw"] == frame["draw"].iloc[0]]
    rows = first.sample(n=min(n, len(first)), random_state=seed)
    template = load_template(None, study)
    return [template.render({a: str(r[a]) for a in study.names}) for _, r in rows.iterrows()]


def correlation_table(corr: xr.DataArray, *, top: int = 12, ci_prob: float = 0.9) -> pd.DataFrame:
    """The ``top`` latent correlations by absolute posterior mean, with their interval."""
    rows = [str(r) for r in corr["loading_row"].values]
    iu, ju = np.triu_indices(len(rows), k=1)
    stack = corr.values.reshape(-1, len(rows), len(rows))[:, iu, ju]
    tail = (1.0 - ci_prob) / 2.0
    mean = stack.mean(axis=0)
    lo, hi = np.quantile(stack, [tail, 1.0 - tail], axis=0)
    order = np.argsort(-np.abs(mean), kind="stable")[:top]
    return pd.DataFrame(
        {
            "pair": [f"{rows[iu[k]]} ~ {rows[ju[k]]}" for k in order],
            "mean": mean[order],
            "lo": lo[order],
            "hi": hi[order],
        }
    )

