"""The sampling design of the benchmarks: fractions, seeds, the biased sample, and the row
draws (see the package docstring, *Samples*)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: Sampling fractions of the simple random samples.
FRACTIONS: tuple[float, ...] = (0.005, 0.01, 0.05)
#: Seeds per fraction: three at 1 % (to see sample-to-sample spread), one otherwise.
SRS_SEEDS: Mapping[float, tuple[int, ...]] = {0.005: (0,), 0.01: (0, 1, 2), 0.05: (0,)}
#: Educ levels over-sampled by the biased sample, and by how much.
COLLEGE: tuple[str, ...] = ("16", "17+")
BIAS_FACTOR: float = 2.0
BIAS_FRACTION: float = 0.01


def srs_rows(N: int, fraction: float, seed: int) -> np.ndarray:  # noqa: N803
    """Row indices of a simple random sample of ``round(fraction * N)`` rows of P."""
    n = int(round(fraction * N))
    return np.random.default_rng(seed).choice(N, n, replace=False)


def biased_rows(favoured: np.ndarray, fraction: float, seed: int, *, factor: float) -> np.ndarray:
    """Rows drawn without replacement, ``factor`` times as likely where ``favoured``."""
    N = len(favoured)
    n = int(round(fraction * N))
    p = np.where(favoured, factor, 1.0)
    return np.random.default_rng(seed).choice(N, n, replace=False, p=p / p.sum())
