"""Counting level codes over the cells of a table (dense) or of the joint (sparse keys)."""

from __future__ import annotations

import numpy as np

#: A table: the indices of its attributes in study order.
Table = tuple[int, ...]


def cell_index(codes: np.ndarray, table: Table, shape: tuple[int, ...]) -> np.ndarray:
    sub = codes[:, list(table)]
    return np.ravel_multi_index(sub.T, tuple(shape[i] for i in table)) if len(sub) else np.zeros(0, np.int64)


def counts(
    codes: np.ndarray, table: Table, shape: tuple[int, ...], weights: np.ndarray | None = None
) -> np.ndarray:
    """Counts (or summed weights) over the full product of the table's levels, flat."""
    cells = int(np.prod([shape[i] for i in table]))
    return np.bincount(cell_index(codes, table, shape), weights=weights, minlength=cells).astype(float)


def joint_keys(codes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Raveled joint cell index of each row (int64; fine up to 2**63 cells)."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.ravel_multi_index(codes.T, shape).astype(np.int64)
