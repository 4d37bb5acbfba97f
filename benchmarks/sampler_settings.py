"""NUTS settings against each other: leapfrog steps, sampling time, R-hat, ESS, divergences.

For each setting (``target_accept`` / tuning steps) fits the default model to each study
with seeds 1-3, or ``--seeds`` (2 x 1,000 draws, nutpie, ``--backend``, ``--adaptation`` of the mass
matrix; one process, warm compile cache)
and tabulates every fit, so the spread over seeds shows beside the means.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/sampler_settings.py --shared ../shared/benchmarks \\
        [--settings 0.9/500 0.8/300] [--backend numba] [--adaptation diag] [--seeds 1 2 3] \\
        [--model-config JSON] \\
        [--out benchmarks/results/sampler_settings.md]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import populace  # noqa: E402
from populace.atomic import write_text  # noqa: E402
from populace.data import example_study_path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", required=True, help="the shared benchmarks folder (gss/, anes/)")
    ap.add_argument("--settings", nargs="+", default=["0.9/500", "0.8/300"], help="target_accept/tune pairs")
    ap.add_argument("--backend", default="numba", choices=("jax", "numba"))
    ap.add_argument("--adaptation", default="diag", choices=("diag", "low_rank"), help="nutpie's mass matrix adaptation")
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--model-config", default="{}", help="JSON model_config overrides (the default model without)")
    ap.add_argument("--out", default="benchmarks/results/sampler_settings.md")
    args = ap.parse_args(argv)
    shared = Path(args.shared)
    model_config = json.loads(args.model_config)
    studies = {
        "gss srs 1 % (bundled)": example_study_path(),
        "gss biased 1 %": shared / "gss" / "study_biased_f0.01_s0.toml",
        "anes srs 1 %": shared / "anes" / "study_srs_f0.01_s0.toml",
        "anes biased 1 %": shared / "anes" / "study_biased_f0.01_s0.toml",
    }
    rows = []
    for name, path in studies.items():
        study = populace.load_study(path)
        for setting in args.settings:
            ta, tune = setting.split("/")
            for seed in args.seeds:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    f = populace.fit(study, seed=seed, warn=False, model_config=model_config,
                                     sampler_config={"target_accept": float(ta), "tune": int(tune), "backend": args.backend,
                                                     "nutpie_adaptation": args.adaptation})  # fmt: skip
                ss = f["sample_stats"]
                d = populace.inference.check_convergence(f, warn=False)
                rows.append((name, setting, seed, float(ss.n_steps.mean()), float(ss.attrs["sampling_time"]),
                             d.max_rhat, d.min_ess_bulk, int(ss.diverging.sum()), f["posterior"].sizes["chain"],
                             float(f.attrs["populace_fit_seconds"]), d.min_ess_tail, d.worst_ess or d.worst_rhat))  # fmt: skip
                print(rows[-1], flush=True)
    command = "python benchmarks/sampler_settings.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    model = f"Model config {args.model_config}, otherwise the default model" if model_config else "Default model"
    lines = [
        "# NUTS settings: target_accept / tuning steps",
        "",
        f"Made by: `OPENBLAS_NUM_THREADS=1 {command}` on a 2-core machine, {time.strftime('%Y-%m-%d')}. {model} "
        f"(K = 3, 27 nodes), nutpie with the {args.backend} backend and {args.adaptation} mass matrix adaptation, "
        "2 chains x 1,000 draws, and more rounds of 2 chains where the fit extends itself (`chains`), warm compile cache; "
        "sampling s is the slower chain's, summed over rounds; fit s is the whole fit. R-hat and ESS are the worst over "
        "the reported quantities (rotation-invariant loadings, concentrations, learned shares, area effects).",
        "",
        "| study | target_accept / tune | seed | chains | leapfrog steps per draw | sampling s | fit s | R-hat max | ESS bulk / tail min | worst | divergences |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {s} | {seed} | {ch} | {st:.1f} | {t:.1f} | {fs:.1f} | {r:.4f} | {e:.0f} / {et:.0f} | {w} | {dv} |"
        for n, s, seed, st, t, r, e, dv, ch, fs, et, w in rows
    ]
    write_text(args.out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
