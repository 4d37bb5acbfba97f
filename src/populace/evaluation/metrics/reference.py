"""The population and sample summaries (true shares, seen cells, the sparse joint) that
:func:`populace.evaluation.metrics.score` computes once and reuses for every persona set."""

from __future__ import annotations

import itertools

import numpy as np

from populace.evaluation.metrics.cells import Table, counts, joint_keys
from populace.evaluation.metrics.distances import srmse


class Reference:
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
                self.p[t] = counts(pop, t, shape) / n_pop
                rows = samp[(samp[:, list(t)] >= 0).all(axis=1)]
                self.seen[t] = counts(rows, t, shape) > 0
        # the joint, sparse: sorted unique keys of P and their shares
        self.pop_keys, pop_n = np.unique(joint_keys(pop, shape), return_counts=True)
        self.pop_share = pop_n / n_pop
        complete = samp[(samp >= 0).all(axis=1)]
        self.sample_keys = np.unique(joint_keys(complete, shape))
        self.unseen = ~np.isin(self.pop_keys, self.sample_keys)
        self.unseen_mass = float(self.pop_share[self.unseen].sum())

    def independence_srmse2(self) -> dict[Table, float]:
        out = {}
        for t in self.tables.get(2, []):
            prod = np.outer(self.p[(t[0],)], self.p[(t[1],)]).ravel()
            out[t] = srmse(prod, self.p[t])
        return out
