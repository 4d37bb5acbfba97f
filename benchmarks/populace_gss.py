"""Score the populace copula model on the gss benchmark samples.

For each sample: fit with the default settings, draw 20 posterior persona sets of
N personas each, score them (pooled over draws) with :func:`populace.evaluation.metrics.score`,
and also report 90 % interval coverage of 2-way cells from 200 draws (the 20-draw
interval is itself noisy: for a perfectly calibrated generator, the linear-interpolated
5-95 % range of 20 draws covers a new draw only (19.05 - 1.95) / 21 = 81 % of the time).
Each 2-way table is compared with the independence product.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/populace_gss.py [--from BENCHMARK_DIR]
        [--samples srs_f0.01_s0 ...] [--out benchmarks/results]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from populace.atomic import write_text  # noqa: E402
from populace.evaluation.datasets import Benchmark, build_gss  # noqa: E402
from populace.inference.generate import sample_personas  # noqa: E402
from populace.inference import check_convergence, fit  # noqa: E402
from populace.evaluation.metrics import Downstream, score  # noqa: E402

DOWNSTREAM = (
    Downstream("abany", "Yes", ("partyid", "sex")),
    Downstream("abany", "Yes", ("age", "educ", "race")),
)
# SRMSE2 of N iid draws from P is 0.025 (shared README); pooled over D draws the
# Monte-Carlo error of a table's SRMSE2 is about 0.025 / sqrt(D).
FLOOR_SRMSE2 = 0.025


def run(bench: Benchmark, sample: str, *, draws: int, seed: int) -> tuple[dict, pd.DataFrame]:
    study = bench.study(sample)
    pop = bench.population_codes()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = fit(study, seed=seed, warn=False)
    t_fit = time.perf_counter() - t0
    diag = check_convergence(f, warn=False)
    t1 = time.perf_counter()
    ds = sample_personas(f, bench.N, draws=draws, seed=seed + 1)
    t_gen = time.perf_counter() - t1
    res = score(ds, pop, None, study, downstream=DOWNSTREAM)
    wide = sample_personas(f, bench.N, draws=200, seed=seed + 2)
    res200 = score(wide, pop, None, study)
    mc = FLOOR_SRMSE2 / np.sqrt(draws)
    tables = pd.DataFrame(
        {
            "sample": sample,
            "table": list(res["srmse2_by_table"]),
            "srmse2": list(res["srmse2_by_table"].values()),
            "independence": [res["srmse2_independence"][k] for k in res["srmse2_by_table"]],
        }
    )
    tables["worse_by"] = tables["srmse2"] - tables["independence"]
    tables["worse_beyond_mc"] = tables["worse_by"] > 2 * mc
    row = {
        "sample": sample,
        "SRMSE1": res["srmse1"],
        "SRMSE2": res["srmse2"],
        "SRMSE3": res["srmse3"],
        "TVD joint": res["tvd_joint"],
        "SZ recall joint": res["sz_recall_joint"],
        "false combo": res["false_combo"],
        "cov90 (20 draws)": res["cov90"],
        "width90 (20)": res["width90"],
        "cov90 (200 draws)": res200["cov90"],
        "width90 (200)": res200["width90"],
        "abany=Yes MAE partyid×sex": res[DOWNSTREAM[0].key],
        "abany=Yes MAE age×educ×race": res[DOWNSTREAM[1].key],
        "tables worse than independence (> 2 MC se)": int(tables["worse_beyond_mc"].sum()),
        "fit s": t_fit,
        "generate s": t_gen,
        "R-hat max": diag.max_rhat,
        "ESS min": min(diag.min_ess_bulk, diag.min_ess_tail),
        "divergences": diag.divergences,
        "concentration median": float(f["posterior"]["concentration"].median()),
    }
    return row, tables


def markdown(rows: pd.DataFrame, tables: pd.DataFrame, command: str) -> str:
    lines = [
        "# populace copula model on gss",
        "",
        f"Made by: `{command}` (2-core machine, defaults of `populace.models.DEFAULT_MODEL_CONFIG`).",
        "Metrics pooled over 20 posterior draws of N = 14,064 personas; cov90 also from 200 draws.",
        "",
    ]
    cols = list(rows.columns)
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "---|" * len(cols))
    for _, r in rows.iterrows():
        lines.append("| " + " | ".join(_fmt(r[c]) for c in cols) + " |")
    lines += ["", "## 2-way tables worse than the independence product by more than 2 Monte-Carlo se", ""]
    bad = tables[tables["worse_beyond_mc"]]
    if bad.empty:
        lines.append("none")
    else:
        lines.append("| sample | table | SRMSE2 | independence |")
        lines.append("|---|---|---|---|")
        for _, r in bad.iterrows():
            lines.append(f"| {r['sample']} | {r['table']} | {r['srmse2']:.3f} | {r['independence']:.3f} |")
    return "\n".join(lines) + "\n"


def _fmt(v: object) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}"
    return str(v)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="source", help="read a written benchmark folder instead of building gss")
    ap.add_argument("--samples", nargs="*", help="sample names (default: all)")
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    bench = Benchmark.read(args.source) if args.source else build_gss()
    samples = args.samples or list(bench.samples)
    rows, tabs = [], []
    for s in samples:
        print(f"[{time.strftime('%H:%M:%S')}] {s} ...", file=sys.stderr, flush=True)
        row, tables = run(bench, s, draws=args.draws, seed=args.seed)
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, file=sys.stderr, flush=True)
        rows.append(row)
        tabs.append(tables)
    df, tables = pd.DataFrame(rows), pd.concat(tabs)
    command = "OPENBLAS_NUM_THREADS=1 python benchmarks/populace_gss.py " + shlex.join(list(argv or sys.argv[1:]))
    out = Path(args.out)
    stem = "populace_gss" if not args.source else f"populace_{Path(args.source).name}_shared"
    write_text(out / f"{stem}.md", markdown(df, tables, command))
    write_text(out / f"{stem}.csv", df.to_csv(index=False))
    write_text(out / f"{stem}_tables.csv", tables.to_csv(index=False))
    print(markdown(df, tables, command))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
