"""``rectify``: population shares of an LLM-answered question, rectified by a human sample."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from populace.errors import PopulaceWarning
from populace.simulate.baselines import human_only, llm_only
from populace.simulate.inputs import ALL, PersonaCounts, check_humans, count_personas
from populace.simulate.ppi import DrawSummary, ppi_mean

__all__ = ["rectify", "RectifyWarning", "COLUMNS", "METHODS"]

COLUMNS = ["level", "group", "method", "estimate", "lo90", "hi90"]
METHODS = ("ppi", "llm_only", "human_only")
ALPHA = 0.1  # the intervals are 90 % (lo90, hi90)


class RectifyWarning(PopulaceWarning):
    """A result that is NaN or less than it seems (too few humans, one persona draw)."""


def rectify(
    personas: pd.DataFrame | PersonaCounts,
    humans: pd.DataFrame,
    *,
    answer: str,
    truth: str,
    by: str | None = None,
    weight: str | None = None,
    draw: str = "draw",
    lam: float | None = None,
    min_humans: int = 10,
    small_sample: bool = True,
    personas_label: str = "personas",
    humans_label: str = "humans",
) -> pd.DataFrame:
    """Population share of each answer level by prediction-powered inference, with two baselines.

    Parameters
    ----------
    personas
        Personas (posterior draws of the population) with the LLM's answer for each, and a
        ``draw`` column; or their :class:`~populace.simulate.inputs.PersonaCounts`.
    humans
        The human sample: ``answer`` is the LLM's answer when prompted with each human's
        persona, ``truth`` the human's own answer. A simple random sample of the population
        unless ``weight`` names a weight column.
    answer, truth
        Column names (``answer`` in both tables).
    by
        Optional group column, present in both tables: shares are also estimated within each
        group, from that group's personas and humans, with each level's power-tuning
        ``lambda`` from all the humans (tuned on a group's few humans, ``lambda`` is
        correlated with the group's means, which biases its estimate and under-covers).
    weight
        Optional positive weight column of ``humans`` (e.g. inverse inclusion probabilities).
    draw
        The personas' draw column.
    lam
        PPI power-tuning parameter: ``None`` (default) the variance-minimising one (PPI++),
        ``1.0`` plain PPI.
    min_humans
        Groups with fewer humans get NaN for ``ppi`` and ``human_only`` (with a warning), and
        so does ``ppi`` for a level that all or none of a group's humans give (its rectifier
        variance would be estimated as zero).
    small_sample
        The rectifier's small-sample variance and degrees of freedom (default); ``False`` is
        ppi-python's large-sample form (see :func:`populace.simulate.ppi.ppi_mean`).
    personas_label, humans_label
        How error messages name the two inputs (their file names in the CLI).

    Returns
    -------
    pandas.DataFrame
        One row per (group, level, method) with :data:`COLUMNS` (``group`` is ``"(all)"`` for
        the whole population), plus ``se`` (ppi), ``lam`` (ppi) and ``n_humans``. Methods:
        ``ppi`` (see :mod:`populace.simulate.ppi` for the estimator, its variance with the
        persona draws' spread, and its assumptions), ``llm_only`` (personas alone: mean over
        draws, 5-95 % quantiles of the draws) and ``human_only`` (the humans' share, Wilson).
        Levels are tuned separately, so the ``ppi`` shares need not sum to exactly 1.

    Raises
    ------
    populace.errors.InputError
        A column is missing, a table empty, a draw not an integer, or a human's level or
        group absent from the personas.
    """
    counts = personas if isinstance(personas, PersonaCounts) else count_personas(
        personas, answer=answer, draw=draw, by=by, label=personas_label
    )
    f, y, w, g = check_humans(
        humans, answer=answer, truth=truth, levels=counts.levels, by=by,
        groups=counts.groups if by else None, weight=weight, label=humans_label,
    )
    if len(counts.draws) == 1:
        warnings.warn(
            "the personas hold one posterior draw: the persona model's uncertainty is not in the "
            "intervals (only the personas' sampling noise is). Generate several draws.",
            RectifyWarning, stacklevel=2,
        )
    options = dict(levels=counts.levels, min_humans=min_humans, by=by, small_sample=small_sample)
    rows = _group_rows(ALL, counts.counts.sum(axis=1), f, y, w, lams=[lam] * len(counts.levels), **options)
    # Groups reuse each level's lambda from all the humans: tuned on a group's few humans it
    # is correlated with that group's means, which biases the estimate and under-covers.
    overall = [r["lam"] for r in rows if r["method"] == "ppi"]
    lams = [lam if lam is not None else (None if np.isnan(v) else float(v)) for v in overall]
    for i, group in enumerate(counts.groups if by else []):
        mask = g == i
        w_g = None if w is None else w[mask]
        rows += _group_rows(group, counts.counts[:, i, :], f[mask], y[mask], w_g, lams=lams, **options)
    return pd.DataFrame(rows, columns=[*COLUMNS, "se", "lam", "n_humans"])


def _group_rows(
    group: str,
    table: np.ndarray,
    f: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    *,
    levels: list[str],
    lams: list[float | None],
    min_humans: int,
    by: str | None,
    small_sample: bool,
) -> list[dict[str, object]]:
    """Rows of one group; ``table`` is its persona counts (draws, levels)."""
    sizes = table.sum(axis=1)
    where = "overall" if group == ALL else f"{by} = {group!r}"
    no_personas = bool((sizes == 0).any())
    few = len(y) < min_humans
    if no_personas:
        _warn(f"{where}: no personas in {int((sizes == 0).sum())} of {len(sizes)} draws; its estimates are NaN.")
    if few and not no_personas:
        _warn(f"{where}: {len(y)} humans (fewer than {min_humans}); its ppi and human_only estimates are NaN.")
    flat: list[str] = []
    rows: list[dict[str, object]] = []
    for k, level in enumerate(levels):
        yk, fk = (y == k).astype(float), (f == k).astype(float)
        nan = dict(estimate=np.nan, lo90=np.nan, hi90=np.nan)
        ppi, llm, human = dict(nan, se=np.nan, lam=np.nan), dict(nan), dict(nan)
        if not no_personas:
            means = table[:, k] / sizes
            draws = DrawSummary(means=means, variances=means * (1 - means), sizes=sizes)
            llm = dict(zip(("estimate", "lo90", "hi90"), llm_only(means, draws.variances, sizes, alpha=ALPHA)))
            # humans who all (or none) give a level: the rectifier's variance is estimated as 0
            if not few and np.ptp(yk) > 0:
                r = ppi_mean(yk, fk, draws, weights=w, lam=lams[k], alpha=ALPHA, small_sample=small_sample)
                ppi = dict(estimate=r.estimate, lo90=r.lo, hi90=r.hi, se=r.se, lam=r.lam)
            elif not few:
                flat.append(level)
        if not few:
            human = dict(zip(("estimate", "lo90", "hi90"), human_only(yk, weights=w, alpha=ALPHA)))
        base = dict(level=level, group=group, n_humans=len(y))
        rows += [
            {**base, "method": "ppi", **ppi},
            {**base, "method": "llm_only", **llm, "se": np.nan, "lam": np.nan},
            {**base, "method": "human_only", **human, "se": np.nan, "lam": np.nan},
        ]
    if flat:
        _warn(
            f"{where}: the humans' own answers do not vary for level(s) {', '.join(map(repr, flat))} "
            "(all or none of them give it), so the rectifier's variance is unknown; their ppi estimates are NaN."
        )
    return rows


def _warn(message: str) -> None:
    warnings.warn(message, RectifyWarning, stacklevel=4)
