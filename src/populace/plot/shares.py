"""Sorted dot plot of shares by group with their intervals (the table of :func:`populace.summarize`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from populace.plot.inputs import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_shares"]


def plot_shares(
    table: pd.DataFrame,
    *,
    by: str | Sequence[str],
    max_levels: int | None = None,
    ncols: int = 4,
    title: str | None = None,
) -> Figure:
    """One panel per level of the target: each group's posterior mean share (dot) and its
    interval (bar), groups sorted by the first panel's mean.

    Parameters
    ----------
    table
        The table of :func:`populace.summarize` (columns ``by``, ``level``, ``mean``,
        ``lo``, ``hi``).
    by
        The group columns of ``table``; several are joined as ``"a / b"``.
    max_levels
        Panels drawn at most (the first levels of the table); None draws every level.
    ncols
        Panels per row.
    title
        Figure title.
    """
    plt = pyplot()
    by_cols = [by] if isinstance(by, str) else list(by)
    if not by_cols:
        raise ValueError("plot_shares needs at least one group column (by)")
    df = table.copy()
    df["group"] = df[by_cols].astype(str).agg(" / ".join, axis=1)
    levels = list(dict.fromkeys(df["level"].astype(str)))[:max_levels]
    first = df[df["level"].astype(str) == levels[0]].set_index("group")["mean"]
    order = list(first.sort_values(kind="stable").index)
    cols = min(ncols, len(levels))
    rows = -(-len(levels) // cols)
    height = max(2.5, 0.22 * len(order) + 1.2)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols + 1.5, height * rows), sharey=True, squeeze=False)
    y = np.arange(len(order))
    for ax in axes.flat[len(levels):]:
        ax.set_visible(False)
    for ax, level in zip(axes.flat, levels, strict=False):
        sub = df[df["level"].astype(str) == level].set_index("group").reindex(order)
        ax.hlines(y, sub["lo"], sub["hi"], color="tab:blue", lw=1.5)
        ax.plot(sub["mean"], y, "o", color="tab:blue", ms=3.5)
        ax.set_title(level, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel("share")
    for row in axes:
        row[0].set_yticks(y, order, fontsize=7)
        row[0].set_ylabel(" x ".join(by_cols))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
