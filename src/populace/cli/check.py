"""``populace check``: validate a study and say what it pins and what to act on, without fitting."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "check",
        parents=[common],
        help="validate a study and report what pins each attribute, without fitting",
        description="Load STUDY.toml with the same validation as `populace fit`, then print its "
        "attributes and the census tables that pin each, the sample size and Kish effective n, "
        "census cells and areas with no sample row, attributes with no census table, and warnings.",
    )
    p.add_argument("study", metavar="STUDY.toml", help="study file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from populace.study import load_study
    from populace.study.check import check_study

    print(check_study(load_study(args.study)), end="")
