"""Raking (iterative proportional fitting) of microdata weights to census tables.

The peer ``ipf`` rakes the sample weights to *all* census tables, cross-tabulations
included, then resamples personas in proportion to the raked weights. It reproduces the
census tables but can only produce combinations the sample holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from populace.baselines.base import Resample, complete_rows, resample_rows, to_personas
from populace.study.spec import Marginal, Study

__all__ = ["RakeResult", "rake", "RakingGenerator"]


@dataclass(frozen=True, eq=False)
class RakeResult:
    """Raked weights and how well they hit the tables.

    ``max_error`` is the largest ``|raked cell total - census cell| / census total`` over
    all tables after the last sweep. Raking cannot converge when a census cell with
    positive count has no row in it (a sampling zero of a cross-tab); ``converged`` is
    then False and the weights are the last sweep's.
    """

    weights: np.ndarray
    converged: bool
    n_iter: int
    max_error: float


def rake(
    codes: np.ndarray,
    weights: np.ndarray,
    marginals: Sequence[Marginal],
    names: Sequence[str],
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> RakeResult:
    """Iterative proportional fitting of row weights to census tables.

    One sweep visits every table ``T`` in turn and sets
    ``w_i <- w_i * t_{c(i)} / m_{c(i)}``, where ``c(i)`` is row ``i``'s cell of ``T``,
    ``t`` the census counts and ``m`` the current weighted counts (rows in cells with
    ``m = 0`` are untouched; rows in cells with ``t = 0`` get weight 0). Sweeps stop when
    every cell of every table is within ``tol`` of its target, relative to the table total.

    Parameters
    ----------
    codes
        Level codes ``(rows, attributes)``, complete (no -1).
    weights
        Starting weights (design weights), non-negative.
    marginals
        Census tables; their totals are rescaled to the first table's total so
        rounded published tables with slightly different totals still agree.
    names
        Attribute names in the column order of ``codes``.
    tol, max_iter
        Convergence tolerance (relative to the total) and the most sweeps.
    """
    codes = np.asarray(codes, dtype=np.int64)
    if (codes < 0).any():
        raise ValueError("rake needs complete rows (no -1 codes)")
    w = np.asarray(weights, dtype=float).copy()
    if not marginals:
        return RakeResult(w, True, 0, 0.0)
    total = marginals[0].total
    cells, targets = [], []
    for m in marginals:
        cols = [list(names).index(a) for a in m.attributes]
        cells.append(np.ravel_multi_index(codes[:, cols].T, m.counts.shape))
        targets.append(np.ravel(m.counts).astype(float) * (total / m.total))
    err = np.inf
    for it in range(1, max_iter + 1):
        for idx, t in zip(cells, targets):
            cur = np.bincount(idx, weights=w, minlength=t.size)
            ratio = np.divide(t, cur, out=np.ones_like(t), where=cur > 0)
            w *= ratio[idx]
        # after a sweep the last table is exact; check all of them
        err = max(_max_gap(idx, w, t) for idx, t in zip(cells, targets)) / total
        if err < tol:
            return RakeResult(w, True, it, err)
    return RakeResult(w, False, max_iter, err)


def _max_gap(idx: np.ndarray, w: np.ndarray, target: np.ndarray) -> float:
    """Largest |weighted cell total - target| of one table."""
    return float(np.abs(np.bincount(idx, weights=w, minlength=target.size) - target).max())


class RakingGenerator:
    """Rake the complete sample rows to every census table, then resample.

    Rows with a missing cell are dropped before raking (see
    :func:`populace.baselines.base.complete_rows`).

    Parameters
    ----------
    resample
        ``"integerize"`` (default; keeps the raked margins) or ``"multinomial"``.
    tol, max_iter
        Passed to :func:`rake`.
    """

    name = "ipf"

    def __init__(
        self, *, resample: Resample = "integerize", tol: float = 1e-10, max_iter: int = 1000
    ) -> None:
        self.resample = resample
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, study: Study, *, seed: int | None = None) -> RakingGenerator:
        self.study_ = study
        self.codes_, w = complete_rows(study)
        self.rake_ = rake(self.codes_, w, study.marginals, study.names, tol=self.tol, max_iter=self.max_iter)
        return self

    def sample_personas(self, n: int, *, draws: int = 1, seed: int | None = None) -> xr.Dataset:
        rng = np.random.default_rng(seed)
        w = self.rake_.weights
        rows = np.stack([resample_rows(w, n, rng, method=self.resample) for _ in range(draws)])
        return to_personas(self.codes_[rows], self.study_, method=self.name, seed=seed)
