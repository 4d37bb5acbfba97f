"""Plots for checking a fit and its personas (matplotlib + ArviZ, imported on first use).

Every plot has a companion function that returns its numbers as a pandas DataFrame, so a
figure can always be read as a table too:

==========================  ==========================  ==========================================
plot                        numbers                     what it shows
==========================  ==========================  ==========================================
:func:`plot_margins`        :func:`margin_intervals`    census share vs generated share of every
                                                        level, with a 90 % interval across draws
:func:`plot_crosstab`       :func:`crosstab_intervals`  a cross-tab (or an outcome share by
                                                        group) with intervals across draws
:func:`plot_dependence`     :func:`latent_correlation`  posterior mean and sd of the latent
                                                        correlation matrix
:func:`plot_trace`          :func:`invariant_posterior` rank plots of rotation-invariant quantities
:func:`plot_calibration`    :func:`coverage_table`      nominal vs empirical interval coverage
==========================  ==========================  ==========================================

Personas are given as the persona Dataset (dims ``draw, persona``) of
:func:`populace.sample_personas` or as its :func:`populace.to_frame` DataFrame (a ``draw``
column plus one column of labels per attribute). Intervals are central quantile intervals
across the draws, so they carry the posterior uncertainty and the finite-population noise of
``n`` personas per draw.

``import populace.plot`` is cheap: matplotlib and ArviZ load when a plot is drawn
(``pip install populace[plot]``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from populace.study.shares import reference_margin
from populace.study.spec import Study

if TYPE_CHECKING:  # matplotlib is imported lazily
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "margin_intervals",
    "crosstab_intervals",
    "latent_correlation",
    "invariant_posterior",
    "coverage_table",
    "plot_margins",
    "plot_crosstab",
    "plot_dependence",
    "plot_trace",
    "plot_calibration",
]

Personas = xr.Dataset | pd.DataFrame

# Noise variance of a softmax contrast (level vs reference level): the difference of two
# standard Gumbel errors is standard logistic, variance pi^2 / 3; two contrasts of the same
# attribute share the reference level's error, covariance pi^2 / 6.
_LOGISTIC_VAR = math.pi**2 / 3.0


# ------------------------------------------------------------------------------ inputs


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("populace.plot needs matplotlib: pip install 'populace[plot]'") from exc
    return plt


def _frame(personas: Personas) -> pd.DataFrame:
    """Long frame with a ``draw`` column and categorical attribute columns."""
    if isinstance(personas, xr.Dataset):
        from populace.personas import to_frame

        return to_frame(personas)
    if isinstance(personas, pd.DataFrame):
        return personas if "draw" in personas.columns else personas.assign(draw=0)
    raise TypeError(f"personas must be a persona Dataset or a DataFrame, got {type(personas).__name__}")


def _levels(df: pd.DataFrame, name: str, personas: Personas) -> list[str]:
    if isinstance(personas, xr.Dataset) and "levels" in personas[name].attrs:
        return list(json.loads(personas[name].attrs["levels"]))
    col = df[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return [str(c) for c in col.cat.categories]
    return sorted(str(v) for v in col.dropna().unique())


def _codes(df: pd.DataFrame, name: str, levels: Sequence[str]) -> np.ndarray:
    col = df[name]
    if isinstance(col.dtype, pd.CategoricalDtype) and [str(c) for c in col.cat.categories] == list(levels):
        return col.cat.codes.to_numpy(dtype=np.int64)
    return pd.Categorical(col.astype(str), categories=list(levels)).codes.astype(np.int64)


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


def _reference_shares(
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
    codes = [_codes(reference, n, lv) for n, lv in zip(names, levels, strict=True)]
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


# ----------------------------------------------------------------------------- numbers


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
    df = _frame(personas)
    names = [row] if col is None else [row, col]
    levels = [_levels(df, n, personas) for n in names]
    out_parsed = None if outcome is None else _parse_outcome(outcome)
    draws_u, draw = np.unique(df["draw"].to_numpy(), return_inverse=True)
    n_draw = len(draws_u)
    shape = tuple(len(lv) for lv in levels)
    size = int(np.prod(shape))
    codes = [_codes(df, n, lv) for n, lv in zip(names, levels, strict=True)]
    cell = np.ravel_multi_index(codes, shape)
    idx = draw * size + cell
    counts = np.bincount(idx, minlength=n_draw * size).reshape(n_draw, *shape).astype(float)
    if out_parsed is not None:
        oname, olevel = out_parsed
        olevels = _levels(df, oname, personas)
        if olevel not in olevels:
            raise ValueError(f"{olevel!r} is not a level of {oname}; levels are {olevels}")
        yes = _codes(df, oname, olevels) == olevels.index(olevel)
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
        ref = _reference_shares(reference, names, levels, out_parsed)
        if out_parsed is None and col is not None and normalize != "all":
            ref2 = ref.reshape(shape)
            axis = 1 if normalize == "row" else 0
            with np.errstate(all="ignore"):
                ref = ref2 / ref2.sum(axis=axis, keepdims=True)
        grid["reference"] = np.ravel(ref)
        grid["covered"] = (grid["lo"] <= grid["reference"]) & (grid["reference"] <= grid["hi"])
    return grid


def margin_intervals(personas: Personas, study: Study, *, ci_prob: float = 0.9) -> pd.DataFrame:
    """Census share vs generated share of every level of every attribute.

    The census share of an attribute comes from its 1-D census table, else from any census
    cross-tab that contains it (summed over the other attributes); an attribute with no
    census table is compared with the weighted microdata share instead (``source`` says
    which).

    Returns
    -------
    pandas.DataFrame
        Columns ``attribute``, ``level``, ``census`` (the reference share), ``source``
        (``"census"`` or ``"sample"``), ``mean``, ``lo``, ``hi``, ``covered``.
    """
    frames = []
    for a in study.attributes:
        ref, source = reference_margin(study, a.name)
        tab = crosstab_intervals(personas, a.name, ci_prob=ci_prob)
        frames.append(
            pd.DataFrame(
                {
                    "attribute": a.name,
                    "level": list(a.levels),
                    "census": ref,
                    "source": source,
                    "mean": tab["mean"].to_numpy(),
                    "lo": tab["lo"].to_numpy(),
                    "hi": tab["hi"].to_numpy(),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["covered"] = (out["lo"] <= out["census"]) & (out["census"] <= out["hi"])
    return out


def _posterior(fit: xr.DataTree | xr.Dataset) -> xr.Dataset:
    if isinstance(fit, xr.DataTree):
        return fit["posterior"].to_dataset()
    return fit


def latent_correlation(fit: xr.DataTree | xr.Dataset) -> xr.DataArray:
    """Posterior draws of the latent correlation matrix of the copula.

    Built from the rotation-invariant ``loading_gram`` ``G = Lambda Lambda^T``. A
    threshold attribute (ordinal or 2-level) has a latent normal ``z = lambda . eta + e``
    scaled to unit variance, so ``G_ii`` is its communality and the latent correlation of
    two of them is ``G_ij``. A softmax row (``race=Black``: the utility of a level against
    the reference level) has logistic noise, variance ``pi^2 / 3``, shared at half that
    between contrasts of the same attribute. The covariance ``S = G + noise`` is scaled to
    a correlation matrix ``S_ij / sqrt(S_ii S_jj)``; for two threshold rows this is
    exactly ``G_ij``.

    Parameters
    ----------
    fit
        A fit (DataTree with a ``posterior`` group) or its posterior Dataset.

    Returns
    -------
    xarray.DataArray
        Dims ``(chain, draw, loading_row, loading_row_bis)``; unit diagonal.
    """
    post = _posterior(fit)
    if "loading_gram" not in post:
        raise KeyError("the posterior has no 'loading_gram'; is this a populace copula fit?")
    gram = post["loading_gram"]
    rows = [str(r) for r in gram["loading_row"].values]
    noise = np.zeros((len(rows), len(rows)))
    for i, ri in enumerate(rows):
        if "=" not in ri:
            continue
        for j, rj in enumerate(rows):
            if "=" in rj and ri.split("=", 1)[0] == rj.split("=", 1)[0]:
                noise[i, j] = _LOGISTIC_VAR if i == j else _LOGISTIC_VAR / 2.0
    g = gram.transpose(..., "loading_row", "loading_row_bis").values
    threshold = np.array(["=" not in r for r in rows])
    # threshold rows: G_ii + unique variance = 1 by construction
    s = g + noise
    idx = np.flatnonzero(threshold)
    s[..., idx, idx] = 1.0
    diag = np.einsum("...ii->...i", s)
    corr = s / np.sqrt(diag[..., :, None] * diag[..., None, :])
    return xr.DataArray(corr, dims=gram.transpose(..., "loading_row", "loading_row_bis").dims, coords=gram.coords, name="latent_correlation")


def invariant_posterior(fit: xr.DataTree | xr.Dataset, *, pairs: int | Sequence[str] | None = 6) -> xr.DataTree:
    """Rotation-invariant posterior quantities, as a DataTree ArviZ can plot.

    The raw loadings are identified only up to a rotation of the factors, so their traces
    and R-hat mean nothing; ``log_concentration`` and the latent correlations do not
    depend on the rotation.

    Parameters
    ----------
    pairs
        Which latent correlations to keep (variable ``latent_correlation``, dim ``pair``
        labelled ``"age ~ educ"``): a number keeps the pairs with the largest absolute
        posterior mean, a list of labels keeps those, ``None`` keeps all.
    """
    post = _posterior(fit)
    corr = latent_correlation(post)
    rows = [str(r) for r in corr["loading_row"].values]
    iu, ju = np.triu_indices(len(rows), k=1)
    labels = [f"{rows[i]} ~ {rows[j]}" for i, j in zip(iu, ju, strict=True)]
    vals = corr.values[..., iu, ju]
    da = xr.DataArray(
        vals,
        dims=(*corr.dims[:-2], "pair"),
        coords={**{d: corr[d] for d in corr.dims[:-2]}, "pair": labels},
    )
    if pairs is not None:
        if isinstance(pairs, int):
            strength = np.abs(da.mean([d for d in da.dims if d != "pair"])).values
            keep = [labels[i] for i in np.argsort(-strength, kind="stable")[:pairs]]
        else:
            missing = [p for p in pairs if p not in labels]
            if missing:
                raise KeyError(f"unknown pairs {missing}; pairs look like {labels[:3]}")
            keep = list(pairs)
        da = da.sel(pair=keep)
    data = {"latent_correlation": da}
    if "log_concentration" in post:
        data = {"log_concentration": post["log_concentration"], **data}
    return xr.DataTree.from_dict({"posterior": xr.Dataset(data)})


def coverage_table(
    personas: Personas,
    population: pd.DataFrame,
    study: Study,
    *,
    probs: Sequence[float] = (0.5, 0.8, 0.9, 0.95),
    order: int = 2,
    min_share: float = 0.001,
) -> pd.DataFrame:
    """How often the population's cell shares fall inside the personas' intervals.

    For every table of ``order`` attributes (all pairs by default) and every cell with a
    population share of at least ``min_share``, the central ``p`` interval of the cell
    share across draws is checked against the population share, for each nominal ``p``
    in ``probs``. A calibrated generator covers a share ``p`` of the cells.

    Returns
    -------
    pandas.DataFrame
        One row per nominal level: ``nominal``, ``empirical`` (share of cells covered),
        ``width`` (mean interval width), ``cells``.
    """
    import itertools

    df = _frame(personas)
    names = list(study.names)
    rows = []
    cells_q, cells_p = [], []
    if order < 1 or order > len(names):
        raise ValueError(f"order must be between 1 and {len(names)}, got {order}")
    for combo in itertools.combinations(names, order):
        levels = [list(study.attribute(n).levels) for n in combo]
        q = _draw_shares(df, list(combo), levels)
        p = _reference_shares(population, list(combo), levels, None).ravel()
        keep = p >= min_share
        cells_q.append(q.reshape(q.shape[0], -1)[:, keep])
        cells_p.append(p[keep])
    q_all = np.concatenate(cells_q, axis=1)
    p_all = np.concatenate(cells_p)
    for prob in probs:
        tail = (1.0 - prob) / 2.0
        lo, hi = np.quantile(q_all, [tail, 1.0 - tail], axis=0)
        rows.append(
            {
                "nominal": float(prob),
                "empirical": float(np.mean((lo <= p_all) & (p_all <= hi))),
                "width": float(np.mean(hi - lo)),
                "cells": int(p_all.size),
            }
        )
    return pd.DataFrame(rows)


def _draw_shares(df: pd.DataFrame, names: list[str], levels: list[list[str]]) -> np.ndarray:
    """Joint cell shares per draw, shape ``(draws, *levels)``."""
    _, draw = np.unique(df["draw"].to_numpy(), return_inverse=True)
    n_draw = int(draw.max()) + 1
    shape = tuple(len(lv) for lv in levels)
    size = int(np.prod(shape))
    cell = np.ravel_multi_index([_codes(df, n, lv) for n, lv in zip(names, levels, strict=True)], shape)
    counts = np.bincount(draw * size + cell, minlength=n_draw * size).reshape(n_draw, size).astype(float)
    return (counts / counts.sum(axis=1, keepdims=True)).reshape(n_draw, *shape)


# ------------------------------------------------------------------------------- plots


def plot_margins(
    personas: Personas,
    study: Study,
    *,
    ci_prob: float = 0.9,
    ncols: int = 3,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Census shares against generated shares, one panel per attribute.

    Each level shows the census share (black cross; a grey one where the attribute has no
    census table and the weighted microdata share is used) and the generated share's mean
    with its ``ci_prob`` interval across draws (blue). A level whose census share falls
    outside the interval is drawn in red. Numbers: :func:`margin_intervals`.
    """
    plt = _pyplot()
    tab = margin_intervals(personas, study, ci_prob=ci_prob)
    names = list(study.names)
    ncols = max(1, min(ncols, len(names)))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=figsize or (4.2 * ncols, 2.9 * nrows), squeeze=False, layout="constrained"
    )
    for ax, name in zip(axes.flat, names, strict=False):
        sub = tab[tab["attribute"] == name]
        x = np.arange(len(sub))
        ok = sub["covered"].to_numpy()
        colors = np.where(ok, "tab:blue", "tab:red")
        err = np.vstack([sub["mean"] - sub["lo"], sub["hi"] - sub["mean"]]).clip(min=0)
        for i in range(len(sub)):
            ax.errorbar(x[i], sub["mean"].iloc[i], yerr=err[:, i : i + 1], fmt="o", color=colors[i], ms=4, capsize=3)
        source = sub["source"].iloc[0]
        ax.scatter(x, sub["census"], marker="x", color="black" if source == "census" else "grey", zorder=3, s=30)
        ax.set_xticks(x, sub["level"], rotation=30 if len(sub) > 3 else 0, ha="right" if len(sub) > 3 else "center")
        ax.set_title(name + ("" if source == "census" else " (no census table: vs sample)"), fontsize=10)
        ax.set_ylabel("share")
        ax.set_ylim(bottom=0)
        ax.set_xlim(-0.5, len(sub) - 0.5)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    n_draws = _n_draws(personas)
    fig.suptitle(
        f"Margins: census (x) vs personas (mean and {ci_prob:.0%} interval over {n_draws} draws)", fontsize=11
    )
    return fig


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
    plt = _pyplot()
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
    ax.set_title(f"{title} ({ci_prob:.0%} intervals over {_n_draws(personas)} draws)", fontsize=10)
    ax.set_ylim(bottom=0)
    if len(series) > 1 or reference is not None:
        ax.legend(fontsize=8, ncols=2 if len(series) > 4 else 1)
    return ax


def plot_dependence(
    fit: xr.DataTree | xr.Dataset,
    *,
    ax: Axes | None = None,
    cmap: str = "RdBu_r",
) -> Axes:
    """Heatmap of the posterior mean latent correlation, each cell annotated ``mean`` / ``±sd``.

    The matrix is :func:`latent_correlation` (rotation-invariant). Colour is the posterior
    mean on a fixed -1..1 scale; the text gives the mean and the posterior sd, so a strong
    colour with a large sd reads as "not pinned down by the data".
    """
    plt = _pyplot()
    corr = latent_correlation(fit)
    sample_dims = [d for d in corr.dims if d not in ("loading_row", "loading_row_bis")]
    mean = corr.mean(sample_dims).values
    sd = corr.std(sample_dims).values
    rows = [str(r) for r in corr["loading_row"].values]
    n = len(rows)
    if ax is None:
        size = 1.0 + 0.85 * n
        _, ax = plt.subplots(figsize=(size + 1.2, size), layout="constrained")
    import matplotlib as mpl

    shown = np.ma.masked_array(mean, mask=np.eye(n, dtype=bool))  # the unit diagonal carries no information
    colormap = mpl.colormaps[cmap].with_extremes(bad="0.85")
    im = ax.imshow(shown, cmap=colormap, vmin=-1, vmax=1)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            color = "white" if abs(mean[i, j]) > 0.6 else "black"
            ax.text(j, i, f"{mean[i, j]:.2f}\n±{sd[i, j]:.2f}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(n), rows, rotation=45, ha="right")
    ax.set_yticks(range(n), rows)
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label="posterior mean latent correlation")
    ax.set_title("Latent correlation: posterior mean ± sd", fontsize=10)
    return ax


def plot_trace(
    fit: xr.DataTree | xr.Dataset,
    *,
    pairs: int | Sequence[str] | None = 6,
    kind: str = "rank",
) -> Figure:
    """ArviZ trace or rank plot of rotation-invariant quantities.

    Plots ``log_concentration`` and the latent correlations chosen by ``pairs`` (see
    :func:`invariant_posterior`). ``kind="rank"`` (default) draws ArviZ's
    ``plot_rank_dist`` (marginal density + fractional-rank ECDF per chain: chains that
    explore the same posterior stay inside the envelope); ``kind="trace"`` draws
    ``plot_trace_dist`` (density + trace). Rank plots compare chains, so with a single chain
    the trace plot is drawn instead.
    """
    if kind not in ("rank", "trace"):
        raise ValueError(f"kind must be 'rank' or 'trace', got {kind!r}")
    _pyplot()
    import arviz as az

    dt = invariant_posterior(fit, pairs=pairs)
    post = dt["posterior"].to_dataset().rename({"latent_correlation": "corr"})  # shorter panel labels
    dt = xr.DataTree.from_dict({"posterior": post})
    if kind == "rank" and post.sizes.get("chain", 1) < 2:
        kind = "trace"
    panels = sum(int(np.prod([post.sizes[d] for d in v.dims if d not in ("chain", "draw")])) for v in post.data_vars.values())
    figure_kwargs = {"figsize": (10.0, 1.0 + 1.45 * panels)}
    if kind == "rank":
        pc = az.plot_rank_dist(dt, compact=False, backend="matplotlib", figure_kwargs=figure_kwargs)
    else:
        pc = az.plot_trace_dist(dt, compact=False, backend="matplotlib", figure_kwargs=figure_kwargs)
    return pc.viz["figure"].item()


def plot_calibration(
    coverage: pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    ax: Axes | None = None,
) -> Axes:
    """Nominal against empirical interval coverage (numbers: :func:`coverage_table`).

    ``coverage`` is a table with columns ``nominal`` and ``empirical`` (as returned by
    :func:`coverage_table`), optionally with a ``method`` column, or a mapping
    ``label -> table`` to compare generators. Points on the diagonal are calibrated;
    below it the intervals are too narrow.
    """
    plt = _pyplot()
    if isinstance(coverage, Mapping):
        tables = dict(coverage)
    elif "method" in coverage.columns:
        tables = {str(k): g for k, g in coverage.groupby("method", sort=False)}
    else:
        tables = {"": coverage}
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5), layout="constrained")
    values = np.concatenate([np.r_[t["nominal"].to_numpy(float), t["empirical"].to_numpy(float)] for t in tables.values()])
    low = max(0.0, math.floor((np.nanmin(values) - 0.05) * 10) / 10) if values.size else 0.0
    ax.plot([low, 1], [low, 1], color="grey", ls="--", lw=1, label="calibrated")
    for label, tab in tables.items():
        ax.plot(tab["nominal"], tab["empirical"], "o-", label=label or None)
    ax.set_xlim(low, 1)
    ax.set_ylim(low, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("nominal interval probability")
    ax.set_ylabel("share of cells covered")
    ax.set_title("Interval calibration", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def _n_draws(personas: Personas) -> int:
    if isinstance(personas, xr.Dataset):
        return int(personas.sizes["draw"])
    return int(personas["draw"].nunique()) if "draw" in personas.columns else 1
