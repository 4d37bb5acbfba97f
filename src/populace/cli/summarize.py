"""``populace summarize``: the share of a target's level(s) by group, with intervals."""

from __future__ import annotations

import argparse
from pathlib import Path

from populace.cli._common import check_writable


def _prob(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must lie between 0 and 1, got {value}")
    return value


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "summarize",
        parents=[common],
        help="share of a target's level(s) by group: posterior mean, interval, Monte-Carlo error",
        description="Read personas (a Parquet file or partitioned folder from `populace generate`) in "
        "batches and report, per group of --by and level of --target, the posterior mean share over the "
        "draws, the central interval between the draws' quantiles, the Monte-Carlo standard errors of "
        "the mean and of both interval ends, and the number of draws. Warns when the draws are too few "
        "for the interval's probability.",
    )
    p.add_argument("personas", metavar="PERSONAS", help="a personas Parquet file or partitioned folder")
    p.add_argument("--target", "-t", required=True, metavar="ATTR", help="the attribute whose share is reported")
    p.add_argument("--by", "-b", action="append", default=[], metavar="ATTR", help="a group attribute (repeatable)")
    p.add_argument(
        "--level", "-l", action="append", default=None, metavar="LEVEL",
        help="a level of the target; repeated levels are added into one share (default: each level apart)",
    )
    p.add_argument("--ci", type=_prob, default=0.9, metavar="P", help="interval probability (default 0.9)")
    p.add_argument("--out", "-o", default=None, metavar="TABLE.csv", help="write a CSV instead of printing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from populace.atomic import atomic_path
    from populace.summarize import summarize_parquet

    out = Path(args.out) if args.out else None
    if out is not None:
        check_writable(out)
    table = summarize_parquet(args.personas, by=args.by, target=args.target, level=args.level, ci_prob=args.ci)
    if out is None:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        return
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    print(f"wrote {len(table)} rows to {out}")
