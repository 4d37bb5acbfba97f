"""The results of a benchmark run as files: the Markdown report (command, table,
convergence, plots), the CSV and the PNG plots."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from populace.atomic import write_text
from populace.evaluation.methods import DRAW_METHODS
from populace.evaluation.metrics.coverage import calibrated_coverage


def write_results(
    df: pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    command: str,
    stem: str = "benchmark",
    plots: bool = True,
) -> dict[str, Path]:
    """Write ``<stem>.md``, ``<stem>.csv`` and the PNG plots into ``out``.

    Parameters
    ----------
    df
        The table of :func:`run_benchmark`.
    out
        Folder (created if missing).
    command
        The exact command that made ``df``; the Markdown starts with it.
    stem
        File name stem of the table files.
    plots
        Draw the plots (needs matplotlib).

    Returns
    -------
    dict
        Paths by kind: ``md``, ``csv`` and, with ``plots``, ``srmse``, ``recall``,
        ``coverage``.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"md": folder / f"{stem}.md", "csv": folder / f"{stem}.csv"}
    if plots:
        from populace.evaluation import benchplots

        paths.update(benchplots.plot_all(df, folder))
    write_text(paths["csv"], df.to_csv(index=False, float_format="%.6g"))
    images = {k: p.name for k, p in paths.items() if k not in ("md", "csv")}
    write_text(paths["md"], markdown(df, command=command, images=images))
    return paths


def markdown(df: pd.DataFrame, *, command: str, images: Mapping[str, str] | None = None) -> str:
    """The results as Markdown, starting with the command that made them.

    Rows are (sample, method); with several seeds a cell shows ``mean±sd`` over seeds.
    """
    dataset = str(df["dataset"].iloc[0]) if len(df) else "?"
    checks = [c for c in df.columns if c.startswith("down[") and not c.endswith("_skipped_mass")]
    cols = {
        "srmse1": "SRMSE1",
        "srmse2": "SRMSE2",
        "srmse3": "SRMSE3",
        "srmse2_per_draw": "SRMSE2 per draw",
        "tvd_joint": "TVD joint",
        "sz_recall_joint": "SZ recall",
        "false_combo": "false combo",
        **{c: downstream_label(c) for c in checks},
    }
    draws = sorted({int(d) for d in df.loc[df["n_draws"] > 1, "n_draws"]}) if len(df) else []
    cal = ", ".join(f"{calibrated_coverage(d):.2f} with {d} draws" for d in draws) or "-"
    seeds = sorted(set(df["seed"])) if len(df) else []
    lines = [
        f"Made by: `{command}`",
        "",
        f"# Persona generators on `{dataset}`",
        "",
        f"Personas per draw: {_uniq(df, 'n_personas')}; draws: {_uniq(df, 'n_draws')} "
        f"(draw-based methods: {', '.join(sorted(DRAW_METHODS))}; the others one draw). "
        f"Seeds: {', '.join(map(str, seeds))}" + (" (cells: mean±sd over seeds)." if len(seeds) > 1 else "."),
        "Metrics from `populace.evaluation.metrics.score` (definitions in its docstring), pooled over draws; "
        "'SRMSE2 per draw' is the mean over draws, the error of one synthetic population. "
        "SZ recall: share of the population mass in combinations the sample lacks that the "
        "method produces at all; false combo: synthetic mass on combinations absent from the "
        "population. Downstream: population-weighted MAE of the outcome share across groups.",
        f"cov90: coverage of the true 2-way cell shares by the 90 % interval across draws; a "
        f"calibrated generator scores {cal}, not 0.90, because few draws give a short interval.",
        "",
    ]
    head = ["sample", "method", *cols.values(), "cov90 (width)", "fit s", "gen s"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for sample in dict.fromkeys(df["sample"]):
        part = df[df["sample"] == sample]
        unseen = _fmt(part["unseen_mass"].drop_duplicates(), 2)
        label = f"{sample} (n={int(part['n_sample'].iloc[0])}, unseen mass {unseen})"
        for i, method in enumerate(dict.fromkeys(part["method"])):
            m = part[part["method"] == method]
            cov = "-" if m["cov90"].isna().all() else f"{_fmt(m['cov90'], 2)} ({_fmt(m['width90'], 4)})"
            cells = [label if i == 0 else "", method, *(_fmt(m[k]) for k in cols), cov]
            cells += [_fmt(m["fit_s"], 1), _fmt(m["generate_s"], 1)]
            lines.append("| " + " | ".join(cells) + " |")
    lines += _honest_table(df)
    fits = df[df["method"] == "populace"]
    if len(fits):
        lines += ["", "populace convergence (NUTS; NaN with one chain or ADVI):", ""]
        lines += ["| sample | seed | R-hat max | ESS min | divergences |", "|---|---|---|---|---|"]
        for _, r in fits.iterrows():
            cells = [_fmt(pd.Series([r[k]]), d) for k, d in (("rhat_max", 3), ("ess_min", 0), ("divergences", 0))]
            lines.append(f"| {r['sample']} | {r['seed']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Per-table SRMSE2, each 2-way table against the independence product of the "
        "population's margins, is in the CSV (`srmse2[a×b]`, `srmse2_indep[a×b]`).",
    ]
    captions = {
        "srmse": "SRMSE by table order",
        "recall": "Sampling-zero recall vs false-combination mass",
        "coverage": "90 % interval coverage of 2-way cells",
    }
    for key, name in (images or {}).items():
        lines += ["", f"![{captions.get(key, key)}]({name})"]
    return "\n".join(lines) + "\n"


def _honest_table(df: pd.DataFrame) -> list[str]:
    """Coverage where the census does not pin the answer, for the draw-based methods:
    pooled, the worst free tables, per attribute inside areas and per group."""
    draws = df[df["cov90_free2"].notna()] if "cov90_free2" in df else df.iloc[:0]
    if not len(draws):
        return []
    groups = [c for c in df.columns if c.startswith("group_cov90[")]
    areas = [c for c in df.columns if c.startswith("area_cov90[")]
    lines = [
        "",
        "Coverage where the census does not pin the answer (`populace.evaluation.metrics.intervals`): "
        "free 2-way cells (tables no census table holds; census cells are raked to and cover by "
        "construction, so `census` is a sanity check only), shares inside areas of each attribute "
        "without an area table (areas of 30+ people), and outcome shares inside groups (30+ people).",
        "",
    ]
    head = ["sample", "method", "free 2-way", "tables < 0.5", "worst free tables", "census cells", "areas", *(
        c[len("area_cov90[") : -1] for c in areas), *(downstream_label("down" + c[len("group_cov90"):]) for c in groups)]  # fmt: skip
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    free = [c for c in df.columns if c.startswith("cov90_free2[")]
    for _, r in draws.iterrows():
        worst = sorted(((r[c], c[len("cov90_free2[") : -1]) for c in free if pd.notna(r[c])))[:3]
        cells = [r["sample"], r["method"], _fmt(pd.Series([r["cov90_free2"]])), f"{int(r['free2_tables_under_half'])}",
                 ", ".join(f"{t} {v:.2f}" for v, t in worst), _fmt(pd.Series([r["cov90_census2"]])),
                 _fmt(pd.Series([r.get("area_cov90", np.nan)])), *(_fmt(pd.Series([r[c]])) for c in areas + groups)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def downstream_label(key: str) -> str:
    """``down[abany=Yes|partyid,sex]`` -> ``abany=Yes MAE partyid×sex``."""
    inner = key[len("down[") : -1]
    outcome, _, by = inner.partition("|")
    return f"{outcome} MAE {by.replace(',', '×')}"


def _uniq(df: pd.DataFrame, col: str) -> str:
    return ", ".join(str(v) for v in sorted(set(df[col]))) if len(df) else "-"


def _fmt(values: pd.Series, digits: int = 3) -> str:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return "-"
    if len(v) == 1:
        return f"{v.iloc[0]:.{digits}f}"
    sd = v.std(ddof=1)
    return f"{v.mean():.{digits}f}±{sd:.{digits}f}" if not math.isnan(sd) else f"{v.mean():.{digits}f}"
