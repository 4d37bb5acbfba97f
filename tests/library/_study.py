"""A small study in which all three provenances occur (shared by the library tests)."""

from __future__ import annotations

import numpy as np

from populace.personas import write_parquet_stream
from populace.study.serialize import study_to_dict
from populace.study.spec import Attribute, Marginal, Microdata, Study

ATTRIBUTES = (
    Attribute("age", "ordinal", ("18-29", "30-64", "65+"), phrases={"65+": "retired age"}),
    Attribute("sex", "nominal", ("m", "f")),
    Attribute("party", "nominal", ("dem", "ind", "rep")),
    Attribute("church", "ordinal", ("never", "sometimes", "weekly")),
)


def three_kinds_study() -> Study:
    """age and sex only in the census cross-tab age x sex (census-pinned), party in a 1-D
    table (census-margin), church in none (survey-only)."""
    marginals = (
        Marginal(("age", "sex"), np.array([[10.0, 12], [30, 28], [9, 11]]), source="census_age__sex.csv"),
        Marginal(("party",), np.array([35.0, 30, 35])),
    )
    codes = np.array([[0, 1, 2, 0], [1, 0, 0, 2], [2, 1, 1, 1]])
    return Study(ATTRIBUTES, marginals, Microdata(codes, np.ones(3)), name="three")


def write_personas_file(path, study: Study, *, draws: int = 3, n: int = 5000, seed: int = 0) -> dict[str, np.ndarray]:
    """Random personas (level codes) written as ``populace generate`` writes them; returns the codes."""
    rng = np.random.default_rng(seed)
    codes = {a.name: rng.integers(0, a.n_levels, size=(draws, n)) for a in study.attributes}
    chunks = [(d, {k: v[d] for k, v in codes.items()}) for d in range(draws)]
    write_parquet_stream(chunks, study, path, attrs={"study": study_to_dict(study)})
    return codes
