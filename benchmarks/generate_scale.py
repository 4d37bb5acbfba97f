"""Streaming generation at scale: peak memory and wall time against numpy + pyarrow alone.

Cases, each in its own process (peak RSS from ``resource.getrusage``):

* ``baseline``: numpy draws 20M rows of 11 level codes and pyarrow writes them as 11
  dictionary-coded columns plus ``draw``, in row groups of one million rows: the floor
  for drawing and writing that many rows;
* ``populace generate FIT --n 20000000 --draws 1``;
* ``--n 100000000 --draws 1`` and ``--n 17476 --draws 200`` (reported, no bar).

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/generate_scale.py FIT.nc [--out benchmarks/results/generate_scale.md]
        [--cases baseline 20M 100M 200x17476]
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

CASES = {"20M": (20_000_000, 1), "100M": (100_000_000, 1), "200x17476": (17_476, 200)}
CHUNK = 1_000_000


def _baseline(path: Path, n: int, columns: int = 11, levels: int = 7) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    dictionary = pa.array([f"level {k}" for k in range(levels)])
    schema = pa.schema(
        [pa.field("draw", pa.int64())] + [pa.field(f"a{j}", pa.dictionary(pa.int16(), pa.string())) for j in range(columns)]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            codes = rng.integers(0, levels, size=(size, columns), dtype=np.int16)
            cols = [pa.array(np.zeros(size, np.int64))] + [
                pa.DictionaryArray.from_arrays(pa.array(codes[:, j]), dictionary) for j in range(columns)
            ]
            writer.write_table(pa.Table.from_arrays(cols, schema=schema))


def _child(case: str, fit: str, out: str) -> None:
    t0 = time.perf_counter()
    if case == "baseline":
        _baseline(Path(out), 20_000_000)
    else:
        from populace.cli import main

        n, draws = CASES[case]
        main(["generate", fit, "--n", str(n), "--draws", str(draws), "--out", out])
    wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"case": case, "wall_s": wall, "peak_rss_mb": rss_mb, "bytes": os.path.getsize(out)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit")
    parser.add_argument("--out", default="benchmarks/results/generate_scale.md")
    parser.add_argument("--cases", nargs="+", default=["baseline", "20M", "100M", "200x17476"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.fit, args.file)
        return 0
    rows = []
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        for case in args.cases:
            target = str(Path(tmp) / f"{case}.parquet")
            res = subprocess.run(
                [sys.executable, __file__, args.fit, "--child", case, "--file", target],
                check=True, capture_output=True, text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"),
            )
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
            Path(target).unlink()
    base = next((r for r in rows if r["case"] == "baseline"), None)
    lines = [
        "# Streaming generation at scale",
        "",
        f"Made by: `OPENBLAS_NUM_THREADS=1 python benchmarks/generate_scale.py {args.fit} --cases {' '.join(args.cases)}` "
        f"on {platform.node() or 'this machine'} ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}. "
        "Each case in its own process; the `populace generate` cases include loading the fit and "
        "importing PyMC.",
        "",
        "| case | rows | wall s | x baseline | peak RSS MB | file MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        n, d = CASES.get(r["case"], (20_000_000, 1))
        ratio = f"{r['wall_s'] / base['wall_s']:.2f}" if base and r["case"] != "baseline" else "-"
        lines.append(f"| {r['case']} | {n * d:,} | {r['wall_s']:.1f} | {ratio} | {r['peak_rss_mb']:.0f} | {r['bytes'] / 2**20:.0f} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from populace.atomic import atomic_path

    with atomic_path(out) as tmp_out:
        tmp_out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
