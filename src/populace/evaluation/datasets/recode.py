"""Recoding raw survey columns into study labels, and labels into level codes.

Shared by the dataset builders (binning, complete cases) and by :class:`Benchmark`
(categoricals and codes of its frames).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from populace.study.spec import Attribute

#: Educ bins (years of school) shared by every builder.
EDUC_LEVELS = ("<12", "12", "13-15", "16", "17+")


def bin_labels(values: pd.Series, edges: Sequence[float], labels: Sequence[str]) -> pd.Series:
    """Right-closed bins ``(e0, e1], (e1, e2], ...`` as object labels (NaN stays NaN)."""
    return pd.cut(values, list(edges), labels=list(labels)).astype(object)


def bin_educ(years: pd.Series) -> pd.Series:
    return bin_labels(years, [-np.inf, 11, 12, 15, 16, np.inf], EDUC_LEVELS)


def complete_cases(frame: pd.DataFrame, attributes: Sequence[Attribute]) -> pd.DataFrame:
    """Rows with every attribute known, in file order, as categoricals."""
    names = [a.name for a in attributes]
    out = frame.dropna(subset=names).reset_index(drop=True)
    for a in attributes:
        bad = ~out[a.name].isin(a.levels)
        if bad.any():
            raise ValueError(f"{a.name}: unexpected levels {sorted(set(out.loc[bad, a.name]))}")
    return categorize(out, attributes)


def categorize(df: pd.DataFrame, attributes: Sequence[Attribute]) -> pd.DataFrame:
    """Attribute columns as categoricals with the study's levels (ordered if ordinal)."""
    out = df.copy()
    for a in attributes:
        if a.name in out.columns:
            dtype = pd.CategoricalDtype(list(a.levels), ordered=a.type == "ordinal")
            out[a.name] = pd.Categorical(out[a.name].astype(object), dtype=dtype)
    return out


def codes_of(df: pd.DataFrame, attributes: Sequence[Attribute]) -> np.ndarray:
    """Level codes, shape ``(rows, attributes)``; -1 where a label is missing."""
    cols = []
    for a in attributes:
        dtype = pd.CategoricalDtype(list(a.levels))
        cols.append(pd.Categorical(df[a.name].astype(object), dtype=dtype).codes.astype(np.int64))
    return np.column_stack(cols) if cols else np.empty((len(df), 0), dtype=np.int64)
