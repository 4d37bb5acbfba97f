"""Ranked quantities, the rank statistic and the chi-square test of uniform ranks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from populace.evaluation.sbc.configs import SBCConfig, Share

__all__ = ["Uniformity", "default_bins", "quantities", "rank_statistic", "uniformity_test"]


def quantities(model: Any, params: Mapping[str, np.ndarray], config: SBCConfig) -> dict[str, float]:
    """Rotation-invariant quantities of one parameter draw, by label.

    ``gram[r,s]``: entries of ``loading_gram`` (rows as ``CopulaModel.loading_rows``;
    ``config.gram``, or the upper triangle); ``log_concentration``; ``config.scalars``; ``shares_<free>[level]``
    for each free attribute; ``pi[...]`` for each :class:`Share` of ``config.shares``.
    """
    from populace.inference.enumerate import joint_shares
    from populace.models.backend import NP

    p = {k: np.asarray(v, float) for k, v in params.items()}
    gram = np.asarray(model.gram(p, NP))  # the model's own definition of loading_gram
    rows = model.loading_rows
    pairs = config.gram or [(rows[i], rows[j]) for i in range(len(rows)) for j in range(i, len(rows))]
    out = {f"gram[{r},{c}]": float(gram[rows.index(r), rows.index(c)]) for r, c in pairs}
    if config.rank_concentration:
        out["log_concentration"] = float(p["log_concentration"])
    for name in config.scalars:
        out[name] = float(p[name])
    for name in config.free:
        for lev, v in zip(model.study.attribute(name).levels, p[f"shares_{name}"], strict=True):
            out[f"shares_{name}[{lev}]"] = float(v)
    if config.shares:
        pi = joint_shares(model, p)
        for share in config.shares:
            out[share.label] = _share(pi, model, share)
    return out


def _share(pi: np.ndarray, model: Any, share: Share) -> float:
    """``P(event | given)`` from the joint ``pi`` (internal axes: area, then attributes)."""

    def mass(pairs: tuple[tuple[str, str], ...]) -> float:
        index: list[Any] = [slice(None)] * pi.ndim
        for name, level in pairs:
            index[model.structure.column(name)] = model.study.attribute(name).levels.index(level)
        return float(pi[tuple(index)].sum())

    return mass(share.event + share.given) / (mass(share.given) if share.given else 1.0)


def rank_statistic(truth: np.ndarray, draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rank of each true value among the posterior draws, ties broken at random.

    Parameters
    ----------
    truth
        True values, shape ``(Q,)``.
    draws
        Posterior draws, shape ``(L, Q)``.
    rng
        Breaks ties: the truth takes a uniformly random place among the draws equal
        to it, so ranks stay uniform for discrete quantities too.

    Returns
    -------
    numpy.ndarray
        Integer ranks in ``0 .. L``, shape ``(Q,)``.
    """
    truth = np.asarray(truth, float)
    draws = np.asarray(draws, float)
    below = (draws < truth[None, :]).sum(axis=0)
    ties = (draws == truth[None, :]).sum(axis=0)
    return below + rng.integers(0, ties + 1)


@dataclass(frozen=True)
class Uniformity:
    """Chi-square test of ranks against the discrete uniform on ``0 .. n_ranks``."""

    counts: np.ndarray  # observed ranks per bin
    expected: np.ndarray  # expected ranks per bin under uniformity
    chi2: float
    dof: int
    pvalue: float


def default_bins(reps: int, n_ranks: int) -> int:
    """Histogram bins: about 5 expected ranks per bin (the chi-square's rule of thumb),
    between 2 and 20, and no more than there are rank values."""
    return int(max(2, min(20, reps // 5, n_ranks + 1)))


def uniformity_test(ranks: np.ndarray, n_ranks: int, *, bins: int | None = None) -> Uniformity:
    """Chi-square test that ``ranks`` are uniform on ``0 .. n_ranks``.

    Rank ``r`` goes to bin ``floor(r * bins / (n_ranks + 1))``; the expected count of a
    bin is exact (the number of rank values it holds), so ``n_ranks + 1`` need not be a
    multiple of ``bins``.
    """
    from scipy import stats

    r = np.asarray(ranks, dtype=np.int64)
    if r.size == 0:
        raise ValueError("no ranks to test")
    if (r < 0).any() or (r > n_ranks).any():
        raise ValueError(f"ranks must lie in 0..{n_ranks}")
    b = default_bins(r.size, n_ranks) if bins is None else int(bins)
    values = np.arange(n_ranks + 1)
    width = np.bincount(values * b // (n_ranks + 1), minlength=b)
    counts = np.bincount(r * b // (n_ranks + 1), minlength=b)
    expected = r.size * width / (n_ranks + 1)
    chi2, p = stats.chisquare(counts, expected)
    return Uniformity(counts, expected, float(chi2), b - 1, float(p))
