"""Data fusion: two surveys that never ask the same attitude, in one posterior.

From a benchmark population (``--data``, laid out as ``../shared/benchmarks/anes``):

* survey A: a simple random sample of ``--fraction`` (0.5 %) of the people, equal weights
  ``N / n``; it asks the demographics and ``--a`` (pid7, polint);
* survey B: ``--fraction`` of the *other* people, biased: person ``i`` is drawn with
  probability proportional to ``exp(0.5 z_educ + 0.3 z_age)`` (``z`` the standardised level
  codes: the educated and the old answer more), weighted by ``1 / pi_i``, the design weights
  that correct the bias; it asks the demographics and ``--b`` (trustgov, govwaste,
  biginterests);
* one survey: the same people asking everything, weighted ``1 / (pi_A + pi_B,i)``, the
  information fragmentation loses.

The census tables are every ``census_*.csv`` of the folder (as the shared studies use them).
Both studies are fitted with the default settings and ``--draws`` populations of the
population's size are generated from each. The cross-survey tables (an ``--a`` attribute
with a ``--b`` one: no row observes both, no census table holds both) are scored against the
population: 90 % coverage of their cells (``p >= 0.001``), the mean interval width, and
SRMSE2 of the mean over draws, beside independence (the product of the true 1-D margins)
and the one-survey fit. The within-survey attitude tables are scored too, to show that the
cross-survey intervals are the wider ones. The last line printed is JSON with the headline
figures.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/fusion.py --data ../shared/benchmarks/anes \\
        [--draws 200] [--seed 0] [--out benchmarks/results/fusion.md] [--fits DIR]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from populace.atomic import atomic_path  # noqa: E402
from populace.evaluation.datasets import Benchmark  # noqa: E402
from populace.evaluation.metrics import persona_codes  # noqa: E402
from populace.evaluation.metrics.cells import counts  # noqa: E402
from populace.evaluation.metrics.coverage import draw_shares, interval_coverage  # noqa: E402
from populace.evaluation.metrics.distances import srmse  # noqa: E402
from populace.inference import check_convergence, fit, load_fit, sample_personas, save_fit  # noqa: E402
from populace.study.spec import Microdata, Source, Study  # noqa: E402

DEMOGRAPHICS = ("state", "age", "educ", "race", "income", "unemployed")


def surveys(bench: Benchmark, a: tuple[str, ...], b: tuple[str, ...], fraction: float, seed: int) -> tuple[Study, Study]:
    """The fused study (surveys A and B) and the one-survey study of the same people."""
    rng = np.random.default_rng(seed)
    pop = bench.population_codes()
    names = bench.names
    n_pop = len(pop)
    n = int(round(fraction * n_pop))
    rows_a = rng.choice(n_pop, n, replace=False)
    z = lambda k: (pop[:, names.index(k)] - pop[:, names.index(k)].mean()) / pop[:, names.index(k)].std()  # noqa: E731
    tilt = np.exp(0.5 * z("educ") + 0.3 * z("age"))
    pi_b = n * tilt / tilt.sum()  # first-order inclusion probabilities of B
    rest = np.setdiff1d(np.arange(n_pop), rows_a)
    rows_b = rng.choice(rest, n, replace=False, p=tilt[rest] / tilt[rest].sum())
    if not bench.samples:
        raise SystemExit(f"{bench.name}: the folder has no sample_*.csv, so no study to take the census tables from")
    marginals = bench.study(next(iter(bench.samples))).marginals
    cols_a = [names.index(k) for k in (*DEMOGRAPHICS, *a)]
    cols_b = [names.index(k) for k in (*DEMOGRAPHICS, *b)]
    code_a = np.full((n, len(names)), -1, np.int64)
    code_a[:, cols_a] = pop[np.ix_(rows_a, cols_a)]
    code_b = np.full((n, len(names)), -1, np.int64)
    code_b[:, cols_b] = pop[np.ix_(rows_b, cols_b)]
    sources = (
        Source("A", tuple(names[c] for c in sorted(cols_a)), n, weight_column="weight"),
        Source("B", tuple(names[c] for c in sorted(cols_b)), n, weight_column="weight"),
    )
    fused = Study(
        bench.attributes, marginals,
        Microdata(np.concatenate([code_a, code_b]), np.concatenate([np.full(n, n_pop / n), 1.0 / pi_b[rows_b]]), sources=sources),
        name=f"{bench.name}_fusion",
    )
    both = np.concatenate([rows_a, rows_b])
    one = Study(
        bench.attributes, marginals,
        Microdata(pop[both].copy(), 1.0 / (n / n_pop + pi_b[both]), source="one survey", weight_column="weight"),
        name=f"{bench.name}_one_survey",
    )
    return fused, one


def fitted_personas(study: Study, n_pop: int, *, draws: int, seed: int, saved: Path | None = None) -> tuple[object, dict]:
    """Fit (or load ``saved`` when it exists; save it there otherwise) and generate ``draws`` populations."""
    t0 = time.perf_counter()
    if saved is not None and saved.exists():
        f = load_fit(saved)
        t_fit = float(f.attrs["populace_fit_seconds"])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = fit(study, seed=seed, warn=False)
        t_fit = time.perf_counter() - t0
        if saved is not None:
            save_fit(f, saved)
    diag = check_convergence(f, warn=False)
    pers = persona_codes(sample_personas(f, n_pop, draws=draws, seed=seed + 1), study)
    return pers, {"fit_s": round(t_fit, 1), "convergence": diag.to_text()}


def table_scores(pers, pop: np.ndarray, study: Study, t: tuple[int, int]) -> dict:
    shape = tuple(x.n_levels for x in study.attributes)
    p = counts(pop, t, shape) / len(pop)
    q = draw_shares(pers, t, shape)
    keep = p >= 0.001
    covered, width = interval_coverage(q[:, keep], p[keep])
    pa, pb = (counts(pop, (i,), shape) / len(pop) for i in t)
    return {
        "covered": int(covered.sum()), "cells": int(keep.sum()), "width": float(width.mean()),
        "srmse2": srmse(q.mean(axis=0), p), "srmse2_independence": srmse(np.outer(pa, pb).ravel(), p),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="benchmark folder (population.parquet, meta.json, census_*.csv)")
    ap.add_argument("--a", nargs="+", default=["pid7", "polint"], help="attitudes only survey A asks")
    ap.add_argument("--b", nargs="+", default=["trustgov", "govwaste", "biginterests"], help="attitudes only survey B asks")
    ap.add_argument("--fraction", type=float, default=0.005)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--fits", type=Path, default=None, help="folder to save the two fits in, or to reuse them from")
    args = ap.parse_args(argv)

    bench = Benchmark.read(args.data)
    pop = bench.population_codes()
    fused, one = surveys(bench, tuple(args.a), tuple(args.b), args.fraction, args.seed)
    names = bench.names
    cross = [(names.index(x), names.index(y)) for x in args.a for y in args.b]
    cross = [tuple(sorted(t)) for t in cross]
    within = [tuple(sorted((names.index(x), names.index(y)))) for grp in (args.a, args.b) for x, y in itertools.combinations(grp, 2)]
    results, runs = {}, {}
    for label, study in (("fused", fused), ("one survey", one)):
        saved = None
        if args.fits is not None:
            args.fits.mkdir(parents=True, exist_ok=True)
            saved = args.fits / f"fit_{label.replace(' ', '_')}.nc"
        pers, runs[label] = fitted_personas(study, len(pop), draws=args.draws, seed=args.seed, saved=saved)
        results[label] = {t: table_scores(pers, pop, study, t) for t in cross + within}
        print(f"{label}: fit {runs[label]['fit_s']} s; {runs[label]['convergence']}", file=sys.stderr)

    def pooled(label: str, tables: list) -> tuple[float, float, float]:
        r = [results[label][t] for t in tables]
        cov = sum(x["covered"] for x in r) / sum(x["cells"] for x in r)
        width = float(np.average([x["width"] for x in r], weights=[x["cells"] for x in r]))
        return cov, width, float(np.mean([x["srmse2"] for x in r]))

    rows = []
    for t in cross + within:
        f, o = results["fused"][t], results["one survey"][t]
        rows.append(
            f"| {names[t[0]]} x {names[t[1]]} | {'cross' if t in cross else 'within'} | {f['covered']}/{f['cells']} = {f['covered'] / f['cells']:.2f} "
            f"| {f['width']:.4f} | {f['srmse2']:.3f} | {o['covered'] / o['cells']:.2f} | {o['width']:.4f} | {o['srmse2']:.3f} "
            f"| {f['srmse2_independence']:.3f} |"
        )
    cov_x, width_x, srmse_x = pooled("fused", cross)
    cov_w, width_w, _ = pooled("fused", within)
    cov_o, width_o, srmse_o = pooled("one survey", cross)
    indep = float(np.mean([results["fused"][t]["srmse2_independence"] for t in cross]))
    head = {
        "cov90_cross": round(cov_x, 4),
        "width90_cross": round(width_x, 5),
        "srmse2_cross": round(srmse_x, 4),
        "srmse2_cross_independence": round(indep, 4),
        "srmse2_cross_one_survey": round(srmse_o, 4),
        "cov90_cross_one_survey": round(cov_o, 4),
        "width90_cross_one_survey": round(width_o, 5),
        "cov90_within": round(cov_w, 4),
        "width90_within": round(width_w, 5),
        "tables_cross_under_half": sum(results["fused"][t]["covered"] < 0.5 * results["fused"][t]["cells"] for t in cross),
    }
    cmd = "OPENBLAS_NUM_THREADS=1 python benchmarks/fusion.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    text = "\n".join([
        "# Data fusion: two surveys, never the same attitude",
        "",
        f"Made by: `{cmd}` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {platform.machine()}).",
        "See the script's docstring for the design. Survey A (SRS, equal weights) asks "
        f"{', '.join(DEMOGRAPHICS)} and {', '.join(args.a)}; survey B (biased towards the educated and the old, "
        f"design weights) asks {', '.join(DEMOGRAPHICS)} and {', '.join(args.b)}; {fused.sources[0].rows} rows each. "
        f"One survey: the same {2 * fused.sources[0].rows} people asked everything. {args.draws} draws of "
        f"{len(pop):,} personas per fit; coverage over cells with p >= 0.001.",
        "",
        *(f"- {k}: fit {v['fit_s']} s; {v['convergence']}" for k, v in runs.items()),
        "",
        "| table | pair | fused cov90 | fused width | fused SRMSE2 | one-survey cov90 | one-survey width | one-survey SRMSE2 | independence SRMSE2 |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Cross-survey tables: coverage {cov_x:.3f}, mean width {width_x:.4f} (within-survey attitude tables of the fused fit: "
        f"coverage {cov_w:.3f}, width {width_w:.4f}); SRMSE2 {srmse_x:.3f} against {indep:.3f} for independence and "
        f"{srmse_o:.3f} for the one-survey fit (coverage {cov_o:.3f}, width {width_o:.4f}).",
        "",
        "```json",
        json.dumps(head),
        "```",
        "",
    ])
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            Path(tmp).write_text(text)
    print(text)
    print(json.dumps(head))


if __name__ == "__main__":
    main()
