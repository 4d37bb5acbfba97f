"""The package's one IPF: iterative proportional fitting of weighted records to census tables.

On a discrete joint, weighted-record IPF is IPF of that joint: each cell's mass is
multiplied by one factor per table cell, whatever records it is split into. The
generator rakes its weighted atoms with it, and the raking peers their sample rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from populace.errors import PopulaceWarning
from populace.study.spec import Marginal

__all__ = ["RakeResult", "rake", "RakingWarning"]


class RakingWarning(PopulaceWarning):
    """Raking did not reach every census table."""


@dataclass(frozen=True, eq=False)
class RakeResult:
    """Raked weights and how well they hit the tables.

    ``max_error`` is the largest ``|raked cell total - census cell| / census total`` over
    all tables after the last sweep. Raking cannot converge when a census cell with
    positive count holds no record (``unreached`` names each such cell); ``converged``
    is then False and the weights are the last sweep's.
    """

    weights: np.ndarray
    converged: bool
    n_iter: int
    max_error: float
    unreached: tuple[str, ...] = ()

    def message(self) -> str:
        """Why raking stopped short, in words (empty when it converged)."""
        if self.converged:
            return ""
        text = f"raking stopped after {self.n_iter} sweeps with a largest census error of {self.max_error:.2g}"
        if self.unreached:
            shown = "; ".join(self.unreached[:5]) + (f"; and {len(self.unreached) - 5} more" if len(self.unreached) > 5 else "")
            text += f"; census cells that no record reaches: {shown}"
        return text


def rake(
    codes: np.ndarray,
    weights: np.ndarray,
    marginals: Sequence[Marginal],
    names: Sequence[str],
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
    levels: Sequence[Sequence[str]] | None = None,
    warn: bool = True,
) -> RakeResult:
    """Iterative proportional fitting of record weights to census tables.

    One sweep visits every table ``T`` in turn and sets
    ``w_i <- w_i * t_{c(i)} / m_{c(i)}``, where ``c(i)`` is record ``i``'s cell of ``T``,
    ``t`` the census counts and ``m`` the current weighted counts (records in cells with
    ``m = 0`` are untouched; records in cells with ``t = 0`` get weight 0). Sweeps stop when
    every cell of every table is within ``tol`` of its target, relative to the table total.

    Parameters
    ----------
    codes
        Level codes ``(records, attributes)``, complete (no -1).
    weights
        Starting weights, non-negative.
    marginals
        Census tables; their totals are rescaled to the first table's total so
        rounded published tables with slightly different totals still agree.
    names
        Attribute names in the column order of ``codes``.
    tol, max_iter
        Convergence tolerance (relative to the total) and the most sweeps.
    levels
        Level labels per column, to name unreached census cells (codes otherwise).
    warn
        Issue a :class:`RakingWarning` when raking stops at ``max_iter`` short of ``tol``
        (callers that report it themselves, per posterior draw, turn this off).
    """
    codes = np.asarray(codes, dtype=np.int64)
    if (codes < 0).any():
        raise ValueError("rake needs complete records (no -1 codes)")
    w = np.asarray(weights, dtype=float).copy()
    if not marginals:
        return RakeResult(w, True, 0, 0.0)
    names = list(names)
    total = marginals[0].total
    cells, targets, unreached = [], [], []
    index = np.empty((len(marginals), len(codes)), dtype=np.int32)  # (tables, records): each record's cell
    for k, m in enumerate(marginals):
        cols = [names.index(a) for a in m.attributes]
        idx = index[k] = np.ravel_multi_index(codes[:, cols].T, m.counts.shape)
        t = np.ravel(m.counts).astype(float) * (total / m.total)
        cells.append(idx)
        targets.append(t)
        held = np.bincount(idx, weights=w, minlength=t.size) > 0
        for flat in np.flatnonzero((t > 0) & ~held):
            where = np.unravel_index(flat, m.counts.shape)
            labels = [
                f"{a}={levels[c][k] if levels is not None else k}" for a, c, k in zip(m.attributes, cols, where, strict=True)
            ]
            unreached.append(f"{m.source or '×'.join(m.attributes)}: {', '.join(labels)} (count {m.counts[where]:g})")
    offsets = np.concatenate([[0], np.cumsum([t.size for t in targets])]).astype(np.int64)
    flat = np.concatenate(targets)
    scratch = np.empty_like(flat)
    err = np.inf
    it = 0
    for it in range(1, max_iter + 1):
        err = _sweep(index, offsets, flat, w, scratch) / total
        if err < tol:
            err = max(_max_gap(idx, w, t) for idx, t in zip(cells, targets, strict=True)) / total
            return RakeResult(w, True, it, err, tuple(unreached))
    result = RakeResult(w, False, it, err, tuple(unreached))
    if warn:
        warnings.warn(result.message(), RakingWarning, stacklevel=2)
    return result


@numba.njit(cache=True)
def _sweep(index, offsets, targets, w, cur):  # pragma: no cover - compiled
    """One IPF sweep over every table, in place on ``w``; returns the largest gap of a cell
    to its target before its table's update (when every table is within tol before its
    update, the sweep changed the weights by less than tol). Records in cells with a zero
    current total are untouched, records in cells with a zero target get weight 0."""
    n_tab, n_rec = index.shape
    err = 0.0
    for t in range(n_tab):
        lo, hi = offsets[t], offsets[t + 1]
        for c in range(lo, hi):
            cur[c] = 0.0
        for i in range(n_rec):
            cur[lo + index[t, i]] += w[i]
        for c in range(lo, hi):
            err = max(err, abs(cur[c] - targets[c]))
            cur[c] = targets[c] / cur[c] if cur[c] > 0 else 1.0
        for i in range(n_rec):
            w[i] *= cur[lo + index[t, i]]
    return err


def _max_gap(idx: np.ndarray, w: np.ndarray, target: np.ndarray) -> float:
    """Largest |weighted cell total - target| of one table."""
    return float(np.abs(np.bincount(idx, weights=w, minlength=target.size) - target).max())
