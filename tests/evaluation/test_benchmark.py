"""``populace.evaluation.benchmark`` and ``populace benchmark`` on a tiny hand-built benchmark.

Only cheap peers run; the ``populace`` method is replaced by a stand-in, so no test here
compiles or samples a PyMC model.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from populace.evaluation import benchmark as bm
from populace.baselines import BootstrapGenerator
from populace.cli import BENCHMARK_DATASETS, BENCHMARK_METHODS, main
from populace.evaluation.datasets import BUILDERS, Benchmark, census_filename, census_table
from populace.evaluation.metrics import Downstream
from populace.study.spec import Attribute

ATTRS = (
    Attribute("age", "ordinal", ("young", "middle", "old")),
    Attribute("sex", "nominal", ("m", "f")),
    Attribute("vote", "nominal", ("left", "centre", "right")),
    Attribute("educ", "ordinal", ("low", "mid", "high", "top")),
)
CHECK = Downstream("vote", "left", ("age", "sex"))
CHEAP = ("independence", "ipf", "bootstrap", "bb")


def tiny_benchmark(n_pop: int = 3000) -> Benchmark:
    """4 attributes with age-vote dependence; census = 1-D tables + age x sex; 2 samples."""
    rng = np.random.default_rng(3)
    age = rng.choice(3, size=n_pop, p=[0.3, 0.4, 0.3])
    sex = rng.choice(2, size=n_pop)
    vote = np.array([rng.choice(3, p=np.roll([0.6, 0.3, 0.1], a)) for a in age])
    educ = rng.choice(4, size=n_pop, p=[0.4, 0.3, 0.2, 0.1])  # 72 cells: samples miss some
    pop = pd.DataFrame(
        {
            a.name: pd.Categorical.from_codes(c, categories=list(a.levels), ordered=a.type == "ordinal")
            for a, c in zip(ATTRS, (age, sex, vote, educ), strict=True)
        }
    )
    by = {a.name: a for a in ATTRS}
    tables = [("age",), ("sex",), ("vote",), ("educ",), ("age", "sex")]
    census = {t: census_table(pop, [by[n] for n in t]) for t in tables}
    samples = {}
    for name, size, seed in (("srs_f0.02_s0", 60, 0), ("srs_f0.05_s0", 150, 1)):
        rows = np.random.default_rng(seed).choice(n_pop, size, replace=False)
        df = pop.iloc[rows].reset_index(drop=True)
        df["weight"] = n_pop / size
        samples[name] = df
    meta = {
        "name": "tiny",
        "attributes": [a.name for a in ATTRS],
        "levels": {a.name: list(a.levels) for a in ATTRS},
        "ordinal": ["age", "educ"],
        "census_files": [{"vars": list(t), "file": census_filename(t)} for t in tables],
        "samples": [{"name": k, "file": f"sample_{k}.csv"} for k in samples],
        "N": n_pop,
    }
    return Benchmark("tiny", ATTRS, pop, census, samples, meta)


@pytest.fixture(scope="module")
def bench() -> Benchmark:
    return tiny_benchmark()


@pytest.fixture(scope="module")
def table(bench: Benchmark) -> pd.DataFrame:
    return bm.run_benchmark(
        bench, methods=CHEAP, seeds=(0, 1), options=bm.RunOptions(draws=6, n=800), downstream=[CHECK]
    )


def test_one_row_per_sample_seed_method(table: pd.DataFrame, bench: Benchmark) -> None:
    assert len(table) == len(bench.samples) * 2 * len(CHEAP)
    assert list(dict.fromkeys(table["method"])) == list(CHEAP)
    assert set(table["sample"]) == set(bench.samples)
    for col in ("srmse1", "srmse2", "srmse3", "srmse2_per_draw", "sz_recall_joint", "false_combo",
                "cov90", "unseen_mass", CHECK.key, "srmse2[age×vote]", "srmse2_indep[age×vote]",
                "fit_s", "generate_s", "score_s", "rhat_max"):
        assert col in table.columns, col
    assert (table["n_personas"] == 800).all()
    assert table.set_index("method")["n_draws"].to_dict() == {"independence": 1, "ipf": 1, "bootstrap": 1, "bb": 6}


def test_rows_are_the_scores_of_the_methods_personas(table: pd.DataFrame, bench: Benchmark) -> None:
    """Each row is exactly what score() gives on the personas the method draws with the
    row's seeds (fit with s, personas with s + 1): the runner adds no arithmetic of its own."""
    from populace.baselines import PEERS
    from populace.evaluation.metrics import score

    pop = bench.population_codes()
    for method, draws in (("ipf", 1), ("bb", 6)):
        for sample, seed in (("srs_f0.02_s0", 0), ("srs_f0.05_s0", 1)):
            study = bench.study(sample)
            personas = PEERS[method]().fit(study, seed=seed).sample_personas(800, draws=draws, seed=seed + 1)
            want = score(personas, pop, None, study, downstream=[CHECK])
            row = table[(table["method"] == method) & (table["sample"] == sample) & (table["seed"] == seed)].iloc[0]
            for k in ("srmse1", "srmse2", "srmse3", "tvd_joint", "sz_recall_joint", "false_combo", "cov90", CHECK.key):
                assert row[k] == want[k] or (np.isnan(row[k]) and np.isnan(want[k])), (method, sample, k)


def test_methods_differ_as_they_must(table: pd.DataFrame) -> None:
    by = table.groupby("method")
    # raking and independence reproduce the census margins; resampling a sample does not
    assert by["srmse1"].mean()["ipf"] < by["srmse1"].mean()["bootstrap"]
    assert by["srmse1"].mean()["independence"] < by["srmse1"].mean()["bootstrap"]
    # independence misses the age-vote dependence that the others copy from the sample
    dep = by["srmse2[age×vote]"].mean()
    assert dep["independence"] > 2 * dep["ipf"]
    # resampling peers never produce a combination their sample lacks
    assert (table.loc[table["method"].isin(["ipf", "bootstrap", "bb"]), "sz_recall_joint"].fillna(0) == 0).all()
    # intervals only for draw-based methods
    assert table.loc[table["method"] != "bb", "cov90"].isna().all()
    # one draw: per-draw and pooled SRMSE are the same number
    single = table[table["n_draws"] == 1]
    np.testing.assert_allclose(single["srmse2"], single["srmse2_per_draw"])


def test_seeds_change_the_personas(table: pd.DataFrame) -> None:
    boot = table[(table["method"] == "bootstrap") & (table["sample"] == "srs_f0.02_s0")]
    assert boot["srmse2"].nunique() == 2


def test_write_results(table: pd.DataFrame, tmp_path: Path) -> None:
    cmd = "populace benchmark --from tiny --out x"
    paths = bm.write_results(table, tmp_path / "out", command=cmd)
    assert set(paths) == {"md", "csv", "srmse", "recall", "coverage"}
    for p in paths.values():
        assert p.exists() and p.stat().st_size > 0, p
    for key in ("srmse", "recall", "coverage"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = paths["md"].read_text()
    assert md.splitlines()[0] == f"Made by: `{cmd}`"
    assert "| srs_f0.02_s0 (n=60" in md and "vote=left MAE age×sex" in md
    assert "±" in md  # two seeds: mean±sd
    assert "coverage90.png" in md
    back = pd.read_csv(paths["csv"])
    assert len(back) == len(table)
    assert not list((tmp_path / "out").glob(".*"))  # no temp files left


def test_coverage_plot_without_draw_methods(table: pd.DataFrame, tmp_path: Path) -> None:
    from populace.evaluation.benchplots import plot_all

    point = table[table["method"] != "bb"]
    paths = plot_all(point, tmp_path)
    assert all(p.exists() for p in paths.values())


class FakePopulace:
    """Stands in for the copula model: records its fit options, resamples the sample."""

    name = "populace"
    seen: list[dict[str, Any]] = []

    def __init__(self, **fit_options: Any) -> None:
        FakePopulace.seen.append(fit_options)
        self.inner = BootstrapGenerator()

    def fit(self, study: Any, *, seed: int | None = None) -> FakePopulace:
        self.inner.fit(study, seed=seed)
        return self

    def sample_personas(self, n: int, *, draws: int = 1, seed: int | None = None) -> Any:
        return self.inner.sample_personas(n, draws=draws, seed=seed)

    def diagnostics(self) -> dict[str, float]:
        return {"rhat_max": 1.0, "ess_min": 123.0, "divergences": 0.0}


def test_populace_method_gets_quick_options(bench: Benchmark, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm, "PopulaceMethod", FakePopulace)
    FakePopulace.seen.clear()
    df = bm.run_benchmark(bench, methods=["populace"], samples=[bm.quick_sample(bench)], options=bm.QUICK)
    assert FakePopulace.seen == [{"draws": 100, "tune": 100, "chains": 1}]
    row = df.iloc[0]
    assert row["n_draws"] == 5 and row["n_personas"] == 2000 and row["ess_min"] == 123.0
    from populace.evaluation.metrics import score

    study = bench.study(bm.quick_sample(bench))
    personas = BootstrapGenerator().fit(study, seed=0).sample_personas(2000, draws=5, seed=1)
    assert row["cov90"] == score(personas, bench.population_codes(), None, study)["cov90"]


def test_oracle_is_the_floor(bench: Benchmark) -> None:
    df = bm.run_benchmark(bench, methods=["oracle", "bootstrap"], samples=["srs_f0.02_s0"], downstream=())
    srmse = df.set_index("method")["srmse2"]
    assert srmse["oracle"] < srmse["bootstrap"]
    assert np.isnan(df.set_index("method").loc["oracle", "sz_recall_joint"])


def test_bad_names_are_refused(bench: Benchmark) -> None:
    with pytest.raises(ValueError, match="unknown methods"):
        bm.run_benchmark(bench, methods=["nope"])
    with pytest.raises(ValueError, match="no sample"):
        bm.run_benchmark(bench, methods=["ipf"], samples=["srs_f0.5_s9"])


def test_helpers(bench: Benchmark) -> None:
    assert bm.calibrated_coverage(20) == pytest.approx(19 * 0.9 / 21)
    assert np.isnan(bm.calibrated_coverage(1))
    assert bm.quick_sample(bench) == "srs_f0.02_s0"  # no 1 % sample: the smallest
    assert set(bm.DEFAULT_METHODS) <= set(bm.METHODS)
    assert bm.DRAW_METHODS <= set(bm.METHODS)


def test_cli_lists_match_the_module() -> None:
    assert BENCHMARK_METHODS == bm.METHODS
    assert set(BENCHMARK_DATASETS) == set(BUILDERS)
    # anes is read with --from (the shared folder), not rebuilt: it has checks but no builder.
    assert set(bm.DOWNSTREAM) == set(BUILDERS) | {"anes"}


def test_cli_benchmark_from_a_written_benchmark(bench: Benchmark, tmp_path: Path) -> None:
    src = bench.write(tmp_path / "tiny")
    out = tmp_path / "res"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["benchmark", "--from", str(src), "--methods", "independence", "ipf", "--n", "500",
                     "--samples", "srs_f0.05_s0", "--out", str(out)])
    assert code == 0, err.getvalue()
    first = (out / "benchmark.md").read_text().splitlines()[0]
    assert "populace benchmark" in first and f"--from {src}" in first and "--n 500" in first
    assert "srs_f0.05_s0 seed 0: ipf done in" in err.getvalue()  # progress line per run
    assert {p.name for p in out.iterdir()} >= {"benchmark.md", "benchmark.csv", "srmse_by_order.png"}


def test_cli_benchmark_unknown_sample(bench: Benchmark, tmp_path: Path) -> None:
    src = bench.write(tmp_path / "tiny")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["benchmark", "--from", str(src), "--methods", "ipf", "--samples", "nope", "--out", str(tmp_path)])
    assert code == 2 and "--samples" in err.getvalue()
