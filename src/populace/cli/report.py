"""``populace report``: one self-contained HTML page about a fit and its personas."""

from __future__ import annotations

import argparse
from pathlib import Path

from populace.cli._common import check_writable, import_inference, nonnegative_int, seed_int


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "report",
        parents=[common],
        help="one HTML page: diagnostics, census fit, dependence, shares by area and group, cards",
        description="Write one self-contained HTML page (images inline) about a fit: R-hat / ESS per "
        "reported quantity with rank plots, each census table against the personas' intervals, the latent "
        "dependence with its uncertainty, target shares by area and by group as sorted dot plots with "
        "intervals, and a few persona cards. Without --personas, 100 draws of up to 10,000 personas are "
        "generated for it.",
    )
    p.add_argument("fit", metavar="FIT", help="a fit file from `populace fit`")
    p.add_argument("--personas", "-p", default=None, metavar="P", help="personas of this fit (Parquet file or folder)")
    p.add_argument("--out", "-o", default="report.html", metavar="REPORT.html", help="the page to write (default report.html)")
    p.add_argument("--target", "-t", action="append", default=None, metavar="ATTR", help="an attribute shown by group (repeatable)")
    p.add_argument("--by", "-b", action="append", default=None, metavar="ATTR", help="a group attribute (repeatable)")
    p.add_argument("--cards", type=nonnegative_int, default=5, metavar="N", help="persona cards shown (default 5)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of generated personas and of the cards picked")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    check_writable(out)
    import_inference(verbose=args.verbose)
    from populace.report import write_report

    write_report(args.fit, out, personas=args.personas, targets=args.target, groups=args.by, cards=args.cards, seed=args.seed)
    print(f"wrote {out}")
