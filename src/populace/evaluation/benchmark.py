"""Score persona generators on a benchmark: the engine of ``populace benchmark``.

For every chosen microdata sample of a :class:`populace.evaluation.datasets.Benchmark`, every
method and every seed, the method sees the study (census tables + that sample), draws
persona sets, and :func:`populace.evaluation.metrics.score` compares them with the true population.
One row of the result per (sample, seed, method).

Methods
-------
``populace``
    The copula model: :func:`populace.inference.fit` with its defaults (or the options
    given), then :func:`populace.inference.sample_personas`.
``independence``, ``ipf``, ``bootstrap``, ``bb``, ``bb_ipf``, ``lca_ipf``
    The peers of :data:`populace.baselines.PEERS`.
``oracle``
    Not a generator: ``n`` draws with replacement from the population itself, the floor
    every metric can reach with ``n`` personas (its sampling-zero recall is NaN: it
    never saw a sample).

Draws
-----
Methods with posterior uncertainty (:data:`DRAW_METHODS`) make ``draws`` persona sets;
the others make one (more draws of a point generator only add Monte-Carlo noise). The
main metrics **pool** the draws (see :mod:`populace.evaluation.metrics`); ``srmse{k}_per_draw``
and ``tvd_joint_per_draw`` average them over draws instead, i.e. the error of one
synthetic population. ``cov90`` is the 90 % interval coverage of 2-way cells across
draws; with ``D`` draws and numpy's linear quantiles even a perfectly calibrated
generator covers only about ``(D - 1) * 0.9 / (D + 1)`` (:func:`calibrated_coverage`).

The generators live in :mod:`populace.evaluation.methods`, the report files in
:mod:`populace.evaluation.report`; both are re-exported here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from populace.evaluation.datasets import Benchmark
from populace.evaluation.methods import (
    DEFAULT_METHODS,
    DRAW_METHODS,
    METHODS,
    OracleMethod,
    PopulaceMethod,
)
from populace.evaluation.metrics import Downstream, score
from populace.evaluation.metrics.coverage import calibrated_coverage
from populace.evaluation.report import markdown, write_results
from populace.study.spec import Study

__all__ = [
    "METHODS",
    "DEFAULT_METHODS",
    "DRAW_METHODS",
    "DOWNSTREAM",
    "QUICK",
    "RunOptions",
    "PopulaceMethod",
    "OracleMethod",
    "calibrated_coverage",
    "quick_sample",
    "run_benchmark",
    "write_results",
    "markdown",
]


#: Downstream checks per dataset: the share of an outcome level within groups. gss asks
#: the question the data were collected for; happiness and cpssw8 pick the outcome a
#: user of those surveys would tabulate (happiness by church attendance and work; top
#: earners by sex, age and education).
DOWNSTREAM: dict[str, tuple[Downstream, ...]] = {
    "gss": (
        Downstream("abany", "Yes", ("partyid", "sex")),
        Downstream("abany", "Yes", ("age", "educ", "race")),
    ),
    "happiness": (
        Downstream("happy", "Very happy", ("attend", "sex")),
        Downstream("happy", "Very happy", ("workstat", "educ", "race")),
    ),
    # anes: the downstream uses the shared README names: the Republican-identifier share
    # by state (what a state election forecast needs) and distrust by demographic group.
    "anes": (
        Downstream("pid7", ("Lean Rep", "Weak Rep", "Strong Rep"), ("state",)),
        Downstream("trustgov", ("Some of the time", "Never"), ("age", "educ", "race")),
        Downstream("pid7", ("Lean Rep", "Weak Rep", "Strong Rep"), ("age", "educ", "race")),
        Downstream("trustgov", ("Some of the time", "Never"), ("pid7", "polint")),
    ),
    "cpssw8": (
        Downstream("earnings", "30+", ("sex", "educ")),
        Downstream("earnings", "30+", ("age", "educ", "sex")),
    ),
}


# Metrics copied from score() into each row (scalar ones; per-table dicts are spread out).
_SCORE_KEYS = (
    "srmse1",
    "srmse2",
    "srmse3",
    "tvd3",
    "tvd_joint",
    "sz_recall_joint",
    "sz_recall_3way",
    "false_combo",
    "false_3way",
    "unseen_mass",
    "cov90",
    "width90",
    "cov_cells",
    "cov90_free2",
    "free2_tables_under_half",
    "cov90_census2",
    "area_cov90",
)
_PER_DRAW_KEYS = ("srmse1", "srmse2", "srmse3", "tvd_joint")


@dataclass(frozen=True)
class RunOptions:
    """How much work each method does.

    Parameters
    ----------
    draws
        Persona draws of the methods in :data:`DRAW_METHODS`.
    n
        Personas per draw; ``None`` means the population size N.
    fit
        Keyword options of :func:`populace.inference.fit` for the ``populace`` method
        (``draws``, ``tune``, ``chains``, ``factors``, ``method``, ...); empty = defaults.
    """

    draws: int = 20
    n: int | None = None
    fit: Mapping[str, Any] = field(default_factory=dict)


#: ``--quick`` (CI smoke run): a short NUTS run, 2000 personas, 5 draws.
QUICK = RunOptions(draws=5, n=2000, fit={"draws": 100, "tune": 100, "chains": 1})


def quick_sample(bench: Benchmark) -> str:
    """The sample ``--quick`` uses: the 1 % simple random sample with seed 0 (the
    bundled example's), else the smallest sample."""
    if "srs_f0.01_s0" in bench.samples:
        return "srs_f0.01_s0"
    return min(bench.samples, key=lambda s: len(bench.samples[s]))


def _make(method: str, options: RunOptions, population: np.ndarray) -> Any:
    if method == "populace":
        return PopulaceMethod(**options.fit)
    if method == "oracle":
        return OracleMethod(population)
    from populace.baselines import PEERS

    if method not in PEERS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    return PEERS[method]()


def run_benchmark(
    bench: Benchmark,
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    samples: Sequence[str] | None = None,
    seeds: Sequence[int] = (0,),
    options: RunOptions = RunOptions(),
    downstream: Iterable[Downstream] | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Run and score every (sample, seed, method).

    Parameters
    ----------
    bench
        The benchmark (population, census tables, samples).
    methods
        Method names (see the module docstring).
    samples
        Sample names; ``None`` = all samples of ``bench``.
    seeds
        Seeds of the methods' own randomness: seed ``s`` fits with ``s`` and draws
        personas with ``s + 1``. (The sample's seed is part of its name.)
    options
        Draws, personas per draw and fit options.
    downstream
        Outcome-share checks; ``None`` = :data:`DOWNSTREAM` of the dataset (none for an
        unknown dataset).
    progress
        Called with one line per (sample, seed, method) and its elapsed seconds.

    Returns
    -------
    pandas.DataFrame
        One row per (sample, seed, method): ``dataset, sample, n_sample, seed, method,
        n_draws, n_personas``, the metrics of :func:`populace.evaluation.metrics.score` (pooled
        over draws), ``*_per_draw`` SRMSE / TVD, downstream errors, ``srmse2[a×b]`` and
        ``srmse2_indep[a×b]`` per 2-way table, the coverage where the census does not pin
        the answer (``cov90_free2`` and per table ``cov90_free2[a×b]``, ``area_cov90`` and per
        attribute ``area_cov90[a]`` with ``area_mae[a]`` / ``area_mae_national[a]``,
        ``group_cov90[...]`` per downstream check), ``fit_s``, ``generate_s``, ``score_s``
        and, for ``populace``, ``rhat_max``, ``ess_min``, ``divergences``.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    names = list(bench.samples) if samples is None else list(samples)
    missing = [s for s in names if s not in bench.samples]
    if missing:
        raise ValueError(f"{bench.name}: no sample {missing}; the samples are {', '.join(bench.samples)}")
    checks = tuple(DOWNSTREAM.get(bench.name, ()) if downstream is None else downstream)
    say = progress or (lambda _msg: None)
    pop = bench.population_codes()
    n = options.n or bench.N
    rows = []
    for sample in names:
        study = bench.study(sample)
        for seed in seeds:
            for method in methods:
                say(f"{sample} (n={len(bench.samples[sample])}) seed {seed}: {method} ...")
                t0 = time.perf_counter()
                row = _run_one(bench, study, sample, method, seed, n, options, pop, checks)
                rows.append(row)
                say(
                    f"{sample} seed {seed}: {method} done in {time.perf_counter() - t0:.1f} s "
                    f"(SRMSE2 {row['srmse2']:.3f})"
                )
    return pd.DataFrame.from_records(rows)


def _run_one(
    bench: Benchmark,
    study: Study,
    sample: str,
    method: str,
    seed: int,
    n: int,
    options: RunOptions,
    pop: np.ndarray,
    checks: tuple[Downstream, ...],
) -> dict[str, Any]:
    draws = options.draws if method in DRAW_METHODS else 1
    gen = _make(method, options, pop)
    t0 = time.perf_counter()
    gen.fit(study, seed=seed)
    t1 = time.perf_counter()
    personas = gen.sample_personas(n, draws=draws, seed=seed + 1)
    t2 = time.perf_counter()
    res = score(personas, pop, None, study, downstream=checks)
    per_draw = score(personas, pop, None, study, per_draw=True) if draws > 1 else res
    t3 = time.perf_counter()

    row: dict[str, Any] = {
        "dataset": bench.name,
        "sample": sample,
        "n_sample": len(bench.samples[sample]),
        "seed": seed,
        "method": method,
        "n_draws": draws,
        "n_personas": n,
    }
    row.update({k: res.get(k, np.nan) for k in _SCORE_KEYS})
    # Coverage where the census does not pin the answer, per table, attribute and group.
    for table, (covered, cells) in res.get("free2_by_table", {}).items():
        row[f"cov90_free2[{table}]"] = covered / cells if cells else np.nan
    for attr, value in res.get("area_cov90_by_attr", {}).items():
        row[f"area_cov90[{attr}]"] = value
        row[f"area_mae[{attr}]"] = res["area_mae_by_attr"][attr]
        row[f"area_mae_national[{attr}]"] = res["national_area_mae_by_attr"][attr]
    for key, (value, groups) in res.get("group_cov90", {}).items():
        row[f"group_cov90{key.removeprefix('down')}"] = value
        row[f"group_n{key.removeprefix('down')}"] = groups
    row.update({f"{k}_per_draw": per_draw[k] for k in _PER_DRAW_KEYS})
    if method == "oracle":  # it never saw a sample: recall is not defined
        row.update(sz_recall_joint=np.nan, sz_recall_3way=np.nan)
    for check in checks:
        row[check.key] = res[check.key]
        row[check.key + "_skipped_mass"] = res[check.key + "_skipped_mass"]
    for table, value in res["srmse2_by_table"].items():
        row[f"srmse2[{table}]"] = value
        row[f"srmse2_indep[{table}]"] = res["srmse2_independence"][table]
    row.update(fit_s=t1 - t0, generate_s=t2 - t1, score_s=t3 - t2)
    nan = float("nan")
    diag = gen.diagnostics() if isinstance(gen, PopulaceMethod) else {}
    row.update({k: diag.get(k, nan) for k in ("rhat_max", "ess_min", "divergences")})
    return row
