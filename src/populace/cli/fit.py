"""``populace fit``: fit the model to a study and save it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from populace.cli._common import PROG, check_writable, import_inference, nonnegative_int, positive_int, seed_int, size
from populace.progress import Progress


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "fit",
        parents=[common],
        help="fit the copula model to a study and save the fit",
        description="Load STUDY.toml, fit the model, save it to --out and report convergence.",
    )
    p.add_argument("study", metavar="STUDY.toml", help="study file (attributes, census tables, microdata)")
    p.add_argument("--out", "-o", required=True, metavar="FIT.nc", help="where to save the fit (netCDF)")
    p.add_argument("--factors", type=positive_int, metavar="K", help="latent factors (default 3)")
    p.add_argument("--draws", type=positive_int, metavar="N", help="posterior draws per chain (default 1000)")
    p.add_argument("--tune", type=nonnegative_int, metavar="N", help="tuning steps per chain (default 300)")
    p.add_argument("--chains", type=positive_int, metavar="N", help="chains (default 2)")
    p.add_argument(
        "--sampler",
        choices=("nutpie", "pymc"),
        help="NUTS implementation (default nutpie, the faster here)",
    )
    p.add_argument(
        "--backend",
        choices=("jax", "numba"),
        help="what compiles the log density for nutpie and ADVI: jax (default; seconds to compile) or numba "
        "(about a minute to compile the first time, cached; faster sampling on large studies)",
    )
    p.add_argument(
        "--method",
        choices=("nuts", "advi"),
        default="nuts",
        help="nuts (default, full posterior) or advi (fast approximation, stopped when its loss "
        "plateaus; intervals too narrow)",
    )
    p.add_argument("--seed", type=seed_int, default=0, metavar="S", help="random seed (default 0)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    say = Progress()
    out = Path(args.out)
    check_writable(out)
    say(f"loading study {args.study} ...")
    from populace.study import load_study

    study = load_study(args.study)
    inference = import_inference(verbose=args.verbose)
    if args.method == "nuts":
        say("compiling and sampling ...")
    else:
        say("compiling and fitting ADVI ...")
    fitted = inference.fit(
        study,
        method=args.method,
        sampler=args.sampler,
        factors=args.factors,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        sampler_config={"backend": args.backend} if args.backend else None,
        progressbar=sys.stderr.isatty(),
        # Diagnostics are printed below in words; a warning would repeat them.
        warn=False,
    )
    say(f"saving {out} ...")
    inference.save_fit(fitted, out)
    say("done")
    if args.method == "nuts":
        diag = inference.check_convergence(fitted, warn=False)
        print(f"convergence: {'ok' if diag.ok else 'PROBLEMS'}: {diag.to_text()}")
        rounds = fitted["sample_stats"].attrs.get("extended_rounds")
        if rounds:
            chains = fitted["posterior"].sizes["chain"]
            print(
                f"extended: {int(rounds)} more round(s) of chains ({chains} chains in all) were sampled to reach "
                "R-hat <= 1.01 and the ESS target (sampler_config max_chains bounds this)"
            )
    else:
        advi = fitted["advi"].to_dataset()
        state = "loss plateaued" if advi.attrs["converged"] else "step limit reached before the loss plateaued"
        print(
            f"ADVI: {advi.attrs['steps']:,} steps, {state}; an approximation: its intervals are too "
            "narrow (R-hat does not apply)"
        )
    from populace.study.provenance import provenance

    print("information (census tables and surveys behind each attribute):")
    for name, origin in provenance(study).items():
        print(f"  {name}: {origin.note}")
    print(f"fit saved to {out} ({size(out)})")
    print(f"next: {PROG} generate {out} --n 1000 --draws 100 --out personas.parquet")
