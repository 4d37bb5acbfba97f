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
``p >= 0.001``: the 90 % coverage of the draws' cell shares, and the MAE of their mean,
against raking to the noisy tables (the published shares, negative counts set to zero)
and against exact raking's coverage (each draw at the published count: it covers only cells
published without error). The last line printed is JSON: per setting ``cov90_census_cells``,
``mae_noisy_raking``, ``mae_populace``.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/noisy_census.py --data ../shared/benchmarks/anes \\
        [--sample srs_f0.01_s0] [--settings acs dp_sigma2 dp_sigma5 dp_sigma10] [--draws 200] [--out FILE]
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
from populace.evaluation.metrics import persona_codes  # noqa: E402
from populace.evaluation.metrics.cells import counts  # noqa: E402
from populace.evaluation.metrics.coverage import draw_shares, interval_coverage  # noqa: E402
from populace.inference import check_convergence, fit, sample_personas  # noqa: E402
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
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = fit(study, seed=args.seed, warn=False)
            t_fit = time.perf_counter() - t0
            pers = persona_codes(sample_personas(f, len(pop), draws=args.draws, seed=args.seed + 1), study)
        covered, cells, err_pop, err_rake, exact_cover = 0, 0, [], [], 0
        for i in noisy_idx:
            m = tables[i]
            t = tuple(study.index(a) for a in m.attributes)
            p = counts(pop, t, shape) / len(pop)
            keep = p >= 0.001
            q = draw_shares(pers, t, shape)
            cov, _ = interval_coverage(q[:, keep], p[keep])
            covered += int(cov.sum())
            cells += int(keep.sum())
            err_pop.append(np.abs(q.mean(axis=0) - p)[keep])
            published = np.maximum(np.ravel(m.counts), 0.0)
            published = published / published.sum()
            err_rake.append(np.abs(published - p)[keep])
            exact_cover += int(np.isclose(published[keep], p[keep], atol=1e-12).sum())
        res = {
            "cov90_census_cells": round(covered / cells, 4),
            "cov90_exact_raking": round(exact_cover / cells, 4),
            "mae_noisy_raking": round(float(np.concatenate(err_rake).mean()), 6),
            "mae_populace": round(float(np.concatenate(err_pop).mean()), 6),
            "cells": cells,
        }
        head[setting] = res
        runs.append(f"- {setting}: fit {t_fit:.0f} s; {check_convergence(f, warn=False).to_text()}")
        rows.append(
            f"| {setting} | {cells} | {res['cov90_census_cells']:.3f} | {res['cov90_exact_raking']:.3f} | "
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
        "| setting | cells | populace cov90 | exact raking cov90 | populace MAE | noisy raking MAE |",
        "|---|---|---|---|---|---|",
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
