"""``populace demo``: fit the bundled example and write a report."""

from __future__ import annotations

import argparse
import sys

from populace.cli._common import import_inference
from populace.progress import Progress


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo",
        parents=[common],
        help="fit the bundled GSS example, generate personas, write a report",
        description="Fit the bundled GSS example study, generate one population per posterior "
        "draw and write fit.nc, personas.parquet, report.html and report.md into --out.",
    )
    p.add_argument("--out", "-o", default="populace-demo", metavar="DIR", help="output folder (default populace-demo)")
    p.add_argument("--quick", action="store_true", help="tiny fit and persona set, for smoke tests")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    import_inference(verbose=args.verbose)
    from populace.demo import run_demo

    run_demo(args.out, quick=args.quick, echo=print, progress=Progress(), progressbar=sys.stderr.isatty())
