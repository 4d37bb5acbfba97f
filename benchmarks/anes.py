"""Score the populace copula model on the shared anes benchmark (49 areas x 10 attributes).

For each sample: fit with the default settings (or ``--fit-options``), draw ``--draws``
posterior persona sets of N = 17,476 personas each, and score them pooled over draws as
in the shared README (:func:`populace.evaluation.metrics.score`). Also reported:

* every 2-way table against the independence product, with the Monte-Carlo error of
  the table's SRMSE2 (sd over posterior draws / sqrt(draws));
* the downstream errors with the per-state Republican-share errors, beside the national
  share and the demographic oracle (true ``P(Rep | age, educ, race)`` post-stratified on
  each state's true age x educ x race composition).

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/anes.py --from ../shared/benchmarks/anes \\
        [--samples srs_f0.01_s0 biased_f0.01_s0] [--draws 200] [--out benchmarks/results/anes] [--fits DIR]
        [--without-census pid7 polint trustgov govwaste biginterests]
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
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from populace.atomic import atomic_path  # noqa: E402
from populace.evaluation.benchmark import DOWNSTREAM  # noqa: E402
from populace.evaluation.report import downstream_label  # noqa: E402
from populace.evaluation.datasets import Benchmark  # noqa: E402
from populace.inference import check_convergence, fit, load_fit, save_fit, sample_personas  # noqa: E402
from populace.evaluation.metrics import Personas, persona_codes, score  # noqa: E402
from populace.study.spec import Study  # noqa: E402

REP = ("Lean Rep", "Weak Rep", "Strong Rep")


def state_errors(pers: Personas, pop: np.ndarray, study: Study) -> pd.DataFrame:
    """Per-state Republican share: truth, model, national share and demographic oracle."""
    names = list(study.names)
    s, a, e, r, pid = (names.index(n) for n in ("state", "age", "educ", "race", "pid7"))
    rep_codes = [study.attribute("pid7").levels.index(x) for x in REP]
    n_states = study.attribute("state").n_levels
    is_rep = np.isin(pop[:, pid], rep_codes)
    demo = np.ravel_multi_index(pop[:, [a, e, r]].T, tuple(study.attribute(n).n_levels for n in ("age", "educ", "race")))
    p_rep_demo = np.bincount(demo, weights=is_rep, minlength=demo.max() + 1) / np.maximum(np.bincount(demo, minlength=demo.max() + 1), 1)
    w = pers.weight
    syn_rep = np.isin(pers.codes[:, pid], rep_codes)
    rows = []
    for g in range(n_states):
        in_g = pop[:, s] == g
        in_syn = pers.codes[:, s] == g
        rows.append(
            {
                "state": study.attribute("state").levels[g],
                "N": int(in_g.sum()),
                "truth": float(is_rep[in_g].mean()),
                "model": float((w[in_syn] * syn_rep[in_syn]).sum() / w[in_syn].sum()) if in_syn.any() else np.nan,
                "national": float(is_rep.mean()),
                "oracle": float(p_rep_demo[demo[in_g]].mean()),
            }
        )
    df = pd.DataFrame(rows)
    for col in ("model", "national", "oracle"):
        df[f"err_{col}"] = (df[col] - df["truth"]).abs()
    return df


def run(
    bench: Benchmark, sample: str, *, draws: int, seed: int, fit_options: dict, save: Path | None, fits: Path | None = None,
    without: tuple[str, ...] = (),
) -> dict:
    study = bench.study(sample)
    if without:  # withhold census tables, as no census publishes party or attitudes
        study = replace(study, marginals=tuple(m for m in study.marginals if not set(m.attributes) & set(without)))
    pop = bench.population_codes()
    saved = fits / f"fit_{sample}.nc" if fits is not None else None
    if saved is not None and saved.exists():  # a fit made earlier (e.g. by --save-fits): score it
        f = load_fit(saved)
        t_fit = float(f.attrs["populace_fit_seconds"])
    else:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = fit(study, seed=seed, warn=False, **fit_options)
        t_fit = time.perf_counter() - t0
    if save is not None:
        save_fit(f, save / f"fit_{sample}.nc")
    nuts = json.loads(f.attrs["populace_sampler_config"])["method"] == "nuts"  # ADVI: no sampler statistics
    diag = check_convergence(f, warn=False) if nuts else None
    nan = float("nan")
    t1 = time.perf_counter()
    ds = sample_personas(f, bench.N, draws=draws, seed=seed + 1)
    t_gen = time.perf_counter() - t1
    pers = persona_codes(ds, study)
    res = score(pers, pop, None, study, downstream=DOWNSTREAM["anes"])
    # Monte-Carlo error of each 2-way table's SRMSE2: its spread over posterior draws.
    per = [score(pers.select(d), pop, None, study)["srmse2_by_table"] for d in range(min(draws, 40))]
    tables = pd.DataFrame(
        {
            "table": list(res["srmse2_by_table"]),
            "srmse2": list(res["srmse2_by_table"].values()),
            "independence": [res["srmse2_independence"][k] for k in res["srmse2_by_table"]],
            "mc_se": [np.std([p[k] for p in per]) / np.sqrt(draws) for k in res["srmse2_by_table"]],
        }
    )
    census = {"×".join(n for n in study.names if n in m.attributes) for m in study.marginals if len(m.attributes) == 2}
    tables["census"] = tables["table"].isin(census)
    tables["covered"] = [res["cov90_by_table"][k][0] for k in tables["table"]]
    tables["cells"] = [res["cov90_by_table"][k][1] for k in tables["table"]]
    tables["worse_by"] = tables["srmse2"] - tables["independence"]
    tables["worse_beyond_mc"] = tables["worse_by"] > 2 * tables["mc_se"]
    states = state_errors(pers, pop, study)
    weights = states["N"] / states["N"].sum()
    return {
        "sample": sample,
        "n": len(bench.samples[sample]),
        "res": res,
        "tables": tables,
        "states": states,
        "state_mae": {c: float((weights * states[f"err_{c}"]).sum()) for c in ("model", "national", "oracle")},
        "fit_s": t_fit,
        "generate_s": t_gen,
        "rhat_max": diag.max_rhat if nuts else nan,
        "ess_min": min(diag.min_ess_bulk, diag.min_ess_tail) if nuts else nan,
        "divergences": diag.divergences if nuts else nan,
        # pymc names it tree_depth, nutpie depth
        "tree_depth": float(f["sample_stats"].get("tree_depth", f["sample_stats"].get("depth")).mean()) if nuts else nan,
        "n_steps": float(f["sample_stats"]["n_steps"].mean()) if nuts else nan,
        "concentration": float(np.exp(f["posterior"]["log_concentration"]).median()),
        "census_concentration": (
            float(np.exp(f["posterior"]["log_census_concentration"]).median())
            if "log_census_concentration" in f["posterior"]
            else nan
        ),
    }


def markdown(runs: list[dict], *, command: str, draws: int) -> str:
    keys = [c.key for c in DOWNSTREAM["anes"]]
    lines = [
        "# populace on the shared anes benchmark",
        "",
        f"Made by: `{command}` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores).",
        f"{draws} posterior draws x 17,476 personas, metrics pooled over draws (shared README).",
        "",
        "| sample | n | SRMSE1 | SRMSE2 | SRMSE3 | cov90 | width90 | Rep by state | trustgov by age×educ×race | Rep by age×educ×race | trustgov by pid7×polint | fit s | generate s | R-hat max | ESS min | div | tree depth | alpha | census alpha |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        res = r["res"]
        down = " | ".join(f"{res[k]:.4f}" for k in keys)
        lines.append(
            f"| {r['sample']} | {r['n']} | {res['srmse1']:.4f} | {res['srmse2']:.3f} | {res['srmse3']:.3f} | "
            f"{res['cov90']:.3f} | {res['width90']:.4f} | {down} | {r['fit_s']:.0f} | {r['generate_s']:.0f} | "
            f"{r['rhat_max']:.3f} | {r['ess_min']:.0f} | {r['divergences']} | {r['tree_depth']:.1f} | {r['concentration']:.0f} | {r['census_concentration']:.0f} |"
        )
    lines += ["", "Republican share by state, population-weighted MAE:", ""]
    lines += ["| sample | model | national share | demographic oracle |", "|---|---|---|---|"]
    for r in runs:
        m = r["state_mae"]
        lines.append(f"| {r['sample']} | {m['model']:.4f} | {m['national']:.4f} | {m['oracle']:.4f} |")
    lines += ["", "## Coverage where the census does not pin the answer", ""]
    lines += [
        "90 % intervals over the draws against the population's own values "
        "(`populace.evaluation.metrics.intervals`): cells (p >= 0.001) of the 2-way tables no census table holds; "
        "each attribute's share inside each state of 30+ people, for the attributes with no state table; outcome "
        "shares inside demographic groups of 30+ people. Census cells are raked to in every draw: their line is a "
        "sanity check, not a result.",
        "",
        "| sample | cov90_free2 (cells) | free tables < 0.5 | worst free tables | area_cov90 (states) | group_cov90 | census cells (sanity) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        res = r["res"]
        cells = sum(n for _, n in res["free2_by_table"].values())
        worst = ", ".join(f"{t} {v:.2f}" for t, v in res["free2_worst"].items())
        groups = "; ".join(f"{downstream_label(k)} {v:.3f} ({n} groups)" for k, (v, n) in res["group_cov90"].items())
        lines.append(
            f"| {r['sample']} | {res['cov90_free2']:.3f} ({cells}) | {res['free2_tables_under_half']} | {worst} | "
            f"{res['area_cov90']:.3f} ({res['areas_scored']}) | {groups} | {res['cov90_census2']:.3f} |"
        )
    for r in runs:
        res = r["res"]
        lines += ["", f"### {r['sample']}: shares inside states, per attribute", ""]
        lines += ["| attribute | area_cov90 | MAE of the pooled draws | MAE of the national share |", "|---|---|---|---|"]
        lines += [
            f"| {a} | {v:.3f} | {res['area_mae_by_attr'][a]:.4f} | {res['national_area_mae_by_attr'][a]:.4f} |"
            for a, v in res["area_cov90_by_attr"].items()
        ]
        by_area = sorted(res["area_cov90_by_area"].items(), key=lambda kv: kv[1])
        lines += ["", "Per state (share of its (attribute, level) pairs covered), lowest first: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in by_area)]
        lines += ["", f"### {r['sample']}: free 2-way tables", ""]
        lines += ["| table | cells | covered |", "|---|---|---|"]
        lines += [
            f"| {t} | {n} | {c / n:.2f} |"
            for t, (c, n) in sorted(res["free2_by_table"].items(), key=lambda kv: kv[1][0] / max(kv[1][1], 1))
        ]
    lines += ["", "cov90 of the census cross-tabs (raked to exactly, so covered by construction) and of the other 2-way tables:", ""]
    lines += ["| sample | census tables | other tables | other tables, worst |", "|---|---|---|---|"]
    for r in runs:
        t = r["tables"]
        part = {c: t[t["census"] == c] for c in (True, False)}
        cov = {c: part[c]["covered"].sum() / max(part[c]["cells"].sum(), 1) for c in part}
        other = part[False].assign(cov=part[False]["covered"] / part[False]["cells"].clip(lower=1)).sort_values("cov")
        worst = ", ".join(f"{x.table} {x.cov:.2f}" for x in other.head(3).itertuples())
        lines.append(
            f"| {r['sample']} | {cov[True]:.3f} ({part[True]['cells'].sum()} cells) | "
            f"{cov[False]:.3f} ({part[False]['cells'].sum()} cells) | {worst} |"
        )
    for r in runs:
        st = r["states"].sort_values("N")
        lines += ["", f"## {r['sample']}: per-state Republican share (smallest states first)", ""]
        lines += ["| state | N | truth | model | error | national error | oracle error |", "|---|---|---|---|---|---|---|"]
        lines += [
            f"| {x.state} | {x.N} | {x.truth:.3f} | {x.model:.3f} | {x.err_model:.3f} | {x.err_national:.3f} | {x.err_oracle:.3f} |"
            for x in st.itertuples()
        ]
        t = r["tables"].sort_values("worse_by", ascending=False)
        bad = t[t["worse_beyond_mc"]]
        lines += ["", f"## {r['sample']}: 2-way tables against the independence product", ""]
        lines.append(
            f"{len(bad)} of {len(t)} tables are worse than independence by more than 2 Monte-Carlo se"
            + (": " + ", ".join(f"{x.table} (+{x.worse_by:.3f})" for x in bad.itertuples()) if len(bad) else ".")
        )
        lines += ["", "| table | SRMSE2 | independence | difference | MC se | cov90 |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {x.table} | {x.srmse2:.3f} | {x.independence:.3f} | {x.worse_by:+.3f} | {x.mc_se:.4f} | "
            f"{x.covered / max(x.cells, 1):.2f} ({x.cells}) |"
            for x in t.itertuples()
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", required=True, help="the shared anes benchmark folder")
    parser.add_argument("--samples", nargs="+", default=["srs_f0.01_s0", "biased_f0.01_s0"])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fit-options", default="{}", help="JSON keyword options of populace.inference.fit")
    parser.add_argument("--out", default="benchmarks/results/anes")
    parser.add_argument("--save-fits", action="store_true", help="also save each fit as fit_SAMPLE.nc in --out")
    parser.add_argument("--fits", type=Path, help="score DIR/fit_SAMPLE.nc where it exists instead of fitting again")
    parser.add_argument("--without-census", nargs="+", default=[], metavar="ATTR",
                        help="drop every census table that holds one of these attributes")
    args = parser.parse_args(argv)
    bench = Benchmark.read(args.source)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for sample in args.samples:
        t0 = time.perf_counter()
        runs.append(
            run(bench, sample, draws=args.draws, seed=args.seed, fit_options=json.loads(args.fit_options),
                save=out if args.save_fits else None, fits=args.fits,
                without=tuple(args.without_census))
        )
        print(f"{sample}: done in {time.perf_counter() - t0:.0f} s, SRMSE2 {runs[-1]['res']['srmse2']:.3f}", flush=True)
    command = "OPENBLAS_NUM_THREADS=1 python benchmarks/anes.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    with atomic_path(out / "anes.md") as tmp:
        tmp.write_text(markdown(runs, command=command, draws=args.draws))
    frames = [r["states"].assign(sample=r["sample"]) for r in runs]
    with atomic_path(out / "anes_states.csv") as tmp:
        pd.concat(frames).to_csv(tmp, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
