"""The two baselines beside PPI: the raw LLM share over the personas, and the human-only share."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["llm_only", "human_only"]


def llm_only(means: ArrayLike, variances: ArrayLike, sizes: ArrayLike, *, alpha: float = 0.1) -> tuple[float, float, float]:
    """The LLM's share over the personas: mean over draws, interval from the draws' spread.

    This is what is done without humans: the ``alpha/2`` and ``1 - alpha/2`` quantiles of the
    per-draw shares. It ignores the LLM's bias, so it covers the truth only if the LLM is
    right. With one draw there is no spread, and the interval is the normal one of that
    draw's Monte-Carlo noise alone.

    Returns
    -------
    tuple
        ``(estimate, lo, hi)``.
    """
    m = np.asarray(means, dtype=float)
    if len(m) == 1:
        half = stats.norm.ppf(1 - alpha / 2) * np.sqrt(float(np.asarray(variances)[0]) / float(np.asarray(sizes)[0]))
        return float(m[0]), float(m[0] - half), float(m[0] + half)
    lo, hi = np.quantile(m, [alpha / 2, 1 - alpha / 2])
    return float(m.mean()), float(lo), float(hi)


def human_only(y: ArrayLike, *, weights: ArrayLike | None = None, alpha: float = 0.1) -> tuple[float, float, float]:
    """The humans' share of ``y`` (0/1) with a Wilson interval.

    With weights the share is the weighted (Hajek) one and the Wilson interval uses Kish's
    effective sample size ``(sum w)^2 / sum w^2``.

    Returns
    -------
    tuple
        ``(estimate, lo, hi)``.
    """
    y = np.asarray(y, dtype=float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    p = float(w @ y / w.sum())
    n = float(w.sum() ** 2 / (w @ w))
    z2 = stats.norm.ppf(1 - alpha / 2) ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = np.sqrt(z2) / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n**2))
    return p, float(centre - half), float(centre + half)
