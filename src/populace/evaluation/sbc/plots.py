"""SBC figures with ArviZ 1's own functions: rank histograms and Delta-ECDF plots.

* Rank histograms: :func:`arviz_plots.plot_dist` with ``kind="hist"`` on the ranks.
* Delta-ECDF (ECDF minus the uniform CDF, with ArviZ's uniformity test and its
  simultaneous band): :func:`arviz_plots.plot_ecdf_pit`, the plot ArviZ makes for SBC
  (its ``prior_sbc`` group). It takes PIT values in [0, 1]; a rank ``r`` among ``L``
  draws becomes ``(r + u) / (L + 1)`` with ``u ~ U(0, 1)`` (seeded), which is exactly
  uniform when the ranks are, so the continuous test applies to discrete ranks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from populace.atomic import atomic_path

__all__ = ["pit_tree", "plot_ranks"]


def pit_tree(df: pd.DataFrame, *, seed: int = 0) -> object:
    """A DataTree whose ``prior_sbc`` group holds the jittered PIT of every quantity
    (dims ``chain`` = 1, ``draw`` = replication) and whose ``ranks`` group the ranks."""
    import xarray as xr

    rng = np.random.default_rng(seed)
    pit, ranks = {}, {}
    for q, part in df.sort_values("rep").groupby("quantity", sort=False):
        r = part["rank"].to_numpy(float)
        L = float(part["n_ranks"].iloc[0])
        pit[q] = (("chain", "draw"), ((r + rng.random(r.size)) / (L + 1.0))[None, :])
        ranks[q] = (("chain", "draw"), r[None, :])
    return xr.DataTree.from_dict({"prior_sbc": xr.Dataset(pit), "ranks": xr.Dataset(ranks)})


def plot_ranks(df: pd.DataFrame, folder: Path, *, bins: int | None = None) -> dict[str, Path]:
    """Write ``rank_histograms.png``, ``ecdf_diff.png`` (ArviZ's ``pot_c`` test, p-value per
    panel) and ``ecdf_coverage.png`` (coverage of central intervals: below zero = too narrow)."""
    import matplotlib

    matplotlib.use("Agg")
    import arviz_plots as azp
    import matplotlib.pyplot as plt

    from populace.evaluation.sbc.ranks import default_bins

    tree = pit_tree(df)
    n_reps = int(df["rep"].nunique())
    L = int(df["n_ranks"].iloc[0])
    b = default_bins(n_reps, L) if bins is None else int(bins)
    edges = np.linspace(-0.5, L + 0.5, b + 1)
    figures = {
        "rank_histograms": lambda: azp.plot_dist(
            tree, group="ranks", kind="hist", backend="matplotlib",
            stats={"dist": {"bins": edges, "density": False}},
            visuals={"point_estimate": False, "point_estimate_text": False, "credible_interval": False,
                     "remove_axis": False},
        ),
        # ArviZ's default uniformity test (pot_c), p-value per panel. Its method="envelope"
        # (the simultaneous band) fails in arviz_plots 1.x: linspace given a DataArray.
        "ecdf_diff": lambda: azp.plot_ecdf_pit(tree, backend="matplotlib"),
        "ecdf_coverage": lambda: azp.plot_ecdf_pit(tree, coverage=True, backend="matplotlib"),
    }
    out: dict[str, Path] = {}
    for name, make in figures.items():
        pc = make()
        path = folder / f"{name}.png"
        with atomic_path(path, suffix=".png") as tmp:
            pc.viz["figure"].item().savefig(tmp, dpi=80, bbox_inches="tight")
        plt.close("all")
        out[name] = path
    return out
