"""Interval coverage across persona draws: per cell, over the 2-way tables of a score, and
what a calibrated generator is expected to reach with few draws."""

from __future__ import annotations

from typing import Any

import numpy as np

from populace.evaluation.metrics.cells import cell_index
from populace.evaluation.metrics.codes import Personas
from populace.evaluation.metrics.reference import Reference


#: Rounding slack of the interval ends.
SLACK = 1e-12


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
    lo, hi = interval_ends(q_draws, interval=interval)
    # A share computed two ways (cell / total, or cell / area) may differ in its last bits:
    # an interval of zero width at the truth covers it (as the shared reference scorer).
    return (lo - SLACK <= p) & (p <= hi + SLACK), hi - lo


def interval_ends(q_draws: np.ndarray, *, interval: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """The ends ``lo, hi`` of the central ``interval`` quantile interval across draws (axis 0)."""
    tail = (1.0 - interval) / 2.0
    lo, hi = np.quantile(np.asarray(q_draws, dtype=float), [tail, 1.0 - tail], axis=0)
    return lo, hi


def coverage_metrics(pers: Personas, ref: Reference, *, interval: float, min_share: float) -> dict[str, Any]:
    """``cov90`` / ``width90`` over the 2-way cells with ``p >= min_share``, and per table
    ``cov90_by_table`` (table -> (covered cells, cells))."""
    if pers.n_draws < 2:
        return {"cov90": np.nan, "width90": np.nan, "cov_cells": 0, "cov90_by_table": {}}
    covered, widths = [], []
    by_table: dict[tuple[int, ...], tuple[int, int]] = {}
    for t in ref.tables.get(2, []):
        cov, width = table_coverage(pers, t, ref.p[t], ref.shape, interval=interval, min_share=min_share)
        covered.append(cov)
        widths.append(width)
        by_table[t] = (int(cov.sum()), int(cov.size))
    cov_all, width_all = np.concatenate(covered), np.concatenate(widths)
    return {
        "cov90": float(cov_all.mean()),
        "width90": float(width_all.mean()),
        "cov_cells": int(cov_all.size),
        "cov90_by_table": by_table,
    }


def draw_shares(pers: Personas, table: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """(draws, cells) shares of a table's cells in each draw."""
    cells = int(np.prod([shape[i] for i in table]))
    idx = pers.draw * cells + cell_index(pers.codes, table, shape)
    q = np.bincount(idx, minlength=pers.n_draws * cells).reshape(pers.n_draws, cells).astype(float)
    return q / np.maximum(q.sum(axis=1, keepdims=True), 1.0)


def table_coverage(
    pers: Personas, table: tuple[int, ...], p: np.ndarray, shape: tuple[int, ...], *, interval: float, min_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Coverage and width (:func:`interval_coverage`) of a table's cells with true share
    ``p >= min_share``."""
    keep = p >= min_share
    return interval_coverage(draw_shares(pers, table, shape)[:, keep], p[keep], interval=interval)


def calibrated_coverage(draws: int, interval: float = 0.9) -> float:
    """Expected coverage of a calibrated generator's ``interval`` across ``draws`` draws.

    The truth behaves like one more exchangeable draw; its rank among ``draws + 1`` is
    uniform, and numpy's linear quantiles span ``(draws - 1) * interval`` of the
    ``draws + 1`` gaps, so ``cov90`` has to be read against this, not 0.90, when
    ``draws`` is small (0.81 for 20 draws).
    """
    if draws < 2:
        return float("nan")
    return (draws - 1) * interval / (draws + 1)
