from __future__ import annotations

import numpy as np
from tests.baselines._toy_study import toy_study

from populace.baselines.independence import IndependenceGenerator, margins
from populace.study.spec import Study


def test_integerized_personas_reproduce_census_margins_exactly() -> None:
    study, pop = toy_study()
    ds = IndependenceGenerator().fit(study).sample_personas(len(pop), draws=2, seed=3)
    for j, a in enumerate(study.attributes):
        for d in range(2):
            got = np.bincount(ds[a.name].values[d], minlength=a.n_levels)
            np.testing.assert_array_equal(got, np.bincount(pop[:, j], minlength=a.n_levels))


def test_margin_summed_out_of_a_cross_tab_and_sample_fallback() -> None:
    study, pop = toy_study()
    # keep only the a x b table: a and b come from it, c from the weighted sample
    only = Study(study.attributes, (study.marginals[3],), study.microdata, name="toy")
    m = margins(only)
    np.testing.assert_allclose(m[0], np.bincount(pop[:, 0], minlength=3) / len(pop))
    codes, w = only.microdata.codes, only.microdata.weights
    seen = codes[:, 2] >= 0
    expected = np.bincount(codes[seen, 2], weights=w[seen], minlength=4) / w[seen].sum()
    np.testing.assert_allclose(m[2], expected)
