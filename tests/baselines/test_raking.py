from __future__ import annotations

import numpy as np
import pytest
from tests.baselines._toy_study import toy_study

from populace.baselines.raking import RakingGenerator, rake
from populace.inference.ipf import RakingWarning
from populace.study.spec import Marginal


def test_rake_matches_hand_computed_2x2() -> None:
    # seed [[1, 2], [3, 4]] raked to rows (5, 5), columns (4, 6): IPF keeps the odds
    # ratio ad/bc = 2/3, so a(1 + a) / ((5 - a)(4 - a)) = 2/3, i.e. a^2 + 21a - 40 = 0
    codes = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    res = rake(
        codes,
        np.array([1.0, 2.0, 3.0, 4.0]),
        [Marginal(("r",), np.array([5.0, 5.0])), Marginal(("c",), np.array([4.0, 6.0]))],
        ["r", "c"],
    )
    a = (-21 + np.sqrt(601)) / 2
    np.testing.assert_allclose(res.weights, [a, 5 - a, 4 - a, 1 + a], rtol=1e-9)
    assert res.converged


def test_rake_hits_every_census_table() -> None:
    study, _ = toy_study(missing=False)
    res = rake(study.microdata.codes, study.microdata.weights, study.marginals, study.names)
    assert res.converged
    for m in study.marginals:
        cols = [study.index(a) for a in m.attributes]
        got = np.bincount(
            np.ravel_multi_index(study.microdata.codes[:, cols].T, m.counts.shape),
            weights=res.weights,
            minlength=m.counts.size,
        )
        np.testing.assert_allclose(got / m.total, m.counts.ravel() / m.total, atol=1e-8)


def test_rake_flags_a_census_cell_the_sample_lacks() -> None:
    codes = np.array([[0, 0], [0, 1], [1, 0]])  # no row in cell (1, 1)
    m = Marginal(("r", "c"), np.array([[1.0, 1.0], [1.0, 1.0]]))
    with pytest.warns(RakingWarning, match="no record reaches"):
        res = rake(codes, np.ones(3), [m], ["r", "c"], max_iter=20)
    assert not res.converged and res.max_error > 0.1
    assert res.n_iter == 20


def test_raking_generator_reproduces_margins() -> None:
    study, _ = toy_study()
    n = 100_000
    ds = RakingGenerator().fit(study, seed=0).sample_personas(n, seed=1)
    share = np.bincount(ds["a"].values.ravel(), minlength=3) / n
    # integerizing moves each complete row's persona count by at most half a persona
    complete = int((study.microdata.codes >= 0).all(axis=1).sum())
    assert complete == study.microdata.n_rows - 2  # toy_study blanks two cells
    np.testing.assert_allclose(share, study.marginals[0].counts / study.marginals[0].total, atol=0.5 * complete / n)
