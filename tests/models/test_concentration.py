"""Which concentration each likelihood term uses: the Dirichlet layer's, or the census's own."""

import numpy as np
import pytest

from populace.models.copula import CopulaModel
from tests.models.test_tables import NATIONAL_TABLES, _study


def _terms(census_concentration: str):
    pm_model = CopulaModel(_study(NATIONAL_TABLES), model_config={"census_concentration": census_concentration}).build_model()
    names = [p.name for p in pm_model.potentials]
    terms = pm_model.replace_rvs_by_values(pm_model.potentials)  # in terms of the value variables
    fn = pm_model.compile_fn(terms, inputs=pm_model.value_vars, on_unused_input="ignore", point_fn=True)
    return pm_model, names, fn


def _moved(fn, point, name: str) -> np.ndarray:
    """Which terms change when ``name`` moves by one unit."""
    other = dict(point)
    other[name] = point[name] + 1.0
    return ~np.isclose(np.array(fn(point)), np.array(fn(other)), rtol=1e-12, atol=0)


@pytest.mark.parametrize("census_concentration", ["joint", "own"])
def test_census_tables_use_the_chosen_concentration(census_concentration):
    pm_model, names, fn = _terms(census_concentration)
    point = pm_model.initial_point()
    census = np.array([n.startswith("census_crosstab") for n in names])
    assert census.any() and (~census).any()
    joint = _moved(fn, point, "log_concentration")
    assert joint[~census].all()  # the microdata's Dirichlet-multinomial
    if census_concentration == "joint":
        assert "log_census_concentration" not in point
        assert joint[census].all()
    else:
        assert not joint[census].any()
        own = _moved(fn, point, "log_census_concentration")
        assert own[census].all() and not own[~census].any()


def test_an_unknown_census_concentration_is_refused():
    from populace.errors import FitError

    with pytest.raises(FitError, match="census_concentration.*'own'.*'joint'"):
        CopulaModel(_study(NATIONAL_TABLES), model_config={"census_concentration": "shared"})
