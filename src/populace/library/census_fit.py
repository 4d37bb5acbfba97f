"""How closely generated personas reproduce each census table, accumulated chunk by chunk."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from populace.study.provenance import table_name
from populace.study.spec import Study

__all__ = ["CensusFit", "TableFit"]


@dataclass(frozen=True)
class TableFit:
    """One census table's fit.

    ``pooled``: largest ``|persona share - census share|`` over the table's cells with every
    draw's personas pooled; ``worst_draw``: the largest such deviation within one draw;
    ``mc_se``: the largest Monte-Carlo standard error of a cell share at one draw's size,
    ``max sqrt(p (1 - p) / n)``, the scale a draw's deviations should have.
    """

    name: str
    attributes: tuple[str, ...]
    pooled: float
    worst_draw: float
    mc_se: float


class CensusFit:
    """Per-draw cell counts of every census table of ``study``, fed chunk by chunk."""

    def __init__(self, study: Study, draws: int) -> None:
        self.study = study
        self._shapes = [tuple(study.attribute(a).n_levels for a in m.attributes) for m in study.marginals]
        self._counts = [np.zeros((draws, int(np.prod(s))), dtype=np.int64) for s in self._shapes]

    def add(self, draw: int, codes: Mapping[str, np.ndarray]) -> None:
        """Count one chunk of draw ``draw`` (``codes``: level codes per attribute)."""
        for m, shape, counts in zip(self.study.marginals, self._shapes, self._counts, strict=True):
            cells = np.ravel_multi_index(tuple(np.asarray(codes[a], np.int64) for a in m.attributes), shape)
            counts[draw] += np.bincount(cells, minlength=counts.shape[1])

    def tables(self) -> list[TableFit]:
        """The fit of every census table, in study order."""
        out = []
        for m, counts in zip(self.study.marginals, self._counts, strict=True):
            p = np.asarray(m.counts, float).reshape(-1)
            p = p / p.sum()
            per_draw = counts / counts.sum(axis=1, keepdims=True)
            pooled = counts.sum(axis=0) / counts.sum()
            n = counts.sum(axis=1).min()
            out.append(
                TableFit(
                    table_name(m),
                    m.attributes,
                    float(np.abs(pooled - p).max()),
                    float(np.abs(per_draw - p).max()),
                    float(np.sqrt((p * (1 - p)).max() / n)),
                )
            )
        return out
