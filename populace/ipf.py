"""Iterative proportional fitting of a joint array to census tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["rake_joint"]


def rake_joint(
    p: np.ndarray,
    tables: Sequence[tuple[tuple[int, ...], np.ndarray]],
    *,
    max_iter: int = 200,
    tol: float = 1e-10,
) -> np.ndarray:
    """Rake a joint array so that its margins equal each table (as shares).

    Parameters
    ----------
    p
        Non-negative joint weights, any shape.
    tables
        ``(axes, counts)`` pairs: ``counts`` is indexed by the axes of ``p``
        listed in ``axes`` (in that order). Counts are normalised to shares.
    max_iter, tol
        Stop when the largest absolute share error over all tables is below ``tol``.

    Returns
    -------
    ndarray
        Raked shares (sum 1). Cells with zero weight stay zero, so a table
        cell whose every joint cell is zero cannot be matched; IPF then
        converges to the closest fit it can reach.
    """
    q = np.asarray(p, float) / p.sum()
    prepared = []
    for axes, counts in tables:
        target = np.asarray(counts, float) / counts.sum()
        order = np.argsort(axes)
        # Table indexed in increasing axis order, then broadcast back over the joint.
        target = np.transpose(target, order)
        keep = tuple(sorted(axes))
        other = tuple(i for i in range(q.ndim) if i not in keep)
        shape = tuple(q.shape[i] if i in keep else 1 for i in range(q.ndim))
        prepared.append((other, target.reshape(shape)))
    for _ in range(max_iter):
        err = 0.0
        for other, target in prepared:
            cur = q.sum(axis=other, keepdims=True)
            err = max(err, float(np.abs(cur - target).max()))
            q = q * np.divide(target, cur, out=np.zeros_like(cur), where=cur > 0)
        if err < tol:
            break
    return q / q.sum()
