"""The lower-triangular (LQ) parameterisation fixes the rotation without changing the prior
of the rotation-invariant loading Gram matrix."""

import numpy as np
import pymc as pm
import pytest

from populace.models.copula import CopulaModel
from tests.inference._area_study import area_study

DRAWS = 4000


def _prior_gram(rotation):
    model = CopulaModel(area_study(), model_config={"factors": 3, "quadrature_nodes": 3, "rotation": rotation})
    pmm = model.build_model()
    gram, race = pm.draw([pmm["loading_gram"], pmm["loadings_race"]], draws=DRAWS, random_seed=7)
    return gram, race


def test_lower_triangular_rows_are_zero_above_the_diagonal():
    _, race = _prior_gram("lower-triangular")
    # Rows: age (0), race contrasts (1, 2): race's rows are rows 1 and 2 of the matrix.
    assert (race[:, 0, 2] == 0).all() and (race[:, 1, 2] > 0).all()
    assert (race[:, 0, 1] > 0).all()


def test_gram_prior_is_the_same_in_both_parameterisations():
    free, _ = _prior_gram("free")
    lq, _ = _prior_gram("lower-triangular")
    iu = np.triu_indices(free.shape[1])
    for stat in (lambda g: g, lambda g: g**2):
        a, b = stat(free)[:, iu[0], iu[1]], stat(lq)[:, iu[0], iu[1]]
        se = np.sqrt(a.var(axis=0) / DRAWS + b.var(axis=0) / DRAWS)
        z = (a.mean(axis=0) - b.mean(axis=0)) / se
        # 15 entries x 2 moments: P(max |z| > 4) < 30 * 6e-5 when the priors agree.
        assert np.abs(z).max() < 4, z.round(2)


def test_an_unknown_rotation_is_refused():
    from populace.errors import FitError

    with pytest.raises(FitError, match="rotation.*'lower_triangular'.*'free'.*'lower-triangular'"):
        CopulaModel(area_study(), model_config={"rotation": "lower_triangular"})
