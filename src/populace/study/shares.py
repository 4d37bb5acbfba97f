"""Shares of one attribute as the study states them: from its census tables or its sample.

The one place that answers "what is this attribute's margin?", for the model, the
baselines, the plots, the demo report and ``populace check``.
"""

from __future__ import annotations

import numpy as np

from populace.study.spec import Marginal, Microdata, Study

__all__ = ["census_margin", "census_tables_of", "effective_weights", "kish_n_eff", "reference_margin", "sample_margin"]


def census_tables_of(study: Study, name: str) -> list[Marginal]:
    """The census tables that hold attribute ``name``, smallest (fewest attributes) first."""
    return sorted((m for m in study.marginals if name in m.attributes), key=lambda m: len(m.attributes))


def census_margin(study: Study, name: str) -> np.ndarray | None:
    """The census shares of ``name``'s levels, from its smallest census table (summed over
    the table's other attributes); ``None`` when no census table holds it.

    Validated studies have consistent tables (the same margin in every table), so which
    table is summed does not change the result beyond rounding.
    """
    tables = census_tables_of(study, name)
    if not tables:
        return None
    m = tables[0]
    axis = m.attributes.index(name)
    counts = np.moveaxis(np.asarray(m.counts, dtype=float), axis, 0).reshape(m.counts.shape[axis], -1).sum(axis=1)
    return counts / counts.sum()


def sample_margin(study: Study, name: str) -> np.ndarray:
    """The weighted sample shares of ``name``'s levels over the rows where it is observed
    (available cases: missing cells of other attributes do not matter)."""
    j = study.index(name)
    codes = np.asarray(study.microdata.codes)[:, j]
    w = effective_weights(study.microdata)
    seen = codes >= 0
    counts = np.bincount(codes[seen], weights=w[seen], minlength=study.attribute(name).n_levels)
    total = counts.sum()
    if total <= 0:
        raise ValueError(f"no data for the margin of {name!r}: no census table and no observed sample value")
    return counts / total


def reference_margin(study: Study, name: str) -> tuple[np.ndarray, str]:
    """The census margin if there is one, else the sample's; and which (``"census"``/``"sample"``)."""
    census = census_margin(study, name)
    return (census, "census") if census is not None else (sample_margin(study, name), "sample")


def kish_n_eff(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``: unequal weights carry less information."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / (w**2).sum())


def effective_weights(microdata: Microdata) -> np.ndarray:
    """The rows' weights, each survey's scaled to sum to its Kish effective size.

    A source then counts as the information it holds, whatever the scale of its weights
    (ones, or people per respondent), and sources pool on one scale. Their sum is the
    microdata's effective size: the sum of the sources' Kish sizes.
    """
    w = np.asarray(microdata.weights, dtype=float).copy()
    src = microdata.row_source()
    for k in np.unique(src):
        rows = src == k
        w[rows] *= kish_n_eff(w[rows]) / w[rows].sum()
    return w
