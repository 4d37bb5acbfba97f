"""``populace sbc``: simulation-based calibration of the model."""

from __future__ import annotations

import argparse
from pathlib import Path

from populace.cli._common import UsageError, command_line, import_inference, nonnegative_int, positive_int, seed_int
from populace.progress import Progress

_OPTIONS = (
    ("--config", "config"),
    ("--reps", "reps"),
    ("--n-sample", "n_sample"),
    ("--method", "method"),
    ("--draws", "draws"),
    ("--tune", "tune"),
    ("--n-ranks", "n_ranks"),
    ("--seed", "seed"),
    ("--out", "out"),
    ("--resume", "resume"),
    ("--report-only", "report_only"),
)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "sbc",
        parents=[common],
        help="simulation-based calibration of the copula model",
        description="Simulation-based calibration (Talts et al. 2018): simulate small studies from "
        "the model's prior and likelihood, fit each, and test that the ranks of the true "
        "rotation-invariant quantities among thinned posterior draws are uniform.",
    )
    p.add_argument(
        "--config",
        choices=("production", "areas", "small"),
        default="production",
        help="production: K = 3, Dirichlet layer, geography, cross-tab, free attribute (default); "
        "areas: the default model config with area effects, four areas, two free attributes (fit it "
        "with --method nutpie); small: K = 1, 1-D tables, no Dirichlet layer",
    )
    p.add_argument("--reps", type=positive_int, default=200, metavar="R", help="replications (default 200)")
    p.add_argument("--n-sample", type=positive_int, default=300, metavar="N", help="microdata rows (default 300)")
    p.add_argument("--out", "-o", default=None, metavar="DIR", help="output folder (default benchmarks/results/sbc_<config>)")
    p.add_argument("--seed", type=seed_int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument(
        "--method", choices=("nutpie", "nuts", "advi"), default="nuts",
        help="nutpie: the production fit (populace.inference.fit, nutpie on JAX, default sampler config); "
        "nuts: one PyMC chain compiled once; advi (default nuts)",
    )
    p.add_argument(
        "--draws", type=positive_int, default=None, metavar="N",
        help="posterior draws per chain (default 150; nutpie: the sampler config's, 1000)",
    )
    p.add_argument(
        "--tune", type=nonnegative_int, default=None, metavar="N",
        help="tuning steps (default 150; nutpie: the sampler config's, 300)",
    )
    p.add_argument(
        "--n-ranks", type=positive_int, default=None, metavar="L",
        help="ranked (thinned) draws per replication (default min(99, draws // 2))",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the replications already in DIR/sbc_ranks.csv (written after each one) and run the rest",
    )
    p.add_argument(
        "--report-only",
        action="store_true",
        help="run no replication: rewrite DIR/sbc.md and the plots from DIR/sbc_ranks.csv (e.g. of a run "
        "still going, or interrupted)",
    )
    p.add_argument(
        "--notes", default=None, metavar="FILE",
        help="a Markdown file whose text is added to sbc.md (findings, what was not re-run)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    say = Progress()
    import_inference(verbose=args.verbose)
    import pandas as pd

    from populace.evaluation.sbc import CONFIGS, run_sbc, summarize, write_sbc

    from populace.models.config import DEFAULT_SAMPLER_CONFIG

    if args.out is None:
        args.out = f"benchmarks/results/sbc_{args.config}"
    nutpie = args.method == "nutpie"
    if args.draws is None:
        args.draws = int(DEFAULT_SAMPLER_CONFIG["draws"]) if nutpie else 150
    if args.tune is None:
        args.tune = int(DEFAULT_SAMPLER_CONFIG["tune"]) if nutpie else 150
    if args.n_ranks is not None and args.n_ranks > args.draws:
        raise UsageError(f"--n-ranks {args.n_ranks} is more than --draws {args.draws}; lower it or draw more.")
    # The run's command (what made the ranks): --report-only only re-renders them.
    command = command_line(args, "sbc", [o for o in _OPTIONS if o[1] != "report_only"])
    notes = ""
    if args.notes is not None:
        try:
            notes = Path(args.notes).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--notes {args.notes}: cannot read it ({exc.strerror}); give an existing text file.") from None
    previous = None
    saved = Path(args.out) / "sbc_ranks.csv"
    if args.report_only:
        if not saved.exists():
            raise UsageError(f"--report-only: {saved} does not exist; run the replications first (drop --report-only).")
        df = pd.read_csv(saved)
        done = sorted(int(r) for r in df["rep"].unique())
        missing = [r for r in range(max(done) + 1) if r not in set(done)] if done else []
        failed = [f"rep {r}: no rows in {saved.name} (failed, see the run's log)" for r in missing]
        df.attrs.update(failed=failed, config=args.config, reps=args.reps, method=args.method, draws=args.draws,
                        tune=args.tune, n_sample=args.n_sample)
        rendered = f"Report re-rendered from `{saved.name}` (no replication run) by the command above with `--report-only`."
        paths = write_sbc(df, args.out, command=command, notes=f"{rendered}\n\n{notes}")
        say(f"wrote {paths['md']} from {len(done)} replications in {saved}")
        return
    if args.resume and saved.exists():
        previous = pd.read_csv(saved)
        say(f"resuming: {previous['rep'].nunique()} replications read from {saved}")
    say(f"SBC ({args.config}): {args.reps} replications, n_sample {args.n_sample}, {args.method} ...")
    df = run_sbc(
        config=CONFIGS[args.config],
        reps=args.reps,
        n_ranks=args.n_ranks,
        n_sample=args.n_sample,
        method=args.method,
        draws=args.draws,
        tune=args.tune,
        seed=args.seed,
        progress=say,
        previous=previous,
        # tables (no plots) after every replication, so a killed run can --resume
        on_rep=lambda part: write_sbc(part, args.out, command=command, plots=False, notes=notes),
    )
    if df.empty:
        raise UsageError("every SBC replication failed; see the messages above.")
    paths = write_sbc(df, args.out, command=command, notes=notes)
    say("done")
    table = summarize(df)
    for _, r in table.iterrows():
        print(f"{r['quantity']:<28} p = {r['pvalue']:.3f}  counts {r['counts']}")
    print(f"wrote {paths['md']}, {paths['csv']} and {len(paths) - 2} plots")
