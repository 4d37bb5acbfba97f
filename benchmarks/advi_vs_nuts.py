"""The fast approximation against NUTS on the same studies: fit time, SRMSE, coverage and
the interval width of the downstream shares.

For each sample of a written benchmark (``--from``): fit with NUTS (defaults) and with
``method="advi"`` (defaults), in the same process, then draw ``--draws`` persona sets of N
personas each and score them pooled over draws (:func:`populace.evaluation.metrics.score`).
Downstream interval width: for each downstream check of the dataset, the 90 % interval of
each group's outcome share across draws, averaged over groups with the groups' population
weights. ``--methods advi`` skips NUTS.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/advi_vs_nuts.py --from ../shared/benchmarks/gss \\
        [--samples srs_f0.01_s0 biased_f0.01_s0] [--draws 200] [--methods nuts advi]
        [--model-config JSON] [--out FILE]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from populace.atomic import write_text  # noqa: E402
from populace.evaluation.benchmark import DOWNSTREAM  # noqa: E402
from populace.evaluation.datasets import Benchmark  # noqa: E402
from populace.evaluation.metrics import Downstream, persona_codes, score  # noqa: E402
from populace.evaluation.metrics.cells import counts  # noqa: E402
from populace.inference import check_convergence, fit, sample_personas  # noqa: E402
from populace.study.spec import Study  # noqa: E402


def downstream_width(personas, pop: np.ndarray, study: Study, check: Downstream) -> float:
    """Population-weighted mean width of the groups' 90 % intervals of the outcome share."""
    pers = persona_codes(personas, study)
    j = study.index(check.outcome)
    hit_levels = [study.attribute(check.outcome).levels.index(x) for x in check.levels]
    t = tuple(study.index(b) for b in check.by)
    shape = tuple(a.n_levels for a in study.attributes)
    share = []
    for d in range(pers.n_draws):
        codes = pers.select(d).codes
        size = counts(codes, t, shape)
        yes = counts(codes[np.isin(codes[:, j], hit_levels)], t, shape)
        share.append(np.where(size > 0, yes / np.maximum(size, 1), np.nan))
    lo, hi = np.nanquantile(np.stack(share), [0.05, 0.95], axis=0)
    pop_groups = counts(pop, t, shape)
    ok = np.isfinite(hi - lo) & (pop_groups > 0)
    return float(((hi - lo)[ok] * pop_groups[ok]).sum() / pop_groups[ok].sum())


def run_one(
    bench: Benchmark,
    sample: str,
    method: str,
    *,
    draws: int,
    seed: int,
    model_config: dict | None = None,
    sampler_config: dict | None = None,
) -> dict:
    study = bench.study(sample)
    pop = bench.population_codes()
    t0 = time.perf_counter()
    fitted = fit(study, method=method, seed=seed, model_config=model_config, sampler_config=sampler_config, warn=False)
    fit_s = time.perf_counter() - t0
    personas = sample_personas(fitted, bench.N, draws=draws, seed=seed + 1)
    checks = DOWNSTREAM.get(bench.name, ())
    res = score(personas, pop, None, study, downstream=checks)
    row = {
        "sample": sample,
        "method": method,
        "fit_s": fit_s,
        **{k: res[k] for k in ("srmse1", "srmse2", "srmse3", "cov90", "width90")},
    }
    for c in checks:
        row[f"{c.key} MAE"] = res[c.key]
        row[f"{c.key} width90"] = downstream_width(personas, pop, study, c)
    if method == "nuts":
        d = check_convergence(fitted, warn=False)
        row["convergence"] = f"R-hat {d.max_rhat:.3f}, {d.divergences} divergences"
    else:
        a = fitted["advi"].to_dataset().attrs
        row["convergence"] = f"{a['steps']} steps, {'plateau' if a['converged'] else 'step limit'}"
    return row


def markdown(rows: list[dict], *, command: str, draws: int) -> str:
    keys = [k for k in rows[0] if k not in ("sample", "method")]
    lines = [
        "# ADVI (the fast approximation) against NUTS",
        "",
        f"Made by: `{command}` (2-core machine, shared with other jobs; times are wall seconds of "
        "`populace.inference.fit` in one process, so the later fits find warm compile caches).",
        "",
        f"Personas: N per draw, {draws} draws, scored pooled over draws. ADVI is mean-field, "
        "an approximation that ignores posterior correlation, so its intervals can be too narrow: "
        "compare cov90 and the widths with NUTS's.",
        "",
        "| sample | method | " + " | ".join(k.replace("|", "\\|") for k in keys) + " |",
        "|---|---|" + "---|" * len(keys),
    ]
    for r in rows:
        cells = [f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys]
        lines.append(f"| {r['sample']} | {r['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="source", required=True, help="a written benchmark folder")
    ap.add_argument("--samples", nargs="+", default=["srs_f0.01_s0", "biased_f0.01_s0"])
    ap.add_argument("--methods", nargs="+", default=["nuts", "advi"], choices=["nuts", "advi"])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model-config", default="{}", help="JSON model_config overrides for both methods")
    ap.add_argument("--sampler-config", default="{}", help="JSON sampler_config overrides for both methods")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/advi_vs_nuts.md"))
    args = ap.parse_args(argv)
    model_config, sampler_config = json.loads(args.model_config), json.loads(args.sampler_config)
    bench = Benchmark.read(args.source)
    rows = []
    for sample in args.samples:
        for method in args.methods:
            print(f"[{time.strftime('%H:%M:%S')}] {sample} {method} ...", file=sys.stderr, flush=True)
            rows.append(run_one(bench, sample, method, draws=args.draws, seed=args.seed, model_config=model_config,
                                sampler_config=sampler_config))  # fmt: skip
            print(rows[-1], file=sys.stderr, flush=True)
    command = "OPENBLAS_NUM_THREADS=1 python benchmarks/advi_vs_nuts.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    text = markdown(rows, command=command, draws=args.draws)
    write_text(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
