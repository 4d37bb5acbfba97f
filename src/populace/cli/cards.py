"""``populace cards``: one card per persona of a personas Parquet file (JSON Lines or Parquet)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from populace.cli._common import check_writable, size
from populace.cli.generate import progress_bar


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "cards",
        parents=[common],
        help="write one card per persona (attributes, text, provenance), JSON Lines or Parquet",
        description="Stream a personas Parquet file (from `populace generate`) to cards: per persona "
        "its persona_id, draw, attribute labels, a text rendered from a Jinja2 template (sandboxed) and "
        "each attribute's provenance (census-pinned, census-margin or survey-only, with the census tables). "
        "--out *.jsonl: one JSON object per line, provenance on each. --out *.parquet: dictionary-coded "
        "columns, provenance once in the file's metadata (a small fraction of the JSON Lines' size).",
    )
    p.add_argument("personas", metavar="PERSONAS.parquet", help="a file written by `populace generate`")
    p.add_argument("--out", "-o", required=True, metavar="CARDS.jsonl|CARDS.parquet", help="output file; its suffix picks the format")
    p.add_argument(
        "--template",
        metavar="FILE",
        help="Jinja2 template of the text (default: one plain-English sentence); it sees each attribute "
        "by name, `attributes` and `phrase`, and may declare phrases in +++ TOML front matter",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from populace.library.cards import write_cards

    out = Path(args.out)
    check_writable(out)
    with progress_bar(sys.stderr.isatty(), "cards") as bar:
        _, rows = write_cards(args.personas, out, template=args.template, progress=bar)
    print(f"wrote {rows:,} cards to {out} ({size(out)})")
