"""SBC outputs: the uniformity table, ``sbc.md``, ``sbc_ranks.csv`` and the plots."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from populace.atomic import atomic_path
from populace.evaluation.sbc.configs import CONFIGS
from populace.evaluation.sbc.ranks import uniformity_test

__all__ = ["summarize", "write_sbc"]


def summarize(df: pd.DataFrame, *, bins: int | None = None) -> pd.DataFrame:
    """Uniformity test per quantity: ``quantity, reps, bins, chi2, dof, pvalue, counts,
    mean_rank_frac``."""
    out = []
    for q, part in df.groupby("quantity", sort=False):
        L = int(part["n_ranks"].iloc[0])
        res = uniformity_test(part["rank"].to_numpy(), L, bins=bins)
        out.append(
            {
                "quantity": q,
                "reps": len(part),
                "bins": res.dof + 1,
                "chi2": res.chi2,
                "dof": res.dof,
                "pvalue": res.pvalue,
                "counts": " ".join(map(str, res.counts)),
                "mean_rank_frac": float((part["rank"] / L).mean()),
            }
        )
    return pd.DataFrame(out)


def write_sbc(
    df: pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    command: str,
    bins: int | None = None,
    plots: bool = True,
    notes: str = "",
) -> dict[str, Path]:
    """Write ``sbc_ranks.csv``, ``sbc.md`` and (``plots``) the rank plots, atomically.

    Returns the paths by kind (``csv``, ``md``, and ``plot:<name>`` for each figure).
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"csv": folder / "sbc_ranks.csv", "md": folder / "sbc.md"}
    with atomic_path(paths["csv"]) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    table = summarize(df, bins=bins) if len(df) else pd.DataFrame()
    if plots and len(df):
        from populace.evaluation.sbc.plots import plot_ranks

        for name, path in plot_ranks(df, folder, bins=bins).items():
            paths[f"plot:{name}"] = path
    with atomic_path(paths["md"]) as tmp:
        tmp.write_text(_markdown(df, table, command=command, paths=paths, notes=notes), encoding="utf-8")
    return paths


def _describe(name: str) -> str:
    cfg = CONFIGS.get(name)
    if cfg is None:
        return f"configuration {name!r}"
    attrs = ", ".join(
        f"{a.name} ({'geography, ' if a.role else ''}{a.type}, {a.n_levels})" for a in cfg.attributes
    )
    tables = ", ".join(" x ".join(t) for t in cfg.fixed_tables)
    cross = ", ".join(" x ".join(t) for t in cfg.crosstabs) or "none"
    free = ", ".join(cfg.free) or "none"
    mc = ", ".join(f"{k}={v}" for k, v in cfg.model_config.items())
    return (
        f"configuration `{name}`: attributes {attrs}; fixed census tables (data the model conditions on, "
        f"shares drawn from Dirichlet(4)) {tables}; simulated census cross-tabs {cross}; free attributes {free}; "
        f"model config {mc} (other keys at their defaults)"
    )


def _chains(df: pd.DataFrame) -> str:
    """Chains per replication (the production fit adds chains until it converges)."""
    if "chains" not in df.columns or not len(df):
        return "1 chain"
    counts = df.drop_duplicates("rep")["chains"].value_counts().sort_index()
    return ", ".join(f"{int(c)} chains in {int(n)} replications" for c, n in counts.items())


def _markdown(
    df: pd.DataFrame, table: pd.DataFrame, *, command: str, paths: Mapping[str, Path], notes: str
) -> str:
    a = df.attrs
    failed = list(a.get("failed", []))
    done = int(df["rep"].nunique()) if len(df) else 0
    lines = [
        f"Made by: `{command}`",
        "",
        "# Simulation-based calibration of the copula model",
        "",
        f"{done} replications done ({len(failed)} failed) of {a.get('reps', '?')}, "
        f"{_describe(str(a.get('config', '?')))}. Per replication: parameters from the model's prior, "
        f"a study simulated from the model's likelihood (see `populace.evaluation.sbc.simulate`), "
        f"microdata n = {a.get('n_sample', '?')}; fit by {a.get('method', '?')} ({_chains(df)}, "
        f"{a.get('draws', '?')} draws and {a.get('tune', '?')} tuning steps per chain).",
    ]
    if len(df):
        per_rep = df.drop_duplicates("rep")
        L = int(df["n_ranks"].iloc[0])
        low = int((per_rep["ess_min"] < L).sum())
        thr = 0.05 / max(1, len(table))
        lines += [
            "",
            f"Ranks among L = {L} posterior draws thinned by ceil(draws / ESS_bulk_min) (uniform on 0..L "
            f"if calibrated). Seconds per replication: median {per_rep['seconds'].median():.1f} "
            f"(total {per_rep['seconds'].sum() / 60:.1f} min); divergences: total "
            f"{per_rep['divergences'].sum():.0f} in {int((per_rep['divergences'] > 0).sum())} replications.",
            "",
            f"ESS (bulk, of the ranked quantities over all chains), smallest per replication: "
            f"min {per_rep['ess_min'].min():.0f}, median {per_rep['ess_min'].median():.0f}, max "
            f"{per_rep['ess_min'].max():.0f}; replications with ESS_min < L = {L}: {low} (their L draws are "
            f"spread evenly over the chain, less than ESS apart). Thinning used: "
            + ", ".join(f"{int(k)}: {int(v)} reps" for k, v in per_rep["thin"].value_counts().sort_index().items())
            + ".",
            "",
            f"Chi-square test of uniform ranks per quantity (bins for about 5+ expected ranks each). "
            f"{len(table)} quantities: Bonferroni threshold 0.05/{len(table)} = {thr:.4f}. "
            "mean rank/L: 0.5 if unbiased.",
            "",
            "| quantity | reps | bins | chi2 | dof | p-value | rejected | counts per bin | mean rank/L |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for _, r in table.iterrows():
            lines.append(
                f"| {str(r['quantity']).replace('|', chr(92) + '|')} | {r['reps']} | {r['bins']} | {r['chi2']:.2f} | {r['dof']} | "
                f"{r['pvalue']:.4f} | {'**yes**' if r['pvalue'] < thr else 'no'} | {r['counts']} | "
                f"{r['mean_rank_frac']:.3f} |"
            )
        rejected = table[table["pvalue"] < thr]["quantity"].tolist()
        lines += [
            "",
            f"Smallest p-value: {table['pvalue'].min():.4f}. Rejected at the Bonferroni level: "
            f"{', '.join(rejected) if rejected else 'none'}.",
        ]
    if notes:
        lines += ["", notes.strip()]
    if failed:
        lines += ["", "Failed replications:", "", *(f"- {f}" for f in failed)]
    figs = [(k[5:], p.name) for k, p in paths.items() if k.startswith("plot:")]
    if figs:
        lines += ["", "## Plots (ArviZ)", ""]
        lines += [f"![{name}]({fname})" for name, fname in figs]
    return "\n".join(lines) + "\n"
