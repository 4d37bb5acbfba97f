"""Persona cards at scale: cards per second and peak memory of ``populace cards``.

Personas: ``populace generate FIT --n 17476 --draws 200`` (3,495,200 rows; not timed as part
of the cards). Cases, each ``populace cards`` in its own process (peak RSS of that process
from ``resource.getrusage``), the JSON Lines written to a temp folder and deleted after:

* ``default``: the plain-English default template;
* ``user``: a user template with front-matter phrases, ``phrase``, ``attributes`` and an
  ``{% if %}`` (the general path: per-row dicts for ``phrase`` / ``attributes``);
* ``parquet``: the default template into a Parquet card file (labels and text
  dictionary-coded, the provenance once in the metadata).

The number of distinct attribute combinations (what is rendered at most, once each) is
reported too.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/cards_speed.py FIT.nc [--out benchmarks/results/cards_speed.md]
        [--personas P.parquet] [--cases default user parquet] [--fit-command "populace fit ..."]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N, DRAWS = 17_476, 200
USER_TEMPLATE = """\
+++
[phrases.age]
"18-29" = "in their twenties"
"65+" = "over 65"
+++
You are {{ phrase.age }}, living in {{ attributes.state }}{% if unemployed == "Yes" %}, out of work{% endif %}.
Party: {{ phrase.pid7 }}; education: {{ educ }}; income {{ income }}.
"""


def _child(personas: str, out: str, template: str | None) -> None:
    from populace.library.cards import write_cards

    t0 = time.perf_counter()
    _, rows = write_cards(personas, out, template=template)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mib": peak, "bytes": os.path.getsize(out)}))


def _distinct(personas: str) -> int:
    import numpy as np
    import pyarrow.parquet as pq

    from populace.library.cards import batch_codes, study_of_personas

    study = study_of_personas(personas)
    strides = np.cumprod([1, *[a.n_levels for a in study.attributes][::-1]])[:-1][::-1]
    keys = [np.unique(batch_codes(b, study, personas) @ strides) for b in pq.ParquetFile(personas).iter_batches(batch_size=1 << 20)]
    return int(np.unique(np.concatenate(keys)).size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fit")
    parser.add_argument("--out", default="benchmarks/results/cards_speed.md")
    parser.add_argument("--personas", help="reuse this personas file (else generated from FIT)")
    parser.add_argument("--cases", nargs="+", default=["default", "user", "parquet"], choices=["default", "user", "parquet"])
    parser.add_argument("--fit-command", default=None, help="how FIT was made (written into --out, so it can be rebuilt)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        personas, out, template = args.child
        _child(personas, out, None if template == "-" else template)
        return
    command = "OPENBLAS_NUM_THREADS=1 python " + shlex.join(sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        personas = args.personas
        gen_seconds = None
        if personas is None:
            personas = str(Path(tmp) / "P.parquet")
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "populace.cli", "generate", args.fit, "--n", str(N), "--draws", str(DRAWS), "--out", personas], check=True)
            gen_seconds = time.perf_counter() - t0
        tpl = Path(tmp) / "user.j2"
        tpl.write_text(USER_TEMPLATE)
        results = {}
        for case in args.cases:
            out = str(Path(tmp) / (f"{case}.parquet" if case == "parquet" else f"{case}.jsonl"))
            run = subprocess.run(
                [sys.executable, __file__, args.fit, "--child", personas, out, str(tpl) if case == "user" else "-"],
                check=True, capture_output=True, text=True,
            )
            results[case] = json.loads(run.stdout.strip().splitlines()[-1])
            if case == "parquet":
                import pyarrow.parquet as pq

                results[case]["example"] = pq.ParquetFile(out).read_row_group(0, columns=["text"]).column(0)[0].as_py()
            else:
                with open(out, encoding="utf-8") as f:
                    results[case]["example"] = json.loads(f.readline())["text"]
            os.remove(out)
            print(case, results[case], flush=True)
        distinct = _distinct(personas)
    lines = [
        "# Persona cards: speed and memory",
        "",
        f"Command: `{command}`",
        *([f"The fit: `{args.fit_command}`."] if args.fit_command else []),
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}.",
        f"Personas: {N:,} x {DRAWS} draws = {N * DRAWS:,} rows from `populace generate`"
        + (f" ({gen_seconds:.0f} s, not part of the cards)" if gen_seconds else " (given file)")
        + f"; {distinct:,} distinct attribute combinations.",
        "",
        "| case | cards | seconds | cards / s | peak RSS (MiB) | output (GB) | bytes / card |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, r in results.items():
        lines.append(
            f"| {case} | {r['rows']:,} | {r['seconds']:.1f} | {r['rows'] / r['seconds']:,.0f} | {r['peak_mib']:.0f} "
            f"| {r['bytes'] / 1e9:.3f} | {r['bytes'] / r['rows']:,.0f} |"
        )
    lines += ["", "Example texts:", ""] + [f"- {case}: {r['example']!r}" for case, r in results.items()]
    lines += [
        "",
        "Target: >= 100,000 cards / s with bounded memory. Memory is one batch of 65,536 rows (their JSON",
        "lines, ~1.6 kB each with the per-attribute provenance) plus at most 200,000 cached renderings.",
        "A Parquet card file stores each batch's distinct texts once and the provenance once per file.",
        "",
    ]
    from populace.atomic import write_text

    write_text(args.out, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
