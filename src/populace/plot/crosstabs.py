"""Cross-tabs of personas (or an outcome share by group) with intervals across draws:
:func:`crosstab_intervals` and :func:`plot_crosstab`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from populace.plot.inputs import Personas, count_draws, frame, level_codes, pyplot

if TYPE_CHECKING:  # matplotlib is imported lazily
    from matplotlib.axes import Axes


def _levels(df: pd.DataFrame, name: str, personas: Personas) -> list[str]:
    if isinstance(personas, xr.Dataset) and "levels" in personas[name].attrs:
        return list(json.loads(personas[name].attrs["levels"]))
    col = df[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return [str(c) for c in col.cat.categories]
    return sorted(str(v) for v in col.dropna().unique())


def _parse_outcome(outcome: str | tuple[str, str]) -> tuple[str, str]:
    if isinstance(outcome, tuple):
        return outcome
    if "=" not in outcome:
        raise ValueError(f"outcome must be 'attribute=level' or (attribute, level), got {outcome!r}")
    name, level = outcome.split("=", 1)
    return name.strip(), level.strip()


def _quantiles(q: np.ndarray, ci_prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and central ``ci_prob`` interval over axis 0 (NaN-aware: empty groups are NaN)."""
    import warnings

    tail = (1.0 - ci_prob) / 2.0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a group empty in every draw is just NaN
        mean = np.nanmean(q, axis=0)
        lo, hi = np.nanquantile(q, [tail, 1.0 - tail], axis=0)
    return mean, lo, hi


def reference_shares(
    reference: pd.DataFrame, names: Sequence[str], levels: Sequence[Sequence[str]], outcome: tuple[str, str] | None
) -> np.ndarray:
    """Shares in a reference table (a population, a sample or a census table with ``count``).

    Rows are weighted by a ``count`` column if there is one, else by ``weight``, else 1.
    Returns the same cells as :func:`crosstab_intervals`: joint shares over ``names`` (or,
    with an outcome, the outcome share within each cell).
    """
    if "count" in reference.columns:
        w = reference["count"].to_numpy(dtype=float)
    elif "weight" in reference.columns:
        w = reference["weight"].to_numpy(dtype=float)
    else:
        w = np.ones(len(reference))
    codes = [level_codes(reference, n, lv) for n, lv in zip(names, levels, strict=True)]
    shape = tuple(len(lv) for lv in levels)
    ok = np.all([c >= 0 for c in codes], axis=0) if codes else np.ones(len(reference), bool)
    if outcome is not None:
        oname, olevel = outcome
        oc = reference[oname].astype(str).to_numpy() == olevel
        ok = ok & reference[oname].notna().to_numpy()
    idx = np.ravel_multi_index([c[ok] for c in codes], shape) if codes else np.zeros(int(ok.sum()), np.int64)
    size = int(np.prod(shape))
    tot = np.bincount(idx, weights=w[ok], minlength=size)
    if outcome is None:
        return (tot / tot.sum()).reshape(shape)
    yes = np.bincount(idx, weights=w[ok] * oc[ok], minlength=size)
    with np.errstate(all="ignore"):
        return (yes / tot).reshape(shape)


def crosstab_intervals(
    personas: Personas,
    row: str,
    col: str | None = None,
    *,
    outcome: str | tuple[str, str] | None = None,
    normalize: str = "row",
    ci_prob: float = 0.9,
    reference: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A cross-tab of personas with its posterior mean and interval across draws.

    Parameters
    ----------
    personas
        Persona Dataset or its long DataFrame (with a ``draw`` column).
    row, col
        Attributes to cross; ``col=None`` gives a one-way table of ``row``.
    outcome
        ``"attribute=level"`` (or a tuple): instead of the shares of the cells, the share of
        personas with ``attribute == level`` within each ``row`` x ``col`` group, e.g.
        ``outcome="abany=Yes"`` for support of legal abortion by group.
    normalize
        Without ``outcome``: ``"row"`` (default; the shares of the ``col`` levels within
        each ``row`` level sum to one), ``"all"`` (joint shares of the cells) or
        ``"col"``.
    ci_prob
        Probability of the central interval (0.9 = 5 % and 95 % quantiles across draws).
    reference
        Optional table to compare with, with the same attribute columns (labels) and,
        if it is a census table, a ``count`` column: its shares, computed the same way,
        go in the ``reference`` column.

    Returns
    -------
    pandas.DataFrame
        One row per cell: ``row`` (and ``col``) labels, ``mean``, ``lo``, ``hi``,
        ``draws`` (draws where the group has personas) and, with a reference,
        ``reference`` and ``covered`` (``lo <= reference <= hi``).
    """
    df = frame(personas)
    names = [row] if col is None else [row, col]
    levels = [_levels(df, n, personas) for n in names]
    out_parsed = None if outcome is None else _parse_outcome(outcome)
    draws_u, draw = np.unique(df["draw"].to_numpy(), return_inverse=True)
    n_draw = len(draws_u)
    shape = tuple(len(lv) for lv in levels)
    size = int(np.prod(shape))
    codes = [level_codes(df, n, lv) for n, lv in zip(names, levels, strict=True)]
    cell = np.ravel_multi_index(codes, shape)
    idx = draw * size + cell
    counts = np.bincount(idx, minlength=n_draw * size).reshape(n_draw, *shape).astype(float)
    if out_parsed is not None:
        oname, olevel = out_parsed
        olevels = _levels(df, oname, personas)
        if olevel not in olevels:
            raise ValueError(f"{olevel!r} is not a level of {oname}; levels are {olevels}")
        yes = level_codes(df, oname, olevels) == olevels.index(olevel)
        hits = np.bincount(idx[yes], minlength=n_draw * size).reshape(n_draw, *shape).astype(float)
        with np.errstate(all="ignore"):
            q = hits / counts  # NaN where a draw has no persona in the group
    elif normalize == "all" or col is None:
        q = counts / counts.reshape(n_draw, -1).sum(axis=1).reshape((n_draw,) + (1,) * len(shape))
    elif normalize == "row":
        with np.errstate(all="ignore"):
            q = counts / counts.sum(axis=2, keepdims=True)
    elif normalize == "col":
        with np.errstate(all="ignore"):
            q = counts / counts.sum(axis=1, keepdims=True)
    else:
        raise ValueError(f"normalize must be 'row', 'col' or 'all', got {normalize!r}")
    mean, lo, hi = _quantiles(q, ci_prob)
    grid = pd.MultiIndex.from_product(levels, names=names).to_frame(index=False)
    for n, lv in zip(names, levels, strict=True):
        grid[n] = pd.Categorical(grid[n], categories=lv, ordered=True)
    grid["mean"], grid["lo"], grid["hi"] = mean.ravel(), lo.ravel(), hi.ravel()
    grid["draws"] = np.isfinite(q).reshape(n_draw, -1).sum(axis=0)
    if reference is not None:
        ref = reference_shares(reference, names, levels, out_parsed)
        if out_parsed is None and col is not None and normalize != "all":
            ref2 = ref.reshape(shape)
            axis = 1 if normalize == "row" else 0
            with np.errstate(all="ignore"):
                ref = ref2 / ref2.sum(axis=axis, keepdims=True)
        grid["reference"] = np.ravel(ref)
        grid["covered"] = (grid["lo"] <= grid["reference"]) & (grid["reference"] <= grid["hi"])
    return grid


def plot_crosstab(
    personas: Personas,
    row: str,
    col: str | None = None,
    *,
    outcome: str | tuple[str, str] | None = None,
    normalize: str = "row",
    ci_prob: float = 0.9,
    reference: pd.DataFrame | None = None,
    reference_label: str = "reference",
    ax: Axes | None = None,
) -> Axes:
    """A cross-tab with its interval across draws (numbers: :func:`crosstab_intervals`).

    Without ``outcome``: the share of each ``col`` level within each ``row`` level (x axis:
    ``col`` levels, one colour per ``row`` level). With ``outcome="attribute=level"``: the
    share of that outcome within each group (x axis: ``row`` levels, one colour per ``col``
    level, or a single series when ``col`` is None). Points are posterior means, bars the
    central ``ci_prob`` intervals; ``reference`` (a population, sample or census table with
    ``count``) adds black crosses.
    """
    plt = pyplot()
    tab = crosstab_intervals(
        personas, row, col, outcome=outcome, normalize=normalize, ci_prob=ci_prob, reference=reference
    )
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.0), layout="constrained")
    if outcome is None and col is not None:
        x_name, series_name = col, row
    else:
        x_name, series_name = row, col
    x_levels = list(tab[x_name].cat.categories)
    series = [None] if series_name is None else list(tab[series_name].cat.categories)
    width = 0.8 / max(1, len(series))
    for k, s in enumerate(series):
        sub = tab if s is None else tab[tab[series_name] == s]
        sub = sub.set_index(x_name).reindex(x_levels)
        x = np.arange(len(x_levels)) + (k - (len(series) - 1) / 2) * width
        err = np.vstack([sub["mean"] - sub["lo"], sub["hi"] - sub["mean"]]).clip(min=0)
        ax.errorbar(x, sub["mean"], yerr=err, fmt="o", ms=4, capsize=2, label=None if s is None else f"{series_name}={s}")
        if "reference" in sub:
            ax.scatter(
                x, sub["reference"], marker="x", color="black", s=25, zorder=3,
                label=reference_label if k == 0 else None,
            )
    ax.set_xticks(np.arange(len(x_levels)), x_levels, rotation=30 if len(x_levels) > 4 else 0,
                  ha="right" if len(x_levels) > 4 else "center")
    ax.set_xlabel(x_name)
    if outcome is not None:
        oname, olevel = _parse_outcome(outcome)
        ax.set_ylabel(f"share {oname}={olevel}")
        title = f"{oname}={olevel} by {row}" + ("" if col is None else f" and {col}")
    else:
        ax.set_ylabel(f"share of {col} within {row}" if col is not None and normalize == "row" else "share")
        title = f"{row} x {col}" if col is not None else row
    ax.set_title(f"{title} ({ci_prob:.0%} intervals over {count_draws(personas)} draws)", fontsize=10)
    ax.set_ylim(bottom=0)
    if len(series) > 1 or reference is not None:
        ax.legend(fontsize=8, ncols=2 if len(series) > 4 else 1)
    return ax
