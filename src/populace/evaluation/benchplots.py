"""Plots of a benchmark table (from :func:`populace.evaluation.benchmark.run_benchmark`).

matplotlib is imported inside each function (with the non-interactive ``Agg`` backend),
so importing this module is cheap and needs no display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from populace.atomic import atomic_path
from populace.evaluation.methods import DRAW_METHODS, METHODS
from populace.evaluation.metrics.coverage import calibrated_coverage

__all__ = ["plot_all", "plot_srmse_by_order", "plot_recall_vs_false", "plot_coverage"]


def plot_all(df: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """Write the three plots into ``folder``; return their paths by kind."""
    return {
        "srmse": plot_srmse_by_order(df, folder / "srmse_by_order.png"),
        "recall": plot_recall_vs_false(df, folder / "sz_recall_vs_false_combo.png"),
        "coverage": plot_coverage(df, folder / "coverage90.png"),
    }


def plot_srmse_by_order(df: pd.DataFrame, path: Path) -> Path:
    """SRMSE of 1-, 2- and 3-way tables per method, one panel per sample.

    Points are means over seeds, bars their range.
    """
    plt = _pyplot()
    samples = list(dict.fromkeys(df["sample"]))
    ncols = min(3, len(samples))
    nrows = -(-len(samples) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols + 1.6, 3.2 * nrows + 0.4), squeeze=False, sharey=True
    )
    colors = _colors(df)
    orders = [1, 2, 3]
    for ax in axes.flat[len(samples) :]:
        ax.set_visible(False)
    for ax, sample in zip(axes.flat, samples, strict=False):
        part = df[df["sample"] == sample]
        for method, m in part.groupby("method", sort=False):
            vals = m[[f"srmse{k}" for k in orders]].to_numpy(dtype=float)
            mean = vals.mean(axis=0)
            err = np.vstack([mean - vals.min(axis=0), vals.max(axis=0) - mean])
            style = "--" if method == "oracle" else "-"
            ax.errorbar(orders, mean, yerr=err, marker="o", ls=style, color=colors[method], label=method, capsize=3)
        ax.set_title(_sample_title(part), fontsize=9)
        ax.set_xticks(orders, ["1-way", "2-way", "3-way"])
        ax.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel("SRMSE (mean over tables)")
    axes[0][ncols - 1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(f"{_dataset(df)}: SRMSE by table order (lower is better)", fontsize=10)
    return _save(fig, path)


def plot_recall_vs_false(df: pd.DataFrame, path: Path) -> Path:
    """Sampling-zero recall (y) against false-combination mass (x) per method.

    The good corner is top left: the method produces the real combinations its sample
    missed without inventing impossible ones. One marker per (sample, seed).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    colors = _colors(df)
    markers = dict(zip(dict.fromkeys(df["sample"]), "osD^v<>ph*", strict=False))
    data = df[df["method"] != "oracle"]  # it saw no sample: recall is undefined
    for (method, sample), m in data.groupby(["method", "sample"], sort=False):
        ax.scatter(
            m["false_combo"],
            m["sz_recall_joint"],
            color=colors[method],
            marker=markers.get(sample, "o"),
            s=46,
            alpha=0.8,
            edgecolor="black",
            linewidth=0.4,
        )
    # Several methods often sit on the same point (resampling peers all at (0, 0)): name them.
    spots = data.assign(x=data["false_combo"].round(3), y=data["sz_recall_joint"].round(2)).dropna(subset=["y"])
    for (x, y), here in spots.groupby(["x", "y"]):
        names = list(dict.fromkeys(here["method"]))
        if len(names) > 1:
            ax.annotate(", ".join(names), (x, y), xytext=(8, 6), textcoords="offset points", fontsize=7)
    for method in dict.fromkeys(data["method"]):
        ax.scatter([], [], color=colors[method], marker="o", label=method)
    if len(markers) > 1:
        for sample, mk in markers.items():
            ax.scatter([], [], color="grey", marker=mk, label=sample)
    ax.set_xlabel("false-combination mass (synthetic share on combinations absent from P)")
    ax.set_ylabel("sampling-zero recall (joint)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(left=-0.005)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.set_title(f"{_dataset(df)}: recall of unseen combinations vs invented ones (top left is best)", fontsize=10)
    return _save(fig, path)


def plot_coverage(df: pd.DataFrame, path: Path) -> Path:
    """90 % interval coverage of 2-way cells per draw-based method and sample.

    The solid line is the nominal 0.90; the dashed one what a calibrated generator
    scores with this many draws (:func:`populace.evaluation.metrics.calibrated_coverage`).
    """
    plt = _pyplot()
    data = df[df["method"].isin(DRAW_METHODS) & df["cov90"].notna()]
    samples = list(dict.fromkeys(data["sample"]))
    methods = list(dict.fromkeys(data["method"]))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 + 1.3 * max(1, len(samples)) * max(1, len(methods)) / 2), 4.0))
    colors = _colors(df)
    width = 0.8 / max(1, len(methods))
    for j, method in enumerate(methods):
        m = data[data["method"] == method].groupby("sample", sort=False)["cov90"]
        mean, lo, hi = m.mean(), m.min(), m.max()
        x = np.array([samples.index(s) for s in mean.index]) + (j - (len(methods) - 1) / 2) * width
        ax.bar(x, mean.to_numpy(), width=width, color=colors[method], label=method)
        ax.errorbar(x, mean.to_numpy(), yerr=[(mean - lo).to_numpy(), (hi - mean).to_numpy()], fmt="none", color="k")
    ax.axhline(0.9, color="black", lw=1.2, label="nominal 0.90")
    for d in sorted({int(v) for v in data["n_draws"]}):
        ax.axhline(calibrated_coverage(d), color="black", ls="--", lw=1, label=f"calibrated, {d} draws")
    if not len(data):
        ax.text(0.5, 0.5, "no draw-based method in this run", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks(range(len(samples)), samples, rotation=20, fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("coverage of true 2-way cell shares")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.set_title(f"{_dataset(df)}: 90 % interval coverage of 2-way cells", fontsize=10)
    return _save(fig, path)


# ---------------------------------------------------------------------------- helpers


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only; works without a display
    import matplotlib.pyplot as plt

    return plt


def _colors(df: pd.DataFrame) -> dict[str, Any]:
    """One colour per method, fixed by its place in ``METHODS`` so runs compare at a glance."""
    plt = _pyplot()
    cycle = plt.get_cmap("tab10").colors
    known = {m: i for i, m in enumerate(METHODS)}
    out = {}
    for j, m in enumerate(dict.fromkeys(df["method"])):
        out[m] = "black" if m == "oracle" else cycle[known.get(m, len(METHODS) + j) % len(cycle)]
    return out


def _dataset(df: pd.DataFrame) -> str:
    return str(df["dataset"].iloc[0]) if len(df) else "benchmark"


def _sample_title(part: pd.DataFrame) -> str:
    return f"{part['sample'].iloc[0]} (n={int(part['n_sample'].iloc[0])})"


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path, suffix=path.suffix) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path
