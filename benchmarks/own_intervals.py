"""Per free 2-way table: the model's 90 % intervals against the sample's own.

Issue 30 asks that where only the sample informs a cell, the model's interval be narrower
than the sample's own only where the data support the model's structure. This scores both
against the population, table by table:

* the model: the personas' draws (a Parquet file from ``populace generate``), each a
  population of the population's size;
* the sample's own interval: per draw, the table's shares from ``Dirichlet(n_ab + 1 / cells)``
  (``n_ab`` the sample's 2-way counts, each survey's weights scaled to its Kish size, the
  weighted Bayesian bootstrap of the table), raked to the study's census 1-D margins of both
  attributes (what the census gives), then a multinomial population of the population's size.

A free table is a pair of non-geographic attributes that no census table holds. Cells with a
true share under 0.001 are left out, as in ``populace.evaluation.metrics.intervals``.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/own_intervals.py --data ../shared/benchmarks/anes \\
        --study ../shared/benchmarks/anes/study_srs_f0.01_s0.toml --personas P.parquet [--draws 400] [--out FILE.md]

The last line printed is JSON: pooled coverage and width of both, and the tables where the
model covers under half its cells while the sample's own interval covers at least half.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from populace.evaluation.datasets import Benchmark
from populace.evaluation.metrics.codes import persona_codes
from populace.evaluation.metrics.coverage import interval_coverage, table_coverage
from populace.personas import open_personas
from populace.study import load_study
from populace.study.shares import census_margin, effective_weights

MIN_SHARE = 0.001


def free_pairs(study) -> list[tuple[str, str]]:
    geo = study.geography.name if study.geography is not None else None
    held = [set(m.attributes) for m in study.marginals]
    names = [n for n in study.names if n != geo]
    return [(a, b) for a, b in itertools.combinations(names, 2) if not any({a, b} <= h for h in held)]


def own_draws(study, a: str, b: str, n_pop: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``(draws, La * Lb)`` shares of the sample's own interval (module docstring)."""
    md = study.microdata
    codes = np.asarray(md.codes)
    ia, ib = study.names.index(a), study.names.index(b)
    la, lb = study.attribute(a).n_levels, study.attribute(b).n_levels
    ok = (codes[:, ia] >= 0) & (codes[:, ib] >= 0)
    n = np.zeros((la, lb))
    np.add.at(n, (codes[ok, ia], codes[ok, ib]), effective_weights(md)[ok])
    ra, cb = census_margin(study, a), census_margin(study, b)
    out = np.empty((draws, la * lb))
    for d in range(draws):
        t = rng.dirichlet(n.ravel() + 1.0 / n.size).reshape(la, lb)
        for _ in range(500):  # 2-D IPF to the census margins (where the census has them)
            if ra is not None:
                t *= (ra / np.maximum(t.sum(axis=1), 1e-300))[:, None]
            if cb is not None:
                t *= (cb / np.maximum(t.sum(axis=0), 1e-300))[None, :]
        out[d] = rng.multinomial(n_pop, t.ravel() / t.sum()) / n_pop
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--study", required=True)
    ap.add_argument("--personas", required=True)
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    bench = Benchmark.read(args.data)
    pop = bench.population_codes()
    study = load_study(args.study)
    rng = np.random.default_rng(args.seed)
    pairs = free_pairs(study)
    pers = persona_codes(open_personas(args.personas).to_table(columns=["draw", *study.names]).to_pandas(), study)
    shape = tuple(a.n_levels for a in study.attributes)
    rows = []
    for a, b in pairs:
        ia, ib = bench.names.index(a), bench.names.index(b)
        la, lb = study.attribute(a).n_levels, study.attribute(b).n_levels
        truth = np.bincount(pop[:, ia] * lb + pop[:, ib], minlength=la * lb) / len(pop)
        keep = truth >= MIN_SHARE
        m_cov, m_width = table_coverage(
            pers, (study.index(a), study.index(b)), truth, shape, interval=0.9, min_share=MIN_SHARE
        )
        o_cov, o_width = interval_coverage(own_draws(study, a, b, len(pop), args.draws, rng)[:, keep], truth[keep])
        cells = int(keep.sum())
        rows.append({"table": f"{a}×{b}", "cells": cells, "model_cov": m_cov.sum() / cells, "model_width": float(m_width.mean()),
                     "own_cov": o_cov.sum() / cells, "own_width": float(o_width.mean()),
                     "m_cov": int(m_cov.sum()), "o_cov": int(o_cov.sum())})
    df = pd.DataFrame(rows).sort_values("model_cov", kind="stable")
    cells = df["cells"].sum()
    head = {
        "tables": len(df),
        "model_cov90": round(df["m_cov"].sum() / cells, 3),
        "own_cov90": round(df["o_cov"].sum() / cells, 3),
        "model_width90": round(float(np.average(df["model_width"], weights=df["cells"])), 4),
        "own_width90": round(float(np.average(df["own_width"], weights=df["cells"])), 4),
        "model_under_half_own_not": [t for t, mc, oc in zip(df["table"], df["model_cov"], df["own_cov"]) if mc < 0.5 <= oc],
        "model_narrower_and_under_own_cov": int(((df["model_width"] < df["own_width"]) & (df["model_cov"] < df["own_cov"])).sum()),
    }
    if args.out:
        from populace.atomic import write_text

        cmd = "OPENBLAS_NUM_THREADS=1 python benchmarks/own_intervals.py " + shlex.join(sys.argv[1:] if argv is None else argv)
        lines = [
            "# The model's intervals against the sample's own, per free 2-way table",
            "",
            f"Made by: `{cmd}` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {platform.machine()}). "
            "See the script's docstring for both intervals.",
            "",
            "| table | cells | model cov90 | model width | sample's own cov90 | own width |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.table} | {r.cells} | {r.model_cov:.2f} | {r.model_width:.4f} | {r.own_cov:.2f} | {r.own_width:.4f} |"
            for r in df.itertuples()
        ]
        lines += ["", "```json", json.dumps(head, ensure_ascii=False), "```"]
        write_text(args.out, "\n".join(lines) + "\n")
    print(df.drop(columns=["m_cov", "o_cov"]).round(4).to_string(index=False))
    print(json.dumps(head, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
