"""Census shares against generated shares of every level: :func:`margin_intervals` and
:func:`plot_margins`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from populace.plot.crosstabs import crosstab_intervals
from populace.plot.inputs import Personas, count_draws, pyplot
from populace.study.shares import reference_margin
from populace.study.spec import Study

if TYPE_CHECKING:  # matplotlib is imported lazily
    from matplotlib.figure import Figure


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
    plt = pyplot()
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
    n_draws = count_draws(personas)
    fig.suptitle(
        f"Margins: census (x) vs personas (mean and {ci_prob:.0%} interval over {n_draws} draws)", fontsize=11
    )
    return fig
