"""Known-truth simulation of ``populace rectify`` (prediction-powered inference).

The population, the biased "LLM" and the persona posterior are described in
:mod:`populace.evaluation.rectify_sim`. Settings (each ``--reps`` replications):

1. ``main``: 300 humans (simple random sample), persona posterior from a 2,000-person
   sample, 20 draws x 5,000 personas; PPI++.
2. ``plain``: the same with plain PPI (lambda = 1).
3. ``stratified``: 300 humans, a third of them from the smallest region, weighted
   ``N_h / n_h``.
4. ``small census``: the persona posterior from 300 people only (a wide posterior), and
   ``small census, draws pooled``: the same personas passed as one draw, so their spread is
   ignored (the ablation of the persona term).

For each setting, group (overall and by region), answer level and method: the true share,
the 90 % intervals' coverage with its Monte-Carlo standard error ``sqrt(p (1 - p) / R)``, the
mean interval width, the bias and RMSE of the estimate, and the NaN results (too few humans;
counted as not covering).

Usage::

    python benchmarks/rectify_sim.py [--reps 2000] [--out benchmarks/results/rectify_sim.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd

from populace.atomic import atomic_path
from populace.evaluation.rectify_sim import SimConfig, make_population, run_sim, summarize_sim

SETTINGS = {
    "main": {},
    "plain": {"lam": 1.0},
    "stratified": {"design": "stratified"},
    "small census": {"n_census": 300},
    "small census, draws pooled": {"n_census": 300, "pool_draws": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000, help="replications per setting (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--out", default="benchmarks/results/rectify_sim.md")
    args = parser.parse_args()
    pop = make_population()
    tables = []
    for i, name in enumerate(args.settings):
        config = replace(SimConfig(reps=args.reps, seed=args.seed + i), **SETTINGS[name])
        t0 = time.perf_counter()
        summary = summarize_sim(run_sim(config, pop)).assign(setting=name)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        tables.append(summary)
    df = pd.concat(tables, ignore_index=True)
    out = Path(args.out)
    with atomic_path(out.with_suffix(".csv"), suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)
    env = os.environ.get("OPENBLAS_NUM_THREADS")
    command = (f"OPENBLAS_NUM_THREADS={env} " if env else "") + shlex.join(["python", *sys.argv])
    with atomic_path(out, suffix=".md") as tmp:
        tmp.write_text(_markdown(df, args.reps, command))
    print(f"wrote {out} and {out.with_suffix('.csv')}")


def _markdown(df: pd.DataFrame, reps: int, command: str) -> str:
    lines = [
        "# Known-truth simulation of `populace rectify`",
        "",
        f"Made by: `{command}` on {platform.node()} ({os.cpu_count()} cores), {date.today()}.",
        "",
        f"{reps} replications per setting; coverage of the 90 % intervals with its Monte-Carlo "
        "standard error; width = mean interval width; bias and RMSE of the estimate, in share "
        "points (x 100); NaN = results left NaN (counted as not covering). Population, LLM and persona posterior: `populace.evaluation.rectify_sim`.",
        "",
    ]
    for setting, part in df.groupby("setting", sort=False):
        lines += [f"## {setting}", "", _headline(part), ""]
        lines += [
            "| group | level | truth | method | coverage | width | bias | RMSE | NaN |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for _, r in part.iterrows():
            lines.append(
                f"| {r.group} | {r.level} | {r.truth:.3f} | {r.method} | {r.coverage:.3f} ± {r.coverage_se:.3f} "
                f"| {100 * r.width:.2f} | {100 * r.bias:+.2f} | {100 * r.rmse:.2f} | {r.nan} |"
            )
        lines.append("")
    return "\n".join(lines)


def _headline(part: pd.DataFrame) -> str:
    """Overall rows: ppi coverage range, width ratio against human_only, the LLM's bias."""
    overall = part[part.group == "(all)"].set_index(["level", "method"])
    levels = overall.index.get_level_values("level").unique()
    ppi = overall.xs("ppi", level="method")
    human = overall.xs("human_only", level="method")
    llm = overall.xs("llm_only", level="method")
    ratio = (ppi.width / human.width).reindex(levels)
    return (
        f"Overall: ppi coverage {ppi.coverage.min():.3f}-{ppi.coverage.max():.3f}; ppi width / human_only width "
        + ", ".join(f"{lv} {ratio[lv]:.2f}" for lv in levels)
        + "; llm_only bias "
        + ", ".join(f"{lv} {100 * llm.bias[lv]:+.1f}" for lv in levels)
        + " points (coverage "
        + ", ".join(f"{llm.coverage[lv]:.2f}" for lv in levels)
        + ")."
    )


if __name__ == "__main__":
    main()
