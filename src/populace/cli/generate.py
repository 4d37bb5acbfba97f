"""``populace generate``: stream personas from a saved fit to Parquet."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from populace.cli._common import UsageError, check_writable, import_inference, positive_int, seed_int, size
from populace.progress import Progress


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "generate",
        parents=[common],
        help="draw personas from a saved fit into a Parquet file",
        description="Draw N personas for each of D posterior draws and stream them to Parquet "
        "(one column per attribute plus an integer `draw` column; one row group per million rows, "
        "so memory stays bounded whatever N and D are).",
    )
    p.add_argument("fit", metavar="FIT.nc", help="a fit saved by `populace fit`")
    p.add_argument("--n", "-n", required=True, type=positive_int, metavar="N", help="personas per draw")
    p.add_argument("--draws", type=positive_int, default=100, metavar="D", help="posterior draws (default 100: fewer give intervals that cover less than stated)")
    p.add_argument("--out", "-o", required=True, metavar="PERSONAS.parquet", help="output Parquet file")
    p.add_argument("--seed", type=seed_int, default=0, metavar="S", help="random seed (default 0)")
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
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    say = Progress()
    where = parse_where(args.where)
    out = Path(args.out)
    if not (args.partition_by or args.scheduler):
        check_writable(out)
    say(f"loading fit {args.fit} ...")
    inference = import_inference(verbose=args.verbose)
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
        with progress_bar(sys.stderr.isatty(), "personas") as bar:
            _, rows = write_personas(fitted, out, args.n, draws=args.draws, seed=args.seed, where=where or None, progress=bar)
    say("done")
    names = ", ".join(inference.model_from_fit(fitted).study.names)
    cond = f" where {', '.join(f'{k}={v}' for k, v in where.items())}" if where else ""
    print(
        f"wrote {rows:,} rows ({args.n:,} personas x {args.draws} draws{cond}, "
        f"columns: draw, {names}) to {out} ({size(out)})"
    )


def parse_where(items: Sequence[str]) -> dict[str, str]:
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
def progress_bar(show: bool, label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on a terminal; nothing otherwise (logs, pipes, tests)."""
    if not show:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TimeRemainingColumn

    with Bar(label, BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
