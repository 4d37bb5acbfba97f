"""Census tables of a benchmark: their file names, counting them from a population, and
reading one back into a study array."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from populace.evaluation.datasets.recode import categorize, codes_of
from populace.study.spec import Attribute


def census_filename(attrs: Sequence[str]) -> str:
    """File name of a census table: ``census_age__sex.csv``."""
    return "census_" + "__".join(attrs) + ".csv"


def census_table(population: pd.DataFrame, attributes: Sequence[Attribute]) -> pd.DataFrame:
    """Counts of ``population`` over the full Cartesian product of ``attributes``.

    Returns the census CSV format: one column of labels per attribute (first varying
    slowest) and an integer ``count``, zero cells included.
    """
    codes = codes_of(population, attributes)
    shape = tuple(a.n_levels for a in attributes)
    counts = np.bincount(np.ravel_multi_index(codes.T, shape), minlength=int(np.prod(shape)))
    cells = list(itertools.product(*(a.levels for a in attributes)))
    df = pd.DataFrame(cells, columns=[a.name for a in attributes])
    df = categorize(df, attributes)
    df["count"] = counts.astype(np.int64)
    return df


def census_array(df: pd.DataFrame, attributes: Sequence[Attribute]) -> np.ndarray:
    shape = tuple(a.n_levels for a in attributes)
    codes = codes_of(df, attributes)
    if (codes < 0).any():
        raise ValueError("census table holds a label outside the study levels")
    flat = np.zeros(int(np.prod(shape)), dtype=float)
    np.add.at(flat, np.ravel_multi_index(codes.T, shape), df["count"].to_numpy(dtype=float))
    return flat.reshape(shape)
