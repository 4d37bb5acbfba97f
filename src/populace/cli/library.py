"""``populace library``: a persona library folder (Parquet shards with text + a dataset card)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from populace.cli._common import import_inference, positive_int, seed_int, size
from populace.cli.generate import progress_bar
from populace.progress import Progress


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "library",
        parents=[common],
        help="write a persona library: Parquet shards with a text column and a dataset card",
        description="Draw N personas for each of D posterior draws into DIR/data/draw-D/part-K.parquet "
        "(draw, attribute labels, persona_id, text) and write DIR/README.md, a dataset card whose "
        "figures (sample, model, convergence, census fit) come from the fit. Loads with "
        '`datasets.load_dataset("parquet", data_dir=DIR)` and `pandas.read_parquet(DIR + "/data")`.',
    )
    p.add_argument("fit", metavar="FIT.nc", help="a fit saved by `populace fit`")
    p.add_argument("--n", "-n", required=True, type=positive_int, metavar="N", help="personas per draw")
    p.add_argument("--draws", type=positive_int, default=100, metavar="D", help="posterior draws (default 100: fewer give intervals that cover less than stated)")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="the library folder (new or empty)")
    p.add_argument("--seed", type=seed_int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--template", metavar="FILE", help="Jinja2 template of the text column (see `populace cards`)")
    p.add_argument(
        "--benchmark",
        metavar="DIR",
        help="when the fit is of a benchmark sample: its folder, to add validation figures to the card",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    say = Progress()
    say(f"loading fit {args.fit} ...")
    inference = import_inference(verbose=args.verbose)
    from populace.library.build import build_library

    fitted = inference.load_fit(args.fit)
    out = Path(args.out)
    say(f"writing {args.n:,} personas x {args.draws} posterior draws into {out} ...")
    with progress_bar(sys.stderr.isatty(), "personas") as bar:
        info = build_library(
            fitted, out, args.n, draws=args.draws, seed=args.seed, template=args.template,
            benchmark=args.benchmark, progress=bar,
        )
    say("done")
    print(f"wrote a persona library of {info.rows:,} personas ({info.files} shards, README.md) to {out} ({size(out)})")
