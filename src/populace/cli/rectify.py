"""``populace rectify``: population shares of LLM answers, rectified by a human sample (PPI)."""

from __future__ import annotations

import argparse
from pathlib import Path

from populace.cli._common import UsageError, check_writable, positive_int


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "rectify",
        parents=[common],
        help="population shares of an LLM-answered question, rectified by a human sample",
        description="Estimate the population share of each answer level by prediction-powered "
        "inference (PPI++): the LLM's answers over the personas (every posterior draw), "
        "corrected by humans whose own answer and LLM answer are both known. The intervals "
        "include the spread of the persona draws. Writes a CSV with columns level, group, "
        "method, estimate, lo90, hi90; method is ppi, llm_only (personas alone) or human_only.",
    )
    p.add_argument("--personas", required=True, metavar="P.parquet", help="personas with the LLM answer column and `draw`")
    p.add_argument("--answer", required=True, metavar="COL", help="the LLM-answer column (in both files)")
    p.add_argument("--human", required=True, metavar="H.csv", help="the human sample (CSV)")
    p.add_argument("--truth-column", required=True, metavar="COL2", help="the humans' own answer column")
    p.add_argument("--by", metavar="ATTR", help="also estimate within each group of this column (in both files)")
    p.add_argument("--weight", metavar="COL", help="weight column of the human sample (default: a simple random sample)")
    p.add_argument("--plain", action="store_true", help="plain PPI (lambda = 1) instead of the power-tuned PPI++")
    p.add_argument("--min-humans", type=positive_int, default=10, metavar="N",
                   help="groups with fewer humans get NaN for ppi and human_only (default 10)")
    p.add_argument("--out", "-o", required=True, metavar="R.csv", help="output CSV")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from populace.atomic import atomic_path
    from populace.simulate import COLUMNS, rectify
    from populace.simulate.inputs import read_humans_csv, read_persona_counts

    out = Path(args.out)
    check_writable(out)
    if not Path(args.personas).exists():
        raise UsageError(f"--personas {args.personas}: no such file or folder.")
    if args.weight and args.weight in (args.answer, args.truth_column):
        raise UsageError(f"--weight {args.weight}: is also the answer or truth column; name the weight column.")
    counts = read_persona_counts(args.personas, answer=args.answer, by=args.by)
    humans = read_humans_csv(args.human)
    # Its warnings reach stderr as plain lines through the CLI's shared handler.
    result = rectify(
        counts, humans, answer=args.answer, truth=args.truth_column, by=args.by, weight=args.weight,
        lam=1.0 if args.plain else None, min_humans=args.min_humans,
        personas_label=str(args.personas), humans_label=str(args.human),
    )
    with atomic_path(out, suffix=".csv") as tmp:
        result[COLUMNS].to_csv(tmp, index=False)
    overall = result[(result.group == "(all)")].pivot(index="level", columns="method", values="estimate")
    print(f"{len(counts.draws)} persona draws, {len(humans)} humans, {len(counts.levels)} answer levels")
    print(overall.reindex(columns=["ppi", "llm_only", "human_only"]).round(3).to_string())
    print(f"wrote {len(result)} rows to {out}")
