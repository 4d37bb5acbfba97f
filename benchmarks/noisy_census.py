"""Noisy census: state tables published with error, and the coverage of the true state cells.

From a benchmark folder (``--data``, laid out as ``../shared/benchmarks/anes``) and one of its
samples, the tables that cross the geography with an attribute (state x age, state x educ,
state x race) are replaced by noisy publications of the population's counts ``c``; the other
tables (the state totals among them, as the 2020 census holds them invariant) stay exact.

* ``acs``: ACS-like. The true standard error is ``0.8 sqrt(c) + 2``, so the relative error
  grows as counts shrink (45 % at 10 people, 10 % at 100, 2.7 % at 1,000). The published
  estimate is ``max(0, round(c + se e))``, ``e ~ N(0, 1)``, with a 90 % margin of error
  ``1.645 (0.8 sqrt(max(y, 1)) + 2)`` computed from the estimate ``y``, as a survey computes
  its own (the ``moe`` column).
* ``dp_sigma<s>``: disclosure-avoidance noise, ``y = c + round(s e)`` (a rounded Gaussian, the
  discrete Gaussian's close cousin), raw (negative counts kept), with ``noise_sd = s``.

Each setting is fitted with the default settings and ``--draws`` populations of the
population's size are generated. Scored over the true state-table cells with share
``p >= 0.001``, two ways:

* ``cov90_census_cells``: each posterior draw's population table (the raked records'
  weights: the model's draw of the true table), against the truth. Exact raking puts every
  draw at the published count (``cov90_exact_raking``: it covers only cells published
  without error).
* ``cov90_personas``: the generated personas' cell shares. Personas are drawn i.i.d. from
  the records, so each draw adds multinomial noise of about ``sqrt(N p)`` people per cell,
  which an exact census cell shows too; ``cov90_personas_exact_raking`` is what exact raking
  plus that noise covers: the share of cells with ``|y - c| <= 1.645 sqrt(N p (1 - p))``
  (its interval is the published count plus or minus the persona noise).

Point error: the MAE of the mean of the draws' tables, against raking to the noisy tables
(the published shares, negative counts set to zero). The last line printed is JSON: per
setting ``cov90_census_cells``, ``mae_noisy_raking``, ``mae_populace`` and the rest.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/noisy_census.py --data ../shared/benchmarks/anes \\
        [--sample srs_f0.01_s0] [--settings acs dp_sigma2 dp_sigma5 dp_sigma10] [--draws 200] [--out FILE] [--fits DIR]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from populace.atomic import atomic_path  # noqa: E402
from populace.evaluation.datasets import Benchmark  # noqa: E402
from populace.evaluation.metrics.cells import counts  # noqa: E402
from populace.evaluation.metrics.coverage import interval_coverage  # noqa: E402
from populace.inference import check_convergence, fit, load_fit, save_fit  # noqa: E402
from populace.inference.generate import iter_personas  # noqa: E402
from populace.inference.fit import model_from_fit  # noqa: E402
from populace.study.marginals import MOE_Z  # noqa: E402
from populace.study.spec import Marginal, Study  # noqa: E402


def perturb(m: Marginal, setting: str, rng: np.random.Generator) -> Marginal:
    """One noisy publication of an exact table (module docstring)."""
    c = np.asarray(m.counts, float)
    if setting == "acs":
        y = np.maximum(0.0, np.round(c + (0.8 * np.sqrt(c) + 2.0) * rng.standard_normal(c.shape)))
        moe = MOE_Z * (0.8 * np.sqrt(np.maximum(y, 1.0)) + 2.0)
        return Marginal(m.attributes, y, m.source, moe / MOE_Z)
    if setting.startswith("dp_sigma"):
        s = float(setting.removeprefix("dp_sigma"))
        return Marginal(m.attributes, c + np.round(s * rng.standard_normal(c.shape)), m.source, np.full(c.shape, s))
    raise SystemExit(f"unknown noise setting {setting!r}: use acs or dp_sigma<number>")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--sample", default="srs_f0.01_s0")
    ap.add_argument("--settings", nargs="+", default=["acs", "dp_sigma2", "dp_sigma5", "dp_sigma10"])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--fits", type=Path, default=None, help="folder to save the fits in, or to reuse them from")
    args = ap.parse_args(argv)

    bench = Benchmark.read(args.data)
    base = bench.study(args.sample)
    geo = base.geography.name
    pop = bench.population_codes()
    shape = tuple(a.n_levels for a in base.attributes)
    noisy_idx = [i for i, m in enumerate(base.marginals) if geo in m.attributes and len(m.attributes) > 1]
    head, rows, runs = {}, [], []
    for k, setting in enumerate(args.settings):
        rng = np.random.default_rng([args.seed, k])
        tables = list(base.marginals)
        for i in noisy_idx:
            tables[i] = perturb(tables[i], setting, rng)
        study: Study = replace(base, marginals=tuple(tables), name=f"{base.name}_{setting}")
        saved = args.fits / f"fit_{setting}.nc" if args.fits is not None else None
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if saved is not None and saved.exists():
                f = load_fit(saved)
            else:
                f = fit(study, seed=args.seed, warn=False)
                if saved is not None:
                    saved.parent.mkdir(parents=True, exist_ok=True)
                    save_fit(f, saved)
            t_fit = float(f.attrs["populace_fit_seconds"])
            # Each draw's population table (the records' weights) and its personas' table.
            idx = [tuple(study.index(a) for a in tables[i].attributes) for i in noisy_idx]
            pop_tab = [np.zeros((args.draws, int(np.prod([shape[c] for c in t])))) for t in idx]
            per_tab = [np.zeros_like(x) for x in pop_tab]

            def on_population(d: int, population) -> None:
                codes = population.codes[:, [f_model.structure.column(n) for n in study.names]]
                for x, t in zip(pop_tab, idx):
                    x[d] = np.bincount(np.ravel_multi_index(codes[:, list(t)].T.astype(np.int64), [shape[c] for c in t]),
                                       weights=population.weights, minlength=x.shape[1])

            f_model = model_from_fit(f)
            for chunk in iter_personas(f, len(pop), draws=args.draws, seed=args.seed + 1, on_population=on_population):
                for x, t in zip(per_tab, idx):
                    keys = np.ravel_multi_index([chunk.codes[study.names[c]].astype(np.int64) for c in t], [shape[c] for c in t])
                    x[chunk.draw] += np.bincount(keys, minlength=x.shape[1])
        covered = covered_p = cells = 0
        err_pop, err_rake, exact_cover, exact_cover_p = [], [], 0, 0.0
        for i, t, q_pop, q_per in zip(noisy_idx, idx, pop_tab, per_tab):
            m = tables[i]
            p = counts(pop, t, shape) / len(pop)
            keep = p >= 0.001
            q_pop = q_pop / q_pop.sum(axis=1, keepdims=True)
            q_per = q_per / q_per.sum(axis=1, keepdims=True)
            covered += int(interval_coverage(q_pop[:, keep], p[keep])[0].sum())
            covered_p += int(interval_coverage(q_per[:, keep], p[keep])[0].sum())
            cells += int(keep.sum())
            err_pop.append(np.abs(q_pop.mean(axis=0) - p)[keep])
            published = np.maximum(np.ravel(m.counts), 0.0)
            published = published / published.sum()
            err_rake.append(np.abs(published - p)[keep])
            exact_cover += int(np.isclose(published[keep], p[keep], atol=1e-12).sum())
            pk, yk = p[keep], published[keep]
            sd = np.sqrt(pk * (1 - pk) / len(pop))
            exact_cover_p += float((np.abs(pk - yk) <= 1.645 * sd).sum())
        res = {
            "cov90_census_cells": round(covered / cells, 4),
            "cov90_exact_raking": round(exact_cover / cells, 4),
            "cov90_personas": round(covered_p / cells, 4),
            "cov90_personas_exact_raking": round(exact_cover_p / cells, 4),
            "mae_noisy_raking": round(float(np.concatenate(err_rake).mean()), 6),
            "mae_populace": round(float(np.concatenate(err_pop).mean()), 6),
            "cells": cells,
        }
        head[setting] = res
        runs.append(f"- {setting}: fit {t_fit:.0f} s; {check_convergence(f, warn=False).to_text()}")
        rows.append(
            f"| {setting} | {cells} | {res['cov90_census_cells']:.3f} | {res['cov90_exact_raking']:.3f} | "
            f"{res['cov90_personas']:.3f} | {res['cov90_personas_exact_raking']:.3f} | "
            f"{res['mae_populace']:.5f} | {res['mae_noisy_raking']:.5f} |"
        )
        print(f"{setting}: {json.dumps(res)}", file=sys.stderr)
    cmd = "OPENBLAS_NUM_THREADS=1 python benchmarks/noisy_census.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    text = "\n".join([
        "# Noisy census: state tables published with error",
        "",
        f"Made by: `{cmd}` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {platform.machine()}).",
        f"See the script's docstring for the noise. Sample {args.sample}; noisy tables: "
        + ", ".join(" x ".join(base.marginals[i].attributes) for i in noisy_idx)
        + f"; {args.draws} draws of {len(pop):,} personas per setting; cells with true share >= 0.001.",
        "",
        *runs,
        "",
        "| setting | cells | populace cov90 (population tables) | exact raking | populace cov90 (personas) | exact raking + persona noise | populace MAE | noisy raking MAE |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
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
