"""Many-draw generation against the numpy + pyarrow write floor, measured in the same run.

Two cases, each in its own process (peak RSS from ``resource.getrusage``):

* ``floor``: numpy draws ``n x draws`` rows of the study's level codes (one column per
  attribute, its own number of levels) and pyarrow writes them as dictionary-coded columns
  plus ``draw``, in row groups of one million rows (``generate_scale._baseline``): the least
  any generator pays to hand out that many rows;
* ``populace``: ``populace generate FIT --n n --draws draws`` (loading the fit and importing
  PyMC included).

The last line printed is JSON: ``write_floor_s``, ``populace_s``, ``ratio`` (populace / floor),
``peak_rss_mb`` (populace's), ``rows``.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/generate_draws.py FIT.nc [--n N] [--draws 200]
        [--out benchmarks/results/generate_draws.md] [--fit-command "populace fit ... --out FIT.nc"]

``--n`` defaults to the census total of the fit's study (one persona per person).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_scale import _baseline  # noqa: E402


def _child(case: str, fit: str, out: str, n: int, draws: int, levels: list[int]) -> None:
    t0 = time.perf_counter()
    if case == "floor":
        _baseline(Path(out), n * draws, columns=len(levels), levels=max(levels))
    else:
        from populace.cli import main

        if main(["generate", fit, "--n", str(n), "--draws", str(draws), "--out", out]) != 0:
            raise SystemExit("populace generate failed")
    wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"case": case, "wall_s": wall, "peak_rss_mb": rss_mb, "bytes": os.path.getsize(out)}))


def _study_shape(fit: str) -> tuple[int, list[int]]:
    from populace.inference import load_fit, model_from_fit

    study = model_from_fit(load_fit(fit)).study
    total = int(round(study.marginals[0].total)) if study.marginals else 10_000
    return total, [a.n_levels for a in study.attributes]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--out", default=None)
    parser.add_argument("--fit-command", default=None, help="how FIT was made (written into --out, so it can be rebuilt)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--levels", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.fit, args.file, args.n, args.draws, json.loads(args.levels))
        return 0
    total, levels = _study_shape(args.fit)
    n = args.n or total
    runs = {}
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        for case in ("floor", "populace"):
            target = str(Path(tmp) / f"{case}.parquet")
            res = subprocess.run(
                [sys.executable, __file__, args.fit, "--child", case, "--file", target, "--n", str(n),
                 "--draws", str(args.draws), "--levels", json.dumps(levels)],
                check=True, capture_output=True, text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"),
            )
            runs[case] = json.loads(res.stdout.strip().splitlines()[-1])
            print(runs[case], flush=True)
    head = {
        "write_floor_s": round(runs["floor"]["wall_s"], 2),
        "populace_s": round(runs["populace"]["wall_s"], 2),
        "ratio": round(runs["populace"]["wall_s"] / runs["floor"]["wall_s"], 1),
        "peak_rss_mb": round(runs["populace"]["peak_rss_mb"]),
        "rows": n * args.draws,
    }
    if args.out:
        from populace.atomic import write_text

        cmd = f"OPENBLAS_NUM_THREADS=1 python benchmarks/generate_draws.py {args.fit} --n {n} --draws {args.draws} --out {args.out}"
        lines = [
            "# Many-draw generation against the write floor",
            "",
            f"Made by: `{cmd}` on {platform.node() or 'this machine'} ({os.cpu_count()} cores, {platform.machine()}), "
            f"{time.strftime('%Y-%m-%d')}. Both cases in their own process, in the same run; populace's includes "
            "loading the fit and importing PyMC.",
            *([f"The fit: `{args.fit_command}`."] if args.fit_command else []),
            "",
            "| case | rows | wall s | peak RSS MB | file MB |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {case} | {n * args.draws:,} | {r['wall_s']:.1f} | {r['peak_rss_mb']:.0f} | {r['bytes'] / 2**20:.1f} |"
            for case, r in runs.items()
        ]
        lines += ["", "```json", json.dumps(head), "```"]
        write_text(args.out, "\n".join(lines) + "\n")
    print(json.dumps(head))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
