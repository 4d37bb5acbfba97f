"""Answers from personas: the share of a target's level(s) by group, with its interval.

Each posterior draw of the personas is one synthetic population, so a group's share in
each draw is one draw from the posterior of that share. Per group this gives the posterior
mean, the central ``ci_prob`` interval between the draws' quantiles, their Monte-Carlo
standard errors (the draws are independent: ArviZ's ``mcse`` of one chain) and the number of
draws the group appears in. The draws are counted as they stream past (a Parquet file or a
partitioned folder is read in batches), so memory holds the counts per (draw, group, level),
not the personas.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from populace.errors import PopulaceError, PopulaceWarning

__all__ = ["DrawsWarning", "summarize", "summarize_parquet", "MIN_COVERAGE_GAP", "DEFAULT_DRAWS"]

#: Warn when the draws' quantile interval is expected to cover this much less than its
#: nominal probability (a calibrated model's interval from D draws covers
#: (D - 1) / (D + 1) of ``ci_prob``: 0.81 of 0.9 with 20 draws, 0.88 with 89).
MIN_COVERAGE_GAP = 0.02
#: Posterior draws that generation makes by default: with 100, the 90 % interval is expected
#: to cover 0.88, within MIN_COVERAGE_GAP (with the former default of 20: 0.81).
DEFAULT_DRAWS = 100


class DrawsWarning(PopulaceWarning):
    """Too few posterior draws for the interval's stated probability."""


def summarize(
    personas: xr.Dataset | pd.DataFrame,
    *,
    by: str | Sequence[str] = (),
    target: str,
    level: str | Sequence[str] | None = None,
    ci_prob: float = 0.9,
) -> pd.DataFrame:
    """Posterior share of ``target``'s level(s) per group of ``by``, over the persona draws.

    Parameters
    ----------
    personas
        A persona Dataset (dims ``draw, persona``, from :func:`populace.sample_personas`) or
        a long DataFrame with a ``draw`` column and label columns (``populace.to_frame``,
        or a Parquet file read with pandas).
    by
        Attributes that define the groups (none: the whole population).
    target
        The attribute whose share is reported.
    level
        A level of ``target``, or several whose shares are added (the Democratic share of
        three party levels); None reports each level apart.
    ci_prob
        Probability of the central interval.

    Returns
    -------
    pandas.DataFrame
        One row per group and level: the ``by`` columns, ``level``, ``mean``, ``lo``, ``hi``,
        ``mcse_mean``, ``mcse_lo``, ``mcse_hi``, ``draws`` (draws in which the group has
        personas) and ``personas`` (its mean size per draw). ``attrs["ci_prob"]`` is kept.

    Warns
    -----
    DrawsWarning
        When the draws are too few for ``ci_prob`` (see :data:`MIN_COVERAGE_GAP`).
    """
    from populace.personas import to_frame

    frame = to_frame(personas) if isinstance(personas, xr.Dataset) else personas
    by_cols = [by] if isinstance(by, str) else list(by)
    _check_columns(frame.columns, by_cols, target, source="the personas")
    return _summarize_counts(_counts([frame], by_cols, target), by_cols, target, level, ci_prob)


def summarize_parquet(
    path: str | os.PathLike[str],
    *,
    by: str | Sequence[str] = (),
    target: str,
    level: str | Sequence[str] | None = None,
    ci_prob: float = 0.9,
    batch_rows: int = 1_000_000,
) -> pd.DataFrame:
    """:func:`summarize` of a persona Parquet file or partitioned folder, read ``batch_rows``
    rows at a time (only the ``draw``, ``by`` and ``target`` columns)."""
    from populace.personas import open_personas

    data = open_personas(path)
    by_cols = [by] if isinstance(by, str) else list(by)
    _check_columns(data.schema.names, by_cols, target, source=str(path))
    columns = list(dict.fromkeys(["draw", *by_cols, target]))
    batches = (b.to_pandas() for b in data.to_batches(columns=columns, batch_size=batch_rows))
    return _summarize_counts(_counts(batches, by_cols, target), by_cols, target, level, ci_prob)


def _check_columns(names: Iterable[str], by: list[str], target: str, *, source: str) -> None:
    names = list(names)
    if "draw" not in names:
        raise PopulaceError(f"{source}: no 'draw' column; give personas from `populace generate` or populace.to_frame.")
    attrs = [n for n in names if n != "draw"]
    for col in [*by, target]:
        if col not in names or col == "draw":
            raise PopulaceError(f"{source}: no attribute {col!r}; it has {', '.join(attrs)}.")
    if target in by:
        raise PopulaceError(f"the target {target!r} is also a group column; choose another --by.")


def _labels(col: pd.Series) -> pd.Series:
    """Labels as categoricals (integer draws and partition folders arrive as other types)."""
    return col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype(str).astype("category")


def _counts(frames: Iterable[pd.DataFrame], by: list[str], target: str) -> pd.Series:
    """Persona counts per (draw, *by, target), summed over the frames."""
    total: pd.Series | None = None
    for frame in frames:
        if not len(frame):
            continue
        keys = [frame["draw"].astype(np.int64)] + [_labels(frame[c]) for c in [*by, target]]
        part = frame.groupby(keys, observed=True).size()
        total = part if total is None else total.add(part, fill_value=0)
    if total is None:
        raise PopulaceError("the personas have no rows.")
    return total.astype(np.int64)


def _summarize_counts(
    counts: pd.Series, by: list[str], target: str, level: str | Sequence[str] | None, ci_prob: float
) -> pd.DataFrame:
    from populace.evaluation.metrics.coverage import calibrated_coverage

    if not 0 < ci_prob < 1:
        raise PopulaceError(f"ci_prob must lie between 0 and 1, got {ci_prob}.")
    wide = counts.unstack(target, fill_value=0)  # rows (draw, *by), columns target levels
    levels = [str(c) for c in wide.columns]
    wide.columns = levels
    if level is None:
        targets = {lev: [lev] for lev in levels}
    else:
        chosen = [level] if isinstance(level, str) else list(level)
        unknown = [lev for lev in chosen if lev not in levels]
        if unknown:
            raise PopulaceError(f"{target} has no level {unknown[0]!r} in the personas; it has {', '.join(levels)}.")
        targets = {"+".join(chosen): chosen}
    n_draws = int(wide.index.get_level_values(0).nunique())
    expected = calibrated_coverage(n_draws, ci_prob)
    if not expected >= ci_prob - MIN_COVERAGE_GAP:
        r = 1 - MIN_COVERAGE_GAP / ci_prob  # (D - 1) / (D + 1) >= r
        warnings.warn(
            f"{n_draws} draws: a {ci_prob:.0%} interval between the draws' quantiles covers about "
            f"{expected:.2f} of the time, not {ci_prob:.2f}; generate at least {int(np.ceil((1 + r) / (1 - r) - 1e-9))} draws.",
            DrawsWarning,
            stacklevel=3,
        )
    tail = (1 - ci_prob) / 2
    flat = wide.reset_index()  # draw, *by, one column per level
    size = flat[levels].sum(axis=1).to_numpy()
    keys = [flat[c] for c in by] if by else [np.zeros(len(flat), np.int64)]
    groups = flat.groupby(keys, observed=True, sort=True).indices
    rows = []
    for name, cols in targets.items():
        share = flat[cols].sum(axis=1).to_numpy() / size
        for key, idx in groups.items():
            x = share[idx]
            lo, hi = np.quantile(x, [tail, 1 - tail])
            row = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)) if by else {}
            row.update(level=name, mean=float(x.mean()), lo=float(lo), hi=float(hi), **_mcse(x, tail))
            row.update(draws=len(x), personas=float(size[idx].mean()))
            rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["ci_prob"] = ci_prob
    return out


def _mcse(x: np.ndarray, tail: float) -> dict[str, float]:
    """Monte-Carlo standard errors of the mean and the two interval ends (ArviZ; the draws
    are independent, one chain). NaN with fewer than 4 draws."""
    import arviz as az

    if len(x) < 4:
        return {"mcse_mean": np.nan, "mcse_lo": np.nan, "mcse_hi": np.nan}
    chain = x[None, :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a constant share: 0 / 0
        return {
            "mcse_mean": float(az.mcse(chain, method="mean")),
            "mcse_lo": float(az.mcse(chain, method="quantile", prob=tail)),
            "mcse_hi": float(az.mcse(chain, method="quantile", prob=1 - tail)),
        }
