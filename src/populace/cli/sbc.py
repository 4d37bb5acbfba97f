"""``populace sbc``: simulation-based calibration of the model."""

from __future__ import annotations

import argparse
from pathlib import Path

from populace.cli._common import UsageError, command_line, import_inference, nonnegative_int, positive_int
from populace.progress import Progress

_OPTIONS = (
    ("--reps", "reps"),
    ("--n-sample", "n_sample"),
    ("--method", "method"),
    ("--draws", "draws"),
    ("--tune", "tune"),
    ("--seed", "seed"),
    ("--out", "out"),
    ("--resume", "resume"),
)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "sbc",
        parents=[common],
        help="simulation-based calibration of the copula model",
        description="Simulation-based calibration (Talts et al. 2018): simulate small studies from "
        "the prior (K = 1, copula without the Dirichlet layer), fit each, and test that the ranks "
        "of the true rotation-invariant quantities among posterior draws are uniform.",
    )
    p.add_argument("--reps", type=positive_int, default=50, metavar="R", help="replications (default 50)")
    p.add_argument("--n-sample", type=positive_int, default=300, metavar="N", help="microdata rows (default 300)")
    p.add_argument("--out", "-o", default="benchmarks/results/sbc", metavar="DIR", help="output folder")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--method", choices=("nuts", "advi"), default="nuts", help="inference method (default nuts)")
    p.add_argument("--draws", type=positive_int, default=200, metavar="N", help="posterior draws (default 200)")
    p.add_argument("--tune", type=nonnegative_int, default=200, metavar="N", help="tuning steps (default 200)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the replications already in DIR/sbc_ranks.csv (written after each one) and run the rest",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    say = Progress()
    import_inference(verbose=args.verbose)
    import pandas as pd

    from populace.evaluation.sbc import run_sbc, summarize, write_sbc

    command = command_line(args, "sbc", _OPTIONS)
    previous = None
    saved = Path(args.out) / "sbc_ranks.csv"
    if args.resume and saved.exists():
        previous = pd.read_csv(saved)
        say(f"resuming: {previous['rep'].nunique()} replications read from {saved}")
    say(f"SBC: {args.reps} replications, n_sample {args.n_sample}, {args.method} ...")
    df = run_sbc(
        reps=args.reps,
        n_sample=args.n_sample,
        method=args.method,
        draws=args.draws,
        tune=args.tune,
        seed=args.seed,
        progress=say,
        previous=previous,
        # tables (no plots) after every replication, so a killed run can --resume
        on_rep=lambda part: write_sbc(part, args.out, command=command, plots=False),
    )
    if df.empty:
        raise UsageError("every SBC replication failed; see the messages above.")
    paths = write_sbc(df, args.out, command=command)
    say("done")
    table = summarize(df)
    for _, r in table.iterrows():
        print(f"{r['quantity']:<28} p = {r['pvalue']:.3f}  counts {r['counts']}")
    print(f"wrote {paths['md']}, {paths['csv']} and {len(paths) - 2} histograms")
