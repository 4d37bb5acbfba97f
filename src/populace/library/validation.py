"""Validation figures of a library built from a benchmark study, against the true population."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from populace.errors import PopulaceError
from populace.study.spec import Study

if TYPE_CHECKING:
    from populace.evaluation.datasets import Benchmark

__all__ = ["read_benchmark", "validation_figures", "FIGURES"]

#: Metrics of :func:`populace.evaluation.metrics.score` printed in the card.
FIGURES = ("srmse1", "srmse2", "srmse3", "tvd3", "sz_recall_3way", "false_3way", "cov90", "width90")


def read_benchmark(study: Study, benchmark: str | os.PathLike[str]) -> Benchmark:
    """The benchmark folder of a benchmark study, checked against the study.

    Raises
    ------
    PopulaceError
        When the study is not a benchmark sample, or the folder is another benchmark.
    """
    from populace.evaluation.datasets import Benchmark

    name = study.meta.get("benchmark")
    if name is None:
        raise PopulaceError(f"--benchmark {benchmark}: the fitted study {study.name!r} is not a benchmark sample. Fix: drop --benchmark.")
    if not (Path(benchmark) / "meta.json").is_file():
        raise PopulaceError(f"--benchmark {benchmark}: no meta.json there. Fix: pass the benchmark's folder (e.g. shared/benchmarks/{name}).")
    bench = Benchmark.read(benchmark)
    if bench.name != name:
        raise PopulaceError(f"--benchmark {benchmark}: that is benchmark {bench.name!r}, but the study is a sample of {name!r}.")
    return bench


def validation_figures(study: Study, benchmark: Benchmark, data: str | os.PathLike[str]) -> dict[str, float]:
    """Score the personas under ``data`` against a benchmark's true population.

    Parameters
    ----------
    study
        The fitted study.
    benchmark
        From :func:`read_benchmark`.
    data
        The library's ``data`` folder. Its personas are read whole (labels of every draw).

    Returns
    -------
    dict
        :data:`FIGURES`, pooled over draws (``cov90`` / ``width90`` across draws).
    """
    import pandas as pd

    from populace.evaluation.metrics import score

    personas = pd.read_parquet(data, columns=["draw", *study.names])
    res = score(personas, benchmark.population, None, study)
    return {k: float(res[k]) for k in FIGURES}
