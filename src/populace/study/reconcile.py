"""Census tables with stated error: the population's tables given the published ones.

A table with standard errors ``se`` (ACS margins of error, disclosure-avoidance noise) is a
measurement ``y = T + e``, ``e ~ N(0, diag(se^2))``, of the population's table ``T``. With a
flat prior on ``T``, and the constraint that every two tables agree on the margins they share
(exact tables stay as published), the posterior of the stacked tables is that Gaussian
conditioned on the linear constraints ``A T = 0``. A draw is ``T0 = y + se * z``, moved by the
smallest change in ``se`` units that meets the constraints: ``T = T0 + D u`` with ``u`` the
minimum-norm solution of ``A D u = -A T0`` (``D = diag(se)``); the mean is the same with
``z = 0``. Cells pushed below zero are set to zero and held there, and the rest solved again
(a population count is not negative; the raw noisy measurements may be).

This is the "marginals as measurements" view of Private-PGM (McKenna, Sheldon and Miklau
2019), kept modular: the fit pins the mean tables, and each generated draw is raked to a
draw of the tables, so the personas' intervals include the census error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import lsqr

from populace.study.spec import Marginal

__all__ = ["has_error", "reconcile", "disagreement"]

#: Rounds of zeroing negative cells and solving again.
_MAX_ROUNDS = 50


def has_error(marginals: Sequence[Marginal]) -> bool:
    """Whether any table carries a standard error."""
    return any(m.se is not None and np.any(np.asarray(m.se) > 0) for m in marginals)


def _constraints(marginals: Sequence[Marginal]) -> sparse.csr_matrix:
    """Rows ``margin_S(T_i) - margin_S(T_j)`` for every two tables with a noisy one among them
    (``S`` their shared attributes, the grand total when they share none)."""
    offsets = np.cumsum([0] + [m.counts.size for m in marginals])
    rows, cols, vals, n_rows = [], [], [], 0
    noisy = [m.se is not None and np.any(np.asarray(m.se) > 0) for m in marginals]
    for i, a in enumerate(marginals):
        for j in range(i + 1, len(marginals)):
            if not (noisy[i] or noisy[j]):
                continue
            b = marginals[j]
            shared = [x for x in a.attributes if x in b.attributes]
            for table, k, sign in ((a, i, 1.0), (b, j, -1.0)):
                axes = [table.attributes.index(x) for x in shared]
                idx = np.indices(table.counts.shape).reshape(table.counts.ndim, -1)
                shape = [table.counts.shape[ax] for ax in axes]
                key = np.ravel_multi_index(idx[axes], shape) if axes else np.zeros(idx.shape[1], np.int64)
                rows.append(n_rows + key)
                cols.append(offsets[k] + np.arange(table.counts.size))
                vals.append(np.full(table.counts.size, sign))
            n_rows += int(np.prod([a.counts.shape[a.attributes.index(x)] for x in shared])) if shared else 1
    if not rows:
        return sparse.csr_matrix((0, offsets[-1]))
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, offsets[-1]))


def _stacked(marginals: Sequence[Marginal]) -> tuple[np.ndarray, np.ndarray]:
    """Every table's counts and standard errors (0 for exact tables) as two flat vectors."""
    y = np.concatenate([np.ravel(m.counts) for m in marginals]).astype(float)
    se = np.concatenate([np.zeros(m.counts.size) if m.se is None else np.ravel(m.se) for m in marginals]).astype(float)
    return y, se


def reconcile(marginals: Sequence[Marginal], *, rng: np.random.Generator | None = None) -> tuple[Marginal, ...]:
    """The tables' posterior mean (``rng=None``) or one posterior draw (module docstring).

    Exact tables come back as they are; without a noisy table, the input itself (and
    ``rng`` is not used).
    """
    marginals = tuple(marginals)
    if not has_error(marginals):
        return marginals
    y, se = _stacked(marginals)
    t = y + (se * rng.standard_normal(y.size) if rng is not None else 0.0)
    a = _constraints(marginals)
    free = se > 0
    for _ in range(_MAX_ROUNDS):
        t = np.where(free, t, np.where(se > 0, 0.0, t))  # cells held at zero stay there
        ad = a @ sparse.diags(np.where(free, se, 0.0))
        r = -(a @ t)
        if np.abs(r).max(initial=0.0) > 1e-9 * max(1.0, np.abs(y).max()):
            u = lsqr(ad, r, atol=1e-14, btol=1e-14, iter_lim=20 * a.shape[1])[0]
            t = t + np.where(free, se, 0.0) * u
        negative = free & (t < -1e-9)
        if not negative.any():
            break
        free &= ~negative
    t = np.where(se > 0, np.maximum(t, 0.0), y)
    out, start = [], 0
    for m in marginals:
        size = m.counts.size
        out.append(m if m.se is None else Marginal(m.attributes, t[start:start + size].reshape(m.counts.shape), m.source, m.se))
        start += size
    return tuple(out)


def disagreement(marginals: Sequence[Marginal]) -> tuple[float, int]:
    """How far apart the published tables are: the largest constraint residual in standard
    errors (``|A y| / sqrt(A Sigma A')`` per row) and its row; ``(0, -1)`` when they agree."""
    marginals = tuple(marginals)
    a = _constraints(marginals)
    if a.shape[0] == 0:
        return 0.0, -1
    y, se = _stacked(marginals)
    resid = np.abs(a @ y)
    sd = np.sqrt(a.multiply(a) @ se**2)
    z = np.where(sd > 0, resid / np.where(sd > 0, sd, 1.0), np.where(resid > 1e-6 * max(1.0, np.abs(y).max()), np.inf, 0.0))
    k = int(np.argmax(z))
    return float(z[k]), k
