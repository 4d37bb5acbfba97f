"""One JAX gradient while two chains sample, under XLA's runtime settings.

``nutpie_chains._start_jax`` runs each chain's XLA with one thread (``PJRT_NPROC=1``)
and, where the CPU has AVX-512, emits 512-bit vector code. This script measures XLA's
defaults, then adds those settings one at a time, and for each runs two processes at once
(as a fit's two chains), each one nutpie chain of ``--draws`` draws after ``--tune``
tuning steps on the study (seeds 1 and 2), and reports
the mean time of one log density + gradient call inside the chain (the chains count and
time their calls, ``sample_stats`` attrs) and the chain's sampling time. The compile
cache is warm after the first run of each setting, so each setting runs twice and the
second is reported.

Usage::

    python benchmarks/jax_runtime.py --study ../shared/benchmarks/anes/study_srs_f0.01_s1.toml \\
        [--out benchmarks/results/jax_runtime.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time

#: (label, PJRT_NPROC or None for XLA's default, 512-bit vectors)
SETTINGS = (
    ("XLA's defaults (a thread per core, 256-bit vectors)", None, False),
    ("one thread", "1", False),
    ("one thread, 512-bit vectors (the default here)", "1", True),
)


def _chain(study: str, draws: int, tune: int, seed: int) -> None:
    """Sample one chain in this process and print a JSON line."""
    import populace
    from populace.inference import nutpie_chains
    from populace.models import CopulaModel

    nutpie_chains._start_jax()
    model = CopulaModel(populace.load_study(study)).build_model()
    tree = nutpie_chains.sample_nutpie(
        model, draws=draws, tune=tune, chains=1, cores=1, target_accept=0.8, seed=seed, backend="jax"
    )
    attrs = tree["sample_stats"].attrs
    calls, seconds = json.loads(attrs["gradient_calls"])[0], json.loads(attrs["gradient_time"])[0]
    print(json.dumps({"ms_per_call": seconds / calls * 1e3, "calls": calls, "sampling_s": attrs["sampling_time"]}))


def _pair(args: argparse.Namespace, nproc: str | None, wide: bool) -> list[dict[str, float]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PJRT_NPROC", "XLA_FLAGS")}
    env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false" + (" --xla_cpu_prefer_vector_width=512" if wide else "")
    env["PJRT_NPROC"] = nproc or str(os.cpu_count())  # XLA's default: a thread per core
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--chain", "--study", args.study, "--draws", str(args.draws),
             "--tune", str(args.tune), "--seed", str(seed)],
            env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        for seed in (1, 2)
    ]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("a chain process failed")
    return [json.loads(out.strip().splitlines()[-1]) for out in outs]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", required=True)
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)  # a chain's
    ap.add_argument("--chain", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="benchmarks/results/jax_runtime.md")
    args = ap.parse_args(argv)
    if args.chain:
        _chain(args.study, args.draws, args.tune, args.seed)
        return 0
    rows = []
    for label, nproc, wide in SETTINGS:
        _pair(args, nproc, wide)  # fills the compile cache for this setting
        res = _pair(args, nproc, wide)
        rows.append((label, [r["ms_per_call"] for r in res], [r["sampling_s"] for r in res], res[0]["calls"]))
        print(rows[-1], flush=True)
    command = "python benchmarks/jax_runtime.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    lines = [
        "# One JAX gradient while two chains sample, under XLA's runtime settings",
        "",
        f"Made by: `{command}` on {platform.node()} ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}. "
        f"Two processes at once, each one nutpie chain ({args.tune} tuning steps + {args.draws} draws, seeds 1 and 2) "
        "of the default model; settings cumulative from XLA's defaults; warm compile cache.",
        "",
        "| setting | ms per call (chain 1, chain 2) | sampling s (chain 1, chain 2) | calls (chain 1) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {lab} | {ms[0]:.3f}, {ms[1]:.3f} | {s[0]:.1f}, {s[1]:.1f} | {n} |" for lab, ms, s, n in rows]
    from populace.atomic import write_text

    write_text(args.out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
