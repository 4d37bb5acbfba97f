"""Generation rakes each draw to a draw of a noisy census table, so the personas carry its error.

Two areas, an exact age table and exact area totals, and an area x age table published with
standard error ``SE`` per cell: one free direction, whose posterior sd is ``SE / 2`` per cell
(``tests/study/test_noisy_census.py``). Across persona draws of the population's size, a
cell's count then varies with sd ``sqrt(SE^2 / 4 + N p (1 - p))`` (census error plus the
draw's own multinomial noise). Raking to the published table as if exact leaves only the
multinomial part, half as much here.
"""

import warnings

import numpy as np
import pytest

from populace.inference import fit, sample_personas
from populace.inference.diagnostics import ConvergenceWarning
from populace.study.spec import Attribute, Marginal, Microdata, Study

pytestmark = pytest.mark.slow

ATTRS = (
    Attribute("area", "nominal", ("a", "b"), role="geography"),
    Attribute("age", "ordinal", ("young", "old")),
    Attribute("vote", "nominal", ("no", "yes")),
)
SE = 100.0
DRAWS = 80


def test_persona_draws_vary_with_the_census_error():
    rng = np.random.default_rng(0)
    truth = np.array([[1000.0, 1500.0], [1200.0, 1300.0]])
    n = int(truth.sum())
    published = truth + np.array([[40.0, -40.0], [-40.0, 40.0]])
    census = (
        Marginal(("area",), truth.sum(axis=1)),
        Marginal(("age",), truth.sum(axis=0)),
        Marginal(("area", "age"), published, "area_age.csv", np.full((2, 2), SE)),
    )
    rows = np.column_stack([rng.integers(0, 2, 300), rng.integers(0, 2, 300), rng.integers(0, 2, 300)])
    study = Study(ATTRS, census, Microdata(rows, np.ones(300)), name="noisy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a short test fit
        f = fit(study, model_config={"factors": 1, "quadrature_nodes": 9}, draws=200, tune=200, chains=2, seed=1, warn=False)
    ds = sample_personas(f, n, draws=DRAWS, seed=2)
    young_a = ((ds["area"].values == 0) & (ds["age"].values == 0)).sum(axis=1)
    # The posterior mean is the published table (it already meets the exact margins).
    p = published[0, 0] / n
    expected = np.sqrt(SE**2 / 4 + n * p * (1 - p))
    sd = young_a.std(ddof=1)
    # Monte-Carlo error of an sd from DRAWS normal draws: sd / sqrt(2 (DRAWS - 1)); four of them.
    assert abs(sd / expected - 1) < 4 / np.sqrt(2 * (DRAWS - 1)), (sd, expected)
    assert abs(young_a.mean() - published[0, 0]) < 4 * expected / np.sqrt(DRAWS)


def test_the_raking_tolerance_follows_the_smallest_stated_error():
    from populace.inference.atoms import RAKE_TOL, rake_tolerance

    exact = Marginal(("age",), np.array([400.0, 600.0]))
    assert rake_tolerance([exact]) == RAKE_TOL
    noisy = Marginal(("area", "age"), np.array([[200.0, 300.0], [200.0, 300.0]]), None, np.array([[0.0, 3.0], [2.0, 5.0]]))
    assert rake_tolerance([exact, noisy]) == 2.0 / 1000.0
