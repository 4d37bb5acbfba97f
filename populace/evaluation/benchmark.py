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
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from populace.atomic import write_text
from populace.evaluation.datasets import Benchmark
from populace.evaluation.metrics import Downstream, score
from populace.personas import persona_dataset
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

#: Every method name ``run_benchmark`` knows.
METHODS: tuple[str, ...] = ("populace", "independence", "ipf", "bootstrap", "bb", "bb_ipf", "lca_ipf", "oracle")
#: What ``populace benchmark`` runs when no ``--methods`` are given.
DEFAULT_METHODS: tuple[str, ...] = ("populace", "independence", "ipf", "bootstrap", "bb", "bb_ipf", "lca_ipf")
#: Methods whose persona draws carry posterior uncertainty (the others get one draw).
DRAW_METHODS: frozenset[str] = frozenset({"populace", "bb", "bb_ipf"})

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


def calibrated_coverage(draws: int, interval: float = 0.9) -> float:
    """Expected coverage of a calibrated generator's ``interval`` across ``draws`` draws.

    The truth behaves like one more exchangeable draw; its rank among ``draws + 1`` is
    uniform, and numpy's linear quantiles span ``(draws - 1) * interval`` of the
    ``draws + 1`` gaps, so ``cov90`` has to be read against this, not 0.90, when
    ``draws`` is small (0.81 for 20 draws).
    """
    if draws < 2:
        return float("nan")
    return (draws - 1) * interval / (draws + 1)


def quick_sample(bench: Benchmark) -> str:
    """The sample ``--quick`` uses: the 1 % simple random sample with seed 0 (the
    bundled example's), else the smallest sample."""
    if "srs_f0.01_s0" in bench.samples:
        return "srs_f0.01_s0"
    return min(bench.samples, key=lambda s: len(bench.samples[s]))


# ----------------------------------------------------------------------------- methods


class PopulaceMethod:
    """The copula model behind the peers' ``fit`` / ``sample_personas`` interface.

    Parameters
    ----------
    **fit_options
        Passed to :func:`populace.inference.fit` (``seed`` and ``warn`` are set here).
    """

    name = "populace"

    def __init__(self, **fit_options: Any) -> None:
        self.fit_options = dict(fit_options)
        self.fitted: xr.DataTree | None = None

    def fit(self, study: Study, *, seed: int | None = None) -> PopulaceMethod:
        """Fit the model; convergence is reported by :meth:`diagnostics`, not warned."""
        from populace.inference import fit

        # warn=False: convergence goes in the table; other warnings are shown as they come.
        self.fitted = fit(study, seed=seed, warn=False, **self.fit_options)
        return self

    def sample_personas(self, n: int, *, draws: int = 1, seed: int | None = None) -> xr.Dataset:
        """Personas from ``draws`` posterior draws."""
        from populace.inference.generate import sample_personas

        if self.fitted is None:
            raise RuntimeError("call fit() first")
        return sample_personas(self.fitted, n, draws=draws, seed=seed)

    def diagnostics(self) -> dict[str, float]:
        """R-hat, ESS, divergences of a NUTS fit (NaN where not computable, e.g. ADVI)."""
        from populace.inference import check_convergence

        nan = float("nan")
        if self.fitted is None or "sample_stats" not in self.fitted.children:
            return {"rhat_max": nan, "ess_min": nan, "divergences": nan}
        diag = check_convergence(self.fitted, warn=False)
        return {
            "rhat_max": float(diag.max_rhat),
            "ess_min": float(min(diag.min_ess_bulk, diag.min_ess_tail)),
            "divergences": float(diag.divergences),
        }


class OracleMethod:
    """``n`` draws with replacement from the true population (the reference floor)."""

    name = "oracle"

    def __init__(self, population: np.ndarray) -> None:
        self.population = population
        self.study: Study | None = None

    def fit(self, study: Study, *, seed: int | None = None) -> OracleMethod:
        self.study = study
        return self

    def sample_personas(self, n: int, *, draws: int = 1, seed: int | None = None) -> xr.Dataset:
        assert self.study is not None
        rows = np.random.default_rng(seed).integers(0, len(self.population), size=(draws, n))
        codes = {a.name: self.population[rows, j] for j, a in enumerate(self.study.attributes)}
        return persona_dataset(codes, self.study, attrs={"method": "oracle"})


def _make(method: str, options: RunOptions, population: np.ndarray) -> Any:
    if method == "populace":
        return PopulaceMethod(**options.fit)
    if method == "oracle":
        return OracleMethod(population)
    from populace.baselines import PEERS

    if method not in PEERS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    return PEERS[method]()


# ------------------------------------------------------------------------------- run


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
        ``srmse2_indep[a×b]`` per 2-way table, ``fit_s``, ``generate_s``, ``score_s``
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
    row.update({k: res[k] for k in _SCORE_KEYS})
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


# ----------------------------------------------------------------------------- output


def write_results(
    df: pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    command: str,
    stem: str = "benchmark",
    plots: bool = True,
) -> dict[str, Path]:
    """Write ``<stem>.md``, ``<stem>.csv`` and the PNG plots into ``out``.

    Parameters
    ----------
    df
        The table of :func:`run_benchmark`.
    out
        Folder (created if missing).
    command
        The exact command that made ``df``; the Markdown starts with it.
    stem
        File name stem of the table files.
    plots
        Draw the plots (needs matplotlib).

    Returns
    -------
    dict
        Paths by kind: ``md``, ``csv`` and, with ``plots``, ``srmse``, ``recall``,
        ``coverage``.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"md": folder / f"{stem}.md", "csv": folder / f"{stem}.csv"}
    if plots:
        from populace.evaluation import benchplots

        paths.update(benchplots.plot_all(df, folder))
    write_text(paths["csv"], df.to_csv(index=False, float_format="%.6g"))
    images = {k: p.name for k, p in paths.items() if k not in ("md", "csv")}
    write_text(paths["md"], markdown(df, command=command, images=images))
    return paths


def markdown(df: pd.DataFrame, *, command: str, images: Mapping[str, str] | None = None) -> str:
    """The results as Markdown, starting with the command that made them.

    Rows are (sample, method); with several seeds a cell shows ``mean±sd`` over seeds.
    """
    dataset = str(df["dataset"].iloc[0]) if len(df) else "?"
    checks = [c for c in df.columns if c.startswith("down[") and not c.endswith("_skipped_mass")]
    cols = {
        "srmse1": "SRMSE1",
        "srmse2": "SRMSE2",
        "srmse3": "SRMSE3",
        "srmse2_per_draw": "SRMSE2 per draw",
        "tvd_joint": "TVD joint",
        "sz_recall_joint": "SZ recall",
        "false_combo": "false combo",
        **{c: _down_label(c) for c in checks},
    }
    draws = sorted({int(d) for d in df.loc[df["n_draws"] > 1, "n_draws"]}) if len(df) else []
    cal = ", ".join(f"{calibrated_coverage(d):.2f} with {d} draws" for d in draws) or "-"
    seeds = sorted(set(df["seed"])) if len(df) else []
    lines = [
        f"Made by: `{command}`",
        "",
        f"# Persona generators on `{dataset}`",
        "",
        f"Personas per draw: {_uniq(df, 'n_personas')}; draws: {_uniq(df, 'n_draws')} "
        f"(draw-based methods: {', '.join(sorted(DRAW_METHODS))}; the others one draw). "
        f"Seeds: {', '.join(map(str, seeds))}" + (" (cells: mean±sd over seeds)." if len(seeds) > 1 else "."),
        "Metrics from `populace.evaluation.metrics.score` (definitions in its docstring), pooled over draws; "
        "'SRMSE2 per draw' is the mean over draws, the error of one synthetic population. "
        "SZ recall: share of the population mass in combinations the sample lacks that the "
        "method produces at all; false combo: synthetic mass on combinations absent from the "
        "population. Downstream: population-weighted MAE of the outcome share across groups.",
        f"cov90: coverage of the true 2-way cell shares by the 90 % interval across draws; a "
        f"calibrated generator scores {cal}, not 0.90, because few draws give a short interval.",
        "",
    ]
    head = ["sample", "method", *cols.values(), "cov90 (width)", "fit s", "gen s"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for sample in dict.fromkeys(df["sample"]):
        part = df[df["sample"] == sample]
        unseen = _fmt(part["unseen_mass"].drop_duplicates(), 2)
        label = f"{sample} (n={int(part['n_sample'].iloc[0])}, unseen mass {unseen})"
        for i, method in enumerate(dict.fromkeys(part["method"])):
            m = part[part["method"] == method]
            cov = "-" if m["cov90"].isna().all() else f"{_fmt(m['cov90'], 2)} ({_fmt(m['width90'], 4)})"
            cells = [label if i == 0 else "", method, *(_fmt(m[k]) for k in cols), cov]
            cells += [_fmt(m["fit_s"], 1), _fmt(m["generate_s"], 1)]
            lines.append("| " + " | ".join(cells) + " |")
    fits = df[df["method"] == "populace"]
    if len(fits):
        lines += ["", "populace convergence (NUTS; NaN with one chain or ADVI):", ""]
        lines += ["| sample | seed | R-hat max | ESS min | divergences |", "|---|---|---|---|---|"]
        for _, r in fits.iterrows():
            cells = [_fmt(pd.Series([r[k]]), d) for k, d in (("rhat_max", 3), ("ess_min", 0), ("divergences", 0))]
            lines.append(f"| {r['sample']} | {r['seed']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Per-table SRMSE2, each 2-way table against the independence product of the "
        "population's margins, is in the CSV (`srmse2[a×b]`, `srmse2_indep[a×b]`).",
    ]
    captions = {
        "srmse": "SRMSE by table order",
        "recall": "Sampling-zero recall vs false-combination mass",
        "coverage": "90 % interval coverage of 2-way cells",
    }
    for key, name in (images or {}).items():
        lines += ["", f"![{captions.get(key, key)}]({name})"]
    return "\n".join(lines) + "\n"


def _down_label(key: str) -> str:
    """``down[abany=Yes|partyid,sex]`` -> ``abany=Yes MAE partyid×sex``."""
    inner = key[len("down[") : -1]
    outcome, _, by = inner.partition("|")
    return f"{outcome} MAE {by.replace(',', '×')}"


def _uniq(df: pd.DataFrame, col: str) -> str:
    return ", ".join(str(v) for v in sorted(set(df[col]))) if len(df) else "-"


def _fmt(values: pd.Series, digits: int = 3) -> str:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return "-"
    if len(v) == 1:
        return f"{v.iloc[0]:.{digits}f}"
    sd = v.std(ddof=1)
    return f"{v.mean():.{digits}f}±{sd:.{digits}f}" if not math.isnan(sd) else f"{v.mean():.{digits}f}"
