import numpy as np
import pytest

from populace.models.structure import build_structure
from populace.study.spec import Attribute, Marginal, Microdata, Study

ATTRS = (
    Attribute("region", "nominal", ("n", "s"), role="geography"),
    Attribute("age", "ordinal", ("y", "o")),
    Attribute("vote", "nominal", ("a", "b", "c")),
)


def _study(codes, weights=None):
    codes = np.asarray(codes)
    w = np.ones(len(codes)) if weights is None else np.asarray(weights, float)
    margs = (
        Marginal(("age", "region"), np.array([[30.0, 10.0], [70.0, 90.0]])),
        Marginal(("region",), np.array([100.0, 100.0])),
    )
    return Study(ATTRS, margs, Microdata(codes, w))


def test_margins_per_geography_and_learned_attribute():
    s = build_structure(_study([[0, 0, 1], [1, 1, 2]]))
    assert s.names == ("age", "vote") and s.n_geo == 2
    np.testing.assert_allclose(s.margins[0], [[0.3, 0.7], [0.1, 0.9]])  # transposed from (age, region)
    assert s.margins[1] is None  # vote has no table: learned
    np.testing.assert_allclose(s.geo_shares, [0.5, 0.5])
    assert s.link == ("threshold", "softmax")


def test_identical_rows_collapse_and_weights_use_kish_size():
    s = build_structure(_study([[0, 0, 1], [0, 0, 1], [1, 1, -1]], weights=[1.0, 1.0, 4.0]))
    n_eff = 6.0**2 / 18.0
    assert s.n_eff == pytest.approx(n_eff)
    assert s.complete.counts.tolist() == pytest.approx([2 * n_eff / 6])
    assert s.incomplete.codes.tolist() == [[1, -1]]
    assert s.incomplete.counts.tolist() == pytest.approx([4 * n_eff / 6])


def test_crosstab_cells_become_patterns():
    s = build_structure(_study([[0, 0, 1]]))
    # age x region crosses only one non-geography attribute: it pins margins, not a cross-tab term
    assert s.crosstabs == ()
    assert [t.axes for t in s.census] == [(1, 0), (0,)]
