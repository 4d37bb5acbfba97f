"""Census cross-tab cells: the tensor contraction against the pattern sum it replaces."""

import numpy as np
import pytest

from populace.models.backend import NP
from populace.models.copula import CopulaModel
from populace.study.spec import Attribute, Marginal, Microdata, Study

ATTRS = (
    Attribute("region", "nominal", ("n", "s", "w"), role="geography"),
    Attribute("age", "ordinal", ("young", "mid", "old")),
    Attribute("educ", "ordinal", ("low", "high")),
    Attribute("race", "nominal", ("a", "b", "c")),  # softmax link
)
AXES = {"region": 0, "age": 1, "educ": 2, "race": 3}
AREA_TABLES = (("region", "age"), ("region", "educ"), ("region", "race"), ("age", "educ"), ("educ", "race"),
               ("age", "region", "educ"), ("age", "educ", "race"))
NATIONAL_TABLES = (("age",), ("educ",), ("race",), ("age", "educ"), ("educ", "race"), ("age", "educ", "race"))


def _study(tables) -> Study:
    rng = np.random.default_rng(5)
    joint = rng.integers(20, 200, size=(3, 3, 2, 3)).astype(float)

    def table(names):
        other = tuple(a for n, a in AXES.items() if n not in names)
        t = joint.sum(axis=other)
        kept = [n for n in AXES if n in names]
        return np.transpose(t, [kept.index(n) for n in names])

    codes = np.column_stack([rng.integers(0, k, 40) for k in (3, 3, 2, 3)])
    attrs, keep = ATTRS, [0, 1, 2, 3]
    if not any("region" in t for t in tables):
        attrs, keep = ATTRS[1:], [1, 2, 3]
    return Study(attrs, tuple(Marginal(t, table(t)) for t in tables), Microdata(codes[:, keep], np.ones(40)), name="tables")


@pytest.mark.parametrize("tables", [AREA_TABLES, NATIONAL_TABLES], ids=["areas", "national"])
@pytest.mark.parametrize("loading_scale", [0.0, 0.8])
def test_table_cells_equal_the_sum_over_their_patterns(loading_scale, tables):
    """Every cross-tab (two or three attributes, with the area first, in the middle or
    absent, or no areas at all) gets the same cells from ``table_logp`` as from summing
    its patterns."""
    model = CopulaModel(_study(tables), model_config={"factors": 2, "quadrature_nodes": 4})
    rng = np.random.default_rng(1)
    params = {
        "loadings_age": loading_scale * rng.normal(size=2),
        "loadings_educ": loading_scale * rng.normal(size=2),
        "loadings_race": loading_scale * rng.normal(size=(2, 2)),
    }
    s = model.structure
    logps = model.attribute_logps(params, NP)
    log_geo = np.log(model._geo_shares(params, NP))
    assert len(s.census_crosstabs) == (4 if tables is AREA_TABLES else 3)
    for tab, table in zip(s.crosstabs, s.census_crosstabs, strict=True):
        got = model.table_logp(logps, log_geo, table, NP)
        want = model.patterns_logp(logps, log_geo, tab, NP)
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=0)
        np.testing.assert_allclose(np.exp(got).sum(), 1.0, rtol=1e-12)
