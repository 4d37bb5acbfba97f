"""Nominal against empirical interval coverage of the population's cell shares:
:func:`coverage_table` and :func:`plot_calibration`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from populace.plot.crosstabs import reference_shares
from populace.plot.inputs import Personas, frame, level_codes, pyplot
from populace.study.spec import Study

if TYPE_CHECKING:  # matplotlib is imported lazily
    from matplotlib.axes import Axes


def coverage_table(
    personas: Personas,
    population: pd.DataFrame,
    study: Study,
    *,
    probs: Sequence[float] = (0.5, 0.8, 0.9, 0.95),
    order: int = 2,
    min_share: float = 0.001,
) -> pd.DataFrame:
    """How often the population's cell shares fall inside the personas' intervals.

    For every table of ``order`` attributes (all pairs by default) and every cell with a
    population share of at least ``min_share``, the central ``p`` interval of the cell
    share across draws is checked against the population share, for each nominal ``p``
    in ``probs``. A calibrated generator covers a share ``p`` of the cells.

    Returns
    -------
    pandas.DataFrame
        One row per nominal level: ``nominal``, ``empirical`` (share of cells covered),
        ``width`` (mean interval width), ``cells``.
    """
    import itertools

    df = frame(personas)
    names = list(study.names)
    rows = []
    cells_q, cells_p = [], []
    if order < 1 or order > len(names):
        raise ValueError(f"order must be between 1 and {len(names)}, got {order}")
    for combo in itertools.combinations(names, order):
        levels = [list(study.attribute(n).levels) for n in combo]
        q = _draw_shares(df, list(combo), levels)
        p = reference_shares(population, list(combo), levels, None).ravel()
        keep = p >= min_share
        cells_q.append(q.reshape(q.shape[0], -1)[:, keep])
        cells_p.append(p[keep])
    q_all = np.concatenate(cells_q, axis=1)
    p_all = np.concatenate(cells_p)
    for prob in probs:
        tail = (1.0 - prob) / 2.0
        lo, hi = np.quantile(q_all, [tail, 1.0 - tail], axis=0)
        rows.append(
            {
                "nominal": float(prob),
                "empirical": float(np.mean((lo <= p_all) & (p_all <= hi))),
                "width": float(np.mean(hi - lo)),
                "cells": int(p_all.size),
            }
        )
    return pd.DataFrame(rows)


def _draw_shares(df: pd.DataFrame, names: list[str], levels: list[list[str]]) -> np.ndarray:
    """Joint cell shares per draw, shape ``(draws, *levels)``."""
    _, draw = np.unique(df["draw"].to_numpy(), return_inverse=True)
    n_draw = int(draw.max()) + 1
    shape = tuple(len(lv) for lv in levels)
    size = int(np.prod(shape))
    cell = np.ravel_multi_index([level_codes(df, n, lv) for n, lv in zip(names, levels, strict=True)], shape)
    counts = np.bincount(draw * size + cell, minlength=n_draw * size).reshape(n_draw, size).astype(float)
    return (counts / counts.sum(axis=1, keepdims=True)).reshape(n_draw, *shape)


def plot_calibration(
    coverage: pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    ax: Axes | None = None,
) -> Axes:
    """Nominal against empirical interval coverage (numbers: :func:`coverage_table`).

    ``coverage`` is a table with columns ``nominal`` and ``empirical`` (as returned by
    :func:`coverage_table`), optionally with a ``method`` column, or a mapping
    ``label -> table`` to compare generators. Points on the diagonal are calibrated;
    below it the intervals are too narrow.
    """
    plt = pyplot()
    if isinstance(coverage, Mapping):
        tables = dict(coverage)
    elif "method" in coverage.columns:
        tables = {str(k): g for k, g in coverage.groupby("method", sort=False)}
    else:
        tables = {"": coverage}
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5), layout="constrained")
    values = np.concatenate([np.r_[t["nominal"].to_numpy(float), t["empirical"].to_numpy(float)] for t in tables.values()])
    low = max(0.0, math.floor((np.nanmin(values) - 0.05) * 10) / 10) if values.size else 0.0
    ax.plot([low, 1], [low, 1], color="grey", ls="--", lw=1, label="calibrated")
    for label, tab in tables.items():
        ax.plot(tab["nominal"], tab["empirical"], "o-", label=label or None)
    ax.set_xlim(low, 1)
    ax.set_ylim(low, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("nominal interval probability")
    ax.set_ylabel("share of cells covered")
    ax.set_title("Interval calibration", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return ax
